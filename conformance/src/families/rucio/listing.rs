//! Reading replicas: POST /replicas/list and GET `/replicas/<scope>/<name>` (RUC-8..12,
//! RUC-22, RUC-23), with the rule texts Rucio 41.5.1's answers correct (docs/rucio.md).

use serde_json::{json, Value};

use super::api::{self, add, add_one, answer, call, file, login, refused, rses_of};
use super::{rule, SRC_API, SRC_SERVER};
use crate::catalog::{Rule, Strength};
use crate::check_fn;
use crate::clause::{doc, ClauseSpec};
use crate::target::Ctx;
use crate::verdict::Verdict;

const RUC_8: [ClauseSpec; 3] = [
    doc(
        "available-only",
        "by default a list shows only AVAILABLE replicas",
        SRC_API,
    ),
    doc(
        "all-states",
        "`all_states=true` shows every replica with its state in `states`",
        SRC_API,
    ),
    doc(
        "unavailable-adds-copying",
        "`unavailable=true` shows COPYING replicas too",
        SRC_API,
    ),
];
const RUC_9: [ClauseSpec; 1] = [doc(
    "hidden-file-one-item",
    "a file whose replicas are all hidden still yields one item with empty `pfns` and `rses` (corrected: a file DID without replicas cannot be made over REST)",
    SRC_SERVER,
)];
const RUC_10: [ClauseSpec; 3] = [
    doc(
        "list-hides-unreadable",
        "POST /replicas/list without `ignore_availability` hides replicas on read-unavailable RSEs (corrected: the spec lists them by default)",
        SRC_SERVER,
    ),
    doc("list-ignore-true", "`ignore_availability=true` lists them", SRC_API),
    doc("get-lists-unreadable", "GET /replicas/<scope>/<name> lists them", SRC_SERVER),
];
const RUC_11: [ClauseSpec; 2] = [
    doc("priorities-1-based", "PFN priorities are 1..n, each once", SRC_API),
    doc(
        "one-pfn-per-rse",
        "by default each RSE lists one PFN, its top-priority (https) one (corrected: not every protocol)",
        SRC_SERVER,
    ),
];
const RUC_12: [ClauseSpec; 3] = [
    doc(
        "unsupported-406",
        "an unsupported Accept is 406 UnsupportedRequestedContentType",
        SRC_API,
    ),
    doc(
        "default-stream",
        "without Accept a list is application/x-json-stream, one document per line",
        SRC_API,
    ),
    doc(
        "metalink",
        "Accept application/metalink4+xml gives a metalink document",
        SRC_API,
    ),
];
const RUC_22: [ClauseSpec; 2] = [
    doc(
        "post-unknown-200",
        "POST /replicas/list of an unknown DID is 200 with an empty body (corrected: not 400)",
        SRC_SERVER,
    ),
    doc(
        "get-unknown-200",
        "GET /replicas/<scope>/<name> of an unknown DID is 200 with an empty body (corrected: not 404)",
        SRC_SERVER,
    ),
];
const RUC_23: [ClauseSpec; 1] = [doc(
    "empty-200",
    "an empty result (`{\"dids\": []}`) is 200 with an empty body, not 404",
    SRC_API,
)];

const RUC_25: [ClauseSpec; 2] = [
    doc(
        "maps-pfn",
        "POST /replicas/dids of a replica's PFN on its RSE streams `{pfn: {scope, name}}`",
        SRC_API,
    ),
    doc(
        "rse-required",
        "without `rse` it is 400 KeyError (the client documents it as optional)",
        SRC_SERVER,
    ),
];

/// The listing rules.
pub fn rules() -> Vec<Rule> {
    vec![
        rule("RUC-8", "lists show AVAILABLE replicas; all_states shows every state (`states` is always present, corrected); unavailable adds COPYING", SRC_SERVER, Strength::Must, ruc_8, &RUC_8),
        rule("RUC-9", "a file whose replicas are all hidden yields one item with empty pfns and rses (corrected)", SRC_SERVER, Strength::Must, ruc_9, &RUC_9),
        rule("RUC-10", "POST /replicas/list hides read-unavailable RSEs unless ignore_availability=true; GET lists them (corrected)", SRC_SERVER, Strength::Must, ruc_10, &RUC_10),
        rule("RUC-11", "PFN priorities are 1-based; by default one PFN per RSE and domain (corrected)", SRC_SERVER, Strength::Must, ruc_11, &RUC_11),
        rule("RUC-12", "unsupported Accept is 406 on list routes; default JSON stream; metalink on request", SRC_API, Strength::Must, ruc_12, &RUC_12),
        rule("RUC-22", "an unknown DID lists as 200 empty on POST and GET (corrected: not 400/404)", SRC_SERVER, Strength::Must, ruc_22, &RUC_22),
        rule("RUC-23", "an empty list result is 200 with an empty body", SRC_API, Strength::Must, ruc_23, &RUC_23),
        rule("RUC-25", "POST /replicas/dids maps PFNs back to DIDs on the named RSE, which is required (added: observed on Rucio 41.5.1)", SRC_SERVER, Strength::Must, ruc_25, &RUC_25),
    ]
}

check_fn!(ruc_8, check_ruc_8);
check_fn!(ruc_9, check_ruc_9);
check_fn!(ruc_10, check_ruc_10);
check_fn!(ruc_11, check_ruc_11);
check_fn!(ruc_12, check_ruc_12);
check_fn!(ruc_22, check_ruc_22);
check_fn!(ruc_23, check_ruc_23);
check_fn!(ruc_25, check_ruc_25);

/// Adds `name` on `rse` in state COPYING.
async fn add_copying(ctx: &Ctx, token: &str, rse: &str, name: &str) -> Result<(), Verdict> {
    let mut f = file(name);
    f["state"] = json!("C");
    let resp = add(ctx, token, rse, json!([f])).await?;
    api::expect(&resp, 201, &format!("POST /replicas of {name} in state C"))
}

fn one_item_rses(items: &[Value]) -> Option<Vec<String>> {
    (items.len() == 1).then(|| rses_of(&items[0]))
}

async fn check_ruc_8(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let root = login(ctx, api::ROOT).await?;
    let n = api::name(ctx, "c");
    add_copying(ctx, &root, "EAST", &n).await?;
    let default = api::list(ctx, &root, &n, json!({})).await?;
    c.check(
        "available-only",
        one_item_rses(&default) == Some(vec![]),
        "the COPYING replica is not listed",
        format!("default list: {default:?}"),
    )?;
    let all = api::list(ctx, &root, &n, json!({"all_states": true})).await?;
    let state = all.first().map(|i| i["states"]["EAST"].clone());
    c.check(
        "all-states",
        one_item_rses(&all) == Some(vec!["EAST".into()]) && state == Some(json!("COPYING")),
        "listed with state COPYING",
        format!("all_states list: {all:?}"),
    )?;
    let unavailable = api::list(ctx, &root, &n, json!({"unavailable": true})).await?;
    c.check(
        "unavailable-adds-copying",
        one_item_rses(&unavailable) == Some(vec!["EAST".into()]),
        "listed",
        format!("unavailable list: {unavailable:?}"),
    )
}

async fn check_ruc_9(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let root = login(ctx, api::ROOT).await?;
    let n = api::name(ctx, "c");
    add_copying(ctx, &root, "EAST", &n).await?;
    let items = api::list(ctx, &root, &n, json!({})).await?;
    let empty = |item: &Value, key: &str| item[key].as_object().is_some_and(|m| m.is_empty());
    c.check(
        "hidden-file-one-item",
        items.len() == 1
            && items[0]["name"] == json!(n)
            && empty(&items[0], "pfns")
            && empty(&items[0], "rses"),
        "one item, empty pfns and rses",
        format!("list: {items:?}"),
    )
}

async fn check_ruc_10(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let root = login(ctx, api::ROOT).await?;
    let n = api::name(ctx, "r");
    add_one(ctx, &root, "NOREAD", &n).await?;
    let default = api::list(ctx, &root, &n, json!({})).await?;
    c.record(
        "list-hides-unreadable",
        one_item_rses(&default) == Some(vec![]),
        "hidden without ignore_availability",
        format!("default list: {default:?}"),
    );
    let ignored = api::list(ctx, &root, &n, json!({"ignore_availability": true})).await?;
    c.record(
        "list-ignore-true",
        one_item_rses(&ignored) == Some(vec!["NOREAD".into()]),
        "listed with ignore_availability=true",
        format!("ignore_availability list: {ignored:?}"),
    );
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
    c.record(
        "get-lists-unreadable",
        one_item_rses(&items) == Some(vec!["NOREAD".into()]),
        "GET lists it",
        format!("GET answered {} {items:?}", got.status),
    );
    Ok(())
}

async fn check_ruc_11(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let root = login(ctx, api::ROOT).await?;
    let n = api::name(ctx, "f");
    add_one(ctx, &root, "EAST", &n).await?;
    add_one(ctx, &root, "WEST", &n).await?;
    let items = api::list(ctx, &root, &n, json!({})).await?;
    let item = items.first().cloned().unwrap_or(Value::Null);
    let mut priorities: Vec<u64> = item["pfns"]
        .as_object()
        .map(|m| m.values().filter_map(|p| p["priority"].as_u64()).collect())
        .unwrap_or_default();
    priorities.sort_unstable();
    let count = item["pfns"].as_object().map_or(0, |m| m.len()) as u64;
    c.check(
        "priorities-1-based",
        count > 0 && priorities == (1..=count).collect::<Vec<_>>(),
        format!("priorities {priorities:?}"),
        format!("priorities {priorities:?} of {count} PFNs: {item}"),
    )?;
    let want = json!({"EAST": [api::pfn("EAST", &n)], "WEST": [api::pfn("WEST", &n)]});
    c.check(
        "one-pfn-per-rse",
        item["rses"] == want && count == 2,
        "one https PFN per RSE",
        format!("rses {}, {count} PFNs", item["rses"]),
    )
}

async fn check_ruc_12(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let root = login(ctx, api::ROOT).await?;
    let n = api::name(ctx, "f");
    add_one(ctx, &root, "EAST", &n).await?;
    let path = format!("/replicas/{}/{n}", api::SCOPE);
    let html = call(
        ctx,
        Some(&root),
        "GET",
        &path,
        None,
        &[("Accept", "text/html")],
    )
    .await?;
    c.record(
        "unsupported-406",
        refused(&html, 406, "UnsupportedRequestedContentType"),
        "406 UnsupportedRequestedContentType",
        format!("Accept text/html answered {}", answer(&html)),
    );
    let plain = call(ctx, Some(&root), "GET", &path, None, &[]).await?;
    let lines = String::from_utf8_lossy(&plain.body).to_string();
    c.record(
        "default-stream",
        plain.status == 200
            && plain.header("Content-Type") == Some(api::STREAM)
            && lines.ends_with('\n')
            && lines.lines().count() == 1,
        "200 application/x-json-stream, one line",
        format!(
            "no Accept answered {} {:?} {lines:?}",
            plain.status,
            plain.header("Content-Type")
        ),
    );
    let meta = call(
        ctx,
        Some(&root),
        "GET",
        &path,
        None,
        &[("Accept", "application/metalink4+xml")],
    )
    .await?;
    let text = String::from_utf8_lossy(&meta.body).to_string();
    c.record(
        "metalink",
        meta.status == 200
            && meta.header("Content-Type") == Some("application/metalink4+xml")
            && text.contains("<metalink")
            && text.contains(&api::pfn("EAST", &n)),
        "a metalink naming the PFN",
        format!(
            "metalink answered {} {:?} {}",
            meta.status,
            meta.header("Content-Type"),
            api::preview(&meta)
        ),
    );
    Ok(())
}

async fn check_ruc_22(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let root = login(ctx, api::ROOT).await?;
    let n = api::name(ctx, "never");
    let body = json!({"dids": [{"scope": api::SCOPE, "name": n}]});
    let posted = call(ctx, Some(&root), "POST", "/replicas/list", Some(&body), &[]).await?;
    c.record(
        "post-unknown-200",
        posted.status == 200 && posted.body.is_empty(),
        "200, empty",
        format!(
            "POST /replicas/list of an unknown DID answered {}",
            answer(&posted)
        ),
    );
    let got = call(
        ctx,
        Some(&root),
        "GET",
        &format!("/replicas/{}/{n}", api::SCOPE),
        None,
        &[],
    )
    .await?;
    c.record(
        "get-unknown-200",
        got.status == 200 && got.body.is_empty(),
        "200, empty",
        format!("GET of an unknown DID answered {}", answer(&got)),
    );
    Ok(())
}

async fn check_ruc_23(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let root = login(ctx, api::ROOT).await?;
    let empty = call(
        ctx,
        Some(&root),
        "POST",
        "/replicas/list",
        Some(&json!({"dids": []})),
        &[],
    )
    .await?;
    c.check(
        "empty-200",
        empty.status == 200 && empty.body.is_empty(),
        "200, empty body",
        format!(
            "POST /replicas/list {{\"dids\": []}} answered {}",
            answer(&empty)
        ),
    )
}

async fn check_ruc_25(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let root = login(ctx, api::ROOT).await?;
    let n = api::name(ctx, "f");
    add_one(ctx, &root, "EAST", &n).await?;
    let pfn = api::pfn("EAST", &n);
    let body = json!({"pfns": [pfn], "rse": "EAST"});
    let mapped = call(ctx, Some(&root), "POST", "/replicas/dids", Some(&body), &[]).await?;
    let items = api::stream(&mapped)?;
    let want = json!({pfn.clone(): {"scope": api::SCOPE, "name": n}});
    c.check(
        "maps-pfn",
        mapped.status == 200 && items == vec![want.clone()],
        format!("{want}"),
        format!("POST /replicas/dids answered {} {items:?}", mapped.status),
    )?;
    let body = json!({"pfns": [pfn]});
    let no_rse = call(ctx, Some(&root), "POST", "/replicas/dids", Some(&body), &[]).await?;
    c.check(
        "rse-required",
        refused(&no_rse, 400, "KeyError"),
        "400 KeyError",
        format!("without rse: {}", answer(&no_rse)),
    )
}
