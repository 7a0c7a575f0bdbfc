//! The replication invariants, judged from the clusters' disks once the WAN has healed:
//! B holds exactly A's channel-matching named objects with the same bytes and metadata,
//! deletes have propagated, catch-up ended within its bound, and nothing keeps writing
//! once the clusters agree (no replication loop).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::publisher::event::{Event, EventCode, ObjectClass};
use crate::publisher::rules::Rules;
use crate::publisher::watcher::object_of;
use crate::scsp::object::Kind;
use crate::scsp::records::{version_order, Objects};
use crate::store::SharedDisk;

/// Which replication invariant a finding breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReplicationInvariant {
    /// B holds every channel-matching live object of A, same bytes and metadata.
    Holds,
    /// B holds nothing live that A does not (deletes propagated, nothing foreign).
    Deletes,
    /// The clusters agreed within the stated catch-up bound.
    CatchUp,
    /// Once the clusters agree, no new versions appear (no replication loop).
    Quiet,
}

impl ReplicationInvariant {
    /// Every invariant, in report order.
    pub const ALL: [ReplicationInvariant; 4] = [
        ReplicationInvariant::Holds,
        ReplicationInvariant::Deletes,
        ReplicationInvariant::CatchUp,
        ReplicationInvariant::Quiet,
    ];

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            ReplicationInvariant::Holds => "holds",
            ReplicationInvariant::Deletes => "deletes",
            ReplicationInvariant::CatchUp => "catch-up",
            ReplicationInvariant::Quiet => "quiet",
        }
    }
}

impl fmt::Display for ReplicationInvariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One broken invariant with what showed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The invariant.
    pub invariant: ReplicationInvariant,
    /// What was wrong.
    pub detail: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.invariant, self.detail)
    }
}

/// A named object's newest revision across a cluster's disks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Newest {
    /// The version order (stamp, node).
    pub version: u128,
    /// False for a deletion marker.
    pub live: bool,
    /// Hex MD5 of the content.
    pub md5: String,
    /// Persisted metadata.
    pub meta: BTreeMap<String, String>,
}

/// The newest revision of every named object on these disks, by store key.
pub fn newest_named(disks: &[SharedDisk]) -> BTreeMap<String, Newest> {
    let mut out: BTreeMap<String, Newest> = BTreeMap::new();
    for disk in disks {
        let objects = Objects::lock(disk);
        for (key, r) in objects.records() {
            if r.kind != Kind::Named {
                continue;
            }
            let seen = Newest {
                version: version_order(r.version),
                live: !r.deleted,
                md5: r.md5_hex.clone(),
                meta: r.meta.clone(),
            };
            match out.get(&key) {
                Some(n) if n.version >= seen.version => {}
                _ => {
                    out.insert(key, seen);
                }
            }
        }
    }
    out
}

/// Live objects only.
fn live(map: &BTreeMap<String, Newest>) -> BTreeMap<&String, &Newest> {
    map.iter().filter(|(_, n)| n.live).collect()
}

/// Whether A's live revision of `key` goes on `channel` (as a create event would).
pub fn on_channel(rules: &Rules, channel: &str, key: &str, n: &Newest) -> bool {
    let Some((object, domain, class)) = object_of(key, Kind::Named) else {
        return false;
    };
    let event = Event {
        seq: 0,
        object,
        domain,
        class,
        code: EventCode::Created,
        version_ms: 0,
        version_node: 0,
        created_ms: 0,
        meta: n.meta.clone(),
    };
    class == ObjectClass::Named && rules.matches(channel, &event)
}

fn same(key: &str, a: &Newest, b: &Newest, out: &mut Vec<Finding>) {
    if a.md5 != b.md5 {
        out.push(Finding {
            invariant: ReplicationInvariant::Holds,
            detail: format!("{key}: B holds content {} where A holds {}", b.md5, a.md5),
        });
    } else if a.meta != b.meta {
        out.push(Finding {
            invariant: ReplicationInvariant::Holds,
            detail: format!(
                "{key}: B's metadata {:?} differs from A's {:?}",
                b.meta, a.meta
            ),
        });
    }
}

/// One-way replication A → B on `channel`: every live channel-matching object of A is
/// live in B with the same bytes and metadata, and B holds nothing else live.
pub fn one_way(
    a: &BTreeMap<String, Newest>,
    b: &BTreeMap<String, Newest>,
    rules: &Rules,
    channel: &str,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let (a_live, b_live) = (live(a), live(b));
    for (key, n) in &a_live {
        if !on_channel(rules, channel, key, n) {
            continue;
        }
        match b_live.get(key) {
            Some(m) => same(key, n, m, &mut out),
            None => out.push(Finding {
                invariant: ReplicationInvariant::Holds,
                detail: format!("{key}: live in A ({}), not in B", n.md5),
            }),
        }
    }
    for (key, m) in &b_live {
        let wanted = a_live
            .get(key)
            .is_some_and(|n| on_channel(rules, channel, key, n));
        if !wanted {
            out.push(Finding {
                invariant: ReplicationInvariant::Deletes,
                detail: format!(
                    "{key}: live in B ({}) but {} in A",
                    m.md5,
                    if a.get(*key).is_some_and(|n| !n.live) {
                        "deleted"
                    } else if a_live.contains_key(key) {
                        "off the channel"
                    } else {
                        "absent"
                    }
                ),
            });
        }
    }
    out
}

/// Two-way replication on `PublishAll`: both clusters hold the same live objects, same
/// bytes and metadata.
pub fn both_ways(a: &BTreeMap<String, Newest>, b: &BTreeMap<String, Newest>) -> Vec<Finding> {
    let mut out = Vec::new();
    let (a_live, b_live) = (live(a), live(b));
    let keys: BTreeSet<&String> = a_live.keys().chain(b_live.keys()).copied().collect();
    for key in keys {
        match (a_live.get(key), b_live.get(key)) {
            (Some(x), Some(y)) => same(key, x, y, &mut out),
            (Some(x), None) => out.push(Finding {
                invariant: if b.contains_key(key) {
                    ReplicationInvariant::Deletes
                } else {
                    ReplicationInvariant::Holds
                },
                detail: format!("{key}: live in A ({}), not in B", x.md5),
            }),
            (None, Some(y)) => out.push(Finding {
                invariant: if a.contains_key(key) {
                    ReplicationInvariant::Deletes
                } else {
                    ReplicationInvariant::Holds
                },
                detail: format!("{key}: live in B ({}), not in A", y.md5),
            }),
            (None, None) => {}
        }
    }
    out
}

/// Every named version on the disks (key, version order): what "no new writes" compares.
pub fn versions(disks: &[SharedDisk]) -> BTreeSet<(String, u128)> {
    newest_named(disks)
        .into_iter()
        .map(|(k, n)| (k, n.version))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(version: u128, live: bool, md5: &str) -> Newest {
        Newest {
            version,
            live,
            md5: md5.into(),
            meta: BTreeMap::new(),
        }
    }

    #[test]
    fn one_way_finds_missing_stale_foreign_and_undeleted_objects() {
        let rules = Rules::parse("channel Rep bucket=rep\n").expect("valid");
        let a = BTreeMap::from([
            ("n//rep/x".to_string(), n(1, true, "aa")),
            ("n//rep/y".to_string(), n(2, true, "bb")),
            ("n//rep/z".to_string(), n(3, false, "")),
            ("n//other/w".to_string(), n(4, true, "cc")),
        ]);
        let mut b = BTreeMap::from([
            ("n//rep/x".to_string(), n(9, true, "aa")),
            ("n//rep/y".to_string(), n(9, true, "b2")),
            ("n//rep/z".to_string(), n(9, true, "dd")),
            ("n//other/w".to_string(), n(9, true, "cc")),
        ]);
        let found = one_way(&a, &b, &rules, "Rep");
        let kinds: Vec<_> = found
            .iter()
            .map(|f| (f.invariant, f.detail.clone()))
            .collect();
        assert_eq!(found.len(), 3, "{kinds:?}");
        // A's side first (y differs), then B's extra live objects in key order.
        assert!(found[0].detail.contains("n//rep/y"), "{kinds:?}");
        assert!(found[1].detail.starts_with("n//other/w"), "{kinds:?}");
        assert!(found[1].detail.contains("off the channel"), "{kinds:?}");
        assert!(found[2].detail.starts_with("n//rep/z"), "{kinds:?}");
        assert!(found[2].detail.contains("deleted in A"), "{kinds:?}");
        b.remove("n//rep/z");
        b.remove("n//other/w");
        b.insert("n//rep/y".into(), n(9, true, "bb"));
        assert_eq!(one_way(&a, &b, &rules, "Rep"), Vec::new());
        b.get_mut("n//rep/x")
            .expect("x")
            .meta
            .insert("x-a-meta".into(), "1".into());
        assert_eq!(one_way(&a, &b, &rules, "Rep").len(), 1);
    }

    #[test]
    fn both_ways_wants_the_same_live_objects_on_each_side() {
        let a = BTreeMap::from([("n//a/x".to_string(), n(1, true, "aa"))]);
        let b = BTreeMap::from([("n//b/y".to_string(), n(1, true, "bb"))]);
        assert_eq!(both_ways(&a, &b).len(), 2);
        assert_eq!(both_ways(&a, &a), Vec::new());
    }
}
