//! The stateful property test: generated sequences of client operations interleaved with
//! faults run in the simulator against the clean reference node, and every answer, the
//! disks after healing and the final reads must agree with the reference model
//! (`replisim_conformance::model`). A failure prints the shrunk case as a scenario file.
//!
//! Long campaign: `PROPTEST_CASES=2000 REPLISIM_PROP_OPS=60 cargo test --release -p
//! replisim-conformance --test prop_cluster`. Failures are kept in
//! `conformance/proptest-regressions/prop_cluster.txt` and replayed first on every run.

mod prop_support;

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use replisim_conformance::model::{run_case, RunConfig};

use prop_support::{case, config, Gen};

/// Cases per run by default: enough to cover every operation and fault family each run,
/// few enough for CI (see `PROPTEST_CASES`).
const CASES_DEFAULT: u32 = 64;

fn regressions() -> Option<Box<dyn proptest::test_runner::FailurePersistence>> {
    Some(Box::new(FileFailurePersistence::Direct(
        "proptest-regressions/prop_cluster.txt",
    )))
}

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: regressions(),
        ..config(CASES_DEFAULT)
    })]

    #[test]
    fn the_clean_node_agrees_with_the_model(case in case(&Gen::all())) {
        let run = RunConfig::default();
        let report = run_case(&case, &run);
        prop_assert!(
            report.violation.is_none(),
            "{}\n--- scenario (save as scenarios/NAME.toml; replay with `replisim run`) ---\n{}",
            report.violation.as_ref().map(|v| v.to_string()).unwrap_or_default(),
            report.scenario(&run.defects, run.health_interval)
        );
    }
}
