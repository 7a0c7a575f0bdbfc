//! The DS3 HTTP layer: verifies the signature (403 otherwise), maps each request onto the
//! gateway core by verb, path and required parameters (the contract's handlers,
//! conformance/data/ds3/contract.json), and writes answers as XML with the Error body on
//! every failure. [`dispatch`] is pure over the gateway; [`handle`] adapts hyper to it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;

use crate::clock::HostClock;
use crate::ds3::auth::{self, Credentials, Signed};
use crate::ds3::defects::Defect;
use crate::ds3::gateway::{
    parse_created_at, Changes, Failure, Gateway, JobFilter, JobOptions, Kind,
};
use crate::ds3::replicate::Payload;
use crate::ds3::xml::{self, ErrorBody};
use crate::http::body::collect_owned;

/// Request bodies larger than this are refused (400) before they are read.
pub const BODY_MAX: usize = 64 << 20;

/// A gateway shared by its connections, with its users and clock.
#[derive(Clone)]
pub struct Service {
    /// The core.
    pub gateway: Arc<Mutex<Gateway>>,
    /// Who may sign.
    pub credentials: Arc<Credentials>,
    /// The host's clock.
    pub clock: HostClock,
}

impl Service {
    /// Locks the core (a poisoned lock still yields it: a panicked request must not take
    /// the gateway down).
    pub fn lock(&self) -> std::sync::MutexGuard<'_, Gateway> {
        self.gateway.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A request, collected.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    /// Method.
    pub method: &'a str,
    /// Path (percent-decoded).
    pub path: &'a str,
    /// Query parameters, names lower-case; flags have an empty value.
    pub query: BTreeMap<String, String>,
    /// Headers, names lower-case.
    pub headers: BTreeMap<String, String>,
    /// Body.
    pub body: Bytes,
}

/// An answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Status.
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Bytes,
}

impl Reply {
    fn xml(status: u16, text: String) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".into(), "application/xml".into())],
            body: Bytes::from(text),
        }
    }

    fn empty(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    fn failure(path: &str, f: &Failure) -> Self {
        // 410 from Get Job Chunks Ready has no body in the contract; every other failure
        // carries the Error document.
        let mut r = Reply::xml(
            f.status,
            xml::to_xml(&ErrorBody {
                code: f.code.to_string(),
                http_error_code: f.status,
                message: f.message.clone(),
                resource: path.to_string(),
                resource_id: 0,
            }),
        );
        if let Some(s) = f.retry_after {
            r.headers.push(("Retry-After".into(), s.to_string()));
        }
        r
    }
}

/// Percent-decodes a path or query part (`+` stays `+`; bad escapes stay as they are).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Query text as lower-case names and decoded values.
pub fn parse_query(q: Option<&str>) -> BTreeMap<String, String> {
    q.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k).to_ascii_lowercase(), percent_decode(v)),
            None => (percent_decode(p).to_ascii_lowercase(), String::new()),
        })
        .collect()
}

/// Serves one hyper request.
pub async fn handle(
    service: Service,
    req: Request<hyper::body::Incoming>,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let path = percent_decode(parts.uri.path());
    let reply = if let Some(too_long) = target_too_long(&parts.uri, &path) {
        too_long
    } else {
        match collect_owned(body, BODY_MAX).await {
            Ok(body) => {
                let headers = parts
                    .headers
                    .iter()
                    .filter_map(|(k, v)| {
                        Some((
                            k.as_str().to_ascii_lowercase(),
                            v.to_str().ok()?.to_string(),
                        ))
                    })
                    .collect();
                let call = Call {
                    method: parts.method.as_str(),
                    path: &path,
                    query: parse_query(parts.uri.query()),
                    headers,
                    body,
                };
                dispatch(&service, &call)
            }
            Err(_) => Reply::failure(
                &path,
                &Failure {
                    status: 400,
                    code: "BadRequest",
                    message: "the body could not be read or is too large".into(),
                    retry_after: None,
                },
            ),
        }
    };
    let mut builder = Response::builder().status(reply.status);
    for (k, v) in &reply.headers {
        builder = builder.header(k, v);
    }
    builder
        .body(Full::new(reply.body))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

/// **414** with the Error document for a request target (path and query) longer than every
/// service here reads (`http::limits::URL_BYTES_MAX`), before the body is read or a
/// signature checked (docs/choices.md H6).
fn target_too_long(uri: &http::Uri, path: &str) -> Option<Reply> {
    let len = uri.path_and_query().map_or(0, |p| p.as_str().len());
    (len > crate::http::limits::URL_BYTES_MAX).then(|| {
        Reply::failure(
            path,
            &bad(
                414,
                "RequestUriTooLong",
                format!(
                    "the request target is {len} bytes; the limit is {}",
                    crate::http::limits::URL_BYTES_MAX
                ),
            ),
        )
    })
}

fn bad(status: u16, code: &'static str, message: impl Into<String>) -> Failure {
    Failure {
        status,
        code,
        message: message.into(),
        retry_after: None,
    }
}

fn flag(call: &Call<'_>, name: &str) -> bool {
    call.query.contains_key(name)
}

fn param<'c>(call: &'c Call<'_>, name: &str) -> Option<&'c str> {
    call.query.get(name).map(String::as_str)
}

fn bool_param(call: &Call<'_>, name: &str) -> Result<bool, Failure> {
    match param(call, name) {
        None => Ok(false),
        Some("") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(bad(
            400,
            "InvalidArgument",
            format!("{name}={v} is not true or false"),
        )),
    }
}

fn num_param(call: &Call<'_>, name: &str) -> Result<Option<u64>, Failure> {
    param(call, name)
        .map(|v| {
            v.parse::<u64>().map_err(|_| {
                bad(
                    400,
                    "InvalidArgument",
                    format!("{name}={v} is not a number"),
                )
            })
        })
        .transpose()
}

/// Answers one request: signature first, then the route.
pub fn dispatch(service: &Service, call: &Call<'_>) -> Reply {
    let header = |n: &str| call.headers.get(n).map(String::as_str).unwrap_or("");
    let amz: Vec<(String, String)> = call
        .headers
        .iter()
        .filter(|(k, _)| k.starts_with("x-amz-"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let signed = Signed {
        verb: call.method,
        path: call.path,
        content_md5: header("content-md5"),
        content_type: header("content-type"),
        date: header("date"),
        amz_headers: amz,
    };
    let user = match auth::verify(
        &service.credentials,
        call.headers.get("authorization").map(String::as_str),
        &signed,
    ) {
        Ok(u) => u.clone(),
        Err(why) => return Reply::failure(call.path, &bad(403, "InvalidSecurity", why)),
    };
    let now = service.clock.now_ms();
    match route(service, call, &user, now) {
        Ok(r) => r,
        Err(f) => Reply::failure(call.path, &f),
    }
}

fn route(
    service: &Service,
    call: &Call<'_>,
    user: &auth::User,
    now: u64,
) -> Result<Reply, Failure> {
    let segments: Vec<&str> = call.path.trim_start_matches('/').split('/').collect();
    let mut gw = service.lock();
    let mol = |m: xml::MasterObjectList| Reply::xml(200, xml::to_xml(&m));
    match (call.method, segments.as_slice()) {
        ("PUT", ["_rest_", "bucket", bucket]) => {
            let op = param(call, "operation").unwrap_or("").to_ascii_uppercase();
            let text = std::str::from_utf8(&call.body)
                .map_err(|_| bad(400, "InvalidBody", "the body is not UTF-8"))?;
            if op == "START_BULK_PUT" && flag(call, "replicate") {
                let payload = Payload::parse(text).map_err(|e| bad(403, "InvalidPayload", e))?;
                let outside = gw.config().defects.contains(&Defect::StatusOutsideContract);
                return Ok(
                    match gw.replicate_put(now, user, bucket, param(call, "priority"), &payload)? {
                        Some(m) if outside => Reply::xml(201, xml::to_xml(&m)),
                        Some(m) => mol(m),
                        None => Reply::empty(204),
                    },
                );
            }
            let kind = match op.as_str() {
                "START_BULK_PUT" => Kind::Put,
                "START_BULK_GET" => Kind::Get,
                "START_BULK_VERIFY" => Kind::Verify,
                "" => return Ok(Reply::empty(200)),
                other => return Err(bad(400, "InvalidOperation", format!("operation={other}"))),
            };
            let request: xml::BulkRequest =
                xml::from_xml(text).map_err(|e| bad(400, "InvalidBody", e))?;
            let order = param(call, "chunk_client_processing_order_guarantee")
                .unwrap_or("NONE")
                .to_ascii_uppercase();
            if order != "NONE" && order != "IN_ORDER" {
                return Err(bad(
                    400,
                    "InvalidArgument",
                    format!("order guarantee {order}"),
                ));
            }
            let options = JobOptions {
                name: param(call, "name").map(str::to_string),
                priority: param(call, "priority").map(str::to_string),
                aggregating: bool_param(call, "aggregating")?,
                in_order: order == "IN_ORDER",
                max_upload_size: num_param(call, "max_upload_size")?,
            };
            Ok(mol(
                gw.create_job(now, user, bucket, kind, &options, &request)?
            ))
        }
        ("GET", ["_rest_", "job_chunk"]) => {
            let job =
                param(call, "job").ok_or_else(|| bad(400, "MissingJob", "job= is required"))?;
            let preferred = num_param(call, "preferred_number_of_chunks")?.map(|n| n as usize);
            let ready = match gw.chunks_ready(now, job, preferred) {
                Ok(r) => r,
                // The contract's 410 for this handler has no body.
                Err(f) if f.status == 410 => return Ok(Reply::empty(410)),
                Err(f) => return Err(f),
            };
            if ready.list.chunks.is_empty() && gw.config().defects.contains(&Defect::RedirectOnBulk)
            {
                return Err(bad(307, "TemporaryRedirect", "no chunk is ready yet"));
            }
            let mut r = mol(ready.list);
            if let Some(s) = ready.retry_after {
                r.headers.push(("Retry-After".into(), s.to_string()));
            }
            Ok(r)
        }
        ("GET", ["_rest_", "job_chunk", id]) => {
            Ok(Reply::xml(200, xml::to_xml(&gw.get_chunk(now, id)?)))
        }
        ("PUT", ["_rest_", "job_chunk", id]) => {
            let op = param(call, "operation").unwrap_or("").to_ascii_uppercase();
            if op != "ALLOCATE" {
                return Err(bad(
                    400,
                    "InvalidOperation",
                    "operation=ALLOCATE is required",
                ));
            }
            Ok(Reply::xml(200, xml::to_xml(&gw.allocate(now, id)?)))
        }
        ("GET", ["_rest_", "job", id]) if flag(call, "replicate") => {
            let p = gw.job_to_replicate(now, id)?;
            Ok(Reply {
                status: 200,
                headers: vec![("Content-Type".into(), "application/json".into())],
                body: Bytes::from(p.to_json()),
            })
        }
        ("GET", ["_rest_", "job", id]) | ("GET", ["_rest_", "active_job", id]) => {
            Ok(mol(gw.job(now, id)?))
        }
        ("GET", ["_rest_", list]) => {
            let filter = match *list {
                "job" => JobFilter::All,
                "active_job" => JobFilter::Active,
                "completed_job" => JobFilter::Completed,
                "canceled_job" => JobFilter::Canceled,
                _ => return Err(bad(404, "NotFound", format!("no resource `{list}`"))),
            };
            Ok(Reply::xml(200, xml::to_xml(&gw.jobs(now, filter))))
        }
        ("PUT", ["_rest_", which @ ("job" | "active_job"), id]) => {
            if flag(call, "close_aggregating_job") {
                return Ok(mol(gw.close(now, id)?));
            }
            let created_at_ms = match param(call, "created_at") {
                None => None,
                Some(v) => Some(
                    parse_created_at(v)
                        .ok_or_else(|| bad(400, "InvalidArgument", format!("created_at={v}")))?,
                ),
            };
            let changes = Changes {
                name: param(call, "name").map(str::to_string),
                priority: param(call, "priority").map(str::to_string),
                created_at_ms,
            };
            Ok(mol(gw.modify(now, id, &changes, *which == "active_job")?))
        }
        ("DELETE", ["_rest_", "job" | "active_job", id]) => {
            gw.cancel(now, id, flag(call, "force"))?;
            Ok(Reply::empty(204))
        }
        ("POST", ["_rest_", "data_policy"]) => {
            let p = gw.create_data_policy(param(call, "name"), param(call, "versioning"))?;
            Ok(Reply::xml(201, xml::to_xml(&p)))
        }
        ("DELETE", ["_rest_", "data_policy", id]) => {
            gw.delete_data_policy(id)?;
            Ok(Reply::empty(204))
        }
        ("POST", ["_rest_", "bucket"]) => {
            let b = gw.create_bucket(user, param(call, "name"), param(call, "data_policy_id"))?;
            Ok(Reply::xml(201, xml::to_xml(&b)))
        }
        ("DELETE", ["_rest_", "bucket", id]) => {
            gw.delete_bucket(now, id, flag(call, "force"))?;
            Ok(Reply::empty(204))
        }
        ("PUT", [bucket]) if !bucket.is_empty() && *bucket != "_rest_" => Ok(Reply::empty(200)),
        ("GET", [bucket]) if !bucket.is_empty() && *bucket != "_rest_" => {
            let list = xml::ListBucketResult {
                name: bucket.to_string(),
                contents: gw
                    .list_objects(bucket)
                    .into_iter()
                    .map(|(key, _, _, size)| xml::Contents { key, size })
                    .collect(),
            };
            Ok(Reply::xml(200, xml::to_xml(&list)))
        }
        ("PUT", [bucket, rest @ ..]) if !rest.is_empty() && *bucket != "_rest_" => {
            let name = rest.join("/");
            if !call.headers.contains_key("content-length") {
                return Err(bad(411, "LengthRequired", "Content-Length is required"));
            }
            let lax = gw.config().defects.contains(&Defect::PutWithoutOffset);
            let offset = num_param(call, "offset")?.or(if lax { Some(0) } else { None });
            let (Some(job), Some(offset)) = (param(call, "job"), offset) else {
                return Err(bad(
                    400,
                    "MissingJob",
                    "the reference takes object data only inside a job: job= and offset=",
                ));
            };
            gw.put_blob(now, bucket, &name, job, offset, call.body.clone())?;
            Ok(Reply::empty(200))
        }
        ("GET", [bucket, rest @ ..]) if !rest.is_empty() && *bucket != "_rest_" => {
            let name = rest.join("/");
            let bytes = match (param(call, "job"), num_param(call, "offset")?) {
                (Some(job), Some(offset)) => gw.get_blob(now, bucket, &name, job, offset)?,
                (None, None) => gw.read_object(bucket, &name)?,
                _ => return Err(bad(400, "InvalidArgument", "job= and offset= go together")),
            };
            Ok(Reply {
                status: 200,
                headers: vec![("Content-Type".into(), "application/octet-stream".into())],
                body: bytes,
            })
        }
        _ => Err(bad(
            400,
            "UnsupportedRequest",
            format!(
                "{} {} is not a request this gateway serves",
                call.method, call.path
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_target_past_the_limit_is_414_with_the_error_document() {
        let long = format!("/bucket/{}", "a".repeat(crate::http::limits::URL_BYTES_MAX));
        let uri: http::Uri = long.parse().expect("a valid uri");
        let reply = target_too_long(&uri, &long).expect("refused");
        assert_eq!(reply.status, 414);
        let body = String::from_utf8_lossy(&reply.body);
        assert!(
            body.contains("<Error>") && body.contains("RequestUriTooLong"),
            "{body}"
        );
        let short: http::Uri = "/bucket/a?operation=START_BULK_PUT".parse().expect("uri");
        assert!(target_too_long(&short, "/bucket/a").is_none());
    }
}
