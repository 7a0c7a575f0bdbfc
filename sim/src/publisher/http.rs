//! The Enumerator API over HTTP/1.1 (spec section 2.3): Start is `POST /<channel>`, Next is
//! `GET /<enumerator id>`, End is `DELETE /<enumerator id>`. This module only translates
//! between HTTP and [`Publisher`]; every decision is the core's.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use http::{Method, Request, Response, StatusCode};

use crate::http::accept::serve_forever;
use crate::publisher::alternatives::PublisherAlternatives;
use crate::publisher::core::{Args, Batch, Publisher, PublisherError};
use crate::publisher::defects::PublisherDefect;
use crate::publisher::enumerator::EnumType;
use crate::publisher::event::Event;
use crate::publisher::rules::{Rules, RulesError};
use crate::rt::{self, Listener};
use crate::scsp::query::{percent_decode, percent_encode};
use crate::scsp::response::{self, Body};

/// The `Server` header of every answer, as the document's examples show it.
pub const SERVER: &str = "Content Router Publisher";

/// A publisher shared by its HTTP connections and its watcher. The lock tolerates poisoning
/// like the disk's: a panic in one request must not stop the others.
#[derive(Debug, Clone)]
pub struct SharedPublisher(Arc<Mutex<Publisher>>);

impl SharedPublisher {
    /// Shares a publisher.
    pub fn new(publisher: Publisher) -> Self {
        Self(Arc::new(Mutex::new(publisher)))
    }

    /// The publisher, locked.
    pub fn lock(&self) -> MutexGuard<'_, Publisher> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A rules-file change: reads the file and, if it is valid, deletes every enumerator
    /// (ENUM-15). An invalid file leaves the rules and the enumerators as they were.
    pub fn reload_rules(&self, text: &str) -> Result<(), RulesError> {
        let rules = Rules::parse(text)?;
        self.lock().set_rules(rules);
        Ok(())
    }
}

/// Wall-clock milliseconds of the world (virtual in the simulator): the one time source of
/// the publisher, used for expiry.
pub fn now_ms() -> u64 {
    rt::wall_now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Serves the Enumerator API on `listener` forever.
pub async fn serve(publisher: SharedPublisher, listener: Listener) -> io::Result<()> {
    serve_forever(listener, move |req| {
        let answer = handle(&publisher, req, now_ms());
        async move { answer }
    })
    .await
}

/// Answers one request at time `now_ms`.
pub fn handle<B>(publisher: &SharedPublisher, req: Request<B>, now_ms: u64) -> Response<Body> {
    let path = req.uri().path();
    let target = path
        .strip_prefix('/')
        .filter(|p| !p.is_empty() && !p.contains('/'))
        .map(percent_decode);
    let args = parse_args(req.uri().query().unwrap_or(""));
    let mut p = publisher.lock();
    let choices = *p.alternatives();
    let refuse = |e: &PublisherError| refuse(e, &choices);
    match (req.method().clone(), target) {
        (Method::POST, Some(channel)) => match p.start(&channel, &args, now_ms) {
            Ok(started) => {
                let mut builder = plain(StatusCode::CREATED).header("Content-UUID", &started.id);
                if !p.has(PublisherDefect::StartWithoutSyncToken) {
                    builder = builder.header("Content-Sync-Token", &started.token);
                }
                finish(builder, started.message)
            }
            Err(e) => refuse(&e),
        },
        (Method::POST, None) => error(
            StatusCode::BAD_REQUEST,
            "Start names one channel: POST /<channel>",
        ),
        (Method::GET, Some(id)) => match p.next(&id, &args, now_ms) {
            Ok(batch) => render(&batch, &p),
            Err(e) => refuse(&e),
        },
        (Method::DELETE, Some(id)) => match p.end(&id, now_ms) {
            Ok(()) if p.has(PublisherDefect::EndAnswers204) => {
                finish(plain(StatusCode::NO_CONTENT), String::new())
            }
            Ok(()) => finish(plain(StatusCode::OK), "Object Enumerator deleted".into()),
            Err(e) => refuse(&e),
        },
        (Method::GET | Method::DELETE, None) => error(
            StatusCode::NOT_FOUND,
            &format!("No such enumerator: '{path}'"),
        ),
        (method, _) => finish(
            plain(StatusCode::METHOD_NOT_ALLOWED).header(http::header::ALLOW, "POST, GET, DELETE"),
            format!("Method {method} is not part of the Enumerator API"),
        ),
    }
}

/// Query arguments by lower-case name (the document's names are case-insensitive in its
/// examples); a flag without `=` maps to "", a repeated argument keeps its last value.
fn parse_args(raw: &str) -> Args {
    raw.split('&')
        .filter(|part| !part.is_empty())
        .map(|part| match part.split_once('=') {
            Some((k, v)) => (percent_decode(k).to_ascii_lowercase(), percent_decode(v)),
            None => (percent_decode(part).to_ascii_lowercase(), String::new()),
        })
        .collect()
}

fn plain(status: StatusCode) -> http::response::Builder {
    Response::builder()
        .status(status)
        .header(http::header::SERVER, SERVER)
        .header(http::header::CONTENT_TYPE, "text/plain")
}

fn finish(builder: http::response::Builder, body: String) -> Response<Body> {
    response::finish(builder, response::full(body))
}

fn error(status: StatusCode, message: &str) -> Response<Body> {
    finish(plain(status), format!("{message}\n"))
}

fn refuse(e: &PublisherError, choices: &PublisherAlternatives) -> Response<Body> {
    let status = match e {
        PublisherError::UnknownChannel(_) | PublisherError::UnknownEnumerator(_) => {
            StatusCode::NOT_FOUND
        }
        PublisherError::BadArgument(_) => {
            StatusCode::from_u16(choices.bad_argument_status()).unwrap_or(StatusCode::BAD_REQUEST)
        }
        PublisherError::Disk(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    error(status, &e.to_string())
}

/// A Next answer: UUID lines, `uuid,code` lines, or one object's headers (spec 2.3).
fn render(batch: &Batch, p: &Publisher) -> Response<Body> {
    let builder = plain(StatusCode::OK).header("Content-Sync-Token", &batch.token);
    let end = p.alternatives().line_end();
    match batch.kind {
        EnumType::Uuid => finish(
            builder,
            batch
                .items
                .iter()
                .map(|e| format!("{}{end}", e.object))
                .collect(),
        ),
        EnumType::Event => finish(
            builder,
            batch
                .items
                .iter()
                .map(|e| {
                    let code = if p.has(PublisherDefect::AliasUpdateCode3)
                        && e.code == crate::publisher::event::EventCode::AliasWritten
                        && !crate::publisher::enumerator::is_first_revision(e)
                    {
                        3
                    } else {
                        e.code.wire()
                    };
                    format!("{},{code}{end}", e.object)
                })
                .collect(),
        ),
        EnumType::Metadata => match batch.items.first() {
            None => finish(builder, String::new()),
            Some(event) => metadata(
                builder,
                event,
                !p.has(PublisherDefect::MetadataWithoutContentUuid),
            ),
        },
    }
}

/// One object's revision: who it is in headers, its metadata as `Name: value` body lines.
fn metadata(builder: http::response::Builder, e: &Event, with_uuid: bool) -> Response<Body> {
    let mut builder = builder.header("Content-Event", e.code.wire().to_string());
    builder = if e.class.is_unnamed() {
        if with_uuid {
            builder.header("Content-UUID", &e.object)
        } else {
            builder
        }
    } else {
        // The name as a request path carries it: segments percent-encoded, slashes kept.
        let path: Vec<String> = e.object.split('/').map(percent_encode).collect();
        builder.header("Content-Name", path.join("/"))
    };
    if !e.domain.is_empty() {
        builder = builder.header("Content-Domain", percent_encode(&e.domain));
    }
    let mut body = format!(
        "Castor-System-Version: {}.{:03}\n",
        e.version_ms / 1000,
        e.version_ms % 1000
    );
    for (name, value) in &e.meta {
        // Stored values came through an SCSP node's header checks; a line break would still
        // split an item, so it is escaped rather than trusted.
        let value = value.replace(['\r', '\n'], " ");
        body.push_str(&format!("{name}: {value}\n"));
    }
    finish(builder, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publisher::durable::DurableLog;
    use crate::store::Disk;
    use http_body_util::BodyExt;

    fn shared() -> SharedPublisher {
        SharedPublisher::new(Publisher::new(
            DurableLog::new(Disk::shared(1 << 20)),
            Rules::parse("channel A\n").expect("valid"),
            1,
        ))
    }

    fn ask(p: &SharedPublisher, method: Method, uri: &str) -> Response<Body> {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .body(())
            .expect("request");
        handle(p, req, 1_000)
    }

    fn body(r: Response<Body>) -> String {
        let bytes = futures::executor::block_on(r.into_body().collect())
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[test]
    fn a_rules_file_change_ends_every_enumerator_and_a_bad_file_changes_nothing() {
        let p = shared();
        let started = ask(&p, Method::POST, "/A?type=UUID");
        assert_eq!(started.status(), StatusCode::CREATED);
        let id = started
            .headers()
            .get("content-uuid")
            .and_then(|v| v.to_str().ok())
            .expect("Content-UUID")
            .to_string();
        assert!(p.reload_rules("channel PublishAll\n").is_err());
        assert_eq!(
            ask(&p, Method::GET, &format!("/{id}")).status(),
            StatusCode::OK
        );
        p.reload_rules("channel B\n").expect("valid");
        let gone = ask(&p, Method::GET, &format!("/{id}"));
        assert_eq!(gone.status(), StatusCode::NOT_FOUND);
        assert!(body(gone).contains("No such enumerator"));
        assert_eq!(ask(&p, Method::POST, "/A").status(), StatusCode::NOT_FOUND);
        assert_eq!(ask(&p, Method::POST, "/B").status(), StatusCode::CREATED);
    }

    #[test]
    fn bad_requests_get_clear_client_errors() {
        let p = shared();
        for (method, uri, status, says) in [
            (Method::POST, "/", 400, "Start names one channel"),
            (Method::POST, "/A?maxItems=-1", 400, "maxitems '-1'"),
            (Method::POST, "/A?start=yesterday", 400, "ISO 8601"),
            (
                Method::POST,
                "/A?type=Event&end=2010-01-01",
                400,
                "not supported",
            ),
            (Method::GET, "/a/b", 404, "No such enumerator"),
            (Method::GET, "/%ff%fe", 404, "No such enumerator"),
            (Method::DELETE, "/nothing", 404, "No such enumerator"),
            (Method::PUT, "/A", 405, "not part of the Enumerator API"),
        ] {
            let r = ask(&p, method, uri);
            assert_eq!(r.status().as_u16(), status, "{uri}");
            assert_eq!(
                r.headers()
                    .get(http::header::SERVER)
                    .and_then(|v| v.to_str().ok()),
                Some(SERVER)
            );
            let text = body(r);
            assert!(text.contains(says), "{uri}: {text}");
        }
    }
}
