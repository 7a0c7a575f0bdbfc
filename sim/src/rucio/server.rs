//! Serving the catalog over HTTP/1.1 with hyper through the runtime shim: the same code
//! inside a madsim node and on real loopback TCP.

use std::convert::Infallible;
use std::io;
use std::sync::{Arc, Mutex};

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

use crate::rt::{self, Listener};
use crate::rucio::catalog::Catalog;
use crate::rucio::rest;

/// The catalog a server and its tests share.
pub type SharedCatalog = Arc<Mutex<Catalog>>;

/// Serves forever on a bound listener.
pub async fn run_on(catalog: SharedCatalog, listener: Listener) -> io::Result<()> {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(_) => {
                rt::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let catalog = catalog.clone();
        rt::spawn(async move {
            let service = service_fn(move |req| {
                let catalog = catalog.clone();
                async move { Ok::<_, Infallible>(rest::handle(&catalog, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
