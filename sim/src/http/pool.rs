//! Keep-alive connections: one pool per node incarnation (keyed by peer), and one per
//! client.
//!
//! Opening a connection per node-to-node request doubled the work of every bid and replica
//! push. A pooled connection is reused while hyper reports it open. A request that fails on
//! a reused connection is retried once on a fresh one only when that is safe: always when
//! it was never sent, and after it was sent only in an idempotent pool (every internal
//! request is idempotent: bids, inventories, newest-wins replica pushes and discards). A
//! client's pool never resends a request that may have been acted on: it reports the
//! failure, so the caller knows the outcome is unknown.
//!
//! Inside the simulator a signed pool's node-to-node requests go as whole messages instead
//! (`http::message`): the same request, the same answer, no HTTP/1.1 bytes in between.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_LENGTH, HOST};
use http::{Method, Request, Uri};
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

use crate::http::body::collect_owned;
use crate::http::client::{Answer, ExchangeError};
use crate::http::idle::Idle;
use crate::http::message;
use crate::rt;
use crate::scsp::cluster_key::ClusterKey;
use crate::scsp::peer_auth;

/// Kinds of request counted by [`sent_by_kind`], in its order.
const KINDS: [&str; 5] = ["bid", "inventory", "replica", "other internal", "client"];

/// Requests sent through any pool, by kind, process-wide (benchmarks read them; nothing in
/// a simulation does, so they cannot change its course).
static SENT: [std::sync::atomic::AtomicU64; 5] =
    [const { std::sync::atomic::AtomicU64::new(0) }; 5];

fn count_sent(target: &str) {
    let kind = match target.strip_prefix(crate::scsp::peer::INTERNAL_PREFIX) {
        Some(rest) if rest.starts_with("bid") => 0,
        Some(rest) if rest.starts_with("inventory") => 1,
        Some(rest) if rest.starts_with("replica") => 2,
        Some(_) => 3,
        None => 4,
    };
    SENT[kind].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// How many requests pools have sent so far, by kind (node-to-node bids, inventories,
/// replica pushes and discards, other internal requests, and client requests), summed over
/// every simulation and thread of the process.
pub fn sent_by_kind() -> [(&'static str, u64); 5] {
    std::array::from_fn(|i| (KINDS[i], SENT[i].load(std::sync::atomic::Ordering::Relaxed)))
}

/// A pool of idle HTTP/1.1 connections to peers.
#[derive(Default)]
pub struct Pool {
    idle: Idle<SendRequest<Full<Bytes>>>,
    /// The `Host` value of each address sent to, formatted once: formatting the address
    /// on every request was a visible share of a simulated exchange. A list: a pool talks
    /// to a cluster's few nodes, and comparing addresses for equality is cheaper than
    /// ordering them through a tree.
    hosts: Mutex<Vec<(SocketAddr, HeaderValue)>>,
    idempotent: bool,
    /// Signs every request with the cluster key (`scsp::peer_auth`): node-to-node pools.
    key: Option<ClusterKey>,
    /// Idle message channels to peers (signed pools inside the simulator).
    channels: Idle<rt::channel::Channel>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").finish_non_exhaustive()
    }
}

impl Pool {
    /// An empty pool for requests that must not be sent twice (clients).
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty pool for idempotent requests (node to node): a request cut off on a reused
    /// connection is resent once on a fresh one.
    pub fn idempotent() -> Self {
        Self {
            idempotent: true,
            ..Self::default()
        }
    }

    /// An idempotent pool whose requests carry a node-to-node signature made with `key`
    /// (nodes and the publisher's watcher, which read `/_replisim/`).
    pub fn peers(key: ClusterKey) -> Self {
        Self {
            idempotent: true,
            key: Some(key),
            ..Self::default()
        }
    }

    /// The `Host` header value for `addr`.
    fn host(&self, addr: SocketAddr) -> HeaderValue {
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, value)) = hosts.iter().find(|(a, _)| *a == addr) {
            return value.clone();
        }
        // An address always formats to valid header text; the fallback keeps it total.
        let value = HeaderValue::try_from(addr.to_string())
            .unwrap_or_else(|_| HeaderValue::from_static("localhost"));
        hosts.push((addr, value.clone()));
        value
    }

    /// One request to `addr`, on a pooled connection when one is idle, bounded by
    /// `timeout` as a whole.
    pub async fn exchange(
        &self,
        addr: SocketAddr,
        method: Method,
        target: &str,
        body: Bytes,
        timeout: Duration,
        body_bytes_max: usize,
    ) -> Result<Answer, ExchangeError> {
        let work = self.exchange_unbounded(addr, method, target, body, body_bytes_max);
        bounded(addr, timeout, work).await
    }

    /// [`Pool::exchange`] without a deadline of its own, for a caller that bounds a round
    /// of exchanges started together by one deadline (a bid round asks every peer at once
    /// with the same bound, and one timer serves them all).
    pub async fn exchange_unbounded(
        &self,
        addr: SocketAddr,
        method: Method,
        target: &str,
        body: Bytes,
        body_bytes_max: usize,
    ) -> Result<Answer, ExchangeError> {
        count_sent(target);
        if self.key.is_some() && message::carries(target) {
            let request = || self.request(None, &method, target, body.clone(), |b| b);
            return message::exchange(
                &self.channels,
                addr,
                request,
                body_bytes_max,
                self.idempotent,
            )
            .await;
        }
        // Boxed: hyper's connection futures are kilobytes, and the message path above (most
        // exchanges in a simulation) should not carry their size in every future it is in.
        Box::pin(self.exchange_on_connection(addr, method, target, body, body_bytes_max)).await
    }

    /// [`Pool::exchange_unbounded`] over HTTP/1.1 connections.
    async fn exchange_on_connection(
        &self,
        addr: SocketAddr,
        method: Method,
        target: &str,
        body: Bytes,
        body_bytes_max: usize,
    ) -> Result<Answer, ExchangeError> {
        if let Some(sender) = self.idle.take(addr) {
            match self
                .send_on(sender, addr, &method, target, body.clone(), body_bytes_max)
                .await
            {
                Ok(answer) => return Ok(answer),
                // The reused connection died before answering: try a fresh one.
                Err(Attempt::Stale) => {}
                Err(Attempt::Failed(e)) => return Err(e),
            }
        }
        let stream = rt::connect(addr)
            .await
            .map_err(|e| ExchangeError(format!("connect {addr}: {e}")))?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| ExchangeError(format!("handshake {addr}: {e}")))?;
        rt::spawn(async move {
            let _ = conn.await;
        });
        match self
            .send_on(sender, addr, &method, target, body, body_bytes_max)
            .await
        {
            Ok(answer) => Ok(answer),
            Err(Attempt::Stale) => Err(ExchangeError(format!("{addr} closed the connection"))),
            Err(Attempt::Failed(e)) => Err(e),
        }
    }

    /// The request a pooled exchange sends: the method, the target, the peer signature when
    /// the pool signs, and the body (`wrap` gives it the body type of the path). Over
    /// HTTP/1.1 (`http_to` names the peer) it also carries `Host` and `Content-Length`. As a
    /// message (`http::message`) it leaves them out: they serve HTTP/1.1's framing (the
    /// length travels with the bytes, the channel names its host), no node reads them on a
    /// node-to-node request, and answers that come back as messages omit `Content-Length`
    /// likewise. Built in place rather than through `Request::builder()`, whose every step
    /// moves the whole request head.
    fn request<B>(
        &self,
        http_to: Option<SocketAddr>,
        method: &Method,
        target: &str,
        body: Bytes,
        wrap: impl FnOnce(Bytes) -> B,
    ) -> Result<Request<B>, ExchangeError> {
        let uri = Uri::try_from(target).map_err(|e| ExchangeError(format!("request: {e}")))?;
        let signature = self
            .key
            .as_ref()
            .map(|key| self.signature(key, method, target, &body));
        let framing = http_to.map(|addr| {
            let length = if body.is_empty() {
                HeaderValue::from_static("0")
            } else {
                HeaderValue::from(body.len())
            };
            (self.host(addr), length)
        });
        let mut request = Request::new(wrap(body));
        *request.method_mut() = method.clone();
        *request.uri_mut() = uri;
        let headers = request.headers_mut();
        if let Some((host, length)) = framing {
            headers.reserve(3);
            headers.insert(HOST, host);
            headers.insert(CONTENT_LENGTH, length);
        }
        if let Some(signature) = signature {
            headers.insert(peer_auth::HEADER_NAME, signature);
        }
        Ok(request)
    }

    /// The peer signature of a request signed now.
    fn signature(
        &self,
        key: &ClusterKey,
        method: &Method,
        target: &str,
        body: &Bytes,
    ) -> HeaderValue {
        peer_auth::signature_header(key, method.as_str(), target, body, peer_auth::now_ms())
    }

    async fn send_on(
        &self,
        mut sender: SendRequest<Full<Bytes>>,
        addr: SocketAddr,
        method: &Method,
        target: &str,
        body: Bytes,
        body_bytes_max: usize,
    ) -> Result<Answer, Attempt> {
        if sender.ready().await.is_err() {
            return Err(Attempt::Stale);
        }
        let request = self
            .request(Some(addr), method, target, body, Full::new)
            .map_err(Attempt::Failed)?;
        let response = match sender.send_request(request).await {
            Ok(r) => r,
            // Never sent: always safe to resend.
            Err(e) if e.is_canceled() => return Err(Attempt::Stale),
            Err(e) if self.idempotent && (e.is_closed() || e.is_incomplete_message()) => {
                return Err(Attempt::Stale)
            }
            Err(e) => return Err(Attempt::Failed(ExchangeError(format!("send {addr}: {e}")))),
        };
        let (parts, body) = response.into_parts();
        let body = collect_owned(body, body_bytes_max)
            .await
            .map_err(|e| Attempt::Failed(ExchangeError(format!("body {addr}: {e}"))))?;
        self.idle.put(addr, sender);
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

/// Bounds a whole exchange with `addr` by `timeout`.
async fn bounded(
    addr: SocketAddr,
    timeout: Duration,
    work: impl std::future::Future<Output = Result<Answer, ExchangeError>>,
) -> Result<Answer, ExchangeError> {
    match rt::timeout(timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(ExchangeError(format!(
            "{addr}: timed out after {timeout:?}"
        ))),
    }
}

enum Attempt {
    Stale,
    Failed(ExchangeError),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The millisecond a signature header names.
    fn signed_at(value: &HeaderValue) -> u64 {
        let text = value.to_str().expect("ascii");
        text.split_once('.').expect("ms.mac").0.parse().expect("ms")
    }

    #[test]
    fn a_reused_signature_is_the_one_signing_would_make() {
        let key = ClusterKey::from_bytes(b"test cluster key");
        let pool = Pool::peers(key.clone());
        let requests = [
            (Method::GET, "/_replisim/bid?key=a", Bytes::new()),
            (Method::GET, "/_replisim/bid?key=a", Bytes::new()),
            (Method::GET, "/_replisim/bid?key=b", Bytes::new()),
            (Method::DELETE, "/_replisim/bid?key=b", Bytes::new()),
            (
                Method::PUT,
                "/_replisim/replica",
                Bytes::from_static(b"one"),
            ),
            (
                Method::PUT,
                "/_replisim/replica",
                Bytes::from_static(b"two"),
            ),
            (
                Method::PUT,
                "/_replisim/replica",
                Bytes::from_static(b"two"),
            ),
        ];
        for (method, target, body) in requests {
            let value = pool.signature(&key, &method, target, &body);
            let expected = peer_auth::sign(&key, method.as_str(), target, &body, signed_at(&value));
            assert_eq!(
                value.to_str().expect("ascii"),
                expected,
                "{method} {target}"
            );
        }
    }
}
