//! Deliberate defects of the reference catalog: each makes it deviate from one RUC rule the
//! way a plausible implementation could (often the code-derived spec's reading that Rucio
//! 41.5.1 contradicts), so the rucio family's clauses can be shown to catch them
//! (conformance/src/mutants.rs). Off by default; `Catalog::with_defects` switches them on.
//!
//! The REST defects work at the boundary: a defect rewrites the request before the clean
//! catalog sees it, answers in its place, or rewrites its answer, so the decision core of
//! the API stays free of them. No request reaches the daemons (RUC-20 necromancer, RUC-24
//! judge-cleaner and reaper), so their defects are switches inside the daemon steps
//! (`daemons`, `rules`, `recovery`), each one `if` on the catalog's defect set.

use std::time::SystemTime;

use bytes::Bytes;
use http::header::ACCEPT;
use serde_json::{json, Map, Value};

use crate::rucio::catalog::Catalog;
use crate::rucio::error::Failure;
use crate::rucio::rest::{serve, Call, Reply, JSON, STREAM};
use crate::rucio::state::ReplicaState;

defect_table! {
    service = "Rucio";
    PostAnswers200 = "rucio-post-answers-200", "RUC-1", "POST /replicas answers 200 (seed 003's outdated code)";
    PutAnswersBody = "rucio-put-answers-body", "RUC-1", "PUT /replicas answers 200 with a body";
    DeleteAllowed = "rucio-delete-allowed", "RUC-1", "privileged accounts may DELETE replicas over REST";
    ErrorClassHeaderMissing = "rucio-error-class-header-missing", "RUC-2", "refusals carry ExceptionClass in the body only";
    MessageHeaderUncut = "rucio-message-header-uncut", "RUC-2", "the ExceptionMessage header is not cut to 128 characters";
    MissingToken401 = "rucio-missing-token-401", "RUC-2", "a missing token is 401 CannotAuthenticate (the spec's reading)";
    VolatileAccepted = "rucio-volatile-accepted", "RUC-3", "adding to a volatile RSE is accepted";
    WriteAvailabilityIgnored = "rucio-write-availability-ignored", "RUC-3", "adding to a write-unavailable RSE is accepted";
    NondetPfnOptional = "rucio-nondet-pfn-optional", "RUC-4", "a non-deterministic RSE accepts a replica without pfn";
    PfnNotVerified = "rucio-pfn-not-verified", "RUC-4", "a foreign pfn on a deterministic RSE is accepted";
    UnknownScopeAccepted = "rucio-unknown-scope-accepted", "RUC-5", "an unknown scope is accepted";
    GetListsNothing = "rucio-get-lists-nothing", "RUC-5", "GET /replicas/{scope}/{name} answers an empty list";
    ReaddDuplicate = "rucio-readd-duplicate", "RUC-6", "re-adding a replica is 409 Duplicate";
    DefaultStateCopying = "rucio-default-state-copying", "RUC-7", "replicas added without a state are COPYING";
    StateIgnored = "rucio-state-ignored", "RUC-7", "the state given on add is ignored";
    AllStatesIgnored = "rucio-all-states-ignored", "RUC-8", "all_states is ignored";
    UnavailableIgnored = "rucio-unavailable-ignored", "RUC-8", "unavailable=true is ignored";
    ListShowsUnreadable = "rucio-list-shows-unreadable", "RUC-10", "POST /replicas/list lists read-unavailable RSEs by default (the spec's reading)";
    IgnoreAvailabilityIgnored = "rucio-ignore-availability-ignored", "RUC-10", "ignore_availability=true is ignored";
    PrioritiesZeroBased = "rucio-priorities-zero-based", "RUC-11", "PFN priorities start at 0";
    EveryProtocolListed = "rucio-every-protocol-listed", "RUC-11", "every protocol's PFN is listed by default (the spec's reading)";
    AcceptIgnored = "rucio-accept-ignored", "RUC-12", "an unsupported Accept is answered with the default type";
    StreamLabelledJson = "rucio-stream-labelled-json", "RUC-12", "JSON streams are labelled application/json";
    MetalinkIgnored = "rucio-metalink-ignored", "RUC-12", "Accept metalink is answered with the JSON stream";
    PutUnknownAccepted = "rucio-put-unknown-accepted", "RUC-13", "PUT of a missing replica is 200";
    TuOnlyFromAvailable = "rucio-tu-only-from-available", "RUC-13", "COPYING -> TEMPORARY_UNAVAILABLE is refused (the spec's reading)";
    BadStaysBad = "rucio-bad-stays-bad", "RUC-14", "PUT AVAILABLE on a BAD replica changes nothing";
    DeleteUnknownRse401 = "rucio-delete-unknown-rse-401", "RUC-15", "DELETE on an unknown RSE is refused 401 before the RSE lookup";
    DeleteRefused403 = "rucio-delete-refused-403", "RUC-16", "a refused DELETE is 403";
    RefusedDeleteRemoves = "rucio-refused-delete-removes", "RUC-16", "a refused DELETE removes the replicas anyway";
    DeclareBadNoop = "rucio-declare-bad-noop", "RUC-17", "declaring bad answers {} and changes nothing";
    RedeclareSilent = "rucio-redeclare-silent", "RUC-17", "re-declaring is not reported";
    UnknownPfnSilent = "rucio-unknown-pfn-silent", "RUC-17", "PFNs of missing replicas are not reported";
    SuspiciousRefused = "rucio-suspicious-refused", "RUC-18", "bad/pfns refuses SUSPICIOUS";
    TuExpiryOptional = "rucio-tu-expiry-optional", "RUC-19", "TEMPORARY_UNAVAILABLE without expires_at is accepted";
    BadExpiryAccepted = "rucio-bad-expiry-accepted", "RUC-19", "BAD with expires_at is accepted";
    TuUnbounded = "rucio-tu-unbounded", "RUC-19", "TEMPORARY_UNAVAILABLE longer than 30 days is accepted";
    TombstoneAnswers200 = "rucio-tombstone-answers-200", "RUC-21", "a tombstone answers 200";
    TombstoneIgnoresLocks = "rucio-tombstone-ignores-locks", "RUC-21", "a locked replica gets a tombstone";
    TombstoneUnknownAccepted = "rucio-tombstone-unknown-accepted", "RUC-21", "a tombstone on a missing replica is 201";
    UnknownDidList400 = "rucio-unknown-did-list-400", "RUC-22", "POST /replicas/list of unknown DIDs is 400 DataIdentifierNotFound (the spec's reading)";
    UnknownDidGet404 = "rucio-unknown-did-get-404", "RUC-22", "GET of an unknown DID is 404 DataIdentifierNotFound (the spec's reading)";
    EmptyList404 = "rucio-empty-list-404", "RUC-23", "an empty list result is 404";
    DidsAnswerNothing = "rucio-dids-answer-nothing", "RUC-25", "POST /replicas/dids answers an empty stream";
    DidsRseOptional = "rucio-dids-rse-optional", "RUC-25", "POST /replicas/dids without rse answers an empty stream";
    NecromancerNeverReplicates = "rucio-necromancer-never-replicates", "RUC-20", "the necromancer leaves a recoverable BAD replica BAD";
    NecromancerNoCopy = "rucio-necromancer-no-copy", "RUC-20", "the necromancer marks a BAD replica AVAILABLE without copying its bytes";
    NecromancerLosesRecoverable = "rucio-necromancer-loses-recoverable", "RUC-20", "the necromancer marks a file lost although another RSE holds it";
    LostStillListed = "rucio-lost-still-listed", "RUC-20", "a lost file's BAD replica stays listed";
    ExpiryIgnoresLifetime = "rucio-expiry-ignores-lifetime", "RUC-24", "the judge-cleaner ends every rule with a lifetime at once";
    ExpiryNoTombstone = "rucio-expiry-no-tombstone", "RUC-24", "a rule's expiry releases its locks but sets no tombstone";
    ExpiryLruInFuture = "rucio-expiry-lru-in-future", "RUC-24", "an expired rule's AVAILABLE replicas get a tombstone a day ahead instead of their LRU time";
    ExpiryDropsAllLocks = "rucio-expiry-drops-all-locks", "RUC-24", "a rule's expiry drops every lock of its replicas, other rules' too";
    ReaperFutureTombstones = "rucio-reaper-future-tombstones", "RUC-24", "the reaper deletes replicas whose tombstone is still in the future";
    ReaperKeepsBytes = "rucio-reaper-keeps-bytes", "RUC-24", "the reaper removes the catalog row but leaves the bytes on the RSE";
}

/// The tombstone the judge-cleaner gives a replica whose last lock went, with the RUC-24
/// defects in play (`None`: no tombstone at all).
pub(crate) fn expiry_tombstone(
    defects: &std::collections::BTreeSet<Defect>,
    replica: &crate::rucio::catalog::Replica,
    purge_replicas: bool,
    now: SystemTime,
) -> Option<SystemTime> {
    if defects.contains(&Defect::ExpiryNoTombstone) {
        return None;
    }
    let right = crate::rucio::rules::released_tombstone(replica, purge_replicas);
    if defects.contains(&Defect::ExpiryLruInFuture) && right != crate::rucio::catalog::OBSOLETE {
        return Some(now + std::time::Duration::from_secs(86_400));
    }
    Some(right)
}

fn class_of(reply: &Reply) -> Option<&str> {
    reply
        .headers
        .iter()
        .find(|(k, _)| k == "ExceptionClass")
        .map(|(_, v)| v.as_str())
}

fn is(reply: &Reply, status: u16, class: &str) -> bool {
    reply.status == status && class_of(reply) == Some(class)
}

fn created() -> Reply {
    Reply {
        status: 201,
        headers: vec![("Content-Type".into(), "text/html; charset=utf-8".into())],
        body: Bytes::from_static(b"Created"),
    }
}

fn state_of(c: &Catalog, rse: &str, file: &Value) -> Option<ReplicaState> {
    let scope = file.get("scope")?.as_str()?;
    let name = file.get("name")?.as_str()?;
    c.replica(scope, name, rse).map(|r| r.state)
}

/// Serves one request with the catalog's defects in play.
pub fn dispatch(c: &mut Catalog, call: &Call<'_>, now: SystemTime) -> Reply {
    let defects = c.defects.clone();
    let has = |d: Defect| defects.contains(&d);
    let method = call.method.as_str();
    let path = call.path.trim_end_matches('/').to_string();
    let parsed: Option<Map<String, Value>> = serde_json::from_slice::<Value>(call.body)
        .ok()
        .and_then(|v| v.as_object().cloned());
    let mut body = parsed.clone();
    let mut headers = call.headers.clone();
    let rse = parsed
        .as_ref()
        .and_then(|b| b.get("rse"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let files: Vec<Value> = parsed
        .as_ref()
        .and_then(|b| b.get("files"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let field = |key: &str| parsed.as_ref().and_then(|b| b.get(key)).cloned();

    // Rewrites of the request.
    if let Some(b) = body.as_mut() {
        match (method, path.as_str()) {
            ("POST", "/replicas") => {
                if let Some(Value::Array(fs)) = b.get_mut("files") {
                    for f in fs.iter_mut().filter_map(Value::as_object_mut) {
                        if has(Defect::StateIgnored) {
                            f.remove("state");
                        }
                        if has(Defect::DefaultStateCopying) && !f.contains_key("state") {
                            f.insert("state".into(), json!("C"));
                        }
                    }
                }
            }
            ("POST", "/replicas/list") => {
                if has(Defect::AllStatesIgnored) {
                    b.remove("all_states");
                }
                if has(Defect::UnavailableIgnored) {
                    b.remove("unavailable");
                }
                if has(Defect::IgnoreAvailabilityIgnored) {
                    b.remove("ignore_availability");
                }
                if has(Defect::ListShowsUnreadable) && !b.contains_key("ignore_availability") {
                    b.insert("ignore_availability".into(), json!(true));
                }
                if has(Defect::EveryProtocolListed) && !b.contains_key("schemes") {
                    b.insert("schemes".into(), json!(["https", "root"]));
                }
            }
            _ => {}
        }
    }
    if let Some(accept) = headers.get(ACCEPT).and_then(|v| v.to_str().ok()) {
        let known = ["x-json-stream", "metalink4", "*/*", "application/json"]
            .iter()
            .any(|k| accept.contains(k));
        if (has(Defect::AcceptIgnored) && !known)
            || (has(Defect::MetalinkIgnored) && accept.contains("metalink4"))
        {
            headers.remove(ACCEPT);
        }
    }

    // Answers in the catalog's place.
    let token_missing = !headers.contains_key("X-Rucio-Auth-Token")
        && !matches!(path.as_str(), "/auth/userpass" | "/ping");
    if has(Defect::MissingToken401) && token_missing {
        return Reply::failure(&Failure::rucio(
            401,
            "CannotAuthenticate",
            "Cannot authenticate with given credentials",
        ));
    }
    match (method, path.as_str()) {
        ("POST", "/replicas") if has(Defect::VolatileAccepted) && rse == "VOLATILE" => {
            return created();
        }
        ("POST", "/replicas")
            if has(Defect::ReaddDuplicate)
                && files.iter().any(|f| state_of(c, &rse, f).is_some()) =>
        {
            return Reply::failure(&Failure::rucio(409, "Duplicate", "Replica already exists!"));
        }
        ("PUT", "/replicas") => {
            let wants =
                |f: &Value, letter: &str| f.get("state").and_then(Value::as_str) == Some(letter);
            if has(Defect::TuOnlyFromAvailable)
                && files.iter().any(|f| {
                    wants(f, "T")
                        && state_of(c, &rse, f).is_some_and(|s| {
                            !matches!(
                                s,
                                ReplicaState::Available | ReplicaState::TemporaryUnavailable
                            )
                        })
                })
            {
                return Reply::failure(&Failure::rucio(
                    500,
                    "UnsupportedOperation",
                    "State TEMPORARY_UNAVAILABLE cannot be updated",
                ));
            }
            if has(Defect::BadStaysBad)
                && files
                    .iter()
                    .any(|f| wants(f, "A") && state_of(c, &rse, f) == Some(ReplicaState::Bad))
            {
                return Reply {
                    status: 200,
                    headers: vec![("Content-Type".into(), "text/html; charset=utf-8".into())],
                    body: Bytes::new(),
                };
            }
        }
        ("DELETE", "/replicas")
            if has(Defect::DeleteUnknownRse401) && c.rse(&rse, 404).is_err() =>
        {
            return Reply::failure(&Failure::rucio(
                401,
                "AccessDenied",
                format!("Account can not delete replicas on {rse}"),
            ));
        }
        ("POST", "/replicas/bad") if has(Defect::DeclareBadNoop) => {
            return Reply {
                status: 201,
                headers: vec![("Content-Type".into(), JSON.into())],
                body: Bytes::from_static(b"{}"),
            };
        }
        _ => {}
    }

    let rewritten;
    let bytes: &[u8] = if body != parsed {
        rewritten = body
            .map(|b| Value::Object(b).to_string())
            .unwrap_or_default();
        rewritten.as_bytes()
    } else {
        call.body
    };
    let inner = Call {
        method: call.method,
        path: call.path,
        query: call.query,
        headers: &headers,
        body: bytes,
    };
    let mut reply = serve(c, &inner, now);

    // Rewrites of the answer.
    match (method, path.as_str()) {
        ("POST", "/replicas") => {
            let accept = (has(Defect::WriteAvailabilityIgnored)
                && is(&reply, 503, "ResourceTemporaryUnavailable"))
                || (has(Defect::NondetPfnOptional)
                    && is(&reply, 500, "UnsupportedOperation")
                    && rse == "NONDET")
                || (has(Defect::PfnNotVerified) && is(&reply, 400, "InvalidPath"))
                || (has(Defect::UnknownScopeAccepted) && is(&reply, 404, "ScopeNotFound"));
            if accept {
                reply = created();
            }
            if has(Defect::PostAnswers200) && reply.status == 201 {
                reply.status = 200;
            }
        }
        ("PUT", "/replicas") => {
            if has(Defect::PutUnknownAccepted) && is(&reply, 500, "ReplicaNotFound") {
                reply = Reply {
                    status: 200,
                    headers: vec![("Content-Type".into(), "text/html; charset=utf-8".into())],
                    body: Bytes::new(),
                };
            }
            if has(Defect::PutAnswersBody) && reply.status == 200 {
                reply.body = Bytes::from_static(b"OK");
            }
        }
        ("DELETE", "/replicas") if is(&reply, 401, "AccessDenied") => {
            if has(Defect::RefusedDeleteRemoves) {
                for f in &files {
                    if let (Some(s), Some(n)) = (
                        f.get("scope").and_then(Value::as_str),
                        f.get("name").and_then(Value::as_str),
                    ) {
                        c.replicas
                            .remove(&(s.to_string(), n.to_string(), rse.clone()));
                    }
                }
            }
            if has(Defect::DeleteRefused403) {
                reply.status = 403;
            }
        }
        ("POST", "/replicas/bad") if reply.status == 201 => {
            if let Ok(Value::Object(mut m)) = serde_json::from_slice::<Value>(&reply.body) {
                for items in m.values_mut() {
                    if let Value::Array(list) = items {
                        list.retain(|i| {
                            let t = i.as_str().unwrap_or_default();
                            !(has(Defect::RedeclareSilent) && t.ends_with("Already declared")
                                || has(Defect::UnknownPfnSilent) && t.ends_with("Unknown replica"))
                        });
                    }
                }
                m.retain(|_, v| v.as_array().is_none_or(|a| !a.is_empty()));
                reply.body = Bytes::from(Value::Object(m).to_string());
            }
        }
        ("POST", "/replicas/bad/pfns") => {
            let state = field("state");
            let state = state.as_ref().and_then(Value::as_str).unwrap_or_default();
            let expiry = field("expires_at").is_some();
            if has(Defect::SuspiciousRefused) && state == "SUSPICIOUS" {
                reply = Reply::failure(&Failure::rucio(
                    500,
                    "InvalidType",
                    "SUSPICIOUS is not supported",
                ));
            }
            let tu = state == "TEMPORARY_UNAVAILABLE";
            if is(&reply, 500, "InputValidationError")
                && ((has(Defect::TuExpiryOptional) && tu && !expiry)
                    || (has(Defect::BadExpiryAccepted) && state == "BAD" && expiry)
                    || (has(Defect::TuUnbounded) && tu && expiry))
            {
                reply = created();
            }
        }
        ("POST", "/replicas/tombstone") => {
            if (has(Defect::TombstoneIgnoresLocks) && is(&reply, 423, "ReplicaIsLocked"))
                || (has(Defect::TombstoneUnknownAccepted) && is(&reply, 404, "ReplicaNotFound"))
            {
                reply = created();
            }
            if has(Defect::TombstoneAnswers200) && reply.status == 201 {
                reply.status = 200;
            }
        }
        ("POST", "/replicas/list") if reply.status == 200 && reply.body.is_empty() => {
            let dids = field("dids");
            let none = dids
                .as_ref()
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty);
            if (has(Defect::UnknownDidList400) && !none) || (has(Defect::EmptyList404) && none) {
                let status = if none { 404 } else { 400 };
                reply = Reply::failure(&Failure::rucio(
                    status,
                    "DataIdentifierNotFound",
                    "Data identifier not found",
                ));
            }
        }
        ("POST", "/replicas/dids") => {
            if has(Defect::DidsAnswerNothing) && reply.status == 200 {
                reply.body = Bytes::new();
            }
            if has(Defect::DidsRseOptional) && is(&reply, 400, "KeyError") {
                reply = Reply {
                    status: 200,
                    headers: vec![("Content-Type".into(), STREAM.into())],
                    body: Bytes::new(),
                };
            }
        }
        ("GET", p) if p.starts_with("/replicas/") => {
            if has(Defect::GetListsNothing) && reply.status == 200 {
                reply.body = Bytes::new();
            } else if has(Defect::UnknownDidGet404) && reply.status == 200 && reply.body.is_empty()
            {
                reply = Reply::failure(&Failure::rucio(
                    404,
                    "DataIdentifierNotFound",
                    "Data identifier not found",
                ));
            }
        }
        _ => {}
    }
    let stream = reply
        .headers
        .iter()
        .any(|(k, v)| k == "Content-Type" && v == STREAM);
    if stream && has(Defect::PrioritiesZeroBased) {
        reply.body = Bytes::from(shift_priorities(&reply.body));
    }
    if stream && has(Defect::StreamLabelledJson) {
        for (k, v) in reply.headers.iter_mut() {
            if k == "Content-Type" {
                *v = JSON.into();
            }
        }
    }
    if has(Defect::ErrorClassHeaderMissing) {
        reply.headers.retain(|(k, _)| k != "ExceptionClass");
    }
    if has(Defect::MessageHeaderUncut) && reply.status >= 400 {
        if let Ok(v) = serde_json::from_slice::<Value>(&reply.body) {
            if let Some(full) = v.get("ExceptionMessage").and_then(Value::as_str) {
                for (k, h) in reply.headers.iter_mut() {
                    if k == "ExceptionMessage" {
                        *h = full.replace('\n', " ");
                    }
                }
            }
        }
    }
    reply
}

/// Every `priority` of every PFN one lower, line by line.
fn shift_priorities(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .lines()
        .map(|line| match serde_json::from_str::<Value>(line) {
            Ok(mut item) => {
                if let Some(pfns) = item.get_mut("pfns").and_then(Value::as_object_mut) {
                    for p in pfns.values_mut() {
                        if let Some(n) = p.get("priority").and_then(Value::as_i64) {
                            p["priority"] = json!(n - 1);
                        }
                    }
                }
                format!("{item}\n")
            }
            Err(_) => format!("{line}\n"),
        })
        .collect()
}
