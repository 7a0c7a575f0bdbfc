//! Conditional request rules: SCSP-40 (If-Match, If-None-Match) and SCSP-41
//! (If-Modified-Since).

use bytes::Bytes;

use crate::catalog::{Rule, Strength};
use crate::check_fn;
use crate::clause::{doc, ClauseSpec};
use crate::client::Request;
use crate::rules::common::{expect_status, http_rule, require_header};
use crate::rules::copy::write;
use crate::target::Ctx;
use crate::verdict::Verdict;

const MATCH: &str = "PFdiff/2979594370";
const SINCE: &str = "PFdiff/2979135784";

const SCSP_40: [ClauseSpec; 4] = [
    doc(
        "if-match-412-etag",
        "GET with a non-matching If-Match is 412 carrying the current ETag",
        MATCH,
    ),
    doc("if-match-200", "GET with a matching If-Match is 200", MATCH),
    doc(
        "if-none-match-304",
        "GET with a matching If-None-Match, or *, is 304 without a body",
        MATCH,
    ),
    doc(
        "put-conditions",
        "PUT with a non-matching If-Match or a matching If-None-Match is 412; with a matching If-Match it is 201",
        MATCH,
    ),
];

const SCSP_41: [ClauseSpec; 4] = [
    doc(
        "unmodified-304",
        "GET If-Modified-Since the Last-Modified date is 304 without a body",
        SINCE,
    ),
    doc(
        "older-200",
        "GET If-Modified-Since an hour before Last-Modified is 200",
        SINCE,
    ),
    doc(
        "future-ignored",
        "a date a day past the target's own clock (its Date header) is ignored: 200",
        SINCE,
    ),
    doc("put-ignores", "PUT ignores If-Modified-Since", SINCE),
];

/// The conditional request rules.
pub const RULES: [Rule; 2] = [
    http_rule(
        "SCSP-40",
        "If-Match mismatch → 412 with the ETag; If-None-Match match → 304 (GET) / 412",
        MATCH,
        Strength::Must,
        scsp_40,
        &SCSP_40,
    ),
    http_rule(
        "SCSP-41",
        "If-Modified-Since: GET/HEAD only; future dates ignored; unmodified → 304",
        SINCE,
        Strength::Must,
        scsp_41,
        &SCSP_41,
    ),
];

check_fn!(scsp_40, check_scsp_40);
check_fn!(scsp_41, check_scsp_41);

async fn check_scsp_40(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    ctx.ensure_bucket().await?;
    let path = ctx.object("scsp-40");
    let created = write(ctx, &path, &[], b"tagged").await?;
    let etag = require_header(&created, "etag", "WRITE")?.to_string();
    let get =
        |h: &str, v: &str| Request::new("GET", path.clone()).header(h.to_string(), v.to_string());
    let mismatch = ctx
        .request(0, &get("If-Match", "\"00000000000000000000000000000000\""))
        .await?
        .response;
    c.record(
        "if-match-412-etag",
        mismatch.status == 412 && mismatch.header("etag") == Some(etag.as_str()),
        "If-Match mismatch → 412 with the ETag",
        format!(
            "GET with a non-matching If-Match answered {} with ETag {:?}; expected 412 with the current ETag {etag}",
            mismatch.status,
            mismatch.header("etag")
        ),
    );
    let matching = ctx.request(0, &get("If-Match", &etag)).await?.response;
    expect_status(&matching, &[200], "GET with a matching If-Match")?;
    c.pass("if-match-200", "matching If-Match → 200");
    let not_modified = ctx.request(0, &get("If-None-Match", &etag)).await?.response;
    expect_status(&not_modified, &[304], "GET with a matching If-None-Match")?;
    if !not_modified.body.is_empty() {
        return Err(c.fail("if-none-match-304", "a 304 carried a body"));
    }
    let star = ctx.request(0, &get("If-None-Match", "*")).await?.response;
    expect_status(&star, &[304], "GET with If-None-Match: *")?;
    c.pass("if-none-match-304", "matching If-None-Match and * → 304");
    ctx.next_second().await;
    let put = ctx
        .request(
            0,
            &Request::new("PUT", path.clone())
                .header("If-Match", "\"00000000000000000000000000000000\"")
                .body(Bytes::from_static(b"changed")),
        )
        .await?
        .response;
    expect_status(&put, &[412], "PUT with a non-matching If-Match")?;
    let put_none = ctx
        .request(
            0,
            &Request::new("PUT", path.clone())
                .header("If-None-Match", etag.clone())
                .body(Bytes::from_static(b"changed")),
        )
        .await?
        .response;
    expect_status(&put_none, &[412], "PUT with a matching If-None-Match")?;
    let put_ok = ctx
        .request(
            0,
            &Request::new("PUT", path)
                .header("If-Match", etag)
                .body(Bytes::from_static(b"changed")),
        )
        .await?
        .response;
    expect_status(&put_ok, &[201], "PUT with a matching If-Match")?;
    c.pass(
        "put-conditions",
        "PUT: mismatch → 412, If-None-Match match → 412, match → 201",
    );
    Ok(())
}

/// The target's clock, from a response's `Date` header.
fn date_of(r: &crate::client::Response) -> Option<std::time::SystemTime> {
    httpdate::parse_http_date(r.header("date")?).ok()
}

async fn check_scsp_41(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    ctx.ensure_bucket().await?;
    let path = ctx.object("scsp-41");
    let created = write(ctx, &path, &[], b"dated").await?;
    let modified = require_header(&created, "last-modified", "WRITE")?.to_string();
    let Ok(at) = httpdate::parse_http_date(&modified) else {
        return Err(Verdict::fail(format!(
            "Last-Modified `{modified}` is not an HTTP date"
        )));
    };
    ctx.next_second().await;
    let get = |since: String| Request::new("GET", path.clone()).header("If-Modified-Since", since);
    let same = ctx.request(0, &get(modified.clone())).await?.response;
    let serving_clock_behind = date_of(&same).is_some_and(|now| now < at);
    match same.status {
        304 if same.body.is_empty() => c.pass("unmodified-304", "unmodified → 304 without a body"),
        304 => return Err(c.fail("unmodified-304", "a 304 carried a body")),
        200 if serving_clock_behind => c.not_observed(
            "unmodified-304",
            "the serving node's clock (its Date) is behind the object's Last-Modified, so that date is in its future",
        ),
        other => {
            return Err(c.fail(
                "unmodified-304",
                format!("GET If-Modified-Since the Last-Modified date answered {other}; expected 304"),
            ))
        }
    }
    let hour_before = httpdate::fmt_http_date(at - std::time::Duration::from_secs(3600));
    let older = ctx.request(0, &get(hour_before)).await?.response;
    expect_status(&older, &[200], "GET If-Modified-Since an hour before")?;
    c.pass("older-200", "an hour before → 200");
    // "Future" on the target's clock, whatever its skew: its own Date plus a day.
    let target_now = date_of(&older).unwrap_or(at).max(at);
    let future = httpdate::fmt_http_date(target_now + std::time::Duration::from_secs(86_400));
    let ahead = ctx.request(0, &get(future)).await?.response;
    expect_status(
        &ahead,
        &[200],
        "GET If-Modified-Since a day past the target's clock (ignored)",
    )?;
    c.pass("future-ignored", "a day past the target's Date → 200");
    let put = ctx
        .request(
            0,
            &Request::new("PUT", path.clone())
                .header("If-Modified-Since", modified)
                .body(Bytes::from_static(b"updated")),
        )
        .await?
        .response;
    expect_status(
        &put,
        &[201],
        "PUT with If-Modified-Since (applies to GET/HEAD only)",
    )?;
    c.pass("put-ignores", "PUT ignores it");
    Ok(())
}
