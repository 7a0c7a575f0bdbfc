//! The node's event journal: one durable entry per revision this node acknowledged to a
//! client, numbered per node, read by the publisher as "entries after sequence S" on the
//! signed peer API (`GET /_replisim/journal?after=S`, docs/choices.md row P2).
//!
//! Why: the publisher used to learn events by diffing inventories, and a revision
//! overwritten between two polls was never an event. A journal entry is written, with the
//! same durability as the record, before the 201 (or 200) leaves the node, so every
//! acknowledged revision — write, update, delete, COPY, APPEND, multipart completion; named,
//! unnamed, alias — can be enumerated.
//!
//! Decisions:
//! - **One recorder per event.** Only the node that acknowledges the client records the
//!   revision; replicas pushed to peers and repairs are not entries. A revision is thus in
//!   exactly one journal (the publisher still merges all nodes' journals by version and
//!   drops a version it already registered, so a replayed page is harmless).
//! - **Off until asked.** A node keeps a journal only once a consumer asked for it (the
//!   first read creates its head with a fresh epoch). Clusters nobody publishes stay exactly
//!   as they were (same disk use, same bids); what was acknowledged before the first read
//!   is what the consumer's full inventory, taken after that read, shows.
//! - **Bounded by retention.** A node keeps the newest [`RETAINED`] entries. A consumer
//!   whose cursor fell behind the oldest kept entry, or whose epoch is not the node's (a
//!   wiped disk), is answered with the head alone; it sees the gap and falls back to a full
//!   inventory diff, so nothing is lost silently.
//!
//! Entries live on the node's disk under [`PREFIX`] with an empty head, so they are never
//! taken for SCSP records (`records::from_entry`), never listed in inventories and never
//! replicated. Their disk version carries the node's id, so no other node ever holds "the
//! same version" of one (fault injection looks for such copies).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, StatusCode};
use serde::{Deserialize, Serialize};

use crate::http::pool::Pool;
use crate::rt;
use crate::scsp::config::NodeContext;
use crate::scsp::defects::Defect;
use crate::scsp::object::{Kind, Record, Version};
use crate::scsp::peer::{PeerError, INTERNAL_PREFIX};
use crate::scsp::records::Objects;
use crate::store::{md5_hex, Disk, DiskError, Entry};

/// Prefix of every journal key on a node's disk.
pub const PREFIX: &str = "_journal/";

/// The key of the journal's head (epoch and the range of kept sequence numbers).
const HEAD: &str = "_journal/head";

/// How many entries a node keeps (older ones are trimmed; a consumer behind them sees a gap).
pub const RETAINED: u64 = 4096;

/// Most entries one answer carries; the consumer asks again from the last one it got.
pub const PAGE_MAX: usize = 512;

/// True for the disk keys the journal owns (never an object).
pub fn is_journal_key(key: &str) -> bool {
    key.starts_with(PREFIX)
}

/// Where a node's journal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    /// Changes when the journal starts anew (first read, or after a wiped disk): sequence
    /// numbers of another epoch mean nothing here.
    pub epoch: u64,
    /// Oldest kept sequence number (`last + 1` when nothing is kept).
    pub first: u64,
    /// Newest sequence number handed out (0 before the first entry).
    pub last: u64,
}

impl Head {
    /// True when a consumer that has everything up to `after` of `epoch` would miss
    /// entries: another epoch, trimmed entries, or a cursor beyond this journal.
    pub fn gap_after(&self, epoch: u64, after: u64) -> bool {
        epoch != self.epoch || after.saturating_add(1) < self.first || after > self.last
    }
}

/// One acknowledged revision: what the publisher needs to make its event without asking
/// the node for the record again (the revision may be overwritten by then).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Per-node sequence number, from 1, dense within an epoch.
    pub seq: u64,
    /// The record's store key (`u/<uuid>` or `n/<domain>/<bucket>/<name>`).
    pub key: String,
    /// The record's kind.
    pub kind: Kind,
    /// The revision's version.
    pub version: Version,
    /// The revision is a deletion marker.
    pub deleted: bool,
    /// The revision's persisted metadata.
    pub meta: BTreeMap<String, String>,
    /// For the deletion of an object a recursive domain or bucket delete dropped: the
    /// context's store key (no client deleted the object itself; see [`record_dropped`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
}

/// A read of the journal: the head, and the entries after the asked sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The journal's head when it was read.
    pub head: Head,
    /// Entries in sequence order (none when the reader has a gap).
    pub entries: Vec<JournalEntry>,
}

fn entry_key(seq: u64) -> String {
    format!("{PREFIX}{seq:020}")
}

fn stored(key: String, node: usize, seq: u64, body: Vec<u8>) -> Entry {
    Entry {
        key,
        head: Bytes::new(),
        digest: md5_hex(&body),
        body: Bytes::from(body),
        // The node's id in the high bits: no two nodes hold the same version of a key.
        version: ((node as u128) << 64) | u128::from(seq),
        removed: false,
    }
}

fn read_head(disk: &Disk) -> Option<Head> {
    disk.get(HEAD)
        .filter(|e| e.intact())
        .and_then(|e| serde_json::from_slice(&e.body).ok())
}

fn write_head(disk: &mut Disk, node: usize, head: &Head) -> Result<(), DiskError> {
    let body = serde_json::to_vec(head).unwrap_or_default();
    disk.write(stored(HEAD.to_string(), node, head.last, body))
}

/// Records an acknowledged revision, before the acknowledgement leaves the node. Does
/// nothing while no consumer ever asked (no head) and for records that are not objects.
/// Synced like the record (`ack-before-sync` leaves both pending). A full disk first gives
/// up the oldest entries; if there is still no room the entry is not written and the
/// write is acknowledged anyway (the consumer's inventory diff still sees the newest
/// revision: docs/choices.md row P2).
pub fn record(ctx: &NodeContext, record: &Record) {
    append(ctx, record, None);
}

/// Records the deletions of the objects a recursive delete of context `context` dropped
/// (or hid) on this node, one entry per object (`contexts::dropped_objects` makes them).
/// Every node that stores the context's deletion marker records the objects it holds, so
/// an object is recorded by each node holding a replica of it, with the same version for
/// the same revision: the publisher registers a (object, version) once (docs/choices.md
/// row P2).
pub fn record_dropped(ctx: &NodeContext, context: &str, deletions: &[Record]) {
    for deletion in deletions {
        append(ctx, deletion, Some(context.to_string()));
    }
}

fn append(ctx: &NodeContext, record: &Record, context: Option<String>) {
    if !matches!(record.kind, Kind::Immutable | Kind::Alias | Kind::Named) {
        return;
    }
    let mut objects = Objects::lock(&ctx.disk);
    let disk = objects.disk();
    let Some(mut head) = read_head(disk) else {
        return;
    };
    let entry = JournalEntry {
        seq: head.last + 1,
        key: record.key.clone(),
        kind: record.kind,
        version: record.version,
        deleted: record.deleted,
        meta: record.meta.clone(),
        context,
    };
    let body = serde_json::to_vec(&entry).unwrap_or_default();
    let mut written = disk.write(stored(
        entry_key(entry.seq),
        ctx.id,
        entry.seq,
        body.clone(),
    ));
    while matches!(written, Err(DiskError::Full { .. })) && head.first <= head.last {
        disk.remove(&entry_key(head.first));
        head.first += 1;
        written = disk.write(stored(
            entry_key(entry.seq),
            ctx.id,
            entry.seq,
            body.clone(),
        ));
    }
    if written.is_ok() {
        head.last = entry.seq;
    }
    while head.last.saturating_sub(head.first) >= RETAINED {
        disk.remove(&entry_key(head.first));
        head.first += 1;
    }
    if write_head(disk, ctx.id, &head).is_ok() && !ctx.cluster.has(Defect::AckBeforeSync) {
        disk.sync();
    }
}

/// The head, created with a fresh epoch when this is the first read since the disk was
/// new (or wiped).
fn open(ctx: &NodeContext, disk: &mut Disk) -> Head {
    if let Some(head) = read_head(disk) {
        return head;
    }
    let head = Head {
        epoch: rt::random_u64(),
        first: 1,
        last: 0,
    };
    if write_head(disk, ctx.id, &head).is_ok() {
        disk.sync();
    }
    head
}

/// Reads the entries after `after` of `epoch` (at most `limit`): the peer API's answer.
pub fn read(ctx: &NodeContext, epoch: u64, after: u64, limit: usize) -> Page {
    let mut objects = Objects::lock(&ctx.disk);
    let disk = objects.disk();
    let head = open(ctx, disk);
    if head.gap_after(epoch, after) {
        return Page {
            head,
            entries: Vec::new(),
        };
    }
    let entries = (after + 1..=head.last)
        .take(limit.clamp(1, PAGE_MAX))
        .filter_map(|seq| disk.get(&entry_key(seq)))
        .filter(|e| e.intact())
        .filter_map(|e| serde_json::from_slice(&e.body).ok())
        .collect();
    Page { head, entries }
}

/// The page as text: `journal <epoch> <first> <last>`, then one JSON entry per line.
pub fn encode_page(page: &Page) -> String {
    let mut out = format!(
        "journal {} {} {}\n",
        page.head.epoch, page.head.first, page.head.last
    );
    for entry in &page.entries {
        out.push_str(&serde_json::to_string(entry).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// Reads what [`encode_page`] wrote; `None` for anything else.
pub fn decode_page(text: &str) -> Option<Page> {
    let mut lines = text.lines();
    let mut first = lines.next()?.split(' ');
    if first.next()? != "journal" {
        return None;
    }
    let mut number = || first.next()?.parse::<u64>().ok();
    let head = Head {
        epoch: number()?,
        first: number()?,
        last: number()?,
    };
    let entries = lines
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str(l).ok())
        .collect::<Option<Vec<JournalEntry>>>()?;
    Some(Page { head, entries })
}

/// Asks node `addr` for its entries after `after` of `epoch`. `Ok(None)`: the node keeps no
/// journal (another implementation; the consumer diffs inventories instead).
pub async fn fetch(
    pool: &Pool,
    addr: SocketAddr,
    epoch: u64,
    after: u64,
    timeout: Duration,
) -> Result<Option<Page>, PeerError> {
    let target = format!("{INTERNAL_PREFIX}journal?epoch={epoch}&after={after}&limit={PAGE_MAX}");
    let answer = pool
        .exchange(addr, Method::GET, &target, Bytes::new(), timeout, 64 << 20)
        .await
        .map_err(|e| PeerError::Unreachable(e.0))?;
    match answer.status {
        StatusCode::OK => std::str::from_utf8(&answer.body)
            .ok()
            .and_then(decode_page)
            .map(Some)
            .ok_or_else(|| PeerError::Unreachable("bad journal page".to_string())),
        StatusCode::NOT_FOUND => Ok(None),
        other => Err(PeerError::Refused(other.as_u16())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_round_trip_and_garbage_is_refused() {
        let page = Page {
            head: Head {
                epoch: 7,
                first: 2,
                last: 3,
            },
            entries: vec![JournalEntry {
                seq: 3,
                key: "u/00ff".into(),
                kind: Kind::Alias,
                version: Version {
                    stamp_ms: 10,
                    node: 1,
                },
                deleted: false,
                meta: BTreeMap::from([("x-a-meta".to_string(), "1".to_string())]),
                context: Some("b//photos".into()),
            }],
        };
        assert_eq!(decode_page(&encode_page(&page)), Some(page));
        assert_eq!(decode_page("inventory 1 2 3\n"), None);
        assert_eq!(decode_page("journal 1 2\n"), None);
        assert_eq!(decode_page("journal 1 2 3\n{not json\n"), None);
    }

    fn revision(key: &str, ms: u64, deleted: bool) -> Record {
        crate::scsp::compose::record(
            key.to_string(),
            Kind::Alias,
            Version {
                stamp_ms: ms,
                node: 0,
            },
            deleted,
            Bytes::from_static(b"x"),
            BTreeMap::new(),
        )
    }

    #[test]
    fn nothing_is_recorded_until_a_consumer_asks_then_every_revision_is() {
        let ctx = NodeContext::alone();
        record(&ctx, &revision("u/aa", 1, false));
        let first = read(&ctx, 0, 0, PAGE_MAX);
        assert!(
            first.head.gap_after(0, 0),
            "a new consumer starts with a gap"
        );
        assert_eq!(
            (first.head.first, first.head.last),
            (1, 0),
            "nothing recorded"
        );
        let epoch = first.head.epoch;
        for ms in 2..=4 {
            record(&ctx, &revision("u/aa", ms, ms == 4));
        }
        let context = crate::scsp::compose::record(
            "b//photos".into(),
            Kind::Bucket,
            Version {
                stamp_ms: 5,
                node: 0,
            },
            false,
            Bytes::new(),
            BTreeMap::new(),
        );
        record(&ctx, &context);
        let page = read(&ctx, epoch, 0, PAGE_MAX);
        let seen: Vec<(u64, u64, bool)> = page
            .entries
            .iter()
            .map(|e| (e.seq, e.version.stamp_ms, e.deleted))
            .collect();
        assert_eq!(seen, [(1, 2, false), (2, 3, false), (3, 4, true)]);
        assert_eq!(read(&ctx, epoch, 2, PAGE_MAX).entries.len(), 1);
        assert_eq!(read(&ctx, epoch, 0, 2).entries.len(), 2, "the limit holds");
        // Synced: a crash keeps every entry; the records are no SCSP objects.
        Disk::lock(&ctx.disk).crash();
        assert_eq!(read(&ctx, epoch, 0, PAGE_MAX).entries.len(), 3);
        assert!(Objects::lock(&ctx.disk)
            .records()
            .all(|(k, _)| !is_journal_key(&k)));
        // A wiped disk starts a new epoch: the old cursor sees a gap.
        Disk::lock(&ctx.disk).wipe();
        let after_wipe = read(&ctx, epoch, 3, PAGE_MAX);
        assert!(after_wipe.head.gap_after(epoch, 3));
        assert!(after_wipe.entries.is_empty());
    }

    #[test]
    fn old_entries_are_trimmed_and_a_consumer_behind_them_sees_a_gap() {
        let ctx = NodeContext::alone();
        let epoch = read(&ctx, 0, 0, PAGE_MAX).head.epoch;
        let total = RETAINED + 10;
        for ms in 1..=total {
            record(&ctx, &revision("u/bb", ms, false));
        }
        let head = read(&ctx, epoch, total, PAGE_MAX).head;
        assert_eq!((head.first, head.last), (11, total));
        assert!(head.gap_after(epoch, 5), "entries 6..=10 are gone");
        assert!(!head.gap_after(epoch, 10));
        assert_eq!(read(&ctx, epoch, 10, PAGE_MAX).entries[0].seq, 11);
    }

    #[test]
    fn a_gap_is_another_epoch_a_trimmed_entry_or_a_cursor_beyond_the_head() {
        let head = Head {
            epoch: 5,
            first: 10,
            last: 20,
        };
        assert!(!head.gap_after(5, 9), "everything from 10 on is kept");
        assert!(!head.gap_after(5, 20), "caught up");
        assert!(head.gap_after(5, 8), "entry 9 was trimmed");
        assert!(head.gap_after(6, 15), "another epoch");
        assert!(
            head.gap_after(5, 21),
            "beyond the head: a disk that lost entries"
        );
    }
}
