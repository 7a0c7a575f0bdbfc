//! Multipart rules: SCSP-30..36. A 202 is never counted as success by itself: its outcome is
//! read from the `castor-system-result` trailer and the body (`patterns::result_of_202`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;

use crate::catalog::{Rule, Strength};
use crate::check_fn;
use crate::client::{Request, Response};
use crate::patterns::result_of_202;
use crate::rules::common::{expect_status, http_rule, is_uuid, require_header};
use crate::rules::copy::{get, head, write};
use crate::target::Ctx;
use crate::verdict::Verdict;
use replisim_sim::http::content_md5::content_md5;

/// The multipart rules.
pub const RULES: [Rule; 7] = [
    http_rule(
        "SCSP-30",
        "Castor-System-CompositeMD5 survives COPY and is removed by PUT/APPEND",
        "PF/2443820996",
        Strength::Must,
        scsp_30,
    ),
    http_rule(
        "SCSP-31",
        "completion assembles parts by ascending number; nothing is visible before",
        "PF/2443822271",
        Strength::Must,
        scsp_31,
    ),
    http_rule(
        "SCSP-32",
        "completion answers 202; the result is in the body and castor-system-result",
        "seed-000, PF/2443821170",
        Strength::Must,
        scsp_32,
    ),
    http_rule(
        "SCSP-33",
        "a multipart COPY-by-part also answers 202 with keep-alive bytes",
        "seed-001",
        Strength::Inf,
        scsp_33,
    ),
    http_rule(
        "SCSP-34",
        "Content-MD5 on initiate or complete → 400; APPEND-initiate needs an EC target",
        "PF/2443822229",
        Strength::Must,
        scsp_34,
    ),
    http_rule(
        "SCSP-35",
        "parts are immutable unnamed objects with Content-UUID; a re-sent part replaces nothing",
        "PFdiff/2957803717",
        Strength::Must,
        scsp_35,
    ),
    http_rule(
        "SCSP-36",
        "a PUT-initiated upload fails if the target changed; APPEND appends to the current content",
        "PF/2443822271",
        Strength::Must,
        scsp_36,
    ),
];

check_fn!(scsp_30, check_scsp_30);
check_fn!(scsp_31, check_scsp_31);
check_fn!(scsp_32, check_scsp_32);
check_fn!(scsp_33, check_scsp_33);
check_fn!(scsp_34, check_scsp_34);
check_fn!(scsp_35, check_scsp_35);
check_fn!(scsp_36, check_scsp_36);

/// Starts an upload (`?uploads` on `method target`) and returns its id.
pub(crate) async fn initiate(
    ctx: &Ctx,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
) -> Result<String, Verdict> {
    let sep = if target.contains('?') { '&' } else { '?' };
    let mut req = Request::new(method, format!("{target}{sep}uploads")).body(Bytes::new());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = ctx.request(0, &req).await?.response;
    expect_status(&r, &[200, 201], "multipart initiate")?;
    Ok(require_header(&r, "castor-system-uploadid", "multipart initiate")?.to_string())
}

/// Uploads one part and returns its UUID.
pub(crate) async fn part(
    ctx: &Ctx,
    target: &str,
    upload: &str,
    number: u32,
    body: &'static [u8],
) -> Result<String, Verdict> {
    let r = ctx
        .request(
            0,
            &Request::new(
                "POST",
                format!("{target}?partNumber={number}&uploadId={upload}"),
            )
            .body(Bytes::from_static(body)),
        )
        .await?
        .response;
    expect_status(&r, &[201], &format!("part {number}"))?;
    let uuid = require_header(&r, "content-uuid", &format!("part {number}"))?;
    if !is_uuid(uuid) {
        return Err(Verdict::fail(format!(
            "part {number} answered Content-UUID `{uuid}`"
        )));
    }
    Ok(uuid.to_string())
}

fn manifest(parts: &[(u32, &str)]) -> String {
    let list: Vec<String> = parts
        .iter()
        .map(|(n, u)| format!("{{\"partNumber\":{n},\"uuid\":\"{u}\"}}"))
        .collect();
    format!("{{\"parts\":[{}]}}", list.join(","))
}

/// Sends the completion and returns the (202) response with its trailers.
pub(crate) async fn complete(
    ctx: &Ctx,
    target: &str,
    upload: &str,
    parts: &[(u32, &str)],
) -> Result<Response, Verdict> {
    // `TE: trailers` says the client reads trailer fields (RFC 9110 §10.1.4); a server may
    // hold trailers back from clients that do not say so.
    let req = Request::new("POST", format!("{target}?uploadId={upload}"))
        .header("TE", "trailers")
        .header("Content-Type", "application/json")
        .body(Bytes::from(manifest(parts)));
    Ok(ctx.request(0, &req).await?.response)
}

/// A whole upload of the given parts (number, content) to a named target; returns the
/// completion's final status.
async fn upload(ctx: &Ctx, target: &str, parts: &[(u32, &'static [u8])]) -> Result<u16, Verdict> {
    let id = initiate(ctx, "POST", target, &[]).await?;
    let mut uploaded = Vec::new();
    for (n, body) in parts {
        uploaded.push((*n, part(ctx, target, &id, *n, body).await?));
    }
    let listed: Vec<(u32, &str)> = uploaded.iter().map(|(n, u)| (*n, u.as_str())).collect();
    let done = complete(ctx, target, &id, &listed).await?;
    result_of_202(&done)
}

async fn check_scsp_30(ctx: &Ctx) -> Result<String, Verdict> {
    ctx.ensure_bucket().await?;
    let path = ctx.object("scsp-30");
    let status = upload(ctx, &path, &[(1, b"one"), (2, b"two")]).await?;
    if status != 201 {
        return Err(Verdict::fail(format!("the upload ended in {status}")));
    }
    let composite = head(ctx, &path)
        .await?
        .header("castor-system-compositemd5")
        .map(str::to_string)
        .ok_or_else(|| Verdict::fail("a multipart object has no Castor-System-CompositeMD5"))?;
    ctx.next_second().await;
    let copied = ctx
        .request(
            0,
            &Request::new("COPY", path.clone())
                .header("Content-Length", "0")
                .header("X-Tag-Meta", "t"),
        )
        .await?
        .response;
    expect_status(&copied, &[201], "COPY of a multipart object")?;
    if head(ctx, &path).await?.header("castor-system-compositemd5") != Some(composite.as_str()) {
        return Err(Verdict::fail(
            "COPY removed or changed Castor-System-CompositeMD5",
        ));
    }
    ctx.next_second().await;
    let put = ctx
        .request(
            0,
            &Request::new("PUT", path.clone()).body(Bytes::from_static(b"plain")),
        )
        .await?
        .response;
    expect_status(&put, &[201], "PUT over a multipart object")?;
    if let Some(v) = head(ctx, &path).await?.header("castor-system-compositemd5") {
        return Err(Verdict::fail(format!(
            "PUT must remove Castor-System-CompositeMD5; it is still `{v}`"
        )));
    }
    Ok(format!(
        "CompositeMD5 {composite} kept by COPY, removed by PUT"
    ))
}

async fn check_scsp_31(ctx: &Ctx) -> Result<String, Verdict> {
    ctx.ensure_bucket().await?;
    let target = ctx.object("scsp-31");
    let id = initiate(ctx, "POST", &target, &[]).await?;
    // Sparse numbers, uploaded out of order; one uploaded part left out of the manifest.
    let c = part(ctx, &target, &id, 6, b"c").await?;
    let a = part(ctx, &target, &id, 2, b"a").await?;
    let _unlisted = part(ctx, &target, &id, 5, b"X").await?;
    let b = part(ctx, &target, &id, 4, b"b").await?;
    let finished = AtomicBool::new(false);
    let completion = async {
        let r = complete(ctx, &target, &id, &[(6, &c), (2, &a), (4, &b)]).await;
        finished.store(true, Ordering::SeqCst);
        r
    };
    // The finished object may become readable a moment before the client has the 202's
    // result; anything else readable before then is a partial object.
    let watcher = async {
        let mut early = None;
        while !finished.load(Ordering::SeqCst) {
            if let Ok(r) = ctx
                .session(0)
                .request(&Request::new("GET", target.clone()))
                .await
            {
                if r.response.status == 200 && &r.response.body[..] != b"abc" && early.is_none() {
                    early = Some(String::from_utf8_lossy(&r.response.body).into_owned());
                }
            }
            replisim_sim::rt::sleep(Duration::from_millis(100)).await;
        }
        early
    };
    let (done, early) = futures::join!(completion, watcher);
    let done = done?;
    if let Some(seen) = early {
        return Err(Verdict::fail(format!(
            "a partial object (`{seen}`) was readable before the completion finished"
        )));
    }
    let status = result_of_202(&done)?;
    if status != 201 {
        return Err(Verdict::fail(format!("the completion ended in {status}")));
    }
    let read = get(ctx, &target).await?;
    if &read.body[..] != b"abc" {
        return Err(Verdict::fail(format!(
            "parts 2,4,6 = a,b,c (listed 6,2,4) assembled as `{}`; expected `abc`",
            String::from_utf8_lossy(&read.body)
        )));
    }
    let dup_target = ctx.object("scsp-31-dup");
    let id = initiate(ctx, "POST", &dup_target, &[]).await?;
    let p1 = part(ctx, &dup_target, &id, 1, b"1").await?;
    let p2 = part(ctx, &dup_target, &id, 2, b"2").await?;
    let dup = complete(ctx, &dup_target, &id, &[(1, &p1), (1, &p2)]).await?;
    let status = result_of_202(&dup)?;
    if status < 400 {
        return Err(Verdict::fail(format!(
            "a manifest with part number 1 twice ended in {status}"
        )));
    }
    let gone = ctx
        .request(0, &Request::new("GET", dup_target))
        .await?
        .response;
    expect_status(&gone, &[404], "GET of a target whose completion failed")?;
    Ok(format!("assembled `abc` in ascending order, unlisted part left out, nothing visible before; duplicate numbers → {status}"))
}

async fn check_scsp_32(ctx: &Ctx) -> Result<String, Verdict> {
    ctx.ensure_bucket().await?;
    let target = ctx.object("scsp-32");
    let id = initiate(ctx, "POST", &target, &[]).await?;
    let p1 = part(ctx, &target, &id, 1, b"hello ").await?;
    let p2 = part(ctx, &target, &id, 2, b"world").await?;
    let done = complete(ctx, &target, &id, &[(1, &p1), (2, &p2)]).await?;
    expect_status(&done, &[202], "completion")?;
    let status = result_of_202(&done)?;
    if status != 201 {
        return Err(Verdict::fail(format!(
            "a valid completion ended in {status}"
        )));
    }
    if &get(ctx, &target).await?.body[..] != b"hello world" {
        return Err(Verdict::fail("the completed object does not read back"));
    }
    // A 202 that ends in failure: a manifest naming a part that does not exist.
    let bad_target = ctx.object("scsp-32-bad");
    let id = initiate(ctx, "POST", &bad_target, &[]).await?;
    let bad = complete(
        ctx,
        &bad_target,
        &id,
        &[(1, "0123456789abcdef0123456789abcdef")],
    )
    .await?;
    expect_status(&bad, &[202], "completion naming a missing part")?;
    let bad_status = result_of_202(&bad)?;
    if bad_status < 400 {
        return Err(Verdict::fail(format!(
            "a completion naming a missing part ended in {bad_status}"
        )));
    }
    Ok(format!(
        "202 → trailer and body agree: 201; a failing 202 → {bad_status}"
    ))
}

async fn check_scsp_33(ctx: &Ctx) -> Result<String, Verdict> {
    ctx.ensure_bucket().await?;
    let source = ctx.object("scsp-33-source");
    write(ctx, &source, &[], b"copied part").await?;
    let target = ctx.object("scsp-33");
    let id = initiate(ctx, "POST", &target, &[]).await?;
    let copied = ctx
        .request(
            0,
            &Request::new("COPY", format!("{target}?uploadId={id}&partNumber=1"))
                .header("TE", "trailers")
                .header("Content-Length", "0")
                .header("Castor-Copy-Source", source.clone()),
        )
        .await?
        .response;
    let status = result_of_202(&copied)?;
    if status != 201 {
        return Err(Verdict::fail(format!("COPY-by-part ended in {status}")));
    }
    let last = String::from_utf8_lossy(&copied.body);
    let uuid = last
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<serde_json::Value>(l.trim()).ok())
        .and_then(|v| v.get("uuid").and_then(|u| u.as_str()).map(str::to_string))
        .ok_or_else(|| Verdict::fail("COPY-by-part's result names no part UUID"))?;
    let done = complete(ctx, &target, &id, &[(1, &uuid)]).await?;
    if result_of_202(&done)? != 201 || &get(ctx, &target).await?.body[..] != b"copied part" {
        return Err(Verdict::fail(
            "an upload of a copied part did not assemble its content",
        ));
    }
    Ok("COPY-by-part → 202 with trailer 201; the copied part assembled".to_string())
}

async fn check_scsp_34(ctx: &Ctx) -> Result<String, Verdict> {
    ctx.ensure_bucket().await?;
    let target = ctx.object("scsp-34");
    let with_md5 = ctx
        .request(
            0,
            &Request::new("POST", format!("{target}?uploads"))
                .header("Content-MD5", content_md5(b""))
                .body(Bytes::new()),
        )
        .await?
        .response;
    expect_status(&with_md5, &[400], "initiate with Content-MD5")?;
    let with_body = ctx
        .request(
            0,
            &Request::new("POST", format!("{target}?uploads")).body(Bytes::from_static(b"ignored")),
        )
        .await?
        .response;
    expect_status(&with_body, &[200, 201], "initiate with a body (ignored)")?;
    let id = require_header(&with_body, "castor-system-uploadid", "initiate")?.to_string();
    let p1 = part(ctx, &target, &id, 1, b"x").await?;
    let body = manifest(&[(1, &p1)]);
    let completion_md5 = ctx
        .request(
            0,
            &Request::new("POST", format!("{target}?uploadId={id}"))
                .header("TE", "trailers")
                .header("Content-MD5", content_md5(body.as_bytes()))
                .body(Bytes::from(body)),
        )
        .await?
        .response;
    expect_status(&completion_md5, &[400], "complete with Content-MD5")?;
    let plain = ctx.object("scsp-34-plain");
    write(ctx, &plain, &[], b"not erasure coded").await?;
    let append = ctx
        .request(
            0,
            &Request::new("APPEND", format!("{plain}?uploads")).body(Bytes::new()),
        )
        .await?
        .response;
    if append.status < 400 {
        return Err(Verdict::fail(format!(
            "APPEND-initiate on a non-EC object answered {}",
            append.status
        )));
    }
    Ok(format!("Content-MD5 on initiate/complete → 400; body on initiate ignored; APPEND-initiate on non-EC → {}", append.status))
}

async fn check_scsp_35(ctx: &Ctx) -> Result<String, Verdict> {
    ctx.ensure_bucket().await?;
    let target = ctx.object("scsp-35");
    let id = initiate(ctx, "POST", &target, &[]).await?;
    let _first_try = part(ctx, &target, &id, 1, b"bad").await?;
    let retry = part(ctx, &target, &id, 1, b"good").await?;
    let p2 = part(ctx, &target, &id, 2, b"!").await?;
    let done = complete(ctx, &target, &id, &[(1, &retry), (2, &p2)]).await?;
    if result_of_202(&done)? != 201 {
        return Err(Verdict::fail("an upload with a re-sent part failed"));
    }
    if &get(ctx, &target).await?.body[..] != b"good!" {
        return Err(Verdict::fail(
            "a re-sent part did not replace the first attempt in the manifest",
        ));
    }
    Ok(
        "parts of a named target return 32-hex Content-UUIDs; a re-sent part is used as listed"
            .to_string(),
    )
}

async fn check_scsp_36(ctx: &Ctx) -> Result<String, Verdict> {
    ctx.ensure_bucket().await?;
    let put_target = ctx.object("scsp-36-put");
    write(ctx, &put_target, &[], b"original").await?;
    let id = initiate(ctx, "PUT", &put_target, &[]).await?;
    let p1 = part(ctx, &put_target, &id, 1, b"replacement").await?;
    ctx.next_second().await;
    let changed = ctx
        .request(
            0,
            &Request::new("PUT", put_target.clone()).body(Bytes::from_static(b"changed meanwhile")),
        )
        .await?
        .response;
    expect_status(&changed, &[201], "PUT between initiate and complete")?;
    let done = complete(ctx, &put_target, &id, &[(1, &p1)]).await?;
    let status = result_of_202(&done)?;
    if status < 400 {
        return Err(Verdict::fail(format!(
            "a PUT-initiated upload whose target changed ended in {status}"
        )));
    }
    if &get(ctx, &put_target).await?.body[..] != b"changed meanwhile" {
        return Err(Verdict::fail(
            "a failed PUT-initiated completion changed the target",
        ));
    }
    let ec = ctx.object("scsp-36-append");
    let created = ctx
        .request(
            0,
            &Request::new("POST", format!("{ec}?erasurecoded=yes"))
                .body(Bytes::from_static(b"base")),
        )
        .await?
        .response;
    expect_status(&created, &[201], "erasure-coded WRITE")?;
    let id = initiate(ctx, "APPEND", &ec, &[]).await?;
    let tail = part(ctx, &ec, &id, 1, b"+tail").await?;
    ctx.next_second().await;
    let grown = ctx
        .request(
            0,
            &Request::new("APPEND", ec.clone()).body(Bytes::from_static(b"+more")),
        )
        .await?
        .response;
    expect_status(&grown, &[201], "APPEND between initiate and complete")?;
    let done = complete(ctx, &ec, &id, &[(1, &tail)]).await?;
    if result_of_202(&done)? != 201 {
        return Err(Verdict::fail("an APPEND-initiated completion failed"));
    }
    let read = get(ctx, &ec).await?;
    if &read.body[..] != b"base+more+tail" {
        return Err(Verdict::fail(format!(
            "an APPEND-initiated upload must append to the content at completion (`base+more`); reads `{}`",
            String::from_utf8_lossy(&read.body)
        )));
    }
    Ok(format!(
        "PUT-initiated with a changed target → {status}; APPEND-initiated appended to `base+more`"
    ))
}
