//! The fuzz runner the fuzz tests of both crates share (`sim/tests/fuzz.rs`,
//! `conformance/tests/fuzz_harness.rs`): proptest on stable Rust, a brief pass by default,
//! `REPLISIM_FUZZ_CASES=N` inputs per target for a campaign, and the count printed.

use std::sync::atomic::{AtomicU64, Ordering};

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};

/// Inputs per target in a plain test run (CI).
const CASES_BRIEF: u32 = 64;

/// A progress line every this many inputs, so a cut-off campaign still has its count.
const PROGRESS_EVERY: u64 = 100_000;

/// Runs `test` on the configured number of inputs from `strategy` and prints how many ran;
/// a failing input fails the test after shrinking and is kept in `regressions` (a path
/// relative to the crate) to be replayed first next time.
pub fn fuzz<S: Strategy>(
    regressions: &'static str,
    target: &str,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    let config = Config {
        cases: std::env::var("REPLISIM_FUZZ_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(CASES_BRIEF),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(regressions))),
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let ran = AtomicU64::new(0);
    let result = runner.run(&strategy, |value| {
        let n = ran.fetch_add(1, Ordering::Relaxed) + 1;
        if n % PROGRESS_EVERY == 0 {
            eprintln!("fuzz target {target}: {n} inputs so far");
        }
        test(value)
    });
    eprintln!(
        "fuzz target {target}: {} inputs",
        ran.load(Ordering::Relaxed)
    );
    if let Err(e) = result {
        panic!("fuzz target {target}: {e}");
    }
}
