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
//!
//! A pass plans only the keys whose outcome can differ from the last planning pass (see
//! [`HealthState`]): the keys that changed here or in a peer's view, the keys it had work
//! for, the keys held by a node that stopped answering, and the objects of a context that
//! changed. Walking every key on every pass made the work of a busy node grow with what it
//! stores rather than with what changes. Keys are still handled in key order, so a pass
//! pushes exactly what a pass over every key would.

use std::collections::{btree_map, BTreeMap, BTreeSet, HashMap};

use futures::future::join_all;

use crate::rt;
use crate::scsp::config::{ClusterConfig, NodeContext};
use crate::scsp::contexts;
use crate::scsp::defects::Defect;
use crate::scsp::object::{Record, Version};
use crate::scsp::peer::{self, Bid, Inventory};
use crate::scsp::placement;
use crate::scsp::records::Objects;
use crate::scsp::replication;
use crate::store::WordHash;

/// Records checked for rot per pass: scrubbing is paced, as on a real node.
pub const SCRUB_RECORDS_PER_PASS: usize = 64;

/// One node's holdings as a pass sees them: the newest version of each key it holds
/// (deletion markers included), and what a bid for a push to it needs. A peer's versions
/// are [`PeerVersions`], this node's own [`LocalVersions`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct View<M> {
    free_bytes: u64,
    capacity_bytes: u64,
    retiring: bool,
    /// The node's disk generation this view reflects.
    generation: u64,
    versions: M,
}

/// A peer's versions by key, hashed: a pass looks every key it plans up in every answering
/// peer's view, and an ordered map's lookup compared the key a dozen times (the largest
/// single cost of a fault-heavy run's passes). Nothing depends on its order: what is built
/// from walking it is a set. The keys are the cluster's own store keys, which a client
/// names; a client that chose colliding names could slow a pass down, not change it.
type PeerVersions = HashMap<String, Version, WordHash>;

/// This node's versions by key, ordered: a pass walks them in key order, and a changed
/// context marks its objects by key prefix.
type LocalVersions = BTreeMap<String, Version>;

impl<M> View<M> {
    /// Takes the node-wide figures of an inventory answer (not its items).
    fn take_figures(&mut self, answer: &Inventory) {
        self.free_bytes = answer.free_bytes;
        self.capacity_bytes = answer.capacity_bytes;
        self.retiring = answer.retiring;
        self.generation = answer.generation;
    }
}

/// What a node's health processor remembers between passes.
///
/// The planning rests on one fact: a key left out of a pass would have had nothing to do
/// in it. What a pass does with a key depends only on the versions of that key in the
/// views of the nodes that answered, on how many nodes answered (a policy count is capped
/// by it), and on the local record and the contexts it lives in. So a key needs planning
/// again only when one of those changed since a pass found nothing to do for it:
/// - its version changed here or in a peer's view (the deltas merged, or a full answer
///   compared with the view it replaces), including while a pass was under way;
/// - a node holding it stopped answering (its versions no longer count);
/// - it is one of the objects of a bucket or domain whose record changed here;
/// - the last pass pushed it, or tried to;
/// - more nodes answer than before and its policy wants more replicas than answered
///   before (a key whose policy count was already reached stays so; see the `wide` keys).
///
/// A node that starts answering needs nothing else: its versions can only add holders, a
/// newer version or a lower-numbered holder, each of which leaves a key with nothing to do
/// as it was. Every key is planned when this node's own view is rebuilt (first pass, and
/// after a wipe), and when a node answers while fewer nodes answered than the default
/// policy count.
#[derive(Debug, Default)]
pub struct HealthState {
    /// Each peer's view as last known (full answers replace it, deltas update it; a peer
    /// that answers nonsense loses it). A peer that does not answer keeps it, in `silent`:
    /// when it answers again, a delta since the view's generation brings it up to date.
    peers: BTreeMap<usize, View<PeerVersions>>,
    /// The peers whose views are kept from before they stopped answering: their versions
    /// count for nothing until they answer again, and their keys were marked when they fell
    /// silent.
    silent: BTreeSet<usize>,
    /// This node's own view at the last pass that planned (its generation is the local
    /// disk's then), brought up to date from the disk's changes like a peer's view.
    local: Option<View<LocalVersions>>,
    /// The local keys whose policy count is above the cluster's default (contexts, lifepoint
    /// `reps=`): the only keys to which more answering nodes can give work.
    wide: BTreeSet<String>,
    /// The nodes (this one included) whose views the last planning pass went by.
    planned_nodes: BTreeSet<usize>,
    /// Keys the next planning pass looks at (besides what it finds itself).
    dirty: BTreeSet<String>,
    /// The last pass had nothing left to do.
    settled: bool,
    /// Where the scrub continues (the last key checked).
    scrub_cursor: Option<String>,
    /// The deletion markers waiting for their purge time.
    purge: contexts::PurgeIndex,
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

/// Records that a rotten local copy of `key` was dropped (by the scrub, or by a pass about
/// to copy it).
fn trace_dropped_rot(ctx: &NodeContext, key: &str) {
    ctx.trace(format!("health found rot in {key}; dropped the local copy"));
}

/// Folds an inventory answer into the view of peer `id`: a full answer replaces it, a delta
/// updates it. Every key whose version may differ from the view's goes into `dirty`: a
/// delta's keys, and what a full answer changes against the view it replaces (a node with
/// no view yet is a node that starts answering, which needs none; see [`HealthState`]).
/// Returns false when a delta arrives with no view to update (the next pass asks for
/// everything).
fn merge(
    peers: &mut BTreeMap<usize, View<PeerVersions>>,
    id: usize,
    answer: Inventory,
    dirty: &mut BTreeSet<String>,
) -> bool {
    if answer.full {
        let mut view = View::default();
        view.take_figures(&answer);
        // Of equal keys the last is kept (later insertions replace earlier ones).
        view.versions = answer
            .items
            .into_iter()
            .map(|item| (item.key, item.version))
            .collect();
        if let Some(old) = peers.get(&id) {
            mark_differences(&old.versions, &view.versions, dirty);
        }
        peers.insert(id, view);
        return true;
    }
    let Some(view) = peers.get_mut(&id) else {
        return false;
    };
    view.take_figures(&answer);
    // A key both changed and gone keeps its change.
    for key in answer.gone {
        view.versions.remove(&key);
        dirty.insert(key);
    }
    for item in answer.items {
        dirty.insert(item.key.clone());
        view.versions.insert(item.key, item.version);
    }
    true
}

/// Puts into `dirty` every key present in only one of two views or with different
/// versions in them.
fn mark_differences(old: &PeerVersions, new: &PeerVersions, dirty: &mut BTreeSet<String>) {
    for (key, version) in old {
        if new.get(key) != Some(version) {
            dirty.insert(key.clone());
        }
    }
    for key in new.keys() {
        if !old.contains_key(key) {
            dirty.insert(key.clone());
        }
    }
}

/// Key prefixes of the records whose visibility depends on the record under `key`: a
/// bucket's objects, a domain's buckets and objects (`contexts::in_deleted_context`). A
/// superset of `contexts::contained_prefixes` (a bucket's prefix without its final `/`),
/// so a key is never missed. Empty for every other key.
fn dependents(key: &str) -> Vec<String> {
    if let Some(rest) = key.strip_prefix("b/") {
        return vec![format!("n/{rest}")];
    }
    match key.strip_prefix("d/") {
        Some(domain) if !domain.is_empty() => vec![format!("b/{domain}/"), format!("n/{domain}/")],
        _ => Vec::new(),
    }
}

/// Puts into `dirty` every key of `versions` that starts with `prefix`.
fn mark_prefixed(versions: &LocalVersions, prefix: &str, dirty: &mut BTreeSet<String>) {
    dirty.extend(
        versions
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .map(|(k, _)| k)
            .take_while(|k| k.starts_with(prefix))
            .cloned(),
    );
}

/// What the local view keeps of a record: its version, and whether its policy count is
/// above the cluster's default (see [`HealthState::wide`]).
fn local_summary(cluster: &ClusterConfig, record: &Record) -> (Version, bool) {
    (
        record.version,
        replication::policy_replicas(cluster, record) > cluster.policy_replicas,
    )
}

/// Brings this node's own view up to date: the disk's changes since the view was taken go
/// into it and into `dirty` (with the objects of a changed context), or, at the first pass
/// and after a wipe, it is rebuilt from every record. Returns true when it was rebuilt:
/// then every key needs planning.
fn refresh_local(ctx: &NodeContext, state: &mut HealthState) -> bool {
    let disk = Objects::lock(&ctx.disk);
    let summary = |r: &Record| local_summary(&ctx.cluster, r);
    let changes = state
        .local
        .as_ref()
        .and_then(|local| disk.changed_summarised(local.generation, summary));
    let (Some(local), Some(changes)) = (state.local.as_mut(), changes) else {
        let mut local = View {
            free_bytes: disk.free_bytes(),
            capacity_bytes: disk.capacity_bytes(),
            retiring: ctx.control.is_retiring(),
            generation: disk.generation(),
            versions: BTreeMap::new(),
        };
        let all: Vec<(&String, (Version, bool))> = disk.summarised(summary).collect();
        state.wide = all
            .iter()
            .filter(|(_, (_, wide))| *wide)
            .map(|(key, _)| (*key).clone())
            .collect();
        local.versions = all
            .into_iter()
            .map(|(key, (version, _))| (key.clone(), version))
            .collect();
        state.local = Some(local);
        return true;
    };
    for (key, now) in &changes {
        match now {
            Some((version, wide)) => {
                local.versions.insert((*key).clone(), *version);
                if *wide {
                    state.wide.insert((*key).clone());
                } else {
                    state.wide.remove(*key);
                }
            }
            None => {
                local.versions.remove(*key);
                state.wide.remove(*key);
            }
        }
        state.dirty.insert((*key).clone());
    }
    for (key, _) in &changes {
        for prefix in dependents(key) {
            mark_prefixed(&local.versions, &prefix, &mut state.dirty);
        }
    }
    local.free_bytes = disk.free_bytes();
    local.capacity_bytes = disk.capacity_bytes();
    local.retiring = ctx.control.is_retiring();
    local.generation = disk.generation();
    false
}

/// Notes the nodes that answer this pass (`nodes`, this one included) against the last
/// planning pass's (a node that stopped answering had its keys marked when it fell
/// silent). Returns true when every key needs planning (a node started answering while
/// fewer than the default policy count answered), else puts into `dirty` what a node that
/// started answering can give work to.
fn note_nodes(state: &mut HealthState, nodes: BTreeSet<usize>, policy_replicas: usize) -> bool {
    let before = std::mem::replace(&mut state.planned_nodes, nodes);
    if state.planned_nodes.is_subset(&before) {
        return false;
    }
    if policy_replicas > before.len() {
        return true;
    }
    state.dirty.extend(state.wide.iter().cloned());
    false
}

/// Notes that peer `id` did not answer: every key its view held needs planning, since its
/// versions no longer count, once (a peer silent pass after pass marks nothing new). The
/// view is kept, so that the request after the peer is back asks only for what changed
/// since (a node is silent after every pause, partition and restart, and a full inventory
/// was most of the cost of the health passes of a fault-heavy run).
fn fall_silent(state: &mut HealthState, id: usize) {
    if let Some(view) = state.peers.get(&id) {
        if state.silent.insert(id) {
            mark_all(&mut state.dirty, view.versions.keys().cloned());
        }
    }
}

/// Forgets peer `id`'s view (it answered nonsense; the next request asks for everything):
/// every key it held needs planning, since its versions no longer count.
fn forget(state: &mut HealthState, id: usize) {
    let was_silent = state.silent.remove(&id);
    if let Some(view) = state.peers.remove(&id) {
        if !was_silent {
            mark_all(&mut state.dirty, view.versions.into_keys());
        }
    }
}

/// Puts every one of `keys` into `dirty`: built into a set in one go (sorted, then built)
/// and merged linearly, not one insertion per key.
fn mark_all(dirty: &mut BTreeSet<String>, keys: impl Iterator<Item = String>) {
    let mut keys: BTreeSet<String> = keys.collect();
    dirty.append(&mut keys);
}

/// The keys a pass walks: every local key, or the planned ones (which can grow while the
/// pass is under way), in key order either way.
enum Walk<'a> {
    All(btree_map::Range<'a, String, Version>),
    Keys(BTreeSet<String>),
}

impl<'a> Walk<'a> {
    /// The next local key to look at, with its version in the local view.
    fn next(&mut self, local: &'a View<LocalVersions>) -> Option<(&'a String, &'a Version)> {
        match self {
            Walk::All(all) => all.next(),
            Walk::Keys(keys) => {
                while let Some(key) = keys.pop_first() {
                    if let Some(found) = local.versions.get_key_value(&key) {
                        return Some(found);
                    }
                }
                None
            }
        }
    }

    /// Adds what changed on the local disk after generation `since` to the keys still to
    /// come after `at` (a changed record, or a changed context's objects, can have work a
    /// pass over every key would find), or turns into a walk of every key after `at` when
    /// the disk cannot say (a wipe). Nothing to do for a walk of every key.
    fn catch_up(
        &mut self,
        local: &'a View<LocalVersions>,
        disk: &Objects<'_>,
        since: u64,
        at: &str,
    ) {
        let Walk::Keys(keys) = self else {
            return;
        };
        let Some(changes) = disk.raw().changed_since(since) else {
            *self = Walk::All(
                local
                    .versions
                    .range::<str, _>((std::ops::Bound::Excluded(at), std::ops::Bound::Unbounded)),
            );
            return;
        };
        let mut found = BTreeSet::new();
        for (key, _) in changes {
            found.insert(key.clone());
            for prefix in dependents(key) {
                mark_prefixed(&local.versions, &prefix, &mut found);
            }
        }
        keys.extend(found.into_iter().filter(|k| k.as_str() > at));
    }
}

/// One pass; returns how many replicas it pushed.
pub async fn run_once(ctx: &NodeContext, state: &mut HealthState) -> usize {
    if ctx.cluster.has(Defect::HealthProcessorOff) {
        return 0;
    }
    let purged = if ctx.cluster.has(Defect::RecursiveDeleteLeavesObjects) {
        0
    } else {
        let now_ms = ctx.clock.now_ms();
        state.purge.purge_due(&mut Objects::lock(&ctx.disk), now_ms)
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
            trace_dropped_rot(ctx, &key);
        }
    }

    let asks = ctx
        .cluster
        .nodes
        .iter()
        .enumerate()
        .filter(|(id, _)| *id != ctx.id)
        .map(|(id, addr)| {
            let known = state.peers.get(&id).map(|view| view.generation);
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
                forget(state, id)
            }
            Ok(Some(inv)) => {
                changed = true;
                if merge(&mut state.peers, id, inv, &mut state.dirty) {
                    answering.insert(id);
                }
            }
            Ok(None) => {
                answering.insert(id);
            }
            Err(_) => fall_silent(state, id),
        }
    }
    // A peer that answers is no longer silent: its view counts again.
    state.silent.retain(|id| !answering.contains(id));
    let nodes: BTreeSet<usize> = state
        .peers
        .keys()
        .filter(|id| answering.contains(id))
        .copied()
        .chain([ctx.id])
        .collect();
    // A node that stopped or started answering changes what the views say.
    changed |= nodes != state.planned_nodes;
    let generation = Objects::lock(&ctx.disk).generation();
    if state.local.as_ref().map(|l| l.generation) != Some(generation) {
        changed = true;
    }
    if !changed {
        return 0;
    }
    let rebuilt = refresh_local(ctx, state);
    let everything = note_nodes(state, nodes, ctx.cluster.policy_replicas) || rebuilt;
    let planned = std::mem::take(&mut state.dirty);
    let Some(local) = state.local.as_ref() else {
        return 0;
    };
    // The peers' views this pass goes by, in node order (this node's is `local`).
    let views: Vec<(usize, &View<PeerVersions>)> = state
        .planned_nodes
        .iter()
        .filter(|&&id| id != ctx.id)
        .filter_map(|&id| state.peers.get(&id).map(|view| (id, view)))
        .collect();
    // The nodes whose views count, this one included: policy counts are capped by it.
    let counted = views.len() + 1;
    let mut walk = if everything {
        Walk::All(local.versions.range::<String, _>(..))
    } else {
        Walk::Keys(planned)
    };
    // The disk generation up to which changes made during the pass have been caught up.
    let mut seen = local.generation;
    let mut worked = BTreeSet::new();
    let mut held: Vec<(usize, Version)> = Vec::with_capacity(counted);
    let mut pushed = 0;
    let mut short = 0;
    while let Some((key, version)) = walk.next(local) {
        held.clear();
        held.push((ctx.id, *version));
        for (node, view) in &views {
            if let Some(v) = view.versions.get(key) {
                held.push((*node, *v));
            }
        }
        if held.iter().map(|(_, v)| v).max() != Some(version) {
            continue;
        }
        let holders: BTreeSet<usize> = held
            .iter()
            .filter(|(_, v)| v == version)
            .map(|(n, _)| *n)
            .collect();
        if holders.first() != Some(&ctx.id) {
            continue;
        }
        let intact_record = {
            let mut disk = Objects::lock(&ctx.disk);
            // The policy count from the record without copying it out; only a record that
            // needs pushing is copied.
            let wanted = disk.with_record(key, |r| {
                let visible = r.kind.is_context() || !contexts::hides(ctx, &disk, &r.key);
                visible.then(|| replication::policy_replicas(&ctx.cluster, r).min(counted))
            });
            let wanted = match wanted.flatten() {
                Some(wanted) if holders.len() < wanted => wanted,
                _ => continue,
            };
            let Some(record) = disk.get(key) else {
                continue;
            };
            // The copy is checked before it is copied (the scrub's test): the scrub is paced
            // and may not have reached it yet, and pushing rot would make a second rotten
            // copy that the peer accepts as good.
            let intact = ctx.cluster.has(Defect::RepairFromCorruptReplica)
                || disk.raw().get(key).is_some_and(crate::store::Entry::intact);
            if intact {
                Some((record, wanted))
            } else {
                // Dropped as the scrub would drop it, under the same lock that found it
                // rotten: over real TCP another thread may store a newer copy of the key as
                // soon as the lock is let go, and that copy must stay. The next pass finds
                // the key held by the others.
                disk.remove(key);
                None
            }
        };
        match intact_record {
            Some((record, wanted)) => {
                let wanted_more = wanted - holders.len();
                let copied = push_copy(ctx, &record, &views, &holders, wanted_more).await;
                if copied < wanted_more {
                    short += 1;
                }
                pushed += copied;
            }
            None => {
                trace_dropped_rot(ctx, key);
                short += 1;
            }
        }
        // Looked at again next pass, whatever the peers made of it.
        worked.insert(key.clone());
        // The disk may have changed while the pushes were under way: a pass over every key
        // would see those records now.
        let disk = Objects::lock(&ctx.disk);
        if disk.generation() != seen {
            walk.catch_up(local, &disk, seen, key);
            seen = disk.generation();
        }
    }
    state.dirty.extend(worked);
    // Settled only when this pass changed nothing and left nothing undone; pushes change
    // peers' generations, so the next pass looks again.
    state.settled = pushed == 0 && short == 0;
    pushed
}

/// Pushes this node's copy of `record` to the best of the nodes in `views` that do not hold
/// it, until `wanted_more` more hold it. Returns the copies made.
async fn push_copy(
    ctx: &NodeContext,
    record: &Record,
    views: &[(usize, &View<PeerVersions>)],
    holders: &BTreeSet<usize>,
    wanted_more: usize,
) -> usize {
    let bids: Vec<Bid> = views
        .iter()
        .filter(|(node, _)| !holders.contains(node))
        .map(|(node, view)| Bid {
            node: *node,
            free_bytes: view.free_bytes,
            capacity_bytes: view.capacity_bytes,
            load: 0,
            retiring: view.retiring && !record.kind.is_context(),
            held: None,
        })
        .collect();
    let targets = placement::rank_for_write(
        &bids,
        &record.key,
        ctx.cluster.placement_seed,
        record.stored_bytes(),
    );
    let done = replication::push_to(ctx, record, &targets, wanted_more).await;
    for node in &done {
        ctx.trace(format!("health copied {} to node{}", record.key, node + 1));
    }
    done.len()
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

    /// A peer view's versions in key order.
    fn versions(view: &View<PeerVersions>) -> Vec<(&str, u64)> {
        let mut all: Vec<(&str, u64)> = view
            .versions
            .iter()
            .map(|(k, v)| (k.as_str(), v.stamp_ms))
            .collect();
        all.sort_unstable();
        all
    }

    fn keys(set: &BTreeSet<String>) -> Vec<&str> {
        set.iter().map(String::as_str).collect()
    }

    #[test]
    fn views_keep_the_last_of_duplicate_keys_and_a_delta_marks_what_it_names() {
        let mut peers = BTreeMap::new();
        let mut dirty = BTreeSet::new();
        assert!(merge(
            &mut peers,
            1,
            inv(
                true,
                3,
                vec![item("c", 1), item("a", 1), item("c", 7), item("b", 2)],
                vec![]
            ),
            &mut dirty
        ));
        assert!(
            dirty.is_empty(),
            "a first view is a node starting to answer"
        );
        // A key both changed and gone keeps its change; a gone key that is not held is
        // ignored but still planned; new keys land in order.
        assert!(merge(
            &mut peers,
            1,
            inv(
                false,
                4,
                vec![item("d", 4), item("b", 5), item("0", 1)],
                vec!["b", "a", "zz"]
            ),
            &mut dirty
        ));
        assert_eq!(
            versions(&peers[&1]),
            vec![("0", 1), ("b", 5), ("c", 7), ("d", 4)]
        );
        assert_eq!(keys(&dirty), vec!["0", "a", "b", "d", "zz"]);
        assert_eq!(peers[&1].generation, 4);
    }

    #[test]
    fn a_full_answer_marks_only_the_keys_it_changes_and_a_delta_needs_a_view() {
        let mut peers = BTreeMap::new();
        let mut dirty = BTreeSet::new();
        assert!(
            !merge(
                &mut peers,
                1,
                inv(false, 3, vec![item("a", 1)], vec![]),
                &mut dirty
            ),
            "no base"
        );
        assert!(peers.is_empty());
        assert!(merge(
            &mut peers,
            1,
            inv(
                true,
                3,
                vec![item("a", 1), item("b", 1), item("c", 1)],
                vec![]
            ),
            &mut dirty
        ));
        assert!(merge(
            &mut peers,
            1,
            inv(
                true,
                9,
                vec![item("a", 1), item("b", 2), item("d", 1)],
                vec![]
            ),
            &mut dirty
        ));
        assert_eq!(versions(&peers[&1]), vec![("a", 1), ("b", 2), ("d", 1)]);
        assert_eq!(keys(&dirty), vec!["b", "c", "d"], "a is unchanged");
        assert_eq!(peers[&1].generation, 9);
    }

    #[test]
    fn a_node_that_stops_answering_makes_every_key_it_held_planned_once_and_keeps_its_view() {
        let mut state = HealthState::default();
        let mut dirty = BTreeSet::new();
        for (id, key) in [(1, "w"), (2, "x"), (2, "y")] {
            merge(
                &mut state.peers,
                id,
                inv(true, 1, vec![item(key, 1)], vec![]),
                &mut dirty,
            );
        }
        // Node 2 holds both x and y (the second full answer replaced the first).
        merge(
            &mut state.peers,
            2,
            inv(true, 2, vec![item("x", 1), item("y", 1)], vec![]),
            &mut dirty,
        );
        fall_silent(&mut state, 2);
        assert_eq!(keys(&state.dirty), vec!["x", "y"]);
        assert_eq!(
            state.peers.get(&2).map(|v| v.generation),
            Some(2),
            "the view is kept: the next request asks what changed since generation 2"
        );
        assert!(state.silent.contains(&2));
        state.dirty.clear();
        fall_silent(&mut state, 2);
        assert!(state.dirty.is_empty(), "still silent: nothing new");
        fall_silent(&mut state, 3);
        assert!(!state.silent.contains(&3), "no view, nothing to keep");
        // Back with a delta: its view is brought up to date, its change marked.
        assert!(merge(
            &mut state.peers,
            2,
            inv(false, 3, vec![item("z", 1)], vec!["x"]),
            &mut state.dirty,
        ));
        assert_eq!(versions(&state.peers[&2]), vec![("y", 1), ("z", 1)]);
        assert_eq!(keys(&state.dirty), vec!["x", "z"]);
        assert!(state.peers.contains_key(&1));
    }

    #[test]
    fn a_node_that_answers_nonsense_is_forgotten_and_its_keys_planned_unless_marked_already() {
        let mut state = HealthState::default();
        let mut dirty = BTreeSet::new();
        for id in [1, 2] {
            merge(
                &mut state.peers,
                id,
                inv(true, 1, vec![item("k", 1)], vec![]),
                &mut dirty,
            );
        }
        forget(&mut state, 1);
        assert_eq!(keys(&state.dirty), vec!["k"]);
        assert!(
            !state.peers.contains_key(&1),
            "the next request asks for all"
        );
        state.dirty.clear();
        fall_silent(&mut state, 2);
        state.dirty.clear();
        forget(&mut state, 2);
        assert!(state.dirty.is_empty(), "marked when it fell silent");
        assert!(state.peers.is_empty() && state.silent.is_empty());
    }

    #[test]
    fn a_node_that_starts_answering_plans_the_wide_keys_or_everything_when_few_answered() {
        let mut state = HealthState::default();
        assert!(
            note_nodes(&mut state, BTreeSet::from([0, 1, 2]), 2),
            "the first pass plans everything"
        );
        state.wide.insert("b/dom/bucket".to_string());
        // Losing a node: its keys were marked when it fell silent, nothing else.
        assert!(!note_nodes(&mut state, BTreeSet::from([0, 2]), 2));
        assert!(state.dirty.is_empty());
        // Getting it back with two nodes answering before: only keys wanting more than two.
        assert!(!note_nodes(&mut state, BTreeSet::from([0, 1, 2]), 2));
        assert_eq!(keys(&state.dirty), vec!["b/dom/bucket"]);
        state.dirty.clear();
        // With one node answering, a policy count of two was capped: every key may be short.
        assert!(!note_nodes(&mut state, BTreeSet::from([0]), 2));
        assert!(note_nodes(&mut state, BTreeSet::from([0, 3]), 2));
        assert_eq!(state.planned_nodes, BTreeSet::from([0, 3]));
    }

    #[test]
    fn a_changed_context_plans_every_record_whose_visibility_it_decides() {
        let versions: BTreeMap<String, Version> = [
            "b/dom/bucket",
            "b/dom/other",
            "b/domain2/x",
            "n/dom/bucket/a",
            "n/dom/bucket/b",
            "n/dom/bucket2/c",
            "n/dom/other/d",
            "n/domain2/x/e",
        ]
        .into_iter()
        .map(|k| {
            (
                k.to_string(),
                Version {
                    stamp_ms: 1,
                    node: 0,
                },
            )
        })
        .collect();
        let planned = |context: &str| {
            let mut dirty = BTreeSet::new();
            for prefix in dependents(context) {
                mark_prefixed(&versions, &prefix, &mut dirty);
            }
            dirty.into_iter().collect::<Vec<_>>()
        };
        // Every key a context decides (contexts::in_deleted_context) is planned; a key
        // that merely shares a prefix may be too.
        assert_eq!(
            planned("b/dom/bucket"),
            vec!["n/dom/bucket/a", "n/dom/bucket/b", "n/dom/bucket2/c"]
        );
        assert_eq!(
            planned("d/dom"),
            vec![
                "b/dom/bucket",
                "b/dom/other",
                "n/dom/bucket/a",
                "n/dom/bucket/b",
                "n/dom/bucket2/c",
                "n/dom/other/d"
            ]
        );
        assert!(
            planned("d/").is_empty(),
            "the default domain is never deleted"
        );
        assert!(planned("n/dom/bucket/a").is_empty());
        for key in versions.keys() {
            let ctx_dom = crate::scsp::contexts::contained_prefixes("d/dom");
            let ctx_bucket = crate::scsp::contexts::contained_prefixes("b/dom/bucket");
            if ctx_dom.iter().any(|p| key.starts_with(p.as_str())) {
                assert!(planned("d/dom").contains(key), "{key}");
            }
            if ctx_bucket.iter().any(|p| key.starts_with(p.as_str())) {
                assert!(planned("b/dom/bucket").contains(key), "{key}");
            }
        }
    }

    /// Simulated clusters whose node 0's passes the test drives (`run_once`) while the
    /// other nodes serve requests (their own passes are a day apart, so they never run).
    mod passes {
        use super::super::*;
        use super::keys;
        use crate::scsp::compose;
        use crate::scsp::config::ClusterConfig;
        use crate::scsp::object::Kind;
        use crate::scsp::server;
        use crate::store::Disk;
        use crate::trace::Trace;
        use std::net::SocketAddr;
        use std::sync::Arc;
        use std::time::Duration;

        /// Nodes with the given disk sizes; every node but 0 serves, and is listening when
        /// this returns. Returns the nodes' contexts and the serving nodes' simulator ids.
        async fn cluster(disks: &[u64]) -> (Vec<NodeContext>, Vec<madsim::task::NodeId>) {
            let addrs: Vec<SocketAddr> = (0..disks.len())
                .map(|i| SocketAddr::from(([10, 9, 0, i as u8 + 1], 80)))
                .collect();
            let mut config = ClusterConfig::new(addrs);
            config.health_interval = Duration::from_secs(86_400);
            let config = Arc::new(config);
            let ctxs: Vec<NodeContext> = disks
                .iter()
                .enumerate()
                .map(|(i, bytes)| NodeContext::new(i, config.clone(), *bytes, Trace::disabled()))
                .collect();
            let handle = madsim::runtime::Handle::current();
            let mut ids = Vec::new();
            for ctx in ctxs.iter().skip(1) {
                let node = handle.create_node().ip(ctx.addr().ip()).build();
                let (ready, listening) = futures::channel::oneshot::channel();
                let ctx = ctx.clone();
                node.spawn(async move {
                    let listener = rt::listen(ctx.addr()).await.expect("bind");
                    let _ = ready.send(());
                    let _ = server::run_on(ctx, listener).await;
                });
                listening.await.expect("the node starts listening");
                ids.push(node.id());
            }
            (ctxs, ids)
        }

        fn object(key: &str) -> Record {
            compose::record(
                key.to_string(),
                Kind::Named,
                Version {
                    stamp_ms: 1_700_000_000_000,
                    node: 0,
                },
                false,
                bytes::Bytes::from_static(b"content"),
                BTreeMap::new(),
            )
        }

        fn store(ctx: &NodeContext, key: &str) {
            Objects::lock(&ctx.disk)
                .write_synced(&object(key))
                .expect("room");
        }

        fn holds(ctx: &NodeContext, key: &str) -> bool {
            Objects::lock(&ctx.disk).get(key).is_some()
        }

        /// Runs `test` on node 0 of a fresh simulation.
        fn on_node0<Fut>(
            disks: &'static [u64],
            test: impl FnOnce(Vec<NodeContext>, Vec<madsim::task::NodeId>) -> Fut + Send + 'static,
        ) where
            Fut: std::future::Future<Output = ()> + Send + 'static,
        {
            crate::world::simulate(7, move || async move {
                let (ctxs, ids) = cluster(disks).await;
                let handle = madsim::runtime::Handle::current();
                let node0 = handle.create_node().ip(ctxs[0].addr().ip()).build();
                node0
                    .spawn(test(ctxs, ids))
                    .await
                    .expect("the test ran to its end");
            })
        }

        const KEY: &str = "n//bucket/a";

        #[test]
        fn a_key_that_changes_in_a_peers_view_is_planned_again() {
            on_node0(&[1 << 20, 1 << 20, 1 << 20], |nodes, _| async move {
                let mut state = HealthState::default();
                store(&nodes[0], KEY);
                store(&nodes[1], KEY);
                store(&nodes[0], "n//bucket/z");
                store(&nodes[2], "n//bucket/z");
                assert_eq!(run_once(&nodes[0], &mut state).await, 0, "all replicated");
                assert!(state.settled && state.dirty.is_empty());
                // Node 2 loses its copy of KEY: only node 2's delta names it.
                Disk::lock(&nodes[1].disk).remove(KEY);
                assert_eq!(run_once(&nodes[0], &mut state).await, 1);
                let copies = nodes.iter().filter(|n| holds(n, KEY)).count();
                assert_eq!(copies, 2, "back to the policy count");
                assert_eq!(keys(&state.dirty), vec![KEY], "looked at once more");
            });
        }

        #[test]
        fn the_keys_of_a_node_that_stops_answering_are_copied_elsewhere() {
            on_node0(&[1 << 20, 1 << 20, 1 << 20], |nodes, ids| async move {
                let mut state = HealthState::default();
                store(&nodes[0], KEY);
                store(&nodes[1], KEY);
                assert_eq!(run_once(&nodes[0], &mut state).await, 0);
                assert!(!holds(&nodes[2], KEY));
                let handle = madsim::runtime::Handle::current();
                handle.pause(ids[0]);
                // Nothing changed on the disks that answer: only the silence of node 2.
                assert_eq!(run_once(&nodes[0], &mut state).await, 1);
                assert!(holds(&nodes[2], KEY));
                assert_eq!(state.planned_nodes, BTreeSet::from([0, 2]));
                assert_eq!(state.silent, BTreeSet::from([1]), "its view is kept");
                let kept = state.peers[&1].generation;
                // Back, and unchanged: it counts again, with nothing to do, and its view is
                // the one kept (an "unchanged" answer to the kept generation).
                handle.resume(ids[0]);
                assert_eq!(run_once(&nodes[0], &mut state).await, 0);
                assert_eq!(state.planned_nodes, BTreeSet::from([0, 1, 2]));
                assert!(state.settled && state.silent.is_empty());
                assert_eq!(state.peers[&1].generation, kept);
                // Silent again, and changed meanwhile: the delta brings the view up to date.
                handle.pause(ids[0]);
                assert_eq!(run_once(&nodes[0], &mut state).await, 0);
                store(&nodes[1], "n//bucket/b");
                handle.resume(ids[0]);
                run_once(&nodes[0], &mut state).await;
                let view: BTreeSet<&str> = state.peers[&1]
                    .versions
                    .keys()
                    .map(String::as_str)
                    .collect();
                assert_eq!(view, BTreeSet::from(["n//bucket/a", "n//bucket/b"]));
                assert!(state.peers[&1].generation > kept);
            });
        }

        #[test]
        fn a_key_left_short_is_tried_again_though_nothing_changed() {
            // Both peers are too small for the object: the first pass cannot push it.
            on_node0(&[1 << 20, 100, 100], |nodes, _| async move {
                let mut state = HealthState::default();
                store(&nodes[0], KEY);
                assert_eq!(run_once(&nodes[0], &mut state).await, 0);
                assert!(!state.settled);
                assert_eq!(keys(&state.dirty), vec![KEY]);
                // Room on node 2 (its inventory changes, but it names no key).
                Disk::lock(&nodes[1].disk).set_capacity_bytes(1 << 20);
                assert_eq!(run_once(&nodes[0], &mut state).await, 1);
                assert!(holds(&nodes[1], KEY));
                assert!(!holds(&nodes[2], KEY));
            });
        }
    }
}
