//! The catalog over `https://` against `serve` behind TLS, with a CA made at test time: the
//! same verdicts as over plain HTTP, the nodes' redirects say `https`, and the targets are
//! named by host name (so names, TLS server names and `Host` all line up).

use replisim_conformance::catalog;
use replisim_conformance::client::test_pki::TestPki;
use replisim_conformance::client::{Endpoint, Tls};
use replisim_conformance::runner::{self, RunOptions, TargetSpec};
use replisim_conformance::verdict::{Outcome, RuleResult};
use replisim_sim::serve::{self, ServeConfig, TlsServer};

fn run(options: RunOptions) -> Vec<RuleResult> {
    let rules: Vec<catalog::Rule> = catalog::all()
        .into_iter()
        .filter(catalog::Rule::is_checked)
        .collect();
    // The runner makes its own runtime; the clusters keep serving on the test's meanwhile.
    std::thread::spawn(move || runner::run(&rules, &options))
        .join()
        .expect("runner thread")
}

fn verdicts(results: &[RuleResult]) -> Vec<(&'static str, Outcome)> {
    results.iter().map(|r| (r.id, r.verdict.outcome)).collect()
}

#[test]
fn catalog_over_https_gives_the_verdicts_it_gives_over_http() {
    let pki = TestPki::new(&["localhost", "127.0.0.1"]);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let plain = runtime
        .block_on(serve::start(ServeConfig::new(4, 0)))
        .expect("plain cluster");
    let mut secure_config = ServeConfig::new(4, 0);
    secure_config.tls = Some(
        TlsServer::from_pem(pki.cert_pem.as_bytes(), pki.key_pem.as_bytes(), "test cert")
            .expect("test certificate"),
    );
    let secure = runtime
        .block_on(serve::start(secure_config))
        .expect("TLS cluster");

    let mut over_http = RunOptions::sim(5);
    over_http.target = TargetSpec::Http {
        nodes: plain.addrs.iter().copied().map(Endpoint::http).collect(),
    };
    over_http.rule_timeout = std::time::Duration::from_secs(60);
    let mut over_https = over_http.clone();
    over_https.target = TargetSpec::Http {
        nodes: secure
            .addrs
            .iter()
            .map(|a| {
                Endpoint::parse_target(&format!("https://localhost:{}", a.port()))
                    .expect("https target")
            })
            .collect(),
    };
    over_https.tls = Tls::from_ca_pem(pki.ca_pem.as_bytes(), "test CA").expect("test CA");

    let http_results = run(over_http);
    let https_results = run(over_https);
    assert_eq!(verdicts(&https_results), verdicts(&http_results));
    let failed: Vec<String> = https_results
        .iter()
        .filter(|r| r.verdict.outcome == Outcome::Fail)
        .map(|r| format!("{}: {}", r.id, r.verdict.evidence))
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
    let passed = verdicts(&https_results)
        .iter()
        .filter(|(_, o)| *o == Outcome::Pass)
        .count();
    assert!(passed >= 20, "only {passed} rules passed over https");

    // Every exchange went over TLS to a named node or to an https Location, and the nodes'
    // redirects point at https URLs.
    let exchanges: Vec<_> = https_results.iter().flat_map(|r| &r.transcript).collect();
    assert!(exchanges
        .iter()
        .all(|e| e.addr.scheme == replisim_conformance::client::Scheme::Https));
    assert!(
        exchanges.iter().any(|e| e
            .response_head
            .to_ascii_lowercase()
            .contains("\r\nlocation: https://127.0.0.1:")),
        "no redirect or 201 Location says https"
    );
    assert!(exchanges
        .iter()
        .any(|e| e.request_head.contains("\r\nHost: localhost:")));
}

#[test]
fn an_https_target_with_an_unknown_ca_fails_rules_with_the_tls_reason() {
    let pki = TestPki::new(&["localhost"]);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut config = ServeConfig::new(1, 0);
    config.tls = Some(
        TlsServer::from_pem(pki.cert_pem.as_bytes(), pki.key_pem.as_bytes(), "test cert")
            .expect("test certificate"),
    );
    let cluster = runtime.block_on(serve::start(config)).expect("TLS node");
    let mut options = RunOptions::sim(7);
    options.target = TargetSpec::Http {
        nodes: vec![Endpoint::parse_target(&format!(
            "https://localhost:{}",
            cluster.addrs[0].port()
        ))
        .expect("target")],
    };
    // Default roots: the webpki list, which does not hold the test CA.
    let results = run(options);
    let failed: Vec<&RuleResult> = results
        .iter()
        .filter(|r| r.verdict.outcome == Outcome::Fail)
        .collect();
    assert!(!failed.is_empty(), "an untrusted target passed rules");
    for r in failed {
        assert!(
            r.verdict.evidence.contains("TLS failed")
                && r.verdict.evidence.contains("invalid peer certificate"),
            "{}: {}",
            r.id,
            r.verdict.evidence
        );
    }
    assert!(
        results.iter().all(|r| r.verdict.outcome != Outcome::Pass),
        "no rule can pass without a handshake"
    );
}

/// Kills the server when the test ends, pass or fail.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_binary_serves_tls_and_checks_it_with_a_ca_file() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let pki = TestPki::new(&["localhost", "127.0.0.1"]);
    let dir = std::env::temp_dir().join(format!("replisim-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write PEM");
        path
    };
    let (cert, key, ca) = (
        write("cert.pem", &pki.cert_pem),
        write("key.pem", &pki.key_pem),
        write("ca.pem", &pki.ca_pem),
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_replisim"))
        .args(["serve", "--nodes", "4", "--port", "0", "--tls-cert"])
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("replisim serve starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let _server = Server(child);
    // Keep reading stdout to the end, so serve never writes to a closed pipe.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut urls = Vec::new();
    while urls.len() < 4 {
        let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(30)) else {
            break;
        };
        let mut words = line.split_whitespace();
        if let (Some(node), Some(url)) = (words.next(), words.next()) {
            if node.starts_with("node") {
                urls.push(url.replace("127.0.0.1", "localhost"));
            }
        }
    }
    assert_eq!(urls.len(), 4, "serve printed its nodes");
    assert!(
        urls.iter().all(|u| u.starts_with("https://localhost:")),
        "{urls:?}"
    );

    let check = |extra: &[&std::ffi::OsStr]| {
        Command::new(env!("CARGO_BIN_EXE_replisim"))
            .args(["check", "--rule", "SCSP-4", "--color", "never", "--target"])
            .arg(urls.join(","))
            .args(extra)
            .output()
            .expect("replisim check runs")
    };
    let trusted = check(&["--ca-cert".as_ref(), ca.as_os_str()]);
    let out = String::from_utf8_lossy(&trusted.stdout);
    assert!(trusted.status.success(), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("SCSP-4") && l.contains("PASS")),
        "{out}"
    );

    let untrusted = check(&[]);
    let out = String::from_utf8_lossy(&untrusted.stdout);
    assert_eq!(untrusted.status.code(), Some(1), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("SCSP-4") && l.contains("FAIL")),
        "{out}"
    );
    assert!(out.contains("invalid peer certificate"), "{out}");

    let not_pem = check(&["--ca-cert".as_ref(), key.as_os_str()]);
    assert_eq!(not_pem.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&not_pem.stderr).contains("--ca-cert"));
    let simulated = Command::new(env!("CARGO_BIN_EXE_replisim"))
        .args(["check", "--rule", "SCSP-4", "--ca-cert"])
        .arg(&ca)
        .output()
        .expect("replisim check runs");
    assert_eq!(
        simulated.status.code(),
        Some(2),
        "--ca-cert without --target"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn scenarios_run_over_https_with_redirects_to_https_locations() {
    use replisim_conformance::scenario::{load, run_real_at, RealControl};

    let pki = TestPki::new(&["localhost", "127.0.0.1"]);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let tls = Tls::from_ca_pem(pki.ca_pem.as_bytes(), "test CA").expect("test CA");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    for file in [
        "expect_continue_redirect.toml",
        "multipart_202.toml",
        "unnamed_write.toml",
    ] {
        let scenario = load(&dir.join(file)).unwrap_or_else(|e| panic!("{e}"));
        let outcome = runtime.block_on(async {
            let mut config = ServeConfig::new(scenario.cluster.nodes, 0);
            config.tls = Some(
                TlsServer::from_pem(pki.cert_pem.as_bytes(), pki.key_pem.as_bytes(), "cert")
                    .expect("test certificate"),
            );
            let cluster = serve::start(config).await.expect("TLS cluster");
            let nodes: Vec<Endpoint> = cluster
                .addrs
                .iter()
                .map(|a| Endpoint::http(*a).https())
                .collect();
            let control = Some(RealControl::from(&cluster));
            run_real_at(&scenario, &nodes, tls.clone(), control, 0, "-tls").await
        });
        assert!(
            outcome.passed() && outcome.skipped.is_none(),
            "{file}: {:?} {:?}",
            outcome.skipped,
            outcome.failure.map(|f| f.message)
        );
    }
}
