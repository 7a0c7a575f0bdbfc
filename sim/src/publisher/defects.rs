//! Named deliberate defects of the reference publisher: each breaks one clause of an ENUM
//! rule that the `publisher` conformance family observes over HTTP. All are off by default;
//! `conformance/tests/mutants.rs` switches each on and asserts that the clauses
//! `conformance::mutants` maps it to fail, which is how the family proves it has teeth.
//!
//! The SCSP node's defects are a separate set (`crate::scsp::defects`): the two services are
//! configured apart, and names never collide (a unit test says so).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// One deliberate deviation of the publisher from the Enumerator API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PublisherDefect {
    /// ENUM-1: Start answers without `Content-Sync-Token`.
    StartWithoutSyncToken,
    /// ENUM-1: every Start hands out the same enumerator id.
    StartReusesId,
    /// ENUM-2: `start` is compared in whole seconds and exclusively.
    StartBoundExclusive,
    /// ENUM-2: `end` is compared in whole seconds and inclusively.
    EndBoundInclusive,
    /// ENUM-2: a date without a time of day means the end of that day, not 00:00:00.
    DateOnlyEndOfDay,
    /// ENUM-3: `maxItems` is ignored; UUID and Event answers carry up to the default.
    MaxItemsIgnored,
    /// ENUM-3: Metadata answers about an unnamed object carry no `Content-UUID`.
    MetadataWithoutContentUuid,
    /// ENUM-4: an alias update is reported with code 3.
    AliasUpdateCode3,
    /// ENUM-5: UUID enumerators list immutables that were deleted.
    UuidListsDeletedImmutables,
    /// ENUM-5: UUID enumerators list an alias only for its first revision.
    UuidAliasOnce,
    /// ENUM-6: Event enumerators report every event of a UUID, not only the last.
    EventReportsEveryEvent,
    /// ENUM-7: Metadata enumerators skip the events of objects deleted since.
    MetadataSkipsDeleted,
    /// ENUM-7: events are learnt by diffing inventories only, without the nodes' event
    /// journals: a revision overwritten before the next poll is no event (the watcher
    /// before docs/choices.md row P2 was settled).
    DiffsInventories,
    /// ENUM-7: the journal entries of objects a recursive domain or bucket delete dropped
    /// are skipped, so those objects get no delete event (the publisher before
    /// docs/choices.md row P2 covered context deletes). No HTTP clause observes it (the
    /// family writes no contexts); `sim/tests/publisher_journal.rs` and the replication
    /// world test fail with it, so it maps to no clause in `conformance::mutants`.
    IgnoresContextDeletes,
    /// ENUM-8: deletes are filtered by the channel's rules like other events.
    DeleteFiltered,
    /// ENUM-9: items count as acknowledged when sent: an answer lost on the wire loses them.
    AckedOnSend,
    /// ENUM-9: acknowledged items are delivered once more.
    RedeliverAfterAck,
    /// ENUM-10: a `dropped` count sends that many of the acknowledged items again.
    DroppedResent,
    /// ENUM-12: `maxItems=0` is taken as the default, not as a pause.
    MaxItemsZeroIgnored,
    /// ENUM-12: once paused, an enumerator stays paused whatever `maxItems` says later.
    PausePermanent,
    /// ENUM-13: enumerators never expire.
    ExpiredStillAnswers,
    /// ENUM-13: the timeout counts from Start, not from the last read.
    TimeoutFromStart,
    /// ENUM-14: End answers 204 with no body.
    EndAnswers204,
    /// ENUM-14: End answers 200 but the enumerator lives on.
    EndKeepsEnumerator,
    /// ENUM-15: a rules change leaves the enumerators alive.
    RulesChangeKeepsEnumerators,
    /// ENUM-16: arguments apply only to the request that carries them.
    ArgumentsNotPersisted,
}

/// `(defect, name, rule, summary)`, in a stable order.
const TABLE: &[(PublisherDefect, &str, &str, &str)] = {
    use PublisherDefect::*;
    &[
        (
            StartWithoutSyncToken,
            "start-without-sync-token",
            "ENUM-1",
            "Start answers without Content-Sync-Token",
        ),
        (
            StartReusesId,
            "start-reuses-id",
            "ENUM-1",
            "every Start gets the same enumerator id",
        ),
        (
            StartBoundExclusive,
            "start-bound-exclusive",
            "ENUM-2",
            "start compared in whole seconds, exclusively",
        ),
        (
            EndBoundInclusive,
            "end-bound-inclusive",
            "ENUM-2",
            "end compared in whole seconds, inclusively",
        ),
        (
            DateOnlyEndOfDay,
            "date-only-end-of-day",
            "ENUM-2",
            "a date without time means 23:59:59",
        ),
        (
            MaxItemsIgnored,
            "max-items-ignored",
            "ENUM-3",
            "maxItems ignored for UUID and Event answers",
        ),
        (
            MetadataWithoutContentUuid,
            "metadata-without-content-uuid",
            "ENUM-3",
            "Metadata answers omit Content-UUID",
        ),
        (
            AliasUpdateCode3,
            "alias-update-code-3",
            "ENUM-4",
            "alias updates reported with code 3",
        ),
        (
            UuidListsDeletedImmutables,
            "uuid-lists-deleted-immutables",
            "ENUM-5",
            "UUID enumerators list deleted immutables",
        ),
        (
            UuidAliasOnce,
            "uuid-alias-once",
            "ENUM-5",
            "UUID enumerators list an alias once",
        ),
        (
            EventReportsEveryEvent,
            "event-reports-every-event",
            "ENUM-6",
            "Event enumerators report non-last events",
        ),
        (
            MetadataSkipsDeleted,
            "metadata-skips-deleted",
            "ENUM-7",
            "Metadata enumerators skip objects deleted since",
        ),
        (
            DiffsInventories,
            "publisher-diffs-inventories",
            "ENUM-7",
            "events come from inventory diffs only: a revision overwritten between two polls is lost",
        ),
        (
            IgnoresContextDeletes,
            "publisher-ignores-context-deletes",
            "ENUM-7",
            "objects a recursive context delete drops get no delete event",
        ),
        (
            DeleteFiltered,
            "delete-filtered",
            "ENUM-8",
            "deletes are not sent on every channel",
        ),
        (
            AckedOnSend,
            "acked-on-send",
            "ENUM-9",
            "items acknowledged on send: lost with a dropped answer",
        ),
        (
            RedeliverAfterAck,
            "redeliver-after-ack",
            "ENUM-9",
            "acknowledged items delivered again",
        ),
        (
            DroppedResent,
            "dropped-resent",
            "ENUM-10",
            "dropped items are resent",
        ),
        (
            MaxItemsZeroIgnored,
            "max-items-zero-ignored",
            "ENUM-12",
            "maxItems=0 does not pause",
        ),
        (
            PausePermanent,
            "pause-permanent",
            "ENUM-12",
            "a paused enumerator never resumes",
        ),
        (
            ExpiredStillAnswers,
            "expired-still-answers",
            "ENUM-13",
            "enumerators never expire",
        ),
        (
            TimeoutFromStart,
            "timeout-from-start",
            "ENUM-13",
            "the timeout counts from Start, not the last read",
        ),
        (
            EndAnswers204,
            "end-answers-204",
            "ENUM-14",
            "End answers 204 without its body",
        ),
        (
            EndKeepsEnumerator,
            "end-keeps-enumerator",
            "ENUM-14",
            "End leaves the enumerator alive",
        ),
        (
            RulesChangeKeepsEnumerators,
            "rules-change-keeps-enumerators",
            "ENUM-15",
            "a rules change keeps the enumerators",
        ),
        (
            ArgumentsNotPersisted,
            "arguments-not-persisted",
            "ENUM-16",
            "arguments do not persist across calls",
        ),
    ]
};

/// A set of publisher defects (empty: the reference itself).
pub type PublisherDefects = BTreeSet<PublisherDefect>;

impl PublisherDefect {
    /// Every defect, in a stable order.
    pub fn all() -> Vec<PublisherDefect> {
        TABLE.iter().map(|row| row.0).collect()
    }

    fn row(self) -> &'static (PublisherDefect, &'static str, &'static str, &'static str) {
        TABLE.iter().find(|row| row.0 == self).unwrap_or(&TABLE[0])
    }

    /// The kebab-case name used on the command line and in `conformance::mutants`.
    pub fn name(self) -> &'static str {
        self.row().1
    }

    /// The ENUM rule this defect breaks.
    pub fn breaks(self) -> &'static str {
        self.row().2
    }

    /// One line on what it does, for `replisim mutants`.
    pub fn summary(self) -> &'static str {
        self.row().3
    }
}

impl fmt::Display for PublisherDefect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PublisherDefect {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TABLE
            .iter()
            .find(|row| row.1 == s.trim())
            .map(|row| row.0)
            .ok_or_else(|| {
                let names: Vec<&str> = TABLE.iter().map(|row| row.1).collect();
                format!(
                    "unknown publisher defect `{s}`; known: {}",
                    names.join(", ")
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_defect_has_one_row_and_names_round_trip() {
        let all = PublisherDefect::all();
        assert_eq!(all.len(), TABLE.len());
        let mut names = BTreeSet::new();
        for d in all {
            assert_eq!(TABLE.iter().filter(|row| row.0 == d).count(), 1, "{d:?}");
            assert_eq!(d.name().parse::<PublisherDefect>(), Ok(d));
            assert!(names.insert(d.name()));
            assert!(d.breaks().starts_with("ENUM-"));
            assert!(
                d.name().parse::<crate::scsp::defects::Defect>().is_err(),
                "{d} is also an SCSP defect name"
            );
        }
        assert!("nope"
            .parse::<PublisherDefect>()
            .unwrap_err()
            .contains("known:"));
    }
}
