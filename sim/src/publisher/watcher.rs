//! How the publisher learns of object events (docs/choices.md rows P2 and "Publisher
//! event source").
//!
//! Each poll first reads every node's event journal (`scsp::journal`) from the cursor kept
//! for that node: one entry per revision the node acknowledged to a client, so two writes
//! of one object between two polls are two events (ENUM-7, ENUM-5). Entries of all nodes
//! are registered in version order; a revision seen before (from an inventory, or another
//! read) is not registered twice, and an older one arriving after a newer one becomes a late
//! event. The cursors are written to the publisher's disk once their entries are registered,
//! so neither a publisher crash nor a node crash loses an entry or registers one twice.
//! The objects a recursive domain or bucket delete drops are journal entries too (a delete
//! per object, by every node that held one: `scsp::contexts::dropped_objects`).
//!
//! Then the inventory diff the publisher used before the journals, now the backstop: it
//! asks each node what changed since the disk generation it last saw and registers records
//! newer than the journal's newest for their object — revisions no journal records (stored
//! but never acknowledged), nodes that keep no
//! journal (another implementation: 404), and a journal that reports a gap (trimmed
//! entries, a wiped disk), after which that node's next inventory is a full one. A node's
//! generation is remembered only after all its records were registered; after a publisher
//! restart the first poll is a full inventory. Only the newest revision of an object is
//! visible that way: a node without a journal still folds quick revisions into one.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::http::pool::Pool;
use crate::publisher::durable::DurableLog;
use crate::publisher::event::ObjectClass;
use crate::publisher::http::SharedPublisher;
use crate::publisher::journal::{Journal, Observed};
use crate::rt;
use crate::scsp::cluster_key::ClusterKey;
use crate::scsp::journal::{self, JournalEntry};
use crate::scsp::object::{Kind, Record};
use crate::scsp::peer::{self, Inventory};

/// Where an event is about, from a store key: `u/<uuid>` and `n/<domain>/<bucket>/<name>`
/// are objects; contexts and uploads are not (no event).
pub fn object_of(key: &str, kind: Kind) -> Option<(String, String, ObjectClass)> {
    let class = match kind {
        Kind::Immutable => ObjectClass::Immutable,
        Kind::Alias => ObjectClass::Alias,
        Kind::Named => ObjectClass::Named,
        Kind::Domain | Kind::Bucket | Kind::Upload => return None,
    };
    if let Some(uuid) = key.strip_prefix("u/") {
        return class
            .is_unnamed()
            .then(|| (uuid.to_string(), String::new(), class));
    }
    let rest = key.strip_prefix("n/")?;
    let (domain, path) = rest.split_once('/')?;
    (class == ObjectClass::Named && path.contains('/'))
        .then(|| (format!("/{path}"), domain.to_string(), class))
}

/// The store keys of an inventory that hold something the journal has not registered.
pub fn wanted(inventory: &Inventory, journal: &Journal) -> Vec<String> {
    inventory
        .items
        .iter()
        .filter(|item| {
            object_of(&item.key, item.kind).is_some_and(|(object, domain, _)| {
                let seen = (item.version.stamp_ms, item.version.node);
                match journal.latest(&domain, &object) {
                    None => true,
                    Some(l) => l.version < seen && !(item.deleted && l.deleted),
                }
            })
        })
        .map(|item| item.key.clone())
        .collect()
}

/// A fetched record as the journal takes it.
pub fn observed(record: &Record) -> Option<Observed> {
    let (object, domain, class) = object_of(&record.key, record.kind)?;
    Some(Observed {
        object,
        domain,
        class,
        version: (record.version.stamp_ms, record.version.node),
        deleted: record.deleted,
        meta: record.meta.clone(),
    })
}

/// The event of a node's journal entry as the journal takes it (`None`: not an object).
pub fn observed_entry(entry: &JournalEntry) -> Option<Observed> {
    let (object, domain, class) = object_of(&entry.key, entry.kind)?;
    Some(Observed {
        object,
        domain,
        class,
        version: (entry.version.stamp_ms, entry.version.node),
        deleted: entry.deleted,
        meta: entry.meta.clone(),
    })
}

/// How far the publisher has read one node's journal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The journal's epoch (0 before the first read: every journal answers with a gap).
    pub epoch: u64,
    /// The last sequence number registered.
    pub after: u64,
}

/// Name of a node's cursor record on the publisher's disk.
fn cursor_name(addr: SocketAddr) -> String {
    format!("cursor/{addr}")
}

/// What one node's journal gave in one poll.
enum Read {
    /// Entries up to the new cursor.
    Entries(Vec<JournalEntry>, Cursor),
    /// A gap: the cursor moves to the journal's head and the node's inventory is read whole.
    Gap(Cursor),
    /// The node keeps no journal, or could not be read.
    Nothing,
}

/// The poller: one per publisher incarnation (a restart starts from full inventories and
/// the journal cursors on its disk).
#[derive(Debug)]
pub struct Watcher {
    nodes: Vec<SocketAddr>,
    generations: BTreeMap<SocketAddr, u64>,
    cursors: BTreeMap<SocketAddr, Cursor>,
    log: Option<DurableLog>,
    journals: bool,
    context_deletes: bool,
    pool: Pool,
    timeout: Duration,
}

impl Watcher {
    /// Watches these nodes; each call is bounded by `timeout`. Cursors live in memory until
    /// [`Watcher::durable`] gives them a disk.
    pub fn new(nodes: Vec<SocketAddr>, timeout: Duration) -> Self {
        Self {
            nodes,
            generations: BTreeMap::new(),
            cursors: BTreeMap::new(),
            log: None,
            journals: true,
            context_deletes: true,
            pool: Pool::idempotent(),
            timeout,
        }
    }

    /// Signs the watcher's requests with the SCSP cluster's key: nodes refuse unsigned
    /// requests under `/_replisim/` (`scsp::peer_auth`).
    pub fn signed(mut self, key: ClusterKey) -> Self {
        self.pool = Pool::peers(key);
        self
    }

    /// Keeps the journal cursors on the publisher's disk (read back here), so a restarted
    /// publisher goes on where the last incarnation's registered events end.
    pub fn durable(mut self, log: DurableLog) -> Self {
        for &addr in &self.nodes {
            let saved = log
                .get(&cursor_name(addr))
                .and_then(|b| serde_json::from_slice::<Cursor>(&b).ok());
            if let Some(cursor) = saved {
                self.cursors.insert(addr, cursor);
            }
        }
        self.log = Some(log);
        self
    }

    /// Without the nodes' journals: inventories only (the defect
    /// `publisher-diffs-inventories`, the behaviour before journals).
    pub fn inventories_only(mut self) -> Self {
        self.journals = false;
        self
    }

    /// Skips the journal entries of objects a recursive context delete dropped (the defect
    /// `publisher-ignores-context-deletes`): those objects get no delete event.
    pub fn ignoring_context_deletes(mut self) -> Self {
        self.context_deletes = false;
        self
    }

    /// Reads node `addr`'s journal from its cursor to its head.
    async fn read_journal(&self, addr: SocketAddr) -> Read {
        let mut cursor = self.cursors.get(&addr).copied().unwrap_or_default();
        let mut entries = Vec::new();
        loop {
            let page =
                match journal::fetch(&self.pool, addr, cursor.epoch, cursor.after, self.timeout)
                    .await
                {
                    Ok(Some(page)) => page,
                    // No journal there, or unreachable: the entries wait for the next poll.
                    Ok(None) | Err(_) if entries.is_empty() => return Read::Nothing,
                    Ok(None) | Err(_) => return Read::Entries(entries, cursor),
                };
            if page.head.gap_after(cursor.epoch, cursor.after) {
                let head = Cursor {
                    epoch: page.head.epoch,
                    after: page.head.last,
                };
                return Read::Gap(head);
            }
            let got = page.entries.len();
            for entry in page.entries {
                // Dense numbers: an entry missing from the page ends the read there.
                if entry.seq != cursor.after + 1 {
                    return Read::Entries(entries, cursor);
                }
                cursor.after = entry.seq;
                entries.push(entry);
            }
            if got == 0 || cursor.after >= page.head.last {
                return Read::Entries(entries, cursor);
            }
        }
    }

    /// Reads every node's journal and registers the entries in version order; returns how
    /// many events were registered. Cursors move (in memory and on disk) only when every
    /// entry read was registered.
    async fn poll_journals(&mut self, publisher: &SharedPublisher) -> usize {
        let mut found = Vec::new();
        let mut moved = BTreeMap::new();
        for addr in self.nodes.clone() {
            match self.read_journal(addr).await {
                Read::Entries(entries, cursor) => {
                    found.extend(
                        entries
                            .iter()
                            .filter(|e| self.context_deletes || e.context.is_none())
                            .filter_map(observed_entry),
                    );
                    moved.insert(addr, cursor);
                }
                Read::Gap(cursor) => {
                    // Whatever the journal no longer has, the node's full inventory shows
                    // (its newest revisions); read after the head, so nothing is between.
                    self.generations.remove(&addr);
                    moved.insert(addr, cursor);
                }
                Read::Nothing => {}
            }
        }
        found.sort_by_key(|seen| seen.version);
        let mut registered = 0;
        let mut complete = true;
        for seen in found {
            match publisher.lock().register_revision(seen) {
                Ok(Some(_)) => registered += 1,
                Ok(None) => {}
                Err(_) => complete = false,
            }
        }
        if complete {
            for (addr, cursor) in moved {
                if self.cursors.get(&addr) == Some(&cursor) {
                    continue;
                }
                if let Some(log) = &self.log {
                    let bytes = serde_json::to_vec(&cursor).unwrap_or_default();
                    if log.put(&cursor_name(addr), bytes).is_err() {
                        continue;
                    }
                    log.sync();
                }
                self.cursors.insert(addr, cursor);
            }
        }
        registered
    }

    /// Polls every node once: journals, then inventories; returns how many events were
    /// registered. An unreachable node is skipped until the next poll.
    pub async fn poll(&mut self, publisher: &SharedPublisher) -> usize {
        let mut registered = 0;
        if self.journals {
            registered += self.poll_journals(publisher).await;
        }
        for addr in self.nodes.clone() {
            let since = self.generations.get(&addr).copied();
            let inventory = match peer::inventory(&self.pool, addr, since, self.timeout).await {
                Ok(Some(inv)) => inv,
                Ok(None) | Err(_) => continue,
            };
            let keys = wanted(&inventory, publisher.lock().journal());
            let mut complete = true;
            for key in keys {
                match peer::fetch(&self.pool, addr, &key, self.timeout).await {
                    Ok(Some(record)) => {
                        let Some(seen) = observed(&record) else {
                            continue;
                        };
                        match publisher.lock().register(seen) {
                            Ok(Some(_)) => registered += 1,
                            Ok(None) => {}
                            Err(_) => complete = false,
                        }
                    }
                    // Gone since the inventory: a later inventory says what replaced it.
                    Ok(None) => {}
                    Err(_) => complete = false,
                }
            }
            if complete {
                self.generations.insert(addr, inventory.generation);
            }
        }
        registered
    }

    /// Polls forever, `interval` apart.
    pub async fn run(mut self, publisher: SharedPublisher, interval: Duration) {
        loop {
            self.poll(&publisher).await;
            rt::sleep(interval).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publisher::durable::DurableLog;
    use crate::scsp::object::Version;
    use crate::scsp::peer::InventoryItem;
    use crate::store::Disk;

    #[test]
    fn store_keys_name_objects_and_contexts_are_not_events() {
        assert_eq!(
            object_of("u/00ff", Kind::Alias),
            Some(("00ff".into(), String::new(), ObjectClass::Alias))
        );
        assert_eq!(
            object_of("n/dom/photos/a/b.jpg", Kind::Named),
            Some(("/photos/a/b.jpg".into(), "dom".into(), ObjectClass::Named))
        );
        assert_eq!(object_of("b//photos", Kind::Bucket), None);
        assert_eq!(object_of("n/dom", Kind::Named), None);
        assert_eq!(object_of("n//photos", Kind::Named), None);
    }

    #[test]
    fn only_revisions_newer_than_the_journal_are_wanted() {
        let mut journal = Journal::open(DurableLog::new(Disk::shared(1 << 20)));
        journal
            .register(Observed {
                object: "aa".into(),
                domain: String::new(),
                class: ObjectClass::Immutable,
                version: (10, 1),
                deleted: false,
                meta: BTreeMap::new(),
            })
            .expect("room");
        let item = |key: &str, kind, ms, deleted| InventoryItem {
            key: key.into(),
            kind,
            version: Version {
                stamp_ms: ms,
                node: 1,
            },
            deleted,
        };
        let inventory = Inventory {
            node: 0,
            free_bytes: 0,
            capacity_bytes: 0,
            retiring: false,
            generation: 5,
            full: true,
            gone: Vec::new(),
            items: vec![
                item("u/aa", Kind::Immutable, 10, false),
                item("u/bb", Kind::Immutable, 11, false),
                item("u/cc", Kind::Immutable, 12, true),
                item("b//photos", Kind::Bucket, 13, false),
                item("n//photos/x", Kind::Named, 14, false),
            ],
        };
        assert_eq!(
            wanted(&inventory, &journal),
            ["u/bb", "u/cc", "n//photos/x"]
        );
        let mut newer = inventory.clone();
        newer.items = vec![item("u/aa", Kind::Immutable, 20, true)];
        assert_eq!(wanted(&newer, &journal), ["u/aa"]);
    }
}
