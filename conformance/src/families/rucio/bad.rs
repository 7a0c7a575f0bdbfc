//! Declaring replicas bad: POST /replicas/bad and /replicas/bad/pfns (RUC-17..19). What
//! needs a daemon (minos turning a queued TEMPORARY_UNAVAILABLE PFN into a state, the
//! necromancer) is out of reach of the REST API and not claimed here.

use serde_json::json;

use super::api::{self, add_one, answer, call, declare_bad, login, refused, states};
use super::{rule, SRC_API, SRC_SERVER};
use crate::catalog::{Rule, Strength};
use crate::check_fn;
use crate::clause::{doc, ClauseSpec};
use crate::target::Ctx;
use crate::verdict::Verdict;

const RUC_17: [ClauseSpec; 3] = [
    doc("declared-bad", "declaring a PFN bad is 201 `{}` and makes the replica BAD", SRC_API),
    doc(
        "already-declared",
        "declaring it again is 201 `{\"<RSE name>\": [\"<scope>:<name> Already declared\"]}` (corrected: RSE name, scope:name)",
        SRC_SERVER,
    ),
    doc(
        "unknown-replica",
        "a PFN of an RSE without that replica comes back as `(<scope>, '<name>') Unknown replica` under the RSE name (corrected)",
        SRC_SERVER,
    ),
];
const RUC_18: [ClauseSpec; 1] = [doc(
    "suspicious-keeps-state",
    "POST /replicas/bad/pfns with state SUSPICIOUS is 201 and leaves the replica AVAILABLE",
    SRC_API,
)];
const RUC_19: [ClauseSpec; 3] = [
    doc(
        "tu-needs-expiry",
        "TEMPORARY_UNAVAILABLE without expires_at is 500 InputValidationError",
        SRC_API,
    ),
    doc(
        "bad-forbids-expiry",
        "BAD with expires_at is 500 InputValidationError",
        SRC_API,
    ),
    doc(
        "tu-at-most-30-days",
        "TEMPORARY_UNAVAILABLE for more than 30 days is 500 InputValidationError",
        SRC_API,
    ),
];

/// The bad-replica rules.
pub fn rules() -> Vec<Rule> {
    vec![
        rule("RUC-17", "declaring bad sets BAD; re-declaring and unknown replicas are reported per RSE name as scope:name (corrected), status 201", SRC_SERVER, Strength::Must, ruc_17, &RUC_17),
        rule("RUC-18", "declaring SUSPICIOUS never changes the replica state", SRC_API, Strength::Must, ruc_18, &RUC_18),
        rule("RUC-19", "bad/pfns validation: TEMPORARY_UNAVAILABLE needs expires_at (at most 30 days), BAD forbids it, all 500 InputValidationError; the later minos step is not reachable over REST (the replica stays AVAILABLE until minos runs)", SRC_SERVER, Strength::Must, ruc_19, &RUC_19),
    ]
}

check_fn!(ruc_17, check_ruc_17);
check_fn!(ruc_18, check_ruc_18);
check_fn!(ruc_19, check_ruc_19);

async fn check_ruc_17(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let root = login(ctx, api::ROOT).await?;
    let n = api::name(ctx, "b");
    add_one(ctx, &root, "EAST", &n).await?;
    let pfn = api::pfn("EAST", &n);
    let first = declare_bad(ctx, &root, std::slice::from_ref(&pfn)).await?;
    let s = states(ctx, &root, &n).await?;
    c.check(
        "declared-bad",
        first.status == 201
            && api::json(&first)? == json!({})
            && s.get("EAST").map(String::as_str) == Some("BAD"),
        "201 {}, BAD",
        format!("declare answered {}; states {s:?}", answer(&first)),
    )?;
    let again = declare_bad(ctx, &root, &[pfn]).await?;
    let want = json!({"EAST": [format!("{}:{n} Already declared", api::SCOPE)]});
    c.check(
        "already-declared",
        again.status == 201 && api::json(&again)? == want,
        format!("201 {want}"),
        format!("re-declare answered {}", answer(&again)),
    )?;
    let never = api::name(ctx, "never");
    let unknown = declare_bad(ctx, &root, &[api::pfn("EAST", &never)]).await?;
    let want = json!({"EAST": [format!("({}, '{never}') Unknown replica", api::SCOPE)]});
    c.check(
        "unknown-replica",
        unknown.status == 201 && api::json(&unknown)? == want,
        format!("201 {want}"),
        format!("declaring a missing replica answered {}", answer(&unknown)),
    )
}

async fn check_ruc_18(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let root = login(ctx, api::ROOT).await?;
    let n = api::name(ctx, "s");
    add_one(ctx, &root, "EAST", &n).await?;
    let body =
        json!({"pfns": [api::pfn("EAST", &n)], "state": "SUSPICIOUS", "reason": "replisim check"});
    let resp = call(
        ctx,
        Some(&root),
        "POST",
        "/replicas/bad/pfns",
        Some(&body),
        &[],
    )
    .await?;
    let s = states(ctx, &root, &n).await?;
    c.check(
        "suspicious-keeps-state",
        resp.status == 201 && s.get("EAST").map(String::as_str) == Some("AVAILABLE"),
        "201, still AVAILABLE",
        format!(
            "bad/pfns SUSPICIOUS answered {}; states {s:?}",
            answer(&resp)
        ),
    )
}

async fn check_ruc_19(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let root = login(ctx, api::ROOT).await?;
    let n = api::name(ctx, "t");
    add_one(ctx, &root, "EAST", &n).await?;
    let pfns = json!([api::pfn("EAST", &n)]);
    let root = root.as_str();
    let post = |body: serde_json::Value| async move {
        call(
            ctx,
            Some(root),
            "POST",
            "/replicas/bad/pfns",
            Some(&body),
            &[],
        )
        .await
    };
    let no_expiry =
        post(json!({"pfns": pfns, "state": "TEMPORARY_UNAVAILABLE", "reason": "x"})).await?;
    c.record(
        "tu-needs-expiry",
        refused(&no_expiry, 500, "InputValidationError"),
        "500 InputValidationError",
        format!("TU without expires_at answered {}", answer(&no_expiry)),
    );
    // Far beyond any clock a target runs on: more than 30 days whatever "now" is.
    let far = "2999-01-01T00:00:00.000000";
    let bad = post(json!({"pfns": pfns, "state": "BAD", "reason": "x", "expires_at": far})).await?;
    c.record(
        "bad-forbids-expiry",
        refused(&bad, 500, "InputValidationError"),
        "500 InputValidationError",
        format!("BAD with expires_at answered {}", answer(&bad)),
    );
    let long = post(
        json!({"pfns": pfns, "state": "TEMPORARY_UNAVAILABLE", "reason": "x", "expires_at": far}),
    )
    .await?;
    c.record(
        "tu-at-most-30-days",
        refused(&long, 500, "InputValidationError"),
        "500 InputValidationError",
        format!("TU for centuries answered {}", answer(&long)),
    );
    Ok(())
}
