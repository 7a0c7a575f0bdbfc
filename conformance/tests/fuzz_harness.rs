//! Fuzzing the harness's own parsers on stable Rust with proptest: the scenario parser (every
//! scenario file in `scenarios/`, damaged, and generated TOML) and the strict client's
//! response parser (generated and damaged responses through `Client::read_reply`, the whole
//! framing and limits path without a socket). No input may panic either; a scenario error
//! always names a position in the file, a response is either parsed or refused with a reason.
//!
//! A plain `cargo test` runs a brief pass. The long campaign (docs/fuzzing.md):
//!
//! ```text
//! REPLISIM_FUZZ_CASES=1000000 cargo test --release -p replisim-conformance --test fuzz_harness -- --nocapture
//! ```

#[path = "../../sim/tests/fuzz_support/mod.rs"]
mod fuzz_support;

use std::sync::OnceLock;
use std::time::Duration;

use proptest::prelude::*;
use replisim_conformance::client::{Client, ClientError, Limits};
use replisim_conformance::scenario;

/// Where failing inputs are kept, to be replayed first.
const REGRESSIONS: &str = "proptest-regressions/fuzz_harness.txt";

/// The scenario files of the repository, the seeds the mutations start from.
fn scenario_texts() -> &'static Vec<String> {
    static TEXTS: OnceLock<Vec<String>> = OnceLock::new();
    TEXTS.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        let mut texts: Vec<String> = std::fs::read_dir(&dir)
            .expect("scenarios/")
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "toml"))
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .collect();
        texts.sort();
        assert!(texts.len() > 10, "the scenario files are found");
        texts
    })
}

/// One edit of a text: replace, insert or delete a span.
#[derive(Debug, Clone)]
enum Edit {
    Replace(prop::sample::Index, String),
    Insert(prop::sample::Index, String),
    Delete(prop::sample::Index, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let snippet = prop_oneof![
        prop::sample::select(vec![
            "\"",
            "'",
            "[",
            "]]",
            "[[step]]\n",
            "{",
            "}",
            "=",
            "\n",
            "#",
            "\\",
            "\"\"\"",
            "0..",
            "999999999999999999999",
            "-1",
            "1e400",
            "send = { method = \"GET\" }",
            "expect = { status = 999 }",
            "fault = { kind = \"crash\", node = 99 }",
            "sleep = \"-1s\"",
            "seeds = \"5..1\"",
            "${",
            "${unknown}",
            "\u{0}",
            "\u{feff}",
        ])
        .prop_map(str::to_string),
        "\\PC{0,8}",
    ];
    prop_oneof![
        (any::<prop::sample::Index>(), snippet.clone()).prop_map(|(i, s)| Edit::Replace(i, s)),
        (any::<prop::sample::Index>(), snippet).prop_map(|(i, s)| Edit::Insert(i, s)),
        (any::<prop::sample::Index>(), 0usize..40).prop_map(|(i, n)| Edit::Delete(i, n)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for e in edits {
        match e {
            Edit::Replace(at, s) if !chars.is_empty() => {
                let i = at.index(chars.len());
                let end = (i + s.chars().count()).min(chars.len());
                chars.splice(i..end, s.chars());
            }
            Edit::Insert(at, s) => {
                let i = at.index(chars.len() + 1);
                chars.splice(i..i, s.chars());
            }
            Edit::Delete(at, n) if !chars.is_empty() => {
                let i = at.index(chars.len());
                let end = (i + n).min(chars.len());
                chars.drain(i..end);
            }
            _ => {}
        }
    }
    chars.into_iter().collect()
}

fn check_scenario(text: &str) -> Result<(), TestCaseError> {
    if let Err(errors) = scenario::parse("fuzz.toml", text) {
        prop_assert!(!errors.0.is_empty(), "an error without a message");
        let lines = text.lines().count().max(1);
        for e in &errors.0 {
            prop_assert!(!e.message.is_empty());
            prop_assert!(e.line <= lines + 1, "line {} of {lines}", e.line);
        }
    }
    Ok(())
}

/// Damaged scenario files: parsed or refused with positions, never a panic.
#[test]
fn the_scenario_parser_takes_damaged_files() {
    let strategy = (
        any::<prop::sample::Index>(),
        prop::collection::vec(edit(), 1..5),
    );
    fuzz_support::fuzz(
        REGRESSIONS,
        "scenario parser (damaged files)",
        strategy,
        |(which, edits)| {
            let texts = scenario_texts();
            let text = apply(&texts[which.index(texts.len())], &edits);
            check_scenario(&text)
        },
    );
}

/// Generated scenario-shaped TOML: keys the format knows with values of every type.
#[test]
fn the_scenario_parser_takes_generated_files() {
    let value = prop_oneof![
        "\"[ -~&&[^\"\\\\]]{0,16}\"",
        "-?[0-9]{1,22}",
        Just("true".to_string()),
        Just("[]".to_string()),
        Just("{}".to_string()),
        "\\{ (method|path|body|status|node|kind|url|header|regex|location|follow) = \"[ -~&&[^\"\\\\]]{0,10}\" \\}",
    ];
    let key = prop::sample::select(vec![
        "name", "rules", "seeds", "nodes", "send", "expect", "capture", "fault", "sleep", "retire",
        "note", "until", "repeat", "cluster", "replicas", "x",
    ]);
    let line = (key, value).prop_map(|(k, v)| format!("{k} = {v}\n"));
    let section = prop_oneof![
        Just("[[step]]\n".to_string()),
        Just("[cluster]\n".to_string()),
        Just("[[x]]\n".to_string())
    ];
    let strategy = prop::collection::vec(prop_oneof![3 => line, 1 => section], 0..12);
    fuzz_support::fuzz(
        REGRESSIONS,
        "scenario parser (generated)",
        strategy,
        |lines| check_scenario(&lines.concat()),
    );
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    })
}

/// A response: a status line, fields, framing and body, each right or wrong.
fn response() -> impl Strategy<Value = Vec<u8>> {
    let status_line = prop_oneof![
        6 => (100u16..600).prop_map(|s| format!("HTTP/1.1 {s} Reason\r\n")),
        1 => "HTTP/1\\.[01] [0-9]{1,4}[ -~]{0,8}\r\n",
        1 => "[ -~]{0,16}\r?\n?",
    ];
    let field = prop_oneof![
        prop::sample::select(vec![
            "Content-Length: 5",
            "Content-Length: 0",
            "Content-Length: 18446744073709551616",
            "Content-Length: 5, 6",
            "Content-Length: -1",
            "Transfer-Encoding: chunked",
            "Transfer-Encoding: gzip",
            "Location: http://127.0.0.1:1/b/x?auth=00",
            "Location: \u{ff}",
            "Trailer: castor-system-result",
            "Connection: close",
            "ETag: \"d41d8cd98f00b204e9800998ecf8427e\"",
            " folded",
            "X-A : b",
            "no-colon",
        ])
        .prop_map(str::to_string),
        "[A-Za-z-]{1,12}: [ -~]{0,20}",
    ];
    let body = prop_oneof![
        "[ -~]{0,12}".prop_map(String::into_bytes),
        "([0-9a-fA-F]{1,5}(;[a-z]=1)?\r\n[ -~]{0,6}\r\n){0,3}(0\r\n([A-Za-z-]{1,8}: [ -~]{0,8}\r\n)?\r\n)?"
            .prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..24),
    ];
    (
        prop::collection::vec(status_line, 1..3),
        prop::collection::vec(field, 0..6),
        body,
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
        prop::option::of(any::<prop::sample::Index>()),
    )
        .prop_map(|(statuses, fields, body, flips, cut)| {
            let mut out = Vec::new();
            for (i, status) in statuses.iter().enumerate() {
                out.extend_from_slice(status.as_bytes());
                if i + 1 < statuses.len() {
                    out.extend_from_slice(b"\r\n");
                }
            }
            for f in &fields {
                out.extend_from_slice(f.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"\r\n");
            out.extend(body);
            for (at, byte) in flips {
                let i = at.index(out.len());
                out[i] = byte;
            }
            if let Some(cut) = cut {
                out.truncate(cut.index(out.len() + 1));
            }
            out
        })
}

/// Any response bytes: a parsed response or a reasoned refusal, never a panic; a parsed
/// one never holds more body than the limit allows.
#[test]
fn the_response_parser_takes_any_reply() {
    let limits = Limits {
        timeout: Duration::from_secs(20),
        body_bytes_max: 1024,
        ..Limits::default()
    };
    let strategy = (
        prop_oneof![4 => response(), 1 => prop::collection::vec(any::<u8>(), 0..120)],
        any::<bool>(),
    );
    fuzz_support::fuzz(
        REGRESSIONS,
        "client response parser",
        strategy,
        |(reply, head_only)| {
            let client = Client::new(limits.clone());
            let result = runtime().block_on(client.read_reply(
                b"GET /b/x HTTP/1.1\r\nHost: t\r\n\r\n",
                &reply,
                head_only,
            ));
            match result {
                Ok(r) => {
                    prop_assert!((100..1000).contains(&r.status));
                    prop_assert!(r.body.len() <= 1024);
                }
                Err(ClientError::Timeout { .. }) => {
                    return Err(TestCaseError::fail(format!(
                        "a complete reply timed out: {:?}",
                        String::from_utf8_lossy(&reply)
                    )))
                }
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            }
            prop_assert_eq!(client.transcript().len(), 1);
            Ok(())
        },
    );
}
