//! WRITE (POST) rules: SCSP-1, SCSP-2, SCSP-12, SCSP-14.

use bytes::Bytes;

use crate::catalog::{Rule, Strength};
use crate::check_fn;
use crate::clause::{consistency, doc, ClauseSpec};
use crate::client::Request;
use crate::rules::common::{expect_status, http_rule, is_uuid, last_segment, require_header};
use crate::target::Ctx;
use crate::verdict::Verdict;

const NORMAL: &str = "SWARM/normal-write";

const SCSP_1: [ClauseSpec; 2] = [
    doc(
        "unnamed-location",
        "an unnamed WRITE answers 201 with a Location ending in its Content-UUID (32 hex digits)",
        NORMAL,
    ),
    doc(
        "named-location",
        "a named WRITE answers 201 with a Location ending in the name",
        NORMAL,
    ),
];

const SCSP_2: [ClauseSpec; 2] = [
    doc(
        "length",
        "the 201's Content-Length is the length of its own body",
        NORMAL,
    ),
    doc(
        "type",
        "the 201's Content-Type describes its own body, not the object's type",
        NORMAL,
    ),
];

const SCSP_12: [ClauseSpec; 3] = [
    doc(
        "new-version",
        "POST to an existing name answers 201 and reads return the new version",
        "PF/2443821645",
    ),
    doc(
        "if-none-match",
        "POST with If-None-Match: * to an existing name is 412",
        "PF/2443821645",
    ),
    consistency(
        "refused-untouched",
        "the refused write leaves the stored version as it was",
    ),
];

const SCSP_14: [ClauseSpec; 2] = [
    doc(
        "length-required",
        "WRITE without Content-Length is 411",
        "PFdiff/3379986645",
    ),
    doc(
        "host-required",
        "a request without Host is 400",
        "PFdiff/3379986645, RFC9112",
    ),
];

/// The WRITE rules.
pub const RULES: [Rule; 4] = [
    http_rule(
        "SCSP-1",
        "201 Location ends in the name or UUID; Content-UUID repeats it",
        NORMAL,
        Strength::Must,
        scsp_1,
        &SCSP_1,
    ),
    http_rule(
        "SCSP-2",
        "201 Content-Type/Content-Length describe the response body",
        NORMAL,
        Strength::Must,
        scsp_2,
        &SCSP_2,
    ),
    http_rule(
        "SCSP-12",
        "POST to an existing name makes a new version; If-None-Match: * gives 412",
        "PF/2443821645",
        Strength::Must,
        scsp_12,
        &SCSP_12,
    ),
    http_rule(
        "SCSP-14",
        "WRITE without Content-Length is 411; a request without Host is 400",
        "PFdiff/3379986645",
        Strength::Must,
        scsp_14,
        &SCSP_14,
    ),
];

check_fn!(scsp_1, check_scsp_1);
check_fn!(scsp_2, check_scsp_2);
check_fn!(scsp_12, check_scsp_12);
check_fn!(scsp_14, check_scsp_14);

async fn check_scsp_1(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
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
    c.check(
        "unnamed-location",
        is_uuid(uuid) && last_segment(location) == uuid,
        format!("unnamed Location ends in Content-UUID {uuid}"),
        format!("Location `{location}` and Content-UUID `{uuid}`: the UUID must be 32 hex digits and end the Location"),
    )?;
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
    c.check(
        "named-location",
        last_segment(named_location) == name,
        format!("named Location ends in {name}"),
        format!("named Location `{named_location}` does not end in the name {name}"),
    )
}

async fn check_scsp_2(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
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
    match created.header("content-length") {
        Some(length) => {
            let declared = length.trim().parse::<usize>().ok();
            c.check(
                "length",
                declared == Some(created.body.len()),
                format!("Content-Length {length} matches the body"),
                format!(
                    "201 Content-Length `{length}` does not match its body of {} bytes",
                    created.body.len()
                ),
            )?;
        }
        None => c.pass("length", "no Content-Length (the body is framed otherwise)"),
    }
    if created.body.is_empty() {
        c.pass(
            "type",
            "201 has no body, so its headers describe nothing else",
        );
        return Ok(());
    }
    let response_type = require_header(&created, "content-type", "WRITE with a body")?;
    c.check(
        "type",
        !response_type.trim().eq_ignore_ascii_case(object_type),
        format!(
            "201 body is {} bytes of {response_type}",
            created.body.len()
        ),
        format!("201 Content-Type is the object's type ({object_type}), not the response body's"),
    )
}

async fn check_scsp_12(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
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
    c.check(
        "new-version",
        &read.body[..] == b"version two",
        "overwrite answered 201 and reads return the new version",
        format!(
            "READ after overwrite returned `{}`, not the new version",
            String::from_utf8_lossy(&read.body)
        ),
    )?;
    ctx.next_second().await;
    let guarded = ctx
        .request(0, &write(b"version three").header("If-None-Match", "*"))
        .await?
        .response;
    c.record(
        "if-none-match",
        guarded.status == 412,
        "If-None-Match: * → 412",
        format!(
            "WRITE with If-None-Match: * on an existing name answered {}; expected 412",
            guarded.status
        ),
    );
    let after = ctx.request(0, &Request::new("GET", path)).await?.response;
    expect_status(&after, &[200], "READ after refused WRITE")?;
    c.check(
        "refused-untouched",
        &after.body[..] == b"version two",
        "the refused write left the object untouched",
        "the refused If-None-Match write changed the object",
    )
}

async fn check_scsp_14(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
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
    c.pass("length-required", "no Content-Length → 411");
    let no_host = ctx
        .client
        .send(
            ctx.nodes[0],
            "",
            &Request::new("GET", ctx.object("scsp-14")).omit_host(),
        )
        .await?;
    expect_status(&no_host, &[400], "request without Host")?;
    c.pass("host-required", "no Host → 400");
    Ok(())
}
