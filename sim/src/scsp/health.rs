//! The health processor: brings every object to its policy replica count over time
//! (SCSP-11), also after a node is lost, and spreads the newest version of everything.
//!
//! Each node walks its own records every `health_interval`. For a key whose newest version
//! it holds, the holder with the lowest id (among those that answered) acts: it pushes that
//! version to the best non-holders until the policy count is reached. Older versions and
//! deletion markers are superseded the same way, since pushes are newest-wins.

use std::collections::{BTreeMap, BTreeSet};

use futures::future::join_all;

use crate::rt;
use crate::scsp::config::NodeContext;
use crate::scsp::defects::Defect;
use crate::scsp::internal::inventory;
use crate::scsp::object::{md5_hex, Record, Version};
use crate::scsp::peer::{self, Bid};
use crate::scsp::placement;
use crate::scsp::replication;
use crate::store::Disk;

/// Runs the health processor forever (until the node is killed).
pub async fn run(ctx: NodeContext) {
    loop {
        rt::sleep(ctx.cluster.health_interval).await;
        let pushed = run_once(&ctx).await;
        if pushed > 0 {
            ctx.trace(format!("health pushed {pushed} replicas"));
        }
    }
}

/// Drops local copies whose content no longer matches their digest (bit rot), so that the
/// pass below sees them as missing and re-replicates a good copy. Returns the keys dropped.
pub fn scrub(ctx: &NodeContext) -> Vec<String> {
    let mut disk = Disk::lock(&ctx.disk);
    let rotten: Vec<String> = disk
        .records()
        .filter(|(_, r)| md5_hex(&r.content) != r.md5_hex)
        .map(|(k, _)| k.clone())
        .collect();
    for key in &rotten {
        disk.remove(key);
    }
    rotten
}

/// One pass; returns how many replicas it pushed.
pub async fn run_once(ctx: &NodeContext) -> usize {
    if ctx.cluster.has(Defect::HealthProcessorOff) {
        return 0;
    }
    if !ctx.cluster.has(Defect::RepairFromCorruptReplica) {
        for key in scrub(ctx) {
            ctx.trace(format!("health found rot in {key}; dropped the local copy"));
        }
    }
    let peers = ctx
        .cluster
        .nodes
        .iter()
        .enumerate()
        .filter(|(id, _)| *id != ctx.id)
        .map(|(_, addr)| peer::inventory(*addr, ctx.cluster.peer_timeout));
    let mut inventories: Vec<_> = join_all(peers)
        .await
        .into_iter()
        .filter_map(Result::ok)
        .collect();
    inventories.push(inventory(ctx));
    inventories.sort_by_key(|i| i.node);

    // key -> node -> version held
    let mut held: BTreeMap<&str, BTreeMap<usize, Version>> = BTreeMap::new();
    for inv in &inventories {
        for item in &inv.items {
            held.entry(item.key.as_str())
                .or_default()
                .insert(inv.node, item.version);
        }
    }
    let mine: Vec<Record> = {
        let disk = Disk::lock(&ctx.disk);
        disk.records().map(|(_, r)| r.clone()).collect()
    };
    let mut pushed = 0;
    for record in mine {
        let Some(holders_of_key) = held.get(record.key.as_str()) else {
            continue;
        };
        let newest = holders_of_key.values().max().copied();
        if newest != Some(record.version) {
            continue;
        }
        let holders: BTreeSet<usize> = holders_of_key
            .iter()
            .filter(|(_, v)| **v == record.version)
            .map(|(n, _)| *n)
            .collect();
        if holders.first() != Some(&ctx.id) {
            continue;
        }
        let wanted = replication::policy_replicas(&ctx.cluster, &record).min(inventories.len());
        if holders.len() >= wanted {
            continue;
        }
        let needed = record.stored_bytes();
        let bids: Vec<Bid> = inventories
            .iter()
            .filter(|inv| !holders.contains(&inv.node))
            .map(|inv| Bid {
                node: inv.node,
                free_bytes: inv.free_bytes,
                capacity_bytes: inv.capacity_bytes,
                load: 0,
                retiring: inv.retiring && !record.kind.is_context(),
                held: None,
            })
            .collect();
        let targets =
            placement::rank_for_write(&bids, &record.key, ctx.cluster.placement_seed, needed);
        let done = replication::push_to(ctx, &record, &targets, wanted - holders.len()).await;
        for node in &done {
            ctx.trace(format!("health copied {} to node{}", record.key, node + 1));
        }
        pushed += done.len();
    }
    pushed
}
