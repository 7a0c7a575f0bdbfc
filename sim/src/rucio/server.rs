//! Serving the catalog over HTTP/1.1 with hyper through the runtime shim: the same code
//! inside a madsim node and on real loopback TCP.

use std::io;
use std::sync::{Arc, Mutex};

use crate::http::accept::serve_forever;

use crate::rt::Listener;
use crate::rucio::catalog::Catalog;
use crate::rucio::rest;

/// The catalog a server and its tests share.
pub type SharedCatalog = Arc<Mutex<Catalog>>;

/// Serves forever on a bound listener.
pub async fn run_on(catalog: SharedCatalog, listener: Listener) -> io::Result<()> {
    serve_forever(listener, move |req| {
        let catalog = catalog.clone();
        async move { rest::handle(&catalog, req).await }
    })
    .await
}

/// Binds `addr` and serves a catalog bootstrapped like tools/rucio/bootstrap.py (RSEs
/// `EAST` and `WEST`) with `defects` (none for the reference itself), for `replisim serve --rucio` and the tests that compare the
/// reference with the real server over loopback. Returns the bound address; the catalog
/// is served on a spawned task until the runtime ends.
pub async fn serve_bootstrapped(
    addr: std::net::SocketAddr,
    seed: u64,
    defects: std::collections::BTreeSet<crate::rucio::defects::Defect>,
) -> io::Result<std::net::SocketAddr> {
    let listener = crate::rt::listen(addr).await?;
    let bound = listener.local_addr()?;
    let catalog = Arc::new(Mutex::new(
        crate::rucio::bootstrap::bootstrapped(seed, &["EAST", "WEST"]).with_defects(defects),
    ));
    crate::rt::spawn(async move {
        // A listener that fails after binding has nothing left to answer; the process
        // owner sees it in the missing answers.
        let _ = run_on(catalog, listener).await;
    });
    Ok(bound)
}
