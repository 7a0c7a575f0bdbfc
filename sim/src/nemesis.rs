//! The nemesis: a seeded generator of fault schedules. A schedule is plain data (when, what),
//! so it can be printed, stored, edited and replayed; `run` applies one to a world.
//!
//! Every fault the generator starts it also ends (crash → restart, partition → heal, …)
//! within `fault_ms_max`, unless the safety phase ends first; then `World::heal_all` ends it.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::faults::{Fault, FaultKind};
use crate::rt;
use crate::seeded::SeededRng;
use crate::world::World;

/// The nemesis knobs.
#[derive(Debug, Clone, PartialEq)]
pub struct NemesisConfig {
    /// Fault kinds it may inject.
    pub kinds: BTreeSet<FaultKind>,
    /// Faults started per simulated minute (on average).
    pub faults_per_minute: f64,
    /// Faults active at once, at most.
    pub concurrent_max: usize,
    /// How long one fault lasts, at most (at least a tenth of it).
    pub fault_ms_max: u64,
    /// Length of the safety phase, during which faults are injected.
    pub duration: Duration,
}

impl NemesisConfig {
    /// Every fault kind, 6 per minute, 2 at once, each up to 15 s, for 60 s.
    pub fn new(kinds: BTreeSet<FaultKind>) -> Self {
        Self {
            kinds,
            faults_per_minute: 6.0,
            concurrent_max: 2,
            fault_ms_max: 15_000,
            duration: Duration::from_secs(60),
        }
    }

    /// Scales the rate by `intensity` (1.0 = the default rate).
    pub fn with_intensity(mut self, intensity: f64) -> Self {
        self.faults_per_minute *= intensity.max(0.0);
        self
    }
}

/// One scheduled action.
#[derive(Debug, Clone, PartialEq)]
pub struct Scheduled {
    /// When, from the start of the run.
    pub at: Duration,
    /// What.
    pub fault: Fault,
}

/// An active fault: which node it holds (if any) and when it ends.
struct Active {
    node: Option<usize>,
    partition: bool,
    ends_ms: u64,
}

/// Generates a schedule for `nodes` nodes; a pure function of its arguments.
pub fn schedule(seed: u64, nodes: usize, config: &NemesisConfig) -> Vec<Scheduled> {
    let mut rng = SeededRng::new(seed ^ 0x4E45_4D45_5349_5321);
    let kinds: Vec<FaultKind> = config.kinds.iter().copied().collect();
    let mut out = Vec::new();
    if kinds.is_empty() || nodes == 0 || config.faults_per_minute <= 0.0 {
        return out;
    }
    let mean_gap_ms = (60_000.0 / config.faults_per_minute).max(1.0) as u64;
    let end_ms = config.duration.as_millis() as u64;
    let fault_ms_max = config.fault_ms_max.max(10);
    let mut active: Vec<Active> = Vec::new();
    let mut now_ms = 0u64;
    loop {
        now_ms += mean_gap_ms / 2 + rng.below(mean_gap_ms.max(1));
        if now_ms >= end_ms {
            break;
        }
        active.retain(|a| a.ends_ms > now_ms);
        if active.len() >= config.concurrent_max.max(1) {
            continue;
        }
        let kind = kinds[rng.below(kinds.len() as u64) as usize];
        let busy: BTreeSet<usize> = active.iter().filter_map(|a| a.node).collect();
        let free: Vec<usize> = (0..nodes).filter(|n| !busy.contains(n)).collect();
        let lasts_ms = fault_ms_max / 10 + rng.below(fault_ms_max - fault_ms_max / 10);
        let ends_ms = now_ms + lasts_ms;
        let at = Duration::from_millis(now_ms);
        let until = Duration::from_millis(ends_ms);
        let mut push = |at: Duration, fault: Fault| out.push(Scheduled { at, fault });
        let pick = |rng: &mut SeededRng| -> Option<usize> {
            (!free.is_empty()).then(|| free[rng.below(free.len() as u64) as usize])
        };
        match kind {
            FaultKind::Crash | FaultKind::Pause | FaultKind::DiskFull | FaultKind::Clock => {
                let Some(node) = pick(&mut rng) else { continue };
                let (start, stop) = match kind {
                    FaultKind::Crash => (Fault::Crash { node }, Fault::Restart { node }),
                    FaultKind::Pause => (Fault::Pause { node }, Fault::Resume { node }),
                    FaultKind::DiskFull => (Fault::DiskFull { node }, Fault::DiskFree { node }),
                    _ => {
                        let ms = rng.below(20_001) as i64 - 10_000;
                        (Fault::Skew { node, ms }, Fault::Skew { node, ms: 0 })
                    }
                };
                push(at, start);
                push(until, stop);
                active.push(Active {
                    node: Some(node),
                    partition: false,
                    ends_ms,
                });
            }
            FaultKind::Partition => {
                if active.iter().any(|a| a.partition) {
                    continue;
                }
                let fault = match rng.below(3) {
                    0 => Fault::Isolate {
                        node: rng.below(nodes as u64) as usize,
                    },
                    1 if nodes >= 2 => {
                        let from = rng.below(nodes as u64) as usize;
                        let to = (from + 1 + rng.below(nodes as u64 - 1) as usize) % nodes;
                        Fault::PartitionOneWay { from, to }
                    }
                    _ => {
                        let mut group = Vec::new();
                        for n in 0..nodes {
                            if rng.below(2) == 0 {
                                group.push(n);
                            }
                        }
                        if group.is_empty() || group.len() == nodes {
                            group = vec![0];
                        }
                        Fault::Partition {
                            groups: vec![group],
                        }
                    }
                };
                push(at, fault);
                push(until, Fault::Heal);
                active.push(Active {
                    node: None,
                    partition: true,
                    ends_ms,
                });
            }
            FaultKind::Loss => {
                let permille = 50 + rng.below(250) as u32;
                push(at, Fault::Loss { permille });
                push(until, Fault::Loss { permille: 0 });
                active.push(Active {
                    node: None,
                    partition: false,
                    ends_ms,
                });
            }
            FaultKind::Latency => {
                let max_ms = 20 + rng.below(480);
                push(at, Fault::Latency { min_ms: 1, max_ms });
                push(
                    until,
                    Fault::Latency {
                        min_ms: 1,
                        max_ms: 10,
                    },
                );
                active.push(Active {
                    node: None,
                    partition: false,
                    ends_ms,
                });
            }
            FaultKind::BitRot => {
                let Some(node) = pick(&mut rng) else { continue };
                push(at, Fault::BitRot { node, key: None });
            }
            FaultKind::Lose => {
                let Some(node) = pick(&mut rng) else { continue };
                push(at, Fault::Lose { node });
                active.push(Active {
                    node: Some(node),
                    partition: false,
                    ends_ms,
                });
            }
        }
    }
    out.retain(|s| s.at < config.duration);
    out.sort_by_key(|s| s.at);
    out
}

/// Applies a schedule to a world, each action at its time relative to this call, and
/// returns the faults that took effect. Runs until the last action.
pub async fn run(world: &World, schedule: &[Scheduled]) -> Vec<Fault> {
    run_from(world, schedule, rt::now()).await
}

/// Applies a schedule whose times count from the world's start (absolute simulated times).
/// Actions whose time has already passed are applied at once, in order.
pub async fn run_absolute(world: &World, schedule: &[Scheduled]) -> Vec<Fault> {
    run_from(world, schedule, world.started()).await
}

async fn run_from(world: &World, schedule: &[Scheduled], origin: Instant) -> Vec<Fault> {
    let mut applied = Vec::new();
    for item in schedule {
        let elapsed = rt::now().saturating_duration_since(origin);
        if item.at > elapsed {
            rt::sleep(item.at - elapsed).await;
        }
        if world.apply(&item.fault).is_ok() {
            applied.push(item.fault.clone());
        }
    }
    applied
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_are_pure_and_respect_the_knobs() {
        let config = NemesisConfig::new(FaultKind::ALL.into_iter().collect()).with_intensity(4.0);
        let a = schedule(9, 4, &config);
        assert_eq!(a, schedule(9, 4, &config));
        assert_ne!(a, schedule(10, 4, &config));
        assert!(a.len() > 10, "24 faults a minute for a minute: {}", a.len());
        assert!(a.windows(2).all(|w| w[0].at <= w[1].at));
        assert!(a.iter().all(|s| s.at < config.duration));
        let kinds: BTreeSet<FaultKind> = a.iter().map(|s| s.fault.kind()).collect();
        assert!(
            kinds.len() >= 5,
            "a minute of faults covers most kinds: {kinds:?}"
        );
    }

    #[test]
    fn only_chosen_kinds_appear() {
        let config = NemesisConfig::new(BTreeSet::from([FaultKind::Crash])).with_intensity(5.0);
        let s = schedule(1, 3, &config);
        assert!(!s.is_empty());
        assert!(s.iter().all(|x| x.fault.kind() == FaultKind::Crash));
        let none = NemesisConfig::new(BTreeSet::new());
        assert!(schedule(1, 3, &none).is_empty());
    }

    #[test]
    fn a_node_carries_one_node_fault_at_a_time() {
        let config = NemesisConfig {
            concurrent_max: 4,
            ..NemesisConfig::new(BTreeSet::from([FaultKind::Crash])).with_intensity(20.0)
        };
        let s = schedule(3, 2, &config);
        let mut down = BTreeSet::new();
        for item in &s {
            match item.fault {
                Fault::Crash { node } => assert!(down.insert(node), "node {node} crashed twice"),
                Fault::Restart { node } => assert!(down.remove(&node)),
                _ => {}
            }
        }
    }
}
