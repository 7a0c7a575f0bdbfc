//! A DS3 gateway as one host of a world, or on a real socket (`replisim serve --ds3`):
//! each incarnation opens the gateway on the host's disk, runs the clock's work every
//! second (persisting, loading, expiry) and serves the DS3 API.

use std::any::Any;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::clock::HostClock;
use crate::ds3::auth::Credentials;
use crate::ds3::durable::Storage;
use crate::ds3::gateway::{Gateway, GatewayConfig};
use crate::ds3::http::{self, Service};
use crate::http::accept::serve_forever;
use crate::rt::{self, Listener};
use crate::store::SharedDisk;
use crate::world::host::{HostEnv, HostFactory, ServiceFuture};

/// Builds DS3 gateway hosts. Each host of the cluster is one gateway with its own disk
/// (its cache and permanent store); the cluster is one BlackPearl system.
#[derive(Debug, Clone)]
pub struct Ds3Factory {
    /// The gateway's knobs (the seed is mixed with the world's and the host's).
    pub config: GatewayConfig,
    /// Who may sign requests.
    pub credentials: Arc<Credentials>,
}

impl Ds3Factory {
    /// A factory with the given knobs and users.
    pub fn new(config: GatewayConfig, credentials: Credentials) -> Self {
        Self {
            config,
            credentials: Arc::new(credentials),
        }
    }
}

impl HostFactory for Ds3Factory {
    fn kind(&self) -> &'static str {
        "ds3"
    }

    fn start(&self, env: HostEnv) -> ServiceFuture {
        let mut config = self.config.clone();
        config.seed = rt::splitmix64(config.seed ^ env.seed ^ ((env.id.global as u64) << 32));
        config.end_point = env.addr.to_string();
        let credentials = self.credentials.clone();
        Box::pin(async move {
            if let Ok(listener) = rt::listen(env.addr).await {
                let _ = run_on(config, credentials, env.disk, env.clock, listener).await;
            }
        })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Opens the gateway on `disk` and serves on `listener` until the host stops.
pub async fn run_on(
    config: GatewayConfig,
    credentials: Arc<Credentials>,
    disk: SharedDisk,
    clock: HostClock,
    listener: Listener,
) -> io::Result<()> {
    let gateway = Arc::new(Mutex::new(Gateway::open(config, Storage::new(disk))));
    let service = Service {
        gateway,
        credentials,
        clock,
    };
    let ticking = service.clone();
    rt::spawn(async move {
        loop {
            rt::sleep(Duration::from_secs(1)).await;
            let now = ticking.clock.now_ms();
            ticking.lock().advance(now);
        }
    });
    serve_forever(listener, move |req| http::handle(service.clone(), req)).await
}

/// Starts a gateway on a real socket under the current tokio runtime; returns its address.
pub async fn serve_real(
    config: GatewayConfig,
    credentials: Credentials,
    addr: SocketAddr,
    disk: SharedDisk,
) -> io::Result<SocketAddr> {
    let listener = rt::listen(addr).await?;
    let local = listener.local_addr()?;
    let mut config = config;
    config.end_point = local.to_string();
    rt::spawn(async move {
        let _ = run_on(
            config,
            Arc::new(credentials),
            disk,
            HostClock::new(),
            listener,
        )
        .await;
    });
    Ok(local)
}
