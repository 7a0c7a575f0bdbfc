//! Protocol families and target roles: `--target ROLE=URL` parses, a rule that needs a role
//! the run lacks is skipped naming the role (never run, never failed), and reports show the
//! targets by role.

use std::process::Command;

use replisim_conformance::catalog::{self, Check, CheckFuture, Rule, Strength};
use replisim_conformance::client::Endpoint;
use replisim_conformance::families::{Role, Targets};
use replisim_conformance::runner::{self, RunOptions, TargetSpec};
use replisim_conformance::target::{Capabilities, Ctx};
use replisim_conformance::verdict::{Outcome, Verdict};

/// A check that must never run: its rule needs a role no run below gives.
fn must_not_run(_ctx: Ctx) -> CheckFuture {
    Box::pin(async { Err(Verdict::fail("ran although its role is missing")) })
}

const NEEDS_PUBLISHER: Rule = Rule {
    id: "TEST-1",
    title: "talks to a publisher",
    source: "PF/2443821170",
    strength: Strength::Must,
    nodes_min: 1,
    needs: Capabilities::NONE,
    roles: &[Role::Scsp, Role::Publisher],
    uses: Capabilities::NONE,
    check: Check::Run(must_not_run),
    clauses: &[],
};

fn unreachable() -> Endpoint {
    Endpoint::parse_target("http://127.0.0.1:1").expect("endpoint")
}

#[test]
fn a_rule_needing_a_missing_role_is_skipped_with_the_reason() {
    let reason = "needs a `publisher` target (--target publisher=URL)";
    // Over HTTP with only SCSP nodes, and in the simulator (whose SCSP world serves only
    // the `scsp` role): skipped before anything is sent.
    let mut over_http = RunOptions::sim(1);
    over_http.target = TargetSpec::Http {
        nodes: vec![unreachable()],
    };
    for options in [RunOptions::sim(1), over_http] {
        let results = runner::run(&[NEEDS_PUBLISHER], &options);
        assert_eq!(results.len(), 1);
        assert_eq!(
            results[0].verdict.outcome,
            Outcome::Skip,
            "{:?}",
            options.target
        );
        assert_eq!(results[0].verdict.evidence, reason);
        assert!(results[0].transcript.is_empty());
    }
    // An SCSP rule against a run that names only a publisher: skipped, naming `scsp`.
    let scsp_rule = catalog::select(&["SCSP-1".to_string()]).expect("SCSP-1")[0];
    let mut options = RunOptions::sim(1);
    options.target = TargetSpec::Roles(
        Targets::parse(&["publisher=http://127.0.0.1:1".to_string()]).expect("targets"),
    );
    let results = runner::run(&[scsp_rule], &options);
    assert_eq!(results[0].verdict.outcome, Outcome::Skip);
    assert_eq!(
        results[0].verdict.evidence,
        "needs a `scsp` target (--target scsp=URL)"
    );
}

fn replisim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_replisim"))
        .args(args)
        .output()
        .expect("replisim runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn targets_by_role_on_the_command_line() {
    let dir = std::env::temp_dir().join(format!("replisim-families-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let json = dir.join("report.json");
    let json_arg = format!("json={}", json.display());
    // Nothing listens on port 1, and nothing is sent: SCSP-1 needs the `scsp` role.
    let (_, out, err) = replisim(&[
        "check",
        "--color",
        "never",
        "--rule",
        "SCSP-1",
        "--target",
        "publisher=http://127.0.0.1:1",
        "--report",
        &json_arg,
    ]);
    assert!(out.contains("needs a `scsp` target"), "{out}\n{err}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("report")).expect("JSON");
    assert_eq!(report["target"], "publisher=http://127.0.0.1:1");
    let (code, _, err) = replisim(&["check", "--target", "ftp=http://127.0.0.1:1"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("known roles: scsp, publisher, ds3, rucio"),
        "{err}"
    );
    let (code, _, err) = replisim(&[
        "check",
        "--target",
        "http://127.0.0.1:1",
        "--target",
        "scsp=http://127.0.0.1:2",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("role `scsp` twice"), "{err}");
    let (code, _, err) = replisim(&["check", "--protocol", "ftp"]);
    assert_eq!(code, 2);
    assert!(err.contains("known protocols: scsp"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn repeated_role_targets_parse_from_the_command_line() {
    use clap::Parser;
    use replisim_conformance::cli::{Cli, Command as Sub};
    let cli = Cli::try_parse_from([
        "replisim",
        "check",
        "--target",
        "scsp=http://a.example:1,http://b.example:2",
        "--target",
        "publisher=http://c.example:3",
    ])
    .expect("valid");
    let Sub::Check(args) = cli.command else {
        panic!("not check");
    };
    let targets = Targets::parse(&args.target).expect("roles");
    assert_eq!(targets.get(Role::Scsp).len(), 2);
    assert_eq!(targets.get(Role::Publisher).len(), 1);
    assert_eq!(
        targets.as_args(),
        " --target scsp=http://a.example:1,http://b.example:2 --target publisher=http://c.example:3"
    );
    // A bare list keeps meaning `scsp`.
    let bare =
        Targets::parse(&["http://a.example:1,http://b.example:2".to_string()]).expect("bare");
    assert_eq!(bare.get(Role::Scsp), targets.get(Role::Scsp));
}
