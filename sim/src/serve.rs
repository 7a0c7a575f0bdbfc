//! The same reference nodes over real loopback TCP under tokio (`replisim serve`, and the
//! real-network tests). Nothing here forks protocol logic: it only binds sockets and spawns
//! `server::run_on` for each node.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use crate::rt;
pub use crate::rt::tls::TlsServer;
use crate::scsp::alternatives::Alternatives;
use crate::scsp::cluster_key::{ClusterKey, KEY_BYTES};
use crate::scsp::config::{ClusterConfig, NodeContext, NodeControl};
use crate::scsp::server;
use crate::store::SharedDisk;
use crate::trace::Trace;

/// Settings of a real cluster.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Number of nodes.
    pub nodes: usize,
    /// Port of the first node; the others follow. 0 picks free ports.
    pub first_port: u16,
    /// Address to bind (loopback by default).
    pub ip: IpAddr,
    /// Disk size of each node.
    pub disk_bytes: u64,
    /// Seed for placement tie-breaks and UUIDs.
    pub seed: u64,
    /// Other choices of every node (`--choice`; all off by default).
    pub alternatives: Alternatives,
    /// Cluster settings applied on top of the defaults (addresses are filled in here).
    pub tune: fn(&mut ClusterConfig),
    /// The cluster key; `None` draws a fresh one from the operating system at start
    /// (`--secret-file` gives one).
    pub key: Option<ClusterKey>,
    /// Allow binding an address other than loopback (`--allow-remote`): the nodes then
    /// answer anyone who can reach the machine.
    pub allow_remote: bool,
    /// Serve TLS on every node port (plain HTTP still accepted, for node-to-node traffic);
    /// the nodes' URLs then say `https`.
    pub tls: Option<TlsServer>,
}

impl ServeConfig {
    /// `nodes` nodes on 127.0.0.1 from `first_port`.
    pub fn new(nodes: usize, first_port: u16) -> Self {
        Self {
            nodes,
            first_port,
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            disk_bytes: 1 << 30,
            seed: 0,
            alternatives: Alternatives::default(),
            tune: |_| {},
            key: None,
            allow_remote: false,
            tls: None,
        }
    }
}

/// A running real cluster: its addresses and the operator handles of its nodes.
#[derive(Debug, Clone)]
pub struct RealCluster {
    /// Node addresses in id order.
    pub addrs: Vec<SocketAddr>,
    /// Operator switches per node.
    pub controls: Vec<Arc<NodeControl>>,
    /// Disks per node.
    pub disks: Vec<SharedDisk>,
    /// The cluster key, for services beside the nodes that poll them (a publisher).
    pub key: ClusterKey,
}

/// Binds every node's listener, then starts the nodes on the current tokio runtime.
pub async fn start(config: ServeConfig) -> std::io::Result<RealCluster> {
    if config.nodes == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "a cluster needs at least one node",
        ));
    }
    if !config.ip.is_loopback() && !config.allow_remote {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "{} is not a loopback address: the reference nodes have no access control \
                 for clients, so serving beyond this machine needs --allow-remote",
                config.ip
            ),
        ));
    }
    let key = match config.key.clone() {
        Some(key) => key,
        None => os_key()?,
    };
    rt::seed_real_rng(config.seed);
    let mut listeners = Vec::new();
    for i in 0..config.nodes {
        let port = if config.first_port == 0 {
            0
        } else {
            config.first_port.checked_add(i as u16).ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "port range runs past 65535",
                )
            })?
        };
        let mut listener = rt::listen(SocketAddr::new(config.ip, port)).await?;
        if let Some(tls) = &config.tls {
            listener = listener.with_tls(tls.clone())?;
        }
        listeners.push(listener);
    }
    let addrs = listeners
        .iter()
        .map(|l| l.local_addr())
        .collect::<std::io::Result<Vec<_>>>()?;
    let mut cluster = ClusterConfig::new(addrs.clone());
    cluster.placement_seed = config.seed;
    cluster.set_alternatives(config.alternatives);
    (config.tune)(&mut cluster);
    cluster.nodes = addrs.clone();
    cluster.key = key;
    if config.tls.is_some() {
        cluster.url_scheme = "https";
    }
    let cluster = Arc::new(cluster);
    let mut out = RealCluster {
        addrs,
        controls: Vec::new(),
        disks: Vec::new(),
        key: cluster.key.clone(),
    };
    for (id, listener) in listeners.into_iter().enumerate() {
        let ctx = NodeContext::new(id, cluster.clone(), config.disk_bytes, Trace::disabled());
        out.controls.push(ctx.control.clone());
        out.disks.push(ctx.disk.clone());
        rt::spawn(async move {
            let _ = server::run_on(ctx, listener).await;
        });
    }
    Ok(out)
}

/// Starts a reference replicator (`replisim serve --replicator`) on the current tokio
/// runtime: it reads `config.publisher`'s enumerator and copies `config.source` into
/// `config.target`. Its session lives on an in-memory disk, which it returns: it lasts as
/// long as the process.
pub fn start_replicator(config: crate::replicator::ReplicatorConfig) -> SharedDisk {
    let disk = crate::store::Disk::shared(1 << 26);
    let replicator =
        crate::replicator::service::Replicator::new(config, disk.clone(), Trace::disabled());
    rt::spawn(replicator.run());
    disk
}

/// A reference publisher beside a real cluster (`replisim serve --publisher`).
#[derive(Debug, Clone)]
pub struct RealPublisher {
    /// Where its Enumerator API listens.
    pub addr: SocketAddr,
    /// Its state, for rules changes.
    pub publisher: crate::publisher::http::SharedPublisher,
}

/// Binds `addr` (port 0 picks one) and starts a reference publisher watching `nodes`,
/// configured like `config` (its `addr` and `nodes` are replaced), on the current tokio
/// runtime. Its journal lives in memory for the life of the process.
pub async fn start_publisher(
    addr: SocketAddr,
    nodes: Vec<SocketAddr>,
    config: crate::publisher::host::PublisherConfig,
) -> std::io::Result<RealPublisher> {
    let listener = rt::listen(addr).await?;
    let addr = listener.local_addr()?;
    let config = crate::publisher::host::PublisherConfig {
        addr,
        nodes,
        ..config
    };
    let disk = crate::store::Disk::shared(1 << 30);
    let publisher = crate::publisher::host::start_on(config, disk, listener);
    Ok(RealPublisher { addr, publisher })
}

/// A fresh cluster key from the operating system's random source. Only `serve` draws one:
/// node code gets its key from its `ClusterConfig` (the simulator derives it from the seed).
pub fn os_key() -> std::io::Result<ClusterKey> {
    let mut bytes = [0u8; KEY_BYTES];
    getrandom::fill(&mut bytes)
        .map_err(|e| std::io::Error::other(format!("no random cluster key from the OS: {e}")))?;
    Ok(ClusterKey::from_bytes(&bytes))
}
