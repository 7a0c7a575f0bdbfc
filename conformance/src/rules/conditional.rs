//! Conditional request rules: SCSP-40 (If-Match, If-None-Match) and SCSP-41
//! (If-Modified-Since).

use bytes::Bytes;

use crate::catalog::{Rule, Strength};
use crate::check_fn;
use crate::client::Request;
use crate::rules::common::{expect_status, http_rule, require_header};
use crate::rules::copy::write;
use crate::target::Ctx;
use crate::verdict::Verdict;

/// The conditional request rules.
pub const RULES: [Rule; 2] = [
    http_rule(
        "SCSP-40",
        "If-Match mismatch → 412 with the ETag; If-None-Match match → 304 (GET) / 412",
        "PFdiff/2979594370",
        Strength::Must,
        scsp_40,
    ),
    http_rule(
        "SCSP-41",
        "If-Modified-Since: GET/HEAD only; future dates ignored; unmodified → 304",
        "PFdiff/2979135784",
        Strength::Must,
        scsp_41,
    ),
];

check_fn!(scsp_40, check_scsp_40);
check_fn!(scsp_41, check_scsp_41);

async fn check_scsp_40(ctx: &Ctx) -> Result<String, Verdict> {
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
    expect_status(&mismatch, &[412], "GET with a non-matching If-Match")?;
    if mismatch.header("etag") != Some(etag.as_str()) {
        return Err(Verdict::fail(format!(
            "412 for If-Match must carry the current ETag {etag}; it has {:?}",
            mismatch.header("etag")
        )));
    }
    let matching = ctx.request(0, &get("If-Match", &etag)).await?.response;
    expect_status(&matching, &[200], "GET with a matching If-Match")?;
    let not_modified = ctx.request(0, &get("If-None-Match", &etag)).await?.response;
    expect_status(&not_modified, &[304], "GET with a matching If-None-Match")?;
    if !not_modified.body.is_empty() {
        return Err(Verdict::fail("a 304 carried a body"));
    }
    let star = ctx.request(0, &get("If-None-Match", "*")).await?.response;
    expect_status(&star, &[304], "GET with If-None-Match: *")?;
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
    Ok("If-Match: mismatch → 412 with ETag, match → 200/201; If-None-Match: match → 304 (GET), 412 (PUT)".to_string())
}

async fn check_scsp_41(ctx: &Ctx) -> Result<String, Verdict> {
    ctx.ensure_bucket().await?;
    let path = ctx.object("scsp-41");
    let created = write(ctx, &path, &[], b"dated").await?;
    let modified = require_header(&created, "last-modified", "WRITE")?.to_string();
    let Ok(at) = httpdate::parse_http_date(&modified) else {
        return Err(Verdict::fail(format!(
            "Last-Modified `{modified}` is not an HTTP date"
        )));
    };
    let when = |secs: i64| {
        let t = if secs >= 0 {
            at + std::time::Duration::from_secs(secs as u64)
        } else {
            at - std::time::Duration::from_secs((-secs) as u64)
        };
        httpdate::fmt_http_date(t)
    };
    ctx.next_second().await;
    let get = |since: String| Request::new("GET", path.clone()).header("If-Modified-Since", since);
    let same = ctx.request(0, &get(modified.clone())).await?.response;
    expect_status(
        &same,
        &[304],
        "GET If-Modified-Since the Last-Modified date",
    )?;
    if !same.body.is_empty() {
        return Err(Verdict::fail("a 304 carried a body"));
    }
    let older = ctx.request(0, &get(when(-3600))).await?.response;
    expect_status(&older, &[200], "GET If-Modified-Since an hour before")?;
    let future = ctx.request(0, &get(when(86_400 * 365))).await?.response;
    expect_status(
        &future,
        &[200],
        "GET If-Modified-Since a date in the future (ignored)",
    )?;
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
    Ok(
        "unmodified → 304 without body; older date → 200; future date ignored; PUT ignores it"
            .to_string(),
    )
}
