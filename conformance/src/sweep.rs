//! `replisim sweep`: many seeds of the fault experiment in parallel, with progress, the
//! failing seeds and the command that replays each, and a summary.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use replisim_sim::faults::FaultKind;
use replisim_sim::invariants::Invariant;
use replisim_sim::sweep::{run_seed, SeedReport, SweepConfig};

/// Reports of finished seeds, and seeds whose simulation crashed with its message.
type Collected = (Vec<SeedReport>, Vec<(u64, String)>);

/// A finished sweep.
#[derive(Debug, Clone)]
pub struct SweepOutcome {
    /// One report per seed, in seed order (simulations that crashed are in `crashed`).
    pub reports: Vec<SeedReport>,
    /// Seeds whose simulation itself panicked, with the message.
    pub crashed: Vec<(u64, String)>,
    /// Wall time of the whole sweep.
    pub wall: Duration,
}

impl SweepOutcome {
    /// Seeds that broke an invariant or crashed.
    pub fn failing(&self) -> usize {
        self.reports
            .iter()
            .filter(|r| !r.violations.is_empty())
            .count()
            + self.crashed.len()
    }

    /// Seeds per wall second.
    pub fn seeds_per_second(&self) -> f64 {
        (self.reports.len() + self.crashed.len()) as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    /// Injected faults by kind, over all seeds.
    pub fn faults_by_kind(&self) -> BTreeMap<FaultKind, usize> {
        let mut out = BTreeMap::new();
        for r in &self.reports {
            for (k, n) in &r.faults {
                *out.entry(*k).or_insert(0) += n;
            }
        }
        out
    }

    /// Violations by invariant, over all seeds (every invariant listed, zeros included).
    pub fn violations_by_invariant(&self) -> BTreeMap<Invariant, usize> {
        let mut out: BTreeMap<Invariant, usize> = Invariant::ALL.iter().map(|i| (*i, 0)).collect();
        for r in &self.reports {
            for (k, n) in r.by_invariant() {
                *out.entry(k).or_insert(0) += n;
            }
        }
        out
    }
}

/// Runs `seeds` on `jobs` threads. `progress` is called after each seed with (done, total,
/// failing so far).
pub fn run(
    seeds: Range<u64>,
    jobs: usize,
    config: &SweepConfig,
    progress: &(dyn Fn(u64, u64, usize) + Sync),
) -> SweepOutcome {
    let started = Instant::now();
    let total = seeds.end.saturating_sub(seeds.start);
    let next = AtomicU64::new(seeds.start);
    let done = AtomicU64::new(0);
    let results: Mutex<Collected> = Mutex::new((Vec::new(), Vec::new()));
    let config = Arc::new(config.clone());
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| loop {
                let seed = next.fetch_add(1, Ordering::SeqCst);
                if seed >= seeds.end {
                    break;
                }
                let outcome = run_seed(seed, &config);
                let failing = {
                    let mut guard = results.lock().unwrap_or_else(|p| p.into_inner());
                    match outcome {
                        Ok(report) => guard.0.push(report),
                        Err(e) => guard.1.push((seed, e.message)),
                    }
                    guard.0.iter().filter(|r| !r.violations.is_empty()).count() + guard.1.len()
                };
                let finished = done.fetch_add(1, Ordering::SeqCst) + 1;
                progress(finished, total, failing);
            });
        }
    });
    let (mut reports, mut crashed) = results.into_inner().unwrap_or_else(|p| p.into_inner());
    reports.sort_by_key(|r| r.seed);
    crashed.sort();
    SweepOutcome {
        reports,
        crashed,
        wall: started.elapsed(),
    }
}

/// A progress line for a terminal, redrawn in place.
pub fn progress_line(done: u64, total: u64, failing: usize, elapsed: Duration) -> String {
    let width = 30usize;
    let filled = if total == 0 {
        width
    } else {
        (done as usize * width) / total as usize
    };
    let rate = done as f64 / elapsed.as_secs_f64().max(1e-9);
    format!(
        "\r[{}{}] {done}/{total} seeds  {failing} failing  {rate:.1} seeds/s ",
        "#".repeat(filled),
        "-".repeat(width - filled)
    )
}

/// Prints progress to stderr when it is a terminal.
pub fn terminal_progress(started: Instant) -> impl Fn(u64, u64, usize) + Sync {
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    move |done, total, failing| {
        if tty {
            let mut err = std::io::stderr();
            let _ = write!(
                err,
                "{}",
                progress_line(done, total, failing, started.elapsed())
            );
            if done == total {
                let _ = writeln!(err);
            }
            let _ = err.flush();
        }
    }
}

/// The text report: each failing seed with its violations and replay command, then totals.
pub fn summary(outcome: &SweepOutcome, replay_args: &str) -> String {
    let mut out = String::new();
    for r in outcome.reports.iter().filter(|r| !r.violations.is_empty()) {
        let _ = writeln!(
            out,
            "FAIL seed {} ({} violations)",
            r.seed,
            r.violations.len()
        );
        for v in r.violations.iter().take(5) {
            let _ = writeln!(out, "  {v}");
        }
        if r.violations.len() > 5 {
            let _ = writeln!(out, "  … and {} more", r.violations.len() - 5);
        }
        let _ = writeln!(
            out,
            "  replay: replisim sweep --seed {}{replay_args} --trace seed-{}.json",
            r.seed, r.seed
        );
    }
    for (seed, message) in &outcome.crashed {
        let _ = writeln!(
            out,
            "CRASH seed {seed}: {}",
            message.lines().next().unwrap_or("")
        );
        let _ = writeln!(out, "  replay: replisim sweep --seed {seed}{replay_args}");
    }
    let seeds = outcome.reports.len() + outcome.crashed.len();
    let simulated: Duration = outcome.reports.iter().map(|r| r.simulated).sum();
    let _ = writeln!(
        out,
        "{seeds} seeds in {:.2} s ({:.1} seeds/s, {:.0}× simulated/wall), {} failing",
        outcome.wall.as_secs_f64(),
        outcome.seeds_per_second(),
        simulated.as_secs_f64() / outcome.wall.as_secs_f64().max(1e-9),
        outcome.failing()
    );
    let faults: Vec<String> = outcome
        .faults_by_kind()
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    let _ = writeln!(
        out,
        "faults injected: {}",
        if faults.is_empty() {
            "none".to_string()
        } else {
            faults.join(", ")
        }
    );
    let violations: Vec<String> = outcome
        .violations_by_invariant()
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    let _ = writeln!(out, "violations: {}", violations.join(", "));
    out
}

/// Parses `A..B` (B exclusive) or a single `N`.
pub fn parse_seeds(s: &str) -> Result<Range<u64>, String> {
    let parse = |v: &str| {
        v.trim()
            .parse::<u64>()
            .map_err(|_| format!("`{v}` is not a seed number"))
    };
    match s.split_once("..") {
        Some((a, b)) => {
            let (a, b) = (parse(a)?, parse(b)?);
            if b <= a {
                return Err(format!("seed range {s} is empty: the end is exclusive"));
            }
            Ok(a..b)
        }
        None => {
            let n = parse(s)?;
            Ok(n..n + 1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_ranges_parse() {
        assert_eq!(parse_seeds("0..10"), Ok(0..10));
        assert_eq!(parse_seeds("7"), Ok(7..8));
        assert!(parse_seeds("5..5").unwrap_err().contains("empty"));
        assert!(parse_seeds("a..b").is_err());
    }

    #[test]
    fn progress_lines_fill_up() {
        let half = progress_line(5, 10, 1, Duration::from_secs(1));
        assert!(half.contains("5/10 seeds"));
        assert!(half.contains("1 failing"));
        assert!(half.contains(&"#".repeat(15)));
    }
}
