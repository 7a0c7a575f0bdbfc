//! The REST layer: routes, content negotiation, JSON bodies and the wire form of answers
//! and refusals, as the real server produces them (tools/rucio/calibration.json). The
//! pure [`dispatch`] does the work on a catalog; [`handle`] adapts hyper to it.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::SystemTime;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use serde_json::{Map, Value};

use crate::rt;
use crate::rucio::bad::BadTargets;
use crate::rucio::catalog::{Catalog, Did, NewFile};
use crate::rucio::error::{header_message, py_repr, Failure};
use crate::rucio::listing::{json_stream, metalink, Endpoint, ListQuery};
use crate::rucio::state::{self, BadPfnState, ReplicaState};

/// JSON stream: one document per line.
pub const STREAM: &str = "application/x-json-stream";
/// Metalink 4.
pub const METALINK: &str = "application/metalink4+xml";
/// Plain JSON.
pub const JSON: &str = "application/json";
/// What the server labels `Created`, PUT's empty 200 and uncaught exceptions with.
pub const HTML: &str = "text/html; charset=utf-8";
/// What errors and the auth answer are labelled with.
pub const OCTET: &str = "application/octet-stream";
/// The server version the reference answers as (`GET /ping`).
pub const VERSION: &str = "41.5.1";
/// Request bodies larger than this are refused (413) before parsing.
pub const BODY_MAX: usize = 16 << 20;

/// A request, already collected.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    /// Method.
    pub method: &'a Method,
    /// Path without query.
    pub path: &'a str,
    /// Query string, if any.
    pub query: Option<&'a str>,
    /// Headers.
    pub headers: &'a http::HeaderMap,
    /// Body bytes.
    pub body: &'a [u8],
}

impl Call<'_> {
    /// A header as text.
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

/// An answer before it becomes a hyper response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Status.
    pub status: u16,
    /// Headers besides the defaults.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Bytes,
}

impl Reply {
    fn new(status: u16, content_type: &str, body: impl Into<Bytes>) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
        }
    }

    fn created() -> Self {
        Self::new(201, HTML, "Created")
    }

    /// The wire form of a refusal.
    pub fn failure(f: &Failure) -> Self {
        match f {
            Failure::Rucio {
                status,
                class,
                message,
            } => {
                let body =
                    serde_json::json!({"ExceptionClass": class, "ExceptionMessage": message});
                let mut r = Self::new(*status, OCTET, body.to_string());
                r.headers.push(("ExceptionClass".into(), (*class).into()));
                r.headers
                    .push(("ExceptionMessage".into(), header_message(message)));
                r
            }
            Failure::Plain { text } => Self::new(500, HTML, text.clone()),
        }
    }
}

/// Serves one hyper request on the shared catalog, at the runtime's wall-clock time.
pub async fn handle(
    catalog: &Mutex<Catalog>,
    req: Request<hyper::body::Incoming>,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let target_len = parts.uri.path_and_query().map_or(0, |p| p.as_str().len());
    if target_len > crate::http::limits::URL_BYTES_MAX {
        return to_response(Reply::new(414, HTML, "<h1>Request-URI Too Long</h1>"));
    }
    let reply = match Limited::new(body, BODY_MAX).collect().await {
        Ok(collected) => {
            let bytes = collected.to_bytes();
            let call = Call {
                method: &parts.method,
                path: parts.uri.path(),
                query: parts.uri.query(),
                headers: &parts.headers,
                body: &bytes,
            };
            let mut guard = match catalog.lock() {
                Ok(g) => g,
                Err(poisoned) => poisoned.into_inner(),
            };
            dispatch(&mut guard, &call, rt::wall_now())
        }
        Err(e) => Reply::failure(&Failure::rucio(
            413,
            "RequestEntityTooLarge",
            format!("request body unreadable: {e}"),
        )),
    };
    to_response(reply)
}

fn to_response(reply: Reply) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(reply.body));
    *resp.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in reply.headers {
        // A message with bytes a header cannot carry keeps its body copy only.
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            resp.headers_mut().append(name, value);
        }
    }
    resp
}

/// Routes one request. Known routes other than `/auth/userpass` and `/ping` need a
/// valid token first; unknown ones are a plain 404.
pub fn dispatch(c: &mut Catalog, call: &Call<'_>, now: SystemTime) -> Reply {
    if c.defects.is_empty() {
        serve(c, call, now)
    } else {
        crate::rucio::defects::dispatch(c, call, now)
    }
}

/// What the calibrated catalog answers (the defects wrap this).
pub(crate) fn serve(c: &mut Catalog, call: &Call<'_>, now: SystemTime) -> Reply {
    match route(c, call, now) {
        Ok(r) => r,
        Err(f) => Reply::failure(&f),
    }
}

fn route(c: &mut Catalog, call: &Call<'_>, now: SystemTime) -> Result<Reply, Failure> {
    let path = call.path.trim_end_matches('/');
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let m = call.method;
    let known = matches!(
        (m.as_str(), segments.as_slice()),
        ("GET", ["auth", "userpass"])
            | ("GET", ["ping"])
            | ("GET", ["rses"])
            | ("GET", ["accounts", _])
            | ("POST" | "PUT" | "DELETE", ["replicas"])
            | ("POST", ["replicas", "list" | "dids" | "bad" | "tombstone"])
            | ("POST", ["replicas", "bad", "pfns"])
            | ("GET", ["replicas", _, _, ..])
            | ("POST", ["dids", _, _, ..])
            | ("POST", ["accountlimits", "local", _, _])
            | ("POST", ["rules"])
    );
    if !known {
        return Ok(Reply::new(404, HTML, NOT_FOUND_PAGE));
    }
    match segments.as_slice() {
        ["auth", "userpass"] => return auth(c, call, now),
        ["ping"] => {
            return Ok(Reply::new(
                200,
                JSON,
                serde_json::json!({"version": VERSION}).to_string(),
            ))
        }
        _ => {}
    }
    let token = call.header("X-Rucio-Auth-Token");
    let issuer = c.auth.account_of(token.as_deref(), now)?;
    match (m.as_str(), segments.as_slice()) {
        ("GET", ["rses"]) => Ok(list_rses(c)),
        ("GET", ["accounts", who]) => {
            // The real server redirects `whoami` (303) to the account; answering it
            // directly saves the client a round trip and shows the same document.
            let account = if *who == "whoami" {
                issuer.as_str()
            } else {
                who
            };
            if !c.auth.has_account(account) {
                return Err(Failure::rucio(
                    404,
                    "AccountNotFound",
                    format!("Account with ID '{account}' cannot be found"),
                ));
            }
            let kind = if account == "root" { "SERVICE" } else { "USER" };
            let doc = serde_json::json!({
                "account": account, "account_type": kind, "type": kind,
                "status": "ACTIVE", "email": "harness@replisim.test",
            });
            Ok(Reply::new(200, JSON, doc.to_string()))
        }
        ("POST", ["replicas"]) => atomically(c, |c| add(c, &issuer, call, now)),
        ("PUT", ["replicas"]) => atomically(c, |c| update(c, &issuer, call)),
        ("DELETE", ["replicas"]) => atomically(c, |c| delete(c, &issuer, call)),
        ("POST", ["replicas", "list"]) => list(c, call),
        ("POST", ["replicas", "dids"]) => dids(c, call),
        ("POST", ["replicas", "bad"]) => atomically(c, |c| bad(c, &issuer, call, now)),
        ("POST", ["replicas", "bad", "pfns"]) => bad_pfns(c, &issuer, call, now),
        ("POST", ["replicas", "tombstone"]) => atomically(c, |c| tombstone(c, &issuer, call)),
        ("GET", ["replicas", scope, name @ ..]) => get(c, call, scope, &name.join("/")),
        ("POST", ["dids", ..]) => {
            let body = json_body(call.body)?;
            match body.get("type").and_then(Value::as_str) {
                Some(t) if t.eq_ignore_ascii_case("FILE") => Err(Failure::rucio(
                    409,
                    "UnsupportedOperation",
                    "Only collection (dataset/container) can be registered.",
                )),
                _ => Err(Failure::rucio(
                    409,
                    "UnsupportedOperation",
                    "The reference catalog keeps file DIDs only; collections are not supported.",
                )),
            }
        }
        ("POST", ["accountlimits", "local", account, rse]) => {
            let body = json_body(call.body)?;
            let bytes = param(&body, "bytes")?
                .as_u64()
                .ok_or_else(|| Failure::plain("bytes must be an integer"))?;
            c.set_account_limit(&issuer, account, rse, bytes)?;
            Ok(Reply::created())
        }
        ("POST", ["rules"]) => rule(c, &issuer, call, now),
        _ => Ok(Reply::new(404, HTML, NOT_FOUND_PAGE)),
    }
}

/// werkzeug's 404 page, which the server's WSGI stack sends for unknown URLs.
const NOT_FOUND_PAGE: &str = "<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n<p>The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.</p>\n";

/// Runs a changing operation on a copy and keeps it only on success: the server's
/// operations are one database transaction each.
fn atomically<T>(
    c: &mut Catalog,
    op: impl FnOnce(&mut Catalog) -> Result<T, Failure>,
) -> Result<T, Failure> {
    let mut copy = c.clone();
    let value = op(&mut copy)?;
    *c = copy;
    Ok(value)
}

fn auth(c: &mut Catalog, call: &Call<'_>, now: SystemTime) -> Result<Reply, Failure> {
    let account = call.header("X-Rucio-Account");
    let username = call.header("X-Rucio-Username");
    let password = call.header("X-Rucio-Password");
    let login = c.auth.login(
        account.as_deref(),
        username.as_deref(),
        password.as_deref(),
        now,
    )?;
    let mut r = Reply::new(200, OCTET, Bytes::new());
    r.headers.push(("X-Rucio-Auth-Token".into(), login.token));
    r.headers.push((
        "X-Rucio-Auth-Token-Expires".into(),
        httpdate::fmt_http_date(login.expires),
    ));
    r.headers
        .push(("X-Rucio-Auth-Account".into(), login.account));
    Ok(r)
}

fn list_rses(c: &Catalog) -> Reply {
    let body: String = c
        .rses()
        .map(|r| {
            let doc = serde_json::json!({
                "id": r.id, "rse": r.name, "rse_type": "DISK",
                "deterministic": r.deterministic, "volatile": r.volatile,
                "availability_read": r.read, "availability_write": r.write,
                "availability_delete": r.delete,
            });
            format!("{doc}\n")
        })
        .collect();
    Reply::new(200, STREAM, body)
}

/// Content negotiation the way werkzeug's `best_match` does it: the supported type with
/// the highest client quality (then the most specific client entry) wins; no Accept
/// header picks the first supported type.
pub fn negotiate(
    accept: Option<&str>,
    supported: &[&'static str],
) -> Result<&'static str, Failure> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok(supported[0]);
    };
    let mut items: Vec<(String, f32)> = accept
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';');
            let mime = parts.next()?.trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|v| v.parse::<f32>().ok())
                })
                .next()
                .unwrap_or(1.0);
            (!mime.is_empty()).then_some((mime, q))
        })
        .collect();
    items.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut best: Option<(&'static str, f32, u8)> = None;
    for server in supported {
        let (stype, _) = server.split_once('/').unwrap_or((server, ""));
        for (client, q) in &items {
            let specificity = match client.as_str() {
                "*/*" => 0,
                c if c.ends_with("/*") => 1,
                _ => 2,
            };
            let matches = client == "*/*"
                || client == server
                || client.strip_suffix("/*").is_some_and(|t| t == stype);
            if !matches || *q <= 0.0 {
                continue;
            }
            if best.is_none_or(|(_, bq, bs)| *q > bq || (*q == bq && specificity > bs)) {
                best = Some((server, *q, specificity));
            }
        }
    }
    best.map(|(s, _, _)| s).ok_or_else(|| {
        let list: Vec<String> = supported.iter().map(|s| py_repr(s)).collect();
        Failure::rucio(
            406,
            "UnsupportedRequestedContentType",
            format!(
                "The requested content type {accept} is not supported. Use [{}].",
                list.join(", ")
            ),
        )
    })
}

/// The JSON dictionary of a body (the server's `json_parameters`).
pub fn json_body(body: &[u8]) -> Result<Map<String, Value>, Failure> {
    use crate::http::limits::{json_too_deep, JSON_DEPTH_MAX};
    if json_too_deep(body, JSON_DEPTH_MAX) {
        return Err(Failure::rucio(
            400,
            "ValueError",
            format!("cannot decode json parameter dictionary: nested deeper than {JSON_DEPTH_MAX} levels"),
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Failure::rucio(
            400,
            "TypeError",
            "body must be a json dictionary",
        )),
        Err(_) => Err(Failure::bad_json()),
    }
}

/// A required key (the server's `param_get`).
fn param<'a>(body: &'a Map<String, Value>, key: &str) -> Result<&'a Value, Failure> {
    body.get(key).ok_or_else(|| Failure::missing_key(key))
}

fn flag(body: &Map<String, Value>, key: &str) -> bool {
    // Python truthiness of the usual JSON values.
    match body.get(key) {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|x| x != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
    }
}

fn list_of<'a>(value: &'a Value, what: &str) -> Result<&'a Vec<Value>, Failure> {
    value
        .as_array()
        .ok_or_else(|| Failure::plain(format!("'{what}' must be a list")))
}

/// The RSEs of an expression: names joined by `|` (the only form the reference reads).
fn rse_set(expr: &str) -> BTreeSet<String> {
    expr.split('|').map(|s| s.trim().to_string()).collect()
}

/// A list of strings (other items count as empty strings, which match nothing).
fn strings(value: &Value, what: &str) -> Result<Vec<String>, Failure> {
    Ok(list_of(value, what)?
        .iter()
        .map(|p| p.as_str().unwrap_or_default().to_string())
        .collect())
}

/// An optional text key, empty when absent.
fn optional_str(body: &Map<String, Value>, key: &str) -> String {
    body.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn string_field(item: &Value, key: &str) -> Result<String, Failure> {
    match item.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Ok(other.to_string()),
        None => Err(Failure::plain(format!("'{key}'"))),
    }
}

/// The server's jsonschema refusal of a state outside the enum, word for word.
fn invalid_state(value: &Value, index: usize) -> Failure {
    let shown = match value {
        Value::String(s) => py_repr(s),
        other => other.to_string(),
    };
    // The schema lists the letters in its own order (B before D), unlike the names.
    const LETTERS: [&str; 7] = ["A", "U", "C", "B", "D", "S", "T"];
    let names: Vec<String> = state::ALL
        .iter()
        .map(|s| s.name())
        .chain(LETTERS)
        .map(py_repr)
        .collect();
    let column = format!(",\n{}", " ".repeat(14));
    Failure::rucio(
        500,
        "InvalidObject",
        format!(
            "Problem validating dids: {shown} is not one of [{}]\n\nFailed validating 'enum' in schema['items']['properties']['state']:\n    {{'description': 'Replica state',\n     'type': 'string',\n     'enum': [{}]}}\n\nOn instance[{index}]['state']:\n    {shown}",
            names.join(", "),
            names.join(&column)
        ),
    )
}

/// The longest scope the server's `dids` schema accepts (`SCOPE_LENGTH`).
pub const SCOPE_LENGTH: usize = 25;

/// Whether `scope` matches the schema's `^[a-zA-Z_\-.0-9]+$`.
fn scope_pattern_ok(scope: &str) -> bool {
    !scope.is_empty()
        && scope
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// The server's jsonschema refusal of a file's string `scope` longer than
/// [`SCOPE_LENGTH`] or outside the pattern, word for word (tools/rucio/calibration.json,
/// `scope.*` cases): the length is judged first, as the schema lists `maxLength` before
/// `pattern`.
fn invalid_scope(scope: &str, index: usize) -> Option<Failure> {
    let shown = py_repr(scope);
    let (problem, keyword) = if scope.chars().count() > SCOPE_LENGTH {
        (format!("{shown} is too long"), "maxLength")
    } else if !scope_pattern_ok(scope) {
        (
            format!("{shown} does not match '^[a-zA-Z_\\\\-.0-9]+$'"),
            "pattern",
        )
    } else {
        return None;
    };
    Some(Failure::rucio(
        500,
        "InvalidObject",
        format!(
            "Problem validating dids: {problem}\n\nFailed validating '{keyword}' in schema['items']['properties']['scope']:\n    {{'description': 'Scope name',\n     'type': 'string',\n     'maxLength': {SCOPE_LENGTH},\n     'pattern': '^[a-zA-Z_\\\\-.0-9]+$'}}\n\nOn instance[{index}]['scope']:\n    {shown}"
        ),
    ))
}

/// Validates every file against the `dids` schema as far as the reference follows it:
/// a string `scope` (length, then pattern), then the `state` (names and letters); the
/// first failing file in order decides.
fn check_states(files: &[Value]) -> Result<(), Failure> {
    for (i, f) in files.iter().enumerate() {
        if let Some(refusal) = f
            .get("scope")
            .and_then(Value::as_str)
            .and_then(|scope| invalid_scope(scope, i))
        {
            return Err(refusal);
        }
        if let Some(v) = f.get("state") {
            if !v.as_str().is_some_and(ReplicaState::schema_accepts) {
                return Err(invalid_state(v, i));
            }
        }
    }
    Ok(())
}

/// `ReplicaState(value)`: only letters construct a state.
fn state_of(value: &Value) -> Result<ReplicaState, Failure> {
    let text = value.as_str().unwrap_or_default();
    ReplicaState::from_letter(text).ok_or_else(|| {
        Failure::rucio(
            400,
            "ValueError",
            format!("{} is not a valid ReplicaState", py_repr(text)),
        )
    })
}

fn add(c: &mut Catalog, issuer: &str, call: &Call<'_>, now: SystemTime) -> Result<Reply, Failure> {
    let body = json_body(call.body)?;
    let rse = string_field_required(&body, "rse")?;
    let files = list_of(param(&body, "files")?, "files")?;
    let ignore = flag(&body, "ignore_availability");
    check_states(files)?;
    let mut parsed = Vec::with_capacity(files.len());
    for f in files {
        parsed.push(NewFile {
            scope: string_field(f, "scope")?,
            name: string_field(f, "name")?,
            bytes: f
                .get("bytes")
                .ok_or_else(|| Failure::plain("'bytes'"))?
                .as_u64()
                .ok_or_else(|| Failure::plain("bytes must be a non-negative integer"))?,
            adler32: f.get("adler32").and_then(Value::as_str).map(str::to_string),
            md5: f.get("md5").and_then(Value::as_str).map(str::to_string),
            pfn: f.get("pfn").and_then(Value::as_str).map(str::to_string),
            state: match f.get("state") {
                Some(v) => state_of(v)?,
                None => ReplicaState::Available,
            },
            tombstone: f
                .get("tombstone")
                .and_then(Value::as_str)
                .and_then(crate::rucio::isodate::parse_rucio_date),
        });
    }
    c.add_replicas(issuer, &rse, &parsed, ignore)?;
    c.stamp_created(now);
    Ok(Reply::created())
}

fn string_field_required(body: &Map<String, Value>, key: &str) -> Result<String, Failure> {
    match param(body, key)? {
        Value::String(s) => Ok(s.clone()),
        other => Ok(other.to_string()),
    }
}

fn update(c: &mut Catalog, issuer: &str, call: &Call<'_>) -> Result<Reply, Failure> {
    let body = json_body(call.body)?;
    let rse = string_field_required(&body, "rse")?;
    let files = list_of(param(&body, "files")?, "files")?;
    check_states(files)?;
    for f in files {
        let scope = string_field(f, "scope")?;
        let name = string_field(f, "name")?;
        let state = state_of(f.get("state").ok_or_else(|| Failure::plain("'state'"))?)?;
        c.update_replica_state(issuer, &rse, &scope, &name, state)?;
    }
    Ok(Reply::new(200, HTML, Bytes::new()))
}

fn delete(c: &mut Catalog, issuer: &str, call: &Call<'_>) -> Result<Reply, Failure> {
    let body = json_body(call.body)?;
    let rse = string_field_required(&body, "rse")?;
    let files = list_of(param(&body, "files")?, "files")?;
    let ignore = flag(&body, "ignore_availability");
    let mut dids = Vec::with_capacity(files.len());
    for f in files {
        dids.push((string_field(f, "scope")?, string_field(f, "name")?));
    }
    c.delete_replicas(issuer, &rse, &dids, ignore)?;
    Ok(Reply::new(200, HTML, Bytes::new()))
}

fn listed(endpoint: Endpoint, c: &Catalog, q: &ListQuery, accept: &str) -> Reply {
    let files = c.list_replicas(endpoint, q);
    if accept == METALINK {
        Reply::new(200, METALINK, metalink(endpoint, &files))
    } else {
        Reply::new(200, STREAM, json_stream(&files))
    }
}

fn list(c: &Catalog, call: &Call<'_>) -> Result<Reply, Failure> {
    let accept = negotiate(call.header("Accept").as_deref(), &[STREAM, METALINK])?;
    let body = json_body(call.body)?;
    let mut dids: Vec<Did> = Vec::new();
    if let Some(v) = body.get("dids") {
        for d in list_of(v, "dids")? {
            dids.push((string_field(d, "scope")?, string_field(d, "name")?));
        }
    }
    let mut q = ListQuery::new(Endpoint::Post, dids);
    if let Some(v) = body.get("schemes").filter(|v| !v.is_null()) {
        let mut schemes = Vec::new();
        for s in list_of(v, "schemes")? {
            schemes.push(s.as_str().unwrap_or_default().to_string());
        }
        q.schemes = Some(schemes);
    }
    if let Some(expr) = body.get("rse_expression").and_then(Value::as_str) {
        let names = rse_set(expr);
        if names.iter().any(|n| !c.rses.contains_key(n)) {
            return Err(Failure::rucio(
                400,
                "InvalidRSEExpression",
                "Provided RSE expression is considered invalid.\nDetails: RSE Expression resulted in an empty set.",
            ));
        }
        q.rse_expression = Some(names);
    }
    q.client_site = body
        .get("client_location")
        .and_then(|l| l.get("site"))
        .and_then(Value::as_str)
        .map(str::to_string);
    q.ignore_availability = flag(&body, "ignore_availability");
    q.all_states = flag(&body, "all_states");
    q.unavailable = flag(&body, "unavailable");
    q.metalink = accept == METALINK;
    Ok(listed(Endpoint::Post, c, &q, accept))
}

fn get(c: &Catalog, call: &Call<'_>, scope: &str, name: &str) -> Result<Reply, Failure> {
    let accept = negotiate(call.header("Accept").as_deref(), &[STREAM, METALINK])?;
    let mut q = ListQuery::new(Endpoint::Get, vec![(scope.to_string(), name.to_string())]);
    let has_schemes = call
        .query
        .unwrap_or_default()
        .split('&')
        .any(|kv| kv.split('=').next() == Some("schemes") && kv.len() > "schemes=".len());
    if has_schemes {
        q.schemes = Some(Vec::new());
    }
    q.metalink = accept == METALINK;
    Ok(listed(Endpoint::Get, c, &q, accept))
}

fn dids(c: &Catalog, call: &Call<'_>) -> Result<Reply, Failure> {
    negotiate(call.header("Accept").as_deref(), &[STREAM])?;
    let body = json_body(call.body)?;
    let pfns_value = param(&body, "pfns")?;
    let rse = string_field_required(&body, "rse")?;
    let pfns = strings(pfns_value, "pfns")?;
    let found = c.dids_of_pfns(&rse, &pfns)?;
    let out: String = found
        .into_iter()
        .map(|(pfn, (scope, name))| {
            let mut line = Map::new();
            line.insert(pfn, serde_json::json!({"scope": scope, "name": name}));
            format!("{}\n", Value::Object(line))
        })
        .collect();
    Ok(Reply::new(200, STREAM, out))
}

fn bad(c: &mut Catalog, issuer: &str, call: &Call<'_>, now: SystemTime) -> Result<Reply, Failure> {
    negotiate(call.header("Accept").as_deref(), &[JSON])?;
    let body = json_body(call.body)?;
    let items = body
        .get("replicas")
        .filter(|v| flag_value(v))
        .or_else(|| body.get("pfns"))
        .ok_or_else(|| Failure::missing_key("replicas"))?;
    let items = list_of(items, "replicas")?;
    let reason = optional_str(&body, "reason");
    let force = flag(&body, "force");
    let targets = if items.iter().all(Value::is_string) {
        BadTargets::Pfns(
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
        )
    } else if items.iter().all(Value::is_object) {
        let mut dids = Vec::new();
        for d in items {
            dids.push((
                string_field(d, "scope")?,
                string_field(d, "name")?,
                string_field(d, "rse")?,
            ));
        }
        BadTargets::Dids(dids)
    } else {
        return Err(Failure::rucio(
            500,
            "InvalidType",
            "The replicas must be specified either as a list of PFNs (strings) or list of dicts",
        ));
    };
    let problems = c.declare_bad(issuer, &targets, &reason, force, now)?;
    let body = serde_json::to_string(&problems).unwrap_or_else(|_| "{}".into());
    Ok(Reply::new(201, JSON, body))
}

fn flag_value(v: &Value) -> bool {
    !matches!(v, Value::Null) && v.as_array().is_none_or(|a| !a.is_empty())
}

fn bad_pfns(
    c: &mut Catalog,
    issuer: &str,
    call: &Call<'_>,
    now: SystemTime,
) -> Result<Reply, Failure> {
    let body = json_body(call.body)?;
    let pfns = strings(param(&body, "pfns")?, "pfns")?;
    let reason = optional_str(&body, "reason");
    let state_name = string_field_required(&body, "state")?;
    let state =
        BadPfnState::from_name(&state_name).ok_or_else(|| Failure::plain(py_repr(&state_name)))?;
    let expires_at = match body.get("expires_at") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let text = v.as_str().unwrap_or_default();
            Some(crate::rucio::isodate::parse(text).ok_or_else(|| {
                Failure::plain(format!(
                    "time data {} does not match format '%Y-%m-%dT%H:%M:%S.%f'",
                    py_repr(text)
                ))
            })?)
        }
    };
    c.add_bad_pfns(issuer, &pfns, state, &reason, expires_at, now)?;
    Ok(Reply::created())
}

fn tombstone(c: &mut Catalog, issuer: &str, call: &Call<'_>) -> Result<Reply, Failure> {
    let body = json_body(call.body)?;
    for r in list_of(param(&body, "replicas")?, "replicas")? {
        c.set_tombstone(
            issuer,
            &string_field(r, "rse")?,
            &string_field(r, "scope")?,
            &string_field(r, "name")?,
        )?;
    }
    Ok(Reply::created())
}

fn rule(c: &mut Catalog, issuer: &str, call: &Call<'_>, now: SystemTime) -> Result<Reply, Failure> {
    let body = json_body(call.body)?;
    let mut dids = Vec::new();
    for d in list_of(param(&body, "dids")?, "dids")? {
        dids.push((string_field(d, "scope")?, string_field(d, "name")?));
    }
    let account = body
        .get("account")
        .and_then(Value::as_str)
        .unwrap_or(issuer)
        .to_string();
    let copies = param(&body, "copies")?.as_u64().unwrap_or(0) as usize;
    let expr = string_field_required(&body, "rse_expression")?;
    let rses = rse_set(&expr);
    let life = crate::rucio::rules::RuleLife {
        expires_at: body
            .get("lifetime")
            .and_then(Value::as_u64)
            .map(|secs| now + std::time::Duration::from_secs(secs)),
        purge_replicas: flag(&body, "purge_replicas"),
    };
    let id = atomically(c, |c| {
        let id = c.add_rule(issuer, &account, &dids, &rses, copies, life)?;
        c.stamp_created(now);
        Ok(id)
    })?;
    Ok(Reply::new(201, HTML, serde_json::json!([id]).to_string()))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::rucio::bootstrap::bootstrapped;
    use crate::seeded::SeededRng;

    fn t0() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    fn call(
        c: &mut Catalog,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        let mut map = http::HeaderMap::new();
        for (k, v) in headers {
            if let (Ok(k), Ok(v)) = (
                http::HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(v),
            ) {
                map.append(k, v);
            }
        }
        let (path, query) = match path.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path, None),
        };
        let call = Call {
            method: &method,
            path,
            query,
            headers: &map,
            body,
        };
        dispatch(c, &call, t0())
    }

    fn token(c: &mut Catalog) -> String {
        let r = call(
            c,
            Method::GET,
            "/auth/userpass",
            &[
                ("X-Rucio-Account", "root"),
                ("X-Rucio-Username", "root"),
                ("X-Rucio-Password", "secret"),
            ],
            b"",
        );
        assert_eq!(r.status, 200);
        r.headers
            .iter()
            .find(|(k, _)| k == "X-Rucio-Auth-Token")
            .map(|(_, v)| v.clone())
            .expect("token header")
    }

    #[test]
    fn negotiation_follows_best_match() {
        assert_eq!(negotiate(None, &[STREAM, METALINK]), Ok(STREAM));
        assert_eq!(negotiate(Some("*/*"), &[STREAM, METALINK]), Ok(STREAM));
        assert_eq!(negotiate(Some(METALINK), &[STREAM, METALINK]), Ok(METALINK));
        assert_eq!(
            negotiate(
                Some("application/x-json-stream;q=0.5, application/metalink4+xml"),
                &[STREAM, METALINK]
            ),
            Ok(METALINK)
        );
        let refused = negotiate(Some("text/html"), &[JSON]);
        assert_eq!(refused.map_err(|f| f.status()), Err(406));
    }

    #[test]
    fn garbage_requests_get_answers_never_panics() {
        let mut c = bootstrapped(5, &["EAST", "WEST"]);
        let tok = token(&mut c);
        let routes: [(Method, &str); 11] = [
            (Method::POST, "/replicas"),
            (Method::PUT, "/replicas"),
            (Method::DELETE, "/replicas"),
            (Method::POST, "/replicas/list"),
            (Method::POST, "/replicas/dids"),
            (Method::POST, "/replicas/bad"),
            (Method::POST, "/replicas/bad/pfns"),
            (Method::POST, "/replicas/tombstone"),
            (Method::POST, "/rules/"),
            (Method::POST, "/accountlimits/local/root/EAST"),
            (Method::POST, "/dids/test/x"),
        ];
        let fragments: [&[u8]; 14] = [
            b"{",
            b"}",
            b"[",
            b"]",
            b"\"rse\"",
            b"\"files\"",
            b":",
            b",",
            b"null",
            b"1",
            b"\"EAST\"",
            b"{\"scope\":\"test\",\"name\":\"f\"}",
            b"\"state\"",
            b"\xff",
        ];
        let mut rng = SeededRng::new(99);
        for round in 0..3000 {
            let (method, path) = &routes[round % routes.len()];
            let mut body = Vec::new();
            for _ in 0..rng.below(12) {
                body.extend_from_slice(fragments[rng.below(fragments.len() as u64) as usize]);
            }
            let r = call(
                &mut c,
                method.clone(),
                path,
                &[("X-Rucio-Auth-Token", &tok)],
                &body,
            );
            assert!((200..600).contains(&r.status), "{path}: {}", r.status);
        }
        // Well-formed JSON of the wrong types is refused too.
        for body in [
            &b"[]"[..],
            b"{\"rse\": 1, \"files\": 2}",
            b"{\"rse\": \"EAST\", \"files\": [1]}",
            b"{\"dids\": [{\"scope\": 1}]}",
        ] {
            for (method, path) in &routes {
                if *path == "/replicas/list" && body != b"[]" {
                    // Every key is optional there: no `dids` is an empty answer.
                    continue;
                }
                let r = call(
                    &mut c,
                    method.clone(),
                    path,
                    &[("X-Rucio-Auth-Token", &tok)],
                    body,
                );
                assert!(
                    r.status >= 400,
                    "{path} {:?}: {}",
                    std::str::from_utf8(body),
                    r.status
                );
            }
        }
    }

    #[test]
    fn errors_carry_class_and_message_in_body_and_headers() {
        let mut c = bootstrapped(5, &["EAST", "WEST"]);
        let r = call(&mut c, Method::GET, "/replicas/test/f1", &[], b"");
        assert_eq!(r.status, 400);
        let header = |n: &str| {
            r.headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(header("ExceptionClass"), Some("ValueError"));
        assert_eq!(header("ExceptionMessage"), Some("Token must be set."));
        assert_eq!(header("Content-Type"), Some(OCTET));
        let body: Value = serde_json::from_slice(&r.body).expect("json body");
        assert_eq!(body["ExceptionClass"], "ValueError");
        let unknown = call(&mut c, Method::GET, "/nothing/here", &[], b"");
        assert_eq!(unknown.status, 404);
    }

    #[test]
    fn failed_batches_change_nothing() {
        let mut c = bootstrapped(5, &["EAST", "WEST"]);
        let tok = token(&mut c);
        let add = br#"{"rse": "EAST", "files": [{"scope": "test", "name": "a", "bytes": 1}, {"scope": "test", "name": "b", "bytes": 1}]}"#;
        assert_eq!(
            call(
                &mut c,
                Method::POST,
                "/replicas",
                &[("X-Rucio-Auth-Token", &tok)],
                add
            )
            .status,
            201
        );
        let put = br#"{"rse": "EAST", "files": [{"scope": "test", "name": "a", "state": "U"}, {"scope": "test", "name": "nosuch", "state": "U"}]}"#;
        assert_eq!(
            call(
                &mut c,
                Method::PUT,
                "/replicas",
                &[("X-Rucio-Auth-Token", &tok)],
                put
            )
            .status,
            500
        );
        assert_eq!(
            c.replica("test", "a", "EAST").map(|r| r.state),
            Some(ReplicaState::Available)
        );
    }
}
