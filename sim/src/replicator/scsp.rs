//! The replicator's SCSP side: reading an object from cluster A and changing it in cluster
//! B, each request following 301/307 redirects as any SCSP client must (SCSP-3/4), and
//! trying the cluster's nodes in turn when one does not answer.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
/// The request method type `send` takes (re-exported for callers without `http`).
pub use http::Method;

use crate::http::client::{exchange, Answer};
use crate::replicator::item::{version_ms, Item};
use crate::scsp::metadata::is_persisted;
use crate::workload::redirect_target;

/// Largest object body the replicator copies (the node's own limit, docs/choices.md 15).
const BODY_BYTES_MAX: usize = 64 << 20;

/// One request with its headers, following up to four redirects, each exchange bounded.
pub async fn send(
    addr: SocketAddr,
    method: Method,
    target: &str,
    headers: &[(String, String)],
    body: Bytes,
    timeout: Duration,
) -> Result<Answer, String> {
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (mut addr, mut target) = (addr, target.to_string());
    for _ in 0..5 {
        let answer = exchange(
            addr,
            method.clone(),
            &target,
            &pairs,
            body.clone(),
            timeout,
            BODY_BYTES_MAX,
        )
        .await
        .map_err(|e| e.0)?;
        if answer.status != 301 && answer.status != 307 {
            return Ok(answer);
        }
        (addr, target) = redirect_target(&answer)?;
    }
    Err("too many redirects".into())
}

/// One request the replicator makes of a cluster.
struct Ask<'a> {
    method: Method,
    target: &'a str,
    headers: &'a [(String, String)],
    body: Bytes,
}

/// The persisted metadata as request headers.
fn headers_of(meta: &BTreeMap<String, String>) -> Vec<(String, String)> {
    meta.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Sends to the nodes in turn, starting at `first`, until one gives an answer `done`
/// accepts; the last failure otherwise.
async fn on_any(
    nodes: &[SocketAddr],
    first: usize,
    ask: Ask<'_>,
    timeout: Duration,
    done: fn(u16) -> bool,
) -> Result<Answer, String> {
    let Ask {
        method,
        target,
        headers,
        body,
    } = ask;
    let mut last = "no nodes".to_string();
    for k in 0..nodes.len() {
        let addr = nodes[(first + k) % nodes.len()];
        match send(addr, method.clone(), target, headers, body.clone(), timeout).await {
            Ok(a) if done(a.status.as_u16()) => return Ok(a),
            Ok(a) => last = format!("{addr}: {} {target}: status {}", method, a.status),
            Err(e) => last = format!("{addr}: {method} {target}: {e}"),
        }
    }
    Err(last)
}

/// An object as a cluster shows it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// Live, at this version, with these bytes' MD5 and these persisted headers.
    Live {
        /// `Castor-System-Version` in milliseconds.
        version_ms: u64,
        /// Hex MD5 (the `Etag`).
        md5: String,
        /// Persisted headers the answer carried.
        meta: BTreeMap<String, String>,
        /// The content (empty for HEAD).
        body: Bytes,
    },
    /// 404: no reachable node holds a live version.
    Missing,
}

fn seen(answer: &Answer) -> Result<Seen, String> {
    if answer.status == 404 {
        return Ok(Seen::Missing);
    }
    let version_ms = answer
        .header("castor-system-version")
        .and_then(version_ms)
        .ok_or("an answer without a readable Castor-System-Version")?;
    let md5 = answer
        .header("etag")
        .map(|e| e.trim_matches('"').to_ascii_lowercase())
        .ok_or("an answer without Etag")?;
    let meta = answer
        .headers
        .iter()
        .filter(|(k, _)| is_persisted(k.as_str()))
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    Ok(Seen::Live {
        version_ms,
        md5,
        meta,
        body: answer.body.clone(),
    })
}

/// GET (or HEAD) of an item's object on a cluster: 200 or 404 from any node.
pub async fn look(
    nodes: &[SocketAddr],
    first: usize,
    item: &Item,
    method: Method,
    timeout: Duration,
) -> Result<Seen, String> {
    let target = item.target();
    let ask = Ask {
        method,
        target: &target,
        headers: &[],
        body: Bytes::new(),
    };
    let a = on_any(nodes, first, ask, timeout, |s| s == 200 || s == 404).await?;
    seen(&a)
}

/// What a write to B answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// `Replica-Count` of the 201, if it had one.
    pub replicas: Option<usize>,
}

/// POSTs the content with the item's metadata (unless `with_meta` is off) to B. A missing
/// bucket (412) is created first, then the write is sent again.
pub async fn write(
    nodes: &[SocketAddr],
    first: usize,
    item: &Item,
    body: Bytes,
    with_meta: bool,
    timeout: Duration,
) -> Result<Written, String> {
    let headers = if with_meta {
        headers_of(&item.meta)
    } else {
        Vec::new()
    };
    let target = item.target();
    let post = || Ask {
        method: Method::POST,
        target: &target,
        headers: &headers,
        body: body.clone(),
    };
    let created_or_no_bucket = |s| s == 201 || s == 412;
    let mut a = on_any(nodes, first, post(), timeout, created_or_no_bucket).await?;
    if a.status == 412 {
        let bucket = item.bucket_target().ok_or("an item without a bucket")?;
        let make = Ask {
            method: Method::POST,
            target: &bucket,
            headers: &[],
            body: Bytes::new(),
        };
        // 201 made it, 409 says it exists: either way the write can go again.
        on_any(nodes, first, make, timeout, |s| s == 201 || s == 409).await?;
        a = on_any(nodes, first, post(), timeout, created_or_no_bucket).await?;
    }
    if a.status != 201 {
        return Err(format!("write {}: status {}", item.target(), a.status));
    }
    Ok(Written {
        replicas: a
            .header("replica-count")
            .and_then(|c| c.trim().parse().ok()),
    })
}

/// DELETEs the item's object in B; 404 (already gone) counts as done.
pub async fn delete(
    nodes: &[SocketAddr],
    first: usize,
    item: &Item,
    timeout: Duration,
) -> Result<(), String> {
    let target = item.target();
    let ask = Ask {
        method: Method::DELETE,
        target: &target,
        headers: &[],
        body: Bytes::new(),
    };
    on_any(nodes, first, ask, timeout, |s| {
        (200..300).contains(&s) || s == 404
    })
    .await
    .map(|_| ())
}
