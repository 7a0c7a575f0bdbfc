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
use std::sync::Arc;
use std::time::Duration;

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
        };
        for id in 0..config.nodes {
            let ctx = NodeContext {
                id,
                cluster: cluster.clone(),
                disk: Disk::shared(config.disk_bytes),
                clock: NodeClock::new(),
                control: Arc::new(NodeControl::default()),
                trace: trace.clone(),
            };
            world.disks.push(ctx.disk.clone());
            world.controls.push(ctx.control.clone());
            world.clocks.push(ctx.clock.clone());
            let node = handle
                .create_node()
                .name(format!("node{}", id + 1))
                .ip(node_addr(id).ip())
                .init(move || {
                    let ctx = ctx.clone();
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

    /// Stops node `i` at once: its tasks and connections die; its synced disk stays.
    pub fn kill(&self, i: usize) {
        self.trace.record("world", format!("kill node{}", i + 1));
        madsim::runtime::Handle::current().kill(self.node_ids[i]);
    }

    /// Starts node `i` again from its disk.
    pub fn restart(&self, i: usize) {
        self.trace.record("world", format!("restart node{}", i + 1));
        madsim::runtime::Handle::current().restart(self.node_ids[i]);
    }

    /// Marks node `i` retiring (it answers clients with 301) or not.
    pub fn set_retiring(&self, i: usize, on: bool) {
        self.trace
            .record("world", format!("node{} retiring={on}", i + 1));
        self.controls[i].set_retiring(on);
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
