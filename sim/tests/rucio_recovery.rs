//! Replica recovery through simulated clusters, under faults (issue 14): the Rucio catalog
//! runs on its own host (`ops`), each RSE is a 3-node SCSP cluster (`east` = EAST,
//! `west` = WEST), and the daemons of `rucio::recovery` copy bytes between the clusters.
//!
//! Each seed writes files to one or both RSEs, loses some of one cluster's bytes, and then
//! partitions or crashes that cluster (or not). One recovery round runs during the fault,
//! the fault is healed, the simulated clock passes the TEMPORARY_UNAVAILABLE expiry, and two
//! more rounds run. Then the catalog must not report AVAILABLE any replica whose bytes are
//! gone, and no replica may still be TEMPORARY_UNAVAILABLE. The same sweep without the
//! auditor shows the property has teeth.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use replisim_sim::faults::Fault;
use replisim_sim::rt;
use replisim_sim::rucio::catalog::NewFile;
use replisim_sim::rucio::host::RucioHosts;
use replisim_sim::rucio::recovery::{recover, Found, RecoveryConfig, Round, Storage};
use replisim_sim::rucio::state::ReplicaState;
use replisim_sim::scsp;
use replisim_sim::seeded::SeededRng;
use replisim_sim::world::host::SharedFactory;
use replisim_sim::world::{simulate, Link, World};

const FILES: usize = 6;
const RSES: [(&str, &str); 2] = [("EAST", "east"), ("WEST", "west")];

/// What one seed did and found.
#[derive(Debug, Default)]
struct Outcome {
    fault: &'static str,
    rounds: Vec<Round>,
    /// AVAILABLE replicas whose bytes were not readable at the end, with what was found.
    violations: Vec<String>,
    /// Replicas still TEMPORARY_UNAVAILABLE at the end.
    still_unavailable: usize,
}

fn run(seed: u64, config: RecoveryConfig) -> Outcome {
    simulate(seed, move || async move {
        let hosts = Arc::new(RucioHosts::new(Default::default()));
        let world = World::builder()
            .cluster("ops", 1, SharedFactory(hosts.clone()))
            .cluster("east", 3, scsp::node())
            .cluster("west", 3, scsp::node())
            .wan("ops", "east", Link::new())
            .wan("ops", "west", Link::new())
            .wan("east", "west", Link::new())
            .client_in("ops")
            .build()
            .expect("a valid topology");
        let world = Arc::new(world);
        rt::sleep(Duration::from_millis(10)).await;
        let catalog = hosts.catalog(0).expect("the catalog host started");
        let clusters: BTreeMap<String, _> = RSES
            .iter()
            .map(|(rse, cluster)| {
                let addrs = world.cluster_addrs(cluster).expect("cluster exists");
                (rse.to_string(), addrs)
            })
            .collect();
        let victim_index = (seed % 2) as usize;
        let (victim_rse, victim_cluster) = RSES[victim_index];
        let victim_nodes: Vec<usize> = (0..3).map(|i| 1 + 3 * victim_index + i).collect();
        let client_world = world.clone();
        world
            .on_client(async move {
                let world = client_world;
                let storage = Storage::new(clusters, Duration::from_secs(3));
                storage.prepare().await.expect("buckets");
                let mut rng = SeededRng::new(seed);
                // Files on EAST, WEST or both.
                for i in 0..FILES {
                    let name = format!("f{i}");
                    let body = Bytes::from(format!("file {i} of seed {seed}"));
                    let on: &[&str] = match rng.below(3) {
                        0 => &["EAST"],
                        1 => &["WEST"],
                        _ => &["EAST", "WEST"],
                    };
                    for rse in on {
                        storage
                            .put(rse, "test", &name, body.clone())
                            .await
                            .expect("write before any fault");
                        let file = NewFile {
                            scope: "test".into(),
                            name: name.clone(),
                            bytes: body.len() as u64,
                            adler32: None,
                            md5: None,
                            pfn: None,
                            state: ReplicaState::Available,
                            tombstone: None,
                        };
                        let mut c = catalog.lock().unwrap_or_else(|p| p.into_inner());
                        c.add_replicas("root", rse, &[file], false)
                            .expect("add replica");
                    }
                }
                // The victim cluster loses some bytes (its catalog entries stay AVAILABLE).
                for i in 0..FILES {
                    if rng.below(2) == 0 {
                        storage
                            .delete(victim_rse, "test", &format!("f{i}"))
                            .await
                            .expect("delete before any fault");
                    }
                }
                let mut outcome = Outcome::default();
                let fault = match rng.below(3) {
                    0 => {
                        let other = RSES[1 - victim_index].1;
                        for peer in ["ops", other] {
                            world
                                .apply(&Fault::PartitionWan {
                                    a: peer.into(),
                                    b: victim_cluster.into(),
                                })
                                .expect("partition");
                        }
                        "partition"
                    }
                    1 => {
                        for &node in &victim_nodes {
                            world.apply(&Fault::Crash { node }).expect("crash");
                        }
                        "crash"
                    }
                    _ => "none",
                };
                outcome.fault = fault;
                outcome
                    .rounds
                    .push(recover(&catalog, &storage, rt::wall_now(), config).await);
                world.apply(&Fault::Heal).expect("heal");
                if fault == "crash" {
                    for &node in &victim_nodes {
                        world.apply(&Fault::Restart { node }).expect("restart");
                    }
                }
                rt::sleep(config.unavailable_for + Duration::from_secs(5)).await;
                for _ in 0..2 {
                    outcome
                        .rounds
                        .push(recover(&catalog, &storage, rt::wall_now(), config).await);
                }
                // The property, read from the clusters themselves.
                let replicas: Vec<(String, String, u64, ReplicaState)> = {
                    let c = catalog.lock().unwrap_or_else(|p| p.into_inner());
                    RSES.iter()
                        .flat_map(|(rse, _)| {
                            (0..FILES).filter_map(|i| {
                                let name = format!("f{i}");
                                let r = c.replica("test", &name, rse)?;
                                let size = c.did("test", &name).map_or(0, |d| d.bytes);
                                Some((rse.to_string(), name, size, r.state))
                            })
                        })
                        .collect()
                };
                for (rse, name, size, state) in replicas {
                    if state == ReplicaState::TemporaryUnavailable {
                        outcome.still_unavailable += 1;
                    }
                    if state != ReplicaState::Available {
                        continue;
                    }
                    match storage.get(&rse, "test", &name).await {
                        Found::Present(b) if b.len() as u64 == size => {}
                        other => outcome
                            .violations
                            .push(format!("{name} AVAILABLE on {rse} but reads {other:?}")),
                    }
                }
                outcome
            })
            .await
    })
}

#[test]
fn recovery_never_leaves_available_a_replica_whose_bytes_are_gone() {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for seed in 0..12 {
        let outcome = run(seed, RecoveryConfig::default());
        assert!(
            outcome.violations.is_empty(),
            "seed {seed} ({}): {:#?}\nrounds: {:#?}",
            outcome.fault,
            outcome.violations,
            outcome.rounds
        );
        assert_eq!(
            outcome.still_unavailable, 0,
            "seed {seed}: TEMPORARY_UNAVAILABLE outlived its expiry: {:#?}",
            outcome.rounds
        );
        *seen.entry(outcome.fault).or_default() += 1;
        for r in &outcome.rounds {
            *seen.entry("found gone").or_default() += r.found_gone.len();
            *seen.entry("made unavailable").or_default() += r.made_unavailable.len();
            *seen.entry("replicated").or_default() += r.replicated.len();
            *seen.entry("lost").or_default() += r.lost.len();
            *seen.entry("copy failed").or_default() += r.copy_failed.len();
        }
    }
    eprintln!("{seen:?}");
    // The sweep exercised every path: both faults, loss found, copies through the
    // clusters, files lost, and replicas unreachable for a while.
    for what in [
        "partition",
        "crash",
        "found gone",
        "made unavailable",
        "replicated",
        "lost",
    ] {
        assert!(
            seen.get(what).copied().unwrap_or(0) > 0,
            "never {what}: {seen:?}"
        );
    }
}

#[test]
fn without_the_auditor_the_catalog_reports_lost_bytes_available() {
    let config = RecoveryConfig {
        audit: false,
        ..RecoveryConfig::default()
    };
    let caught = (0..12).find(|&seed| !run(seed, config).violations.is_empty());
    assert!(
        caught.is_some(),
        "12 seeds of deleted bytes never showed an AVAILABLE replica without bytes"
    );
}

#[test]
fn recovery_replays_from_its_seed() {
    let a = run(5, RecoveryConfig::default());
    let b = run(5, RecoveryConfig::default());
    assert_eq!(a.rounds, b.rounds);
    assert_eq!(a.fault, b.fault);
}
