//! The front door of the node: protocol checks every request passes, then dispatch to the
//! method family. Rules covered here: SCSP-14 (Host), SCSP-42 (501, 505).

use std::sync::atomic::Ordering;

use http::{Request, Response, StatusCode, Version};
use hyper::body::Incoming;

use crate::http::limits::URL_BYTES_MAX;
use crate::scsp::config::NodeContext;
use crate::scsp::defects::Defect;
use crate::scsp::internal;
use crate::scsp::key::parse_path;
use crate::scsp::multipart;
use crate::scsp::peer::INTERNAL_PREFIX;
use crate::scsp::query::Query;
use crate::scsp::read;
use crate::scsp::redirect;
use crate::scsp::request::{domain_of, ClientRequest};
use crate::scsp::response::{self, Body, ALLOW};
use crate::scsp::write::{self, Mutation};

/// Counts a request as in flight for as long as it lives (the load part of a bid).
struct InFlight<'a>(&'a NodeContext);

impl<'a> InFlight<'a> {
    fn enter(ctx: &'a NodeContext) -> Self {
        ctx.control.in_flight.fetch_add(1, Ordering::SeqCst);
        Self(ctx)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.control.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Answers one HTTP request. Never panics on client input: every problem is a status.
pub async fn handle(ctx: NodeContext, req: Request<Incoming>) -> Response<Body> {
    if let Some(refused) = target_too_long(req.uri()) {
        return refused;
    }
    if req.uri().path().starts_with(INTERNAL_PREFIX) {
        return internal::handle(&ctx, req).await;
    }
    let style = ctx.cluster.alternatives.error_body;
    response::restyle(style, client_request(ctx, req).await)
}

/// Answers a node-to-node request that came as a message (simulator only; see
/// `http::message`): the same checks and handler as the same request over HTTP/1.1.
pub fn handle_message(ctx: &NodeContext, req: Request<bytes::Bytes>) -> Response<Body> {
    if let Some(refused) = target_too_long(req.uri()) {
        return refused;
    }
    if !req.uri().path().starts_with(INTERNAL_PREFIX) {
        return response::error(StatusCode::NOT_FOUND, "Unknown internal request.");
    }
    internal::handle_collected(ctx, req)
}

/// 414 for a request target over the limit (`http::limits`), whichever way it came.
fn target_too_long(uri: &http::Uri) -> Option<Response<Body>> {
    let target_len = uri.path_and_query().map_or(0, |p| p.as_str().len());
    (target_len > URL_BYTES_MAX).then(|| {
        response::error(
            StatusCode::URI_TOO_LONG,
            &format!("The request target is {target_len} bytes; the limit is {URL_BYTES_MAX}."),
        )
    })
}

async fn client_request(ctx: NodeContext, req: Request<Incoming>) -> Response<Body> {
    let _in_flight = InFlight::enter(&ctx);
    let (parts, body) = req.into_parts();

    if parts.version != Version::HTTP_11 && !ctx.cluster.has(Defect::Http10Accepted) {
        return response::error(
            StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            "Only HTTP/1.1 is supported.",
        );
    }
    let method = parts.method.as_str().to_string();
    let mutation = match method.as_str() {
        "GET" | "HEAD" => None,
        "POST" => Some(Mutation::Create),
        "PUT" => Some(Mutation::Replace),
        "APPEND" => Some(Mutation::Append),
        "COPY" => Some(Mutation::Copy),
        "DELETE" => Some(Mutation::Delete),
        other => {
            let mut r = response::error(
                StatusCode::NOT_IMPLEMENTED,
                &format!("Method {other} is not implemented."),
            );
            r.headers_mut()
                .insert(http::header::ALLOW, http::HeaderValue::from_static(ALLOW));
            if ctx.cluster.has(Defect::NotImplementedKeepsAlive) {
                r.headers_mut().remove(http::header::CONNECTION);
            }
            return r;
        }
    };
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| {
            ctx.cluster
                .has(Defect::MissingHostAccepted)
                .then(String::new)
        });
    let Some(host) = host else {
        return response::error(StatusCode::BAD_REQUEST, "Host header is required.");
    };
    let path = parts.uri.path().to_string();
    let Some(locator) = parse_path(&path) else {
        return response::error(
            StatusCode::BAD_REQUEST,
            &format!("Path {path} names nothing."),
        );
    };
    let query_raw = parts.uri.query().unwrap_or("").to_string();
    let mut query = if ctx.cluster.has(Defect::CaseSensitiveQueryArguments) {
        Query::parse_case_sensitive(&query_raw)
    } else {
        Query::parse(&query_raw)
    };
    if ctx.cluster.has(Defect::BooleanTrueNotRecognised) {
        query = query.without_true_word();
    }
    let (domain, domain_from_query) = domain_of(&query, &host);
    let mut request = ClientRequest {
        method,
        path,
        query_raw,
        query,
        locator,
        domain,
        domain_from_query,
        headers: parts.headers,
        pinned: false,
    };
    match redirect::check_token(&ctx, &request) {
        Ok(pinned) => request.pinned = pinned,
        Err(refusal) => return refusal,
    }
    if let Some(step) = multipart::step_of(&request) {
        return multipart::handle(&ctx, &request, body, step).await;
    }
    match mutation {
        None => read::handle(&ctx, &request).await,
        Some(m) => write::handle(&ctx, &request, body, m).await,
    }
}
