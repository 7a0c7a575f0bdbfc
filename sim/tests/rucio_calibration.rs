//! The reference Rucio catalog against the real server's recorded answers.
//!
//! Replays every request of tools/rucio/calibration.json (158 requests that Rucio 41.5.1
//! answered, recorded by tools/rucio/calibrate.py) against the reference service inside
//! madsim, after the same bootstrap, and compares status, Content-Type, ExceptionClass,
//! ExceptionMessage (header, normalized) and its length, and the body (kind, normalized
//! value, line count, shape) the way calibrate.py --compare does. The cases that still
//! differ are listed in `KNOWN_DIFFERENCES` with the reason; the test fails if that list
//! is not exact, so it can only shrink.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use replisim_sim::http::client::{exchange, Answer};
use replisim_sim::rt;
use replisim_sim::rucio::bootstrap::bootstrapped;
use replisim_sim::rucio::isodate;
use replisim_sim::rucio::server::run_on;
use serde_json::{json, Value};

const SERVER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 40, 0, 1)), 80);
const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 40, 0, 2));
const TIMEOUT: Duration = Duration::from_secs(10);
const STREAM: &str = "application/x-json-stream";

/// Cases whose answer the reference does not reproduce, with why. Empty means every
/// recorded answer is matched.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[];

fn recording() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tools/rucio/calibration.json"
    );
    let text = std::fs::read_to_string(path).expect("tools/rucio/calibration.json is readable");
    serde_json::from_str(&text).expect("calibration.json is JSON")
}

/// calibrate.py's normalizer: tokens, RSE ids, other 32-hex ids, the day counts.
struct Normalizer {
    tokens: Vec<String>,
    rse_ids: BTreeMap<String, String>,
}

impl Normalizer {
    fn apply(&self, text: &str) -> String {
        let mut t = text.to_string();
        for token in &self.tokens {
            t = t.replace(token.as_str(), "<token>");
        }
        for (id, name) in &self.rse_ids {
            t = t.replace(id.as_str(), &format!("<rse_id:{name}>"));
        }
        t = replace_hex_words(&t);
        replace_day_counts(&t)
    }
}

/// `\b[0-9a-f]{32}\b` -> `<id>`.
fn replace_hex_words(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if word(chars[i]) {
            let start = i;
            while i < chars.len() && word(chars[i]) {
                i += 1;
            }
            let run: String = chars[start..i].iter().collect();
            if run.len() == 32
                && run
                    .chars()
                    .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
            {
                out.push_str("<id>");
            } else {
                out.push_str(&run);
            }
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// `duration of \d+ days` -> `duration of <n> days`.
fn replace_day_counts(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("duration of ") {
        let (head, tail) = rest.split_at(at + "duration of ".len());
        out.push_str(head);
        let digits = tail.chars().take_while(char::is_ascii_digit).count();
        if digits > 0 && tail[digits..].starts_with(" days") {
            out.push_str("<n>");
            rest = &tail[digits..];
        } else {
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(a) => Value::Array(a.first().map(shape).into_iter().collect()),
        Value::Null => json!("null"),
        Value::Bool(_) => json!("bool"),
        Value::Number(n) if n.is_f64() => json!("float"),
        Value::Number(_) => json!("int"),
        Value::String(_) => json!("str"),
    }
}

/// calibrate.py's `body_record`.
fn body_record(norm: &Normalizer, ctype: Option<&str>, data: &[u8]) -> Value {
    if data.is_empty() {
        return json!({"kind": "empty"});
    }
    let text = norm.apply(&String::from_utf8_lossy(data));
    let stream = ctype.unwrap_or_default().starts_with(STREAM);
    if !stream {
        if let Ok(v) = serde_json::from_str::<Value>(&text) {
            return json!({"kind": "json", "value": v});
        }
    } else {
        let items: Result<Vec<Value>, _> = text
            .split('\n')
            .filter(|l| !l.trim().is_empty())
            .map(serde_json::from_str::<Value>)
            .collect();
        if let Ok(items) = items {
            return json!({"kind": "json-stream", "lines": items.len(), "value": items,
                          "ends_with_newline": text.ends_with('\n')});
        }
    }
    let kind = if text.trim_start().starts_with("<?xml") {
        "xml"
    } else {
        "text"
    };
    let shown: String = text.chars().take(2000).collect();
    json!({"kind": kind, "value": shown})
}

/// The response record calibrate.py writes for one exchange.
fn response_record(norm: &Normalizer, a: &Answer) -> Value {
    let header = |n: &str| a.header(n).map(str::to_string);
    let ctype = header("content-type");
    let msg = header("exceptionmessage");
    let body = body_record(norm, ctype.as_deref(), &a.body);
    let mut rec = json!({
        "status": a.status.as_u16(),
        "content_type": ctype,
        "exception_class": header("exceptionclass"),
        "exception_message": msg.as_deref().map(|m| norm.apply(m)),
        "exception_message_len": msg.as_deref().map(|m| m.chars().count()),
        "body": body,
    });
    let kind = rec["body"]["kind"].as_str().unwrap_or_default().to_string();
    if kind == "json" || kind == "json-stream" {
        rec["shape"] = shape(&rec["body"]["value"]);
    }
    rec
}

/// The request body to send: the recorded one, with the dates calibrate.py normalized
/// replaced by the values it sent (fixed ones, or a week from now).
fn request_body(case: &Value, soon: &str) -> Option<String> {
    let id = case["id"].as_str().unwrap_or_default();
    match &case["request"]["body"] {
        Value::Null => None,
        Value::String(raw) => Some(raw.clone()),
        other => {
            let mut body = other.clone();
            if let Some(at) = body.get_mut("expires_at") {
                if at == "<date>" {
                    *at = json!(match id {
                        "badpfns.tu_too_long" => "2099-01-01T00:00:00.000000",
                        "badpfns.tu_short_expiry" => "2000-01-01T00:00:00.000000",
                        _ => soon,
                    });
                }
            }
            Some(body.to_string())
        }
    }
}

async fn send(
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: Option<String>,
) -> Answer {
    let method = Method::from_bytes(method.as_bytes()).expect("recorded method");
    let hdrs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    exchange(
        SERVER,
        method,
        path,
        &hdrs,
        Bytes::from(body.unwrap_or_default()),
        TIMEOUT,
        1 << 22,
    )
    .await
    .expect("the reference answers")
}

fn login_headers(account: &str, password: &str) -> Vec<(String, String)> {
    vec![
        ("X-Rucio-Account".into(), account.into()),
        ("X-Rucio-Username".into(), account.into()),
        ("X-Rucio-Password".into(), password.into()),
    ]
}

/// Replays the recording; returns (case id, what differed) for each mismatch.
async fn replay(
    rse_ids: BTreeMap<String, String>,
    recording: Value,
) -> (usize, Vec<(String, String)>) {
    let mut tokens: BTreeMap<String, String> = BTreeMap::new();
    for (account, password) in [
        ("root", "secret"),
        ("harness", "harness-secret"),
        ("nobody", "nobody-secret"),
    ] {
        let a = send(
            "GET",
            "/auth/userpass",
            &login_headers(account, password),
            None,
        )
        .await;
        let token = a
            .header("x-rucio-auth-token")
            .expect("login gives a token")
            .to_string();
        tokens.insert(account.to_string(), token);
    }
    let mut norm = Normalizer {
        tokens: tokens.values().cloned().collect(),
        rse_ids,
    };
    let soon = isodate::format(rt::wall_now() + Duration::from_secs(7 * 86_400));
    let cases = recording["cases"].as_array().expect("cases").clone();
    let mut diffs = Vec::new();
    for case in &cases {
        let id = case["id"].as_str().unwrap_or_default().to_string();
        let req = &case["request"];
        let mut headers = Vec::new();
        for (k, v) in req["headers"].as_object().cloned().unwrap_or_default() {
            let v = v.as_str().unwrap_or_default().to_string();
            let v = match v
                .strip_prefix("<token of ")
                .and_then(|r| r.strip_suffix('>'))
            {
                Some(account) => tokens.get(account).cloned().unwrap_or(v),
                None => v,
            };
            headers.push((k, v));
        }
        let body = request_body(case, &soon);
        let answer = send(
            req["method"].as_str().unwrap_or_default(),
            req["path"].as_str().unwrap_or_default(),
            &headers,
            body,
        )
        .await;
        if let Some(t) = answer.header("x-rucio-auth-token") {
            norm.tokens.push(t.to_string());
        }
        let mut got = response_record(&norm, &answer);
        if id == "auth.ok" {
            let again = send(
                "GET",
                "/auth/userpass",
                &login_headers("root", "secret"),
                None,
            )
            .await;
            let mut names: Vec<String> = again
                .headers
                .keys()
                .map(|k| k.as_str().to_ascii_lowercase())
                .filter(|k| k.starts_with("x-rucio-auth"))
                .collect();
            names.sort();
            got["auth_headers"] = json!(names);
        }
        let want = &case["response"];
        if &got != want {
            let mut what = Vec::new();
            for key in [
                "status",
                "content_type",
                "exception_class",
                "exception_message",
                "exception_message_len",
                "body",
                "shape",
                "auth_headers",
            ] {
                if got.get(key) != want.get(key) {
                    what.push(format!(
                        "{key}: got {} want {}",
                        got.get(key).unwrap_or(&Value::Null),
                        want.get(key).unwrap_or(&Value::Null)
                    ));
                }
            }
            diffs.push((id, what.join("; ")));
        }
    }
    (cases.len(), diffs)
}

#[test]
fn reference_answers_like_the_recorded_real_server() {
    let recording = recording();
    assert_eq!(recording["server_version"], "41.5.1");
    let catalog = bootstrapped(7, &["EAST", "WEST"]);
    let rse_ids: BTreeMap<String, String> = catalog
        .rses()
        .map(|r| (r.id.clone(), r.name.clone()))
        .collect();
    let shared = Arc::new(Mutex::new(catalog));
    let runtime = madsim::runtime::Runtime::with_seed_and_config(7, madsim::Config::default());
    let (total, diffs) = runtime.block_on(async move {
        let handle = madsim::runtime::Handle::current();
        handle
            .create_node()
            .name("rucio")
            .ip(SERVER.ip())
            .init(move || {
                let catalog = shared.clone();
                async move {
                    let listener = rt::listen(SERVER).await.expect("bind");
                    let _ = run_on(catalog, listener).await;
                }
            })
            .build();
        let client = handle.create_node().name("client").ip(CLIENT).build();
        client
            .spawn(replay(rse_ids, recording))
            .await
            .expect("the replay finishes")
    });
    assert_eq!(total, 158, "every recorded case is replayed");
    let got: Vec<&str> = diffs.iter().map(|(id, _)| id.as_str()).collect();
    let known: Vec<&str> = KNOWN_DIFFERENCES.iter().map(|(id, _)| *id).collect();
    for (id, what) in &diffs {
        eprintln!("differs: {id}: {what}");
    }
    eprintln!("{} of {total} cases match", total - diffs.len());
    assert_eq!(
        got, known,
        "the differing cases must be exactly KNOWN_DIFFERENCES"
    );
}

/// The same service on real loopback TCP under tokio: login, register, list.
#[test]
fn reference_serves_on_real_loopback_tcp() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let listener = rt::listen(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("bound address");
        let catalog = Arc::new(Mutex::new(bootstrapped(11, &["EAST", "WEST"])));
        tokio::spawn(run_on(catalog, listener));
        let login = exchange(
            addr,
            Method::GET,
            "/auth/userpass",
            &[
                ("X-Rucio-Account", "root"),
                ("X-Rucio-Username", "root"),
                ("X-Rucio-Password", "secret"),
            ],
            Bytes::new(),
            TIMEOUT,
            1 << 20,
        )
        .await
        .expect("login answers");
        assert_eq!(login.status.as_u16(), 200);
        let token = login
            .header("x-rucio-auth-token")
            .expect("token")
            .to_string();
        let add = exchange(
            addr,
            Method::POST,
            "/replicas",
            &[
                ("X-Rucio-Auth-Token", &token),
                ("Content-Type", "application/json"),
            ],
            Bytes::from_static(
                br#"{"rse": "EAST", "files": [{"scope": "test", "name": "f1", "bytes": 3}]}"#,
            ),
            TIMEOUT,
            1 << 20,
        )
        .await
        .expect("add answers");
        assert_eq!((add.status.as_u16(), &add.body[..]), (201, &b"Created"[..]));
        let list = exchange(
            addr,
            Method::GET,
            "/replicas/test/f1",
            &[("X-Rucio-Auth-Token", &token)],
            Bytes::new(),
            TIMEOUT,
            1 << 20,
        )
        .await
        .expect("list answers");
        assert_eq!(list.header("content-type"), Some(STREAM));
        let item: Value = serde_json::from_slice(&list.body).expect("one JSON line");
        assert_eq!(
            item["rses"]["EAST"][0],
            "https://east.replisim.test:443/rucio/test/f1"
        );
    });
}
