//! Header and query-argument rules: SCSP-16 (metadata limits) and SCSP-43 (query argument
//! names are case-insensitive, booleans have three forms).

use bytes::Bytes;

use crate::catalog::{Check, Rule, Strength};
use crate::check_fn;
use crate::client::Request;
use crate::rules::common::{expect_status, http_rule, replica_count, require_header};
use crate::rules::copy::head;
use crate::target::{Capabilities, Ctx};
use crate::verdict::Verdict;

/// The limit rules.
pub const RULES: [Rule; 2] = [
    http_rule(
        "SCSP-16",
        "metadata over 32 KB, a header over 16 KB or over 500 headers → 400",
        "PF/2443820996",
        Strength::Must,
        scsp_16,
    ),
    Rule {
        id: "SCSP-43",
        title: "query argument names are case-insensitive; arg ≡ arg=true ≡ arg=yes",
        source: "PF/2443821292",
        strength: Strength::Must,
        nodes_min: 2,
        needs: Capabilities::NONE,
        uses: Capabilities::NONE,
        check: Check::Run(scsp_43),
    },
];

check_fn!(scsp_16, check_scsp_16);
check_fn!(scsp_43, check_scsp_43);

async fn check_scsp_16(ctx: &Ctx) -> Result<String, Verdict> {
    ctx.ensure_bucket().await?;
    let write = |name: &str, headers: Vec<(String, String)>| {
        let mut r = Request::new("POST", ctx.object(name)).body(Bytes::from_static(b"m"));
        for (k, v) in headers {
            r = r.header(k, v);
        }
        r
    };
    let many: Vec<(String, String)> = (0..501)
        .map(|i| (format!("X-M{i}-Meta"), "v".to_string()))
        .collect();
    let r = ctx.request(0, &write("scsp-16-many", many)).await?.response;
    expect_status(&r, &[400], "WRITE with 501 metadata headers")?;
    let big = vec![("X-Big-Meta".to_string(), "v".repeat(17 * 1024))];
    let r = ctx.request(0, &write("scsp-16-big", big)).await?.response;
    expect_status(&r, &[400], "WRITE with one 17 KB header")?;
    let total: Vec<(String, String)> = (0..3)
        .map(|i| (format!("X-T{i}-Meta"), "v".repeat(11 * 1024)))
        .collect();
    let r = ctx
        .request(0, &write("scsp-16-total", total))
        .await?
        .response;
    expect_status(&r, &[400], "WRITE with 33 KB of metadata headers")?;
    let fine: Vec<(String, String)> = (0..100)
        .map(|i| (format!("X-F{i}-Meta"), "v".repeat(100)))
        .collect();
    let r = ctx.request(0, &write("scsp-16-fine", fine)).await?.response;
    expect_status(&r, &[201], "WRITE with 100 small metadata headers")?;
    Ok("501 headers, a 17 KB header, 33 KB in total → 400; 100 small headers → 201".to_string())
}

async fn check_scsp_43(ctx: &Ctx) -> Result<String, Verdict> {
    ctx.ensure_bucket().await?;
    for form in ["ALIAS", "Alias=YES", "alias=True"] {
        let r = ctx
            .request(
                0,
                &Request::new("POST", format!("/?{form}")).body(Bytes::from_static(b"a")),
            )
            .await?
            .response;
        expect_status(&r, &[201], &format!("WRITE /?{form}"))?;
        let uuid = require_header(&r, "content-uuid", "WRITE")?.to_string();
        let h = head(ctx, &format!("/{uuid}")).await?;
        if h.header("castor-system-alias").is_none() {
            return Err(Verdict::fail(format!(
                "/?{form} did not create an alias object"
            )));
        }
    }
    let r = ctx
        .request(
            0,
            &Request::new("POST", format!("{}?REPLICATE=1", ctx.object("scsp-43")))
                .body(Bytes::from_static(b"r")),
        )
        .await?
        .response;
    expect_status(&r, &[201], "WRITE ?REPLICATE=1")?;
    let n = replica_count(&r)?;
    if n != 1 {
        return Err(Verdict::fail(format!(
            "?REPLICATE=1 made {n} synchronous replicas; the name must match `replicate`"
        )));
    }
    Ok(
        "ALIAS, Alias=YES and alias=True made alias objects; REPLICATE=1 made one replica"
            .to_string(),
    )
}
