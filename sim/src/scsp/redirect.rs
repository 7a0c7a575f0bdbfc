//! Redirects from the PAN to the node that serves a request (SCSP-3, SCSP-4, SCSP-6).
//!
//! When 301 and when 307 (the docs leave it open; docs/choices.md):
//! - 307 Temporary Redirect: this one request is better served elsewhere (another node won
//!   the write bid, or holds the newest replica for a read). The client keeps its PAN.
//! - 301 Moved Permanently: the PAN itself should no longer be used as an access node
//!   because it is retiring. The client moves to the new node for all later requests.

use http::{Response, StatusCode};

use crate::scsp::alternatives::Redirect;
use crate::scsp::auth::{self, Grant};
use crate::scsp::config::NodeContext;
use crate::scsp::defects::Defect;
use crate::scsp::handoff::{self, Handoff};
use crate::scsp::query::Query;
use crate::scsp::request::ClientRequest;
use crate::scsp::response::{self, Body};

/// Which redirect the PAN sends, given whether it is retiring (and the `redirect`
/// alternative, which may make every redirect a 301 or every one a 307).
pub fn status_for(ctx: &NodeContext) -> StatusCode {
    match ctx.cluster.alternatives.redirect {
        Redirect::Always301 => StatusCode::MOVED_PERMANENTLY,
        Redirect::Always307 => StatusCode::TEMPORARY_REDIRECT,
        Redirect::ByRole
            if ctx.control.is_retiring()
                && !ctx.cluster.has(Defect::TemporaryInsteadOfPermanent) =>
        {
            StatusCode::MOVED_PERMANENTLY
        }
        Redirect::ByRole if ctx.cluster.has(Defect::PermanentForLostBids) => {
            StatusCode::MOVED_PERMANENTLY
        }
        Redirect::ByRole if ctx.cluster.has(Defect::FoundInsteadOfTemporary) => StatusCode::FOUND,
        Redirect::ByRole => StatusCode::TEMPORARY_REDIRECT,
    }
}

/// A redirect of `req` to node `target`, with an `auth=` token bound to it.
pub fn to_node(ctx: &NodeContext, req: &ClientRequest, target: usize) -> Response<Body> {
    to_node_with(ctx, req, target, None)
}

/// A redirect that also hands the target what this node learned (`handoff` module); the
/// token's MAC covers it.
pub fn to_node_with(
    ctx: &NodeContext,
    req: &ClientRequest,
    target: usize,
    handoff: Option<&Handoff>,
) -> Response<Body> {
    let status = status_for(ctx);
    let retiring = ctx.control.is_retiring();
    let target = if retiring && ctx.cluster.has(Defect::RetiringRedirectsToItself) {
        ctx.id
    } else {
        target
    };
    // A client cannot bring its own handoff: only the one made here is signed.
    let mut other_args =
        Query::raw_without(&Query::raw_without(&req.query_raw, "auth"), handoff::ARG);
    if let Some(h) = handoff {
        if !other_args.is_empty() {
            other_args.push('&');
        }
        other_args.push_str(handoff::ARG);
        other_args.push('=');
        other_args.push_str(&h.encode());
    }
    let ttl_secs = if retiring && ctx.cluster.has(Defect::RetiringTokenExpired) {
        0
    } else {
        ctx.cluster.auth_ttl.as_secs()
    };
    let mut expiry_secs = ((ctx.clock.now_ms() / 1000) + ttl_secs).min(u64::from(u32::MAX));
    if ttl_secs == 0 {
        expiry_secs = expiry_secs.saturating_sub(1);
    }
    let bound_to = if ctx.cluster.has(Defect::TokenForWrongNode) {
        ctx.id
    } else {
        target
    };
    let grant = Grant {
        method: &req.method,
        node: bound_to,
        path: &req.path,
        query: &other_args,
    };
    let token = auth::issue(ctx.cluster.key.as_bytes(), &grant, expiry_secs as u32);
    let location = location_of(
        ctx,
        target,
        &req.path,
        &other_args,
        (!ctx.cluster.has(Defect::RedirectWithoutAuth)).then_some(token.as_str()),
    );
    let mut event = String::with_capacity(req.method.len() + req.path.len() + 32);
    event.push_str(&req.method);
    event.push(' ');
    event.push_str(&req.path);
    event.push(' ');
    event.push_str(itoa::Buffer::new().format(status.as_u16()));
    event.push_str(if status == StatusCode::MOVED_PERMANENTLY {
        " -> moved node"
    } else {
        " -> temporary node"
    });
    event.push_str(itoa::Buffer::new().format(target + 1));
    ctx.trace(event);
    if ctx.cluster.has(Defect::RedirectWithBody) {
        let page =
            format!("<html><body>Moved to <a href=\"{location}\">{location}</a></body></html>");
        return response::finish(
            response::builder(status)
                .header(http::header::LOCATION, location)
                .header(http::header::CONTENT_TYPE, "text/html"),
            response::full(page),
        );
    }
    response::finish(
        response::builder(status)
            .header(http::header::LOCATION, location)
            .header(http::header::CONTENT_LENGTH, "0"),
        response::empty(),
    )
}

/// The `Location` of a redirect to node `target`: its URL for `path`, then the other
/// arguments and the `auth=` token, when there are any. Built in one buffer: a redirect is
/// sent for most writes.
fn location_of(
    ctx: &NodeContext,
    target: usize,
    path: &str,
    other_args: &str,
    auth: Option<&str>,
) -> String {
    let more = other_args.len() + auth.map_or(0, |t| t.len() + 7);
    let mut location = ctx.node_url(target, path, more);
    if !other_args.is_empty() || auth.is_some() {
        location.push('?');
    }
    location.push_str(other_args);
    if let Some(token) = auth {
        if !other_args.is_empty() {
            location.push('&');
        }
        location.push_str("auth=");
        location.push_str(token);
    }
    location
}

/// Checks an `auth=` token against the request; `Ok(true)` pins the request to this node,
/// `Ok(false)` means no token (an ordinary request to this node as its PAN).
pub fn check_token(ctx: &NodeContext, req: &ClientRequest) -> Result<bool, Response<Body>> {
    let Some(token) = req.query.get("auth") else {
        return Ok(false);
    };
    let other_args = Query::raw_without(&req.query_raw, "auth");
    let grant = Grant {
        method: &req.method,
        node: ctx.id,
        path: &req.path,
        query: &other_args,
    };
    let now_secs = (ctx.clock.now_ms() / 1000).min(u64::from(u32::MAX)) as u32;
    let verdict = auth::verify(ctx.cluster.key.as_bytes(), &grant, token, now_secs);
    if let Err(why) = verdict {
        // Never the whole token: enough to tell two apart, too little to replay.
        ctx.trace(format!(
            "{} {} 403 auth={} {why:?}",
            req.method,
            req.path,
            crate::scsp::cluster_key::truncated(token)
        ));
    }
    match verdict {
        Ok(()) => Ok(true),
        Err(auth::TokenError::Invalid) => Err(response::error(
            StatusCode::FORBIDDEN,
            "Invalid auth token: it was not issued by this cluster for this request and node.",
        )),
        Err(auth::TokenError::Expired) => Err(response::error(
            StatusCode::FORBIDDEN,
            "Expired auth token: resend the request to the access node for a fresh redirect.",
        )),
    }
}
