//! A replicator as a host of a simulated world: the factory runs one [`Replicator`] per
//! incarnation on the host's disk, so a restart continues the saved session. Which
//! publisher and clusters it joins is given by cluster name and resolved from the world.

use std::any::Any;

use crate::replicator::config::ReplicatorConfig;
use crate::replicator::service::Replicator;
use crate::world::host::{ClusterInfo, HostEnv, HostFactory, ServiceFuture};

/// The replicator factory: every host of its cluster runs one replicator.
#[derive(Debug, Clone)]
pub struct ReplicatorHost {
    /// The knobs (addresses are filled in from the world at start).
    pub config: ReplicatorConfig,
    /// The cluster whose host 0 runs the publisher it reads.
    pub publisher: String,
    /// The cluster it copies from.
    pub source: String,
    /// The cluster it copies into.
    pub target: String,
}

impl ReplicatorHost {
    /// A replicator reading `publisher`'s enumerator, copying `source` into `target`.
    pub fn new(config: ReplicatorConfig, publisher: &str, source: &str, target: &str) -> Self {
        Self {
            config,
            publisher: publisher.to_string(),
            source: source.to_string(),
            target: target.to_string(),
        }
    }
}

fn hosts_of(world: &[ClusterInfo], name: &str) -> Vec<std::net::SocketAddr> {
    world
        .iter()
        .find(|c| c.name == name)
        .map(|c| c.hosts.clone())
        .unwrap_or_default()
}

impl HostFactory for ReplicatorHost {
    fn kind(&self) -> &'static str {
        "replicator"
    }

    fn start(&self, env: HostEnv) -> ServiceFuture {
        let mut config = self.config.clone();
        config.source = hosts_of(&env.world, &self.source);
        config.target = hosts_of(&env.world, &self.target);
        let publisher = hosts_of(&env.world, &self.publisher).first().copied();
        Box::pin(async move {
            let Some(publisher) = publisher else {
                env.trace
                    .record("replicator", "no publisher host in the world: not started");
                return;
            };
            config.publisher = publisher;
            Replicator::new(config, env.disk.clone(), env.trace.clone())
                .run()
                .await;
        })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
