//! The health processor: brings every object to its policy replica count over time
//! (SCSP-11), also after a node is lost, and spreads the newest version of everything.
//!
//! Each node runs a pass every `health_interval`. A pass first scrubs a bounded slice of the
//! node's records for bit rot (a rotten copy is dropped, so it counts as missing), then
//! fetches every peer's inventory. For a key whose newest version it holds, the holder with
//! the lowest id (among the nodes that answered) acts: it pushes that version to the best
//! non-holders until the policy count is reached. Older versions and deletion markers are
//! superseded the same way, since pushes are newest-wins. When nothing changed anywhere
//! since a pass that had nothing to do, the planning is skipped: peers answer "unchanged"
//! to an inventory request that names their last disk generation.

use std::collections::{BTreeMap, BTreeSet};

use futures::future::join_all;

use crate::rt;
use crate::scsp::config::NodeContext;
use crate::scsp::contexts;
use crate::scsp::defects::Defect;
use crate::scsp::internal::{inventory, inventory_since};
use crate::scsp::object::Version;
use crate::scsp::peer::{self, Bid, Inventory, InventoryItem};
use crate::scsp::placement;
use crate::scsp::records::Objects;
use crate::scsp::replication;

/// Records checked for rot per pass: scrubbing is paced, as on a real node.
pub const SCRUB_RECORDS_PER_PASS: usize = 64;

/// What a node's health processor remembers between passes.
#[derive(Debug, Default)]
pub struct HealthState {
    /// Each peer's whole inventory as last known (full answers replace it, deltas update it).
    peers: BTreeMap<usize, Inventory>,
    /// This node's own inventory at the last pass that planned (its generation is the local
    /// disk's then), brought up to date from the disk's changes like a peer's view.
    local: Option<Inventory>,
    /// The last pass had nothing left to do.
    settled: bool,
    /// Where the scrub continues (the last key checked).
    scrub_cursor: Option<String>,
}

/// Runs the health processor forever (until the node is killed).
pub async fn run(ctx: NodeContext) {
    let mut state = HealthState::default();
    loop {
        rt::sleep(ctx.cluster.health_interval).await;
        let pushed = run_once(&ctx, &mut state).await;
        if pushed > 0 {
            ctx.trace(format!("health pushed {pushed} replicas"));
        }
    }
}

/// Checks the next `limit` records (after `cursor`, wrapping) and drops copies whose content
/// no longer matches their digest, so that the pass sees them as missing and re-replicates a
/// good copy. Returns the keys dropped and the new cursor.
pub fn scrub(
    ctx: &NodeContext,
    cursor: Option<&str>,
    limit: usize,
) -> (Vec<String>, Option<String>) {
    let mut disk = Objects::lock(&ctx.disk);
    // The next `limit` keys after the cursor, wrapping round to the start. The walk reads
    // the disk's entries directly: a record's digest and content are the entry's digest and
    // body, so nothing needs decoding.
    let raw = disk.raw();
    let mut slice: Vec<(&String, &crate::store::Entry)> =
        raw.records_from(cursor).take(limit).collect();
    if slice.len() < limit {
        let wrapped: Vec<_> = raw
            .records()
            .take(limit - slice.len())
            .filter(|(k, _)| !slice.iter().any(|(s, _)| s == k))
            .collect();
        slice.extend(wrapped);
    }
    let next_cursor = slice.last().map(|(k, _)| (*k).clone());
    let rotten: Vec<String> = slice
        .into_iter()
        .filter(|(_, e)| !e.intact())
        .map(|(k, _)| k.clone())
        .collect();
    for key in &rotten {
        disk.remove(key);
    }
    (rotten, next_cursor)
}

/// Sorts items by key and keeps the last of equal keys (what inserting them one by one into
/// a map keyed by key would keep): the order every view is kept in, so that a pass can walk
/// all views side by side instead of building a map of every key.
fn sorted_unique(mut items: Vec<InventoryItem>) -> Vec<InventoryItem> {
    if items.windows(2).all(|w| w[0].key < w[1].key) {
        return items;
    }
    // Stable, so equal keys stay in arrival order and the last one is the one kept.
    items.sort_by(|a, b| a.key.cmp(&b.key));
    let mut out: Vec<InventoryItem> = Vec::with_capacity(items.len());
    for item in items {
        match out.last_mut() {
            Some(last) if last.key == item.key => *last = item,
            _ => out.push(item),
        }
    }
    out
}

/// Folds an inventory answer into the view of peer `id`: a full answer replaces it, a delta
/// updates it. Returns false when a delta arrives with no view to update (the next pass
/// asks for everything).
fn merge(peers: &mut BTreeMap<usize, Inventory>, id: usize, mut answer: Inventory) -> bool {
    if answer.full {
        answer.items = sorted_unique(answer.items);
        peers.insert(id, answer);
        return true;
    }
    let Some(view) = peers.get_mut(&id) else {
        return false;
    };
    merge_delta(view, answer);
    true
}

/// This node's own inventory now: `previous` updated with what changed on the disk since
/// it was taken, or a walk of the whole disk at the first pass and after a wipe. Rebuilding
/// it from every record on every pass was most of a busy node's health work.
fn local_view(ctx: &NodeContext, previous: Option<Inventory>) -> Inventory {
    let Some(mut view) = previous else {
        return inventory(ctx);
    };
    match inventory_since(ctx, view.generation) {
        Some(delta) => {
            merge_delta(&mut view, delta);
            view
        }
        None => inventory(ctx),
    }
}

/// Applies a delta answer to a view sorted by key (see [`merge`]).
fn merge_delta(view: &mut Inventory, answer: Inventory) {
    // A linear merge of the sorted view with the sorted changes: a changed key takes its new
    // item (even when also named gone), a gone key is dropped, every other item moves over.
    let changes = sorted_unique(answer.items);
    let mut gone: Vec<&String> = answer.gone.iter().collect();
    gone.sort();
    let old = std::mem::take(&mut view.items);
    let mut items = Vec::with_capacity(old.len() + changes.len());
    let mut changes = changes.into_iter().peekable();
    for item in old {
        while let Some(change) = changes.next_if(|c| c.key < item.key) {
            items.push(change);
        }
        if changes.peek().is_some_and(|c| c.key == item.key) {
            continue;
        }
        if gone.binary_search(&&item.key).is_err() {
            items.push(item);
        }
    }
    items.extend(changes);
    view.items = items;
    view.free_bytes = answer.free_bytes;
    view.capacity_bytes = answer.capacity_bytes;
    view.retiring = answer.retiring;
    view.generation = answer.generation;
}

/// One pass; returns how many replicas it pushed.
pub async fn run_once(ctx: &NodeContext, state: &mut HealthState) -> usize {
    if ctx.cluster.has(Defect::HealthProcessorOff) {
        return 0;
    }
    let purged = if ctx.cluster.has(Defect::RecursiveDeleteLeavesObjects) {
        0
    } else {
        contexts::purge_due(&mut Objects::lock(&ctx.disk), ctx.clock.now_ms())
    };
    if purged > 0 {
        ctx.trace(format!(
            "health dropped {purged} records of deleted contexts"
        ));
    }
    if !ctx.cluster.has(Defect::RepairFromCorruptReplica) {
        let (rotten, cursor) = scrub(ctx, state.scrub_cursor.as_deref(), SCRUB_RECORDS_PER_PASS);
        state.scrub_cursor = cursor;
        for key in rotten {
            ctx.trace(format!("health found rot in {key}; dropped the local copy"));
        }
    }

    let asks = ctx
        .cluster
        .nodes
        .iter()
        .enumerate()
        .filter(|(id, _)| *id != ctx.id)
        .map(|(id, addr)| {
            let known = state.peers.get(&id).map(|inv| inv.generation);
            async move {
                (
                    id,
                    peer::inventory(&ctx.pool, *addr, known, ctx.cluster.peer_timeout).await,
                )
            }
        });
    let answers = join_all(asks).await;
    let mut changed = !state.settled;
    let mut answering = BTreeSet::new();
    for (id, answer) in answers {
        match answer {
            Ok(Some(inv)) if peer::check_inventory(&inv, id, ctx.cluster.nodes.len()).is_err() => {
                if state.peers.remove(&id).is_some() {
                    changed = true;
                }
            }
            Ok(Some(inv)) => {
                changed = true;
                if merge(&mut state.peers, id, inv) {
                    answering.insert(id);
                }
            }
            Ok(None) => {
                answering.insert(id);
            }
            Err(_) => {
                if state.peers.remove(&id).is_some() {
                    changed = true;
                }
            }
        }
    }
    let generation = Objects::lock(&ctx.disk).generation();
    if state.local.as_ref().map(|l| l.generation) != Some(generation) {
        changed = true;
    }
    if !changed {
        return 0;
    }
    state.local = Some(local_view(ctx, state.local.take()));
    let Some(local) = state.local.as_ref() else {
        return 0;
    };
    let mut inventories: Vec<&Inventory> = state
        .peers
        .iter()
        .filter(|(id, _)| answering.contains(id))
        .map(|(_, inv)| inv)
        .collect();
    inventories.push(local);
    inventories.sort_by_key(|i| i.node);

    // Every view is sorted by key with one item per key (`sorted_unique`; the local one is a
    // walk of the disk kept up to date by the same merge), so one cursor per view finds the versions of each local key.
    let mut cursors = vec![0usize; inventories.len()];
    let mut held: Vec<(usize, Version)> = Vec::with_capacity(inventories.len());
    let mut pushed = 0;
    let mut short = 0;
    for item in &local.items {
        held.clear();
        for (inv, at) in inventories.iter().zip(cursors.iter_mut()) {
            while inv.items.get(*at).is_some_and(|i| i.key < item.key) {
                *at += 1;
            }
            if let Some(i) = inv.items.get(*at).filter(|i| i.key == item.key) {
                held.push((inv.node, i.version));
            }
        }
        if held.iter().map(|(_, v)| v).max() != Some(&item.version) {
            continue;
        }
        let holders: BTreeSet<usize> = held
            .iter()
            .filter(|(_, v)| *v == item.version)
            .map(|(n, _)| *n)
            .collect();
        if holders.first() != Some(&ctx.id) {
            continue;
        }
        let record = {
            let disk = Objects::lock(&ctx.disk);
            match disk.get(&item.key) {
                Some(r) if r.kind.is_context() || !contexts::hides(ctx, &disk, &r.key) => r.clone(),
                _ => continue,
            }
        };
        let wanted = replication::policy_replicas(&ctx.cluster, &record).min(inventories.len());
        if holders.len() >= wanted {
            continue;
        }
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
        let targets = placement::rank_for_write(
            &bids,
            &record.key,
            ctx.cluster.placement_seed,
            record.stored_bytes(),
        );
        let wanted_more = wanted - holders.len();
        let done = replication::push_to(ctx, &record, &targets, wanted_more).await;
        for node in &done {
            ctx.trace(format!("health copied {} to node{}", record.key, node + 1));
        }
        if done.len() < wanted_more {
            short += 1;
        }
        pushed += done.len();
    }
    // Settled only when this pass changed nothing and left nothing undone; pushes change
    // peers' generations, so the next pass looks again.
    state.settled = pushed == 0 && short == 0;
    pushed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scsp::object::Kind;

    fn item(key: &str, ms: u64) -> InventoryItem {
        InventoryItem {
            key: key.into(),
            kind: Kind::Named,
            version: Version {
                stamp_ms: ms,
                node: 0,
            },
            deleted: false,
        }
    }

    fn inv(full: bool, generation: u64, items: Vec<InventoryItem>, gone: Vec<&str>) -> Inventory {
        Inventory {
            node: 1,
            free_bytes: 10,
            capacity_bytes: 20,
            retiring: false,
            generation,
            full,
            items,
            gone: gone.into_iter().map(str::to_string).collect(),
        }
    }

    #[test]
    fn views_are_kept_sorted_with_the_last_of_duplicate_keys() {
        let mut peers = BTreeMap::new();
        assert!(merge(
            &mut peers,
            1,
            inv(
                true,
                3,
                vec![item("c", 1), item("a", 1), item("c", 7), item("b", 2)],
                vec![]
            )
        ));
        // A key both changed and gone keeps its change; a gone key that is not held is
        // ignored; new keys land in order.
        assert!(merge(
            &mut peers,
            1,
            inv(
                false,
                4,
                vec![item("d", 4), item("b", 5), item("0", 1)],
                vec!["b", "a", "zz"]
            )
        ));
        let keys: Vec<(&str, u64)> = peers[&1]
            .items
            .iter()
            .map(|i| (i.key.as_str(), i.version.stamp_ms))
            .collect();
        assert_eq!(keys, vec![("0", 1), ("b", 5), ("c", 7), ("d", 4)]);
    }

    #[test]
    fn deltas_update_the_view_and_full_answers_replace_it() {
        let mut peers = BTreeMap::new();
        assert!(
            !merge(&mut peers, 1, inv(false, 3, vec![item("a", 1)], vec![])),
            "no base"
        );
        assert!(merge(
            &mut peers,
            1,
            inv(true, 3, vec![item("a", 1), item("b", 1)], vec![])
        ));
        assert!(merge(
            &mut peers,
            1,
            inv(false, 5, vec![item("c", 2), item("a", 9)], vec!["b"])
        ));
        let view = &peers[&1];
        let keys: Vec<(&str, u64)> = view
            .items
            .iter()
            .map(|i| (i.key.as_str(), i.version.stamp_ms))
            .collect();
        assert_eq!(keys, vec![("a", 9), ("c", 2)]);
        assert_eq!(view.generation, 5);
        assert!(merge(&mut peers, 1, inv(true, 9, vec![], vec![])));
        assert!(peers[&1].items.is_empty());
    }
}
