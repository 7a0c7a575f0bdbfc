//! Replicate-on-write (SCSP-7..10): how many synchronous replicas a request asks for, how
//! many it needs to succeed, and pushing them.

use std::fmt::Write as _;

use crate::scsp::config::{ClusterConfig, NodeContext};
use crate::scsp::defects::Defect;
use crate::scsp::metadata::lifepoint_reps;
use crate::scsp::object::{Kind, Record};
use crate::scsp::peer;
use crate::scsp::query::Query;

/// The replica arithmetic of one write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncPlan {
    /// Replicas the object should end up with (lifepoint `reps=` or the policy).
    pub policy_replicas: usize,
    /// Replicas to make before answering.
    pub sync_replicas: usize,
    /// Fewest completed replicas that still count as success.
    pub success_min: usize,
    /// Nodes that must be found before writing at all.
    pub nodes_min: usize,
}

/// Why a `replicate=` value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadReplicate(pub String);

/// The policy count for a record: contexts live on every node; objects follow the lifepoint
/// or the cluster policy.
pub fn policy_replicas(cluster: &ClusterConfig, record: &Record) -> usize {
    if record.kind.is_context() {
        cluster.nodes.len()
    } else {
        lifepoint_reps(&record.meta).unwrap_or(cluster.policy_replicas)
    }
}

/// Works out the plan from `replicate=` (SCSP-9) and the kind (SCSP-7, SCSP-8).
pub fn plan(
    cluster: &ClusterConfig,
    record: &Record,
    query: &Query,
) -> Result<SyncPlan, BadReplicate> {
    let policy = policy_replicas(cluster, record).max(1);
    let asked = match query.get("replicate") {
        _ if cluster.has(Defect::IgnoreReplicateArgument) => cluster.default_sync_replicas,
        None if record.kind == Kind::Immutable
            && cluster.has(Defect::SingleReplicaUnnamedDefault) =>
        {
            1
        }
        None => cluster.default_sync_replicas,
        Some(v) if v.eq_ignore_ascii_case("immediate") => {
            if cluster.has(Defect::ReplicateImmediateMeansFull) {
                policy
            } else {
                2
            }
        }
        Some(v) if v.eq_ignore_ascii_case("full") => {
            if cluster.has(Defect::ReplicateFullIgnoresLifepoint) {
                cluster.policy_replicas
            } else {
                policy
            }
        }
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n >= 1 => n,
            _ => {
                return Err(BadReplicate(format!(
                    "replicate={v} is not `immediate`, `full` or a positive integer"
                )))
            }
        },
    };
    let sync_replicas = if record.kind.is_context() {
        policy
    } else if cluster.has(Defect::ReplicateNotCapped) {
        asked.max(1)
    } else {
        asked.min(policy).max(1)
    };
    let named_as_immutable =
        record.kind == Kind::Named && cluster.has(Defect::NamedWriteNeedsTwoReplicas);
    let success_min = match record.kind {
        Kind::Immutable if !cluster.has(Defect::AcceptSingleReplicaUnnamed) => sync_replicas.min(2),
        _ if named_as_immutable => 2,
        _ => 1,
    };
    let nodes_min = if cluster.has(Defect::AcceptSingleReplicaUnnamed) {
        1
    } else if named_as_immutable {
        2
    } else {
        sync_replicas.min(2)
    };
    Ok(SyncPlan {
        policy_replicas: policy,
        sync_replicas,
        success_min,
        nodes_min,
    })
}

/// Pushes `record` to `candidates` in order until `wanted` of them hold it. Returns the
/// nodes that acknowledged.
pub async fn push_to(
    ctx: &NodeContext,
    record: &Record,
    candidates: &[usize],
    wanted: usize,
) -> Vec<usize> {
    let mut done = Vec::new();
    for &node in candidates {
        if done.len() >= wanted {
            break;
        }
        if node == ctx.id {
            continue;
        }
        let addr = ctx.cluster.nodes[node];
        match peer::push(&ctx.pool, addr, record, ctx.cluster.peer_timeout).await {
            Ok(()) => done.push(node),
            Err(e) => {
                // "replica of {key} to node{n} failed: {e}", the fixed parts without the
                // formatter.
                let mut event = String::with_capacity(record.key.len() + 64);
                event.push_str("replica of ");
                event.push_str(&record.key);
                event.push_str(" to node");
                event.push_str(itoa::Buffer::new().format(node + 1));
                event.push_str(" failed: ");
                let _ = write!(event, "{e}");
                ctx.trace(event);
            }
        }
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scsp::object::Version;
    use std::collections::BTreeMap;

    fn cluster() -> ClusterConfig {
        let nodes = (1..=4)
            .map(|i| format!("10.0.0.{i}:80").parse().expect("literal address"))
            .collect();
        ClusterConfig::new(nodes)
    }

    fn record(kind: Kind, lifepoint: Option<&str>) -> Record {
        let mut meta = BTreeMap::new();
        if let Some(l) = lifepoint {
            meta.insert("lifepoint".to_string(), l.to_string());
        }
        Record {
            key: "k".into(),
            kind,
            version: Version {
                stamp_ms: 1,
                node: 0,
            },
            deleted: false,
            meta,
            md5_hex: String::new(),
            content: bytes::Bytes::new(),
        }
    }

    fn sync(kind: Kind, lifepoint: Option<&str>, query: &str) -> SyncPlan {
        plan(&cluster(), &record(kind, lifepoint), &Query::parse(query)).expect("valid")
    }

    #[test]
    fn replicate_argument_is_capped_by_policy() {
        assert_eq!(sync(Kind::Named, None, "").sync_replicas, 2);
        assert_eq!(sync(Kind::Named, None, "replicate=3").sync_replicas, 2);
        assert_eq!(sync(Kind::Named, None, "replicate=1").sync_replicas, 1);
        assert_eq!(
            sync(Kind::Named, None, "replicate=IMMEDIATE").sync_replicas,
            2
        );
        assert_eq!(
            sync(Kind::Named, Some("[] reps=3"), "replicate=full").sync_replicas,
            3
        );
        assert_eq!(
            sync(Kind::Named, Some("[] reps=3"), "replicate=3").sync_replicas,
            3
        );
        assert_eq!(sync(Kind::Bucket, None, "").sync_replicas, 4);
    }

    #[test]
    fn immutable_objects_need_two_replicas_unless_one_was_asked() {
        assert_eq!(sync(Kind::Immutable, None, "").success_min, 2);
        assert_eq!(sync(Kind::Immutable, None, "replicate=1").success_min, 1);
        assert_eq!(sync(Kind::Named, None, "").success_min, 1);
        assert_eq!(sync(Kind::Alias, None, "").success_min, 1);
        assert_eq!(sync(Kind::Named, None, "").nodes_min, 2);
    }

    #[test]
    fn bad_replicate_values_are_refused() {
        for v in ["0", "-1", "many"] {
            let q = Query::parse(&format!("replicate={v}"));
            assert!(
                plan(&cluster(), &record(Kind::Named, None), &q).is_err(),
                "{v}"
            );
        }
    }
}
