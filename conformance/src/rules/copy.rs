//! COPY rules (seed-001): SCSP-22..28 and SCSP-30's COPY half.

use bytes::Bytes;

use crate::catalog::{Rule, Strength};
use crate::check_fn;
use crate::client::{Request, Response};
use crate::patterns::copy_keeping;
use crate::rules::common::{expect_status, http_rule, last_segment, require_header};
use crate::target::Ctx;
use crate::verdict::Verdict;
use replisim_sim::http::content_md5::content_md5;

const fn rule(
    id: &'static str,
    title: &'static str,
    strength: Strength,
    check: crate::catalog::CheckFn,
) -> Rule {
    http_rule(id, title, "seed-001", strength, check)
}

/// The COPY rules.
pub const RULES: [Rule; 7] = [
    rule(
        "SCSP-22",
        "COPY replaces all user metadata, keeps content and its length",
        Strength::Must,
        scsp_22,
    ),
    rule(
        "SCSP-23",
        "COPY and PUT with preserve keep existing custom headers",
        Strength::Must,
        scsp_23,
    ),
    rule(
        "SCSP-24",
        "COPY with a body or a non-zero Content-Length is refused (400)",
        Strength::Inf,
        scsp_24,
    ),
    rule(
        "SCSP-25",
        "a Content-MD5 that does not match fails WRITE and COPY (400)",
        Strength::Inf,
        scsp_25,
    ),
    rule(
        "SCSP-26",
        "COPY of an alias keeps its UUID; a failed alias COPY is 403",
        Strength::Must,
        scsp_26,
    ),
    rule(
        "SCSP-27",
        "COPY/PUT in a domain that does not exist is 409",
        Strength::Must,
        scsp_27,
    ),
    rule(
        "SCSP-28",
        "newname renames: the new name reads, the old one is 404",
        Strength::Must,
        scsp_28,
    ),
];

check_fn!(scsp_22, check_scsp_22);
check_fn!(scsp_23, check_scsp_23);
check_fn!(scsp_24, check_scsp_24);
check_fn!(scsp_25, check_scsp_25);
check_fn!(scsp_26, check_scsp_26);
check_fn!(scsp_27, check_scsp_27);
check_fn!(scsp_28, check_scsp_28);

/// Writes an object with the given headers and body; fails the rule unless it gets 201.
pub(crate) async fn write(
    ctx: &Ctx,
    path: &str,
    headers: &[(&str, &str)],
    body: &'static [u8],
) -> Result<Response, Verdict> {
    let mut req = Request::new("POST", path).body(Bytes::from_static(body));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = ctx.request(0, &req).await?.response;
    expect_status(&r, &[201], &format!("WRITE {path}"))?;
    Ok(r)
}

/// HEAD of a path, which must be 200.
pub(crate) async fn head(ctx: &Ctx, path: &str) -> Result<Response, Verdict> {
    let r = ctx.request(0, &Request::new("HEAD", path)).await?.response;
    expect_status(&r, &[200], &format!("HEAD {path}"))?;
    Ok(r)
}

/// GET of a path, which must be 200.
pub(crate) async fn get(ctx: &Ctx, path: &str) -> Result<Response, Verdict> {
    let r = ctx.request(0, &Request::new("GET", path)).await?.response;
    expect_status(&r, &[200], &format!("GET {path}"))?;
    Ok(r)
}

fn copy(path: &str) -> Request {
    Request::new("COPY", path).header("Content-Length", "0")
}

async fn check_scsp_22(ctx: &Ctx) -> Result<String, Verdict> {
    ctx.ensure_bucket().await?;
    let path = ctx.object("scsp-22");
    write(
        ctx,
        &path,
        &[("X-Color-Meta", "blue"), ("Content-Language", "en")],
        b"twelve bytes",
    )
    .await?;
    ctx.next_second().await;
    let copied = ctx
        .request(0, &copy(&path).header("X-Size-Meta", "big"))
        .await?
        .response;
    expect_status(&copied, &[201], "COPY with one new header")?;
    let after = head(ctx, &path).await?;
    if after.header("x-size-meta") != Some("big") {
        return Err(Verdict::fail(
            "the header given on COPY is missing afterwards",
        ));
    }
    for dropped in ["x-color-meta", "content-language"] {
        if let Some(v) = after.header(dropped) {
            return Err(Verdict::fail(format!(
                "COPY without {dropped} must drop it (all metadata is replaced), but it is still `{v}`"
            )));
        }
    }
    if after.header("content-length") != Some("12") {
        return Err(Verdict::fail(format!(
            "COPY must keep the content length (12); HEAD says {:?}",
            after.header("content-length")
        )));
    }
    let content = get(ctx, &path).await?;
    if &content.body[..] != b"twelve bytes" {
        return Err(Verdict::fail("COPY changed the content"));
    }
    // The documented HEAD → COPY pattern keeps every header on the preserve list.
    let listed = ctx.object("scsp-22-listed");
    let kept: [(&str, &str); 10] = [
        ("Cache-Control", "no-cache"),
        ("Castor-Color", "red"),
        ("Content-Disposition", "attachment"),
        ("Content-Encoding", "identity"),
        ("Content-Language", "fr"),
        ("Content-Type", "text/plain"),
        ("Expires", "Thu, 01 Jan 2099 00:00:00 GMT"),
        ("Policy-Replicas", "2"),
        ("X-Owner-Meta", "ann"),
        ("X-Owner-Meta-Team", "storage"),
    ];
    write(ctx, &listed, &kept, b"listed").await?;
    ctx.next_second().await;
    let patterned = copy_keeping(ctx, 0, &listed, &[("X-Added-Meta", "yes")], &[]).await?;
    expect_status(&patterned, &[201], "HEAD → COPY keeping the preserve list")?;
    let after = head(ctx, &listed).await?;
    for (k, v) in kept.iter().chain([("X-Added-Meta", "yes")].iter()) {
        if after.header(k) != Some(*v) {
            return Err(Verdict::fail(format!(
                "after HEAD → COPY, {k} is {:?}, expected `{v}`",
                after.header(k)
            )));
        }
    }
    Ok("COPY replaced the metadata, kept 12 bytes of content; HEAD → COPY kept all 10 listed headers".to_string())
}

async fn check_scsp_23(ctx: &Ctx) -> Result<String, Verdict> {
    ctx.ensure_bucket().await?;
    let path = ctx.object("scsp-23");
    write(
        ctx,
        &path,
        &[("X-A-Meta", "1"), ("X-B-Meta", "2")],
        b"preserved",
    )
    .await?;
    ctx.next_second().await;
    let copied = ctx
        .request(
            0,
            &copy(&format!("{path}?preserve")).header("X-B-Meta", "3"),
        )
        .await?
        .response;
    expect_status(&copied, &[201], "COPY?preserve")?;
    let after = head(ctx, &path).await?;
    if after.header("x-a-meta") != Some("1") || after.header("x-b-meta") != Some("3") {
        return Err(Verdict::fail(format!(
            "after COPY?preserve with X-B-Meta: 3, X-A-Meta is {:?} (want 1) and X-B-Meta {:?} (want 3)",
            after.header("x-a-meta"),
            after.header("x-b-meta")
        )));
    }
    ctx.next_second().await;
    let put = ctx
        .request(
            0,
            &Request::new("PUT", format!("{path}?preserve=yes"))
                .header("X-C-Meta", "4")
                .body(Bytes::from_static(b"new content")),
        )
        .await?
        .response;
    expect_status(&put, &[201], "PUT?preserve=yes")?;
    let after = head(ctx, &path).await?;
    if after.header("x-a-meta") != Some("1") || after.header("x-c-meta") != Some("4") {
        return Err(Verdict::fail(
            "PUT?preserve did not keep the existing custom headers",
        ));
    }
    Ok(
        "COPY?preserve and PUT?preserve kept existing headers and replaced the given ones"
            .to_string(),
    )
}

async fn check_scsp_24(ctx: &Ctx) -> Result<String, Verdict> {
    ctx.ensure_bucket().await?;
    let path = ctx.object("scsp-24");
    write(ctx, &path, &[], b"body").await?;
    ctx.next_second().await;
    let with_body = ctx
        .request(
            0,
            &Request::new("COPY", path.clone()).body(Bytes::from_static(b"oops")),
        )
        .await?
        .response;
    expect_status(&with_body, &[400], "COPY with a 4-byte body")?;
    let content = get(ctx, &path).await?;
    if &content.body[..] != b"body" {
        return Err(Verdict::fail("a refused COPY changed the object"));
    }
    Ok("COPY with a body → 400; object unchanged".to_string())
}

async fn check_scsp_25(ctx: &Ctx) -> Result<String, Verdict> {
    ctx.ensure_bucket().await?;
    let path = ctx.object("scsp-25");
    // MD5("digest me") in base64, and a wrong one.
    let right = content_md5(b"digest me");
    let wrong = content_md5(b"something else");
    let bad_write = ctx
        .request(
            0,
            &Request::new("POST", path.clone())
                .header("Content-MD5", wrong.clone())
                .body(Bytes::from_static(b"digest me")),
        )
        .await?
        .response;
    expect_status(&bad_write, &[400], "WRITE with a wrong Content-MD5")?;
    write(ctx, &path, &[("Content-MD5", &right)], b"digest me").await?;
    ctx.next_second().await;
    let bad_copy = ctx
        .request(0, &copy(&path).header("Content-MD5", wrong))
        .await?
        .response;
    expect_status(&bad_copy, &[400], "COPY with a wrong Content-MD5")?;
    ctx.next_second().await;
    let good_copy = ctx
        .request(0, &copy(&path).header("Content-MD5", right))
        .await?
        .response;
    expect_status(&good_copy, &[201], "COPY with the right Content-MD5")?;
    Ok("wrong Content-MD5 → 400 on WRITE and COPY; the right one → 201".to_string())
}

async fn check_scsp_26(ctx: &Ctx) -> Result<String, Verdict> {
    let created = ctx
        .request(
            0,
            &Request::new("POST", "/?alias").body(Bytes::from_static(b"alias")),
        )
        .await?
        .response;
    expect_status(&created, &[201], "alias WRITE")?;
    let uuid = require_header(&created, "content-uuid", "alias WRITE")?.to_string();
    ctx.next_second().await;
    let copied = ctx
        .request(
            0,
            &copy(&format!("/{uuid}?alias=yes")).header("X-Tag-Meta", "t"),
        )
        .await?
        .response;
    expect_status(&copied, &[201], "COPY of an alias")?;
    let location = require_header(&copied, "location", "COPY of an alias")?;
    if last_segment(location) != uuid {
        return Err(Verdict::fail(format!(
            "COPY of alias {uuid} answered Location `{location}`"
        )));
    }
    ctx.next_second().await;
    let failed = ctx
        .request(
            0,
            &copy(&format!("/{uuid}?alias=yes")).header("Content-MD5", content_md5(b"not it")),
        )
        .await?
        .response;
    expect_status(
        &failed,
        &[403],
        "a failing COPY of an alias (wrong Content-MD5)",
    )?;
    Ok(format!(
        "COPY of alias {uuid} kept the UUID; a failing one → 403"
    ))
}

async fn check_scsp_27(ctx: &Ctx) -> Result<String, Verdict> {
    let path = format!(
        "{}?domain=missing-{}.example",
        ctx.object("scsp-27"),
        ctx.bucket
    );
    let copied = ctx.request(0, &copy(&path)).await?.response;
    expect_status(&copied, &[409], "COPY in a domain that does not exist")?;
    let put = ctx
        .request(0, &Request::new("PUT", path).body(Bytes::from_static(b"x")))
        .await?
        .response;
    expect_status(&put, &[409], "PUT in a domain that does not exist")?;
    Ok("COPY and PUT in a missing domain → 409".to_string())
}

async fn check_scsp_28(ctx: &Ctx) -> Result<String, Verdict> {
    ctx.ensure_bucket().await?;
    let old = ctx.object("scsp-28-old");
    write(ctx, &old, &[("X-Kept-Meta", "k")], b"renamed").await?;
    ctx.next_second().await;
    let renamed = ctx
        .request(
            0,
            &copy(&format!("{old}?newname=scsp-28-new")).header("X-Kept-Meta", "k"),
        )
        .await?
        .response;
    expect_status(&renamed, &[201], "COPY?newname")?;
    let location = require_header(&renamed, "location", "COPY?newname")?;
    if last_segment(location) != "scsp-28-new" {
        return Err(Verdict::fail(format!(
            "COPY?newname answered Location `{location}`"
        )));
    }
    let new = get(ctx, &ctx.object("scsp-28-new")).await?;
    if &new.body[..] != b"renamed" {
        return Err(Verdict::fail(
            "the new name does not read the object's content",
        ));
    }
    let gone = ctx
        .request(0, &Request::new("GET", old.clone()))
        .await?
        .response;
    expect_status(&gone, &[404], "GET of the old name after a rename")?;
    Ok("COPY?newname: the new name reads the content, the old name → 404".to_string())
}
