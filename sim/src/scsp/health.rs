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
use crate::scsp::internal::inventory;
use crate::scsp::object::{md5_hex, Version};
use crate::scsp::peer::{self, Bid, Inventory};
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
    /// The local disk generation at the last pass.
    local_generation: Option<u64>,
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
    // The next `limit` keys after the cursor, wrapping round to the start.
    let mut slice: Vec<String> = disk
        .records_from(cursor)
        .take(limit)
        .map(|(k, _)| k.clone())
        .collect();
    if slice.len() < limit {
        let wrapped: Vec<String> = disk
            .records()
            .take(limit - slice.len())
            .map(|(k, _)| k.clone())
            .filter(|k| !slice.contains(k))
            .collect();
        slice.extend(wrapped);
    }
    let next_cursor = slice.last().cloned();
    let rotten: Vec<String> = slice
        .into_iter()
        .filter(|k| {
            disk.get(k)
                .is_some_and(|r| md5_hex(&r.content) != r.md5_hex)
        })
        .collect();
    for key in &rotten {
        disk.remove(key);
    }
    (rotten, next_cursor)
}

/// Folds an inventory answer into the view of peer `id`: a full answer replaces it, a delta
/// updates it. Returns false when a delta arrives with no view to update (the next pass
/// asks for everything).
fn merge(peers: &mut BTreeMap<usize, Inventory>, id: usize, answer: Inventory) -> bool {
    if answer.full {
        peers.insert(id, answer);
        return true;
    }
    let Some(view) = peers.get_mut(&id) else {
        return false;
    };
    let mut items: BTreeMap<String, crate::scsp::peer::InventoryItem> =
        std::mem::take(&mut view.items)
            .into_iter()
            .map(|i| (i.key.clone(), i))
            .collect();
    for key in &answer.gone {
        items.remove(key);
    }
    for item in answer.items {
        items.insert(item.key.clone(), item);
    }
    view.items = items.into_values().collect();
    view.free_bytes = answer.free_bytes;
    view.capacity_bytes = answer.capacity_bytes;
    view.retiring = answer.retiring;
    view.generation = answer.generation;
    true
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
    if state.local_generation != Some(generation) {
        changed = true;
    }
    if !changed {
        return 0;
    }
    let local = inventory(ctx);
    state.local_generation = Some(local.generation);
    let mut inventories: Vec<&Inventory> = state
        .peers
        .iter()
        .filter(|(id, _)| answering.contains(id))
        .map(|(_, inv)| inv)
        .collect();
    inventories.push(&local);
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
    let mut pushed = 0;
    let mut short = 0;
    for item in &local.items {
        let Some(holders_of_key) = held.get(item.key.as_str()) else {
            continue;
        };
        if holders_of_key.values().max() != Some(&item.version) {
            continue;
        }
        let holders: BTreeSet<usize> = holders_of_key
            .iter()
            .filter(|(_, v)| **v == item.version)
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
    use crate::scsp::peer::InventoryItem;

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
