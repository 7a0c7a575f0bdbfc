//! Gathering bids from every node: the PAN's view of the cluster for one request.

use futures::future::join_all;

use crate::rt;
use crate::scsp::config::NodeContext;
use crate::scsp::defects::Defect;
use crate::scsp::peer::{self, Bid, Held};
use crate::scsp::records::Objects;

/// This node's own bid, computed locally.
pub fn local_bid(ctx: &NodeContext, key: &str) -> Bid {
    let disk = Objects::lock(&ctx.disk);
    Bid {
        node: ctx.id,
        // A node with the accept-writes-on-full-disk defect claims it is empty.
        free_bytes: if ctx.cluster.has(Defect::AcceptWritesOnFullDisk) {
            disk.capacity_bytes().max(1 << 30)
        } else {
            disk.free_bytes()
        },
        capacity_bytes: disk.capacity_bytes(),
        load: ctx
            .control
            .in_flight
            .load(std::sync::atomic::Ordering::SeqCst)
            .saturating_sub(1),
        retiring: ctx.control.is_retiring(),
        // Read in place: copying the whole record out (metadata included) to read four
        // fields was most of a bid's cost.
        held: disk.with_record(key, |r| Held {
            kind: r.kind,
            version: r.version,
            deleted: r.deleted,
            md5_hex: r.md5_hex.clone(),
            modified_secs: r.version.stamp_ms / 1000,
        }),
    }
}

/// Bids from this node and every peer that answers within the peer timeout, in node order.
/// A peer that does not answer is simply absent: to the PAN it is down.
pub async fn gather_bids(ctx: &NodeContext, key: &str) -> Vec<Bid> {
    // Each peer with its answer, `None` until the answer comes.
    let mut answers: Vec<_> = ctx
        .cluster
        .nodes
        .iter()
        .enumerate()
        .filter(|(id, _)| *id != ctx.id)
        .map(|(id, addr)| (id, *addr, None))
        .collect();
    {
        let round = join_all(answers.iter_mut().map(|(_, addr, answer)| {
            // Boxed: a bid in flight is over a kilobyte, and `join_all` moved every one of
            // them into its own array; a box moves as a pointer.
            Box::pin(async move {
                *answer = Some(peer::bid(&ctx.pool, *addr, key).await);
            })
        }));
        // One deadline for the whole round rather than one per bid: the bids all start at
        // this instant with the same bound, so each still ends when its own deadline would
        // have, and a round costs one timer instead of one per peer. A bid still pending
        // then counts as no answer.
        let _ = rt::timeout(ctx.cluster.peer_timeout, round).await;
    }
    let nodes = ctx.cluster.nodes.len();
    let mut bids = Vec::with_capacity(nodes);
    bids.push(local_bid(ctx, key));
    for (id, _, answer) in answers {
        let Some(Ok(bid)) = answer else { continue };
        // A bid that misnames its sender or holds an impossible version counts as no answer.
        match peer::check_bid(&bid, id, nodes) {
            Ok(()) => bids.push(bid),
            Err(why) => ctx.trace(format!("bid from node{} refused: {why}", id + 1)),
        }
    }
    bids.sort_by_key(|b| b.node);
    bids
}

/// The newest version of a key anywhere in the cluster, with its content: from this node's
/// disk when it holds that version, else fetched from the best holder that answers.
pub async fn fetch_newest(ctx: &NodeContext, key: &str) -> Option<crate::scsp::object::Record> {
    let bids = gather_bids(ctx, key).await;
    let newest = crate::scsp::placement::newest(&bids)?;
    if let Some(local) = Objects::lock(&ctx.disk)
        .get(key)
        .filter(|r| r.version == newest.version)
    {
        return Some(local.clone());
    }
    for node in crate::scsp::placement::rank_holders(&bids, key, ctx.cluster.placement_seed) {
        let Some(addr) = ctx.cluster.nodes.get(node) else {
            continue;
        };
        if let Ok(Some(r)) = peer::fetch(&ctx.pool, *addr, key, ctx.cluster.peer_timeout).await {
            if r.version == newest.version
                && r.key == key
                && peer::check_record(&r, ctx.cluster.nodes.len()).is_ok()
            {
                return Some(r);
            }
        }
    }
    None
}
