//! The simulated world: named clusters of hosts inside one madsim runtime, each cluster on
//! its own LAN, clusters joined by WAN links, client hosts, and one shared trace. Every host
//! runs a service its cluster's factory builds ([`host::HostFactory`]), and keeps a disk and
//! a clock that survive restarts.
//!
//! ```no_run
//! use replisim_sim::world::{simulate, World, WorldConfig};
//! let digest = simulate(7, || async {
//!     let world = World::start(WorldConfig::new(4));
//!     world.on_client(async { /* talk HTTP to world.addrs() */ }).await;
//!     world.trace().digest()
//! });
//! ```
//!
//! Addresses: host `i` of cluster `c` serves on 10.c.0.(i+1):80, client `k` of cluster `c`
//! is 10.c.1.(k+1). A one-cluster world therefore keeps the addresses it always had.

mod apply;
mod builder;
pub mod host;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use builder::{Link, WorldBuilder};

use crate::clock::HostClock;
use crate::netem::Shape;
use crate::scsp::config::ClusterConfig;
use crate::scsp::defects::Defect;
use crate::scsp::ScspNode;
use crate::store::{Disk, SharedDisk};
use crate::trace::Trace;
use host::{ClusterInfo, HostEnv, HostFactory, HostId};

/// The shape of a one-cluster SCSP world (what `simulate` callers and the harness use).
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

impl WorldConfig {
    /// The one-cluster SCSP topology this configuration describes, as a builder (for
    /// callers that build worlds of several kinds alike).
    pub fn builder(&self) -> WorldBuilder {
        let node = crate::scsp::node()
            .replicas(self.policy_replicas)
            .health_interval(self.health_interval)
            .defects(self.defects.clone())
            .alternatives(self.alternatives);
        WorldBuilder::new()
            .disk_bytes(self.disk_bytes)
            .cluster(SCSP_CLUSTER, self.nodes, node)
    }
}

/// The name of the SCSP cluster `WorldConfig::builder` makes: the families find its hosts
/// by it.
pub const SCSP_CLUSTER: &str = "replisim";

/// The port every simulated host serves on.
pub const NODE_PORT: u16 = 80;

/// Most hosts per cluster, clients per cluster, and clusters per world (one address octet).
pub const PER_OCTET_MAX: usize = 250;

/// The simulated address of host `i` (0-based) of cluster `cluster`: 10.cluster.0.(i+1):80.
pub fn host_addr(cluster: usize, i: usize) -> SocketAddr {
    SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(10, cluster as u8, 0, (i + 1) as u8)),
        NODE_PORT,
    )
}

/// The simulated address of node `i` of the first cluster: 10.0.0.(i+1):80.
pub fn node_addr(i: usize) -> SocketAddr {
    host_addr(0, i)
}

/// The address of client `k` of cluster `cluster`: 10.cluster.1.(k+1).
pub fn client_ip(cluster: usize, k: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, cluster as u8, 1, (k + 1) as u8)
}

/// The first client's address.
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 1);

/// One host as the world keeps it.
struct HostSlot {
    id: HostId,
    name: String,
    addr: SocketAddr,
    node: madsim::task::NodeId,
    disk: SharedDisk,
    clock: HostClock,
    disk_bytes: u64,
}

/// One client host.
struct ClientSlot {
    cluster: usize,
    ip: Ipv4Addr,
    handle: madsim::runtime::NodeHandle,
}

/// One cluster as the world keeps it.
struct ClusterSlot {
    info: ClusterInfo,
    factory: Arc<dyn HostFactory>,
    hosts: Range<usize>,
}

/// What faults have changed, and what madsim has been told.
#[derive(Default)]
struct NetState {
    /// Directed endpoint pairs cut by faults (endpoints: hosts, then clients).
    cut: BTreeSet<(usize, usize)>,
    /// Directed endpoint pairs clogged in madsim now.
    clogged: BTreeSet<(usize, usize)>,
    /// Each link's shape now: (c, c) for a LAN, (a, b) with a < b for a WAN link.
    shapes: BTreeMap<(usize, usize), Shape>,
}

/// A running simulated world. Create it inside [`simulate`].
pub struct World {
    clusters: Vec<ClusterSlot>,
    hosts: Vec<HostSlot>,
    clients: Vec<ClientSlot>,
    /// WAN links as built: (a, b) with a < b.
    wan: BTreeMap<(usize, usize), Link>,
    trace: Trace,
    started: std::time::Instant,
    net: Mutex<NetState>,
    down: Mutex<BTreeSet<usize>>,
    paused: Mutex<BTreeSet<usize>>,
    rotted: Mutex<Vec<(usize, String)>>,
    /// The settings of the first SCSP cluster, for the callers that know only one.
    scsp: Option<Arc<ClusterConfig>>,
}

thread_local! {
    /// Every madsim node the worlds of this simulation thread created, so that
    /// [`try_simulate`] can stop them when the simulation's result is ready (see
    /// [`stop_world_nodes`]). One simulation per thread, so the list is per simulation.
    static WORLD_NODES: RefCell<Vec<madsim::task::NodeId>> = const { RefCell::new(Vec::new()) };
}

fn register_node(id: madsim::task::NodeId, ip: IpAddr) {
    WORLD_NODES.with(|nodes| nodes.borrow_mut().push(id));
    crate::netem::set_host(id, ip);
}

/// Kills every node a world created in this simulation, so that the executor drops their
/// tasks' futures before the runtime goes away.
///
/// Why: madsim 0.2's run queue is an `Arc` that every task's scheduler holds. A task still
/// pending when the runtime is dropped (a node's accept loop, a health timer) is re-queued by
/// its last waker into that queue and never freed, and with it the whole world: disks,
/// trace, connections. That was about 1.8 MB per seed, so a sweep's memory grew with its
/// seeds. Killed nodes' tasks are dropped by the executor's next pass, which runs before
/// `block_on` returns.
fn stop_world_nodes() {
    let nodes = WORLD_NODES.with(|nodes| std::mem::take(&mut *nodes.borrow_mut()));
    if nodes.is_empty() {
        return;
    }
    let handle = madsim::runtime::Handle::current();
    for id in nodes {
        handle.kill(id);
    }
}

fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl World {
    /// A builder for a world of several clusters.
    pub fn builder() -> WorldBuilder {
        WorldBuilder::new()
    }

    /// Builds and starts a one-cluster SCSP world. Must run inside a madsim runtime.
    pub fn start(config: WorldConfig) -> World {
        Self::start_with_trace(config, true)
    }

    /// [`World::start`], with a trace that keeps its events or (`keep_events` false, for
    /// runs that report only its digest) just the digest.
    pub fn start_with_trace(config: WorldConfig, keep_events: bool) -> World {
        assert!(
            (1..=PER_OCTET_MAX).contains(&config.nodes),
            "a world has 1..=250 nodes"
        );
        let built = config.builder().keep_trace_events(keep_events).build();
        match built {
            Ok(world) => world,
            Err(e) => panic!("a one-cluster world failed to build: {e}"),
        }
    }

    fn from_builder(b: WorldBuilder) -> Result<World, String> {
        if b.clusters.is_empty() {
            return Err("a world needs at least one cluster".into());
        }
        if b.clusters.len() > PER_OCTET_MAX {
            return Err(format!("a world has at most {PER_OCTET_MAX} clusters"));
        }
        let index_of = |name: &str| -> Result<usize, String> {
            b.clusters
                .iter()
                .position(|c| c.name == name)
                .ok_or_else(|| format!("no cluster named `{name}`"))
        };
        let mut seen = BTreeSet::new();
        for c in &b.clusters {
            if !seen.insert(c.name.as_str()) {
                return Err(format!("two clusters are named `{}`", c.name));
            }
            if !(1..=PER_OCTET_MAX).contains(&c.hosts) {
                return Err(format!(
                    "cluster `{}` has {} hosts; a cluster has 1..={PER_OCTET_MAX}",
                    c.name, c.hosts
                ));
            }
        }
        let mut wan = BTreeMap::new();
        for (a, b_name, link) in &b.wan {
            let (x, y) = (index_of(a)?, index_of(b_name)?);
            if x == y {
                return Err(format!(
                    "a WAN link joins two clusters, not `{a}` to itself"
                ));
            }
            wan.insert((x.min(y), x.max(y)), *link);
        }
        let mut placements = Vec::new();
        let mut round_robin = 0;
        for p in &b.clients {
            placements.push(match p {
                Some(name) => index_of(name)?,
                None => {
                    round_robin += 1;
                    (round_robin - 1) % b.clusters.len()
                }
            });
        }
        if placements.is_empty() {
            placements.push(0);
        }

        let handle = madsim::runtime::Handle::current();
        let seed = handle.seed();
        crate::netem::clear();
        let trace = if b.trace_events {
            Trace::new()
        } else {
            Trace::digest_only()
        };
        let several = b.clusters.len() > 1;

        // Clients first: a one-cluster world creates its nodes in the order it always did.
        let mut per_cluster = vec![0usize; b.clusters.len()];
        let mut clients = Vec::new();
        for &c in &placements {
            let k = per_cluster[c];
            per_cluster[c] += 1;
            if k >= PER_OCTET_MAX {
                return Err(format!(
                    "too many clients in cluster `{}`",
                    b.clusters[c].name
                ));
            }
            let ip = client_ip(c, k);
            let name = if clients.is_empty() {
                "client".to_string()
            } else {
                format!("client{}", clients.len() + 1)
            };
            let client = handle.create_node().name(name).ip(IpAddr::V4(ip)).build();
            register_node(client.id(), IpAddr::V4(ip));
            clients.push(ClientSlot {
                cluster: c,
                ip,
                handle: client,
            });
        }

        let infos: Vec<ClusterInfo> = b
            .clusters
            .iter()
            .enumerate()
            .map(|(c, spec)| ClusterInfo {
                name: spec.name.clone(),
                index: c,
                hosts: (0..spec.hosts).map(|i| host_addr(c, i)).collect(),
            })
            .collect();
        let infos = Arc::new(infos);
        for (spec, info) in b.clusters.iter().zip(infos.iter()) {
            spec.factory.prepare(info, seed);
        }

        let started = crate::rt::now();
        let mut hosts = Vec::new();
        let mut clusters = Vec::new();
        for (c, spec) in b.clusters.iter().enumerate() {
            let first = hosts.len();
            let cluster = Arc::new(infos[c].clone());
            let scoped = if several {
                trace.scoped(&format!("{}/", spec.name))
            } else {
                trace.clone()
            };
            for i in 0..spec.hosts {
                let name = if several {
                    format!("{}/node{}", spec.name, i + 1)
                } else {
                    format!("node{}", i + 1)
                };
                let id = HostId {
                    cluster: c,
                    index: i,
                    global: hosts.len(),
                };
                let env = HostEnv {
                    id,
                    name: name.clone(),
                    addr: host_addr(c, i),
                    cluster: cluster.clone(),
                    world: infos.clone(),
                    disk: Disk::shared(spec.disk_bytes),
                    clock: HostClock::new(),
                    trace: scoped.clone(),
                    seed,
                    incarnation: 0,
                };
                let (disk, clock) = (env.disk.clone(), env.clock.clone());
                let ip = env.addr.ip();
                let factory = spec.factory.clone();
                let starts = Arc::new(AtomicU64::new(0));
                let node = handle
                    .create_node()
                    .name(name.clone())
                    .ip(env.addr.ip())
                    .init(move || {
                        let env = HostEnv {
                            incarnation: starts.fetch_add(1, Ordering::SeqCst),
                            ..env.clone()
                        };
                        factory.start(env)
                    })
                    .build();
                register_node(node.id(), ip);
                hosts.push(HostSlot {
                    id,
                    name,
                    addr: host_addr(c, i),
                    node: node.id(),
                    disk,
                    clock,
                    disk_bytes: spec.disk_bytes,
                });
            }
            clusters.push(ClusterSlot {
                info: infos[c].clone(),
                factory: spec.factory.clone(),
                hosts: first..hosts.len(),
            });
        }
        let scsp = clusters.iter().find_map(|c| {
            c.factory
                .as_any()
                .downcast_ref::<ScspNode>()
                .and_then(|n| n.config(&c.info.name))
        });
        let world = World {
            clusters,
            hosts,
            clients,
            wan,
            trace: trace.clone(),
            started,
            net: Mutex::new(NetState::default()),
            down: Mutex::new(BTreeSet::new()),
            paused: Mutex::new(BTreeSet::new()),
            rotted: Mutex::new(Vec::new()),
            scsp,
        };
        world.restore_links();
        world.sync_net(&mut locked(&world.net));
        if several {
            trace.record(
                "world",
                format!(
                    "started {} hosts in {} clusters",
                    world.hosts.len(),
                    world.clusters.len()
                ),
            );
        } else {
            trace.record("world", format!("started {} nodes", world.hosts.len()));
        }
        Ok(world)
    }

    /// When the world started (simulated time): the origin of absolute fault times.
    pub fn started(&self) -> std::time::Instant {
        self.started
    }

    /// Every host's address, in world order (in a one-cluster world: the node addresses).
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.hosts.iter().map(|h| h.addr).collect()
    }

    /// The named cluster's host addresses, in host order.
    pub fn cluster_addrs(&self, name: &str) -> Option<Vec<SocketAddr>> {
        self.cluster_index(name)
            .map(|c| self.clusters[c].info.hosts.clone())
    }

    /// The clusters, in build order.
    pub fn clusters(&self) -> Vec<ClusterInfo> {
        self.clusters.iter().map(|c| c.info.clone()).collect()
    }

    /// The world indices of the named cluster's hosts.
    pub fn cluster_hosts(&self, name: &str) -> Option<Range<usize>> {
        self.cluster_index(name)
            .map(|c| self.clusters[c].hosts.clone())
    }

    fn cluster_index(&self, name: &str) -> Option<usize> {
        self.clusters.iter().position(|c| c.info.name == name)
    }

    /// Host `i`'s place and name.
    pub fn host(&self, i: usize) -> Option<(HostId, &str)> {
        self.hosts.get(i).map(|h| (h.id, h.name.as_str()))
    }

    /// The SCSP settings of the first SCSP cluster (every node shares them). Panics in a
    /// world without an SCSP cluster: a caller that uses it built one.
    pub fn cluster(&self) -> &ClusterConfig {
        match &self.scsp {
            Some(c) => c,
            None => panic!("this world runs no SCSP cluster"),
        }
    }

    /// The SCSP settings of the named cluster, if it runs SCSP nodes.
    pub fn scsp_config(&self, cluster: &str) -> Option<Arc<ClusterConfig>> {
        let c = self.cluster_index(cluster)?;
        let slot = &self.clusters[c];
        slot.factory
            .as_any()
            .downcast_ref::<ScspNode>()?
            .config(&slot.info.name)
    }

    /// The factory that runs the named cluster's hosts, so that callers that know its type
    /// can reach its controls (`as_any`).
    pub fn factory(&self, cluster: &str) -> Option<&dyn HostFactory> {
        let c = self.cluster_index(cluster)?;
        Some(self.clusters[c].factory.as_ref())
    }

    /// The shared trace.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// Host `i`'s disk.
    pub fn disk(&self, i: usize) -> &SharedDisk {
        &self.hosts[i].disk
    }

    /// Every disk of the named cluster, in host order.
    pub fn cluster_disks(&self, name: &str) -> Vec<SharedDisk> {
        self.cluster_hosts(name)
            .map(|r| r.map(|i| self.hosts[i].disk.clone()).collect())
            .unwrap_or_default()
    }

    /// Host `i`'s clock (to skew it).
    pub fn clock(&self, i: usize) -> &HostClock {
        &self.hosts[i].clock
    }

    /// Number of hosts.
    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    /// True for a world of no hosts (never: building refuses it).
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    /// Number of client hosts.
    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    /// The cluster whose LAN client `k` sits on.
    pub fn client_cluster(&self, k: usize) -> Option<&str> {
        self.clients
            .get(k)
            .map(|c| self.clusters[c.cluster].info.name.as_str())
    }

    /// Client `k`'s address.
    pub fn client_addr(&self, k: usize) -> Option<Ipv4Addr> {
        self.clients.get(k).map(|c| c.ip)
    }

    /// Stops host `i` at once: its tasks and connections die; its disk stays as it is.
    pub fn kill(&self, i: usize) {
        self.trace
            .record("world", format!("kill {}", self.hosts[i].name));
        madsim::runtime::Handle::current().kill(self.hosts[i].node);
        locked(&self.down).insert(i);
    }

    /// Starts host `i` again from its disk (its factory runs again).
    pub fn restart(&self, i: usize) {
        self.trace
            .record("world", format!("restart {}", self.hosts[i].name));
        madsim::runtime::Handle::current().restart(self.hosts[i].node);
        locked(&self.down).remove(&i);
        locked(&self.paused).remove(&i);
    }

    /// Ends every fault at once (the start of a liveness phase): heals partitions, ends
    /// loss and latency changes (links get their built shapes back), frees full disks,
    /// resumes paused hosts and restarts stopped ones. Clock skews stay: a host's clock is
    /// its own.
    pub fn heal_all(&self) {
        let _ = self.apply(&crate::faults::Fault::Heal);
        let _ = self.apply(&crate::faults::Fault::Loss { permille: 0 });
        let _ = self.apply(&crate::faults::Fault::Latency {
            min_ms: 1,
            max_ms: 10,
        });
        if self.restore_links() {
            self.trace.record("nemesis", "links restored");
        }
        for i in 0..self.len() {
            if Disk::lock(&self.hosts[i].disk).capacity_bytes() != self.hosts[i].disk_bytes {
                let _ = self.apply(&crate::faults::Fault::DiskFree { node: i });
            }
        }
        let paused: Vec<usize> = locked(&self.paused).iter().copied().collect();
        for i in paused {
            let _ = self.apply(&crate::faults::Fault::Resume { node: i });
        }
        let down: Vec<usize> = locked(&self.down).iter().copied().collect();
        for i in down {
            let _ = self.apply(&crate::faults::Fault::Restart { node: i });
        }
    }

    /// Every (host, key) the world has rotted: the copies a settled cluster must have
    /// repaired or dropped.
    pub fn rotted(&self) -> Vec<(usize, String)> {
        locked(&self.rotted).clone()
    }

    /// Whether host `i` is stopped (crashed or killed and not restarted).
    pub fn is_down(&self, i: usize) -> bool {
        locked(&self.down).contains(&i)
    }

    /// Marks SCSP node `i` retiring (it answers clients with 301) or not. Hosts that run
    /// no SCSP node are left alone (the trace says so).
    pub fn set_retiring(&self, i: usize, on: bool) {
        let Some(h) = self.hosts.get(i) else { return };
        let slot = &self.clusters[h.id.cluster];
        let control = slot
            .factory
            .as_any()
            .downcast_ref::<ScspNode>()
            .and_then(|n| n.control(&slot.info.name, h.id.index));
        match control {
            Some(control) => {
                self.trace
                    .record("world", format!("{} retiring={on}", h.name));
                control.set_retiring(on);
            }
            None => self
                .trace
                .record("world", format!("{} runs no SCSP node to retire", h.name)),
        }
    }

    /// How many live (non-deleted) copies of `store_key` exist across all disks.
    pub fn replica_count(&self, store_key: &str) -> usize {
        let disks: Vec<SharedDisk> = self.hosts.iter().map(|h| h.disk.clone()).collect();
        crate::scsp::records::replica_count(&disks, store_key)
    }

    /// Runs a future on the first client host and waits for it.
    pub async fn on_client<F, T>(&self, future: F) -> T
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        self.on_client_at(0, future).await
    }

    /// Runs a future on client host `k` (in build order) and waits for it.
    pub async fn on_client_at<F, T>(&self, k: usize, future: F) -> T
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let Some(client) = self.clients.get(k) else {
            std::panic::resume_unwind(Box::new(format!(
                "no client {k} in a world of {} clients",
                self.clients.len()
            )))
        };
        match client.handle.spawn(future).await {
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
            let simulated = crate::rt::SimThread::enter();
            let out = runtime.block_on(async move {
                let out = make().await;
                stop_world_nodes();
                out
            });
            drop(simulated);
            out
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
