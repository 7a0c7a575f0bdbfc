//! Teeth for every clause: each deliberate defect of the reference node fails the clauses
//! `mutants::MUTANTS` maps it to (other clauses it fails are listed as collateral), and
//! every checked clause is failed by some defect, except those in [`AWAITING_MUTANT`].

use std::collections::BTreeSet;

use replisim_conformance::catalog;
use replisim_conformance::clause::ClauseState;
use replisim_conformance::mutants;
use replisim_conformance::runner::{self, RunOptions, TargetSpec};
use replisim_conformance::verdict::RuleResult;
use replisim_sim::scsp::defects::Defect;

/// Checked clauses that no defect of the reference node trips yet. New defects for them are
/// being written; this list may only shrink: the test fails when an entry gets a mutant
/// (remove it then) or stops being a checked clause.
const AWAITING_MUTANT: &[&str] = &[
    "SCSP-2.length",
    "SCSP-3.only-301-307",
    "SCSP-3.resend-accepted",
    "SCSP-3.no-bounce-back",
    "SCSP-4.readable",
    "SCSP-4.no-301-unless-retiring",
    "SCSP-16.within-limits",
    "SCSP-17.alias-reads-new",
    "SCSP-19.fast-201-or-409",
    "SCSP-19.fast-reads-acknowledged",
    "SCSP-20.recreate-soon-consistent",
    "SCSP-24.unchanged",
    "SCSP-25.copy-match",
    "SCSP-31.failed-invisible",
    "SCSP-32.valid-succeeds",
    "SCSP-32.failed-invisible",
    "SCSP-33.copied-part-assembles",
    "SCSP-34.initiate-body-ignored",
    "SCSP-34.complete-md5-400",
    "SCSP-35.resent-part",
    "SCSP-40.if-match-200",
    "SCSP-41.older-200",
];

fn failed_clauses(results: &[RuleResult]) -> BTreeSet<String> {
    results
        .iter()
        .flat_map(|r| r.verdict.clauses.iter())
        .filter(|c| matches!(c.state, ClauseState::Fail { .. }))
        .map(|c| c.id.clone())
        .collect()
}

#[test]
fn every_mutant_fails_its_mapped_clauses() {
    let rules: Vec<catalog::Rule> = catalog::all()
        .into_iter()
        .filter(catalog::Rule::is_checked)
        .collect();
    let mut problems = Vec::new();
    for &defect in Defect::ALL {
        let mapped = mutants::clauses_of(defect.name());
        if mapped == Some(&[]) {
            // Only a fault invariant or a rule without a check may have no clause.
            let unchecked = catalog::all()
                .iter()
                .any(|r| r.id == defect.breaks() && !r.is_checked());
            assert!(
                defect.breaks().starts_with("INV-") || unchecked,
                "{defect} maps to no clause but breaks {}, which is checked",
                defect.breaks()
            );
            continue;
        }
        let mut options = RunOptions::sim(3);
        options.target = TargetSpec::Sim {
            nodes: 4,
            defects: BTreeSet::from([defect]),
        };
        let results = runner::run(&rules, &options);
        let failed = failed_clauses(&results);
        let Some(mapped) = mapped else {
            problems.push(format!(
                "{defect} (breaks {}) is not in mutants::MUTANTS; it fails {failed:?}",
                defect.breaks()
            ));
            continue;
        };
        for clause in mapped {
            if !failed.contains(*clause) {
                problems.push(format!(
                    "{defect} does not fail {clause} (it fails {failed:?})"
                ));
            }
        }
        let collateral: Vec<&String> = failed
            .iter()
            .filter(|c| !mapped.contains(&c.as_str()))
            .collect();
        eprintln!("{defect}: fails {mapped:?}; collateral {collateral:?}");
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn every_checked_clause_has_a_mutant() {
    let unmapped = mutants::unmapped_clauses();
    let missing: Vec<&String> = unmapped
        .iter()
        .filter(|c| !AWAITING_MUTANT.contains(&c.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "checked clauses no defect is mapped to (map one in mutants::MUTANTS): {missing:#?}"
    );
    for awaiting in AWAITING_MUTANT {
        assert!(
            unmapped.iter().any(|u| u == awaiting),
            "{awaiting} is mapped to a mutant now (or is no checked clause): remove it from AWAITING_MUTANT"
        );
    }
}
