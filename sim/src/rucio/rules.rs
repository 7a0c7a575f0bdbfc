//! Account limits and replication rules, only as far as the replicas API observes them: a
//! rule locks the replicas it covers, and a locked replica refuses a tombstone (RUC-21).

use std::collections::BTreeSet;

use crate::rucio::catalog::{Catalog, Did, Replica};
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
}

impl Catalog {
    /// POST /accountlimits/local/<account>/<rse>: root only.
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
            },
        );
        Ok(id)
    }
}
