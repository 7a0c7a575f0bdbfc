//! One enumerator: its type, channel, bounds and persisted arguments, and the delivery state
//! that makes `syncToken` acknowledgement work (ENUM-9).
//!
//! Items are journal sequence numbers. The enumerator remembers the batch of its last answer
//! (`sent`) under the token it handed out. A Next carrying that token acknowledges the batch:
//! its items are never delivered again. A Next without it (absent, or an older token: the
//! last answer was lost) puts the batch back at the front of `requeue`, so it is delivered
//! again before anything new. Nothing else ever drops an item, which is why an answer lost
//! on the wire loses nothing.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::publisher::defects::{PublisherDefect, PublisherDefects};
use crate::publisher::event::{Event, EventCode, ObjectClass};
use crate::publisher::journal::Journal;
use crate::publisher::rules::Rules;

/// The enumerator types of seed-004.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnumType {
    /// Every event of every object, one per answer, with all its metadata (the default).
    Metadata,
    /// UUIDs of unnamed objects: immutables unless deleted, aliases on every revision.
    Uuid,
    /// The last event per UUID of unnamed objects, with its code.
    Event,
}

impl EnumType {
    /// Reads `type=` (case-insensitive, `DXCR/p39`).
    pub fn parse(text: &str) -> Option<EnumType> {
        match text.to_ascii_lowercase().as_str() {
            "metadata" => Some(EnumType::Metadata),
            "uuid" => Some(EnumType::Uuid),
            "event" => Some(EnumType::Event),
            _ => None,
        }
    }

    /// The name Start's answer echoes.
    pub fn name(self) -> &'static str {
        match self {
            EnumType::Metadata => "Metadata",
            EnumType::Uuid => "UUID",
            EnumType::Event => "Event",
        }
    }
}

/// An enumerator's fixed description and its delivery state.
#[derive(Debug, Clone)]
pub struct Enumerator {
    /// Its id (`Content-UUID` of Start).
    pub id: String,
    /// The channel it reads.
    pub channel: String,
    /// What it returns.
    pub kind: EnumType,
    /// Inclusive lower bound on creation time (milliseconds), Metadata and UUID only.
    pub start_ms: Option<u64>,
    /// Exclusive upper bound on creation time (milliseconds).
    pub end_ms: Option<u64>,
    /// Arguments stored from Start and later Nexts (lower-case names): they persist until
    /// changed (ENUM-16). `maxitems`, `timeout`, `version`, `context`, `offlineafter`,
    /// `errofflineafter`.
    pub args: BTreeMap<String, String>,
    /// The last journal sequence number looked at.
    cursor: u64,
    /// The items of the last answer, acknowledged by `token`.
    sent: Vec<u64>,
    /// Items to deliver again before new ones.
    requeue: VecDeque<u64>,
    /// The number behind the last `Content-Sync-Token` handed out.
    token: u64,
    /// When it was last read (Start or Next), for the timeout (ENUM-13).
    pub last_read_ms: u64,
    /// Sum of the `dropped` counts the subscriber reported (shown, never resent).
    pub dropped_total: u64,
    /// Turns the token counter into an opaque string (the `token=opaque` choice, P6).
    pub token_key: Option<u64>,
    /// A `maxItems=0` was seen once (only the `pause-permanent` defect looks).
    pub paused_once: bool,
    /// Items already delivered again after their acknowledgement (the
    /// `redeliver-after-ack` defect does it once per item).
    again: BTreeSet<u64>,
}

/// What one Next asks of an enumerator.
#[derive(Debug, Clone, Copy)]
pub struct Asked<'a> {
    /// The `syncToken` given, if any.
    pub sync_token: Option<&'a str>,
    /// At most this many items (0: a pause).
    pub max: u64,
    /// The `dropped` count given (0 when absent).
    pub dropped: u64,
    /// The time of the request.
    pub now_ms: u64,
}

impl Enumerator {
    /// A fresh enumerator at the start of the journal (Start's token is `0`).
    pub fn new(id: String, channel: String, kind: EnumType, now_ms: u64) -> Self {
        Self {
            id,
            channel,
            kind,
            start_ms: None,
            end_ms: None,
            args: BTreeMap::new(),
            cursor: 0,
            sent: Vec::new(),
            requeue: VecDeque::new(),
            token: 0,
            last_read_ms: now_ms,
            dropped_total: 0,
            token_key: None,
            paused_once: false,
            again: BTreeSet::new(),
        }
    }

    /// The current `Content-Sync-Token`.
    pub fn token(&self) -> String {
        match self.token_key {
            None => self.token.to_string(),
            Some(key) => format!("{:016x}", crate::rt::splitmix64(key ^ self.token)),
        }
    }

    /// True when `timeout_s` seconds passed since the last read.
    pub fn expired(&self, now_ms: u64, timeout_s: u64) -> bool {
        now_ms.saturating_sub(self.last_read_ms) >= timeout_s.saturating_mul(1000)
    }

    /// Items delivered but not yet acknowledged, plus those waiting to be delivered again.
    pub fn unacknowledged(&self) -> usize {
        self.sent.len() + self.requeue.len()
    }

    /// One Next: acknowledges the last batch if the `syncToken` names it (else queues it
    /// again), then takes up to `max` items (0: a pause, nothing). Returns the batch; the new
    /// token is [`Enumerator::token`] afterwards. `defects` are the publisher's deliberate
    /// defects (empty for the reference).
    pub fn next(
        &mut self,
        journal: &Journal,
        rules: &Rules,
        asked: Asked<'_>,
        defects: &PublisherDefects,
    ) -> Vec<u64> {
        let on = |d: PublisherDefect| defects.contains(&d);
        if !on(PublisherDefect::TimeoutFromStart) {
            self.last_read_ms = asked.now_ms;
        }
        let acknowledged =
            on(PublisherDefect::AckedOnSend) || asked.sync_token == Some(self.token().as_str());
        let last = std::mem::take(&mut self.sent);
        if !acknowledged {
            for seq in last.into_iter().rev() {
                self.requeue.push_front(seq);
            }
        } else if on(PublisherDefect::RedeliverAfterAck) {
            for seq in last {
                if self.again.insert(seq) {
                    self.requeue.push_back(seq);
                }
            }
        } else if on(PublisherDefect::DroppedResent) {
            let n = usize::try_from(asked.dropped).unwrap_or(usize::MAX);
            for seq in last.into_iter().rev().take(n) {
                self.requeue.push_front(seq);
            }
        }
        self.token += 1;
        let max = usize::try_from(asked.max).unwrap_or(usize::MAX);
        let mut batch = Vec::new();
        while batch.len() < max {
            let Some(seq) = self.requeue.pop_front() else {
                break;
            };
            if journal
                .get(seq)
                .is_some_and(|e| self.still_wanted(e, journal, defects))
            {
                batch.push(seq);
            }
        }
        while batch.len() < max {
            let Some(event) = journal.since(self.cursor).first() else {
                break;
            };
            self.cursor = event.seq;
            let on_channel = if on(PublisherDefect::DeleteFiltered) {
                rules.filter_holds(&self.channel, event)
            } else {
                rules.matches(&self.channel, event)
            };
            if on_channel && self.wanted(event, journal, defects) {
                batch.push(event.seq);
            }
        }
        self.sent.clone_from(&batch);
        batch
    }

    /// Whether an event is an item of this enumerator (channel aside).
    fn wanted(&self, event: &Event, journal: &Journal, defects: &PublisherDefects) -> bool {
        let on = |d: PublisherDefect| defects.contains(&d);
        let in_range = match (on(PublisherDefect::StartBoundExclusive), self.start_ms) {
            (_, None) => true,
            (false, Some(s)) => event.created_ms >= s,
            (true, Some(s)) => event.created_ms / 1000 > s / 1000,
        } && match (on(PublisherDefect::EndBoundInclusive), self.end_ms) {
            (_, None) => true,
            (false, Some(e)) => event.created_ms < e,
            (true, Some(e)) => event.created_ms / 1000 <= e / 1000,
        };
        match self.kind {
            EnumType::Metadata => {
                in_range
                    && !(on(PublisherDefect::MetadataSkipsDeleted) && deleted_now(event, journal))
            }
            EnumType::Uuid => {
                in_range
                    && match event.class {
                        ObjectClass::Named => false,
                        ObjectClass::Alias => {
                            !on(PublisherDefect::UuidAliasOnce) || is_first_revision(event)
                        }
                        ObjectClass::Immutable => {
                            !event.code.is_delete()
                                && (on(PublisherDefect::UuidListsDeletedImmutables)
                                    || !deleted_now(event, journal))
                        }
                    }
            }
            EnumType::Event => {
                event.class.is_unnamed()
                    && (on(PublisherDefect::EventReportsEveryEvent) || is_last(event, journal))
            }
        }
    }

    /// Whether an item queued for redelivery still is one: a deleted immutable leaves UUID
    /// enumerators and a superseded event leaves Event enumerators (its successor comes).
    fn still_wanted(&self, event: &Event, journal: &Journal, defects: &PublisherDefects) -> bool {
        let on = |d: PublisherDefect| defects.contains(&d);
        match self.kind {
            EnumType::Metadata => true,
            EnumType::Uuid => {
                event.class != ObjectClass::Immutable
                    || on(PublisherDefect::UuidListsDeletedImmutables)
                    || !deleted_now(event, journal)
            }
            EnumType::Event => {
                on(PublisherDefect::EventReportsEveryEvent) || is_last(event, journal)
            }
        }
    }
}

/// An alias revision that created the object (its version is its creation stamp).
pub fn is_first_revision(event: &Event) -> bool {
    event.code != EventCode::Deleted && event.version_ms == event.created_ms
}

fn deleted_now(event: &Event, journal: &Journal) -> bool {
    journal
        .latest(&event.domain, &event.object)
        .is_some_and(|l| l.deleted)
}

fn is_last(event: &Event, journal: &Journal) -> bool {
    journal
        .latest(&event.domain, &event.object)
        .is_some_and(|l| l.seq == event.seq)
}
