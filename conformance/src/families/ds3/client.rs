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

/// A check's DS3 client: one user, every call recorded (method, target, status).
#[derive(Clone)]
pub struct Ds3 {
    ctx: Ctx,
    user: User,
    /// Every answer so far: (method, target, status), for BP-18.
    pub seen: Arc<Mutex<Vec<(String, String, u16)>>>,
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
            seen.push((method.to_string(), target.to_string(), r.status));
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

    /// Sends and expects 200 with a MasterObjectList.
    pub async fn send_mol(
        &self,
        system: usize,
        method: &str,
        target: &str,
        body: Option<Bytes>,
    ) -> Result<MasterObjectList, Verdict> {
        let r = self.send(system, method, target, body).await?;
        if r.status != 200 {
            return Err(Verdict::fail(format!(
                "{method} {target} answered {}: {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            )));
        }
        Self::mol(&r, &format!("{method} {target}"))
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
        if r.status != 200 {
            return Err(Verdict::fail(format!(
                "{op} answered {}: {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            )));
        }
        Self::mol(&r, op)
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

    /// GET one blob of a GET job, waiting out 503 + `Retry-After` (bounded).
    pub async fn get_blob(
        &self,
        system: usize,
        bucket: &str,
        job: &str,
        blob: &xml::Blob,
    ) -> Result<Response, Verdict> {
        let target = format!("/{bucket}/{}?job={job}&offset={}", blob.name, blob.offset);
        for _ in 0..30 {
            let r = self.send(system, "GET", &target, None).await?;
            if r.status != 503 {
                return Ok(r);
            }
            rt::sleep(retry_after(&r)).await;
        }
        Err(Verdict::fail(format!("GET {target} stayed 503")))
    }
}

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
