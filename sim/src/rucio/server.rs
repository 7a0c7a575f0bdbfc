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
