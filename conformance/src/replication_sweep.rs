//! `replisim sweep --world replication|replication-both`: the replication experiment
//! (`replisim_sim::replication::sweep`) as a [`SeedRunner`], so it gets what every sweep
//! has (`crate::sweep`): shards, checkpoints and resume, progress, flat memory, merge. Its
//! catch-up times go into the result's tally and summary; a seed that neither ends nor
//! fails within a wall-clock limit is reported as a crashed seed with its replay command
//! instead of hanging the sweep.

use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use replisim_sim::publisher::defects::PublisherDefect;
use replisim_sim::replication::check::ReplicationInvariant;
use replisim_sim::replication::sweep::{
    run_seed, ReplicationReport, ReplicationSweepConfig, WanFault,
};
use replisim_sim::replicator::ReplicatorDefect;

use crate::cli::SweepArgs;
use crate::sweep::{SeedRunner, SeedSummary};

/// Wall time one seed may take before it counts as hung (a seed takes about a second).
pub const SEED_WALL_LIMIT: Duration = Duration::from_secs(600);

/// The replication worlds' seeds.
#[derive(Debug, Clone)]
pub struct ReplicationSeeds {
    /// `replication` or `replication-both`.
    pub world: String,
    /// The settings of every seed.
    pub config: ReplicationSweepConfig,
    /// The flags that reproduce `config` on the command line (after `--seed N`).
    pub replay_args: String,
    /// Wall time after which a seed is given up as hung.
    pub wall_limit: Duration,
}

impl ReplicationSeeds {
    /// The runner for `world` with its default settings and no replay flags.
    pub fn new(world: &str) -> Result<Self, String> {
        let config = match world {
            "replication" => ReplicationSweepConfig::new(),
            "replication-both" => ReplicationSweepConfig::bidirectional(),
            other => {
                return Err(format!(
                    "unknown world `{other}`: scsp, replication or replication-both"
                ))
            }
        };
        Ok(Self {
            world: world.to_string(),
            config,
            replay_args: format!(" --world {world}"),
            wall_limit: SEED_WALL_LIMIT,
        })
    }
}

/// What the sweep keeps of one seed's report.
pub fn summary_of(report: &ReplicationReport) -> SeedSummary {
    SeedSummary {
        catch_up: report.catch_up.map(|took| (took, report.bound)),
        ..SeedSummary::from_report(
            report.faults.iter().map(|(k, n)| (k.name(), *n)),
            report.findings.iter().map(|f| (f.invariant, f)),
            report.simulated,
            report.digest.clone(),
        )
    }
}

/// Runs `work` on a thread of its own and waits at most `limit` for it. A result that does
/// not come in time is an `Err` naming the limit; the thread is left behind (a thread
/// cannot be stopped from outside), which costs one core for the rest of the sweep but
/// never its end.
pub fn with_wall_limit<T, F>(limit: Duration, work: F) -> Result<T, String>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .spawn(move || {
            let _ = tx.send(work());
        })
        .map_err(|e| format!("could not start a thread for the seed: {e}"))?;
    match rx.recv_timeout(limit) {
        Ok(value) => Ok(value),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(format!(
            "no result after {} s of wall time (a deadlock or a livelock in the simulation)",
            limit.as_secs_f64()
        )),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Err("the seed's thread ended without a result".to_string())
        }
    }
}

impl SeedRunner for ReplicationSeeds {
    fn world(&self) -> &str {
        &self.world
    }

    fn replay_args(&self) -> String {
        self.replay_args.clone()
    }

    fn fault_kinds(&self) -> Vec<String> {
        WanFault::ALL.iter().map(|k| k.name().to_string()).collect()
    }

    fn invariants(&self) -> Vec<String> {
        ReplicationInvariant::ALL
            .iter()
            .map(|i| i.to_string())
            .collect()
    }

    fn traces(&self) -> bool {
        // `--trace` writes the SCSP world's timeline only.
        false
    }

    fn run_seed(&self, seed: u64) -> Result<SeedSummary, String> {
        let config = self.config.clone();
        match with_wall_limit(self.wall_limit, move || run_seed(seed, &config))? {
            Ok(report) => Ok(summary_of(&report)),
            Err(failed) => Err(failed.message),
        }
    }
}

/// The runner the flags describe.
pub fn runner(args: &SweepArgs) -> Result<ReplicationSeeds, String> {
    let mut runner = ReplicationSeeds::new(&args.world)?;
    let config = &mut runner.config;
    config.faults = WanFault::parse_list(&args.faults)?;
    for name in &args.defects {
        // A replicator defect, or one of the publisher's (its watcher's, in practice).
        match name.parse::<ReplicatorDefect>() {
            Ok(d) => {
                config.spec.replicator.defects.insert(d);
            }
            Err(replicator) => match name.parse::<PublisherDefect>() {
                Ok(d) => {
                    config.spec.publisher_defects.insert(d);
                }
                Err(_) => return Err(replicator),
            },
        }
    }
    if !(1..=250).contains(&args.nodes) {
        return Err("--nodes must be between 1 and 250".into());
    }
    config.spec.a_nodes = args.nodes;
    config.spec.b_nodes = args.nodes;
    config.ops = args.ops;
    config.duration = Duration::from_secs(args.duration_secs.max(1));
    runner.replay_args = format!(
        " --world {} --faults {} --ops {} --duration-secs {} --nodes {}",
        args.world, args.faults, args.ops, args.duration_secs, args.nodes
    );
    for d in &args.defects {
        runner.replay_args.push_str(&format!(" --defect {d}"));
    }
    Ok(runner)
}

/// `replisim sweep --world replication|replication-both`.
pub fn command(args: &SweepArgs) -> ExitCode {
    let fail = |m: &str| {
        eprintln!("replisim: {m}");
        ExitCode::from(2)
    };
    let seeds = match args.seed_range() {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    match runner(args) {
        Ok(runner) => crate::cli::run_sweep(args, seeds, &runner),
        Err(e) => fail(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hung_seed_is_an_error_after_the_limit_and_a_quick_one_is_not() {
        assert_eq!(with_wall_limit(Duration::from_secs(60), || 7), Ok(7));
        let (keep, never) = mpsc::channel::<()>();
        let hung = with_wall_limit(Duration::from_millis(100), move || {
            let _keep = keep;
            // Waits on a channel whose sender it holds itself: it can never be answered.
            never.recv().ok()
        });
        assert!(hung.unwrap_err().contains("wall time"));
    }

    #[test]
    fn unknown_worlds_are_refused() {
        assert!(ReplicationSeeds::new("mars")
            .unwrap_err()
            .contains("unknown world `mars`"));
        let both = ReplicationSeeds::new("replication-both").expect("known");
        assert!(both.config.spec.bidirectional);
        assert_eq!(both.fault_kinds().len(), WanFault::ALL.len());
    }
}
