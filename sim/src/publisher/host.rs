//! A publisher as one host of a world: the factory a simulated host (or `serve`) runs on
//! every incarnation. Each start reads the journal back from the host's disk, begins with
//! no enumerators (a restart ends them all: 404, the subscriber starts again), full
//! inventories and the node-journal cursors it saved, then serves the Enumerator API and
//! polls the cluster.

use std::any::Any;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::publisher::alternatives::PublisherAlternatives;
use crate::publisher::core::Publisher;
use crate::publisher::defects::{PublisherDefect, PublisherDefects};
use crate::publisher::durable::DurableLog;
use crate::publisher::http::{self, SharedPublisher};
use crate::publisher::rules::Rules;
use crate::publisher::watcher::Watcher;
use crate::rt;
use crate::scsp::cluster_key::ClusterKey;
use crate::store::SharedDisk;
use crate::world::host::{HostEnv, HostFactory, ServiceFuture};

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
    /// Deliberate defects (none in the reference).
    pub defects: PublisherDefects,
    /// The choices it makes where the document is silent (the reference's by default).
    pub alternatives: PublisherAlternatives,
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
            defects: PublisherDefects::new(),
            alternatives: PublisherAlternatives::default(),
            cluster_key: None,
        }
    }
}

/// Starts a publisher incarnation on `disk` and serves until the host stops. Returns the
/// shared state to whoever wants to change its rules (after binding, before serving).
pub async fn start(config: PublisherConfig, disk: SharedDisk) -> io::Result<SharedPublisher> {
    let listener = rt::listen(config.addr).await?;
    Ok(start_on(config, disk, listener))
}

/// [`start`] on a listener already bound (`replisim serve` binds port 0 and reports the
/// port it got).
pub fn start_on(
    config: PublisherConfig,
    disk: SharedDisk,
    listener: rt::Listener,
) -> SharedPublisher {
    let publisher = SharedPublisher::new(
        Publisher::new(
            DurableLog::new(disk.clone()),
            config.rules.clone(),
            rt::random_u64(),
        )
        .with_knobs(config.defects.clone(), config.alternatives),
    );
    let mut watcher =
        Watcher::new(config.nodes.clone(), config.node_timeout).durable(DurableLog::new(disk));
    if config
        .defects
        .contains(&PublisherDefect::IgnoresContextDeletes)
    {
        watcher = watcher.ignoring_context_deletes();
    }
    if config.defects.contains(&PublisherDefect::DiffsInventories) {
        watcher = watcher.inventories_only();
    }
    if let Some(key) = &config.cluster_key {
        watcher = watcher.signed(key.clone());
    }
    rt::spawn(watcher.run(publisher.clone(), config.poll_interval));
    let served = publisher.clone();
    rt::spawn(async move {
        let _ = http::serve(served, listener).await;
    });
    publisher
}

/// [`start`], then runs until the host stops: the body of a host factory.
pub async fn run(config: PublisherConfig, disk: SharedDisk) -> io::Result<()> {
    start(config, disk).await?;
    futures::future::pending::<()>().await;
    Ok(())
}

/// The publisher as a world host: it publishes the events of the cluster named `source`
/// (found in the world when the host starts). The factory keeps the live incarnation's
/// state, so that a test or a rule check can change the rules of the running publisher
/// (ENUM-15); a restarted host reads its journal back and starts with the rules it has.
#[derive(Debug, Clone)]
pub struct PublisherFactory {
    source: String,
    template: PublisherConfig,
    live: Arc<Mutex<Option<SharedPublisher>>>,
}

impl PublisherFactory {
    /// A publisher over cluster `source`, configured like `template` (its `addr` and
    /// `nodes` are replaced by the host's address and the cluster's hosts).
    pub fn new(source: &str, template: PublisherConfig) -> Self {
        Self {
            source: source.to_string(),
            template,
            live: Arc::new(Mutex::new(None)),
        }
    }

    /// Switches deliberate defects on for every later incarnation.
    pub fn set_defects(&mut self, defects: PublisherDefects) {
        self.template.defects = defects;
    }

    /// A rules-file change on the running publisher: every enumerator is deleted (ENUM-15).
    /// Later incarnations keep the new rules.
    pub fn reload_rules(&self, text: &str) -> Result<(), String> {
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner()).clone();
        match live {
            Some(p) => p.reload_rules(text).map_err(|e| e.to_string()),
            None => Err("the publisher is not running".to_string()),
        }
    }
}

impl HostFactory for PublisherFactory {
    fn kind(&self) -> &'static str {
        "publisher"
    }

    fn start(&self, env: HostEnv) -> ServiceFuture {
        let mut config = self.template.clone();
        config.addr = env.addr;
        config.nodes = env
            .world
            .iter()
            .find(|c| c.name == self.source)
            .map(|c| c.hosts.clone())
            .unwrap_or_default();
        // The simulated SCSP cluster's key is derived from the seed and its name
        // (`scsp::node`), which is how its peer, the publisher, can sign its polls.
        if config.cluster_key.is_none() {
            config.cluster_key = Some(ClusterKey::from_seed(env.seed, &self.source));
        }
        let live = self.live.clone();
        Box::pin(async move {
            let Ok(publisher) = start(config, env.disk).await else {
                return;
            };
            // One statement, so the guard on `live` is dropped before it is locked again.
            let old = live
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .replace(publisher.clone());
            if let Some(old) = old {
                // The previous incarnation's rules carry over (a rules change is an
                // operator's edit of the file, which a restart reads again).
                let rules = old.lock().rules().clone();
                publisher.lock().set_rules(rules);
            }
            futures::future::pending::<()>().await;
        })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
