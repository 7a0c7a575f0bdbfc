//! The stateful property test has teeth: with a deliberate defect switched on in every node,
//! proptest (a fixed generator seed, so the run is the same every time) finds a case the
//! reference model rejects and shrinks operations and faults together to at most
//! [`STEPS_MAX`] steps. The shrunk case, printed as a scenario file, must parse, fail on the
//! defective node and pass on the clean one: a drop-in regression test for `scenarios/`.

mod prop_support;

use std::collections::BTreeSet;

use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use replisim_conformance::model::{regression, run_case, RunConfig};
use replisim_conformance::scenario::{parse, run_sim};
use replisim_sim::scsp::defects::Defect;

use prop_support::{case, Gen};

/// The longest shrunk counterexample accepted.
const STEPS_MAX: usize = 10;

/// Cases tried before giving up on finding the defect.
const CASES: u32 = 200;

fn runner(seed: u8) -> TestRunner {
    let config = Config {
        cases: CASES,
        failure_persistence: None,
        max_shrink_iters: 2000,
        ..Config::default()
    };
    TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]),
    )
}

/// Runs proptest with `defect` on, asserts it fails and shrinks to at most [`STEPS_MAX`]
/// steps, and that the printed scenario replays: fails with the defect, passes without.
fn hunt(defect: Defect, gen: Gen, seed: u8) -> String {
    let run = RunConfig {
        defects: BTreeSet::from([defect]),
        ..RunConfig::default()
    };
    let mut runner = runner(seed);
    let result = runner.run(&case(&gen), |c| {
        let report = run_case(&c, &run);
        match report.violation {
            Some(v) => Err(TestCaseError::fail(v.to_string())),
            None => Ok(()),
        }
    });
    let (reason, minimal) = match result {
        Err(TestError::Fail(reason, minimal)) => (reason, minimal),
        Err(TestError::Abort(why)) => panic!("{defect}: proptest aborted: {why}"),
        Ok(()) => panic!("{defect}: {CASES} cases found no counterexample"),
    };
    let report = run_case(&minimal, &run);
    assert!(
        report.violation.is_some(),
        "{defect}: the minimal case replays its failure"
    );
    let reproducer = report.scenario(&run.defects, run.health_interval);
    println!(
        "{defect}: shrunk to {} steps: {reason}\n{reproducer}",
        minimal.steps.len()
    );
    assert!(
        minimal.steps.len() <= STEPS_MAX,
        "{defect}: the minimal case has {} steps (at most {STEPS_MAX} wanted):\n{reproducer}",
        minimal.steps.len()
    );
    // The reproducer is a valid scenario file.
    parse("reproducer.toml", &reproducer).unwrap_or_else(|e| panic!("{e}\n{reproducer}"));

    // The regression scenario passes on the clean node and fails with the defect.
    let scenario = regression(&minimal, &run)
        .unwrap_or_else(|| panic!("{defect}: the minimal case also fails on the clean node"));
    let clean = parse("regression.toml", &scenario).unwrap_or_else(|e| panic!("{e}\n{scenario}"));
    let outcome = run_sim(&clean, minimal.seed);
    assert!(
        outcome.passed(),
        "{defect}: the clean node fails the regression scenario: {:?}\n{scenario}",
        outcome.failure.map(|f| f.message)
    );
    let with_defect = scenario.replacen(
        "[cluster]\n",
        &format!("[cluster]\ndefects = [\"{}\"]\n", defect.name()),
        1,
    );
    let broken = parse("regression.toml", &with_defect).unwrap_or_else(|e| panic!("{e}"));
    let outcome = run_sim(&broken, minimal.seed);
    assert!(
        outcome.failure.is_some(),
        "{defect}: the regression scenario does not fail with the defect:\n{with_defect}"
    );
    scenario
}

fn faults(kinds: &[&'static str], ops_max: usize) -> Gen {
    Gen {
        ops_max,
        ops: 8,
        waits: 3,
        faults: 4,
        settles: 0,
        kinds: kinds.to_vec(),
    }
}

#[test]
fn rename_keeps_old_name_is_found_and_shrunk() {
    let scenario = hunt(Defect::RenameKeepsOldName, Gen::calm(16), 1);
    assert!(scenario.contains("newname="));
}

#[test]
fn append_replaces_content_is_found_and_shrunk() {
    let scenario = hunt(Defect::AppendReplacesContent, Gen::calm(16), 2);
    assert!(scenario.contains("\"APPEND\""));
}

#[test]
fn copy_keeps_unlisted_headers_is_found_and_shrunk() {
    let scenario = hunt(Defect::CopyKeepsUnlistedHeaders, Gen::calm(16), 3);
    assert!(scenario.contains("\"COPY\""));
}

#[test]
fn preserve_ignored_is_found_and_shrunk() {
    let scenario = hunt(Defect::PreserveIgnored, Gen::calm(16), 4);
    assert!(scenario.contains("preserve=yes"));
}

#[test]
fn trailer_contradicts_body_is_found_and_shrunk() {
    let scenario = hunt(Defect::TrailerContradictsBody, Gen::calm(16), 5);
    assert!(scenario.contains("uploadId="));
}

#[test]
fn composite_md5_kept_on_put_is_found_and_shrunk() {
    let scenario = hunt(Defect::CompositeMd5KeptOnPut, Gen::calm(16), 6);
    assert!(scenario.contains("castor-system-compositemd5"));
}

#[test]
fn never_conflict_is_found_and_shrunk() {
    let scenario = hunt(Defect::NeverConflict, faults(&["clock"], 16), 7);
    assert!(
        scenario.contains("\"skew\""),
        "clock skew is what makes an update older"
    );
}

#[test]
fn ack_before_sync_is_found_and_shrunk() {
    let scenario = hunt(Defect::AckBeforeSync, faults(&["crash"], 16), 8);
    assert!(scenario.contains("\"crash\""));
}

#[test]
fn accept_writes_on_full_disk_is_found_and_shrunk() {
    let scenario = hunt(Defect::AcceptWritesOnFullDisk, faults(&["disk"], 16), 9);
    assert!(scenario.contains("\"disk_full\""));
}
