//! The reference model: what SCSP (and docs/choices.md where the documents are silent)
//! allows each object to be, as a set of possible states per object.
//!
//! What widens the set, and why:
//! - Two updates of one object less than a second apart have an unspecified winner and the
//!   second may be refused with 409 (SCSP-19, SCSP-20): after an unspaced 201 the object is
//!   either the old or the new state.
//! - An exchange without an answer (timeout, dropped connection, 5xx) may or may not have
//!   happened, and may still happen later while faults last: the object becomes *unknown*
//!   until a whole-object write succeeds in a healed cluster (after [`super::Step::Settle`]).
//! - While a reachability fault lasts (crash, partition, loss), the access node sees only
//!   the nodes it can reach (docs/choices.md #12): a read may return any state the object
//!   ever had or 404 (SCSP-39), and an update built on the current state (APPEND, COPY,
//!   `preserve`, rename) may have been built on a stale one, so it makes the object unknown.
//! - With clock skew (docs/choices.md #8), a version is stamped on the serving node's clock:
//!   a spaced update may be refused with 409, and when reachability is also disturbed a 201
//!   no longer proves the new version is the newest.
//!
//! What narrows it: when every node is reachable, a 201 means the new version is the newest
//! any node holds (docs/choices.md #8: otherwise 409), so a spaced update fixes the state.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use replisim_sim::faults::Fault;

/// One version of an object as a client can observe it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    /// The content bytes (the cases only write text).
    pub content: String,
    /// Custom metadata, lower-case names ([`super::COLOR`], [`super::SHAPE`]).
    pub meta: BTreeMap<String, String>,
    /// Whether `Castor-System-CompositeMD5` is present (multipart, kept by COPY; SCSP-30).
    pub composite: bool,
}

/// An object's state: absent (never written, or deleted) or a version.
pub type State = Option<Version>;

/// How the model addresses an object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Key {
    /// `/pb/n<i>`.
    Named(u8),
    /// An unnamed object by UUID.
    Uuid(String),
}

/// What the model knows about one object.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The states it may be in now; `None` when unknown.
    pub now: Option<BTreeSet<State>>,
    /// Every state it may ever have been in (stale reads while faults last).
    pub ever: BTreeSet<State>,
    /// It was unknown at some point, so stale reads are not judged any more.
    pub ever_unknown: bool,
    /// When the last update of it completed, from the start of the case.
    pub last_update: Option<Duration>,
}

impl Entry {
    fn absent() -> Self {
        Entry {
            now: Some(BTreeSet::from([None])),
            ever: BTreeSet::from([None]),
            ever_unknown: false,
            last_update: None,
        }
    }

    fn known(state: State) -> Self {
        Entry {
            now: Some(BTreeSet::from([state.clone()])),
            ever: BTreeSet::from([state]),
            ever_unknown: false,
            last_update: None,
        }
    }
}

/// An unnamed object the client knows the UUID of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handle {
    /// The scenario variable that holds its UUID (`a0`, `i3`, `m7`).
    pub var: String,
    /// The UUID.
    pub uuid: String,
}

/// What an update does to the state it applies to.
pub enum Effect {
    /// Replaces the whole object (POST, PUT without `preserve`).
    Set(Version),
    /// Builds on the current version (APPEND, COPY, `preserve`, rename's destination).
    Apply(Box<dyn Fn(&Version) -> Version>),
    /// Deletes it (DELETE, rename's source).
    Delete,
}

/// How an exchange ended, for the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It happened (201, 200, a 202 whose result is 201).
    Done,
    /// It was refused and changed nothing (4xx, 507).
    Refused,
    /// No answer, or an answer that does not say (timeouts, 5xx).
    Unknown,
}

/// The whole model: every object, the unnamed handles, and the faults in force.
#[derive(Debug, Clone)]
pub struct Model {
    /// Every object the cases can address.
    pub entries: BTreeMap<Key, Entry>,
    /// Alias objects created, in order.
    pub aliases: Vec<Handle>,
    /// Immutable objects created (plain and multipart), in order.
    pub immutables: Vec<Handle>,
    /// A reachability fault happened since the last settle.
    pub reach: bool,
    /// Nodes whose disk is full.
    pub full: BTreeSet<usize>,
    /// Nodes that are down.
    pub down: BTreeSet<usize>,
    /// Clock offsets in force, by node (they survive healing).
    pub skew_ms: BTreeMap<usize, i64>,
}

/// The least gap between two updates of one object for a defined order (SCSP-19).
pub const UPDATE_GAP: Duration = Duration::from_secs(1);

impl Model {
    /// A cluster with the bucket created and nothing else.
    pub fn new() -> Self {
        let entries = (0..super::NAMES)
            .map(|i| (Key::Named(i), Entry::absent()))
            .collect();
        Model {
            entries,
            aliases: Vec::new(),
            immutables: Vec::new(),
            reach: false,
            full: BTreeSet::new(),
            down: BTreeSet::new(),
            skew_ms: BTreeMap::new(),
        }
    }

    /// True when some node's clock is offset.
    pub fn clock(&self) -> bool {
        self.skew_ms.values().any(|ms| *ms != 0)
    }

    /// True when some disk is full.
    pub fn disk(&self) -> bool {
        !self.full.is_empty()
    }

    /// Records a fault (or repair) that was applied.
    pub fn fault(&mut self, fault: &Fault) {
        match fault {
            Fault::Crash { node } | Fault::Lose { node } => {
                self.down.insert(*node);
                self.reach = true;
            }
            Fault::Restart { node } => {
                self.down.remove(node);
            }
            Fault::Pause { .. }
            | Fault::Partition { .. }
            | Fault::PartitionOneWay { .. }
            | Fault::Isolate { .. }
            | Fault::Latency { .. }
            | Fault::PartitionWan { .. }
            | Fault::PartitionWanOneWay { .. }
            | Fault::PartitionLan { .. }
            | Fault::LinkLatency { .. }
            | Fault::BitRot { .. } => self.reach = true,
            Fault::Loss { permille } | Fault::LinkLoss { permille, .. } => {
                if *permille > 0 {
                    self.reach = true;
                }
            }
            Fault::Resume { .. } | Fault::Heal => {}
            Fault::Skew { node, ms } => {
                self.skew_ms.insert(*node, *ms);
            }
            Fault::Jump { node, ms } => {
                *self.skew_ms.entry(*node).or_insert(0) += ms;
            }
            Fault::DiskFull { node } => {
                self.full.insert(*node);
            }
            Fault::DiskFree { node } => {
                self.full.remove(node);
            }
        }
    }

    /// Everything healed and settled: reachability and disks are normal again; clock
    /// offsets stay (a node's clock is its own).
    pub fn settled(&mut self) {
        self.reach = false;
        self.full.clear();
        self.down.clear();
    }

    /// The entry of an object (unknown keys are absent objects).
    pub fn entry(&mut self, key: &Key) -> &mut Entry {
        self.entries
            .entry(key.clone())
            .or_insert_with(Entry::absent)
    }

    /// Registers a new unnamed object whose creation was acknowledged.
    pub fn created(&mut self, alias: bool, handle: Handle, version: Version, at: Duration) {
        let key = Key::Uuid(handle.uuid.clone());
        let mut entry = Entry::known(Some(version));
        entry.last_update = Some(at);
        self.entries.insert(key, entry);
        if alias {
            self.aliases.push(handle);
        } else {
            self.immutables.push(handle);
        }
    }

    /// Whether an update invoked at `at` is at least [`UPDATE_GAP`] after the last update of
    /// every key it touches.
    pub fn spaced(&self, keys: &[&Key], at: Duration) -> bool {
        keys.iter().all(|k| {
            self.entries
                .get(*k)
                .and_then(|e| e.last_update)
                .is_none_or(|last| at >= last + UPDATE_GAP)
        })
    }

    /// The states an update may start from (`None` when unknown).
    pub fn now(&self, key: &Key) -> Option<BTreeSet<State>> {
        match self.entries.get(key) {
            Some(e) => e.now.clone(),
            None => Some(BTreeSet::from([None])),
        }
    }

    /// The states a read may return, or `None` when any is allowed: the current ones, and
    /// while reachability is disturbed also every earlier one (stale replicas) and absent.
    pub fn readable(&self, key: &Key) -> Option<BTreeSet<State>> {
        let absent = Entry::absent();
        let e = self.entries.get(key).unwrap_or(&absent);
        let mut states = e.now.clone()?;
        if self.reach {
            if e.ever_unknown {
                return None;
            }
            states.extend(e.ever.iter().cloned());
            // No reachable node may hold it at all (docs/choices.md #12, SCSP-39).
            states.insert(None);
        }
        Some(states)
    }

    /// Applies an update's outcome to one object. `spaced` says whether the once-per-second
    /// rule held; `at` is when the exchange completed.
    pub fn update(
        &mut self,
        key: &Key,
        effect: &Effect,
        outcome: Outcome,
        spaced: bool,
        at: Duration,
    ) {
        let new = match effect {
            Effect::Set(v) => Some(BTreeSet::from([Some(v.clone())])),
            Effect::Delete => Some(BTreeSet::from([None])),
            Effect::Apply(f) => self
                .now(key)
                .map(|now| now.iter().flatten().map(|v| Some(f(v))).collect()),
        };
        let builds_on_current = matches!(effect, Effect::Apply(_));
        self.record(key, new, builds_on_current, outcome, spaced, false, at);
    }

    /// Records an update whose possible results are `new` (`None`: not computable, the
    /// prior state being unknown). `builds_on_current`: the result depends on the state it
    /// was built on (stale under reachability faults). `weak`: even a spaced 201 does not
    /// prove the result is the newest version (a rename's destination under clock skew).
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &mut self,
        key: &Key,
        new: Option<BTreeSet<State>>,
        builds_on_current: bool,
        outcome: Outcome,
        spaced: bool,
        weak: bool,
        at: Duration,
    ) {
        let (reach, clock) = (self.reach, self.clock());
        let entry = self.entry(key);
        entry.last_update = Some(at);
        match outcome {
            Outcome::Refused => {}
            Outcome::Unknown => {
                entry.now = None;
                entry.ever_unknown = true;
            }
            Outcome::Done => {
                let next = match (new, &entry.now) {
                    (None, _) => None,
                    (Some(_), _) if reach && builds_on_current => None,
                    (Some(new), Some(old)) if !spaced || weak || (clock && reach) => {
                        Some(old.union(&new).cloned().collect())
                    }
                    (Some(new), Some(_)) => Some(new),
                    (Some(new), None) if spaced && !weak && !reach => Some(new),
                    (Some(_), None) => None,
                };
                match &next {
                    Some(states) => entry.ever.extend(states.iter().cloned()),
                    None => entry.ever_unknown = true,
                }
                entry.now = next;
            }
        }
    }
}

impl Default for Model {
    fn default() -> Self {
        Self::new()
    }
}

/// Custom metadata of `base` with `supplied` laid over it (APPEND, `preserve`).
pub fn merged(
    base: &BTreeMap<String, String>,
    supplied: &[(String, String)],
) -> BTreeMap<String, String> {
    let mut out = base.clone();
    out.extend(supplied.iter().cloned());
    out
}

/// Just the supplied metadata (POST, PUT and COPY without `preserve`).
pub fn only(supplied: &[(String, String)]) -> BTreeMap<String, String> {
    supplied.iter().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version {
            content: s.to_string(),
            meta: BTreeMap::new(),
            composite: false,
        }
    }

    fn states(m: &Model, k: &Key) -> BTreeSet<State> {
        m.now(k).expect("known")
    }

    #[test]
    fn spaced_writes_replace_and_unspaced_ones_leave_either() {
        let mut m = Model::new();
        let k = Key::Named(0);
        let t = Duration::from_secs(1);
        m.update(&k, &Effect::Set(v("a")), Outcome::Done, true, t);
        assert_eq!(states(&m, &k), BTreeSet::from([Some(v("a"))]));
        assert!(!m.spaced(&[&k], t + Duration::from_millis(500)));
        m.update(&k, &Effect::Set(v("b")), Outcome::Done, false, t);
        assert_eq!(states(&m, &k), BTreeSet::from([Some(v("a")), Some(v("b"))]));
        let append = Effect::Apply(Box::new(|old: &Version| v(&format!("{}+", old.content))));
        m.update(&k, &append, Outcome::Done, true, t * 3);
        assert_eq!(
            states(&m, &k),
            BTreeSet::from([Some(v("a+")), Some(v("b+"))])
        );
        m.update(&k, &Effect::Delete, Outcome::Refused, true, t * 5);
        assert_eq!(states(&m, &k).len(), 2);
    }

    #[test]
    fn unknown_outcomes_forget_until_a_settled_whole_write() {
        let mut m = Model::new();
        let k = Key::Named(1);
        m.fault(&Fault::Crash { node: 1 });
        m.update(
            &k,
            &Effect::Set(v("a")),
            Outcome::Unknown,
            true,
            Duration::ZERO,
        );
        assert_eq!(m.now(&k), None);
        assert_eq!(m.readable(&k), None);
        m.update(
            &k,
            &Effect::Set(v("b")),
            Outcome::Done,
            true,
            Duration::from_secs(2),
        );
        assert_eq!(
            m.now(&k),
            None,
            "a late landing of the lost write may still win"
        );
        m.settled();
        m.update(
            &k,
            &Effect::Set(v("c")),
            Outcome::Done,
            true,
            Duration::from_secs(4),
        );
        assert_eq!(states(&m, &k), BTreeSet::from([Some(v("c"))]));
    }

    #[test]
    fn stale_reads_are_allowed_only_while_reachability_is_disturbed() {
        let mut m = Model::new();
        let k = Key::Named(2);
        m.update(
            &k,
            &Effect::Set(v("a")),
            Outcome::Done,
            true,
            Duration::ZERO,
        );
        m.update(
            &k,
            &Effect::Set(v("b")),
            Outcome::Done,
            true,
            Duration::from_secs(2),
        );
        assert_eq!(m.readable(&k).expect("known").len(), 1);
        m.fault(&Fault::Partition {
            groups: vec![vec![0]],
        });
        assert_eq!(m.readable(&k).expect("known").len(), 3, "a, b or absent");
        m.settled();
        assert_eq!(m.readable(&k).expect("known").len(), 1);
    }

    #[test]
    fn clock_skew_with_partitions_keeps_older_winners_possible() {
        let mut m = Model::new();
        let k = Key::Named(0);
        m.update(
            &k,
            &Effect::Set(v("a")),
            Outcome::Done,
            true,
            Duration::ZERO,
        );
        m.fault(&Fault::Skew { node: 2, ms: -3000 });
        m.update(
            &k,
            &Effect::Set(v("b")),
            Outcome::Done,
            true,
            Duration::from_secs(2),
        );
        assert_eq!(
            states(&m, &k).len(),
            1,
            "all nodes reachable: a 201 is the newest"
        );
        m.fault(&Fault::Isolate { node: 1 });
        m.update(
            &k,
            &Effect::Set(v("c")),
            Outcome::Done,
            true,
            Duration::from_secs(4),
        );
        assert_eq!(states(&m, &k).len(), 2);
    }
}
