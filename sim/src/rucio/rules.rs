//! Account limits and replication rules, only as far as the replicas API and the deletion
//! daemons observe them: a rule locks the replicas it covers, a locked replica refuses a
//! tombstone (RUC-21), and a rule whose lifetime ends releases its locks and tombstones
//! the replicas nothing protects any more (the judge-cleaner, RUC-24).

use std::collections::BTreeSet;
use std::time::SystemTime;

use crate::rucio::catalog::{Catalog, Did, Replica, OBSOLETE};
use crate::rucio::error::Failure;
use crate::rucio::state::ReplicaState;

/// A replication rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Owner.
    pub account: String,
    /// The files it covers.
    pub dids: Vec<Did>,
    /// The RSEs it placed locks on.
    pub rses: Vec<String>,
    /// Its lifetime.
    pub life: RuleLife,
}

/// How long a rule lives and what its end does to the replicas (`lifetime`,
/// `purge_replicas` of POST /rules/).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuleLife {
    /// When the judge-cleaner removes it; `None` lives forever.
    pub expires_at: Option<SystemTime>,
    /// Its released replicas get the [`OBSOLETE`] tombstone whatever their state.
    pub purge_replicas: bool,
}

/// What the judge-cleaner did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expired {
    /// The rules removed.
    pub rules: Vec<String>,
    /// Replicas whose last lock went, with the tombstone they got.
    pub tombstoned: Vec<(Did, String, SystemTime)>,
}

impl Catalog {
    /// POST `/accountlimits/local/<account>/<rse>`: root only.
    pub fn set_account_limit(
        &mut self,
        issuer: &str,
        account: &str,
        rse: &str,
        bytes: u64,
    ) -> Result<(), Failure> {
        if issuer != "root" {
            return Err(Failure::rucio(
                401,
                "AccessDenied",
                format!("Account {issuer} can not set account limits."),
            ));
        }
        if !self.auth.has_account(account) {
            return Err(Failure::rucio(
                404,
                "AccountNotFound",
                format!("Account {account} does not exist"),
            ));
        }
        self.rse(rse, 404)?;
        self.account_limits
            .insert((account.to_string(), rse.to_string()), bytes);
        Ok(())
    }

    /// POST /rules/: `copies` RSEs of `rses` (by name) get a lock on each file; a file
    /// missing there gets a COPYING replica, as a transfer would be queued. Needs an
    /// account limit covering the bytes on each chosen RSE. Returns the rule id.
    pub fn add_rule(
        &mut self,
        issuer: &str,
        account: &str,
        dids: &[Did],
        rses: &BTreeSet<String>,
        copies: usize,
        life: RuleLife,
    ) -> Result<String, Failure> {
        if issuer != "root" && issuer != account {
            return Err(Failure::rucio(
                401,
                "AccessDenied",
                format!("Account {issuer} can not add replication rule"),
            ));
        }
        for (scope, name) in dids {
            if self.did(scope, name).is_none() {
                return Err(Failure::rucio(
                    404,
                    "DataIdentifierNotFound",
                    format!("Data identifier '{scope}:{name}' not found"),
                ));
            }
        }
        for rse in rses {
            self.rse(rse, 500)?;
        }
        let chosen: Vec<String> = rses.iter().take(copies).cloned().collect();
        if chosen.len() < copies || copies == 0 {
            return Err(Failure::rucio(
                409,
                "InsufficientTargetRSEs",
                "There are not enough target RSEs to fulfil the request at this time.",
            ));
        }
        let total: u64 = dids
            .iter()
            .filter_map(|(s, n)| self.did(s, n).map(|d| d.bytes))
            .sum();
        for rse in &chosen {
            let limit = self
                .account_limits
                .get(&(account.to_string(), rse.clone()))
                .copied()
                .unwrap_or(0);
            if limit < total {
                return Err(Failure::rucio(
                    409,
                    "InsufficientAccountLimit",
                    "There is insufficient quota on any of the target RSE's to fullfill the operation.",
                ));
            }
        }
        for rse in &chosen {
            for (scope, name) in dids {
                let path = crate::rucio::rse::identity_path(scope, name);
                let replica = self
                    .replicas
                    .entry((scope.clone(), name.clone(), rse.clone()))
                    .or_insert(Replica {
                        state: ReplicaState::Copying,
                        path,
                        tombstone: None,
                        locks: 0,
                        expires_at: None,
                        created_at: None,
                    });
                replica.locks += 1;
                replica.tombstone = None;
            }
        }
        let id = self.new_id();
        self.rules.insert(
            id.clone(),
            Rule {
                account: account.to_string(),
                dids: dids.to_vec(),
                rses: chosen,
                life,
            },
        );
        Ok(id)
    }

    /// The judge-cleaner at `now`: every rule whose lifetime has ended is removed, and each
    /// of its locks released. A replica left without locks gets its tombstone the way
    /// Rucio's `core/rule.py` (`__delete_lock_and_update_replica`) gives it: OBSOLETE for a
    /// purging rule or an UNAVAILABLE replica, else its last access, else its creation (LRU;
    /// nothing here records accesses, so the creation time). A replica still COPYING for
    /// the rule (its lock was REPLICATING) becomes UNAVAILABLE with OBSOLETE.
    pub fn expire_rules(&mut self, now: SystemTime) -> Expired {
        let at_once = self
            .defects
            .contains(&crate::rucio::defects::Defect::ExpiryIgnoresLifetime);
        let ended: Vec<String> = self
            .rules
            .iter()
            .filter(|(_, r)| r.life.expires_at.is_some_and(|at| at <= now || at_once))
            .map(|(id, _)| id.clone())
            .collect();
        let mut out = Expired::default();
        let drop_all = self
            .defects
            .contains(&crate::rucio::defects::Defect::ExpiryDropsAllLocks);
        for id in ended {
            let Some(rule) = self.rules.remove(&id) else {
                continue;
            };
            for rse in &rule.rses {
                for (scope, name) in &rule.dids {
                    let key = (scope.clone(), name.clone(), rse.clone());
                    let Some(replica) = self.replicas.get_mut(&key) else {
                        continue;
                    };
                    replica.locks = if drop_all {
                        0
                    } else {
                        replica.locks.saturating_sub(1)
                    };
                    if replica.locks > 0 {
                        continue;
                    }
                    let tombstone = crate::rucio::defects::expiry_tombstone(
                        &self.defects,
                        replica,
                        rule.life.purge_replicas,
                        now,
                    );
                    if replica.state == ReplicaState::Copying {
                        replica.state = ReplicaState::Unavailable;
                    }
                    replica.tombstone = tombstone;
                    if let Some(at) = tombstone {
                        out.tombstoned
                            .push(((scope.clone(), name.clone()), rse.clone(), at));
                    }
                }
            }
            out.rules.push(id);
        }
        out
    }
}

/// The tombstone Rucio gives a replica whose last lock a rule's end released.
pub fn released_tombstone(replica: &Replica, purge_replicas: bool) -> SystemTime {
    if purge_replicas
        || matches!(
            replica.state,
            ReplicaState::Unavailable | ReplicaState::Copying
        )
    {
        OBSOLETE
    } else {
        replica.created_at.unwrap_or(OBSOLETE)
    }
}
