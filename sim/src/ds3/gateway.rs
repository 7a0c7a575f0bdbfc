//! The DS3 gateway's decision core: bulk jobs, chunks, blobs, the cache and the permanent
//! store (spec section 3.3, rules BP-1..20). Plain state; the time is an argument of every
//! call (the host passes its clock), so that expiry (24 h idle), the aggregation window
//! (30 min), retention (30 days), persisting and loading run on the simulated clock.
//! Every change is saved to the disk (`durable`) before the call returns.
//!
//! Life cycle: a PUT chunk is pending, then allocated (cache reserved) when Get Job Chunks
//! Ready or Allocate Job Chunk takes it, then received (every blob PUT), then persisted
//! `persist_delay` later; the job completes when every chunk is persisted. A GET chunk is
//! loaded into cache (`load_delay` after the cache has room; in ChunkNumber order for
//! IN_ORDER, tape order — highest number first — for NONE), offered once loaded, and
//! released when the client has read every blob; the job completes when every blob was read.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::ds3::auth::User;
use crate::ds3::defects::Defect;
use crate::ds3::durable::{Area, Storage};
use crate::ds3::ids;
use crate::ds3::xml::{self, BulkRequest, MasterObjectList};

/// Every knob of the gateway (docs/choices.md, rows D1..).
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Seeds the ids this system draws.
    pub seed: u64,
    /// The node's `EndPoint` in MasterObjectLists.
    pub end_point: String,
    /// Cache capacity: allocated PUT chunks and loaded GET chunks share it.
    pub cache_bytes: u64,
    /// Blobs are grouped into chunks of at most this many bytes (a larger blob is alone).
    pub chunk_bytes: u64,
    /// Default and maximum `max_upload_size` (BP-2: 100 GB).
    pub max_upload_size: u64,
    /// A job idle this long is canceled (BP-3: 24 h).
    pub idle_timeout_ms: u64,
    /// Aggregating jobs take appends for this long (BP-9: 30 min).
    pub aggregation_window_ms: u64,
    /// Ended jobs are forgotten after this long (BP-16: 30 days).
    pub retention_ms: u64,
    /// A received chunk reaches the permanent store this long after its last blob.
    pub persist_delay_ms: u64,
    /// A GET chunk takes this long to load into cache.
    pub load_delay_ms: u64,
    /// `Retry-After` seconds when the cache is full.
    pub retry_after_secs: u64,
    /// A system too busy to serve at once: the first this many GETs of each blob of a GET
    /// job are answered 307 (BP-7; the SDK's "The server is busy"), then it is served as
    /// usual. 0 (never 307) by default (docs/choices.md D13).
    pub busy_redirects: u32,
    /// Deliberate deviations (all off by default).
    pub defects: BTreeSet<Defect>,
}

impl GatewayConfig {
    /// The documented defaults: 100 GB blobs, 24 h idle, 30 min aggregation, 30 days
    /// retention; a 1 GiB cache with 64 MiB chunks; persisting 2 s and loading 1 s.
    pub fn new(seed: u64, end_point: &str) -> Self {
        Self {
            seed,
            end_point: end_point.to_string(),
            cache_bytes: 1 << 30,
            chunk_bytes: 64 << 20,
            max_upload_size: 100_000_000_000,
            idle_timeout_ms: 24 * 3600 * 1000,
            aggregation_window_ms: 30 * 60 * 1000,
            retention_ms: 30 * 24 * 3600 * 1000,
            persist_delay_ms: 2000,
            load_delay_ms: 1000,
            retry_after_secs: 5,
            busy_redirects: 0,
            defects: BTreeSet::new(),
        }
    }

    fn has(&self, d: Defect) -> bool {
        self.defects.contains(&d)
    }
}

/// A refusal: the status and the Error body's code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// HTTP status.
    pub status: u16,
    /// Error `Code`.
    pub code: &'static str,
    /// Error `Message`.
    pub message: String,
    /// `Retry-After` seconds, when the refusal is "later".
    pub retry_after: Option<u64>,
}

fn fail(status: u16, code: &'static str, message: impl Into<String>) -> Failure {
    Failure {
        status,
        code,
        message: message.into(),
        retry_after: None,
    }
}

/// PUT, GET or VERIFY.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    /// Bulk PUT.
    Put,
    /// Bulk GET.
    Get,
    /// Bulk VERIFY.
    Verify,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Put => "PUT",
            Kind::Get => "GET",
            Kind::Verify => "VERIFY",
        }
    }
}

/// IN_PROGRESS, COMPLETED or CANCELED.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    /// Running.
    InProgress,
    /// Every chunk done.
    Completed,
    /// Canceled, truncated or expired.
    Canceled,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::InProgress => "IN_PROGRESS",
            Status::Completed => "COMPLETED",
            Status::Canceled => "CANCELED",
        }
    }
}

/// The priorities a client may ask for (CRITICAL and BACKGROUND are the system's own).
pub const CLIENT_PRIORITIES: [&str; 4] = ["URGENT", "HIGH", "NORMAL", "LOW"];

/// Options of a bulk job request.
#[derive(Debug, Clone, Default)]
pub struct JobOptions {
    /// `name`.
    pub name: Option<String>,
    /// `priority`.
    pub priority: Option<String>,
    /// `aggregating`.
    pub aggregating: bool,
    /// `chunk_client_processing_order_guarantee=IN_ORDER` (GET).
    pub in_order: bool,
    /// `max_upload_size` (PUT).
    pub max_upload_size: Option<u64>,
}

/// Changes of Modify (Active) Job.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    /// New name.
    pub name: Option<String>,
    /// New priority.
    pub priority: Option<String>,
    /// New start date, ms since the epoch.
    pub created_at_ms: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct BlobRec {
    id: String,
    object_id: String,
    name: String,
    offset: u64,
    length: u64,
    version: u64,
    received: bool,
    persisted: bool,
    read: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ChunkRec {
    id: String,
    number: u32,
    blobs: Vec<BlobRec>,
    allocated: bool,
    complete_at: Option<u64>,
    persisted: bool,
    load_at: Option<u64>,
    loaded: bool,
    released: bool,
}

impl ChunkRec {
    fn bytes(&self) -> u64 {
        self.blobs.iter().map(|b| b.length).sum()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct JobRec {
    id: String,
    bucket: String,
    name: String,
    kind: Kind,
    priority: String,
    in_order: bool,
    aggregating: bool,
    closed: bool,
    naked: bool,
    status: Status,
    user_id: String,
    user_name: String,
    start_ms: u64,
    created_ms: u64,
    last_activity_ms: u64,
    ended_ms: Option<u64>,
    chunks: Vec<ChunkRec>,
}

impl JobRec {
    /// (chunk index, blob index) of the blob of `name` at `offset`.
    fn find_blob(&self, name: &str, offset: u64) -> Option<(usize, usize)> {
        self.chunks.iter().enumerate().find_map(|(ci, c)| {
            c.blobs
                .iter()
                .position(|b| b.name == name && b.offset == offset)
                .map(|bi| (ci, bi))
        })
    }

    fn blobs(&self) -> impl Iterator<Item = &BlobRec> {
        self.chunks.iter().flat_map(|c| c.blobs.iter())
    }

    /// Cache bytes this job holds now.
    fn cache_held(&self) -> u64 {
        if self.status != Status::InProgress {
            return 0;
        }
        self.chunks
            .iter()
            .filter(|c| match self.kind {
                Kind::Put => c.allocated && !c.persisted,
                Kind::Get | Kind::Verify => c.load_at.is_some() && !c.released,
            })
            .map(ChunkRec::bytes)
            .sum()
    }
}

/// One stored object version: its blobs, each in the cache or the permanent store.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ObjectRec {
    id: String,
    version: u64,
    length: u64,
    created_ms: u64,
    /// (blob id, offset, length).
    blobs: Vec<(String, u64, u64)>,
    /// Older versions still listed beside this one (only `Defect::KeepLatestKeepsBoth`).
    #[serde(default)]
    shadowed: Vec<ObjectRec>,
}

/// How a bucket's data policy treats a name put again (contract type VersioningLevel).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Versioning {
    /// A bulk PUT naming a stored object is refused.
    None,
    /// The new version replaces the old one once it is whole.
    KeepLatest,
}

impl Versioning {
    /// The contract's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Versioning::None => "NONE",
            Versioning::KeepLatest => "KEEP_LATEST",
        }
    }
}

/// A data policy made by Create Data Policy (only its versioning matters here).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PolicyRec {
    id: String,
    name: String,
    versioning: Versioning,
}

/// A bucket made by Create Bucket (buckets named only by a bulk request have no record:
/// they take re-puts as KEEP_LATEST, as before data policies existed).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct BucketRec {
    id: String,
    name: String,
    policy_id: String,
    versioning: Versioning,
    user_id: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct State {
    draws: u64,
    jobs: BTreeMap<String, JobRec>,
    /// Key: `bucket/name`.
    objects: BTreeMap<String, ObjectRec>,
    /// Data policies by id.
    #[serde(default)]
    policies: BTreeMap<String, PolicyRec>,
    /// Created buckets by name.
    #[serde(default)]
    buckets: BTreeMap<String, BucketRec>,
}

fn object_key(bucket: &str, name: &str) -> String {
    format!("{bucket}/{name}")
}

fn policy_doc(p: &PolicyRec) -> xml::DataPolicyDoc {
    xml::DataPolicyDoc {
        id: p.id.clone(),
        name: p.name.clone(),
        versioning: p.versioning.as_str().to_string(),
    }
}

/// Which jobs Get Jobs lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobFilter {
    /// Every job.
    All,
    /// IN_PROGRESS.
    Active,
    /// COMPLETED.
    Completed,
    /// CANCELED.
    Canceled,
}

/// Get Job Chunks Ready's answer: the job with only the ready chunks, and `Retry-After`
/// seconds when none is ready.
#[derive(Debug, Clone)]
pub struct Ready {
    /// The job with only its ready chunks.
    pub list: MasterObjectList,
    /// Seconds to wait before asking again, when the list is empty.
    pub retry_after: Option<u64>,
}

/// One replicated job's description (Get Job to Replicate → Replicate PUT Job).
pub use crate::ds3::replicate::Payload;

/// The gateway of one system.
#[derive(Debug)]
pub struct Gateway {
    config: GatewayConfig,
    storage: Storage,
    state: State,
    saves: u64,
    /// Received blobs held only in memory (`Defect::CacheInMemory`): lost with the
    /// incarnation, written straight to the permanent store when their chunk persists.
    held: BTreeMap<String, Bytes>,
    /// 307s sent per (job, blob) under `busy_redirects` (memory only: a restarted gateway
    /// is busy afresh).
    redirected: BTreeMap<(String, String), u32>,
}

impl Gateway {
    /// Opens the gateway on its disk: the state saved there, or a fresh one.
    pub fn open(config: GatewayConfig, storage: Storage) -> Self {
        let state = storage
            .load_state()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Self {
            config,
            storage,
            state,
            saves: 0,
            held: BTreeMap::new(),
            redirected: BTreeMap::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &GatewayConfig {
        &self.config
    }

    fn draw(&mut self) -> String {
        self.state.draws += 1;
        ids::nth(self.config.seed, self.state.draws)
    }

    fn save(&mut self) -> Result<(), Failure> {
        self.saves += 1;
        let bytes = serde_json::to_vec(&self.state)
            .map_err(|e| fail(500, "InternalError", format!("state: {e}")))?;
        self.storage.save_state(bytes, self.saves).map_err(|e| {
            fail(
                409,
                "DiskFull",
                format!("the gateway's disk is full: {e:?}"),
            )
        })
    }

    fn cache_free(&self) -> u64 {
        let used: u64 = self.state.jobs.values().map(JobRec::cache_held).sum();
        self.config.cache_bytes.saturating_sub(used)
    }

    // ---------------------------------------------------------------- time

    /// Runs what the clock decides: persisting received chunks, loading GET chunks,
    /// completing jobs, expiring idle jobs, forgetting old ones.
    pub fn advance(&mut self, now: u64) {
        let before = serde_json::to_vec(&self.state).unwrap_or_default();
        let ids: Vec<String> = self.state.jobs.keys().cloned().collect();
        for id in &ids {
            self.advance_job(id, now);
        }
        let retention = self.config.retention_ms;
        if !self.config.has(Defect::JobsKeptForever) {
            self.state
                .jobs
                .retain(|_, j| j.ended_ms.is_none_or(|e| now < e.saturating_add(retention)));
        }
        if serde_json::to_vec(&self.state).unwrap_or_default() != before {
            let _ = self.save();
        }
    }

    fn advance_job(&mut self, id: &str, now: u64) {
        let Some(job) = self.state.jobs.get(id) else {
            return;
        };
        if job.status != Status::InProgress {
            return;
        }
        if now
            >= job
                .last_activity_ms
                .saturating_add(self.config.idle_timeout_ms)
            && !self.config.has(Defect::JobNeverExpires)
        {
            self.end_job(id, now, EndKind::Expire);
            return;
        }
        match job.kind {
            Kind::Put => self.persist_due(id, now),
            Kind::Get | Kind::Verify => self.load_due(id, now),
        }
    }

    fn persist_due(&mut self, id: &str, now: u64) {
        let delay = self.config.persist_delay_ms;
        let Some(job) = self.state.jobs.get_mut(id) else {
            return;
        };
        let mut to_persist = Vec::new();
        for c in job.chunks.iter_mut() {
            if let Some(at) = c.complete_at {
                if !c.persisted && now >= at.saturating_add(delay) {
                    c.persisted = true;
                    for b in c.blobs.iter_mut() {
                        b.persisted = true;
                        to_persist.push(b.id.clone());
                    }
                }
            }
        }
        if job.chunks.iter().all(|c| c.persisted)
            && (job.closed || !job.aggregating)
            && !self.config.has(Defect::JobNeverCompletes)
        {
            job.status = Status::Completed;
            job.ended_ms = Some(now);
        }
        for blob in to_persist {
            match self.held.remove(&blob) {
                Some(bytes) => {
                    let _ = self.storage.put_blob(Area::Permanent, &blob, bytes);
                }
                None => {
                    let _ = self.storage.persist_blob(&blob);
                }
            }
        }
    }

    /// The order in which a GET job's chunks load: ChunkNumber for IN_ORDER, tape order
    /// (highest number first) for NONE.
    fn load_order(&self, job: &JobRec) -> Vec<usize> {
        let mut order: Vec<usize> = (0..job.chunks.len()).collect();
        let in_order = job.in_order && !self.config.has(Defect::InOrderIgnored);
        if !in_order {
            order.reverse();
        }
        order
    }

    fn load_due(&mut self, id: &str, now: u64) {
        let Some(job) = self.state.jobs.get(id) else {
            return;
        };
        let order = self.load_order(job);
        let mut free = self.cache_free();
        let delay = self.config.load_delay_ms;
        let Some(job) = self.state.jobs.get_mut(id) else {
            return;
        };
        for i in order {
            let c = &mut job.chunks[i];
            if c.load_at.is_none() {
                if c.bytes() > free {
                    // Loading stays in order: a later chunk never overtakes a waiting one.
                    break;
                }
                free -= c.bytes();
                c.load_at = Some(now);
            }
            if let Some(at) = c.load_at {
                if !c.loaded && now >= at.saturating_add(delay) {
                    c.loaded = true;
                    if job.kind == Kind::Verify {
                        for b in c.blobs.iter_mut() {
                            b.read = true;
                        }
                        c.released = true;
                    }
                }
            }
        }
        if job.blobs().all(|b| b.read) && (job.closed || !job.aggregating) {
            job.status = Status::Completed;
            job.ended_ms = Some(now);
        }
    }

    // ---------------------------------------------------------------- jobs

    /// Create Bulk PUT / GET / VERIFY (BP-1, BP-2, BP-9).
    pub fn create_job(
        &mut self,
        now: u64,
        user: &User,
        bucket: &str,
        kind: Kind,
        options: &JobOptions,
        request: &BulkRequest,
    ) -> Result<MasterObjectList, Failure> {
        self.advance(now);
        let priority = match &options.priority {
            Some(p) => {
                let p = p.to_ascii_uppercase();
                if !CLIENT_PRIORITIES.contains(&p.as_str()) {
                    return Err(fail(
                        400,
                        "InvalidPriority",
                        format!("priority `{p}` is not one of URGENT, HIGH, NORMAL, LOW"),
                    ));
                }
                p
            }
            None => "NORMAL".to_string(),
        };
        if request.objects.is_empty() {
            return Err(fail(400, "EmptyJob", "the request names no object"));
        }
        let max = options
            .max_upload_size
            .filter(|_| !self.config.has(Defect::MaxUploadIgnored))
            .unwrap_or(self.config.max_upload_size);
        if max == 0 || max > self.config.max_upload_size {
            return Err(fail(
                400,
                "InvalidMaxUploadSize",
                format!(
                    "max_upload_size must be between 1 and {}",
                    self.config.max_upload_size
                ),
            ));
        }
        let mut names = BTreeSet::new();
        for o in &request.objects {
            if o.name.is_empty() || !names.insert(o.name.clone()) {
                return Err(fail(
                    400,
                    "InvalidObjects",
                    format!("object name `{}` is empty or given twice", o.name),
                ));
            }
        }
        if kind == Kind::Put {
            self.refuse_reput(bucket, request)?;
        }
        let blobs = match kind {
            Kind::Put => {
                let mut blobs = self.put_blobs(bucket, request, max)?;
                if self.config.has(Defect::DropsLastBlob) && blobs.len() > 1 {
                    blobs.pop();
                }
                blobs
            }
            Kind::Get | Kind::Verify => self.stored_blobs(bucket, request)?,
        };
        // Aggregation: same user, bucket, type and order guarantee, within the window.
        let window = self.config.aggregation_window_ms;
        let endless = self.config.has(Defect::AggregationWindowEndless);
        let target = if options.aggregating && !self.config.has(Defect::AggregatingIgnored) {
            self.state
                .jobs
                .values()
                .find(|j| {
                    j.aggregating
                        && !j.closed
                        && j.status == Status::InProgress
                        && j.kind == kind
                        && j.bucket == bucket
                        && j.user_id == user.id
                        && j.in_order == options.in_order
                        && (endless || now < j.created_ms.saturating_add(window))
                })
                .map(|j| j.id.clone())
        } else {
            None
        };
        let id = match target {
            Some(id) => id,
            None => {
                let id = self.draw();
                let job = JobRec {
                    id: id.clone(),
                    bucket: bucket.to_string(),
                    name: options.name.clone().unwrap_or_else(|| "Untitled".into()),
                    kind,
                    priority,
                    in_order: options.in_order,
                    aggregating: options.aggregating,
                    closed: false,
                    naked: false,
                    status: Status::InProgress,
                    user_id: user.id.clone(),
                    user_name: user.name.clone(),
                    start_ms: now,
                    created_ms: now,
                    last_activity_ms: now,
                    ended_ms: None,
                    chunks: Vec::new(),
                };
                self.state.jobs.insert(id.clone(), job);
                id
            }
        };
        let chunks = self.chunk(blobs);
        if let Some(job) = self.state.jobs.get_mut(&id) {
            let first = job.chunks.len() as u32;
            for (i, mut c) in chunks.into_iter().enumerate() {
                c.number = first + i as u32 + 1;
                job.chunks.push(c);
            }
            job.last_activity_ms = now;
        }
        self.advance_job(&id, now);
        self.save()?;
        self.job(now, &id)
    }

    /// A bulk PUT into a bucket whose policy says versioning NONE may not name an object
    /// it holds (400 OBJECT_ALREADY_EXISTS: the SDK test shows 409, which is outside the
    /// contract's set for Create Bulk PUT; docs/choices.md D12).
    fn refuse_reput(&self, bucket: &str, request: &BulkRequest) -> Result<(), Failure> {
        let Some(b) = self.state.buckets.get(bucket) else {
            return Ok(());
        };
        let refuses =
            b.versioning == Versioning::None || self.config.has(Defect::KeepLatestRefusesReput);
        if !refuses {
            return Ok(());
        }
        match request.objects.iter().find(|o| {
            self.state
                .objects
                .contains_key(&object_key(bucket, &o.name))
        }) {
            Some(o) => Err(fail(
                400,
                "OBJECT_ALREADY_EXISTS",
                format!(
                    "`{}` is in bucket `{bucket}` and its data policy keeps no other version",
                    o.name
                ),
            )),
            None => Ok(()),
        }
    }

    fn put_blobs(
        &mut self,
        bucket: &str,
        request: &BulkRequest,
        max: u64,
    ) -> Result<Vec<BlobRec>, Failure> {
        let mut out = Vec::new();
        for o in &request.objects {
            let Some(size) = o.size.or(o.length) else {
                return Err(fail(
                    400,
                    "InvalidObjects",
                    format!("object `{}` has no Size", o.name),
                ));
            };
            let version = self
                .state
                .objects
                .get(&object_key(bucket, &o.name))
                .map_or(1, |r| r.version + 1);
            let object_id = self.draw();
            let mut offset = 0;
            loop {
                let length = (size - offset).min(max);
                let id = self.draw();
                out.push(BlobRec {
                    id,
                    object_id: object_id.clone(),
                    name: o.name.clone(),
                    offset,
                    length,
                    version,
                    received: false,
                    persisted: false,
                    read: false,
                });
                offset += length;
                if offset >= size {
                    break;
                }
            }
        }
        Ok(out)
    }

    fn stored_blobs(&self, bucket: &str, request: &BulkRequest) -> Result<Vec<BlobRec>, Failure> {
        let mut out = Vec::new();
        for o in &request.objects {
            let Some(rec) = self.state.objects.get(&object_key(bucket, &o.name)) else {
                return Err(fail(
                    404,
                    "NotFound",
                    format!("object `{}` is not in bucket `{bucket}`", o.name),
                ));
            };
            let from = o.offset.unwrap_or(0);
            let to = o.length.map_or(rec.length, |l| from.saturating_add(l));
            for (id, offset, length) in &rec.blobs {
                let overlaps =
                    *offset < to && offset + length > from || (*length == 0 && from == 0);
                if overlaps {
                    out.push(BlobRec {
                        id: id.clone(),
                        object_id: rec.id.clone(),
                        name: o.name.clone(),
                        offset: *offset,
                        length: *length,
                        version: rec.version,
                        received: true,
                        persisted: true,
                        read: false,
                    });
                }
            }
        }
        Ok(out)
    }

    fn chunk(&mut self, blobs: Vec<BlobRec>) -> Vec<ChunkRec> {
        let mut chunks: Vec<Vec<BlobRec>> = Vec::new();
        let mut size = 0;
        for b in blobs {
            match chunks.last_mut() {
                Some(c) if size + b.length <= self.config.chunk_bytes => {
                    size += b.length;
                    c.push(b);
                }
                _ => {
                    size = b.length;
                    chunks.push(vec![b]);
                }
            }
        }
        chunks
            .into_iter()
            .map(|blobs| ChunkRec {
                id: self.draw(),
                number: 0,
                blobs,
                allocated: false,
                complete_at: None,
                persisted: false,
                load_at: None,
                loaded: false,
                released: false,
            })
            .collect()
    }

    fn job_ref(&self, id: &str) -> Result<&JobRec, Failure> {
        self.state
            .jobs
            .get(id)
            .ok_or_else(|| fail(404, "NotFound", format!("no job `{id}`")))
    }

    fn render(&self, job: &JobRec, chunks: impl Iterator<Item = usize>) -> MasterObjectList {
        let counts_cached = self.config.has(Defect::CompletedCountsCached);
        let (cached, completed) = match job.kind {
            Kind::Put => {
                let received: u64 = job.blobs().filter(|b| b.received).map(|b| b.length).sum();
                let persisted: u64 = job.blobs().filter(|b| b.persisted).map(|b| b.length).sum();
                (received, if counts_cached { received } else { persisted })
            }
            Kind::Get | Kind::Verify => {
                let drops = self.config.has(Defect::CachedDropsOnRead);
                let loaded: u64 = job
                    .chunks
                    .iter()
                    .filter(|c| c.loaded && !(drops && c.released))
                    .map(ChunkRec::bytes)
                    .sum();
                let read: u64 = job.blobs().filter(|b| b.read).map(|b| b.length).sum();
                (loaded, if counts_cached { loaded } else { read })
            }
        };
        let in_cache = |c: &ChunkRec, b: &BlobRec| match job.kind {
            Kind::Put => b.received && !b.persisted,
            Kind::Get | Kind::Verify => c.loaded && !c.released,
        };
        let entirely = job
            .chunks
            .iter()
            .all(|c| c.blobs.iter().all(|b| in_cache(c, b)));
        xml::MasterObjectList {
            aggregating: job.aggregating,
            bucket_name: job.bucket.clone(),
            cached_size_in_bytes: cached,
            chunk_client_processing_order_guarantee: if job.in_order { "IN_ORDER" } else { "NONE" }
                .into(),
            completed_size_in_bytes: completed,
            entirely_in_cache: entirely,
            job_id: job.id.clone(),
            naked: job.naked,
            name: job.name.clone(),
            original_size_in_bytes: job.blobs().map(|b| b.length).sum(),
            priority: job.priority.clone(),
            request_type: job.kind.as_str().into(),
            start_date: iso_ms(job.start_ms),
            status: job.status.as_str().into(),
            user_id: job.user_id.clone(),
            user_name: job.user_name.clone(),
            nodes: xml::Nodes {
                nodes: vec![self.node()],
            },
            chunks: chunks
                .filter_map(|i| job.chunks.get(i))
                .map(|c| self.render_chunk(c, &in_cache))
                .collect(),
        }
    }

    fn node(&self) -> xml::Node {
        xml::Node {
            end_point: self.config.end_point.clone(),
            id: ids::nth(self.config.seed, u64::MAX),
        }
    }

    fn render_chunk(
        &self,
        c: &ChunkRec,
        in_cache: &dyn Fn(&ChunkRec, &BlobRec) -> bool,
    ) -> xml::Chunk {
        xml::Chunk {
            chunk_id: c.id.clone(),
            chunk_number: c.number,
            node_id: Some(self.node().id),
            objects: c
                .blobs
                .iter()
                .map(|b| xml::Blob {
                    id: b.id.clone(),
                    in_cache: in_cache(c, b),
                    latest: true,
                    length: b.length,
                    name: b.name.clone(),
                    offset: b.offset,
                    version: b.version,
                })
                .collect(),
        }
    }

    /// Get Job (every chunk).
    pub fn job(&mut self, now: u64, id: &str) -> Result<MasterObjectList, Failure> {
        self.advance(now);
        let job = self.job_ref(id)?;
        Ok(self.render(job, 0..job.chunks.len()))
    }

    /// Get Jobs / Active / Completed / Canceled, in start order.
    pub fn jobs(&mut self, now: u64, filter: JobFilter) -> xml::JobList {
        self.advance(now);
        let mut jobs: Vec<&JobRec> = self
            .state
            .jobs
            .values()
            .filter(|j| match filter {
                JobFilter::All => true,
                JobFilter::Active => j.status == Status::InProgress,
                JobFilter::Completed => j.status == Status::Completed,
                JobFilter::Canceled => j.status == Status::Canceled,
            })
            .collect();
        jobs.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
        xml::JobList {
            jobs: jobs.into_iter().map(|j| self.render(j, 0..0)).collect(),
        }
    }

    /// Get Job Chunks Ready for Client Processing (BP-4, BP-5, BP-8, BP-19).
    pub fn chunks_ready(
        &mut self,
        now: u64,
        id: &str,
        preferred: Option<usize>,
    ) -> Result<Ready, Failure> {
        self.advance(now);
        let job = self.job_ref(id)?;
        if job.status != Status::InProgress {
            let status = if job.status == Status::Canceled
                && self.config.has(Defect::StatusOutsideContract)
            {
                409
            } else {
                410
            };
            return Err(fail(status, "JobGone", format!("job `{id}` has ended")));
        }
        let want = preferred.unwrap_or(usize::MAX).max(1);
        let kind = job.kind;
        if kind == Kind::Put {
            // Offer allocated chunks still missing blobs; allocate more in order while the
            // cache has room.
            let skip_alloc = self.config.has(Defect::ChunkOfferedBeforeAllocation);
            let mut free = self.cache_free();
            let job = self
                .state
                .jobs
                .get_mut(id)
                .ok_or_else(|| fail(404, "NotFound", "job"))?;
            let mut offered = Vec::new();
            for (i, c) in job.chunks.iter_mut().enumerate() {
                if offered.len() >= want {
                    break;
                }
                if c.complete_at.is_some() {
                    continue;
                }
                if !c.allocated {
                    if skip_alloc {
                        offered.push(i);
                        continue;
                    }
                    if c.bytes() > free {
                        break;
                    }
                    free -= c.bytes();
                    c.allocated = true;
                }
                offered.push(i);
            }
            job.last_activity_ms = now;
            self.save()?;
            let job = self.job_ref(id)?;
            let list = self.render(job, offered.iter().copied());
            let retry_after = offered.is_empty().then_some(self.config.retry_after_secs);
            return Ok(self.with_retry(list, retry_after));
        }
        // GET / VERIFY: loaded chunks with blobs left to read, in load order.
        let job = self.job_ref(id)?;
        let order = self.load_order(job);
        let offered: Vec<usize> = order
            .into_iter()
            .filter(|&i| {
                let c = &job.chunks[i];
                let early = self.config.has(Defect::ReadyBeforeLoaded) && c.load_at.is_some();
                (c.loaded || early) && !c.released
            })
            .take(want)
            .collect();
        let retry_after = if offered.is_empty() {
            // The next load to finish, else the cache-full wait.
            let next = job
                .chunks
                .iter()
                .filter_map(|c| c.load_at.filter(|_| !c.loaded))
                .map(|at| at + self.config.load_delay_ms)
                .min();
            Some(next.map_or(self.config.retry_after_secs, |t| {
                (t.saturating_sub(now)).div_ceil(1000).max(1)
            }))
        } else {
            None
        };
        let list = self.render(job, offered.into_iter());
        if let Some(job) = self.state.jobs.get_mut(id) {
            job.last_activity_ms = now;
        }
        self.save()?;
        Ok(self.with_retry(list, retry_after))
    }

    fn with_retry(&self, list: MasterObjectList, retry_after: Option<u64>) -> Ready {
        let retry_after = retry_after.filter(|_| !self.config.has(Defect::NoRetryAfter));
        Ready { list, retry_after }
    }

    fn find_chunk(&self, chunk_id: &str) -> Result<(String, usize), Failure> {
        for job in self.state.jobs.values() {
            if let Some(i) = job.chunks.iter().position(|c| c.id == chunk_id) {
                return Ok((job.id.clone(), i));
            }
        }
        Err(fail(404, "NotFound", format!("no chunk `{chunk_id}`")))
    }

    /// Get Job Chunk.
    pub fn get_chunk(&mut self, now: u64, chunk_id: &str) -> Result<xml::Chunk, Failure> {
        self.advance(now);
        let (job_id, i) = self.find_chunk(chunk_id)?;
        let job = self.job_ref(&job_id)?;
        let list = self.render(job, std::iter::once(i));
        list.chunks
            .into_iter()
            .next()
            .ok_or_else(|| fail(404, "NotFound", "chunk"))
    }

    /// Allocate Job Chunk (BP-6: 404 for aggregating PUT jobs; 404 as well while the cache
    /// cannot hold the chunk, the contract's only "not now" answer besides 400).
    pub fn allocate(&mut self, now: u64, chunk_id: &str) -> Result<xml::Chunk, Failure> {
        self.advance(now);
        let (job_id, i) = self.find_chunk(chunk_id)?;
        let free = self.cache_free();
        let job = self
            .state
            .jobs
            .get_mut(&job_id)
            .ok_or_else(|| fail(404, "NotFound", "job"))?;
        if job.kind != Kind::Put {
            return Err(fail(400, "NotPutJob", "only PUT job chunks are allocated"));
        }
        if job.aggregating && !self.config.has(Defect::AllocateAggregating) {
            return Err(fail(
                404,
                "NotFound",
                "chunks of aggregating PUT jobs are pre-allocated",
            ));
        }
        if job.status != Status::InProgress {
            return Err(fail(404, "NotFound", "the job has ended"));
        }
        let c = &mut job.chunks[i];
        if !c.allocated {
            if c.bytes() > free {
                let mut f = fail(404, "CacheFull", "the cache cannot hold the chunk now");
                f.retry_after = Some(self.config.retry_after_secs);
                return Err(f);
            }
            c.allocated = true;
        }
        job.last_activity_ms = now;
        self.save()?;
        self.get_chunk(now, chunk_id)
    }

    /// Modify Job / Modify Active Job (BP-13; resets the idle timer, BP-3).
    pub fn modify(
        &mut self,
        now: u64,
        id: &str,
        changes: &Changes,
        active_only: bool,
    ) -> Result<MasterObjectList, Failure> {
        self.advance(now);
        if let Some(p) = &changes.priority {
            if !CLIENT_PRIORITIES.contains(&p.to_ascii_uppercase().as_str()) {
                return Err(fail(400, "InvalidPriority", format!("priority `{p}`")));
            }
        }
        let ignored = self.config.has(Defect::ModifyIgnored);
        let keeps_timer = self.config.has(Defect::ModifyKeepsIdleTimer);
        let job = self
            .state
            .jobs
            .get_mut(id)
            .ok_or_else(|| fail(404, "NotFound", format!("no job `{id}`")))?;
        if active_only && job.status != Status::InProgress {
            return Err(fail(404, "NotFound", format!("job `{id}` is not active")));
        }
        if !ignored {
            if let Some(n) = &changes.name {
                job.name = n.clone();
            }
            if let Some(p) = &changes.priority {
                job.priority = p.to_ascii_uppercase();
            }
            if let Some(t) = changes.created_at_ms {
                job.start_ms = t;
            }
        }
        if !keeps_timer {
            job.last_activity_ms = now;
        }
        self.save()?;
        self.job(now, id)
    }

    /// Close Aggregating Job: no more appends.
    pub fn close(&mut self, now: u64, id: &str) -> Result<MasterObjectList, Failure> {
        self.advance(now);
        let job = self
            .state
            .jobs
            .get_mut(id)
            .ok_or_else(|| fail(404, "NotFound", format!("no job `{id}`")))?;
        job.closed = true;
        self.advance_job(id, now);
        self.save()?;
        self.job(now, id)
    }

    /// Cancel (`force`) or Truncate (no force) (BP-11, BP-12). Ending an ended job is a
    /// no-op (204).
    pub fn cancel(&mut self, now: u64, id: &str, force: bool) -> Result<(), Failure> {
        self.advance(now);
        let job = self.job_ref(id)?;
        if job.status != Status::InProgress || self.config.has(Defect::CancelIgnored) {
            return Ok(());
        }
        let how = match (force, &self.config) {
            (true, c) if c.has(Defect::ForceKeepsCached) => EndKind::Truncate,
            (true, _) => EndKind::Cancel,
            (false, c) if c.has(Defect::TruncateDropsReceived) => EndKind::Cancel,
            (false, _) => EndKind::Truncate,
        };
        self.end_job(id, now, how);
        self.save()
    }

    fn end_job(&mut self, id: &str, now: u64, how: EndKind) {
        let keep_partial = self.config.has(Defect::CancelKeepsPartial);
        let Some(job) = self.state.jobs.get_mut(id) else {
            return;
        };
        job.status = Status::Canceled;
        job.ended_ms = Some(now);
        if job.kind != Kind::Put {
            return;
        }
        let bucket = job.bucket.clone();
        // Per object of the job: every blob persisted / every blob received / some.
        let mut objects: BTreeMap<String, Vec<BlobRec>> = BTreeMap::new();
        for b in job.blobs() {
            objects
                .entry(b.object_id.clone())
                .or_default()
                .push(b.clone());
        }
        for blobs in objects.values() {
            let name = blobs[0].name.clone();
            let all_persisted = blobs.iter().all(|b| b.persisted);
            let all_received = blobs.iter().all(|b| b.received);
            let any_received = blobs.iter().any(|b| b.received);
            let keep = all_persisted
                || (all_received && how != EndKind::Cancel)
                || (any_received && keep_partial);
            let key = object_key(&bucket, &name);
            if keep {
                for b in blobs.iter().filter(|b| b.received) {
                    let _ = self.storage.persist_blob(&b.id);
                }
                if !all_received {
                    // The defect: what arrived becomes the object.
                    let got: Vec<&BlobRec> = blobs.iter().filter(|b| b.received).collect();
                    self.state.objects.insert(
                        key,
                        ObjectRec {
                            id: blobs[0].object_id.clone(),
                            version: blobs[0].version,
                            length: got.iter().map(|b| b.length).sum(),
                            created_ms: now,
                            blobs: got
                                .iter()
                                .map(|b| (b.id.clone(), b.offset, b.length))
                                .collect(),
                            shadowed: Vec::new(),
                        },
                    );
                }
            } else {
                for b in blobs {
                    self.storage.remove_blob(Area::Cache, &b.id);
                }
                if self
                    .state
                    .objects
                    .get(&key)
                    .is_some_and(|o| o.id == blobs[0].object_id)
                {
                    self.state.objects.remove(&key);
                }
            }
        }
    }

    // ---------------------------------------------------------------- data

    /// PUT object with `job` and `offset` (BP-5, BP-17): stores one blob in cache.
    pub fn put_blob(
        &mut self,
        now: u64,
        bucket: &str,
        name: &str,
        job_id: &str,
        offset: u64,
        body: Bytes,
    ) -> Result<(), Failure> {
        self.advance(now);
        let free = self.cache_free();
        let job = self
            .state
            .jobs
            .get(job_id)
            .ok_or_else(|| fail(410, "JobGone", format!("no active job `{job_id}`")))?;
        if job.status != Status::InProgress || job.kind != Kind::Put {
            return Err(fail(
                410,
                "JobGone",
                format!("job `{job_id}` takes no data"),
            ));
        }
        if job.bucket != bucket {
            return Err(fail(400, "WrongBucket", "the job is for another bucket"));
        }
        let found = job.find_blob(name, offset);
        let Some((ci, bi)) = found else {
            return Err(fail(
                400,
                "NoSuchBlob",
                format!("job `{job_id}` has no blob of `{name}` at offset {offset}"),
            ));
        };
        let chunk = &job.chunks[ci];
        let blob = &chunk.blobs[bi];
        if body.len() as u64 != blob.length {
            return Err(fail(
                400,
                "WrongLength",
                format!("the blob is {} bytes, the body {}", blob.length, body.len()),
            ));
        }
        if blob.persisted {
            return Ok(());
        }
        if !chunk.allocated && chunk.bytes() > free {
            return Err(fail(
                409,
                "CacheFull",
                "the chunk is not allocated and the cache is full",
            ));
        }
        let blob_id = blob.id.clone();
        if self.config.has(Defect::CacheInMemory) {
            self.held.insert(blob_id.clone(), body);
        } else {
            self.storage
                .put_blob(Area::Cache, &blob_id, body)
                .map_err(|e| fail(409, "DiskFull", format!("{e:?}")))?;
        }
        let job = self
            .state
            .jobs
            .get_mut(job_id)
            .ok_or_else(|| fail(410, "JobGone", "job"))?;
        job.last_activity_ms = now;
        let chunk = &mut job.chunks[ci];
        chunk.allocated = true;
        chunk.blobs[bi].received = true;
        if chunk.blobs.iter().all(|b| b.received) {
            chunk.complete_at = Some(now);
        }
        let object_id = chunk.blobs[bi].object_id.clone();
        let of_object: Vec<BlobRec> = job
            .blobs()
            .filter(|b| b.object_id == object_id)
            .cloned()
            .collect();
        if of_object.iter().all(|b| b.received) {
            let key = object_key(bucket, name);
            let rec = ObjectRec {
                id: object_id,
                version: of_object[0].version,
                length: of_object.iter().map(|b| b.length).sum(),
                created_ms: now,
                blobs: of_object
                    .iter()
                    .map(|b| (b.id.clone(), b.offset, b.length))
                    .collect(),
                shadowed: Vec::new(),
            };
            let keep_latest = self
                .state
                .buckets
                .get(bucket)
                .is_some_and(|b| b.versioning == Versioning::KeepLatest);
            let previous = self.state.objects.get(&key).filter(|o| o.id != rec.id);
            if keep_latest && previous.is_some() && self.config.has(Defect::KeepLatestServesOld) {
                // The defect: the old version stays the visible one.
            } else if keep_latest
                && previous.is_some()
                && self.config.has(Defect::KeepLatestKeepsBoth)
            {
                let mut rec = rec;
                if let Some(mut old) = self.state.objects.remove(&key) {
                    rec.shadowed = std::mem::take(&mut old.shadowed);
                    rec.shadowed.push(old);
                }
                self.state.objects.insert(key, rec);
            } else if let Some(old) = self.state.objects.insert(key, rec.clone()) {
                if old.id != rec.id {
                    for o in std::iter::once(&old).chain(&old.shadowed) {
                        for (b, _, _) in &o.blobs {
                            self.storage.remove_blob(Area::Cache, b);
                            self.storage.remove_blob(Area::Permanent, b);
                        }
                    }
                }
            }
        }
        self.save()
    }

    /// GET object with `job` and `offset`: one blob of a loaded chunk (503 with
    /// `Retry-After` while it is not in cache).
    pub fn get_blob(
        &mut self,
        now: u64,
        bucket: &str,
        name: &str,
        job_id: &str,
        offset: u64,
    ) -> Result<Bytes, Failure> {
        self.advance(now);
        let job = self.job_ref(job_id)?;
        if job.kind != Kind::Get || job.bucket != bucket {
            return Err(fail(400, "NotGetJob", "not a GET job of this bucket"));
        }
        if job.status == Status::Canceled {
            return Err(fail(404, "NotFound", "the job was canceled"));
        }
        let found = job.find_blob(name, offset);
        let Some((ci, bi)) = found else {
            return Err(fail(
                404,
                "NotFound",
                format!("no blob of `{name}` at {offset}"),
            ));
        };
        let chunk = &job.chunks[ci];
        let busy = self.config.busy_redirects;
        if busy > 0 {
            let key = (job_id.to_string(), chunk.blobs[bi].id.clone());
            let sent = self.redirected.entry(key).or_default();
            if *sent < busy {
                *sent += 1;
                return Err(fail(
                    307,
                    "ServerBusy",
                    "the system is busy; send the same request again",
                ));
            }
        }
        let job = self.job_ref(job_id)?;
        let chunk = &job.chunks[ci];
        if !chunk.loaded && self.config.has(Defect::RedirectNeverClears) {
            return Err(fail(
                307,
                "TemporaryRedirect",
                "the chunk is not in cache yet",
            ));
        }
        if !chunk.loaded {
            let mut f = fail(503, "NotInCache", "the chunk is not in cache yet");
            f.retry_after = Some(self.config.retry_after_secs);
            return Err(f);
        }
        let blob_id = chunk.blobs[bi].id.clone();
        let bytes = self
            .storage
            .get_blob(Area::Cache, &blob_id)
            .or_else(|| self.storage.get_blob(Area::Permanent, &blob_id))
            .ok_or_else(|| fail(404, "NotFound", "the blob's bytes are gone"))?;
        let job = self
            .state
            .jobs
            .get_mut(job_id)
            .ok_or_else(|| fail(404, "NotFound", "job"))?;
        job.last_activity_ms = now;
        let chunk = &mut job.chunks[ci];
        chunk.blobs[bi].read = true;
        if chunk.blobs.iter().all(|b| b.read) {
            chunk.released = true;
        }
        self.advance_job(job_id, now);
        self.save()?;
        Ok(bytes)
    }

    /// Plain GET of a stored object (no job): every blob, in order.
    pub fn read_object(&self, bucket: &str, name: &str) -> Result<Bytes, Failure> {
        let rec = self
            .state
            .objects
            .get(&object_key(bucket, name))
            .ok_or_else(|| fail(404, "NotFound", format!("no object `{bucket}/{name}`")))?;
        let mut out = Vec::with_capacity(rec.length as usize);
        for (id, _, _) in &rec.blobs {
            let bytes = self
                .held
                .get(id)
                .cloned()
                .or_else(|| self.storage.get_blob(Area::Cache, id))
                .or_else(|| self.storage.get_blob(Area::Permanent, id))
                .ok_or_else(|| fail(404, "NotFound", "a blob of the object is gone"))?;
            out.extend_from_slice(&bytes);
        }
        Ok(Bytes::from(out))
    }

    /// The stored objects of a bucket: (name, object id, version, length).
    pub fn list_objects(&self, bucket: &str) -> Vec<(String, String, u64, u64)> {
        let prefix = format!("{bucket}/");
        self.state
            .objects
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .flat_map(|(k, o)| {
                let name = k[prefix.len()..].to_string();
                std::iter::once(o)
                    .chain(&o.shadowed)
                    .map(move |o| (name.clone(), o.id.clone(), o.version, o.length))
            })
            .collect()
    }

    // ---------------------------------------------------------------- data policies, buckets

    /// Create Data Policy (`POST /_rest_/data_policy?name=&versioning=`): 201 with the
    /// policy; 400 for a missing or taken name, an unknown versioning, or
    /// KEEP_MULTIPLE_VERSIONS, which the reference does not keep (docs/choices.md D12).
    pub fn create_data_policy(
        &mut self,
        name: Option<&str>,
        versioning: Option<&str>,
    ) -> Result<xml::DataPolicyDoc, Failure> {
        let name = name
            .filter(|n| !n.is_empty())
            .ok_or_else(|| fail(400, "MissingName", "name= is required"))?;
        let versioning = match versioning.map(str::to_ascii_uppercase).as_deref() {
            None | Some("KEEP_LATEST") => Versioning::KeepLatest,
            Some("NONE") => Versioning::None,
            Some("KEEP_MULTIPLE_VERSIONS") => {
                return Err(fail(
                    400,
                    "UnsupportedVersioning",
                    "this system keeps one version per name: versioning NONE or KEEP_LATEST",
                ))
            }
            Some(other) => {
                return Err(fail(
                    400,
                    "InvalidVersioning",
                    format!(
                        "versioning `{other}` is not NONE, KEEP_LATEST or KEEP_MULTIPLE_VERSIONS"
                    ),
                ))
            }
        };
        if self.state.policies.values().any(|p| p.name == name) {
            return Err(fail(
                400,
                "AlreadyExists",
                format!("a data policy named `{name}` exists"),
            ));
        }
        let id = self.draw();
        let rec = PolicyRec {
            id: id.clone(),
            name: name.to_string(),
            versioning,
        };
        self.state.policies.insert(id, rec.clone());
        self.save()?;
        Ok(policy_doc(&rec))
    }

    fn policy_key(&self, id_or_name: &str) -> Option<String> {
        self.state
            .policies
            .values()
            .find(|p| p.id == id_or_name || p.name == id_or_name)
            .map(|p| p.id.clone())
    }

    /// Delete Data Policy by id or name: 204 (404 when there is none). A bucket made with
    /// it keeps the versioning it was made with.
    pub fn delete_data_policy(&mut self, id_or_name: &str) -> Result<(), Failure> {
        let key = self
            .policy_key(id_or_name)
            .ok_or_else(|| fail(404, "NotFound", format!("no data policy `{id_or_name}`")))?;
        self.state.policies.remove(&key);
        self.save()
    }

    /// Create Bucket (`POST /_rest_/bucket?name=[&data_policy_id=]`, the policy by id or
    /// name): 201 with the bucket; 409 when the name is taken (by a created bucket or one
    /// holding objects); 400 for a missing name or an unknown policy. Without a policy the
    /// bucket takes re-puts as KEEP_LATEST.
    pub fn create_bucket(
        &mut self,
        user: &User,
        name: Option<&str>,
        policy: Option<&str>,
    ) -> Result<xml::BucketDoc, Failure> {
        let name = name
            .filter(|n| !n.is_empty() && !n.contains('/') && *n != "_rest_")
            .ok_or_else(|| fail(400, "InvalidBucketName", "name= is required"))?;
        if self.state.buckets.contains_key(name) || !self.list_objects(name).is_empty() {
            return Err(fail(
                409,
                "BucketAlreadyExists",
                format!("bucket `{name}` exists"),
            ));
        }
        let (policy_id, versioning) = match policy {
            None => (String::new(), Versioning::KeepLatest),
            Some(p) => {
                let key = self.policy_key(p).ok_or_else(|| {
                    fail(400, "InvalidDataPolicy", format!("no data policy `{p}`"))
                })?;
                let rec = &self.state.policies[&key];
                (rec.id.clone(), rec.versioning)
            }
        };
        let rec = BucketRec {
            id: self.draw(),
            name: name.to_string(),
            policy_id,
            versioning,
            user_id: user.id.clone(),
        };
        self.state.buckets.insert(name.to_string(), rec.clone());
        self.save()?;
        Ok(xml::BucketDoc {
            id: rec.id,
            name: rec.name,
            data_policy_id: rec.policy_id,
            user_id: rec.user_id,
        })
    }

    /// Delete Bucket by name or id: 204; with `force` its objects go too, without it a
    /// bucket holding objects is 409; 404 when there is no such bucket. Jobs of the bucket
    /// still in progress are canceled.
    pub fn delete_bucket(
        &mut self,
        now: u64,
        id_or_name: &str,
        force: bool,
    ) -> Result<(), Failure> {
        self.advance(now);
        let name = self
            .state
            .buckets
            .values()
            .find(|b| b.id == id_or_name || b.name == id_or_name)
            .map(|b| b.name.clone())
            .unwrap_or_else(|| id_or_name.to_string());
        let known = self.state.buckets.contains_key(&name);
        let prefix = format!("{name}/");
        let keys: Vec<String> = self
            .state
            .objects
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        if !known && keys.is_empty() {
            return Err(fail(404, "NotFound", format!("no bucket `{id_or_name}`")));
        }
        if !keys.is_empty() && !force {
            return Err(fail(
                409,
                "BucketNotEmpty",
                format!("bucket `{name}` holds objects; delete them or use force"),
            ));
        }
        let open: Vec<String> = self
            .state
            .jobs
            .values()
            .filter(|j| j.bucket == name && j.status == Status::InProgress)
            .map(|j| j.id.clone())
            .collect();
        for id in open {
            self.end_job(&id, now, EndKind::Cancel);
        }
        let keys: Vec<String> = self
            .state
            .objects
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for key in keys {
            if let Some(o) = self.state.objects.remove(&key) {
                for o in std::iter::once(&o).chain(&o.shadowed) {
                    for (b, _, _) in &o.blobs {
                        self.storage.remove_blob(Area::Cache, b);
                        self.storage.remove_blob(Area::Permanent, b);
                    }
                }
            }
        }
        self.state.buckets.remove(&name);
        self.save()
    }

    // ---------------------------------------------------------------- replication

    /// Get Job to Replicate: the job's description for another system (a PUT job only).
    pub fn job_to_replicate(&mut self, now: u64, id: &str) -> Result<Payload, Failure> {
        self.advance(now);
        let job = self.job_ref(id)?;
        if job.kind != Kind::Put {
            return Err(fail(404, "NotFound", "only PUT jobs replicate"));
        }
        let mut p = Payload {
            id: job.id.clone(),
            priority: Some(job.priority.clone()),
            name: Some(job.name.clone()),
            ..Default::default()
        };
        let mut seen = BTreeSet::new();
        for c in &job.chunks {
            let mut entries = Vec::new();
            for (order, b) in c.blobs.iter().enumerate() {
                if seen.insert(b.object_id.clone()) {
                    p.objects.push(crate::ds3::replicate::PayloadObject {
                        bucket_id: job.bucket.clone(),
                        creation_date: Some(iso_ms(job.created_ms)),
                        id: b.object_id.clone(),
                        latest: true,
                        name: b.name.clone(),
                        kind: "DATA".into(),
                        version: Some(b.version),
                    });
                }
                p.blobs.push(crate::ds3::replicate::PayloadBlob {
                    byte_offset: b.offset,
                    checksum: None,
                    checksum_type: None,
                    id: b.id.clone(),
                    length: b.length,
                    object_id: b.object_id.clone(),
                });
                entries.push(crate::ds3::replicate::PayloadEntry {
                    blob_id: b.id.clone(),
                    chunk_id: c.id.clone(),
                    id: ids::nth(self.config.seed ^ 0xe, order as u64),
                    job_id: job.id.clone(),
                    order_index: order as u64,
                });
            }
            p.chunks.push(crate::ds3::replicate::PayloadChunk {
                chunk_number: c.number,
                entries,
                id: c.id.clone(),
            });
        }
        Ok(p)
    }

    /// Replicate PUT Job (BP-14, BP-15): a PUT job with the source's job, chunk, object
    /// and blob ids and versions; `None` (204) when every object is already here; the same
    /// job again when it exists (a retried request).
    pub fn replicate_put(
        &mut self,
        now: u64,
        user: &User,
        bucket: &str,
        priority: Option<&str>,
        payload: &Payload,
    ) -> Result<Option<MasterObjectList>, Failure> {
        self.advance(now);
        if !user.replicate && !self.config.has(Defect::ReplicateIgnoresPermission) {
            return Err(fail(
                403,
                "Forbidden",
                format!("user `{}` may not replicate", user.name),
            ));
        }
        let priority = match priority {
            Some(p)
                if !CLIENT_PRIORITIES.contains(&p.to_ascii_uppercase().as_str())
                    && !self.config.has(Defect::ReplicateAnyPriority) =>
            {
                return Err(fail(
                    403,
                    "InvalidPriority",
                    format!("priority `{p}` is not one of URGENT, HIGH, NORMAL, LOW"),
                ))
            }
            Some(p) => p.to_ascii_uppercase(),
            None => payload.priority.clone().unwrap_or_else(|| "NORMAL".into()),
        };
        payload
            .validate()
            .map_err(|e| fail(403, "InvalidPayload", e))?;
        if self.state.jobs.contains_key(&payload.id) {
            return self.job(now, &payload.id).map(Some);
        }
        let new_ids = self.config.has(Defect::NewIdsOnReplicate);
        let objects: BTreeMap<&str, &crate::ds3::replicate::PayloadObject> =
            payload.objects.iter().map(|o| (o.id.as_str(), o)).collect();
        let blobs: BTreeMap<&str, &crate::ds3::replicate::PayloadBlob> =
            payload.blobs.iter().map(|b| (b.id.as_str(), b)).collect();
        // Objects already here, identical (same id and version): nothing to transfer.
        let present = |o: &crate::ds3::replicate::PayloadObject, state: &State| {
            state
                .objects
                .get(&object_key(bucket, &o.name))
                .is_some_and(|r| r.id == o.id && Some(r.version) == o.version.or(Some(1)))
        };
        let mut chunks = Vec::new();
        for pc in &payload.chunks {
            let mut recs = Vec::new();
            for e in &pc.entries {
                let Some(b) = blobs.get(e.blob_id.as_str()) else {
                    continue;
                };
                let Some(o) = objects.get(b.object_id.as_str()) else {
                    continue;
                };
                if present(o, &self.state) {
                    continue;
                }
                recs.push(BlobRec {
                    id: if new_ids { self.draw() } else { b.id.clone() },
                    object_id: if new_ids { self.draw() } else { o.id.clone() },
                    name: o.name.clone(),
                    offset: b.byte_offset,
                    length: b.length,
                    version: o.version.unwrap_or(1),
                    received: false,
                    persisted: false,
                    read: false,
                });
            }
            if !recs.is_empty() {
                chunks.push(ChunkRec {
                    id: if new_ids { self.draw() } else { pc.id.clone() },
                    number: pc.chunk_number,
                    blobs: recs,
                    allocated: false,
                    complete_at: None,
                    persisted: false,
                    load_at: None,
                    loaded: false,
                    released: false,
                });
            }
        }
        if chunks.is_empty() {
            return Ok(None);
        }
        if new_ids {
            // The defect draws fresh object ids per blob; one per object is what it means.
            let mut by_name: BTreeMap<String, String> = BTreeMap::new();
            for c in chunks.iter_mut() {
                for b in c.blobs.iter_mut() {
                    let id = by_name
                        .entry(b.name.clone())
                        .or_insert_with(|| b.object_id.clone());
                    b.object_id = id.clone();
                }
            }
        }
        let id = if new_ids {
            self.draw()
        } else {
            payload.id.clone()
        };
        let job = JobRec {
            id: id.clone(),
            bucket: bucket.to_string(),
            name: payload.name.clone().unwrap_or_else(|| "Untitled".into()),
            kind: Kind::Put,
            priority,
            in_order: false,
            aggregating: false,
            closed: false,
            naked: false,
            status: Status::InProgress,
            user_id: user.id.clone(),
            user_name: user.name.clone(),
            start_ms: now,
            created_ms: now,
            last_activity_ms: now,
            ended_ms: None,
            chunks,
        };
        self.state.jobs.insert(id.clone(), job);
        self.save()?;
        self.job(now, &id).map(Some)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EndKind {
    Cancel,
    Truncate,
    Expire,
}

/// `YYYY-MM-DDThh:mm:ss.xxxZ` for milliseconds since the epoch.
pub fn iso_ms(ms: u64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Parses `created_at`: epoch seconds, or ISO 8601 (`YYYY-MM-DDThh:mm:ss[.xxx]Z`, the
/// publisher's parser after the milliseconds are split off).
pub fn parse_created_at(s: &str) -> Option<u64> {
    if let Ok(secs) = s.parse::<u64>() {
        return secs.checked_mul(1000);
    }
    let (whole, millis) = match s.trim_end_matches('Z').split_once('.') {
        Some((w, m)) if m.len() == 3 && m.bytes().all(|b| b.is_ascii_digit()) => {
            (w.to_string(), m.parse::<u64>().ok()?)
        }
        Some(_) => return None,
        None => (s.to_string(), 0),
    };
    crate::publisher::iso8601::parse_ms(&whole)
        .ok()
        .map(|ms| ms + millis)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ds3::auth::Credentials;
    use crate::ds3::xml::BulkObject;
    use crate::store::Disk;

    fn user() -> User {
        Credentials::fixture()
            .users()
            .find(|u| u.name == "test_user")
            .cloned()
            .expect("fixture user")
    }

    fn gateway(cache: u64) -> (Gateway, crate::store::SharedDisk) {
        let disk = Disk::shared(1 << 24);
        let mut config = GatewayConfig::new(1, "bp1");
        config.cache_bytes = cache;
        config.chunk_bytes = 10;
        (Gateway::open(config, Storage::new(disk.clone())), disk)
    }

    fn objects(list: &[(&str, u64)]) -> BulkRequest {
        BulkRequest {
            objects: list
                .iter()
                .map(|(n, s)| BulkObject {
                    name: n.to_string(),
                    size: Some(*s),
                    ..Default::default()
                })
                .collect(),
        }
    }

    /// A job in bucket `b` with default options, which must be accepted.
    fn job(g: &mut Gateway, now: u64, kind: Kind, list: &[(&str, u64)]) -> MasterObjectList {
        g.create_job(
            now,
            &user(),
            "b",
            kind,
            &JobOptions::default(),
            &objects(list),
        )
        .expect("job accepted")
    }

    fn put_all(g: &mut Gateway, now: u64, mol: &MasterObjectList) {
        for c in &mol.chunks {
            for b in &c.objects {
                let body = Bytes::from(vec![b'x'; b.length as usize]);
                g.put_blob(now, &mol.bucket_name, &b.name, &mol.job_id, b.offset, body)
                    .expect("blob accepted");
            }
        }
    }

    #[test]
    fn bulk_put_covers_every_byte_once_and_completes_after_persisting() {
        let (mut g, disk) = gateway(1 << 20);
        let opts = JobOptions {
            max_upload_size: Some(4),
            ..Default::default()
        };
        let mol = g
            .create_job(
                0,
                &user(),
                "b",
                Kind::Put,
                &opts,
                &objects(&[("a", 10), ("z", 3)]),
            )
            .expect("created");
        assert_eq!(mol.status, "IN_PROGRESS");
        assert_eq!(mol.original_size_in_bytes, 13);
        let lens: Vec<(String, u64, u64)> = mol
            .chunks
            .iter()
            .flat_map(|c| {
                c.objects
                    .iter()
                    .map(|b| (b.name.clone(), b.offset, b.length))
            })
            .collect();
        assert_eq!(
            lens,
            vec![
                ("a".into(), 0, 4),
                ("a".into(), 4, 4),
                ("a".into(), 8, 2),
                ("z".into(), 0, 3)
            ]
        );
        let ready = g.chunks_ready(1, &mol.job_id, None).expect("ready");
        assert_eq!(ready.list.chunks.len(), mol.chunks.len());
        put_all(&mut g, 2, &mol);
        let mid = g.job(3, &mol.job_id).expect("job");
        assert_eq!(mid.cached_size_in_bytes, 13);
        assert_eq!(mid.completed_size_in_bytes, 0, "not persisted yet");
        assert_eq!(mid.status, "IN_PROGRESS");
        let done = g.job(2 + 2000, &mol.job_id).expect("job");
        assert_eq!(done.status, "COMPLETED");
        assert_eq!(done.completed_size_in_bytes, 13);
        assert_eq!(g.read_object("b", "a").expect("stored").len(), 10);
        // A restart reads the same state back from the disk.
        let g2 = Gateway::open(g.config().clone(), Storage::new(disk));
        assert_eq!(g2.read_object("b", "z").expect("stored").len(), 3);
    }

    #[test]
    fn a_full_cache_gives_an_empty_list_with_retry_after_until_it_frees() {
        let (mut g, _) = gateway(10);
        let a = job(&mut g, 0, Kind::Put, &[("a", 10)]);
        assert_eq!(
            g.chunks_ready(0, &a.job_id, None)
                .expect("a")
                .list
                .chunks
                .len(),
            1
        );
        let b = job(&mut g, 0, Kind::Put, &[("c", 10)]);
        let wait = g.chunks_ready(0, &b.job_id, None).expect("b");
        assert!(wait.list.chunks.is_empty());
        assert_eq!(wait.retry_after, Some(5));
        put_all(&mut g, 1, &a);
        let later = g.chunks_ready(5000, &b.job_id, None).expect("b");
        assert_eq!(later.list.chunks.len(), 1);
        assert_eq!(later.retry_after, None);
    }

    #[test]
    fn in_order_get_jobs_load_chunks_in_number_order() {
        let (mut g, _) = gateway(10);
        let p = job(&mut g, 0, Kind::Put, &[("a", 10), ("c", 10), ("d", 10)]);
        for c in &p.chunks {
            g.allocate(0, &c.chunk_id).ok();
            for b in &c.objects {
                let _ = g.put_blob(
                    0,
                    "b",
                    &b.name,
                    &p.job_id,
                    b.offset,
                    Bytes::from(vec![1; b.length as usize]),
                );
            }
            g.advance(3000);
        }
        g.advance(10_000);
        assert_eq!(g.job(10_000, &p.job_id).expect("job").status, "COMPLETED");
        for (in_order, first) in [(true, 1), (false, 3)] {
            let opts = JobOptions {
                in_order,
                ..Default::default()
            };
            let get = g
                .create_job(
                    20_000,
                    &user(),
                    "b",
                    Kind::Get,
                    &opts,
                    &objects(&[("a", 0), ("c", 0), ("d", 0)]),
                )
                .expect("get");
            let none_yet = g.chunks_ready(20_000, &get.job_id, None).expect("ready");
            assert!(none_yet.list.chunks.is_empty());
            assert_eq!(none_yet.retry_after, Some(1));
            let ready = g.chunks_ready(21_000, &get.job_id, None).expect("ready");
            let numbers: Vec<u32> = ready.list.chunks.iter().map(|c| c.chunk_number).collect();
            assert_eq!(numbers, vec![first], "in_order={in_order}");
            g.cancel(21_000, &get.job_id, true).expect("cancel");
        }
    }

    #[test]
    fn cancel_drops_partial_objects_truncate_keeps_whole_ones_and_idle_jobs_expire() {
        let (mut g, _) = gateway(1 << 20);
        let opts = JobOptions {
            max_upload_size: Some(5),
            ..Default::default()
        };
        let j = g
            .create_job(
                0,
                &user(),
                "b",
                Kind::Put,
                &opts,
                &objects(&[("part", 10), ("whole", 5)]),
            )
            .expect("job");
        g.put_blob(0, "b", "part", &j.job_id, 0, Bytes::from(vec![1; 5]))
            .expect("blob");
        g.put_blob(0, "b", "whole", &j.job_id, 0, Bytes::from(vec![1; 5]))
            .expect("blob");
        g.cancel(1, &j.job_id, false).expect("truncate");
        assert!(g.read_object("b", "part").is_err());
        assert_eq!(g.read_object("b", "whole").map(|b| b.len()), Ok(5));
        assert_eq!(g.job(2, &j.job_id).expect("job").status, "CANCELED");
        assert_eq!(g.chunks_ready(2, &j.job_id, None).unwrap_err().status, 410);
        let idle = job(&mut g, 10, Kind::Put, &[("q", 1)]);
        let day = 24 * 3600 * 1000;
        assert_eq!(
            g.job(10 + day - 1, &idle.job_id).expect("job").status,
            "IN_PROGRESS"
        );
        assert_eq!(
            g.job(10 + day, &idle.job_id).expect("job").status,
            "CANCELED"
        );
        assert_eq!(
            g.job(10 + day + 30 * day, &idle.job_id).unwrap_err().status,
            404
        );
    }

    #[test]
    fn replication_keeps_ids_and_answers_204_when_nothing_is_left() {
        let (mut src, _) = gateway(1 << 20);
        let (mut dst, _) = {
            let disk = Disk::shared(1 << 24);
            let mut config = GatewayConfig::new(2, "bp2");
            config.chunk_bytes = 10;
            (Gateway::open(config, Storage::new(disk.clone())), disk)
        };
        let j = job(&mut src, 0, Kind::Put, &[("a", 4), ("c", 9)]);
        let payload = src.job_to_replicate(0, &j.job_id).expect("payload");
        let payload = Payload::parse(&payload.to_json()).expect("parses");
        let t = dst
            .replicate_put(0, &user(), "b", None, &payload)
            .expect("replicated")
            .expect("a job");
        assert_eq!(t.job_id, j.job_id);
        assert_eq!(t.chunks, {
            let mut c = j.chunks.clone();
            for ch in c.iter_mut() {
                ch.node_id = t.chunks[0].node_id.clone();
            }
            c
        });
        let again = dst
            .replicate_put(1, &user(), "b", None, &payload)
            .expect("retry");
        assert_eq!(again.map(|m| m.job_id), Some(j.job_id.clone()));
        put_all(&mut dst, 1, &t);
        dst.advance(5000);
        // A new job id with the same objects: nothing to transfer.
        let mut same = payload.clone();
        same.id = "00000000-0000-4000-8000-000000000000".into();
        assert_eq!(dst.replicate_put(6000, &user(), "b", None, &same), Ok(None));
        let plain = Credentials::fixture()
            .users()
            .find(|u| !u.replicate)
            .cloned()
            .expect("plain user");
        assert_eq!(
            dst.replicate_put(6000, &plain, "b", None, &payload)
                .unwrap_err()
                .status,
            403
        );
        assert_eq!(
            dst.replicate_put(6000, &user(), "b", Some("CRITICAL"), &payload)
                .unwrap_err()
                .status,
            403
        );
    }

    #[test]
    fn aggregating_jobs_append_within_the_window_and_allocate_refuses_them() {
        let (mut g, _) = gateway(1 << 20);
        let opts = JobOptions {
            aggregating: true,
            ..Default::default()
        };
        let a = g
            .create_job(0, &user(), "b", Kind::Put, &opts, &objects(&[("a", 1)]))
            .expect("a");
        let b = g
            .create_job(
                60_000,
                &user(),
                "b",
                Kind::Put,
                &opts,
                &objects(&[("c", 1)]),
            )
            .expect("b");
        assert_eq!(a.job_id, b.job_id);
        assert_eq!(b.chunks.len(), 2);
        assert_eq!(
            g.allocate(60_000, &b.chunks[0].chunk_id)
                .unwrap_err()
                .status,
            404
        );
        let late = g
            .create_job(
                31 * 60_000,
                &user(),
                "b",
                Kind::Put,
                &opts,
                &objects(&[("d", 1)]),
            )
            .expect("late");
        assert_ne!(late.job_id, a.job_id);
        let closed = g.close(31 * 60_000, &a.job_id).expect("closed");
        assert!(closed.aggregating);
        assert_eq!(
            parse_created_at("2016-01-21T18:54:21.000Z"),
            Some(1_453_402_461_000)
        );
        assert_eq!(parse_created_at("1453402461"), Some(1_453_402_461_000));
        assert_eq!(iso_ms(1_453_402_461_000), "2016-01-21T18:54:21.000Z");
    }

    fn reput(g: &mut Gateway, bucket: &str, fill: u8, size: u64) -> Result<(), Failure> {
        let m = g.create_job(
            0,
            &user(),
            bucket,
            Kind::Put,
            &JobOptions::default(),
            &objects(&[("a", size)]),
        )?;
        for c in &m.chunks {
            for b in &c.objects {
                let body = Bytes::from(vec![fill; b.length as usize]);
                g.put_blob(0, bucket, &b.name, &m.job_id, b.offset, body)?;
            }
        }
        Ok(())
    }

    #[test]
    fn keep_latest_buckets_take_a_reput_and_list_one_object_with_the_new_bytes() {
        let (mut g, _) = gateway(1 << 20);
        let p = g
            .create_data_policy(Some("kl"), Some("KEEP_LATEST"))
            .expect("policy");
        assert_eq!(p.versioning, "KEEP_LATEST");
        let b = g
            .create_bucket(&user(), Some("bk"), Some("kl"))
            .expect("bucket by policy name");
        assert_eq!(b.data_policy_id, p.id);
        reput(&mut g, "bk", b'1', 4).expect("first put");
        reput(&mut g, "bk", b'2', 6).expect("second put");
        let listed = g.list_objects("bk");
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(listed[0].3, 6);
        assert_eq!(
            g.read_object("bk", "a").expect("read"),
            Bytes::from(vec![b'2'; 6])
        );
        // Cleanup: a bucket with objects needs force; then the policy goes.
        assert_eq!(g.delete_bucket(0, "bk", false).unwrap_err().status, 409);
        g.delete_bucket(0, &b.id, true).expect("force by id");
        assert!(g.list_objects("bk").is_empty());
        assert_eq!(g.delete_bucket(0, "bk", true).unwrap_err().status, 404);
        g.delete_data_policy(&p.id).expect("policy deleted");
        assert_eq!(g.delete_data_policy(&p.id).unwrap_err().status, 404);
    }

    #[test]
    fn versioning_none_refuses_a_reput_and_unsupported_levels_are_400() {
        let (mut g, _) = gateway(1 << 20);
        g.create_data_policy(Some("none"), Some("NONE"))
            .expect("policy");
        g.create_bucket(&user(), Some("bn"), Some("none"))
            .expect("bucket");
        reput(&mut g, "bn", b'1', 4).expect("first put");
        let f = reput(&mut g, "bn", b'2', 4).unwrap_err();
        assert_eq!((f.status, f.code), (400, "OBJECT_ALREADY_EXISTS"));
        for bad in ["KEEP_MULTIPLE_VERSIONS", "SOMETIMES"] {
            let f = g.create_data_policy(Some("x"), Some(bad)).unwrap_err();
            assert_eq!(f.status, 400, "{bad}");
        }
        assert_eq!(
            g.create_data_policy(Some("none"), None).unwrap_err().status,
            400
        );
        assert_eq!(
            g.create_bucket(&user(), Some("bn"), None)
                .unwrap_err()
                .status,
            409
        );
        assert_eq!(
            g.create_bucket(&user(), Some("bx"), Some("nope"))
                .unwrap_err()
                .status,
            400
        );
    }

    #[test]
    fn keep_latest_defects_keep_both_refuse_or_keep_the_old_version() {
        for (defect, listed, second_ok, bytes) in [
            (Defect::KeepLatestKeepsBoth, 2, true, vec![b'2'; 6]),
            (Defect::KeepLatestRefusesReput, 1, false, vec![b'1'; 4]),
            (Defect::KeepLatestServesOld, 1, true, vec![b'1'; 4]),
        ] {
            let (mut g, _) = gateway(1 << 20);
            g.config.defects.insert(defect);
            g.create_data_policy(Some("kl"), Some("KEEP_LATEST"))
                .expect("policy");
            g.create_bucket(&user(), Some("bk"), Some("kl"))
                .expect("bucket");
            reput(&mut g, "bk", b'1', 4).expect("first put");
            assert_eq!(reput(&mut g, "bk", b'2', 6).is_ok(), second_ok, "{defect}");
            assert_eq!(g.list_objects("bk").len(), listed, "{defect}");
            assert_eq!(
                g.read_object("bk", "a").expect("read"),
                Bytes::from(bytes),
                "{defect}"
            );
        }
    }

    #[test]
    fn a_busy_gateway_answers_each_blob_get_307_that_many_times_then_serves_it() {
        let (mut g, _) = gateway(1 << 20);
        g.config.busy_redirects = 2;
        g.config.chunk_bytes = 1 << 10;
        reput(&mut g, "b", b'7', 4).expect("stored");
        g.advance(10_000);
        let m = job(&mut g, 10_000, Kind::Get, &[("a", 0)]);
        // Loaded once the load delay passed (D2).
        let later = 20_000;
        g.chunks_ready(later, &m.job_id, None).expect("ready");
        let get = |g: &mut Gateway| g.get_blob(later, "b", "a", &m.job_id, 0);
        assert_eq!(get(&mut g).unwrap_err().status, 307);
        assert_eq!(get(&mut g).unwrap_err().status, 307);
        assert_eq!(get(&mut g).expect("served"), Bytes::from(vec![b'7'; 4]));
        // Not busy: never 307.
        let (mut quiet, _) = gateway(1 << 20);
        reput(&mut quiet, "b", b'7', 4).expect("stored");
        let m = job(&mut quiet, 0, Kind::Get, &[("a", 0)]);
        let first = quiet.get_blob(0, "b", "a", &m.job_id, 0);
        assert_ne!(first.err().map(|f| f.status), Some(307));
    }
}
