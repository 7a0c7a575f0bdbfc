//! Deleting domains and buckets (SCSP-21) and what a deleted context means for the objects
//! in it. Creating, updating (PUT, APPEND, COPY) and reading contexts go the ordinary write
//! and read paths; this module holds only what is particular to contexts.
//!
//! A context lives on every node, so each node can judge locally whether an object's bucket
//! or domain is gone. DELETE of a context needs `recursive` (docs/choices.md row 35):
//! - `recursive` (`=yes`, `=true`): the context reads 404 at once and so does everything in
//!   it; the contents stay on disk for `ClusterConfig::recursive_delete_delay` (one week,
//!   `health.recursiveDeleteDelay`) and the health processor then drops them;
//! - `recursive=now`: the contents are dropped at once, on every node that stores the marker.
//!
//! The deletion marker carries the time its contents may go (`PURGE_AFTER`, milliseconds on
//! the deleting node's clock). Re-creating a context over a marker starts it empty. A
//! context renamed with `newname` names its old key (`RENAMED_FROM`), and each node moves
//! the contents when it stores the renamed record.

use crate::scsp::config::NodeContext;
use crate::scsp::defects::Defect;
use crate::scsp::object::Record;
use crate::scsp::records::Objects;

/// System metadata of a context's deletion marker: when (ms since the epoch, deleting
/// node's clock) the health processor may drop what the context held.
pub const PURGE_AFTER: &str = "castor-system-purge-after";

/// System metadata of a context renamed with `newname`: the store key of its old name,
/// whose contents each node moves under the new name when it stores the record.
pub const RENAMED_FROM: &str = "castor-system-renamed-from";

/// How a context DELETE treats what the context holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recursive {
    /// Restorable for the grace period, then dropped.
    Grace,
    /// Dropped at once.
    Now,
}

/// Reads the `recursive` argument: `None` when absent (the DELETE is refused), an error
/// for a value that is neither a boolean nor `now`.
pub fn recursive_of(query: &crate::scsp::query::Query) -> Result<Option<Recursive>, String> {
    let Some(value) = query.get("recursive") else {
        return Ok(None);
    };
    if value.eq_ignore_ascii_case("now") {
        Ok(Some(Recursive::Now))
    } else if query.flag("recursive") {
        Ok(Some(Recursive::Grace))
    } else {
        Err(format!(
            "recursive={value} is not `yes`, `true` or `now`; a domain or bucket is deleted only with recursive"
        ))
    }
}

/// Store-key prefixes of what a context holds: a bucket its objects; a domain its buckets
/// and their objects. Empty for anything else (and for the default domain, which cannot be
/// deleted).
pub fn contained_prefixes(context_key: &str) -> Vec<String> {
    if let Some(rest) = context_key.strip_prefix("b/") {
        return vec![format!("n/{rest}/")];
    }
    match context_key.strip_prefix("d/") {
        Some(domain) if !domain.is_empty() => vec![format!("b/{domain}/"), format!("n/{domain}/")],
        _ => Vec::new(),
    }
}

/// True when `pred` holds for one of the contexts a key lives in, asked innermost first: a
/// named object's bucket and domain, a bucket's domain. The names are built in one buffer:
/// every read, write and replica asks this of its key.
fn any_parent(key: &str, mut pred: impl FnMut(&str) -> bool) -> bool {
    let (bucket, domain) = if let Some(rest) = key.strip_prefix("n/") {
        let mut parts = rest.splitn(3, '/');
        match (parts.next(), parts.next()) {
            (Some(domain), Some(bucket)) => (Some(bucket), domain),
            _ => return false,
        }
    } else if let Some(rest) = key.strip_prefix("b/") {
        match rest.split_once('/') {
            Some((domain, _)) => (None, domain),
            None => return false,
        }
    } else {
        return false;
    };
    let mut parent = String::with_capacity(key.len());
    if let Some(bucket) = bucket {
        parent.push_str("b/");
        parent.push_str(domain);
        parent.push('/');
        parent.push_str(bucket);
        if pred(&parent) {
            return true;
        }
    }
    if domain.is_empty() {
        return false;
    }
    parent.clear();
    parent.push_str("d/");
    parent.push_str(domain);
    pred(&parent)
}

/// True when the bucket or domain `key` lives in has been deleted (its marker is on this
/// disk): the key then reads 404 whatever copies remain.
pub fn in_deleted_context(disk: &Objects<'_>, key: &str) -> bool {
    // The entry's flag is the record's `deleted` (records::to_entry): no decoding.
    any_parent(key, |p| disk.raw().get(p).is_some_and(|e| e.removed))
}

/// What a node goes by: `in_deleted_context`, unless the `recursive-delete-leaves-objects`
/// defect makes the node forget that a deleted context's contents are gone.
pub fn hides(ctx: &NodeContext, disk: &Objects<'_>, key: &str) -> bool {
    !ctx.cluster.has(Defect::RecursiveDeleteLeavesObjects) && in_deleted_context(disk, key)
}

/// Drops every record under `context_key` (never the context's own record).
fn purge_under(disk: &mut Objects<'_>, context_key: &str) -> usize {
    // The contents are key ranges: read them as such instead of walking every record.
    let mut doomed: Vec<String> = contained_prefixes(context_key)
        .iter()
        .flat_map(|p| {
            disk.raw()
                .records_with_prefix(p)
                .map(|(k, _)| k.clone())
                .collect::<Vec<_>>()
        })
        .collect();
    doomed.sort_unstable();
    doomed.dedup();
    for k in &doomed {
        disk.remove(k);
    }
    doomed.len()
}

/// The deletions of the objects a newly stored context deletion marker drops (`=now`) or
/// hides (`recursive`, dropped after the grace period) on this disk: the delete events the
/// node journals for them (`scsp::journal::record_dropped`, docs/choices.md row P2). Both
/// cases are events at the context delete, since both make the objects read 404 then; the
/// later purge of a hidden object is no event. Call it after storing `marker` and before
/// [`after_store`] drops anything. Each live named object under the context gets a deletion
/// at the marker's version, or 1 ms after its own version when a skewed clock stamped that
/// later, so the deletion orders after the object's last revision and replicas of the same
/// revision on several nodes give the same version. Objects already hidden by another
/// deleted context (a bucket deleted before its domain) had their deletion then. Empty
/// for anything but a domain or bucket's deletion marker, and when `previous` was already
/// one (a replica or repair of a marker this disk had).
pub fn dropped_objects(
    disk: &Objects<'_>,
    previous: Option<&Record>,
    marker: &Record,
) -> Vec<Record> {
    use crate::scsp::object::{Kind, Version};
    let is_context = matches!(marker.kind, Kind::Domain | Kind::Bucket);
    if !is_context || !marker.deleted || previous.is_some_and(|p| p.deleted) {
        return Vec::new();
    }
    let prefixes = contained_prefixes(&marker.key);
    let keys: Vec<String> = disk
        .raw()
        .records()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with("n/") && prefixes.iter().any(|p| k.starts_with(p.as_str())))
        .cloned()
        .collect();
    keys.into_iter()
        .filter_map(|k| disk.get(&k))
        .filter(|r| r.kind == Kind::Named && !r.deleted)
        .filter(|r| {
            !any_parent(&r.key, |p| {
                p != marker.key && disk.get(p).is_some_and(|c| c.deleted)
            })
        })
        .map(|r| {
            let version = if r.version < marker.version {
                marker.version
            } else {
                Version {
                    stamp_ms: r.version.stamp_ms.saturating_add(1),
                    node: marker.version.node,
                }
            };
            crate::scsp::compose::record(
                r.key,
                Kind::Named,
                version,
                true,
                bytes::Bytes::new(),
                Default::default(),
            )
        })
        .collect()
}

/// After a context record was stored on this disk: a deletion marker whose time has come
/// drops the contents now; a live context replacing a marker starts empty. Returns how
/// many records went.
pub fn after_store(
    disk: &mut Objects<'_>,
    previous: Option<&Record>,
    record: &Record,
    now_ms: u64,
) -> usize {
    if !matches!(
        record.kind,
        crate::scsp::object::Kind::Domain | crate::scsp::object::Kind::Bucket
    ) {
        return 0;
    }
    let due = record.deleted && purge_after(record).is_some_and(|t| t <= now_ms);
    let recreated = !record.deleted && previous.is_some_and(|p| p.deleted);
    let mut changed = if due || recreated {
        purge_under(disk, &record.key)
    } else {
        0
    };
    if let Some(from) = record.meta.get(RENAMED_FROM).filter(|_| !record.deleted) {
        changed += move_under(disk, from, &record.key);
    }
    changed
}

/// Moves every record under context `from` to the same place under context `to` (a
/// rename): same versions and content, new keys.
fn move_under(disk: &mut Objects<'_>, from: &str, to: &str) -> usize {
    let pairs: Vec<(String, String)> = contained_prefixes(from)
        .into_iter()
        .zip(contained_prefixes(to))
        .collect();
    let moving: Vec<(String, String)> = disk
        .raw()
        .records()
        .filter_map(|(k, _)| {
            pairs.iter().find_map(|(old, new)| {
                k.strip_prefix(old.as_str())
                    .map(|rest| (k.clone(), format!("{new}{rest}")))
            })
        })
        .collect();
    for (old_key, new_key) in &moving {
        let Some(mut record) = disk.get(old_key) else {
            continue;
        };
        disk.remove(old_key);
        record.key = new_key.clone();
        // Room was just freed by the removal, so the write fits.
        let _ = disk.write_synced(&record);
    }
    moving.len()
}

/// The health processor's part: drops the contents of every deleted context whose grace
/// period is over. Returns how many records went. (A pass keeps a [`PurgeIndex`] instead,
/// which finds the same markers without walking every record.)
pub fn purge_due(disk: &mut Objects<'_>, now_ms: u64) -> usize {
    PurgeIndex::default().purge_due(disk, now_ms)
}

/// The deletion markers on one disk that carry a purge time, with that time, kept up to
/// date from the disk's changes: a health pass looks for due markers every few seconds,
/// and walking (and decoding) every record for them grew with the records stored.
#[derive(Debug, Default)]
pub struct PurgeIndex {
    /// The disk generation the index reflects (`None`: never built).
    generation: Option<u64>,
    /// Marker key and the time its contents may go.
    markers: std::collections::BTreeMap<String, u64>,
}

impl PurgeIndex {
    /// Drops the contents of every deleted context whose grace period is over, in key
    /// order of the markers (as [`purge_due`]). Returns how many records went.
    pub fn purge_due(&mut self, disk: &mut Objects<'_>, now_ms: u64) -> usize {
        self.refresh(disk);
        let due: Vec<String> = self
            .markers
            .iter()
            .filter(|(_, t)| **t <= now_ms)
            .map(|(k, _)| k.clone())
            .collect();
        due.iter().map(|k| purge_under(disk, k)).sum()
    }

    /// Takes in what changed on the disk since the index was last brought up to date, or
    /// rebuilds it from every record (first use, and after a wipe).
    fn refresh(&mut self, disk: &Objects<'_>) {
        let changes = self
            .generation
            .and_then(|g| disk.changed_summarised(g, purge_time));
        match changes {
            Some(changes) => {
                for (key, time) in changes {
                    match time.flatten() {
                        Some(t) => self.markers.insert(key.clone(), t),
                        None => self.markers.remove(key),
                    };
                }
            }
            None => {
                self.markers = disk
                    .summarised(purge_time)
                    .filter_map(|(k, t)| t.map(|t| (k.clone(), t)))
                    .collect();
            }
        }
        self.generation = Some(disk.generation());
    }
}

/// When the contents of a deletion marker's context may go (`None` for anything else).
fn purge_time(record: &Record) -> Option<u64> {
    if record.deleted {
        purge_after(record)
    } else {
        None
    }
}

fn purge_after(record: &Record) -> Option<u64> {
    record.meta.get(PURGE_AFTER).and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scsp::compose;
    use crate::scsp::object::{Kind, Version};
    use crate::scsp::query::Query;
    use crate::store::Disk;
    use bytes::Bytes;
    use std::collections::BTreeMap;

    fn record(key: &str, kind: Kind, deleted: bool, purge: Option<u64>) -> Record {
        let mut meta = BTreeMap::new();
        if let Some(t) = purge {
            meta.insert(PURGE_AFTER.to_string(), t.to_string());
        }
        compose::record(
            key.to_string(),
            kind,
            Version {
                stamp_ms: 1,
                node: 0,
            },
            deleted,
            Bytes::new(),
            meta,
        )
    }

    #[test]
    fn recursive_values() {
        assert_eq!(recursive_of(&Query::parse("")), Ok(None));
        assert_eq!(
            recursive_of(&Query::parse("recursive")),
            Ok(Some(Recursive::Grace))
        );
        assert_eq!(
            recursive_of(&Query::parse("Recursive=YES")),
            Ok(Some(Recursive::Grace))
        );
        assert_eq!(
            recursive_of(&Query::parse("recursive=now")),
            Ok(Some(Recursive::Now))
        );
        assert!(recursive_of(&Query::parse("recursive=no")).is_err());
    }

    fn parents_of(key: &str) -> Vec<String> {
        let mut out = Vec::new();
        let found = any_parent(key, |p| {
            out.push(p.to_string());
            false
        });
        assert!(!found);
        out
    }

    #[test]
    fn prefixes_and_parents() {
        assert_eq!(contained_prefixes("b//photos"), vec!["n//photos/"]);
        assert_eq!(contained_prefixes("d/t.org"), vec!["b/t.org/", "n/t.org/"]);
        assert!(contained_prefixes("d/").is_empty());
        assert!(contained_prefixes("n//b/x").is_empty());
        assert_eq!(parents_of("n/t.org/b/x/y"), vec!["b/t.org/b", "d/t.org"]);
        assert_eq!(parents_of("n//b/x"), vec!["b//b"]);
        assert_eq!(parents_of("b/t.org/b"), vec!["d/t.org"]);
        assert!(parents_of("u/abc").is_empty());
        assert!(parents_of("n/x").is_empty());
        assert!(parents_of("b/x").is_empty());
        assert!(any_parent("n/t.org/b/x", |p| p == "d/t.org"));
        assert!(!any_parent("n//b/x", |p| p == "d/"));
    }

    #[test]
    fn a_kept_purge_index_follows_the_disk_between_passes() {
        let shared = Disk::shared(1 << 20);
        let mut disk = Objects::lock(&shared);
        let mut index = PurgeIndex::default();
        for r in [
            record("d/t.org", Kind::Domain, false, None),
            record("b/t.org/b", Kind::Bucket, false, None),
            record("n/t.org/b/x", Kind::Named, false, None),
            record("n/t.org/c/y", Kind::Named, false, None),
            record("n//b/z", Kind::Named, false, None),
            // A deleted object with a purge time is indexed as purge_due would see it, and
            // holds nothing to purge.
            record("n//b/gone", Kind::Named, true, Some(1)),
        ] {
            disk.write_synced(&r).expect("room");
        }
        assert_eq!(index.purge_due(&mut disk, 5000), 0, "no marker yet");
        // Markers written after the index was built are found from the disk's changes.
        disk.write_synced(&record("b/t.org/b", Kind::Bucket, true, Some(1000)))
            .expect("room");
        disk.write_synced(&record("d/t.org", Kind::Domain, true, Some(3000)))
            .expect("room");
        assert_eq!(index.purge_due(&mut disk, 999), 0);
        assert_eq!(index.purge_due(&mut disk, 1000), 1);
        assert!(disk.get("n/t.org/b/x").is_none());
        assert!(disk.get("n/t.org/c/y").is_some());
        // The domain is created again before its time: nothing of it goes.
        disk.write_synced(&record("d/t.org", Kind::Domain, false, None))
            .expect("room");
        assert_eq!(index.purge_due(&mut disk, 5000), 0);
        assert!(disk.get("n/t.org/c/y").is_some());
        assert_eq!(
            index.markers.keys().collect::<Vec<_>>(),
            vec!["b/t.org/b", "n//b/gone"]
        );
        // After a wipe the index is rebuilt from what is left (nothing).
        disk.disk().wipe();
        assert_eq!(index.purge_due(&mut disk, 5000), 0);
        assert!(index.markers.is_empty());
        assert!(disk.get("n//b/z").is_none());
    }

    #[test]
    fn markers_hide_at_once_and_purge_when_due() {
        let shared = Disk::shared(1 << 20);
        let mut disk = Objects::lock(&shared);
        for r in [
            record("b//b", Kind::Bucket, false, None),
            record("n//b/x", Kind::Named, false, None),
            record("n//bb/y", Kind::Named, false, None),
        ] {
            disk.write_synced(&r).expect("room");
        }
        let previous = disk.get("b//b");
        let marker = record("b//b", Kind::Bucket, true, Some(1000));
        disk.write_synced(&marker).expect("room");
        assert_eq!(after_store(&mut disk, previous.as_ref(), &marker, 999), 0);
        assert!(in_deleted_context(&disk, "n//b/x"));
        assert!(!in_deleted_context(&disk, "n//bb/y"));
        assert_eq!(purge_due(&mut disk, 999), 0);
        assert_eq!(purge_due(&mut disk, 1000), 1);
        assert!(disk.get("n//b/x").is_none() && disk.get("n//bb/y").is_some());
        assert!(disk.get("b//b").is_some_and(|r| r.deleted));
    }

    #[test]
    fn a_new_deletion_marker_drops_each_live_object_once_after_its_last_revision() {
        let shared = Disk::shared(1 << 20);
        let mut disk = Objects::lock(&shared);
        let at = |mut r: Record, ms: u64| {
            r.version.stamp_ms = ms;
            r
        };
        for r in [
            record("d/t.org", Kind::Domain, false, None),
            record("b/t.org/b", Kind::Bucket, false, None),
            at(
                record("b/t.org/gone", Kind::Bucket, true, Some(u64::MAX)),
                5,
            ),
            at(record("n/t.org/b/x", Kind::Named, false, None), 10),
            at(record("n/t.org/b/late", Kind::Named, false, None), 90),
            at(record("n/t.org/b/deleted", Kind::Named, true, None), 10),
            at(record("n/t.org/gone/y", Kind::Named, false, None), 4),
            at(record("n/other/b/z", Kind::Named, false, None), 10),
        ] {
            disk.write_synced(&r).expect("room");
        }
        let marker = at(record("d/t.org", Kind::Domain, true, Some(50)), 50);
        let previous = disk.get("d/t.org");
        disk.write_synced(&marker).expect("room");
        let dropped = dropped_objects(&disk, previous.as_ref(), &marker);
        let seen: Vec<(&str, u64, bool)> = dropped
            .iter()
            .map(|r| (r.key.as_str(), r.version.stamp_ms, r.deleted))
            .collect();
        // `late` was stamped after the marker (a skewed clock): its delete comes 1 ms later;
        // `gone/y` was hidden by its bucket's earlier delete, `deleted` was deleted already.
        assert_eq!(
            seen,
            [("n/t.org/b/late", 91, true), ("n/t.org/b/x", 50, true)]
        );
        assert!(
            dropped_objects(&disk, Some(&marker), &marker).is_empty(),
            "a marker this disk had already"
        );
        let live = record("b/t.org/b", Kind::Bucket, false, None);
        assert!(
            dropped_objects(&disk, None, &live).is_empty(),
            "not a deletion"
        );
    }

    #[test]
    fn a_rename_moves_the_contents_under_the_new_name() {
        let shared = Disk::shared(1 << 20);
        let mut disk = Objects::lock(&shared);
        disk.write_synced(&record("n//old/x/y", Kind::Named, false, None))
            .expect("room");
        disk.write_synced(&record("n//older/z", Kind::Named, false, None))
            .expect("room");
        let mut renamed = record("b//new", Kind::Bucket, false, None);
        renamed
            .meta
            .insert(RENAMED_FROM.to_string(), "b//old".to_string());
        assert_eq!(after_store(&mut disk, None, &renamed, 0), 1);
        assert!(disk
            .get("n//new/x/y")
            .is_some_and(|r| r.key == "n//new/x/y"));
        assert!(disk.get("n//old/x/y").is_none() && disk.get("n//older/z").is_some());
    }

    #[test]
    fn recreating_over_a_marker_starts_empty() {
        let shared = Disk::shared(1 << 20);
        let mut disk = Objects::lock(&shared);
        let marker = record("b//b", Kind::Bucket, true, Some(u64::MAX));
        disk.write_synced(&marker).expect("room");
        disk.write_synced(&record("n//b/x", Kind::Named, false, None))
            .expect("room");
        let fresh = record("b//b", Kind::Bucket, false, None);
        assert_eq!(after_store(&mut disk, Some(&marker), &fresh, 0), 1);
        assert!(disk.get("n//b/x").is_none());
    }
}
