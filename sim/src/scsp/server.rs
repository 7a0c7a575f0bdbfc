//! Running a node: accept connections and serve each with hyper, plus the health processor.
//! The same function runs on a simulated node and under `replisim serve`.

use std::convert::Infallible;
use std::io;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Body as _;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

use crate::http::message;
use crate::rt::{self, Listener};
use crate::scsp::config::NodeContext;
use crate::scsp::defects::Defect;
use crate::scsp::records::Objects;
use crate::scsp::response::Body;
use crate::scsp::{health, router};

/// Binds the node's own address and serves forever.
pub async fn run(ctx: NodeContext) -> io::Result<()> {
    let listener = rt::listen(ctx.addr()).await?;
    run_on(ctx, listener).await
}

/// Serves forever on an already bound listener (the real server binds first to learn its
/// ports).
pub async fn run_on(ctx: NodeContext, listener: Listener) -> io::Result<()> {
    if rt::in_sim() {
        serve_messages(ctx.clone(), listener.local_addr()?).await?;
    }
    ctx.trace("up");
    rt::spawn(health::run(ctx.clone()));
    if ctx.cluster.has(Defect::AckBeforeSync) {
        rt::spawn(flush_lazily(ctx.clone()));
    }
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                ctx.trace(format!("accept failed: {e}"));
                rt::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        // Room for SCSP-16's limits (500 metadata headers, 32 KB of them) so that the node,
        // not hyper, decides and answers 400 with a reason. hyper sizes a per-request array
        // by the header count, so connections known to come from peers (a distinct cluster
        // address, as in the simulator) keep hyper's small default.
        let from_peer =
            !remote.ip().is_loopback() && ctx.cluster.nodes.iter().any(|n| n.ip() == remote.ip());
        let options = ConnectionOptions {
            from_peer,
            half_close: false,
        };
        rt::spawn(serve_connection(ctx.clone(), stream, options));
    }
}

/// Inside the simulator, node-to-node requests also arrive as whole messages on the node's
/// own address (`http::message`); they are answered by the same handler as over HTTP/1.1.
async fn serve_messages(ctx: NodeContext, addr: std::net::SocketAddr) -> io::Result<()> {
    message::serve(addr, move |req| {
        // Answered here rather than in the future: the channel's task awaits the future at
        // once, so this is the same moment, and the future need not own a clone of the
        // node's context (a handful of reference counts, per message).
        let response = router::handle_message(&ctx, req);
        async move {
            let (parts, body) = response.into_parts();
            // A body that fails aborts the exchange, as it aborts an HTTP/1.1 connection.
            // No `Content-Length` is added: the length travels with the bytes, and no reader
            // of a peer's answer looks at that header.
            let body = whole_body(body).await?;
            Some(http::Response::from_parts(parts, body))
        }
    })
    .await
}

/// A response body as one `Bytes`, or `None` when it fails. Nearly every answer is a single
/// frame (`response::full`), which is taken as it is rather than collected into a buffer
/// list; anything longer is collected as before. Trailers carry no bytes, as in `collect`.
async fn whole_body(mut body: Body) -> Option<Bytes> {
    let first = match body.frame().await {
        None => return Some(Bytes::new()),
        Some(frame) => frame.ok()?.into_data().unwrap_or_default(),
    };
    if body.is_end_stream() {
        return Some(first);
    }
    let rest = body.collect().await.ok()?.to_bytes();
    if first.is_empty() {
        return Some(rest);
    }
    let mut all = bytes::BytesMut::with_capacity(first.len() + rest.len());
    all.extend_from_slice(&first);
    all.extend_from_slice(&rest);
    Some(all.freeze())
}

/// How one connection is served.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConnectionOptions {
    /// The connection comes from a peer node (hyper's default header count suffices).
    pub from_peer: bool,
    /// Answer requests whose sender already closed its sending side. Off for real
    /// connections (a client that goes away abandons its request, as hyper does by
    /// default); the fuzz tests turn it on to send an input and read everything back.
    pub half_close: bool,
}

/// Serves HTTP/1.1 requests on one connection until it closes: what every accepted
/// connection gets, and the entry the request-handling fuzz tests feed bytes through.
pub async fn serve_connection<IO>(ctx: NodeContext, io: IO, options: ConnectionOptions)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req| {
        let ctx = ctx.clone();
        async move { Ok::<_, Infallible>(router::handle(ctx, req).await) }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.max_buf_size(256 * 1024);
    builder.half_close(options.half_close);
    if !options.from_peer {
        builder.max_headers(crate::scsp::limits::PERSISTED_HEADERS_MAX + 40);
    }
    let _ = builder.serve_connection(TokioIo::new(io), service).await;
}

/// With the `ack-before-sync` defect, acknowledged records reach the disk only here.
async fn flush_lazily(ctx: NodeContext) {
    loop {
        rt::sleep(std::time::Duration::from_secs(10)).await;
        Objects::lock(&ctx.disk).sync();
    }
}
