//! READ (GET) and INFO (HEAD): objects, contexts and the node status page.
//!
//! A read is served by a node holding the newest version; the PAN serves it itself when it
//! holds it (and is not retiring), and otherwise redirects to the best holder (SCSP-6).
//! Rules covered: SCSP-37 (Range, single ranges), SCSP-38 (`validate=yes`), SCSP-39 (404 is
//! a legitimate answer).

use std::sync::atomic::Ordering;

use http::{Response, StatusCode};

use crate::scsp::cluster_view::gather_bids;
use crate::scsp::conditional::{self, Current, Precondition};
use crate::scsp::config::NodeContext;
use crate::scsp::defects::Defect;
use crate::scsp::key::Locator;
use crate::scsp::object::{md5_hex, Record};
use crate::scsp::placement;
use crate::scsp::records::Objects;
use crate::scsp::redirect;
use crate::scsp::request::ClientRequest;
use crate::scsp::response::{self, Body};

/// Handles GET and HEAD.
pub async fn handle(ctx: &NodeContext, req: &ClientRequest) -> Response<Body> {
    let head_only = req.method == "HEAD";
    if req.locator == Locator::Root {
        return node_status(ctx, head_only);
    }
    let Some(key) = req.object_key().map(|k| k.store_key()) else {
        return response::error(StatusCode::BAD_REQUEST, "Nothing to read at this path.");
    };
    let local = Objects::lock(&ctx.disk).get(&key);
    if req.pinned {
        return match local {
            Some(r) if !r.deleted => serve(ctx, req, &r, head_only),
            _ => not_found(req),
        };
    }
    let bids = gather_bids(ctx, &key).await;
    let Some(newest) = placement::newest(&bids) else {
        return not_found(req);
    };
    if newest.deleted {
        return not_found(req);
    }
    let holders = placement::rank_holders(&bids, &key, ctx.cluster.placement_seed);
    let here = local.as_ref().is_some_and(|r| r.version == newest.version);
    let retiring = ctx.control.is_retiring();
    if here && (!retiring || holders.len() == 1) {
        if let Some(r) = local {
            return serve(ctx, req, &r, head_only);
        }
    }
    match holders.into_iter().find(|n| *n != ctx.id) {
        Some(target) => redirect::to_node(ctx, req, target),
        None => not_found(req),
    }
}

fn not_found(req: &ClientRequest) -> Response<Body> {
    response::error(
        StatusCode::NOT_FOUND,
        &format!("{} was not found.", req.path),
    )
}

/// A byte range request, after checking it against the object length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeAnswer {
    /// No (usable) Range header: the whole object.
    Whole,
    /// A satisfiable single range, inclusive bounds.
    Part(u64, u64),
    /// Out of bounds: 416.
    Unsatisfiable,
}

/// Reads a `Range` header for an object of `len` bytes. Multi-range and malformed values
/// are ignored (the whole object is sent), as HTTP permits.
pub fn parse_range(value: Option<&str>, len: u64) -> RangeAnswer {
    let Some(spec) = value.and_then(|v| v.trim().strip_prefix("bytes=")) else {
        return RangeAnswer::Whole;
    };
    if spec.contains(',') {
        return RangeAnswer::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeAnswer::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    // RFC 9110 byte positions are digits only (`u64::from_str` would also take a `+`).
    let digits = |v: &str| v.bytes().all(|b| b.is_ascii_digit());
    if !digits(first) || !digits(last) {
        return RangeAnswer::Whole;
    }
    match (first.parse::<u64>(), last.parse::<u64>()) {
        (Ok(a), Ok(b)) if a <= b => {
            if a >= len {
                RangeAnswer::Unsatisfiable
            } else {
                RangeAnswer::Part(a, b.min(len - 1))
            }
        }
        (Ok(_), Ok(_)) => RangeAnswer::Whole,
        (Ok(a), Err(_)) if last.is_empty() => {
            if a >= len {
                RangeAnswer::Unsatisfiable
            } else {
                RangeAnswer::Part(a, len - 1)
            }
        }
        (Err(_), Ok(n)) if first.is_empty() => {
            if n == 0 || len == 0 {
                RangeAnswer::Unsatisfiable
            } else {
                RangeAnswer::Part(len.saturating_sub(n), len - 1)
            }
        }
        _ => RangeAnswer::Whole,
    }
}

/// If-Match, If-None-Match and If-Modified-Since against the version this node serves
/// (SCSP-40, SCSP-41): 412 or 304, each with the current ETag.
fn precondition(ctx: &NodeContext, req: &ClientRequest, record: &Record) -> Option<Response<Body>> {
    let mut ignored = Vec::new();
    if ctx.cluster.has(Defect::IgnoreIfMatch) {
        ignored.push("if-match");
    }
    if ctx.cluster.has(Defect::IgnoreIfModifiedSince) {
        ignored.push("if-modified-since");
    }
    let current = Current {
        md5_hex: &record.md5_hex,
        modified_secs: record.version.stamp_ms / 1000,
    };
    let status = match conditional::evaluate_ignoring(
        &req.headers,
        &ignored,
        true,
        Some(current),
        ctx.clock.now_ms() / 1000,
    ) {
        Precondition::Proceed => return None,
        Precondition::NotModified => StatusCode::NOT_MODIFIED,
        Precondition::Failed => StatusCode::PRECONDITION_FAILED,
    };
    let b = response::builder(status)
        .header(http::header::ETAG, record.etag())
        .header(http::header::LAST_MODIFIED, record.version.last_modified());
    Some(response::finish(b, response::empty()))
}

fn serve(
    ctx: &NodeContext,
    req: &ClientRequest,
    record: &Record,
    head_only: bool,
) -> Response<Body> {
    if let Some(refused) = precondition(ctx, req, record) {
        return refused;
    }
    let len = record.content.len() as u64;
    let mut b = response::builder(StatusCode::OK)
        .header(http::header::LAST_MODIFIED, record.version.last_modified())
        .header(http::header::ETAG, record.etag())
        .header(
            "Castor-System-Version",
            record.version.castor_system_version(),
        )
        .header(http::header::ACCEPT_RANGES, "bytes");
    for (name, value) in &record.meta {
        b = b.header(name.as_str(), value.as_str());
    }
    if !record.meta.contains_key("content-type") {
        b = b.header(http::header::CONTENT_TYPE, "application/octet-stream");
    }
    if record.kind == crate::scsp::object::Kind::Alias {
        b = b.header("Castor-System-Alias", record.key.trim_start_matches("u/"));
    }
    let range = if head_only {
        RangeAnswer::Whole
    } else {
        parse_range(req.header("range"), len)
    };
    match range {
        RangeAnswer::Whole => {
            let rotten = md5_hex(&record.content) != record.md5_hex;
            let body = if head_only {
                b = b.header(http::header::CONTENT_LENGTH, len.to_string());
                response::empty()
            } else if rotten && req.query.flag("validate") {
                // SCSP-38: drop the connection before the final bytes, so the client sees a
                // truncated body rather than wrong data presented as whole.
                b = b.header(http::header::CONTENT_LENGTH, len.to_string());
                let keep = record.content.len().saturating_sub(1);
                response::truncated(record.content.slice(..keep), "content failed validation")
            } else {
                response::full(record.content.clone())
            };
            response::finish(b, body)
        }
        RangeAnswer::Part(first, last) => {
            let part = record.content.slice(first as usize..=last as usize);
            b = b.status(StatusCode::PARTIAL_CONTENT).header(
                http::header::CONTENT_RANGE,
                format!("bytes {first}-{last}/{len}"),
            );
            response::finish(b, response::full(part))
        }
        RangeAnswer::Unsatisfiable => response::finish(
            response::builder(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(http::header::CONTENT_RANGE, format!("bytes */{len}"))
                .header(http::header::CONTENT_TYPE, "text/html"),
            response::full("Requested range not satisfiable."),
        ),
    }
}

/// `GET /`: the node's counters and space, as plain text lines `name: value`.
fn node_status(ctx: &NodeContext, head_only: bool) -> Response<Body> {
    let (objects, used, capacity) = {
        let disk = Objects::lock(&ctx.disk);
        (
            disk.records().count(),
            disk.used_bytes(),
            disk.capacity_bytes(),
        )
    };
    let text = format!(
        "cluster: {}\nnode: {}\naddress: {}\nretiring: {}\nin-flight: {}\nobjects: {objects}\nspace-used-bytes: {used}\nspace-available-bytes: {}\ntotal-capacity-bytes: {capacity}\n",
        ctx.cluster.name,
        ctx.id + 1,
        ctx.addr(),
        ctx.control.is_retiring(),
        ctx.control.in_flight.load(Ordering::SeqCst),
        capacity.saturating_sub(used),
    );
    let b = response::builder(StatusCode::OK).header(http::header::CONTENT_TYPE, "text/plain");
    if head_only {
        let b = b.header(http::header::CONTENT_LENGTH, text.len().to_string());
        response::finish(b, response::empty())
    } else {
        response::finish(b, response::full(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_http() {
        assert_eq!(parse_range(Some("bytes=0-4"), 10), RangeAnswer::Part(0, 4));
        assert_eq!(parse_range(Some("bytes=5-"), 10), RangeAnswer::Part(5, 9));
        assert_eq!(parse_range(Some("bytes=-3"), 10), RangeAnswer::Part(7, 9));
        assert_eq!(
            parse_range(Some("bytes=8-100"), 10),
            RangeAnswer::Part(8, 9)
        );
        assert_eq!(
            parse_range(Some("bytes=10-12"), 10),
            RangeAnswer::Unsatisfiable
        );
        assert_eq!(
            parse_range(Some("bytes=-0"), 10),
            RangeAnswer::Unsatisfiable
        );
        assert_eq!(parse_range(Some("bytes=0-1,3-4"), 10), RangeAnswer::Whole);
        assert_eq!(parse_range(Some("items=0-1"), 10), RangeAnswer::Whole);
        assert_eq!(parse_range(None, 10), RangeAnswer::Whole);
        assert_eq!(parse_range(Some("bytes=+1-2"), 10), RangeAnswer::Whole);
        assert_eq!(parse_range(Some("bytes=1-+2"), 10), RangeAnswer::Whole);
    }
}
