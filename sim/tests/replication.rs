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

/// Live named objects of `disks` whose store key starts with `prefix`.
fn live_under(disks: &[replisim_sim::store::SharedDisk], prefix: &str) -> usize {
    replisim_sim::replication::check::newest_named(disks)
        .iter()
        .filter(|(k, n)| n.live && k.starts_with(prefix))
        .count()
}

/// Writes four objects in A's bucket `rep`, waits until B holds them, deletes the bucket in
/// A recursively with `recursive` (`=now` or the grace period) and waits a minute; returns
/// how many of the objects B then still holds.
fn left_in_b_after_a_recursive_delete(
    seed: u64,
    recursive: &'static str,
    defects: &[replisim_sim::publisher::defects::PublisherDefect],
) -> usize {
    use bytes::Bytes;
    use http::Method;
    use replisim_sim::replication::world::{ReplicationSpec, A, B};
    use replisim_sim::replicator::scsp::send;
    use replisim_sim::rt;
    use std::time::Duration;

    let mut spec = ReplicationSpec::new();
    spec.publisher_defects = defects.iter().copied().collect();
    replisim_sim::world::simulate(seed, move || async move {
        let world = spec.build().expect("the world builds");
        let a = world.cluster_addrs(A).expect("cluster A");
        let written = world
            .on_client_at(0, {
                let a = a.clone();
                async move {
                    let t = Duration::from_secs(4);
                    let made = send(a[0], Method::POST, "/rep", &[], Bytes::new(), t).await;
                    assert!(made.is_ok_and(|r| r.status.is_success()), "bucket created");
                    for i in 0..4 {
                        let body = Bytes::from(format!("object {i}"));
                        let name = format!("/rep/n{i}");
                        let w = send(a[i % a.len()], Method::POST, &name, &[], body, t).await;
                        assert!(w.is_ok_and(|r| r.status.is_success()), "{name} written");
                    }
                    4
                }
            })
            .await;
        let b_disks = world.cluster_disks(B);
        for _ in 0..60 {
            if live_under(&b_disks, "n//rep/") == written {
                break;
            }
            rt::sleep(Duration::from_secs(1)).await;
        }
        assert_eq!(live_under(&b_disks, "n//rep/"), written, "B caught up");
        world
            .on_client_at(0, async move {
                let t = Duration::from_secs(4);
                let target = format!("/rep?{recursive}");
                let d = send(a[1], Method::DELETE, &target, &[], Bytes::new(), t).await;
                assert!(d.is_ok_and(|r| r.status.is_success()), "{target} deleted");
            })
            .await;
        rt::sleep(Duration::from_secs(60)).await;
        live_under(&b_disks, "n//rep/")
    })
}

#[test]
fn a_recursive_bucket_delete_in_a_deletes_its_objects_in_b() {
    assert_eq!(
        left_in_b_after_a_recursive_delete(41, "recursive=now", &[]),
        0
    );
    assert_eq!(left_in_b_after_a_recursive_delete(42, "recursive", &[]), 0);
    // Without the context deletes' events, B keeps them all.
    let defect = replisim_sim::publisher::defects::PublisherDefect::IgnoresContextDeletes;
    assert_eq!(
        left_in_b_after_a_recursive_delete(41, "recursive=now", &[defect]),
        4
    );
}
