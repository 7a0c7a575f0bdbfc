//! The expectations have teeth: for each kind of expectation, a scenario that asks for the
//! wrong thing must fail at that step, with a message saying what was expected and what came.
//! (The scenarios in `scenarios/` show each one holding; these show each one biting.)

use replisim_conformance::scenario::{parse, run_sim};

/// A bucket and an object `/b/x` with body `hello`, then `step` (TOML for one more step).
fn scenario_with(step: &str) -> String {
    format!(
        "name = \"t\"\n\
         [[step]]\nsend = {{ method = \"POST\", path = \"/b\", body = \"\", follow = true }}\n\
         [[step]]\nsend = {{ method = \"POST\", path = \"/b/x\", body = \"hello\", headers = {{ \"X-A-Meta\" = \"1\" }}, follow = true }}\n\
         expect = {{ status = 201 }}\n\
         [[step]]\n{step}\n"
    )
}

/// Runs seed 0 and returns the failure message of step 3.
fn failure(step: &str) -> String {
    let text = scenario_with(step);
    let scenario = parse("t.toml", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let outcome = run_sim(&scenario, 0);
    let f = outcome
        .failure
        .unwrap_or_else(|| panic!("expected step 3 to fail:\n{text}"));
    assert_eq!(f.step, 3, "{}", f.message);
    assert_eq!(f.at.map(|a| a.line), Some(7), "the step's [[step]] line");
    f.message
}

fn assert_says(message: &str, parts: &[&str]) {
    for p in parts {
        assert!(message.contains(p), "{p:?} missing from: {message}");
    }
}

#[test]
fn status_and_status_lists() {
    let m = failure("send = { path = \"/b/x\", follow = true }\nexpect = { status = 404 }");
    assert_says(&m, &["expected status 404, got 200 OK"]);
    let m = failure("send = { path = \"/b/x\", follow = true }\nexpect = { status = [201, 404] }");
    assert_says(&m, &["expected status 201 or 404, got 200"]);
}

#[test]
fn headers_exact_pattern_present_absent() {
    let m = failure(
        "send = { path = \"/b/x\", follow = true }\nexpect = { headers = { \"X-A-Meta\" = \"2\" } }",
    );
    assert_says(&m, &["expected header X-A-Meta \"2\", got \"1\""]);
    let m = failure(
        "send = { path = \"/b/x\", follow = true }\nexpect = { headers = { \"Content-Type\" = \"~^text/\" } }",
    );
    assert_says(&m, &["matching /^text//", "application/octet-stream"]);
    let m = failure(
        "send = { path = \"/b/x\", follow = true }\nexpect = { headers = { \"X-Nope\" = true } }",
    );
    assert_says(&m, &["expected a X-Nope header, got none"]);
    let m = failure(
        "send = { path = \"/b/x\", follow = true }\nexpect = { headers = { \"X-A-Meta\" = false } }",
    );
    assert_says(&m, &["expected no X-A-Meta header, got \"1\""]);
}

#[test]
fn bodies() {
    let m = failure("send = { path = \"/b/x\", follow = true }\nexpect = { body = \"bye\" }");
    assert_says(&m, &["expected body \"bye\", got \"hello\""]);
    let m = failure("send = { path = \"/b/x\", follow = true }\nexpect = { body = \"~^h.*z$\" }");
    assert_says(&m, &["expected body matching /^h.*z$/"]);
    let m = failure(
        "send = { path = \"/b/x\", follow = true }\nexpect = { body_contains = \"ell o\" }",
    );
    assert_says(&m, &["expected the body to contain \"ell o\""]);
    let m = failure("send = { path = \"/b/x\", follow = true }\nexpect = { body_bytes = 4 }");
    assert_says(&m, &["expected a body of 4 bytes, got 5"]);
}

#[test]
fn redirects_interim_answers_and_body_sent() {
    let m = failure(
        "send = { node = 3, path = \"/b/x\", follow = true }\nexpect = { redirects = [301] }",
    );
    assert_says(&m, &["expected redirects [301], got ["]);
    let m = failure(
        "send = { method = \"POST\", path = \"/b/y\", body = \"v\", follow = true }\nexpect = { informational = [100] }",
    );
    assert_says(&m, &["expected interim answers [100], got []"]);
    let m = failure(
        "send = { method = \"POST\", path = \"/b/y\", body = \"v\", follow = true }\nexpect = { body_sent = false }",
    );
    assert_says(
        &m,
        &["expected the body held back to the first node, got 1 bytes sent"],
    );
}

#[test]
fn errors_expected_and_unexpected() {
    let m = failure("send = { path = \"/b/x\", follow = true }\nexpect = { error = true }");
    assert_says(
        &m,
        &["expected the exchange to fail, got a complete answer: 200 OK"],
    );
    // No node listens at that simulated address: the connect is refused.
    let m = failure("send = { url = \"http://10.0.0.99:80/\" }");
    assert_says(&m, &["expected an answer, got none: connect failed"]);
    let m = failure("send = { url = \"http://10.0.0.99:80/\" }\nexpect = { error = \"~timeout\" }");
    assert_says(
        &m,
        &["expected the exchange to fail with an error matching /timeout/, got: connect failed"],
    );
}

#[test]
fn captures_that_find_nothing_fail() {
    let m =
        failure("send = { path = \"/b/x\", follow = true }\ncapture = { u = \"Content-UUID\" }");
    assert_says(
        &m,
        &["capture u: expected a Content-UUID in the answer, got none"],
    );
    let m = failure(
        "send = { path = \"/b/x\", follow = true }\ncapture = { u = { body = true, regex = \"z+\" } }",
    );
    assert_says(
        &m,
        &["capture u: expected body to match /z+/, got \"hello\""],
    );
}

#[test]
fn disk_checks_and_waits() {
    let m = failure("check = { replicas = { path = \"/b/x\", exactly = 3 } }");
    assert_says(&m, &["expected exactly 3 replicas of /b/x, got 2 (node"]);
    let m = failure("check = { identical = \"/b/nothing\" }");
    assert_says(
        &m,
        &["expected identical replicas of /b/nothing, got no copy at all"],
    );
    let m =
        failure("wait_for = { replicas = { path = \"/b/x\", at_least = 3 }, timeout = \"30s\" }");
    assert_says(
        &m,
        &["still not true after 30s: expected at least 3 replicas"],
    );
    let m = failure(
        "wait_for = { send = { path = \"/b/x\", follow = true }, expect = { status = 404 }, timeout = \"5s\" }",
    );
    assert_says(
        &m,
        &["still not true after 5s: expected status 404, got 200"],
    );
}

#[test]
fn a_refused_fault_fails_its_step() {
    // Node loss is refused when the node holds the only good copy of something; with a
    // single node every record is such a copy.
    let text = "name = \"t\"\n[cluster]\nnodes = 1\nreplicas = 1\n\
                [[step]]\nsend = { method = \"POST\", path = \"/b\", body = \"\" }\nexpect = { status = 201 }\n\
                [[step]]\nfault = { fault = \"lose\", node = 0 }\n";
    let scenario = parse("t.toml", text).expect("valid");
    let f = run_sim(&scenario, 0).failure.expect("the loss is refused");
    assert_eq!(f.step, 2);
    assert!(f.message.contains("only good copy"), "{}", f.message);
}
