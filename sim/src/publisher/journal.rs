//! The durable event journal: every object event the publisher has registered, in the order
//! it registered them, each synced to disk before any enumerator can see it.

use std::collections::{BTreeMap, BTreeSet};

use crate::publisher::durable::DurableLog;
use crate::publisher::event::{Event, EventCode, ObjectClass};
use crate::store::DiskError;

/// What the watcher knows of one object: its newest version and whether that was a delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latest {
    /// Sequence number of the object's newest event.
    pub seq: u64,
    /// Its version stamp (milliseconds, node).
    pub version: (u64, u32),
    /// The newest event was a delete.
    pub deleted: bool,
    /// When the current incarnation was created.
    pub created_ms: u64,
}

/// A new event before the journal numbers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// UUID or `/bucket/name`.
    pub object: String,
    /// Domain of a named object.
    pub domain: String,
    /// What the object is.
    pub class: ObjectClass,
    /// The revision's version stamp.
    pub version: (u64, u32),
    /// The revision is a deletion marker.
    pub deleted: bool,
    /// The revision's metadata.
    pub meta: BTreeMap<String, String>,
}

/// The journal: events by sequence number, the newest per object, and the disk behind them.
#[derive(Debug)]
pub struct Journal {
    events: Vec<Event>,
    latest: BTreeMap<(String, String), Latest>,
    /// Every (domain, object, version) registered: a revision is one event however many
    /// times, and from however many sources, it is seen.
    versions: BTreeSet<(String, String, (u64, u32))>,
    log: DurableLog,
}

impl Journal {
    /// Reads back whatever the disk holds (a restart after a crash finds every synced event).
    /// Records that do not decode are skipped: the disk model has no torn records, so only a
    /// foreign record could be one.
    pub fn open(log: DurableLog) -> Self {
        let mut journal = Self {
            events: Vec::new(),
            latest: BTreeMap::new(),
            versions: BTreeSet::new(),
            log,
        };
        let mut events: Vec<Event> = journal
            .log
            .read_all()
            .iter()
            .filter_map(|(_, bytes)| Event::decode(bytes))
            .collect();
        events.sort_by_key(|e| e.seq);
        for event in events {
            // Dense numbering: a gap means what followed it was never synced together.
            if event.seq != journal.events.len() as u64 + 1 {
                break;
            }
            journal.index(&event);
            journal.events.push(event);
        }
        journal
    }

    fn index(&mut self, event: &Event) {
        let version = (event.version_ms, event.version_node);
        self.versions
            .insert((event.domain.clone(), event.object.clone(), version));
        let key = (event.domain.clone(), event.object.clone());
        // A late event (an older revision registered after a newer one) is not the
        // object's latest.
        if self.latest.get(&key).is_some_and(|l| l.version > version) {
            return;
        }
        self.latest.insert(
            (event.domain.clone(), event.object.clone()),
            Latest {
                seq: event.seq,
                version: (event.version_ms, event.version_node),
                deleted: event.code.is_delete(),
                created_ms: event.created_ms,
            },
        );
    }

    /// The newest event known for an object.
    pub fn latest(&self, domain: &str, object: &str) -> Option<Latest> {
        self.latest
            .get(&(domain.to_string(), object.to_string()))
            .copied()
    }

    /// Registers a revision if it is newer than anything known for its object, deciding
    /// create, update or delete against what the journal already holds. Returns the event
    /// when one was registered. The event is synced to disk before it is returned, so an
    /// enumerator never delivers an event a crash could take back.
    pub fn register(&mut self, seen: Observed) -> Result<Option<Event>, DiskError> {
        let known = self.latest(&seen.domain, &seen.object);
        if known.is_some_and(|k| k.version >= seen.version) {
            return Ok(None);
        }
        let live_before = known.is_some_and(|k| !k.deleted);
        if seen.deleted && known.is_some_and(|k| k.deleted) {
            // Deleted again (a newer marker): subscribers already know.
            return Ok(None);
        }
        let code = match (seen.deleted, seen.class, live_before) {
            (true, _, _) => EventCode::Deleted,
            (false, ObjectClass::Alias, _) => EventCode::AliasWritten,
            (false, _, true) => EventCode::Updated,
            (false, _, false) => EventCode::Created,
        };
        let created_ms = match known {
            Some(k) if live_before || seen.deleted => k.created_ms,
            // A new incarnation; or a delete of an object never seen alive (created and
            // deleted between two looks at the cluster), which still goes out, its stamp
            // standing in for the creation.
            _ => seen.version.0,
        };
        self.append_observed(seen, code, created_ms).map(Some)
    }

    /// Registers a revision a node's event journal reports: like [`Journal::register`]
    /// when it is newer than anything known; an older revision never registered before
    /// (journals of several nodes are read one after the other, so a newer revision can
    /// arrive first) becomes a late event, which Metadata and UUID enumerators return and
    /// which is never the object's last (Event enumerators, ENUM-6).
    pub fn register_revision(&mut self, seen: Observed) -> Result<Option<Event>, DiskError> {
        let Some(known) = self.latest(&seen.domain, &seen.object) else {
            return self.register(seen);
        };
        if known.version < seen.version {
            return self.register(seen);
        }
        let version = seen.version;
        if self
            .versions
            .contains(&(seen.domain.clone(), seen.object.clone(), version))
        {
            return Ok(None);
        }
        let code = match (seen.deleted, seen.class) {
            (true, _) => EventCode::Deleted,
            (false, ObjectClass::Alias) => EventCode::AliasWritten,
            (false, _) => EventCode::Updated,
        };
        self.append_observed(seen, code, known.created_ms).map(Some)
    }

    /// Appends the next event: `seen`'s object at `seen`'s version, with `code`.
    fn append_observed(
        &mut self,
        seen: Observed,
        code: EventCode,
        created_ms: u64,
    ) -> Result<Event, DiskError> {
        let event = Event {
            seq: self.events.len() as u64 + 1,
            object: seen.object,
            domain: seen.domain,
            class: seen.class,
            code,
            version_ms: seen.version.0,
            version_node: seen.version.1,
            created_ms,
            meta: seen.meta,
        };
        self.append(event)
    }

    fn append(&mut self, event: Event) -> Result<Event, DiskError> {
        self.log
            .put(&format!("{:020}", event.seq), event.encode())?;
        self.log.sync();
        self.index(&event);
        self.events.push(event.clone());
        Ok(event)
    }

    /// Events after sequence number `after`, oldest first.
    pub fn since(&self, after: u64) -> &[Event] {
        let start = (after as usize).min(self.events.len());
        &self.events[start..]
    }

    /// The event with this sequence number.
    pub fn get(&self, seq: u64) -> Option<&Event> {
        seq.checked_sub(1)
            .and_then(|i| self.events.get(usize::try_from(i).ok()?))
    }

    /// Number of events registered.
    pub fn len(&self) -> u64 {
        self.events.len() as u64
    }

    /// True before the first event.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Disk;

    pub(crate) fn seen(object: &str, class: ObjectClass, ms: u64, deleted: bool) -> Observed {
        Observed {
            object: object.to_string(),
            domain: String::new(),
            class,
            version: (ms, 1),
            deleted,
            meta: BTreeMap::new(),
        }
    }

    #[test]
    fn create_update_delete_are_decided_against_what_is_known() {
        let mut j = Journal::open(DurableLog::new(Disk::shared(1 << 20)));
        let e = |j: &mut Journal, ms, deleted| {
            j.register(seen("/b/x", ObjectClass::Named, ms, deleted))
                .expect("room")
                .map(|e| e.code)
        };
        assert_eq!(e(&mut j, 10, false), Some(EventCode::Created));
        assert_eq!(
            e(&mut j, 10, false),
            None,
            "same version twice is one event"
        );
        assert_eq!(e(&mut j, 20, false), Some(EventCode::Updated));
        assert_eq!(e(&mut j, 15, false), None, "older versions are not events");
        assert_eq!(e(&mut j, 30, true), Some(EventCode::Deleted));
        assert_eq!(e(&mut j, 40, false), Some(EventCode::Created));
        assert_eq!(j.get(4).map(|e| e.created_ms), Some(40));
        assert_eq!(j.get(3).map(|e| e.created_ms), Some(10));
    }

    #[test]
    fn a_delete_of_an_object_never_seen_alive_still_goes_out_once() {
        let mut j = Journal::open(DurableLog::new(Disk::shared(1 << 20)));
        let code = |j: &mut Journal, ms| {
            j.register(seen("u1", ObjectClass::Immutable, ms, true))
                .expect("room")
                .map(|e| (e.code, e.created_ms))
        };
        assert_eq!(code(&mut j, 10), Some((EventCode::Deleted, 10)));
        assert_eq!(code(&mut j, 20), None, "a second marker is no event");
    }

    #[test]
    fn an_older_revision_arriving_late_is_one_event_never_the_last() {
        let disk = Disk::shared(1 << 20);
        let mut j = Journal::open(DurableLog::new(disk.clone()));
        let alias = |ms, deleted| seen("a1", ObjectClass::Alias, ms, deleted);
        let code = |j: &mut Journal, ms, deleted| {
            j.register_revision(alias(ms, deleted))
                .expect("room")
                .map(|e| e.code)
        };
        assert_eq!(code(&mut j, 10, false), Some(EventCode::AliasWritten));
        assert_eq!(code(&mut j, 30, true), Some(EventCode::Deleted));
        assert_eq!(
            code(&mut j, 20, false),
            Some(EventCode::AliasWritten),
            "the revision between them, read late from another node"
        );
        assert_eq!(code(&mut j, 20, false), None, "the same revision twice");
        assert_eq!(code(&mut j, 10, false), None);
        let latest = j.latest("", "a1").expect("known");
        assert_eq!((latest.seq, latest.deleted), (2, true));
        let reopened = Journal::open(DurableLog::new(disk));
        assert_eq!(
            reopened.latest("", "a1"),
            Some(latest),
            "the same after a restart"
        );
        assert_eq!(reopened.len(), 3);
    }

    #[test]
    fn the_journal_survives_a_crash_whole() {
        let disk = Disk::shared(1 << 20);
        let mut j = Journal::open(DurableLog::new(disk.clone()));
        for ms in 1..=5 {
            let name = format!("u{ms}");
            j.register(seen(&name, ObjectClass::Immutable, ms, false))
                .expect("room");
        }
        Disk::lock(&disk).crash();
        let reopened = Journal::open(DurableLog::new(disk));
        assert_eq!(reopened.len(), 5);
        assert_eq!(reopened.since(0), j.since(0));
        assert!(reopened.latest("", "u3").is_some());
    }
}
