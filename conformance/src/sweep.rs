//! `replisim sweep`: many seeds of a fault experiment in parallel. Each finished seed is
//! added into a [`SweepResult`] at once and then dropped, so a sweep's memory does not grow
//! with its seeds; the result can be sharded, checkpointed, resumed and merged
//! ([`result`]). Any world kind plugs in through [`SeedRunner`].

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use replisim_sim::faults::FaultKind;
use replisim_sim::invariants::Invariant;
use replisim_sim::sweep::{run_seed, SweepConfig};

pub mod progress;
pub mod result;

pub use progress::Progress;
pub use result::{merge, summary, CatchUp, FailingSeed, SeedSet, Shard, SweepResult, Tally};

/// What one seed of any world kind tells the sweep: only what is aggregated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeedSummary {
    /// Faults that took effect, by kind name.
    pub faults: BTreeMap<String, u64>,
    /// Broken invariants: (invariant name, the violation as text).
    pub violations: Vec<(String, String)>,
    /// Simulated time of the seed.
    pub simulated: Duration,
    /// The seed's trace digest (same seed, same digest).
    pub digest: String,
    /// How long the world took to catch up after its faults, and the bound it is held to
    /// (worlds that measure it: replication).
    pub catch_up: Option<(Duration, Duration)>,
}

impl SeedSummary {
    /// A summary from a seed report's fault counts and violations, whatever their types: the
    /// world kinds name faults and invariants with their own enums.
    pub fn from_report<F, I, V>(
        faults: impl IntoIterator<Item = (F, usize)>,
        violations: impl IntoIterator<Item = (I, V)>,
        simulated: Duration,
        digest: String,
    ) -> Self
    where
        F: std::fmt::Display,
        I: std::fmt::Display,
        V: std::fmt::Display,
    {
        Self {
            faults: faults
                .into_iter()
                .map(|(kind, n)| (kind.to_string(), n as u64))
                .collect(),
            violations: violations
                .into_iter()
                .map(|(invariant, v)| (invariant.to_string(), v.to_string()))
                .collect(),
            simulated,
            digest,
            catch_up: None,
        }
    }
}

/// A world kind a sweep can run: it names itself and its settings (what merged results
/// must share) and runs one seed. Implemented for the SCSP cluster by [`ScspSeeds`].
pub trait SeedRunner: Sync {
    /// The world kind, as written in result files (`scsp`).
    fn world(&self) -> &str;
    /// Flags that, after `replisim sweep --seed N`, replay one seed with these settings.
    fn replay_args(&self) -> String;
    /// Fault kind names, in display order.
    fn fault_kinds(&self) -> Vec<String>;
    /// Invariant names, in display order.
    fn invariants(&self) -> Vec<String>;
    /// Runs one seed; `Err` carries the message of a simulation that panicked (a bug).
    fn run_seed(&self, seed: u64) -> Result<SeedSummary, String>;
    /// Whether `replisim sweep --seed N --trace FILE` writes this world's timeline (the
    /// replay line of a failing seed offers `--trace` only then).
    fn traces(&self) -> bool {
        true
    }
}

/// The SCSP cluster under the nemesis: [`replisim_sim::sweep::run_seed`].
#[derive(Debug, Clone)]
pub struct ScspSeeds {
    /// The settings of every seed (`keep_trace` should be off: a sweep keeps no trace).
    pub config: SweepConfig,
    /// The flags that reproduce `config` on the command line.
    pub replay_args: String,
}

impl SeedRunner for ScspSeeds {
    fn world(&self) -> &str {
        "scsp"
    }

    fn replay_args(&self) -> String {
        self.replay_args.clone()
    }

    fn fault_kinds(&self) -> Vec<String> {
        FaultKind::ALL.iter().map(|k| k.to_string()).collect()
    }

    fn invariants(&self) -> Vec<String> {
        Invariant::ALL.iter().map(|i| i.to_string()).collect()
    }

    fn run_seed(&self, seed: u64) -> Result<SeedSummary, String> {
        let report = run_seed(seed, &self.config).map_err(|e| e.message)?;
        Ok(SeedSummary::from_report(
            report.faults.iter().map(|(k, n)| (k, *n)),
            report.violations.iter().map(|v| (v.invariant, v)),
            report.simulated,
            report.digest,
        ))
    }
}

/// How to run: which result to add to (a fresh one, or a checkpoint to resume), on how many
/// threads, and when to stop early.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The result the finished seeds are added to; its pending seeds are run in order.
    pub result: SweepResult,
    /// Seeds run at once.
    pub jobs: usize,
    /// Stop after this many seeds of this run (the result records which are done).
    pub stop_after: Option<u64>,
    /// Least wall time between two checkpoints.
    pub checkpoint_every: Duration,
}

impl Plan {
    /// A fresh sweep of `range` (or one shard of it) with `runner`.
    pub fn fresh(runner: &dyn SeedRunner, range: Range<u64>, shard: Option<Shard>) -> Self {
        Self {
            result: SweepResult::new(
                runner.world(),
                &runner.replay_args(),
                runner.fault_kinds(),
                runner.invariants(),
                range,
                shard,
            ),
            jobs: 1,
            stop_after: None,
            checkpoint_every: Duration::from_secs(5),
        }
    }
}

/// The seeds still to hand out: the pending ranges, consumed in order.
struct Dispenser {
    ranges: std::collections::VecDeque<Range<u64>>,
    left: u64,
}

impl Dispenser {
    fn next(&mut self) -> Option<u64> {
        if self.left == 0 {
            return None;
        }
        while let Some(r) = self.ranges.front_mut() {
            if let Some(seed) = r.next() {
                self.left -= 1;
                return Some(seed);
            }
            self.ranges.pop_front();
        }
        None
    }
}

/// The description of a failing seed, if it failed.
fn failure(
    seed: u64,
    outcome: &Result<SeedSummary, String>,
    replay_args: &str,
    traces: bool,
) -> Option<FailingSeed> {
    match outcome {
        Err(message) => Some(FailingSeed {
            seed,
            crash: Some(message.clone()),
            by_invariant: BTreeMap::new(),
            details: Vec::new(),
            replay: format!("replisim sweep --seed {seed}{replay_args}"),
        }),
        Ok(s) if s.violations.is_empty() => None,
        Ok(s) => {
            let mut by_invariant = BTreeMap::new();
            for (k, _) in &s.violations {
                *by_invariant.entry(k.clone()).or_insert(0) += 1;
            }
            Some(FailingSeed {
                seed,
                crash: None,
                by_invariant,
                details: s
                    .violations
                    .iter()
                    .take(result::DETAILS_KEPT)
                    .map(|(_, text)| text.clone())
                    .collect(),
                replay: if traces {
                    format!("replisim sweep --seed {seed}{replay_args} --trace seed-{seed}.json")
                } else {
                    format!("replisim sweep --seed {seed}{replay_args}")
                },
            })
        }
    }
}

/// Runs the plan's pending seeds on `jobs` threads, adding each into the result as it
/// finishes. `progress` is called after each seed; `checkpoint` with the result so far at
/// most every `checkpoint_every` (and not at the end: the caller has the final result).
pub fn run(
    runner: &dyn SeedRunner,
    plan: Plan,
    progress: &(dyn Fn(&Progress) + Sync),
    checkpoint: &(dyn Fn(&SweepResult) + Sync),
) -> SweepResult {
    let started = Instant::now();
    let pending = plan.result.pending();
    let pending_count: u64 = pending.iter().map(|r| r.end - r.start).sum();
    let total = plan
        .stop_after
        .map_or(pending_count, |n| n.min(pending_count));
    let earlier = plan.result.done.len();
    let base_timing = plan.result.timing;
    let replay_args = plan.result.replay_args.clone();
    let with_timing = |mut r: SweepResult, elapsed: Duration| {
        let secs = elapsed.as_secs_f64();
        r.timing.wall_secs = base_timing.wall_secs + secs;
        r.timing.longest_run_secs = base_timing.longest_run_secs.max(secs);
        r.timing.runs = base_timing.runs + 1;
        r
    };
    let dispenser = Mutex::new(Dispenser {
        ranges: pending.into_iter().collect(),
        left: total,
    });
    // The result and when it was last checkpointed.
    let state = Mutex::new((plan.result, Instant::now(), 0u64));
    std::thread::scope(|scope| {
        for _ in 0..plan.jobs.max(1) {
            scope.spawn(|| loop {
                let next = dispenser.lock().unwrap_or_else(|p| p.into_inner()).next();
                let Some(seed) = next else { break };
                let outcome = runner.run_seed(seed);
                let fail = failure(seed, &outcome, &replay_args, runner.traces());
                let (report, snapshot) = {
                    let mut guard = state.lock().unwrap_or_else(|p| p.into_inner());
                    let (result, last_checkpoint, done) = &mut *guard;
                    let (digest, faults, simulated) = match &outcome {
                        Ok(s) => (s.digest.as_str(), s.faults.clone(), s.simulated),
                        Err(_) => ("crashed", BTreeMap::new(), Duration::ZERO),
                    };
                    let ns = u64::try_from(simulated.as_nanos()).unwrap_or(u64::MAX);
                    result.tally.add_seed(seed, digest, &faults, fail, ns);
                    if let Some((took, bound)) = outcome.as_ref().ok().and_then(|s| s.catch_up) {
                        result
                            .tally
                            .add_catch_up(result::CatchUp::of(seed, took, bound));
                    }
                    result.done.insert(seed);
                    *done += 1;
                    let report = Progress {
                        done: *done,
                        total,
                        earlier,
                        failing: result.tally.failing,
                        elapsed: started.elapsed(),
                    };
                    let snapshot = (last_checkpoint.elapsed() >= plan.checkpoint_every
                        && *done < total)
                        .then(|| {
                            *last_checkpoint = Instant::now();
                            with_timing(result.clone(), started.elapsed())
                        });
                    (report, snapshot)
                };
                progress(&report);
                if let Some(snapshot) = snapshot {
                    checkpoint(&snapshot);
                }
            });
        }
    });
    let (result, _, _) = state.into_inner().unwrap_or_else(|p| p.into_inner());
    with_timing(result, started.elapsed())
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
            Ok(n..n.saturating_add(1))
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

    /// A world whose seeds are arithmetic: fails every seed divisible by 7, crashes 50.
    struct Arith;

    impl SeedRunner for Arith {
        fn world(&self) -> &str {
            "arith"
        }
        fn replay_args(&self) -> String {
            " --arith".into()
        }
        fn fault_kinds(&self) -> Vec<String> {
            vec!["odd".into()]
        }
        fn invariants(&self) -> Vec<String> {
            vec!["seven".into()]
        }
        fn run_seed(&self, seed: u64) -> Result<SeedSummary, String> {
            if seed == 50 {
                return Err("boom".into());
            }
            Ok(SeedSummary {
                faults: [("odd".to_string(), seed % 2)].into_iter().collect(),
                violations: if seed % 7 == 0 {
                    vec![("seven".into(), format!("seven: {seed}"))]
                } else {
                    Vec::new()
                },
                simulated: Duration::from_millis(seed),
                digest: format!("{:x}", seed * 31),
                catch_up: Some((Duration::from_millis(seed * 10), Duration::from_secs(2))),
            })
        }
    }

    #[test]
    fn stopped_and_resumed_shards_merge_to_the_whole_run() {
        let whole = run(&Arith, Plan::fresh(&Arith, 0..100, None), &|_| {}, &|_| {});
        assert!(whole.complete());
        assert_eq!(whole.tally.seeds, 100);
        assert_eq!(whole.tally.crashed, 1);
        assert_eq!(whole.tally.failing, 15 + 1);
        assert_eq!(whole.tally.faults.get("odd"), Some(&50));
        let catch_up = whole.tally.catch_up.expect("measured");
        assert_eq!(
            (catch_up.seeds, catch_up.max_ms, catch_up.max_seed),
            (99, 990, 99)
        );
        assert_eq!(catch_up.worst_permille, 495);
        assert_eq!(
            whole.tally.failures[0].replay,
            "replisim sweep --seed 0 --arith --trace seed-0.json"
        );
        let mut parts = Vec::new();
        for k in 0..3 {
            let shard = Some(Shard { index: k, count: 3 });
            let mut plan = Plan::fresh(&Arith, 0..100, shard);
            plan.jobs = 2;
            plan.stop_after = Some(10);
            let stopped = run(&Arith, plan.clone(), &|_| {}, &|_| {});
            assert_eq!(stopped.done.len(), 10);
            assert!(!stopped.complete());
            plan.result = stopped;
            plan.stop_after = None;
            let resumed = run(&Arith, plan, &|_| {}, &|_| {});
            assert!(resumed.complete());
            assert_eq!(resumed.timing.runs, 2);
            parts.push((format!("part{k}"), resumed));
        }
        let merged = merge(&parts).expect("merges");
        assert_eq!(merged.tally, whole.tally);
        assert_eq!(merged.done, whole.done);
        assert!(summary(&merged).contains("100 seeds in"));
    }
}
