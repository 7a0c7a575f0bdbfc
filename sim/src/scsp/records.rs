//! SCSP's object records as a layer over the generic disk.
//!
//! The disk (`store`) holds keyed entries it does not interpret. A [`Record`] is stored as
//! one entry: its description (kind, version, deletion flag, metadata) as the entry's head
//! in JSON, its content as the body, its MD5 as the digest, its version as the entry's
//! version order. [`Objects`] is the locked view node code, invariants and tests use: the
//! same calls the disk offers, in records.

use std::sync::MutexGuard;

use bytes::Bytes;

use crate::scsp::object::{Record, Version};
use crate::store::{Disk, DiskError, Entry, SharedDisk};

/// The entry a record is stored as.
pub fn to_entry(record: &Record) -> Entry {
    Entry {
        key: record.key.clone(),
        head: Bytes::from(serde_json::to_vec(record).unwrap_or_default()),
        body: record.content.clone(),
        digest: record.md5_hex.clone(),
        version: version_order(record.version),
        removed: record.deleted,
    }
}

/// The record an entry holds, or `None` when its head is not an SCSP record (a disk shared
/// with another service, or a head written by a different version of this layer).
pub fn from_entry(entry: &Entry) -> Option<Record> {
    let mut record: Record = serde_json::from_slice(&entry.head).ok()?;
    record.content = entry.body.clone();
    Some(record)
}

/// A version as the disk's order: stamp first, then the stamping node.
pub fn version_order(version: Version) -> u128 {
    (u128::from(version.stamp_ms) << 32) | u128::from(version.node)
}

/// A node's disk seen as SCSP records, locked for the duration of the view.
pub struct Objects<'a> {
    disk: MutexGuard<'a, Disk>,
}

impl<'a> Objects<'a> {
    /// Locks a disk for reading or writing records (poisoning tolerated, as [`Disk::lock`]).
    pub fn lock(disk: &'a SharedDisk) -> Self {
        Self {
            disk: Disk::lock(disk),
        }
    }

    /// The disk underneath, for what is not about records (capacity, crash, rot).
    pub fn disk(&mut self) -> &mut Disk {
        &mut self.disk
    }

    /// The disk underneath, read-only: keys and entry flags without decoding records.
    pub fn raw(&self) -> &Disk {
        &self.disk
    }

    /// The newest record under `key`, pending or synced.
    pub fn get(&self, key: &str) -> Option<Record> {
        self.disk.get(key).and_then(from_entry)
    }

    /// Every key with its newest record, in key order.
    pub fn records(&self) -> impl Iterator<Item = (String, Record)> + '_ {
        self.records_from(None)
    }

    /// Every key after `after` (all when `None`) with its newest record, in key order.
    pub fn records_from<'b>(
        &'b self,
        after: Option<&'b str>,
    ) -> impl Iterator<Item = (String, Record)> + 'b {
        self.disk
            .records_from(after)
            .filter_map(|(k, e)| from_entry(e).map(|r| (k.clone(), r)))
    }

    /// Stores a record as pending (see the disk's durability contract).
    pub fn write(&mut self, record: &Record) -> Result<(), DiskError> {
        self.disk.write(to_entry(record))
    }

    /// Stores a record and makes it durable: what a node does before acknowledging.
    pub fn write_synced(&mut self, record: &Record) -> Result<(), DiskError> {
        self.disk.write_synced(to_entry(record))
    }

    /// Makes every pending record durable.
    pub fn sync(&mut self) {
        self.disk.sync()
    }

    /// Removes a key entirely.
    pub fn remove(&mut self, key: &str) {
        self.disk.remove(key)
    }

    /// Keys changed after generation `since`, each with its record now (`None`: gone), or
    /// `None` when a full inventory is needed (see [`Disk::changed_since`]).
    pub fn changed_since(&self, since: u64) -> Option<Vec<(String, Option<Record>)>> {
        let changed = self.disk.changed_since(since)?;
        Some(
            changed
                .into_iter()
                .map(|(k, e)| (k.clone(), e.and_then(from_entry)))
                .collect(),
        )
    }

    /// The disk's change counter (see [`Disk::generation`]).
    pub fn generation(&self) -> u64 {
        self.disk.generation()
    }

    /// Bytes still free.
    pub fn free_bytes(&self) -> u64 {
        self.disk.free_bytes()
    }

    /// Bytes used.
    pub fn used_bytes(&self) -> u64 {
        self.disk.used_bytes()
    }

    /// Total size.
    pub fn capacity_bytes(&self) -> u64 {
        self.disk.capacity_bytes()
    }

    /// Number of records stored.
    pub fn len(&self) -> usize {
        self.disk.records().count()
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.disk.records().next().is_none()
    }
}

/// How many live (not deleted) copies of `store_key` the disks hold.
pub fn replica_count(disks: &[SharedDisk], store_key: &str) -> usize {
    disks
        .iter()
        .filter(|d| Disk::lock(d).get(store_key).is_some_and(|e| !e.removed))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scsp::object::{md5_hex, Kind};

    #[test]
    fn a_record_survives_the_round_trip_through_an_entry() {
        let record = Record {
            key: "n//b/x".to_string(),
            kind: Kind::Named,
            version: Version {
                stamp_ms: 1_700_000_000_123,
                node: 3,
            },
            deleted: false,
            meta: [("content-type".to_string(), "text/plain".to_string())].into(),
            md5_hex: md5_hex(b"hello"),
            content: Bytes::from_static(b"hello"),
        };
        let entry = to_entry(&record);
        assert!(entry.intact());
        assert_eq!(entry.body, record.content);
        assert_eq!(from_entry(&entry), Some(record.clone()));
        let later = Version {
            stamp_ms: record.version.stamp_ms,
            node: 4,
        };
        assert!(version_order(later) > entry.version, "node id breaks ties");
        let disk = Disk::shared(1 << 20);
        Objects::lock(&disk).write_synced(&record).expect("room");
        assert_eq!(Objects::lock(&disk).get("n//b/x"), Some(record));
        assert_eq!(
            replica_count(&[disk.clone(), Disk::shared(1 << 20)], "n//b/x"),
            1
        );
    }
}
