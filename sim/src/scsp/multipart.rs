//! Multipart uploads (SCSP-31..36): initiate, parts, and a completion that answers
//! 202 Accepted at once, sends keep-alive whitespace while it assembles, and ends with the
//! real result in the body and in the trailer `castor-system-result`.
//!
//! The docs give no format for the final result; ours is provisional (docs/choices.md):
//! the body's last line is a JSON object `{"status":201,"reason":"Created",...}` and the
//! trailer is `castor-system-result: 201 Created` (the status code and reason phrase).
//!
//! An upload's state is a record of kind `Upload` (key `m/<upload id>`) kept on every
//! node like a context, so parts and the completion may reach any node. The assembled
//! object is written in one step at the end: no partial object is ever visible.

use std::collections::{BTreeMap, BTreeSet};

use bytes::{Bytes, BytesMut};
use futures::channel::{mpsc, oneshot};
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use serde::{Deserialize, Serialize};

use crate::rt;
use crate::scsp::alternatives::{BadManifest, InitiateStatus, ResultBody};
use crate::scsp::cluster_view::{fetch_newest, gather_bids};
use crate::scsp::compose::{self, COMPOSITE_MD5, ENCODING};
use crate::scsp::config::NodeContext;
use crate::scsp::defects::Defect;
use crate::scsp::key::{new_uuid, Locator, ObjectKey};
use crate::scsp::metadata;
use crate::scsp::object::{Kind, Record, Version};
use crate::scsp::placement;
use crate::scsp::records::Objects;
use crate::scsp::replication;
use crate::scsp::request::ClientRequest;
use crate::scsp::response::{self, Body, BodyError};
use crate::scsp::write::{self, check_newer, fail, stamp, stamp_after, Subject};

/// The trailer that carries a 202's final status.
pub const RESULT_TRAILER: &str = "castor-system-result";
/// The header that names an upload.
pub const UPLOAD_ID_HEADER: &str = "Castor-System-UploadID";
/// The header naming the source of a COPY-by-part (provisional, see docs/choices.md).
pub const COPY_SOURCE_HEADER: &str = "castor-copy-source";
const UPLOAD_META: &str = "castor-system-upload";
const PART_META: &str = "castor-system-part";
/// Highest part number accepted.
pub const PART_NUMBER_MAX: u32 = 10_000;

/// What kind of multipart request this is, from its query arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `?uploads` on POST, PUT or APPEND.
    Initiate,
    /// `?partNumber=N&uploadId=ID` on POST.
    Part {
        /// Upload id.
        upload: String,
        /// Part number (raw, validated later).
        number: String,
    },
    /// `?partNumber=N&uploadId=ID` on COPY: a part copied from another object.
    CopyPart {
        /// Upload id.
        upload: String,
        /// Part number (raw).
        number: String,
    },
    /// `?uploadId=ID` on POST with a JSON manifest.
    Complete {
        /// Upload id.
        upload: String,
    },
}

/// Classifies a request; `None` when it is not a multipart request.
pub fn step_of(req: &ClientRequest) -> Option<Step> {
    let upload = req.query.get("uploadid").map(str::to_string);
    let number = req.query.get("partnumber").map(str::to_string);
    match (req.method.as_str(), upload, number) {
        ("POST" | "PUT" | "APPEND", None, _) if req.query.has("uploads") => Some(Step::Initiate),
        ("POST", Some(upload), Some(number)) => Some(Step::Part { upload, number }),
        ("COPY", Some(upload), Some(number)) => Some(Step::CopyPart { upload, number }),
        ("POST", Some(upload), None) => Some(Step::Complete { upload }),
        _ => None,
    }
}

/// The state of an open upload, stored as the content of its `Upload` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadState {
    /// The upload id.
    pub id: String,
    /// Store key of the object being assembled.
    pub target_key: String,
    /// Its kind.
    pub target_kind: Kind,
    /// The method that initiated it: POST, PUT or APPEND.
    pub method: String,
    /// For PUT: the version the target had at initiate (completion fails if it changed).
    pub target_version: Option<Version>,
    /// The domain the initiate named (parts must repeat it).
    pub domain: String,
    /// Custom metadata given at initiate (it wins over metadata given at completion).
    pub meta: BTreeMap<String, String>,
}

/// The completion manifest.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The parts, in the order the client lists them.
    pub parts: Vec<ManifestPart>,
}

/// One part of a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ManifestPart {
    /// The part number.
    pub part_number: u32,
    /// The part's UUID.
    pub uuid: String,
}

fn upload_key(id: &str) -> String {
    format!("m/{id}")
}

fn open_upload(ctx: &NodeContext, id: &str) -> Option<UploadState> {
    let disk = Objects::lock(&ctx.disk);
    let record = disk.get(&upload_key(id)).filter(|r| !r.deleted)?;
    serde_json::from_slice(&record.content).ok()
}

fn no_such_upload(id: &str) -> Response<Body> {
    fail(StatusCode::NOT_FOUND, format!("No open upload {id}."))
}

/// Handles a multipart request.
pub async fn handle(
    ctx: &NodeContext,
    req: &ClientRequest,
    body: Incoming,
    step: Step,
) -> Response<Body> {
    let md5_refused = match step {
        Step::Initiate => !ctx.cluster.has(Defect::ContentMd5OnInitiateAccepted),
        Step::Complete { .. } => !ctx.cluster.has(Defect::ContentMd5OnCompleteAccepted),
        _ => false,
    };
    let has_body = req
        .header("content-length")
        .is_some_and(|n| n.trim() != "0");
    if step == Step::Initiate && has_body && ctx.cluster.has(Defect::InitiateBodyRefused) {
        return fail(
            StatusCode::BAD_REQUEST,
            "A multipart initiate carries no body.",
        );
    }
    if req.header("content-md5").is_some() && md5_refused {
        return fail(
            StatusCode::BAD_REQUEST,
            "Content-MD5 is not allowed on multipart initiate or complete (SCSP-34).",
        );
    }
    match step {
        Step::Initiate => initiate(ctx, req).await,
        Step::Part { upload, number } => part(ctx, req, body, &upload, &number).await,
        Step::CopyPart { upload, number } => copy_part(ctx, req, &upload, &number).await,
        Step::Complete { upload } => complete(ctx, req, body, &upload).await,
    }
}

async fn initiate(ctx: &NodeContext, req: &ClientRequest) -> Response<Body> {
    let mut target_version = None;
    let (target_key, target_kind) = match (&req.locator, req.method.as_str()) {
        (Locator::Root, "POST") => {
            let kind = if req.query.flag("alias") {
                Kind::Alias
            } else {
                Kind::Immutable
            };
            (
                ObjectKey::Uuid(new_uuid(rt::random_u64(), rt::random_u64())).store_key(),
                kind,
            )
        }
        (Locator::Named { bucket, name }, _) => {
            let key = ObjectKey::Named {
                domain: req.domain.clone(),
                bucket: bucket.clone(),
                name: name.clone(),
            };
            let bucket_key = ObjectKey::Bucket {
                domain: req.domain.clone(),
                bucket: bucket.clone(),
            };
            if Objects::lock(&ctx.disk)
                .get(&bucket_key.store_key())
                .is_none_or(|r| r.deleted)
            {
                return fail(
                    StatusCode::PRECONDITION_FAILED,
                    format!("Bucket {bucket} failed to load (412)"),
                );
            }
            (key.store_key(), Kind::Named)
        }
        (Locator::Uuid(u), "PUT" | "APPEND") => {
            (ObjectKey::Uuid(u.clone()).store_key(), Kind::Alias)
        }
        _ => {
            return fail(
                StatusCode::BAD_REQUEST,
                "A multipart upload targets /, /<uuid> or /<bucket>/<name>.",
            )
        }
    };
    if req.method != "POST" {
        let Some(current) = fetch_newest(ctx, &target_key).await.filter(|r| !r.deleted) else {
            return fail(StatusCode::NOT_FOUND, format!("{} not found.", req.path));
        };
        if current.kind == Kind::Immutable {
            return fail(
                StatusCode::FORBIDDEN,
                "Immutable objects cannot be updated.",
            );
        }
        if req.method == "APPEND"
            && !current.meta.contains_key(ENCODING)
            && !ctx.cluster.has(Defect::AppendInitiateAnyTarget)
        {
            return fail(
                StatusCode::BAD_REQUEST,
                "APPEND-initiate needs an erasure-coded target (SCSP-34).",
            );
        }
        target_version = Some(current.version);
    }
    let id = format!("{:016x}{:016x}", rt::random_u64(), rt::random_u64());
    let mut meta = metadata::persisted(&req.headers);
    meta.extend(compose::encoding_of(&req.query));
    let state = UploadState {
        id: id.clone(),
        target_key: target_key.clone(),
        target_kind,
        method: req.method.clone(),
        target_version,
        domain: req.domain.clone(),
        meta,
    };
    let content = Bytes::from(serde_json::to_vec(&state).unwrap_or_default());
    let record = compose::record(
        upload_key(&id),
        Kind::Upload,
        stamp(ctx),
        false,
        content,
        BTreeMap::new(),
    );
    if ctx
        .persist(&mut Objects::lock(&ctx.disk), record.clone())
        .is_err()
    {
        return fail(
            StatusCode::INSUFFICIENT_STORAGE,
            "Not enough disk space to store requested content.",
        );
    }
    let everyone: Vec<usize> = (0..ctx.cluster.nodes.len()).collect();
    replication::push_to(ctx, &record, &everyone, everyone.len()).await;
    ctx.trace(format!("multipart {id} initiated for {target_key}"));
    let path = write::client_path(&compose::record(
        target_key,
        target_kind,
        stamp(ctx),
        false,
        Bytes::new(),
        BTreeMap::new(),
    ));
    let status = match ctx.cluster.alternatives.initiate_status {
        InitiateStatus::Status200 => StatusCode::OK,
        InitiateStatus::Status201 => StatusCode::CREATED,
    };
    let mut b = response::builder(status)
        .header(UPLOAD_ID_HEADER, &id)
        .header(
            http::header::LOCATION,
            format!("{}://{}{}", ctx.cluster.url_scheme, ctx.addr(), path),
        )
        .header(http::header::CONTENT_TYPE, "application/json");
    if target_kind.is_unnamed() {
        b = b.header("Content-UUID", path.trim_start_matches('/'));
    }
    response::finish(
        b,
        response::full(serde_json::json!({ "uploadId": id }).to_string()),
    )
}

fn part_number(number: &str) -> Result<u32, Response<Body>> {
    match number.parse::<u32>() {
        Ok(n) if (1..=PART_NUMBER_MAX).contains(&n) => Ok(n),
        _ => Err(fail(
            StatusCode::BAD_REQUEST,
            format!("partNumber `{number}` is not 1..={PART_NUMBER_MAX}."),
        )),
    }
}

/// A part: an immutable unnamed object tagged with its upload and number (SCSP-35).
async fn part(
    ctx: &NodeContext,
    req: &ClientRequest,
    body: Incoming,
    upload: &str,
    number: &str,
) -> Response<Body> {
    let n = match part_number(number) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let Some(state) = open_upload(ctx, upload) else {
        return no_such_upload(upload);
    };
    if req.query.has("encoding") {
        return fail(
            StatusCode::BAD_REQUEST,
            "Parts inherit the initiate's encoding and must not carry one.",
        );
    }
    if req.domain != state.domain {
        return fail(
            StatusCode::BAD_REQUEST,
            "Parts must repeat the initiate's domain.",
        );
    }
    let subject = Subject {
        key: ObjectKey::Uuid(String::new()),
        kind: Kind::Immutable,
    };
    let extra = BTreeMap::from([
        (UPLOAD_META.to_string(), upload.to_string()),
        (PART_META.to_string(), n.to_string()),
    ]);
    let mut answer = write::handle_as(ctx, req, body, subject, extra).await;
    if state.target_kind == Kind::Named && ctx.cluster.has(Defect::PartWithoutContentUuid) {
        answer.headers_mut().remove("content-uuid");
    }
    answer
}

/// The final outcome of a 202.
struct Final {
    status: StatusCode,
    json: serde_json::Value,
}

impl Final {
    /// The failure's message, for a synchronous refusal.
    fn message(&self) -> String {
        self.json
            .get("message")
            .and_then(|m| m.as_str())
            .unwrap_or("")
            .to_string()
    }

    fn failed(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            json: serde_json::json!({
                "status": status.as_u16(),
                "reason": status.canonical_reason().unwrap_or(""),
                "message": message.into(),
            }),
        }
    }
}

/// Answers 202 at once and streams keep-alive whitespace until `work` finishes, then the
/// result in the body and the trailer. If the work vanishes (its task died), the body is
/// cut short so the client can never mistake it for a result.
fn accepted<F>(ctx: &NodeContext, extra_headers: &[(&str, String)], work: F) -> Response<Body>
where
    F: std::future::Future<Output = Final> + Send + 'static,
{
    let (frames, body_rx) = mpsc::unbounded::<Result<Frame<Bytes>, BodyError>>();
    let (done_tx, mut done_rx) = oneshot::channel::<Final>();
    rt::spawn(async move {
        let outcome = work.await;
        let _ = done_tx.send(outcome);
    });
    let interval = ctx.cluster.keepalive_interval;
    let style = ctx.cluster.alternatives.result_body;
    let trailer_missing = ctx.cluster.has(Defect::TrailerMissing);
    let contradicts = ctx.cluster.has(Defect::TrailerContradictsBody);
    rt::spawn(async move {
        loop {
            match rt::timeout(interval, &mut done_rx).await {
                Err(_) => {
                    if frames
                        .unbounded_send(Ok(Frame::data(Bytes::from_static(b" "))))
                        .is_err()
                    {
                        return;
                    }
                }
                Ok(Ok(outcome)) => {
                    let line = render_result(style, &outcome);
                    let _ = frames.unbounded_send(Ok(Frame::data(Bytes::from(line))));
                    if !trailer_missing {
                        let shown = if contradicts && outcome.status != StatusCode::CREATED {
                            StatusCode::CREATED
                        } else {
                            outcome.status
                        };
                        let value = format!(
                            "{} {}",
                            shown.as_u16(),
                            shown.canonical_reason().unwrap_or("")
                        );
                        let mut trailers = http::HeaderMap::new();
                        if let Ok(v) = value.trim().parse() {
                            trailers.insert(RESULT_TRAILER, v);
                        }
                        let _ = frames.unbounded_send(Ok(Frame::trailers(trailers)));
                    }
                    return;
                }
                Ok(Err(_)) => {
                    let _ = frames.unbounded_send(Err(BodyError::from(
                        "the assembly stopped without a result",
                    )));
                    return;
                }
            }
        }
    });
    let content_type = match style {
        ResultBody::Json => "application/json",
        ResultBody::Text => "text/plain",
        ResultBody::Html => "text/html",
    };
    let mut b =
        response::builder(StatusCode::ACCEPTED).header(http::header::CONTENT_TYPE, content_type);
    if !trailer_missing {
        b = b.header(http::header::TRAILER, RESULT_TRAILER);
    }
    for (k, v) in extra_headers {
        b = b.header(*k, v.as_str());
    }
    response::finish(b, BodyExt::boxed(StreamBody::new(body_rx)))
}

/// The final result as the body states it after the keep-alive bytes: a JSON line (the
/// reference), or the `result-body` alternative's text lines or HTML page. Each states the
/// status code and reason, then every other field of the result.
fn render_result(style: ResultBody, outcome: &Final) -> String {
    let code = outcome.status.as_u16();
    let reason = outcome.status.canonical_reason().unwrap_or("");
    let fields: Vec<(String, String)> = outcome
        .json
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| k.as_str() != "status" && k.as_str() != "reason")
                .map(|(k, v)| {
                    let text = v.as_str().map(str::to_string).unwrap_or(v.to_string());
                    (k.clone(), text)
                })
                .collect()
        })
        .unwrap_or_default();
    match style {
        ResultBody::Json => format!("\n{}\n", outcome.json),
        ResultBody::Text => {
            let mut out = format!("\n{code} {reason}\n");
            for (k, v) in fields {
                out.push_str(&format!("{k}: {v}\n"));
            }
            out
        }
        ResultBody::Html => {
            let mut out = format!("\n<html><body><h2>{code} {reason}</h2><dl>");
            for (k, v) in fields {
                let escape = |s: &str| {
                    s.replace('&', "&amp;")
                        .replace('<', "&lt;")
                        .replace('>', "&gt;")
                };
                out.push_str(&format!("<dt>{}</dt><dd>{}</dd>", escape(&k), escape(&v)));
            }
            out.push_str("</dl></body></html>\n");
            out
        }
    }
}

async fn complete(
    ctx: &NodeContext,
    req: &ClientRequest,
    body: Incoming,
    upload: &str,
) -> Response<Body> {
    let Some(state) = open_upload(ctx, upload) else {
        return no_such_upload(upload);
    };
    let bytes = match Limited::new(body, 1 << 20).collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) => {
            return fail(
                StatusCode::BAD_REQUEST,
                format!("Could not read the manifest: {e}"),
            )
        }
    };
    let manifest: Manifest = match serde_json::from_slice(&bytes) {
        Ok(m) => m,
        Err(e) => {
            return fail(
                StatusCode::BAD_REQUEST,
                format!(
                "The manifest is not {{\"parts\":[{{\"partNumber\":n,\"uuid\":\"...\"}}]}}: {e}"
            ),
            )
        }
    };
    if ctx.cluster.alternatives.bad_manifest == BadManifest::Before202 {
        if let Err(refused) = check_manifest(ctx, &state, &manifest, lenient(ctx)).await {
            return fail(refused.status, refused.message());
        }
    }
    let manifest_order =
        req.query.flag("manifestorder") || ctx.cluster.has(Defect::ManifestOrderAlways);
    let extra_meta = metadata::persisted(&req.headers);
    let replicate = req.query.clone();
    let work_ctx = ctx.clone();
    let location_host = ctx.addr();
    accepted(ctx, &[(UPLOAD_ID_HEADER, upload.to_string())], async move {
        assemble(
            &work_ctx,
            state,
            manifest,
            manifest_order,
            extra_meta,
            replicate,
            location_host,
        )
        .await
    })
}

async fn assemble(
    ctx: &NodeContext,
    state: UploadState,
    manifest: Manifest,
    manifest_order: bool,
    extra_meta: BTreeMap<String, String>,
    query: crate::scsp::query::Query,
    location_host: std::net::SocketAddr,
) -> Final {
    let leniency = lenient(ctx);
    if ctx.cluster.has(Defect::FailedCompletionLeavesObject) {
        let placeholder = compose::record(
            state.target_key.clone(),
            state.target_kind,
            stamp(ctx),
            false,
            Bytes::new(),
            state.meta.clone(),
        );
        let _ = ctx.persist(&mut Objects::lock(&ctx.disk), placeholder);
    }
    if let Err(dup) = unique_numbers(&manifest, leniency) {
        return dup;
    }
    let mut parts = manifest.parts.clone();
    if leniency.duplicates {
        // The defect keeps the first entry of each number.
        let mut seen = BTreeSet::new();
        parts.retain(|p| seen.insert(p.part_number));
    }
    if !manifest_order {
        parts.sort_by_key(|p| p.part_number);
    }
    if parts.len() > 1 && ctx.cluster.has(Defect::AssemblyDropsLastPart) {
        parts.pop();
    }
    let mut joined = BytesMut::new();
    let mut digests = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        rt::sleep(ctx.cluster.assembly_per_part).await;
        let record = match fetch_part(ctx, &state, p, leniency).await {
            Ok(Some(r)) => r,
            Ok(None) => continue,
            Err(f) => return f,
        };
        joined.extend_from_slice(&record.content);
        digests.extend(hex_bytes(&record.md5_hex));
        if i == 0 && ctx.cluster.has(Defect::VisibleBeforeCompletion) {
            let early = compose::record(
                state.target_key.clone(),
                state.target_kind,
                stamp(ctx),
                false,
                record.content.clone(),
                state.meta.clone(),
            );
            let _ = ctx.persist(&mut Objects::lock(&ctx.disk), early);
        }
    }
    let current = fetch_newest(ctx, &state.target_key).await;
    let base = match state.method.as_str() {
        "PUT" => {
            if current.as_ref().map(|r| r.version) != state.target_version
                && !ctx.cluster.has(Defect::PutUploadIgnoresTargetChange)
            {
                return Final::failed(
                    StatusCode::CONFLICT,
                    "the target changed since the upload was initiated",
                );
            }
            Bytes::new()
        }
        "APPEND" => match current.as_ref().filter(|r| !r.deleted) {
            Some(_) if ctx.cluster.has(Defect::AppendUploadReplacesContent) => Bytes::new(),
            Some(r) => r.content.clone(),
            None => {
                return Final::failed(StatusCode::NOT_FOUND, "the target of the append is gone")
            }
        },
        _ => Bytes::new(),
    };
    let mut content = BytesMut::with_capacity(base.len() + joined.len());
    content.extend_from_slice(&base);
    content.extend_from_slice(&joined);
    let mut meta = extra_meta;
    meta.extend(state.meta.clone());
    let composite = format!("{}-{}", crate::scsp::object::md5_hex(&digests), parts.len());
    meta.insert(COMPOSITE_MD5.to_string(), composite.clone());
    let held = current.as_ref().map(|r| crate::scsp::peer::Held {
        kind: r.kind,
        version: r.version,
        deleted: r.deleted,
        md5_hex: r.md5_hex.clone(),
        modified_secs: r.version.stamp_ms / 1000,
    });
    let version = stamp_after(ctx, held.as_ref());
    if check_newer(ctx, version, held.as_ref()).is_err() {
        return Final::failed(StatusCode::CONFLICT, "Later version already exists.");
    }
    let record: Record = compose::record(
        state.target_key.clone(),
        state.target_kind,
        version,
        false,
        content.freeze(),
        meta,
    );
    let plan = match replication::plan(&ctx.cluster, &record, &query) {
        Ok(p) => p,
        Err(e) => return Final::failed(StatusCode::BAD_REQUEST, e.0),
    };
    let replicas = match store_replicated(ctx, &record, plan.sync_replicas).await {
        Ok(n) => n,
        Err(f) => return f,
    };
    if replicas < plan.success_min {
        return Final::failed(
            StatusCode::PRECONDITION_FAILED,
            format!(
                "only {replicas} of {} replicas could be written",
                plan.success_min
            ),
        );
    }
    crate::scsp::journal::record(ctx, &record);
    // The upload is over: its state goes, on every node.
    let closed = compose::record(
        upload_key(&state.id),
        Kind::Upload,
        stamp(ctx),
        true,
        Bytes::new(),
        BTreeMap::new(),
    );
    let _ = ctx.persist(&mut Objects::lock(&ctx.disk), closed.clone());
    let everyone: Vec<usize> = (0..ctx.cluster.nodes.len()).collect();
    replication::push_to(ctx, &closed, &everyone, everyone.len()).await;
    ctx.trace(format!(
        "multipart {} completed {} replicas {replicas}",
        state.id, record.key
    ));
    let path = write::client_path(&record);
    let mut json = serde_json::json!({
        "status": 201,
        "reason": "Created",
        "location": format!("{}://{location_host}{path}", ctx.cluster.url_scheme),
        "etag": record.etag(),
        "replicaCount": replicas,
        "compositeMD5": composite,
    });
    if record.kind.is_unnamed() {
        json["uuid"] = serde_json::Value::String(path.trim_start_matches('/').to_string());
    }
    Final {
        status: StatusCode::CREATED,
        json,
    }
}

/// What a defective node lets through in a manifest.
#[derive(Debug, Clone, Copy)]
struct Leniency {
    /// `duplicate-parts-accepted`: a number listed twice is not a failure.
    duplicates: bool,
    /// `missing-part-skipped`: a part that does not exist is left out.
    missing: bool,
}

fn lenient(ctx: &NodeContext) -> Leniency {
    Leniency {
        duplicates: ctx.cluster.has(Defect::DuplicatePartsAccepted),
        missing: ctx.cluster.has(Defect::MissingPartSkipped),
    }
}

/// A manifest that lists a part number twice fails the completion (SCSP-31).
fn unique_numbers(manifest: &Manifest, leniency: Leniency) -> Result<(), Final> {
    if leniency.duplicates {
        return Ok(());
    }
    let mut seen = BTreeSet::new();
    for p in &manifest.parts {
        if !seen.insert(p.part_number) {
            return Err(Final::failed(
                StatusCode::BAD_REQUEST,
                format!("duplicate part number {}", p.part_number),
            ));
        }
    }
    Ok(())
}

/// The part a manifest entry names, which must exist and belong to this upload under
/// that number (`None`: missing, and the node skips missing parts).
async fn fetch_part(
    ctx: &NodeContext,
    state: &UploadState,
    p: &ManifestPart,
    leniency: Leniency,
) -> Result<Option<Record>, Final> {
    let key = format!("u/{}", p.uuid.to_ascii_lowercase());
    let Some(record) = fetch_newest(ctx, &key).await.filter(|r| !r.deleted) else {
        if leniency.missing {
            return Ok(None);
        }
        return Err(Final::failed(
            StatusCode::BAD_REQUEST,
            format!("part {} ({}) was not found", p.part_number, p.uuid),
        ));
    };
    let belongs = record.meta.get(UPLOAD_META).map(String::as_str) == Some(state.id.as_str())
        && record.meta.get(PART_META) == Some(&p.part_number.to_string());
    if !belongs {
        return Err(Final::failed(
            StatusCode::BAD_REQUEST,
            format!(
                "{} is not part {} of upload {}",
                p.uuid, p.part_number, state.id
            ),
        ));
    }
    Ok(Some(record))
}

/// The `bad-manifest=before-202` alternative: every check of the manifest's parts, made
/// before the 202 so that a bad manifest is a plain 400.
async fn check_manifest(
    ctx: &NodeContext,
    state: &UploadState,
    manifest: &Manifest,
    leniency: Leniency,
) -> Result<(), Final> {
    unique_numbers(manifest, leniency)?;
    for p in &manifest.parts {
        fetch_part(ctx, state, p, leniency).await?;
    }
    Ok(())
}

/// Stores a record here and pushes it to the best other nodes until `wanted` hold it;
/// returns how many do, or the failure when this node has no room.
async fn store_replicated(
    ctx: &NodeContext,
    record: &Record,
    wanted: usize,
) -> Result<usize, Final> {
    if ctx
        .persist(&mut Objects::lock(&ctx.disk), record.clone())
        .is_err()
    {
        return Err(Final::failed(
            StatusCode::INSUFFICIENT_STORAGE,
            "Not enough disk space to store requested content.",
        ));
    }
    let bids = gather_bids(ctx, &record.key).await;
    let candidates = placement::rank_for_write(
        &bids,
        &record.key,
        ctx.cluster.placement_seed,
        record.stored_bytes(),
    );
    let peers = replication::push_to(ctx, record, &candidates, wanted.saturating_sub(1)).await;
    Ok(1 + peers.len())
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect()
}

/// COPY-by-part (SCSP-33): a part made from an existing object's content, answered like a
/// completion: 202, keep-alive bytes, then the result.
async fn copy_part(
    ctx: &NodeContext,
    req: &ClientRequest,
    upload: &str,
    number: &str,
) -> Response<Body> {
    let n = match part_number(number) {
        Ok(n) => n,
        Err(r) => return r,
    };
    if open_upload(ctx, upload).is_none() {
        return no_such_upload(upload);
    }
    let Some(source) = req.header(COPY_SOURCE_HEADER).map(str::to_string) else {
        return fail(
            StatusCode::BAD_REQUEST,
            format!("COPY-by-part needs a {COPY_SOURCE_HEADER} header naming the source object."),
        );
    };
    let Some(source_key) = source_key(&source, &req.domain) else {
        return fail(
            StatusCode::BAD_REQUEST,
            format!("{COPY_SOURCE_HEADER} `{source}` names no object."),
        );
    };
    let work_ctx = ctx.clone();
    let upload = upload.to_string();
    let host = ctx.addr();
    let id_header = upload.clone();
    let work = async move {
        let ctx = &work_ctx;
        rt::sleep(ctx.cluster.assembly_per_part).await;
        let Some(src) = fetch_newest(ctx, &source_key).await.filter(|r| !r.deleted) else {
            return Final::failed(
                StatusCode::NOT_FOUND,
                format!("source {source} was not found"),
            );
        };
        let uuid = new_uuid(rt::random_u64(), rt::random_u64());
        let meta = BTreeMap::from([
            (UPLOAD_META.to_string(), upload.clone()),
            (PART_META.to_string(), n.to_string()),
        ]);
        let record = compose::record(
            format!("u/{uuid}"),
            Kind::Immutable,
            stamp(ctx),
            false,
            if ctx.cluster.has(Defect::CopyPartCopiesNothing) {
                Bytes::new()
            } else {
                src.content.clone()
            },
            meta,
        );
        let replicas = match store_replicated(ctx, &record, 2).await {
            Ok(n) => n,
            Err(f) => return f,
        };
        if replicas < 2 {
            return Final::failed(
                StatusCode::PRECONDITION_FAILED,
                "only 1 of 2 replicas could be written",
            );
        }
        Final {
            status: StatusCode::CREATED,
            json: serde_json::json!({
                "status": 201, "reason": "Created", "uuid": uuid,
                "location": format!("{}://{host}/{uuid}", ctx.cluster.url_scheme), "partNumber": n,
            }),
        }
    };
    if ctx.cluster.has(Defect::CopyPartSynchronous) {
        let outcome = work.await;
        return response::finish(
            response::builder(outcome.status)
                .header(http::header::CONTENT_TYPE, "application/json"),
            response::full(outcome.json.to_string()),
        );
    }
    accepted(ctx, &[(UPLOAD_ID_HEADER, id_header)], work)
}

fn source_key(source: &str, domain: &str) -> Option<String> {
    let path = source.split('?').next().unwrap_or("");
    match crate::scsp::key::parse_path(path)? {
        Locator::Uuid(u) => Some(ObjectKey::Uuid(u).store_key()),
        Locator::Named { bucket, name } => Some(
            ObjectKey::Named {
                domain: domain.to_string(),
                bucket,
                name,
            }
            .store_key(),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_parse_strictly() {
        let m: Manifest =
            serde_json::from_str(r#"{"parts":[{"partNumber":2,"uuid":"ab"}]}"#).expect("valid");
        assert_eq!(m.parts[0].part_number, 2);
        assert!(serde_json::from_str::<Manifest>(r#"{"parts":[{"partNumber":2}]}"#).is_err());
        assert!(serde_json::from_str::<Manifest>(r#"{"parts":[],"x":1}"#).is_err());
    }

    #[test]
    fn hex_digests_decode() {
        assert_eq!(hex_bytes("00ff10"), vec![0, 255, 16]);
    }
}
