//! The invariants every run must keep, judged after the faults heal from the workload's
//! history, final reads, and the disks themselves.
//!
//! 1. Durability: every acknowledged write is readable with identical bytes, unless a later
//!    acknowledged write or delete replaced it (an unacknowledged one may have, too).
//! 2. Convergence: every live object has its policy count of good replicas on distinct nodes
//!    within a bounded time after healing, and every read then succeeds.
//! 3. Integrity: no UUID or version names two contents; no rotten replica survives repair.
//! 4. Order: updates of one name at least 1 s apart are applied in order (checked only when
//!    no clock faults ran: skew legitimately decides which version wins, SCSP-19).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::scsp::config::ClusterConfig;
use crate::scsp::object::{Record, Version};
use crate::scsp::records::Objects;
use crate::scsp::replication::policy_replicas;
use crate::store::{body_matches, Disk, SharedDisk};
use crate::workload::{History, Op, OpKind, OpResult, BUCKET};

/// Which invariant a violation breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Invariant {
    /// 1: acknowledged data survives.
    Durability,
    /// 2: replicas reach the policy count; reads work after healing.
    Convergence,
    /// 3: one UUID or version, one content; no rot survives.
    Integrity,
    /// 4: spaced updates keep their order.
    Order,
}

impl Invariant {
    /// Every invariant.
    pub const ALL: [Invariant; 4] = [
        Invariant::Durability,
        Invariant::Convergence,
        Invariant::Integrity,
        Invariant::Order,
    ];

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Invariant::Durability => "durability",
            Invariant::Convergence => "convergence",
            Invariant::Integrity => "integrity",
            Invariant::Order => "order",
        }
    }
}

impl fmt::Display for Invariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One broken invariant, with what was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The invariant.
    pub invariant: Invariant,
    /// What was wrong.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.invariant, self.detail)
    }
}

/// What a final read saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinalRead {
    /// 200 with a body of this digest.
    Found(String),
    /// 404.
    Missing,
    /// Anything else.
    Failed(String),
}

/// Milliseconds of a `Castor-System-Version` (`secs.mmm`).
pub fn version_ms(v: &str) -> Option<u64> {
    let (secs, ms) = v.trim().split_once('.')?;
    Some(secs.parse::<u64>().ok()? * 1000 + ms.parse::<u64>().ok()?)
}

fn version_of(op: &Op) -> Option<u64> {
    match &op.result {
        OpResult::Done {
            version: Some(v), ..
        } => version_ms(v),
        _ => None,
    }
}

fn name_of(op: &Op) -> Option<&str> {
    match &op.kind {
        OpKind::WriteNamed { name, .. } | OpKind::Delete { name } | OpKind::Read { name } => {
            Some(name)
        }
        OpKind::WriteUnnamed { .. } => None,
    }
}

/// Store key of a workload name.
pub fn named_key(name: &str) -> String {
    format!("n//{BUCKET}/{name}")
}

/// Durability of named objects: the final read of each name against what was acknowledged.
pub fn check_named(history: &History, finals: &BTreeMap<String, FinalRead>) -> Vec<Violation> {
    let mut out = Vec::new();
    for (name, seen) in finals {
        let updates: Vec<&Op> = history
            .ops
            .iter()
            .filter(|op| name_of(op) == Some(name.as_str()))
            .filter(|op| matches!(op.kind, OpKind::WriteNamed { .. } | OpKind::Delete { .. }))
            .collect();
        let mut allowed: BTreeSet<FinalRead> = BTreeSet::new();
        let acked: Vec<(&Op, u64)> = updates
            .iter()
            .filter_map(|op| version_of(op).map(|v| (*op, v)))
            .collect();
        match acked.iter().map(|(_, v)| *v).max() {
            Some(newest) => {
                for (op, _) in acked.iter().filter(|(_, v)| *v == newest) {
                    allowed.insert(expected_read(op));
                }
            }
            None => {
                allowed.insert(FinalRead::Missing);
            }
        }
        for op in updates
            .iter()
            .filter(|op| matches!(op.result, OpResult::Unknown { .. }))
        {
            allowed.insert(expected_read(op));
        }
        if let FinalRead::Failed(why) = seen {
            out.push(Violation {
                invariant: Invariant::Convergence,
                detail: format!("read of {name} after healing failed: {why}"),
            });
        } else if !allowed.contains(seen) {
            out.push(Violation {
                invariant: Invariant::Durability,
                detail: format!(
                    "{name} reads as {} after healing; acknowledged history allows only {}",
                    describe(seen),
                    allowed
                        .iter()
                        .map(describe)
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            });
        }
    }
    out
}

fn expected_read(op: &Op) -> FinalRead {
    match &op.kind {
        OpKind::WriteNamed { md5, .. } => FinalRead::Found(md5.clone()),
        _ => FinalRead::Missing,
    }
}

fn describe(r: &FinalRead) -> String {
    match r {
        FinalRead::Found(md5) => format!("content md5 {}", &md5[..8.min(md5.len())]),
        FinalRead::Missing => "404".to_string(),
        FinalRead::Failed(why) => format!("failure ({why})"),
    }
}

impl PartialOrd for FinalRead {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for FinalRead {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        describe(self)
            .cmp(&describe(other))
            .then_with(|| format!("{self:?}").cmp(&format!("{other:?}")))
    }
}

/// Durability of unnamed objects: every acknowledged UUID reads back with its content.
pub fn check_unnamed(history: &History, finals: &BTreeMap<String, FinalRead>) -> Vec<Violation> {
    let mut out = Vec::new();
    for op in &history.ops {
        let (
            OpKind::WriteUnnamed { md5 },
            OpResult::Done {
                uuid: Some(uuid), ..
            },
        ) = (&op.kind, &op.result)
        else {
            continue;
        };
        match finals.get(uuid) {
            Some(FinalRead::Found(seen)) if seen == md5 => {}
            Some(FinalRead::Failed(why)) => out.push(Violation {
                invariant: Invariant::Convergence,
                detail: format!("read of acknowledged {uuid} after healing failed: {why}"),
            }),
            Some(other) => out.push(Violation {
                invariant: Invariant::Durability,
                detail: format!(
                    "acknowledged {uuid} (op {}) reads as {}",
                    op.id,
                    describe(other)
                ),
            }),
            None => out.push(Violation {
                invariant: Invariant::Durability,
                detail: format!("acknowledged {uuid} (op {}) was never read back", op.id),
            }),
        }
    }
    out
}

/// A cheap test for the liveness phase's loop: every live object has its policy count of
/// copies of its newest version, and none of the `suspects` (copies the nemesis rotted)
/// still holds rotten bytes. Only the suspects are hashed; `check_disks` hashes everything
/// once at the end.
pub fn settled(
    cluster: &ClusterConfig,
    disks: &[SharedDisk],
    suspects: &[(usize, String)],
) -> bool {
    for (node, key) in suspects {
        let rotten = disks
            .get(*node)
            .and_then(|d| Disk::lock(d).get(key).map(|e| !e.intact()))
            .unwrap_or(false);
        if rotten {
            return false;
        }
    }
    let mut newest: BTreeMap<String, (Version, bool, usize, usize)> = BTreeMap::new();
    for disk in disks {
        for (key, r) in Objects::lock(disk).records() {
            let wanted = policy_replicas(cluster, &r).min(disks.len());
            let entry = newest
                .entry(key.clone())
                .or_insert((r.version, r.deleted, 0, wanted));
            if r.version > entry.0 {
                *entry = (r.version, r.deleted, 1, wanted);
            } else if r.version == entry.0 {
                entry.2 += 1;
            }
        }
    }
    newest
        .values()
        .all(|(_, deleted, count, wanted)| *deleted || count >= wanted)
}

/// Replica counts and integrity from the disks themselves.
pub fn check_disks(cluster: &ClusterConfig, disks: &[SharedDisk]) -> Vec<Violation> {
    let mut by_key: BTreeMap<String, Vec<(usize, Record)>> = BTreeMap::new();
    for (i, disk) in disks.iter().enumerate() {
        for (key, record) in Objects::lock(disk).records() {
            by_key.entry(key).or_default().push((i, record));
        }
    }
    let mut out = Vec::new();
    for (key, copies) in &by_key {
        let mut digests_by_version: BTreeMap<Version, BTreeSet<&str>> = BTreeMap::new();
        for (_, r) in copies {
            digests_by_version
                .entry(r.version)
                .or_default()
                .insert(r.md5_hex.as_str());
        }
        for (version, digests) in &digests_by_version {
            if digests.len() > 1 {
                out.push(Violation {
                    invariant: Invariant::Integrity,
                    detail: format!(
                        "{key} version {} has {} different contents",
                        version.castor_system_version(),
                        digests.len()
                    ),
                });
            }
        }
        if key.starts_with("u/") {
            // An immutable UUID names one content for life; alias UUIDs change content by
            // design, and a deletion marker has none.
            let all: BTreeSet<&str> = copies
                .iter()
                .filter(|(_, r)| r.kind == crate::scsp::object::Kind::Immutable && !r.deleted)
                .map(|(_, r)| r.md5_hex.as_str())
                .collect();
            if all.len() > 1 {
                out.push(Violation {
                    invariant: Invariant::Integrity,
                    detail: format!("UUID {key} names {} different contents", all.len()),
                });
            }
        }
        let Some(newest) = copies.iter().map(|(_, r)| r.version).max() else {
            continue;
        };
        let current: Vec<&(usize, Record)> =
            copies.iter().filter(|(_, r)| r.version == newest).collect();
        for (node, r) in &current {
            if !body_matches(&r.content, &r.md5_hex) {
                out.push(Violation {
                    invariant: Invariant::Integrity,
                    detail: format!(
                        "rotten replica of {key} on node{} survived repair",
                        node + 1
                    ),
                });
            }
        }
        let Some((_, sample)) = current.first() else {
            continue;
        };
        if sample.deleted {
            continue;
        }
        let good = current
            .iter()
            .filter(|(_, r)| body_matches(&r.content, &r.md5_hex))
            .count();
        let wanted = policy_replicas(cluster, sample).min(disks.len());
        if good < wanted {
            out.push(Violation {
                invariant: Invariant::Convergence,
                detail: format!("{key} has {good} good replicas of its newest version after healing; policy wants {wanted}"),
            });
        }
    }
    out
}

/// Order of spaced updates (invariant 4).
pub fn check_order(history: &History, gap: std::time::Duration) -> Vec<Violation> {
    let mut by_name: BTreeMap<&str, Vec<(&Op, u64)>> = BTreeMap::new();
    for op in &history.ops {
        if !matches!(op.kind, OpKind::WriteNamed { .. } | OpKind::Delete { .. }) {
            continue;
        }
        if let (Some(name), Some(v)) = (name_of(op), version_of(op)) {
            by_name.entry(name).or_default().push((op, v));
        }
    }
    let mut out = Vec::new();
    for (name, mut acked) in by_name {
        acked.sort_by_key(|(op, _)| op.completed);
        for pair in acked.windows(2) {
            let ((a, va), (b, vb)) = (pair[0], pair[1]);
            if b.invoked >= a.completed + gap && vb <= va {
                out.push(Violation {
                    invariant: Invariant::Order,
                    detail: format!(
                        "{name}: op {} (version {vb} ms) was acknowledged after op {} (version {va} ms) but is not newer",
                        b.id, a.id
                    ),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn op(id: usize, kind: OpKind, result: OpResult, at_ms: u64) -> Op {
        Op {
            id,
            kind,
            node: 0,
            invoked: Duration::from_millis(at_ms),
            completed: Duration::from_millis(at_ms + 10),
            result,
        }
    }

    fn write(id: usize, md5: &str, version: Option<&str>, at_ms: u64) -> Op {
        let result = match version {
            Some(v) => OpResult::Done {
                status: 201,
                version: Some(v.into()),
                uuid: None,
                body_md5: None,
            },
            None => OpResult::Unknown {
                why: "timeout".into(),
            },
        };
        op(
            id,
            OpKind::WriteNamed {
                name: "n0".into(),
                md5: md5.into(),
            },
            result,
            at_ms,
        )
    }

    #[test]
    fn the_newest_acknowledged_write_must_survive() {
        let history = History {
            ops: vec![
                write(0, "aaa", Some("100.000"), 0),
                write(1, "bbb", Some("102.000"), 2000),
            ],
        };
        let ok = BTreeMap::from([("n0".to_string(), FinalRead::Found("bbb".into()))]);
        assert!(check_named(&history, &ok).is_empty());
        let lost = BTreeMap::from([("n0".to_string(), FinalRead::Found("aaa".into()))]);
        let v = check_named(&history, &lost);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].invariant, Invariant::Durability);
        let gone = BTreeMap::from([("n0".to_string(), FinalRead::Missing)]);
        assert_eq!(check_named(&history, &gone).len(), 1);
    }

    #[test]
    fn an_unacknowledged_write_may_win() {
        let history = History {
            ops: vec![
                write(0, "aaa", Some("100.000"), 0),
                write(1, "ccc", None, 2000),
            ],
        };
        for seen in ["aaa", "ccc"] {
            let finals = BTreeMap::from([("n0".to_string(), FinalRead::Found(seen.into()))]);
            assert!(check_named(&history, &finals).is_empty(), "{seen}");
        }
    }

    #[test]
    fn spaced_updates_must_be_ordered() {
        let history = History {
            ops: vec![
                write(0, "a", Some("105.000"), 0),
                write(1, "b", Some("104.000"), 2000),
            ],
        };
        let v = check_order(&history, Duration::from_secs(1));
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].invariant, Invariant::Order);
        let close = History {
            ops: vec![
                write(0, "a", Some("105.000"), 0),
                write(1, "b", Some("104.000"), 500),
            ],
        };
        assert!(check_order(&close, Duration::from_secs(1)).is_empty());
    }

    #[test]
    fn versions_parse() {
        assert_eq!(version_ms("1287187180.959"), Some(1_287_187_180_959));
        assert_eq!(version_ms("x"), None);
    }
}
