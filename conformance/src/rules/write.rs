//! WRITE (POST) rules: SCSP-1, SCSP-2, SCSP-12, SCSP-14.

use bytes::Bytes;

use crate::catalog::{Rule, Strength};
use crate::check_fn;
use crate::client::Request;
use crate::rules::common::{expect_status, http_rule, is_uuid, last_segment, require_header};
use crate::target::Ctx;
use crate::verdict::Verdict;

/// The WRITE rules.
pub const RULES: [Rule; 4] = [
    http_rule(
        "SCSP-1",
        "201 Location ends in the name or UUID; Content-UUID repeats it",
        "seed-000",
        Strength::Must,
        scsp_1,
    ),
    http_rule(
        "SCSP-2",
        "201 Content-Type/Content-Length describe the response body",
        "seed-000",
        Strength::Must,
        scsp_2,
    ),
    http_rule(
        "SCSP-12",
        "POST to an existing name makes a new version; If-None-Match: * gives 412",
        "PF/2443821645",
        Strength::Must,
        scsp_12,
    ),
    http_rule(
        "SCSP-14",
        "WRITE without Content-Length is 411; a request without Host is 400",
        "PFdiff/3379986645",
        Strength::Must,
        scsp_14,
    ),
];

check_fn!(scsp_1, check_scsp_1);
check_fn!(scsp_2, check_scsp_2);
check_fn!(scsp_12, check_scsp_12);
check_fn!(scsp_14, check_scsp_14);

async fn check_scsp_1(ctx: &Ctx) -> Result<String, Verdict> {
    ctx.ensure_bucket().await?;
    let unnamed = ctx
        .request(
            0,
            &Request::new("POST", "/").body(Bytes::from_static(b"scsp-1 unnamed")),
        )
        .await?
        .response;
    expect_status(&unnamed, &[201], "unnamed WRITE")?;
    let location = require_header(&unnamed, "location", "unnamed WRITE")?;
    let uuid = require_header(&unnamed, "content-uuid", "unnamed WRITE")?;
    if !is_uuid(uuid) {
        return Err(Verdict::fail(format!(
            "Content-UUID `{uuid}` is not 32 hex digits"
        )));
    }
    if last_segment(location) != uuid {
        return Err(Verdict::fail(format!(
            "Location `{location}` does not end in the Content-UUID {uuid}"
        )));
    }
    let name = "scsp-1-named.txt";
    let named = ctx
        .request(
            0,
            &Request::new("POST", ctx.object(name)).body(Bytes::from_static(b"named")),
        )
        .await?
        .response;
    expect_status(&named, &[201], "named WRITE")?;
    let named_location = require_header(&named, "location", "named WRITE")?;
    if last_segment(named_location) != name {
        return Err(Verdict::fail(format!(
            "named Location `{named_location}` does not end in the name {name}"
        )));
    }
    Ok(format!(
        "unnamed Location ends in Content-UUID {uuid}; named Location ends in {name}"
    ))
}

async fn check_scsp_2(ctx: &Ctx) -> Result<String, Verdict> {
    ctx.ensure_bucket().await?;
    let object_type = "image/jpeg";
    let content = Bytes::from(vec![b'j'; 1000]);
    let created = ctx
        .request(
            0,
            &Request::new("POST", ctx.object("scsp-2.jpg"))
                .header("Content-Type", object_type)
                .body(content.clone()),
        )
        .await?
        .response;
    expect_status(&created, &[201], "WRITE")?;
    if let Some(length) = created.header("content-length") {
        let declared: usize = length
            .trim()
            .parse()
            .map_err(|_| Verdict::fail(format!("201 Content-Length `{length}` is not a number")))?;
        if declared != created.body.len() {
            return Err(Verdict::fail(format!(
                "201 Content-Length {declared} does not match its body of {} bytes",
                created.body.len()
            )));
        }
    }
    if created.body.is_empty() {
        return Ok("201 has no body, so its headers describe nothing else".to_string());
    }
    let response_type = require_header(&created, "content-type", "WRITE with a body")?;
    if response_type.trim().eq_ignore_ascii_case(object_type) {
        return Err(Verdict::fail(format!(
            "201 Content-Type is the object's type ({object_type}), not the response body's"
        )));
    }
    Ok(format!(
        "201 body is {} bytes of {response_type}, as its headers say",
        created.body.len()
    ))
}

async fn check_scsp_12(ctx: &Ctx) -> Result<String, Verdict> {
    ctx.ensure_bucket().await?;
    let path = ctx.object("scsp-12");
    let write =
        |body: &'static [u8]| Request::new("POST", path.clone()).body(Bytes::from_static(body));
    let first = ctx.request(0, &write(b"version one")).await?.response;
    expect_status(&first, &[201], "first WRITE")?;
    ctx.next_second().await;
    let second = ctx.request(0, &write(b"version two")).await?.response;
    expect_status(&second, &[201], "WRITE of an existing name")?;
    let read = ctx
        .request(1 % ctx.nodes.len(), &Request::new("GET", path.clone()))
        .await?
        .response;
    expect_status(&read, &[200], "READ after overwrite")?;
    if &read.body[..] != b"version two" {
        return Err(Verdict::fail(format!(
            "READ after overwrite returned `{}`, not the new version",
            String::from_utf8_lossy(&read.body)
        )));
    }
    ctx.next_second().await;
    let guarded = ctx
        .request(0, &write(b"version three").header("If-None-Match", "*"))
        .await?
        .response;
    expect_status(
        &guarded,
        &[412],
        "WRITE with If-None-Match: * on an existing name",
    )?;
    let after = ctx.request(0, &Request::new("GET", path)).await?.response;
    expect_status(&after, &[200], "READ after refused WRITE")?;
    if &after.body[..] != b"version two" {
        return Err(Verdict::fail(
            "the refused If-None-Match write changed the object",
        ));
    }
    Ok("overwrite made a new version; If-None-Match: * got 412 and left it untouched".to_string())
}

async fn check_scsp_14(ctx: &Ctx) -> Result<String, Verdict> {
    ctx.ensure_bucket().await?;
    let no_length = ctx
        .client
        .send(
            ctx.nodes[0],
            &ctx.nodes[0].to_string(),
            &Request::new("POST", ctx.object("scsp-14")).no_content_length(),
        )
        .await?;
    expect_status(&no_length, &[411], "WRITE without Content-Length")?;
    let no_host = ctx
        .client
        .send(
            ctx.nodes[0],
            "",
            &Request::new("GET", ctx.object("scsp-14")).omit_host(),
        )
        .await?;
    expect_status(&no_host, &[400], "request without Host")?;
    Ok("no Content-Length → 411; no Host → 400".to_string())
}
