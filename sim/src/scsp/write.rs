//! Every request that makes a new version: WRITE (POST), UPDATE (PUT), APPEND, COPY and
//! DELETE share one path: check the request, decide where it runs (bids, redirect), build
//! the new version (`compose`), store it, replicate it, answer.
//!
//! Rules covered: SCSP-1, 2, 7, 8, 9, 10, 12, 13, 14, 15, 16, 17, 18, 19, 22..30, 40.

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

pub use crate::scsp::compose::Mutation;

use crate::http::body::collect_owned;
use crate::rt;
use crate::scsp::alternatives::{
    ClockSkew, ContextDeleteRefusal, DeleteStatus, OversizedHeaders, ReplicaCountOne,
};
use crate::scsp::cluster_view::gather_bids;
use crate::scsp::compose::{self, compose};
use crate::scsp::conditional::{self, Current, Precondition};
use crate::scsp::config::NodeContext;
use crate::scsp::contexts;
use crate::scsp::defects::Defect;
use crate::scsp::handoff::{self, Handoff};
use crate::scsp::journal;
use crate::scsp::key::{new_uuid, Locator, ObjectKey};
use crate::scsp::limits;
use crate::scsp::metadata;
use crate::scsp::object::{Kind, Record, Version, CASTOR_SYSTEM_VERSION};
use crate::scsp::peer::{self, Bid, Held};
use crate::scsp::placement;
use crate::scsp::records::Objects;
use crate::scsp::redirect;
use crate::scsp::replication::{self, SyncPlan};
use crate::scsp::request::ClientRequest;
use crate::scsp::response::{self, Body};
use crate::store::DiskError;

/// `Replica-Count`, parsed once.
const REPLICA_COUNT: http::HeaderName = http::HeaderName::from_static("replica-count");

/// `Content-UUID`, parsed once.
const CONTENT_UUID: http::HeaderName = http::HeaderName::from_static("content-uuid");

/// What the request is about, once resolved.
pub(crate) struct Subject {
    /// The store key (an empty UUID for an unnamed object not yet created).
    pub key: ObjectKey,
    /// The kind it will have.
    pub kind: Kind,
}

/// Handles one mutating request end to end.
pub async fn handle(
    ctx: &NodeContext,
    req: &ClientRequest,
    body: Incoming,
    mutation: Mutation,
) -> Response<Body> {
    match run(ctx, req, body, mutation, None).await {
        Ok(r) | Err(r) => r,
    }
}

/// A WRITE whose subject is decided by the caller rather than the path, with extra system
/// metadata: how multipart parts become immutable unnamed objects (SCSP-35).
pub(crate) async fn handle_as(
    ctx: &NodeContext,
    req: &ClientRequest,
    body: Incoming,
    subject: Subject,
    extra_meta: std::collections::BTreeMap<String, String>,
) -> Response<Body> {
    match run(
        ctx,
        req,
        body,
        Mutation::Create,
        Some((subject, extra_meta)),
    )
    .await
    {
        Ok(r) | Err(r) => r,
    }
}

type Outcome = Result<Response<Body>, Response<Body>>;

pub(crate) fn fail(status: StatusCode, message: impl AsRef<str>) -> Response<Body> {
    response::error(status, message.as_ref())
}

async fn run(
    ctx: &NodeContext,
    req: &ClientRequest,
    body: Incoming,
    mutation: Mutation,
    forced: Option<(Subject, std::collections::BTreeMap<String, String>)>,
) -> Outcome {
    check_request(ctx, req, mutation)?;
    let (subject, extra_meta) = match forced {
        Some(forced) => forced,
        None => (resolve(ctx, req, mutation)?, Default::default()),
    };
    let key = subject.key.store_key();

    // Unnamed creations get their UUID on the serving node; the bid key is a nonce so that
    // placement spreads them over the cluster.
    let bid_key = match (&subject.key, mutation) {
        (ObjectKey::Uuid(u), Mutation::Create) if u.is_empty() => {
            let mut nonce = String::from("u/?");
            nonce.push_str(&crate::scsp::object::hex(
                &rt::random_u64().to_be_bytes(),
                false,
            ));
            nonce
        }
        _ => key.clone(),
    };
    // A write redirected here with a fresh, signed handoff needs no second round of bids.
    // Its MAC makes it ours, yet it is checked like any decoded value: a PAN of another
    // version, or a bug, must not index past the node list.
    let handed = match req.query.get(handoff::ARG).filter(|_| req.pinned) {
        None => None,
        Some(value) => match Handoff::decode_checked(value, ctx.cluster.nodes.len()) {
            Ok(h) => Some(h).filter(|h| h.is_fresh(ctx.clock.now_ms())),
            Err(why) => {
                return Err(fail(
                    StatusCode::BAD_REQUEST,
                    format!("Bad handoff: {why}."),
                ))
            }
        },
    };
    let bids = match &handed {
        Some(_) => Vec::new(),
        None => gather_bids(ctx, &bid_key).await,
    };
    let current = match &handed {
        Some(h) => newest_of(h.current.clone(), local_held(ctx, &key)),
        None => placement::newest(&bids),
    };
    check_current(ctx, req, mutation, &subject, current.as_ref())?;

    let declared_bytes = req
        .header("content-length")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    // The plan reads only the kind and the metadata: the probe needs no key or digest.
    let probe = Record {
        key: String::new(),
        kind: subject.kind,
        version: Version {
            stamp_ms: 0,
            node: 0,
        },
        deleted: false,
        meta: metadata::persisted(&req.headers),
        md5_hex: String::new(),
        content: Bytes::new(),
    };
    let mut plan = replication::plan(&ctx.cluster, &probe, &req.query)
        .map_err(|e| fail(StatusCode::BAD_REQUEST, e.0))?;
    let live_current = current.as_ref().is_some_and(|c| !c.deleted);
    if live_current && ctx.cluster.has(Defect::UpdateSingleReplica) {
        plan.sync_replicas = 1;
    }
    let candidates = match &handed {
        Some(h) => h.candidates.clone(),
        None => rank_candidates(
            ctx,
            &bids,
            &bid_key,
            mutation,
            current.as_ref(),
            declared_bytes + 256,
        ),
    };

    if candidates.len() < plan.nodes_min {
        let live = bids.iter().filter(|b| !b.retiring).count();
        if live >= plan.nodes_min && mutation != Mutation::Delete {
            return Err(fail(
                StatusCode::INSUFFICIENT_STORAGE,
                "Not enough disk space to store requested content.",
            ));
        }
        return Err(fail(
            StatusCode::PRECONDITION_FAILED,
            format!(
                "Could not find {} nodes to write to ({} found).",
                plan.nodes_min,
                candidates.len()
            ),
        ));
    }

    let serve_here = req.pinned
        || candidates.first() == Some(&ctx.id)
        || (ctx.control.is_retiring() && ctx.cluster.has(Defect::RetiringNodeServesWrites));
    if !serve_here {
        if ctx.cluster.has(Defect::ContinueBeforeRedirect) {
            // Reading the body makes hyper answer `Expect: 100-continue` first.
            let _ = Limited::new(body, ctx.cluster.object_bytes_max)
                .collect()
                .await;
        }
        // Retiring nodes never serve themselves; everyone else follows the best bid.
        let handoff = Handoff {
            issued_ms: ctx.clock.now_ms(),
            candidates: candidates.clone(),
            current: current.clone(),
        };
        return Ok(redirect::to_node_with(
            ctx,
            req,
            candidates[0],
            Some(&handoff),
        ));
    }

    let mut content = read_body(ctx, body, mutation).await?;
    if req.pinned && ctx.cluster.has(Defect::RedirectedWriteDropsBody) {
        content = Bytes::new();
    }
    let within_second_of_current = current.as_ref().is_some_and(|c| {
        !c.deleted && ctx.clock.now_ms().saturating_sub(c.version.stamp_ms) < 1000
    });
    if within_second_of_current && ctx.cluster.has(Defect::FastUpdateStoredEmpty) {
        content = Bytes::new();
    }
    // `copy-body-refused-after-store`: the body becomes the content, and the refusal
    // comes only after the store.
    let copy_body = mutation == Mutation::Copy
        && !content.is_empty()
        && ctx.cluster.has(Defect::CopyBodyRefusedAfterStore);
    let built_as = if copy_body {
        Mutation::Replace
    } else {
        mutation
    };
    let mut record = build_record(
        ctx,
        req,
        built_as,
        &subject,
        &key,
        current.as_ref(),
        content,
    )?;
    record.meta.extend(extra_meta);
    let soon_after_delete = current.as_ref().is_some_and(|c| {
        c.deleted && record.version.stamp_ms.saturating_sub(c.version.stamp_ms) < 1000
    });
    if soon_after_delete && ctx.cluster.has(Defect::RecreateSoonLost) {
        return Ok(success(ctx, req, mutation, &record, plan.sync_replicas));
    }
    if live_current
        && mutation == Mutation::Create
        && record.kind == Kind::Named
        && ctx.cluster.has(Defect::NamedOverwriteIgnored)
    {
        return Ok(success(ctx, req, mutation, &record, plan.sync_replicas));
    }
    let renamed_from = (record.key != key && mutation != Mutation::Create).then_some(key);
    let stored =
        store_and_replicate(ctx, req, mutation, record, renamed_from, plan, &candidates).await;
    if copy_body {
        return Err(fail(StatusCode::BAD_REQUEST, "COPY carries no body."));
    }
    stored
}

/// This node's own copy of a key, as a bid would describe it.
fn local_held(ctx: &NodeContext, key: &str) -> Option<Held> {
    crate::scsp::cluster_view::local_bid(ctx, key).held
}

/// The newer of two versions.
fn newest_of(a: Option<Held>, b: Option<Held>) -> Option<Held> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b.version > a.version { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// What every mutating request must satisfy before any node is asked anything: a declared
/// length on WRITE (SCSP-14), no body on COPY (SCSP-24), the size limit, and the metadata
/// limits (SCSP-16).
fn check_request(
    ctx: &NodeContext,
    req: &ClientRequest,
    mutation: Mutation,
) -> Result<(), Response<Body>> {
    let declared = req.header("content-length");
    if mutation == Mutation::Create
        && declared.is_none()
        && !ctx.cluster.has(Defect::AcceptMissingContentLength)
    {
        let status = if ctx.cluster.has(Defect::LengthRequiredAs400) {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::LENGTH_REQUIRED
        };
        return Err(fail(status, "Content-Length is required on WRITE."));
    }
    if let Some(v) = declared {
        let n: u64 = v.trim().parse().map_err(|_| {
            fail(
                StatusCode::BAD_REQUEST,
                format!("Content-Length `{v}` is not a number."),
            )
        })?;
        if n > ctx.cluster.object_bytes_max as u64 {
            return Err(fail(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "Object of {n} bytes exceeds the limit of {} bytes.",
                    ctx.cluster.object_bytes_max
                ),
            ));
        }
        let accepted = ctx.cluster.has(Defect::CopyBodyAccepted)
            || ctx.cluster.has(Defect::CopyBodyRefusedAfterStore);
        if mutation == Mutation::Copy && n != 0 && !accepted {
            return Err(fail(
                StatusCode::BAD_REQUEST,
                "COPY carries no body: Content-Length must be absent or 0.",
            ));
        }
    }
    if !ctx.cluster.has(Defect::HeaderLimitsUnenforced) {
        let status = match ctx.cluster.alternatives.oversized_headers {
            OversizedHeaders::Status400 => StatusCode::BAD_REQUEST,
            OversizedHeaders::Status431 => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        };
        let skip = limits::Skip {
            count: ctx.cluster.has(Defect::HeaderCountUnlimited),
            one_header: ctx.cluster.has(Defect::HeaderSizeUnlimited),
        };
        limits::check_metadata_skipping(&req.headers, skip).map_err(|e| fail(status, e))?;
        if ctx.cluster.has(Defect::MetadataLimitTooLow) {
            let total: usize = metadata::persisted(&req.headers)
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum();
            if total > limits::PERSISTED_BYTES_MAX / 4 {
                return Err(fail(
                    status,
                    format!("{total} bytes of metadata headers; the limit is 8192."),
                ));
            }
        }
    }
    Ok(())
}

/// Works out the key and kind, and checks the contexts it needs (SCSP-13, SCSP-27).
fn resolve(
    ctx: &NodeContext,
    req: &ClientRequest,
    mutation: Mutation,
) -> Result<Subject, Response<Body>> {
    let context_exists = |key: &ObjectKey| {
        let disk = Objects::lock(&ctx.disk);
        disk.with_record(&key.store_key(), |r| !r.deleted)
            .unwrap_or(false)
    };
    let domain_ok =
        |domain: &str| domain.is_empty() || context_exists(&ObjectKey::Domain(domain.to_string()));
    let is_context_write = req
        .header("content-type")
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/castorcontext"));
    let missing_domain = || {
        fail(
            StatusCode::PRECONDITION_FAILED,
            format!("Domain {} failed to load.", req.domain),
        )
    };

    match (&req.locator, mutation) {
        (Locator::Root, Mutation::Create) if is_context_write => {
            if req.domain.is_empty() {
                return Err(fail(
                    StatusCode::BAD_REQUEST,
                    "Creating a domain needs a domain name (Host or ?domain=).",
                ));
            }
            Ok(Subject {
                key: ObjectKey::Domain(req.domain.clone()),
                kind: Kind::Domain,
            })
        }
        (Locator::Root, Mutation::Create) => {
            if !domain_ok(&req.domain) {
                return Err(missing_domain());
            }
            let kind = if req.query.flag("alias") {
                Kind::Alias
            } else {
                Kind::Immutable
            };
            Ok(Subject {
                key: ObjectKey::Uuid(String::new()),
                kind,
            })
        }
        (Locator::Root, _) if !req.domain.is_empty() => {
            context_subject(ctx, req, mutation, ObjectKey::Domain(req.domain.clone()))
        }
        (Locator::Root, _) => Err(fail(
            StatusCode::BAD_REQUEST,
            format!("{} needs an object name or UUID.", req.method),
        )),
        (Locator::Uuid(_), Mutation::Create) => Err(fail(
            StatusCode::BAD_REQUEST,
            "POST to a UUID is not a write: use PUT, APPEND or COPY to change an alias object.",
        )),
        (Locator::Uuid(u), _) => Ok(Subject {
            key: ObjectKey::Uuid(u.clone()),
            kind: Kind::Immutable,
        }),
        (Locator::Bucket(b), Mutation::Create) => {
            if !domain_ok(&req.domain) {
                return Err(missing_domain());
            }
            Ok(Subject {
                key: ObjectKey::Bucket {
                    domain: req.domain.clone(),
                    bucket: b.clone(),
                },
                kind: Kind::Bucket,
            })
        }
        (Locator::Bucket(b), _) => {
            if !domain_ok(&req.domain) {
                return Err(missing_domain_409(ctx, req));
            }
            let key = ObjectKey::Bucket {
                domain: req.domain.clone(),
                bucket: b.clone(),
            };
            context_subject(ctx, req, mutation, key)
        }
        (Locator::Named { bucket, name }, _) => {
            let key = ObjectKey::Named {
                domain: req.domain.clone(),
                bucket: bucket.clone(),
                name: name.clone(),
            };
            if mutation == Mutation::Create {
                if let Some(parent) = key.parent_context() {
                    let lenient = ctx.cluster.has(Defect::WriteIntoMissingBucket);
                    if !lenient && (!domain_ok(&req.domain) || !context_exists(&parent)) {
                        let shown = if req.domain.is_empty() {
                            bucket.clone()
                        } else {
                            format!("{}/{}", req.domain, bucket)
                        };
                        return Err(fail(
                            StatusCode::PRECONDITION_FAILED,
                            format!("Bucket {shown} failed to load (412)"),
                        ));
                    }
                }
            } else if !domain_ok(&req.domain) {
                // SCSP-27: the domain is missing or not in this node's cache.
                return Err(missing_domain_409(ctx, req));
            } else if contexts::hides(ctx, &Objects::lock(&ctx.disk), &key.store_key()) {
                // SCSP-21: what a deleted bucket or domain held is gone for clients at once.
                return Err(fail(
                    StatusCode::NOT_FOUND,
                    format!("{} not found.", req.path),
                ));
            }
            Ok(Subject {
                key,
                kind: Kind::Named,
            })
        }
    }
}

/// SCSP-27: the domain is missing or not in this node's cache.
fn missing_domain_409(ctx: &NodeContext, req: &ClientRequest) -> Response<Body> {
    fail(
        if ctx.cluster.has(Defect::MissingDomain404) {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::CONFLICT
        },
        format!(
            "Domain {} does not exist or is not cached here.",
            req.domain
        ),
    )
}

/// PUT, APPEND, COPY and DELETE of a domain or bucket (SCSP-21 and §1.1: a context PUT is
/// always an update, `putcreate` on one is 400). DELETE needs `recursive`; without it the
/// answer is the `context-delete-refusal` choice (400, or 409).
fn context_subject(
    ctx: &NodeContext,
    req: &ClientRequest,
    mutation: Mutation,
    key: ObjectKey,
) -> Result<Subject, Response<Body>> {
    let kind = match key {
        ObjectKey::Domain(_) => Kind::Domain,
        _ => Kind::Bucket,
    };
    if req.query.has("putcreate") {
        return Err(fail(
            StatusCode::BAD_REQUEST,
            "putcreate is not allowed on a domain or bucket.",
        ));
    }
    if mutation == Mutation::Delete {
        let refusal = match ctx.cluster.alternatives.context_delete_refusal {
            ContextDeleteRefusal::Status400 => StatusCode::BAD_REQUEST,
            ContextDeleteRefusal::Status409 => StatusCode::CONFLICT,
        };
        let recursive =
            contexts::recursive_of(&req.query).map_err(|e| fail(StatusCode::BAD_REQUEST, e))?;
        let skip_check = ctx.cluster.has(Defect::ContextDeleteWithoutRecursive);
        if recursive.is_none() && !skip_check {
            return Err(fail(
                refusal,
                format!(
                    "A {} is deleted only with recursive (its contents go too): add ?recursive or ?recursive=now.",
                    kind.name()
                ),
            ));
        }
    }
    Ok(Subject { key, kind })
}

/// Checks the current version against what the request expects (SCSP-12, 17, 18, 40).
fn check_current(
    ctx: &NodeContext,
    req: &ClientRequest,
    mutation: Mutation,
    subject: &Subject,
    current: Option<&Held>,
) -> Result<(), Response<Body>> {
    let live = current.filter(|h| !h.deleted);
    if mutation != Mutation::Create || !subject.kind.is_context() {
        precondition(ctx, req, live)?;
    }
    match mutation {
        Mutation::Create => {
            if subject.kind.is_context() && live.is_some() {
                return Err(fail(StatusCode::CONFLICT, "The context already exists."));
            }
            let over_marker = current.is_some_and(|h| h.deleted);
            if over_marker && ctx.cluster.has(Defect::RecreateAfterDeleteConflict) {
                return Err(fail(StatusCode::CONFLICT, "Later version already exists."));
            }
            Ok(())
        }
        _ => {
            let Some(held) = live else {
                if mutation == Mutation::Replace && ctx.cluster.has(Defect::PutCreatesMissing) {
                    return Ok(());
                }
                if mutation == Mutation::Replace
                    && subject.kind.is_context()
                    && ctx.cluster.has(Defect::ContextPutCreates)
                {
                    return Ok(());
                }
                return Err(fail(
                    StatusCode::NOT_FOUND,
                    format!("{} not found.", req.path),
                ));
            };
            let allowed = held.kind != Kind::Immutable
                || mutation == Mutation::Delete
                || (mutation == Mutation::Replace && ctx.cluster.has(Defect::AllowPutOnImmutable))
                || (mutation == Mutation::Append
                    && ctx.cluster.has(Defect::AllowAppendOnImmutable))
                || (mutation == Mutation::Copy && ctx.cluster.has(Defect::AllowCopyOnImmutable));
            if !allowed {
                return Err(fail(
                    StatusCode::FORBIDDEN,
                    format!("{} is not allowed on an immutable object.", req.method),
                ));
            }
            let renamable = held.kind == Kind::Named
                || (held.kind.is_context() && mutation != Mutation::Delete);
            if req.query.has("newname") && !renamable {
                return Err(fail(
                    StatusCode::BAD_REQUEST,
                    "newname renames named objects, buckets and domains only.",
                ));
            }
            Ok(())
        }
    }
}

/// If-Match and If-None-Match on a write (SCSP-12, SCSP-40): 412 with the current ETag.
fn precondition(
    ctx: &NodeContext,
    req: &ClientRequest,
    live: Option<&Held>,
) -> Result<(), Response<Body>> {
    let mut ignored = Vec::new();
    if ctx.cluster.has(Defect::IgnoreIfMatch) {
        ignored.push("if-match");
    }
    if ctx.cluster.has(Defect::IgnoreIfNoneMatch) {
        ignored.push("if-none-match");
    }
    let current = live.map(|h| Current {
        md5_hex: &h.md5_hex,
        modified_secs: h.modified_secs,
    });
    // The `if-modified-since-on-put` defect judges a write as if it were a read.
    let as_read = ctx.cluster.has(Defect::IfModifiedSinceOnPut);
    match conditional::evaluate_ignoring(
        &req.headers,
        &ignored,
        as_read,
        current,
        ctx.clock.now_ms() / 1000,
    ) {
        Precondition::Proceed => Ok(()),
        Precondition::NotModified | Precondition::Failed => {
            let conflict = ctx.cluster.has(Defect::IfNoneMatchConflict)
                && req.header("if-none-match").is_some();
            let mut r = fail(
                if conflict {
                    StatusCode::CONFLICT
                } else {
                    StatusCode::PRECONDITION_FAILED
                },
                "A precondition (If-Match or If-None-Match) does not hold.",
            );
            if let Some(h) = live {
                if let Ok(v) = format!("\"{}\"", h.md5_hex).parse() {
                    r.headers_mut().insert(http::header::ETAG, v);
                }
            }
            Err(r)
        }
    }
}

/// Candidate nodes for the new version, best first. Updates prefer nodes holding the
/// current version (so old copies are superseded in place); APPEND and COPY can only run
/// where the current content is.
fn rank_candidates(
    ctx: &NodeContext,
    bids: &[Bid],
    key: &str,
    mutation: Mutation,
    current: Option<&Held>,
    needed_bytes: u64,
) -> Vec<usize> {
    let seed = ctx.cluster.placement_seed;
    let writable = placement::rank_for_write(bids, key, seed, needed_bytes);
    if mutation == Mutation::Create && current.is_none() {
        return writable;
    }
    let holders = placement::rank_holders(bids, key, seed);
    let mut ranked: Vec<usize> = holders
        .iter()
        .copied()
        .filter(|n| writable.contains(n) || mutation.needs_current_content())
        .collect();
    if mutation.needs_current_content() {
        // The serving node must hold the content; replication may use any writable node.
        let serving: Vec<usize> = ranked
            .iter()
            .copied()
            .filter(|n| !is_retiring(bids, *n))
            .collect();
        let mut out = if serving.is_empty() {
            ranked.clone()
        } else {
            serving
        };
        for n in writable {
            if !out.contains(&n) {
                out.push(n);
            }
        }
        return out;
    }
    ranked.extend(writable.iter().copied().filter(|n| !holders.contains(n)));
    ranked
}

fn is_retiring(bids: &[Bid], node: usize) -> bool {
    bids.iter().any(|b| b.node == node && b.retiring)
}

async fn read_body(
    ctx: &NodeContext,
    body: Incoming,
    mutation: Mutation,
) -> Result<Bytes, Response<Body>> {
    if mutation == Mutation::Delete {
        return Ok(Bytes::new());
    }
    let collected = collect_owned(body, ctx.cluster.object_bytes_max)
        .await
        .map_err(|e| {
            fail(
                StatusCode::BAD_REQUEST,
                format!("Could not read the request body: {e}"),
            )
        })?;
    if mutation == Mutation::Copy
        && !collected.is_empty()
        && !ctx.cluster.has(Defect::CopyBodyAccepted)
        && !ctx.cluster.has(Defect::CopyBodyRefusedAfterStore)
    {
        return Err(fail(StatusCode::BAD_REQUEST, "COPY carries no body."));
    }
    Ok(collected)
}

/// Stamps a new version on this node's clock. The stamp is truncated to the cluster's
/// version resolution; newest wins, ties go to the higher node id.
pub(crate) fn stamp(ctx: &NodeContext) -> Version {
    let now_ms = ctx.clock.now_ms();
    let resolution = ctx.cluster.version_resolution_ms.max(1);
    Version {
        stamp_ms: now_ms - now_ms % resolution,
        node: ctx.id as u32,
    }
}

/// The stamp of an update of `current`. With skewed clocks (`clock-skew` alternative) a
/// node whose clock runs behind the one that stamped the current version stamps just after
/// it instead (a hybrid clock), so updates a second apart stay ordered whichever node
/// serves them. Without skew this is `stamp`.
pub(crate) fn stamp_after(ctx: &NodeContext, current: Option<&Held>) -> Version {
    let mut version = stamp(ctx);
    if ctx.cluster.alternatives.clock_skew == ClockSkew::Minute {
        if let Some(c) = current {
            if version <= c.version {
                let resolution = ctx.cluster.version_resolution_ms.max(1);
                version.stamp_ms = c.version.stamp_ms + resolution;
            }
        }
    }
    version
}

/// SCSP-19: a version not newer than the current one is refused with 409, unless a defect
/// lets it through (then it is answered 201 and lost).
pub(crate) fn check_newer(
    ctx: &NodeContext,
    version: Version,
    current: Option<&Held>,
) -> Result<(), Response<Body>> {
    let Some(c) = current else { return Ok(()) };
    let within_second = version.stamp_ms.saturating_sub(c.version.stamp_ms) < 1000;
    if version > c.version
        && !c.deleted
        && within_second
        && ctx.cluster.has(Defect::UpdateRateLimited)
    {
        return Err(fail(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many updates of this object; retry in a second.",
        ));
    }
    if version > c.version {
        return Ok(());
    }
    let same_second = version.stamp_ms / 1000 == c.version.stamp_ms / 1000;
    if ctx.cluster.has(Defect::NeverConflict)
        || (same_second && ctx.cluster.has(Defect::SameSecondAlwaysNewer))
    {
        return Ok(());
    }
    Err(fail(StatusCode::CONFLICT, "Later version already exists."))
}

/// Builds the new version on the serving node, of the subject whose store key is `key`.
fn build_record(
    ctx: &NodeContext,
    req: &ClientRequest,
    mutation: Mutation,
    subject: &Subject,
    key: &str,
    current: Option<&Held>,
    body: Bytes,
) -> Result<Record, Response<Body>> {
    let old_key = match &subject.key {
        ObjectKey::Uuid(u) if u.is_empty() => None,
        _ => Some(key),
    };
    let stored = old_key
        .and_then(|k| Objects::lock(&ctx.disk).get(k))
        .filter(|s| current.is_some_and(|c| c.version == s.version) && !s.deleted);
    if mutation.needs_current_content() && stored.is_none() {
        return Err(fail(
            StatusCode::NOT_FOUND,
            "This node does not hold the current version; resend to the access node.",
        ));
    }
    // SCSP-25: a digest is checked against the body, or for COPY the stored content.
    let digest_of = match mutation {
        Mutation::Copy if ctx.cluster.has(Defect::CopyMd5OfRequestBody) => body.clone(),
        Mutation::Copy => stored
            .as_ref()
            .map(|s| s.content.clone())
            .unwrap_or_default(),
        _ => body.clone(),
    };
    let unchecked = if mutation == Mutation::Copy {
        ctx.cluster.has(Defect::CopyContentMd5Unchecked)
    } else {
        ctx.cluster.has(Defect::ContentMd5UncheckedOnWrite)
    };
    let checked = if unchecked {
        Ok(())
    } else {
        limits::check_content_md5(&req.headers, &digest_of)
    };
    if let Err(e) = checked {
        // SCSP-26: a failed COPY of an alias object is 403.
        let alias = current.is_some_and(|c| c.kind == Kind::Alias);
        let status =
            if mutation == Mutation::Copy && alias && !ctx.cluster.has(Defect::AliasCopyFailure400)
            {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::BAD_REQUEST
            };
        return Err(fail(status, e));
    }
    let version = stamp_after(ctx, current);
    check_newer(ctx, version, current)?;
    let key = match (&subject.key, req.query.get("newname")) {
        (ObjectKey::Uuid(u), _) if u.is_empty() => {
            ObjectKey::Uuid(new_uuid(rt::random_u64(), rt::random_u64()))
        }
        (ObjectKey::Named { domain, bucket, .. }, Some(newname))
            if mutation != Mutation::Create && !ctx.cluster.has(Defect::RenameIgnored) =>
        {
            if newname.is_empty() || newname.starts_with('/') {
                return Err(fail(
                    StatusCode::BAD_REQUEST,
                    "newname needs a name within the bucket.",
                ));
            }
            ObjectKey::Named {
                domain: domain.clone(),
                bucket: bucket.clone(),
                name: newname.to_string(),
            }
        }
        (ObjectKey::Bucket { domain, .. }, Some(newname)) if mutation != Mutation::Delete => {
            if newname.is_empty() || newname.contains('/') {
                return Err(fail(
                    StatusCode::BAD_REQUEST,
                    "newname needs a bucket name without `/`.",
                ));
            }
            ObjectKey::Bucket {
                domain: domain.clone(),
                bucket: newname.to_string(),
            }
        }
        (ObjectKey::Domain(_), Some(newname)) if mutation != Mutation::Delete => {
            if newname.is_empty() || newname.contains('/') {
                return Err(fail(
                    StatusCode::BAD_REQUEST,
                    "newname needs a domain name.",
                ));
            }
            ObjectKey::Domain(newname.to_ascii_lowercase())
        }
        (other, _) => other.clone(),
    };
    let renamed_context = subject.kind.is_context() && key != subject.key;
    if renamed_context {
        let taken = Objects::lock(&ctx.disk)
            .with_record(&key.store_key(), |r| !r.deleted)
            .unwrap_or(false);
        if taken {
            return Err(fail(
                StatusCode::CONFLICT,
                "A context of the new name already exists.",
            ));
        }
    }
    let kind = match (current, mutation) {
        (Some(c), m) if m != Mutation::Create => c.kind,
        _ => subject.kind,
    };
    let (content, mut meta) = compose(ctx, req, mutation, stored.as_ref(), body);
    if mutation == Mutation::Delete && kind.is_context() {
        let now_ms = ctx.clock.now_ms();
        let purge_at = match contexts::recursive_of(&req.query) {
            Ok(Some(contexts::Recursive::Now)) => now_ms,
            _ => now_ms.saturating_add(ctx.cluster.recursive_delete_delay.as_millis() as u64),
        };
        meta.insert(contexts::PURGE_AFTER.to_string(), purge_at.to_string());
    }
    // A renamed context names where its contents come from, once: later updates drop it.
    meta.remove(contexts::RENAMED_FROM);
    if renamed_context {
        meta.insert(contexts::RENAMED_FROM.to_string(), subject.key.store_key());
    }
    Ok(compose::record(
        key.store_key(),
        kind,
        version,
        mutation == Mutation::Delete,
        content,
        meta,
    ))
}

async fn store_and_replicate(
    ctx: &NodeContext,
    req: &ClientRequest,
    mutation: Mutation,
    record: Record,
    renamed_from: Option<String>,
    plan: SyncPlan,
    candidates: &[usize],
) -> Outcome {
    let previous = Objects::lock(&ctx.disk).get(&record.key);
    let stored = ctx.persist(&mut Objects::lock(&ctx.disk), &record);
    let mut dropped = Vec::new();
    if stored.is_ok() && !ctx.cluster.has(Defect::RecursiveDeleteLeavesObjects) {
        dropped = contexts::dropped_objects(&Objects::lock(&ctx.disk), previous.as_ref(), &record);
        contexts::after_store(
            &mut Objects::lock(&ctx.disk),
            previous.as_ref(),
            &record,
            ctx.clock.now_ms(),
        );
    }
    if let Err(DiskError::Full {
        needed_bytes,
        free_bytes,
    }) = stored
    {
        if ctx.cluster.has(Defect::AcceptWritesOnFullDisk) {
            return Ok(success(ctx, req, mutation, &record, 1));
        }
        ctx.trace(format!(
            "{} {} 507 needs {needed_bytes} has {free_bytes}",
            req.method, record.key
        ));
        return Err(fail(
            StatusCode::INSUFFICIENT_STORAGE,
            "Not enough disk space to store requested content.",
        ));
    }
    let peers = replication::push_to(ctx, &record, candidates, plan.sync_replicas - 1).await;
    let replicas = 1 + peers.len();
    if replicas < plan.success_min {
        roll_back(ctx, &record, previous, &peers).await;
        ctx.trace(format!(
            "{} {} 412 replicas {replicas}/{}",
            req.method, record.key, plan.success_min
        ));
        return Err(fail(
            StatusCode::PRECONDITION_FAILED,
            format!(
                "Only {replicas} of {} required replicas could be written.",
                plan.success_min
            ),
        ));
    }
    if let Some(old_key) = renamed_from {
        if !ctx.cluster.has(Defect::RenameKeepsOldName) {
            // SCSP-28: the old name now reads as deleted, on every node that held it.
            let marker = compose::record(
                old_key,
                record.kind,
                record.version,
                true,
                Bytes::new(),
                Default::default(),
            );
            let _ = ctx.persist(&mut Objects::lock(&ctx.disk), &marker);
            replication::push_to(ctx, &marker, candidates, plan.sync_replicas - 1).await;
            journal::record(ctx, &marker);
        }
    }
    journal::record_dropped(ctx, &record.key, &dropped);
    journal::record(ctx, &record);
    ctx.trace(stored_event(req, &record, replicas, &plan));
    let reported = if ctx.cluster.has(Defect::ReplicaCountReportsPolicy) {
        plan.policy_replicas
    } else {
        replicas
    };
    Ok(success(ctx, req, mutation, &record, reported))
}

/// The trace event of a stored write, `POST n//b/x v1.234 stored replicas 2/2 sync 2`, built
/// without the formatter: every write records one.
fn stored_event(req: &ClientRequest, record: &Record, replicas: usize, plan: &SyncPlan) -> String {
    let version = record.version.castor_system_version();
    let mut event = String::with_capacity(req.method.len() + record.key.len() + version.len() + 48);
    event.push_str(&req.method);
    event.push(' ');
    event.push_str(&record.key);
    event.push_str(" v");
    event.push_str(&version);
    event.push_str(" stored replicas ");
    event.push_str(itoa::Buffer::new().format(replicas));
    event.push('/');
    event.push_str(itoa::Buffer::new().format(plan.policy_replicas));
    event.push_str(" sync ");
    event.push_str(itoa::Buffer::new().format(plan.sync_replicas));
    event
}

async fn roll_back(ctx: &NodeContext, record: &Record, previous: Option<Record>, peers: &[usize]) {
    {
        let mut disk = Objects::lock(&ctx.disk);
        disk.remove(&record.key);
        if let Some(p) = previous {
            let _ = disk.write_synced(&p);
        }
    }
    for &node in peers {
        let _ = peer::discard(
            &ctx.pool,
            ctx.cluster.nodes[node],
            &record.key,
            record.version,
            ctx.cluster.peer_timeout,
        )
        .await;
    }
}

/// The path a client uses for a record: `/<uuid>` or the bucket and name.
pub(crate) fn client_path(record: &Record) -> String {
    let key = record.key.as_str();
    if let Some(uuid) = key.strip_prefix("u/") {
        return rooted(uuid);
    }
    // n/<domain>/<bucket>/<name>
    if let Some(rest) = key.strip_prefix("n/") {
        if let Some((_, bucket_and_name)) = rest.split_once('/') {
            return rooted(bucket_and_name);
        }
    }
    rooted(key)
}

/// `/` followed by `rest`.
fn rooted(rest: &str) -> String {
    let mut path = String::with_capacity(rest.len() + 1);
    path.push('/');
    path.push_str(rest);
    path
}

/// The 201 (or 200 for DELETE) as seed-000 describes it.
pub(crate) fn success(
    ctx: &NodeContext,
    req: &ClientRequest,
    mutation: Mutation,
    record: &Record,
    replicas: usize,
) -> Response<Body> {
    let replica_count = if ctx.cluster.has(Defect::OverstateReplicaCount) {
        replicas + 1
    } else {
        replicas
    };
    // SCSP-10 requires the header above one; whether one is shown is a choice (row 7).
    let show_count = (replica_count > 1
        || ctx.cluster.alternatives.replica_count_one == ReplicaCountOne::Present)
        && !ctx.cluster.has(Defect::OmitReplicaCount);
    if mutation == Mutation::Delete {
        let no_content = ctx.cluster.alternatives.delete_status == DeleteStatus::Status204;
        let mut b = response::builder(if no_content {
            StatusCode::NO_CONTENT
        } else {
            StatusCode::OK
        })
        .header(
            CASTOR_SYSTEM_VERSION,
            record.version.castor_system_version(),
        );
        if show_count {
            b = b.header(REPLICA_COUNT, replica_count);
        }
        if no_content {
            return response::finish(b, response::empty());
        }
        b = b.header(http::header::CONTENT_TYPE, "text/html");
        return response::finish(b, response::full("The object was deleted as requested."));
    }
    let mut object_path = match record.kind {
        Kind::Named | Kind::Immutable | Kind::Alias => client_path(record),
        Kind::Bucket => rooted(record.key.rsplit('/').next().unwrap_or("")),
        Kind::Domain => "/".to_string(),
        Kind::Upload => req.path.clone(),
    };
    if record.kind == Kind::Named && ctx.cluster.has(Defect::LocationWithoutName) {
        if let Some((bucket, _)) = object_path.rsplit_once('/') {
            object_path = bucket.to_string();
        }
    }
    let mut uuid = record.key.trim_start_matches("u/").to_string();
    if record.kind == Kind::Alias
        && mutation != Mutation::Create
        && ctx.cluster.has(Defect::AliasPutNewUuid)
    {
        uuid = new_uuid(rt::random_u64(), rt::random_u64());
        object_path = rooted(&uuid);
    }
    if ctx.cluster.has(Defect::ContentUuidUpperCase) {
        uuid = uuid.to_ascii_uppercase();
    }
    // A renamed domain is named by its new name.
    let domain = req
        .domain_from_query
        .then(|| match record.key.strip_prefix("d/") {
            Some(d) if record.kind == Kind::Domain => d,
            _ => req.domain.as_str(),
        });
    let query_len = domain.map_or(0, |d| d.len() + 8);
    let mut location = ctx.node_url(ctx.id, &object_path, query_len);
    if let Some(domain) = domain {
        location.push_str("?domain=");
        location.push_str(domain);
    }
    const CREATED: &str = "A new object has been created as requested.  Its URL is ";
    let mut body = String::with_capacity(CREATED.len() + location.len());
    body.push_str(CREATED);
    body.push_str(&location);
    let content_type = if ctx.cluster.has(Defect::ContentTypeOfObject) {
        req.header("content-type")
            .unwrap_or("application/octet-stream")
    } else {
        "text/html"
    };
    let mut b = response::builder(StatusCode::CREATED)
        .header(http::header::LOCATION, &location)
        .header(http::header::CONTENT_TYPE, content_type)
        .header(http::header::LAST_MODIFIED, record.version.last_modified())
        .header(http::header::ETAG, record.etag())
        .header(
            CASTOR_SYSTEM_VERSION,
            record.version.castor_system_version(),
        );
    if record.kind.is_unnamed() && !ctx.cluster.has(Defect::OmitContentUuid) {
        b = b.header(CONTENT_UUID, uuid);
    }
    if ctx.cluster.has(Defect::CreatedLengthOfObject) && req.header("content-type").is_some() {
        if let Some(length) = req.header("content-length") {
            b = b.header(http::header::CONTENT_LENGTH, length);
            return response::finish(b, response::streamed(body));
        }
    }
    if show_count {
        b = b.header(REPLICA_COUNT, replica_count);
    }
    response::finish(b, response::full(body))
}
