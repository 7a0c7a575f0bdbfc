//! `replisim run FILE... [--seed N | --seeds A..B] [--target URL,...]`: runs scenario files
//! and prints, per scenario and seed, PASS / FAIL / SKIP; a failure names the step
//! (`file:line:col: step N`), what was expected and what came, the step's exchanges, and the
//! command that replays it. Exit status as for `check`: 0 every run passed (skips allowed),
//! 1 a step failed, 2 a file or an argument was wrong (other files still run).

use std::fmt::Write as _;
use std::ops::Range;
use std::path::PathBuf;
use std::process::ExitCode;

use super::exec::{run_real_at, run_sim, Outcome, StepFailure};
use super::{load, Scenario};

/// Arguments of `replisim run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario files (TOML; see docs/scenarios.md).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Run only this seed (replays a failure exactly).
    #[arg(long, conflicts_with = "seeds")]
    pub seed: Option<u64>,
    /// Run these seeds instead of each file's own, `A..B` (B exclusive).
    #[arg(long)]
    pub seeds: Option<String>,
    /// Real nodes to run against instead of the simulator, comma-separated
    /// (`http://127.0.0.1:8080,http://127.0.0.1:8081`). Scenarios that need faults, clock,
    /// configuration, operator switches or a look at the disks are skipped with the reason.
    #[arg(long, value_delimiter = ',')]
    pub target: Vec<String>,
    /// With an `https://` --target: trust the CA certificates in this PEM file instead of
    /// the built-in webpki roots.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Print every step of every run, not only failing ones.
    #[arg(long, short)]
    pub verbose: bool,
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("replisim: {message}");
    ExitCode::from(2)
}

/// Runs `replisim run`.
pub fn run_command(args: RunArgs) -> ExitCode {
    let seeds: Option<Range<u64>> = match (&args.seeds, args.seed) {
        (Some(r), _) => match super::text::parse_seeds(r) {
            Ok(r) => Some(r),
            Err(e) => return usage_error(&format!("--seeds: {e}")),
        },
        (None, Some(s)) => Some(s..s.saturating_add(1)),
        (None, None) => None,
    };
    let mut targets = Vec::new();
    for url in &args.target {
        match crate::cli::parse_target(url) {
            Ok(a) => targets.push(a),
            Err(e) => return usage_error(&e),
        }
    }
    let tls = match crate::cli::tls_from(args.ca_cert.as_deref()) {
        Ok(tls) => tls,
        Err(e) => return usage_error(&e),
    };
    // Replay lines repeat the targets; the CA file rides along after the last one.
    let mut shown_targets = args.target.clone();
    if let (Some(ca), Some(last)) = (&args.ca_cert, shown_targets.last_mut()) {
        last.push_str(&format!(" --ca-cert {}", ca.display()));
    }
    let mut scenarios = Vec::new();
    let mut input_errors = 0;
    for path in &args.files {
        match load(path) {
            Ok(s) => scenarios.push(s),
            Err(e) => {
                eprintln!("{e}");
                input_errors += 1;
            }
        }
    }
    let place = if targets.is_empty() {
        "the simulator".to_string()
    } else {
        targets
            .iter()
            .map(|a| a.url())
            .collect::<Vec<_>>()
            .join(",")
    };
    println!(
        "replisim run: {} scenario file{} on {place}",
        scenarios.len(),
        if scenarios.len() == 1 { "" } else { "s" }
    );
    let mut tally = Tally::default();
    if targets.is_empty() {
        for sc in &scenarios {
            let range = seeds.clone().unwrap_or_else(|| sc.seeds.clone());
            let outcomes: Vec<Outcome> = range.clone().map(|seed| run_sim(sc, seed)).collect();
            print!(
                "{}",
                report(sc, &range, &outcomes, &shown_targets, args.verbose)
            );
            tally.add(&outcomes);
        }
    } else {
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => return usage_error(&format!("could not start a runtime: {e}")),
        };
        let seed = seeds.as_ref().map(|r| r.start).unwrap_or(0);
        // Fresh names per run, so rerunning against one cluster does not collide.
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(0);
        for (i, sc) in scenarios.iter().enumerate() {
            let token = format!("-r{:x}", (nonce.wrapping_add(i as u64)) & 0xff_ffff_ffff);
            let outcome =
                runtime.block_on(run_real_at(sc, &targets, tls.clone(), None, seed, &token));
            print!(
                "{}",
                report(
                    sc,
                    &(seed..seed + 1),
                    std::slice::from_ref(&outcome),
                    &shown_targets,
                    args.verbose
                )
            );
            tally.add(std::slice::from_ref(&outcome));
        }
    }
    println!(
        "{} passed, {} failed, {} skipped{}",
        tally.passed,
        tally.failed,
        tally.skipped,
        if input_errors > 0 {
            format!(", {input_errors} file(s) with errors")
        } else {
            String::new()
        }
    );
    if input_errors > 0 {
        ExitCode::from(2)
    } else if tally.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
    skipped: usize,
}

impl Tally {
    fn add(&mut self, outcomes: &[Outcome]) {
        for o in outcomes {
            if o.skipped.is_some() {
                self.skipped += 1;
            } else if o.failure.is_some() {
                self.failed += 1;
            } else {
                self.passed += 1;
            }
        }
    }
}

/// The report for one scenario (as `replisim run` prints it): one PASS line when every seed passed, else a block per
/// failing seed.
pub fn report(
    sc: &Scenario,
    seeds: &Range<u64>,
    outcomes: &[Outcome],
    target: &[String],
    verbose: bool,
) -> String {
    let mut out = String::new();
    let seeds_shown = if seeds.end - seeds.start == 1 {
        format!("seed {}", seeds.start)
    } else {
        format!("seeds {}..{}", seeds.start, seeds.end)
    };
    if let Some(why) = outcomes.iter().find_map(|o| o.skipped.as_ref()) {
        let _ = writeln!(out, "SKIP {}: {why}", sc.file);
        return out;
    }
    let failing: Vec<&Outcome> = outcomes.iter().filter(|o| o.failure.is_some()).collect();
    if failing.is_empty() {
        let _ = writeln!(
            out,
            "PASS {} {seeds_shown} ({} steps) {}",
            sc.file,
            sc.steps.len(),
            sc.name
        );
    }
    if !failing.is_empty() {
        let passed: Vec<String> = outcomes
            .iter()
            .filter(|o| o.failure.is_none())
            .map(|o| o.seed.to_string())
            .collect();
        let _ = writeln!(
            out,
            "FAIL {} {seeds_shown}: {} of {} failed{} {}",
            sc.file,
            failing.len(),
            outcomes.len(),
            if passed.is_empty() {
                String::new()
            } else {
                format!(" (passed: {})", passed.join(", "))
            },
            sc.name
        );
    }
    for o in outcomes {
        let failed = o.failure.as_ref();
        if verbose || failed.is_some() {
            if failed.is_some() {
                let _ = writeln!(out, "FAIL {} seed {}", sc.file, o.seed);
            } else {
                let _ = writeln!(out, "  seed {}:", o.seed);
            }
            for s in &o.steps {
                let mark = match failed {
                    Some(f) if f.step == s.step => "✗",
                    _ => "✓",
                };
                let statuses: Vec<String> = s
                    .exchanges
                    .iter()
                    .map(|e| match (&e.response, &e.error) {
                        (Some(r), _) => r.status.split(' ').next().unwrap_or("").to_string(),
                        (None, Some(_)) => "error".to_string(),
                        (None, None) => "?".to_string(),
                    })
                    .collect();
                let answered = if statuses.is_empty() {
                    String::new()
                } else {
                    format!(" ⇒ {}", statuses.join(" → "))
                };
                let _ = writeln!(out, "  {mark} step {} {}{answered}", s.step, s.action);
            }
        }
        if let Some(f) = failed {
            let _ = write!(out, "{}", failure_block(sc, f));
            let mut replay = format!("replisim run {} --seed {}", sc.file, o.seed);
            if !target.is_empty() {
                replay.push_str(&format!(" --target {}", target.join(",")));
            }
            let _ = writeln!(out, "  replay: {replay}");
        }
    }
    out
}

fn failure_block(sc: &Scenario, f: &StepFailure) -> String {
    let mut out = String::new();
    match f.at {
        Some(at) => {
            let _ = writeln!(
                out,
                "  {}:{}:{}: step {} ({}): {}",
                sc.file, at.line, at.col, f.step, f.action, f.message
            );
        }
        None => {
            let _ = writeln!(out, "  {}: {}", sc.file, f.message);
        }
    }
    for e in &f.exchanges {
        for line in e.request_head.split("\r\n").filter(|l| !l.is_empty()) {
            let _ = writeln!(out, "    > {line}");
        }
        if e.request_body_len > 0 {
            let _ = writeln!(out, "    > [{} body bytes]", e.request_body_len);
        }
        for line in e.response_head.split("\r\n").filter(|l| !l.is_empty()) {
            let _ = writeln!(out, "    < {line}");
        }
        let preview: String = e.response_body_preview.chars().take(200).collect();
        if !preview.is_empty() {
            let _ = writeln!(out, "    < {}", preview.replace("\r\n", "⏎"));
        }
        if let Err(err) = &e.outcome {
            let _ = writeln!(out, "    ! {err}");
        }
    }
    out
}
