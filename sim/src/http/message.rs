//! Node-to-node HTTP exchanges as whole messages, inside the simulator only.
//!
//! About three quarters of a simulation's exchanges are node to node (bids, replica pushes,
//! inventories, journal reads). Sent as HTTP/1.1 bytes over simulated TCP, each one paid
//! hyper's encoding and parsing on both sides and the stream machinery, about as much CPU
//! as a raw ping-pong, before any node logic ran. Here the same `http::Request<Bytes>` (the
//! same method, target, body and peer signature) travels as one message on a
//! [`rt::channel`], and the same handler answers it with an `http::Response<Bytes>`. Only
//! the headers of HTTP/1.1's framing are left out both ways (`Host`, `Content-Length`: the
//! channel names its host, the length travels with the bytes, and no node reads them on a
//! node-to-node exchange). Peers speak HTTP semantics in both worlds; bytes only over real
//! TCP, where nothing changes.
//!
//! A channel behaves as a keep-alive connection: the pool keeps idle ones per peer, the
//! serving host runs one task per channel that answers its requests in order, and a request
//! that finds its reused channel gone is resent once on a fresh one (node-to-node requests
//! are idempotent). Failures come from the same madsim machinery as the streams', so they
//! happen where TCP's would (see `rt::channel`).

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{Request, Response};

use crate::http::client::{Answer, ExchangeError};
use crate::http::idle::Idle;
use crate::rt::{self, channel::Channel};

/// True when a request to `target` goes as a message from the calling task: inside a
/// simulation, from a host the world knows, to a node-to-node path.
pub fn carries(target: &str) -> bool {
    target.starts_with(crate::scsp::peer::INTERNAL_PREFIX) && rt::channel::available()
}

/// One exchange with `addr`, on an idle channel when there is one. `request` builds the
/// request anew for each attempt (a resend is signed again). The caller bounds the whole
/// exchange in time.
pub async fn exchange(
    idle: &Idle<Channel>,
    addr: SocketAddr,
    request: impl Fn() -> Result<Request<Bytes>, ExchangeError>,
    body_bytes_max: usize,
    idempotent: bool,
) -> Result<Answer, ExchangeError> {
    if let Some(channel) = idle.take(addr) {
        match send_on(idle, channel, addr, request()?, body_bytes_max, idempotent).await {
            Ok(answer) => return Ok(answer),
            // The reused channel died before answering: try a fresh one.
            Err(Attempt::Stale) => {}
            Err(Attempt::Failed(e)) => return Err(e),
        }
    }
    let channel = rt::channel::connect(addr)
        .await
        .map_err(|e| ExchangeError(format!("connect {addr}: {e}")))?;
    match send_on(idle, channel, addr, request()?, body_bytes_max, idempotent).await {
        Ok(answer) => Ok(answer),
        Err(Attempt::Stale) => Err(ExchangeError(format!("{addr} closed the connection"))),
        Err(Attempt::Failed(e)) => Err(e),
    }
}

async fn send_on(
    idle: &Idle<Channel>,
    mut channel: Channel,
    addr: SocketAddr,
    request: Request<Bytes>,
    body_bytes_max: usize,
    idempotent: bool,
) -> Result<Answer, Attempt> {
    // Never sent: always safe to resend.
    if channel.send(Box::new(request)).await.is_err() {
        return Err(Attempt::Stale);
    }
    let reply = match channel.recv().await {
        Ok(reply) => reply,
        Err(_) if idempotent => return Err(Attempt::Stale),
        Err(e) => return Err(Attempt::Failed(ExchangeError(format!("send {addr}: {e}")))),
    };
    let response = reply
        .downcast::<Response<Bytes>>()
        .map_err(|_| Attempt::Failed(ExchangeError(format!("{addr} answered something else"))))?;
    let (parts, body) = response.into_parts();
    if body.len() > body_bytes_max {
        return Err(Attempt::Failed(ExchangeError(format!(
            "body {addr}: length limit exceeded"
        ))));
    }
    idle.put(addr, channel);
    Ok(Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

enum Attempt {
    Stale,
    Failed(ExchangeError),
}

/// Serves requests that arrive as messages on `addr` forever: one task per channel, its
/// requests answered in order. `handle` answers `None` to drop the channel unanswered (as a
/// server aborts a connection whose response body fails).
pub async fn serve<H, F>(addr: SocketAddr, handle: H) -> io::Result<()>
where
    H: Fn(Request<Bytes>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Option<Response<Bytes>>> + Send + 'static,
{
    let listener = rt::channel::listen(addr).await?;
    rt::spawn(async move {
        loop {
            let channel = match listener.accept().await {
                Ok((channel, _)) => channel,
                Err(_) => {
                    rt::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            };
            rt::spawn(serve_channel(channel, handle.clone()));
        }
    });
    Ok(())
}

async fn serve_channel<H, F>(mut channel: Channel, handle: H)
where
    H: Fn(Request<Bytes>) -> F,
    F: Future<Output = Option<Response<Bytes>>>,
{
    while let Ok(message) = channel.recv().await {
        let Ok(request) = message.downcast::<Request<Bytes>>() else {
            return;
        };
        let Some(response) = handle(*request).await else {
            return;
        };
        if channel.send(Box::new(response)).await.is_err() {
            return;
        }
    }
}
