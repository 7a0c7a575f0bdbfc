//! `replisim sweep` at scale: the clean reference keeps every invariant over 1,000 seeds with
//! every fault kind on, and a seed with faults replays to the same digest.

use replisim_conformance::sweep::run;
use replisim_sim::sweep::{run_seed, SweepConfig};

#[test]
fn clean_reference_passes_a_thousand_seeds_with_every_fault_kind() {
    let config = SweepConfig::new();
    let outcome = run(0..1000, 2, &config, &|_, _, _| {});
    assert!(outcome.crashed.is_empty(), "{:?}", outcome.crashed);
    let failing: Vec<String> = outcome
        .reports
        .iter()
        .filter(|r| !r.violations.is_empty())
        .map(|r| format!("seed {}: {}", r.seed, r.violations[0]))
        .collect();
    assert!(
        failing.is_empty(),
        "{} failing seeds: {failing:#?}",
        failing.len()
    );
    assert_eq!(outcome.reports.len(), 1000);
    let faults = outcome.faults_by_kind();
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
