//! UPDATE rules: SCSP-17 (PUT of a missing object, PUT on an alias) and SCSP-18 (no
//! updates of immutable objects).

use bytes::Bytes;

use crate::catalog::{Rule, Strength};
use crate::check_fn;
use crate::clause::{consistency, doc, ClauseSpec};
use crate::client::Request;
use crate::rules::common::{expect_status, http_rule, last_segment, require_header};
use crate::target::Ctx;
use crate::verdict::Verdict;

const SCSP_17: [ClauseSpec; 3] = [
    doc(
        "missing-404",
        "PUT of a name that was never written is 404",
        "DXAG/p39, PF/2443821621",
    ),
    doc(
        "alias-keeps-uuid",
        "PUT on an alias object answers 201 with the alias's own UUID in Location",
        "PF/2443821621",
    ),
    consistency(
        "alias-reads-new",
        "after a PUT on an alias, reads of its UUID return the new content",
    ),
];

const SCSP_18: [ClauseSpec; 2] = [
    doc(
        "refused-403",
        "PUT, COPY and APPEND on an immutable unnamed object are 403",
        "DXAG/p24",
    ),
    consistency(
        "unchanged",
        "the refused updates leave the immutable object's content as it was",
    ),
];

/// The update rules.
pub const RULES: [Rule; 2] = [
    http_rule(
        "SCSP-17",
        "PUT of a missing name is 404; PUT on an alias keeps its UUID",
        "DXAG/p39, PF/2443821621",
        Strength::Must,
        scsp_17,
        &SCSP_17,
    ),
    http_rule(
        "SCSP-18",
        "PUT, COPY and APPEND on an immutable unnamed object are 403",
        "DXAG/p24",
        Strength::Must,
        scsp_18,
        &SCSP_18,
    ),
];

check_fn!(scsp_17, check_scsp_17);
check_fn!(scsp_18, check_scsp_18);

async fn check_scsp_17(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    ctx.ensure_bucket().await?;
    let missing = ctx
        .request(
            0,
            &Request::new("PUT", ctx.object("scsp-17-missing")).body(Bytes::from_static(b"x")),
        )
        .await?
        .response;
    expect_status(&missing, &[404], "PUT of a name that was never written")?;
    c.pass("missing-404", "PUT of a missing name → 404");
    let created = ctx
        .request(
            0,
            &Request::new("POST", "/?alias").body(Bytes::from_static(b"alias v1")),
        )
        .await?
        .response;
    expect_status(&created, &[201], "alias WRITE")?;
    let uuid = require_header(&created, "content-uuid", "alias WRITE")?.to_string();
    ctx.next_second().await;
    let updated = ctx
        .request(
            0,
            &Request::new("PUT", format!("/{uuid}?alias=yes"))
                .body(Bytes::from_static(b"alias v2")),
        )
        .await?
        .response;
    expect_status(&updated, &[201], "PUT on an alias object")?;
    let location = require_header(&updated, "location", "PUT on an alias object")?;
    c.check(
        "alias-keeps-uuid",
        last_segment(location) == uuid,
        format!("PUT on alias {uuid} → 201, same UUID"),
        format!(
            "PUT on alias {uuid} answered Location `{location}`: the alias UUID must not change"
        ),
    )?;
    let read = ctx
        .request(0, &Request::new("GET", format!("/{uuid}")))
        .await?
        .response;
    expect_status(&read, &[200], "READ of the alias after PUT")?;
    c.check(
        "alias-reads-new",
        &read.body[..] == b"alias v2",
        "reads return the new content",
        "READ of the alias after PUT does not return the new content",
    )
}

async fn check_scsp_18(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let created = ctx
        .request(
            0,
            &Request::new("POST", "/").body(Bytes::from_static(b"immutable")),
        )
        .await?
        .response;
    expect_status(&created, &[201], "immutable WRITE")?;
    let uuid = require_header(&created, "content-uuid", "immutable WRITE")?.to_string();
    let path = format!("/{uuid}");
    let attempts = [
        Request::new("PUT", path.clone()).body(Bytes::from_static(b"changed")),
        Request::new("COPY", path.clone()).header("Content-Length", "0"),
        Request::new("APPEND", path.clone()).body(Bytes::from_static(b"more")),
    ];
    let mut answered = Vec::new();
    for req in &attempts {
        let r = ctx.request(0, req).await?.response;
        answered.push(format!("{} → {}", req.method, r.status));
    }
    c.record(
        "refused-403",
        answered.iter().all(|a| a.ends_with("→ 403")),
        "PUT, COPY and APPEND → 403",
        format!(
            "on an immutable object: {}; each must be 403",
            answered.join(", ")
        ),
    );
    let read = ctx.request(0, &Request::new("GET", path)).await?.response;
    expect_status(&read, &[200], "READ after refused updates")?;
    c.check(
        "unchanged",
        &read.body[..] == b"immutable",
        "content unchanged",
        "a refused update changed the immutable object",
    )
}
