//! Context rules: SCSP-13 (a named WRITE into a missing bucket or domain is 412) and SCSP-21
//! (DELETE of a bucket needs `recursive`; `recursive=now` takes its contents at once).

use bytes::Bytes;

use crate::catalog::{Rule, Strength};
use crate::check_fn;
use crate::clause::{choice, consistency, doc, ClauseSpec};
use crate::client::Request;
use crate::rules::common::{expect_status, http_rule};
use crate::target::Ctx;
use crate::verdict::Verdict;

const MISSING: &str = "PFdiff/3379986645";
const DELETE: &str = "PF/2443821430";

const SCSP_13: [ClauseSpec; 3] = [
    doc(
        "missing-bucket-412",
        "a named WRITE into a bucket that does not exist answers 412",
        MISSING,
    ),
    consistency(
        "refused-not-stored",
        "after that refusal the name reads 404: nothing was stored",
    ),
    doc(
        "missing-domain-412",
        "a named WRITE into a domain that does not exist (`?domain=`) answers 412",
        MISSING,
    ),
];

const SCSP_21: [ClauseSpec; 4] = [
    doc(
        "needs-recursive",
        "DELETE of a bucket without `recursive` is an error (4xx) and its objects still read",
        DELETE,
    ),
    choice(
        "refusal-400",
        "DELETE of a bucket without `recursive` is 400",
        35,
    ),
    doc(
        "recursive-now-gone",
        "after DELETE of a bucket with `recursive=now` (2xx), the bucket and its objects read 404 from another node",
        DELETE,
    ),
    choice(
        "put-missing-404",
        "PUT of a bucket that does not exist is 404: a context PUT is always an update",
        9,
    ),
];

/// The context rules.
pub const RULES: [Rule; 2] = [
    http_rule(
        "SCSP-13",
        "named WRITE into a missing or unloadable bucket or domain is 412",
        MISSING,
        Strength::Must,
        scsp_13,
        &SCSP_13,
    ),
    http_rule(
        "SCSP-21",
        "DELETE of a bucket or domain needs `recursive`; `recursive=now` skips the grace period",
        DELETE,
        Strength::Must,
        scsp_21,
        &SCSP_21,
    ),
];

check_fn!(scsp_13, check_scsp_13);
check_fn!(scsp_21, check_scsp_21);

/// The node to read back from: another one than the writer when there is one.
fn other_node(ctx: &Ctx) -> usize {
    1 % ctx.nodes.len()
}

async fn check_scsp_13(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let path = format!("/{}-missing/x", ctx.bucket);
    let write = Request::new("POST", path.clone()).body(Bytes::from_static(b"v"));
    let r = ctx.request(0, &write).await?.response;
    c.record(
        "missing-bucket-412",
        r.status == 412,
        format!("WRITE {path} → 412"),
        format!("WRITE {path} into a missing bucket answered {}", r.status),
    );
    let read = ctx
        .request(other_node(ctx), &Request::new("GET", path.clone()))
        .await?
        .response;
    c.record(
        "refused-not-stored",
        read.status == 404,
        format!("GET {path} → 404"),
        format!(
            "after the WRITE into a missing bucket answered {}, GET {path} answered {}",
            r.status, read.status
        ),
    );
    ctx.ensure_bucket().await?;
    let path = format!("{}?domain=nowhere-{}.example", ctx.object("x"), ctx.bucket);
    let r = ctx
        .request(
            0,
            &Request::new("POST", path.clone()).body(Bytes::from_static(b"v")),
        )
        .await?
        .response;
    c.check(
        "missing-domain-412",
        r.status == 412,
        format!("WRITE {path} → 412"),
        format!("WRITE {path} into a missing domain answered {}", r.status),
    )
}

async fn check_scsp_21(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let bucket = format!("/{}-del", ctx.bucket);
    let object = format!("{bucket}/a");
    let made = ctx
        .request(0, &Request::new("POST", bucket.clone()).body(Bytes::new()))
        .await?
        .response;
    expect_status(&made, &[201], &format!("POST {bucket}"))?;
    let w = ctx
        .request(
            0,
            &Request::new("POST", object.clone()).body(Bytes::from_static(b"a")),
        )
        .await?
        .response;
    expect_status(&w, &[201], &format!("WRITE {object}"))?;
    ctx.next_second().await;

    let plain = ctx
        .request(0, &Request::new("DELETE", bucket.clone()))
        .await?
        .response;
    let still = ctx
        .request(other_node(ctx), &Request::new("GET", object.clone()))
        .await?
        .response;
    c.record(
        "needs-recursive",
        (400..500).contains(&plain.status) && still.status == 200 && &still.body[..] == b"a",
        format!("DELETE {bucket} → {}; GET {object} → 200", plain.status),
        format!(
            "DELETE {bucket} without recursive answered {}, then GET {object} answered {}",
            plain.status, still.status
        ),
    );
    c.record(
        "refusal-400",
        plain.status == 400,
        "400",
        format!(
            "DELETE {bucket} without recursive answered {}; the reference answers 400",
            plain.status
        ),
    );

    let gone = ctx
        .request(
            0,
            &Request::new("DELETE", format!("{bucket}?recursive=now")),
        )
        .await?
        .response;
    let read = ctx
        .request(other_node(ctx), &Request::new("GET", object.clone()))
        .await?
        .response;
    let head = ctx
        .request(other_node(ctx), &Request::new("HEAD", bucket.clone()))
        .await?
        .response;
    c.record(
        "recursive-now-gone",
        (200..300).contains(&gone.status) && read.status == 404 && head.status == 404,
        format!(
            "DELETE {bucket}?recursive=now → {}; GET {object} → 404; HEAD {bucket} → 404",
            gone.status
        ),
        format!(
            "DELETE {bucket}?recursive=now answered {}, then GET {object} answered {} and HEAD {bucket} {}",
            gone.status, read.status, head.status
        ),
    );

    let missing = format!("/{}-never", ctx.bucket);
    let put = ctx
        .request(
            0,
            &Request::new("PUT", missing.clone()).body(Bytes::from_static(b"x")),
        )
        .await?
        .response;
    c.record(
        "put-missing-404",
        put.status == 404,
        format!("PUT {missing} → 404"),
        format!(
            "PUT of the missing bucket {missing} answered {}",
            put.status
        ),
    );
    Ok(())
}
