//! The replication world recipe. Each service is its own one-host cluster beside the SCSP
//! cluster it belongs to, joined to it by a WAN link that adds nothing (a LAN in effect),
//! so the world builder stays as it is:
//!
//! ```text
//!   a (SCSP) ── a-pub (publisher)          b (SCSP) ── b-rep (replicator of a → b)
//!   a ── a-rep (replicator of b → a)       b ── b-pub (publisher)      [bidirectional]
//! ```
//!
//! "The WAN" is every link between A's side (`a`, `a-pub`, `a-rep`) and B's side (`b`,
//! `b-rep`, `b-pub`): a WAN fault applies to all of them at once ([`ReplicationSpec::wan_links`]).

use std::time::Duration;

use crate::publisher::host::{PublisherConfig, PublisherFactory};
use crate::publisher::rules::Rules;
use crate::replicator::{ReplicatorConfig, ReplicatorHost};
use crate::world::{Link, World, WorldBuilder};

/// Cluster A (the source of one-way replication).
pub const A: &str = "a";
/// A's publisher.
pub const A_PUB: &str = "a-pub";
/// Cluster B (the target).
pub const B: &str = "b";
/// The replicator that copies A into B (runs beside B).
pub const B_REP: &str = "b-rep";
/// B's publisher (bidirectional worlds).
pub const B_PUB: &str = "b-pub";
/// The replicator that copies B into A (bidirectional worlds).
pub const A_REP: &str = "a-rep";

/// The publisher of cluster `source` as a host factory (`PublisherFactory`), with these
/// channels and poll interval.
pub fn publisher_factory(source: &str, rules: Rules, poll_interval: Duration) -> PublisherFactory {
    let unset = std::net::SocketAddr::from(([0, 0, 0, 0], 0));
    let mut template = PublisherConfig::new(unset, Vec::new());
    template.rules = rules;
    template.poll_interval = poll_interval;
    PublisherFactory::new(source, template)
}

/// The shape of a replication world.
#[derive(Debug, Clone)]
pub struct ReplicationSpec {
    /// SCSP nodes in A.
    pub a_nodes: usize,
    /// SCSP nodes in B.
    pub b_nodes: usize,
    /// Also replicate B into A.
    pub bidirectional: bool,
    /// The WAN's shape (every link between the two sides).
    pub wan: Link,
    /// The publishers' channels.
    pub rules: Rules,
    /// The replicators' knobs and defects (the channel among them); addresses are filled
    /// in from the world.
    pub replicator: ReplicatorConfig,
    /// Publisher poll interval.
    pub publisher_poll: Duration,
    /// SCSP health interval in both clusters.
    pub health_interval: Duration,
    /// Deliberate defects of the publishers (none in the reference).
    pub publisher_defects: crate::publisher::defects::PublisherDefects,
}

impl ReplicationSpec {
    /// Three nodes on each side, one-way, 20–50 ms of WAN latency, `PublishAll`.
    pub fn new() -> Self {
        let unset = std::net::SocketAddr::from(([0, 0, 0, 0], 0));
        Self {
            a_nodes: 3,
            b_nodes: 3,
            bidirectional: false,
            wan: Link::new().latency_ms(20, 50),
            rules: Rules::default(),
            replicator: ReplicatorConfig::new(unset, Vec::new(), Vec::new()),
            publisher_poll: Duration::from_secs(1),
            health_interval: Duration::from_secs(10),
            publisher_defects: Default::default(),
        }
    }

    /// Every WAN link as (cluster, peer): the links a WAN fault cuts or shapes.
    pub fn wan_links(&self) -> Vec<(&'static str, &'static str)> {
        let mut links = vec![(A, B), (A, B_REP), (A_PUB, B_REP)];
        if self.bidirectional {
            links.extend([(B, A_REP), (B_PUB, A_REP)]);
        }
        links
    }

    /// Builds the world (inside a madsim runtime). One client sits in A; a bidirectional
    /// world has a second in B.
    pub fn build(&self) -> Result<World, String> {
        self.builder().build()
    }

    /// The world this spec describes, as a builder (a sweep adds its trace setting).
    pub fn builder(&self) -> WorldBuilder {
        let scsp = || {
            crate::scsp::node()
                .replicas(2)
                .health_interval(self.health_interval)
        };
        let publisher_of = |source: &str| {
            let mut f = publisher_factory(source, self.rules.clone(), self.publisher_poll);
            f.set_defects(self.publisher_defects.clone());
            f
        };
        let publisher = publisher_of(A);
        let replicator = ReplicatorHost::new(self.replicator.clone(), A_PUB, A, B);
        let local = Link::new();
        let mut b = World::builder()
            .cluster(A, self.a_nodes, scsp())
            .cluster(A_PUB, 1, publisher)
            .cluster(B, self.b_nodes, scsp())
            .cluster(B_REP, 1, replicator)
            .wan(A, A_PUB, local)
            .wan(B, B_REP, local);
        if self.bidirectional {
            let back = publisher_of(B);
            b = b
                .cluster(B_PUB, 1, back)
                .cluster(
                    A_REP,
                    1,
                    ReplicatorHost::new(self.replicator.clone(), B_PUB, B, A),
                )
                .wan(B, B_PUB, local)
                .wan(A, A_REP, local);
        }
        for (x, y) in self.wan_links() {
            b = b.wan(x, y, self.wan);
        }
        b = b.client_in(A);
        if self.bidirectional {
            b = b.client_in(B);
        }
        b
    }
}

impl Default for ReplicationSpec {
    fn default() -> Self {
        Self::new()
    }
}
