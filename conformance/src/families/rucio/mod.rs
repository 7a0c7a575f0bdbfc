//! The rucio family: Rucio's replicas REST API (issue 14, rules RUC-1..24), checked against
//! a catalog bootstrapped like tools/rucio/bootstrap.py: Rucio's real server
//! (`--target rucio=URL` after tools/rucio/setup.sh and start.sh) or the reference
//! (`replisim serve --rucio`, and one simulated catalog host per rule in the simulator).
//!
//! Where Rucio 41.5.1 answers otherwise than the code-derived spec, the rule texts here
//! follow the server and say "corrected" (docs/rucio.md lists each disagreement with the
//! recorded case that shows it). Rules that need a daemon (necromancer, judge-cleaner,
//! reaper) are checked where the target's control runs them on demand (the simulator) and
//! skipped elsewhere: the replicas API offers no way to run one.

use replisim_sim::rucio::host::RucioHosts;
use replisim_sim::world::{Link, WorldBuilder};

use super::{CleanupFuture, CleanupJob, Family, Role, SimParams, SimRole};
use crate::catalog::{CheckFn, Rule, Strength};
use crate::clause::ClauseSpec;
use crate::simcontrol::RUCIO_CLUSTER;

pub mod api;
pub mod bad;
pub mod daemons;
pub mod listing;
pub mod replicas;

/// The roles rucio rules talk to: a Rucio catalog server.
pub const ROLES: &[Role] = &[Role::Rucio];

/// Rucio's REST API documentation and server code (the spec's section 4 sources).
pub const SRC_API: &str = "RUCIO/replicas-rest";
/// What Rucio 41.5.1 answers (tools/rucio/calibration.json, docs/rucio.md).
pub const SRC_SERVER: &str = "RUCIO/server-41.5.1";

/// The rucio family.
pub const FAMILY: Family = Family {
    name: "rucio",
    summary: "Rucio replicas REST API (docs/rucio.md, RUC-n), calibrated against Rucio 41.5.1",
    roles: ROLES,
    rules: all,
    namespace: names_for,
    cleanup,
    world,
    sim_roles: &[SimRole {
        role: Role::Rucio,
        clusters: &["rucio"],
    }],
};

/// A checked rule of the family.
pub(crate) fn rule(
    id: &'static str,
    title: &'static str,
    source: &'static str,
    strength: Strength,
    check: CheckFn,
    clauses: &'static [ClauseSpec],
) -> Rule {
    Rule::checked(id, title, source, strength, ROLES, check, clauses)
}

/// Every rucio rule.
fn all() -> Vec<Rule> {
    let mut rules = replicas::rules();
    rules.extend(listing::rules());
    rules.extend(bad::rules());
    rules.extend(daemons::rules());
    rules
}

/// The file-name prefix one rule writes under: the run's nonce and the rule id, so that
/// rules and runs against the same catalog never see each other's files.
pub fn names_for(rule: &Rule, nonce: u64) -> String {
    format!("rs-{nonce:x}-{}", rule.id.to_ascii_lowercase())
}

/// Nothing to clean: no account may delete replicas over REST under the generic policy
/// (RUC-1, RUC-16), and every rule writes under its own names, so leftovers never meet.
fn cleanup(_job: CleanupJob) -> CleanupFuture {
    Box::pin(async { None })
}

/// One reference catalog host (`--nodes` does not apply: a Rucio server is one service),
/// and the storage of the RSEs EAST and WEST: a 2-node SCSP cluster each (`east`, `west`),
/// where the daemons the simulator runs on demand (RUC-20, RUC-24) copy and delete bytes.
fn world(params: &SimParams) -> WorldBuilder {
    world_with_storage(params.rucio_defects.clone())
}

/// The catalog host (with `defects`) and the RSEs' clusters: the rule worlds and the
/// `rucio-storage` scenarios.
pub fn world_with_storage(
    defects: std::collections::BTreeSet<replisim_sim::rucio::defects::Defect>,
) -> WorldBuilder {
    WorldBuilder::new()
        .cluster(RUCIO_CLUSTER, 1, RucioHosts::new(defects))
        .cluster("east", 2, replisim_sim::scsp::node())
        .cluster("west", 2, replisim_sim::scsp::node())
        .wan(RUCIO_CLUSTER, "east", Link::new())
        .wan(RUCIO_CLUSTER, "west", Link::new())
        .wan("east", "west", Link::new())
}
