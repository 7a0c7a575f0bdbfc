//! The simulated world: N reference nodes and a client node inside one madsim runtime,
//! each node with a disk that survives restarts, operator controls, and one shared trace.
//!
//! ```no_run
//! use replisim_sim::world::{simulate, World, WorldConfig};
//! let digest = simulate(7, || async {
//!     let world = World::start(WorldConfig::new(4));
//!     world.on_client(async { /* talk HTTP to world.addrs() */ }).await;
//!     world.trace().digest()
//! });
//! ```

use std::collections::BTreeSet;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::faults::Fault;
use crate::http::pool::Pool;
use crate::scsp::object::md5_hex;

use crate::scsp::clock::NodeClock;
use crate::scsp::config::{ClusterConfig, NodeContext, NodeControl};
use crate::scsp::defects::Defect;
use crate::scsp::server;
use crate::store::{Disk, SharedDisk};
use crate::trace::Trace;

/// The shape of a simulated cluster. Every field has a documented default.
#[derive(Debug, Clone)]
pub struct WorldConfig {
    /// Number of storage nodes.
    pub nodes: usize,
    /// Disk size of each node.
    pub disk_bytes: u64,
    /// Replicas per object (`policy.replicas`).
    pub policy_replicas: usize,
    /// How often each node's health processor runs.
    pub health_interval: Duration,
    /// Deliberate defects in every node.
    pub defects: BTreeSet<Defect>,
    /// Other choices of every node (docs/choices.md; all off by default).
    pub alternatives: crate::scsp::alternatives::Alternatives,
}

impl WorldConfig {
    /// `nodes` nodes with 1 GiB disks, 2 replicas, a 10 s health interval, no defects.
    pub fn new(nodes: usize) -> Self {
        Self {
            nodes,
            disk_bytes: 1 << 30,
            policy_replicas: 2,
            health_interval: Duration::from_secs(10),
            defects: BTreeSet::new(),
            alternatives: Default::default(),
        }
    }
}

/// The port every simulated node listens on.
pub const NODE_PORT: u16 = 80;

/// The simulated address of node `i` (0-based): 10.0.0.(i+1):80.
pub fn node_addr(i: usize) -> SocketAddr {
    SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, (i + 1) as u8)),
        NODE_PORT,
    )
}

/// The client node's address.
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 1);

/// A running simulated cluster. Create it inside [`simulate`].
pub struct World {
    cluster: Arc<ClusterConfig>,
    node_ids: Vec<madsim::task::NodeId>,
    disks: Vec<SharedDisk>,
    controls: Vec<Arc<NodeControl>>,
    clocks: Vec<NodeClock>,
    client: madsim::runtime::NodeHandle,
    trace: Trace,
    disk_bytes: u64,
    clogged: Mutex<BTreeSet<(usize, usize)>>,
    down: Mutex<BTreeSet<usize>>,
    paused: Mutex<BTreeSet<usize>>,
    started: std::time::Instant,
    rotted: Mutex<Vec<(usize, String)>>,
}

fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl World {
    /// Builds and starts the cluster. Must run inside a madsim runtime.
    pub fn start(config: WorldConfig) -> World {
        assert!(
            (1..=250).contains(&config.nodes),
            "a world has 1..=250 nodes"
        );
        let handle = madsim::runtime::Handle::current();
        let trace = Trace::new();
        let mut cluster = ClusterConfig::new((0..config.nodes).map(node_addr).collect());
        cluster.placement_seed = handle.seed();
        cluster.policy_replicas = config.policy_replicas;
        cluster.health_interval = config.health_interval;
        cluster.defects = config.defects.clone();
        cluster.set_alternatives(config.alternatives);
        let cluster = Arc::new(cluster);

        let mut world = World {
            cluster: cluster.clone(),
            node_ids: Vec::new(),
            disks: Vec::new(),
            controls: Vec::new(),
            clocks: Vec::new(),
            client: handle
                .create_node()
                .name("client")
                .ip(IpAddr::V4(CLIENT_IP))
                .build(),
            trace: trace.clone(),
            disk_bytes: config.disk_bytes,
            clogged: Mutex::new(BTreeSet::new()),
            down: Mutex::new(BTreeSet::new()),
            paused: Mutex::new(BTreeSet::new()),
            started: crate::rt::now(),
            rotted: Mutex::new(Vec::new()),
        };
        for id in 0..config.nodes {
            let ctx = NodeContext::new(id, cluster.clone(), config.disk_bytes, trace.clone());
            world.disks.push(ctx.disk.clone());
            world.controls.push(ctx.control.clone());
            world.clocks.push(ctx.clock.clone());
            let node = handle
                .create_node()
                .name(format!("node{}", id + 1))
                .ip(node_addr(id).ip())
                .init(move || {
                    // A restarted node has no connections left: a new pool per incarnation.
                    let ctx = NodeContext {
                        pool: Arc::new(Pool::idempotent()),
                        ..ctx.clone()
                    };
                    async move {
                        if let Err(e) = server::run(ctx.clone()).await {
                            ctx.trace(format!("server stopped: {e}"));
                        }
                    }
                })
                .build();
            world.node_ids.push(node.id());
        }
        trace.record("world", format!("started {} nodes", config.nodes));
        world
    }

    /// When the world started (simulated time): the origin of absolute fault times.
    pub fn started(&self) -> std::time::Instant {
        self.started
    }

    /// Node addresses, in id order.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.cluster.nodes.clone()
    }

    /// The cluster settings every node shares.
    pub fn cluster(&self) -> &ClusterConfig {
        &self.cluster
    }

    /// The shared trace.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// Node `i`'s disk.
    pub fn disk(&self, i: usize) -> &SharedDisk {
        &self.disks[i]
    }

    /// Node `i`'s clock (to skew it).
    pub fn clock(&self, i: usize) -> &NodeClock {
        &self.clocks[i]
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.node_ids.len()
    }

    /// True for a world of no nodes (never: `start` refuses it).
    pub fn is_empty(&self) -> bool {
        self.node_ids.is_empty()
    }

    /// Stops node `i` at once: its tasks and connections die; its disk stays as it is.
    pub fn kill(&self, i: usize) {
        self.trace.record("world", format!("kill node{}", i + 1));
        madsim::runtime::Handle::current().kill(self.node_ids[i]);
        locked(&self.down).insert(i);
    }

    /// Starts node `i` again from its disk.
    pub fn restart(&self, i: usize) {
        self.trace.record("world", format!("restart node{}", i + 1));
        madsim::runtime::Handle::current().restart(self.node_ids[i]);
        locked(&self.down).remove(&i);
        locked(&self.paused).remove(&i);
    }

    /// Ends every fault at once (the start of a liveness phase): heals partitions, ends
    /// loss and latency changes, frees full disks, resumes paused nodes and restarts stopped
    /// ones. Clock skews stay: a node's clock is its own.
    pub fn heal_all(&self) {
        let _ = self.apply(&Fault::Heal);
        let _ = self.apply(&Fault::Loss { permille: 0 });
        let _ = self.apply(&Fault::Latency {
            min_ms: 1,
            max_ms: 10,
        });
        for i in 0..self.len() {
            if Disk::lock(&self.disks[i]).capacity_bytes() != self.disk_bytes {
                let _ = self.apply(&Fault::DiskFree { node: i });
            }
        }
        let paused: Vec<usize> = locked(&self.paused).iter().copied().collect();
        for i in paused {
            let _ = self.apply(&Fault::Resume { node: i });
        }
        let down: Vec<usize> = locked(&self.down).iter().copied().collect();
        for i in down {
            let _ = self.apply(&Fault::Restart { node: i });
        }
    }

    /// Every (node, key) the world has rotted: the copies a settled cluster must have
    /// repaired or dropped.
    pub fn rotted(&self) -> Vec<(usize, String)> {
        locked(&self.rotted).clone()
    }

    /// Whether node `i` is stopped (crashed or killed and not restarted).
    pub fn is_down(&self, i: usize) -> bool {
        locked(&self.down).contains(&i)
    }

    /// Marks node `i` retiring (it answers clients with 301) or not.
    pub fn set_retiring(&self, i: usize, on: bool) {
        self.trace
            .record("world", format!("node{} retiring={on}", i + 1));
        self.controls[i].set_retiring(on);
    }

    /// Applies a fault now and records it in the trace. Returns what was done, or why the
    /// fault was not applied (an unknown node, or a rot or loss that would destroy the last
    /// good copy of something).
    pub fn apply(&self, fault: &Fault) -> Result<String, String> {
        let outcome = self.apply_inner(fault);
        match &outcome {
            Ok(done) => self.trace.record("nemesis", done.clone()),
            Err(why) => self
                .trace
                .record("nemesis", format!("{fault} not applied: {why}")),
        }
        outcome
    }

    fn node_index(&self, node: usize) -> Result<usize, String> {
        if node < self.len() {
            Ok(node)
        } else {
            Err(format!(
                "no node{} in a {}-node world",
                node + 1,
                self.len()
            ))
        }
    }

    fn apply_inner(&self, fault: &Fault) -> Result<String, String> {
        let handle = madsim::runtime::Handle::current();
        let net = madsim::net::NetSim::current();
        match fault {
            Fault::Crash { node } => {
                let i = self.node_index(*node)?;
                handle.kill(self.node_ids[i]);
                locked(&self.down).insert(i);
                let lost = Disk::lock(&self.disks[i]).crash();
                Ok(format!("{fault}: {} unsynced records lost", lost.len()))
            }
            Fault::Restart { node } => {
                let i = self.node_index(*node)?;
                if !locked(&self.down).contains(&i) {
                    // A reboot of a running node: stop it first, so its listener is gone
                    // before the new incarnation binds the same address.
                    handle.kill(self.node_ids[i]);
                }
                handle.restart(self.node_ids[i]);
                locked(&self.down).remove(&i);
                locked(&self.paused).remove(&i);
                Ok(fault.to_string())
            }
            Fault::Pause { node } => {
                let i = self.node_index(*node)?;
                handle.pause(self.node_ids[i]);
                locked(&self.paused).insert(i);
                Ok(fault.to_string())
            }
            Fault::Resume { node } => {
                let i = self.node_index(*node)?;
                handle.resume(self.node_ids[i]);
                locked(&self.paused).remove(&i);
                Ok(fault.to_string())
            }
            Fault::Partition { groups } => {
                let mut group_of = vec![groups.len(); self.len()];
                for (g, members) in groups.iter().enumerate() {
                    for &m in members {
                        group_of[self.node_index(m)?] = g;
                    }
                }
                for a in 0..self.len() {
                    for b in 0..self.len() {
                        if group_of[a] != group_of[b] {
                            self.clog(a, b);
                        }
                    }
                }
                Ok(fault.to_string())
            }
            Fault::PartitionOneWay { from, to } => {
                let (a, b) = (self.node_index(*from)?, self.node_index(*to)?);
                self.clog(a, b);
                Ok(fault.to_string())
            }
            Fault::Isolate { node } => {
                let i = self.node_index(*node)?;
                for other in (0..self.len()).filter(|o| *o != i) {
                    self.clog(i, other);
                    self.clog(other, i);
                }
                Ok(fault.to_string())
            }
            Fault::Heal => {
                let links = std::mem::take(&mut *locked(&self.clogged));
                for (a, b) in links {
                    net.unclog_link(self.node_ids[a], self.node_ids[b]);
                }
                Ok(fault.to_string())
            }
            Fault::Loss { permille } => {
                let rate = f64::from((*permille).min(1000)) / 1000.0;
                net.update_config(|c| c.packet_loss_rate = rate);
                Ok(fault.to_string())
            }
            Fault::Latency { min_ms, max_ms } => {
                let min = Duration::from_millis(*min_ms);
                let max = Duration::from_millis((*max_ms).max(min_ms + 1));
                net.update_config(|c| c.send_latency = min..max);
                Ok(fault.to_string())
            }
            Fault::Skew { node, ms } => {
                self.clocks[self.node_index(*node)?].set_skew_ms(*ms);
                Ok(fault.to_string())
            }
            Fault::Jump { node, ms } => {
                let clock = &self.clocks[self.node_index(*node)?];
                clock.set_skew_ms(clock.skew_ms() + ms);
                Ok(fault.to_string())
            }
            Fault::DiskFull { node } => {
                let mut disk = Disk::lock(&self.disks[self.node_index(*node)?]);
                let used = disk.used_bytes();
                disk.set_capacity_bytes(used);
                Ok(fault.to_string())
            }
            Fault::DiskFree { node } => {
                Disk::lock(&self.disks[self.node_index(*node)?])
                    .set_capacity_bytes(self.disk_bytes);
                Ok(fault.to_string())
            }
            Fault::BitRot { node, key } => {
                let i = self.node_index(*node)?;
                let key = match key {
                    Some(k) => k.clone(),
                    None => self
                        .recoverable_rot_target(i)
                        .ok_or("no record there has a good copy elsewhere")?,
                };
                let position = madsim::rand::random::<u32>() as usize;
                if Disk::lock(&self.disks[i]).rot(&key, position) {
                    locked(&self.rotted).push((i, key.clone()));
                    Ok(format!("bitrot node{} {key}", i + 1))
                } else {
                    Err(format!("node{} holds no content under {key}", i + 1))
                }
            }
            Fault::Lose { node } => {
                let i = self.node_index(*node)?;
                if let Some(only) = self.only_good_copy_on(i) {
                    return Err(format!("node{} holds the only good copy of {only}", i + 1));
                }
                handle.kill(self.node_ids[i]);
                Disk::lock(&self.disks[i]).wipe();
                handle.restart(self.node_ids[i]);
                Ok(format!("{fault}: replaced by an empty node"))
            }
        }
    }

    fn clog(&self, a: usize, b: usize) {
        madsim::net::NetSim::current().clog_link(self.node_ids[a], self.node_ids[b]);
        locked(&self.clogged).insert((a, b));
    }

    /// True when node `i` holds a record whose content matches its digest.
    fn holds_good(&self, i: usize, key: &str, version: crate::scsp::object::Version) -> bool {
        Disk::lock(&self.disks[i])
            .get(key)
            .is_some_and(|r| r.version == version && md5_hex(&r.content) == r.md5_hex)
    }

    /// A key on node `i` whose copy there is good and which has another good copy of the
    /// same version elsewhere: rotting it loses nothing. Seeded choice among them.
    fn recoverable_rot_target(&self, i: usize) -> Option<String> {
        let candidates: Vec<(String, crate::scsp::object::Version)> = Disk::lock(&self.disks[i])
            .records()
            .filter(|(_, r)| {
                !r.content.is_empty() && !r.deleted && md5_hex(&r.content) == r.md5_hex
            })
            .map(|(k, r)| (k.clone(), r.version))
            .collect();
        let recoverable: Vec<String> = candidates
            .into_iter()
            .filter(|(k, v)| (0..self.len()).any(|j| j != i && self.holds_good(j, k, *v)))
            .map(|(k, _)| k)
            .collect();
        if recoverable.is_empty() {
            return None;
        }
        let pick = madsim::rand::random::<u64>() as usize % recoverable.len();
        Some(recoverable[pick].clone())
    }

    /// A record on node `i` that is the newest version of its key and has no good copy of
    /// that version on another node: losing node `i` would lose it.
    fn only_good_copy_on(&self, i: usize) -> Option<String> {
        let records: Vec<(String, crate::scsp::object::Version)> = Disk::lock(&self.disks[i])
            .records()
            .map(|(k, r)| (k.clone(), r.version))
            .collect();
        records
            .into_iter()
            .filter(|(k, v)| {
                let newest = (0..self.len())
                    .filter_map(|j| Disk::lock(&self.disks[j]).get(k).map(|r| r.version))
                    .max();
                newest == Some(*v)
            })
            .find(|(k, v)| !(0..self.len()).any(|j| j != i && self.holds_good(j, k, *v)))
            .map(|(k, _)| k)
    }

    /// How many live (non-deleted) copies of `store_key` exist across all disks.
    pub fn replica_count(&self, store_key: &str) -> usize {
        self.disks
            .iter()
            .filter(|d| Disk::lock(d).get(store_key).is_some_and(|r| !r.deleted))
            .count()
    }

    /// Runs a future on the client node and waits for it.
    pub async fn on_client<F, T>(&self, future: F) -> T
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        match self.client.spawn(future).await {
            Ok(v) => v,
            Err(e) => std::panic::resume_unwind(Box::new(format!("client task failed: {e}"))),
        }
    }
}

/// Why a simulation did not produce a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulationFailed {
    /// The seed that failed.
    pub seed: u64,
    /// The panic message.
    pub message: String,
}

impl std::fmt::Display for SimulationFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "simulation with seed {} failed: {}",
            self.seed, self.message
        )
    }
}

impl std::error::Error for SimulationFailed {}

/// Runs `make()` in a fresh madsim runtime seeded with `seed`, on a fresh OS thread (std's
/// hash seeds are per thread, see notes/madsim.md), with a bound on simulated time.
pub fn try_simulate<F, Fut, T>(
    seed: u64,
    time_limit: Duration,
    make: F,
) -> Result<T, SimulationFailed>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T> + 'static,
    T: Send + 'static,
{
    let joined = std::thread::Builder::new()
        .name(format!("sim-seed-{seed}"))
        .spawn(move || {
            let mut runtime =
                madsim::runtime::Runtime::with_seed_and_config(seed, madsim::Config::default());
            runtime.set_time_limit(time_limit);
            runtime.block_on(make())
        })
        .map_err(|e| SimulationFailed {
            seed,
            message: format!("could not start a simulation thread: {e}"),
        })?
        .join();
    joined.map_err(|panic| SimulationFailed {
        seed,
        message: panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panic".to_string()),
    })
}

/// [`try_simulate`] with a one-day time limit, panicking with the seed on failure: for tests.
pub fn simulate<F, Fut, T>(seed: u64, make: F) -> T
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T> + 'static,
    T: Send + 'static,
{
    match try_simulate(seed, Duration::from_secs(86_400), make) {
        Ok(v) => v,
        Err(e) => panic!("{e}\nreplay: MADSIM seed {}", e.seed),
    }
}
