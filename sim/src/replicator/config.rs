//! A replicator's knobs (docs/choices.md RP1..RP10), its alternative choices and its named
//! defects.

use std::collections::BTreeSet;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

/// A deliberate defect of the reference replicator, for the sweep to catch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReplicatorDefect {
    /// Acknowledges an item (its `syncToken`) before applying it, and applies it once:
    /// a failed apply or a crash in between loses the item.
    AckBeforeApply,
    /// Acknowledges delete events without deleting anything in B.
    IgnoreDeletes,
    /// Keeps asking an enumerator that answered 404 instead of starting a new session.
    NoRestartOn404,
    /// Writes the content to B without the object's metadata headers.
    DropMetadata,
}

impl ReplicatorDefect {
    /// Every replicator defect, in a stable order.
    pub const ALL: [ReplicatorDefect; 4] = [
        ReplicatorDefect::AckBeforeApply,
        ReplicatorDefect::IgnoreDeletes,
        ReplicatorDefect::NoRestartOn404,
        ReplicatorDefect::DropMetadata,
    ];

    /// The kebab-case name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ReplicatorDefect::AckBeforeApply => "ack-before-apply",
            ReplicatorDefect::IgnoreDeletes => "ignore-deletes",
            ReplicatorDefect::NoRestartOn404 => "no-restart-on-404",
            ReplicatorDefect::DropMetadata => "drop-metadata",
        }
    }

    /// One line on what it does.
    pub fn summary(self) -> &'static str {
        match self {
            ReplicatorDefect::AckBeforeApply => {
                "acknowledges an item before applying it, and tries the apply once"
            }
            ReplicatorDefect::IgnoreDeletes => "acknowledges delete events without deleting",
            ReplicatorDefect::NoRestartOn404 => "never starts a new session after a 404",
            ReplicatorDefect::DropMetadata => "writes content without the object's metadata",
        }
    }
}

impl fmt::Display for ReplicatorDefect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ReplicatorDefect {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ReplicatorDefect::ALL
            .into_iter()
            .find(|d| d.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = ReplicatorDefect::ALL.iter().map(|d| d.name()).collect();
                format!(
                    "unknown replicator defect `{s}`; known: {}",
                    names.join(", ")
                )
            })
    }
}

/// Everything one replicator needs; cloned into every incarnation.
#[derive(Debug, Clone)]
pub struct ReplicatorConfig {
    /// The publisher's Enumerator API (cluster A).
    pub publisher: SocketAddr,
    /// The channel it subscribes to (RP1).
    pub channel: String,
    /// Cluster A's SCSP nodes, where content is read.
    pub source: Vec<SocketAddr>,
    /// Cluster B's SCSP nodes, where events are applied.
    pub target: Vec<SocketAddr>,
    /// Wait after an empty answer before asking again (RP3).
    pub idle_interval: Duration,
    /// Wait after a failed exchange before trying again (RP3).
    pub retry_interval: Duration,
    /// Bound of every HTTP exchange.
    pub request_timeout: Duration,
    /// `timeout=` given on Start, in seconds (RP2).
    pub enumerator_timeout_s: u64,
    /// Replicas B must report (`Replica-Count`) for a write to count as held without a
    /// read-back (RP5).
    pub replicas: usize,
    /// Deliberate defects (all off by default).
    pub defects: BTreeSet<ReplicatorDefect>,
    /// Read every write back from B before acknowledging, even when its 201 reports enough
    /// replicas (RP5; an alternative, off in the reference).
    pub read_back_always: bool,
    /// Wait after a 404 before starting a new session (RP8; zero in the reference).
    pub restart_backoff: Duration,
}

/// The replicator's other choices where the documents are silent (docs/choices.md RP10):
/// each is a way a real replicator could behave, so the replication invariants must hold
/// under it too (the choice sweep, `conformance/tests/choice_sweep.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReplicatorAlternative {
    /// RP5: acknowledge only after a read-back of B, whatever `Replica-Count` says.
    ReadBackAlways,
    /// RP8: wait 5 s after a 404 before starting a new session.
    RestartBackoff,
    /// RP3: wait 3 s after an empty answer instead of 1 s.
    SlowIdle,
}

impl ReplicatorAlternative {
    /// Every alternative, in a stable order.
    pub const ALL: [ReplicatorAlternative; 3] = [
        ReplicatorAlternative::ReadBackAlways,
        ReplicatorAlternative::RestartBackoff,
        ReplicatorAlternative::SlowIdle,
    ];

    /// The kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            ReplicatorAlternative::ReadBackAlways => "read-back-always",
            ReplicatorAlternative::RestartBackoff => "restart-backoff=5s",
            ReplicatorAlternative::SlowIdle => "idle=3s",
        }
    }

    /// Switches this choice on in `config`.
    pub fn apply(self, config: &mut ReplicatorConfig) {
        match self {
            ReplicatorAlternative::ReadBackAlways => config.read_back_always = true,
            ReplicatorAlternative::RestartBackoff => {
                config.restart_backoff = Duration::from_secs(5)
            }
            ReplicatorAlternative::SlowIdle => config.idle_interval = Duration::from_secs(3),
        }
    }
}

impl fmt::Display for ReplicatorAlternative {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl ReplicatorConfig {
    /// Defaults: `PublishAll`, 1 s idle and retry waits, 5 s per exchange, an enumerator
    /// timeout of one hour, 2 replicas.
    pub fn new(publisher: SocketAddr, source: Vec<SocketAddr>, target: Vec<SocketAddr>) -> Self {
        Self {
            publisher,
            channel: crate::publisher::rules::PUBLISH_ALL.to_string(),
            source,
            target,
            idle_interval: Duration::from_secs(1),
            retry_interval: Duration::from_secs(1),
            request_timeout: Duration::from_secs(5),
            enumerator_timeout_s: 3600,
            replicas: 2,
            defects: BTreeSet::new(),
            read_back_always: false,
            restart_backoff: Duration::ZERO,
        }
    }

    /// Whether a defect is switched on.
    pub fn has(&self, defect: ReplicatorDefect) -> bool {
        self.defects.contains(&defect)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defect_names_round_trip_and_unknown_names_are_refused() {
        for d in ReplicatorDefect::ALL {
            assert_eq!(d.name().parse::<ReplicatorDefect>(), Ok(d));
        }
        let err = "ack-late".parse::<ReplicatorDefect>().unwrap_err();
        assert!(err.contains("ack-before-apply"), "{err}");
    }

    #[test]
    fn each_alternative_changes_its_knob_only() {
        let unset = SocketAddr::from(([0, 0, 0, 0], 0));
        let reference = ReplicatorConfig::new(unset, Vec::new(), Vec::new());
        for alternative in ReplicatorAlternative::ALL {
            let mut changed = reference.clone();
            alternative.apply(&mut changed);
            let differs = [
                changed.read_back_always != reference.read_back_always,
                changed.restart_backoff != reference.restart_backoff,
                changed.idle_interval != reference.idle_interval,
            ];
            assert_eq!(differs.iter().filter(|d| **d).count(), 1, "{alternative}");
        }
    }
}
