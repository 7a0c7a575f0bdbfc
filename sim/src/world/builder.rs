//! Building a world: clusters of hosts, each with its own LAN and a factory for its
//! services, WAN links between clusters, and client hosts.
//!
//! ```no_run
//! use replisim_sim::scsp;
//! use replisim_sim::world::{simulate, Link, World};
//! simulate(7, || async {
//!     let world = World::builder()
//!         .cluster("east", 4, scsp::node())
//!         .cluster("west", 3, scsp::node())
//!         .wan("east", "west", Link::new().latency_ms(20, 40))
//!         .clients(2)
//!         .build()
//!         .expect("a valid topology");
//!     assert_eq!(world.len(), 7);
//! });
//! ```

use std::sync::Arc;

use crate::netem::Shape;
use crate::world::host::HostFactory;

/// The properties of a link: extra one-way latency and loss on top of madsim's own network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Link {
    /// The shape every direction of the link gets.
    pub shape: Shape,
}

impl Link {
    /// A link that adds nothing to madsim's network.
    pub fn new() -> Self {
        Self::default()
    }

    /// Extra one-way latency, uniform in `min_ms..=max_ms`.
    pub fn latency_ms(mut self, min_ms: u64, max_ms: u64) -> Self {
        self.shape.latency_min_ms = min_ms.min(max_ms);
        self.shape.latency_max_ms = max_ms.max(min_ms);
        self
    }

    /// Per-mille of sends lost (and resent after a timeout).
    pub fn loss_permille(mut self, permille: u32) -> Self {
        self.shape.loss_permille = permille.min(1000);
        self
    }
}

/// One cluster as the builder was given it.
pub(crate) struct ClusterSpec {
    pub(crate) name: String,
    pub(crate) hosts: usize,
    pub(crate) factory: Arc<dyn HostFactory>,
    pub(crate) disk_bytes: u64,
}

/// Collects a topology; [`WorldBuilder::build`] starts it (inside a madsim runtime).
pub struct WorldBuilder {
    pub(crate) clusters: Vec<ClusterSpec>,
    pub(crate) wan: Vec<(String, String, Link)>,
    /// Client placements: a cluster name, or `None` for round-robin over the clusters.
    pub(crate) clients: Vec<Option<String>>,
    pub(crate) disk_bytes: u64,
    /// The world's trace keeps its events (else only its digest, `Trace::digest_only`).
    pub(crate) trace_events: bool,
}

impl Default for WorldBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl WorldBuilder {
    /// No clusters yet; 1 GiB disks.
    pub fn new() -> Self {
        Self {
            clusters: Vec::new(),
            wan: Vec::new(),
            clients: Vec::new(),
            disk_bytes: 1 << 30,
            trace_events: true,
        }
    }

    /// Whether the world's trace keeps its events (the default) or only its digest: runs
    /// that report nothing else of it (sweeps) need no events, however long they are.
    pub fn keep_trace_events(mut self, keep: bool) -> Self {
        self.trace_events = keep;
        self
    }

    /// Adds a cluster of `hosts` hosts, each running what `factory` builds.
    pub fn cluster(mut self, name: &str, hosts: usize, factory: impl HostFactory) -> Self {
        self.clusters.push(ClusterSpec {
            name: name.to_string(),
            hosts,
            factory: Arc::new(factory),
            disk_bytes: self.disk_bytes,
        });
        self
    }

    /// Disk size of the hosts of clusters added after this call.
    pub fn disk_bytes(mut self, bytes: u64) -> Self {
        self.disk_bytes = bytes;
        self
    }

    /// Joins two clusters by a WAN link. Clusters with no WAN link cannot reach each other.
    pub fn wan(mut self, a: &str, b: &str, link: Link) -> Self {
        self.wan.push((a.to_string(), b.to_string(), link));
        self
    }

    /// Adds `n` client hosts, spread round-robin over the clusters' LANs (client `k` sits
    /// in cluster `k % clusters`). Without any, the world has one client in the first.
    pub fn clients(mut self, n: usize) -> Self {
        self.clients.extend((0..n).map(|_| None));
        self
    }

    /// Adds one client host on the named cluster's LAN.
    pub fn client_in(mut self, cluster: &str) -> Self {
        self.clients.push(Some(cluster.to_string()));
        self
    }

    /// Checks the topology and starts every host. Must run inside a madsim runtime.
    pub fn build(self) -> Result<crate::world::World, String> {
        crate::world::World::from_builder(self)
    }
}
