//! Defects whose rule has no catalog check yet (SCSP-5, 13, 21, 37, 42) still change what
//! crosses the wire: for each, a probe of the rule's documented behaviour gives the
//! documented answer on the clean reference and another one with the defect on. (Defects
//! of checked rules are held to their rule's verdict by tests/catalog.rs.)

mod node_support;

use bytes::Bytes;
use node_support::{config, on_world, Probe};
use replisim_conformance::catalog;
use replisim_conformance::client::Request;
use replisim_sim::scsp::defects::Defect;

const SEED: u64 = 21;

/// SCSP-5: the first redirected write with `Expect: 100-continue` — its status and the
/// interim statuses before it.
async fn continue_probe(p: Probe) -> String {
    p.bucket("b").await;
    for k in 0..32 {
        let r = p
            .send(
                0,
                &Request::new("POST", format!("/b/p{k}"))
                    .body(Bytes::from_static(b"body"))
                    .expect_continue(),
            )
            .await;
        if r.status != 201 {
            return format!("{} {:?}", r.status, r.informational);
        }
    }
    "never redirected".to_string()
}

/// SCSP-13: a named WRITE into a bucket that does not exist.
async fn missing_bucket_probe(p: Probe) -> String {
    let r = p
        .follow(
            0,
            &Request::new("POST", "/nobucket/x").body(Bytes::from_static(b"v")),
        )
        .await;
    r.status.to_string()
}

/// SCSP-21: DELETE of a bucket without `recursive`, whether an object of a bucket deleted
/// with `recursive=now` still reads, and PUT of a bucket that does not exist.
async fn context_probe(p: Probe) -> String {
    p.bucket("b").await;
    p.bucket("c").await;
    p.post("/c/x", b"x", 201).await;
    p.next_second().await;
    let plain = p.follow(0, &Request::new("DELETE", "/b")).await.status;
    let recursive = p
        .follow(0, &Request::new("DELETE", "/c?recursive=now"))
        .await
        .status;
    let inside = p.follow(1, &Request::new("GET", "/c/x")).await.status;
    let put = p
        .follow(
            0,
            &Request::new("PUT", "/nob").body(Bytes::from_static(b"x")),
        )
        .await
        .status;
    format!(
        "DELETE /b {plain}; DELETE /c?recursive=now {recursive}; GET /c/x {inside}; PUT /nob {put}"
    )
}

/// SCSP-37: a closed range, an out-of-bounds range and a suffix range of 10 bytes.
async fn range_probe(p: Probe) -> String {
    p.bucket("b").await;
    p.post("/b/digits", b"0123456789", 201).await;
    let mut seen = Vec::new();
    for range in ["bytes=0-4", "bytes=20-30", "bytes=-3"] {
        let r = p
            .follow(0, &Request::new("GET", "/b/digits").header("Range", range))
            .await;
        seen.push(format!(
            "{range}: {} {} {}",
            r.status,
            r.header("content-range").unwrap_or("-"),
            String::from_utf8_lossy(&r.body)
        ));
    }
    seen.join("; ")
}

/// SCSP-42: an unknown method's 501 and its `Connection`, and an HTTP/1.0 request.
async fn status_probe(p: Probe) -> String {
    let brew = p.send(0, &Request::new("BREW", "/")).await;
    let old = p
        .client
        .send_raw(p.nodes[0], b"GET / HTTP/1.0\r\n\r\n", false)
        .await
        .map(|r| r.status.to_string())
        .unwrap_or_else(|e| format!("error {e}"));
    format!(
        "BREW {} Connection: {}; HTTP/1.0 {old}",
        brew.status,
        brew.header("connection").unwrap_or("-")
    )
}

type ProbeFn = fn(Probe) -> std::pin::Pin<Box<dyn std::future::Future<Output = String> + Send>>;

/// Each defect of an unchecked rule, the probe that shows it, and what the clean reference
/// answers (the documented behaviour).
fn table() -> Vec<(Defect, ProbeFn, &'static str)> {
    let cont: ProbeFn = |p| Box::pin(continue_probe(p));
    let bucket: ProbeFn = |p| Box::pin(missing_bucket_probe(p));
    let ctx: ProbeFn = |p| Box::pin(context_probe(p));
    let range: ProbeFn = |p| Box::pin(range_probe(p));
    let status: ProbeFn = |p| Box::pin(status_probe(p));
    let contexts_clean = "DELETE /b 400; DELETE /c?recursive=now 200; GET /c/x 404; PUT /nob 404";
    let ranges_clean =
        "bytes=0-4: 206 bytes 0-4/10 01234; bytes=20-30: 416 bytes */10 Requested range not satisfiable.; bytes=-3: 206 bytes 7-9/10 789";
    let status_clean = "BREW 501 Connection: close; HTTP/1.0 505";
    vec![
        (Defect::ContinueBeforeRedirect, cont, "307 []"),
        (Defect::WriteIntoMissingBucket, bucket, "412"),
        (Defect::ContextDeleteWithoutRecursive, ctx, contexts_clean),
        (Defect::RecursiveDeleteLeavesObjects, ctx, contexts_clean),
        (Defect::ContextPutCreates, ctx, contexts_clean),
        (Defect::RangeEndExclusive, range, ranges_clean),
        (Defect::RangeOutOfBounds200, range, ranges_clean),
        (Defect::SuffixRangeFromStart, range, ranges_clean),
        (Defect::NotImplementedKeepsAlive, status, status_clean),
        (Defect::Http10Accepted, status, status_clean),
    ]
}

#[test]
fn each_defect_of_an_unchecked_rule_changes_its_probe() {
    for (defect, probe, clean) in table() {
        let reference = on_world(config("", &[]), SEED, probe);
        assert_eq!(reference, clean, "clean reference, probe of {defect}");
        let broken = on_world(config("", &[defect]), SEED, probe);
        assert_ne!(
            broken,
            clean,
            "{defect} ({}) left the wire as documented",
            defect.breaks()
        );
    }
}

#[test]
fn every_defect_is_shown_by_the_catalog_or_by_a_probe_here() {
    let rules = catalog::all();
    let probed: Vec<Defect> = table().into_iter().map(|(d, _, _)| d).collect();
    for &defect in Defect::ALL {
        if !defect.breaks().starts_with("SCSP-") {
            continue;
        }
        let checked = rules
            .iter()
            .any(|r| r.id == defect.breaks() && r.is_checked());
        assert!(
            checked || probed.contains(&defect),
            "{defect} breaks {}, which has no check, and no probe here shows it",
            defect.breaks()
        );
    }
}
