//! Each choice alternative of the reference node (`scsp::alternatives`, docs/choices.md)
//! changes the wire the way its knob says, and leaves the reference's own answer alone when
//! it is off. Plus: seeded random combinations still serve the ordinary path, and
//! `replisim serve --help` lists every knob.

mod node_support;

use std::process::Command;

use bytes::Bytes;
use node_support::{config, on_world, show, text, Probe};
use replisim_conformance::client::{parse_location, Request, Response};
use replisim_sim::scsp::alternatives::{Alternatives, SKEW_MAX_MS};

const SEED: u64 = 11;

/// A 4-node world with `choices` on a fixed seed.
fn with<F, Fut, T>(choices: &str, scenario: F) -> T
where
    F: FnOnce(Probe) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    on_world(config(choices, &[]), SEED, scenario)
}

/// The first redirect node 0 sends for a fresh named write (the body is held back behind
/// `Expect: 100-continue`, so nothing is written by the probe that is redirected).
async fn first_redirect(p: &Probe) -> Response {
    p.bucket("b").await;
    for k in 0..32 {
        let r = p
            .send(
                0,
                &Request::new("POST", format!("/b/probe-{k}"))
                    .body(Bytes::from_static(b"x"))
                    .expect_continue(),
            )
            .await;
        if r.status != 201 {
            return r;
        }
    }
    panic!("node 0 served 32 fresh names itself")
}

fn assert_redirect_shape(r: &Response) {
    assert_eq!(r.header("content-length"), Some("0"), "{}", show(r));
    assert!(r.body.is_empty(), "{}", show(r));
    let location = r.header("location").unwrap_or("");
    assert!(location.contains("auth="), "{}", show(r));
}

#[test]
fn redirect_always_301_answers_301_where_the_reference_sends_307() {
    let reference = with("", |p| async move { first_redirect(&p).await });
    assert_eq!(reference.status, 307, "{}", show(&reference));
    let (redirect, resent) = with("redirect=always-301", |p| async move {
        let r = first_redirect(&p).await;
        let location = r.header("location").unwrap_or("").to_string();
        let (addr, target) = parse_location(&location).expect("Location");
        let resent = p
            .client
            .send(
                addr,
                &addr.to_string(),
                &Request::new("POST", target).body(Bytes::from_static(b"x")),
            )
            .await
            .expect("resend");
        (r, resent)
    });
    assert_eq!(redirect.status, 301, "{}", show(&redirect));
    assert_redirect_shape(&redirect);
    assert_eq!(resent.status, 201, "{}", show(&resent));
}

#[test]
fn redirect_always_307_answers_307_even_from_a_retiring_node() {
    let run = |choices: &'static str| {
        with(choices, |p| async move {
            p.bucket("b").await;
            p.world.set_retiring(0, true);
            p.send(
                0,
                &Request::new("POST", "/b/moved").body(Bytes::from_static(b"x")),
            )
            .await
        })
    };
    let reference = run("");
    assert_eq!(reference.status, 301, "{}", show(&reference));
    let alternative = run("redirect=always-307");
    assert_eq!(alternative.status, 307, "{}", show(&alternative));
    assert_redirect_shape(&alternative);
}

/// Initiates an upload of `/b/<name>`, uploads `parts`, and completes it with a manifest
/// listing `(number, uuid)` (the uuid of the uploaded part with that index when `None`).
async fn upload(
    p: &Probe,
    name: &str,
    parts: &[&'static [u8]],
    listed: &[(u32, Option<&str>)],
) -> Response {
    let target = format!("/b/{name}");
    let init = p
        .follow(
            0,
            &Request::new("POST", format!("{target}?uploads")).body(Bytes::new()),
        )
        .await;
    assert!(init.status == 200 || init.status == 201, "{}", show(&init));
    let id = init
        .header("castor-system-uploadid")
        .unwrap_or("")
        .to_string();
    let mut uuids = Vec::new();
    for (i, body) in parts.iter().enumerate() {
        let r = p
            .follow(
                0,
                &Request::new(
                    "POST",
                    format!("{target}?partNumber={}&uploadId={id}", i + 1),
                )
                .body(Bytes::from_static(body)),
            )
            .await;
        assert_eq!(r.status, 201, "{}", show(&r));
        uuids.push(r.header("content-uuid").unwrap_or("").to_string());
    }
    let entries: Vec<String> = listed
        .iter()
        .map(|(n, uuid)| {
            let u = uuid
                .map(str::to_string)
                .unwrap_or_else(|| uuids[*n as usize - 1].clone());
            format!("{{\"partNumber\":{n},\"uuid\":\"{u}\"}}")
        })
        .collect();
    p.follow(
        0,
        &Request::new("POST", format!("{target}?uploadId={id}"))
            .header("TE", "trailers")
            .body(Bytes::from(format!(
                "{{\"parts\":[{}]}}",
                entries.join(",")
            ))),
    )
    .await
}

const NOWHERE: &str = "0123456789abcdef0123456789abcdef";

#[test]
fn result_body_text_and_html_state_the_outcome_the_trailer_gives() {
    for (style, content_type, created, failed) in [
        (
            "json",
            "application/json",
            "\"status\":201",
            "\"status\":400",
        ),
        (
            "text",
            "text/plain",
            "\n201 Created\n",
            "\n400 Bad Request\n",
        ),
        (
            "html",
            "text/html",
            "<h2>201 Created</h2>",
            "<h2>400 Bad Request</h2>",
        ),
    ] {
        let choices = format!("result-body={style}");
        let (good, bad) = with(&choices.clone(), |p| async move {
            p.bucket("b").await;
            let good = upload(&p, "ok", &[b"ab", b"cd"], &[(1, None), (2, None)]).await;
            let bad = upload(&p, "bad", &[b"ab"], &[(1, Some(NOWHERE))]).await;
            (good, bad)
        });
        for (r, marker, trailer) in [
            (&good, created, "201 Created"),
            (&bad, failed, "400 Bad Request"),
        ] {
            assert_eq!(r.status, 202, "{style}: {}", show(r));
            assert_eq!(r.header("content-type"), Some(content_type), "{style}");
            assert_eq!(r.trailer("castor-system-result"), Some(trailer), "{style}");
            assert!(text(r).contains(marker), "{style}: {}", show(r));
        }
        if style == "text" {
            assert!(text(&good).contains("location: http://"), "{}", show(&good));
        }
    }
}

#[test]
fn bad_manifest_before_202_refuses_with_400_and_keeps_good_uploads_at_202() {
    let run = |choices: &'static str| {
        with(choices, |p| async move {
            p.bucket("b").await;
            let dup = upload(&p, "dup", &[b"1", b"2"], &[(1, None), (1, None)]).await;
            let missing = upload(&p, "missing", &[b"1"], &[(1, Some(NOWHERE))]).await;
            let good = upload(&p, "good", &[b"1"], &[(1, None)]).await;
            let gone = p.follow(0, &Request::new("GET", "/b/dup")).await;
            (dup, missing, good, gone)
        })
    };
    let (dup, missing, good, gone) = run("bad-manifest=before-202");
    assert_eq!(dup.status, 400, "{}", show(&dup));
    assert_eq!(missing.status, 400, "{}", show(&missing));
    assert!(dup.trailers.is_empty());
    assert_eq!(good.status, 202, "{}", show(&good));
    assert_eq!(good.trailer("castor-system-result"), Some("201 Created"));
    assert_eq!(gone.status, 404, "{}", show(&gone));
    let (dup, missing, _, _) = run("");
    assert_eq!(dup.status, 202, "{}", show(&dup));
    assert_eq!(dup.trailer("castor-system-result"), Some("400 Bad Request"));
    assert_eq!(missing.status, 202, "{}", show(&missing));
}

#[test]
fn alias_header_omitted_leaves_alias_reads_without_castor_system_alias() {
    let run = |choices: &'static str| {
        with(choices, |p| async move {
            let r = p.post("/?alias", b"alias", 201).await;
            let uuid = r.header("content-uuid").unwrap_or("").to_string();
            p.follow(0, &Request::new("HEAD", format!("/{uuid}"))).await
        })
    };
    let reference = run("");
    assert!(
        reference.header("castor-system-alias").is_some(),
        "{}",
        show(&reference)
    );
    let alternative = run("alias-header=omitted");
    assert_eq!(alternative.status, 200, "{}", show(&alternative));
    assert_eq!(
        alternative.header("castor-system-alias"),
        None,
        "{}",
        show(&alternative)
    );
}

#[test]
fn oversized_headers_431_replaces_400() {
    let run = |choices: &'static str| {
        with(choices, |p| async move {
            p.bucket("b").await;
            p.follow(
                0,
                &Request::new("POST", "/b/big")
                    .header("X-Big-Meta", "v".repeat(17 * 1024))
                    .body(Bytes::from_static(b"x")),
            )
            .await
        })
    };
    assert_eq!(run("").status, 400);
    let alternative = run("oversized-headers=431");
    assert_eq!(alternative.status, 431, "{}", show(&alternative));
    assert!(text(&alternative).contains("X-Big-Meta") || text(&alternative).contains("x-big-meta"));
}

#[test]
fn clock_skew_minute_skews_each_node_and_keeps_updates_a_second_apart_in_order() {
    let (skews, answers, read) = with("clock-skew=minute", |p| async move {
        let skews: Vec<i64> = (0..p.nodes.len())
            .map(|i| p.world.clock(i).skew_ms())
            .collect();
        p.bucket("b").await;
        let mut answers = Vec::new();
        for (node, body) in [(0, &b"v0"[..]), (1, b"v1"), (2, b"v2"), (3, b"v3")] {
            let r = p
                .follow(
                    node,
                    &Request::new("POST", "/b/x").body(Bytes::from_static(body)),
                )
                .await;
            answers.push(r.status);
            p.next_second().await;
        }
        let read = p.follow(1, &Request::new("GET", "/b/x")).await;
        (skews, answers, read)
    });
    assert!(skews.iter().all(|s| s.abs() <= SKEW_MAX_MS), "{skews:?}");
    assert!(skews.windows(2).any(|w| w[0] != w[1]), "{skews:?}");
    assert!(skews.iter().any(|s| s.abs() > 1000), "{skews:?}");
    assert_eq!(
        answers,
        vec![201; 4],
        "every update a second apart is taken"
    );
    assert_eq!(&read.body[..], b"v3", "{}", show(&read));
    let reference = with("", |p| async move {
        (0..p.nodes.len())
            .map(|i| p.world.clock(i).skew_ms())
            .collect::<Vec<_>>()
    });
    assert_eq!(reference, vec![0; 4]);
}

#[test]
fn delete_status_204_has_no_body() {
    let run = |choices: &'static str| {
        with(choices, |p| async move {
            p.bucket("b").await;
            p.post("/b/x", b"x", 201).await;
            p.next_second().await;
            let deleted = p.follow(0, &Request::new("DELETE", "/b/x")).await;
            let read = p.follow(0, &Request::new("GET", "/b/x")).await;
            (deleted, read)
        })
    };
    let (reference, _) = run("");
    assert_eq!(reference.status, 200);
    let (deleted, read) = run("delete-status=204");
    assert_eq!(deleted.status, 204, "{}", show(&deleted));
    assert!(deleted.body.is_empty());
    assert_eq!(read.status, 404);
}

#[test]
fn replica_count_one_present_says_replica_count_1() {
    let run = |choices: &'static str| {
        with(choices, |p| async move {
            p.bucket("b").await;
            p.post("/b/x?replicate=1", b"x", 201).await
        })
    };
    assert_eq!(run("").header("replica-count"), None);
    assert_eq!(
        run("replica-count-one=present").header("replica-count"),
        Some("1")
    );
}

#[test]
fn error_body_text_and_json_render_the_same_refusal() {
    let run = |choices: &'static str| {
        with(choices, |p| async move {
            p.follow(0, &Request::new("GET", "/b/missing")).await
        })
    };
    let html = run("");
    assert_eq!(html.header("content-type"), Some("text/html"));
    let plain = run("error-body=text");
    assert_eq!(plain.status, 404);
    assert_eq!(plain.header("content-type"), Some("text/plain"));
    assert!(
        text(&plain).starts_with("404 Not Found: "),
        "{}",
        show(&plain)
    );
    let json = run("error-body=json");
    assert_eq!(json.header("content-type"), Some("application/json"));
    let v: serde_json::Value = serde_json::from_slice(&json.body).expect("a JSON error body");
    assert_eq!(v["status"], 404);
    assert!(v["message"]
        .as_str()
        .is_some_and(|m| m.contains("/b/missing")));
    // The 501 keeps its Allow and Connection: close in every format.
    let brew = with("error-body=json", |p| async move {
        p.send(0, &Request::new("BREW", "/")).await
    });
    assert_eq!(brew.status, 501);
    assert!(brew.header("allow").is_some() && brew.header("connection") == Some("close"));
}

#[test]
fn multi_range_multipart_answers_206_byteranges() {
    let run = |choices: &'static str| {
        with(choices, |p| async move {
            p.bucket("b").await;
            p.post("/b/digits", b"0123456789", 201).await;
            p.follow(
                0,
                &Request::new("GET", "/b/digits").header("Range", "bytes=0-1,5-6"),
            )
            .await
        })
    };
    let reference = run("");
    assert_eq!(reference.status, 200);
    assert_eq!(&reference.body[..], b"0123456789");
    let r = run("multi-range=multipart");
    assert_eq!(r.status, 206, "{}", show(&r));
    let content_type = r.header("content-type").unwrap_or("");
    let boundary = content_type
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap_or_else(|| panic!("{}", show(&r)));
    let body = text(&r);
    assert!(
        body.contains("Content-Range: bytes 0-1/10\r\n\r\n01\r\n"),
        "{body}"
    );
    assert!(
        body.contains("Content-Range: bytes 5-6/10\r\n\r\n56\r\n"),
        "{body}"
    );
    assert!(body.ends_with(&format!("--{boundary}--\r\n")), "{body}");
}

#[test]
fn initiate_status_201_and_version_resolution_second() {
    let (init, created) = with(
        "initiate-status=201,version-resolution=second",
        |p| async move {
            p.bucket("b").await;
            let init = p
                .follow(0, &Request::new("POST", "/b/up?uploads").body(Bytes::new()))
                .await;
            let created = p.post("/b/x", b"x", 201).await;
            (init, created)
        },
    );
    assert_eq!(init.status, 201, "{}", show(&init));
    assert!(init.header("castor-system-uploadid").is_some());
    let version = created.header("castor-system-version").unwrap_or("");
    assert!(version.ends_with(".000"), "second stamps: {version}");
    let reference = with("", |p| async move {
        p.follow(0, &Request::new("POST", "/?uploads").body(Bytes::new()))
            .await
    });
    assert_eq!(reference.status, 200);
}

#[test]
fn context_delete_refusal_409_replaces_400() {
    let run = |choices: &'static str| {
        with(choices, |p| async move {
            p.bucket("b").await;
            p.follow(0, &Request::new("DELETE", "/b")).await
        })
    };
    assert_eq!(run("").status, 400);
    assert_eq!(run("context-delete-refusal=409").status, 409);
}

#[test]
fn twenty_random_combinations_serve_write_read_and_delete() {
    for seed in 0..20 {
        let choices = Alternatives::random(seed);
        let mut config = config("", &[]);
        config.alternatives = choices;
        let (written, read, deleted) = on_world(config, seed, |p| async move {
            p.bucket("b").await;
            let written = p
                .follow(
                    2,
                    &Request::new("POST", "/b/x").body(Bytes::from_static(b"combo")),
                )
                .await;
            let read = p.follow(1, &Request::new("GET", "/b/x")).await;
            p.next_second().await;
            let deleted = p.follow(3, &Request::new("DELETE", "/b/x")).await;
            (written, read, deleted)
        });
        assert_eq!(written.status, 201, "{choices}: {}", show(&written));
        assert_eq!(&read.body[..], b"combo", "{choices}: {}", show(&read));
        assert!(
            matches!(deleted.status, 200 | 204),
            "{choices}: {}",
            show(&deleted)
        );
    }
}

#[test]
fn serve_help_lists_every_knob_and_refuses_unknown_ones() {
    let help = Command::new(env!("CARGO_BIN_EXE_replisim"))
        .args(["serve", "--help"])
        .output()
        .expect("replisim serve --help runs");
    assert!(help.status.success());
    let out = String::from_utf8_lossy(&help.stdout);
    for knob in Alternatives::KNOBS {
        let line = format!("{}={}", knob.name, knob.values.join("|"));
        assert!(out.contains(&line), "--help lacks {line}:\n{out}");
    }
    let bad = Command::new(env!("CARGO_BIN_EXE_replisim"))
        .args(["serve", "--choice", "redirect=302"])
        .output()
        .expect("replisim serve runs");
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("always-307"), "{err}");
}
