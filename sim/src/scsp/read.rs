//! READ (GET) and INFO (HEAD): objects, contexts and the node status page.
//!
//! A read is served by a node holding the newest version; the PAN serves it itself when it
//! holds it (and is not retiring), and otherwise redirects to the best holder (SCSP-6).
//! Rules covered: SCSP-37 (Range, single ranges), SCSP-38 (`validate=yes`), SCSP-39 (404 is
//! a legitimate answer).

use std::sync::atomic::Ordering;

use http::{Response, StatusCode};

use crate::scsp::alternatives::{AliasHeader, MultiRange};
use crate::scsp::cluster_view::gather_bids;
use crate::scsp::conditional::{self, Current, Precondition};
use crate::scsp::config::NodeContext;
use crate::scsp::contexts;
use crate::scsp::defects::Defect;
use crate::scsp::key::Locator;
use crate::scsp::object::{Record, CASTOR_SYSTEM_VERSION};
use crate::scsp::placement;
use crate::scsp::records::Objects;
use crate::scsp::redirect;
use crate::scsp::request::ClientRequest;
use crate::scsp::response::{self, Body};
use crate::store::body_matches;

/// `Castor-System-Alias`, parsed once.
const CASTOR_SYSTEM_ALIAS: http::HeaderName = http::HeaderName::from_static("castor-system-alias");

/// Handles GET and HEAD.
pub async fn handle(ctx: &NodeContext, req: &ClientRequest) -> Response<Body> {
    let head_only = req.method == "HEAD";
    if req.locator == Locator::Root {
        return node_status(ctx, head_only);
    }
    let Some(key) = req.object_key().map(|k| k.store_key()) else {
        return response::error(StatusCode::BAD_REQUEST, "Nothing to read at this path.");
    };
    let local = {
        let disk = Objects::lock(&ctx.disk);
        if contexts::hides(ctx, &disk, &key) {
            // SCSP-21: what a deleted bucket or domain held reads 404 at once.
            return not_found(req);
        }
        disk.get(&key)
    };
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
    // `future-if-modified-since-honoured`: no date is in the future for this node.
    let now_secs = if ctx.cluster.has(Defect::FutureIfModifiedSinceHonoured) {
        u64::MAX
    } else {
        ctx.clock.now_ms() / 1000
    };
    let status =
        match conditional::evaluate_ignoring(&req.headers, &ignored, true, Some(current), now_secs)
        {
            Precondition::Proceed
                if ctx.cluster.has(Defect::IfMatchNeverMatches)
                    && req.header("if-match").is_some_and(|v| v.trim() != "*") =>
            {
                StatusCode::PRECONDITION_FAILED
            }
            Precondition::Proceed
                if ctx.cluster.has(Defect::IfModifiedSinceAnyDate)
                    && req.header("if-modified-since").is_some() =>
            {
                StatusCode::NOT_MODIFIED
            }
            Precondition::Proceed => return None,
            Precondition::NotModified
                if ctx.cluster.has(Defect::IfNoneMatchGet412)
                    && req.header("if-none-match").is_some() =>
            {
                StatusCode::PRECONDITION_FAILED
            }
            Precondition::NotModified => StatusCode::NOT_MODIFIED,
            Precondition::Failed => StatusCode::PRECONDITION_FAILED,
        };
    let mut b = response::builder(status);
    if !ctx.cluster.has(Defect::PreconditionWithoutEtag) {
        b = b
            .header(http::header::ETAG, record.etag())
            .header(http::header::LAST_MODIFIED, record.version.last_modified());
    }
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
            CASTOR_SYSTEM_VERSION,
            record.version.castor_system_version(),
        )
        .header(http::header::ACCEPT_RANGES, "bytes");
    for (name, value) in &record.meta {
        b = b.header(name.as_str(), value.as_str());
    }
    if !record.meta.contains_key("content-type") {
        b = b.header(http::header::CONTENT_TYPE, "application/octet-stream");
    }
    if record.kind == crate::scsp::object::Kind::Alias
        && ctx.cluster.alternatives.alias_header == AliasHeader::Sent
    {
        b = b.header(CASTOR_SYSTEM_ALIAS, record.key.trim_start_matches("u/"));
    }
    let range = if head_only {
        RangeAnswer::Whole
    } else {
        defective_range(
            ctx,
            req.header("range"),
            parse_range(req.header("range"), len),
        )
    };
    if !head_only && ctx.cluster.alternatives.multi_range == MultiRange::Multipart {
        match parse_ranges(req.header("range"), len) {
            Some(parts) if parts.is_empty() => return unsatisfiable(len),
            Some(parts) => return byteranges(b, record, &parts),
            None => {}
        }
    }
    match range {
        RangeAnswer::Whole => {
            let rotten = !body_matches(&record.content, &record.md5_hex);
            let body = if head_only {
                b = b.header(http::header::CONTENT_LENGTH, len.to_string());
                response::empty()
            } else if rotten
                && req.query.flag("validate")
                && !ctx.cluster.has(Defect::ValidateIgnored)
            {
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
        RangeAnswer::Unsatisfiable => unsatisfiable(len),
    }
}

/// The Range defects (SCSP-37): an exclusive end, 200 for out of bounds, a suffix range
/// read from the start.
fn defective_range(ctx: &NodeContext, header: Option<&str>, answer: RangeAnswer) -> RangeAnswer {
    let has = |d| ctx.cluster.has(d);
    let suffix = header.is_some_and(|h| h.trim().starts_with("bytes=-"));
    match answer {
        RangeAnswer::Part(a, b) if suffix && has(Defect::SuffixRangeFromStart) => {
            RangeAnswer::Part(0, b - a)
        }
        RangeAnswer::Part(a, b) if b > a && !suffix && has(Defect::RangeEndExclusive) => {
            RangeAnswer::Part(a, b - 1)
        }
        RangeAnswer::Unsatisfiable if has(Defect::RangeOutOfBounds200) => RangeAnswer::Whole,
        other => other,
    }
}

fn unsatisfiable(len: u64) -> Response<Body> {
    response::finish(
        response::builder(StatusCode::RANGE_NOT_SATISFIABLE)
            .header(http::header::CONTENT_RANGE, format!("bytes */{len}"))
            .header(http::header::CONTENT_TYPE, "text/html"),
        response::full("Requested range not satisfiable."),
    )
}

/// A multi-range `Range` (two or more ranges) under the `multi-range=multipart`
/// alternative: `None` when the header is not one (or is malformed, which is ignored);
/// otherwise the satisfiable ranges, empty when none is (416).
pub fn parse_ranges(value: Option<&str>, len: u64) -> Option<Vec<(u64, u64)>> {
    let spec = value?.trim().strip_prefix("bytes=")?;
    if !spec.contains(',') {
        return None;
    }
    let mut parts = Vec::new();
    for one in spec.split(',') {
        match parse_range(Some(&format!("bytes={}", one.trim())), len) {
            RangeAnswer::Part(a, b) => parts.push((a, b)),
            RangeAnswer::Unsatisfiable => {}
            RangeAnswer::Whole => return None,
        }
    }
    Some(parts)
}

/// 206 with a `multipart/byteranges` body (RFC 9110 §14.6), one part per range in the
/// order asked. The boundary is derived from the content's digest, so it is stable.
fn byteranges(b: http::response::Builder, record: &Record, parts: &[(u64, u64)]) -> Response<Body> {
    let len = record.content.len() as u64;
    let boundary = format!("replisim-{}", record.md5_hex);
    let content_type = record
        .meta
        .get("content-type")
        .map(String::as_str)
        .unwrap_or("application/octet-stream")
        .to_string();
    let mut body = Vec::new();
    for (first, last) in parts {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: bytes {first}-{last}/{len}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(&record.content[*first as usize..=*last as usize]);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let mut response =
        response::finish(b.status(StatusCode::PARTIAL_CONTENT), response::full(body));
    if let Ok(v) = format!("multipart/byteranges; boundary={boundary}").parse() {
        response.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    response
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

    #[test]
    fn multi_ranges_keep_the_satisfiable_parts() {
        assert_eq!(parse_ranges(Some("bytes=0-1"), 10), None);
        assert_eq!(
            parse_ranges(Some("bytes=0-1, 5-"), 10),
            Some(vec![(0, 1), (5, 9)])
        );
        assert_eq!(
            parse_ranges(Some("bytes=0-1,20-30"), 10),
            Some(vec![(0, 1)])
        );
        assert_eq!(parse_ranges(Some("bytes=20-,30-"), 10), Some(vec![]));
        assert_eq!(parse_ranges(Some("bytes=0-1,x"), 10), None);
    }
}
