//! Redirect rules: SCSP-3 (301) and SCSP-4 (307).

use bytes::Bytes;

use crate::catalog::{Check, Rule, Strength};
use crate::check_fn;
use crate::client::{parse_location, Request, Response};
use crate::rules::common::{expect_status, require_header};
use crate::target::{Capabilities, Ctx};
use crate::verdict::Verdict;

/// The redirect rules.
pub const RULES: [Rule; 2] = [
    Rule {
        id: "SCSP-3",
        title: "301: Content-Length 0, Location with auth=; resend there and move the access node",
        source: "seed-000, PF/2443821170",
        strength: Strength::Must,
        nodes_min: 2,
        needs: Capabilities {
            faults: false,
            admin: true,
            introspection: false,
        },
        uses: Capabilities::NONE,
        check: Check::Run(scsp_3),
    },
    Rule {
        id: "SCSP-4",
        title: "307: same shape as 301; the client keeps its access node",
        source: "seed-000",
        strength: Strength::Must,
        nodes_min: 2,
        needs: Capabilities::NONE,
        uses: Capabilities::NONE,
        check: Check::Run(scsp_4),
    },
];

check_fn!(scsp_3, check_scsp_3);
check_fn!(scsp_4, check_scsp_4);

/// Checks the shape every SCSP redirect has: no body and a Location with `auth=`.
fn check_redirect_shape(r: &Response, what: &str) -> Result<String, Verdict> {
    if r.header("content-length").map(str::trim) != Some("0") {
        return Err(Verdict::fail(format!(
            "{what}: {} must have Content-Length: 0, has {:?}",
            r.status,
            r.header("content-length")
        )));
    }
    let location = require_header(r, "location", what)?;
    let has_auth = location.split_once('?').is_some_and(|(_, q)| {
        q.split('&')
            .any(|arg| arg.to_ascii_lowercase().starts_with("auth="))
    });
    if !has_auth {
        return Err(Verdict::fail(format!(
            "{what}: {} Location `{location}` carries no auth= argument",
            r.status
        )));
    }
    Ok(location.to_string())
}

async fn check_scsp_3(ctx: &Ctx) -> Result<String, Verdict> {
    let Some(control) = ctx.control_with(|c| c.admin).cloned() else {
        return Err(Verdict::skip(
            "needs a target that can retire a node (admin control)",
        ));
    };
    ctx.ensure_bucket().await?;
    let retiring = ctx.nodes.len() - 1;
    control
        .set_retiring(retiring, true)
        .await
        .map_err(|e| Verdict::skip(format!("could not retire node {retiring}: {e}")))?;
    let result = retiring_node_moves_clients(ctx, retiring).await;
    let restored = control.set_retiring(retiring, false).await;
    let evidence = result?;
    restored.map_err(|e| Verdict::fail(format!("could not un-retire node {retiring}: {e}")))?;
    Ok(evidence)
}

async fn retiring_node_moves_clients(ctx: &Ctx, retiring: usize) -> Result<String, Verdict> {
    let node = ctx.nodes[retiring];
    let req = Request::new("POST", ctx.object("scsp-3")).body(Bytes::from_static(b"moved"));
    let first = ctx.client.send(node, &node.to_string(), &req).await?;
    if first.status != 301 {
        return Err(Verdict::fail(format!(
            "a retiring node must send clients away for good with 301; it answered {}",
            first.status
        )));
    }
    let location = check_redirect_shape(&first, "redirect from a retiring node")?;
    let (addr, target) = parse_location(&location)?;
    if addr == node {
        return Err(Verdict::fail(format!(
            "301 Location `{location}` points back at the retiring node"
        )));
    }
    let mut resent = req.clone();
    resent.target = target;
    let second = ctx.client.send(addr, &addr.to_string(), &resent).await?;
    expect_status(&second, &[201], "WRITE resent to the exact 301 Location")?;

    // A session that met the 301 must now use the new node, and the new node must serve
    // it without sending it back.
    let mut session = ctx.session(retiring);
    let moved = session
        .request(&Request::new("POST", ctx.object("scsp-3b")).body(Bytes::from_static(b"b")))
        .await?;
    expect_status(
        &moved.response,
        &[201],
        "WRITE through a session at the retiring node",
    )?;
    if session.access_node() == node {
        return Err(Verdict::fail(
            "after a 301 the session still uses the retiring node",
        ));
    }
    let later = session
        .request(&Request::new("GET", ctx.object("scsp-3b")))
        .await?;
    expect_status(&later.response, &[200], "READ from the new access node")?;
    if later
        .hops
        .iter()
        .any(|h| h.status == 301 || h.location.contains(&node.to_string()))
    {
        return Err(Verdict::fail(
            "the new access node redirected back to the retiring node",
        ));
    }
    Ok(format!(
        "retiring node answered 301 → {addr} with auth=; resent WRITE got 201; later requests start at {}",
        session.access_node()
    ))
}

async fn check_scsp_4(ctx: &Ctx) -> Result<String, Verdict> {
    ctx.ensure_bucket().await?;
    let access = ctx.nodes[0];
    for i in 0..32 {
        let req =
            Request::new("POST", ctx.object(&format!("scsp-4-{i}"))).body(Bytes::from_static(b"x"));
        let first = ctx.client.send(access, &access.to_string(), &req).await?;
        match first.status {
            201 => continue,
            307 => {
                let location = check_redirect_shape(&first, "307")?;
                let (addr, target) = parse_location(&location)?;
                let mut resent = req.clone();
                resent.target = target;
                let done = ctx.client.send(addr, &addr.to_string(), &resent).await?;
                expect_status(&done, &[201], "WRITE resent to the exact 307 Location")?;
                let mut session = ctx.session(0);
                let followed = session
                    .request(&Request::new("GET", ctx.object(&format!("scsp-4-{i}"))))
                    .await?;
                expect_status(
                    &followed.response,
                    &[200],
                    "READ through a session after a 307",
                )?;
                if session.access_node() != access {
                    return Err(Verdict::fail(
                        "the session left its access node after a 307",
                    ));
                }
                return Ok(format!(
                    "write {i} got 307 → {addr} with auth=; resent WRITE got 201; the access node stayed {access}"
                ));
            }
            301 => {
                return Err(Verdict::fail(
                    "the access node answered 301 although it is not retiring; expected 201 or 307",
                ))
            }
            _ => {
                expect_status(&first, &[201, 307], "WRITE at the access node")?;
            }
        }
    }
    Err(Verdict::skip(
        "32 writes at node 0 were all served there: the target never sent a 307",
    ))
}
