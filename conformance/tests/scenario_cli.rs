//! `replisim run` as a user meets it: the binary on passing, failing and broken scenario
//! files, its exit status (0 pass, 1 a step failed, 2 bad input) and what it prints: the
//! failing step with `file:line:col`, expected versus got, and the replay command.

use std::path::PathBuf;
use std::process::{Command, Output};

/// A scratch directory of scenario files, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "replisim-scenario-cli-{name}-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }

    fn file(&self, name: &str, text: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("write scenario");
        path.display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn replisim(args: &[&str]) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(env!("CARGO_BIN_EXE_replisim"))
        .args(args)
        .output()
        .expect("run replisim");
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

const PASSING: &str = r#"# passes
name = "bucket then object"
rules = ["SCSP-1"]
seeds = "0..3"

[[step]]
send = { method = "POST", path = "/b", body = "", follow = true }
expect = { status = 201 }

[[step]]
send = { method = "POST", path = "/b/x", body = "v", follow = true }
expect = { status = 201, headers = { "Location" = "~/b/x$" } }
"#;

const FAILING: &str = r#"# fails at step 2
name = "wrong expectation"
rules = ["SCSP-13"]
seeds = "4..6"

[[step]]
send = { method = "GET", path = "/" }
expect = { status = 200 }

[[step]]
send = { method = "POST", path = "/missing/x", body = "v", follow = true }
expect = { status = 201 }
"#;

#[test]
fn a_passing_scenario_exits_0_with_one_line_per_file() {
    let dir = Scratch::new("pass");
    let file = dir.file("pass.toml", PASSING);
    let (code, out, err) = replisim(&["run", &file]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!(
            "PASS {file} seeds 0..3 (2 steps) bucket then object"
        )),
        "{out}"
    );
    assert!(out.contains("3 passed, 0 failed, 0 skipped"), "{out}");
}

#[test]
fn a_failing_step_exits_1_with_location_expectation_and_replay() {
    let dir = Scratch::new("fail");
    let file = dir.file("fail.toml", FAILING);
    let (code, out, err) = replisim(&["run", &file]);
    assert_eq!(code, 1, "{out}{err}");
    for seed in [4, 5] {
        assert!(out.contains(&format!("FAIL {file} seed {seed}")), "{out}");
        assert!(
            out.contains(&format!("replay: replisim run {file} --seed {seed}")),
            "{out}"
        );
    }
    assert!(
        out.contains(&format!(
            "{file}:10:1: step 2 (POST /missing/x → node0): expected status 201, got 412"
        )),
        "{out}"
    );
    assert!(
        out.contains("> POST /missing/x HTTP/1.1"),
        "the exchange is shown: {out}"
    );
    assert!(out.contains("0 passed, 2 failed"), "{out}");

    let (code, out, _) = replisim(&["run", &file, "--seed", "5"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("0 passed, 1 failed"),
        "one seed replayed: {out}"
    );
}

#[test]
fn a_broken_file_exits_2_and_the_others_still_run() {
    let dir = Scratch::new("broken");
    let good = dir.file("good.toml", PASSING);
    let bad = dir.file(
        "bad.toml",
        "name = \"x\"\n[[step]]\nsend = { path = \"/\", methd = \"GET\" }\n",
    );
    let (code, out, err) = replisim(&["run", &bad, &good]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains(&format!("{bad}:3:22: unknown field `methd`")),
        "{err}"
    );
    assert!(out.contains(&format!("PASS {good}")), "{out}");
    assert!(out.contains("1 file(s) with errors"), "{out}");
}

#[test]
fn bad_arguments_exit_2() {
    let dir = Scratch::new("args");
    let file = dir.file("pass.toml", PASSING);
    let (code, _, err) = replisim(&["run", &file, "--seeds", "9..3"]);
    assert_eq!(code, 2);
    assert!(err.contains("--seeds"), "{err}");
    let (code, _, err) = replisim(&["run", &file, "--target", "https://x:1/bucket"]);
    assert_eq!(code, 2);
    assert!(err.contains("not a path"), "{err}");
    let (code, _, err) = replisim(&["run", &file, "--target", "https://x:1", "--ca-cert", &file]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--ca-cert") && err.contains("pass.toml"),
        "{err}"
    );
    let (code, _, err) = replisim(&["run", "/no/such/file.toml"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read"), "{err}");
}

#[test]
fn against_a_target_that_is_down_the_step_fails_with_the_connect_error() {
    let dir = Scratch::new("down");
    let file = dir.file("pass.toml", PASSING);
    // Port 9 on loopback: nothing listens there, so the connection is refused at once.
    let (code, out, err) = replisim(&[
        "run",
        &file,
        "--target",
        "http://127.0.0.1:9,http://127.0.0.1:9,http://127.0.0.1:9,http://127.0.0.1:9",
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("expected an answer, got none: connect failed"),
        "{out}"
    );
    assert!(
        out.contains("--target http://127.0.0.1:9"),
        "replay names the target: {out}"
    );
}
