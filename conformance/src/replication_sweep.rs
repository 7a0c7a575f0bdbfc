//! `replisim sweep --world replication`: many seeds of the replication experiment
//! (`replisim_sim::replication::sweep`) on threads, with the failing seeds, the command that
//! replays each, catch-up times against their bound, and totals.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::ops::Range;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use replisim_sim::replication::check::ReplicationInvariant;
use replisim_sim::replication::sweep::{
    run_seed, ReplicationReport, ReplicationSweepConfig, WanFault,
};
use replisim_sim::replicator::ReplicatorDefect;

use crate::cli::SweepArgs;

/// Reports of finished seeds, and seeds whose simulation crashed with its message.
type Collected = (Vec<ReplicationReport>, Vec<(u64, String)>);

/// A finished replication sweep.
#[derive(Debug, Clone)]
pub struct ReplicationOutcome {
    /// One report per seed, in seed order.
    pub reports: Vec<ReplicationReport>,
    /// Seeds whose simulation panicked, with the message.
    pub crashed: Vec<(u64, String)>,
    /// Wall time.
    pub wall: Duration,
}

impl ReplicationOutcome {
    /// Seeds that broke an invariant or crashed.
    pub fn failing(&self) -> usize {
        self.reports
            .iter()
            .filter(|r| !r.findings.is_empty())
            .count()
            + self.crashed.len()
    }
}

/// Runs `seeds` on `jobs` threads; `progress` gets (done, total, failing so far).
pub fn run(
    seeds: Range<u64>,
    jobs: usize,
    config: &ReplicationSweepConfig,
    progress: &(dyn Fn(u64, u64, usize) + Sync),
) -> ReplicationOutcome {
    let started = Instant::now();
    let total = seeds.end.saturating_sub(seeds.start);
    let (next, done) = (AtomicU64::new(seeds.start), AtomicU64::new(0));
    let results: Mutex<Collected> = Mutex::new((Vec::new(), Vec::new()));
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| loop {
                let seed = next.fetch_add(1, Ordering::SeqCst);
                if seed >= seeds.end {
                    break;
                }
                let outcome = run_seed(seed, config);
                let failing = {
                    let mut guard = results.lock().unwrap_or_else(|p| p.into_inner());
                    match outcome {
                        Ok(report) => guard.0.push(report),
                        Err(e) => guard.1.push((seed, e.message)),
                    }
                    guard.0.iter().filter(|r| !r.findings.is_empty()).count() + guard.1.len()
                };
                progress(done.fetch_add(1, Ordering::SeqCst) + 1, total, failing);
            });
        }
    });
    let (mut reports, mut crashed) = results.into_inner().unwrap_or_else(|p| p.into_inner());
    reports.sort_by_key(|r| r.seed);
    crashed.sort();
    ReplicationOutcome {
        reports,
        crashed,
        wall: started.elapsed(),
    }
}

/// The text report: failing seeds with findings and replay command, then totals.
pub fn summary(outcome: &ReplicationOutcome, replay_args: &str) -> String {
    let mut out = String::new();
    for r in outcome.reports.iter().filter(|r| !r.findings.is_empty()) {
        let _ = writeln!(out, "FAIL seed {} ({} findings)", r.seed, r.findings.len());
        for f in r.findings.iter().take(5) {
            let _ = writeln!(out, "  {f}");
        }
        if r.findings.len() > 5 {
            let _ = writeln!(out, "  … and {} more", r.findings.len() - 5);
        }
        let _ = writeln!(
            out,
            "  replay: replisim sweep --seed {}{replay_args}",
            r.seed
        );
    }
    for (seed, message) in &outcome.crashed {
        let first = message.lines().next().unwrap_or("");
        let _ = writeln!(out, "CRASH seed {seed}: {first}");
        let _ = writeln!(out, "  replay: replisim sweep --seed {seed}{replay_args}");
    }
    let seeds = outcome.reports.len() + outcome.crashed.len();
    let _ = writeln!(
        out,
        "{seeds} seeds in {:.2} s, {} failing",
        outcome.wall.as_secs_f64(),
        outcome.failing()
    );
    let mut faults: BTreeMap<WanFault, usize> = BTreeMap::new();
    let mut findings: BTreeMap<ReplicationInvariant, usize> =
        ReplicationInvariant::ALL.iter().map(|i| (*i, 0)).collect();
    for r in &outcome.reports {
        for (k, n) in &r.faults {
            *faults.entry(*k).or_insert(0) += n;
        }
        for (k, n) in r.by_invariant() {
            *findings.entry(k).or_insert(0) += n;
        }
    }
    let list = |items: Vec<String>| {
        if items.is_empty() {
            "none".to_string()
        } else {
            items.join(", ")
        }
    };
    let faults = faults
        .iter()
        .map(|(k, n)| format!("{} {n}", k.name()))
        .collect();
    let _ = writeln!(out, "faults injected: {}", list(faults));
    let findings = findings.iter().map(|(k, n)| format!("{k} {n}")).collect();
    let _ = writeln!(out, "violations: {}", list(findings));
    let caught: Vec<&ReplicationReport> = outcome
        .reports
        .iter()
        .filter(|r| r.catch_up.is_some())
        .collect();
    if let Some(slowest) = caught.iter().max_by_key(|r| r.catch_up) {
        let mean = caught.iter().filter_map(|r| r.catch_up).sum::<Duration>() / caught.len() as u32;
        let tightest = caught
            .iter()
            .filter_map(|r| Some(r.catch_up?.as_secs_f64() / r.bound.as_secs_f64().max(1e-9)))
            .fold(0.0_f64, f64::max);
        let _ = writeln!(
            out,
            "catch-up after the heal: mean {:.1} s, max {:.1} s (seed {}, bound {:.1} s); at most {:.0}% of the bound",
            mean.as_secs_f64(),
            slowest.catch_up.unwrap_or_default().as_secs_f64(),
            slowest.seed,
            slowest.bound.as_secs_f64(),
            tightest * 100.0
        );
    }
    let objects: usize = outcome.reports.iter().map(|r| r.replicated).sum();
    let _ = writeln!(out, "objects held at the end, all seeds: {objects}");
    out
}

/// A progress line on stderr when it is a terminal, redrawn in place.
fn terminal_progress(done: u64, total: u64, failing: usize) {
    use std::io::Write as _;
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        let mut err = std::io::stderr();
        let end = if done == total { "\n" } else { "" };
        let _ = write!(err, "\r{done}/{total} seeds  {failing} failing {end}");
        let _ = err.flush();
    }
}

/// `replisim sweep --world replication|replication-both`.
pub fn command(args: &SweepArgs) -> ExitCode {
    let fail = |m: &str| {
        eprintln!("replisim: {m}");
        ExitCode::from(2)
    };
    let seeds = match (&args.seeds, args.seed) {
        (Some(range), None) => match crate::sweep::parse_seeds(range) {
            Ok(r) => r,
            Err(e) => return fail(&e),
        },
        (None, Some(seed)) => seed..seed + 1,
        _ => return fail("give --seeds A..B or --seed N"),
    };
    let mut config = match args.world.as_str() {
        "replication" => ReplicationSweepConfig::new(),
        "replication-both" => ReplicationSweepConfig::bidirectional(),
        other => {
            return fail(&format!(
                "unknown world `{other}`: scsp, replication or replication-both"
            ))
        }
    };
    config.faults = match WanFault::parse_list(&args.faults) {
        Ok(k) => k,
        Err(e) => return fail(&e),
    };
    for name in &args.defects {
        match name.parse::<ReplicatorDefect>() {
            Ok(d) => {
                config.spec.replicator.defects.insert(d);
            }
            Err(e) => return fail(&e),
        }
    }
    if !(1..=250).contains(&args.nodes) {
        return fail("--nodes must be between 1 and 250");
    }
    config.spec.a_nodes = args.nodes;
    config.spec.b_nodes = args.nodes;
    config.ops = args.ops;
    config.duration = Duration::from_secs(args.duration_secs.max(1));
    let mut replay = format!(
        " --world {} --faults {} --ops {} --duration-secs {} --nodes {}",
        args.world, args.faults, args.ops, args.duration_secs, args.nodes
    );
    for d in &args.defects {
        replay.push_str(&format!(" --defect {d}"));
    }
    println!(
        "replisim sweep --world {}: seeds {}..{}, {} jobs, faults {}, {} ops per writer, {} nodes per cluster",
        args.world,
        seeds.start,
        seeds.end,
        args.jobs.max(1),
        args.faults,
        args.ops,
        args.nodes
    );
    let outcome = run(seeds, args.jobs, &config, &terminal_progress);
    print!("{}", summary(&outcome, &replay));
    if outcome.failing() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
