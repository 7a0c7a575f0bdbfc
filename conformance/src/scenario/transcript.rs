//! What a scenario run looked like on the wire, as plain data: one record per step with its
//! exchanges (request head, response head, body, trailers), captures and results.
//!
//! [`normalize`] makes a transcript independent of values that change from run to run or
//! from build to build, after checking each one has the shape the protocol promises: auth
//! tokens become `[auth]` (32 hex digits), UUIDs `[uuid-1]`, `[uuid-2]`… in order of first
//! appearance (same UUID, same placeholder), node addresses `[node0]`…. `Date`,
//! `Last-Modified`, `Etag` and `Castor-System-Version` headers are left for the snapshot
//! test's insta redactions, which check their shape too ([`REDACTED_BY_SNAPSHOT`]).

use std::collections::BTreeMap;
use std::net::SocketAddr;

use regex::Regex;
use replisim_sim::faults::Fault;
use serde::Serialize;

use crate::client::{ClientError, Exchange, Response};

/// Headers whose values [`normalize`] leaves alone because the snapshot test redacts them
/// with insta's shape-checking `dynamic_redaction` (lower-case names).
pub const REDACTED_BY_SNAPSHOT: [&str; 4] =
    ["date", "last-modified", "etag", "castor-system-version"];

/// Longest body text kept in a transcript, in characters.
const BODY_CHARS_MAX: usize = 300;

/// One run of a scenario, ready to serialize.
#[derive(Debug, Clone, Serialize)]
pub struct Transcript {
    /// The scenario's name.
    pub name: String,
    /// The rule ids it exercises.
    pub rules: Vec<String>,
    /// The seed it ran with.
    pub seed: u64,
    /// Every step that ran.
    pub steps: Vec<StepRecord>,
}

/// What one step did.
#[derive(Debug, Clone, Serialize)]
pub struct StepRecord {
    /// Step number (1-based).
    pub step: usize,
    /// Line in the file (not serialized: editing comments must not change snapshots).
    #[serde(skip)]
    pub line: usize,
    /// What it did: `POST /b/x → node0`, `sleep 1.1s`, `fault crash node=1`.
    pub action: String,
    /// The step's note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The exchanges it made (a followed redirect makes several).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exchanges: Vec<ExchangeRecord>,
    /// Values it saved.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub captured: BTreeMap<String, String>,
    /// What a check or wait saw.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

impl StepRecord {
    /// An empty record for a step.
    pub fn new(step: usize, line: usize, action: String, note: Option<String>) -> Self {
        Self {
            step,
            line,
            action,
            note,
            exchanges: Vec::new(),
            captured: BTreeMap::new(),
            result: None,
        }
    }
}

/// One request and its answer.
#[derive(Debug, Clone, Serialize)]
pub struct ExchangeRecord {
    /// The address connected to.
    pub to: String,
    /// The request head, line by line, as written.
    pub request: Vec<String>,
    /// The request body as the scenario gave it; `[held back] …` when none of it was sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_body: Option<String>,
    /// The answer, when one came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<ResponseRecord>,
    /// Why the exchange failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// An answer.
#[derive(Debug, Clone, Serialize)]
pub struct ResponseRecord {
    /// Interim (1xx) statuses before the final one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub informational: Vec<u16>,
    /// `201 Created`.
    pub status: String,
    /// Header fields by lower-case name (repeated fields joined with `, `).
    pub headers: BTreeMap<String, String>,
    /// The body as text, cut at 300 characters.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub body: String,
    /// Trailer fields by lower-case name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub trailers: BTreeMap<String, String>,
}

/// A fault as scenario files write it: `crash node=1`, `partition groups=[[0,1]]`.
pub fn show_fault(fault: &Fault) -> String {
    let value = serde_json::to_value(fault).unwrap_or_default();
    let Some(fields) = value.as_object() else {
        return fault.to_string();
    };
    let mut out = fields
        .get("fault")
        .and_then(|k| k.as_str())
        .unwrap_or("?")
        .to_string();
    for (k, v) in fields.iter().filter(|(k, _)| k.as_str() != "fault") {
        if !v.is_null() {
            out.push_str(&format!(" {k}={v}"));
        }
    }
    out
}

/// A body as text for transcripts and messages, cut at `max` characters.
pub fn body_text(body: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(body);
    let count = text.chars().count();
    if count <= max {
        text.into_owned()
    } else {
        let cut: String = text.chars().take(max).collect();
        format!("{cut}… [{} bytes]", body.len())
    }
}

/// Records for a step's exchanges; the last one gets the decoded final answer (body and
/// trailers). `body` is the request body as the scenario wrote it, and its length.
pub fn exchanges(
    list: &[Exchange],
    result: &Result<Response, ClientError>,
    body: Option<(String, usize)>,
) -> Vec<ExchangeRecord> {
    let last = list.len().saturating_sub(1);
    list.iter()
        .enumerate()
        .map(|(i, e)| {
            let request: Vec<String> = e
                .request_head
                .split("\r\n")
                .map(str::to_string)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .skip_while(|l| l.is_empty())
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            let request_body = body.as_ref().map(|(text, len)| {
                if *len > 0 && e.request_body_len == 0 {
                    format!("[held back] {text}")
                } else {
                    text.clone()
                }
            });
            let mut response = parse_heads(&e.response_head);
            if let Some(r) = response.as_mut() {
                match (i == last, result) {
                    (true, Ok(final_answer)) => {
                        // Plain `application/xml` documents (DS3's) are shown whole, one
                        // element a line; other types as they came.
                        let plain_xml = r
                            .headers
                            .get("content-type")
                            .is_some_and(|t| t.split(';').next() == Some("application/xml"));
                        r.body = plain_xml
                            .then(|| {
                                super::ds3::pretty_xml(&String::from_utf8_lossy(&final_answer.body))
                            })
                            .flatten()
                            .unwrap_or_else(|| body_text(&final_answer.body, BODY_CHARS_MAX));
                        r.trailers = fields(&final_answer.trailers);
                    }
                    _ => r.body = body_text(e.response_body_preview.as_bytes(), BODY_CHARS_MAX),
                }
            }
            ExchangeRecord {
                to: e.addr.to_string(),
                request,
                request_body,
                response,
                error: e.outcome.as_ref().err().map(|err| err.to_string()),
            }
        })
        .collect()
}

fn fields(list: &[(String, String)]) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in list {
        out.entry(k.to_ascii_lowercase())
            .and_modify(|old| {
                old.push_str(", ");
                old.push_str(v);
            })
            .or_insert_with(|| v.clone());
    }
    out
}

/// Parses the concatenated response heads of an exchange (1xx heads first).
fn parse_heads(raw: &str) -> Option<ResponseRecord> {
    let mut informational = Vec::new();
    let mut last = None;
    for head in raw.split("\r\n\r\n").filter(|h| !h.trim().is_empty()) {
        let mut lines = head.split("\r\n");
        let status_line = lines.next()?;
        let mut parts = status_line.splitn(3, ' ');
        let _version = parts.next()?;
        let code: u16 = parts.next()?.parse().ok()?;
        let reason = parts.next().unwrap_or("");
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        if (100..200).contains(&code) {
            informational.push(code);
        } else {
            last = Some((format!("{code} {reason}").trim().to_string(), headers));
        }
    }
    let (status, headers) = last?;
    Some(ResponseRecord {
        informational,
        status,
        headers: fields(&headers),
        body: String::new(),
        trailers: BTreeMap::new(),
    })
}

/// Replaces volatile values in place, checking each one's shape first (see the module doc).
pub fn normalize(transcript: &mut Transcript, nodes: &[SocketAddr]) -> Result<(), String> {
    let mut n = Normalizer::new(nodes)?;
    for step in &mut transcript.steps {
        n.apply(&mut step.action)?;
        if let Some(note) = step.note.as_mut() {
            n.apply(note)?;
        }
        for e in &mut step.exchanges {
            n.apply(&mut e.to)?;
            for line in &mut e.request {
                n.apply(line)?;
            }
            if let Some(b) = e.request_body.as_mut() {
                n.apply(b)?;
            }
            if let Some(r) = e.response.as_mut() {
                n.apply(&mut r.status)?;
                for (k, v) in r.headers.iter_mut() {
                    if !REDACTED_BY_SNAPSHOT.contains(&k.as_str()) {
                        n.apply(v)?;
                    }
                }
                n.apply(&mut r.body)?;
                for v in r.trailers.values_mut() {
                    n.apply(v)?;
                }
            }
            if let Some(err) = e.error.as_mut() {
                n.apply(err)?;
            }
        }
        for v in step.captured.values_mut() {
            n.apply(v)?;
        }
        if let Some(r) = step.result.as_mut() {
            n.apply(r)?;
        }
    }
    Ok(())
}

struct Normalizer {
    auth: Regex,
    handoff: Regex,
    uuid: Regex,
    dashed_uuid: Regex,
    ds3_signature: Regex,
    uuids: BTreeMap<String, usize>,
    nodes: Vec<(String, String)>,
}

impl Normalizer {
    fn new(nodes: &[SocketAddr]) -> Result<Self, String> {
        let compile = |p: &str| Regex::new(p).map_err(|e| e.to_string());
        Ok(Self {
            auth: compile(r"(?i)\bauth=([^&\s<>]*)")?,
            handoff: compile(r"\bhandoff=([0-9]+_[0-9.]+_[0-9A-Za-z.]+)")?,
            uuid: compile(r"(?i)\b[0-9a-f]{32}\b")?,
            dashed_uuid: compile(
                r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
            )?,
            ds3_signature: compile(r"(Authorization: AWS [^:\s]+:)[A-Za-z0-9+/=]+")?,
            uuids: BTreeMap::new(),
            nodes: nodes
                .iter()
                .enumerate()
                .map(|(i, a)| (a.to_string(), format!("[node{i}]")))
                .collect(),
        })
    }

    fn apply(&mut self, s: &mut String) -> Result<(), String> {
        // auth= tokens: 32 hex digits (docs/choices.md #2).
        let mut bad = None;
        let replaced = self.auth.replace_all(s, |c: &regex::Captures| {
            let token = &c[1];
            if token.is_empty() {
                // A captured prefix such as `…?auth=`, to which a scenario appends a token.
                return "auth=".to_string();
            }
            if token.len() != 32 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
                bad = Some(token.to_string());
            }
            "auth=[auth]".to_string()
        });
        if let Some(token) = bad {
            return Err(format!("auth token {token:?} is not 32 hex digits"));
        }
        // A PAN's handoff to the node it redirects to (`<ms>_<nodes>_<version or none>`)
        // carries clock readings and digests: its shape is checked by the pattern.
        let mut out = self
            .handoff
            .replace_all(&replaced, "handoff=[handoff]")
            .into_owned();
        // A DS3 signature covers the date and the ids in the path: it says nothing a
        // reader can check by eye.
        out = self
            .ds3_signature
            .replace_all(&out, "${1}[signature]")
            .into_owned();
        // UUIDs: 32 hex digits standing alone, or the dashed form DS3 uses; numbered in
        // order of first appearance.
        let uuids = &mut self.uuids;
        for re in [&self.uuid, &self.dashed_uuid] {
            out = re
                .replace_all(&out, |c: &regex::Captures| {
                    let key = c[0].to_ascii_lowercase();
                    let next = uuids.len() + 1;
                    let n = *uuids.entry(key).or_insert(next);
                    format!("[uuid-{n}]")
                })
                .into_owned();
        }
        for (addr, name) in &self.nodes {
            out = out.replace(addr.as_str(), name);
        }
        *s = out;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transcript(action: &str, header: (&str, &str)) -> Transcript {
        let mut step = StepRecord::new(1, 1, action.to_string(), None);
        step.exchanges.push(ExchangeRecord {
            to: "10.0.0.1:80".into(),
            request: vec![format!("{action} HTTP/1.1")],
            request_body: None,
            response: Some(ResponseRecord {
                informational: vec![],
                status: "201 Created".into(),
                headers: BTreeMap::from([(header.0.to_string(), header.1.to_string())]),
                body: String::new(),
                trailers: BTreeMap::new(),
            }),
            error: None,
        });
        Transcript {
            name: "t".into(),
            rules: vec![],
            seed: 0,
            steps: vec![step],
        }
    }

    #[test]
    fn uuids_tokens_and_addresses_are_replaced_in_order() {
        let u1 = "0123456789abcdef0123456789abcdef";
        let u2 = "fedcba9876543210fedcba9876543210";
        let mut t = transcript(
            &format!("GET /{u2}"),
            (
                "location",
                &format!("http://10.0.0.2:80/{u1}?auth=00112233445566778899AABBCCDDEEFF"),
            ),
        );
        t.steps[0]
            .captured
            .insert("again".into(), u2.to_uppercase());
        let nodes: Vec<SocketAddr> = vec![
            "10.0.0.1:80".parse().expect("addr"),
            "10.0.0.2:80".parse().expect("addr"),
        ];
        normalize(&mut t, &nodes).expect("shapes are right");
        let s = &t.steps[0];
        assert_eq!(s.action, "GET /[uuid-1]");
        assert_eq!(s.exchanges[0].to, "[node0]");
        let r = s.exchanges[0].response.as_ref().expect("response");
        assert_eq!(r.headers["location"], "http://[node1]/[uuid-2]?auth=[auth]");
        assert_eq!(
            s.captured["again"], "[uuid-1]",
            "same UUID, same placeholder"
        );
    }

    #[test]
    fn a_malformed_auth_token_is_an_error() {
        let mut t = transcript("GET /b/x", ("location", "http://x/b/x?auth=nothex"));
        let err = normalize(&mut t, &[]).unwrap_err();
        assert!(err.contains("not 32 hex"), "{err}");
    }

    #[test]
    fn snapshot_redacted_headers_are_left_alone() {
        let etag = "\"0123456789abcdef0123456789abcdef\"";
        let mut t = transcript("GET /b/x", ("etag", etag));
        normalize(&mut t, &[]).expect("ok");
        let r = t.steps[0].exchanges[0].response.as_ref().expect("response");
        assert_eq!(r.headers["etag"], etag);
    }

    #[test]
    fn heads_parse_with_interim_answers() {
        let raw = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nLocation: x\r\nA: 1\r\na: 2\r\n\r\n";
        let r = parse_heads(raw).expect("parses");
        assert_eq!(r.informational, vec![100]);
        assert_eq!(r.status, "201 Created");
        assert_eq!(r.headers["a"], "1, 2");
        assert!(parse_heads("").is_none());
    }

    #[test]
    fn faults_show_as_scenarios_write_them() {
        assert_eq!(show_fault(&Fault::Crash { node: 1 }), "crash node=1");
        assert_eq!(show_fault(&Fault::Heal), "heal");
        assert_eq!(
            show_fault(&Fault::Partition {
                groups: vec![vec![0, 1]]
            }),
            "partition groups=[[0,1]]"
        );
        assert_eq!(
            show_fault(&Fault::BitRot { node: 0, key: None }),
            "bit_rot node=0"
        );
    }
}
