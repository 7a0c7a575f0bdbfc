//! Header and query-argument rules: SCSP-16 (metadata limits) and SCSP-43 (query argument
//! names are case-insensitive, booleans have three forms).

use bytes::Bytes;

use crate::catalog::{Check, Rule, Strength};
use crate::check_fn;
use crate::clause::{choice, doc, ClauseSpec};
use crate::client::Request;
use crate::rules::common::{expect_status, http_rule, replica_count, require_header};
use crate::target::{Capabilities, Ctx};
use crate::verdict::Verdict;

const HEADERS: &str = "PF/2443820996";
const QUERY: &str = "PF/2443821292";

const SCSP_16: [ClauseSpec; 5] = [
    doc(
        "over-500-headers",
        "WRITE with 501 metadata headers is refused (400, or 431 from the HTTP layer)",
        HEADERS,
    ),
    doc(
        "header-over-16k",
        "WRITE with one 17 KB metadata header is refused (400, or 431 from the HTTP layer)",
        HEADERS,
    ),
    doc(
        "total-over-32k",
        "WRITE with 33 KB of metadata headers in total is refused (400, or 431 from the HTTP layer)",
        HEADERS,
    ),
    choice(
        "exact-400",
        "too many headers, a header over 16 KB and metadata over 32 KB are each 400, not 431",
        30,
    ),
    doc(
        "within-limits",
        "WRITE with 100 small metadata headers answers 201",
        HEADERS,
    ),
];

const SCSP_43: [ClauseSpec; 2] = [
    doc(
        "alias-forms",
        "?ALIAS, ?Alias=YES and ?alias=True all make alias objects: each accepts a PUT (an immutable object answers 403)",
        QUERY,
    ),
    doc(
        "replicate-upper-case",
        "?REPLICATE=1 is replicate=1: one synchronous replica",
        QUERY,
    ),
];

/// The limit rules.
pub const RULES: [Rule; 2] = [
    http_rule(
        "SCSP-16",
        "metadata over 32 KB, a header over 16 KB or over 500 headers → 400",
        HEADERS,
        Strength::Must,
        scsp_16,
        &SCSP_16,
    ),
    Rule {
        id: "SCSP-43",
        title: "query argument names are case-insensitive; arg ≡ arg=true ≡ arg=yes",
        source: QUERY,
        strength: Strength::Must,
        nodes_min: 2,
        needs: Capabilities::NONE,
        roles: crate::families::scsp::ROLES,
        uses: Capabilities::NONE,
        check: Check::Run(scsp_43),
        clauses: &SCSP_43,
    },
];

check_fn!(scsp_16, check_scsp_16);
check_fn!(scsp_43, check_scsp_43);

/// 400, or 431 Request Header Fields Too Large from the HTTP layer.
fn refused(status: u16) -> bool {
    status == 400 || status == 431
}

async fn check_scsp_16(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
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
    let r_many = ctx.request(0, &write("scsp-16-many", many)).await?.response;
    c.record(
        "over-500-headers",
        refused(r_many.status),
        format!("501 headers → {}", r_many.status),
        format!("WRITE with 501 metadata headers answered {}", r_many.status),
    );
    let big = vec![("X-Big-Meta".to_string(), "v".repeat(17 * 1024))];
    let r_big = ctx.request(0, &write("scsp-16-big", big)).await?.response;
    c.record(
        "header-over-16k",
        refused(r_big.status),
        format!("a 17 KB header → {}", r_big.status),
        format!("WRITE with one 17 KB header answered {}", r_big.status),
    );
    let total: Vec<(String, String)> = (0..3)
        .map(|i| (format!("X-T{i}-Meta"), "v".repeat(11 * 1024)))
        .collect();
    let r = ctx
        .request(0, &write("scsp-16-total", total))
        .await?
        .response;
    c.record(
        "total-over-32k",
        refused(r.status),
        format!("33 KB in total → {}", r.status),
        format!("WRITE with 33 KB of metadata headers answered {}", r.status),
    );
    c.record(
        "exact-400",
        [r_many.status, r_big.status, r.status] == [400; 3],
        "all three are 400",
        format!(
            "501 headers → {}, a 17 KB header → {}, 33 KB in total → {}; the reference answers 400",
            r_many.status, r_big.status, r.status
        ),
    );
    let fine: Vec<(String, String)> = (0..100)
        .map(|i| (format!("X-F{i}-Meta"), "v".repeat(100)))
        .collect();
    let r = ctx.request(0, &write("scsp-16-fine", fine)).await?.response;
    expect_status(&r, &[201], "WRITE with 100 small metadata headers")?;
    c.pass("within-limits", "100 small headers → 201");
    Ok(())
}

async fn check_scsp_43(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    ctx.ensure_bucket().await?;
    // Whether an object is an alias is decided by behaviour, not by a header: an alias
    // accepts PUT, an immutable object answers 403 (SCSP-18).
    let mut made = Vec::new();
    for form in ["ALIAS", "Alias=YES", "alias=True"] {
        let r = ctx
            .request(
                0,
                &Request::new("POST", format!("/?{form}")).body(Bytes::from_static(b"a")),
            )
            .await?
            .response;
        expect_status(&r, &[201], &format!("WRITE /?{form}"))?;
        made.push((
            form,
            require_header(&r, "content-uuid", "WRITE")?.to_string(),
        ));
    }
    ctx.next_second().await;
    let mut not_alias = Vec::new();
    for (form, uuid) in &made {
        let put = ctx
            .request(
                0,
                &Request::new("PUT", format!("/{uuid}")).body(Bytes::from_static(b"b")),
            )
            .await?
            .response;
        if put.status != 201 {
            not_alias.push(format!("/?{form} (PUT answered {})", put.status));
        }
    }
    c.record(
        "alias-forms",
        not_alias.is_empty(),
        "ALIAS, Alias=YES and alias=True made objects that accept PUT",
        format!("these did not make alias objects: {}", not_alias.join(", ")),
    );
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
    c.check(
        "replicate-upper-case",
        n == 1,
        "REPLICATE=1 made one replica",
        format!("?REPLICATE=1 made {n} synchronous replicas; the name must match `replicate`"),
    )
}
