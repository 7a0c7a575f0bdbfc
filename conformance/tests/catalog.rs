//! The catalog has teeth and no false alarms: the clean reference passes every rule on many
//! seeds, each deliberate defect trips the rule it is meant to break, and the same catalog
//! passes over real TCP against `replisim serve` started in-process.

use std::collections::BTreeSet;

use replisim_conformance::catalog;
use replisim_conformance::runner::{self, RunOptions, TargetSpec};
use replisim_conformance::verdict::{Outcome, RuleResult};
use replisim_sim::scsp::defects::Defect;
use replisim_sim::serve::{self, ServeConfig};

fn failures(results: &[RuleResult]) -> Vec<String> {
    results
        .iter()
        .filter(|r| r.verdict.outcome != Outcome::Pass)
        .map(|r| format!("{} {:?}: {}", r.id, r.verdict.outcome, r.verdict.evidence))
        .collect()
}

/// The rules that have a check (the others are always skipped with their reason).
fn checked_rules() -> Vec<catalog::Rule> {
    catalog::all()
        .into_iter()
        .filter(catalog::Rule::is_checked)
        .collect()
}

#[test]
fn clean_reference_passes_every_rule_on_100_seeds() {
    let rules = checked_rules();
    for seed in 0..100 {
        let results = runner::run(&rules, &RunOptions::sim(seed));
        assert_eq!(results.len(), rules.len());
        let bad = failures(&results);
        assert!(bad.is_empty(), "seed {seed}: {bad:#?}");
    }
}

#[test]
fn every_defect_trips_the_rule_it_breaks() {
    let rules = catalog::all();
    // Defects that break a fault invariant are caught by sweeps (sim/tests/sweep.rs);
    // tests/defects.rs asserts that every other defect breaks a checked rule.
    for &defect in Defect::ALL
        .iter()
        .filter(|d| d.breaks().starts_with("SCSP-"))
    {
        let rule = rules
            .iter()
            .find(|r| r.id == defect.breaks())
            .unwrap_or_else(|| panic!("{defect}: rule {} is not in the catalog", defect.breaks()));
        if !rule.is_checked() {
            continue;
        }
        let mut options = RunOptions::sim(3);
        options.target = TargetSpec::Sim {
            nodes: 4,
            defects: BTreeSet::from([defect]),
        };
        let results = runner::run(std::slice::from_ref(rule), &options);
        let intended = &results[0];
        assert_eq!(
            intended.verdict.outcome,
            Outcome::Fail,
            "{defect} should fail {}, but: {}",
            intended.id,
            intended.verdict.evidence
        );
        assert!(
            !intended.transcript.is_empty(),
            "{defect}: a failure must come with its transcript"
        );
    }
}

#[test]
fn catalog_passes_over_real_tcp_against_serve() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let cluster = runtime
        .block_on(serve::start(ServeConfig::new(4, 0)))
        .expect("cluster on ephemeral loopback ports");
    // The SCSP family against SCSP nodes, and the publisher family's rules, which must skip
    // for want of a publisher target (tests/ds3_tcp.rs runs the DS3 family over TCP).
    let rules: Vec<catalog::Rule> = checked_rules()
        .into_iter()
        .filter(|r| ["scsp", "publisher"].contains(&r.protocol().as_str()))
        .collect();
    let mut options = RunOptions::sim(5);
    options.target = TargetSpec::Http {
        nodes: cluster.addrs.iter().copied().map(Into::into).collect(),
    };
    options.rule_timeout = std::time::Duration::from_secs(60);
    // The runner makes its own runtime; the cluster keeps serving on this one meanwhile.
    let results = std::thread::spawn(move || runner::run(&rules, &options))
        .join()
        .expect("runner thread");
    let failed: Vec<String> = results
        .iter()
        .filter(|r| r.verdict.outcome == Outcome::Fail)
        .map(|r| format!("{}: {}", r.id, r.verdict.evidence))
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
    let ids = |want: Outcome| -> Vec<&str> {
        results
            .iter()
            .filter(|r| r.verdict.outcome == want)
            .map(|r| r.id)
            .collect()
    };
    // Against --target the vendor profile judges; SCSP-33 is only the reference's own
    // COPY-by-part syntax, so nothing of it is judged. SCSP-15 and SCSP-38 need the
    // disk-full and bit-rot faults, which a target without fault control lacks.
    // The publisher family's rules need a `publisher` target, which this run lacks.
    let (enum_skips, scsp_skips): (Vec<&str>, Vec<&str>) = ids(Outcome::Skip)
        .into_iter()
        .partition(|id| id.starts_with("ENUM-"));
    assert_eq!(
        scsp_skips,
        vec!["SCSP-15", "SCSP-33", "SCSP-38"],
        "unexpected skips"
    );
    assert_eq!(enum_skips.len(), 16);
    assert!(results
        .iter()
        .filter(|r| r.id.starts_with("ENUM-"))
        .all(|r| r.verdict.evidence.contains("needs a `publisher` target")));
    for r in results
        .iter()
        .filter(|r| ["SCSP-15", "SCSP-38"].contains(&r.id))
    {
        assert!(
            r.verdict.evidence.contains("faults"),
            "{}: {}",
            r.id,
            r.verdict.evidence
        );
    }
    // No PASS hides a clause that was not observed, and every PARTIAL names one.
    for r in &results {
        assert_eq!(
            r.verdict.outcome == Outcome::Partial,
            r.verdict.has_unobserved(),
            "{} {:?}: {}",
            r.id,
            r.verdict.outcome,
            r.verdict.evidence
        );
    }
    // Retiring nodes (SCSP-3), killing them (SCSP-7, SCSP-8) and moving clocks (SCSP-19)
    // need control a plain HTTP target lacks.
    let partial = ids(Outcome::Partial);
    for id in ["SCSP-3", "SCSP-7", "SCSP-8", "SCSP-19"] {
        assert!(partial.contains(&id), "{id} should be PARTIAL: {partial:?}");
    }
    drop(runtime);
}
