//! The only module that knows the disk model: the journal sees a disk as "put a named byte
//! record, read all records, sync".
//!
//! Each record is one generic disk entry (the bytes as its body, no head). Assumptions it
//! relies on: a put is pending until `sync`, a crash drops pending entries whole and keeps
//! synced ones whole (the disk model's durability contract), and `records()` returns every
//! surviving entry.

use bytes::Bytes;

use crate::store::{md5_hex, Disk, DiskError, Entry, SharedDisk};

/// Prefix of the publisher's records on a disk, so they can never be taken for objects.
const PREFIX: &str = "publisher/";

/// A disk as the journal needs it.
#[derive(Debug, Clone)]
pub struct DurableLog {
    disk: SharedDisk,
}

impl DurableLog {
    /// The journal's view of a (world-owned, crash-surviving) disk.
    pub fn new(disk: SharedDisk) -> Self {
        Self { disk }
    }

    /// Stores `bytes` under `name`, pending until [`DurableLog::sync`].
    pub fn put(&self, name: &str, bytes: Vec<u8>) -> Result<(), DiskError> {
        let entry = Entry {
            key: format!("{PREFIX}{name}"),
            head: Bytes::new(),
            digest: md5_hex(&bytes),
            body: Bytes::from(bytes),
            version: 0,
            removed: false,
        };
        Disk::lock(&self.disk).write(entry)
    }

    /// Makes every put so far durable.
    pub fn sync(&self) {
        Disk::lock(&self.disk).sync();
    }

    /// The record stored under `name` (synced or still pending).
    pub fn get(&self, name: &str) -> Option<Bytes> {
        Disk::lock(&self.disk)
            .get(&format!("{PREFIX}{name}"))
            .map(|e| e.body.clone())
    }

    /// Every record this log holds (synced or still pending), in name order.
    pub fn read_all(&self) -> Vec<(String, Bytes)> {
        Disk::lock(&self.disk)
            .records()
            .filter_map(|(key, r)| {
                key.strip_prefix(PREFIX)
                    .map(|name| (name.to_string(), r.body.clone()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synced_records_survive_a_crash_and_pending_ones_do_not() {
        let disk = Disk::shared(1 << 20);
        let log = DurableLog::new(disk.clone());
        log.put("a", b"1".to_vec()).expect("room");
        log.sync();
        log.put("b", b"2".to_vec()).expect("room");
        assert_eq!(log.read_all().len(), 2);
        Disk::lock(&disk).crash();
        assert_eq!(
            log.read_all(),
            vec![("a".to_string(), Bytes::from_static(b"1"))]
        );
    }
}
