//! Fuzzing on stable Rust with proptest: the reference services fed generated and mutated
//! input through the same entry points real traffic takes. No input may panic a service,
//! hang it, or get an answer that is not HTTP.
//!
//! - the SCSP node's request handling: raw bytes on a connection (`server::serve_connection`),
//!   covering the request line, headers, query arguments, chunked bodies and multipart
//!   manifests (an upload is initiated for real, then completed with a generated manifest);
//! - the node-to-node decoders (bids, inventories, handoffs, replica records, signatures);
//! - the Rucio catalog's REST dispatch with generated JSON bodies;
//! - the publisher's Enumerator API request parsing;
//! - the DS3 gateway's XML documents.
//!
//! A plain `cargo test` runs a brief pass (CI). The long campaign sets
//! `REPLISIM_FUZZ_CASES=N` (cases per property) and runs in release, printing how many
//! inputs each target took (docs/fuzzing.md records the campaigns):
//!
//! ```text
//! REPLISIM_FUZZ_CASES=1000000 cargo test --release -p replisim-sim --test fuzz -- --nocapture
//! ```

mod fuzz_support;
mod support;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::Method;
use proptest::prelude::*;
use replisim_sim::publisher::core::Publisher;
use replisim_sim::publisher::durable::DurableLog;
use replisim_sim::publisher::http::{handle as publisher_handle, SharedPublisher};
use replisim_sim::publisher::rules::Rules;
use replisim_sim::rucio::bootstrap::bootstrapped;
use replisim_sim::rucio::catalog::Catalog;
use replisim_sim::rucio::rest::{dispatch, Call};
use replisim_sim::scsp::cluster_key::ClusterKey;
use replisim_sim::scsp::config::NodeContext;
use replisim_sim::scsp::handoff::Handoff;
use replisim_sim::scsp::{peer, peer_auth, server, wire};
use replisim_sim::store::Disk;
use replisim_sim::trace::Trace;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long one input may keep a service busy before it counts as a hang.
const HANG: Duration = Duration::from_secs(20);

/// Where failing inputs are kept, to be replayed first.
const REGRESSIONS: &str = "proptest-regressions/fuzz.txt";

// ---------------------------------------------------------------------------------------
// The SCSP node.

/// One node on a private runtime, outside any simulation (as `serve` runs it): one node, one
/// replica, no waiting in multipart assembly.
struct Node {
    runtime: tokio::runtime::Runtime,
    ctx: NodeContext,
}

impl Node {
    fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let mut cluster = support::one_node_cluster("fuzz");
        cluster.keepalive_interval = Duration::from_millis(1);
        cluster.assembly_per_part = Duration::ZERO;
        cluster.object_bytes_max = 1 << 20;
        cluster.peer_timeout = Duration::from_millis(50);
        let ctx = NodeContext::new(0, Arc::new(cluster), 64 << 20, Trace::disabled());
        Node { runtime, ctx }
    }

    /// Sends `bytes` on a fresh connection, closes the sending side, returns all the node
    /// wrote back. Panics (fails the case) on a hang.
    fn exchange(&self, bytes: &[u8]) -> Vec<u8> {
        let ctx = self.ctx.clone();
        self.runtime.block_on(async move {
            let (mut client, server_io) = tokio::io::duplex(1 << 20);
            let options = server::ConnectionOptions {
                from_peer: false,
                half_close: true,
            };
            let serving = server::serve_connection(ctx, server_io, options);
            let talking = async move {
                let _ = client.write_all(bytes).await;
                let _ = client.shutdown().await;
                let mut out = Vec::new();
                let _ = client.read_to_end(&mut out).await;
                out
            };
            let joined = async { tokio::join!(serving, talking).1 };
            tokio::time::timeout(HANG, joined)
                .await
                .unwrap_or_else(|_| panic!("the node hung on {:?}", String::from_utf8_lossy(bytes)))
        })
    }
}

/// A fresh node with a bucket to write into, so that writes get past the context checks.
fn fresh_node() -> Node {
    let n = Node::new();
    let made = n.exchange(b"POST /b HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n");
    assert!(
        made.starts_with(b"HTTP/1.1 201"),
        "{}",
        String::from_utf8_lossy(&made)
    );
    n
}

fn node() -> &'static Mutex<Node> {
    static NODE: OnceLock<Mutex<Node>> = OnceLock::new();
    NODE.get_or_init(|| Mutex::new(fresh_node()))
}

fn send_to_node(bytes: &[u8]) -> Vec<u8> {
    let guard = node().lock().unwrap_or_else(|p| p.into_inner());
    guard.exchange(bytes)
}

/// Starts over on an empty disk: a long campaign fills the node's 64 MiB, after which
/// every write is a (correct) 507 and the multipart path would go untested.
fn empty_the_node() {
    let mut guard = node().lock().unwrap_or_else(|p| p.into_inner());
    *guard = fresh_node();
}

/// Every response the node wrote is HTTP/1.x (hyper answers an HTTP/1.0 request in kind)
/// with a three-digit status, and never a 500.
fn check_answers(out: &[u8], input: &[u8]) -> Result<(), TestCaseError> {
    if out.is_empty() {
        return Ok(());
    }
    prop_assert!(
        (out.starts_with(b"HTTP/1.1 ") || out.starts_with(b"HTTP/1.0 "))
            && out.len() >= 12
            && out[9..12].iter().all(u8::is_ascii_digit),
        "not HTTP: {:?} for {:?}",
        String::from_utf8_lossy(&out[..out.len().min(200)]),
        String::from_utf8_lossy(input)
    );
    prop_assert!(
        &out[9..12] != b"500",
        "500 for {:?}",
        String::from_utf8_lossy(input)
    );
    Ok(())
}

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "GET", "HEAD", "POST", "PUT", "APPEND", "COPY", "DELETE", "OPTIONS", "get", "TRACE",
        ])
        .prop_map(str::to_string),
        1 => "[A-Z]{1,8}",
        1 => "[ -~]{0,6}",
    ]
}

fn path_segment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("b".to_string()),
        Just("_replisim".to_string()),
        "[0-9a-f]{32}",
        "[a-zA-Z0-9._~-]{1,12}",
        "(%[0-9A-Fa-f]{2}|%|[a-z/]){1,10}",
        "[ -~]{0,12}",
        "\\PC{0,6}",
    ]
}

fn path() -> impl Strategy<Value = String> {
    prop::collection::vec(path_segment(), 0..4).prop_map(|s| format!("/{}", s.join("/")))
}

fn query_arg() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        prop::sample::select(vec![
            "auth",
            "handoff",
            "replicate",
            "alias",
            "uploads",
            "uploadId",
            "partNumber",
            "recursive",
            "domain",
            "newname",
            "preserve",
            "validate",
            "manifestorder",
            "reps",
            "erasurecoded",
            "encoding",
            "putcreate",
            "since",
            "key",
            "stamp",
            "node",
        ])
        .prop_map(str::to_string),
        "[a-zA-Z]{1,8}",
    ];
    let value = prop_oneof![
        Just(String::new()),
        prop::sample::select(vec!["yes", "true", "now", "1", "0", "-1", "99999999999999999999"])
            .prop_map(str::to_string),
        "[0-9A-F]{32}",
        "[0-9]{1,14}_[0-9.]{1,8}_(none|named\\.[0-9]{1,3}\\.[0-9]\\.[01]\\.[0-9a-f]{32}\\.[0-9]{1,3})",
        "[ -~&&[^ #]]{0,20}",
    ];
    (name, prop::option::of(value)).prop_map(|(n, v)| match v {
        Some(v) => format!("{n}={v}"),
        None => n,
    })
}

fn header() -> impl Strategy<Value = (String, String)> {
    let name = prop_oneof![
        prop::sample::select(vec![
            "Host",
            "Content-Length",
            "Transfer-Encoding",
            "Expect",
            "Range",
            "If-Match",
            "If-None-Match",
            "If-Modified-Since",
            "Content-MD5",
            "Content-Type",
            "Castor-Copy-Source",
            "x-color-meta",
            "Lifepoint",
            "Connection",
            "TE",
            "Castor-System-Alias",
            "Content-Disposition",
        ])
        .prop_map(str::to_string),
        "[a-zA-Z-]{1,20}",
        "x-[a-z]{1,8}-meta",
    ];
    let value = prop_oneof![
        prop::sample::select(vec![
            "0",
            "5",
            "chunked",
            "100-continue",
            "bytes=0-1",
            "bytes=-3",
            "*",
            "\"abc\"",
            "application/castorcontext",
            "/b/x",
            "close",
            "trailers",
            "gzip, chunked",
            "[reps=1, deletable=yes]",
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "1B2M2Y8AsgTpgAmY7PhCfg==",
        ])
        .prop_map(str::to_string),
        "[ -~]{0,30}",
    ];
    (name, value)
}

/// A body and the headers that frame it: by length (right or wrong), chunked (well
/// formed or not, with trailers), or a multipart manifest.
fn body() -> impl Strategy<Value = (Vec<(String, String)>, Vec<u8>)> {
    prop_oneof![
        Just((Vec::new(), Vec::new())),
        prop::collection::vec(any::<u8>(), 0..64)
            .prop_map(|b| (vec![("Content-Length".to_string(), b.len().to_string())], b)),
        (prop::collection::vec(any::<u8>(), 0..32), 0usize..80).prop_map(|(b, claimed)| (
            vec![("Content-Length".to_string(), claimed.to_string())],
            b
        )),
        chunked().prop_map(|b| (
            vec![("Transfer-Encoding".to_string(), "chunked".to_string())],
            b
        )),
        manifest().prop_map(|m| (
            vec![("Content-Length".to_string(), m.len().to_string())],
            m.into_bytes()
        )),
    ]
}

fn chunked() -> impl Strategy<Value = Vec<u8>> {
    let chunk = prop_oneof![
        prop::collection::vec(any::<u8>(), 1..20).prop_map(|d| {
            let mut c = format!("{:x}\r\n", d.len()).into_bytes();
            c.extend(d);
            c.extend_from_slice(b"\r\n");
            c
        }),
        "[0-9a-fA-F]{1,9}(;[a-z]=[a-z0-9]{0,4})?\r\n[ -~]{0,10}\r\n".prop_map(String::into_bytes),
        "[ -~\r\n]{0,12}".prop_map(String::into_bytes),
    ];
    (
        prop::collection::vec(chunk, 0..4),
        prop::option::of("[A-Za-z-]{1,10}: [ -~]{0,10}\r\n"),
        any::<bool>(),
    )
        .prop_map(|(chunks, trailer, finished)| {
            let mut out: Vec<u8> = chunks.concat();
            if finished {
                out.extend_from_slice(b"0\r\n");
                if let Some(t) = trailer {
                    out.extend(t.into_bytes());
                }
                out.extend_from_slice(b"\r\n");
            }
            out
        })
}

fn manifest() -> impl Strategy<Value = String> {
    let part = (
        prop_oneof![0i64..=3, 9_999i64..=10_001, any::<i64>()],
        prop_oneof!["[0-9a-f]{32}", "[ -~&&[^\"\\\\]]{0,34}"],
    )
        .prop_map(|(n, u)| format!("{{\"partNumber\":{n},\"uuid\":\"{u}\"}}"));
    prop_oneof![
        4 => prop::collection::vec(part, 0..5)
            .prop_map(|p| format!("{{\"parts\":[{}]}}", p.join(","))),
        1 => "[ -~]{0,40}",
        1 => (1usize..200).prop_map(|d| format!("{{\"parts\":{}{}}}", "[".repeat(d), "]".repeat(d))),
    ]
}

/// A whole request: structured, then possibly damaged.
fn request() -> impl Strategy<Value = Vec<u8>> {
    (
        method(),
        path(),
        prop::collection::vec(query_arg(), 0..5),
        prop_oneof![
            8 => Just("HTTP/1.1".to_string()),
            1 => Just("HTTP/1.0".to_string()),
            1 => "[ -~]{0,10}",
        ],
        prop::option::of("[a-z0-9.:]{0,20}"),
        prop::collection::vec(header(), 0..6),
        body(),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
        prop::option::of(any::<prop::sample::Index>()),
    )
        .prop_map(
            |(method, path, args, version, host, headers, (framing, body), flips, cut)| {
                let target = if args.is_empty() {
                    path
                } else {
                    format!("{path}?{}", args.join("&"))
                };
                let mut head = format!("{method} {target} {version}\r\n");
                if let Some(h) = host {
                    head.push_str(&format!("Host: {h}\r\n"));
                }
                for (n, v) in headers.iter().chain(framing.iter()) {
                    head.push_str(&format!("{n}: {v}\r\n"));
                }
                head.push_str("\r\n");
                let mut bytes = head.into_bytes();
                bytes.extend(body);
                for (at, byte) in flips {
                    if !bytes.is_empty() {
                        let i = at.index(bytes.len());
                        bytes[i] = byte;
                    }
                }
                if let Some(cut) = cut {
                    let keep = cut.index(bytes.len() + 1);
                    bytes.truncate(keep);
                }
                bytes
            },
        )
}

fn upload_id(answer: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(answer);
    text.lines()
        .find_map(|l| l.strip_prefix("castor-system-uploadid: "))
        .map(|v| v.trim().to_string())
}

/// Any bytes on a connection, shaped like a request or not: an HTTP answer or a closed
/// connection, never a panic, a hang or a 500.
#[test]
fn the_node_answers_any_request() {
    let bytes = prop_oneof![
        4 => request(),
        1 => prop::collection::vec(any::<u8>(), 0..200),
    ];
    fuzz_support::fuzz(REGRESSIONS, "scsp-node requests", bytes, |bytes| {
        let out = send_to_node(&bytes);
        check_answers(&out, &bytes)
    });
}

/// A real upload with a generated (often invalid) manifest at completion.
#[test]
fn multipart_completion_takes_any_manifest() {
    fuzz_support::fuzz(
        REGRESSIONS,
        "scsp-node multipart completions",
        (manifest(), 0u32..1000),
        |(manifest, n)| {
            let init = send_to_node(
                format!(
                    "POST /b/m{n}?uploads HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"
                )
                .as_bytes(),
            );
            check_answers(&init, b"initiate")?;
            let init = if init.starts_with(b"HTTP/1.1 507") {
                empty_the_node();
                send_to_node(
                    format!("POST /b/m{n}?uploads HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n")
                        .as_bytes(),
                )
            } else {
                init
            };
            let Some(id) = upload_id(&init) else {
                return Err(TestCaseError::fail(format!(
                    "initiate gave no upload id: {}",
                    String::from_utf8_lossy(&init)
                )));
            };
            let part = send_to_node(
                format!(
                    "POST /b/m{n}?uploadId={id}&partNumber=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\n\r\nabc"
                )
                .as_bytes(),
            );
            check_answers(&part, b"part")?;
            let complete = format!(
                "POST /b/m{n}?uploadId={id} HTTP/1.1\r\nHost: 127.0.0.1\r\nTE: trailers\r\nContent-Length: {}\r\n\r\n{manifest}",
                manifest.len()
            );
            let out = send_to_node(complete.as_bytes());
            check_answers(&out, complete.as_bytes())
        },
    );
}

/// What a peer sends is decoded without panics; whatever decodes is then checked.
#[test]
fn node_to_node_decoders_take_any_text() {
    let text = prop_oneof![
        "(bid|inventory|gone|named|uuid) [ -~\n]{0,60}",
        "[0-9]{1,14}_[0-9.]{0,8}_[ -~]{0,50}",
        "\\PC{0,60}",
    ];
    let strategy = (text, prop::collection::vec(any::<u8>(), 0..80), 0usize..6);
    fuzz_support::fuzz(
        REGRESSIONS,
        "node-to-node decoders",
        strategy,
        |(text, bytes, nodes)| {
            if let Some(bid) = wire::decode_bid(&text) {
                let _ = peer::check_bid(&bid, 0, nodes);
            }
            if let Some(inv) = wire::decode_inventory(&text) {
                let _ = peer::check_inventory(&inv, 0, nodes);
            }
            if let Ok(h) = Handoff::decode_checked(&text, nodes) {
                prop_assert!(h.candidates.iter().all(|&c| c < nodes));
            }
            if let Some(record) = peer::decode_record(Bytes::from(bytes.clone())) {
                let _ = peer::check_record(&record, nodes);
            }
            let key = ClusterKey::from_seed(1, "fuzz");
            prop_assert!(
                peer_auth::verify(&key, "GET", &text, &bytes, Some(text.as_bytes()), 0).is_err()
            );
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------------------
// Rucio.

fn catalog() -> &'static Mutex<(Catalog, String)> {
    static CATALOG: OnceLock<Mutex<(Catalog, String)>> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let mut c = bootstrapped(1, &["c0"]);
        let headers = header_map(&[
            ("X-Rucio-Account", "root"),
            ("X-Rucio-Username", "root"),
            ("X-Rucio-Password", "secret"),
        ]);
        let login = dispatch(
            &mut c,
            &Call {
                method: &Method::GET,
                path: "/auth/userpass",
                query: None,
                headers: &headers,
                body: b"",
            },
            now(),
        );
        let token = login
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("x-rucio-auth-token"))
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        assert!(!token.is_empty(), "root logs in");
        Mutex::new((c, token))
    })
}

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn header_map(pairs: &[(&str, &str)]) -> http::HeaderMap {
    let mut map = http::HeaderMap::new();
    for (k, v) in pairs {
        if let (Ok(k), Ok(v)) = (
            http::HeaderName::from_bytes(k.as_bytes()),
            http::HeaderValue::from_str(v),
        ) {
            map.append(k, v);
        }
    }
    map
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop::sample::select(vec![
            "user.root",
            "c0-disk",
            "file",
            "mock",
            "AVAILABLE",
            "BAD",
            "2024-01-01T00:00:00",
            "root",
            "c0",
            "*",
            "",
        ])
        .prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 48, 6, |inner| {
        let key = prop_oneof![
            prop::sample::select(vec![
                "rse",
                "scope",
                "name",
                "bytes",
                "adler32",
                "md5",
                "pfn",
                "pfns",
                "files",
                "replicas",
                "dids",
                "reason",
                "state",
                "account",
                "copies",
                "rse_expression",
                "lifetime",
                "tombstone",
                "all_states",
                "schemes",
                "type",
                "path",
            ])
            .prop_map(str::to_string),
            "[a-z_]{1,8}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(key, inner, 0..5)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn rucio_path() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "/auth/userpass",
            "/ping",
            "/rses",
            "/rses/",
            "/accounts/root",
            "/replicas",
            "/replicas/list",
            "/replicas/dids",
            "/replicas/bad",
            "/replicas/tombstone",
            "/replicas/bad/pfns",
            "/replicas/user.root/f1",
            "/dids/user.root/f1",
            "/accountlimits/local/root/c0-disk",
            "/rules",
            "/replicas/user.root/f1/",
        ])
        .prop_map(str::to_string),
        "(/[a-z.0-9%*]{0,8}){1,4}",
    ]
}

/// Any call with any JSON (or not-JSON) body: a status, never a panic.
#[test]
fn rucio_takes_any_call() {
    let strategy = (
        prop::sample::select(vec!["GET", "POST", "PUT", "DELETE", "PATCH"]),
        rucio_path(),
        prop::option::of("[a-z_=&0-9]{0,20}"),
        prop_oneof![
            3 => json_value().prop_map(|v| v.to_string().into_bytes()),
            1 => prop::collection::vec(any::<u8>(), 0..40),
            1 => (1usize..300).prop_map(|d| format!("{{\"a\":{}{}}}", "[".repeat(d), "]".repeat(d)).into_bytes()),
        ],
        any::<bool>(),
        prop::option::of(prop::sample::select(vec![
            "application/json",
            "application/x-json-stream",
            "application/metalink4+xml",
            "*/*",
            "text/html",
        ])),
    );
    fuzz_support::fuzz(
        REGRESSIONS,
        "rucio REST calls",
        strategy,
        |(m, path, query, body, authed, accept)| {
            let mut guard = catalog().lock().unwrap_or_else(|p| p.into_inner());
            let (c, token) = &mut *guard;
            let token = token.clone();
            let mut pairs: Vec<(&str, &str)> = Vec::new();
            if authed {
                pairs.push(("X-Rucio-Auth-Token", &token));
            }
            if let Some(a) = accept {
                pairs.push(("Accept", a));
            }
            let headers = header_map(&pairs);
            let method =
                Method::from_bytes(m.as_bytes()).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let call = Call {
                method: &method,
                path: &path,
                query: query.as_deref(),
                headers: &headers,
                body: &body,
            };
            let reply = dispatch(c, &call, now());
            prop_assert!((200..600).contains(&reply.status), "{}", reply.status);
            Ok(())
        },
    );
}

/// Any method and request target on the Enumerator API: an answer below 500, never a panic.
#[test]
fn the_publisher_takes_any_request() {
    let arg = (
        prop::sample::select(vec![
            "type",
            "start",
            "end",
            "maxItems",
            "syncToken",
            "maxitems",
            "id",
            "x",
        ]),
        prop_oneof![
            Just("UUID".to_string()),
            Just("Metadata".to_string()),
            Just("Event".to_string()),
            "[0-9]{1,20}",
            "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.Z+-]{0,14}",
            "[ -~&&[^ #&]]{0,16}",
        ],
    );
    let strategy = (
        prop::sample::select(vec!["GET", "POST", "DELETE", "PUT", "HEAD"]),
        prop_oneof![
            Just("A".to_string()),
            Just("PublishAll".to_string()),
            "[A-Za-z0-9%._-]{0,12}"
        ],
        prop::collection::vec(arg, 0..4),
    );
    let p = SharedPublisher::new(Publisher::new(
        DurableLog::new(Disk::shared(1 << 24)),
        Rules::parse("channel A\n").expect("rules"),
        1,
    ));
    fuzz_support::fuzz(
        REGRESSIONS,
        "publisher requests",
        strategy,
        |(m, channel, args)| {
            let query: Vec<String> = args.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let uri = format!("/{channel}?{}", query.join("&"));
            let Ok(req) = http::Request::builder().method(m).uri(&uri).body(()) else {
                // Not a request target hyper would hand over: nothing to ask.
                return Ok(());
            };
            let answer = publisher_handle(&p, req, 1_000);
            prop_assert!(
                answer.status().as_u16() < 500,
                "{} for {uri}",
                answer.status()
            );
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------------------
// DS3.

/// DS3 XML documents (bulk requests and master object lists), generated and damaged: read
/// or refused with a reason, never a panic; no entity beyond the predefined ones expands.
#[test]
fn ds3_xml_takes_any_document() {
    use replisim_sim::ds3::xml::{from_xml, BulkRequest, MasterObjectList};
    let attr = prop_oneof![
        "[A-Za-z]{1,8}=\"[ -~&&[^\"<&]]{0,12}\"",
        Just("Size=\"18446744073709551616\"".to_string()),
        Just("Name=\"&lol;\"".to_string()),
        Just("Name=\"&#0;\"".to_string()),
        Just("Offset=\"-1\"".to_string()),
    ];
    let element = (
        prop::sample::select(vec![
            "Objects",
            "Object",
            "MasterObjectList",
            "Nodes",
            "Node",
            "Chunk",
            "Blob",
            "x",
        ]),
        prop::collection::vec(attr, 0..4),
        any::<bool>(),
    )
        .prop_map(|(name, attrs, close)| {
            let a = attrs.join(" ");
            if close {
                format!("<{name} {a}/>")
            } else {
                format!("<{name} {a}>")
            }
        });
    let doc = (
        prop::option::of(prop_oneof![
            Just("<?xml version=\"1.0\"?>".to_string()),
            Just("<!DOCTYPE x [<!ENTITY lol \"lol\">]>".to_string()),
            Just("<!DOCTYPE x [<!ENTITY lol SYSTEM \"file:///etc/passwd\">]>".to_string()),
        ]),
        prop::collection::vec(
            prop_oneof![4 => element, 1 => "[ -~]{0,10}", 1 => Just("</Objects>".to_string())],
            0..10,
        ),
    )
        .prop_map(|(prolog, parts)| format!("{}{}", prolog.unwrap_or_default(), parts.concat()));
    fuzz_support::fuzz(REGRESSIONS, "ds3 xml documents", doc, |text| {
        if let Ok(bulk) = from_xml::<BulkRequest>(&text) {
            prop_assert!(bulk.objects.iter().all(|o| !o.name.contains("lollol")));
        }
        let _ = from_xml::<MasterObjectList>(&text);
        Ok(())
    });
}
