//! Bad replicas: `/replicas/bad` (declare now), `/replicas/bad/pfns` (queue for minos) and
//! the PFN → DID resolution both need (`/replicas/dids` too).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use crate::rucio::catalog::{BadPfn, BadReplica, Catalog, Did};
use crate::rucio::error::{py_repr, Failure};
use crate::rucio::rse::{did_of_path, split_pfn};
use crate::rucio::state::{BadPfnState, ReplicaState};

/// The longest TEMPORARY_UNAVAILABLE the server accepts.
pub const TEMPORARY_UNAVAILABLE_MAX: Duration = Duration::from_secs(30 * 86_400);

/// What `/replicas/bad` was given: all PFNs or all (scope, name, rse) triples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadTargets {
    /// PFN strings.
    Pfns(Vec<String>),
    /// `{"scope", "name", "rse"}` dicts.
    Dids(Vec<(String, String, String)>),
}

impl Catalog {
    /// The RSE a PFN belongs to (by scheme, host, port and prefix of its protocols) and
    /// the path after the prefix.
    pub fn rse_of_pfn(&self, pfn: &str) -> Option<(String, String)> {
        self.rses
            .values()
            .find_map(|r| r.match_pfn(pfn).map(|(_, path)| (r.name.clone(), path)))
    }

    /// The DID a path on an RSE names: by the identity algorithm on deterministic RSEs, by
    /// the stored path on the others.
    fn did_at(&self, rse: &str, path: &str) -> Option<Did> {
        let r = self.rses.get(rse)?;
        if r.deterministic {
            did_of_path(path)
        } else {
            self.replicas
                .iter()
                .find(|((_, _, on), rep)| on == rse && rep.path == path)
                .map(|((s, n, _), _)| (s.clone(), n.clone()))
        }
    }

    /// POST /replicas/bad. Returns `{RSE name: [problem, ...]}`, empty when every replica
    /// was declared. Known replicas become BAD (the dict form too, as the server does).
    pub fn declare_bad(
        &mut self,
        issuer: &str,
        targets: &BadTargets,
        reason: &str,
        force: bool,
        now: SystemTime,
    ) -> Result<BTreeMap<String, Vec<String>>, Failure> {
        // (rse, scope, name or None when the path names no DID)
        let mut resolved: Vec<(String, Option<Did>, String)> = Vec::new();
        match targets {
            BadTargets::Pfns(pfns) => {
                for pfn in pfns {
                    let Some((rse, path)) = self.rse_of_pfn(pfn) else {
                        return Err(Failure::rucio(
                            404,
                            "ReplicaNotFound",
                            "Not all replicas found",
                        ));
                    };
                    let did = self.did_at(&rse, &path);
                    resolved.push((rse, did, path));
                }
            }
            BadTargets::Dids(dids) => {
                for (scope, name, rse) in dids {
                    self.rse(rse, 404)?;
                    resolved.push((
                        rse.clone(),
                        Some((scope.clone(), name.clone())),
                        String::new(),
                    ));
                }
            }
        }
        if issuer != "root" {
            if let Some((rse, _, _)) = resolved.first() {
                let id = self.rse(rse, 500)?.id.clone();
                return Err(Failure::rucio(
                    401,
                    "AccessDenied",
                    format!("Account {issuer} can not declare bad replicas in RSE {id}. "),
                ));
            }
        }
        let mut problems: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (rse, did, path) in resolved {
            let Some((scope, name)) = did else {
                problems
                    .entry(rse)
                    .or_default()
                    .push(format!("{path} Unknown replica"));
                continue;
            };
            let key = (scope.clone(), name.clone(), rse.clone());
            match self.replicas.get_mut(&key) {
                None => problems
                    .entry(rse)
                    .or_default()
                    .push(format!("({scope}, {}) Unknown replica", py_repr(&name))),
                Some(r) if r.state == ReplicaState::Bad && !force => problems
                    .entry(rse)
                    .or_default()
                    .push(format!("{scope}:{name} Already declared")),
                Some(r) => {
                    r.state = ReplicaState::Bad;
                    r.expires_at = None;
                    self.bad_replicas.push(BadReplica {
                        did: (scope, name),
                        rse,
                        reason: reason.to_string(),
                        account: issuer.to_string(),
                        at: now,
                    });
                }
            }
        }
        Ok(problems)
    }

    /// POST /replicas/bad/pfns: queues the PFNs for minos; the replicas' states do not
    /// change here (the real server needs its minos daemon for that, see
    /// [`Catalog::run_minos`]). Unknown PFNs and repeats are accepted.
    pub fn add_bad_pfns(
        &mut self,
        issuer: &str,
        pfns: &[String],
        state: BadPfnState,
        reason: &str,
        expires_at: Option<SystemTime>,
        now: SystemTime,
    ) -> Result<(), Failure> {
        if issuer != "root" {
            return Err(Failure::rucio(
                401,
                "AccessDenied",
                format!("Account {issuer} can not declare bad PFNs. "),
            ));
        }
        match (state, expires_at) {
            (BadPfnState::TemporaryUnavailable, None) => {
                return Err(Failure::rucio(
                    500,
                    "InputValidationError",
                    "When adding a TEMPORARY UNAVAILABLE pfn the expires_at value should be set.",
                ))
            }
            (BadPfnState::TemporaryUnavailable, Some(at)) => {
                if let Ok(ahead) = at.duration_since(now) {
                    if ahead > TEMPORARY_UNAVAILABLE_MAX {
                        return Err(Failure::rucio(
                            500,
                            "InputValidationError",
                            format!(
                                "The given duration of {} days exceeds the maximum duration of {} days.",
                                ahead.as_secs() / 86_400,
                                TEMPORARY_UNAVAILABLE_MAX.as_secs() / 86_400
                            ),
                        ));
                    }
                }
            }
            (BadPfnState::Available, _) => {}
            (other, Some(_)) => {
                return Err(Failure::rucio(
                    500,
                    "InputValidationError",
                    format!(
                        "When adding a {} pfn the expires_at value shouldn't be set.",
                        other.name()
                    ),
                ))
            }
            (_, None) => {}
        }
        for pfn in pfns {
            self.bad_pfns.insert(
                pfn.clone(),
                BadPfn {
                    state,
                    reason: reason.to_string(),
                    expires_at,
                    account: issuer.to_string(),
                },
            );
        }
        Ok(())
    }

    /// POST /replicas/dids: the DID of each PFN, parsed with the RSE's srm protocol
    /// whatever the PFN's scheme (hostname, then port, then prefix must match it). On a
    /// deterministic RSE no replica needs to exist.
    pub fn dids_of_pfns(&self, rse: &str, pfns: &[String]) -> Result<Vec<(String, Did)>, Failure> {
        let r = self.rse(rse, 500)?;
        let Some(srm) = r.protocol("srm") else {
            return Err(Failure::rucio(
                500,
                "RSEProtocolNotSupported",
                format!("RSE does not support requested protocol.\nDetails: srm on {rse}"),
            ));
        };
        let unsupported = |m: String| Failure::rucio(500, "RSEFileNameNotSupported", m);
        let mut out = Vec::with_capacity(pfns.len());
        for pfn in pfns {
            let Some(split) = split_pfn(pfn) else {
                return Err(unsupported(format!("Invalid PFN: {pfn}")));
            };
            if split.host != srm.hostname {
                return Err(unsupported(format!(
                    "Invalid hostname: provided '{}', expected '{}'",
                    split.host, srm.hostname
                )));
            }
            if split.port != srm.port.to_string() {
                return Err(unsupported(format!(
                    "Invalid port: provided '{}', expected '{}'",
                    split.port, srm.port
                )));
            }
            let Some(path) = split.path.strip_prefix(srm.prefix.as_str()) else {
                return Err(unsupported(format!(
                    "Invalid prefix: provided '{}', expected '{}'",
                    split.path, srm.prefix
                )));
            };
            let Some(did) = self.did_at(rse, path) else {
                return Err(Failure::rucio(
                    404,
                    "ReplicaNotFound",
                    format!("Replica not found for PFN {pfn}"),
                ));
            };
            out.push((pfn.clone(), did));
        }
        Ok(out)
    }
}
