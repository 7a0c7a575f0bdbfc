//! Redirects are judged wherever they happen, on any target and without admin control: a
//! 307 with a body and no `auth=`, or a 302, met by any rule, fails a clause of SCSP-4 or
//! SCSP-3, and the clause points at the exchange that shows it.

use std::net::SocketAddr;
use std::time::Duration;

use replisim_conformance::catalog;
use replisim_conformance::clause::ClauseState;
use replisim_conformance::runner::{self, RunOptions, TargetSpec};
use replisim_conformance::verdict::{Outcome, RuleResult};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Node 0 redirects every request without `auth=` to node 1 with `status` (a body and no
/// `auth=` when `sloppy`); node 1 answers 201 to everything.
fn two_nodes(status: &'static str, sloppy: bool) -> (tokio::runtime::Runtime, Vec<SocketAddr>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let (a, b) = runtime.block_on(async {
        (
            TcpListener::bind("127.0.0.1:0").await.expect("bind"),
            TcpListener::bind("127.0.0.1:0").await.expect("bind"),
        )
    });
    let b_addr = b.local_addr().expect("addr");
    let addrs = vec![a.local_addr().expect("addr"), b_addr];
    for (listener, redirects) in [(a, true), (b, false)] {
        runtime.spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&buf).to_string();
                    let target = head.split(' ').nth(1).unwrap_or("/").to_string();
                    let answer = if redirects && !target.contains("auth=") {
                        let sep = if target.contains('?') { '&' } else { '?' };
                        if sloppy {
                            format!("HTTP/1.1 {status}\r\nLocation: http://{b_addr}{target}\r\nContent-Length: 5\r\n\r\nmoved")
                        } else {
                            format!("HTTP/1.1 {status}\r\nLocation: http://{b_addr}{target}{sep}auth=0123\r\nContent-Length: 0\r\n\r\n")
                        }
                    } else {
                        format!("HTTP/1.1 201 Created\r\nLocation: http://{b_addr}{target}\r\nContent-Length: 0\r\n\r\n")
                    };
                    let _ = stream.write_all(answer.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
    }
    (runtime, addrs)
}

fn run(addrs: Vec<SocketAddr>, ids: &[&str]) -> Vec<RuleResult> {
    let rules =
        catalog::select(&ids.iter().map(|s| s.to_string()).collect::<Vec<_>>()).expect("rules");
    let mut options = RunOptions::sim(1);
    options.target = TargetSpec::Http {
        nodes: addrs.into_iter().map(Into::into).collect(),
    };
    options.rule_timeout = Duration::from_secs(30);
    options.cleanup = false;
    std::thread::spawn(move || runner::run(&rules, &options))
        .join()
        .expect("runner thread")
}

fn clause<'a>(results: &'a [RuleResult], id: &str) -> (&'a RuleResult, &'a ClauseState) {
    let rule = id.split('.').next().unwrap_or("");
    let r = results.iter().find(|r| r.id == rule).expect("rule ran");
    let c = r
        .verdict
        .clause(id)
        .unwrap_or_else(|| panic!("{id} missing"));
    (r, &c.state)
}

#[test]
fn a_307_with_a_body_and_no_auth_fails_scsp_4() {
    let (_rt, addrs) = two_nodes("307 Temporary Redirect", true);
    let results = run(addrs, &["SCSP-1", "SCSP-3", "SCSP-4"]);
    let (scsp_4, empty) = clause(&results, "SCSP-4.empty");
    assert_eq!(scsp_4.verdict.outcome, Outcome::Fail);
    assert!(matches!(empty, ClauseState::Fail { .. }), "{empty:?}");
    let (_, auth) = clause(&results, "SCSP-4.auth");
    let ClauseState::Fail { evidence, exchange } = auth else {
        panic!("SCSP-4.auth should fail: {auth:?}");
    };
    assert!(evidence.contains("auth="), "{evidence}");
    let shown = exchange.expect("the exchange that shows it");
    assert_eq!(scsp_4.transcript[shown].outcome, Ok(307));
    // SCSP-3 has no admin control here; it still reads no PASS for what it cannot see.
    let (scsp_3, _) = clause(&results, "SCSP-3.retiring-301");
    assert_eq!(
        scsp_3.verdict.outcome,
        Outcome::Partial,
        "{}",
        scsp_3.verdict.evidence
    );
}

#[test]
fn a_302_met_by_any_rule_fails_scsp_3() {
    let (_rt, addrs) = two_nodes("302 Found", false);
    let results = run(addrs, &["SCSP-1", "SCSP-3", "SCSP-4"]);
    let (scsp_3, state) = clause(&results, "SCSP-3.only-301-307");
    let ClauseState::Fail { evidence, exchange } = state else {
        panic!("SCSP-3.only-301-307 should fail: {state:?}");
    };
    assert!(evidence.contains("302"), "{evidence}");
    assert_eq!(scsp_3.verdict.outcome, Outcome::Fail);
    let shown = exchange.expect("the exchange, copied into SCSP-3's transcript");
    assert_eq!(scsp_3.transcript[shown].outcome, Ok(302));
}
