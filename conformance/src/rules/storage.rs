//! What a node does when its disk fails it: SCSP-15 (no space → 507, and no acknowledged
//! write is lost) and SCSP-38 (a corrupt replica read with `validate=yes` is cut short, and
//! the health processor repairs it). Both need a fault kind beyond kill and partition (disk
//! full, bit rot): the check asks the control for it and skips, saying why, on a target whose
//! control does not offer it (the fault hook of a real cluster).

use std::time::Duration;

use bytes::Bytes;
use replisim_sim::faults::{Fault, FaultKind};

use crate::catalog::{Check, Rule, Strength};
use crate::check_fn;
use crate::clause::{consistency, doc, ClauseSpec};
use crate::client::{ClientError, Request, Session};
use crate::rules::common::expect_status;
use crate::simcontrol::store_key_of;
use crate::target::{Capabilities, Ctx};
use crate::verdict::Verdict;

const SCSP_15: [ClauseSpec; 2] = [
    doc(
        "full-507",
        "a WRITE when no node has space for the object answers 507",
        "DXAG/p33",
    ),
    consistency(
        "no-ack-lost",
        "every write acknowledged before or while the disks were full reads back whole once they have space again",
    ),
];

const SCSP_38: [ClauseSpec; 2] = [
    doc(
        "validate-truncates",
        "GET ?validate=yes of a corrupt replica drops the connection before the last bytes",
        "PF/2443821518",
    ),
    consistency(
        "health-repairs",
        "the health processor replaces the corrupt replica: a later GET ?validate=yes reads the object whole",
    ),
];

const FAULTS: Capabilities = Capabilities {
    faults: true,
    admin: false,
    introspection: false,
};

/// The disk-fault rules.
pub const RULES: [Rule; 2] = [
    Rule {
        id: "SCSP-15",
        title: "if no node has space for the object the answer is 507",
        source: "DXAG/p33, PFdiff/3379986645",
        strength: Strength::Must,
        nodes_min: 1,
        needs: FAULTS,
        roles: crate::families::scsp::ROLES,
        uses: Capabilities::NONE,
        check: Check::Run(scsp_15),
        clauses: &SCSP_15,
    },
    Rule {
        id: "SCSP-38",
        title: "validate=yes on a corrupt replica drops the connection before the last bytes",
        source: "PF/2443821518",
        strength: Strength::Must,
        nodes_min: 2,
        needs: FAULTS,
        roles: crate::families::scsp::ROLES,
        uses: Capabilities::NONE,
        check: Check::Run(scsp_38),
        clauses: &SCSP_38,
    },
];

check_fn!(scsp_15, check_scsp_15);
check_fn!(scsp_38, check_scsp_38);

/// How long the health processor gets to repair a rotten replica (several of the
/// reference's 10-second passes).
const REPAIR_WAIT: Duration = Duration::from_secs(120);

async fn check_scsp_15(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let control = ctx
        .control_for(FaultKind::DiskFull)
        .map_err(Verdict::skip)?;
    ctx.ensure_bucket().await?;
    let before = ctx.object("before-full");
    let created = ctx
        .request(
            0,
            &Request::new("POST", before.clone()).body(Bytes::from_static(b"scsp-15 before")),
        )
        .await?
        .response;
    expect_status(&created, &[201], "WRITE before any disk is full")?;
    let mut acked = vec![(before, Bytes::from_static(b"scsp-15 before"))];

    let nodes = ctx.nodes.len();
    for node in 0..nodes {
        if let Err(e) = control.apply(Fault::DiskFull { node }).await {
            return Err(Verdict::fail(format!(
                "could not fill node {node}'s disk: {e}"
            )));
        }
    }
    let during = ctx.object("while-full");
    let body = Bytes::from_static(b"scsp-15 written while every disk is full");
    let answered = ctx
        .request(0, &Request::new("POST", during.clone()).body(body.clone()))
        .await;
    for node in 0..nodes {
        if let Err(e) = control.apply(Fault::DiskFree { node }).await {
            return Err(Verdict::fail(format!(
                "could not free node {node}'s disk: {e}"
            )));
        }
    }
    let status = answered?.response.status;
    if (200..300).contains(&status) {
        acked.push((during.clone(), body));
    }
    // Recorded, not stopping: a write wrongly acknowledged is exactly what the next clause
    // must then find on disk.
    c.record(
        "full-507",
        status == 507,
        format!("every disk full → WRITE {during} answered 507"),
        format!("every disk full: WRITE {during} answered {status}, expected 507"),
    );

    let mut read = Vec::new();
    for (path, content) in &acked {
        let r = ctx
            .request(0, &Request::new("GET", path.clone()))
            .await?
            .response;
        if r.status != 200 || r.body != *content {
            return Err(c.fail(
                "no-ack-lost",
                format!(
                    "{path} was acknowledged, but after the disks were freed GET answered {} with {} bytes (expected 200 with {} bytes)",
                    r.status,
                    r.body.len(),
                    content.len()
                ),
            ));
        }
        read.push(path.clone());
    }
    c.pass(
        "no-ack-lost",
        format!("acknowledged writes read back whole: {}", read.join(", ")),
    );
    Ok(())
}

/// A GET with `validate=yes` sent to `node` itself (no redirect followed), so that it is
/// that node's replica that is read.
async fn validated_get(ctx: &Ctx, node: usize, path: &str) -> Result<(u16, Bytes), ClientError> {
    let req = Request::new("GET", format!("{path}?validate=yes"));
    let endpoint = ctx.nodes[node];
    let response = ctx
        .client
        .send(endpoint, &endpoint.to_string(), &req)
        .await?;
    if response.status == 301 || response.status == 307 {
        // The node no longer holds a replica (the repair may have moved it): read it where
        // it points.
        let followed = Session::new(ctx.client.clone(), endpoint)
            .request(&req)
            .await?;
        return Ok((followed.response.status, followed.response.body));
    }
    Ok((response.status, response.body))
}

async fn check_scsp_38(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let control = ctx.control_for(FaultKind::BitRot).map_err(Verdict::skip)?;
    ctx.ensure_bucket().await?;
    let path = ctx.object("rots");
    let content = Bytes::from(vec![b'r'; 4096]);
    let created = ctx
        .request(
            0,
            &Request::new("POST", format!("{path}?replicate=immediate")).body(content.clone()),
        )
        .await?
        .response;
    expect_status(&created, &[201], "WRITE of the object to rot")?;
    // The fault names the record by the reference node's store key: only the simulated
    // target offers bit rot (see ARCHITECTURE.md, "one control").
    let key = store_key_of(&path);
    let mut rotted = None;
    for node in 0..ctx.nodes.len() {
        if control
            .apply(Fault::BitRot {
                node,
                key: key.clone(),
            })
            .await
            .is_ok()
        {
            rotted = Some(node);
            break;
        }
    }
    let Some(node) = rotted else {
        return Err(Verdict::skip(format!(
            "no node let the control rot a replica of {path}"
        )));
    };

    match validated_get(ctx, node, &path).await {
        // Any cut before the last byte: a body one short of its length (docs/choices.md row
        // 18), or a connection closed before the answer was written out.
        Err(ClientError::Malformed(why)) => c.pass(
            "validate-truncates",
            format!("GET {path}?validate=yes at node {node} (its replica rotten): {why}"),
        ),
        Err(other) => {
            return Err(c.fail(
                "validate-truncates",
                format!("GET {path}?validate=yes at node {node} (replica rotten) failed otherwise: {other}"),
            ))
        }
        Ok((status, body)) => {
            return Err(c.fail(
                "validate-truncates",
                format!(
                    "GET {path}?validate=yes at node {node}, whose replica is rotten, answered {status} with a whole body of {} bytes{}",
                    body.len(),
                    if body == content { " equal to the object" } else { " that differs from the object" }
                ),
            ))
        }
    }

    let started = replisim_sim::rt::now();
    loop {
        match validated_get(ctx, node, &path).await {
            Ok((200, body)) if body == content => {
                c.pass(
                    "health-repairs",
                    format!(
                        "GET {path}?validate=yes at node {node} read the object whole after {:?}",
                        replisim_sim::rt::now().saturating_duration_since(started)
                    ),
                );
                return Ok(());
            }
            last => {
                if replisim_sim::rt::now().saturating_duration_since(started) > REPAIR_WAIT {
                    let seen = match last {
                        Ok((status, body)) => format!(
                            "{status} with a whole body of {} bytes, not the object",
                            body.len()
                        ),
                        Err(e) => e.to_string(),
                    };
                    return Err(c.fail(
                        "health-repairs",
                        format!(
                            "{REPAIR_WAIT:?} after the rot, GET {path}?validate=yes at node {node} still gives {seen}"
                        ),
                    ));
                }
            }
        }
        replisim_sim::rt::sleep(Duration::from_secs(2)).await;
    }
}
