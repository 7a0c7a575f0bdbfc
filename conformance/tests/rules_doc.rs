//! The project carries its own rules reference: docs/rules.md is exactly what
//! `replisim rules --markdown` prints, and no user-facing document points outside the
//! repository for the rules.

use replisim_conformance::rules_doc::markdown;

#[test]
fn docs_rules_md_is_generated_from_the_catalog() {
    let on_disk = include_str!("../../docs/rules.md");
    assert!(
        on_disk == markdown(),
        "docs/rules.md is out of date: run `cargo run --bin replisim -- rules --markdown > docs/rules.md`"
    );
    for rule in replisim_conformance::catalog::all() {
        assert!(
            on_disk.contains(&format!("## {} — ", rule.id)),
            "{}",
            rule.id
        );
        for id in rule.clause_ids() {
            assert!(on_disk.contains(&format!("`{id}`")), "{id}");
        }
    }
}

#[test]
fn user_documents_cite_nothing_outside_the_repository() {
    // The needles are assembled so that this file does not itself name the paths it bans.
    let outside = ["..", "shared"].join("/");
    let private_spec = ["spec", "protocols.md"].join("/");
    for (name, text) in [
        ("README.md", include_str!("../../README.md")),
        ("docs/choices.md", include_str!("../../docs/choices.md")),
        ("docs/scenarios.md", include_str!("../../docs/scenarios.md")),
        ("docs/rules.md", include_str!("../../docs/rules.md")),
        ("docs/rucio.md", include_str!("../../docs/rucio.md")),
        ("ARCHITECTURE.md", include_str!("../../ARCHITECTURE.md")),
    ] {
        assert!(!text.contains(&outside), "{name} points at {outside}");
        assert!(
            !text.contains(&private_spec),
            "{name} points at {private_spec}"
        );
    }
}
