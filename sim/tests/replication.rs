//! WAN replication in the simulator: a replicator in cluster B copies cluster A through
//! A's publisher, one way and both ways, under WAN faults and crashes; the replication
//! invariants hold, catch-up stays within its bound, and the named replicator defects are
//! caught.

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

/// The first seed of `seeds` on which the defect breaks an invariant, with what it broke.
fn first_caught(
    defect: ReplicatorDefect,
    seeds: std::ops::Range<u64>,
) -> Option<(u64, Vec<ReplicationInvariant>)> {
    let mut config = ReplicationSweepConfig::new();
    config.spec.replicator.defects.insert(defect);
    seeds.into_iter().find_map(|seed| {
        let r = run_seed(seed, &config).expect("the simulation runs");
        (!r.findings.is_empty()).then(|| (seed, r.by_invariant().into_keys().collect()))
    })
}

#[test]
fn every_replicator_defect_is_caught_within_50_seeds() {
    for defect in ReplicatorDefect::ALL {
        let caught = first_caught(defect, 0..50);
        eprintln!("{defect}: {caught:?}");
        assert!(caught.is_some(), "{defect} survived 50 seeds");
    }
}

#[test]
fn each_fault_kind_alone_loses_nothing() {
    for kind in WanFault::ALL {
        let mut config = ReplicationSweepConfig::new();
        config.faults = [kind].into_iter().collect();
        for seed in 20..22 {
            let r = run_seed(seed, &config).expect("the simulation runs");
            assert!(
                r.faults.get(&kind).is_some_and(|n| *n > 0),
                "{kind:?} never applied"
            );
            assert!(
                r.findings.is_empty(),
                "{kind:?} seed {seed}: {:?}",
                r.findings
            );
            assert!(r.catch_up.is_some_and(|t| t <= r.bound));
        }
    }
}

#[test]
fn both_ways_converge_without_a_loop_under_faults() {
    let config = ReplicationSweepConfig::bidirectional();
    clean(&config, 30..34);
}

#[test]
fn a_seed_replays_to_the_same_digest() {
    let config = ReplicationSweepConfig::new();
    let (a, b) = (run_seed(5, &config), run_seed(5, &config));
    let (a, b) = (a.expect("runs"), b.expect("runs"));
    assert_eq!(a.digest, b.digest);
    assert_eq!(a.faults, b.faults);
    assert!(!a.faults.is_empty());
}
