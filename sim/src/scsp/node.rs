//! The reference SCSP node as a world host factory (`scsp::node()`): the cluster settings
//! and operator switches it keeps across restarts, and the `NodeContext` it builds for each
//! incarnation from what the world hands it.

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::http::pool::Pool;
use crate::scsp::alternatives::Alternatives;
use crate::scsp::cluster_key::ClusterKey;
use crate::scsp::config::{ClusterConfig, NodeContext, NodeControl};
use crate::scsp::defects::Defect;
use crate::scsp::server;
use crate::world::host::{ClusterInfo, HostEnv, HostFactory, ServiceFuture};

/// Extra settings applied to a cluster's `ClusterConfig` after the factory's own.
pub type Tune = Arc<dyn Fn(&mut ClusterConfig) + Send + Sync>;

/// The SCSP node factory. Its knobs apply to every cluster it is given to.
#[derive(Clone)]
pub struct ScspNode {
    replicas: usize,
    health_interval: Duration,
    defects: BTreeSet<Defect>,
    alternatives: Alternatives,
    tune: Option<Tune>,
    clusters: Arc<Mutex<BTreeMap<String, Prepared>>>,
}

/// What one cluster of SCSP nodes shares, made once when the world is built.
#[derive(Clone)]
struct Prepared {
    config: Arc<ClusterConfig>,
    controls: Vec<Arc<NodeControl>>,
}

/// A factory of reference SCSP nodes with the documented defaults (2 replicas, a 10 s
/// health interval, no defects).
pub fn node() -> ScspNode {
    ScspNode {
        replicas: 2,
        health_interval: Duration::from_secs(10),
        defects: BTreeSet::new(),
        alternatives: Alternatives::default(),
        tune: None,
        clusters: Arc::new(Mutex::new(BTreeMap::new())),
    }
}

impl ScspNode {
    /// Replicas per object (`policy.replicas`).
    pub fn replicas(mut self, replicas: usize) -> Self {
        self.replicas = replicas;
        self
    }

    /// How often each node's health processor runs.
    pub fn health_interval(mut self, interval: Duration) -> Self {
        self.health_interval = interval;
        self
    }

    /// Deliberate defects in every node.
    pub fn defects(mut self, defects: BTreeSet<Defect>) -> Self {
        self.defects = defects;
        self
    }

    /// Other choices of every node (docs/choices.md; the reference by default).
    pub fn alternatives(mut self, alternatives: Alternatives) -> Self {
        self.alternatives = alternatives;
        self
    }

    /// Any other cluster setting (applied last; the node list is the world's).
    pub fn tune(mut self, tune: impl Fn(&mut ClusterConfig) + Send + Sync + 'static) -> Self {
        self.tune = Some(Arc::new(tune));
        self
    }

    fn prepared(&self) -> MutexGuard<'_, BTreeMap<String, Prepared>> {
        self.clusters.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The settings of the named cluster, once the world is built.
    pub fn config(&self, cluster: &str) -> Option<Arc<ClusterConfig>> {
        self.prepared().get(cluster).map(|p| p.config.clone())
    }

    /// The operator switches of node `index` of the named cluster.
    pub fn control(&self, cluster: &str, index: usize) -> Option<Arc<NodeControl>> {
        self.prepared()
            .get(cluster)
            .and_then(|p| p.controls.get(index).cloned())
    }
}

impl HostFactory for ScspNode {
    fn kind(&self) -> &'static str {
        "scsp"
    }

    fn prepare(&self, cluster: &ClusterInfo, seed: u64) {
        let mut config = ClusterConfig::new(cluster.hosts.clone());
        config.placement_seed = seed;
        config.key = ClusterKey::from_seed(seed, &cluster.name);
        config.policy_replicas = self.replicas;
        config.health_interval = self.health_interval;
        config.defects = self.defects.clone();
        config.set_alternatives(self.alternatives);
        if let Some(tune) = &self.tune {
            tune(&mut config);
        }
        config.nodes = cluster.hosts.clone();
        let controls = (0..cluster.hosts.len())
            .map(|_| Arc::new(NodeControl::default()))
            .collect();
        self.prepared().insert(
            cluster.name.clone(),
            Prepared {
                config: Arc::new(config),
                controls,
            },
        );
    }

    fn start(&self, env: HostEnv) -> ServiceFuture {
        let prepared = self.prepared().get(&env.cluster.name).cloned();
        if let (0, Some(p)) = (env.incarnation, &prepared) {
            // The `clock-skew` alternative: each node's clock starts off by its own offset
            // (the host clock keeps it, and any later skew, across restarts).
            let cluster = &p.config;
            env.clock.set_skew_ms(
                cluster
                    .alternatives
                    .skew_ms(cluster.placement_seed, env.id.index),
            );
        }
        Box::pin(async move {
            let Some((prepared, control)) = prepared.and_then(|p| {
                let control = p.controls.get(env.id.index).cloned()?;
                Some((p, control))
            }) else {
                env.trace
                    .record(&env.name, "not started: cluster was never prepared");
                return;
            };
            // A restarted node has no connections left: a new pool per incarnation.
            let pool = Arc::new(Pool::peers(prepared.config.key.clone()));
            let ctx = NodeContext {
                id: env.id.index,
                cluster: prepared.config,
                disk: env.disk,
                clock: env.clock,
                control,
                trace: env.trace,
                pool,
            };
            if let Err(e) = server::run(ctx.clone()).await {
                ctx.trace(format!("server stopped: {e}"));
            }
        })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
