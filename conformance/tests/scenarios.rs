//! Every scenario file in `scenarios/` runs in the simulator on each of its seeds and must
//! pass; the normalized transcript of its first seed is an insta snapshot in `snapshots/`
//! (one per file, through `glob!`). A missing or changed snapshot fails, on CI included.
//!
//! To accept a new or changed transcript after reading it:
//! `INSTA_UPDATE=always cargo test -p replisim-conformance --test scenarios`, then review the
//! diff of `snapshots/` and commit it. `INSTA_GLOB_FILTER=redirect_301.toml` runs one file.

use std::path::{Path, PathBuf};

use insta::internals::{Content, ContentPath};
use insta::{dynamic_redaction, glob, Settings};
use replisim_conformance::scenario::transcript::{normalize, Transcript};
use replisim_conformance::scenario::{load, report, run_sim, Scenario};

/// Where the snapshots live, relative to this file (insta resolves it from here).
const SNAPSHOT_DIR: &str = "../../snapshots";

/// Fewest scenario files the repository keeps (the issue asks for 30 walk-throughs).
const SCENARIO_FILES_MIN: usize = 30;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate sits in the workspace")
        .to_path_buf()
}

fn scenario_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo_root().join("scenarios"))
        .expect("scenarios/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

/// Redacts an HTTP date after checking it is one.
fn http_date(value: Content, path: ContentPath<'_>) -> Content {
    let s = value.as_str().unwrap_or_default();
    assert!(
        httpdate::parse_http_date(s).is_ok(),
        "{path}: {s:?} is not an HTTP date"
    );
    Content::from("[date]")
}

/// Redacts an Etag after checking it is a quoted 32-hex digest.
fn etag(value: Content, path: ContentPath<'_>) -> Content {
    let s = value.as_str().unwrap_or_default();
    let inner = s.strip_prefix('"').and_then(|v| v.strip_suffix('"'));
    assert!(
        inner.is_some_and(|v| v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit())),
        "{path}: {s:?} is not a quoted 32-hex Etag"
    );
    Content::from("[etag]")
}

/// Redacts a Castor-System-Version after checking it is epoch seconds with milliseconds.
fn castor_version(value: Content, path: ContentPath<'_>) -> Content {
    let s = value.as_str().unwrap_or_default();
    let ok = s.split_once('.').is_some_and(|(secs, ms)| {
        !secs.is_empty()
            && secs.bytes().all(|b| b.is_ascii_digit())
            && ms.len() == 3
            && ms.bytes().all(|b| b.is_ascii_digit())
    });
    assert!(ok, "{path}: {s:?} is not `seconds.milliseconds`");
    Content::from("[version]")
}

/// Runs every seed of a scenario; panics with the report of the first failing seed.
fn run_all_seeds(scenario: &Scenario) -> Transcript {
    let mut first = None;
    for seed in scenario.seeds.clone() {
        let outcome = run_sim(scenario, seed);
        assert!(
            outcome.passed(),
            "{}",
            report(
                scenario,
                &(seed..seed + 1),
                std::slice::from_ref(&outcome),
                &[],
                true
            )
        );
        first.get_or_insert(outcome);
    }
    let outcome = first.expect("a scenario has at least one seed");
    Transcript {
        name: scenario.name.clone(),
        rules: scenario.rules.clone(),
        seed: outcome.seed,
        steps: outcome.steps,
    }
}

#[test]
fn every_scenario_passes_on_its_seeds_and_matches_its_snapshot() {
    let mut settings = Settings::clone_current();
    settings.set_snapshot_path(SNAPSHOT_DIR);
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| {
        glob!("../../scenarios", "*.toml", |path| {
            let scenario = load(path).unwrap_or_else(|e| panic!("{e}"));
            let mut transcript = run_all_seeds(&scenario);
            let nodes = scenario.cluster.addrs();
            normalize(&mut transcript, &nodes).unwrap_or_else(|e| {
                panic!("{}: a volatile value has the wrong shape: {e}", path.display())
            });
            let file = path.file_name().and_then(|f| f.to_str()).unwrap_or("");
            let snap = repo_root()
                .join("snapshots")
                .join(format!("scenario@{file}.snap"));
            // insta never writes snapshots on CI, and a missing one must fail there too.
            if std::env::var_os("CI").is_some() {
                assert!(
                    snap.exists(),
                    "{} has no snapshot {}: run the scenario tests locally with \
                     INSTA_UPDATE=always, review and commit the .snap file",
                    path.display(),
                    snap.display()
                );
            }
            insta::assert_yaml_snapshot!("scenario", transcript, {
                ".steps[].exchanges[].response.headers.date" => dynamic_redaction(http_date),
                ".steps[].exchanges[].response.headers[\"last-modified\"]" => dynamic_redaction(http_date),
                ".steps[].exchanges[].response.headers.etag" => dynamic_redaction(etag),
                ".steps[].exchanges[].response.headers[\"castor-system-version\"]" => dynamic_redaction(castor_version),
            });
        });
    });
}

#[test]
fn scenario_files_document_themselves() {
    let files = scenario_files();
    assert!(
        files.len() >= SCENARIO_FILES_MIN,
        "scenarios/ holds {} files; keep at least {SCENARIO_FILES_MIN}",
        files.len()
    );
    for path in &files {
        let text = std::fs::read_to_string(path).expect("readable");
        assert!(
            text.starts_with("# "),
            "{} must open with a comment saying what it shows",
            path.display()
        );
        let scenario = load(path).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            !scenario.rules.is_empty(),
            "{} must name the rule ids it exercises",
            path.display()
        );
        let header: String = text
            .lines()
            .take_while(|l| l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n");
        for rule in &scenario.rules {
            assert!(
                header.contains(rule.as_str()),
                "{}: the comment header should name {rule}",
                path.display()
            );
        }
    }
}

#[test]
fn every_snapshot_belongs_to_a_scenario() {
    let names: Vec<String> = scenario_files()
        .iter()
        .filter_map(|p| {
            p.file_name()?
                .to_str()
                .map(|f| format!("scenario@{f}.snap"))
        })
        .collect();
    for entry in std::fs::read_dir(repo_root().join("snapshots")).expect("snapshots/ exists") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name.ends_with(".snap") && name.starts_with("scenario@") {
            assert!(
                names.contains(&name),
                "snapshots/{name} has no scenario file any more: delete it"
            );
        }
    }
}
