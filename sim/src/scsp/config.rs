//! Cluster-wide settings and the per-node context handed to every handler.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::http::pool::Pool;
use crate::scsp::alternatives::{Alternatives, ClockSkew, VersionResolution, SKEW_MAX_MS};
use crate::scsp::clock::NodeClock;
use crate::scsp::cluster_key::ClusterKey;
use crate::scsp::defects::Defect;
use crate::scsp::object::Record;
use crate::scsp::records::Objects;
use crate::store::{Disk, DiskError, SharedDisk};
use crate::trace::Trace;

/// What every node of one cluster agrees on. Each field is a documented knob (docs/choices.md).
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// Node addresses; a node's id is its index here.
    pub nodes: Vec<SocketAddr>,
    /// The cluster name (the `Server` header and the node status page).
    pub name: String,
    /// The cluster key: `auth=` tokens on redirects and node-to-node signatures. Never a
    /// constant: `ScspNode::prepare` derives it from the seed, `serve` draws or reads it.
    pub key: ClusterKey,
    /// Seed mixed into the bid tie-break, so placement differs per run but is reproducible.
    pub placement_seed: u64,
    /// Replicas each object should have (`policy.replicas`), unless a lifepoint says `reps=`.
    pub policy_replicas: usize,
    /// Synchronous replicas when the request says nothing (`replicate` absent): ROW default.
    pub default_sync_replicas: usize,
    /// How long a redirect's `auth=` token stays valid.
    pub auth_ttl: Duration,
    /// Bound on each node-to-node request (bids, replica pushes, inventories).
    pub peer_timeout: Duration,
    /// How often the health processor walks a node's objects.
    pub health_interval: Duration,
    /// Largest object body accepted (bigger → 413).
    pub object_bytes_max: usize,
    /// Version stamps are truncated to this many milliseconds (1 = millisecond order;
    /// 1000 = second resolution, where same-second ties go to the higher node id).
    pub version_resolution_ms: u64,
    /// How often a 202 sends keep-alive whitespace while a multipart upload assembles.
    pub keepalive_interval: Duration,
    /// Time a node spends assembling each part of a multipart upload (models the copying).
    pub assembly_per_part: Duration,
    /// Deliberate defects switched on (empty for the clean reference).
    pub defects: BTreeSet<Defect>,
    /// Scheme of the URLs nodes hand out (`Location`, 201 bodies): `https` when `serve`
    /// runs behind TLS, `http` otherwise.
    pub url_scheme: &'static str,
    /// The other choices a real implementation could make (all off for the reference).
    pub alternatives: Alternatives,
    /// How long a `recursive` DELETE of a bucket or domain keeps its objects restorable
    /// (`health.recursiveDeleteDelay`, one week) before the health processor drops them.
    pub recursive_delete_delay: Duration,
}

impl ClusterConfig {
    /// A cluster over these addresses with the documented defaults.
    pub fn new(nodes: Vec<SocketAddr>) -> Self {
        Self {
            nodes,
            name: "replisim".to_string(),
            // Replaced by every cluster that serves (world: from the seed; serve: from the OS
            // or --secret-file); this one only serves configs that never issue a token.
            key: ClusterKey::from_seed(0, "unkeyed"),
            placement_seed: 0,
            policy_replicas: 2,
            default_sync_replicas: 2,
            auth_ttl: Duration::from_secs(60),
            peer_timeout: Duration::from_secs(2),
            health_interval: Duration::from_secs(10),
            object_bytes_max: 64 << 20,
            version_resolution_ms: 1,
            keepalive_interval: Duration::from_millis(500),
            assembly_per_part: Duration::from_millis(400),
            defects: BTreeSet::new(),
            url_scheme: "http",
            alternatives: Alternatives::default(),
            recursive_delete_delay: Duration::from_secs(7 * 24 * 3600),
        }
    }

    /// Switches to other choices, with what they imply: skewed clocks widen the `auth=`
    /// lifetime by the largest skew difference (a token is stamped on one node's clock and
    /// checked on another's); second resolution sets the version resolution.
    pub fn set_alternatives(&mut self, alternatives: Alternatives) {
        if alternatives.clock_skew == ClockSkew::Minute {
            self.auth_ttl += Duration::from_millis(2 * SKEW_MAX_MS as u64);
        }
        if alternatives.version_resolution == VersionResolution::Second {
            self.version_resolution_ms = 1000;
        }
        self.alternatives = alternatives;
    }

    /// True when a defect is switched on.
    pub fn has(&self, defect: Defect) -> bool {
        self.defects.contains(&defect)
    }
}

/// Operator switches on one node, shared with whoever controls the cluster (world or serve).
#[derive(Debug, Default)]
pub struct NodeControl {
    /// A retiring node takes no new content and sends clients elsewhere with 301.
    pub retiring: AtomicBool,
    /// Requests being served right now (the load part of a bid).
    pub in_flight: AtomicU32,
    /// The retiring flag as this node's inventories last told it (see
    /// [`NodeControl::retiring_is_news`]).
    retiring_told: AtomicBool,
}

impl NodeControl {
    /// Marks the node retiring (or not).
    pub fn set_retiring(&self, on: bool) {
        self.retiring.store(on, Ordering::SeqCst);
    }

    /// Whether the node is retiring.
    pub fn is_retiring(&self) -> bool {
        self.retiring.load(Ordering::SeqCst)
    }

    /// True when the retiring flag changed since this node's inventories last told it, and
    /// notes that they tell it from now on. Peers keep the flag from an inventory and are
    /// answered "unchanged" while the disk's generation stays, so an inventory answer moves
    /// the generation first when this is true (the flag is set from outside the node, by
    /// the world or the operator, where the disk is not at hand).
    pub fn retiring_is_news(&self) -> bool {
        let now = self.is_retiring();
        self.retiring_told.swap(now, Ordering::SeqCst) != now
    }
}

/// Everything a node's handlers need. Cloning is cheap; restart builds the node from a clone.
#[derive(Debug, Clone)]
pub struct NodeContext {
    /// This node's index in `cluster.nodes`.
    pub id: usize,
    /// The cluster settings.
    pub cluster: Arc<ClusterConfig>,
    /// The node's disk (survives restarts).
    pub disk: SharedDisk,
    /// The node's own clock.
    pub clock: NodeClock,
    /// Operator switches.
    pub control: Arc<NodeControl>,
    /// Where events go.
    pub trace: Trace,
    /// Keep-alive connections to peers; each incarnation of the node starts a new pool.
    pub pool: Arc<Pool>,
}

#[cfg(test)]
impl NodeContext {
    /// Node 0 of a one-node cluster on a 16 MiB disk, untraced: what unit tests of a node's
    /// own handlers need.
    pub(crate) fn alone() -> Self {
        let addr = SocketAddr::from(([127, 0, 0, 1], 1));
        let cluster = Arc::new(ClusterConfig::new(vec![addr]));
        Self::new(0, cluster, 1 << 24, Trace::disabled())
    }
}

impl NodeContext {
    /// A fresh node: empty disk of `disk_bytes`, its clock skewed only under `clock-skew`, default switches, new pool.
    pub fn new(id: usize, cluster: Arc<ClusterConfig>, disk_bytes: u64, trace: Trace) -> Self {
        let clock = NodeClock::new();
        clock.set_skew_ms(cluster.alternatives.skew_ms(cluster.placement_seed, id));
        let pool = Arc::new(Pool::peers(cluster.key.clone()));
        Self {
            id,
            cluster,
            disk: Disk::shared(disk_bytes),
            clock,
            control: Arc::new(NodeControl::default()),
            trace,
            pool,
        }
    }

    /// This node's address.
    pub fn addr(&self) -> SocketAddr {
        self.cluster.nodes[self.id]
    }

    /// `scheme://address` of node `node` followed by `path`, with room for `more` bytes that
    /// the caller appends (a query): the URLs of `Location` headers and 201 bodies.
    pub fn node_url(&self, node: usize, path: &str, more: usize) -> String {
        let scheme = self.cluster.url_scheme;
        // "://", an IPv6 address in brackets and a port.
        let mut url = String::with_capacity(scheme.len() + 56 + path.len() + more);
        url.push_str(scheme);
        url.push_str("://");
        push_addr(&mut url, self.cluster.nodes[node]);
        url.push_str(path);
        url
    }

    /// The trace actor name, `node1` for id 0 (ids are shown one-based).
    pub fn actor(&self) -> String {
        let mut actor = String::with_capacity(8);
        actor.push_str("node");
        actor.push_str(itoa::Buffer::new().format(self.id + 1));
        actor
    }

    /// Stores a record the way this node acknowledges writes: synced before the answer,
    /// unless the `ack-before-sync` defect leaves it pending for the background flush.
    /// Takes the record or a reference to it: a caller that keeps its record need not copy it.
    pub fn persist(
        &self,
        disk: &mut Objects<'_>,
        record: impl std::borrow::Borrow<Record>,
    ) -> Result<(), DiskError> {
        if self.cluster.has(Defect::AckBeforeSync) {
            disk.write(record.borrow())
        } else {
            disk.write_synced(record.borrow())
        }
    }

    /// Records a trace event from this node.
    pub fn trace(&self, what: impl Into<String>) {
        self.trace.record(self.actor(), what);
    }
}

/// Appends `addr` as its `Display` shows it (`10.0.0.1:80`); IPv4 addresses, what nodes use,
/// are written digit by digit rather than through the formatter, which was most of the cost
/// of every redirect's and 201's URL.
fn push_addr(out: &mut String, addr: SocketAddr) {
    match addr {
        SocketAddr::V4(v4) => {
            for (i, octet) in v4.ip().octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                out.push_str(itoa::Buffer::new().format(octet));
            }
            out.push(':');
            out.push_str(itoa::Buffer::new().format(v4.port()));
        }
        SocketAddr::V6(_) => {
            use std::fmt::Write as _;
            let _ = write!(out, "{addr}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_written_as_displayed() {
        for text in [
            "10.0.0.1:80",
            "0.0.0.0:0",
            "255.255.255.255:65535",
            "192.168.10.200:8080",
            "[::1]:443",
            "[2001:db8::7]:80",
        ] {
            let addr: SocketAddr = text.parse().expect("an address");
            let mut out = String::from("x");
            push_addr(&mut out, addr);
            assert_eq!(out, format!("x{addr}"));
            assert_eq!(&out[1..], text);
        }
    }
}
