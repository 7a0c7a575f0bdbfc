//! Version rules: SCSP-19 (the once-per-second update rule and 409 for older versions) and
//! SCSP-20 (delete, then recreate). The checks assert what the documents guarantee for
//! updates at least a second apart, and for faster ones only that the outcome is one of
//! the allowed ones.

use bytes::Bytes;

use crate::catalog::{Check, Rule, Strength};
use crate::check_fn;
use crate::clause::{choice, consistency, doc, ClauseSpec};
use crate::client::{Request, Response};
use crate::rules::common::{expect_status, http_rule, replica_count};
use crate::rules::copy::get;
use crate::target::{Capabilities, Ctx};
use crate::verdict::Verdict;

const UPDATE: &str = "PF/2443821621";

const SCSP_19: [ClauseSpec; 6] = [
    doc(
        "spaced",
        "updates a second apart with replicate=immediate all answer 201, on ≥ 2 replicas, and reads return the latest",
        "SWARM/copy, PF/2443821621",
    ),
    doc(
        "fast-201-or-409",
        "updates within one second answer 201 or 409",
        "PF/2443821621, PF/2443821386",
    ),
    consistency(
        "fast-reads-acknowledged",
        "after fast updates, reads return a version some update was acknowledged for",
    ),
    doc(
        "older-10s",
        "an update a second after the stored one, from a node whose clock is 10 s behind, is refused or takes effect: never answered 201 and lost",
        UPDATE,
    ),
    choice(
        "older-same-second",
        "an update within the stored version's second, stamped a few hundred ms before it, is refused or takes effect: never answered 201 and lost",
        28,
    ),
    choice(
        "older-409",
        "an update stamped before the stored version is refused with 409",
        8,
    ),
];

const SCSP_20: [ClauseSpec; 2] = [
    doc(
        "recreate-after-second",
        "a name written a second after its DELETE answers 201 and reads back",
        "PF/2443821430",
    ),
    consistency(
        "recreate-soon-consistent",
        "a WRITE right after a DELETE either answers 201 and reads back, or fails and the name reads 404",
    ),
];

/// The version rules.
pub const RULES: [Rule; 2] = [
    Rule {
        id: "SCSP-19",
        title: "updates ≥ 1 s apart all take effect; faster ones may 409; older versions get 409",
        source: "SWARM/copy, PF/2443821621, PF/2443821386",
        strength: Strength::Must,
        nodes_min: 2,
        needs: Capabilities::NONE,
        roles: crate::families::scsp::ROLES,
        uses: Capabilities {
            faults: false,
            admin: true,
            introspection: false,
        },
        check: Check::Run(scsp_19),
        clauses: &SCSP_19,
    },
    http_rule(
        "SCSP-20",
        "DELETE then WRITE of a name: guaranteed after 1 s, allowed to fail sooner",
        "PF/2443821430",
        Strength::Must,
        scsp_20,
        &SCSP_20,
    ),
];

check_fn!(scsp_19, check_scsp_19);
check_fn!(scsp_20, check_scsp_20);

async fn update(
    ctx: &Ctx,
    node: usize,
    path: &str,
    body: &'static [u8],
    query: &str,
) -> Result<Response, Verdict> {
    let target = if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    };
    Ok(ctx
        .request(
            node % ctx.nodes.len(),
            &Request::new("POST", target).body(Bytes::from_static(body)),
        )
        .await?
        .response)
}

fn version_ms(r: &Response) -> Option<u64> {
    replisim_sim::invariants::version_ms(r.header("castor-system-version")?)
}

async fn check_scsp_19(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    ctx.ensure_bucket().await?;
    let path = ctx.object("scsp-19");
    // Updates at least a second apart: every one takes effect, with replicate=immediate on
    // at least two nodes.
    let mut last = update(ctx, 0, &path, b"v1", "replicate=immediate").await?;
    expect_status(&last, &[201], "first WRITE")?;
    for (i, body) in [&b"v2"[..], b"v3"].into_iter().enumerate() {
        ctx.next_second().await;
        last = update(
            ctx,
            i + 1,
            &path,
            if i == 0 { b"v2" } else { b"v3" },
            "replicate=immediate",
        )
        .await?;
        expect_status(&last, &[201], "an update a second after the previous one")?;
        let read = get(ctx, &path).await?;
        if read.body != body {
            return Err(c.fail(
                "spaced",
                format!(
                    "an update a second after the previous one was acknowledged but reads return `{}`",
                    String::from_utf8_lossy(&read.body)
                ),
            ));
        }
        if replica_count(&last)? < 2 {
            return Err(c.fail(
                "spaced",
                "replicate=immediate made fewer than two synchronous replicas",
            ));
        }
    }
    c.pass("spaced", "3 updates a second apart took effect");
    // Faster than once a second: each answer is 201 or 409, and what reads return is one
    // of the acknowledged versions.
    ctx.next_second().await;
    let fast_a = update(ctx, 0, &path, b"fast-a", "").await?;
    let fast_b = update(ctx, 1, &path, b"fast-b", "").await?;
    c.check(
        "fast-201-or-409",
        [201, 409].contains(&fast_a.status) && [201, 409].contains(&fast_b.status),
        format!("fast pair answered {}/{}", fast_a.status, fast_b.status),
        format!(
            "two updates within one second answered {} and {}; each must be 201 or 409",
            fast_a.status, fast_b.status
        ),
    )?;
    let mut allowed: Vec<&[u8]> = Vec::new();
    for (r, body) in [(&fast_a, &b"fast-a"[..]), (&fast_b, b"fast-b")] {
        if r.status == 201 {
            allowed.push(body);
        }
    }
    if allowed.is_empty() {
        allowed.push(b"v3");
    }
    let read = get(ctx, &path).await?;
    c.check(
        "fast-reads-acknowledged",
        allowed.contains(&&read.body[..]),
        "reads return an acknowledged version",
        format!(
            "after two fast updates reads return `{}`, which no acknowledged update wrote",
            String::from_utf8_lossy(&read.body)
        ),
    )?;
    older_version(ctx, &path).await
}

/// With clock control: an update sent a second after the stored version but stamped before
/// it (a clock 10 s behind, and one a few hundred milliseconds behind inside the stored
/// version's second) must be refused or take effect; the reference refuses it with 409.
async fn older_version(ctx: &Ctx, path: &str) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let Some(control) = ctx.control_with(|c| c.admin).cloned() else {
        for slug in ["older-10s", "older-same-second", "older-409"] {
            c.not_observed(slug, "needs clock control to skew a node's clock");
        }
        return Ok(());
    };
    let nodes = ctx.nodes.len();
    let mut statuses = Vec::new();
    for (slug, label, back_ms) in [
        ("older-10s", "10 s", 10_000i64),
        ("older-same-second", "in the same second", 0),
    ] {
        // For the same-second case the stored stamp must leave room inside its second for
        // a stamp 300 ms older (more than any request's latency); try a few seconds.
        let mut skew = None;
        for _ in 0..6 {
            ctx.next_second().await;
            let base = update(ctx, 0, path, b"stored", "").await?;
            expect_status(&base, &[201], "WRITE before the clock test")?;
            let Some(stored_ms) = version_ms(&base) else {
                c.not_observed(
                    slug,
                    "the 201 carries no Castor-System-Version to aim a clock at",
                );
                break;
            };
            if back_ms > 0 {
                ctx.next_second().await;
                skew = Some(-back_ms);
                break;
            }
            if stored_ms % 1000 >= 400 {
                let now_ms = replisim_sim::rt::wall_now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis() as i64)
                    .unwrap_or(0);
                skew = Some((stored_ms as i64 - 300) - now_ms);
                break;
            }
        }
        let Some(skew) = skew else {
            c.not_observed(
                slug,
                "no stored stamp left room inside its second in 6 tries",
            );
            continue;
        };
        let mut skewed = Ok(());
        for node in 0..nodes {
            if let Err(e) = control.set_clock_skew(node, skew).await {
                skewed = Err(e);
                break;
            }
        }
        let older = match skewed {
            Ok(()) => Some(update(ctx, 1, path, b"older", "").await),
            Err(e) => {
                c.not_observed(slug, format!("could not skew node clocks: {e}"));
                None
            }
        };
        for node in 0..nodes {
            let _ = control.set_clock_skew(node, 0).await;
        }
        let Some(older) = older else { continue };
        let older = older?;
        let read = get(ctx, path).await?;
        let kept = match older.status {
            201 => &read.body[..] == b"older",
            409 => &read.body[..] == b"stored",
            _ => false,
        };
        c.record(
            slug,
            kept,
            format!("older version {label} → {}, and reads agree", older.status),
            format!(
                "an update stamped {label} before the stored version answered {}, but reads now return `{}`",
                older.status,
                String::from_utf8_lossy(&read.body)
            ),
        );
        statuses.push((label, older.status));
    }
    if statuses.is_empty() {
        c.not_observed("older-409", "no older-stamped update was sent");
        return Ok(());
    }
    let wrong: Vec<String> = statuses
        .iter()
        .filter(|(_, s)| *s != 409)
        .map(|(l, s)| format!("{l} → {s}"))
        .collect();
    c.check(
        "older-409",
        wrong.is_empty(),
        "older versions → 409",
        format!("older-stamped updates must get 409: {}", wrong.join(", ")),
    )
}

async fn check_scsp_20(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    ctx.ensure_bucket().await?;
    let slow = ctx.object("scsp-20-slow");
    expect_status(&update(ctx, 0, &slow, b"first", "").await?, &[201], "WRITE")?;
    ctx.next_second().await;
    let deleted = ctx
        .request(0, &Request::new("DELETE", slow.clone()))
        .await?
        .response;
    expect_status(&deleted, &[200, 202, 204], "DELETE")?;
    ctx.next_second().await;
    let again = update(ctx, 0, &slow, b"second", "").await?;
    expect_status(&again, &[201], "WRITE a second after DELETE")?;
    c.check(
        "recreate-after-second",
        get(ctx, &slow).await?.body == b"second"[..],
        "recreate after 1 s → 201 and readable",
        "the name written a second after its DELETE does not read back",
    )?;
    let fast = ctx.object("scsp-20-fast");
    expect_status(&update(ctx, 0, &fast, b"first", "").await?, &[201], "WRITE")?;
    ctx.next_second().await;
    let deleted = ctx
        .request(0, &Request::new("DELETE", fast.clone()))
        .await?
        .response;
    expect_status(&deleted, &[200, 202, 204], "DELETE")?;
    let soon = update(ctx, 0, &fast, b"second", "").await?;
    let read = ctx
        .request(0, &Request::new("GET", fast.clone()))
        .await?
        .response;
    let consistent = match soon.status {
        201 => read.status == 200 && &read.body[..] == b"second",
        _ => read.status == 404,
    };
    c.check(
        "recreate-soon-consistent",
        consistent,
        format!("immediately → {} (allowed), and reads agree", soon.status),
        format!(
            "a WRITE right after DELETE answered {} but a read then answered {}",
            soon.status, read.status
        ),
    )
}
