//! Replicate-on-write rules: SCSP-7, SCSP-8, SCSP-9, SCSP-10.

use bytes::Bytes;

use crate::catalog::{Check, Rule, Strength};
use crate::check_fn;
use crate::clause::{doc, ClauseSpec};
use crate::client::Request;
use crate::rules::common::{expect_status, replica_count, require_header};
use crate::target::{Capabilities, Ctx};
use crate::verdict::Verdict;

const ROW: &str = "PF/2443821675";

const SCSP_7: [ClauseSpec; 2] = [
    doc(
        "healthy-201",
        "an immutable WRITE on a healthy cluster answers 201 with Replica-Count ≥ 2",
        ROW,
    ),
    doc(
        "one-node-412",
        "an immutable WRITE with only one node alive is 412",
        ROW,
    ),
];

const SCSP_8: [ClauseSpec; 3] = [
    doc(
        "count-at-most-asked",
        "a named WRITE with replicate=2 answers 201 with Replica-Count ≤ 2",
        ROW,
    ),
    doc(
        "count-matches-disks",
        "Replica-Count equals the number of nodes that hold the object",
        ROW,
    ),
    doc(
        "one-node-201",
        "a named WRITE with replicate=1 and one node alive answers 201 with one replica",
        ROW,
    ),
];

const SCSP_9: [ClauseSpec; 1] = [doc(
    "counts",
    "replicate=1|immediate|full|N with Lifepoint reps makes min(N, reps) synchronous replicas (immediate = 2)",
    ROW,
)];

const SCSP_10: [ClauseSpec; 2] = [
    doc(
        "present-above-one",
        "two synchronous replicas answer Replica-Count: 2",
        "SWARM/normal-write",
    ),
    doc(
        "one-or-absent",
        "one synchronous replica answers Replica-Count: 1 or no Replica-Count",
        "SWARM/normal-write",
    ),
];

/// The replication rules.
pub const RULES: [Rule; 4] = [
    Rule {
        id: "SCSP-7",
        title: "immutable WRITE: 201 only with ≥ 2 replicas, else 412",
        source: ROW,
        strength: Strength::Must,
        nodes_min: 2,
        needs: Capabilities::NONE,
        roles: crate::families::scsp::ROLES,
        uses: Capabilities {
            faults: true,
            admin: false,
            introspection: false,
        },
        check: Check::Run(scsp_7),
        clauses: &SCSP_7,
    },
    Rule {
        id: "SCSP-8",
        title: "named WRITE: 201 with ≥ 1 replica; Replica-Count is what was made",
        source: ROW,
        strength: Strength::Must,
        nodes_min: 2,
        needs: Capabilities::NONE,
        roles: crate::families::scsp::ROLES,
        uses: Capabilities {
            faults: true,
            admin: false,
            introspection: true,
        },
        check: Check::Run(scsp_8),
        clauses: &SCSP_8,
    },
    Rule {
        id: "SCSP-9",
        title: "replicate=N|immediate|full asks min(N, reps) synchronous replicas",
        source: ROW,
        strength: Strength::Must,
        nodes_min: 3,
        needs: Capabilities::NONE,
        roles: crate::families::scsp::ROLES,
        uses: Capabilities::NONE,
        check: Check::Run(scsp_9),
        clauses: &SCSP_9,
    },
    Rule {
        id: "SCSP-10",
        title: "Replica-Count is present when more than one replica was made",
        source: "SWARM/normal-write",
        strength: Strength::Must,
        nodes_min: 2,
        needs: Capabilities::NONE,
        roles: crate::families::scsp::ROLES,
        uses: Capabilities::NONE,
        check: Check::Run(scsp_10),
        clauses: &SCSP_10,
    },
];

check_fn!(scsp_7, check_scsp_7);
check_fn!(scsp_8, check_scsp_8);
check_fn!(scsp_9, check_scsp_9);
check_fn!(scsp_10, check_scsp_10);

/// Runs `body` with every node but node 0 killed, then restarts them, whatever happened.
/// Without fault control, or when a node cannot be killed, `slug` is not observed and
/// `body` does not run.
async fn with_one_node_alive<F, Fut>(ctx: &Ctx, slug: &str, body: F) -> Result<(), Verdict>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<(), Verdict>>,
{
    let Some(control) = ctx.control_with(|c| c.faults).cloned() else {
        ctx.clauses
            .not_observed(slug, "needs fault control to kill nodes");
        return Ok(());
    };
    let mut killed = Vec::new();
    for node in 1..ctx.nodes.len() {
        if let Err(e) = control.kill(node).await {
            for k in killed {
                let _ = control.restart(k).await;
            }
            ctx.clauses
                .not_observed(slug, format!("could not kill node {node}: {e}"));
            return Ok(());
        }
        killed.push(node);
    }
    let result = body().await;
    for node in killed {
        if let Err(e) = control.restart(node).await {
            return Err(Verdict::fail(format!("could not restart node {node}: {e}")));
        }
    }
    result
}

async fn check_scsp_7(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let created = ctx
        .request(
            0,
            &Request::new("POST", "/").body(Bytes::from_static(b"scsp-7")),
        )
        .await?
        .response;
    expect_status(&created, &[201], "immutable WRITE on a healthy cluster")?;
    let count = replica_count(&created)?;
    c.check(
        "healthy-201",
        count >= 2,
        format!("healthy → 201 with Replica-Count {count}"),
        format!(
            "201 for an immutable object with Replica-Count {count} (absent means 1): it needs ≥ 2"
        ),
    )?;
    with_one_node_alive(ctx, "one-node-412", || async {
        let r = ctx
            .request(
                0,
                &Request::new("POST", "/").body(Bytes::from_static(b"scsp-7 alone")),
            )
            .await?
            .response;
        c.check(
            "one-node-412",
            r.status == 412,
            "one node alive → 412",
            format!(
                "immutable WRITE with only one node alive: expected 412, got {}",
                r.status
            ),
        )
    })
    .await
}

async fn check_scsp_8(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
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
    c.record(
        "count-at-most-asked",
        claimed <= 2,
        format!("replicate=2 → Replica-Count {claimed}"),
        format!("Replica-Count {claimed} exceeds the 2 synchronous replicas requested"),
    );
    let actual = match ctx.control_with(|c| c.introspection) {
        Some(control) => control.replicas_of(&path).await,
        None => None,
    };
    match actual {
        Some(actual) => c.check(
            "count-matches-disks",
            actual == claimed,
            format!("{actual} nodes hold it, as Replica-Count says"),
            format!("Replica-Count says {claimed} but {actual} nodes hold the object"),
        )?,
        None => c.not_observed(
            "count-matches-disks",
            "needs introspection to count the replicas on disk",
        ),
    }
    with_one_node_alive(ctx, "one-node-201", || async {
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
        c.check(
            "one-node-201",
            n == 1,
            "one node alive, replicate=1 → 201 with one replica",
            format!("one node alive but Replica-Count {n}"),
        )
    })
    .await
}

async fn check_scsp_9(ctx: &Ctx) -> Result<(), Verdict> {
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
            return Err(ctx.clauses.fail(
                "counts",
                format!(
                    "{query} with reps={reps} should make {expected} synchronous replicas; Replica-Count says {got}"
                ),
            ));
        }
        seen.push(format!("{query}/reps={reps}→{got}"));
    }
    ctx.clauses.pass("counts", seen.join(", "));
    Ok(())
}

async fn check_scsp_10(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
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
    c.check(
        "present-above-one",
        header.trim() == "2",
        "two replicas → Replica-Count: 2",
        format!("replicate=2 but Replica-Count: {header}"),
    )?;
    let one = ctx
        .request(
            0,
            &Request::new("POST", format!("{}?replicate=1", ctx.object("scsp-10-one")))
                .body(Bytes::from_static(b"10")),
        )
        .await?
        .response;
    expect_status(&one, &[201], "WRITE with replicate=1")?;
    let shown = one.header("replica-count").map(str::trim);
    c.check(
        "one-or-absent",
        matches!(shown, None | Some("1")),
        format!(
            "one replica → {}",
            shown
                .map(|v| format!("Replica-Count: {v}"))
                .unwrap_or("no header".into())
        ),
        format!("replicate=1 but Replica-Count: {shown:?}"),
    )
}
