//! A broken scenario file gets `file:line:column: what was expected`, never a panic. One
//! test per class of mistake (syntax, unknown key, wrong type, bad duration, bad node,
//! unknown variable, unknown fault kind, and the rest), each asserting the exact position
//! and the gist of the message; then every real scenario file cut at many points, which
//! must give errors with positions, not panics.

use std::path::Path;

use replisim_conformance::scenario::{load, parse, ScenarioError};

/// Parses `text` as `t.toml` and returns its first error.
fn first_error(text: &str) -> ScenarioError {
    match parse("t.toml", text) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.0.into_iter().next().expect("at least one error"),
    }
}

/// Asserts the first error sits at `line:col` and says `says`.
fn check(text: &str, line: usize, col: usize, says: &str) {
    let e = first_error(text);
    assert_eq!(
        (e.line, e.col),
        (line, col),
        "wrong position for {:?}:\n{e}",
        e.message
    );
    assert!(
        e.message.contains(says),
        "message should contain {says:?}:\n{e}"
    );
    let shown = e.to_string();
    assert!(
        shown.starts_with(&format!("t.toml:{line}:{col}: ")),
        "display starts with the location: {shown}"
    );
}

#[test]
fn syntax_errors_point_at_the_broken_token() {
    check(
        "name = \"x\"\n[[step]]\nsend = { path = \"/\", method = \"GET\"\n",
        3,
        36,
        "expected `}`",
    );
    check("name = \"x\n", 1, 10, "expected `\"`");
}

#[test]
fn unknown_keys_are_rejected_where_they_stand() {
    check(
        "name = \"x\"\n[[step]]\nsend = { path = \"/\", methd = \"GET\" }\n",
        3,
        22,
        "unknown field `methd`, expected one of",
    );
    check(
        "name = \"x\"\nsedes = \"0..3\"\n[[step]]\nsleep = \"1s\"\n",
        2,
        1,
        "unknown field `sedes`",
    );
    check(
        "name = \"x\"\n[[step]]\nsend = { path = \"/\" }\nexpect = { status = 200, header = { A = \"b\" } }\n",
        4,
        26,
        "unknown field `header`",
    );
    check(
        "name = \"x\"\n[cluster]\nnodez = 3\n[[step]]\nsleep = \"1s\"\n",
        3,
        1,
        "unknown field `nodez`",
    );
}

#[test]
fn wrong_types_say_what_was_expected() {
    check(
        "name = \"x\"\n[cluster]\nnodes = \"four\"\n[[step]]\nsleep = \"1s\"\n",
        3,
        9,
        "expected a whole number",
    );
    check(
        "name = \"x\"\n[[step]]\nsend = { path = \"/\" }\nexpect = { status = \"ok\" }\n",
        4,
        21,
        "a status code such as 201",
    );
    check(
        "name = \"x\"\n[[step]]\nsend = { path = \"/\", follow = \"yes\" }\n",
        3,
        31,
        "expected a boolean",
    );
}

#[test]
fn bad_durations_name_the_accepted_forms() {
    check(
        "name = \"x\"\n[[step]]\nsleep = \"1 parsec\"\n",
        3,
        9,
        "expected a duration such as \"500ms\", \"1.1s\"",
    );
    check(
        "name = \"x\"\n[[step]]\nwait_for = { converged = true, timeout = \"soon\" }\n",
        3,
        42,
        "expected a duration",
    );
}

#[test]
fn nodes_outside_the_cluster_are_rejected() {
    check(
        "name = \"x\"\n[cluster]\nnodes = 3\n\n[[step]]\nsend = { node = 3, path = \"/\" }\n",
        6,
        17,
        "node 3 does not exist: the cluster has 3 nodes, numbered 0 to 2",
    );
    check(
        "name = \"x\"\n[[step]]\nretire = -1\n",
        3,
        10,
        "node -1 does not exist",
    );
    check(
        "name = \"x\"\n[[step]]\nfault = { fault = \"crash\", node = 9 }\n",
        3,
        9,
        "fault names node 9",
    );
    check(
        "name = \"x\"\n[[step]]\nfault = { fault = \"partition\", groups = [[0, 1], [7]] }\n",
        3,
        9,
        "fault names node 7",
    );
}

#[test]
fn variables_must_be_captured_before_use() {
    check(
        "name = \"x\"\n[[step]]\nsend = { path = \"/${uuid}\" }\n[[step]]\nsend = { path = \"/\", method = \"POST\", body = \"\" }\ncapture = { uuid = \"Content-UUID\" }\n",
        3,
        19,
        "variable `${uuid}` is used before any step captures it",
    );
    check(
        "name = \"x\"\n[[step]]\nsend = { path = \"/\" }\nexpect = { headers = { Location = \"~/${nope}$\" } }\n",
        4,
        38,
        "`${nope}` is used before",
    );
    check(
        "name = \"x\"\n[[step]]\nsend = { path = \"/${oops\" }\n",
        3,
        17,
        "unterminated",
    );
    // A capture is usable from the next step on, and built-ins always.
    let ok = "name = \"x\"\n[[step]]\nsend = { path = \"/b${run}\", method = \"POST\", body = \"\" }\ncapture = { loc = \"Location\" }\n[[step]]\nsend = { url = \"${loc}\" }\n";
    assert!(
        parse("t.toml", ok).is_ok(),
        "{:?}",
        parse("t.toml", ok).err()
    );
}

#[test]
fn unknown_fault_kinds_list_the_known_ones() {
    check(
        "name = \"x\"\n[[step]]\nfault = { fault = \"explode\", node = 1 }\n",
        3,
        19,
        "unknown variant `explode`, expected one of `crash`",
    );
    let e = first_error("name = \"x\"\n[[step]]\nfault = { fault = \"crash\", nod = 1 }\n");
    assert_eq!(e.line, 3, "{e}");
    assert!(e.message.contains("nod"), "{e}");
}

#[test]
fn steps_need_exactly_one_action() {
    check(
        "name = \"x\"\n[[step]]\nsleep = \"1s\"\nfault = { fault = \"heal\" }\n",
        2,
        1,
        "expected exactly one action (send, raw, sleep, wait_for, fault, retire, unretire, check or rucio_daemons), found sleep and fault",
    );
    check(
        "name = \"x\"\n[[step]]\nnote = \"nothing\"\n",
        2,
        1,
        "found none",
    );
    check(
        "name = \"x\"\n[[step]]\nsleep = \"1s\"\nexpect = { status = 200 }\n",
        4,
        10,
        "`expect` belongs to a send or raw step",
    );
}

#[test]
fn rucio_daemons_need_the_rucio_storage_service() {
    check(
        "name = \"x\"\n[[step]]\nrucio_daemons = true\n",
        3,
        17,
        "rucio_daemons needs [cluster] service = \"rucio-storage\"",
    );
    check(
        "name = \"x\"\n[cluster]\nservice = \"rucio-storage\"\nnodes = 3\n[[step]]\nrucio_daemons = true\n",
        4,
        9,
        "a `rucio-storage` world has 5 hosts",
    );
}

#[test]
fn other_semantic_errors_have_positions_too() {
    check(
        "name = \"x\"\nseeds = \"5..5\"\n[[step]]\nsleep = \"1s\"\n",
        2,
        9,
        "empty",
    );
    check(
        "name = \"x\"\n[cluster]\ndefects = [\"no-such-defect\"]\n[[step]]\nsleep = \"1s\"\n",
        3,
        12,
        "no-such-defect",
    );
    check(
        "name = \"x\"\n[[step]]\nsend = { path = \"/\" }\nexpect = { headers = { Location = \"~(\" } }\n",
        4,
        35,
        "bad regular expression",
    );
    check(
        "name = \"x\"\n[[step]]\nsend = { path = \"/\" }\nexpect = { status = 999 }\n",
        4,
        21,
        "expected an HTTP status from 100 to 599",
    );
    check(
        "name = \"x\"\n[[step]]\nsend = { path = \"b/x\" }\n",
        3,
        17,
        "expected a path starting with `/`",
    );
    check(
        "name = \"x\"\n[[step]]\nwait_for = { replicas = { path = \"/b/x\" }, timeout = \"1s\" }\n",
        3,
        25,
        "replicas needs `exactly`, `at_least` or `at_most`",
    );
    check(
        "name = \"x\"\n[[step]]\nsend = { path = \"/\" }\nexpect = { error = true, status = 200 }\n",
        4,
        10,
        "cannot also expect a status",
    );
    check("name = \"x\"\n", 1, 1, "at least one [[step]]");
}

#[test]
fn every_error_in_a_file_is_reported() {
    let text = "name = \"x\"\n[[step]]\nsleep = \"later\"\n[[step]]\nretire = 12\n";
    let errors = parse("t.toml", text).expect_err("two mistakes").0;
    let at: Vec<(usize, usize)> = errors.iter().map(|e| (e.line, e.col)).collect();
    assert_eq!(at, vec![(3, 9), (5, 10)]);
}

#[test]
fn an_unreadable_file_is_an_error_not_a_panic() {
    let e = load(Path::new("/no/such/dir/scenario.toml")).expect_err("missing");
    assert!(e.0[0].message.contains("cannot read"), "{e}");
}

#[test]
fn cut_scenario_files_never_panic_the_parser() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut cuts = 0;
    for entry in std::fs::read_dir(dir).expect("scenarios/") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|x| x != "toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable");
        let mut at = 0;
        while at < text.len() {
            if text.is_char_boundary(at) {
                cuts += 1;
                if let Err(errors) = parse("cut.toml", &text[..at]) {
                    for e in &errors.0 {
                        assert!(e.line >= 1 && e.col >= 1, "no position: {e}");
                        assert!(!e.message.is_empty(), "no message: {e}");
                    }
                }
            }
            at += 13;
        }
    }
    assert!(cuts > 100, "only {cuts} cuts were tried");
}

#[test]
fn cluster_topology_mistakes_point_at_the_name() {
    let two = "name = \"x\"\n[[cluster]]\nname = \"east\"\n[[cluster]]\nname = \"west\"\n";
    check(
        &format!("{two}[[wan]]\nbetween = [\"east\", \"mars\"]\n[[step]]\nsleep = \"1s\"\n"),
        7,
        20,
        "no [[cluster]] is named \"mars\"",
    );
    check(
        &format!(
            "{two}[[step]]\nfault = {{ fault = \"partition_wan\", a = \"east\", b = \"moon\" }}\n"
        ),
        7,
        9,
        "fault names cluster \"moon\", which does not exist: the clusters are east, west",
    );
    check(
        &format!("{two}[[step]]\nsend = {{ client = 2, path = \"/\" }}\n"),
        7,
        19,
        "client 2 does not exist: the world has 2 clients",
    );
    check(
        "name = \"x\"\n[[step]]\nfault = { fault = \"partition_wan\", a = \"a\", b = \"b\" }\n",
        3,
        9,
        "this file has one unnamed [cluster]",
    );
    check(
        "name = \"x\"\n[[cluster]]\nnodes = 2\n[[step]]\nsleep = \"1s\"\n",
        2,
        1,
        "missing field `name`",
    );
}

#[test]
fn publisher_and_replicator_clusters_are_checked() {
    let a = "name = \"x\"\n[[cluster]]\nname = \"a\"\n";
    let tail = "[[step]]\nsleep = \"1s\"\n";
    check(
        &format!("{a}[[cluster]]\nname = \"p\"\npublisher = {{ watches = \"mars\" }}\n{tail}"),
        6,
        25,
        "expected the name of an SCSP cluster, found \"mars\"",
    );
    check(
        &format!(
            "{a}[[cluster]]\nname = \"p\"\npublisher = {{ watches = \"a\", rules = \"channel PublishAll\" }}\n{tail}"
        ),
        6,
        38,
        "rules file line 1: `PublishAll` is reserved",
    );
    check(
        &format!(
            "{a}[[cluster]]\nname = \"p\"\nnodes = 2\npublisher = {{ watches = \"a\" }}\n{tail}"
        ),
        6,
        9,
        "a publisher or replicator cluster has one host",
    );
    check(
        &format!(
            "{a}[[cluster]]\nname = \"r\"\nreplicator = {{ publisher = \"a\", from = \"a\", to = \"a\" }}\n{tail}"
        ),
        6,
        28,
        "expected the name of a publisher cluster, found \"a\"",
    );
    check(
        &format!(
            "{a}[[cluster]]\nname = \"p\"\npublisher = {{ watches = \"a\" }}\n[[cluster]]\nname = \"r\"\nreplicator = {{ publisher = \"p\", from = \"a\", to = \"a\", defects = [\"lazy\"] }}\n{tail}"
        ),
        9,
        66,
        "unknown replicator defect `lazy`",
    );
    check(
        &format!(
            "{a}[[cluster]]\nname = \"p\"\npublisher = {{ watches = \"a\" }}\nreplicator = {{ publisher = \"p\", from = \"a\", to = \"a\" }}\n{tail}"
        ),
        6,
        13,
        "a publisher or a replicator, not both",
    );
    check(
        &format!("{a}[[cluster]]\nname = \"p\"\npublisher = {{ watch = \"a\" }}\n{tail}"),
        6,
        15,
        "unknown field `watch`",
    );
}

#[test]
fn ds3_systems_signing_and_xml_paths_are_checked() {
    let head = "name = \"x\"\n[[cluster]]\nname = \"s\"\n";
    let step = "[[step]]\nsleep = \"1s\"\n";
    check(
        &format!("{head}ds3 = {{ defects = [\"ds3-nope\"] }}\n{step}"),
        4,
        20,
        "unknown DS3 defect `ds3-nope`",
    );
    check(
        &format!("{head}ds3 = {{ cache = 1 }}\n{step}"),
        4,
        9,
        "unknown field `cache`",
    );
    check(
        &format!("{head}nodes = 2\nds3 = {{}}\n{step}"),
        4,
        9,
        "a DS3 system has one host",
    );
    check(
        &format!("{head}ds3 = {{}}\npublisher = {{ watches = \"s\" }}\n{step}"),
        4,
        7,
        "a cluster runs one service",
    );
    let ds3 = format!("{head}ds3 = {{}}\n");
    check(
        &format!("{ds3}[[step]]\nsend = {{ path = \"/b\", sign = \"bob\" }}\n"),
        6,
        30,
        "no DS3 user \"bob\"; the simulated systems know",
    );
    check(
        &format!(
            "{ds3}[[step]]\nsend = {{ path = \"/b\" }}\nexpect = {{ xml = {{ \"Error//Code\" = \"x\" }} }}\n"
        ),
        7,
        20,
        "expected element names separated by `/`",
    );
    check(
        &format!(
            "{ds3}[[step]]\nsend = {{ path = \"/b\" }}\nexpect = {{ xml = {{ \"A@b#\" = \"1\" }} }}\n"
        ),
        7,
        20,
        "`#` counts elements",
    );
    check(
        &format!(
            "{ds3}[[step]]\nsend = {{ path = \"/b\" }}\ncapture = {{ job = {{ xml = \"A/B[x]\" }} }}\n"
        ),
        7,
        19,
        "expected `[n]` with a whole number",
    );
    check(
        &format!(
            "{ds3}[[step]]\nsend = {{ path = \"/b\" }}\ncapture = {{ job = {{ xml = \"A@B\", header = \"Date\" }} }}\n"
        ),
        7,
        19,
        "exactly one of `header`, `trailer`, `xml` or `body = true`",
    );
}
