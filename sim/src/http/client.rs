//! A minimal hyper-based HTTP/1.1 client over the runtime shim, one connection per request.
//!
//! Node-to-node traffic, the workload driver and the benchmarks use it. The conformance
//! harness has its own strict, transcript-recording client; this one trusts hyper.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;

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
    let method_name = method.as_str().to_string();
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
        let mut builder = Request::builder()
            .method(method)
            .uri(target)
            .header(http::header::HOST, addr.to_string());
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        // hyper leaves Content-Length out of an empty body; SCSP WRITEs need it (411).
        let says_length = headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-length"));
        let carries_body =
            !body.is_empty() || matches!(method_name.as_str(), "POST" | "PUT" | "APPEND");
        if carries_body && !says_length {
            builder = builder.header(http::header::CONTENT_LENGTH, body.len().to_string());
        }
        let request = builder
            .body(Full::new(body))
            .map_err(|e| ExchangeError(format!("request: {e}")))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| ExchangeError(format!("send {addr}: {e}")))?;
        let (parts, body) = response.into_parts();
        let collected = Limited::new(body, body_bytes_max)
            .collect()
            .await
            .map_err(|e| ExchangeError(format!("body {addr}: {e}")))?;
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body: collected.to_bytes(),
        })
    };
    match rt::timeout(timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(ExchangeError(format!(
            "{addr}: timed out after {timeout:?}"
        ))),
    }
}
