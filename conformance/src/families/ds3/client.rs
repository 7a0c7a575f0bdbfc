//! How a DS3 check talks to a system: signed requests through the strict client (so every
//! exchange is in the rule's transcript), MasterObjectLists parsed, and the client loop of
//! the documents (ask for ready chunks, send their blobs, wait as `Retry-After` says).
//! System 0 is the first `--target ds3=` URL (the source), system 1 the second (the target).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use replisim_sim::ds3::auth::{self, Signed, User};
use replisim_sim::ds3::xml::{self, MasterObjectList};
use replisim_sim::rt;

use crate::client::{Request, Response};
use crate::target::Ctx;
use crate::verdict::Verdict;

/// One answer a [`Ds3`] client got, whole (the transcript keeps only a body preview).
#[derive(Debug, Clone)]
pub struct Seen {
    /// The method.
    pub method: String,
    /// Path and query.
    pub target: String,
    /// The status.
    pub status: u16,
    /// Its `Retry-After`, if any.
    pub retry_after: Option<String>,
    /// The body.
    pub body: Bytes,
}

/// A check's DS3 client: one user, every answer recorded.
#[derive(Clone)]
pub struct Ds3 {
    ctx: Ctx,
    user: User,
    /// Every answer so far (BP-18 judges them; scenarios print them).
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

/// The bytes the harness stores at `offset` of object `name`: a pattern that differs per
/// name and position, so a blob stored in the wrong place reads back wrong.
pub fn content(name: &str, offset: u64, length: u64) -> Bytes {
    let seed = name
        .bytes()
        .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    (offset..offset + length)
        .map(|i| (seed.wrapping_add(i.wrapping_mul(13)) % 251) as u8)
        .collect::<Vec<u8>>()
        .into()
}

impl Ds3 {
    /// A client signing as `user`.
    pub fn new(ctx: &Ctx, user: User) -> Self {
        Self {
            ctx: ctx.clone(),
            user,
            seen: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// The same client signing as another user (sharing the record of answers).
    pub fn as_user(&self, user: User) -> Self {
        Self {
            ctx: self.ctx.clone(),
            user,
            seen: self.seen.clone(),
        }
    }

    /// One signed request to system `system`.
    pub async fn send(
        &self,
        system: usize,
        method: &str,
        target: &str,
        body: Option<Bytes>,
    ) -> Result<Response, Verdict> {
        let node = *self
            .ctx
            .nodes
            .get(system)
            .ok_or_else(|| Verdict::skip(format!("needs DS3 system {system}")))?;
        let date = httpdate::fmt_http_date(rt::wall_now());
        let path = target.split('?').next().unwrap_or(target);
        let signed = Signed {
            verb: method,
            path,
            date: &date,
            ..Default::default()
        };
        let mut req = Request::new(method, target)
            .header("Date", date.clone())
            .header("Authorization", auth::authorization(&self.user, &signed));
        if let Some(b) = body {
            req = req.body(b);
        } else if method == "PUT" {
            req = req.body(Bytes::new());
        }
        let r = self.ctx.client.send(node, &node.to_string(), &req).await?;
        if let Ok(mut seen) = self.seen.lock() {
            seen.push(Seen {
                method: method.to_string(),
                target: target.to_string(),
                status: r.status,
                retry_after: r.header("retry-after").map(str::to_string),
                body: r.body.clone(),
            });
        }
        Ok(r)
    }

    /// Parses a MasterObjectList answer, or fails naming the request.
    pub fn mol(r: &Response, what: &str) -> Result<MasterObjectList, Verdict> {
        let text = String::from_utf8_lossy(&r.body);
        xml::from_xml(&text).map_err(|e| {
            Verdict::fail(format!(
                "{what}: {} with a body that is not a MasterObjectList: {e}",
                r.status
            ))
        })
    }

    /// A 200 with a MasterObjectList, or a failure naming `what` and the answer.
    pub fn expect_mol(r: &Response, what: &str) -> Result<MasterObjectList, Verdict> {
        if r.status != 200 {
            return Err(Verdict::fail(format!(
                "{what} answered {}: {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            )));
        }
        Self::mol(r, what)
    }

    /// Sends and expects 200 with a MasterObjectList.
    pub async fn send_mol(
        &self,
        system: usize,
        method: &str,
        target: &str,
        body: Option<Bytes>,
    ) -> Result<MasterObjectList, Verdict> {
        let r = self.send(system, method, target, body).await?;
        Self::expect_mol(&r, &format!("{method} {target}"))
    }

    /// Create Bulk PUT/GET with these objects (`(name, size)`; size ignored for GET) and
    /// extra query text (`&max_upload_size=4`).
    pub async fn create(
        &self,
        system: usize,
        bucket: &str,
        op: &str,
        objects: &[(&str, u64)],
        extra: &str,
    ) -> Result<Response, Verdict> {
        let mut body = String::from("<Objects>");
        for (name, size) in objects {
            if op == "START_BULK_PUT" {
                body.push_str(&format!("<Object Name=\"{name}\" Size=\"{size}\"/>"));
            } else {
                body.push_str(&format!("<Object Name=\"{name}\"/>"));
            }
        }
        body.push_str("</Objects>");
        let target = format!("/_rest_/bucket/{bucket}?operation={op}{extra}");
        self.send(system, "PUT", &target, Some(Bytes::from(body)))
            .await
    }

    /// [`Ds3::create`] expecting 200 and a MasterObjectList.
    pub async fn create_mol(
        &self,
        system: usize,
        bucket: &str,
        op: &str,
        objects: &[(&str, u64)],
        extra: &str,
    ) -> Result<MasterObjectList, Verdict> {
        let r = self.create(system, bucket, op, objects, extra).await?;
        Self::expect_mol(&r, op)
    }

    /// Get Job Chunks Ready: the answer, and its list when it is 200.
    pub async fn ready(
        &self,
        system: usize,
        job: &str,
    ) -> Result<(Response, Option<MasterObjectList>), Verdict> {
        let r = self
            .send(system, "GET", &format!("/_rest_/job_chunk?job={job}"), None)
            .await?;
        let list = if r.status == 200 {
            Some(Self::mol(&r, "Get Job Chunks Ready")?)
        } else {
            None
        };
        Ok((r, list))
    }

    /// Get Job.
    pub async fn job(&self, system: usize, job: &str) -> Result<MasterObjectList, Verdict> {
        self.send_mol(system, "GET", &format!("/_rest_/job/{job}"), None)
            .await
    }

    /// PUT one blob with its pattern content.
    pub async fn put_blob(
        &self,
        system: usize,
        bucket: &str,
        job: &str,
        blob: &xml::Blob,
    ) -> Result<Response, Verdict> {
        let target = format!("/{bucket}/{}?job={job}&offset={}", blob.name, blob.offset);
        self.send(
            system,
            "PUT",
            &target,
            Some(content(&blob.name, blob.offset, blob.length)),
        )
        .await
    }

    /// The client loop for a PUT job: ask for ready chunks, PUT each of their blobs once
    /// (200 expected), wait `Retry-After` on an empty list; until every blob of `job` is
    /// sent. Bounded by `rounds` lists.
    pub async fn upload_all(
        &self,
        system: usize,
        job: &MasterObjectList,
        rounds: usize,
    ) -> Result<(), Verdict> {
        let total: BTreeSet<(String, u64)> = job
            .chunks
            .iter()
            .flat_map(|c| c.objects.iter().map(|b| (b.name.clone(), b.offset)))
            .collect();
        let mut sent = BTreeSet::new();
        for _ in 0..rounds {
            if sent.len() >= total.len() {
                return Ok(());
            }
            let (r, list) = self.ready(system, &job.job_id).await?;
            let Some(list) = list else {
                return Err(Verdict::fail(format!(
                    "Get Job Chunks Ready answered {} while blobs were left to send",
                    r.status
                )));
            };
            if list.chunks.is_empty() {
                rt::sleep(retry_after(&r)).await;
                continue;
            }
            for c in &list.chunks {
                for b in &c.objects {
                    if !sent.insert((b.name.clone(), b.offset)) {
                        continue;
                    }
                    let put = self
                        .put_blob(system, &job.bucket_name, &job.job_id, b)
                        .await?;
                    if put.status != 200 {
                        return Err(Verdict::fail(format!(
                            "PUT of {} at {} answered {}",
                            b.name, b.offset, put.status
                        )));
                    }
                }
            }
        }
        if sent.len() >= total.len() {
            return Ok(());
        }
        Err(Verdict::fail(format!(
            "{} of {} blobs sent after {rounds} ready lists",
            sent.len(),
            total.len()
        )))
    }

    /// Polls Get Job once a second until its Status is `status`; the last list either way.
    pub async fn wait_status(
        &self,
        system: usize,
        job: &str,
        status: &str,
        limit: Duration,
    ) -> Result<MasterObjectList, Verdict> {
        let deadline = rt::now() + limit;
        loop {
            let m = self.job(system, job).await?;
            if m.status == status || rt::now() >= deadline {
                return Ok(m);
            }
            rt::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Stores objects through a whole PUT job and waits until it is COMPLETED.
    pub async fn store(
        &self,
        system: usize,
        bucket: &str,
        objects: &[(&str, u64)],
    ) -> Result<MasterObjectList, Verdict> {
        let job = self
            .create_mol(system, bucket, "START_BULK_PUT", objects, "")
            .await?;
        self.upload_all(system, &job, 200).await?;
        let done = self
            .wait_status(system, &job.job_id, "COMPLETED", Duration::from_secs(120))
            .await?;
        if done.status != "COMPLETED" {
            return Err(Verdict::fail(format!(
                "the PUT job storing the check's objects is {} after two minutes",
                done.status
            )));
        }
        Ok(done)
    }

    /// GET one blob of a GET job, waiting out 503 + `Retry-After` (bounded), and sending
    /// the same request again at once after a 307, as the SDK does, at most
    /// [`MAX_REDIRECT`] sends in a row (then the 307 is the answer).
    pub async fn get_blob(
        &self,
        system: usize,
        bucket: &str,
        job: &str,
        blob: &xml::Blob,
    ) -> Result<Response, Verdict> {
        let target = format!("/{bucket}/{}?job={job}&offset={}", blob.name, blob.offset);
        let mut redirects = 0;
        for _ in 0..30 + MAX_REDIRECT {
            let r = self.send(system, "GET", &target, None).await?;
            match r.status {
                307 if redirects + 1 < MAX_REDIRECT => redirects += 1,
                503 => {
                    redirects = 0;
                    rt::sleep(retry_after(&r)).await;
                }
                _ => return Ok(r),
            }
        }
        Err(Verdict::fail(format!("GET {target} stayed 503")))
    }
}

/// The SDK's default `maxRedirect`: how many times in all it sends a request while the
/// answers are 307 (ds3_go_sdk `RedirectRetryCount`, 5; httpRedirect.go loops that many
/// sends, then fails "The server is busy").
pub const MAX_REDIRECT: usize = 5;

/// A response's `Retry-After` in seconds (1 s when absent or not a number; at most a
/// minute, so a check never waits long on one answer).
pub fn retry_after(r: &Response) -> Duration {
    let secs = r
        .header("retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(1)
        .clamp(1, 60);
    Duration::from_secs(secs)
}
