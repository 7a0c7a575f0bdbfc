//! The factory seam: how a service (the reference SCSP node today; a publisher, replicator,
//! DS3 gateway, Rucio catalog or a vendor's own Rust node later) runs on a simulated host.
//!
//! A [`HostFactory`] is given to the world builder once per cluster. The world calls
//! [`HostFactory::prepare`] once per cluster before anything starts, then
//! [`HostFactory::start`] for each host, and again on every restart of that host with the
//! same disk and clock: whatever must survive a crash lives on the disk (synced), whatever
//! the operator switches lives in the factory. The future `start` returns is the host's
//! service: it binds `env.addr` through `crate::rt` and serves until the host is stopped.
//!
//! The service must reach time, tasks, sockets and randomness only through `crate::rt`, and
//! stamp its own times with `env.clock` (the host's skewable clock), so one implementation
//! runs in the simulator and on real sockets alike.

use std::any::Any;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use crate::clock::HostClock;
use crate::store::SharedDisk;
use crate::trace::Trace;

/// A host's place in the world.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostId {
    /// Index of its cluster, in build order.
    pub cluster: usize,
    /// Index inside its cluster (its node id there).
    pub index: usize,
    /// Index in the whole world: what faults address it by.
    pub global: usize,
}

/// One cluster as the services see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterInfo {
    /// Its name (`east`).
    pub name: String,
    /// Its index, in build order.
    pub index: usize,
    /// Its hosts' service addresses, in host order: the cluster view.
    pub hosts: Vec<SocketAddr>,
}

/// Everything a service gets when its host (re)starts.
#[derive(Debug, Clone)]
pub struct HostEnv {
    /// Which host this is.
    pub id: HostId,
    /// Its name in traces (`node1`, or `east/node1` in a world of several clusters).
    pub name: String,
    /// The address to serve on.
    pub addr: SocketAddr,
    /// Its own cluster.
    pub cluster: Arc<ClusterInfo>,
    /// Every cluster of the world, in build order (WAN peers for replicating services).
    pub world: Arc<Vec<ClusterInfo>>,
    /// Its disk: the same one on every restart.
    pub disk: SharedDisk,
    /// Its clock: the world clock plus this host's skew.
    pub clock: HostClock,
    /// Where its events go (scoped to the cluster in a world of several).
    pub trace: Trace,
    /// The world's seed (for tie-breaks that must differ per run yet replay).
    pub seed: u64,
    /// 0 for the first start, then one more per restart.
    pub incarnation: u64,
}

/// A service future: runs until the host stops.
pub type ServiceFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Builds the service of every host of a cluster. Keep implementations small: all a
/// service needs is in [`HostEnv`].
pub trait HostFactory: Send + Sync + 'static {
    /// What it runs, for traces and errors (`scsp`).
    fn kind(&self) -> &'static str;

    /// Called once per cluster when the world is built, before any host starts: set up what
    /// outlives incarnations (cluster-wide settings, operator switches).
    fn prepare(&self, _cluster: &ClusterInfo, _seed: u64) {}

    /// One incarnation of a host's service; called again on every restart.
    fn start(&self, env: HostEnv) -> ServiceFuture;

    /// The factory itself, so callers that know its type can reach its controls.
    fn as_any(&self) -> &dyn Any;
}

/// A factory shared as a value, so that a plain-data world description
/// (`WorldConfig::service`) can carry one: cloning shares the factory.
#[derive(Clone)]
pub struct SharedFactory(pub Arc<dyn HostFactory>);

impl std::fmt::Debug for SharedFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SharedFactory({})", self.0.kind())
    }
}

impl HostFactory for SharedFactory {
    fn kind(&self) -> &'static str {
        self.0.kind()
    }

    fn prepare(&self, cluster: &ClusterInfo, seed: u64) {
        self.0.prepare(cluster, seed)
    }

    fn start(&self, env: HostEnv) -> ServiceFuture {
        self.0.start(env)
    }

    fn as_any(&self) -> &dyn Any {
        self.0.as_any()
    }
}
