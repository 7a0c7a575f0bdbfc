//! A publisher as one host of a world: the factory a simulated host (or `serve`) runs on
//! every incarnation. Each start reads the journal back from the host's disk, begins with
//! no enumerators (a restart ends them all: 404, the subscriber starts again) and full
//! inventories, then serves the Enumerator API and polls the cluster.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use crate::publisher::core::Publisher;
use crate::publisher::durable::DurableLog;
use crate::publisher::http::{self, SharedPublisher};
use crate::publisher::rules::Rules;
use crate::publisher::watcher::Watcher;
use crate::rt;
use crate::scsp::cluster_key::ClusterKey;
use crate::store::SharedDisk;

/// What a publisher host needs; cloned into every incarnation.
#[derive(Debug, Clone)]
pub struct PublisherConfig {
    /// Where the Enumerator API listens.
    pub addr: SocketAddr,
    /// The SCSP nodes whose events it publishes.
    pub nodes: Vec<SocketAddr>,
    /// The channels (a parsed rules file).
    pub rules: Rules,
    /// Time between two polls of the cluster (the bound on how late an event is seen).
    pub poll_interval: Duration,
    /// Bound of each call to a node.
    pub node_timeout: Duration,
    /// The SCSP cluster's key, which signs the inventory polls (nodes refuse unsigned ones).
    pub cluster_key: Option<ClusterKey>,
}

impl PublisherConfig {
    /// Defaults: `PublishAll` only, a poll every second, 5 s per node call.
    pub fn new(addr: SocketAddr, nodes: Vec<SocketAddr>) -> Self {
        Self {
            addr,
            nodes,
            rules: Rules::default(),
            poll_interval: Duration::from_secs(1),
            node_timeout: Duration::from_secs(5),
            cluster_key: None,
        }
    }
}

/// Starts a publisher incarnation on `disk` and serves until the host stops. Returns the
/// shared state to whoever wants to change its rules (after binding, before serving).
pub async fn start(config: PublisherConfig, disk: SharedDisk) -> io::Result<SharedPublisher> {
    let listener = rt::listen(config.addr).await?;
    let publisher = SharedPublisher::new(Publisher::new(
        DurableLog::new(disk),
        config.rules.clone(),
        rt::random_u64(),
    ));
    let mut watcher = Watcher::new(config.nodes.clone(), config.node_timeout);
    if let Some(key) = &config.cluster_key {
        watcher = watcher.signed(key.clone());
    }
    rt::spawn(watcher.run(publisher.clone(), config.poll_interval));
    let served = publisher.clone();
    rt::spawn(async move {
        let _ = http::serve(served, listener).await;
    });
    Ok(publisher)
}

/// [`start`], then runs until the host stops: the body of a host factory.
pub async fn run(config: PublisherConfig, disk: SharedDisk) -> io::Result<()> {
    start(config, disk).await?;
    futures::future::pending::<()>().await;
    Ok(())
}
