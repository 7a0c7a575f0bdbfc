//! The DS3 scenarios (bulk PUT, bulk GET with Retry-After, an expiring job, a cancel, a
//! full source → target replication) against the simulated systems: each runs, replays to
//! the same text on the same seed, and its XML matches the snapshot in
//! `conformance/tests/snapshots/`.

use replisim_conformance::families::ds3::scenarios;

#[test]
fn every_ds3_scenario_matches_its_xml_snapshot_and_replays() {
    for name in scenarios::NAMES {
        let text = scenarios::run(name, 7).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            scenarios::run(name, 7).as_deref(),
            Ok(text.as_str()),
            "{name} does not replay"
        );
        assert!(text.contains("<MasterObjectList"), "{name}: {text}");
        insta::assert_snapshot!(format!("ds3_{name}"), text);
    }
}
