//! Serves the reference Rucio catalog on real loopback TCP, bootstrapped like
//! tools/rucio/bootstrap.py, so the Python tools (calibrate.py, client_smoke.py) can drive
//! it exactly as they drive the real server:
//!
//! ```text
//! cargo run -p replisim-sim --example rucio_serve -- [PORT] [SEED]
//! python3 tools/rucio/calibrate.py --url http://127.0.0.1:PORT --compare tools/rucio/calibration.json
//! ```

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use replisim_sim::rt;
use replisim_sim::rucio::bootstrap::bootstrapped;
use replisim_sim::rucio::server::run_on;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let seed: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = rt::listen(SocketAddr::from(([127, 0, 0, 1], port))).await?;
        println!("http://{}", listener.local_addr()?);
        let catalog = Arc::new(Mutex::new(bootstrapped(seed, &["EAST", "WEST"])));
        run_on(catalog, listener).await
    })
}
