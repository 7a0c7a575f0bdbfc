//! HTTP-level rules: SCSP-5 (a body the node will not use, sent early or held back behind
//! `Expect: 100-continue`) and SCSP-42 (501 closes the connection; only HTTP/1.1 is
//! served).

use bytes::Bytes;

use crate::catalog::{Check, Rule, Strength};
use crate::check_fn;
use crate::clause::{choice, doc, ClauseSpec};
use crate::client::{parse_location, Request, Response};
use crate::rules::common::{expect_status, http_rule};
use crate::target::{Capabilities, Ctx};
use crate::verdict::Verdict;

const CONTINUE: &str = "DXAG/p33, PF/2443821645";
const STATUS: &str = "PF/2443821276";

/// A body large enough not to fit in one segment (as in expect_continue_redirect.toml).
const BODY_BYTES: usize = 70_000;
/// How many writes to try for one that the node redirects (the bid decides which).
const TRIES: usize = 32;

const SCSP_5: [ClauseSpec; 2] = [
    doc(
        "early-body-redirect",
        "a 70 KB body sent without waiting for 100 Continue to a node that redirects gets a complete 301/307, and the resend to its Location stores the whole body",
        CONTINUE,
    ),
    choice(
        "redirect-holds-body",
        "with `Expect: 100-continue`, a redirected write gets its 301/307 without a 100 Continue before it, so the body is never sent",
        17,
    ),
];

const SCSP_42: [ClauseSpec; 2] = [
    doc(
        "not-implemented-closes",
        "a 500 or 501 answer (here to the unknown method BREW) carries `Connection: close`",
        STATUS,
    ),
    doc(
        "http10-505",
        "a request in HTTP/1.0 is answered 505",
        STATUS,
    ),
];

/// The HTTP-level rules.
pub const RULES: [Rule; 2] = [
    Rule {
        id: "SCSP-5",
        title: "a body sent without waiting for 100-continue is read and discarded before a redirect or error",
        source: CONTINUE,
        strength: Strength::Must,
        nodes_min: 2,
        needs: Capabilities::NONE,
        roles: crate::families::scsp::ROLES,
        uses: Capabilities::NONE,
        check: Check::Run(scsp_5),
        clauses: &SCSP_5,
    },
    http_rule(
        "SCSP-42",
        "503 means retry later or elsewhere; 500 and 501 carry Connection: close; non-HTTP/1.1 is 505",
        STATUS,
        Strength::Must,
        scsp_42,
        &SCSP_42,
    ),
];

check_fn!(scsp_5, check_scsp_5);
check_fn!(scsp_42, check_scsp_42);

/// The first write of `prefix`-numbered names to node 0 that the node redirects instead of
/// serving, with the index of its exchange in the transcript; `None` when every try was
/// served. Any answer but 201, 301 or 307 fails.
async fn first_redirect(
    ctx: &Ctx,
    prefix: &str,
    expect_continue: bool,
) -> Result<Option<(Request, Response, usize)>, Verdict> {
    let node = ctx.nodes[0];
    for k in 0..TRIES {
        let mut req = Request::new("POST", ctx.object(&format!("{prefix}{k}")))
            .body(Bytes::from(vec![b'c'; BODY_BYTES]));
        if expect_continue {
            req = req.expect_continue();
        }
        let r = ctx.client.send(node, &node.to_string(), &req).await?;
        let index = ctx.client.transcript().len().saturating_sub(1);
        match r.status {
            201 => continue,
            301 | 307 => return Ok(Some((req, r, index))),
            _ => expect_status(&r, &[201, 301, 307], "WRITE of 70 KB")?,
        }
    }
    Ok(None)
}

/// Resends `req` to the redirect's Location and reads the object back.
async fn resend(ctx: &Ctx, req: &Request, redirect: &Response) -> Result<String, Verdict> {
    let location = redirect
        .header("location")
        .ok_or_else(|| Verdict::fail(format!("{} without Location", redirect.status)))?;
    let (to, target) = parse_location(location)
        .map_err(|e| Verdict::fail(format!("unusable Location `{location}`: {e}")))?;
    let mut again = req.clone();
    again.target = target;
    let r = ctx.client.send(to, &to.to_string(), &again).await?;
    expect_status(&r, &[201], "the resend to the Location")?;
    let read = ctx
        .request(0, &Request::new("GET", req.target.clone()))
        .await?
        .response;
    expect_status(&read, &[200], "GET of the resent object")?;
    if read.body.len() != BODY_BYTES {
        return Err(Verdict::fail(format!(
            "the resent object reads {} bytes, not {BODY_BYTES}",
            read.body.len()
        )));
    }
    Ok(format!(
        "{} from node 0, resend → 201, {BODY_BYTES} bytes read back",
        redirect.status
    ))
}

async fn check_scsp_5(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    ctx.ensure_bucket().await?;
    match first_redirect(ctx, "early-", false).await? {
        Some((req, r, _)) => c.judge("early-body-redirect", resend(ctx, &req, &r).await)?,
        None => c.not_observed(
            "early-body-redirect",
            format!("node 0 served all {TRIES} writes itself: no redirect to observe"),
        ),
    }
    match first_redirect(ctx, "held-", true).await? {
        Some((_, r, index)) => {
            let sent = ctx
                .client
                .transcript()
                .get(index)
                .map_or(0, |e| e.request_body_len);
            c.record(
                "redirect-holds-body",
                r.informational.is_empty() && sent == 0,
                format!("{} with no 100 Continue; the body was not sent", r.status),
                format!(
                    "the {} came after interim {:?}, {sent} body bytes sent",
                    r.status, r.informational
                ),
            );
        }
        None => c.not_observed(
            "redirect-holds-body",
            format!("node 0 served all {TRIES} writes itself: no redirect to observe"),
        ),
    }
    Ok(())
}

async fn check_scsp_42(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let node = ctx.nodes[0];
    let brew = ctx
        .client
        .send(node, &node.to_string(), &Request::new("BREW", "/"))
        .await?;
    if matches!(brew.status, 500 | 501) {
        let connection = brew.header("connection").unwrap_or("-");
        c.record(
            "not-implemented-closes",
            connection
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("close")),
            format!("BREW → {} with Connection: close", brew.status),
            format!(
                "BREW answered {} with Connection `{connection}`",
                brew.status
            ),
        );
    } else {
        c.not_observed(
            "not-implemented-closes",
            format!("BREW answered {}, not 500 or 501", brew.status),
        );
    }
    let old = ctx
        .client
        .send_raw(node, b"GET / HTTP/1.0\r\n\r\n", false)
        .await?;
    c.check(
        "http10-505",
        old.status == 505,
        "GET / HTTP/1.0 → 505",
        format!("GET / HTTP/1.0 answered {}", old.status),
    )
}
