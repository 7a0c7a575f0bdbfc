//! `replisim sweep` at scale: the clean reference keeps every invariant over 1,000 seeds with
//! every fault kind on, a seed with faults replays to the same digest, and a sweep cut into
//! shards, stopped and resumed, then merged, finds exactly what the unsharded run finds.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use replisim_conformance::sweep::{run, Plan, ScspSeeds, SweepResult};
use replisim_sim::sweep::{run_seed, SweepConfig};

#[test]
fn clean_reference_passes_a_thousand_seeds_with_every_fault_kind() {
    let runner = ScspSeeds {
        config: SweepConfig::new(),
        replay_args: String::new(),
    };
    let mut plan = Plan::fresh(&runner, 0..1000, None);
    plan.jobs = 2;
    let result = run(&runner, plan, &|_| {}, &|_| {});
    let failing: Vec<String> = result
        .tally
        .failures
        .iter()
        .map(|f| format!("seed {}: {:?} {:?}", f.seed, f.crash, f.details))
        .collect();
    assert_eq!(result.tally.failing, 0, "failing seeds: {failing:#?}");
    assert_eq!(result.tally.seeds, 1000);
    assert!(result.complete());
    let faults = &result.tally.faults;
    assert_eq!(faults.len(), 9, "every fault kind was injected: {faults:?}");
}

#[test]
fn a_seed_with_faults_replays_to_the_same_digest() {
    let config = SweepConfig::new();
    let a = run_seed(77, &config).expect("runs");
    let b = run_seed(77, &config).expect("runs");
    assert!(!a.faults.is_empty(), "seed 77 injects faults");
    assert_eq!(a.digest, b.digest);
    assert_ne!(a.digest, run_seed(78, &config).expect("runs").digest);
}

/// A defect that loses acknowledged writes under crashes: some seeds fail, so the merged
/// list of failing seeds and their replay commands is compared too.
const FLAGS: [&str; 4] = ["--faults", "crash", "--defect", "ack-before-sync"];

fn replisim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_replisim"))
        .args(args)
        .output()
        .expect("replisim runs")
}

fn sweep_to(dir: &Path, name: &str, extra: &[&str]) -> (PathBuf, Output) {
    let path = dir.join(name);
    let out = path.to_string_lossy().into_owned();
    let mut args = vec!["sweep", "--seeds", "0..12", "--jobs", "2", "--out", &out];
    args.extend_from_slice(&FLAGS);
    args.extend_from_slice(extra);
    let output = replisim(&args);
    (path, output)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The summary without the line of wall times, which differ between runs.
fn findings(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter(|l| {
            l.starts_with("FAIL")
                || l.starts_with("CRASH")
                || l.starts_with("  ")
                || l.starts_with("faults injected")
                || l.starts_with("violations")
        })
        .collect()
}

#[test]
fn shards_stopped_resumed_and_merged_equal_the_unsharded_run() {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("sweep-merge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");

    let (whole_path, whole_out) = sweep_to(&dir, "whole.json", &[]);
    let whole = SweepResult::load(&whole_path).expect("whole result");
    assert!(whole.complete() && whole.tally.seeds == 12);
    assert!(whole.tally.failing > 0, "the defect fails some seeds");
    assert_eq!(
        whole_out.status.code(),
        Some(1),
        "{}",
        text(&whole_out.stderr)
    );

    let mut shards = Vec::new();
    for k in 0..3 {
        let shard = format!("{k}/3");
        let name = format!("shard-{k}.json");
        if k == 1 {
            // Stopped after one seed, then resumed from its own file.
            let (path, stopped) = sweep_to(&dir, &name, &["--shard", &shard, "--stop-after", "1"]);
            let part = SweepResult::load(&path).expect("checkpoint");
            assert_eq!(part.done.len(), 1, "{}", text(&stopped.stdout));
            assert!(!part.complete());
            let stdout = text(&stopped.stdout);
            assert!(
                stdout.contains("continue with: replisim sweep --seeds 0..12 --shard 1/3"),
                "{stdout}"
            );
            assert!(
                stdout.contains("incomplete: 3 of 4 planned seeds not run"),
                "{stdout}"
            );
            let p = path.to_string_lossy().into_owned();
            let mut args = vec![
                "sweep", "--seeds", "0..12", "--jobs", "2", "--shard", &shard,
            ];
            args.extend_from_slice(&FLAGS);
            args.extend_from_slice(&["--resume", &p]);
            let resumed = replisim(&args);
            assert!(text(&resumed.stdout).contains("resuming: 1 seeds done, 3 to run"));
            let done = SweepResult::load(&path).expect("resumed result");
            assert!(done.complete());
            assert_eq!(done.timing.runs, 2);
        } else if k == 2 {
            // --checkpoint starts when its file is missing and resumes when it is there.
            let path = dir.join(&name).to_string_lossy().into_owned();
            let mut args = vec!["sweep", "--seeds", "0..12", "--shard", &shard];
            args.extend_from_slice(&FLAGS);
            args.extend_from_slice(&["--checkpoint", &path]);
            let first = replisim(&[&args[..], &["--stop-after", "3"]].concat());
            assert!(!text(&first.stdout).contains("resuming"));
            let part = SweepResult::load(Path::new(&path)).expect("checkpoint");
            assert_eq!(part.done.len(), 3);
            let rest = replisim(&args);
            assert!(text(&rest.stdout).contains("resuming: 3 seeds done, 1 to run"));
        } else {
            let (_, o) = sweep_to(&dir, &name, &["--shard", &shard]);
            assert!(o.status.code().is_some(), "{}", text(&o.stderr));
        }
        shards.push(dir.join(name).to_string_lossy().into_owned());
    }

    let merged_path = dir.join("merged.json").to_string_lossy().into_owned();
    let mut args = vec!["merge"];
    args.extend(shards.iter().map(String::as_str));
    args.extend_from_slice(&["--out", &merged_path]);
    let merged_out = replisim(&args);
    assert_eq!(merged_out.status.code(), whole_out.status.code());
    let merged = SweepResult::load(Path::new(&merged_path)).expect("merged result");
    assert_eq!(merged.tally, whole.tally);
    assert_eq!(merged.done, whole.done);
    assert_eq!(merged.planned, whole.planned);
    assert_eq!(merged.timing.runs, 5);
    let (m, w) = (text(&merged_out.stdout), text(&whole_out.stdout));
    assert_eq!(findings(&m), findings(&w));
    assert!(m.contains("replay: replisim sweep --seed "), "{m}");

    // The same shard twice, or a shard of other settings, is refused with a reason.
    let twice = replisim(&["merge", &shards[0], &shards[0]]);
    assert_eq!(twice.status.code(), Some(2));
    assert!(
        text(&twice.stderr).contains("both cover seeds 0..4"),
        "{}",
        text(&twice.stderr)
    );
    let (other, _) = sweep_to(&dir, "other.json", &["--shard", "1/3", "--ops", "20"]);
    let other = other.to_string_lossy().into_owned();
    let mismatch = replisim(&["merge", &shards[0], &other]);
    assert_eq!(mismatch.status.code(), Some(2));
    let err = text(&mismatch.stderr);
    assert!(
        err.contains("does not match") && err.contains("--ops 20"),
        "{err}"
    );
    // Resuming with other settings is refused too.
    let wrong = replisim(&[
        "sweep", "--seeds", "0..12", "--shard", "0/3", "--resume", &shards[0],
    ]);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(
        text(&wrong.stderr).contains("is not this sweep"),
        "{}",
        text(&wrong.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
