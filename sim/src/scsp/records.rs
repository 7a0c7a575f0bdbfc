//! SCSP's object records as a layer over the generic disk.
//!
//! The disk (`store`) holds keyed entries it does not interpret. A [`Record`] is stored as
//! one entry: its description (kind, version, deletion flag, metadata) as the entry's head
//! in JSON, its content as the body, its MD5 as the digest, its version as the entry's
//! version order. [`Objects`] is the locked view node code, invariants and tests use: the
//! same calls the disk offers, in records.
//!
//! Decoding a head is JSON parsing, and walks over every record (scrubbing, bids, context
//! checks, inventories) decode the same heads again and again: it was 11% of a sweep's
//! instructions. A small per-thread cache (`DECODED`) keeps the decoded description of
//! each head it saw, keyed by the head's allocation, and holds a clone of that `Bytes` so
//! the allocation cannot be freed and reused by another head while the entry lives.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::MutexGuard;

use bytes::Bytes;

use crate::scsp::object::{Kind, Record, Version};
use crate::store::{Disk, DiskError, Entry, SharedDisk, WordHash};

/// Heads a thread keeps decoded. Past it the cache starts again empty: a simulation's
/// working set is far smaller, and a long-running `serve` thread stays bounded.
const DECODED_HEADS_MAX: usize = 8192;

/// A decoded head: the record without its content, and the head it came from (kept alive so
/// its address identifies it).
struct Decoded {
    head: Bytes,
    record: Record,
}

type Heads = HashMap<(usize, usize), Decoded, WordHash>;

thread_local! {
    /// Decoded heads by (address, length) of the head's bytes.
    static DECODED: RefCell<Heads> = RefCell::new(Heads::default());
}

fn head_id(head: &Bytes) -> (usize, usize) {
    (head.as_ptr() as usize, head.len())
}

fn remember(head: &Bytes, record: &Record) {
    if head.is_empty() {
        return;
    }
    DECODED.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.len() >= DECODED_HEADS_MAX {
            cache.clear();
        }
        let mut record = record.clone();
        record.content = Bytes::new();
        cache.insert(
            head_id(head),
            Decoded {
                head: head.clone(),
                record,
            },
        );
    });
}

/// `f` of the record a head decodes to (content left empty), from the cache when this
/// thread has seen the head before; `None` when the head is not a record.
fn with_decoded<T>(head: &Bytes, f: impl FnOnce(&Record) -> T) -> Option<T> {
    let id = head_id(head);
    let mut f = Some(f);
    let cached = DECODED.with(|cache| {
        let cache = cache.borrow();
        let hit = cache
            .get(&id)
            .filter(|d| d.head.as_ptr() == head.as_ptr())?;
        f.take().map(|f| f(&hit.record))
    });
    if cached.is_some() {
        return cached;
    }
    let record: Record = serde_json::from_slice(head).ok()?;
    remember(head, &record);
    f.map(|f| f(&record))
}

/// The entry a record is stored as.
pub fn to_entry(record: &Record) -> Entry {
    let head = Bytes::from(encode_head(record));
    remember(&head, record);
    Entry {
        key: record.key.clone(),
        head,
        body: record.content.clone(),
        digest: record.md5_hex.clone(),
        version: version_order(record.version),
        removed: record.deleted,
    }
}

/// A record's description as JSON: the bytes `serde_json::to_vec` makes of it (fields in
/// declaration order, no spaces, its string escapes), written directly into one buffer sized
/// up front. Every stored version is encoded once per node that stores it, and the generic
/// serializer took three times as long. A test holds the two to the same bytes.
pub fn encode_head(record: &Record) -> Vec<u8> {
    // The field names, the kind, the version's digits and the punctuation take under 120.
    let meta: usize = record.meta.iter().map(|(k, v)| k.len() + v.len() + 6).sum();
    let mut head = Vec::with_capacity(120 + record.key.len() + record.md5_hex.len() + meta);
    head.extend_from_slice(b"{\"key\":");
    push_json_str(&mut head, &record.key);
    head.extend_from_slice(b",\"kind\":\"");
    head.extend_from_slice(record.kind.name().as_bytes());
    head.extend_from_slice(b"\",\"version\":{\"stamp_ms\":");
    head.extend_from_slice(
        itoa::Buffer::new()
            .format(record.version.stamp_ms)
            .as_bytes(),
    );
    head.extend_from_slice(b",\"node\":");
    head.extend_from_slice(itoa::Buffer::new().format(record.version.node).as_bytes());
    head.extend_from_slice(if record.deleted {
        b"},\"deleted\":true,\"meta\":{"
    } else {
        b"},\"deleted\":false,\"meta\":{"
    });
    for (i, (name, value)) in record.meta.iter().enumerate() {
        if i > 0 {
            head.push(b',');
        }
        push_json_str(&mut head, name);
        head.push(b':');
        push_json_str(&mut head, value);
    }
    head.extend_from_slice(b"},\"md5_hex\":");
    push_json_str(&mut head, &record.md5_hex);
    head.push(b'}');
    head
}

/// Appends `s` as a JSON string, escaped as serde_json escapes: quote, backslash and the
/// control characters (the five with short forms as such, the rest as `\u00XX`).
fn push_json_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.push(b'"');
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if short.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0x0f)]);
        } else {
            out.extend_from_slice(short);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// The record an entry holds, or `None` when its head is not an SCSP record (a disk shared
/// with another service, or a head written by a different version of this layer).
pub fn from_entry(entry: &Entry) -> Option<Record> {
    let mut record = with_decoded(&entry.head, Record::clone)?;
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

    /// Every key with its record's kind, version and deletion flag, in key order: what an
    /// inventory lists, without copying each record out.
    pub fn summaries(&self) -> impl Iterator<Item = (&String, Kind, Version, bool)> + '_ {
        self.summarised(|r| (r.kind, r.version, r.deleted))
            .map(|(k, (kind, version, deleted))| (k, kind, version, deleted))
    }

    /// Every key with `f` of its record (content left empty), in key order; entries that
    /// are not records are left out. Nothing is copied: `f` picks what the caller needs.
    pub fn summarised<'b, T: 'b>(
        &'b self,
        mut f: impl FnMut(&Record) -> T + 'b,
    ) -> impl Iterator<Item = (&'b String, T)> + 'b {
        self.disk
            .records()
            .filter_map(move |(k, e)| with_decoded(&e.head, &mut f).map(|t| (k, t)))
    }

    /// `f` of the record under `key` with its content left empty, without copying the
    /// record out: for questions about a record's kind, version or metadata.
    pub fn with_record<T>(&self, key: &str, f: impl FnOnce(&Record) -> T) -> Option<T> {
        self.disk.get(key).and_then(|e| with_decoded(&e.head, f))
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

    /// Keys changed after generation `since` in key order, each with `f` of its record now
    /// (content left empty; `None`: gone, or not a record), or `None` when a full inventory
    /// is needed (see [`Disk::changed_since`]). Nothing is copied but what `f` returns.
    pub fn changed_summarised<T>(
        &self,
        since: u64,
        mut f: impl FnMut(&Record) -> T,
    ) -> Option<Vec<(&String, Option<T>)>> {
        let changed = self.disk.changed_since(since)?;
        Some(
            changed
                .into_iter()
                .map(|(k, e)| (k, e.and_then(|e| with_decoded(&e.head, &mut f))))
                .collect(),
        )
    }

    /// The disk's change counter (see [`Disk::generation`]).
    pub fn generation(&self) -> u64 {
        self.disk.generation()
    }

    /// Moves the disk's generation for a node-wide change peers learn from an inventory
    /// (`Disk::note_figures_changed`).
    pub fn note_figures_changed(&mut self) {
        self.disk.note_figures_changed();
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
    use crate::scsp::object::md5_hex;
    use std::collections::BTreeMap;

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

    #[test]
    fn heads_are_the_bytes_serde_json_makes() {
        let every_ascii: String = (0u8..128).map(char::from).collect();
        let mut records = Vec::new();
        for (i, kind) in Kind::ALL.into_iter().enumerate() {
            let meta = match i % 3 {
                0 => BTreeMap::new(),
                1 => [("content-type".to_string(), "text/plain".to_string())].into(),
                _ => [
                    ("x-a".to_string(), every_ascii.clone()),
                    (every_ascii.clone(), "é ✓ \u{7f} \u{2028}".to_string()),
                    ("x-empty".to_string(), String::new()),
                ]
                .into(),
            };
            records.push(Record {
                key: format!("n/d{i}/b/{}", if i == 2 { &every_ascii } else { "x" }),
                kind,
                version: Version {
                    stamp_ms: [0, 1, u64::MAX, 1_700_000_000_123, 9, 10][i],
                    node: [0, u32::MAX, 3, 1, 2, 7][i],
                },
                deleted: i % 2 == 1,
                meta,
                md5_hex: md5_hex(every_ascii.as_bytes()),
                content: Bytes::from_static(b"not in the head"),
            });
        }
        for record in records {
            let expected = serde_json::to_vec(&record).expect("serializable");
            assert_eq!(
                String::from_utf8_lossy(&encode_head(&record)),
                String::from_utf8_lossy(&expected)
            );
        }
    }

    #[test]
    fn cached_decodes_match_a_fresh_decode_of_the_same_head() {
        let record = |n: u32, text: &'static [u8]| Record {
            key: format!("n//b/{n}"),
            kind: Kind::Named,
            version: Version {
                stamp_ms: 1_700_000_000_000 + u64::from(n),
                node: n,
            },
            deleted: n % 2 == 1,
            meta: [("x-n".to_string(), n.to_string())].into(),
            md5_hex: md5_hex(text),
            content: Bytes::from_static(text),
        };
        // More heads than the cache holds, so it also starts over on the way.
        for n in 0..(DECODED_HEADS_MAX as u32 + 10) {
            let r = record(n, b"abc");
            let entry = to_entry(&r);
            assert_eq!(from_entry(&entry), Some(r.clone()), "cached after encoding");
            // The same head bytes in another allocation: decoded, not taken from the cache.
            let copy = Entry {
                head: Bytes::copy_from_slice(&entry.head),
                ..entry.clone()
            };
            assert_eq!(from_entry(&copy), Some(r.clone()), "decoded afresh");
            assert_eq!(from_entry(&copy), Some(r), "cached after decoding");
        }
        let garbage = Entry {
            head: Bytes::from_static(b"not json"),
            ..to_entry(&record(1, b"x"))
        };
        assert_eq!(from_entry(&garbage), None);
    }
}
