//! `replisim check --target` against `replisim serve`, as a vendor runs it: the vendor
//! profile is the default, no rule with an unobserved clause reads PASS, PARTIAL does not
//! change the exit status, and a rule made only of reference choices is not judged.

use std::process::ExitCode;

use clap::Parser;
use replisim_conformance::cli::{main_with, Cli};
use replisim_sim::serve::{self, ServeConfig};
use serde_json::Value;

#[test]
fn vendor_profile_against_serve_shows_no_pass_with_an_unobserved_clause() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let cluster = runtime
        .block_on(serve::start(ServeConfig::new(4, 0)))
        .expect("cluster on ephemeral loopback ports");
    let dir = std::env::temp_dir().join(format!("replisim-profiles-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let json = dir.join("report.json");
    let targets: Vec<String> = cluster
        .addrs
        .iter()
        .map(|a| format!("http://{a}"))
        .collect();
    let mut argv: Vec<String> = [
        "replisim",
        "check",
        "--color",
        "never",
        "--target",
        &targets.join(","),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for rule in [
        "SCSP-1", "SCSP-3", "SCSP-4", "SCSP-7", "SCSP-8", "SCSP-19", "SCSP-33",
    ] {
        argv.push("--rule".into());
        argv.push(rule.into());
    }
    argv.push("--report".into());
    argv.push(format!("json={}", json.display()));
    let code =
        std::thread::spawn(move || main_with(Cli::try_parse_from(argv).expect("valid arguments")))
            .join()
            .expect("check thread");
    assert_eq!(
        code,
        ExitCode::SUCCESS,
        "PARTIAL must not change the exit status"
    );

    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("report")).expect("JSON");
    assert_eq!(report["profile"], "vendor");
    let rules = report["rules"].as_array().expect("rules");
    let outcome = |id: &str| -> &str {
        rules
            .iter()
            .find(|r| r["id"] == id)
            .and_then(|r| r["outcome"].as_str())
            .unwrap_or("")
    };
    for r in rules {
        let unobserved = r["clauses"]
            .as_array()
            .expect("clauses")
            .iter()
            .any(|c| c["state"] == "not-observed");
        if unobserved {
            assert_ne!(
                r["outcome"], "pass",
                "{} passed with an unobserved clause",
                r["id"]
            );
        }
        assert_ne!(r["outcome"], "fail", "{}: {}", r["id"], r["evidence"]);
    }
    for id in ["SCSP-3", "SCSP-7", "SCSP-8", "SCSP-19"] {
        assert_eq!(outcome(id), "partial", "{id}");
    }
    assert_eq!(outcome("SCSP-1"), "pass");
    // SCSP-33 is the reference's own COPY-by-part syntax: listed, never judged.
    let copy_by_part = rules
        .iter()
        .find(|r| r["id"] == "SCSP-33")
        .expect("SCSP-33");
    assert_eq!(copy_by_part["outcome"], "skip");
    assert!(copy_by_part["clauses"]
        .as_array()
        .expect("clauses")
        .iter()
        .all(|c| c["state"] == "not-judged" && c["basis"] == "choice"));
    // SCSP-19's clock half is not observed, and its reference-choice clause not judged.
    let versions = rules
        .iter()
        .find(|r| r["id"] == "SCSP-19")
        .expect("SCSP-19");
    let state = |id: &str| {
        versions["clauses"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["id"] == id))
            .map(|c| c["state"].clone())
    };
    assert_eq!(
        state("SCSP-19.older-10s"),
        Some(Value::from("not-observed"))
    );
    assert_eq!(state("SCSP-19.older-409"), Some(Value::from("not-judged")));
    assert_eq!(summary(&report, "partial"), 4);
    drop(runtime);
}

fn summary(report: &Value, key: &str) -> u64 {
    report["summary"][key].as_u64().unwrap_or(u64::MAX)
}

const SKEW_CLAUSES: [replisim_conformance::clause::ClauseSpec; 1] =
    [replisim_conformance::clause::consistency(
        "spread-measured",
        "the harness measures how far apart the nodes' clocks are",
    )];

/// Measures the clock spread of the target's nodes.
fn measure_spread(
    ctx: replisim_conformance::target::Ctx,
) -> replisim_conformance::catalog::CheckFuture {
    Box::pin(async move {
        let spread = ctx.clock_spread().await;
        ctx.clauses.check(
            "spread-measured",
            (29..=31).contains(&spread.as_secs()),
            format!("clock spread {spread:?}"),
            format!("the nodes' clock spread was measured as {spread:?}, not about 30 s"),
        )
    })
}

/// Two "nodes" whose `Date` headers are 30 s apart, as skewed node clocks send them.
fn skewed_nodes(rt: &tokio::runtime::Runtime) -> Vec<std::net::SocketAddr> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut addrs = Vec::new();
    for behind in [0u64, 30] {
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        addrs.push(listener.local_addr().expect("addr"));
        rt.spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut chunk = [0u8; 4096];
                let _ = stream.read(&mut chunk).await;
                let date = httpdate::fmt_http_date(
                    std::time::SystemTime::now() - std::time::Duration::from_secs(behind),
                );
                let answer =
                    format!("HTTP/1.1 200 OK\r\nDate: {date}\r\nContent-Length: 0\r\n\r\n");
                let _ = stream.write_all(answer.as_bytes()).await;
                let _ = stream.shutdown().await;
            }
        });
    }
    addrs
}

/// `Ctx::next_second` waits the spread of the nodes' clocks on top of a second, so that a
/// node whose clock is behind still sees an update as newer; the spread comes from the
/// nodes' `Date` headers.
#[test]
fn the_spread_of_node_clocks_is_measured_from_their_dates() {
    use replisim_conformance::catalog::{Check, Rule, Strength};
    use replisim_conformance::runner::{RunOptions, TargetSpec};
    use replisim_conformance::target::Capabilities;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let nodes = skewed_nodes(&rt);
    let rule = Rule {
        id: "TEST-2",
        title: "node clocks 30 s apart",
        source: "PF/2443821621",
        strength: Strength::Must,
        nodes_min: 2,
        needs: Capabilities::NONE,
        roles: replisim_conformance::families::scsp::ROLES,
        uses: Capabilities::NONE,
        check: Check::Run(measure_spread),
        clauses: &SKEW_CLAUSES,
    };
    let mut options = RunOptions::sim(4);
    options.target = TargetSpec::Http {
        nodes: nodes.into_iter().map(Into::into).collect(),
    };
    let results = std::thread::spawn(move || replisim_conformance::runner::run(&[rule], &options))
        .join()
        .expect("runner thread");
    assert_eq!(
        results[0].verdict.outcome,
        replisim_conformance::verdict::Outcome::Pass,
        "{}",
        results[0].verdict.evidence
    );
}
