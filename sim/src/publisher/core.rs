//! The publisher's decision core: journal, channels and enumerators as plain state. Every
//! operation takes the time as an argument and the HTTP layer only translates.

use std::collections::BTreeMap;
use std::fmt;

use crate::publisher::alternatives::PublisherAlternatives;
use crate::publisher::defects::{PublisherDefect, PublisherDefects};
use crate::publisher::durable::DurableLog;
use crate::publisher::enumerator::{Asked, EnumType, Enumerator};
use crate::publisher::event::Event;
use crate::publisher::iso8601;
use crate::publisher::journal::{Journal, Observed};
use crate::publisher::rules::Rules;

/// `subscriberTimeout` of publisher.cfg: 90000 s (25 h) unless Start says `timeout=`.
pub const DEFAULT_TIMEOUT_S: u64 = 90_000;

/// UUID and Event enumerators return at most this many items when no `maxItems` was ever
/// given (docs/choices.md, "Publisher maxItems default").
pub const DEFAULT_MAX_ITEMS: u64 = 100;

/// Arguments Start and Next store so later Nexts need not repeat them (ENUM-16).
const PERSISTED: [&str; 6] = [
    "maxitems",
    "timeout",
    "version",
    "context",
    "offlineafter",
    "errofflineafter",
];

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublisherError {
    /// Start named a channel the rules do not define (404).
    UnknownChannel(String),
    /// No such enumerator: never made, ended, expired or removed by a rules change (404).
    UnknownEnumerator(String),
    /// An argument has a value the publisher cannot use (400).
    BadArgument(String),
    /// The journal's disk refused an event (the event stays unregistered).
    Disk(String),
}

impl fmt::Display for PublisherError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PublisherError::UnknownChannel(c) => write!(f, "No such channel: '{c}'"),
            PublisherError::UnknownEnumerator(id) => write!(f, "No such enumerator: '{id}'"),
            PublisherError::BadArgument(why) => write!(f, "Bad argument: {why}"),
            PublisherError::Disk(why) => write!(f, "Journal disk error: {why}"),
        }
    }
}

impl std::error::Error for PublisherError {}

/// What Start answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// The enumerator id.
    pub id: String,
    /// `Content-Sync-Token`.
    pub token: String,
    /// The body line ("Object Enumerator created - …").
    pub message: String,
}

/// What a Next answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// The enumerator's type (how to render the items).
    pub kind: EnumType,
    /// `Content-Sync-Token`.
    pub token: String,
    /// The items, in journal order (the document promises no order, ENUM-11).
    pub items: Vec<Event>,
}

/// Query arguments by lower-case name; a flag without a value maps to "".
pub type Args = BTreeMap<String, String>;

/// Journal, rules and enumerators.
#[derive(Debug)]
pub struct Publisher {
    journal: Journal,
    rules: Rules,
    enumerators: BTreeMap<String, Enumerator>,
    id_seed: u64,
    made: u64,
    defects: PublisherDefects,
    alternatives: PublisherAlternatives,
}

impl Publisher {
    /// A publisher over the journal on `log` (reopened after a restart), with `rules`.
    /// `id_seed` makes enumerator ids (from the run's seed: deterministic, unlike the
    /// document's UUIDs, and still different across restarts when the seed differs).
    pub fn new(log: DurableLog, rules: Rules, id_seed: u64) -> Self {
        Self {
            journal: Journal::open(log),
            rules,
            enumerators: BTreeMap::new(),
            id_seed,
            made: 0,
            defects: PublisherDefects::new(),
            alternatives: PublisherAlternatives::default(),
        }
    }

    /// The same publisher with deliberate defects and other choices switched on.
    pub fn with_knobs(
        mut self,
        defects: PublisherDefects,
        alternatives: PublisherAlternatives,
    ) -> Self {
        self.defects = defects;
        self.alternatives = alternatives;
        self
    }

    /// Whether a deliberate defect is on.
    pub fn has(&self, defect: PublisherDefect) -> bool {
        self.defects.contains(&defect)
    }

    /// The choices it makes where the document is silent.
    pub fn alternatives(&self) -> &PublisherAlternatives {
        &self.alternatives
    }

    /// The journal (the watcher compares versions against it).
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// Registers an object revision (see [`Journal::register`]).
    pub fn register(&mut self, seen: Observed) -> Result<Option<Event>, PublisherError> {
        self.journal
            .register(seen)
            .map_err(|e| PublisherError::Disk(format!("{e:?}")))
    }

    /// Registers a revision from a node's event journal (see [`Journal::register_revision`]).
    pub fn register_revision(&mut self, seen: Observed) -> Result<Option<Event>, PublisherError> {
        self.journal
            .register_revision(seen)
            .map_err(|e| PublisherError::Disk(format!("{e:?}")))
    }

    /// Replaces the rules. Every enumerator is deleted: subscribers get 404 and Start again
    /// (ENUM-15), because their positions were computed under the old rules.
    pub fn set_rules(&mut self, rules: Rules) {
        self.rules = rules;
        if !self.has(PublisherDefect::RulesChangeKeepsEnumerators) {
            self.enumerators.clear();
        }
    }

    /// The rules in force.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// Number of live enumerators.
    pub fn enumerator_count(&self) -> usize {
        self.enumerators.len()
    }

    /// An enumerator's state, if it lives.
    pub fn enumerator(&self, id: &str) -> Option<&Enumerator> {
        self.enumerators.get(id)
    }

    /// Removes every enumerator unread for its timeout (ENUM-13).
    pub fn expire(&mut self, now_ms: u64) {
        if self.has(PublisherDefect::ExpiredStillAnswers) {
            return;
        }
        self.enumerators
            .retain(|_, e| !e.expired(now_ms, timeout_of(e)));
    }

    /// Start: a new enumerator on `channel` (ENUM-1).
    pub fn start(
        &mut self,
        channel: &str,
        args: &Args,
        now_ms: u64,
    ) -> Result<Started, PublisherError> {
        self.expire(now_ms);
        if !self.rules.has(channel) {
            return Err(PublisherError::UnknownChannel(channel.to_string()));
        }
        let kind = match args.get("type") {
            None => EnumType::Metadata,
            Some(t) => EnumType::parse(t).ok_or_else(|| {
                PublisherError::BadArgument(format!("type '{t}' (Metadata, UUID or Event)"))
            })?,
        };
        let end_of_day = self.has(PublisherDefect::DateOnlyEndOfDay);
        let bound = |name: &str| -> Result<Option<u64>, PublisherError> {
            args.get(name)
                .map(|t| {
                    let ms = iso8601::parse_ms(t)
                        .map_err(|e| PublisherError::BadArgument(format!("{name}: {e}")))?;
                    Ok(if end_of_day && !t.contains('T') {
                        ms + 86_399_000
                    } else {
                        ms
                    })
                })
                .transpose()
        };
        let (start_ms, end_ms) = (bound("start")?, bound("end")?);
        if kind == EnumType::Event && (start_ms.is_some() || end_ms.is_some()) {
            return Err(PublisherError::BadArgument(
                "start and end are not supported for Event enumerators".to_string(),
            ));
        }
        check_numbers(args)?;
        if !self.has(PublisherDefect::StartReusesId) {
            self.made += 1;
        }
        let id = format!(
            "{:016x}{:016x}",
            crate::rt::splitmix64(self.id_seed),
            crate::rt::splitmix64(self.id_seed ^ self.made.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        );
        let mut e = Enumerator::new(id.clone(), channel.to_string(), kind, now_ms);
        e.start_ms = start_ms;
        e.end_ms = end_ms;
        e.token_key = self
            .alternatives
            .opaque_tokens()
            .then(|| crate::rt::splitmix64(self.id_seed ^ self.made));
        if !self.has(PublisherDefect::ArgumentsNotPersisted) {
            persist(&mut e, args);
        }
        let mut message = format!(
            "Object Enumerator created - channel: '{channel}', type: '{}'",
            kind.name()
        );
        for name in ["start", "end"] {
            if let Some(v) = args.get(name) {
                message.push_str(&format!(", {name}: '{v}'"));
            }
        }
        let token = e.token();
        self.enumerators.insert(id.clone(), e);
        Ok(Started { id, token, message })
    }

    /// Next: acknowledges by `syncToken`, stores changed arguments, returns the next batch.
    pub fn next(&mut self, id: &str, args: &Args, now_ms: u64) -> Result<Batch, PublisherError> {
        self.expire(now_ms);
        check_numbers(args)?;
        let defects = &self.defects;
        let default_max = self.alternatives.default_max_items();
        let e = self
            .enumerators
            .get_mut(id)
            .ok_or_else(|| PublisherError::UnknownEnumerator(id.to_string()))?;
        if defects.contains(&PublisherDefect::ArgumentsNotPersisted) {
            e.args.clear();
        }
        persist(e, args);
        let dropped = args
            .get("dropped")
            .and_then(|d| d.parse::<u64>().ok())
            .unwrap_or(0);
        e.dropped_total = e.dropped_total.saturating_add(dropped);
        let max_items = e
            .args
            .get("maxitems")
            .and_then(|m| m.parse::<u64>().ok())
            .unwrap_or(default_max);
        if max_items == 0 {
            e.paused_once = true;
        }
        let max = match (e.kind, max_items) {
            (_, 0) if defects.contains(&PublisherDefect::MaxItemsZeroIgnored) => default_max,
            (_, 0) => 0,
            _ if e.paused_once && defects.contains(&PublisherDefect::PausePermanent) => 0,
            // One object's headers per answer (ENUM-3).
            (EnumType::Metadata, _) => 1,
            (_, _) if defects.contains(&PublisherDefect::MaxItemsIgnored) => default_max,
            (_, n) => n,
        };
        let sync = args.get("synctoken").map(String::as_str);
        let asked = Asked {
            sync_token: sync,
            max,
            dropped,
            now_ms,
        };
        let mut seqs = e.next(&self.journal, &self.rules, asked, defects);
        if self.alternatives.newest_first() {
            seqs.reverse();
        }
        let items = seqs
            .iter()
            .filter_map(|s| self.journal.get(*s).cloned())
            .collect();
        Ok(Batch {
            kind: e.kind,
            token: e.token(),
            items,
        })
    }

    /// End: removes the enumerator (ENUM-14).
    pub fn end(&mut self, id: &str, now_ms: u64) -> Result<(), PublisherError> {
        self.expire(now_ms);
        if self.has(PublisherDefect::EndKeepsEnumerator) {
            return self
                .enumerators
                .get(id)
                .map(|_| ())
                .ok_or_else(|| PublisherError::UnknownEnumerator(id.to_string()));
        }
        self.enumerators
            .remove(id)
            .map(|_| ())
            .ok_or_else(|| PublisherError::UnknownEnumerator(id.to_string()))
    }
}

fn timeout_of(e: &Enumerator) -> u64 {
    e.args
        .get("timeout")
        .and_then(|t| t.parse().ok())
        .unwrap_or(DEFAULT_TIMEOUT_S)
}

fn persist(e: &mut Enumerator, args: &Args) {
    for name in PERSISTED {
        if let Some(v) = args.get(name) {
            e.args.insert(name.to_string(), v.clone());
        }
    }
}

/// Arguments that must be whole numbers when given.
fn check_numbers(args: &Args) -> Result<(), PublisherError> {
    for name in [
        "maxitems",
        "timeout",
        "dropped",
        "uptime",
        "backlog",
        "inprogress",
    ] {
        if let Some(v) = args.get(name) {
            if v.parse::<u64>().is_err() {
                return Err(PublisherError::BadArgument(format!(
                    "{name} '{v}' is not a whole number"
                )));
            }
        }
    }
    if args.get("timeout").is_some_and(|t| t == "0") {
        return Err(PublisherError::BadArgument(
            "timeout must be at least 1 second".into(),
        ));
    }
    Ok(())
}
