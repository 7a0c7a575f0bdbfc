//! The fault vocabulary shared by scripted schedules, the nemesis and scenario files.
//!
//! Faults address hosts by their index in the world (clusters in the order they were built,
//! hosts in order inside each: in a one-cluster world, the node index), clusters by name, and
//! links as a cluster's LAN or the WAN link between two clusters. Every fault is recoverable
//! by default: the world refuses to rot or lose the last good copy of anything.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One fault or repair, applied to the simulated world at a point in simulated time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "fault", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// Power loss: the node stops at once and its unsynced bytes are gone.
    Crash {
        /// Node index.
        node: usize,
    },
    /// Start a crashed or lost node again from its disk.
    Restart {
        /// Node index.
        node: usize,
    },
    /// Freeze a node (its tasks stop; its sockets stay open).
    Pause {
        /// Node index.
        node: usize,
    },
    /// Unfreeze a paused node.
    Resume {
        /// Node index.
        node: usize,
    },
    /// Split the nodes into groups that cannot reach each other (both directions).
    Partition {
        /// The groups; nodes not listed form one more group.
        groups: Vec<Vec<usize>>,
    },
    /// Messages from `from` to `to` are held; the other direction still works.
    PartitionOneWay {
        /// Sending side.
        from: usize,
        /// Receiving side.
        to: usize,
    },
    /// Cut one node off from every other node (the client can still reach it).
    Isolate {
        /// Node index.
        node: usize,
    },
    /// Cut the WAN link between two clusters in both directions: no host or client of one
    /// reaches the other. Each cluster's LAN keeps working.
    PartitionWan {
        /// One cluster.
        a: String,
        /// The other.
        b: String,
    },
    /// Hold what cluster `from` sends to cluster `to` over their WAN link; the other
    /// direction still works.
    PartitionWanOneWay {
        /// Sending cluster.
        from: String,
        /// Receiving cluster.
        to: String,
    },
    /// Split one cluster's LAN into groups of its hosts (indices inside the cluster); the
    /// WAN links, other clusters and clients are untouched.
    PartitionLan {
        /// The cluster.
        cluster: String,
        /// The groups; hosts not listed form one more group.
        groups: Vec<Vec<usize>>,
    },
    /// Remove every partition.
    Heal,
    /// Lose this share of sends on one link (each is resent after a timeout, as TCP does).
    LinkLoss {
        /// The cluster whose LAN it is, or one end of the WAN link.
        cluster: String,
        /// The other end of the WAN link; absent for the cluster's LAN.
        peer: Option<String>,
        /// Per-mille of sends lost (0 ends the fault).
        permille: u32,
    },
    /// Add this one-way latency range to one link.
    LinkLatency {
        /// The cluster whose LAN it is, or one end of the WAN link.
        cluster: String,
        /// The other end of the WAN link; absent for the cluster's LAN.
        peer: Option<String>,
        /// Least extra latency in milliseconds.
        min_ms: u64,
        /// Most extra latency in milliseconds (0 ends the fault).
        max_ms: u64,
    },
    /// Drop this share of packets on every link (in per-mille, 0..=1000).
    Loss {
        /// Per-mille of packets lost.
        permille: u32,
    },
    /// Set the one-way latency range of every link.
    Latency {
        /// Least latency in milliseconds.
        min_ms: u64,
        /// Most latency in milliseconds.
        max_ms: u64,
    },
    /// Set a node's clock offset from the world clock.
    Skew {
        /// Node index.
        node: usize,
        /// Offset in milliseconds (positive = ahead).
        ms: i64,
    },
    /// Move a node's clock by this much, relative to its current offset.
    Jump {
        /// Node index.
        node: usize,
        /// Change in milliseconds (negative jumps back).
        ms: i64,
    },
    /// The node's disk is full from now on (writes there fail; SCSP-15).
    DiskFull {
        /// Node index.
        node: usize,
    },
    /// The node's disk has its normal size again.
    DiskFree {
        /// Node index.
        node: usize,
    },
    /// Flip a byte of one stored replica on the node (a key that has a good copy elsewhere,
    /// unless `key` names one).
    BitRot {
        /// Node index.
        node: usize,
        /// The store key to rot; `None` lets the world pick a recoverable one.
        key: Option<String>,
    },
    /// The node and its disk are lost and replaced by an empty node (only when every record
    /// on it has a good copy elsewhere).
    Lose {
        /// Node index.
        node: usize,
    },
}

impl Fault {
    /// The kind, for knobs and summaries.
    pub fn kind(&self) -> FaultKind {
        match self {
            Fault::Crash { .. } | Fault::Restart { .. } => FaultKind::Crash,
            Fault::Pause { .. } | Fault::Resume { .. } => FaultKind::Pause,
            Fault::Partition { .. }
            | Fault::PartitionOneWay { .. }
            | Fault::Isolate { .. }
            | Fault::PartitionWan { .. }
            | Fault::PartitionWanOneWay { .. }
            | Fault::PartitionLan { .. }
            | Fault::Heal => FaultKind::Partition,
            Fault::Loss { .. } | Fault::LinkLoss { .. } => FaultKind::Loss,
            Fault::Latency { .. } | Fault::LinkLatency { .. } => FaultKind::Latency,
            Fault::Skew { .. } | Fault::Jump { .. } => FaultKind::Clock,
            Fault::DiskFull { .. } | Fault::DiskFree { .. } => FaultKind::DiskFull,
            Fault::BitRot { .. } => FaultKind::BitRot,
            Fault::Lose { .. } => FaultKind::Lose,
        }
    }

    /// True for the actions that undo a fault (they are not counted as injected faults).
    pub fn is_repair(&self) -> bool {
        matches!(
            self,
            Fault::Restart { .. } | Fault::Resume { .. } | Fault::Heal | Fault::DiskFree { .. }
        ) || matches!(
            self,
            Fault::Loss { permille: 0 }
                | Fault::LinkLoss { permille: 0, .. }
                | Fault::LinkLatency { max_ms: 0, .. }
        )
    }
}

/// A link as text: `east` (its LAN) or `east~west` (the WAN link).
fn link_name(cluster: &str, peer: &Option<String>) -> String {
    match peer {
        Some(p) => format!("{cluster}~{p}"),
        None => cluster.to_string(),
    }
}

fn groups_text(groups: &[Vec<usize>]) -> String {
    let shown: Vec<String> = groups
        .iter()
        .map(|g| {
            g.iter()
                .map(|i| format!("node{}", i + 1))
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    format!("[{}]", shown.join("] ["))
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = |i: &usize| i + 1;
        match self {
            Fault::Crash { node } => write!(f, "crash node{}", n(node)),
            Fault::Restart { node } => write!(f, "restart node{}", n(node)),
            Fault::Pause { node } => write!(f, "pause node{}", n(node)),
            Fault::Resume { node } => write!(f, "resume node{}", n(node)),
            Fault::Partition { groups } => write!(f, "partition {}", groups_text(groups)),
            Fault::PartitionWan { a, b } => write!(f, "partition wan {a} <-> {b}"),
            Fault::PartitionWanOneWay { from, to } => write!(f, "partition wan {from} -> {to}"),
            Fault::PartitionLan { cluster, groups } => {
                write!(f, "partition lan {cluster} {}", groups_text(groups))
            }
            Fault::LinkLoss {
                cluster,
                peer,
                permille,
            } => write!(f, "loss {} {permille}‰", link_name(cluster, peer)),
            Fault::LinkLatency {
                cluster,
                peer,
                min_ms,
                max_ms,
            } => write!(
                f,
                "latency {} +{min_ms}..{max_ms} ms",
                link_name(cluster, peer)
            ),
            Fault::PartitionOneWay { from, to } => {
                write!(f, "partition node{} -> node{}", n(from), n(to))
            }
            Fault::Isolate { node } => write!(f, "isolate node{}", n(node)),
            Fault::Heal => write!(f, "heal"),
            Fault::Loss { permille } => write!(f, "loss {permille}‰"),
            Fault::Latency { min_ms, max_ms } => write!(f, "latency {min_ms}..{max_ms} ms"),
            Fault::Skew { node, ms } => write!(f, "skew node{} {ms:+} ms", n(node)),
            Fault::Jump { node, ms } => write!(f, "jump node{} {ms:+} ms", n(node)),
            Fault::DiskFull { node } => write!(f, "disk-full node{}", n(node)),
            Fault::DiskFree { node } => write!(f, "disk-free node{}", n(node)),
            Fault::BitRot { node, key: Some(k) } => write!(f, "bitrot node{} {k}", n(node)),
            Fault::BitRot { node, key: None } => write!(f, "bitrot node{}", n(node)),
            Fault::Lose { node } => write!(f, "lose node{}", n(node)),
        }
    }
}

/// A family of faults, for the nemesis knobs and summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// Crash and restart.
    Crash,
    /// Pause and resume.
    Pause,
    /// Partitions of every shape, and heal.
    Partition,
    /// Packet loss.
    Loss,
    /// Latency changes.
    Latency,
    /// Clock skew and jumps.
    Clock,
    /// Full disks.
    DiskFull,
    /// Bit rot of one replica.
    BitRot,
    /// Losing a node with its disk.
    Lose,
}

impl FaultKind {
    /// Every kind, in a stable order.
    pub const ALL: [FaultKind; 9] = [
        FaultKind::Crash,
        FaultKind::Pause,
        FaultKind::Partition,
        FaultKind::Loss,
        FaultKind::Latency,
        FaultKind::Clock,
        FaultKind::DiskFull,
        FaultKind::BitRot,
        FaultKind::Lose,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Crash => "crash",
            FaultKind::Pause => "pause",
            FaultKind::Partition => "partition",
            FaultKind::Loss => "loss",
            FaultKind::Latency => "latency",
            FaultKind::Clock => "clock",
            FaultKind::DiskFull => "disk-full",
            FaultKind::BitRot => "bitrot",
            FaultKind::Lose => "lose",
        }
    }

    /// Parses a comma-separated list; `all` means every kind, `none` none.
    pub fn parse_list(list: &str) -> Result<BTreeSet<FaultKind>, String> {
        let mut out = BTreeSet::new();
        for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "all" => out.extend(FaultKind::ALL),
                "none" => {}
                other => {
                    out.insert(other.parse()?);
                }
            }
        }
        Ok(out)
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FaultKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FaultKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = FaultKind::ALL.iter().map(|k| k.name()).collect();
                format!(
                    "unknown fault kind `{s}`; known: all, none, {}",
                    names.join(", ")
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_from_lists() {
        let all = FaultKind::parse_list("all").expect("all");
        assert_eq!(all.len(), FaultKind::ALL.len());
        let two = FaultKind::parse_list("crash, bitrot").expect("two");
        assert_eq!(two, BTreeSet::from([FaultKind::Crash, FaultKind::BitRot]));
        assert!(FaultKind::parse_list("crash,nope")
            .unwrap_err()
            .contains("known"));
        assert!(FaultKind::parse_list("none").expect("none").is_empty());
    }

    #[test]
    fn faults_round_trip_through_serde() {
        let f = Fault::Partition {
            groups: vec![vec![0, 1], vec![2]],
        };
        let json = serde_json::to_string(&f).expect("serialize");
        assert_eq!(json, r#"{"fault":"partition","groups":[[0,1],[2]]}"#);
        assert_eq!(serde_json::from_str::<Fault>(&json).expect("parse"), f);
        assert!(serde_json::from_str::<Fault>(r#"{"fault":"crash","node":1,"x":2}"#).is_err());
        assert_eq!(f.to_string(), "partition [node1,node2] [node3]");
        assert!(Fault::Heal.is_repair());
        let wan: Fault = serde_json::from_str(r#"{"fault":"partition_wan","a":"east","b":"west"}"#)
            .expect("wan");
        assert_eq!(wan.to_string(), "partition wan east <-> west");
        assert_eq!(wan.kind(), FaultKind::Partition);
        let lan_loss: Fault =
            serde_json::from_str(r#"{"fault":"link_loss","cluster":"east","permille":0}"#)
                .expect("loss without a peer is the LAN");
        assert!(lan_loss.is_repair());
        assert_eq!(lan_loss.to_string(), "loss east 0‰");
        assert!(!Fault::Crash { node: 0 }.is_repair());
    }
}
