//! The whole catalog against deliberately misbehaving servers on real loopback sockets:
//! one that never answers, one that sends garbage, one whose Content-Length lies, one that
//! redirects forever, one with an enormous body and one whose 202 never ends. Every rule
//! must end as a failure or a skip whose evidence names the problem, nothing may panic, and
//! the whole run must finish within a bound (a liveness bound, not a speed test).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use replisim_conformance::catalog;
use replisim_conformance::client::Limits;
use replisim_conformance::runner::{self, RunOptions, TargetSpec};
use replisim_conformance::verdict::{Outcome, RuleResult};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How a test server misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Reads the request and never answers.
    Hang,
    /// Answers with bytes that are not HTTP, then closes.
    Garbage,
    /// Promises 1000 body bytes, sends 5, closes.
    WrongLength,
    /// Answers every request with a 307 back to itself.
    EndlessRedirect,
    /// Promises a terabyte and streams it.
    HugeBody,
    /// A chunked 202 that sends a whitespace chunk every 50 ms, forever.
    Endless202,
}

impl Mode {
    const ALL: [Mode; 6] = [
        Mode::Hang,
        Mode::Garbage,
        Mode::WrongLength,
        Mode::EndlessRedirect,
        Mode::HugeBody,
        Mode::Endless202,
    ];

    /// Words of which the evidence of a failed rule must contain at least one.
    fn names_the_problem(self) -> &'static [&'static str] {
        match self {
            Mode::Hang => &["no complete response within", "did not finish within"],
            Mode::Garbage => &["malformed response"],
            Mode::WrongLength => &["body ended after 5 of 1000 bytes"],
            Mode::EndlessRedirect => &["gave up after following", "307"],
            Mode::HugeBody => &["exceeds body_bytes_max"],
            Mode::Endless202 => &[
                "no complete response within",
                "did not finish within",
                "exceeds body_bytes_max",
            ],
        }
    }
}

/// Reads until the end of a request head; false when the client went away first.
async fn read_head(stream: &mut TcpStream) -> bool {
    let mut seen = Vec::new();
    let mut chunk = [0u8; 4096];
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => seen.extend_from_slice(&chunk[..n]),
        }
        if seen.len() > 1 << 20 {
            return false;
        }
    }
    true
}

/// Reads whatever the client still sends until it closes, so closing our side never
/// resets a connection the client is still writing to.
async fn drain(mut stream: TcpStream) {
    let mut chunk = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(n) = stream.read(&mut chunk).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

async fn misbehave(mode: Mode, mut stream: TcpStream, me: SocketAddr) {
    if !read_head(&mut stream).await {
        return;
    }
    match mode {
        Mode::Hang => drain(stream).await,
        Mode::Garbage => {
            let _ = stream
                .write_all(b"\x00\xff\x13\x07garbage \x1b[2J<script>\r\nnot: http\r\n\r\n")
                .await;
            let _ = stream.shutdown().await;
            drain(stream).await;
        }
        Mode::WrongLength => {
            let _ = stream
                .write_all(b"HTTP/1.1 201 Created\r\nContent-Length: 1000\r\nLocation: http://127.0.0.1/b/x\r\n\r\nshort")
                .await;
            let _ = stream.shutdown().await;
            drain(stream).await;
        }
        Mode::EndlessRedirect => {
            let answer = format!(
                "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://{me}/again?auth=0123456789abcdef0123456789abcdef\r\nContent-Length: 0\r\n\r\n"
            );
            let _ = stream.write_all(answer.as_bytes()).await;
            let _ = stream.shutdown().await;
            drain(stream).await;
        }
        Mode::HugeBody => {
            let head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n";
            if stream.write_all(head).await.is_err() {
                return;
            }
            let block = vec![b'x'; 64 * 1024];
            while stream.write_all(&block).await.is_ok() {}
        }
        Mode::Endless202 => {
            let head = b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n";
            if stream.write_all(head).await.is_err() {
                return;
            }
            // Keep-alive whitespace, as a node working on a multipart completion sends.
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            loop {
                tick.tick().await;
                if stream.write_all(b"1\r\n \r\n").await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Four listeners that all misbehave the same way: the "cluster".
async fn misbehaving_cluster(mode: Mode) -> Vec<SocketAddr> {
    let mut addrs = Vec::new();
    for _ in 0..4 {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let me = listener.local_addr().expect("addr");
        addrs.push(me);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(misbehave(mode, stream, me));
            }
        });
    }
    addrs
}

fn check(mode: Mode, results: &[RuleResult]) -> Vec<String> {
    let mut problems = Vec::new();
    for r in results {
        match r.verdict.outcome {
            Outcome::Pass => problems.push(format!(
                "{mode:?} {}: passed against a broken server: {}",
                r.id, r.verdict.evidence
            )),
            // PARTIAL is never a pass: some clause was not observed, and it says why.
            Outcome::Skip | Outcome::Partial => {
                if r.verdict.evidence.trim().is_empty() {
                    problems.push(format!("{mode:?} {}: skipped without a reason", r.id));
                }
            }
            Outcome::Fail => {
                let named = mode
                    .names_the_problem()
                    .iter()
                    .any(|w| r.verdict.evidence.contains(w));
                if !named {
                    problems.push(format!(
                        "{mode:?} {}: evidence does not name the problem: {}",
                        r.id, r.verdict.evidence
                    ));
                }
                if r.transcript.is_empty() {
                    problems.push(format!("{mode:?} {}: failed without a transcript", r.id));
                }
            }
        }
    }
    problems
}

#[test]
fn the_catalog_survives_misbehaving_servers() {
    let servers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("server runtime");
    let clusters: Vec<(Mode, Vec<SocketAddr>)> = Mode::ALL
        .into_iter()
        .map(|mode| (mode, servers.block_on(misbehaving_cluster(mode))))
        .collect();
    let rules = catalog::all();
    // Only SCSP rules reach these servers (they are given as SCSP nodes); the others are
    // skipped for their missing role.
    let checked = rules
        .iter()
        .filter(|r| r.is_checked() && r.protocol() == "scsp")
        .count();
    let started = Instant::now();
    let runs: Vec<_> = clusters
        .into_iter()
        .map(|(mode, nodes)| {
            let rules = rules.clone();
            std::thread::spawn(move || {
                let mut options = RunOptions::sim(3);
                options.target = TargetSpec::Http {
                    nodes: nodes.into_iter().map(Into::into).collect(),
                };
                options.rule_timeout = Duration::from_secs(8);
                options.limits = Limits {
                    timeout: Duration::from_secs(1),
                    continue_wait: Duration::from_millis(200),
                    body_bytes_max: 64 * 1024,
                    ..Limits::default()
                };
                (mode, runner::run(&rules, &options))
            })
        })
        .collect();
    let mut problems = Vec::new();
    for run in runs {
        let (mode, results) = run.join().expect("a run panicked");
        assert_eq!(results.len(), rules.len(), "{mode:?}: a rule went missing");
        let failed = results
            .iter()
            .filter(|r| r.verdict.outcome == Outcome::Fail)
            .count();
        assert!(
            failed * 2 >= checked,
            "{mode:?}: only {failed} of {checked} checked rules failed"
        );
        problems.extend(check(mode, &results));
    }
    let elapsed = started.elapsed();
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(
        elapsed < Duration::from_secs(180),
        "the runs took {elapsed:?}: something waited far beyond its limits"
    );
    drop(servers);
}
