//! Replica recovery through simulated clusters (issue 14): each RSE is one simulated SCSP
//! cluster, and a replica's bytes are the SCSP object at its deterministic PFN's path
//! (`https://east.replisim.test:443/rucio/test/f1` → `/rucio/test/f1` on cluster `east`).
//!
//! One [`recover`] round is what Rucio's daemons do between them, on the simulated clock:
//! minos and its expiration pass (TEMPORARY_UNAVAILABLE ends when its expiry has come), an
//! auditor that reads every AVAILABLE replica's bytes from its cluster (gone → BAD;
//! cluster unreachable → TEMPORARY_UNAVAILABLE for a while), and the necromancer, whose
//! re-replication copies the bytes from a good RSE's cluster to the bad one's over SCSP,
//! or which marks the file lost when no good copy is left; then the judge-cleaner, which
//! ends expired rules and tombstones the replicas they released, and the reaper, which
//! deletes tombstoned replicas' bytes from their cluster and then their rows (RUC-24).
//! The property the recovery tests
//! hold it to: once a round has run with the clusters reachable, the catalog reports no
//! replica AVAILABLE whose bytes are gone.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Method, StatusCode};

use crate::http::pool::Pool;
use crate::rucio::catalog::{BadReplica, Catalog, Did};
use crate::rucio::daemons::Recovery;
use crate::rucio::defects::Defect;
use crate::rucio::server::SharedCatalog;
use crate::rucio::state::ReplicaState;
use crate::workload::send_following;

/// The SCSP bucket every RSE keeps its files in (the PFNs' first path segment).
pub const BUCKET: &str = "rucio";

/// Where a replica's bytes live: the SCSP path of its deterministic PFN.
pub fn object_path(scope: &str, name: &str) -> String {
    format!("/{BUCKET}/{scope}/{name}")
}

/// What reading a replica's bytes found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// The object, whole.
    Present(Bytes),
    /// The cluster answered that it has no such object.
    Gone,
    /// No node of the cluster answered.
    Unreachable(String),
}

/// The RSEs' clusters, reached over SCSP from wherever the daemons run.
pub struct Storage {
    clusters: BTreeMap<String, Vec<SocketAddr>>,
    pool: Pool,
    timeout: Duration,
}

impl Storage {
    /// `clusters`: RSE name → its cluster's node addresses.
    pub fn new(clusters: BTreeMap<String, Vec<SocketAddr>>, timeout: Duration) -> Self {
        Self {
            clusters,
            pool: Pool::new(),
            timeout,
        }
    }

    async fn send(
        &self,
        rse: &str,
        method: Method,
        target: &str,
        body: Bytes,
    ) -> Result<(StatusCode, Bytes), String> {
        let nodes = self
            .clusters
            .get(rse)
            .ok_or_else(|| format!("RSE {rse} has no cluster"))?;
        let mut last = format!("cluster of {rse} has no nodes");
        for &addr in nodes {
            match send_following(
                &self.pool,
                addr,
                method.clone(),
                target,
                body.clone(),
                self.timeout,
            )
            .await
            {
                Ok(answer) if answer.status.is_server_error() => {
                    last = format!("{addr}: {}", answer.status);
                }
                Ok(answer) => return Ok((answer.status, answer.body)),
                Err(e) => last = format!("{addr}: {e}"),
            }
        }
        Err(last)
    }

    /// Whether `rse` has a cluster (an RSE without one stores no bytes here).
    pub fn serves(&self, rse: &str) -> bool {
        self.clusters.contains_key(rse)
    }

    /// Creates the bucket on every RSE's cluster (an existing one is fine).
    pub async fn prepare(&self) -> Result<(), String> {
        for rse in self.clusters.keys() {
            let (status, _) = self
                .send(rse, Method::POST, &format!("/{BUCKET}"), Bytes::new())
                .await?;
            if !(status.is_success() || status == StatusCode::CONFLICT) {
                return Err(format!("creating bucket {BUCKET} on {rse}: {status}"));
            }
        }
        Ok(())
    }

    /// Writes a replica's bytes to its RSE's cluster.
    pub async fn put(&self, rse: &str, scope: &str, name: &str, body: Bytes) -> Result<(), String> {
        let (status, _) = self
            .send(rse, Method::POST, &object_path(scope, name), body)
            .await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("writing {scope}:{name} to {rse}: {status}"))
        }
    }

    /// Reads a replica's bytes from its RSE's cluster.
    pub async fn get(&self, rse: &str, scope: &str, name: &str) -> Found {
        match self
            .send(rse, Method::GET, &object_path(scope, name), Bytes::new())
            .await
        {
            Ok((StatusCode::OK, body)) => Found::Present(body),
            Ok((StatusCode::NOT_FOUND, _)) => Found::Gone,
            Ok((status, _)) => Found::Unreachable(format!("answered {status}")),
            Err(e) => Found::Unreachable(e),
        }
    }

    /// Deletes a replica's bytes (an operator or a failing site losing them).
    pub async fn delete(&self, rse: &str, scope: &str, name: &str) -> Result<(), String> {
        let (status, _) = self
            .send(rse, Method::DELETE, &object_path(scope, name), Bytes::new())
            .await?;
        if status.is_success() || status == StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(format!("deleting {scope}:{name} on {rse}: {status}"))
        }
    }
}

/// What one round did, for tests and traces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Round {
    /// AVAILABLE replicas whose bytes were gone: declared BAD.
    pub found_gone: Vec<(Did, String)>,
    /// AVAILABLE replicas whose cluster did not answer: TEMPORARY_UNAVAILABLE.
    pub made_unavailable: Vec<(Did, String)>,
    /// BAD replicas copied back from another RSE: AVAILABLE again.
    pub replicated: Vec<(Did, String)>,
    /// Files with no good copy left.
    pub lost: Vec<Did>,
    /// Copies that failed (the replica is BAD again; the next round retries).
    pub copy_failed: Vec<(Did, String, String)>,
    /// Rules whose lifetime ended (the judge-cleaner).
    pub expired_rules: Vec<String>,
    /// Replicas deleted by the reaper: bytes, then row.
    pub reaped: Vec<(Did, String)>,
    /// Deletions whose bytes could not be deleted (the replica stays BEING_DELETED; the
    /// next round retries).
    pub reap_failed: Vec<(Did, String, String)>,
}

impl Catalog {
    /// The auditor's verdict on a replica whose bytes are gone: BAD, with a bad-replica
    /// record, whatever its state was.
    fn bytes_gone(&mut self, did: &Did, rse: &str, now: SystemTime) {
        let key = (did.0.clone(), did.1.clone(), rse.to_string());
        if let Some(r) = self.replicas.get_mut(&key) {
            r.state = ReplicaState::Bad;
            r.expires_at = None;
            self.bad_replicas.push(BadReplica {
                did: did.clone(),
                rse: rse.to_string(),
                reason: "auditor: the bytes are gone".into(),
                account: "root".into(),
                at: now,
            });
        }
    }

    /// The auditor's verdict on a replica its cluster does not serve right now.
    fn unreachable_until(&mut self, did: &Did, rse: &str, until: SystemTime) {
        let key = (did.0.clone(), did.1.clone(), rse.to_string());
        if let Some(r) = self.replicas.get_mut(&key) {
            if r.state == ReplicaState::Available {
                r.state = ReplicaState::TemporaryUnavailable;
                r.expires_at = Some(until);
            }
        }
    }

    /// A failed recovery copy: the replica is BAD again.
    fn copy_failed(&mut self, did: &Did, rse: &str) {
        let key = (did.0.clone(), did.1.clone(), rse.to_string());
        if let Some(r) = self.replicas.get_mut(&key) {
            if r.state == ReplicaState::Copying {
                r.state = ReplicaState::Bad;
            }
        }
    }

    /// Every AVAILABLE replica with its size: what the auditor reads.
    fn available_replicas(&self) -> Vec<(Did, String, u64)> {
        self.replicas
            .iter()
            .filter(|(_, r)| r.state == ReplicaState::Available)
            .map(|((s, n, rse), _)| {
                let bytes = self.did(s, n).map_or(0, |d| d.bytes);
                ((s.clone(), n.clone()), rse.clone(), bytes)
            })
            .collect()
    }
}

fn locked(catalog: &SharedCatalog) -> std::sync::MutexGuard<'_, Catalog> {
    catalog.lock().unwrap_or_else(|p| p.into_inner())
}

/// How the daemons of a round behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryConfig {
    /// How long a replica whose cluster does not answer stays TEMPORARY_UNAVAILABLE.
    pub unavailable_for: Duration,
    /// Whether the auditor reads the AVAILABLE replicas' bytes. Without it (Rucio without
    /// its consistency checks) the catalog trusts its states, and the recovery tests show
    /// what that costs.
    pub audit: bool,
}

impl Default for RecoveryConfig {
    /// Ten minutes of TEMPORARY_UNAVAILABLE, auditor on.
    fn default() -> Self {
        Self {
            unavailable_for: Duration::from_secs(600),
            audit: true,
        }
    }
}

/// One round of minos, the auditor, the necromancer, the judge-cleaner and the reaper at
/// `now` (the simulated clock).
pub async fn recover(
    catalog: &SharedCatalog,
    storage: &Storage,
    now: SystemTime,
    config: RecoveryConfig,
) -> Round {
    let mut round = Round::default();
    let audit = {
        let mut c = locked(catalog);
        c.stamp_created(now);
        c.run_minos(now);
        c.expire_temporary_unavailable(now);
        if config.audit {
            c.available_replicas()
        } else {
            Vec::new()
        }
    };
    // The lock is never held across a request: the catalog keeps serving meanwhile.
    for (did, rse, size) in audit {
        let found = storage.get(&rse, &did.0, &did.1).await;
        let mut c = locked(catalog);
        match found {
            Found::Present(b) if b.len() as u64 == size => {}
            Found::Present(_) | Found::Gone => {
                c.bytes_gone(&did, &rse, now);
                round.found_gone.push((did, rse));
            }
            Found::Unreachable(_) => {
                c.unreachable_until(&did, &rse, now + config.unavailable_for);
                round.made_unavailable.push((did, rse));
            }
        }
    }
    let (actions, no_copy) = {
        let mut c = locked(catalog);
        let no_copy = c.defects.contains(&Defect::NecromancerNoCopy);
        (c.run_necromancer(), no_copy)
    };
    for action in actions {
        match action {
            Recovery::Lost { did, .. } => round.lost.push(did),
            Recovery::Replicate { did, rse, .. } if no_copy => {
                locked(catalog).recovered(&did, &rse);
                round.replicated.push((did, rse));
            }
            Recovery::Replicate { did, rse, source } => {
                let copied = match storage.get(&source, &did.0, &did.1).await {
                    Found::Present(body) => storage.put(&rse, &did.0, &did.1, body).await,
                    Found::Gone => Err(format!("the source copy on {source} is gone too")),
                    Found::Unreachable(e) => Err(format!("source {source}: {e}")),
                };
                let mut c = locked(catalog);
                match copied {
                    Ok(()) => {
                        c.recovered(&did, &rse);
                        round.replicated.push((did, rse));
                    }
                    Err(e) => {
                        c.copy_failed(&did, &rse);
                        round.copy_failed.push((did, rse, e));
                    }
                }
            }
        }
    }
    reap(catalog, storage, now, &mut round).await;
    round
}

/// The judge-cleaner and the reaper of a round: expire rules, then delete every replica
/// whose tombstone has passed, its bytes first (a replica whose bytes cannot be deleted
/// now stays BEING_DELETED for the next round).
async fn reap(catalog: &SharedCatalog, storage: &Storage, now: SystemTime, round: &mut Round) {
    let (doomed, keep_bytes) = {
        let mut c = locked(catalog);
        round.expired_rules = c.expire_rules(now).rules;
        let keep_bytes = c.defects.contains(&Defect::ReaperKeepsBytes);
        (c.reaper_candidates(now), keep_bytes)
    };
    for (did, rse) in doomed {
        let deleted = if keep_bytes || !storage.serves(&rse) {
            Ok(())
        } else {
            storage.delete(&rse, &did.0, &did.1).await
        };
        match deleted {
            Ok(()) => {
                locked(catalog).reaped(&did, &rse);
                round.reaped.push((did, rse));
            }
            Err(e) => round.reap_failed.push((did, rse, e)),
        }
    }
}
