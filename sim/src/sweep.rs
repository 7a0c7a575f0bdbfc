//! One seed of a fault experiment: a world, the standard workload under a seeded nemesis
//! (the safety phase), then healing and a bounded wait for the cluster to settle (the
//! liveness phase), then the invariants. `replisim sweep` runs this over many seeds.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Method;

use crate::faults::{Fault, FaultKind};
use crate::http::pool::Pool;
use crate::invariants::{self, FinalRead, Invariant, Violation};
use crate::nemesis::{self, NemesisConfig};
use crate::rt;
use crate::scsp::defects::Defect;
use crate::trace::TraceEvent;
use crate::workload::{self, History, OpKind, OpResult, WorkloadConfig, BUCKET};
use crate::world::{try_simulate, World, WorldConfig};

/// Everything that shapes one seed's run.
#[derive(Debug, Clone)]
pub struct SweepConfig {
    /// Nodes in the cluster.
    pub nodes: usize,
    /// The workload.
    pub workload: WorkloadConfig,
    /// The nemesis.
    pub nemesis: NemesisConfig,
    /// How long the cluster may take to settle after healing.
    pub convergence_max: Duration,
    /// Health processor interval.
    pub health_interval: Duration,
    /// Deliberate defects in every node.
    pub defects: BTreeSet<Defect>,
    /// Keep the full trace in the report (for `--trace`).
    pub keep_trace: bool,
}

impl SweepConfig {
    /// 4 nodes, the standard workload, every fault kind, 60 s to settle.
    pub fn new() -> Self {
        Self {
            nodes: 4,
            workload: WorkloadConfig::default(),
            nemesis: NemesisConfig::new(FaultKind::ALL.into_iter().collect()),
            convergence_max: Duration::from_secs(60),
            health_interval: Duration::from_secs(10),
            defects: BTreeSet::new(),
            keep_trace: false,
        }
    }

    /// Bound on the simulated time of one seed; past it the run is a failure. Derived from
    /// the workload and the fault phase, so every caller that changes them gets a bound that
    /// fits: room for the workload to outlast the faults, and for the liveness phase.
    pub fn time_limit(&self) -> Duration {
        let fault_secs = self.nemesis.duration.as_secs().max(1);
        Duration::from_secs(
            (fault_secs * 3).max(3600) + (self.workload.ops as u64).saturating_mul(2),
        )
    }
}

impl Default for SweepConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// What one seed did and found.
#[derive(Debug, Clone)]
pub struct SeedReport {
    /// The seed.
    pub seed: u64,
    /// Broken invariants (empty when the run was clean).
    pub violations: Vec<Violation>,
    /// Faults that took effect, by kind (repairs not counted).
    pub faults: BTreeMap<FaultKind, usize>,
    /// Operations the workload ran.
    pub ops: usize,
    /// Operations acknowledged.
    pub ops_acknowledged: usize,
    /// Simulated time the whole run took.
    pub simulated: Duration,
    /// The trace digest (same seed, same digest).
    pub digest: String,
    /// The trace, when asked for.
    pub trace: Vec<TraceEvent>,
    /// The workload's operations, when the trace was asked for.
    pub history: Vec<crate::workload::Op>,
}

impl SeedReport {
    /// Violation counts by invariant.
    pub fn by_invariant(&self) -> BTreeMap<Invariant, usize> {
        let mut out = BTreeMap::new();
        for v in &self.violations {
            *out.entry(v.invariant).or_insert(0) += 1;
        }
        out
    }
}

async fn final_read(
    pool: &Pool,
    addrs: &[std::net::SocketAddr],
    target: &str,
    timeout: Duration,
) -> FinalRead {
    let mut last = String::from("no node answered");
    // Any node may be the access node; try each before calling it a failure.
    for addr in addrs {
        match workload::send_following(pool, *addr, Method::GET, target, Bytes::new(), timeout)
            .await
        {
            Ok(a) if a.status == 200 => {
                return FinalRead::Found(crate::scsp::object::md5_hex(&a.body))
            }
            Ok(a) if a.status == 404 => return FinalRead::Missing,
            Ok(a) => last = format!("status {}", a.status),
            Err(e) => last = e,
        }
    }
    FinalRead::Failed(last)
}

/// Runs one seed. An `Err` means the simulation itself broke (a panic), which is a bug.
pub fn run_seed(
    seed: u64,
    config: &SweepConfig,
) -> Result<SeedReport, crate::world::SimulationFailed> {
    let config = config.clone();
    try_simulate(seed, config.time_limit(), move || async move {
        let mut world_config = WorldConfig::new(config.nodes);
        world_config.defects = config.defects.clone();
        world_config.health_interval = config.health_interval;
        // A seed's trace is reported only as its digest unless the run keeps it.
        let world = Arc::new(World::start_with_trace(world_config, config.keep_trace));
        let addrs = world.addrs();
        let start = rt::now();
        rt::sleep(Duration::from_millis(10)).await;

        let prepared = {
            let (addrs, wc) = (addrs.clone(), config.workload.clone());
            world
                .on_client(async move { workload::prepare(&addrs, &wc).await })
                .await
        };
        let mut violations = Vec::new();
        if let Err(e) = prepared {
            violations.push(Violation {
                invariant: Invariant::Convergence,
                detail: e,
            });
        }

        // Safety phase: workload and nemesis together.
        let schedule = nemesis::schedule(seed, config.nodes, &config.nemesis);
        let workload_task = {
            let (addrs, wc) = (addrs.clone(), config.workload.clone());
            let origin = world.started();
            world.on_client(async move { workload::run(&addrs, seed, &wc, origin).await })
        };
        let (history, applied): (History, Vec<Fault>) =
            futures::join!(workload_task, nemesis::run(&world, &schedule));

        // Liveness phase: every fault ends; the cluster must settle within the bound.
        world.heal_all();
        let healed = rt::now();
        loop {
            rt::sleep(config.health_interval).await;
            let settled =
                invariants::settled(world.cluster(), &world_disks(&world), &world.rotted());
            if settled || rt::now().saturating_duration_since(healed) >= config.convergence_max {
                break;
            }
        }
        let finals_named: BTreeMap<String, FinalRead> = {
            let addrs = addrs.clone();
            let names = config.workload.names;
            let timeout = config.workload.request_timeout;
            world
                .on_client(async move {
                    let pool = Pool::new();
                    let mut out = BTreeMap::new();
                    for i in 0..names {
                        let name = format!("n{i}");
                        let seen =
                            final_read(&pool, &addrs, &format!("/{BUCKET}/{name}"), timeout).await;
                        out.insert(name, seen);
                    }
                    out
                })
                .await
        };
        let uuids: Vec<String> = history
            .ops
            .iter()
            .filter_map(|op| match (&op.kind, &op.result) {
                (OpKind::WriteUnnamed { .. }, OpResult::Done { uuid: Some(u), .. }) => {
                    Some(u.clone())
                }
                _ => None,
            })
            .collect();
        let finals_unnamed: BTreeMap<String, FinalRead> = {
            let addrs = addrs.clone();
            let timeout = config.workload.request_timeout;
            world
                .on_client(async move {
                    let pool = Pool::new();
                    let mut out = BTreeMap::new();
                    for uuid in uuids {
                        let seen = final_read(&pool, &addrs, &format!("/{uuid}"), timeout).await;
                        out.insert(uuid, seen);
                    }
                    out
                })
                .await
        };
        violations.extend(invariants::check_named(&history, &finals_named));
        violations.extend(invariants::check_unnamed(&history, &finals_unnamed));
        violations.extend(invariants::check_disks(
            world.cluster(),
            &world_disks(&world),
        ));
        let clock_faults = applied.iter().any(|f| f.kind() == FaultKind::Clock);
        if !clock_faults {
            violations.extend(invariants::check_order(
                &history,
                config.workload.update_gap.min(Duration::from_secs(1)),
            ));
        }
        let mut faults = BTreeMap::new();
        for f in applied.iter().filter(|f| !f.is_repair()) {
            *faults.entry(f.kind()).or_insert(0) += 1;
        }
        for v in &violations {
            world.trace().record("checker", v.to_string());
        }
        SeedReport {
            seed,
            ops: history.ops.len(),
            ops_acknowledged: history
                .ops
                .iter()
                .filter(|o| matches!(o.result, OpResult::Done { .. }))
                .count(),
            violations,
            faults,
            simulated: rt::now().saturating_duration_since(start),
            digest: world.trace().digest(),
            trace: if config.keep_trace {
                world.trace().events()
            } else {
                Vec::new()
            },
            history: if config.keep_trace {
                history.ops.clone()
            } else {
                Vec::new()
            },
        }
    })
}

fn world_disks(world: &World) -> Vec<crate::store::SharedDisk> {
    (0..world.len()).map(|i| world.disk(i).clone()).collect()
}
