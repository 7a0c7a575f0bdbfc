//! The gateway's records on the generic disk: its state document (jobs, objects, the id
//! counter) and the blob bytes, in two areas: the cache (what clients PUT, or what a GET
//! job loaded) and the permanent store. Every write is synced before the gateway answers,
//! so a crash loses only what was never acknowledged. The only module that knows the disk.

use bytes::Bytes;

use crate::store::{md5_hex, Disk, DiskError, Entry, SharedDisk};

const STATE: &str = "ds3/state";

/// Where a blob's bytes live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    /// The cache: received from a client, or loaded for a GET job.
    Cache,
    /// The permanent store (tape or disk pools behind the gateway).
    Permanent,
}

impl Area {
    fn key(self, blob_id: &str) -> String {
        match self {
            Area::Cache => format!("ds3/cache/{blob_id}"),
            Area::Permanent => format!("ds3/perm/{blob_id}"),
        }
    }
}

/// The gateway's view of its host's disk.
#[derive(Debug, Clone)]
pub struct Storage {
    disk: SharedDisk,
}

impl Storage {
    /// The gateway's records on `disk` (which outlives the gateway's incarnations).
    pub fn new(disk: SharedDisk) -> Self {
        Self { disk }
    }

    /// The saved state document, if any.
    pub fn load_state(&self) -> Option<Bytes> {
        Disk::lock(&self.disk).get(STATE).map(|e| e.body.clone())
    }

    /// Saves the state document durably; `version` orders the saves.
    pub fn save_state(&self, bytes: Vec<u8>, version: u64) -> Result<(), DiskError> {
        Disk::lock(&self.disk).write_synced(entry(STATE.into(), Bytes::from(bytes), version))
    }

    /// Stores a blob's bytes durably in `area`.
    pub fn put_blob(&self, area: Area, blob_id: &str, bytes: Bytes) -> Result<(), DiskError> {
        Disk::lock(&self.disk).write_synced(entry(area.key(blob_id), bytes, 1))
    }

    /// A blob's bytes in `area`.
    pub fn get_blob(&self, area: Area, blob_id: &str) -> Option<Bytes> {
        Disk::lock(&self.disk)
            .get(&area.key(blob_id))
            .map(|e| e.body.clone())
    }

    /// Drops a blob from `area`.
    pub fn remove_blob(&self, area: Area, blob_id: &str) {
        Disk::lock(&self.disk).remove(&area.key(blob_id));
    }

    /// Moves a blob from the cache to the permanent store (a no-op when it is not cached).
    pub fn persist_blob(&self, blob_id: &str) -> Result<(), DiskError> {
        let Some(bytes) = self.get_blob(Area::Cache, blob_id) else {
            return Ok(());
        };
        self.put_blob(Area::Permanent, blob_id, bytes)?;
        self.remove_blob(Area::Cache, blob_id);
        Ok(())
    }
}

fn entry(key: String, body: Bytes, version: u64) -> Entry {
    Entry {
        key,
        head: Bytes::new(),
        digest: md5_hex(&body),
        body,
        version: u128::from(version),
        removed: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_move_from_cache_to_permanent_and_survive_a_crash() {
        let disk = Disk::shared(1 << 20);
        let s = Storage::new(disk.clone());
        s.put_blob(Area::Cache, "b1", Bytes::from_static(b"abc"))
            .expect("room");
        s.save_state(b"{}".to_vec(), 1).expect("room");
        s.persist_blob("b1").expect("room");
        Disk::lock(&disk).crash();
        assert_eq!(s.get_blob(Area::Cache, "b1"), None);
        assert_eq!(
            s.get_blob(Area::Permanent, "b1"),
            Some(Bytes::from_static(b"abc"))
        );
        assert_eq!(s.load_state(), Some(Bytes::from_static(b"{}")));
    }
}
