//! Teeth for every clause: each deliberate defect of the reference node fails the clauses
//! `mutants::MUTANTS` maps it to (other clauses it fails are listed as collateral), and
//! every checked clause is failed by some defect.

use std::collections::BTreeSet;

use replisim_conformance::catalog;
use replisim_conformance::clause::ClauseState;
use replisim_conformance::mutants;
use replisim_conformance::runner::{self, RunOptions, TargetSpec};
use replisim_conformance::verdict::RuleResult;
use replisim_sim::scsp::defects::Defect;

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
        // A defect of one family's reference can only fail that family's rules.
        let family = catalog::protocol_of(defect.breaks());
        let own: Vec<catalog::Rule> = rules
            .iter()
            .filter(|r| r.protocol() == family)
            .copied()
            .collect();
        let results = runner::run(&own, &options);
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
    assert!(
        unmapped.is_empty(),
        "checked clauses no defect is mapped to (map one in mutants::MUTANTS): {unmapped:#?}"
    );
    assert!(
        mutants::MUTANTS.len() >= 60,
        "{} mutants",
        mutants::MUTANTS.len()
    );
}

/// Every defect of the reference publisher fails the ENUM clauses it is mapped to (in the
/// simulator, reference profile), and every publisher defect is mapped.
#[test]
fn every_publisher_mutant_fails_its_mapped_clauses() {
    use replisim_sim::publisher::defects::PublisherDefect;
    let rules = replisim_conformance::families::publisher::checks::RULES.to_vec();
    let mut problems = Vec::new();
    for defect in PublisherDefect::all() {
        let Some(mapped) = mutants::clauses_of(defect.name()) else {
            problems.push(format!("{defect} is not in mutants::PUBLISHER_MUTANTS"));
            continue;
        };
        let picked: Vec<catalog::Rule> = rules
            .iter()
            .filter(|r| mapped.iter().any(|c| c.starts_with(&format!("{}.", r.id))))
            .copied()
            .collect();
        let mut options = RunOptions::sim(3);
        options.publisher_defects = BTreeSet::from([defect]);
        let results = runner::run(&picked, &options);
        let failed = failed_clauses(&results);
        for clause in mapped {
            if !failed.contains(*clause) {
                problems.push(format!(
                    "{defect} does not fail {clause} (it fails {failed:?})"
                ));
            }
        }
        eprintln!("{defect}: fails {failed:?}");
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
