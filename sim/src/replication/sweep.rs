//! One seed of the replication sweep: a replication world, a client writing and deleting
//! named objects in A (and in B when bidirectional) while a seeded nemesis cuts and shapes
//! the WAN and crashes the replicator, the publisher and SCSP nodes; then every fault ends,
//! and the clusters must agree within the catch-up bound and stay quiet afterwards.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Method;

use crate::faults::Fault;
use crate::replication::check::{self, Finding, ReplicationInvariant};
use crate::replication::world::{ReplicationSpec, A, A_PUB, A_REP, B, B_PUB, B_REP};
use crate::replicator::scsp::send;
use crate::rt;
use crate::seeded::SeededRng;
use crate::store::SharedDisk;
use crate::trace::TraceEvent;
use crate::world::{try_simulate, SimulationFailed, World};

/// The fault kinds of the replication nemesis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WanFault {
    /// Every WAN link cut both ways.
    Partition,
    /// Answers from A's side to B's replicator held (requests still arrive): responses
    /// dropped mid-batch.
    DropAnswers,
    /// Sends lost (and resent after a timeout) on every WAN link.
    Loss,
    /// Extra latency on every WAN link.
    Latency,
    /// A replicator host crashes, then restarts.
    CrashReplicator,
    /// A publisher host crashes, then restarts.
    CrashPublisher,
    /// An SCSP node of A or B crashes, then restarts.
    CrashNode,
}

impl WanFault {
    /// Every kind.
    pub const ALL: [WanFault; 7] = [
        WanFault::Partition,
        WanFault::DropAnswers,
        WanFault::Loss,
        WanFault::Latency,
        WanFault::CrashReplicator,
        WanFault::CrashPublisher,
        WanFault::CrashNode,
    ];

    /// Name on the command line and in summaries.
    pub fn name(self) -> &'static str {
        match self {
            WanFault::Partition => "wan-partition",
            WanFault::DropAnswers => "drop-answers",
            WanFault::Loss => "wan-loss",
            WanFault::Latency => "wan-latency",
            WanFault::CrashReplicator => "crash-replicator",
            WanFault::CrashPublisher => "crash-publisher",
            WanFault::CrashNode => "crash-node",
        }
    }

    /// Reads `all`, `none` or a comma-separated list of names.
    pub fn parse_list(list: &str) -> Result<BTreeSet<WanFault>, String> {
        match list.trim() {
            "all" => return Ok(WanFault::ALL.into_iter().collect()),
            "none" | "" => return Ok(BTreeSet::new()),
            _ => {}
        }
        list.split(',')
            .map(|name| {
                let name = name.trim();
                WanFault::ALL
                    .into_iter()
                    .find(|k| k.name() == name)
                    .ok_or_else(|| {
                        let known: Vec<&str> = WanFault::ALL.iter().map(|k| k.name()).collect();
                        format!(
                            "unknown replication fault `{name}`; known: {}, all, none",
                            known.join(", ")
                        )
                    })
            })
            .collect()
    }
}

/// Everything that shapes one seed.
#[derive(Debug, Clone)]
pub struct ReplicationSweepConfig {
    /// The world.
    pub spec: ReplicationSpec,
    /// Writes and deletes per writing client.
    pub ops: usize,
    /// Distinct names per bucket.
    pub names: usize,
    /// How long the faults go on after the workload's last write (and at least from the
    /// start).
    pub duration: Duration,
    /// Fault kinds the nemesis draws from.
    pub faults: BTreeSet<WanFault>,
    /// The quiet window after agreement in which no new version may appear.
    pub quiet: Duration,
    /// Bound on the simulated time of one seed.
    pub time_limit: Duration,
    /// Keep the trace in the report.
    pub keep_trace: bool,
}

impl ReplicationSweepConfig {
    /// One-way replication on a `bucket=rep` channel, 60 operations, 60 s of faults of
    /// every kind.
    pub fn new() -> Self {
        let mut spec = ReplicationSpec::new();
        spec.rules =
            crate::publisher::rules::Rules::parse("channel Rep bucket=rep\n").unwrap_or_default();
        spec.replicator.channel = "Rep".into();
        Self {
            spec,
            ops: 60,
            names: 6,
            duration: Duration::from_secs(60),
            faults: WanFault::ALL.into_iter().collect(),
            quiet: Duration::from_secs(10),
            time_limit: Duration::from_secs(7200),
            keep_trace: false,
        }
    }

    /// Both directions on `PublishAll`.
    pub fn bidirectional() -> Self {
        let mut c = Self::new();
        c.spec.bidirectional = true;
        c.spec.rules = crate::publisher::rules::Rules::default();
        c.spec.replicator.channel = crate::publisher::rules::PUBLISH_ALL.into();
        c
    }
}

impl Default for ReplicationSweepConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// The catch-up bound (ARCHITECTURE.md, "Replication catch-up bound") for a world and a
/// number of journal events. After the heal: an exchange cut by the fault may hang for
/// one `request_timeout`, then one `retry_interval` (and one `restart_backoff` when the
/// session ended); the publisher sees the last write
/// within one poll and a replicator that found nothing asks again within one
/// `idle_interval`; a replicator whose session ended re-reads the whole journal, each
/// item costing at most seven exchanges (Next, GET from A and its redirect, HEAD of B,
/// POST to B and its redirect, a read-back), each at most four one-way WAN delays plus
/// 100 ms of processing. Parked items add one GET each per retry interval, which the
/// per-item cost covers because each was an event.
pub fn catch_up_bound(spec: &ReplicationSpec, events: usize) -> Duration {
    let r = &spec.replicator;
    let one_way_ms = spec.wan.shape.latency_max_ms.max(1) + 10;
    let exchange = Duration::from_millis(4 * one_way_ms + 100);
    let per_item = exchange * 7;
    r.request_timeout
        + r.retry_interval
        + r.restart_backoff
        + spec.publisher_poll
        + r.idle_interval
        + per_item * u32::try_from(events).unwrap_or(u32::MAX)
}

/// What one seed did and found.
#[derive(Debug, Clone)]
pub struct ReplicationReport {
    /// The seed.
    pub seed: u64,
    /// Broken invariants.
    pub findings: Vec<Finding>,
    /// Faults applied, by kind.
    pub faults: BTreeMap<WanFault, usize>,
    /// Writes and deletes the clients sent.
    pub ops: usize,
    /// How long after the heal the clusters agreed (None: never within the bound).
    pub catch_up: Option<Duration>,
    /// The bound it was judged against.
    pub bound: Duration,
    /// Live named objects B was expected to hold at the end (a run that replicated
    /// nothing proves nothing).
    pub replicated: usize,
    /// Simulated time of the whole run.
    pub simulated: Duration,
    /// Trace digest.
    pub digest: String,
    /// The trace, when asked for.
    pub trace: Vec<TraceEvent>,
}

impl ReplicationReport {
    /// Findings by invariant.
    pub fn by_invariant(&self) -> BTreeMap<ReplicationInvariant, usize> {
        let mut out = BTreeMap::new();
        for f in &self.findings {
            *out.entry(f.invariant).or_insert(0) += 1;
        }
        out
    }
}

/// The client's writes and deletes into `buckets` of one cluster. Returns how many it sent.
async fn workload(
    nodes: Vec<SocketAddr>,
    buckets: [&'static str; 2],
    seed: u64,
    ops: usize,
    names: usize,
) -> usize {
    let mut rng = SeededRng::new(seed);
    let timeout = Duration::from_secs(4);
    for bucket in buckets {
        for _ in 0..20 {
            let made = send(
                nodes[0],
                Method::POST,
                &format!("/{bucket}"),
                &[],
                Bytes::new(),
                timeout,
            )
            .await
            .is_ok_and(|a| a.status == 201 || a.status == 409);
            if made {
                break;
            }
            rt::sleep(Duration::from_millis(500)).await;
        }
    }
    let mut last: BTreeMap<String, std::time::Instant> = BTreeMap::new();
    let colours = ["red", "green", "blue"];
    for op in 0..ops {
        // Three of four operations go to the first bucket (the replicated one).
        let bucket = buckets[usize::from(rng.below(4) == 0)];
        let name = format!("/{bucket}/n{}", rng.below(names.max(1) as u64));
        if let Some(t) = last.get(&name) {
            // One update per name per 1.1 s: SCSP orders versions by the second.
            let gap = Duration::from_millis(1100);
            let since = rt::now().saturating_duration_since(*t);
            if since < gap {
                rt::sleep(gap - since).await;
            }
        }
        let node = nodes[rng.below(nodes.len() as u64) as usize];
        if rng.below(10) < 3 {
            let _ = send(node, Method::DELETE, &name, &[], Bytes::new(), timeout).await;
        } else {
            let mut headers = vec![(
                "x-color-meta".to_string(),
                colours[rng.below(3) as usize].to_string(),
            )];
            if rng.below(2) == 0 {
                headers.push(("content-type".into(), "text/plain".into()));
            }
            let body = Bytes::from(format!("{seed}:{op}:{}", rng.next_u64()));
            let _ = send(node, Method::POST, &name, &headers, body, timeout).await;
        }
        last.insert(name, rt::now());
        rt::sleep(Duration::from_millis(rng.below(300))).await;
    }
    ops
}

/// Applies a seeded schedule of faults, one at a time, for as long as the workload writes
/// (`writing`) and `duration` beyond its last write (and `duration` at least): the faults
/// overlap the whole write period and the replication of the last writes, so an item lost
/// there is not masked by a later write of the same name. Returns the counts.
async fn nemesis(
    world: &World,
    spec: &ReplicationSpec,
    kinds: &BTreeSet<WanFault>,
    seed: u64,
    duration: Duration,
    writing: &AtomicBool,
) -> BTreeMap<WanFault, usize> {
    let mut rng = SeededRng::new(seed ^ 0x5eed_fa17);
    let mut counts = BTreeMap::new();
    let kinds: Vec<WanFault> = kinds.iter().copied().collect();
    let start = rt::now();
    let host = |cluster: &str| world.cluster_hosts(cluster).map(|r| r.start);
    let crashable = |c: &str| world.cluster_hosts(c).map(|r| r.collect::<Vec<_>>());
    let mut writes_ended = None;
    while !kinds.is_empty() {
        if writes_ended.is_none() && !writing.load(Ordering::Relaxed) {
            writes_ended = Some(rt::now());
        }
        let tail_over =
            writes_ended.is_some_and(|t| rt::now().saturating_duration_since(t) >= duration);
        if tail_over && rt::now().saturating_duration_since(start) >= duration {
            break;
        }
        rt::sleep(Duration::from_millis(1000 + rng.below(4000))).await;
        let kind = kinds[rng.below(kinds.len() as u64) as usize];
        let hold = Duration::from_millis(2000 + rng.below(8000));
        let links = spec.wan_links();
        let (apply, repair): (Vec<Fault>, Vec<Fault>) = match kind {
            WanFault::Partition => (
                links
                    .iter()
                    .map(|(a, b)| Fault::PartitionWan {
                        a: a.to_string(),
                        b: b.to_string(),
                    })
                    .collect(),
                vec![Fault::Heal],
            ),
            WanFault::DropAnswers => {
                let mut cut = vec![(A_PUB, B_REP), (A, B_REP)];
                if spec.bidirectional {
                    cut.extend([(B_PUB, A_REP), (B, A_REP)]);
                }
                (
                    cut.into_iter()
                        .map(|(from, to)| Fault::PartitionWanOneWay {
                            from: from.into(),
                            to: to.into(),
                        })
                        .collect(),
                    vec![Fault::Heal],
                )
            }
            WanFault::Loss => {
                let permille = 200 + rng.below(400) as u32;
                let set = |p| {
                    links
                        .iter()
                        .map(|(a, b)| Fault::LinkLoss {
                            cluster: a.to_string(),
                            peer: Some(b.to_string()),
                            permille: p,
                        })
                        .collect()
                };
                (set(permille), set(spec.wan.shape.loss_permille))
            }
            WanFault::Latency => {
                let max = 200 + rng.below(800);
                let set = |min_ms, max_ms| {
                    links
                        .iter()
                        .map(|(a, b)| Fault::LinkLatency {
                            cluster: a.to_string(),
                            peer: Some(b.to_string()),
                            min_ms,
                            max_ms,
                        })
                        .collect()
                };
                (
                    set(max / 2, max),
                    set(spec.wan.shape.latency_min_ms, spec.wan.shape.latency_max_ms),
                )
            }
            WanFault::CrashReplicator | WanFault::CrashPublisher | WanFault::CrashNode => {
                let candidates: Vec<usize> = match kind {
                    WanFault::CrashReplicator => {
                        [B_REP, A_REP].iter().filter_map(|c| host(c)).collect()
                    }
                    WanFault::CrashPublisher => {
                        [A_PUB, B_PUB].iter().filter_map(|c| host(c)).collect()
                    }
                    _ => [A, B]
                        .iter()
                        .filter_map(|c| crashable(c))
                        .flatten()
                        .collect(),
                };
                let node = candidates[rng.below(candidates.len() as u64) as usize];
                (vec![Fault::Crash { node }], vec![Fault::Restart { node }])
            }
        };
        for f in &apply {
            let _ = world.apply(f);
        }
        *counts.entry(kind).or_insert(0) += 1;
        rt::sleep(hold).await;
        for f in &repair {
            let _ = world.apply(f);
        }
    }
    counts
}

fn disks_of(world: &World, cluster: &str) -> Vec<SharedDisk> {
    world.cluster_disks(cluster)
}

/// The findings now, and how many live objects B must hold.
fn judge(world: &World, spec: &ReplicationSpec) -> (Vec<Finding>, usize) {
    let a = check::newest_named(&disks_of(world, A));
    let b = check::newest_named(&disks_of(world, B));
    if spec.bidirectional {
        let live: BTreeSet<&String> = a
            .iter()
            .chain(b.iter())
            .filter(|(_, n)| n.live)
            .map(|(k, _)| k)
            .collect();
        (check::both_ways(&a, &b), live.len())
    } else {
        let wanted = a
            .iter()
            .filter(|(k, n)| {
                n.live && check::on_channel(&spec.rules, &spec.replicator.channel, k, n)
            })
            .count();
        (
            check::one_way(&a, &b, &spec.rules, &spec.replicator.channel),
            wanted,
        )
    }
}

/// Runs one seed. An `Err` means the simulation itself broke (a panic).
pub fn run_seed(
    seed: u64,
    config: &ReplicationSweepConfig,
) -> Result<ReplicationReport, SimulationFailed> {
    let config = config.clone();
    try_simulate(seed, config.time_limit, move || async move {
        let spec = config.spec.clone();
        // A seed's trace is reported only as its digest unless the run keeps it.
        let builder = spec.builder().keep_trace_events(config.keep_trace);
        let world = match builder.build() {
            Ok(w) => Arc::new(w),
            Err(e) => panic!("the replication world did not build: {e}"),
        };
        let begun = rt::now();
        let a_nodes = world.cluster_addrs(A).unwrap_or_default();
        let b_nodes = world.cluster_addrs(B).unwrap_or_default();
        let (ops, names) = (config.ops, config.names);
        let in_a = world.on_client_at(0, workload(a_nodes, ["rep", "other"], seed, ops, names));
        let in_b = async {
            if spec.bidirectional {
                world
                    .on_client_at(
                        1,
                        workload(b_nodes, ["rep-b", "other-b"], seed ^ 1, ops, names),
                    )
                    .await
            } else {
                0
            }
        };
        let writing = AtomicBool::new(true);
        let ((sent_a, sent_b), faults) = futures::join!(
            async {
                let sent = futures::join!(in_a, in_b);
                writing.store(false, Ordering::Relaxed);
                sent
            },
            nemesis(
                &world,
                &spec,
                &config.faults,
                seed,
                config.duration,
                &writing
            )
        );

        world.heal_all();
        let healed = rt::now();
        let events = sent_a + sent_b;
        let bound = catch_up_bound(&spec, events);
        let mut findings;
        let mut replicated;
        let catch_up = loop {
            rt::sleep(Duration::from_secs(1)).await;
            (findings, replicated) = judge(&world, &spec);
            let waited = rt::now().saturating_duration_since(healed);
            if findings.is_empty() {
                break Some(waited);
            }
            if waited > bound {
                break None;
            }
        };
        if catch_up.is_none() {
            findings.push(Finding {
                invariant: ReplicationInvariant::CatchUp,
                detail: format!("the clusters did not agree within {bound:?} of the heal"),
            });
        } else {
            let sides = |w: &World| {
                let mut disks = disks_of(w, A);
                disks.extend(disks_of(w, B));
                disks
            };
            let before = check::versions(&sides(&world));
            rt::sleep(config.quiet).await;
            let after = check::versions(&sides(&world));
            let new: Vec<_> = after.difference(&before).take(3).collect();
            if !new.is_empty() {
                findings.push(Finding {
                    invariant: ReplicationInvariant::Quiet,
                    detail: format!("new versions after the clusters agreed: {new:?}"),
                });
            }
        }
        for f in &findings {
            world.trace().record("checker", f.to_string());
        }
        ReplicationReport {
            seed,
            findings,
            faults,
            ops: events,
            catch_up,
            bound,
            replicated,
            simulated: rt::now().saturating_duration_since(begun),
            digest: world.trace().digest(),
            trace: if config.keep_trace {
                world.trace().events()
            } else {
                Vec::new()
            },
        }
    })
}
