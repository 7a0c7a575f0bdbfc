//! `replisim sweep --world ds3`: the DS3 replication experiment under gateway crashes and
//! partitions between the systems, run through the sweep's seed runner. The reference keeps
//! "a replicated job completes with identical objects on both systems or is reported not
//! complete"; the defect `ds3-cache-in-memory` (received blobs held in memory until
//! persisted) breaks it within the first 10 seeds; the command line runs the same world,
//! shards and resumes it like any other.

use std::collections::BTreeSet;
use std::process::{Command, Output};

use replisim_conformance::families::ds3::faults::{self, Ds3Seeds, FAULT_KINDS, INVARIANT};
use replisim_conformance::sweep::{run, Plan, SweepResult};
use replisim_sim::ds3::defects::Defect;

fn sweep(runner: &Ds3Seeds, seeds: std::ops::Range<u64>) -> SweepResult {
    let mut plan = Plan::fresh(runner, seeds, None);
    plan.jobs = 2;
    run(runner, plan, &|_| {}, &|_| {})
}

#[test]
fn the_reference_replicates_identically_or_reports_incomplete_under_every_fault_kind() {
    let result = sweep(&Ds3Seeds::default(), 0..60);
    let failing: Vec<String> = result
        .tally
        .failures
        .iter()
        .map(|f| format!("seed {}: {:?} {:?}", f.seed, f.crash, f.details))
        .collect();
    assert_eq!(result.tally.failing, 0, "failing seeds: {failing:#?}");
    assert_eq!(result.tally.seeds, 60);
    assert!(result.complete());
    for kind in FAULT_KINDS {
        assert!(
            result.tally.faults.get(kind).copied().unwrap_or(0) > 0,
            "{kind} never injected: {:?}",
            result.tally.faults
        );
    }
}

/// N = 10: the defect must fail some seed among the first ten.
#[test]
fn a_gateway_that_keeps_received_blobs_in_memory_fails_within_ten_seeds() {
    let runner = Ds3Seeds {
        defects: BTreeSet::from([Defect::CacheInMemory]),
    };
    let result = sweep(&runner, 0..10);
    assert!(result.tally.failing >= 1, "{:?}", result.tally);
    let first = &result.tally.failures[0];
    assert_eq!(first.by_invariant.get(INVARIANT), Some(&1), "{first:?}");
    assert!(
        first
            .details
            .iter()
            .any(|d| d.contains("COMPLETED on the target")),
        "{first:?}"
    );
    assert_eq!(
        first.replay,
        format!(
            "replisim sweep --seed {} --world ds3 --defect ds3-cache-in-memory",
            first.seed
        )
    );
}

#[test]
fn a_seed_replays_to_the_same_digest_and_outcome() {
    let a = faults::run_seed(5).expect("runs");
    let b = faults::run_seed(5).expect("runs");
    assert!(a.faults > 0, "seed 5 injects faults");
    assert_eq!(a, b);
    assert_ne!(a.digest, faults::run_seed(6).expect("runs").digest);
}

fn replisim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_replisim"))
        .args(args)
        .output()
        .expect("replisim runs")
}

#[test]
fn the_command_line_runs_the_ds3_world_and_refuses_what_it_cannot_do() {
    let out = replisim(&[
        "sweep",
        "--world",
        "ds3",
        "--seeds",
        "0..4",
        "--jobs",
        "2",
        "--no-progress",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("4 seeds"), "{stdout}");
    assert!(stdout.contains("0 failing"), "{stdout}");
    let bad = replisim(&["sweep", "--world", "ds3", "--seed", "1", "--defect", "nope"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown DS3 defect"));
    let trace = replisim(&[
        "sweep", "--world", "ds3", "--seed", "1", "--trace", "x.json",
    ]);
    assert_eq!(trace.status.code(), Some(2));
    let failing = replisim(&[
        "sweep",
        "--world",
        "ds3",
        "--seeds",
        "0..10",
        "--defect",
        "ds3-cache-in-memory",
        "--no-progress",
    ]);
    assert_eq!(failing.status.code(), Some(1), "{failing:?}");
}
