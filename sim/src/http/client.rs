//! A minimal hyper-based HTTP/1.1 client over the runtime shim, one connection per request.
//!
//! Node-to-node traffic, the workload driver and the benchmarks use it. The conformance
//! harness has its own strict, transcript-recording client; this one trusts hyper.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_LENGTH, HOST};
use http::{HeaderMap, Method, Request, StatusCode, Uri};
use http_body_util::Full;
use hyper_util::rt::TokioIo;

use crate::http::body::collect_owned;
use crate::rt;

/// A collected response.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Status code.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

impl Answer {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Why an exchange failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeError(pub String);

impl std::fmt::Display for ExchangeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ExchangeError {}

/// Sends one request on a fresh connection and collects the answer, all within `timeout`.
/// `target` is the origin-form path and query; `Host` is set to `addr`.
pub async fn exchange(
    addr: SocketAddr,
    method: Method,
    target: &str,
    headers: &[(&str, &str)],
    body: Bytes,
    timeout: Duration,
    body_bytes_max: usize,
) -> Result<Answer, ExchangeError> {
    // POST, PUT and APPEND carry a body even when it is empty (see below).
    let carries_body_method = matches!(method.as_str(), "POST" | "PUT" | "APPEND");
    let work = async {
        let stream = rt::connect(addr)
            .await
            .map_err(|e| ExchangeError(format!("connect {addr}: {e}")))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| ExchangeError(format!("handshake {addr}: {e}")))?;
        rt::spawn(async move {
            let _ = conn.await;
        });
        // Built in place rather than through `Request::builder()`, whose every step moves the
        // whole request head; header names are parsed as the builder would.
        let bad = |e: &dyn std::fmt::Display| ExchangeError(format!("request: {e}"));
        let uri = Uri::try_from(target).map_err(|e| bad(&e))?;
        // hyper leaves Content-Length out of an empty body; SCSP WRITEs need it (411).
        let says_length = headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-length"));
        let length = ((!body.is_empty() || carries_body_method) && !says_length)
            .then(|| HeaderValue::from(body.len()));
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = method;
        *request.uri_mut() = uri;
        let map = request.headers_mut();
        map.reserve(headers.len() + 2);
        let host = HeaderValue::try_from(addr.to_string()).map_err(|e| bad(&e))?;
        map.append(HOST, host);
        for (k, v) in headers {
            let name = HeaderName::from_bytes(k.as_bytes()).map_err(|e| bad(&e))?;
            let value = HeaderValue::from_str(v).map_err(|e| bad(&e))?;
            map.append(name, value);
        }
        if let Some(length) = length {
            map.append(CONTENT_LENGTH, length);
        }
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| ExchangeError(format!("send {addr}: {e}")))?;
        let (parts, body) = response.into_parts();
        let body = collect_owned(body, body_bytes_max)
            .await
            .map_err(|e| ExchangeError(format!("body {addr}: {e}")))?;
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    };
    match rt::timeout(timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(ExchangeError(format!(
            "{addr}: timed out after {timeout:?}"
        ))),
    }
}
