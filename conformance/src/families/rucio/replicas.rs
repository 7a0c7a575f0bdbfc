//! Writing replicas: POST, PUT and DELETE /replicas and POST /replicas/tombstone, and the
//! error form every refusal shares (RUC-1..7, RUC-13..16, RUC-21). Rule texts follow what
//! Rucio 41.5.1 answers where it differs from the code-derived spec (docs/rucio.md, "Where
//! the server disagrees with the spec").

use serde_json::{json, Value};

use super::api::{self, add, add_one, answer, call, file, login, put_state, refused, states};
use super::{rule, SRC_API, SRC_SERVER};
use crate::catalog::{Rule, Strength};
use crate::check_fn;
use crate::clause::{doc, ClauseSpec};
use crate::target::Ctx;
use crate::verdict::Verdict;

const RUC_1: [ClauseSpec; 3] = [
    doc("post-201", "POST /replicas answers 201 with the body `Created`", SRC_API),
    doc("put-200-empty", "PUT /replicas answers 200 with an empty body", SRC_API),
    doc(
        "delete-401",
        "DELETE /replicas is refused 401 AccessDenied, root included (generic policy; corrected: the spec's 200 is unreachable)",
        SRC_SERVER,
    ),
];
const RUC_2: [ClauseSpec; 3] = [
    doc(
        "class-body-and-header",
        "a refusal names its ExceptionClass in the JSON body and the ExceptionClass header alike, as application/octet-stream",
        SRC_API,
    ),
    doc(
        "message-header-cut",
        "the ExceptionMessage header is one line of at most 128 characters (125 + `...`)",
        SRC_API,
    ),
    doc(
        "missing-token-400",
        "a call without X-Rucio-Auth-Token is 400 ValueError; a wrong token is 401 CannotAuthenticate (corrected)",
        SRC_SERVER,
    ),
];
const RUC_3: [ClauseSpec; 2] = [
    doc(
        "volatile-500",
        "adding to a volatile RSE is 500 UnsupportedOperation",
        SRC_API,
    ),
    doc(
        "write-unavailable-503",
        "adding to an RSE with availability_write=false is 503 ResourceTemporaryUnavailable",
        SRC_API,
    ),
];
const RUC_4: [ClauseSpec; 2] = [
    doc(
        "nondet-needs-pfn",
        "adding to a non-deterministic RSE without a pfn is 500 UnsupportedOperation (corrected: the spec gives no status)",
        SRC_SERVER,
    ),
    doc(
        "wrong-pfn-400",
        "a pfn other than the computed one on a deterministic RSE is 400 InvalidPath",
        SRC_API,
    ),
];
const RUC_5: [ClauseSpec; 2] = [
    doc(
        "unknown-scope-404",
        "adding in an unknown scope is 404 ScopeNotFound",
        SRC_API,
    ),
    doc(
        "did-created",
        "adding a replica of a new name creates its file DID: it lists",
        SRC_API,
    ),
];
const RUC_6: [ClauseSpec; 1] = [doc(
    "readd-silent",
    "re-adding a replica is 201 again and keeps the first `bytes` (corrected: also when they differ)",
    SRC_SERVER,
)];
const RUC_7: [ClauseSpec; 2] = [
    doc(
        "default-available",
        "a replica added without a state is AVAILABLE",
        SRC_API,
    ),
    doc(
        "state-honoured",
        "a replica added with state C is COPYING",
        SRC_API,
    ),
];
const RUC_13: [ClauseSpec; 2] = [
    doc(
        "unknown-replica-500",
        "PUT of a replica that does not exist is 500 ReplicaNotFound",
        SRC_API,
    ),
    doc(
        "copying-to-tu",
        "PUT state T on a COPYING replica is 200 and makes it TEMPORARY_UNAVAILABLE (corrected: the spec refuses it)",
        SRC_SERVER,
    ),
];
const RUC_14: [ClauseSpec; 1] = [doc(
    "bad-to-available",
    "PUT state A on a BAD replica makes it AVAILABLE again",
    SRC_API,
)];
const RUC_15: [ClauseSpec; 2] = [
    doc("unknown-rse-404", "DELETE /replicas on an unknown RSE is 404 RSENotFound", SRC_API),
    doc(
        "permission-first",
        "DELETE of a replica that does not exist is 401 AccessDenied: the permission check precedes the replica lookup (corrected: 404 is unobservable)",
        SRC_SERVER,
    ),
];
const RUC_16: [ClauseSpec; 2] = [
    doc(
        "nobody-401",
        "DELETE by an account without rights is 401 AccessDenied",
        SRC_API,
    ),
    doc(
        "replica-remains",
        "after the refused DELETE the replica still lists AVAILABLE",
        SRC_API,
    ),
];
const RUC_21: [ClauseSpec; 3] = [
    doc(
        "tombstone-201",
        "POST /replicas/tombstone of an unlocked replica is 201",
        SRC_API,
    ),
    doc(
        "locked-423",
        "a tombstone on a replica a rule locks is 423 ReplicaIsLocked",
        SRC_API,
    ),
    doc(
        "unknown-404",
        "a tombstone on a replica that does not exist is 404 ReplicaNotFound",
        SRC_API,
    ),
];

/// The write-side rules.
pub fn rules() -> Vec<Rule> {
    vec![
        rule("RUC-1", "POST /replicas answers 201 `Created`, PUT 200 empty; DELETE is refused 401 under the generic policy (corrected from the spec's 200)", SRC_SERVER, Strength::Must, ruc_1, &RUC_1),
        rule("RUC-2", "refusals carry ExceptionClass in body and header, the message header cut to 128 chars; a missing token is 400 ValueError (corrected)", SRC_SERVER, Strength::Must, ruc_2, &RUC_2),
        rule("RUC-3", "adding to a volatile RSE is 500 UnsupportedOperation, to a write-unavailable RSE 503", SRC_API, Strength::Must, ruc_3, &RUC_3),
        rule("RUC-4", "a non-deterministic RSE needs a pfn (500 UnsupportedOperation, corrected); a wrong pfn on a deterministic RSE is 400 InvalidPath", SRC_SERVER, Strength::Must, ruc_4, &RUC_4),
        rule("RUC-5", "an unknown scope is 404 ScopeNotFound; the file DID is created implicitly", SRC_API, Strength::Must, ruc_5, &RUC_5),
        rule("RUC-6", "re-adding a replica is a silent 201 that keeps the first size (corrected: also with other bytes)", SRC_SERVER, Strength::Must, ruc_6, &RUC_6),
        rule("RUC-7", "a replica is AVAILABLE unless added with a state, which is honoured", SRC_API, Strength::Must, ruc_7, &RUC_7),
        rule("RUC-13", "PUT of an unknown replica is 500 ReplicaNotFound; COPYING -> TEMPORARY_UNAVAILABLE is accepted (corrected)", SRC_SERVER, Strength::Must, ruc_13, &RUC_13),
        rule("RUC-14", "setting AVAILABLE recovers a BAD replica", SRC_API, Strength::Must, ruc_14, &RUC_14),
        rule("RUC-15", "DELETE: unknown RSE 404 RSENotFound, then the permission check (401) before any replica or availability check (corrected: all-or-nothing 404/503 unobservable)", SRC_SERVER, Strength::Must, ruc_15, &RUC_15),
        rule("RUC-16", "a non-privileged DELETE is 401 AccessDenied and the replicas remain", SRC_API, Strength::Must, ruc_16, &RUC_16),
        rule("RUC-21", "tombstone: 201, locked 423 ReplicaIsLocked, unknown 404 ReplicaNotFound", SRC_API, Strength::Must, ruc_21, &RUC_21),
    ]
}

check_fn!(ruc_1, check_ruc_1);
check_fn!(ruc_2, check_ruc_2);
check_fn!(ruc_3, check_ruc_3);
check_fn!(ruc_4, check_ruc_4);
check_fn!(ruc_5, check_ruc_5);
check_fn!(ruc_6, check_ruc_6);
check_fn!(ruc_7, check_ruc_7);
check_fn!(ruc_13, check_ruc_13);
check_fn!(ruc_14, check_ruc_14);
check_fn!(ruc_15, check_ruc_15);
check_fn!(ruc_16, check_ruc_16);
check_fn!(ruc_21, check_ruc_21);

async fn check_ruc_1(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let root = login(ctx, api::ROOT).await?;
    let n = api::name(ctx, "f");
    let added = add(ctx, &root, "EAST", json!([file(&n)])).await?;
    c.check(
        "post-201",
        added.status == 201 && &added.body[..] == b"Created",
        "201 Created",
        format!("POST /replicas answered {}", answer(&added)),
    )?;
    let put = put_state(ctx, &root, "EAST", &n, "A").await?;
    c.check(
        "put-200-empty",
        put.status == 200 && put.body.is_empty(),
        "200, empty body",
        format!("PUT /replicas answered {}", answer(&put)),
    )?;
    let body = json!({"rse": "EAST", "files": [{"scope": api::SCOPE, "name": n}]});
    let deleted = call(ctx, Some(&root), "DELETE", "/replicas", Some(&body), &[]).await?;
    c.check(
        "delete-401",
        refused(&deleted, 401, "AccessDenied"),
        "401 AccessDenied for root",
        format!("DELETE /replicas as root answered {}", answer(&deleted)),
    )
}

async fn check_ruc_2(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let root = login(ctx, api::ROOT).await?;
    let long = "R".repeat(200);
    let refusal = add(ctx, &root, &long, json!([file(&api::name(ctx, "f"))])).await?;
    let body = api::json(&refusal)?;
    let in_body = body.get("ExceptionClass").and_then(Value::as_str);
    c.check(
        "class-body-and-header",
        refusal.status >= 400
            && in_body.is_some()
            && in_body == api::class(&refusal)
            && refusal.header("Content-Type") == Some("application/octet-stream"),
        format!("{} {:?} in body and header", refusal.status, in_body),
        format!("an unknown RSE answered {}", answer(&refusal)),
    )?;
    let header = refusal.header("ExceptionMessage").unwrap_or_default();
    let full = body
        .get("ExceptionMessage")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let cut = format!("{}...", full.chars().take(125).collect::<String>());
    c.check(
        "message-header-cut",
        full.len() > 128
            && header.chars().count() <= 128
            && !header.contains('\n')
            && header == cut,
        format!(
            "{} of {} characters in the header",
            header.len(),
            full.len()
        ),
        format!("body message of {} chars, header {header:?}", full.len()),
    )?;
    let none = call(
        ctx,
        None,
        "GET",
        &format!("/replicas/{}/x", api::SCOPE),
        None,
        &[],
    )
    .await?;
    let wrong = call(
        ctx,
        Some("root-root-unknown-00000000000000000000000000000000"),
        "GET",
        &format!("/replicas/{}/x", api::SCOPE),
        None,
        &[],
    )
    .await?;
    c.check(
        "missing-token-400",
        refused(&none, 400, "ValueError") && refused(&wrong, 401, "CannotAuthenticate"),
        "no token 400 ValueError, wrong token 401 CannotAuthenticate",
        format!(
            "no token: {}; wrong token: {}",
            answer(&none),
            answer(&wrong)
        ),
    )
}

async fn check_ruc_3(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let root = login(ctx, api::ROOT).await?;
    let harness = login(ctx, api::HARNESS).await?;
    let volatile = add(ctx, &root, "VOLATILE", json!([file(&api::name(ctx, "v"))])).await?;
    c.check(
        "volatile-500",
        refused(&volatile, 500, "UnsupportedOperation"),
        "500 UnsupportedOperation",
        format!("adding to VOLATILE answered {}", answer(&volatile)),
    )?;
    let down = add(ctx, &harness, "DOWN", json!([file(&api::name(ctx, "d"))])).await?;
    c.check(
        "write-unavailable-503",
        refused(&down, 503, "ResourceTemporaryUnavailable"),
        "503 ResourceTemporaryUnavailable",
        format!("adding to DOWN answered {}", answer(&down)),
    )
}

async fn check_ruc_4(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let root = login(ctx, api::ROOT).await?;
    let nondet = add(ctx, &root, "NONDET", json!([file(&api::name(ctx, "n"))])).await?;
    c.check(
        "nondet-needs-pfn",
        refused(&nondet, 500, "UnsupportedOperation"),
        "500 UnsupportedOperation",
        format!("adding to NONDET without pfn answered {}", answer(&nondet)),
    )?;
    let mut wrong = file(&api::name(ctx, "w"));
    wrong["pfn"] = json!(api::pfn("EAST", &api::name(ctx, "elsewhere")));
    let refusal = add(ctx, &root, "EAST", json!([wrong])).await?;
    c.check(
        "wrong-pfn-400",
        refused(&refusal, 400, "InvalidPath"),
        "400 InvalidPath",
        format!("a foreign pfn answered {}", answer(&refusal)),
    )
}

async fn check_ruc_5(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let root = login(ctx, api::ROOT).await?;
    let mut stranger = file(&api::name(ctx, "s"));
    // Never created by the bootstrap; short, since the server validates scopes (at most
    // 25 characters) before looking them up.
    stranger["scope"] = json!("nosuchscope");
    let refusal = add(ctx, &root, "EAST", json!([stranger])).await?;
    c.check(
        "unknown-scope-404",
        refused(&refusal, 404, "ScopeNotFound"),
        "404 ScopeNotFound",
        format!("an unknown scope answered {}", answer(&refusal)),
    )?;
    let n = api::name(ctx, "f");
    add_one(ctx, &root, "EAST", &n).await?;
    let got = call(
        ctx,
        Some(&root),
        "GET",
        &format!("/replicas/{}/{n}", api::SCOPE),
        None,
        &[],
    )
    .await?;
    let items = api::stream(&got)?;
    c.check(
        "did-created",
        got.status == 200 && items.len() == 1 && items[0]["name"] == json!(n),
        "the new file lists",
        format!("GET /replicas/test/{n} answered {} {items:?}", got.status),
    )
}

async fn check_ruc_6(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let root = login(ctx, api::ROOT).await?;
    let n = api::name(ctx, "f");
    add_one(ctx, &root, "EAST", &n).await?;
    let mut bigger = file(&n);
    bigger["bytes"] = json!(5);
    let again = add(ctx, &root, "EAST", json!([bigger])).await?;
    let items = api::list(ctx, &root, &n, json!({})).await?;
    let bytes: Vec<&Value> = items.iter().map(|i| &i["bytes"]).collect();
    c.check(
        "readd-silent",
        again.status == 201 && bytes == vec![&json!(3)],
        "201 again, bytes 3 kept",
        format!("re-add answered {}; listed bytes {bytes:?}", answer(&again)),
    )
}

async fn check_ruc_7(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let root = login(ctx, api::ROOT).await?;
    let plain = api::name(ctx, "a");
    add_one(ctx, &root, "EAST", &plain).await?;
    let s = states(ctx, &root, &plain).await?;
    c.check(
        "default-available",
        s.get("EAST").map(String::as_str) == Some("AVAILABLE"),
        "AVAILABLE",
        format!("states {s:?}"),
    )?;
    let copying = api::name(ctx, "c");
    let mut f = file(&copying);
    f["state"] = json!("C");
    let added = add(ctx, &root, "EAST", json!([f])).await?;
    api::expect(&added, 201, "POST /replicas with state C")?;
    let s = states(ctx, &root, &copying).await?;
    c.check(
        "state-honoured",
        s.get("EAST").map(String::as_str) == Some("COPYING"),
        "COPYING",
        format!("states {s:?}"),
    )
}

async fn check_ruc_13(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let root = login(ctx, api::ROOT).await?;
    let unknown = put_state(ctx, &root, "EAST", &api::name(ctx, "never"), "A").await?;
    c.check(
        "unknown-replica-500",
        refused(&unknown, 500, "ReplicaNotFound"),
        "500 ReplicaNotFound",
        format!("PUT of a missing replica answered {}", answer(&unknown)),
    )?;
    let n = api::name(ctx, "c");
    let mut f = file(&n);
    f["state"] = json!("C");
    api::expect(
        &add(ctx, &root, "EAST", json!([f])).await?,
        201,
        "POST /replicas state C",
    )?;
    let put = put_state(ctx, &root, "EAST", &n, "T").await?;
    let s = states(ctx, &root, &n).await?;
    c.check(
        "copying-to-tu",
        put.status == 200 && s.get("EAST").map(String::as_str) == Some("TEMPORARY_UNAVAILABLE"),
        "200, TEMPORARY_UNAVAILABLE",
        format!("PUT T answered {}; states {s:?}", answer(&put)),
    )
}

async fn check_ruc_14(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let root = login(ctx, api::ROOT).await?;
    let n = api::name(ctx, "b");
    add_one(ctx, &root, "EAST", &n).await?;
    let declared = api::declare_bad(ctx, &root, &[api::pfn("EAST", &n)]).await?;
    api::expect(&declared, 201, "POST /replicas/bad")?;
    let put = put_state(ctx, &root, "EAST", &n, "A").await?;
    let s = states(ctx, &root, &n).await?;
    c.check(
        "bad-to-available",
        put.status == 200 && s.get("EAST").map(String::as_str) == Some("AVAILABLE"),
        "BAD -> AVAILABLE",
        format!("PUT A answered {}; states {s:?}", answer(&put)),
    )
}

async fn check_ruc_15(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let root = login(ctx, api::ROOT).await?;
    let files = json!([{"scope": api::SCOPE, "name": api::name(ctx, "never")}]);
    let body = json!({"rse": format!("{}-NORSE", ctx.bucket.to_ascii_uppercase()), "files": files});
    let no_rse = call(ctx, Some(&root), "DELETE", "/replicas", Some(&body), &[]).await?;
    c.check(
        "unknown-rse-404",
        refused(&no_rse, 404, "RSENotFound"),
        "404 RSENotFound",
        format!("DELETE on an unknown RSE answered {}", answer(&no_rse)),
    )?;
    let body = json!({"rse": "EAST", "files": files});
    let no_replica = call(ctx, Some(&root), "DELETE", "/replicas", Some(&body), &[]).await?;
    c.check(
        "permission-first",
        refused(&no_replica, 401, "AccessDenied"),
        "401 AccessDenied before the replica lookup",
        format!(
            "DELETE of a missing replica answered {}",
            answer(&no_replica)
        ),
    )
}

async fn check_ruc_16(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let root = login(ctx, api::ROOT).await?;
    let nobody = login(ctx, api::NOBODY).await?;
    let n = api::name(ctx, "f");
    add_one(ctx, &root, "EAST", &n).await?;
    let body = json!({"rse": "EAST", "files": [{"scope": api::SCOPE, "name": n}]});
    let denied = call(ctx, Some(&nobody), "DELETE", "/replicas", Some(&body), &[]).await?;
    c.check(
        "nobody-401",
        refused(&denied, 401, "AccessDenied"),
        "401 AccessDenied",
        format!("DELETE as nobody answered {}", answer(&denied)),
    )?;
    let s = states(ctx, &root, &n).await?;
    c.check(
        "replica-remains",
        s.get("EAST").map(String::as_str) == Some("AVAILABLE"),
        "still AVAILABLE",
        format!("states after the refused DELETE: {s:?}"),
    )
}

async fn check_ruc_21(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let root = login(ctx, api::ROOT).await?;
    let tomb =
        |name: String| json!({"replicas": [{"rse": "EAST", "scope": api::SCOPE, "name": name}]});
    let free = api::name(ctx, "free");
    add_one(ctx, &root, "EAST", &free).await?;
    let ok = call(
        ctx,
        Some(&root),
        "POST",
        "/replicas/tombstone",
        Some(&tomb(free)),
        &[],
    )
    .await?;
    c.check(
        "tombstone-201",
        ok.status == 201,
        "201",
        format!("tombstone answered {}", answer(&ok)),
    )?;
    let locked = api::name(ctx, "locked");
    add_one(ctx, &root, "EAST", &locked).await?;
    let limit = call(
        ctx,
        Some(&root),
        "POST",
        "/accountlimits/local/root/EAST",
        Some(&json!({"bytes": 1_000_000_000_000u64})),
        &[],
    )
    .await?;
    api::expect(&limit, 201, "POST /accountlimits/local/root/EAST")?;
    let rule_body = json!({
        "dids": [{"scope": api::SCOPE, "name": locked}], "account": "root", "copies": 1,
        "rse_expression": "EAST", "grouping": "NONE", "weight": null, "lifetime": null,
        "locked": false, "subscription_id": null});
    let made = call(ctx, Some(&root), "POST", "/rules/", Some(&rule_body), &[]).await?;
    api::expect(&made, 201, "POST /rules/ (a rule that locks the replica)")?;
    let refused_lock = call(
        ctx,
        Some(&root),
        "POST",
        "/replicas/tombstone",
        Some(&tomb(locked)),
        &[],
    )
    .await?;
    c.check(
        "locked-423",
        refused(&refused_lock, 423, "ReplicaIsLocked"),
        "423 ReplicaIsLocked",
        format!(
            "tombstone of a locked replica answered {}",
            answer(&refused_lock)
        ),
    )?;
    let unknown = call(
        ctx,
        Some(&root),
        "POST",
        "/replicas/tombstone",
        Some(&tomb(api::name(ctx, "never"))),
        &[],
    )
    .await?;
    c.check(
        "unknown-404",
        refused(&unknown, 404, "ReplicaNotFound"),
        "404 ReplicaNotFound",
        format!(
            "tombstone of a missing replica answered {}",
            answer(&unknown)
        ),
    )
}
