//! The server side of the node-to-node protocol (see `peer` for the client side).

use bytes::Bytes;
use http::header::HeaderValue;
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::http::body::collect_owned;
use crate::scsp::cluster_view::local_bid;
use crate::scsp::config::NodeContext;
use crate::scsp::contexts;
use crate::scsp::defects::Defect;
use crate::scsp::journal;
use crate::scsp::object::Version;
use crate::scsp::peer::{
    self, decode_record, encode_record, Inventory, InventoryItem, INTERNAL_PREFIX,
};
use crate::scsp::peer_auth;
use crate::scsp::query;
use crate::scsp::records::Objects;
use crate::scsp::response::{self, Body};
use crate::scsp::wire;
use crate::store::DiskError;

/// Handles a request under `/_replisim/` that came over HTTP/1.1: reads the body (bounded),
/// then answers it as [`handle_collected`] does.
pub async fn handle(ctx: &NodeContext, req: Request<Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let body = match collect_owned(body, body_bytes_max(ctx)).await {
        Ok(bytes) => bytes,
        Err(e) => return response::error(StatusCode::BAD_REQUEST, &format!("peer body: {e}")),
    };
    handle_collected(ctx, Request::from_parts(parts, body))
}

/// The largest body a node-to-node request may carry: an object's largest content plus room
/// for its record header.
fn body_bytes_max(ctx: &NodeContext) -> usize {
    ctx.cluster.object_bytes_max + 64 * 1024
}

/// Handles a request under `/_replisim/` whose body is already whole (an HTTP/1.1 body read
/// by [`handle`], or a request that came as a message in the simulator): refuses a body over
/// the bound, checks the request's node-to-node signature (`peer_auth`; 403 without a valid
/// one, so a client on the public port learns nothing), then serves it.
pub fn handle_collected(ctx: &NodeContext, req: Request<Bytes>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    if body.len() > body_bytes_max(ctx) {
        // What `Limited` says of the same body read from a stream.
        return response::error(StatusCode::BAD_REQUEST, "peer body: length limit exceeded");
    }
    let target = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("");
    if let Err(why) = peer_auth::verify(
        &ctx.cluster.key,
        parts.method.as_str(),
        target,
        &body,
        parts
            .headers
            .get(&peer_auth::HEADER_NAME)
            .map(|v| v.as_bytes()),
        peer_auth::now_ms(),
    ) {
        ctx.trace(format!(
            "refused {} {}: {why}",
            parts.method,
            parts.uri.path()
        ));
        return response::error(StatusCode::FORBIDDEN, &format!("Forbidden: {why}."));
    }
    // Every leading copy of the prefix goes, as `trim_start_matches` would take them.
    let mut path = parts.uri.path();
    while let Some(rest) = path.strip_prefix(INTERNAL_PREFIX) {
        path = rest;
    }
    // Arguments are read one at a time from the raw query, as `Query::get` reads them.
    let raw_query = parts.uri.query().unwrap_or("");
    let arg = |name| query::lookup(raw_query, name);
    match (&parts.method, path) {
        (&Method::GET, "bid") => {
            let key = arg("key");
            text(wire::encode_bid(&local_bid(
                ctx,
                key.as_deref().unwrap_or(""),
            )))
        }
        (&Method::GET, "inventory") => {
            let since = arg("since").and_then(|g| g.parse::<u64>().ok());
            let generation = {
                let mut disk = Objects::lock(&ctx.disk);
                if ctx.control.retiring_is_news() {
                    disk.note_figures_changed();
                }
                disk.generation()
            };
            if since == Some(generation) {
                return response::finish(
                    response::builder(StatusCode::NO_CONTENT),
                    response::empty(),
                );
            }
            let delta = since.and_then(|g| inventory_since(ctx, g));
            text(wire::encode_inventory(
                &delta.unwrap_or_else(|| inventory(ctx)),
            ))
        }
        (&Method::GET, "journal") => {
            let number = |name| arg(name).and_then(|v| v.parse::<u64>().ok());
            let page = journal::read(
                ctx,
                number("epoch").unwrap_or(0),
                number("after").unwrap_or(0),
                number("limit").map_or(journal::PAGE_MAX, |n| n as usize),
            );
            text(journal::encode_page(&page))
        }
        (&Method::PUT, "replica") => accept_replica(ctx, body),
        (&Method::GET, "replica") => {
            let key = arg("key");
            match Objects::lock(&ctx.disk).get(key.as_deref().unwrap_or("")) {
                Some(record) => response::finish(
                    response::builder(StatusCode::OK),
                    response::full(encode_record(&record)),
                ),
                None => response::error(StatusCode::NOT_FOUND, "No such record here."),
            }
        }
        (&Method::DELETE, "replica") => discard(ctx, raw_query),
        _ => response::error(StatusCode::NOT_FOUND, "Unknown internal request."),
    }
}

/// A 200 with a text body and the headers `response::builder` gives every answer, in the
/// same order (`Server`, then `Content-Type`), built in place: bids and inventories are
/// most of a node's answers, and the builder validated both constant values on each.
fn text(body: String) -> Response<Body> {
    const TEXT_PLAIN: HeaderValue = HeaderValue::from_static("text/plain");
    let mut answer = Response::new(response::full(body));
    let headers = answer.headers_mut();
    headers.insert(http::header::SERVER, response::SERVER_VALUE);
    headers.insert(http::header::CONTENT_TYPE, TEXT_PLAIN);
    answer
}

/// Everything this node holds, newest version per key.
pub fn inventory(ctx: &NodeContext) -> Inventory {
    let disk = Objects::lock(&ctx.disk);
    Inventory {
        node: ctx.id,
        free_bytes: disk.free_bytes(),
        capacity_bytes: disk.capacity_bytes(),
        retiring: ctx.control.is_retiring(),
        generation: disk.generation(),
        full: true,
        gone: Vec::new(),
        items: disk
            .summaries()
            .map(|(key, kind, version, deleted)| InventoryItem {
                key: key.clone(),
                kind,
                version,
                deleted,
            })
            .collect(),
    }
}

/// What changed on this node after generation `since`, or `None` when only a full
/// inventory can say (a wipe happened since, or the generation is not this disk's).
pub fn inventory_since(ctx: &NodeContext, since: u64) -> Option<Inventory> {
    let disk = Objects::lock(&ctx.disk);
    // Only the changed keys are visited (the disk indexes its changes by generation), and
    // each record's summary is read without copying the record out.
    let changed = disk.changed_summarised(since, |r| (r.kind, r.version, r.deleted))?;
    let mut items = Vec::new();
    let mut gone = Vec::new();
    for (key, summary) in changed {
        match summary {
            Some((kind, version, deleted)) => items.push(InventoryItem {
                key: key.clone(),
                kind,
                version,
                deleted,
            }),
            // The journal's own keys are not objects: no peer ever listed them.
            None if journal::is_journal_key(key) => {}
            None => gone.push(key.clone()),
        }
    }
    Some(Inventory {
        node: ctx.id,
        free_bytes: disk.free_bytes(),
        capacity_bytes: disk.capacity_bytes(),
        retiring: ctx.control.is_retiring(),
        generation: disk.generation(),
        full: false,
        items,
        gone,
    })
}

/// Stores a pushed replica if it is newer than what this node holds (newest wins).
fn accept_replica(ctx: &NodeContext, bytes: Bytes) -> Response<Body> {
    let record = match decode_record(bytes) {
        Some(record) => record,
        None => return response::error(StatusCode::BAD_REQUEST, "Not a replica record."),
    };
    if let Err(why) = peer::check_record(&record, ctx.cluster.nodes.len()) {
        return response::error(
            StatusCode::BAD_REQUEST,
            &format!("Bad replica record: {why}."),
        );
    }
    let mut disk = Objects::lock(&ctx.disk);
    let previous = disk.get(&record.key);
    let newer = previous
        .as_ref()
        .is_none_or(|held| held.version < record.version);
    if !record.kind.is_context() && contexts::hides(ctx, &disk, &record.key) {
        // SCSP-21: a deleted bucket or domain takes no copies of what it held.
        return response::finish(
            response::builder(StatusCode::OK),
            response::full("context deleted"),
        );
    }
    if !newer {
        return response::finish(
            response::builder(StatusCode::OK),
            response::full("kept newer"),
        );
    }
    let key = record.key.clone();
    let version = record.version;
    let full_but_claims_room = ctx.cluster.has(Defect::AcceptWritesOnFullDisk);
    let context = record.kind.is_context().then(|| record.clone());
    match ctx.persist(&mut disk, record) {
        Ok(()) => {
            let mut dropped = Vec::new();
            if let Some(stored) = context
                .as_ref()
                .filter(|_| !ctx.cluster.has(Defect::RecursiveDeleteLeavesObjects))
            {
                dropped = contexts::dropped_objects(&disk, previous.as_ref(), stored);
                contexts::after_store(&mut disk, previous.as_ref(), stored, ctx.clock.now_ms());
            }
            drop(disk);
            // The deletions of what a context delete dropped here are events of this node's
            // journal too (docs/choices.md row P2).
            crate::scsp::journal::record_dropped(ctx, &key, &dropped);
            // "replica {key} v{version} stored", without the formatter.
            let stamp = version.castor_system_version();
            let mut event = String::with_capacity(key.len() + stamp.len() + 17);
            event.push_str("replica ");
            event.push_str(&key);
            event.push_str(" v");
            event.push_str(&stamp);
            event.push_str(" stored");
            ctx.trace(event);
            response::finish(response::builder(StatusCode::OK), response::full("stored"))
        }
        Err(DiskError::Full { .. }) if full_but_claims_room => {
            response::finish(response::builder(StatusCode::OK), response::full("stored"))
        }
        Err(DiskError::Full { .. }) => response::error(
            StatusCode::INSUFFICIENT_STORAGE,
            "Not enough disk space to store requested content.",
        ),
    }
}

/// Drops exactly one version of a key (rollback after a failed quorum).
fn discard(ctx: &NodeContext, raw_query: &str) -> Response<Body> {
    let key = query::lookup(raw_query, "key");
    let key = key.as_deref().unwrap_or("");
    let stamp_ms = query::lookup(raw_query, "stamp").and_then(|v| v.parse().ok());
    let node = query::lookup(raw_query, "node").and_then(|v| v.parse().ok());
    let (Some(stamp_ms), Some(node)) = (stamp_ms, node) else {
        return response::error(StatusCode::BAD_REQUEST, "discard needs key, stamp and node");
    };
    if node as usize >= ctx.cluster.nodes.len() {
        return response::error(
            StatusCode::BAD_REQUEST,
            &format!(
                "discard names node {node} of a {}-node cluster",
                ctx.cluster.nodes.len()
            ),
        );
    }
    let version = Version { stamp_ms, node };
    let mut disk = Objects::lock(&ctx.disk);
    if disk.get(key).is_some_and(|r| r.version == version) {
        disk.remove(key);
    }
    response::finish(
        response::builder(StatusCode::OK),
        response::full("discarded"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    /// Asks `ctx` for its inventory as a peer would (signed), naming `since`: the status
    /// and the decoded answer, if any.
    fn ask(ctx: &NodeContext, since: Option<u64>) -> (StatusCode, Option<Inventory>) {
        let target = match since {
            Some(g) => format!("{}inventory?since={g}", crate::scsp::peer::INTERNAL_PREFIX),
            None => format!("{}inventory", crate::scsp::peer::INTERNAL_PREFIX),
        };
        let signature =
            peer_auth::signature_header(&ctx.cluster.key, "GET", &target, b"", peer_auth::now_ms());
        let request = Request::get(target.as_str())
            .header(peer_auth::HEADER_NAME, signature)
            .body(Bytes::new())
            .expect("a request");
        let answer = handle_collected(ctx, request);
        let status = answer.status();
        let body = futures::executor::block_on(answer.into_body().collect())
            .expect("a body")
            .to_bytes();
        let text = std::str::from_utf8(&body).expect("text");
        (status, wire::decode_inventory(text))
    }

    #[test]
    fn a_change_of_the_retiring_flag_is_never_answered_unchanged() {
        let ctx = NodeContext::alone();
        let (status, first) = ask(&ctx, None);
        assert_eq!(status, StatusCode::OK);
        let first = first.expect("a full inventory");
        assert!(!first.retiring);
        assert_eq!(
            ask(&ctx, Some(first.generation)).0,
            StatusCode::NO_CONTENT,
            "nothing changed"
        );
        // Retiring touches no key, yet a peer that kept the old flag must learn it.
        ctx.control.set_retiring(true);
        let (status, delta) = ask(&ctx, Some(first.generation));
        assert_eq!(status, StatusCode::OK, "not \"unchanged\"");
        let delta = delta.expect("a delta");
        assert!(delta.retiring, "the new flag");
        assert!(delta.generation > first.generation);
        // Told once: from the new generation on it is unchanged again, for every peer.
        assert_eq!(ask(&ctx, Some(delta.generation)).0, StatusCode::NO_CONTENT);
        // And back.
        ctx.control.set_retiring(false);
        let (status, back) = ask(&ctx, Some(delta.generation));
        assert_eq!(status, StatusCode::OK);
        assert!(!back.expect("a delta").retiring);
    }
}
