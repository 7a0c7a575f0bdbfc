//! APPEND rules: SCSP-29.

use bytes::Bytes;

use crate::catalog::{Check, Rule, Strength};
use crate::check_fn;
use crate::clause::{doc, ClauseSpec};
use crate::client::Request;
use crate::rules::common::{expect_status, last_segment, require_header};
use crate::rules::copy::{get, head, write};
use crate::target::{Capabilities, Ctx};
use crate::verdict::Verdict;

const APPEND: &str = "PF/2443821386";

const SCSP_29: [ClauseSpec; 3] = [
    doc(
        "concatenates",
        "APPEND to a named object adds the bytes with no separator",
        APPEND,
    ),
    doc(
        "keeps-metadata",
        "APPEND keeps the object's metadata",
        APPEND,
    ),
    doc(
        "alias-keeps-uuid",
        "APPEND to an alias answers its own UUID and concatenates",
        APPEND,
    ),
];

/// The APPEND rules.
pub const RULES: [Rule; 1] = [Rule {
    id: "SCSP-29",
    title: "APPEND adds bytes with no separator and keeps metadata, name and UUID",
    source: APPEND,
    strength: Strength::Must,
    nodes_min: 1,
    needs: Capabilities::NONE,
    roles: crate::families::scsp::ROLES,
    uses: Capabilities::NONE,
    check: Check::Run(scsp_29),
    clauses: &SCSP_29,
}];

check_fn!(scsp_29, check_scsp_29);

async fn check_scsp_29(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    ctx.ensure_bucket().await?;
    let path = ctx.object("scsp-29");
    write(ctx, &path, &[("X-Color-Meta", "green")], b"abc").await?;
    ctx.next_second().await;
    let appended = ctx
        .request(
            0,
            &Request::new("APPEND", path.clone()).body(Bytes::from_static(b"def")),
        )
        .await?
        .response;
    expect_status(&appended, &[201], "APPEND to a named object")?;
    let content = get(ctx, &path).await?;
    c.record(
        "concatenates",
        &content.body[..] == b"abcdef",
        "abc + def = abcdef",
        format!(
            "after APPEND of `def` to `abc` the object reads `{}`",
            String::from_utf8_lossy(&content.body)
        ),
    );
    c.check(
        "keeps-metadata",
        head(ctx, &path).await?.header("x-color-meta") == Some("green"),
        "metadata kept",
        "APPEND dropped the object's metadata",
    )?;
    let alias = ctx
        .request(
            0,
            &Request::new("POST", "/?alias").body(Bytes::from_static(b"1")),
        )
        .await?
        .response;
    expect_status(&alias, &[201], "alias WRITE")?;
    let uuid = require_header(&alias, "content-uuid", "alias WRITE")?.to_string();
    ctx.next_second().await;
    let more = ctx
        .request(
            0,
            &Request::new("APPEND", format!("/{uuid}")).body(Bytes::from_static(b"2")),
        )
        .await?
        .response;
    expect_status(&more, &[201], "APPEND to an alias")?;
    if last_segment(require_header(&more, "location", "APPEND to an alias")?) != uuid {
        return Err(c.fail("alias-keeps-uuid", "APPEND to an alias changed its UUID"));
    }
    c.check(
        "alias-keeps-uuid",
        &get(ctx, &format!("/{uuid}")).await?.body[..] == b"12",
        "alias APPEND kept its UUID and concatenated",
        "APPEND to an alias did not concatenate",
    )
}
