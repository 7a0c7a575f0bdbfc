//! The `ds3` family end to end: the contract test (every answer of every implemented
//! operation, met by any BP check, is in the contract's response-code set, and every
//! failure carries the Error document) in the simulator, and the family over real TCP
//! against reference gateways as `replisim serve --ds3` starts them.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use replisim_conformance::catalog;
use replisim_conformance::families::ds3::{self, contract, Settings, Times};
use replisim_conformance::families::Targets;
use replisim_conformance::runner::{self, RunOptions, TargetSpec};
use replisim_conformance::verdict::{Outcome, RuleResult};
use replisim_sim::ds3::auth::Credentials;
use replisim_sim::ds3::gateway::GatewayConfig;
use replisim_sim::store::Disk;

/// The contract's handlers the reference gateway implements.
const IMPLEMENTED: [&str; 28] = [
    "CreateDataPolicy",
    "DeleteDataPolicy",
    "CreateBucket",
    "DeleteBucket",
    "CloseAggregatingJob",
    "CreatePutJob",
    "CreateGetJob",
    "CreateVerifyJob",
    "ReplicatePutJob",
    "GetJobChunksReadyForClientProcessing",
    "GetJobChunk",
    "AllocateJobChunk",
    "CreateObject",
    "GetObject",
    "GetBucket",
    "GetJob",
    "GetActiveJob",
    "GetJobs",
    "GetActiveJobs",
    "GetCompletedJobs",
    "GetCanceledJobs",
    "ModifyJob",
    "ModifyActiveJob",
    "CancelJob",
    "CancelActiveJob",
    "TruncateJob",
    "TruncateActiveJob",
    "GetJobToReplicate",
];

fn ds3_rules() -> Vec<catalog::Rule> {
    catalog::all()
        .into_iter()
        .filter(|r| r.protocol() == "ds3" && r.is_checked())
        .collect()
}

/// Every exchange of every result: status within the contract, Error body on failures.
fn contract_problems(results: &[RuleResult]) -> (usize, Vec<String>) {
    let mut seen = 0;
    let mut problems = Vec::new();
    for r in results {
        for ex in &r.transcript {
            let Ok(status) = ex.outcome else {
                problems.push(format!(
                    "{}: an exchange without a response: {:?}",
                    r.id, ex.outcome
                ));
                continue;
            };
            let first = ex.request_head.lines().next().unwrap_or("");
            let mut words = first.split(' ');
            let (Some(method), Some(target)) = (words.next(), words.next()) else {
                problems.push(format!("{}: unreadable request line `{first}`", r.id));
                continue;
            };
            seen += 1;
            if let Some(v) = contract::violation(method, target, status) {
                problems.push(format!("{}: {v}", r.id));
            }
            let bodiless = status == 410 && target.starts_with("/_rest_/job_chunk?");
            if status >= 400 && !bodiless && !ex.response_body_preview.contains("<Error>") {
                problems.push(format!(
                    "{}: {method} {target} answered {status} without an Error document: `{}`",
                    r.id, ex.response_body_preview
                ));
            }
        }
    }
    (seen, problems)
}

#[test]
fn every_answer_of_the_ds3_checks_is_in_the_contract_and_failures_carry_error_xml() {
    for seed in 1..=3 {
        let results = runner::run(&ds3_rules(), &RunOptions::sim(seed));
        let failed: Vec<String> = results
            .iter()
            .filter(|r| r.verdict.outcome != Outcome::Pass)
            .map(|r| format!("{}: {}", r.id, r.verdict.evidence))
            .collect();
        assert!(failed.is_empty(), "seed {seed}: {failed:#?}");
        let (seen, problems) = contract_problems(&results);
        assert!(seen > 100, "only {seen} exchanges judged");
        // Every operation the gateway implements was met at least once.
        let met: std::collections::BTreeSet<&str> = results
            .iter()
            .flat_map(|r| r.transcript.iter())
            .filter_map(|ex| {
                let mut words = ex.request_head.lines().next()?.split(' ');
                let (m, t) = (words.next()?, words.next()?);
                contract::handler_for(m, t).map(|h| h.name.as_str())
            })
            .collect();
        for op in IMPLEMENTED {
            assert!(
                met.contains(op),
                "seed {seed}: {op} never exercised; met {met:?}"
            );
        }
        assert!(problems.is_empty(), "seed {seed}: {problems:#?}");
    }
}

#[test]
fn a_status_outside_the_contract_is_caught_by_the_contract_test() {
    let mut options = RunOptions::sim(1);
    options.target = TargetSpec::Sim {
        nodes: 2,
        defects: Default::default(),
    };
    options.ds3_defects = [replisim_sim::ds3::defects::Defect::StatusOutsideContract].into();
    let results = runner::run(&ds3_rules(), &options);
    let (_, problems) = contract_problems(&results);
    assert!(
        problems.iter().any(|p| p.contains("answered 409")),
        "{problems:#?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("answered 201")),
        "{problems:#?}"
    );
}

/// Two reference gateways on loopback (a source and a target) with short waits.
fn start_gateways(runtime: &tokio::runtime::Runtime) -> Vec<SocketAddr> {
    (0..2u64)
        .map(|i| {
            let mut config = GatewayConfig::new(40 + i, "ds3");
            config.idle_timeout_ms = 6_000;
            config.aggregation_window_ms = 3_000;
            config.retention_ms = 4_000;
            config.persist_delay_ms = 200;
            config.load_delay_ms = 200;
            config.retry_after_secs = 1;
            // Chunks of 16 KiB so that BP-8's objects make several chunks.
            config.chunk_bytes = 16 << 10;
            config.cache_bytes = 256 << 10;
            runtime
                .block_on(replisim_sim::ds3::host::serve_real(
                    config,
                    Credentials::fixture(),
                    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
                    Disk::shared(1 << 28),
                ))
                .expect("gateway on a loopback port")
        })
        .collect()
}

/// `ds3::configure` is process-wide: the tests that set it run one at a time.
static SETTINGS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn outcomes(results: &[RuleResult], want: Outcome) -> Vec<&'static str> {
    results
        .iter()
        .filter(|r| r.verdict.outcome == want)
        .map(|r| r.id)
        .collect()
}

#[test]
fn the_ds3_family_over_tcp_is_partial_only_for_unstated_waits_then_passes() {
    let _settings = SETTINGS.lock().unwrap_or_else(|p| p.into_inner());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let addrs = start_gateways(&runtime);
    let urls: Vec<String> = addrs.iter().map(|a| format!("http://{a}")).collect();
    let targets = Targets::parse(&[format!("ds3={}", urls.join(","))]).expect("targets");
    let mut options = RunOptions::sim(3);
    options.target = TargetSpec::Roles(targets);
    options.rule_timeout = Duration::from_secs(60);
    // Without stated waits: the long-wait clauses are not observed, never passed; nor is
    // BP-7's retry, as these gateways are never busy (no 307).
    ds3::configure(Settings::default());
    let rules = ds3_rules();
    let first = {
        let (rules, options) = (rules.clone(), options.clone());
        std::thread::spawn(move || runner::run(&rules, &options))
            .join()
            .expect("runner thread")
    };
    assert_eq!(
        outcomes(&first, Outcome::Fail),
        Vec::<&str>::new(),
        "{first:#?}"
    );
    assert_eq!(
        outcomes(&first, Outcome::Partial),
        vec!["BP-3", "BP-7", "BP-9", "BP-16"]
    );
    let (_, problems) = contract_problems(&first);
    assert!(problems.is_empty(), "{problems:#?}");
    // With the target's configuration stated, those clauses are observed and hold.
    ds3::configure(Settings {
        credentials: Some(Credentials::fixture()),
        times: Times {
            idle_timeout: Some(Duration::from_secs(6)),
            aggregation_window: Some(Duration::from_secs(3)),
            retention: Some(Duration::from_secs(4)),
        },
    });
    let long: Vec<catalog::Rule> = rules
        .into_iter()
        .filter(|r| ["BP-3", "BP-9", "BP-16"].contains(&r.id))
        .collect();
    let second = std::thread::spawn(move || runner::run(&long, &options))
        .join()
        .expect("runner thread");
    assert_eq!(
        outcomes(&second, Outcome::Pass),
        vec!["BP-3", "BP-9", "BP-16"],
        "{second:#?}"
    );
    ds3::configure(Settings::default());
}

#[test]
fn replicated_jobs_under_faults_complete_identical_or_are_reported_incomplete() {
    let mut complete = 0;
    let mut faults = 0;
    let mut violations = Vec::new();
    for seed in 0..24 {
        let o = ds3::faults::run_seed(seed).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        complete += usize::from(o.complete);
        faults += o.faults;
        if let Some(v) = o.violation {
            violations.push(format!("seed {seed}: {v}"));
        }
    }
    eprintln!("24 seeds: {complete} complete, {faults} faults applied");
    assert!(violations.is_empty(), "{violations:#?}");
    assert!(faults >= 24, "the nemesis applied only {faults} faults");
    assert!(
        complete >= 20,
        "only {complete} of 24 replications completed"
    );
}

/// Kills `replisim serve` when the test ends, pass or fail.
struct Served(std::process::Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `replisim serve --ds3` as a user starts it (default chunk size, the fixture users in a
/// credentials file): its source and target URLs.
fn start_serve_binary(dir: &std::path::Path) -> (Served, Vec<String>) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let creds = dir.join("ds3-users");
    let lines: Vec<String> = Credentials::fixture()
        .users()
        .map(|u| {
            let flag = if u.replicate { " replicate" } else { "" };
            format!("{} {} {}{flag}", u.access_id, u.secret_key, u.name)
        })
        .collect();
    std::fs::write(&creds, lines.join("\n")).expect("credentials file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_replisim"))
        .args([
            "serve",
            "--nodes",
            "1",
            "--port",
            "0",
            "--ds3",
            "--ds3-port",
            "0",
        ])
        .arg("--ds3-credentials")
        .arg(&creds)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("replisim serve starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let served = Served(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Keep reading after the URLs are found: serve must never write into a closed pipe.
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut urls = Vec::new();
    let mut chunk_line = String::new();
    while urls.len() < 2 {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("serve prints its DS3 systems within 30 s");
        if line.contains("DS3 systems") {
            chunk_line = line.clone();
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if let ["ds3", "source" | "target", url] = words[..] {
            urls.push(url.to_string());
        }
    }
    assert!(
        chunk_line.contains("chunks of at most 16384 bytes"),
        "{chunk_line}"
    );
    (served, urls)
}

/// Against `replisim serve --ds3` with its defaults, the family has no failure, BP-8 is
/// observed and passes (the default chunk size cuts its 24 KiB objects into several
/// chunks), and only the clauses waiting for unstated hours and BP-7's 307 retry are
/// PARTIAL.
#[test]
fn serve_ds3_with_its_default_chunk_size_passes_bp_8_over_tcp() {
    let _settings = SETTINGS.lock().unwrap_or_else(|p| p.into_inner());
    let dir = std::env::temp_dir().join(format!("replisim-ds3-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (_served, urls) = start_serve_binary(&dir);
    let targets = Targets::parse(&[format!("ds3={}", urls.join(","))]).expect("targets");
    let mut options = RunOptions::sim(5);
    options.target = TargetSpec::Roles(targets);
    options.rule_timeout = Duration::from_secs(60);
    ds3::configure(Settings {
        credentials: Some(Credentials::fixture()),
        times: Times::default(),
    });
    let rules = ds3_rules();
    let results = std::thread::spawn(move || runner::run(&rules, &options))
        .join()
        .expect("runner thread");
    ds3::configure(Settings::default());
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        outcomes(&results, Outcome::Fail),
        Vec::<&str>::new(),
        "{results:#?}"
    );
    assert!(
        outcomes(&results, Outcome::Pass).contains(&"BP-8"),
        "{:#?}",
        results.iter().find(|r| r.id == "BP-8")
    );
    // BP-7 too: `serve --ds3` is never busy, so no 307 and its retry clause is not observed.
    assert_eq!(
        outcomes(&results, Outcome::Partial),
        vec!["BP-3", "BP-7", "BP-9", "BP-16"]
    );
}

/// The DS3 scenario files have teeth: with a gateway defect switched on in their systems
/// (`ds3 = { defects = [...] }`), the step that observes the broken clause fails, naming
/// the header or the XML value it expected.
#[test]
fn ds3_scenario_files_fail_with_the_defect_their_steps_observe() {
    use replisim_conformance::scenario::{parse, run_sim};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .join("scenarios");
    for (file, defect, says) in [
        (
            "ds3_bulk_get_retry_after.toml",
            "ds3-no-retry-after",
            "Retry-After",
        ),
        (
            "ds3_replication.toml",
            "ds3-new-ids-on-replicate",
            "MasterObjectList@JobId",
        ),
        ("ds3_job_expiry.toml", "ds3-job-never-expires", "CANCELED"),
        ("ds3_cancel.toml", "ds3-cancel-keeps-partial", "404"),
    ] {
        let text = std::fs::read_to_string(root.join(file)).expect("scenario file");
        assert!(run_sim(&parse(file, &text).expect("parses"), 0).passed());
        let broken = text.replace("ds3 = {}", &format!("ds3 = {{ defects = [\"{defect}\"] }}"));
        let outcome = run_sim(&parse(file, &broken).expect("parses"), 0);
        let failure = outcome
            .failure
            .unwrap_or_else(|| panic!("{file} passes with {defect}"));
        assert!(
            failure.message.contains(says),
            "{file} with {defect}: {}",
            failure.message
        );
    }
}
