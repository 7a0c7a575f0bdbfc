//! Replicate-on-write rules: SCSP-7, SCSP-8, SCSP-9, SCSP-10.

use bytes::Bytes;

use crate::catalog::{Check, Rule, Strength};
use crate::check_fn;
use crate::client::Request;
use crate::rules::common::{expect_status, replica_count, require_header};
use crate::target::{Capabilities, Ctx};
use crate::verdict::Verdict;

/// The replication rules.
pub const RULES: [Rule; 4] = [
    Rule {
        id: "SCSP-7",
        title: "immutable WRITE: 201 only with ≥ 2 replicas, else 412",
        source: "PF/2443821675",
        strength: Strength::Must,
        nodes_min: 2,
        needs: Capabilities::NONE,
        uses: Capabilities {
            faults: true,
            admin: false,
            introspection: false,
        },
        check: Check::Run(scsp_7),
    },
    Rule {
        id: "SCSP-8",
        title: "named WRITE: 201 with ≥ 1 replica; Replica-Count is what was made",
        source: "PF/2443821675",
        strength: Strength::Must,
        nodes_min: 2,
        needs: Capabilities::NONE,
        uses: Capabilities {
            faults: true,
            admin: false,
            introspection: true,
        },
        check: Check::Run(scsp_8),
    },
    Rule {
        id: "SCSP-9",
        title: "replicate=N|immediate|full asks min(N, reps) synchronous replicas",
        source: "PF/2443821675",
        strength: Strength::Must,
        nodes_min: 3,
        needs: Capabilities::NONE,
        uses: Capabilities::NONE,
        check: Check::Run(scsp_9),
    },
    Rule {
        id: "SCSP-10",
        title: "Replica-Count is present when more than one replica was made",
        source: "seed-000",
        strength: Strength::Must,
        nodes_min: 2,
        needs: Capabilities::NONE,
        uses: Capabilities::NONE,
        check: Check::Run(scsp_10),
    },
];

check_fn!(scsp_7, check_scsp_7);
check_fn!(scsp_8, check_scsp_8);
check_fn!(scsp_9, check_scsp_9);
check_fn!(scsp_10, check_scsp_10);

/// Runs `body` with every node but node 0 killed, then restarts them, whatever happened.
async fn with_one_node_alive<F, Fut>(ctx: &Ctx, body: F) -> Option<Result<String, Verdict>>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<String, Verdict>>,
{
    let control = ctx.control_with(|c| c.faults)?.clone();
    let mut killed = Vec::new();
    for node in 1..ctx.nodes.len() {
        if let Err(e) = control.kill(node).await {
            for k in killed {
                let _ = control.restart(k).await;
            }
            return Some(Err(Verdict::skip(format!(
                "could not kill node {node}: {e}"
            ))));
        }
        killed.push(node);
    }
    let result = body().await;
    for node in killed {
        if let Err(e) = control.restart(node).await {
            return Some(Err(Verdict::fail(format!(
                "could not restart node {node}: {e}"
            ))));
        }
    }
    Some(result)
}

/// Joins the evidence of a check with that of its fault-control half, or says the half was
/// not checked because the target offers no fault control.
fn with_half(
    evidence: String,
    half: Option<Result<String, Verdict>>,
    which: &str,
) -> Result<String, Verdict> {
    match half {
        Some(Ok(part)) => Ok(format!("{evidence}; {part}")),
        Some(Err(v)) => Err(v),
        None => Ok(format!(
            "{evidence}; {which} needs fault control (not checked)"
        )),
    }
}

async fn check_scsp_7(ctx: &Ctx) -> Result<String, Verdict> {
    let created = ctx
        .request(
            0,
            &Request::new("POST", "/").body(Bytes::from_static(b"scsp-7")),
        )
        .await?
        .response;
    expect_status(&created, &[201], "immutable WRITE on a healthy cluster")?;
    let count = replica_count(&created)?;
    if count < 2 {
        return Err(Verdict::fail(format!(
            "201 for an immutable object with Replica-Count {count} (absent means 1): it needs ≥ 2"
        )));
    }
    let alone = with_one_node_alive(ctx, || async {
        let r = ctx
            .request(
                0,
                &Request::new("POST", "/").body(Bytes::from_static(b"scsp-7 alone")),
            )
            .await?
            .response;
        expect_status(&r, &[412], "immutable WRITE with only one node alive")?;
        Ok("one node alive → 412".to_string())
    })
    .await;
    with_half(
        format!("healthy → 201 with Replica-Count {count}"),
        alone,
        "the 412 half",
    )
}

async fn check_scsp_8(ctx: &Ctx) -> Result<String, Verdict> {
    ctx.ensure_bucket().await?;
    let path = ctx.object("scsp-8");
    let created = ctx
        .request(
            0,
            &Request::new("POST", format!("{path}?replicate=2")).body(Bytes::from_static(b"8")),
        )
        .await?
        .response;
    expect_status(&created, &[201], "named WRITE with replicate=2")?;
    let claimed = replica_count(&created)?;
    if claimed > 2 {
        return Err(Verdict::fail(format!(
            "Replica-Count {claimed} exceeds the 2 synchronous replicas requested"
        )));
    }
    let mut evidence = format!("replicate=2 → Replica-Count {claimed}");
    let actual = match ctx.control_with(|c| c.introspection) {
        Some(c) => c.replicas_of(&path).await,
        None => None,
    };
    if let Some(actual) = actual {
        if actual != claimed {
            return Err(Verdict::fail(format!(
                "Replica-Count says {claimed} but {actual} nodes hold the object"
            )));
        }
        evidence.push_str(&format!(", and {actual} nodes hold it"));
    }
    let alone = with_one_node_alive(ctx, || async {
        let r = ctx
            .request(
                0,
                &Request::new(
                    "POST",
                    format!("{}?replicate=1", ctx.object("scsp-8-alone")),
                )
                .body(Bytes::from_static(b"alone")),
            )
            .await?
            .response;
        expect_status(
            &r,
            &[201],
            "named WRITE with replicate=1 and one node alive",
        )?;
        let n = replica_count(&r)?;
        if n != 1 {
            return Err(Verdict::fail(format!(
                "one node alive but Replica-Count {n}"
            )));
        }
        Ok("one node alive, replicate=1 → 201 with one replica".to_string())
    })
    .await;
    with_half(evidence, alone, "the one-node half")
}

async fn check_scsp_9(ctx: &Ctx) -> Result<String, Verdict> {
    ctx.ensure_bucket().await?;
    // (query, lifepoint reps, expected synchronous replicas)
    let cases: [(&str, usize, usize); 5] = [
        ("replicate=1", 2, 1),
        ("replicate=immediate", 3, 2),
        ("replicate=full", 3, 3),
        ("replicate=5", 3, 3),
        ("replicate=3", 2, 2),
    ];
    let mut seen = Vec::new();
    for (i, (query, reps, expected)) in cases.iter().enumerate() {
        let r = ctx
            .request(
                0,
                &Request::new(
                    "POST",
                    format!("{}?{query}", ctx.object(&format!("scsp-9-{i}"))),
                )
                .header("Lifepoint", format!("[] reps={reps}"))
                .body(Bytes::from_static(b"9")),
            )
            .await?
            .response;
        expect_status(&r, &[201], &format!("WRITE with {query}, reps={reps}"))?;
        let got = replica_count(&r)?;
        if got != *expected {
            return Err(Verdict::fail(format!(
                "{query} with reps={reps} should make {expected} synchronous replicas; Replica-Count says {got}"
            )));
        }
        seen.push(format!("{query}/reps={reps}→{got}"));
    }
    Ok(seen.join(", "))
}

async fn check_scsp_10(ctx: &Ctx) -> Result<String, Verdict> {
    ctx.ensure_bucket().await?;
    let two = ctx
        .request(
            0,
            &Request::new("POST", format!("{}?replicate=2", ctx.object("scsp-10-two")))
                .body(Bytes::from_static(b"10")),
        )
        .await?
        .response;
    expect_status(&two, &[201], "WRITE with replicate=2")?;
    let header = require_header(&two, "replica-count", "WRITE with two synchronous replicas")?;
    if header.trim() != "2" {
        return Err(Verdict::fail(format!(
            "replicate=2 but Replica-Count: {header}"
        )));
    }
    let one = ctx
        .request(
            0,
            &Request::new("POST", format!("{}?replicate=1", ctx.object("scsp-10-one")))
                .body(Bytes::from_static(b"10")),
        )
        .await?
        .response;
    expect_status(&one, &[201], "WRITE with replicate=1")?;
    if let Some(v) = one.header("replica-count") {
        if v.trim() != "1" {
            return Err(Verdict::fail(format!("replicate=1 but Replica-Count: {v}")));
        }
    }
    Ok(format!(
        "two replicas → Replica-Count: 2; one replica → {}",
        one.header("replica-count")
            .map(|v| format!("Replica-Count: {v}"))
            .unwrap_or("no header".into())
    ))
}
