//! Property tests for the parsers and encoders both sides rely on, through their public APIs:
//! query arguments and header names (SCSP-43, case-insensitive; booleans `x`, `x=yes`,
//! `x=true`), `auth=` tokens (docs/choices.md #2), the strict client's chunked decoder with
//! trailers (SCSP-32), multipart manifests (SCSP-31), `Content-MD5` base64 (SCSP-25) and
//! `Range` (SCSP-37, docs/choices.md #13). Garbage never panics any of them.
//!
//! `PROPTEST_CASES` raises the case count (default 256 per property); failures are kept in
//! `conformance/proptest-regressions/prop_parsers.txt` and replayed first.

mod prop_support;

use std::net::SocketAddr;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use replisim_conformance::client::{Client, Limits};
use replisim_conformance::patterns::is_preserved;
use replisim_sim::http::content_md5::{content_md5, decode_base64, encode_base64};
use replisim_sim::scsp::auth::{issue, verify, Grant, TokenError};
use replisim_sim::scsp::metadata::is_persisted;
use replisim_sim::scsp::multipart::{Manifest, ManifestPart};
use replisim_sim::scsp::object::md5_hex;
use replisim_sim::scsp::query::{percent_decode, percent_encode, Query};
use replisim_sim::scsp::read::{parse_range, RangeAnswer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CASES_DEFAULT: u32 = 256;

fn regressions() -> Option<Box<dyn proptest::test_runner::FailurePersistence>> {
    Some(Box::new(FileFailurePersistence::Direct(
        "proptest-regressions/prop_parsers.txt",
    )))
}

/// `s` with each ASCII letter's case chosen by `mask` (cycled).
fn recase(s: &str, mask: &[bool]) -> String {
    s.chars()
        .enumerate()
        .map(|(i, c)| {
            if mask.get(i % mask.len().max(1)).copied().unwrap_or(false) {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

fn arg_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("alias".to_string()),
        Just("preserve".to_string()),
        Just("newname".to_string()),
        Just("replicate".to_string()),
        Just("validate".to_string()),
        "[a-z]{1,10}",
    ]
}

/// Header names SCSP persists or must not (seed-001's preserve list and its neighbours).
fn header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("Content-Type".to_string()),
        Just("Content-Length".to_string()),
        Just("Content-MD5".to_string()),
        Just("Lifepoint".to_string()),
        Just("Castor-System-Version".to_string()),
        Just("Policy-Replicas-Evaluated".to_string()),
        "castor-[a-z]{1,8}",
        "policy-[a-z]{1,8}(-evaluated(-constrained)?)?",
        "x-[a-z]{1,6}-meta(-[a-z]{1,6})?",
        "x-[a-z]{1,6}",
        "[a-z][a-z-]{0,15}",
    ]
}

/// RFC 9110 `Range` for a single range, as docs/choices.md #13 reads it: `bytes=a-b`,
/// `bytes=a-`, `bytes=-n` with digits only; anything else (several ranges, other units,
/// signs, junk) is ignored and the whole object is sent.
fn range_reference(value: &str, len: u64) -> RangeAnswer {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeAnswer::Whole;
    };
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeAnswer::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    match (digits(first), digits(last)) {
        (true, true) => match (first.parse::<u64>(), last.parse::<u64>()) {
            (Ok(a), Ok(b)) if a <= b => {
                if a >= len {
                    RangeAnswer::Unsatisfiable
                } else {
                    RangeAnswer::Part(a, b.min(len - 1))
                }
            }
            _ => RangeAnswer::Whole,
        },
        (true, false) if last.is_empty() => match first.parse::<u64>() {
            Ok(a) if a >= len => RangeAnswer::Unsatisfiable,
            Ok(a) => RangeAnswer::Part(a, len - 1),
            Err(_) => RangeAnswer::Whole,
        },
        (false, true) if first.is_empty() => match last.parse::<u64>() {
            Ok(0) => RangeAnswer::Unsatisfiable,
            Ok(_) if len == 0 => RangeAnswer::Unsatisfiable,
            Ok(n) => RangeAnswer::Part(len.saturating_sub(n), len - 1),
            Err(_) => RangeAnswer::Whole,
        },
        _ => RangeAnswer::Whole,
    }
}

fn range_value() -> impl Strategy<Value = String> {
    let n = prop_oneof![0u64..40, any::<u64>()];
    prop_oneof![
        (n.clone(), n.clone()).prop_map(|(a, b)| format!("bytes={a}-{b}")),
        n.clone().prop_map(|a| format!("bytes={a}-")),
        n.clone().prop_map(|b| format!("bytes=-{b}")),
        (n.clone(), n.clone(), n.clone()).prop_map(|(a, b, c)| format!("bytes={a}-{b},{c}-")),
        (n.clone(), n).prop_map(|(a, b)| format!("items={a}-{b}")),
        "bytes=[0-9 ,+-]{0,12}",
        "[ -~]{0,20}",
    ]
}

/// A chunked body: the chunks, each optionally with an extension, and the trailers.
#[derive(Debug, Clone)]
struct Chunked {
    chunks: Vec<(Vec<u8>, bool)>,
    trailers: Vec<(String, String)>,
}

fn chunked() -> impl Strategy<Value = Chunked> {
    (
        proptest::collection::vec(
            (proptest::collection::vec(any::<u8>(), 1..40), any::<bool>()),
            0..8,
        ),
        proptest::collection::vec(
            ("[A-Za-z][A-Za-z0-9-]{0,12}", "[!-~]([ -~]{0,20}[!-~])?"),
            0..4,
        ),
    )
        .prop_map(|(chunks, trailers)| Chunked { chunks, trailers })
}

fn encode_chunked(c: &Chunked) -> Vec<u8> {
    let mut out = b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\nTrailer: castor-system-result\r\n\r\n".to_vec();
    for (data, ext) in &c.chunks {
        out.extend_from_slice(format!("{:x}", data.len()).as_bytes());
        if *ext {
            out.extend_from_slice(b";name=value");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n");
    for (k, v) in &c.trailers {
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Serves `reply` to one connection on loopback and sends a GET with the strict client;
/// returns what the client made of it (never a panic).
fn fetch(reply: Vec<u8>) -> Result<replisim_conformance::client::Response, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let addr: SocketAddr = listener.local_addr().map_err(|e| e.to_string())?;
        let server = tokio::spawn(async move {
            if let Ok((mut io, _)) = listener.accept().await {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match io.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = io.write_all(&reply).await;
                let _ = io.shutdown().await;
            }
        });
        let client = Client::new(Limits {
            timeout: Duration::from_secs(5),
            ..Limits::default()
        });
        let result = client
            .send_raw(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", false)
            .await
            .map_err(|e| e.to_string());
        let _ = server.await;
        result
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: regressions(),
        ..prop_support::config(CASES_DEFAULT)
    })]

    /// SCSP-43: argument names are case-insensitive; `x`, `x=yes`, `x=true` (any case) are
    /// true and every other value false.
    #[test]
    fn query_names_are_case_insensitive_and_booleans_have_three_forms(
        name in arg_name(),
        mask in proptest::collection::vec(any::<bool>(), 1..8),
        form in prop_oneof![Just(""), Just("=yes"), Just("=true"), Just("=YES"), Just("=True"),
                            Just("=no"), Just("=false"), Just("=0"), Just("=1"), Just("=yess")],
        before in proptest::option::of("[a-z]{1,5}=[a-z0-9]{0,4}"),
    ) {
        let spelled = recase(&name, &mask);
        let raw = match &before {
            Some(b) if !b.starts_with(&format!("{name}=")) && b.split('=').next() != Some(name.as_str()) => {
                format!("{b}&{spelled}{form}")
            }
            _ => format!("{spelled}{form}"),
        };
        let q = Query::parse(&raw);
        let truthy = ["", "=yes", "=true", "=YES", "=True"].contains(&form);
        prop_assert!(q.has(&name), "{raw}: {name} not found");
        prop_assert_eq!(q.flag(&name), truthy, "{}", raw);
        prop_assert_eq!(q.get(&name), Some(form.trim_start_matches('=')));
        let without = Query::raw_without(&raw, &name);
        prop_assert!(!Query::parse(&without).has(&name), "{} still has {}", without, name);
    }

    /// Percent-coding round-trips any text, and no query string panics the parser.
    #[test]
    fn percent_coding_round_trips_and_garbage_parses(s in "\\PC{0,30}", junk in "[ -~]{0,40}") {
        prop_assert_eq!(percent_decode(&percent_encode(&s)), s);
        let q = Query::parse(&junk);
        let _ = (q.flag("alias"), q.get("x"), Query::raw_without(&junk, "auth"));
    }

    /// Header names are matched case-insensitively, and the harness's copy of seed-001's
    /// preserve list (used to build COPY requests) agrees with the node's persisted set
    /// except Content-Length, which the node derives from the content.
    #[test]
    fn header_names_are_case_insensitive_and_both_preserve_lists_agree(
        name in header_name(),
        mask in proptest::collection::vec(any::<bool>(), 1..8),
    ) {
        let spelled = recase(&name, &mask);
        prop_assert_eq!(is_persisted(&spelled), is_persisted(&name));
        prop_assert_eq!(is_preserved(&spelled), is_preserved(&name));
        if !name.eq_ignore_ascii_case("content-length") {
            prop_assert_eq!(is_preserved(&name), is_persisted(&name), "{}", name);
        }
    }

    /// docs/choices.md #2: a token verifies for the request it was issued for until its
    /// expiry, and for nothing else.
    #[test]
    fn auth_tokens_round_trip_and_bind_their_request(
        secret in proptest::collection::vec(any::<u8>(), 0..40),
        method in "[A-Z]{3,6}",
        node in 0usize..250,
        path in "/[a-z0-9/]{0,20}",
        query in "[a-z0-9=&]{0,20}",
        expiry in any::<u32>(),
        now in any::<u32>(),
    ) {
        let grant = Grant { method: &method, node, path: &path, query: &query };
        let token = issue(&secret, &grant, expiry);
        prop_assert_eq!(token.len(), 32);
        let want = if now > expiry { Err(TokenError::Expired) } else { Ok(()) };
        prop_assert_eq!(verify(&secret, &grant, &token, now), want);
        let other_node = Grant { node: node + 1, ..grant };
        prop_assert_eq!(verify(&secret, &other_node, &token, 0), Err(TokenError::Invalid));
        let other_path = format!("{path}x");
        let moved = Grant { path: &other_path, ..grant };
        prop_assert_eq!(verify(&secret, &moved, &token, 0), Err(TokenError::Invalid));
    }

    /// Any single-character change to a token is refused as invalid, except a change of
    /// letter case: the token is hexadecimal and compared case-insensitively.
    #[test]
    fn any_single_character_change_is_rejected(
        expiry in any::<u32>(),
        at in 0usize..32,
        replacement in prop_oneof!["[0-9a-fA-F]", "[g-zG-Z!-/ ]"],
    ) {
        let grant = Grant { method: "GET", node: 1, path: "/b/n", query: "" };
        let token = issue(b"secret", &grant, expiry);
        let mut changed: Vec<char> = token.chars().collect();
        let new = replacement.chars().next().unwrap_or('0');
        prop_assume!(!changed[at].eq_ignore_ascii_case(&new));
        changed[at] = new;
        let changed: String = changed.into_iter().collect();
        prop_assert_eq!(verify(b"secret", &grant, &changed, 0), Err(TokenError::Invalid));
        prop_assert_eq!(verify(b"secret", &grant, &token.to_ascii_lowercase(), 0), Ok(()));
        let shorter = &token[..31];
        prop_assert_eq!(verify(b"secret", &grant, shorter, 0), Err(TokenError::Invalid));
    }

    /// The strict client decodes a chunked body (any chunking, with chunk extensions) and
    /// its trailer fields exactly (SCSP-32 puts the 202's result in a trailer).
    #[test]
    fn chunked_bodies_and_trailers_decode_exactly(c in chunked()) {
        let response = fetch(encode_chunked(&c)).map_err(TestCaseError::fail)?;
        let body: Vec<u8> = c.chunks.iter().flat_map(|(d, _)| d.iter().copied()).collect();
        prop_assert_eq!(response.status, 202);
        prop_assert_eq!(&response.body[..], &body[..]);
        prop_assert_eq!(response.trailers.len(), c.trailers.len());
        for (k, v) in &c.trailers {
            prop_assert_eq!(response.trailer(k), Some(v.as_str()), "trailer {}", k);
        }
    }

    /// Damaged responses (cut short, a byte changed, or plain garbage) never panic the
    /// client: they decode or become an error.
    #[test]
    fn damaged_or_garbage_responses_never_panic(
        c in chunked(),
        cut in any::<proptest::sample::Index>(),
        flip in any::<proptest::sample::Index>(),
        byte in any::<u8>(),
        garbage in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let good = encode_chunked(&c);
        let mut changed = good.clone();
        let at = flip.index(changed.len());
        changed[at] = byte;
        for reply in [good[..cut.index(good.len())].to_vec(), changed, garbage] {
            let _ = fetch(reply);
        }
    }

    /// Valid manifests parse to what was written; mutated ones parse or are refused,
    /// never panic.
    #[test]
    fn manifests_parse_and_mutations_never_panic(
        parts in proptest::collection::vec((1u32..=10_000, "[0-9a-f]{32}"), 0..6),
        at in any::<proptest::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let listed: Vec<String> = parts
            .iter()
            .map(|(n, u)| format!("{{\"partNumber\":{n},\"uuid\":\"{u}\"}}"))
            .collect();
        let text = format!("{{\"parts\":[{}]}}", listed.join(","));
        let parsed: Manifest = serde_json::from_str(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let want: Vec<ManifestPart> = parts
            .iter()
            .map(|(n, u)| ManifestPart { part_number: *n, uuid: u.clone() })
            .collect();
        prop_assert_eq!(parsed.parts, want);
        let mut bytes = text.into_bytes();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        let _ = serde_json::from_slice::<Manifest>(&bytes);
        let _ = serde_json::from_slice::<Manifest>(&bytes[..i]);
    }

    /// Content-MD5 is the base64 of the MD5 digest; base64 round-trips any bytes and no
    /// input panics the decoder.
    #[test]
    fn content_md5_base64_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..64), junk in "[ -~]{0,30}") {
        let encoded = encode_base64(&bytes);
        prop_assert_eq!(encoded.len(), bytes.len().div_ceil(3) * 4);
        prop_assert_eq!(decode_base64(&encoded), Some(bytes.clone()));
        let digest = decode_base64(&content_md5(&bytes)).unwrap_or_default();
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        prop_assert_eq!(hex, md5_hex(&bytes));
        if let Some(decoded) = decode_base64(&junk) {
            prop_assert_eq!(decode_base64(&encode_base64(&decoded)), Some(decoded));
        }
    }

    /// SCSP-37 and docs/choices.md #13: single ranges as RFC 9110 reads them; anything
    /// else is ignored; a range served is always within the object.
    #[test]
    fn ranges_follow_rfc_9110(value in range_value(), len in prop_oneof![0u64..50, any::<u64>()]) {
        let got = parse_range(Some(&value), len);
        if let RangeAnswer::Part(a, b) = got {
            prop_assert!(a <= b && b < len, "{value} on {len} bytes gave {a}-{b}");
        }
        prop_assert_eq!(got, range_reference(&value, len), "{}", value);
    }
}

/// RFC 9110 byte positions are digits only: a `+` makes the range malformed, so it is
/// ignored like any other malformed range.
#[test]
fn a_plus_sign_in_a_range_makes_it_malformed() {
    assert_eq!(parse_range(Some("bytes=+1-2"), 10), RangeAnswer::Whole);
    assert_eq!(range_reference("bytes=+1-2", 10), RangeAnswer::Whole);
}
