//! One object event as the publisher records it: the unit of the journal and of every
//! enumeration.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What kind of object an event is about; the enumerator types differ by it (seed-004).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectClass {
    /// An unnamed immutable object: UUID enumerators skip it once deleted.
    Immutable,
    /// An unnamed mutable object (alias, "anchor stream"): every revision is enumerated.
    Alias,
    /// A named object in a bucket: only Metadata enumerators return it (CR 2.2).
    Named,
}

impl ObjectClass {
    /// Unnamed objects are the only ones UUID and Event enumerators return.
    pub fn is_unnamed(self) -> bool {
        !matches!(self, ObjectClass::Named)
    }

    /// The lower-case name rules files use (`kind=alias`).
    pub fn name(self) -> &'static str {
        match self {
            ObjectClass::Immutable => "immutable",
            ObjectClass::Alias => "alias",
            ObjectClass::Named => "named",
        }
    }
}

/// The Event enumerator's codes (`DXCR/p41`): 1 deleted, 2 created, 4 created or updated
/// anchor stream. 3 is unused and never produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventCode {
    /// A delete of any object (code 1).
    Deleted,
    /// A create of an immutable or named object (code 2).
    Created,
    /// An update of a named object (code 2 on the wire: the document has no update code for
    /// named objects, which the Event enumerator does not return anyway).
    Updated,
    /// A create or update of an alias object (code 4).
    AliasWritten,
}

impl EventCode {
    /// The number on an Event enumerator's line.
    pub fn wire(self) -> u8 {
        match self {
            EventCode::Deleted => 1,
            EventCode::Created | EventCode::Updated => 2,
            EventCode::AliasWritten => 4,
        }
    }

    /// True for deletes, which match every channel (ENUM-8).
    pub fn is_delete(self) -> bool {
        matches!(self, EventCode::Deleted)
    }
}

/// One create, update or delete of one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the journal, from 1, dense: enumerators are cursors over it.
    pub seq: u64,
    /// The object's UUID (unnamed) or `/bucket/name` (named; `domain` says where).
    pub object: String,
    /// The domain of a named object ("" for the default domain and for unnamed objects).
    pub domain: String,
    /// What the object is.
    pub class: ObjectClass,
    /// Create, update or delete.
    pub code: EventCode,
    /// The SCSP version stamp of the revision (milliseconds), the order of events per object.
    pub version_ms: u64,
    /// The node that stamped the version (ties of `version_ms`).
    pub version_node: u32,
    /// When the object was created (milliseconds since the epoch): `start`/`end` bound this
    /// (ENUM-2), the same for every event of one incarnation of the object.
    pub created_ms: u64,
    /// The revision's persisted metadata headers, lower-case names, in name order.
    pub meta: BTreeMap<String, String>,
}

impl Event {
    /// The bytes the journal stores for this event.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads what [`Event::encode`] wrote; `None` for anything else (a damaged record).
    pub fn decode(bytes: &[u8]) -> Option<Event> {
        serde_json::from_slice(bytes).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_and_garbage_is_refused() {
        let event = Event {
            seq: 3,
            object: "/b/x".into(),
            domain: "d".into(),
            class: ObjectClass::Named,
            code: EventCode::Updated,
            version_ms: 10,
            version_node: 2,
            created_ms: 5,
            meta: BTreeMap::from([("x-a-meta".to_string(), "1".to_string())]),
        };
        assert_eq!(Event::decode(&event.encode()), Some(event));
        assert_eq!(Event::decode(b"not json"), None);
    }

    #[test]
    fn code_three_is_never_produced() {
        let codes = [
            EventCode::Deleted,
            EventCode::Created,
            EventCode::Updated,
            EventCode::AliasWritten,
        ];
        assert!(codes.iter().all(|c| c.wire() != 3));
    }
}
