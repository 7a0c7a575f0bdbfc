//! Multipart rules: SCSP-30..36. A 202 is never counted as success by itself: its outcome is
//! read from the `castor-system-result` trailer, which must agree with whatever the body
//! states in whatever format (`patterns::result_of_202`); a bad manifest may also be
//! refused at once, before any 202 (`patterns::completion_outcome`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;

use crate::catalog::{Rule, Strength};
use crate::check_fn;
use crate::clause::{choice, consistency, doc, ClauseSpec};
use crate::client::{Request, Response};
use crate::patterns::{body_agrees, completion_outcome, result_of_202, trailer_code};
use crate::rules::common::{expect_status, http_rule, is_uuid, require_header};
use crate::rules::copy::{get, head, write};
use crate::target::Ctx;
use crate::verdict::Verdict;
use replisim_sim::http::content_md5::content_md5;

const PARTS: &str = "PF/2443822271";
const RESULT: &str = "SWARM/normal-write, PF/2443821170";

const SCSP_30: [ClauseSpec; 2] = [
    doc(
        "kept-by-copy",
        "a multipart object has Castor-System-CompositeMD5, and COPY keeps it",
        "PF/2443820996",
    ),
    doc(
        "removed-by-put",
        "PUT removes Castor-System-CompositeMD5",
        "PF/2443820996",
    ),
];

const SCSP_31: [ClauseSpec; 4] = [
    consistency(
        "invisible-before",
        "nothing but the finished object is readable before the completion ends",
    ),
    doc(
        "ascending",
        "completion assembles the listed parts by ascending part number and leaves unlisted parts out",
        PARTS,
    ),
    doc(
        "duplicate-fails",
        "a manifest naming a part number twice fails, at once (4xx) or after the 202",
        PARTS,
    ),
    consistency(
        "failed-invisible",
        "a failed completion leaves nothing readable at the target",
    ),
];

const SCSP_32: [ClauseSpec; 6] = [
    doc("accepted-202", "a valid completion answers 202", RESULT),
    doc(
        "trailer",
        "the 202 ends with a castor-system-result trailer holding a status code",
        RESULT,
    ),
    consistency(
        "body-agrees",
        "the outcome the 202's body states, in whatever format, agrees with the trailer",
    ),
    consistency(
        "valid-succeeds",
        "a valid completion ends in success and the object reads back",
    ),
    doc(
        "bad-fails",
        "a completion naming a missing part fails, at once (4xx) or after the 202",
        "SWARM/normal-write, PF/2443822271",
    ),
    consistency(
        "failed-invisible",
        "a failed completion leaves nothing readable at the target",
    ),
];

const SCSP_33: [ClauseSpec; 2] = [
    choice(
        "copy-by-part-202",
        "COPY <target>?uploadId&partNumber with Castor-Copy-Source (the reference's syntax) answers 202 and a result trailer",
        25,
    ),
    choice(
        "copied-part-assembles",
        "an upload of a copied part assembles the copied content",
        25,
    ),
];

const SCSP_34: [ClauseSpec; 4] = [
    doc(
        "initiate-md5-400",
        "Content-MD5 on initiate is 400",
        "PF/2443822229",
    ),
    doc(
        "initiate-body-ignored",
        "a body on initiate is ignored: the upload starts",
        "PF/2443822229",
    ),
    doc(
        "complete-md5-400",
        "Content-MD5 on complete is 400 (at once or after the 202)",
        "PF/2443822229",
    ),
    doc(
        "append-needs-ec",
        "APPEND-initiate on an object that is not erasure-coded fails",
        "PF/2443822229",
    ),
];

const SCSP_35: [ClauseSpec; 2] = [
    doc(
        "part-uuid",
        "each part of a named target answers 201 with a 32-hex Content-UUID",
        "PFdiff/2957803717",
    ),
    doc(
        "resent-part",
        "re-sending a part number replaces nothing: the manifest's UUIDs decide what is assembled",
        "PFdiff/2957803717",
    ),
];

const SCSP_36: [ClauseSpec; 3] = [
    doc(
        "put-changed-fails",
        "a PUT-initiated completion fails if the target changed after initiate",
        PARTS,
    ),
    consistency(
        "put-failed-untouched",
        "the failed completion leaves the target as the intervening PUT made it",
    ),
    doc(
        "append-current",
        "an APPEND-initiated completion appends to the content current at completion",
        PARTS,
    ),
];

/// The multipart rules.
pub const RULES: [Rule; 7] = [
    http_rule(
        "SCSP-30",
        "Castor-System-CompositeMD5 survives COPY and is removed by PUT/APPEND",
        "PF/2443820996",
        Strength::Must,
        scsp_30,
        &SCSP_30,
    ),
    http_rule(
        "SCSP-31",
        "completion assembles parts by ascending number; nothing is visible before",
        PARTS,
        Strength::Must,
        scsp_31,
        &SCSP_31,
    ),
    http_rule(
        "SCSP-32",
        "completion answers 202; the result is in the body and castor-system-result",
        "SWARM/normal-write, PF/2443821170",
        Strength::Must,
        scsp_32,
        &SCSP_32,
    ),
    http_rule(
        "SCSP-33",
        "a multipart COPY-by-part also answers 202 with keep-alive bytes",
        "SWARM/copy",
        Strength::Inf,
        scsp_33,
        &SCSP_33,
    ),
    http_rule(
        "SCSP-34",
        "Content-MD5 on initiate or complete → 400; APPEND-initiate needs an EC target",
        "PF/2443822229",
        Strength::Must,
        scsp_34,
        &SCSP_34,
    ),
    http_rule(
        "SCSP-35",
        "parts are immutable unnamed objects with Content-UUID; a re-sent part replaces nothing",
        "PFdiff/2957803717",
        Strength::Must,
        scsp_35,
        &SCSP_35,
    ),
    http_rule(
        "SCSP-36",
        "a PUT-initiated upload fails if the target changed; APPEND appends to the current content",
        PARTS,
        Strength::Must,
        scsp_36,
        &SCSP_36,
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
    completion_outcome(&done)
}

async fn check_scsp_30(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    ctx.ensure_bucket().await?;
    let path = ctx.object("scsp-30");
    let status = upload(ctx, &path, &[(1, b"one"), (2, b"two")]).await?;
    if status != 201 {
        return Err(Verdict::fail(format!("the upload ended in {status}")));
    }
    let Some(composite) = head(ctx, &path)
        .await?
        .header("castor-system-compositemd5")
        .map(str::to_string)
    else {
        return Err(c.fail(
            "kept-by-copy",
            "a multipart object has no Castor-System-CompositeMD5",
        ));
    };
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
    c.check(
        "kept-by-copy",
        head(ctx, &path).await?.header("castor-system-compositemd5") == Some(composite.as_str()),
        format!("CompositeMD5 {composite} kept by COPY"),
        "COPY removed or changed Castor-System-CompositeMD5",
    )?;
    ctx.next_second().await;
    let put = ctx
        .request(
            0,
            &Request::new("PUT", path.clone()).body(Bytes::from_static(b"plain")),
        )
        .await?
        .response;
    expect_status(&put, &[201], "PUT over a multipart object")?;
    let left = head(ctx, &path)
        .await?
        .header("castor-system-compositemd5")
        .map(str::to_string);
    c.check(
        "removed-by-put",
        left.is_none(),
        "removed by PUT",
        format!("PUT must remove Castor-System-CompositeMD5; it is still {left:?}"),
    )
}

async fn check_scsp_31(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    ctx.ensure_bucket().await?;
    let target = ctx.object("scsp-31");
    let id = initiate(ctx, "POST", &target, &[]).await?;
    // Sparse numbers, uploaded out of order; one uploaded part left out of the manifest.
    let p6 = part(ctx, &target, &id, 6, b"c").await?;
    let p2 = part(ctx, &target, &id, 2, b"a").await?;
    let _unlisted = part(ctx, &target, &id, 5, b"X").await?;
    let p4 = part(ctx, &target, &id, 4, b"b").await?;
    let finished = AtomicBool::new(false);
    let completion = async {
        let r = complete(ctx, &target, &id, &[(6, &p6), (2, &p2), (4, &p4)]).await;
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
    c.record(
        "invisible-before",
        early.is_none(),
        "nothing partial was readable before the end",
        format!(
            "a partial object (`{}`) was readable before the completion finished",
            early.as_deref().unwrap_or("")
        ),
    );
    let status = completion_outcome(&done)?;
    if status != 201 {
        return Err(c.fail("ascending", format!("the completion ended in {status}")));
    }
    let read = get(ctx, &target).await?;
    c.check(
        "ascending",
        &read.body[..] == b"abc",
        "assembled `abc` in ascending order, unlisted part left out",
        format!(
            "parts 2,4,6 = a,b,c (listed 6,2,4) assembled as `{}`; expected `abc`",
            String::from_utf8_lossy(&read.body)
        ),
    )?;
    let dup_target = ctx.object("scsp-31-dup");
    let id = initiate(ctx, "POST", &dup_target, &[]).await?;
    let p1 = part(ctx, &dup_target, &id, 1, b"1").await?;
    let p2 = part(ctx, &dup_target, &id, 2, b"2").await?;
    let dup = complete(ctx, &dup_target, &id, &[(1, &p1), (1, &p2)]).await?;
    let status = completion_outcome(&dup)?;
    c.check(
        "duplicate-fails",
        status >= 400,
        format!("duplicate numbers → {status}"),
        format!("a manifest with part number 1 twice ended in {status}"),
    )?;
    failed_upload_invisible(ctx, dup_target).await
}

/// Judges the consistency clause `failed-invisible` of SCSP-31 and SCSP-32: a completion
/// that failed, at once or after its 202, leaves nothing readable at its target.
async fn failed_upload_invisible(ctx: &Ctx, target: String) -> Result<(), Verdict> {
    let gone = ctx.request(0, &Request::new("GET", target)).await?.response;
    ctx.clauses.check(
        "failed-invisible",
        gone.status == 404,
        "nothing readable after the failure",
        format!(
            "GET of a target whose completion failed answered {}",
            gone.status
        ),
    )
}

async fn check_scsp_32(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    ctx.ensure_bucket().await?;
    let target = ctx.object("scsp-32");
    let id = initiate(ctx, "POST", &target, &[]).await?;
    let p1 = part(ctx, &target, &id, 1, b"hello ").await?;
    let p2 = part(ctx, &target, &id, 2, b"world").await?;
    let done = complete(ctx, &target, &id, &[(1, &p1), (2, &p2)]).await?;
    c.check(
        "accepted-202",
        done.status == 202,
        "a valid completion → 202",
        format!("a valid completion answered {}", done.status),
    )?;
    let status = match trailer_code(&done) {
        Ok(code) => code,
        Err(why) => return Err(c.fail("trailer", why)),
    };
    c.pass("trailer", format!("castor-system-result: {status}"));
    if let Err(why) = body_agrees(&done, status) {
        return Err(c.fail("body-agrees", why));
    }
    if status >= 300 {
        return Err(c.fail(
            "valid-succeeds",
            format!("a valid completion ended in {status}"),
        ));
    }
    c.check(
        "valid-succeeds",
        &get(ctx, &target).await?.body[..] == b"hello world",
        format!("ended in {status} and reads back"),
        "the completed object does not read back",
    )?;
    // A completion that must fail: a manifest naming a part that does not exist. The target
    // may refuse it at once or after the 202.
    let bad_target = ctx.object("scsp-32-bad");
    let id = initiate(ctx, "POST", &bad_target, &[]).await?;
    let bad = complete(
        ctx,
        &bad_target,
        &id,
        &[(1, "0123456789abcdef0123456789abcdef")],
    )
    .await?;
    let bad_status = if bad.status == 202 {
        let code = match trailer_code(&bad) {
            Ok(code) => code,
            Err(why) => return Err(c.fail("trailer", why)),
        };
        if let Err(why) = body_agrees(&bad, code) {
            return Err(c.fail("body-agrees", why));
        }
        code
    } else {
        bad.status
    };
    c.pass("body-agrees", "the 202 bodies agree with their trailers");
    c.check(
        "bad-fails",
        bad_status >= 400,
        format!("a completion naming a missing part → {bad_status}"),
        format!("a completion naming a missing part ended in {bad_status}"),
    )?;
    failed_upload_invisible(ctx, bad_target).await
}

async fn check_scsp_33(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
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
        return Err(c.fail(
            "copy-by-part-202",
            format!("COPY-by-part ended in {status}"),
        ));
    }
    let last = String::from_utf8_lossy(&copied.body);
    let Some(uuid) = last
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<serde_json::Value>(l.trim()).ok())
        .and_then(|v| v.get("uuid").and_then(|u| u.as_str()).map(str::to_string))
    else {
        return Err(c.fail(
            "copy-by-part-202",
            "COPY-by-part's result names no part UUID",
        ));
    };
    c.pass("copy-by-part-202", "COPY-by-part → 202 with trailer 201");
    let done = complete(ctx, &target, &id, &[(1, &uuid)]).await?;
    c.check(
        "copied-part-assembles",
        completion_outcome(&done)? == 201 && &get(ctx, &target).await?.body[..] == b"copied part",
        "the copied part assembled",
        "an upload of a copied part did not assemble its content",
    )
}

async fn check_scsp_34(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
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
    c.pass("initiate-md5-400", "Content-MD5 on initiate → 400");
    let with_body = ctx
        .request(
            0,
            &Request::new("POST", format!("{target}?uploads")).body(Bytes::from_static(b"ignored")),
        )
        .await?
        .response;
    expect_status(&with_body, &[200, 201], "initiate with a body (ignored)")?;
    let id = require_header(&with_body, "castor-system-uploadid", "initiate")?.to_string();
    c.pass("initiate-body-ignored", "a body on initiate is ignored");
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
    let outcome = completion_outcome(&completion_md5)?;
    c.check(
        "complete-md5-400",
        outcome == 400,
        "Content-MD5 on complete → 400",
        format!("complete with Content-MD5 ended in {outcome}; expected 400"),
    )?;
    let plain = ctx.object("scsp-34-plain");
    write(ctx, &plain, &[], b"not erasure coded").await?;
    let append = ctx
        .request(
            0,
            &Request::new("APPEND", format!("{plain}?uploads")).body(Bytes::new()),
        )
        .await?
        .response;
    c.check(
        "append-needs-ec",
        append.status >= 400,
        format!("APPEND-initiate on non-EC → {}", append.status),
        format!(
            "APPEND-initiate on a non-EC object answered {}",
            append.status
        ),
    )
}

async fn check_scsp_35(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    ctx.ensure_bucket().await?;
    let target = ctx.object("scsp-35");
    let id = initiate(ctx, "POST", &target, &[]).await?;
    let _first_try = part(ctx, &target, &id, 1, b"bad").await?;
    let retry = part(ctx, &target, &id, 1, b"good").await?;
    let p2 = part(ctx, &target, &id, 2, b"!").await?;
    c.pass(
        "part-uuid",
        "parts of a named target return 32-hex Content-UUIDs",
    );
    let done = complete(ctx, &target, &id, &[(1, &retry), (2, &p2)]).await?;
    let status = completion_outcome(&done)?;
    if status != 201 {
        return Err(c.fail(
            "resent-part",
            format!("an upload with a re-sent part ended in {status}"),
        ));
    }
    c.check(
        "resent-part",
        &get(ctx, &target).await?.body[..] == b"good!",
        "a re-sent part is used as listed",
        "a re-sent part did not replace the first attempt in the manifest",
    )
}

async fn check_scsp_36(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
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
    let status = completion_outcome(&done)?;
    c.check(
        "put-changed-fails",
        status >= 400,
        format!("PUT-initiated with a changed target → {status}"),
        format!("a PUT-initiated upload whose target changed ended in {status}"),
    )?;
    c.check(
        "put-failed-untouched",
        &get(ctx, &put_target).await?.body[..] == b"changed meanwhile",
        "the target kept the intervening PUT",
        "a failed PUT-initiated completion changed the target",
    )?;
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
    // The completion updates the object too: a second later, or it may meet a 409 for
    // two updates within one second (SCSP-19).
    ctx.next_second().await;
    let done = complete(ctx, &ec, &id, &[(1, &tail)]).await?;
    let status = completion_outcome(&done)?;
    if status != 201 {
        return Err(c.fail(
            "append-current",
            format!("an APPEND-initiated completion ended in {status}"),
        ));
    }
    let read = get(ctx, &ec).await?;
    c.check(
        "append-current",
        &read.body[..] == b"base+more+tail",
        "APPEND-initiated appended to `base+more`",
        format!(
            "an APPEND-initiated upload must append to the content at completion (`base+more`); reads `{}`",
            String::from_utf8_lossy(&read.body)
        ),
    )
}
