//! `replisim sweep --world replication`: 60 seeds with every WAN fault and crash keep every
//! replication invariant; the defect "acknowledge before applying" is caught within 50
//! seeds; the binary's exit codes, summary and replay line.

use std::process::Command;
use std::time::Duration;

use replisim_conformance::replication_sweep::ReplicationSeeds;
use replisim_conformance::sweep::{run, summary, Plan, SeedRunner, SweepResult};
use replisim_sim::replicator::ReplicatorDefect;

/// Runs `seeds` of `runner` on `jobs` threads through the sweep's seed runner.
fn sweep(runner: &ReplicationSeeds, seeds: std::ops::Range<u64>, jobs: usize) -> SweepResult {
    let mut plan = Plan::fresh(runner, seeds, None);
    plan.jobs = jobs;
    run(runner, plan, &|_| {}, &|_| {})
}

#[test]
fn sixty_seeds_with_wan_faults_and_crashes_keep_every_replication_invariant() {
    let runner = ReplicationSeeds::new("replication").expect("known world");
    let result = sweep(&runner, 0..60, 2);
    let text = summary(&result);
    assert_eq!(result.tally.failing, 0, "{text}");
    assert_eq!(result.tally.seeds, 60);
    assert!(result.complete());
    assert!(
        text.contains("violations: holds 0, deletes 0, catch-up 0, quiet 0"),
        "{text}"
    );
    for kind in [
        "wan-partition",
        "drop-answers",
        "crash-replicator",
        "crash-publisher",
    ] {
        assert!(text.contains(kind), "{kind} never injected: {text}");
    }
    // Every seed caught up, within its bound.
    let catch_up = result.tally.catch_up.expect("catch-up measured");
    assert_eq!(catch_up.seeds, 60, "{text}");
    assert!(catch_up.worst_permille <= 1000, "{text}");
    assert!(text.contains("catch-up after the heal: 60 seeds"), "{text}");
}

#[test]
fn a_sharded_replication_sweep_merges_to_the_whole_run() {
    let runner = ReplicationSeeds::new("replication-both").expect("known world");
    let whole = sweep(&runner, 0..4, 2);
    let mut parts = Vec::new();
    for index in 0..2 {
        let mut plan = Plan::fresh(
            &runner,
            0..4,
            Some(replisim_conformance::sweep::Shard { index, count: 2 }),
        );
        plan.jobs = 1;
        parts.push((
            format!("shard {index}"),
            run(&runner, plan, &|_| {}, &|_| {}),
        ));
    }
    let merged = replisim_conformance::sweep::merge(&parts).expect("shards merge");
    assert_eq!(merged.tally, whole.tally, "catch-up statistics included");
    assert_eq!(runner.world(), "replication-both");
}

#[test]
fn a_seed_that_hangs_is_a_failing_seed_with_its_replay_command() {
    let mut runner = ReplicationSeeds::new("replication").expect("known world");
    // No seed finishes within zero wall time: each is given up and reported.
    runner.wall_limit = Duration::ZERO;
    let result = sweep(&runner, 0..2, 2);
    assert_eq!((result.tally.failing, result.tally.crashed), (2, 2));
    let text = summary(&result);
    assert!(text.contains("wall time"), "{text}");
    assert!(
        text.contains("replay: replisim sweep --seed 0 --world replication"),
        "{text}"
    );
}

#[test]
fn acknowledging_before_applying_is_caught_within_50_seeds() {
    let mut runner = ReplicationSeeds::new("replication").expect("known world");
    runner
        .config
        .spec
        .replicator
        .defects
        .insert(ReplicatorDefect::AckBeforeApply);
    let caught = (0..50).find(|seed| sweep(&runner, *seed..*seed + 1, 1).tally.failing > 0);
    assert!(caught.is_some(), "ack-before-apply survived 50 seeds");
}

/// `replisim sweep --world replication --seeds 0..50 --defect ack-before-apply` with every
/// other flag at its default (200 operations, 4 nodes, 60 s of faults at least): the faults
/// last as long as the writes, so the defect is caught within the 50 seeds.
#[test]
fn the_default_command_line_catches_acknowledging_before_applying_within_50_seeds() {
    use clap::Parser;
    use replisim_conformance::cli::{Cli, Command as Sub};
    let cli = Cli::try_parse_from([
        "replisim",
        "sweep",
        "--world",
        "replication",
        "--seeds",
        "0..50",
        "--defect",
        "ack-before-apply",
    ])
    .expect("valid arguments");
    let Sub::Sweep(args) = cli.command else {
        panic!("not sweep");
    };
    let runner = replisim_conformance::replication_sweep::runner(&args).expect("a runner");
    assert_eq!((runner.config.ops, runner.config.spec.a_nodes), (200, 4));
    let caught = (0..50).find(|seed| sweep(&runner, *seed..*seed + 1, 1).tally.failing > 0);
    assert!(
        caught.is_some(),
        "ack-before-apply survived 50 seeds with the defaults"
    );
}

fn replisim(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_replisim"))
        .args(args)
        .output()
        .expect("replisim runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn the_cli_runs_the_replication_world_and_names_failing_seeds() {
    let (code, text) = replisim(&["sweep", "--world", "replication", "--seeds", "0..3"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("3 seeds in") && text.contains("0 failing"),
        "{text}"
    );

    let (code, text) = replisim(&[
        "sweep",
        "--world",
        "replication-both",
        "--seed",
        "4",
        "--faults",
        "wan-partition,crash-replicator",
    ]);
    assert_eq!(code, 0, "{text}");

    let (code, text) = replisim(&[
        "sweep",
        "--world",
        "replication",
        "--seeds",
        "0..4",
        "--defect",
        "ignore-deletes",
    ]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("FAIL seed"), "{text}");
    assert!(
        text.contains("replay: replisim sweep --seed")
            && text.contains("--world replication")
            && text.contains("--defect ignore-deletes")
            && !text.contains("--trace"),
        "{text}"
    );

    for (args, says) in [
        (
            vec!["--world", "mars", "--seed", "1"],
            "unknown world `mars`",
        ),
        (
            vec![
                "--world",
                "replication",
                "--seed",
                "1",
                "--faults",
                "meteor",
            ],
            "unknown replication fault `meteor`",
        ),
        (
            vec![
                "--world",
                "replication",
                "--seed",
                "1",
                "--defect",
                "sloppy",
            ],
            "unknown replicator defect `sloppy`",
        ),
    ] {
        let mut all = vec!["sweep"];
        all.extend(args);
        let (code, text) = replisim(&all);
        assert_eq!(code, 2, "{text}");
        assert!(text.contains(says), "{text}");
    }
}
