//! Every request that makes a new version: WRITE (POST), UPDATE (PUT), APPEND, COPY and
//! DELETE share one path: decide where it runs, build the new record, store it, replicate it.
//!
//! Rules covered: SCSP-1, 2, 7, 8, 9, 10, 12, 13, 14, 15, 17, 18.

use bytes::{Bytes, BytesMut};
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use crate::rt;
use crate::scsp::cluster_view::gather_bids;
use crate::scsp::config::NodeContext;
use crate::scsp::defects::Defect;
use crate::scsp::key::{new_uuid, Locator, ObjectKey};
use crate::scsp::metadata;
use crate::scsp::object::{md5_hex, Kind, Record, Version};
use crate::scsp::peer::{self, Bid, Held};
use crate::scsp::placement;
use crate::scsp::redirect;
use crate::scsp::replication::{self, SyncPlan};
use crate::scsp::request::ClientRequest;
use crate::scsp::response::{self, Body};
use crate::store::{Disk, DiskError};

/// The kind of new version a request makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutation {
    /// POST: create an object or context, or overwrite a named object.
    Create,
    /// PUT: replace the content of an existing named or alias object.
    Replace,
    /// APPEND: add bytes to the end of an existing named or alias object.
    Append,
    /// COPY: replace the metadata of an existing named or alias object, content unchanged.
    Copy,
    /// DELETE: write a deletion marker.
    Delete,
}

impl Mutation {
    /// Mutations that need the current content on the serving node.
    fn needs_current_content(self) -> bool {
        matches!(self, Mutation::Append | Mutation::Copy)
    }
}

/// What the request is about, once resolved.
struct Subject {
    key: ObjectKey,
    kind: Kind,
}

/// Handles one mutating request end to end.
pub async fn handle(
    ctx: &NodeContext,
    req: &ClientRequest,
    body: Incoming,
    mutation: Mutation,
) -> Response<Body> {
    match run(ctx, req, body, mutation).await {
        Ok(r) | Err(r) => r,
    }
}

type Outcome = Result<Response<Body>, Response<Body>>;

fn fail(status: StatusCode, message: impl AsRef<str>) -> Response<Body> {
    response::error(status, message.as_ref())
}

async fn run(
    ctx: &NodeContext,
    req: &ClientRequest,
    body: Incoming,
    mutation: Mutation,
) -> Outcome {
    check_length(ctx, req, mutation)?;
    let subject = resolve(ctx, req, mutation)?;
    let key = subject.key.store_key();

    // Unnamed creations get their UUID on the serving node; the bid key is a nonce so that
    // placement spreads them over the cluster.
    let bid_key = match (&subject.key, mutation) {
        (ObjectKey::Uuid(u), Mutation::Create) if u.is_empty() => {
            format!("u/?{:016x}", rt::random_u64())
        }
        _ => key.clone(),
    };
    let bids = gather_bids(ctx, &bid_key).await;
    let current = placement::newest(&bids);
    check_current(ctx, req, mutation, &subject, current)?;

    let declared_bytes = req
        .header("content-length")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let probe = Record {
        key: key.clone(),
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
    let plan = replication::plan(&ctx.cluster, &probe, &req.query)
        .map_err(|e| fail(StatusCode::BAD_REQUEST, e.0))?;
    let candidates = rank_candidates(
        ctx,
        &bids,
        &bid_key,
        mutation,
        current,
        declared_bytes + 256,
    );

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

    let serve_here = req.pinned || candidates.first() == Some(&ctx.id);
    if !serve_here {
        // Retiring nodes never serve themselves; everyone else follows the best bid.
        return Ok(redirect::to_node(ctx, req, candidates[0]));
    }

    let content = read_body(ctx, body, mutation).await?;
    let record = build_record(ctx, req, mutation, &subject, current, content)?;
    store_and_replicate(ctx, req, mutation, record, plan, &candidates).await
}

/// SCSP-14: a WRITE must say how long its body is; bodies over the limit are refused early.
fn check_length(
    ctx: &NodeContext,
    req: &ClientRequest,
    mutation: Mutation,
) -> Result<(), Response<Body>> {
    let declared = req.header("content-length");
    if mutation == Mutation::Create
        && declared.is_none()
        && !ctx.cluster.has(Defect::AcceptMissingContentLength)
    {
        return Err(fail(
            StatusCode::LENGTH_REQUIRED,
            "Content-Length is required on WRITE.",
        ));
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
        if mutation == Mutation::Copy && n != 0 {
            return Err(fail(
                StatusCode::BAD_REQUEST,
                "COPY carries no body: Content-Length must be absent or 0.",
            ));
        }
    }
    Ok(())
}

/// Works out the key and kind, and checks the contexts it needs (SCSP-13).
fn resolve(
    ctx: &NodeContext,
    req: &ClientRequest,
    mutation: Mutation,
) -> Result<Subject, Response<Body>> {
    let context_exists = |key: &ObjectKey| {
        let disk = Disk::lock(&ctx.disk);
        disk.get(&key.store_key()).is_some_and(|r| !r.deleted)
    };
    let domain_ok =
        |domain: &str| domain.is_empty() || context_exists(&ObjectKey::Domain(domain.to_string()));
    let is_context_write = req
        .header("content-type")
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/castorcontext"));

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
                return Err(fail(
                    StatusCode::PRECONDITION_FAILED,
                    format!("Domain {} failed to load.", req.domain),
                ));
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
                return Err(fail(
                    StatusCode::PRECONDITION_FAILED,
                    format!("Domain {} failed to load.", req.domain),
                ));
            }
            Ok(Subject {
                key: ObjectKey::Bucket {
                    domain: req.domain.clone(),
                    bucket: b.clone(),
                },
                kind: Kind::Bucket,
            })
        }
        (Locator::Bucket(_), _) => Err(fail(
            StatusCode::NOT_IMPLEMENTED,
            format!(
                "{} on a bucket is not implemented by the reference node.",
                req.method
            ),
        )),
        (Locator::Named { bucket, name }, _) => {
            let key = ObjectKey::Named {
                domain: req.domain.clone(),
                bucket: bucket.clone(),
                name: name.clone(),
            };
            if mutation == Mutation::Create {
                if let Some(parent) = key.parent_context() {
                    if !domain_ok(&req.domain) || !context_exists(&parent) {
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
            }
            Ok(Subject {
                key,
                kind: Kind::Named,
            })
        }
    }
}

/// Checks the current version against what the request expects (SCSP-12, 17, 18).
fn check_current(
    ctx: &NodeContext,
    req: &ClientRequest,
    mutation: Mutation,
    subject: &Subject,
    current: Option<Held>,
) -> Result<(), Response<Body>> {
    let live = current.filter(|h| !h.deleted);
    match mutation {
        Mutation::Create => {
            let if_none_match_any = req.header("if-none-match").is_some_and(|v| v.trim() == "*");
            if if_none_match_any && live.is_some() && !ctx.cluster.has(Defect::IgnoreIfNoneMatch) {
                return Err(fail(
                    StatusCode::PRECONDITION_FAILED,
                    "If-None-Match: * and the object exists.",
                ));
            }
            if subject.kind.is_context() && live.is_some() {
                return Err(fail(StatusCode::CONFLICT, "The context already exists."));
            }
            Ok(())
        }
        _ => {
            let Some(held) = live else {
                if mutation == Mutation::Replace && ctx.cluster.has(Defect::PutCreatesMissing) {
                    return Ok(());
                }
                return Err(fail(
                    StatusCode::NOT_FOUND,
                    format!("{} not found.", req.path),
                ));
            };
            let allowed = held.kind != Kind::Immutable
                || mutation == Mutation::Delete
                || (mutation == Mutation::Replace && ctx.cluster.has(Defect::AllowPutOnImmutable));
            if !allowed {
                return Err(fail(
                    StatusCode::FORBIDDEN,
                    format!("{} is not allowed on an immutable object.", req.method),
                ));
            }
            Ok(())
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
    current: Option<Held>,
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
    let collected = Limited::new(body, ctx.cluster.object_bytes_max)
        .collect()
        .await
        .map_err(|e| {
            fail(
                StatusCode::BAD_REQUEST,
                format!("Could not read the request body: {e}"),
            )
        })?
        .to_bytes();
    if mutation == Mutation::Copy && !collected.is_empty() {
        return Err(fail(StatusCode::BAD_REQUEST, "COPY carries no body."));
    }
    Ok(collected)
}

/// Builds the new version on the serving node (SCSP-19's 409 for a stale stamp).
fn build_record(
    ctx: &NodeContext,
    req: &ClientRequest,
    mutation: Mutation,
    subject: &Subject,
    current: Option<Held>,
    body: Bytes,
) -> Result<Record, Response<Body>> {
    let stored = {
        let disk = Disk::lock(&ctx.disk);
        subject.key_if_named().and_then(|k| disk.get(&k).cloned())
    };
    if mutation.needs_current_content() {
        let fresh = match (&stored, current) {
            (Some(s), Some(c)) => s.version == c.version && !s.deleted,
            _ => false,
        };
        if !fresh {
            return Err(fail(
                StatusCode::NOT_FOUND,
                "This node does not hold the current version; resend to the access node.",
            ));
        }
    }
    let version = Version {
        stamp_ms: ctx.clock.now_ms(),
        node: ctx.id as u32,
    };
    if let Some(c) = current {
        if version <= c.version {
            return Err(fail(StatusCode::CONFLICT, "Later version already exists."));
        }
    }
    let key = match &subject.key {
        ObjectKey::Uuid(u) if u.is_empty() => {
            ObjectKey::Uuid(new_uuid(rt::random_u64(), rt::random_u64()))
        }
        other => other.clone(),
    };
    let kind = match (current, mutation) {
        (Some(c), m) if m != Mutation::Create => c.kind,
        _ => subject.kind,
    };
    let (content, meta) = match mutation {
        Mutation::Create | Mutation::Replace => (body, metadata::persisted(&req.headers)),
        Mutation::Append => {
            let old = stored
                .as_ref()
                .map(|s| s.content.clone())
                .unwrap_or_default();
            let mut joined = BytesMut::with_capacity(old.len() + body.len());
            joined.extend_from_slice(&old);
            joined.extend_from_slice(&body);
            (joined.freeze(), stored.map(|s| s.meta).unwrap_or_default())
        }
        Mutation::Copy => (
            stored.map(|s| s.content).unwrap_or_default(),
            metadata::persisted(&req.headers),
        ),
        Mutation::Delete => (Bytes::new(), Default::default()),
    };
    Ok(Record {
        key: key.store_key(),
        kind,
        version,
        deleted: mutation == Mutation::Delete,
        md5_hex: md5_hex(&content),
        meta,
        content,
    })
}

impl Subject {
    fn key_if_named(&self) -> Option<String> {
        match &self.key {
            ObjectKey::Uuid(u) if u.is_empty() => None,
            k => Some(k.store_key()),
        }
    }
}

async fn store_and_replicate(
    ctx: &NodeContext,
    req: &ClientRequest,
    mutation: Mutation,
    record: Record,
    plan: SyncPlan,
    candidates: &[usize],
) -> Outcome {
    let previous = Disk::lock(&ctx.disk).get(&record.key).cloned();
    let stored = ctx.persist(&mut Disk::lock(&ctx.disk), record.clone());
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
    ctx.trace(format!(
        "{} {} v{} stored replicas {replicas}/{} sync {}",
        req.method,
        record.key,
        record.version.castor_system_version(),
        plan.policy_replicas,
        plan.sync_replicas
    ));
    Ok(success(ctx, req, mutation, &record, replicas))
}

async fn roll_back(ctx: &NodeContext, record: &Record, previous: Option<Record>, peers: &[usize]) {
    {
        let mut disk = Disk::lock(&ctx.disk);
        disk.remove(&record.key);
        if let Some(p) = previous {
            let _ = disk.write_synced(p);
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

/// The 201 (or 200 for DELETE) as seed-000 describes it.
fn success(
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
    if mutation == Mutation::Delete {
        let mut b = response::builder(StatusCode::OK)
            .header(http::header::CONTENT_TYPE, "text/html")
            .header(
                "Castor-System-Version",
                record.version.castor_system_version(),
            );
        if replica_count > 1 {
            b = b.header("Replica-Count", replica_count.to_string());
        }
        return response::finish(b, response::full("The object was deleted as requested."));
    }
    let object_path = match record.kind {
        Kind::Immutable | Kind::Alias => format!("/{}", record.key.trim_start_matches("u/")),
        _ => req.path.clone(),
    };
    let mut location = format!("http://{}{}", ctx.addr(), object_path);
    if req.domain_from_query {
        location.push_str(&format!("?domain={}", req.domain));
    }
    let body = format!("A new object has been created as requested.  Its URL is {location}");
    let content_type = if ctx.cluster.has(Defect::ContentTypeOfObject) {
        req.header("content-type")
            .unwrap_or("application/octet-stream")
            .to_string()
    } else {
        "text/html".to_string()
    };
    let mut b = response::builder(StatusCode::CREATED)
        .header(http::header::LOCATION, &location)
        .header(http::header::CONTENT_TYPE, content_type)
        .header(http::header::LAST_MODIFIED, record.version.last_modified())
        .header(http::header::ETAG, record.etag())
        .header(
            "Castor-System-Version",
            record.version.castor_system_version(),
        );
    if record.kind.is_unnamed() && !ctx.cluster.has(Defect::OmitContentUuid) {
        b = b.header("Content-UUID", record.key.trim_start_matches("u/"));
    }
    if replica_count > 1 {
        b = b.header("Replica-Count", replica_count.to_string());
    }
    response::finish(b, response::full(body))
}
