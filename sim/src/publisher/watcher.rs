//! How the publisher learns of object events: it polls every SCSP node's inventory under
//! `/_replisim/` (docs/choices.md, "Publisher event source").
//!
//! Each poll asks a node for what changed since the disk generation it last saw (the
//! inventory deltas peers already use), keeps the records whose version is newer than the
//! journal's newest for that object, fetches each such record from the node for its metadata
//! and registers it. A node's generation is remembered only after all its records were
//! registered, so a failed fetch is retried at the next poll; after a publisher restart the
//! first poll is a full inventory, compared against the journal read back from disk, so an
//! event is never lost and never registered twice. Nodes need no change.
//!
//! What polling cannot see: a revision overwritten on every node before the next poll (the
//! newest still arrives; the intermediate one is not an event). That breaks ENUM-7 (every
//! write of a mutable object is a Metadata item) and ENUM-5 (an alias UUID per update) for
//! writes closer together than a poll; the poll interval bounds the window, and only an
//! event feed on the nodes would close it (docs/choices.md row P2).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use crate::http::pool::Pool;
use crate::publisher::event::ObjectClass;
use crate::publisher::http::SharedPublisher;
use crate::publisher::journal::{Journal, Observed};
use crate::rt;
use crate::scsp::cluster_key::ClusterKey;
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

/// The poller: one per publisher incarnation (a restart starts from full inventories).
#[derive(Debug)]
pub struct Watcher {
    nodes: Vec<SocketAddr>,
    generations: BTreeMap<SocketAddr, u64>,
    pool: Pool,
    timeout: Duration,
}

impl Watcher {
    /// Watches these nodes; each call is bounded by `timeout`.
    pub fn new(nodes: Vec<SocketAddr>, timeout: Duration) -> Self {
        Self {
            nodes,
            generations: BTreeMap::new(),
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

    /// Polls every node once; returns how many events were registered. An unreachable node
    /// is skipped until the next poll.
    pub async fn poll(&mut self, publisher: &SharedPublisher) -> usize {
        let mut registered = 0;
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
