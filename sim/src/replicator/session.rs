//! The replicator's durable cursor: the enumerator it reads, the token of the last answer
//! it has applied, and the items it parked. Kept as one synced record on the host's disk,
//! so a crash and restart continue the same session (the publisher re-sends what was not
//! acknowledged) instead of reading the whole journal again.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::replicator::item::Item;
use crate::store::{md5_hex, Disk, DiskError, Entry, SharedDisk};

/// The one key the replicator writes (prefixed so it is never taken for an object).
const KEY: &str = "replicator/session";

/// The session as it survives a crash.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The enumerator id (`Content-UUID` of Start); `None` before Start or after a 404.
    pub enumerator: Option<String>,
    /// `Content-Sync-Token` of the last answer whose item is applied (or parked): the
    /// next Next acknowledges it.
    pub token: Option<String>,
    /// Items acknowledged but waiting for cluster A to show their revision (RP6).
    pub parked: Vec<Item>,
}

impl Session {
    /// What the disk holds, or a fresh session (a record that does not decode is treated
    /// as none: the worst case is reading the journal again, which is idempotent).
    pub fn load(disk: &SharedDisk) -> Session {
        Disk::lock(disk)
            .get(KEY)
            .and_then(|e| serde_json::from_slice(&e.body).ok())
            .unwrap_or_default()
    }

    /// Writes and syncs the session: after this returns, a crash keeps it.
    pub fn save(&self, disk: &SharedDisk) -> Result<(), DiskError> {
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        let mut disk = Disk::lock(disk);
        let version = disk.get(KEY).map_or(0, |e| e.version) + 1;
        disk.write_synced(Entry {
            key: KEY.to_string(),
            head: Bytes::new(),
            digest: md5_hex(&bytes),
            body: Bytes::from(bytes),
            version,
            removed: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_session_survives_a_crash() {
        let disk = Disk::shared(1 << 20);
        assert_eq!(Session::load(&disk), Session::default());
        let s = Session {
            enumerator: Some("e1".into()),
            token: Some("4".into()),
            parked: Vec::new(),
        };
        s.save(&disk).expect("room");
        Disk::lock(&disk).crash();
        assert_eq!(Session::load(&disk), s);
    }
}
