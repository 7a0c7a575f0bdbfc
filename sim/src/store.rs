//! The per-host disk model: what a host has stored, what is durable, and how full it is.
//!
//! madsim's own file system keeps everything across a kill, so it cannot model a crash. A
//! `Disk` is owned by the world (not by the service task), which is what lets it survive a
//! restart: the host's factory is handed the same `SharedDisk` again.
//!
//! The disk knows no protocol: it holds keyed [`Entry`]s (an opaque head, a body, the body's
//! digest as written, and the writer's version order). Each service keeps its own record
//! type as a layer over it (the SCSP node's is `scsp::records`).
//!
//! Durability contract: an entry passed to [`Disk::write`] is *pending* until [`Disk::sync`];
//! [`Disk::crash`] drops every pending entry and keeps every synced one. The reference node
//! syncs before it acknowledges a write.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;

/// One stored record, as the disk sees it: bytes it does not interpret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key it is stored under.
    pub key: String,
    /// The service's description of the record (metadata, flags), opaque to the disk. Bit
    /// rot never touches it, so a layer can always decode it.
    pub head: Bytes,
    /// The payload: the only part bit rot changes.
    pub body: Bytes,
    /// Hex MD5 of the body as the writer recorded it. The disk never recomputes it, so rot
    /// shows as a body that no longer matches ([`Entry::intact`]).
    pub digest: String,
    /// The writer's order among versions of one key: a higher value supersedes a lower one.
    /// The world uses it to keep faults recoverable (never rot or lose the newest good copy).
    pub version: u128,
    /// True for a tombstone: the key reads as gone, but the version still orders writes.
    pub removed: bool,
}

impl Entry {
    /// Bytes this entry takes on disk: the body plus a fixed allowance for the head and the
    /// bookkeeping, so even empty entries use space and a full disk is reachable.
    pub fn stored_bytes(&self) -> u64 {
        self.body.len() as u64 + 256
    }

    /// True when the body still matches the digest written with it.
    ///
    /// The scrub and the fault injector ask this of the same unchanged entries again and
    /// again (an MD5 of every body each time a fault picks a copy to rot), so each thread
    /// remembers bodies it found matching their digest (`IntactBodies`): comparing the
    /// bytes with a remembered copy is exact and much cheaper than the MD5.
    pub fn intact(&self) -> bool {
        body_matches(&self.body, &self.digest)
    }
}

/// True when `body`'s hex MD5 is `digest`: [`Entry::intact`] for bytes already taken out of
/// their entry (a record read back, whose content a read or a check validates), with the
/// same memory of bodies found matching.
pub fn body_matches(body: &[u8], digest: &str) -> bool {
    if INTACT.with(|known| known.borrow().knows(body, digest)) {
        return true;
    }
    // `md5_hex` remembers the body under the digest it has, whether or not it is this one.
    md5_hex(body) == digest
}

/// Hashes the keys of a thread's caches (here, and the decoded heads of `scsp::records`):
/// machine words and digests, with one multiply per eight bytes and a final mix. SipHash,
/// the default, is made to resist chosen keys, which these are not; it was a visible part of
/// every lookup. Nothing iterates these maps, so the hash decides no order.
#[derive(Default)]
pub struct WordHasher(u64);

impl std::hash::Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(29) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn finish(&self) -> u64 {
        // Spread the high bits into the low ones, which pick the bucket.
        let z = self.0;
        let z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// A map hasher of [`WordHasher`]s.
pub type WordHash = std::hash::BuildHasherDefault<WordHasher>;

/// Bytes a thread's memory of bodies may take, each entry counted at its body's length
/// plus [`INTACT_ENTRY_BYTES`]; past it the memory starts again empty.
const INTACT_BYTES_MAX: usize = 4 << 20;

/// What an entry takes beside its body: two copies of the 32-digit digest, the boxes'
/// and strings' heap headers, and the two maps' slots. Counted so that many tiny bodies
/// cannot hold many times [`INTACT_BYTES_MAX`].
const INTACT_ENTRY_BYTES: usize = 192;

/// Larger bodies are not remembered (each is checked with its MD5 every time).
const INTACT_BODY_MAX: usize = 64 << 10;

/// Bodies found to match a digest: a copy of the bytes by the digest they matched. A body
/// equal to the copy remembered under its digest has that digest, so the answer is exact
/// whatever the body's allocation (copies, not shared buffers, so that nothing larger than
/// the body is kept alive).
///
/// The same memory answers [`md5_hex`] for a body it holds: the writer hashes what it sends,
/// the node what it stores, the reader what it reads back, all the same bytes.
#[derive(Default)]
struct IntactBodies {
    bodies: std::collections::HashMap<String, Box<[u8]>, WordHash>,
    /// The digest of each remembered body, by a hash of its bytes. A hit is confirmed by
    /// comparing the bytes with the copy kept under that digest, so a hash collision only
    /// costs a fresh MD5.
    digests: std::collections::HashMap<u64, String, WordHash>,
    bytes: usize,
}

impl IntactBodies {
    fn knows(&self, body: &[u8], digest: &str) -> bool {
        self.bodies.get(digest).is_some_and(|kept| **kept == *body)
    }

    /// The digest of `body` if it is remembered; `hash` is [`body_hash`]'s.
    fn digest_of(&self, body: &[u8], hash: u64) -> Option<String> {
        let digest = self.digests.get(&hash)?;
        self.knows(body, digest).then(|| digest.clone())
    }

    fn remember(&mut self, body: &[u8], hash: u64, digest: &str) {
        if body.len() > INTACT_BODY_MAX {
            return;
        }
        if self.bytes + body.len() + INTACT_ENTRY_BYTES > INTACT_BYTES_MAX {
            self.bodies.clear();
            self.digests.clear();
            self.bytes = 0;
        }
        if let Some(old) = self.bodies.insert(digest.to_string(), body.into()) {
            self.bytes -= old.len() + INTACT_ENTRY_BYTES;
        }
        self.digests.insert(hash, digest.to_string());
        self.bytes += body.len() + INTACT_ENTRY_BYTES;
    }
}

/// A hash of a body's bytes for [`IntactBodies::digests`]: one multiply per eight bytes,
/// against MD5's sixty-four rounds per sixty-four bytes.
fn body_hash(body: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    WordHash::default().hash_one(body)
}

thread_local! {
    static INTACT: std::cell::RefCell<IntactBodies> = std::cell::RefCell::new(IntactBodies::default());
}

/// Hex MD5 of some bytes: the digest [`Entry::digest`] is expected to hold. Bodies up to
/// `INTACT_BODY_MAX` are remembered per thread with their digest (`IntactBodies`), so the
/// same bytes hashed again cost a hash and a compare instead of an MD5.
pub fn md5_hex(bytes: &[u8]) -> String {
    if bytes.len() > INTACT_BODY_MAX {
        return md5_hex_computed(bytes);
    }
    let hash = body_hash(bytes);
    if let Some(digest) = INTACT.with(|known| known.borrow().digest_of(bytes, hash)) {
        return digest;
    }
    let digest = md5_hex_computed(bytes);
    INTACT.with(|known| known.borrow_mut().remember(bytes, hash, &digest));
    digest
}

/// [`md5_hex`] without the memory.
fn md5_hex_computed(bytes: &[u8]) -> String {
    use md5::{Digest, Md5};
    let digits = b"0123456789abcdef";
    let sum = Md5::digest(bytes);
    let mut out = String::with_capacity(32);
    for b in sum.iter() {
        out.push(digits[usize::from(b >> 4)] as char);
        out.push(digits[usize::from(b & 0x0f)] as char);
    }
    out
}

/// A disk shared between a node's incarnations (the world keeps it across restarts).
pub type SharedDisk = Arc<Mutex<Disk>>;

/// Why a write did not reach the disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiskError {
    /// Not enough free space for the record (the node answers 507 if no other node has room).
    Full {
        /// Bytes the record needs.
        needed_bytes: u64,
        /// Bytes still free.
        free_bytes: u64,
    },
}

/// One host's stored entries, split into synced and pending.
#[derive(Debug, Clone)]
pub struct Disk {
    capacity_bytes: u64,
    /// Bytes taken by the newest copy of every key, kept up to date by every change (bids
    /// ask for free space on every request, so this must not walk the records).
    used_bytes: u64,
    generation: u64,
    /// The generation at which each key last changed (removed keys included), so a peer
    /// can be sent only what changed since it last looked.
    touched: BTreeMap<String, u64>,
    /// The same pairs ordered by generation, so that the changes since a generation are
    /// found without walking every key ever touched (health passes and inventory requests
    /// ask for them every few seconds, and the keys grow with the objects stored).
    by_generation: BTreeSet<(u64, String)>,
    /// The generation of the last wipe: peers that looked before it need everything.
    wiped_at: u64,
    synced: BTreeMap<String, Entry>,
    pending: BTreeMap<String, Entry>,
}

impl Disk {
    /// An empty disk of the given size.
    pub fn new(capacity_bytes: u64) -> Self {
        Self {
            capacity_bytes,
            used_bytes: 0,
            generation: 0,
            touched: BTreeMap::new(),
            by_generation: BTreeSet::new(),
            wiped_at: 0,
            synced: BTreeMap::new(),
            pending: BTreeMap::new(),
        }
    }

    /// An empty disk wrapped for sharing between incarnations of one node.
    pub fn shared(capacity_bytes: u64) -> SharedDisk {
        Arc::new(Mutex::new(Self::new(capacity_bytes)))
    }

    /// Locks a shared disk; a poisoned lock still yields the data (a panicking test thread
    /// must not hide the disk's contents from the report).
    pub fn lock(disk: &SharedDisk) -> MutexGuard<'_, Disk> {
        disk.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Total size.
    pub fn capacity_bytes(&self) -> u64 {
        self.capacity_bytes
    }

    /// Bytes taken by the newest copy of every record, pending or synced.
    pub fn used_bytes(&self) -> u64 {
        self.used_bytes
    }

    /// The same figure counted record by record: the check on the running total.
    fn used_bytes_counted(&self) -> u64 {
        self.records().map(|(_, r)| r.stored_bytes()).sum()
    }

    /// Bytes still free.
    pub fn free_bytes(&self) -> u64 {
        self.capacity_bytes.saturating_sub(self.used_bytes())
    }

    /// The newest record under `key`, pending or synced.
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.pending.get(key).or_else(|| self.synced.get(key))
    }

    /// Every key with its newest record, in key order.
    pub fn records(&self) -> impl Iterator<Item = (&String, &Entry)> {
        self.records_from(None)
    }

    /// Every key after `after` (all keys when `None`) with its newest record, in key order:
    /// a merge of the two sorted maps, with pending copies shadowing synced ones.
    pub fn records_from<'a>(
        &'a self,
        after: Option<&'a str>,
    ) -> impl Iterator<Item = (&'a String, &'a Entry)> + 'a {
        use std::ops::Bound;
        self.records_in(after.map_or(Bound::Unbounded, Bound::Excluded))
    }

    /// Every key that starts with `prefix` with its newest record, in key order: a range of
    /// the maps, not a walk of every key (a context's contents, for instance).
    pub fn records_with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a String, &'a Entry)> + 'a {
        self.records_in(std::ops::Bound::Included(prefix))
            .take_while(move |(k, _)| k.starts_with(prefix))
    }

    /// Every key from `start` on with its newest record, in key order.
    fn records_in<'a>(
        &'a self,
        start: std::ops::Bound<&'a str>,
    ) -> impl Iterator<Item = (&'a String, &'a Entry)> + 'a {
        use std::ops::Bound;
        let range =
            move |m: &'a BTreeMap<String, Entry>| m.range::<str, _>((start, Bound::Unbounded));
        let mut synced = range(&self.synced).peekable();
        let mut pending = range(&self.pending).peekable();
        std::iter::from_fn(move || match (synced.peek(), pending.peek()) {
            (Some((sk, _)), Some((pk, _))) => match sk.cmp(pk) {
                std::cmp::Ordering::Less => synced.next(),
                std::cmp::Ordering::Greater => pending.next(),
                std::cmp::Ordering::Equal => {
                    synced.next();
                    pending.next()
                }
            },
            (Some(_), None) => synced.next(),
            (None, Some(_)) => pending.next(),
            (None, None) => None,
        })
    }

    /// Stores a record as pending, replacing whatever the key held. The space check counts the
    /// record being replaced as freed.
    pub fn write(&mut self, record: Entry) -> Result<(), DiskError> {
        let replaced = self.get(&record.key).map(Entry::stored_bytes).unwrap_or(0);
        let needed_bytes = record.stored_bytes();
        let free_bytes = self.free_bytes() + replaced;
        if needed_bytes > free_bytes {
            return Err(DiskError::Full {
                needed_bytes,
                free_bytes,
            });
        }
        self.used_bytes = self.used_bytes - replaced + needed_bytes;
        self.generation += 1;
        self.touch(&record.key);
        self.pending.insert(record.key.clone(), record);
        debug_assert_eq!(self.used_bytes, self.used_bytes_counted());
        Ok(())
    }

    /// Makes every pending record durable.
    pub fn sync(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        self.synced.extend(pending);
    }

    /// Writes and syncs in one step: what the node does before acknowledging.
    pub fn write_synced(&mut self, record: Entry) -> Result<(), DiskError> {
        self.write(record)?;
        self.sync();
        Ok(())
    }

    /// Removes a key entirely (used to roll back a write that failed its replica quorum).
    pub fn remove(&mut self, key: &str) {
        self.used_bytes -= self.get(key).map(Entry::stored_bytes).unwrap_or(0);
        self.pending.remove(key);
        self.synced.remove(key);
        self.generation += 1;
        self.touch(key);
    }

    /// Notes that `key` changed at the current generation.
    ///
    /// A key touched before keeps its stored name: only the generation moves.
    fn touch(&mut self, key: &str) {
        let generation = self.generation;
        match self.touched.get_mut(key) {
            Some(at) => {
                let old = std::mem::replace(at, generation);
                let probe = (old, key.to_string());
                let (_, key) = self.by_generation.take(&probe).unwrap_or(probe);
                self.by_generation.insert((generation, key));
            }
            None => {
                self.touched.insert(key.to_string(), generation);
                self.by_generation.insert((generation, key.to_string()));
            }
        }
    }

    /// A power loss: pending records vanish, synced ones stay. Returns the keys lost.
    pub fn crash(&mut self) -> Vec<String> {
        self.generation += 1;
        let lost = std::mem::take(&mut self.pending);
        for (key, record) in &lost {
            self.touch(key);
            self.used_bytes -= record.stored_bytes();
            self.used_bytes += self.synced.get(key).map(Entry::stored_bytes).unwrap_or(0);
        }
        debug_assert_eq!(self.used_bytes, self.used_bytes_counted());
        lost.into_keys().collect()
    }

    /// Keys changed after generation `since`, each with its record now (`None`: gone), or
    /// `None` when `since` predates a wipe or is unknown here (send everything instead).
    pub fn changed_since(&self, since: u64) -> Option<Vec<(&String, Option<&Entry>)>> {
        if since < self.wiped_at || since > self.generation {
            return None;
        }
        let Some(after) = since.checked_add(1) else {
            return Some(Vec::new());
        };
        let mut keys: Vec<&String> = self
            .by_generation
            .range((after, String::new())..)
            .map(|(_, k)| k)
            .collect();
        // Key order, as callers (and the inventories built from this) expect.
        keys.sort_unstable();
        Some(keys.into_iter().map(|k| (k, self.get(k))).collect())
    }

    /// Changes with every write, removal, crash and wipe (not with bit rot, which nothing
    /// notices until it reads the bytes): lets a peer say "nothing changed" cheaply.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Keys written but not yet synced.
    pub fn pending_keys(&self) -> Vec<String> {
        self.pending.keys().cloned().collect()
    }

    /// Moves the generation without a key changing: something else that peers learn from
    /// an inventory changed, so that no peer is told "unchanged" with the old figure.
    pub fn note_figures_changed(&mut self) {
        self.generation += 1;
    }

    /// Changes the disk size (a full-disk fault shrinks it to what is used).
    pub fn set_capacity_bytes(&mut self, capacity_bytes: u64) {
        self.capacity_bytes = capacity_bytes;
        // Free space is part of what peers learn from an inventory.
        self.note_figures_changed();
    }

    /// Loses everything: the node is replaced by an empty one.
    pub fn wipe(&mut self) {
        self.pending.clear();
        self.synced.clear();
        self.used_bytes = 0;
        self.touched.clear();
        self.by_generation.clear();
        self.generation += 1;
        self.wiped_at = self.generation;
    }

    /// Bit rot: flips one byte of the stored body of `key` without touching its recorded
    /// digest, so validation can notice. Returns false when there is no content to rot.
    pub fn rot(&mut self, key: &str, position: usize) -> bool {
        let record = match self.pending.get_mut(key) {
            Some(r) => r,
            None => match self.synced.get_mut(key) {
                Some(r) => r,
                None => return false,
            },
        };
        if record.body.is_empty() {
            return false;
        }
        let mut bytes = record.body.to_vec();
        let at = position % bytes.len();
        bytes[at] ^= 0x5A;
        record.body = bytes.into();
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: &str, content: &'static [u8]) -> Entry {
        Entry {
            key: key.to_string(),
            head: Bytes::from_static(b"head"),
            digest: md5_hex(content),
            body: Bytes::from_static(content),
            version: 1,
            removed: false,
        }
    }

    #[test]
    fn a_crash_loses_exactly_the_unsynced_records() {
        let mut disk = Disk::new(1 << 20);
        disk.write_synced(record("a", b"synced")).expect("room");
        disk.write(record("b", b"pending")).expect("room");
        assert_eq!(disk.pending_keys(), vec!["b".to_string()]);
        assert_eq!(disk.crash(), vec!["b".to_string()]);
        assert!(disk.get("a").is_some());
        assert!(disk.get("b").is_none());
    }

    #[test]
    fn a_full_disk_refuses_writes_but_allows_replacing_in_place() {
        let mut disk = Disk::new(300);
        disk.write_synced(record("a", b"x")).expect("room");
        let full = disk.write(record("b", b"y"));
        assert!(matches!(full, Err(DiskError::Full { .. })), "{full:?}");
        disk.write_synced(record("a", b"z"))
            .expect("replacing frees the old copy");
    }

    #[test]
    fn records_merge_pending_over_synced_in_key_order() {
        let mut disk = Disk::new(1 << 20);
        disk.write_synced(record("a", b"1")).expect("room");
        disk.write_synced(record("c", b"old")).expect("room");
        disk.write(record("b", b"2")).expect("room");
        disk.write(record("c", b"new")).expect("room");
        let all: Vec<(&str, &[u8])> = disk
            .records()
            .map(|(k, r)| (k.as_str(), &r.body[..]))
            .collect();
        assert_eq!(all, vec![("a", &b"1"[..]), ("b", b"2"), ("c", b"new")]);
        let after_a: Vec<&str> = disk
            .records_from(Some("a"))
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(after_a, vec!["b", "c"]);
        disk.write(record("bb", b"3")).expect("room");
        disk.write_synced(record("ba", b"4")).expect("room");
        let under_b: Vec<&str> = disk
            .records_with_prefix("b")
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(under_b, vec!["b", "ba", "bb"]);
        assert_eq!(disk.records_with_prefix("bc").count(), 0);
    }

    #[test]
    fn changes_since_a_generation_name_every_touched_key() {
        let mut disk = Disk::new(1 << 20);
        disk.write_synced(record("a", b"1")).expect("room");
        let seen = disk.generation();
        disk.write_synced(record("b", b"2")).expect("room");
        disk.remove("a");
        let changed: Vec<(String, bool)> = disk
            .changed_since(seen)
            .expect("a delta")
            .into_iter()
            .map(|(k, r)| (k.clone(), r.is_some()))
            .collect();
        assert_eq!(
            changed,
            vec![("a".to_string(), false), ("b".to_string(), true)]
        );
        assert_eq!(
            disk.changed_since(disk.generation())
                .expect("a delta")
                .len(),
            0
        );
        let before_wipe = disk.generation();
        disk.wipe();
        assert!(
            disk.changed_since(before_wipe).is_none(),
            "a wipe needs a full inventory"
        );
        assert!(
            disk.changed_since(disk.generation() + 5).is_none(),
            "unknown generation"
        );
    }

    #[test]
    fn an_entry_remembered_intact_is_still_found_rotten_after_rot() {
        let mut disk = Disk::new(1 << 20);
        disk.write_synced(record("a", b"content")).expect("room");
        disk.write_synced(record("b", b"content")).expect("room");
        for _ in 0..2 {
            assert!(disk.get("a").is_some_and(Entry::intact));
        }
        assert!(disk.rot("a", 1));
        assert!(!disk.get("a").is_some_and(Entry::intact), "rot is seen");
        assert!(!disk.get("a").is_some_and(Entry::intact), "and stays seen");
        assert!(disk.get("b").is_some_and(Entry::intact));
        // The same bytes under another digest are not intact.
        let mut wrong = disk.get("b").cloned().expect("stored");
        wrong.digest = md5_hex(b"other");
        assert!(!wrong.intact());
        assert!(body_matches(b"content", &md5_hex(b"content")));
        assert!(!body_matches(b"content", &md5_hex(b"other")));
        assert!(!body_matches(b"contenT", &md5_hex(b"content")));
        // An empty body is checked as any other.
        let mut empty = record("c", b"");
        assert!(empty.intact());
        empty.digest = md5_hex(b"x");
        assert!(!empty.intact());
    }

    #[test]
    fn the_body_memory_counts_each_entry_not_only_its_bytes() {
        let mut memory = IntactBodies::default();
        let entries_max = INTACT_BYTES_MAX / INTACT_ENTRY_BYTES;
        for i in 0..2 * entries_max as u64 {
            let body = i.to_le_bytes();
            memory.remember(&body, body_hash(&body), &format!("{i:032x}"));
            assert!(memory.bytes <= INTACT_BYTES_MAX, "{} counted", memory.bytes);
            assert!(
                memory.bodies.len() <= entries_max && memory.digests.len() <= entries_max,
                "{} tiny bodies kept",
                memory.bodies.len()
            );
        }
        // What it keeps it still answers.
        let body = 7u64.to_le_bytes();
        memory.remember(&body, body_hash(&body), "digest-of-seven");
        assert!(memory.knows(&body, "digest-of-seven"));
        assert_eq!(
            memory.digest_of(&body, body_hash(&body)).as_deref(),
            Some("digest-of-seven")
        );
    }

    #[test]
    fn a_remembered_digest_is_the_md5_of_exactly_those_bytes() {
        // RFC 1321's test vectors, each asked twice: the second answer comes from memory.
        let vectors: [(&[u8], &str); 3] = [
            (b"", "d41d8cd98f00b204e9800998ecf8427e"),
            (b"abc", "900150983cd24fb0d6963f7d28e17f72"),
            (b"message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
        ];
        for _ in 0..2 {
            for (bytes, digest) in vectors {
                assert_eq!(md5_hex(bytes), digest);
                assert_eq!(md5_hex_computed(bytes), digest);
            }
        }
        // Bodies past the memory's size limit are hashed every time, and still right.
        let large = vec![b'x'; INTACT_BODY_MAX + 1];
        assert_eq!(md5_hex(&large), md5_hex_computed(&large));
        // A body whose hash points at another body's digest is not given that digest.
        let mut memory = IntactBodies::default();
        memory.remember(b"abc", 7, "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            memory.digest_of(b"abc", 7).as_deref(),
            Some("900150983cd24fb0d6963f7d28e17f72")
        );
        assert_eq!(memory.digest_of(b"abd", 7), None, "same hash, other bytes");
        assert_eq!(memory.digest_of(b"abc", 8), None, "other hash");
    }

    #[test]
    fn rot_changes_content_but_not_the_digest() {
        let mut disk = Disk::new(1 << 20);
        disk.write_synced(record("a", b"content")).expect("room");
        assert!(disk.rot("a", 3));
        let r = disk.get("a").expect("still there");
        assert!(!r.intact());
        assert_eq!(
            r.head,
            Bytes::from_static(b"head"),
            "rot leaves the head alone"
        );
        assert!(!disk.rot("missing", 0));
    }
}
