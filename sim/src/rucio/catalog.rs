//! The decision core: scopes, RSEs, file DIDs and replicas as plain deterministic state.
//! Every operation takes the issuing account and the time as arguments and does no I/O,
//! so the REST layer, the daemons and property tests drive the same code.
//!
//! The checks and their order follow what the real Rucio 41.5.1 server answered
//! (tools/rucio/calibration.json, docs/rucio.md), not only the RUC rules.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use crate::rucio::auth::Auth;
use crate::rucio::error::Failure;
use crate::rucio::rse::{bootstrap_protocols, identity_path, Rse};
use crate::rucio::state::{BadPfnState, ReplicaState};
use crate::seeded::SeededRng;

/// The key of a DID.
pub type Did = (String, String);

/// A file DID: the size and checksums the first registration gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDid {
    /// Size in bytes.
    pub bytes: u64,
    /// Adler-32 as 8 hex digits.
    pub adler32: Option<String>,
    /// MD5 as 32 hex digits.
    pub md5: Option<String>,
}

/// One replica of a file on an RSE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replica {
    /// State.
    pub state: ReplicaState,
    /// The path after the protocol prefix (computed on deterministic RSEs, given on
    /// non-deterministic ones).
    pub path: String,
    /// When the reaper may delete it: [`OBSOLETE`] from `/replicas/tombstone` and for
    /// obsolete replicas, the LRU time when its last rule expired, or a time given on add.
    pub tombstone: Option<SystemTime>,
    /// Replication-rule locks held on it.
    pub locks: u32,
    /// When a TEMPORARY_UNAVAILABLE replica becomes AVAILABLE again.
    pub expires_at: Option<SystemTime>,
    /// When it was registered (stamped by the REST layer and the daemons, which know the
    /// time); the LRU tombstone of a replica nobody accessed.
    pub created_at: Option<SystemTime>,
}

/// Rucio's tombstone for replicas to delete first (`constants.py` OBSOLETE, 1970-01-01).
pub const OBSOLETE: SystemTime = SystemTime::UNIX_EPOCH;

/// A row of the bad-replicas history (what `/replicas/bad` and minos record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadReplica {
    /// The DID.
    pub did: Did,
    /// RSE name.
    pub rse: String,
    /// Why.
    pub reason: String,
    /// Declared by.
    pub account: String,
    /// When.
    pub at: SystemTime,
}

/// A PFN queued by `/replicas/bad/pfns`, for minos.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadPfn {
    /// Requested state.
    pub state: BadPfnState,
    /// Why.
    pub reason: String,
    /// Expiry (TEMPORARY_UNAVAILABLE only).
    pub expires_at: Option<SystemTime>,
    /// Declared by.
    pub account: String,
}

/// Choices the real server makes through its permission policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// The generic policy's `perm_delete_replicas` is False for everyone, so DELETE
    /// /replicas is always 401; a catalog built for other policies may allow it for
    /// privileged accounts.
    pub delete_allowed: bool,
}

/// A file to register (one element of `files` in POST /replicas).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFile {
    /// Scope.
    pub scope: String,
    /// Name.
    pub name: String,
    /// Size.
    pub bytes: u64,
    /// Adler-32.
    pub adler32: Option<String>,
    /// MD5.
    pub md5: Option<String>,
    /// Given PFN.
    pub pfn: Option<String>,
    /// Initial state (AVAILABLE when absent).
    pub state: ReplicaState,
    /// A tombstone given with the file (`tombstone` in the file dict).
    pub tombstone: Option<SystemTime>,
}

/// The whole catalog.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// Accounts and tokens.
    pub auth: Auth,
    /// Permission choices.
    pub policy: Policy,
    pub(crate) rng: SeededRng,
    pub(crate) scopes: BTreeSet<String>,
    pub(crate) rses: BTreeMap<String, Rse>,
    pub(crate) dids: BTreeMap<Did, FileDid>,
    /// Keyed by (scope, name, rse).
    pub(crate) replicas: BTreeMap<(String, String, String), Replica>,
    pub(crate) bad_replicas: Vec<BadReplica>,
    pub(crate) bad_pfns: BTreeMap<String, BadPfn>,
    pub(crate) lost: BTreeSet<Did>,
    pub(crate) account_limits: BTreeMap<(String, String), u64>,
    pub(crate) rules: BTreeMap<String, crate::rucio::rules::Rule>,
    /// Deliberate defects in play (none in the calibrated catalog).
    pub(crate) defects: BTreeSet<crate::rucio::defects::Defect>,
}

/// Flags of a new RSE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RseFlags {
    /// `availability_read`.
    pub read: bool,
    /// `availability_write`.
    pub write: bool,
    /// `availability_delete`.
    pub delete: bool,
    /// Deterministic.
    pub deterministic: bool,
    /// Volatile.
    pub volatile: bool,
}

impl Default for RseFlags {
    fn default() -> Self {
        Self {
            read: true,
            write: true,
            delete: true,
            deterministic: true,
            volatile: false,
        }
    }
}

impl Catalog {
    /// An empty catalog whose tokens, RSE ids and rule ids derive from `seed`.
    pub fn new(seed: u64) -> Self {
        let mut rng = SeededRng::new(seed);
        let auth_seed = rng.next_u64();
        Self {
            auth: Auth::new(auth_seed),
            policy: Policy {
                delete_allowed: false,
            },
            rng,
            scopes: BTreeSet::new(),
            rses: BTreeMap::new(),
            dids: BTreeMap::new(),
            replicas: BTreeMap::new(),
            bad_replicas: Vec::new(),
            bad_pfns: BTreeMap::new(),
            lost: BTreeSet::new(),
            account_limits: BTreeMap::new(),
            rules: BTreeMap::new(),
            defects: BTreeSet::new(),
        }
    }

    /// The same catalog with deliberate defects switched on (`rucio::defects`), for
    /// showing that the rucio family's clauses catch them.
    pub fn with_defects(mut self, defects: BTreeSet<crate::rucio::defects::Defect>) -> Self {
        if defects.contains(&crate::rucio::defects::Defect::DeleteAllowed) {
            self.policy.delete_allowed = true;
        }
        self.defects = defects;
        self
    }

    /// A fresh 32-hex id (RSE ids, rule ids).
    pub(crate) fn new_id(&mut self) -> String {
        format!("{:016x}{:016x}", self.rng.next_u64(), self.rng.next_u64())
    }

    /// Adds a scope.
    pub fn add_scope(&mut self, scope: &str) {
        self.scopes.insert(scope.to_string());
    }

    /// Adds an RSE with bootstrap.py's protocols; returns its id.
    pub fn add_rse(&mut self, name: &str, flags: RseFlags) -> String {
        let id = self.new_id();
        self.rses.insert(
            name.to_string(),
            Rse {
                name: name.to_string(),
                id: id.clone(),
                read: flags.read,
                write: flags.write,
                delete: flags.delete,
                deterministic: flags.deterministic,
                volatile: flags.volatile,
                protocols: bootstrap_protocols(name),
            },
        );
        id
    }

    /// The RSEs by name.
    pub fn rses(&self) -> impl Iterator<Item = &Rse> {
        self.rses.values()
    }

    /// One RSE, or RSENotFound with the endpoint's status.
    pub fn rse(&self, name: &str, status: u16) -> Result<&Rse, Failure> {
        self.rses
            .get(name)
            .ok_or_else(|| Failure::rse_not_found(status, name))
    }

    /// Sets an RSE's read/write/delete availability (what an operator or the world does
    /// when a cluster goes away).
    pub fn set_availability(&mut self, rse: &str, read: bool, write: bool, delete: bool) {
        if let Some(r) = self.rses.get_mut(rse) {
            (r.read, r.write, r.delete) = (read, write, delete);
        }
    }

    /// A file DID.
    pub fn did(&self, scope: &str, name: &str) -> Option<&FileDid> {
        self.dids.get(&(scope.to_string(), name.to_string()))
    }

    /// One replica.
    pub fn replica(&self, scope: &str, name: &str, rse: &str) -> Option<&Replica> {
        self.replicas
            .get(&(scope.to_string(), name.to_string(), rse.to_string()))
    }

    /// Every replica of a DID, by RSE name.
    pub fn replicas_of(&self, scope: &str, name: &str) -> Vec<(&str, &Replica)> {
        self.replicas
            .range((scope.to_string(), name.to_string(), String::new())..)
            .take_while(|((s, n, _), _)| s == scope && n == name)
            .map(|((_, _, rse), r)| (rse.as_str(), r))
            .collect()
    }

    /// DIDs the necromancer found without any good copy.
    pub fn lost(&self) -> &BTreeSet<Did> {
        &self.lost
    }

    /// Gives every replica registered since the last call its creation time `now`.
    pub fn stamp_created(&mut self, now: SystemTime) {
        for r in self.replicas.values_mut() {
            r.created_at.get_or_insert(now);
        }
    }

    /// The history of bad declarations.
    pub fn bad_replicas(&self) -> &[BadReplica] {
        &self.bad_replicas
    }

    /// POST /replicas. Checks in the server's order: RSE, permission, volatile, write
    /// availability (root/admin may ignore it), scope, non-deterministic PFN, expected PFN.
    /// Re-adding an existing replica is a silent no-op; a DID keeps its first size.
    pub fn add_replicas(
        &mut self,
        issuer: &str,
        rse: &str,
        files: &[NewFile],
        ignore_availability: bool,
    ) -> Result<(), Failure> {
        let r = self.rse(rse, 404)?.clone();
        if !self.auth.privileged(issuer) {
            return Err(Failure::rucio(
                401,
                "AccessDenied",
                format!("Account {issuer} can not add file replicas on {rse}. "),
            ));
        }
        if r.volatile {
            return Err(Failure::rucio(
                500,
                "UnsupportedOperation",
                format!("Cannot add replicas on volatile RSE {rse} "),
            ));
        }
        if !r.write && !ignore_availability {
            return Err(Failure::rucio(
                503,
                "ResourceTemporaryUnavailable",
                format!("{rse} is temporary unavailable for writing"),
            ));
        }
        if files.iter().any(|f| !self.scopes.contains(&f.scope)) {
            return Err(Failure::rucio(404, "ScopeNotFound", "Scope not found!"));
        }
        let mut paths = Vec::with_capacity(files.len());
        if r.deterministic {
            let mut given = BTreeSet::new();
            let mut expected = BTreeSet::new();
            let mut with_pfn = Vec::new();
            for f in files {
                let path = identity_path(&f.scope, &f.name);
                if let Some(pfn) = &f.pfn {
                    let scheme = pfn.split("://").next().unwrap_or_default();
                    let proto = r.protocol(scheme).unwrap_or(&r.protocols[0]);
                    let want = proto.pfn(&path);
                    if *pfn != want {
                        given.insert(pfn.clone());
                        with_pfn.push(format!(
                            "{{'scope': {}, 'name': {}}}",
                            crate::rucio::error::py_repr(&f.scope),
                            crate::rucio::error::py_repr(&f.name)
                        ));
                    }
                    expected.insert(want);
                }
                paths.push(path);
            }
            if !given.is_empty() {
                return Err(Failure::rucio(
                    400,
                    "InvalidPath",
                    format!(
                        "One of the PFNs provided {} for [{}] does not match the Rucio expected PFNs: {}",
                        py_set(&given),
                        with_pfn.join(", "),
                        py_set(&expected)
                    ),
                ));
            }
        } else {
            for f in files {
                let path = f.pfn.as_ref().and_then(|p| {
                    r.match_pfn(p)
                        .map(|(_, path)| path)
                        .or_else(|| crate::rucio::rse::split_pfn(p).map(|s| s.path))
                });
                match path {
                    Some(path) => paths.push(path),
                    None => {
                        return Err(Failure::rucio(
                            500,
                            "UnsupportedOperation",
                            format!("PFN needed for this (non deterministic) RSE {rse} "),
                        ))
                    }
                }
            }
        }
        for (f, path) in files.iter().zip(paths) {
            let did = (f.scope.clone(), f.name.clone());
            self.dids.entry(did).or_insert_with(|| FileDid {
                bytes: f.bytes,
                adler32: f.adler32.clone(),
                md5: f.md5.clone(),
            });
            self.replicas
                .entry((f.scope.clone(), f.name.clone(), rse.to_string()))
                .or_insert(Replica {
                    state: f.state,
                    path,
                    tombstone: f.tombstone,
                    locks: 0,
                    expires_at: None,
                    created_at: None,
                });
        }
        Ok(())
    }

    /// PUT /replicas, one file: TEMPORARY_UNAVAILABLE only from AVAILABLE, COPYING or
    /// TEMPORARY_UNAVAILABLE (the server accepts COPYING, unlike the spec); every other
    /// change is accepted.
    pub fn update_replica_state(
        &mut self,
        issuer: &str,
        rse: &str,
        scope: &str,
        name: &str,
        state: ReplicaState,
    ) -> Result<(), Failure> {
        self.rse(rse, 500)?;
        if !self.auth.privileged(issuer) {
            return Err(Failure::rucio(
                401,
                "AccessDenied",
                format!("Account {issuer} can not update file replicas state on {rse}. "),
            ));
        }
        let key = (scope.to_string(), name.to_string(), rse.to_string());
        let Some(replica) = self.replicas.get_mut(&key) else {
            return Err(Failure::rucio(
                500,
                "ReplicaNotFound",
                format!("No row found for scope: {scope} name: {name} rse: {rse}"),
            ));
        };
        if state == ReplicaState::TemporaryUnavailable
            && !matches!(
                replica.state,
                ReplicaState::Available
                    | ReplicaState::Copying
                    | ReplicaState::TemporaryUnavailable
            )
        {
            return Err(Failure::rucio(
                500,
                "UnsupportedOperation",
                format!(
                    "State {} for replica {scope}:{name} on {rse} cannot be updated",
                    state.name()
                ),
            ));
        }
        replica.state = state;
        if state != ReplicaState::TemporaryUnavailable {
            replica.expires_at = None;
        }
        Ok(())
    }

    /// DELETE /replicas: unknown RSE first, then the permission (always refused under the
    /// generic policy), then all-or-nothing existence and delete availability.
    pub fn delete_replicas(
        &mut self,
        issuer: &str,
        rse: &str,
        dids: &[Did],
        ignore_availability: bool,
    ) -> Result<(), Failure> {
        let r = self.rse(rse, 404)?.clone();
        if !(self.policy.delete_allowed && self.auth.privileged(issuer)) {
            return Err(Failure::rucio(
                401,
                "AccessDenied",
                format!("Account {issuer} can not delete file replicas on {rse}. "),
            ));
        }
        if !r.delete && !ignore_availability {
            return Err(Failure::rucio(
                503,
                "ResourceTemporaryUnavailable",
                format!("{rse} is temporary unavailable for deleting"),
            ));
        }
        let keys: Vec<_> = dids
            .iter()
            .map(|(s, n)| (s.clone(), n.clone(), rse.to_string()))
            .collect();
        if let Some((s, n, _)) = keys.iter().find(|k| !self.replicas.contains_key(*k)) {
            return Err(Failure::rucio(
                404,
                "ReplicaNotFound",
                format!("Replica {s}:{n} on RSE {rse} could not be found."),
            ));
        }
        for k in keys {
            self.replicas.remove(&k);
        }
        Ok(())
    }

    /// POST /replicas/tombstone, one replica: permission (500, as recorded), RSE (500),
    /// then existence (404) and locks (423). A tombstone does not change the state; it is
    /// [`OBSOLETE`], as in Rucio's `core/replica.py set_tombstone`, so the next reaper pass
    /// deletes the replica.
    pub fn set_tombstone(
        &mut self,
        issuer: &str,
        rse: &str,
        scope: &str,
        name: &str,
    ) -> Result<(), Failure> {
        if !self.auth.privileged(issuer) {
            return Err(Failure::rucio(
                500,
                "AccessDenied",
                format!("Account {issuer} can not set tombstones. "),
            ));
        }
        self.rse(rse, 500)?;
        let key = (scope.to_string(), name.to_string(), rse.to_string());
        let Some(replica) = self.replicas.get_mut(&key) else {
            return Err(Failure::rucio(
                404,
                "ReplicaNotFound",
                format!("Replica {scope}:{name} on RSE {rse} could not be found."),
            ));
        };
        if replica.locks > 0 {
            return Err(Failure::rucio(
                423,
                "ReplicaIsLocked",
                format!("Replica {scope}:{name} on RSE {rse} is locked."),
            ));
        }
        replica.tombstone = Some(OBSOLETE);
        Ok(())
    }
}

/// Python's repr of a set of strings (sorted, for a deterministic message).
fn py_set(items: &BTreeSet<String>) -> String {
    let inner: Vec<String> = items
        .iter()
        .map(|s| crate::rucio::error::py_repr(s))
        .collect();
    format!("{{{}}}", inner.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rucio::bootstrap::bootstrapped;
    use crate::rucio::rules::RuleLife;

    fn file(name: &str, bytes: u64) -> NewFile {
        NewFile {
            scope: "test".into(),
            name: name.into(),
            bytes,
            adler32: None,
            md5: None,
            pfn: None,
            state: ReplicaState::Available,
            tombstone: None,
        }
    }

    #[test]
    fn transitions_follow_the_recorded_server() {
        use ReplicaState::*;
        let mut c = bootstrapped(3, &["EAST", "WEST"]);
        c.add_replicas("root", "EAST", &[file("f1", 10)], false)
            .expect("add");
        // Accepted by the real server (calibration put.*).
        for to in [
            Unavailable,
            Available,
            TemporaryUnavailable,
            TemporaryUnavailable,
            Available,
            BeingDeleted,
            Available,
            Bad,
            Available,
            Copying,
            TemporaryUnavailable,
        ] {
            c.update_replica_state("root", "EAST", "test", "f1", to)
                .unwrap_or_else(|f| panic!("to {to:?}: {f:?}"));
            assert_eq!(c.replica("test", "f1", "EAST").map(|r| r.state), Some(to));
        }
        // Refused: TEMPORARY_UNAVAILABLE from a state other than A, C, T.
        for from in [Unavailable, Bad, BeingDeleted] {
            c.update_replica_state("root", "EAST", "test", "f1", from)
                .expect("set");
            let refused =
                c.update_replica_state("root", "EAST", "test", "f1", TemporaryUnavailable);
            assert_eq!(
                refused.map_err(|f| f.class()),
                Err(Some("UnsupportedOperation"))
            );
            assert_eq!(c.replica("test", "f1", "EAST").map(|r| r.state), Some(from));
        }
        let unknown = c.update_replica_state("root", "EAST", "test", "nosuch", Available);
        assert_eq!(
            unknown.map_err(|f| (f.status(), f.class())),
            Err((500, Some("ReplicaNotFound")))
        );
        let nobody = c.update_replica_state("nobody", "EAST", "test", "f1", Available);
        assert_eq!(nobody.map_err(|f| f.status()), Err(401));
    }

    #[test]
    fn readding_keeps_the_first_size_and_delete_follows_the_policy() {
        let mut c = bootstrapped(3, &["EAST", "WEST"]);
        c.add_replicas("root", "EAST", &[file("f1", 10)], false)
            .expect("add");
        c.add_replicas("root", "EAST", &[file("f1", 11)], false)
            .expect("silent re-add");
        assert_eq!(c.did("test", "f1").map(|d| d.bytes), Some(10));
        let did = [("test".to_string(), "f1".to_string())];
        let refused = c.delete_replicas("root", "EAST", &did, false);
        assert_eq!(
            refused.map_err(|f| (f.status(), f.class())),
            Err((401, Some("AccessDenied")))
        );
        c.policy.delete_allowed = true;
        let missing = [("test".to_string(), "nosuch".to_string())];
        assert_eq!(
            c.delete_replicas("root", "EAST", &[did[0].clone(), missing[0].clone()], false)
                .map_err(|f| f.status()),
            Err(404)
        );
        assert!(c.replica("test", "f1", "EAST").is_some(), "all or nothing");
        assert_eq!(
            c.delete_replicas("root", "NODELETE", &did, false)
                .map_err(|f| f.status()),
            Err(503)
        );
        c.delete_replicas("root", "EAST", &did, false)
            .expect("deleted");
        assert!(c.replica("test", "f1", "EAST").is_none());
        assert_eq!(
            c.delete_replicas("nobody", "EAST", &did, false)
                .map_err(|f| f.status()),
            Err(401)
        );
    }

    #[test]
    fn tombstones_respect_locks() {
        let mut c = bootstrapped(3, &["EAST", "WEST"]);
        c.add_replicas("root", "EAST", &[file("f1", 10)], false)
            .expect("add");
        c.set_tombstone("root", "EAST", "test", "f1")
            .expect("tombstone");
        assert_eq!(
            c.replica("test", "f1", "EAST").and_then(|r| r.tombstone),
            Some(OBSOLETE)
        );
        let dids = [("test".to_string(), "f1".to_string())];
        let rses = ["EAST".to_string()].into_iter().collect();
        assert_eq!(
            c.add_rule("root", "root", &dids, &rses, 1, RuleLife::default())
                .map_err(|f| f.class()),
            Err(Some("InsufficientAccountLimit"))
        );
        c.set_account_limit("root", "root", "EAST", 100)
            .expect("limit");
        c.add_rule("root", "root", &dids, &rses, 1, RuleLife::default())
            .expect("rule");
        assert_eq!(
            c.replica("test", "f1", "EAST").and_then(|r| r.tombstone),
            None,
            "a lock clears the tombstone"
        );
        let locked = c.set_tombstone("root", "EAST", "test", "f1");
        assert_eq!(locked.map_err(|f| f.status()), Err(423));
        assert_eq!(
            c.set_tombstone("nobody", "EAST", "test", "f1")
                .map_err(|f| f.status()),
            Err(500)
        );
    }
}
