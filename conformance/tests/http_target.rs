//! The HTTP target as a vendor uses it: the fault hook is called with the documented
//! arguments and its failures become reasons; Basic credentials go on every request and stay
//! out of reports; each rule deletes what it wrote; results come back in catalog order
//! whatever the concurrency, and simulated results do not depend on it.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use replisim_conformance::catalog::{self, Rule};
use replisim_conformance::hook::HookSpec;
use replisim_conformance::runner::{self, Credentials, RunOptions, TargetSpec};
use replisim_conformance::verdict::{Outcome, RuleResult};
use replisim_sim::serve::{self, RealCluster, ServeConfig};
use replisim_sim::store::Disk;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A fresh directory under the system temp dir for this test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("replisim-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Writes an executable shell script.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    let mut f = std::fs::File::create(&path).expect("script");
    writeln!(f, "#!/bin/sh\n{body}").expect("write script");
    drop(f);
    let status = std::process::Command::new("chmod")
        .arg("+x")
        .arg(&path)
        .status()
        .expect("chmod");
    assert!(status.success());
    path
}

fn rules(ids: &[&str]) -> Vec<Rule> {
    catalog::select(&ids.iter().map(|s| s.to_string()).collect::<Vec<_>>()).expect("rules")
}

/// A 4-node reference cluster on ephemeral loopback ports, served by its own runtime.
fn cluster() -> (tokio::runtime::Runtime, RealCluster) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let cluster = runtime
        .block_on(serve::start(ServeConfig::new(4, 0)))
        .expect("cluster on ephemeral loopback ports");
    (runtime, cluster)
}

fn http_options(nodes: Vec<SocketAddr>) -> RunOptions {
    let mut options = RunOptions::sim(11);
    options.target = TargetSpec::Http {
        nodes: nodes.into_iter().map(Into::into).collect(),
    };
    options.rule_timeout = Duration::from_secs(60);
    options
}

/// Runs on another thread: the runner builds its own runtime, which cannot nest in a test's.
fn run_http(rules: Vec<Rule>, options: RunOptions) -> Vec<RuleResult> {
    std::thread::spawn(move || runner::run(&rules, &options))
        .join()
        .expect("runner thread")
}

fn find<'a>(results: &'a [RuleResult], id: &str) -> &'a RuleResult {
    results
        .iter()
        .find(|r| r.id == id)
        .unwrap_or_else(|| panic!("{id} missing"))
}

#[test]
fn fault_hook_is_called_with_verb_and_node_index() {
    let (_runtime, cluster) = cluster();
    let dir = temp_dir("hook-calls");
    let log = dir.join("calls.log");
    let hook = script(
        &dir,
        "hook.sh",
        &format!("echo \"$*|$REPLISIM_NODES\" >> '{}'", log.display()),
    );
    let mut options = http_options(cluster.addrs.clone());
    options.fault_hook = Some(HookSpec::new(hook.display().to_string()));
    let results = run_http(rules(&["SCSP-7", "SCSP-3"]), options);

    let calls = std::fs::read_to_string(&log).expect("the hook wrote its calls");
    let nodes: Vec<String> = cluster.addrs.iter().map(|a| a.to_string()).collect();
    let expected: Vec<String> = [
        "kill 1",
        "kill 2",
        "kill 3",
        "restart 1",
        "restart 2",
        "restart 3",
    ]
    .iter()
    .map(|c| format!("{c}|{}", nodes.join(",")))
    .collect();
    assert_eq!(calls.lines().collect::<Vec<_>>(), expected);
    // The hook claimed success but stopped nothing, so the one-node half of SCSP-7 ran and
    // saw every node still writing: the rule used the faults capability, it was not skipped.
    let scsp_7 = find(&results, "SCSP-7");
    assert_eq!(
        scsp_7.verdict.outcome,
        Outcome::Fail,
        "{}",
        scsp_7.verdict.evidence
    );
    assert!(scsp_7.verdict.evidence.contains("only one node alive"));
    // Retiring a node is admin control, which a fault hook does not give: the retiring
    // clauses are not observed, so SCSP-3 is PARTIAL, never PASS.
    let scsp_3 = find(&results, "SCSP-3");
    assert_eq!(scsp_3.verdict.outcome, Outcome::Partial);
    assert!(scsp_3.verdict.evidence.contains("admin"));
}

#[test]
fn disk_faults_a_hook_cannot_do_skip_with_the_reason() {
    let (_runtime, cluster) = cluster();
    let dir = temp_dir("hook-disk");
    let log = dir.join("calls.log");
    let hook = script(
        &dir,
        "hook.sh",
        &format!("echo \"$*\" >> '{}'", log.display()),
    );
    let mut options = http_options(cluster.addrs.clone());
    options.fault_hook = Some(HookSpec::new(hook.display().to_string()));
    let results = run_http(rules(&["SCSP-15", "SCSP-38"]), options);
    for (id, kind) in [("SCSP-15", "disk-full"), ("SCSP-38", "bitrot")] {
        let r = find(&results, id);
        assert_eq!(
            r.verdict.outcome,
            Outcome::Skip,
            "{id}: {}",
            r.verdict.evidence
        );
        assert!(
            r.verdict.evidence.contains(kind)
                && r.verdict.evidence.contains("crash, pause, partition"),
            "{id}: {}",
            r.verdict.evidence
        );
    }
    // Neither rule reached the hook: the kinds it lacks were refused before any call.
    assert!(std::fs::read_to_string(&log).unwrap_or_default().is_empty());
}

const STUCK_CLAUSES: [replisim_conformance::clause::ClauseSpec; 1] =
    [replisim_conformance::clause::consistency(
        "never-ends",
        "a check that disturbs the cluster and never ends",
    )];

/// Kills node 1, pauses node 2 and cuts node 3 off, then hangs past the rule's budget.
fn disturb_and_hang(ctx: replisim_conformance::target::Ctx) -> catalog::CheckFuture {
    Box::pin(async move {
        let Some(control) = ctx.control.clone() else {
            return Err(replisim_conformance::verdict::Verdict::fail("no control"));
        };
        for done in [
            control.kill(1).await,
            control.pause(2).await,
            control.partition(vec![3]).await,
        ] {
            done.map_err(replisim_conformance::verdict::Verdict::fail)?;
        }
        replisim_sim::rt::sleep(Duration::from_secs(3600)).await;
        Ok(())
    })
}

#[test]
fn a_rule_that_times_out_leaves_the_cluster_as_it_found_it() {
    let (_runtime, cluster) = cluster();
    let dir = temp_dir("hook-restore");
    let log = dir.join("calls.log");
    let hook = script(
        &dir,
        "hook.sh",
        &format!("echo \"$*\" >> '{}'", log.display()),
    );
    let stuck = Rule {
        id: "TEST-1",
        title: "disturbs the cluster and hangs",
        source: "PF/2443821170",
        strength: catalog::Strength::Must,
        nodes_min: 4,
        needs: replisim_conformance::target::Capabilities {
            faults: true,
            admin: false,
            introspection: false,
        },
        roles: replisim_conformance::families::scsp::ROLES,
        uses: replisim_conformance::target::Capabilities::NONE,
        check: catalog::Check::Run(disturb_and_hang),
        clauses: &STUCK_CLAUSES,
    };
    let mut options = http_options(cluster.addrs.clone());
    // Run through `sh` rather than executing the fresh file: another test thread forking
    // while the script was being written could make executing it fail (ETXTBSY).
    options.fault_hook = Some(HookSpec::new(format!("sh {}", hook.display())));
    options.rule_timeout = Duration::from_secs(2);
    let results = run_http(vec![stuck], options);
    let r = &results[0];
    assert_eq!(r.verdict.outcome, Outcome::Fail, "{}", r.verdict.evidence);
    assert!(
        r.verdict.evidence.contains("did not finish"),
        "{}",
        r.verdict.evidence
    );
    let calls = std::fs::read_to_string(&log).expect("the hook wrote its calls");
    assert_eq!(
        calls.lines().collect::<Vec<_>>(),
        [
            "kill 1",
            "pause 2",
            "partition 3",
            "restart 1",
            "resume 2",
            "heal"
        ]
    );
    let cleanup = r.cleanup.as_deref().unwrap_or("");
    assert!(
        cleanup.contains("restored: restarted node 1, resumed node 2, healed partitions"),
        "{cleanup}"
    );
}

#[test]
fn failing_and_hanging_hooks_become_reasons() {
    let (_runtime, cluster) = cluster();
    let dir = temp_dir("hook-failures");
    let failing = script(
        &dir,
        "fail.sh",
        "echo \"cannot $1 node $2: lab is offline\" >&2\nexit 3",
    );
    let hanging = script(&dir, "hang.sh", "exec sleep 30");

    let mut options = http_options(cluster.addrs.clone());
    options.fault_hook = Some(HookSpec::new(failing.display().to_string()));
    let results = run_http(rules(&["SCSP-7"]), options);
    let r = &results[0];
    // The healthy half is observed; the one-node half, which needs the hook, is not.
    assert_eq!(
        r.verdict.outcome,
        Outcome::Partial,
        "{}",
        r.verdict.evidence
    );
    assert!(
        r.verdict.evidence.contains("exited with status 3")
            && r.verdict
                .evidence
                .contains("cannot kill node 1: lab is offline"),
        "{}",
        r.verdict.evidence
    );

    let mut options = http_options(cluster.addrs.clone());
    options.fault_hook = Some(HookSpec {
        command: hanging.display().to_string(),
        timeout: Duration::from_millis(500),
    });
    let started = std::time::Instant::now();
    let results = run_http(rules(&["SCSP-7"]), options);
    let r = &results[0];
    assert_eq!(
        r.verdict.outcome,
        Outcome::Partial,
        "{}",
        r.verdict.evidence
    );
    assert!(
        r.verdict.evidence.contains("did not finish within 500ms"),
        "{}",
        r.verdict.evidence
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "a hanging hook held the run"
    );
}

/// A server that records every request head and answers 500, to see the wire bytes.
fn recording_server() -> (tokio::runtime::Runtime, SocketAddr, Arc<Mutex<Vec<String>>>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let heads = Arc::new(Mutex::new(Vec::new()));
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = heads.clone();
    runtime.spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                seen.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(String::from_utf8_lossy(&buf).into_owned());
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 500 Nope\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    )
                    .await;
            });
        }
    });
    (runtime, addr, heads)
}

#[test]
fn credentials_go_on_the_wire_but_not_into_reports() {
    let (_runtime, addr, heads) = recording_server();
    let mut options = http_options(vec![addr]);
    options.credentials = Some(Credentials {
        user: "vendor".into(),
        password: "s3cret".into(),
    });
    let results = run_http(rules(&["SCSP-1", "SCSP-14"]), options);
    let seen = heads.lock().unwrap_or_else(|p| p.into_inner()).clone();
    // base64("vendor:s3cret")
    let token = "Basic dmVuZG9yOnMzY3JldA==";
    assert!(!seen.is_empty());
    assert!(
        seen.iter()
            .all(|h| h.contains(&format!("Authorization: {token}\r\n"))),
        "{seen:#?}"
    );
    for r in &results {
        assert!(!r.transcript.is_empty());
        for e in &r.transcript {
            assert!(!e.request_head.contains("dmVuZG9y"), "{}", e.request_head);
            assert!(e.request_head.contains("Authorization: <redacted>"));
        }
        assert_eq!(r.verdict.outcome, Outcome::Fail);
    }
}

/// Objects (named or by UUID) that some disk holds and no disk has marked deleted. A
/// deletion marker reaches the remaining replicas later, through the health processor.
fn live_objects(cluster: &RealCluster) -> Vec<String> {
    let mut held = std::collections::BTreeSet::new();
    let mut deleted = std::collections::BTreeSet::new();
    for disk in &cluster.disks {
        let disk = Disk::lock(disk);
        for (key, record) in disk.records() {
            if key.starts_with("n/") || key.starts_with("u/") {
                if record.removed {
                    deleted.insert(key.clone());
                } else {
                    held.insert(key.clone());
                }
            }
        }
    }
    held.difference(&deleted).cloned().collect()
}

#[test]
fn rules_clean_up_after_themselves_and_report_in_catalog_order() {
    let (_runtime, cluster) = cluster();
    let rules: Vec<Rule> = catalog::all()
        .into_iter()
        .filter(Rule::is_checked)
        .collect();
    let mut options = http_options(cluster.addrs.clone());
    options.jobs = 8;
    let results = run_http(rules.clone(), options);
    let order: Vec<&str> = results.iter().map(|r| r.id).collect();
    let expected: Vec<&str> = rules.iter().map(|r| r.id).collect();
    assert_eq!(order, expected, "results must come back in catalog order");
    let failed: Vec<String> = results
        .iter()
        .filter(|r| r.verdict.outcome == Outcome::Fail)
        .map(|r| format!("{}: {}", r.id, r.verdict.evidence))
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
    for r in results
        .iter()
        .filter(|r| r.verdict.outcome == Outcome::Pass)
    {
        if let Some(c) = &r.cleanup {
            assert!(!c.contains("could not delete"), "{}: {c}", r.id);
        }
    }
    // Only what a client could see can be cleaned up from outside: the node may keep
    // objects of its own (parts consumed by a completion, say) that no answer named.
    let left: Vec<String> = live_objects(&cluster)
        .into_iter()
        .filter(|key| {
            let tail = key.rsplit('/').next().unwrap_or("");
            results.iter().any(|r| {
                r.transcript
                    .iter()
                    .any(|e| e.request_head.contains(tail) || e.response_head.contains(tail))
            })
        })
        .collect();
    assert!(left.is_empty(), "objects left behind: {left:#?}");
}

#[test]
fn simulated_results_do_not_depend_on_the_number_of_threads() {
    let rules = catalog::all();
    let mut one = RunOptions::sim(4);
    one.jobs = 1;
    let mut many = RunOptions::sim(4);
    many.jobs = 8;
    let a = runner::run(&rules, &one);
    let b = runner::run(&rules, &many);
    let view = |rs: &[RuleResult]| -> Vec<(String, Outcome, String, usize)> {
        rs.iter()
            .map(|r| {
                (
                    r.id.to_string(),
                    r.verdict.outcome,
                    r.verdict.evidence.clone(),
                    r.transcript.len(),
                )
            })
            .collect()
    };
    assert_eq!(view(&a), view(&b));
    let unchecked = a.iter().filter(|r| {
        rules
            .iter()
            .any(|rule| rule.id == r.id && !rule.is_checked())
    });
    for r in unchecked {
        assert_eq!(r.verdict.outcome, Outcome::Skip, "{} has no check", r.id);
        assert!(!r.verdict.evidence.is_empty());
    }
}
