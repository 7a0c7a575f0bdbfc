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
        // A defect of one family's reference can only fail that family's rules; those that
        // break a fault invariant (`INV-…`) besides clauses are the SCSP node's.
        let family = match defect.breaks() {
            inv if inv.starts_with("INV-") => "scsp".to_string(),
            rule => catalog::protocol_of(rule),
        };
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

/// The Rucio catalog's defects, each served on loopback with only that defect, against the
/// rucio family: each fails the clauses `mutants::RUCIO_MUTANTS` maps it to.
#[test]
fn every_rucio_mutant_fails_its_mapped_clauses() {
    use replisim_conformance::families::Targets;
    use replisim_sim::rucio::defects::Defect as RucioDefect;
    use replisim_sim::rucio::server::serve_bootstrapped;

    let rules: Vec<catalog::Rule> = catalog::all()
        .into_iter()
        .filter(|r| r.is_checked() && r.protocol() == "rucio")
        .collect();
    assert!(rules.len() >= 20, "{} checked rucio rules", rules.len());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut problems = Vec::new();
    for &defect in RucioDefect::ALL {
        let Some(mapped) = mutants::clauses_of(defect.name()) else {
            problems.push(format!("{defect} is not in mutants::RUCIO_MUTANTS"));
            continue;
        };
        if mutants::RUCIO_DAEMON_RULES.contains(&defect.breaks()) {
            // Only the simulator's control runs the daemons: the daemon rules run there,
            // with the defect in the simulated catalog.
            let daemon_rules: Vec<catalog::Rule> = rules
                .iter()
                .filter(|r| mutants::RUCIO_DAEMON_RULES.contains(&r.id))
                .copied()
                .collect();
            let mut options = RunOptions::sim(3);
            options.rucio_defects = BTreeSet::from([defect]);
            let failed = failed_clauses(&runner::run(&daemon_rules, &options));
            for clause in mapped {
                if !failed.contains(*clause) {
                    problems.push(format!(
                        "{defect} does not fail {clause} in the simulator (it fails {failed:?})"
                    ));
                }
            }
            eprintln!("{defect} (simulator): fails {mapped:?}; all failed {failed:?}");
            continue;
        }
        let addr = runtime
            .block_on(serve_bootstrapped(
                "127.0.0.1:0".parse().expect("loopback"),
                1,
                BTreeSet::from([defect]),
            ))
            .expect("a catalog on an ephemeral loopback port");
        let mut options = RunOptions::sim(3);
        options.target = TargetSpec::Roles(
            Targets::parse(&[format!("rucio=http://{addr}")]).expect("a rucio target"),
        );
        let rules = rules.clone();
        // The runner makes its own runtime; the catalog keeps serving on this one.
        let results = std::thread::spawn(move || runner::run(&rules, &options))
            .join()
            .expect("runner thread");
        let failed = failed_clauses(&results);
        for clause in mapped {
            if !failed.contains(*clause) {
                problems.push(format!(
                    "{defect} does not fail {clause} (it fails {failed:?})"
                ));
            }
        }
        let own = format!("{}.", defect.breaks());
        if !failed.iter().any(|c| c.starts_with(&own)) {
            problems.push(format!("{defect} fails no clause of {}", defect.breaks()));
        }
        eprintln!("{defect}: fails {mapped:?}; all failed {failed:?}");
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// The daemon rules pass in the simulator without defects, and are skipped (never passed)
/// against a catalog that offers no daemon control, with the reason.
#[test]
fn rucio_daemon_rules_pass_in_the_simulator_and_skip_without_daemon_control() {
    use replisim_conformance::families::Targets;
    use replisim_conformance::verdict::Outcome;
    use replisim_sim::rucio::server::serve_bootstrapped;

    let rules: Vec<catalog::Rule> = catalog::all()
        .into_iter()
        .filter(|r| mutants::RUCIO_DAEMON_RULES.contains(&r.id))
        .collect();
    assert_eq!(rules.len(), 2);
    for result in runner::run(&rules, &RunOptions::sim(5)) {
        assert_eq!(
            result.verdict.outcome,
            Outcome::Pass,
            "{}: {:?}",
            result.id,
            result.verdict
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let addr = runtime
        .block_on(serve_bootstrapped(
            "127.0.0.1:0".parse().expect("loopback"),
            1,
            BTreeSet::new(),
        ))
        .expect("a catalog on an ephemeral loopback port");
    let mut options = RunOptions::sim(5);
    options.target = TargetSpec::Roles(
        Targets::parse(&[format!("rucio=http://{addr}")]).expect("a rucio target"),
    );
    let results = std::thread::spawn(move || runner::run(&rules, &options))
        .join()
        .expect("runner thread");
    for result in results {
        assert_eq!(result.verdict.outcome, Outcome::Skip, "{}", result.id);
        assert!(
            result.verdict.evidence.contains("cannot run its daemons"),
            "{}: {}",
            result.id,
            result.verdict.evidence
        );
    }
}

/// Every defect of the reference DS3 gateway (`sim/src/ds3/defects.rs`), switched on alone
/// in the simulated systems, fails the BP clauses `mutants::DS3_MUTANTS` maps it to; one
/// mapped to no clause breaks the replication invariant, which `replisim sweep --world ds3`
/// judges (conformance/tests/ds3_sweep.rs).
#[test]
fn every_ds3_mutant_fails_its_mapped_clauses() {
    use replisim_sim::ds3::defects::Defect as Ds3Defect;
    let rules: Vec<catalog::Rule> = catalog::all()
        .into_iter()
        .filter(|r| r.is_checked() && r.protocol() == "ds3")
        .collect();
    assert!(rules.len() >= 18, "{} checked ds3 rules", rules.len());
    let mut problems = Vec::new();
    for &defect in Ds3Defect::ALL {
        let Some(mapped) = mutants::clauses_of(defect.name()) else {
            problems.push(format!("{defect} is not in mutants::DS3_MUTANTS"));
            continue;
        };
        if mapped.is_empty() {
            assert!(
                defect.breaks().starts_with("INV-"),
                "{defect} maps to no clause but breaks {}",
                defect.breaks()
            );
            continue;
        }
        let mut options = RunOptions::sim(3);
        options.ds3_defects = BTreeSet::from([defect]);
        let results = runner::run(&rules, &options);
        let failed = failed_clauses(&results);
        for clause in mapped {
            if !failed.contains(*clause) {
                problems.push(format!(
                    "{defect} does not fail {clause} (it fails {failed:?})"
                ));
            }
        }
        eprintln!("{defect}: fails {mapped:?}; all failed {failed:?}");
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
