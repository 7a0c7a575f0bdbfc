//! BP-7: object GET (and a PUT of an unallocated chunk) may answer 307, which the SDK
//! (ds3_go_sdk httpRedirect.go) answers by sending the same request again at once, at most
//! `maxRedirect` (5) sends in all, then failing "The server is busy". What a server shows of
//! this: where it sends 307 (only those object requests, with the Error document the
//! contract gives GetObject's 307), and that the SDK's immediate retries get past it. The
//! check meets every condition the documents tie to 307: a GET of a blob not yet in cache,
//! ready lists while nothing is ready, and a PUT before its chunk was offered. The
//! reference sends 307 only when busy (docs/choices.md D13), as the simulated systems are;
//! a target that sends none leaves the retry clause not observed.

use replisim_sim::ds3::xml::{self, ErrorBody};

use super::client::{Ds3, Seen, MAX_REDIRECT};
use crate::clause::{doc, ClauseSpec};
use crate::target::Ctx;
use crate::verdict::Verdict;

/// The clauses of BP-7.
pub const BP_7: [ClauseSpec; 2] = [
    doc("only-object-requests", "in a sequence meeting every 307 condition (GET of a blob not in cache, ready lists while nothing is ready, PUT of an unoffered chunk), only object GET or PUT answers 307, and a GET's 307 carries the Error document", "DS3AG"),
    doc("retry-gets-past", "an object request answered 307, sent again at once as the SDK does, is answered otherwise within maxRedirect (5) sends in all", "DS3GO"),
];

/// Whether an answer is to an object request (`/{bucket}/{object}`, not `/_rest_/`).
fn is_object_request(s: &Seen) -> bool {
    let path = s.target.split('?').next().unwrap_or("");
    !path.starts_with("/_rest_") && path.trim_start_matches('/').contains('/')
}

/// BP-7's check.
pub async fn check_bp_7(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let ds3 = Ds3::new(ctx, super::current().0);
    ds3.store(0, &ctx.bucket, &[("a", 1024)]).await?;
    // A GET job, and at once (nothing loaded yet) a GET of its first blob and a ready list.
    let get = ds3
        .create_mol(0, &ctx.bucket, "START_BULK_GET", &[("a", 0)], "")
        .await?;
    let Some(blob) = get
        .chunks
        .first()
        .and_then(|ch| ch.objects.first())
        .cloned()
    else {
        return Err(Verdict::fail("the GET job has no blob"));
    };
    let target = format!(
        "/{}/{}?job={}&offset={}",
        ctx.bucket, blob.name, get.job_id, blob.offset
    );
    let first = ds3.send(0, "GET", &target, None).await?;
    let mut retried = None;
    if first.status == 307 {
        let mut last = first.status;
        for _ in 1..MAX_REDIRECT {
            last = ds3.send(0, "GET", &target, None).await?.status;
            if last != 307 {
                break;
            }
        }
        retried = Some(("GET", last));
    }
    ds3.send(
        0,
        "GET",
        &format!("/_rest_/job_chunk?job={}", get.job_id),
        None,
    )
    .await?;
    // A PUT job whose blob is sent before any ready list offered its chunk.
    let put = ds3
        .create_mol(0, &ctx.bucket, "START_BULK_PUT", &[("p", 512)], "")
        .await?;
    if let Some(pblob) = put.chunks.first().and_then(|ch| ch.objects.first()) {
        let first_put = ds3.put_blob(0, &ctx.bucket, &put.job_id, pblob).await?;
        if first_put.status == 307 && retried.is_none() {
            let mut last = first_put.status;
            for _ in 1..MAX_REDIRECT {
                last = ds3
                    .put_blob(0, &ctx.bucket, &put.job_id, pblob)
                    .await?
                    .status;
                if last != 307 {
                    break;
                }
            }
            retried = Some(("PUT", last));
        }
    }
    for job in [&get.job_id, &put.job_id] {
        ds3.send(0, "DELETE", &format!("/_rest_/job/{job}?force"), None)
            .await?;
    }
    let seen: Vec<Seen> = ds3.seen.lock().map(|s| s.clone()).unwrap_or_default();
    let misplaced: Vec<String> = seen
        .iter()
        .filter(|s| s.status == 307)
        .filter(|s| {
            // The contract gives the Error document to GetObject's 307 only; a PUT's 307
            // (which the spec also allows) may carry any body.
            let with_error = xml::from_xml::<ErrorBody>(&String::from_utf8_lossy(&s.body)).is_ok();
            !is_object_request(s) || (s.method == "GET" && !with_error)
        })
        .map(|s| format!("{} {} → 307", s.method, s.target))
        .collect();
    c.record(
        "only-object-requests",
        misplaced.is_empty(),
        format!(
            "{} answers, 307 only on object requests (a GET's with the Error document)",
            seen.len()
        ),
        format!(
            "307 outside object GET/PUT, or on a GET without the Error document: {}",
            misplaced.join(", ")
        ),
    );
    match retried {
        Some((method, last)) => {
            c.record(
                "retry-gets-past",
                last != 307,
                format!("object {method} answered 307, then {last} on an immediate retry"),
                format!(
                    "object {method} still answered 307 on all {MAX_REDIRECT} immediate sends: the SDK fails (\"The server is busy\")"
                ),
            );
        }
        None => c.not_observed(
            "retry-gets-past",
            format!(
                "the target answered no object request with 307 (a GET of a blob not yet in cache answered {})",
                first.status
            ),
        ),
    }
    Ok(())
}
