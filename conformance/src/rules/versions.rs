//! Version rules: SCSP-19 (the once-per-second update rule and 409 for older versions) and
//! SCSP-20 (delete, then recreate). The checks assert what the documents guarantee for
//! updates at least a second apart, and for faster ones only that the outcome is one of
//! the allowed ones.

use bytes::Bytes;

use crate::catalog::{Check, Rule, Strength};
use crate::check_fn;
use crate::client::{Request, Response};
use crate::rules::common::{expect_status, http_rule, replica_count, require_header};
use crate::rules::copy::get;
use crate::target::{Capabilities, Ctx};
use crate::verdict::Verdict;

/// The version rules.
pub const RULES: [Rule; 2] = [
    Rule {
        id: "SCSP-19",
        title: "updates ≥ 1 s apart all take effect; faster ones may 409; older versions get 409",
        source: "seed-001, PF/2443821621",
        strength: Strength::Must,
        nodes_min: 2,
        needs: Capabilities::NONE,
        uses: Capabilities {
            faults: false,
            admin: true,
            introspection: false,
        },
        check: Check::Run(scsp_19),
    },
    http_rule(
        "SCSP-20",
        "DELETE then WRITE of a name: guaranteed after 1 s, allowed to fail sooner",
        "PF/2443821430",
        Strength::Must,
        scsp_20,
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

async fn check_scsp_19(ctx: &Ctx) -> Result<String, Verdict> {
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
            return Err(Verdict::fail(format!(
                "an update a second after the previous one was acknowledged but reads return `{}`",
                String::from_utf8_lossy(&read.body)
            )));
        }
        if replica_count(&last)? < 2 {
            return Err(Verdict::fail(
                "replicate=immediate made fewer than two synchronous replicas",
            ));
        }
    }
    // Faster than once a second: each answer is 201 or 409, and what reads return is one
    // of the acknowledged versions.
    ctx.next_second().await;
    let fast_a = update(ctx, 0, &path, b"fast-a", "").await?;
    let fast_b = update(ctx, 1, &path, b"fast-b", "").await?;
    expect_status(&fast_a, &[201, 409], "a fast update")?;
    expect_status(
        &fast_b,
        &[201, 409],
        "a second update within the same second",
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
    if !allowed.contains(&&read.body[..]) {
        return Err(Verdict::fail(format!(
            "after two fast updates reads return `{}`, which no acknowledged update wrote",
            String::from_utf8_lossy(&read.body)
        )));
    }
    let clock = older_version_refused(ctx, &path).await?;
    Ok(format!(
        "3 updates a second apart took effect; fast pair answered {}/{}; {clock}",
        fast_a.status, fast_b.status
    ))
}

/// With clock control: an update stamped before the stored version (10 s back, and a few
/// milliseconds back within the same second) must be refused with 409.
async fn older_version_refused(ctx: &Ctx, path: &str) -> Result<String, Verdict> {
    let Some(control) = ctx.control_with(|c| c.admin).cloned() else {
        return Ok("the 409 half needs clock control (not checked)".to_string());
    };
    let nodes = ctx.nodes.len();
    let mut refused = Vec::new();
    for (label, back_ms) in [("10 s", 10_000i64), ("in the same second", 0)] {
        // For the same-second case the stored stamp must leave room inside its second for a
        // stamp 300 ms older (more than any request's latency); try a few seconds.
        let mut skew = None;
        for _ in 0..6 {
            ctx.next_second().await;
            let base = update(ctx, 0, path, b"stored", "").await?;
            expect_status(&base, &[201], "WRITE before the clock test")?;
            let Some(stored_ms) = version_ms(&base) else {
                return Err(Verdict::fail("201 carries no Castor-System-Version"));
            };
            if back_ms > 0 {
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
            refused.push(format!(
                "({label}: no suitable stamp in 6 tries, not checked)"
            ));
            continue;
        };
        for node in 0..nodes {
            if let Err(e) = control.set_clock_skew(node, skew).await {
                return Ok(format!("the 409 half needs clock control: {e}"));
            }
        }
        let older = update(ctx, 1, path, b"older", "").await;
        for node in 0..nodes {
            let _ = control.set_clock_skew(node, 0).await;
        }
        let older = older?;
        if older.status != 409 {
            let read = get(ctx, path).await?;
            return Err(Verdict::fail(format!(
                "an update stamped {label} before the stored version answered {} (expected 409); reads now return `{}`",
                older.status,
                String::from_utf8_lossy(&read.body)
            )));
        }
        require_header(&older, "content-type", "409")?;
        refused.push(format!("older version {label} → 409"));
    }
    Ok(refused.join(", "))
}

async fn check_scsp_20(ctx: &Ctx) -> Result<String, Verdict> {
    ctx.ensure_bucket().await?;
    let slow = ctx.object("scsp-20-slow");
    expect_status(&update(ctx, 0, &slow, b"first", "").await?, &[201], "WRITE")?;
    ctx.next_second().await;
    let deleted = ctx
        .request(0, &Request::new("DELETE", slow.clone()))
        .await?
        .response;
    expect_status(&deleted, &[200], "DELETE")?;
    ctx.next_second().await;
    let again = update(ctx, 0, &slow, b"second", "").await?;
    expect_status(&again, &[201], "WRITE a second after DELETE")?;
    if get(ctx, &slow).await?.body != b"second"[..] {
        return Err(Verdict::fail(
            "the name written a second after its DELETE does not read back",
        ));
    }
    let fast = ctx.object("scsp-20-fast");
    expect_status(&update(ctx, 0, &fast, b"first", "").await?, &[201], "WRITE")?;
    ctx.next_second().await;
    let deleted = ctx
        .request(0, &Request::new("DELETE", fast.clone()))
        .await?
        .response;
    expect_status(&deleted, &[200], "DELETE")?;
    let soon = update(ctx, 0, &fast, b"second", "").await?;
    let read = ctx
        .request(0, &Request::new("GET", fast.clone()))
        .await?
        .response;
    let consistent = match soon.status {
        201 => read.status == 200 && &read.body[..] == b"second",
        _ => read.status == 404,
    };
    if !consistent {
        return Err(Verdict::fail(format!(
            "a WRITE right after DELETE answered {} but a read then answered {}",
            soon.status, read.status
        )));
    }
    Ok(format!(
        "recreate after 1 s → 201 and readable; immediately → {} (allowed)",
        soon.status
    ))
}
