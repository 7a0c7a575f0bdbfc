//! How the rucio family's checks speak to a catalog: userpass login, JSON requests with the
//! token, and readings of the answers (ExceptionClass, JSON streams, replica states).
//!
//! The checks assume the identities of tools/rucio/bootstrap.py (accounts `root`, `harness`,
//! `nobody`; scope `test`; RSEs EAST, WEST, DOWN, NODELETE, NOREAD, VOLATILE, NONDET with
//! the deterministic `https://<rse>.replisim.test:443/rucio/<scope>/<name>` PFNs), which both
//! the real server (tools/rucio/setup.sh) and the reference (`replisim serve --rucio`) have.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::Value;

use crate::client::{Request, Response};
use crate::target::Ctx;
use crate::verdict::Verdict;

/// An account of the bootstrap: (account, username, password).
pub type Who = (&'static str, &'static str, &'static str);
/// The superuser.
pub const ROOT: Who = ("root", "root", "secret");
/// An account with the `admin` attribute.
pub const HARNESS: Who = ("harness", "harness", "harness-secret");
/// An account without rights.
pub const NOBODY: Who = ("nobody", "nobody", "nobody-secret");
/// The scope every check writes in.
pub const SCOPE: &str = "test";
/// The JSON stream type of lists.
pub const STREAM: &str = "application/x-json-stream";

/// A file name no other rule or run uses: the rule's namespace plus `suffix`.
pub fn name(ctx: &Ctx, suffix: &str) -> String {
    format!("{}-{suffix}", ctx.bucket)
}

/// The deterministic https PFN of `name` on `rse`.
pub fn pfn(rse: &str, name: &str) -> String {
    format!(
        "https://{}.replisim.test:443/rucio/{SCOPE}/{name}",
        rse.to_ascii_lowercase()
    )
}

/// A userpass token for `who`.
pub async fn login(ctx: &Ctx, who: Who) -> Result<String, Verdict> {
    let (account, user, password) = who;
    let req = Request::new("GET", "/auth/userpass")
        .header("X-Rucio-Account", account)
        .header("X-Rucio-Username", user)
        .header("X-Rucio-Password", password);
    let resp = ctx.request(0, &req).await?.response;
    match resp.header("X-Rucio-Auth-Token") {
        Some(t) if resp.status == 200 => Ok(t.to_string()),
        _ => Err(Verdict::fail(format!(
            "could not log in as {account} (userpass answered {}); the target must be \
             bootstrapped like tools/rucio/bootstrap.py",
            resp.status
        ))),
    }
}

/// One request: `token` (if any) as X-Rucio-Auth-Token, `body` as JSON, extra headers.
pub async fn call(
    ctx: &Ctx,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> Result<Response, Verdict> {
    let mut req = Request::new(method, path);
    if let Some(t) = token {
        req = req.header("X-Rucio-Auth-Token", t);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req
            .header("Content-Type", "application/json")
            .body(Bytes::from(b.to_string()));
    }
    Ok(ctx.request(0, &req).await?.response)
}

/// Adds replicas of `files` (JSON file dicts) on `rse` as `token`'s account.
pub async fn add(ctx: &Ctx, token: &str, rse: &str, files: Value) -> Result<Response, Verdict> {
    let body = serde_json::json!({"rse": rse, "files": files});
    call(ctx, Some(token), "POST", "/replicas", Some(&body), &[]).await
}

/// A file dict of `name` in the scope with 3 bytes.
pub fn file(name: &str) -> Value {
    serde_json::json!({"scope": SCOPE, "name": name, "bytes": 3, "adler32": "024d0127"})
}

/// Adds one 3-byte file on `rse`; a failure unless it answers 201.
pub async fn add_one(ctx: &Ctx, token: &str, rse: &str, name: &str) -> Result<(), Verdict> {
    let resp = add(ctx, token, rse, Value::Array(vec![file(name)])).await?;
    expect(&resp, 201, &format!("POST /replicas of {name} on {rse}"))
}

/// Sets the state letter of `name` on `rse` (PUT /replicas).
pub async fn put_state(
    ctx: &Ctx,
    token: &str,
    rse: &str,
    name: &str,
    state: &str,
) -> Result<Response, Verdict> {
    let body =
        serde_json::json!({"rse": rse, "files": [{"scope": SCOPE, "name": name, "state": state}]});
    call(ctx, Some(token), "PUT", "/replicas", Some(&body), &[]).await
}

/// A failure naming `what` unless `resp` has `status`.
pub fn expect(resp: &Response, status: u16, what: &str) -> Result<(), Verdict> {
    if resp.status == status {
        Ok(())
    } else {
        Err(Verdict::fail(format!(
            "{what}: expected {status}, got {} {}",
            resp.status,
            preview(resp)
        )))
    }
}

/// The first 200 characters of a body, for evidence.
pub fn preview(resp: &Response) -> String {
    String::from_utf8_lossy(&resp.body)
        .chars()
        .take(200)
        .collect()
}

/// The `ExceptionClass` header.
pub fn class(resp: &Response) -> Option<&str> {
    resp.header("ExceptionClass")
}

/// Whether `resp` is `status` with ExceptionClass `class` in its header.
pub fn refused(resp: &Response, status: u16, want: &str) -> bool {
    resp.status == status && class(resp) == Some(want)
}

/// How a refusal looked, for evidence.
pub fn answer(resp: &Response) -> String {
    format!(
        "{} {} {}",
        resp.status,
        class(resp).unwrap_or("(no ExceptionClass)"),
        preview(resp)
    )
}

/// The documents of a JSON stream body (one per line).
pub fn stream(resp: &Response) -> Result<Vec<Value>, Verdict> {
    String::from_utf8_lossy(&resp.body)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l)
                .map_err(|e| Verdict::fail(format!("a stream line is not JSON ({e}): {l}")))
        })
        .collect()
}

/// POST /replicas/list of one file of the scope with extra keys; the items.
pub async fn list(ctx: &Ctx, token: &str, name: &str, extra: Value) -> Result<Vec<Value>, Verdict> {
    let mut body = serde_json::json!({"dids": [{"scope": SCOPE, "name": name}]});
    if let (Some(b), Value::Object(more)) = (body.as_object_mut(), extra) {
        b.extend(more);
    }
    let resp = call(ctx, Some(token), "POST", "/replicas/list", Some(&body), &[]).await?;
    expect(&resp, 200, "POST /replicas/list")?;
    stream(&resp)
}

/// The replica states of `name` by RSE (`all_states=true`); empty when not listed.
pub async fn states(
    ctx: &Ctx,
    token: &str,
    name: &str,
) -> Result<BTreeMap<String, String>, Verdict> {
    let items = list(ctx, token, name, serde_json::json!({"all_states": true})).await?;
    let mut out = BTreeMap::new();
    for item in items {
        if let Some(states) = item.get("states").and_then(Value::as_object) {
            for (rse, s) in states {
                out.insert(rse.clone(), s.as_str().unwrap_or_default().to_string());
            }
        }
    }
    Ok(out)
}

/// The RSEs an item lists the file on (its `rses` keys).
pub fn rses_of(item: &Value) -> Vec<String> {
    item.get("rses")
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// Declares PFNs bad (POST /replicas/bad) as `token`'s account.
pub async fn declare_bad(ctx: &Ctx, token: &str, pfns: &[String]) -> Result<Response, Verdict> {
    let body = serde_json::json!({"replicas": pfns, "reason": "replisim check"});
    call(ctx, Some(token), "POST", "/replicas/bad", Some(&body), &[]).await
}

/// The JSON body of an answer.
pub fn json(resp: &Response) -> Result<Value, Verdict> {
    serde_json::from_slice(&resp.body)
        .map_err(|e| Verdict::fail(format!("body is not JSON ({e}): {}", preview(resp))))
}
