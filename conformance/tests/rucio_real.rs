//! The reference Rucio catalog against Rucio's own server, on loopback (issue 14):
//!
//! - the same request sequence (tools/rucio/calibrate.py, 158 requests) to both, compared
//!   response by response: status, Content-Type, ExceptionClass, body kind and shape; both
//!   also equal the committed recording (tools/rucio/calibration.json);
//! - Rucio's own Python client (rucio-clients 41.5.1, tools/rucio/client_smoke.py) against
//!   both: every step's check passes and the two runs return the same results.
//!
//! The real server is set up and started through tools/rucio/ (see `rucio_support`); .ci/run
//! installs it first. These tests never skip: without a usable server they fail and say how
//! to get one.

mod rucio_support;

use std::process::Command;

use rucio_support::{repo, run, scratch, RealServer, RefServer};
use serde_json::Value;

fn read_json(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?} is not JSON: {e}"))
}

/// Runs calibrate.py's request sequence against `url`; its recording.
fn record(python: &std::path::Path, url: &str, name: &str) -> Value {
    let out = scratch(name);
    run(
        &format!("calibrate.py against {url}"),
        Command::new(python)
            .arg(repo().join("tools/rucio/calibrate.py"))
            .args(["--url", url, "--out"])
            .arg(&out),
    );
    read_json(&out)
}

/// What the comparison compares of one answer.
fn compared(case: &Value) -> Value {
    let r = &case["response"];
    serde_json::json!({
        "status": r["status"],
        "content_type": r["content_type"],
        "exception_class": r["exception_class"],
        "body_kind": r["body"]["kind"],
        "shape": r["shape"],
    })
}

fn cases(recording: &Value) -> &Vec<Value> {
    recording["cases"]
        .as_array()
        .expect("a recording has a case list")
}

#[test]
fn reference_and_real_server_answer_the_request_sequence_alike() {
    let real = RealServer::start();
    let reference = RefServer::start();
    let python = real.client_python();
    let theirs = record(&python, &real.url, "rucio-real.json");
    let ours = record(&python, &reference.url, "rucio-reference.json");
    let (theirs, ours) = (cases(&theirs), cases(&ours));
    assert_eq!(theirs.len(), ours.len(), "both answer the same sequence");
    assert!(
        theirs.len() >= 158,
        "the whole sequence ran: {}",
        theirs.len()
    );
    let mut differences = Vec::new();
    for (t, o) in theirs.iter().zip(ours) {
        assert_eq!(t["id"], o["id"], "the sequences are in the same order");
        if compared(t) != compared(o) {
            differences.push(format!(
                "{}: real server {} / reference {}",
                t["id"],
                compared(t),
                compared(o)
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {} answers differ:\n{}",
        differences.len(),
        theirs.len(),
        differences.join("\n")
    );
    // Beyond the shape: both still give exactly the recorded answers (values normalized),
    // so the recording the simulator test replays is what the real server answers today.
    let recorded = read_json(&repo().join("tools/rucio/calibration.json"));
    let recorded = cases(&recorded);
    for (who, got) in [("real server", theirs), ("reference", ours)] {
        let changed: Vec<String> = got
            .iter()
            .zip(recorded)
            .filter(|(g, w)| g != w)
            .map(|(g, _)| g["id"].to_string())
            .collect();
        assert!(
            changed.is_empty() && got.len() == recorded.len(),
            "the {who} no longer answers as tools/rucio/calibration.json records: {changed:?}"
        );
    }
    println!(
        "{} answers compared: status, Content-Type, ExceptionClass, body kind and shape equal; \
         both equal calibration.json",
        theirs.len()
    );
}

#[test]
fn rucio_client_gets_the_same_results_from_reference_and_real_server() {
    let real = RealServer::start();
    let reference = RefServer::start();
    let mut results = Vec::new();
    for (who, url) in [("real", &real.url), ("reference", &reference.url)] {
        let config = scratch(&format!("rucio-client-{who}.cfg"));
        real.client_config_for(url, &config);
        let out = scratch(&format!("rucio-client-{who}.json"));
        let ran = run(
            &format!("client_smoke.py against the {who} server ({url})"),
            Command::new(real.client_python())
                .arg(repo().join("tools/rucio/client_smoke.py"))
                .args(["--name", "client-check-1", "--out"])
                .arg(&out)
                .env("RUCIO_CONFIG", &config),
        );
        println!("{who}:\n{}", String::from_utf8_lossy(&ran.stdout));
        results.push(read_json(&out));
    }
    let steps = results[0].as_array().expect("a list of steps");
    let names: Vec<&str> = steps.iter().filter_map(|s| s["step"].as_str()).collect();
    for call in [
        "add_replicas",
        "list_replicas",
        "update_replicas_states U",
        "declare_bad_file_replicas",
        "get_did_from_pfns",
        "delete_replicas denied",
    ] {
        assert!(names.contains(&call), "the client ran {call}: {names:?}");
    }
    assert!(
        steps.iter().all(|s| s["ok"] == Value::Bool(true)),
        "{steps:?}"
    );
    assert_eq!(
        results[0], results[1],
        "the client got different results from the real server (left) and the reference (right)"
    );
}

/// `replisim check --protocol rucio --target rucio=URL` as a user runs it; its summary line.
fn check_rucio(url: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_replisim"))
        .args(["check", "--protocol", "rucio", "--target"])
        .arg(format!("rucio={url}"))
        .output()
        .expect("replisim check runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    println!("{text}");
    assert!(
        out.status.success(),
        "replisim check against {url} failed ({}):\n{text}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = text
        .lines()
        .find(|l| l.contains(" passed, "))
        .unwrap_or_default()
        .to_string();
    // The two daemon rules say why they are skipped; nothing else is skipped or partial.
    for id in ["RUC-20", "RUC-24"] {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{id} ")))
            .unwrap_or_default();
        assert!(
            line.contains("SKIP") && line.contains("daemon"),
            "{id}: {line}"
        );
    }
    summary
}

#[test]
fn rucio_family_passes_against_the_real_server_and_the_reference() {
    let real = RealServer::start();
    let reference = RefServer::start();
    let theirs = check_rucio(&real.url);
    let ours = check_rucio(&reference.url);
    assert_eq!(theirs, "23 passed, 0 partial, 0 failed, 2 skipped");
    assert_eq!(ours, theirs);
}
