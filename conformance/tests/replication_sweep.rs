//! `replisim sweep --world replication`: 60 seeds with every WAN fault and crash keep every
//! replication invariant; the defect "acknowledge before applying" is caught within 50
//! seeds; the binary's exit codes, summary and replay line.

use std::process::Command;

use replisim_conformance::replication_sweep::{run, summary};
use replisim_sim::replication::sweep::ReplicationSweepConfig;
use replisim_sim::replicator::ReplicatorDefect;

#[test]
fn sixty_seeds_with_wan_faults_and_crashes_keep_every_replication_invariant() {
    let outcome = run(0..60, 2, &ReplicationSweepConfig::new(), &|_, _, _| {});
    let text = summary(&outcome, "");
    assert_eq!(outcome.failing(), 0, "{text}");
    assert_eq!(outcome.reports.len(), 60);
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
    assert!(outcome
        .reports
        .iter()
        .all(|r| r.catch_up.is_some_and(|t| t <= r.bound)));
}

#[test]
fn acknowledging_before_applying_is_caught_within_50_seeds() {
    let mut config = ReplicationSweepConfig::new();
    config
        .spec
        .replicator
        .defects
        .insert(ReplicatorDefect::AckBeforeApply);
    let caught = (0..50).find(|seed| {
        let outcome = run(*seed..*seed + 1, 1, &config, &|_, _, _| {});
        outcome.failing() > 0
    });
    assert!(caught.is_some(), "ack-before-apply survived 50 seeds");
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
            && text.contains("--defect ignore-deletes"),
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
