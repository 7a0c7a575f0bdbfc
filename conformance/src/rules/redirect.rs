//! Redirect rules: SCSP-3 (301) and SCSP-4 (307), and the judgement of every redirect any
//! rule met ([`judge_redirects`]): whatever rule a redirect happened in, its shape counts
//! for SCSP-3 (301, and any 3xx other than 301/307) or SCSP-4 (307), on any target.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::catalog::{Check, Rule, Strength};
use crate::check_fn;
use crate::clause::{choice, clause_id, consistency, doc, ClauseSpec, ClauseState};
use crate::client::{parse_location, Endpoint, Exchange, Request, Response};
use crate::rules::common::expect_status;
use crate::target::{Capabilities, Ctx};
use crate::verdict::{RuleResult, Verdict};

const NORMAL: &str = "SWARM/normal-write";

const SCSP_3: [ClauseSpec; 6] = [
    doc(
        "only-301-307",
        "a node redirects with 301 or 307 only, never another 3xx",
        "SWARM/normal-write, PF/2443821170",
    ),
    doc("empty", "a 301 has Content-Length: 0 and no body", NORMAL),
    doc(
        "auth",
        "a 301's Location carries a non-empty auth= argument",
        "SWARM/normal-write, PF/2443821170",
    ),
    doc(
        "resend-accepted",
        "the node a 301 names accepts the request resent to its exact Location",
        "SWARM/normal-write, PF/2443821170",
    ),
    choice(
        "retiring-301",
        "a retiring node sends clients away with 301",
        1,
    ),
    consistency(
        "no-bounce-back",
        "the node a 301 moved a client to serves it without sending it back",
    ),
];

const SCSP_4: [ClauseSpec; 5] = [
    doc("empty", "a 307 has Content-Length: 0 and no body", NORMAL),
    doc(
        "auth",
        "a 307's Location carries a non-empty auth= argument",
        NORMAL,
    ),
    doc(
        "resend-accepted",
        "the node a 307 names accepts the request resent to its exact Location",
        NORMAL,
    ),
    consistency(
        "readable",
        "an object written through a 307 reads back through the access node",
    ),
    choice(
        "no-301-unless-retiring",
        "a node that is not retiring redirects with 307, never 301",
        1,
    ),
];

/// The redirect rules.
pub const RULES: [Rule; 2] = [
    Rule {
        id: "SCSP-3",
        title: "301: Content-Length 0, Location with auth=; resend there and move the access node",
        source: "SWARM/normal-write, PF/2443821170",
        strength: Strength::Must,
        nodes_min: 2,
        needs: Capabilities::NONE,
        roles: crate::families::scsp::ROLES,
        uses: Capabilities {
            faults: false,
            admin: true,
            introspection: false,
        },
        check: Check::Run(scsp_3),
        clauses: &SCSP_3,
    },
    Rule {
        id: "SCSP-4",
        title: "307: same shape as 301; the client keeps its access node",
        source: NORMAL,
        strength: Strength::Must,
        nodes_min: 2,
        needs: Capabilities::NONE,
        roles: crate::families::scsp::ROLES,
        uses: Capabilities::NONE,
        check: Check::Run(scsp_4),
        clauses: &SCSP_4,
    },
];

check_fn!(scsp_3, check_scsp_3);
check_fn!(scsp_4, check_scsp_4);

/// What a redirect answer showed, from a response or from a transcript exchange.
struct Seen {
    status: u16,
    content_length: Option<String>,
    body_len: usize,
    location: Option<String>,
}

impl Seen {
    fn of_response(r: &Response) -> Self {
        Self {
            status: r.status,
            content_length: r.header("content-length").map(str::to_string),
            body_len: r.body.len(),
            location: r.header("location").map(str::to_string),
        }
    }

    /// The final response head of an exchange, when it has one.
    fn of_exchange(e: &Exchange) -> Option<Self> {
        let status = *e.outcome.as_ref().ok()?;
        let head = e
            .response_head
            .split("\r\n\r\n")
            .filter(|h| !h.trim().is_empty())
            .last()?;
        let header = |name: &str| {
            head.lines().skip(1).find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_string())
            })
        };
        Some(Self {
            status,
            content_length: header("content-length"),
            body_len: e.response_body_preview.len(),
            location: header("location"),
        })
    }

    /// Content-Length: 0 and no body.
    fn empty(&self) -> Result<(), String> {
        if self.content_length.as_deref().map(str::trim) == Some("0") && self.body_len == 0 {
            Ok(())
        } else {
            Err(format!(
                "{} must have Content-Length: 0 and no body; has Content-Length {:?} and {} body bytes",
                self.status, self.content_length, self.body_len
            ))
        }
    }

    /// A Location with a non-empty `auth=`, parsed into where to resend.
    fn auth(&self) -> Result<(Endpoint, String), String> {
        let Some(location) = &self.location else {
            return Err(format!("{} has no Location", self.status));
        };
        let has_auth = location.split_once('?').is_some_and(|(_, q)| {
            q.split('&').any(|arg| {
                arg.split_once('=')
                    .is_some_and(|(k, v)| k.eq_ignore_ascii_case("auth") && !v.trim().is_empty())
            })
        });
        if !has_auth {
            return Err(format!(
                "{} Location `{location}` carries no non-empty auth= argument",
                self.status
            ));
        }
        parse_location(location).map_err(|e| format!("{} Location is unusable: {e}", self.status))
    }
}

/// Whether the answer to a resent request shows it was accepted: any answer except a
/// refusal of the redirect itself (401, or 403 that names the auth token).
fn resend_accepted(e: &Exchange) -> Result<(), String> {
    match &e.outcome {
        Err(err) => Err(format!("the resend got no usable answer: {err}")),
        Ok(401) => Err("the resend was refused with 401".to_string()),
        Ok(403)
            if (e.response_head.to_ascii_lowercase()
                + &e.response_body_preview.to_ascii_lowercase())
                .contains("auth") =>
        {
            Err("the resend was refused with 403 naming its auth token".to_string())
        }
        Ok(_) => Ok(()),
    }
}

async fn check_scsp_3(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    for slug in ["empty", "auth", "resend-accepted"] {
        c.not_observed(slug, "no 301 was met in this run");
    }
    c.pass(
        "only-301-307",
        "no other 3xx met by this check (every rule's redirects are judged too)",
    );
    let Some(control) = ctx.control_with(|c| c.admin).cloned() else {
        let why = "needs a target that can retire a node (admin control)";
        c.not_observed("retiring-301", why);
        c.not_observed("no-bounce-back", why);
        return Ok(());
    };
    ctx.ensure_bucket().await?;
    let retiring = ctx.nodes.len() - 1;
    if let Err(e) = control.set_retiring(retiring, true).await {
        let why = format!("could not retire node {retiring}: {e}");
        c.not_observed("retiring-301", why.clone());
        c.not_observed("no-bounce-back", why);
        return Ok(());
    }
    let result = retiring_node_moves_clients(ctx, retiring).await;
    let restored = control.set_retiring(retiring, false).await;
    result?;
    restored.map_err(|e| Verdict::fail(format!("could not un-retire node {retiring}: {e}")))
}

async fn retiring_node_moves_clients(ctx: &Ctx, retiring: usize) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let node = ctx.nodes[retiring];
    let req = Request::new("POST", ctx.object("scsp-3")).body(Bytes::from_static(b"moved"));
    let first = ctx.client.send(node, &node.to_string(), &req).await?;
    c.check(
        "retiring-301",
        first.status == 301,
        "the retiring node answered 301",
        format!(
            "a retiring node must send clients away for good with 301; it answered {}",
            first.status
        ),
    )?;
    if first.status != 301 {
        c.not_observed(
            "no-bounce-back",
            format!(
                "the retiring node answered {}, so no client moved",
                first.status
            ),
        );
        return Ok(());
    }
    let seen = Seen::of_response(&first);
    c.judge(
        "empty",
        seen.empty()
            .map(|()| "301 with Content-Length: 0".into())
            .map_err(|e| Verdict::fail(format!("redirect from a retiring node: {e}"))),
    )?;
    let (addr, target) = match seen.auth() {
        Ok(parsed) => parsed,
        Err(e) => return Err(c.fail("auth", format!("redirect from a retiring node: {e}"))),
    };
    c.pass("auth", "301 Location carries auth=");
    if addr == node {
        return Err(c.fail(
            "no-bounce-back",
            format!("301 Location points back at the retiring node {node}"),
        ));
    }
    let mut resent = req.clone();
    resent.target = target;
    let second = ctx.client.send(addr, &addr.to_string(), &resent).await?;
    expect_status(&second, &[201], "WRITE resent to the exact 301 Location")?;
    c.pass("resend-accepted", format!("resent WRITE to {addr} got 201"));

    // A session that met the 301 uses the new node, which must serve it without sending
    // it back.
    let mut session = ctx.session(retiring);
    let moved = session
        .request(&Request::new("POST", ctx.object("scsp-3b")).body(Bytes::from_static(b"b")))
        .await?;
    expect_status(
        &moved.response,
        &[201],
        "WRITE through a session at the retiring node",
    )?;
    let later = session
        .request(&Request::new("GET", ctx.object("scsp-3b")))
        .await?;
    expect_status(&later.response, &[200], "READ from the new access node")?;
    c.check(
        "no-bounce-back",
        !later
            .hops
            .iter()
            .any(|h| h.status == 301 || h.location.contains(&node.to_string())),
        format!(
            "later requests start at {} and are not sent back",
            session.access_node()
        ),
        "the new access node redirected back to the retiring node",
    )
}

async fn check_scsp_4(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    ctx.ensure_bucket().await?;
    let access = ctx.nodes[0];
    let mut permanent = 0;
    for i in 0..32 {
        let name = ctx.object(&format!("scsp-4-{i}"));
        let req = Request::new("POST", name.clone()).body(Bytes::from_static(b"x"));
        let first = ctx.client.send(access, &access.to_string(), &req).await?;
        match first.status {
            201 => continue,
            301 => {
                permanent += 1;
                c.check(
                    "no-301-unless-retiring",
                    false,
                    "",
                    "the access node answered 301 although it is not retiring; expected 201 or 307",
                )?;
                continue;
            }
            307 => {}
            // Any other 3xx is judged for SCSP-3 with every redirect of the run.
            300..=399 => continue,
            _ => {
                expect_status(&first, &[201, 307], "WRITE at the access node")?;
            }
        }
        let seen = Seen::of_response(&first);
        c.judge(
            "empty",
            seen.empty()
                .map(|()| "307 with Content-Length: 0".into())
                .map_err(Verdict::fail),
        )?;
        let (addr, target) = match seen.auth() {
            Ok(parsed) => parsed,
            Err(e) => return Err(c.fail("auth", e)),
        };
        c.pass("auth", "307 Location carries auth=");
        let mut resent = req.clone();
        resent.target = target;
        let done = ctx.client.send(addr, &addr.to_string(), &resent).await?;
        c.check(
            "resend-accepted",
            done.status == 201,
            format!("write {i} resent to {addr} got 201"),
            format!(
                "WRITE resent to the exact 307 Location answered {}",
                done.status
            ),
        )?;
        let followed = ctx.session(0).request(&Request::new("GET", name)).await?;
        expect_status(&followed.response, &[200], "READ through the access node")?;
        c.check(
            "readable",
            &followed.response.body[..] == b"x",
            format!("the object reads back through {access}"),
            "the object written through the 307 reads back different content",
        )?;
        if permanent == 0 {
            c.pass(
                "no-301-unless-retiring",
                "the access node answered 307, not 301",
            );
        }
        return Ok(());
    }
    let why = "32 writes at node 0 drew no 307 (every rule's redirects are judged too)";
    for slug in ["empty", "auth", "resend-accepted", "readable"] {
        c.not_observed(slug, why);
    }
    if permanent == 0 {
        c.pass("no-301-unless-retiring", "no write drew a 301");
    }
    Ok(())
}

/// What every redirect of a run showed, clause by clause.
#[derive(Default)]
struct Findings {
    /// Clause id → redirects that held.
    held: BTreeMap<String, usize>,
    /// Clause id → the first one that did not: evidence and the exchange.
    broken: BTreeMap<String, (String, Exchange)>,
}

impl Findings {
    fn note(&mut self, clause: String, outcome: Result<(), String>, at: &str, e: &Exchange) {
        match outcome {
            Ok(()) => *self.held.entry(clause).or_default() += 1,
            Err(why) => {
                self.broken
                    .entry(clause)
                    .or_insert_with(|| (format!("{at}: {why}"), e.clone()));
            }
        }
    }
}

/// Judges every redirect in every result's transcript against SCSP-3/SCSP-4's shape (301
/// or 307 only; Content-Length 0 and no body; a Location with a non-empty `auth=`; the
/// resend accepted there) and writes what it found into the SCSP-3 and SCSP-4 results of
/// the run, when they ran. A broken redirect fails the clause, with a copy of the exchange
/// appended to that rule's transcript; redirects that held make a clause that the rule's
/// own check could not observe pass. Only the transcripts of rules that talk to SCSP nodes
/// (the `scsp` role) are judged: another service's 3xx is its own protocol's (DS3's 307,
/// BP-7, carries the Error document).
pub fn judge_redirects(results: &mut [RuleResult]) {
    let talks_scsp: std::collections::BTreeSet<&str> = crate::catalog::all()
        .into_iter()
        .filter(|r| r.roles.contains(&crate::families::Role::Scsp))
        .map(|r| r.id)
        .collect();
    let mut found = Findings::default();
    for r in results.iter() {
        if !talks_scsp.contains(r.id) {
            continue;
        }
        for (i, e) in r.transcript.iter().enumerate() {
            let Some(seen) = Seen::of_exchange(e) else {
                continue;
            };
            let at = format!("{} exchange #{i} ({})", r.id, e.addr);
            let rule = match seen.status {
                301 => "SCSP-3",
                307 => "SCSP-4",
                300 | 302 | 303 | 305 | 308 => {
                    found.note(
                        clause_id("SCSP-3", "only-301-307"),
                        Err(format!("a redirect with {}", seen.status)),
                        &at,
                        e,
                    );
                    continue;
                }
                _ => continue,
            };
            found.note(clause_id("SCSP-3", "only-301-307"), Ok(()), &at, e);
            found.note(clause_id(rule, "empty"), seen.empty(), &at, e);
            match seen.auth() {
                Ok((addr, target)) => {
                    found.note(clause_id(rule, "auth"), Ok(()), &at, e);
                    let method = e.request_head.split(' ').next().unwrap_or("");
                    let resend = r.transcript[i + 1..].iter().find(|n| {
                        n.addr == addr
                            && n.request_head
                                .lines()
                                .next()
                                .is_some_and(|l| l.starts_with(&format!("{method} {target} ")))
                    });
                    if let Some(n) = resend {
                        found.note(
                            clause_id(rule, "resend-accepted"),
                            resend_accepted(n),
                            &at,
                            n,
                        );
                    }
                }
                Err(why) => found.note(clause_id(rule, "auth"), Err(why), &at, e),
            }
        }
    }
    for r in results.iter_mut() {
        if !(r.id == "SCSP-3" || r.id == "SCSP-4") || r.verdict.clauses.is_empty() {
            continue;
        }
        let mut changed = false;
        for i in 0..r.verdict.clauses.len() {
            let id = r.verdict.clauses[i].id.clone();
            if let Some((why, exchange)) = found.broken.get(&id) {
                if matches!(r.verdict.clauses[i].state, ClauseState::Fail { .. }) {
                    continue;
                }
                let index = match r.transcript.iter().position(|t| t == exchange) {
                    Some(at) => at,
                    None => {
                        r.transcript.push(exchange.clone());
                        r.transcript.len() - 1
                    }
                };
                r.verdict.clauses[i].state = ClauseState::Fail {
                    evidence: why.clone(),
                    exchange: Some(index),
                };
                changed = true;
            } else if let Some(n) = found.held.get(&id) {
                if matches!(r.verdict.clauses[i].state, ClauseState::NotObserved(_)) {
                    r.verdict.clauses[i].state =
                        ClauseState::Pass(format!("{n} redirects met in this run held"));
                    changed = true;
                }
            }
        }
        if changed {
            r.verdict.recompute();
        }
    }
}
