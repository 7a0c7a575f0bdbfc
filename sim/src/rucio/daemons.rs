//! The daemons the replicas API depends on but the calibration server does not run
//! (docs/choices.md): minos (applies queued bad PFNs), minos' temporary-expiration pass,
//! the necromancer's decision and the reaper's choice (the judge-cleaner, which expires
//! rules, is in `rules`). Each is one deterministic step over the catalog at a given time;
//! who calls them, and when, is the caller's business (a simulated world schedules them on
//! its clock, `recovery` runs them as a round).

use std::time::SystemTime;

use crate::rucio::catalog::{BadReplica, Catalog, Did};
use crate::rucio::defects::Defect;
use crate::rucio::state::{BadPfnState, ReplicaState};

/// What the necromancer decided for one BAD replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// Copy the file from `source` to `rse`; the replica is COPYING until
    /// [`Catalog::recovered`] is called.
    Replicate {
        /// The file.
        did: Did,
        /// Where the bad copy was.
        rse: String,
        /// An RSE with an AVAILABLE copy.
        source: String,
    },
    /// No good copy anywhere: the bad replica is removed and the file recorded as lost.
    Lost {
        /// The file.
        did: Did,
        /// Where the bad copy was.
        rse: String,
    },
}

impl Catalog {
    /// minos: applies and drops every queued bad PFN. BAD declares the replica bad,
    /// TEMPORARY_UNAVAILABLE makes an AVAILABLE replica T until its expiry, AVAILABLE ends a
    /// T early, SUSPICIOUS only records. PFNs of no known replica are dropped.
    pub fn run_minos(&mut self, now: SystemTime) {
        let queued = std::mem::take(&mut self.bad_pfns);
        for (pfn, bad) in queued {
            let Some((rse, path)) = self.rse_of_pfn(&pfn) else {
                continue;
            };
            let Some((scope, name)) = crate::rucio::rse::did_of_path(&path)
                .filter(|_| self.rses.get(&rse).is_some_and(|r| r.deterministic))
                .or_else(|| {
                    self.replicas
                        .iter()
                        .find(|((_, _, on), r)| *on == rse && r.path == path)
                        .map(|((s, n, _), _)| (s.clone(), n.clone()))
                })
            else {
                continue;
            };
            let key = (scope.clone(), name.clone(), rse.clone());
            let Some(replica) = self.replicas.get_mut(&key) else {
                continue;
            };
            match bad.state {
                BadPfnState::Bad => {
                    replica.state = ReplicaState::Bad;
                    replica.expires_at = None;
                    self.bad_replicas.push(BadReplica {
                        did: (scope, name),
                        rse,
                        reason: bad.reason,
                        account: bad.account,
                        at: now,
                    });
                }
                BadPfnState::TemporaryUnavailable => {
                    if matches!(
                        replica.state,
                        ReplicaState::Available | ReplicaState::TemporaryUnavailable
                    ) {
                        replica.state = ReplicaState::TemporaryUnavailable;
                        replica.expires_at = bad.expires_at;
                    }
                }
                BadPfnState::Available => {
                    if replica.state == ReplicaState::TemporaryUnavailable {
                        replica.state = ReplicaState::Available;
                        replica.expires_at = None;
                    }
                }
                BadPfnState::Suspicious => {}
            }
        }
    }

    /// minos' expiration pass: TEMPORARY_UNAVAILABLE replicas whose expiry has come are
    /// AVAILABLE again.
    pub fn expire_temporary_unavailable(&mut self, now: SystemTime) {
        for replica in self.replicas.values_mut() {
            if replica.state == ReplicaState::TemporaryUnavailable
                && replica.expires_at.is_some_and(|at| at <= now)
            {
                replica.state = ReplicaState::Available;
                replica.expires_at = None;
            }
        }
    }

    /// The necromancer: for each BAD replica, re-replicate from an AVAILABLE copy on a
    /// readable RSE (the replica turns COPYING), or, with none, remove it and record the
    /// file as lost.
    pub fn run_necromancer(&mut self) -> Vec<Recovery> {
        let bad: Vec<(String, String, String)> = self
            .replicas
            .iter()
            .filter(|(_, r)| r.state == ReplicaState::Bad)
            .map(|(k, _)| k.clone())
            .collect();
        let mut out = Vec::new();
        let never = self.defects.contains(&Defect::NecromancerNeverReplicates);
        let loses = self.defects.contains(&Defect::NecromancerLosesRecoverable);
        let keeps_lost = self.defects.contains(&Defect::LostStillListed);
        for (scope, name, rse) in bad {
            let source = self
                .replicas_of(&scope, &name)
                .into_iter()
                .find(|(on, r)| {
                    *on != rse
                        && r.state == ReplicaState::Available
                        && self.rses.get(*on).is_some_and(|x| x.read)
                })
                .map(|(on, _)| on.to_string())
                .filter(|_| !loses);
            let key = (scope.clone(), name.clone(), rse.clone());
            let did = (scope, name);
            match source {
                Some(_) if never => {}
                Some(source) => {
                    if let Some(r) = self.replicas.get_mut(&key) {
                        r.state = ReplicaState::Copying;
                    }
                    out.push(Recovery::Replicate { did, rse, source });
                }
                None => {
                    if !keeps_lost {
                        self.replicas.remove(&key);
                    }
                    self.lost.insert(did.clone());
                    out.push(Recovery::Lost { did, rse });
                }
            }
        }
        out
    }

    /// The reaper's choice at `now` (Rucio's `list_and_mark_unlocked_replicas`, greedy:
    /// every RSE, whatever its free space): unlocked replicas whose tombstone has passed,
    /// AVAILABLE, UNAVAILABLE, BAD or already BEING_DELETED (a deletion that did not
    /// finish is retried). They become BEING_DELETED; [`Catalog::reaped`] removes each
    /// once its bytes are deleted. Locked replicas and future tombstones are never chosen.
    pub fn reaper_candidates(&mut self, now: SystemTime) -> Vec<(Did, String)> {
        let any_time = self.defects.contains(&Defect::ReaperFutureTombstones);
        let mut out = Vec::new();
        for ((scope, name, rse), r) in self.replicas.iter_mut() {
            let due = r
                .tombstone
                .is_some_and(|at| at < now || (any_time && r.locks == 0));
            let state_ok = matches!(
                r.state,
                ReplicaState::Available
                    | ReplicaState::Unavailable
                    | ReplicaState::Bad
                    | ReplicaState::BeingDeleted
            );
            if r.locks == 0 && due && state_ok {
                r.state = ReplicaState::BeingDeleted;
                out.push(((scope.clone(), name.clone()), rse.clone()));
            }
        }
        out
    }

    /// The reaper deleted a replica's bytes: the row goes.
    pub fn reaped(&mut self, did: &Did, rse: &str) {
        let key = (did.0.clone(), did.1.clone(), rse.to_string());
        if self
            .replicas
            .get(&key)
            .is_some_and(|r| r.state == ReplicaState::BeingDeleted)
        {
            self.replicas.remove(&key);
        }
    }

    /// The recovery copy of a [`Recovery::Replicate`] landed: the replica is AVAILABLE.
    pub fn recovered(&mut self, did: &Did, rse: &str) {
        let key = (did.0.clone(), did.1.clone(), rse.to_string());
        if let Some(r) = self.replicas.get_mut(&key) {
            if r.state == ReplicaState::Copying {
                r.state = ReplicaState::Available;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::rucio::bootstrap::bootstrapped;
    use crate::rucio::catalog::NewFile;

    fn t(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
    }

    fn file(name: &str) -> NewFile {
        NewFile {
            scope: "test".into(),
            name: name.into(),
            bytes: 10,
            adler32: Some("0cc737eb".into()),
            md5: None,
            pfn: None,
            state: ReplicaState::Available,
            tombstone: None,
        }
    }

    fn pfn(rse: &str, name: &str) -> String {
        format!(
            "https://{}.replisim.test:443/rucio/test/{name}",
            rse.to_lowercase()
        )
    }

    fn state(c: &Catalog, name: &str, rse: &str) -> Option<ReplicaState> {
        c.replica("test", name, rse).map(|r| r.state)
    }

    #[test]
    fn minos_applies_temporary_unavailable_until_its_expiry() {
        let mut c = bootstrapped(1, &["EAST", "WEST"]);
        c.add_replicas("root", "EAST", &[file("f1")], false)
            .expect("add");
        c.add_bad_pfns(
            "root",
            &[pfn("EAST", "f1")],
            BadPfnState::TemporaryUnavailable,
            "maintenance",
            Some(t(3600)),
            t(0),
        )
        .expect("queued");
        assert_eq!(
            state(&c, "f1", "EAST"),
            Some(ReplicaState::Available),
            "not before minos"
        );
        c.run_minos(t(10));
        assert_eq!(
            state(&c, "f1", "EAST"),
            Some(ReplicaState::TemporaryUnavailable)
        );
        c.expire_temporary_unavailable(t(3599));
        assert_eq!(
            state(&c, "f1", "EAST"),
            Some(ReplicaState::TemporaryUnavailable)
        );
        c.expire_temporary_unavailable(t(3600));
        assert_eq!(state(&c, "f1", "EAST"), Some(ReplicaState::Available));
    }

    #[test]
    fn minos_declares_bad_and_ignores_suspicious() {
        let mut c = bootstrapped(1, &["EAST", "WEST"]);
        c.add_replicas("root", "EAST", &[file("f1"), file("f2")], false)
            .expect("add");
        c.add_bad_pfns(
            "root",
            &[pfn("EAST", "f1")],
            BadPfnState::Bad,
            "lost",
            None,
            t(0),
        )
        .expect("queued");
        c.add_bad_pfns(
            "root",
            &[pfn("EAST", "f2")],
            BadPfnState::Suspicious,
            "odd",
            None,
            t(0),
        )
        .expect("queued");
        c.run_minos(t(1));
        assert_eq!(state(&c, "f1", "EAST"), Some(ReplicaState::Bad));
        assert_eq!(state(&c, "f2", "EAST"), Some(ReplicaState::Available));
        assert_eq!(c.bad_replicas().len(), 1);
        c.run_minos(t(2));
        assert_eq!(c.bad_replicas().len(), 1, "the queue is drained once");
    }

    #[test]
    fn necromancer_recovers_from_a_good_copy_or_declares_the_file_lost() {
        let mut c = bootstrapped(1, &["EAST", "WEST"]);
        c.add_replicas("root", "EAST", &[file("f1"), file("f2")], false)
            .expect("add");
        c.add_replicas("root", "WEST", &[file("f1")], false)
            .expect("add");
        let bad = crate::rucio::bad::BadTargets::Pfns(vec![pfn("EAST", "f1"), pfn("EAST", "f2")]);
        let problems = c
            .declare_bad("root", &bad, "gone", false, t(0))
            .expect("declared");
        assert!(problems.is_empty());
        let actions = c.run_necromancer();
        let f1 = ("test".to_string(), "f1".to_string());
        let f2 = ("test".to_string(), "f2".to_string());
        assert_eq!(
            actions,
            vec![
                Recovery::Replicate {
                    did: f1.clone(),
                    rse: "EAST".into(),
                    source: "WEST".into()
                },
                Recovery::Lost {
                    did: f2.clone(),
                    rse: "EAST".into()
                },
            ]
        );
        assert_eq!(state(&c, "f1", "EAST"), Some(ReplicaState::Copying));
        assert_eq!(state(&c, "f2", "EAST"), None);
        assert!(c.lost().contains(&f2));
        c.recovered(&f1, "EAST");
        assert_eq!(state(&c, "f1", "EAST"), Some(ReplicaState::Available));
        assert!(c.run_necromancer().is_empty(), "nothing bad is left");
    }

    #[test]
    fn expired_rules_tombstone_what_they_released_and_the_reaper_takes_only_that() {
        use crate::rucio::catalog::OBSOLETE;
        use crate::rucio::rules::RuleLife;
        let mut c = bootstrapped(1, &["EAST", "WEST"]);
        let mut files = vec![file("lru"), file("obs"), file("kept"), file("future")];
        files[1].state = ReplicaState::Unavailable;
        files[3].tombstone = Some(t(1000));
        c.add_replicas("root", "EAST", &files, false).expect("add");
        c.stamp_created(t(5));
        c.set_account_limit("root", "root", "EAST", 1000)
            .expect("limit");
        let rses = ["EAST".to_string()].into_iter().collect();
        let did = |n: &str| ("test".to_string(), n.to_string());
        let short = RuleLife {
            expires_at: Some(t(60)),
            purge_replicas: false,
        };
        let dids = [did("lru"), did("obs"), did("kept")];
        c.add_rule("root", "root", &dids, &rses, 1, short)
            .expect("rule");
        c.add_rule(
            "root",
            "root",
            &[did("kept")],
            &rses,
            1,
            RuleLife::default(),
        )
        .expect("rule");
        assert!(c.expire_rules(t(59)).rules.is_empty(), "not before its end");
        assert!(c.reaper_candidates(t(59)).is_empty());
        let expired = c.expire_rules(t(60));
        assert_eq!(expired.rules.len(), 1);
        let tomb = |c: &Catalog, n: &str| c.replica("test", n, "EAST").and_then(|r| r.tombstone);
        assert_eq!(tomb(&c, "lru"), Some(t(5)), "LRU: the creation time");
        assert_eq!(tomb(&c, "obs"), Some(OBSOLETE), "UNAVAILABLE: obsolete");
        assert_eq!(tomb(&c, "kept"), None, "still locked by the other rule");
        let mut doomed = c.reaper_candidates(t(61));
        doomed.sort();
        assert_eq!(
            doomed,
            vec![(did("lru"), "EAST".into()), (did("obs"), "EAST".into())]
        );
        for (d, rse) in &doomed {
            c.reaped(d, rse);
        }
        assert_eq!(state(&c, "lru", "EAST"), None);
        assert_eq!(state(&c, "kept", "EAST"), Some(ReplicaState::Available));
        assert_eq!(state(&c, "future", "EAST"), Some(ReplicaState::Available));
        assert_eq!(
            c.reaper_candidates(t(1001)).len(),
            1,
            "its tombstone passed"
        );
    }

    #[test]
    fn necromancer_does_not_copy_from_an_unreadable_rse() {
        let mut c = bootstrapped(1, &["EAST", "WEST"]);
        c.add_replicas("root", "EAST", &[file("f1")], false)
            .expect("add");
        c.add_replicas("root", "WEST", &[file("f1")], false)
            .expect("add");
        c.set_availability("WEST", false, true, true);
        c.update_replica_state("root", "EAST", "test", "f1", ReplicaState::Bad)
            .expect("to B");
        let actions = c.run_necromancer();
        assert!(
            matches!(actions.as_slice(), [Recovery::Lost { .. }]),
            "{actions:?}"
        );
    }
}
