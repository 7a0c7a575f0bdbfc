//! The accept loop of the services that need nothing per connection (the publisher, the
//! Rucio catalog): one task per connection, HTTP/1.1 through hyper, in either world.

use std::convert::Infallible;
use std::future::Future;
use std::io;

use http::{Request, Response};
use hyper::body::{Body, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

use crate::rt::{self, Listener};

/// Serves `handle` on `listener` forever. A failed accept (a reset in the simulator, a
/// descriptor limit on a real host) is waited out for 10 ms instead of ending the service.
pub async fn serve_forever<H, F, B>(listener: Listener, handle: H) -> io::Result<()>
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<B>> + Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(_) => {
                rt::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let handle = handle.clone();
        rt::spawn(async move {
            let service = service_fn(move |req| {
                let answer = handle(req);
                async move { Ok::<_, Infallible>(answer.await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
