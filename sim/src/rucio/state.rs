//! Replica states and bad-PFN states with the letters and names the real server uses on the
//! wire (`A` in requests, `AVAILABLE` in list answers).

/// The state of one replica (Rucio's `ReplicaState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ReplicaState {
    /// `A`: readable.
    Available,
    /// `U`: known but not readable.
    Unavailable,
    /// `C`: being written or transferred.
    Copying,
    /// `D`: the reaper is deleting it.
    BeingDeleted,
    /// `B`: declared bad; recovery pending.
    Bad,
    /// `S`: a transfer source.
    Source,
    /// `T`: temporarily unavailable, until an expiry.
    TemporaryUnavailable,
}

/// Every state, in the order the server's schema lists them (its error messages quote it).
pub const ALL: [ReplicaState; 7] = [
    ReplicaState::Available,
    ReplicaState::Unavailable,
    ReplicaState::Copying,
    ReplicaState::BeingDeleted,
    ReplicaState::Bad,
    ReplicaState::Source,
    ReplicaState::TemporaryUnavailable,
];

impl ReplicaState {
    /// The one-letter code used in request bodies and the database.
    pub fn letter(self) -> &'static str {
        match self {
            Self::Available => "A",
            Self::Unavailable => "U",
            Self::Copying => "C",
            Self::BeingDeleted => "D",
            Self::Bad => "B",
            Self::Source => "S",
            Self::TemporaryUnavailable => "T",
        }
    }

    /// The name used in list answers (`states`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Available => "AVAILABLE",
            Self::Unavailable => "UNAVAILABLE",
            Self::Copying => "COPYING",
            Self::BeingDeleted => "BEING_DELETED",
            Self::Bad => "BAD",
            Self::Source => "SOURCE",
            Self::TemporaryUnavailable => "TEMPORARY_UNAVAILABLE",
        }
    }

    /// `ReplicaState(value)` of the server: only the letter constructs a state.
    pub fn from_letter(value: &str) -> Option<Self> {
        ALL.into_iter().find(|s| s.letter() == value)
    }

    /// Whether the request schema accepts `value` (names and letters both pass it; only a
    /// letter then constructs a state, see [`ReplicaState::from_letter`]).
    pub fn schema_accepts(value: &str) -> bool {
        ALL.into_iter()
            .any(|s| s.letter() == value || s.name() == value)
    }
}

/// The state a bad-PFN declaration asks for (Rucio's `BadPFNStatus`, looked up by name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BadPfnState {
    /// The replica is lost; minos declares it BAD.
    Bad,
    /// Maybe lost; recorded only.
    Suspicious,
    /// Unreadable until an expiry; minos sets TEMPORARY_UNAVAILABLE.
    TemporaryUnavailable,
    /// Back to normal; minos makes a TEMPORARY_UNAVAILABLE replica AVAILABLE again.
    Available,
}

impl BadPfnState {
    /// `BadPFNStatus[name]` of the server.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "BAD" => Some(Self::Bad),
            "SUSPICIOUS" => Some(Self::Suspicious),
            "TEMPORARY_UNAVAILABLE" => Some(Self::TemporaryUnavailable),
            "AVAILABLE" => Some(Self::Available),
            _ => None,
        }
    }

    /// The name as the server's messages spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Bad => "BAD",
            Self::Suspicious => "SUSPICIOUS",
            Self::TemporaryUnavailable => "TEMPORARY_UNAVAILABLE",
            Self::Available => "AVAILABLE",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_and_names_round_trip() {
        for s in ALL {
            assert_eq!(ReplicaState::from_letter(s.letter()), Some(s));
            assert!(ReplicaState::schema_accepts(s.name()));
            assert_eq!(ReplicaState::from_letter(s.name()), None);
        }
        assert!(!ReplicaState::schema_accepts("X"));
        assert_eq!(BadPfnState::from_name("NOPE"), None);
    }
}
