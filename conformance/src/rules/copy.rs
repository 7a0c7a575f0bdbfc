//! COPY rules (the SCSP COPY page): SCSP-22..28.

use bytes::Bytes;

use crate::catalog::{Rule, Strength};
use crate::check_fn;
use crate::clause::{choice, consistency, doc, ClauseSpec};
use crate::client::{Request, Response};
use crate::patterns::copy_keeping;
use crate::rules::common::{expect_status, http_rule, last_segment, require_header};
use crate::target::Ctx;
use crate::verdict::Verdict;
use replisim_sim::http::content_md5::content_md5;

const C: &str = "SWARM/copy";

const fn rule(
    id: &'static str,
    title: &'static str,
    strength: Strength,
    check: crate::catalog::CheckFn,
    clauses: &'static [ClauseSpec],
) -> Rule {
    http_rule(id, title, C, strength, check, clauses)
}

const SCSP_22: [ClauseSpec; 3] = [
    doc(
        "replaces-metadata",
        "COPY keeps the headers it sends and drops user metadata it does not send",
        C,
    ),
    doc("keeps-content", "COPY keeps the content and its length", C),
    doc(
        "preserve-list",
        "HEAD → COPY sending the documented headers-to-preserve keeps every one of them",
        C,
    ),
];

const SCSP_23: [ClauseSpec; 2] = [
    doc(
        "copy-preserve",
        "COPY?preserve keeps existing custom headers and replaces the ones sent",
        C,
    ),
    doc(
        "put-preserve",
        "PUT?preserve=yes keeps existing custom headers and adds the ones sent",
        C,
    ),
];

const SCSP_24: [ClauseSpec; 2] = [
    doc("body-refused", "COPY with a body is refused (4xx)", C),
    consistency("unchanged", "the refused COPY leaves the object as it was"),
];

const SCSP_25: [ClauseSpec; 4] = [
    doc(
        "write-mismatch",
        "WRITE with a Content-MD5 that does not match the body is refused (4xx)",
        "PF/2443820996",
    ),
    doc(
        "copy-mismatch",
        "COPY with a Content-MD5 that does not match the stored content is refused (4xx)",
        C,
    ),
    doc(
        "copy-match",
        "COPY with the right Content-MD5 answers 201",
        C,
    ),
    choice(
        "status-400",
        "a Content-MD5 mismatch on WRITE and COPY is 400",
        27,
    ),
];

const SCSP_26: [ClauseSpec; 2] = [
    doc(
        "alias-keeps-uuid",
        "COPY of an alias answers 201 with the alias's UUID in Location",
        C,
    ),
    doc("failed-403", "a failing COPY of an alias is 403", C),
];

const SCSP_27: [ClauseSpec; 2] = [
    doc(
        "copy-409",
        "COPY in a domain that does not exist is 409",
        "SWARM/copy, PFdiff/2968421129",
    ),
    doc(
        "put-409",
        "PUT in a domain that does not exist is 409",
        "SWARM/copy, PFdiff/2968421129",
    ),
];

const SCSP_28: [ClauseSpec; 2] = [
    doc(
        "new-name-reads",
        "COPY?newname answers 201 with the new name's Location, and the new name reads the content",
        "SWARM/copy, PF/2443821621",
    ),
    doc(
        "old-name-gone",
        "after a rename the old name is 404",
        "SWARM/copy, PF/2443821621",
    ),
];

/// The COPY rules.
pub const RULES: [Rule; 7] = [
    rule(
        "SCSP-22",
        "COPY replaces all user metadata, keeps content and its length",
        Strength::Must,
        scsp_22,
        &SCSP_22,
    ),
    rule(
        "SCSP-23",
        "COPY and PUT with preserve keep existing custom headers",
        Strength::Must,
        scsp_23,
        &SCSP_23,
    ),
    rule(
        "SCSP-24",
        "COPY with a body or a non-zero Content-Length is refused (400)",
        Strength::Inf,
        scsp_24,
        &SCSP_24,
    ),
    rule(
        "SCSP-25",
        "a Content-MD5 that does not match fails WRITE and COPY (400)",
        Strength::Inf,
        scsp_25,
        &SCSP_25,
    ),
    rule(
        "SCSP-26",
        "COPY of an alias keeps its UUID; a failed alias COPY is 403",
        Strength::Must,
        scsp_26,
        &SCSP_26,
    ),
    rule(
        "SCSP-27",
        "COPY/PUT in a domain that does not exist is 409",
        Strength::Must,
        scsp_27,
        &SCSP_27,
    ),
    rule(
        "SCSP-28",
        "newname renames: the new name reads, the old one is 404",
        Strength::Must,
        scsp_28,
        &SCSP_28,
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

async fn check_scsp_22(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
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
        return Err(c.fail(
            "replaces-metadata",
            "the header given on COPY is missing afterwards",
        ));
    }
    for dropped in ["x-color-meta", "content-language"] {
        if let Some(v) = after.header(dropped) {
            return Err(c.fail(
                "replaces-metadata",
                format!("COPY without {dropped} must drop it (all metadata is replaced), but it is still `{v}`"),
            ));
        }
    }
    c.pass("replaces-metadata", "COPY replaced the metadata");
    if after.header("content-length") != Some("12") {
        return Err(c.fail(
            "keeps-content",
            format!(
                "COPY must keep the content length (12); HEAD says {:?}",
                after.header("content-length")
            ),
        ));
    }
    let content = get(ctx, &path).await?;
    c.check(
        "keeps-content",
        &content.body[..] == b"twelve bytes",
        "kept 12 bytes of content",
        "COPY changed the content",
    )?;
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
            return Err(c.fail(
                "preserve-list",
                format!(
                    "after HEAD → COPY, {k} is {:?}, expected `{v}`",
                    after.header(k)
                ),
            ));
        }
    }
    c.pass("preserve-list", "HEAD → COPY kept all 10 listed headers");
    Ok(())
}

async fn check_scsp_23(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
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
    c.record(
        "copy-preserve",
        after.header("x-a-meta") == Some("1") && after.header("x-b-meta") == Some("3"),
        "COPY?preserve kept X-A-Meta and replaced X-B-Meta",
        format!(
            "after COPY?preserve with X-B-Meta: 3, X-A-Meta is {:?} (want 1) and X-B-Meta {:?} (want 3)",
            after.header("x-a-meta"),
            after.header("x-b-meta")
        ),
    );
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
    c.check(
        "put-preserve",
        after.header("x-a-meta") == Some("1") && after.header("x-c-meta") == Some("4"),
        "PUT?preserve kept X-A-Meta and added X-C-Meta",
        "PUT?preserve did not keep the existing custom headers",
    )
}

async fn check_scsp_24(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
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
    c.check(
        "body-refused",
        (400..500).contains(&with_body.status),
        format!("COPY with a body → {}", with_body.status),
        format!(
            "COPY with a 4-byte body answered {}; it must be refused",
            with_body.status
        ),
    )?;
    let content = get(ctx, &path).await?;
    c.check(
        "unchanged",
        &content.body[..] == b"body",
        "object unchanged",
        "a refused COPY changed the object",
    )
}

async fn check_scsp_25(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    ctx.ensure_bucket().await?;
    let path = ctx.object("scsp-25");
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
    c.record(
        "write-mismatch",
        (400..500).contains(&bad_write.status),
        format!("wrong Content-MD5 on WRITE → {}", bad_write.status),
        format!(
            "WRITE with a wrong Content-MD5 answered {}",
            bad_write.status
        ),
    );
    write(ctx, &path, &[("Content-MD5", &right)], b"digest me").await?;
    ctx.next_second().await;
    let bad_copy = ctx
        .request(0, &copy(&path).header("Content-MD5", wrong))
        .await?
        .response;
    c.record(
        "copy-mismatch",
        (400..500).contains(&bad_copy.status),
        format!("wrong Content-MD5 on COPY → {}", bad_copy.status),
        format!("COPY with a wrong Content-MD5 answered {}", bad_copy.status),
    );
    c.check(
        "status-400",
        bad_write.status == 400 && bad_copy.status == 400,
        "both refusals are 400",
        format!(
            "Content-MD5 mismatches answered {} (WRITE) and {} (COPY); the reference answers 400",
            bad_write.status, bad_copy.status
        ),
    )?;
    ctx.next_second().await;
    let good_copy = ctx
        .request(0, &copy(&path).header("Content-MD5", right))
        .await?
        .response;
    expect_status(&good_copy, &[201], "COPY with the right Content-MD5")?;
    c.pass("copy-match", "the right Content-MD5 → 201");
    Ok(())
}

async fn check_scsp_26(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
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
    c.check(
        "alias-keeps-uuid",
        last_segment(location) == uuid,
        format!("COPY of alias {uuid} kept the UUID"),
        format!("COPY of alias {uuid} answered Location `{location}`"),
    )?;
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
    c.pass("failed-403", "a failing alias COPY → 403");
    Ok(())
}

async fn check_scsp_27(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let path = format!(
        "{}?domain=missing-{}.example",
        ctx.object("scsp-27"),
        ctx.bucket
    );
    let copied = ctx.request(0, &copy(&path)).await?.response;
    c.record(
        "copy-409",
        copied.status == 409,
        "COPY in a missing domain → 409",
        format!(
            "COPY in a domain that does not exist answered {}",
            copied.status
        ),
    );
    let put = ctx
        .request(0, &Request::new("PUT", path).body(Bytes::from_static(b"x")))
        .await?
        .response;
    c.record(
        "put-409",
        put.status == 409,
        "PUT in a missing domain → 409",
        format!(
            "PUT in a domain that does not exist answered {}",
            put.status
        ),
    );
    Ok(())
}

async fn check_scsp_28(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
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
        return Err(c.fail(
            "new-name-reads",
            format!("COPY?newname answered Location `{location}`"),
        ));
    }
    let new = get(ctx, &ctx.object("scsp-28-new")).await?;
    c.check(
        "new-name-reads",
        &new.body[..] == b"renamed",
        "the new name reads the content",
        "the new name does not read the object's content",
    )?;
    let gone = ctx
        .request(0, &Request::new("GET", old.clone()))
        .await?
        .response;
    expect_status(&gone, &[404], "GET of the old name after a rename")?;
    c.pass("old-name-gone", "the old name → 404");
    Ok(())
}
