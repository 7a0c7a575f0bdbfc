//! Every deliberate defect of an SCSP rule breaks a rule the catalog checks, so that
//! tests/catalog.rs (the rule fails) and tests/mutants.rs (the mapped clauses fail) hold it
//! to account. The wire probes that stood in for SCSP-5, 13, 21, 37 and 42 before those
//! rules had checks are gone: their checks observe the same exchanges.

use replisim_conformance::catalog;
use replisim_sim::scsp::defects::Defect;

#[test]
fn every_defect_breaks_a_checked_rule() {
    let rules = catalog::all();
    let mut orphans = Vec::new();
    for &defect in Defect::ALL {
        if defect.breaks().starts_with("INV-") {
            continue;
        }
        let checked = rules
            .iter()
            .any(|r| r.id == defect.breaks() && r.is_checked());
        if !checked {
            orphans.push(format!("{defect} breaks {}", defect.breaks()));
        }
    }
    assert!(
        orphans.is_empty(),
        "defects whose rule has no check (write the check or a wire probe): {orphans:#?}"
    );
}
