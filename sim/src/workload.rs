//! The standard workload: a client that writes, overwrites, reads and deletes objects on a
//! cluster while faults happen, and records a history of what it asked and what it was
//! told. The invariants are judged from that history.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::Method;

use crate::http::client::Answer;
use crate::http::pool::Pool;
use crate::rt;
use crate::scsp::object::md5_hex;
use crate::seeded::SeededRng;

/// Workload knobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadConfig {
    /// Operations to run.
    pub ops: usize,
    /// Distinct names written and overwritten.
    pub names: usize,
    /// Pause between operations, at most.
    pub think_ms_max: u64,
    /// Least time between two updates of one name (the once-per-second rule, with margin).
    pub update_gap: Duration,
    /// Bound on one HTTP exchange.
    pub request_timeout: Duration,
}

impl Default for WorkloadConfig {
    fn default() -> Self {
        Self {
            ops: 200,
            names: 8,
            think_ms_max: 300,
            update_gap: Duration::from_millis(1100),
            request_timeout: Duration::from_secs(4),
        }
    }
}

/// The bucket the workload writes into.
pub const BUCKET: &str = "workload";

/// What an operation asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpKind {
    /// POST of a named object with this content digest.
    WriteNamed {
        /// The name within the bucket.
        name: String,
        /// Hex MD5 of the content written.
        md5: String,
    },
    /// POST of an immutable unnamed object.
    WriteUnnamed {
        /// Hex MD5 of the content written.
        md5: String,
    },
    /// GET of a name.
    Read {
        /// The name.
        name: String,
    },
    /// DELETE of a name.
    Delete {
        /// The name.
        name: String,
    },
}

/// What the cluster answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpResult {
    /// A success status: the operation happened.
    Done {
        /// The status (200 or 201).
        status: u16,
        /// `Castor-System-Version` of the new version, when the answer carries one.
        version: Option<String>,
        /// `Content-UUID` of a new unnamed object.
        uuid: Option<String>,
        /// Hex MD5 of a read's body.
        body_md5: Option<String>,
    },
    /// A refusal that means nothing was changed (404, 409, 412, 507, …).
    Refused {
        /// The status.
        status: u16,
    },
    /// No answer, or an answer that does not say whether it happened (timeouts, 5xx).
    Unknown {
        /// What went wrong.
        why: String,
    },
}

/// One operation of the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    /// Sequence number.
    pub id: usize,
    /// What was asked.
    pub kind: OpKind,
    /// The node it was sent to first.
    pub node: usize,
    /// When it was sent, from the start of the workload.
    pub invoked: Duration,
    /// When the answer was complete.
    pub completed: Duration,
    /// The answer.
    pub result: OpResult,
}

/// Everything the workload did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    /// Operations in the order they were invoked.
    pub ops: Vec<Op>,
}

/// Sends a request and follows up to four 301/307 redirects, each exchange bounded. The
/// pool keeps connections to nodes alive between requests, as a real client library would.
pub async fn send_following(
    pool: &Pool,
    addr: SocketAddr,
    method: Method,
    target: &str,
    body: Bytes,
    timeout: Duration,
) -> Result<Answer, String> {
    let mut addr = addr;
    let mut target = target.to_string();
    for _ in 0..5 {
        let answer = pool
            .exchange(
                addr,
                method.clone(),
                &target,
                body.clone(),
                timeout,
                64 << 20,
            )
            .await
            .map_err(|e| e.0)?;
        if answer.status != 301 && answer.status != 307 {
            return Ok(answer);
        }
        (addr, target) = redirect_target(&answer)?;
    }
    Err("too many redirects".to_string())
}

/// Where a 301/307 answer sends the request: the node address and the origin-form target
/// of its `http://` `Location`.
pub fn redirect_target(answer: &Answer) -> Result<(SocketAddr, String), String> {
    let location = answer
        .header("location")
        .ok_or("redirect without Location")?;
    let rest = location
        .strip_prefix("http://")
        .ok_or("Location is not http://")?;
    let split = rest.find('/').unwrap_or(rest.len());
    let addr = rest[..split]
        .parse()
        .map_err(|_| format!("Location host `{}`", &rest[..split]))?;
    let target = if split < rest.len() {
        rest[split..].to_string()
    } else {
        "/".to_string()
    };
    Ok((addr, target))
}

/// The body an operation writes, `seed <seed> op <id> ` and `filler` bytes of `x`: written
/// byte by byte rather than formatted, since every operation builds one.
fn op_content(seed: u64, id: usize, filler: usize) -> Bytes {
    let mut seed_digits = itoa::Buffer::new();
    let mut id_digits = itoa::Buffer::new();
    let seed = seed_digits.format(seed).as_bytes();
    let id = id_digits.format(id).as_bytes();
    let mut content = Vec::with_capacity(10 + seed.len() + id.len() + filler);
    content.extend_from_slice(b"seed ");
    content.extend_from_slice(seed);
    content.extend_from_slice(b" op ");
    content.extend_from_slice(id);
    content.push(b' ');
    content.resize(content.len() + filler, b'x');
    Bytes::from(content)
}

fn classify(result: Result<Answer, String>, read: bool) -> OpResult {
    match result {
        Ok(a) if a.status.is_success() => OpResult::Done {
            status: a.status.as_u16(),
            version: a.header("castor-system-version").map(str::to_string),
            uuid: a.header("content-uuid").map(str::to_string),
            body_md5: read.then(|| md5_hex(&a.body)),
        },
        Ok(a) if a.status.is_client_error() || a.status == 507 => OpResult::Refused {
            status: a.status.as_u16(),
        },
        Ok(a) => OpResult::Unknown {
            why: format!("status {}", a.status.as_u16()),
        },
        Err(e) => OpResult::Unknown { why: e },
    }
}

/// Creates the workload's bucket, retrying until the cluster answers (before faults start).
pub async fn prepare(addrs: &[SocketAddr], config: &WorkloadConfig) -> Result<(), String> {
    let pool = Pool::new();
    let mut last = String::new();
    for attempt in 0..20 {
        let node = addrs[attempt % addrs.len()];
        match send_following(
            &pool,
            node,
            Method::POST,
            &format!("/{BUCKET}"),
            Bytes::new(),
            config.request_timeout,
        )
        .await
        {
            Ok(a) if a.status == 201 || a.status == 409 => return Ok(()),
            Ok(a) => last = format!("status {}", a.status),
            Err(e) => last = e,
        }
        rt::sleep(Duration::from_millis(200)).await;
    }
    Err(format!("could not create the workload bucket: {last}"))
}

/// Runs the workload with a single client; its choices are a pure function of `seed`.
/// Operation times count from `origin` (the world's start, so they line up with the trace).
pub async fn run(
    addrs: &[SocketAddr],
    seed: u64,
    config: &WorkloadConfig,
    origin: std::time::Instant,
) -> History {
    let mut rng = SeededRng::new(seed ^ 0x574F_524B_4C4F_4144);
    let pool = Pool::new();
    let start = origin;
    let mut history = History::default();
    let mut last_update: Vec<Option<Duration>> = vec![None; config.names.max(1)];
    for id in 0..config.ops {
        let node = rng.below(addrs.len() as u64) as usize;
        let now = rt::now().saturating_duration_since(start);
        let name_index = rng.below(config.names.max(1) as u64) as usize;
        let mut digits = itoa::Buffer::new();
        let name = digits.format(name_index);
        let name = ["n", name].concat();
        let may_update = last_update[name_index].is_none_or(|t| now >= t + config.update_gap);
        let roll = rng.below(100);
        let content = op_content(seed, id, rng.below(512) as usize);
        let object_target = ["/", BUCKET, "/", &name].concat();
        let (kind, method, target, body) = match roll {
            0..=44 if may_update => (
                OpKind::WriteNamed {
                    name: name.clone(),
                    md5: md5_hex(&content),
                },
                Method::POST,
                object_target,
                content,
            ),
            45..=59 => (
                OpKind::WriteUnnamed {
                    md5: md5_hex(&content),
                },
                Method::POST,
                "/".to_string(),
                content,
            ),
            60..=69 if may_update => (
                OpKind::Delete { name: name.clone() },
                Method::DELETE,
                object_target,
                Bytes::new(),
            ),
            _ => (
                OpKind::Read { name: name.clone() },
                Method::GET,
                object_target,
                Bytes::new(),
            ),
        };
        let is_update = matches!(kind, OpKind::WriteNamed { .. } | OpKind::Delete { .. });
        let is_read = matches!(kind, OpKind::Read { .. });
        let invoked = rt::now().saturating_duration_since(start);
        let answer = send_following(
            &pool,
            addrs[node],
            method,
            &target,
            body,
            config.request_timeout,
        )
        .await;
        let completed = rt::now().saturating_duration_since(start);
        if is_update {
            last_update[name_index] = Some(completed);
        }
        history.ops.push(Op {
            id,
            kind,
            node,
            invoked,
            completed,
            result: classify(answer, is_read),
        });
        if config.think_ms_max > 0 {
            rt::sleep(Duration::from_millis(1 + rng.below(config.think_ms_max))).await;
        }
    }
    history
}
