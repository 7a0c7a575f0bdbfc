//! The BP rules (spec section 3.5) with their clauses and checks. Each check drives the
//! documented client loop through [`Ds3`] and judges what the system answered.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bytes::Bytes;
use replisim_sim::ds3::ids::is_uuid;
use replisim_sim::ds3::xml::MasterObjectList;
use replisim_sim::rt;

use super::client::{content, retry_after, Ds3};
use super::{contract, current, redirects, versioning, ROLES};
use crate::catalog::{CheckFn, CheckFuture, Rule, Strength};
use crate::clause::{consistency, doc, ClauseSpec};
use crate::target::Ctx;
use crate::verdict::Verdict;

const fn rule(
    id: &'static str,
    title: &'static str,
    source: &'static str,
    strength: Strength,
    nodes_min: usize,
    check: CheckFn,
    clauses: &'static [ClauseSpec],
) -> Rule {
    Rule {
        nodes_min,
        ..Rule::checked(id, title, source, strength, ROLES, check, clauses)
    }
}

macro_rules! ds3_check {
    ($name:ident, $body:path) => {
        fn $name(ctx: Ctx) -> CheckFuture {
            Box::pin(async move { $body(&ctx).await })
        }
    };
}

const BP_1: [ClauseSpec; 2] = [
    doc("created", "Create Bulk PUT answers 200 with a MasterObjectList: RequestType=PUT, Status=IN_PROGRESS, a UUID JobId, OriginalSizeInBytes = the sum of the sizes asked", "SL4.1/12"),
    doc("covered-once", "every requested byte is covered exactly once by the (Name, Offset, Length) entries of the chunks", "SL4.1/12"),
];
const BP_2: [ClauseSpec; 1] = [doc(
    "blobs-within-max",
    "with `max_upload_size=4` no blob is longer than 4 bytes",
    "SL5.0/12",
)];
const BP_3: [ClauseSpec; 2] = [
    doc("modify-resets-idle", "Modify Active Job resets the idle timer: 1.5 idle periods after creation, 0.75 after a modify, the job is still IN_PROGRESS", "SL4.1/12,SL4.1/26"),
    doc("expires-after-idle", "a job idle for longer than the idle timeout (24 h by default) is CANCELED (or gone)", "SL4.1/12"),
];
const BP_4: [ClauseSpec; 1] = [doc(
    "retry-after",
    "an empty Get Job Chunks Ready list carries `Retry-After` in seconds",
    "SL4.1/02",
)];
const BP_5: [ClauseSpec; 1] = [doc(
    "offered-put-accepted",
    "every blob of a PUT chunk offered by Get Job Chunks Ready is accepted (200), even after another job was offered chunks and sent their blobs",
    "SL3.0/16",
)];
const BP_6: [ClauseSpec; 1] = [doc(
    "allocate-aggregating-404",
    "Allocate Job Chunk on a chunk of an aggregating PUT job answers 404",
    "SL4.1/03",
)];
const BP_8: [ClauseSpec; 1] = [doc(
    "ready-in-number-order",
    "with IN_ORDER, the chunks offered are always the lowest-numbered unread ones, in ChunkNumber order",
    "SL4.1/11",
)];
const BP_9: [ClauseSpec; 2] = [
    doc("appended-same-id", "a second aggregating PUT job for the same bucket within the window is appended: same JobId", "SL4.1/12"),
    doc("window-ends", "after the aggregation window (30 min by default) a new aggregating job gets a new JobId", "SL4.1/12"),
];
const BP_10: [ClauseSpec; 2] = [
    consistency("completed-only-when-persisted", "CompletedSizeInBytes reaches OriginalSizeInBytes only with Status=COMPLETED (it counts persisted bytes, not cached ones)"),
    doc("completed", "once every blob is sent, the job reaches Status=COMPLETED with CompletedSizeInBytes = OriginalSizeInBytes", "DS3PY"),
];
const BP_11: [ClauseSpec; 3] = [
    doc(
        "canceled",
        "Cancel with `force` answers 204, the job is CANCELED and takes no more blobs",
        "SL4.1/04",
    ),
    doc(
        "partial-deleted",
        "an object only partly received is gone after the cancel",
        "SL4.1/04",
    ),
    doc(
        "cached-deleted-with-force",
        "an object fully in cache but not yet persisted is deleted by a forced cancel",
        "SL4.1/04",
    ),
];
const BP_12: [ClauseSpec; 2] = [
    doc(
        "keeps-received",
        "Truncate (DELETE without force) answers 204 and keeps objects fully received in cache",
        "SL4.1/31",
    ),
    doc(
        "partial-deleted",
        "an object only partly received is gone after the truncate",
        "SL4.1/31",
    ),
];
const BP_13: [ClauseSpec; 1] = [doc(
    "applies",
    "Modify Active Job with name and priority answers 200 with the MasterObjectList showing them, same JobId and chunks",
    "SL4.1/26",
)];
const BP_14: [ClauseSpec; 2] = [
    doc("priority-limited", "Replicate PUT Job refuses the system priority CRITICAL", "SL4.1/28"),
    doc("same-ids", "the target's job has the source's JobId, chunk ids and numbers, blob ids, names, offsets, lengths and versions", "SL4.1/28"),
];
const BP_15: [ClauseSpec; 2] = [
    doc("forbidden-403", "Replicate PUT Job by a user without replication permission answers 403", "DS3AG"),
    doc("codes", "Get Job to Replicate answers 200 with a body; Replicate PUT Job answers 200 with a MasterObjectList or 204 without a body, also when repeated", "DS3AG"),
];
const BP_16: [ClauseSpec; 1] = [doc(
    "gone-after-retention",
    "a completed job is gone from Get Job after the retention period (30 days by default)",
    "SL4.1/20",
)];
const BP_17: [ClauseSpec; 1] = [doc(
    "job-needs-offset",
    "PUT Object with `job` but without `offset` is refused with 400",
    "SL4.1/12",
)];
const BP_18: [ClauseSpec; 1] = [doc(
    "statuses-in-contract",
    "every answer of create, ready, allocate, PUT/GET object, Get Job(s), modify, cancel and replicate is in the contract's response-code set for its handler",
    "DS3AG",
)];
const BP_19: [ClauseSpec; 2] = [
    doc("ready-in-cache", "every blob of a GET chunk offered as ready is InCache=TRUE", "SL4.1/11"),
    doc("cached-never-decreases", "a GET job's CachedSizeInBytes never decreases: after every chunk was loaded and read it still counts every byte", "SL4.1/11"),
];

/// Every BP rule (one line each, as a table).
#[rustfmt::skip]
pub fn all() -> Vec<Rule> {
    vec![
        rule("BP-1", "Create Bulk PUT: 200, a MasterObjectList covering every byte once", "SL4.1/12", Strength::Must, 1, bp_1, &BP_1),
        rule("BP-2", "No blob is larger than max_upload_size", "SL5.0/12", Strength::Must, 1, bp_2, &BP_2),
        rule("BP-3", "An idle job expires after 24 h; a modify resets the timer", "SL4.1/12,SL4.1/26", Strength::Must, 1, bp_3, &BP_3),
        rule("BP-4", "An empty ready list carries Retry-After", "SL4.1/02", Strength::Must, 1, bp_4, &BP_4),
        rule("BP-5", "A PUT chunk offered as ready is allocated: its blobs are accepted", "SL3.0/16", Strength::Must, 1, bp_5, &BP_5),
        rule("BP-6", "Allocate Job Chunk on an aggregating PUT job answers 404", "SL4.1/03", Strength::Must, 1, bp_6, &BP_6),
        rule("BP-7", "A 307 on object GET/PUT is retried by the client up to maxRedirect times", "DS3AG,DS3GO", Strength::Must, 1, bp_7, &redirects::BP_7),
        rule("BP-8", "IN_ORDER GET jobs offer chunks in ChunkNumber order", "SL4.1/11", Strength::Must, 1, bp_8, &BP_8),
        rule("BP-9", "Aggregating jobs append within 30 minutes", "SL4.1/12", Strength::Must, 1, bp_9, &BP_9),
        rule("BP-10", "A fully transferred and persisted job is COMPLETED", "DS3PY", Strength::Must, 1, bp_10, &BP_10),
        rule("BP-11", "Cancel with force: 204, partial and cached objects deleted, no more data", "SL4.1/04", Strength::Must, 1, bp_11, &BP_11),
        rule("BP-12", "Truncate: 204, received objects kept, partial ones deleted", "SL4.1/31", Strength::Must, 1, bp_12, &BP_12),
        rule("BP-13", "Modify Active Job changes priority, name, start date and answers 200", "SL4.1/26", Strength::Must, 1, bp_13, &BP_13),
        rule("BP-14", "Replicate PUT Job keeps the source's ids; client priorities only", "SL4.1/28", Strength::Must, 2, bp_14, &BP_14),
        rule("BP-15", "Replicate PUT Job answers 200 + MOL or 204; 403 without permission", "DS3AG", Strength::Must, 2, bp_15, &BP_15),
        rule("BP-16", "Ended jobs disappear after 30 days", "SL4.1/20", Strength::Must, 1, bp_16, &BP_16),
        rule("BP-17", "PUT Object inside a job needs job and offset", "SL4.1/12", Strength::Must, 1, bp_17, &BP_17),
        rule("BP-18", "Every answer is in the contract's response-code set", "DS3AG", Strength::Must, 1, bp_18, &BP_18),
        rule("BP-19", "Bulk GET: ready chunks are in cache; CachedSizeInBytes never decreases", "SL4.1/11", Strength::Must, 1, bp_19, &BP_19),
        rule("BP-20", "KEEP_LATEST versioning leaves one visible object per re-put name", "DS3PY", Strength::Must, 1, bp_20, &versioning::BP_20),
    ]
}

ds3_check!(bp_1, check_bp_1);
ds3_check!(bp_2, check_bp_2);
ds3_check!(bp_3, check_bp_3);
ds3_check!(bp_4, check_bp_4);
ds3_check!(bp_5, check_bp_5);
ds3_check!(bp_6, check_bp_6);
ds3_check!(bp_7, redirects::check_bp_7);
ds3_check!(bp_8, check_bp_8);
ds3_check!(bp_9, check_bp_9);
ds3_check!(bp_10, check_bp_10);
ds3_check!(bp_11, check_bp_11);
ds3_check!(bp_12, check_bp_12);
ds3_check!(bp_13, check_bp_13);
ds3_check!(bp_14, check_bp_14);
ds3_check!(bp_15, check_bp_15);
ds3_check!(bp_16, check_bp_16);
ds3_check!(bp_17, check_bp_17);
ds3_check!(bp_18, check_bp_18);
ds3_check!(bp_19, check_bp_19);
ds3_check!(bp_20, versioning::check_bp_20);

fn client(ctx: &Ctx) -> Ds3 {
    Ds3::new(ctx, current().0)
}

/// Every (name, offset, length) of a job.
fn entries(m: &MasterObjectList) -> Vec<(String, u64, u64)> {
    m.chunks
        .iter()
        .flat_map(|c| {
            c.objects
                .iter()
                .map(|b| (b.name.clone(), b.offset, b.length))
        })
        .collect()
}

/// Whether the entries cover each asked object's bytes exactly once.
fn coverage(m: &MasterObjectList, asked: &[(&str, u64)]) -> Result<(), String> {
    let mut by_name: BTreeMap<String, Vec<(u64, u64)>> = BTreeMap::new();
    for (n, o, l) in entries(m) {
        by_name.entry(n).or_default().push((o, l));
    }
    for (name, size) in asked {
        let mut ranges = by_name.remove(*name).unwrap_or_default();
        ranges.sort();
        let mut at = 0;
        for (o, l) in &ranges {
            if *o != at {
                return Err(format!("{name}: a blob starts at {o}, expected {at}"));
            }
            at = o + l;
        }
        if at != *size {
            return Err(format!("{name}: covered up to {at} of {size}"));
        }
    }
    if let Some(extra) = by_name.keys().next() {
        return Err(format!("an object that was not asked for: {extra}"));
    }
    Ok(())
}

async fn check_bp_1(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let ds3 = client(ctx);
    let asked = [("a", 10), ("b", 7)];
    let m = ds3
        .create_mol(0, &ctx.bucket, "START_BULK_PUT", &asked, "")
        .await?;
    let ok = m.request_type == "PUT"
        && m.status == "IN_PROGRESS"
        && is_uuid(&m.job_id)
        && m.original_size_in_bytes == 17;
    c.record(
        "created",
        ok,
        format!("PUT job {} IN_PROGRESS, 17 bytes", m.job_id),
        format!(
            "RequestType={} Status={} JobId={} OriginalSizeInBytes={} (asked 17)",
            m.request_type, m.status, m.job_id, m.original_size_in_bytes
        ),
    );
    let cov = coverage(&m, &asked);
    c.record(
        "covered-once",
        cov.is_ok(),
        "every byte once",
        cov.err().unwrap_or_default(),
    );
    Ok(())
}

async fn check_bp_2(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let ds3 = client(ctx);
    let r = ds3
        .create(
            0,
            &ctx.bucket,
            "START_BULK_PUT",
            &[("a", 10)],
            "&max_upload_size=4",
        )
        .await?;
    if r.status == 400 {
        c.not_observed(
            "blobs-within-max",
            "the target refuses max_upload_size=4 (400)",
        );
        return Ok(());
    }
    let m = Ds3::mol(&r, "Create Bulk PUT")?;
    let longest = entries(&m).iter().map(|e| e.2).max().unwrap_or(0);
    c.record(
        "blobs-within-max",
        longest <= 4,
        format!("longest blob {longest}"),
        format!("a blob of {longest} bytes with max_upload_size=4"),
    );
    Ok(())
}

async fn check_bp_3(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let Some(idle) = current().2.idle_timeout else {
        let why = "needs the target's idle timeout (--ds3-idle-timeout); 24 h is not waited out";
        c.not_observed("modify-resets-idle", why);
        c.not_observed("expires-after-idle", why);
        return Ok(());
    };
    let ds3 = client(ctx);
    let m = ds3
        .create_mol(0, &ctx.bucket, "START_BULK_PUT", &[("a", 5)], "")
        .await?;
    rt::sleep(idle * 3 / 4).await;
    ds3.send_mol(
        0,
        "PUT",
        &format!("/_rest_/active_job/{}?name=kept-alive", m.job_id),
        None,
    )
    .await?;
    rt::sleep(idle * 3 / 4).await;
    let mid = ds3.job(0, &m.job_id).await?;
    c.check(
        "modify-resets-idle",
        mid.status == "IN_PROGRESS",
        "IN_PROGRESS 0.75 idle periods after the modify",
        format!(
            "{} 1.5 idle periods after creation, 0.75 after a modify",
            mid.status
        ),
    )?;
    rt::sleep(idle / 2 + Duration::from_secs(2)).await;
    let r = ds3
        .send(0, "GET", &format!("/_rest_/job/{}", m.job_id), None)
        .await?;
    let ended = match r.status {
        404 | 410 => Ok("gone".to_string()),
        200 => {
            let m = Ds3::mol(&r, "Get Job")?;
            if m.status == "CANCELED" {
                Ok("CANCELED".to_string())
            } else {
                Err(format!("still {} after {:?} idle", m.status, idle * 5 / 4))
            }
        }
        other => Err(format!("Get Job answered {other}")),
    };
    c.record(
        "expires-after-idle",
        ended.is_ok(),
        ended.clone().unwrap_or_default(),
        ended.err().unwrap_or_default(),
    );
    Ok(())
}

async fn check_bp_4(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let ds3 = client(ctx);
    ds3.store(0, &ctx.bucket, &[("a", 1024)]).await?;
    let get = ds3
        .create_mol(0, &ctx.bucket, "START_BULK_GET", &[("a", 0)], "")
        .await?;
    let (r, list) = ds3.ready(0, &get.job_id).await?;
    let Some(list) = list else {
        return Err(Verdict::fail(format!(
            "Get Job Chunks Ready answered {}",
            r.status
        )));
    };
    if list.chunks.is_empty() {
        let ra = r.header("retry-after").map(str::trim);
        let ok = ra.is_some_and(|v| v.parse::<u64>().is_ok());
        c.record(
            "retry-after",
            ok,
            format!("Retry-After: {}", ra.unwrap_or("")),
            format!("an empty list with Retry-After {ra:?}"),
        );
        return Ok(());
    }
    c.not_observed(
        "retry-after",
        "the target had the chunks ready at once; no empty list seen",
    );
    Ok(())
}

async fn check_bp_5(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let ds3 = client(ctx);
    let size = 40 << 10;
    let a = ds3
        .create_mol(0, &ctx.bucket, "START_BULK_PUT", &[("a", size)], "")
        .await?;
    let (r, list) = ds3.ready(0, &a.job_id).await?;
    let Some(list) = list.filter(|l| !l.chunks.is_empty()) else {
        c.not_observed(
            "offered-put-accepted",
            format!("no chunk offered ({})", r.status),
        );
        return Ok(());
    };
    // Another job asks for cache and sends what it is offered before the first one sends
    // anything: an offered chunk's cache must already be reserved.
    let b = ds3
        .create_mol(0, &ctx.bucket, "START_BULK_PUT", &[("b", size)], "")
        .await?;
    let (_, other) = ds3.ready(0, &b.job_id).await?;
    for ch in other.iter().flat_map(|l| l.chunks.iter()) {
        for blob in &ch.objects {
            ds3.put_blob(0, &ctx.bucket, &b.job_id, blob).await?;
        }
    }
    let mut refused = Vec::new();
    for ch in &list.chunks {
        for blob in &ch.objects {
            let put = ds3.put_blob(0, &ctx.bucket, &a.job_id, blob).await?;
            if put.status != 200 {
                refused.push(format!("{} at {} → {}", blob.name, blob.offset, put.status));
            }
        }
    }
    c.record(
        "offered-put-accepted",
        refused.is_empty(),
        "every offered blob answered 200",
        format!("offered blobs refused: {}", refused.join(", ")),
    );
    ds3.send(
        0,
        "DELETE",
        &format!("/_rest_/job/{}?force", b.job_id),
        None,
    )
    .await?;
    Ok(())
}

async fn check_bp_6(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let ds3 = client(ctx);
    let m = ds3
        .create_mol(
            0,
            &ctx.bucket,
            "START_BULK_PUT",
            &[("a", 5)],
            "&aggregating=true",
        )
        .await?;
    let Some(chunk) = m.chunks.first() else {
        return Err(Verdict::fail("the aggregating job has no chunk"));
    };
    let r = ds3
        .send(
            0,
            "PUT",
            &format!("/_rest_/job_chunk/{}?operation=ALLOCATE", chunk.chunk_id),
            None,
        )
        .await?;
    c.record(
        "allocate-aggregating-404",
        r.status == 404,
        "404",
        format!("Allocate Job Chunk answered {}", r.status),
    );
    ds3.send(
        0,
        "PUT",
        &format!("/_rest_/job/{}?close_aggregating_job", m.job_id),
        None,
    )
    .await?;
    Ok(())
}

/// Reads every blob of a GET job, judging each ready list with `judge` (called with the
/// list and the chunk numbers not yet read). Bounded.
async fn read_all(
    ds3: &Ds3,
    job: &MasterObjectList,
    mut judge: impl FnMut(&MasterObjectList, &BTreeSet<u32>),
    mut after_read: impl FnMut(),
) -> Result<(), Verdict> {
    let mut pending: BTreeSet<u32> = job.chunks.iter().map(|c| c.chunk_number).collect();
    for _ in 0..120 {
        if pending.is_empty() {
            return Ok(());
        }
        let (r, list) = ds3.ready(0, &job.job_id).await?;
        let Some(list) = list else {
            return Err(Verdict::fail(format!(
                "Get Job Chunks Ready answered {}",
                r.status
            )));
        };
        if list.chunks.is_empty() {
            rt::sleep(retry_after(&r)).await;
            continue;
        }
        judge(&list, &pending);
        for ch in &list.chunks {
            for blob in &ch.objects {
                let got = ds3.get_blob(0, &job.bucket_name, &job.job_id, blob).await?;
                if got.status != 200 || got.body != content(&blob.name, blob.offset, blob.length) {
                    return Err(Verdict::fail(format!(
                        "GET of {} at {} answered {} with {} bytes that are not what was stored",
                        blob.name,
                        blob.offset,
                        got.status,
                        got.body.len()
                    )));
                }
            }
            pending.remove(&ch.chunk_number);
            after_read();
        }
    }
    Err(Verdict::fail(format!(
        "chunks {pending:?} were never offered"
    )))
}

async fn check_bp_8(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let ds3 = client(ctx);
    let size = 24 << 10;
    let names = [("a", size), ("b", size), ("c", size)];
    ds3.store(0, &ctx.bucket, &names).await?;
    let get = ds3
        .create_mol(
            0,
            &ctx.bucket,
            "START_BULK_GET",
            &names,
            "&chunk_client_processing_order_guarantee=IN_ORDER",
        )
        .await?;
    if get.chunks.len() < 2 {
        c.not_observed(
            "ready-in-number-order",
            "the GET job has one chunk; no order to see",
        );
        return Ok(());
    }
    let mut problems = Vec::new();
    read_all(
        &ds3,
        &get,
        |list, pending| {
            let offered: Vec<u32> = list.chunks.iter().map(|c| c.chunk_number).collect();
            let lowest: Vec<u32> = pending.iter().copied().take(offered.len()).collect();
            if offered != lowest {
                problems.push(format!("offered {offered:?} while {pending:?} were unread"));
            }
        },
        || {},
    )
    .await?;
    c.record(
        "ready-in-number-order",
        problems.is_empty(),
        format!("{} chunks offered in number order", get.chunks.len()),
        problems.join("; "),
    );
    Ok(())
}

async fn check_bp_9(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let ds3 = client(ctx);
    let agg = "&aggregating=true";
    let first = ds3
        .create_mol(0, &ctx.bucket, "START_BULK_PUT", &[("a", 5)], agg)
        .await?;
    let second = ds3
        .create_mol(0, &ctx.bucket, "START_BULK_PUT", &[("b", 5)], agg)
        .await?;
    c.record(
        "appended-same-id",
        first.job_id == second.job_id,
        format!("both in {}", first.job_id),
        format!("two jobs: {} and {}", first.job_id, second.job_id),
    );
    let Some(window) = current().2.aggregation_window else {
        c.not_observed(
            "window-ends",
            "needs the target's aggregation window (--ds3-aggregation-window); 30 min is not waited out",
        );
        return Ok(());
    };
    rt::sleep(window + Duration::from_secs(2)).await;
    let third = ds3
        .create_mol(0, &ctx.bucket, "START_BULK_PUT", &[("c", 5)], agg)
        .await?;
    c.record(
        "window-ends",
        third.job_id != first.job_id,
        format!("a new job {} after the window", third.job_id),
        format!("appended to {} after the window", first.job_id),
    );
    for id in [&first.job_id, &third.job_id] {
        ds3.send(
            0,
            "PUT",
            &format!("/_rest_/job/{id}?close_aggregating_job"),
            None,
        )
        .await?;
    }
    Ok(())
}

async fn check_bp_10(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let ds3 = client(ctx);
    let m = ds3
        .create_mol(0, &ctx.bucket, "START_BULK_PUT", &[("a", 6), ("b", 6)], "")
        .await?;
    ds3.upload_all(0, &m, 50).await?;
    let now = ds3.job(0, &m.job_id).await?;
    let consistent =
        now.completed_size_in_bytes < now.original_size_in_bytes || now.status == "COMPLETED";
    c.record(
        "completed-only-when-persisted",
        consistent,
        format!(
            "right after the last blob: Completed {} of {}, {}",
            now.completed_size_in_bytes, now.original_size_in_bytes, now.status
        ),
        format!(
            "CompletedSizeInBytes = OriginalSizeInBytes = {} while the job is {}",
            now.original_size_in_bytes, now.status
        ),
    );
    let done = ds3
        .wait_status(0, &m.job_id, "COMPLETED", Duration::from_secs(120))
        .await?;
    c.record(
        "completed",
        done.status == "COMPLETED" && done.completed_size_in_bytes == done.original_size_in_bytes,
        format!("COMPLETED, {} bytes", done.completed_size_in_bytes),
        format!(
            "{} with Completed {} of {} two minutes after the last blob",
            done.status, done.completed_size_in_bytes, done.original_size_in_bytes
        ),
    );
    Ok(())
}

/// A PUT job with `part` (8 bytes in two blobs, one sent) and `whole` (4 bytes, sent).
/// `None` when the target refuses 4-byte blobs.
async fn half_sent_job(ctx: &Ctx, ds3: &Ds3) -> Result<Option<MasterObjectList>, Verdict> {
    let r = ds3
        .create(
            0,
            &ctx.bucket,
            "START_BULK_PUT",
            &[("part", 8), ("whole", 4)],
            "&max_upload_size=4",
        )
        .await?;
    if r.status == 400 {
        return Ok(None);
    }
    let m = Ds3::mol(&r, "Create Bulk PUT")?;
    let (_, list) = ds3.ready(0, &m.job_id).await?;
    let offered: Vec<_> = list.map(|l| entries(&l)).unwrap_or_default();
    for (name, offset) in [("part", 0), ("whole", 0)] {
        let Some((_, _, len)) = offered.iter().find(|e| e.0 == name && e.1 == offset) else {
            return Err(Verdict::fail(format!("{name} at {offset} was not offered")));
        };
        let blob = replisim_sim::ds3::xml::Blob {
            id: String::new(),
            in_cache: false,
            latest: true,
            length: *len,
            name: name.to_string(),
            offset,
            version: 0,
        };
        let put = ds3.put_blob(0, &ctx.bucket, &m.job_id, &blob).await?;
        if put.status != 200 {
            return Err(Verdict::fail(format!("PUT {name} answered {}", put.status)));
        }
    }
    Ok(Some(m))
}

async fn object_status(ds3: &Ds3, bucket: &str, name: &str) -> Result<(u16, Bytes), Verdict> {
    let r = ds3
        .send(0, "GET", &format!("/{bucket}/{name}"), None)
        .await?;
    Ok((r.status, r.body))
}

async fn check_bp_11(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let ds3 = client(ctx);
    let Some(m) = half_sent_job(ctx, &ds3).await? else {
        for s in ["canceled", "partial-deleted", "cached-deleted-with-force"] {
            c.not_observed(s, "the target refuses max_upload_size=4 (400)");
        }
        return Ok(());
    };
    let del = ds3
        .send(
            0,
            "DELETE",
            &format!("/_rest_/job/{}?force", m.job_id),
            None,
        )
        .await?;
    let after = ds3.job(0, &m.job_id).await?;
    let more = ds3
        .send(
            0,
            "PUT",
            &format!("/{}/part?job={}&offset=4", ctx.bucket, m.job_id),
            Some(content("part", 4, 4)),
        )
        .await?;
    c.record(
        "canceled",
        del.status == 204 && after.status == "CANCELED" && (400..500).contains(&more.status),
        format!("204, CANCELED, a later blob {}", more.status),
        format!(
            "cancel {}, job {}, a later blob {}",
            del.status, after.status, more.status
        ),
    );
    let (part, _) = object_status(&ds3, &ctx.bucket, "part").await?;
    c.record(
        "partial-deleted",
        part == 404,
        "part: 404",
        format!("the partial object answers {part}"),
    );
    let (whole, _) = object_status(&ds3, &ctx.bucket, "whole").await?;
    c.record(
        "cached-deleted-with-force",
        whole == 404,
        "whole: 404",
        format!("the cached object answers {whole} after a forced cancel"),
    );
    Ok(())
}

async fn check_bp_12(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let ds3 = client(ctx);
    let Some(m) = half_sent_job(ctx, &ds3).await? else {
        for s in ["keeps-received", "partial-deleted"] {
            c.not_observed(s, "the target refuses max_upload_size=4 (400)");
        }
        return Ok(());
    };
    let del = ds3
        .send(0, "DELETE", &format!("/_rest_/job/{}", m.job_id), None)
        .await?;
    let (whole, body) = object_status(&ds3, &ctx.bucket, "whole").await?;
    c.record(
        "keeps-received",
        del.status == 204 && whole == 200 && body == content("whole", 0, 4),
        "204; whole reads back",
        format!(
            "truncate {}; whole answers {whole} with {} bytes",
            del.status,
            body.len()
        ),
    );
    let (part, _) = object_status(&ds3, &ctx.bucket, "part").await?;
    c.record(
        "partial-deleted",
        part == 404,
        "part: 404",
        format!("the partial object answers {part}"),
    );
    Ok(())
}

async fn check_bp_13(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let ds3 = client(ctx);
    let m = ds3
        .create_mol(0, &ctx.bucket, "START_BULK_PUT", &[("a", 5)], "")
        .await?;
    let after = ds3
        .send_mol(
            0,
            "PUT",
            &format!("/_rest_/active_job/{}?name=renamed&priority=LOW", m.job_id),
            None,
        )
        .await?;
    let same_chunks: Vec<_> = after.chunks.iter().map(|c| &c.chunk_id).collect();
    let before_chunks: Vec<_> = m.chunks.iter().map(|c| &c.chunk_id).collect();
    c.record(
        "applies",
        after.name == "renamed"
            && after.priority == "LOW"
            && after.job_id == m.job_id
            && same_chunks == before_chunks,
        "Name=renamed Priority=LOW, same job",
        format!(
            "Name={} Priority={} JobId {} (was {}), chunks {:?} (were {:?})",
            after.name, after.priority, after.job_id, m.job_id, same_chunks, before_chunks
        ),
    );
    ds3.send(
        0,
        "DELETE",
        &format!("/_rest_/job/{}?force", m.job_id),
        None,
    )
    .await?;
    Ok(())
}

/// A source job and the payload Get Job to Replicate gives for it.
async fn source_job(
    ctx: &Ctx,
    ds3: &Ds3,
    objects: &[(&str, u64)],
) -> Result<(MasterObjectList, Bytes), Verdict> {
    let m = ds3
        .create_mol(0, &ctx.bucket, "START_BULK_PUT", objects, "")
        .await?;
    let r = ds3
        .send(
            0,
            "GET",
            &format!("/_rest_/job/{}?replicate", m.job_id),
            None,
        )
        .await?;
    if r.status != 200 || r.body.is_empty() {
        return Err(Verdict::fail(format!(
            "Get Job to Replicate answered {} with {} bytes",
            r.status,
            r.body.len()
        )));
    }
    Ok((m, r.body))
}

fn replicate_target(bucket: &str, extra: &str) -> String {
    format!("/_rest_/bucket/{bucket}?operation=START_BULK_PUT&replicate{extra}")
}

/// Blob identities of a job: (chunk id, chunk number, blob id, name, offset, length, version).
fn identities(m: &MasterObjectList) -> BTreeSet<(String, u32, String, String, u64, u64, u64)> {
    m.chunks
        .iter()
        .flat_map(|c| {
            c.objects.iter().map(|b| {
                (
                    c.chunk_id.clone(),
                    c.chunk_number,
                    b.id.clone(),
                    b.name.clone(),
                    b.offset,
                    b.length,
                    b.version,
                )
            })
        })
        .collect()
}

async fn check_bp_14(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let ds3 = client(ctx);
    let (src, payload) = source_job(ctx, &ds3, &[("a", 5), ("b", 9)]).await?;
    let critical = ds3
        .send(
            1,
            "PUT",
            &replicate_target(&ctx.bucket, "&priority=CRITICAL"),
            Some(payload.clone()),
        )
        .await?;
    c.record(
        "priority-limited",
        (400..500).contains(&critical.status),
        format!("priority=CRITICAL refused with {}", critical.status),
        format!("priority=CRITICAL answered {}", critical.status),
    );
    let dst = ds3
        .send_mol(1, "PUT", &replicate_target(&ctx.bucket, ""), Some(payload))
        .await?;
    let (a, b) = (identities(&src), identities(&dst));
    c.record(
        "same-ids",
        dst.job_id == src.job_id && a == b,
        format!("job {} with {} identical blobs", dst.job_id, a.len()),
        format!(
            "target job {} (source {}); blobs only on the source {:?}, only on the target {:?}",
            dst.job_id,
            src.job_id,
            a.difference(&b).collect::<Vec<_>>(),
            b.difference(&a).collect::<Vec<_>>()
        ),
    );
    Ok(())
}

async fn check_bp_15(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let (_, plain, _) = current();
    let ds3 = client(ctx);
    let (_, payload) = source_job(ctx, &ds3, &[("a", 5)]).await?;
    match plain {
        Some(user) => {
            let r = ds3
                .as_user(user)
                .send(
                    1,
                    "PUT",
                    &replicate_target(&ctx.bucket, ""),
                    Some(payload.clone()),
                )
                .await?;
            c.record(
                "forbidden-403",
                r.status == 403,
                "403",
                format!("a user without permission got {}", r.status),
            );
        }
        None => c.not_observed(
            "forbidden-403",
            "needs a user without replication permission in --ds3-credentials",
        ),
    }
    let mut answers = Vec::new();
    let mut ok = true;
    for _ in 0..2 {
        let r = ds3
            .send(
                1,
                "PUT",
                &replicate_target(&ctx.bucket, ""),
                Some(payload.clone()),
            )
            .await?;
        let good = match r.status {
            200 => Ds3::mol(&r, "Replicate PUT Job").is_ok(),
            204 => r.body.is_empty(),
            _ => false,
        };
        ok &= good;
        answers.push(format!("{} ({} bytes)", r.status, r.body.len()));
    }
    c.record(
        "codes",
        ok,
        answers.join(", "),
        format!("Replicate PUT Job answered {}", answers.join(", ")),
    );
    Ok(())
}

async fn check_bp_16(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let Some(retention) = current().2.retention else {
        c.not_observed(
            "gone-after-retention",
            "needs the target's retention (--ds3-retention); 30 days are not waited out",
        );
        return Ok(());
    };
    let ds3 = client(ctx);
    let done = ds3.store(0, &ctx.bucket, &[("a", 5)]).await?;
    rt::sleep(retention + Duration::from_secs(2)).await;
    let r = ds3
        .send(0, "GET", &format!("/_rest_/job/{}", done.job_id), None)
        .await?;
    c.record(
        "gone-after-retention",
        r.status == 404,
        "404 after the retention period",
        format!("Get Job answered {} after the retention period", r.status),
    );
    Ok(())
}

async fn check_bp_17(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let ds3 = client(ctx);
    let m = ds3
        .create_mol(0, &ctx.bucket, "START_BULK_PUT", &[("a", 5)], "")
        .await?;
    ds3.ready(0, &m.job_id).await?;
    let r = ds3
        .send(
            0,
            "PUT",
            &format!("/{}/a?job={}", ctx.bucket, m.job_id),
            Some(content("a", 0, 5)),
        )
        .await?;
    c.record(
        "job-needs-offset",
        r.status == 400,
        "400",
        format!("PUT without offset answered {}", r.status),
    );
    ds3.send(
        0,
        "DELETE",
        &format!("/_rest_/job/{}?force", m.job_id),
        None,
    )
    .await?;
    Ok(())
}

async fn check_bp_18(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let ds3 = client(ctx);
    let bucket = &ctx.bucket;
    // A PUT job through its life: create, ready, allocate, data, Get Job(s), modify,
    // replicate description, object reads, then a canceled job's ready list.
    let m = ds3
        .create_mol(0, bucket, "START_BULK_PUT", &[("a", 5), ("b", 3)], "")
        .await?;
    if let Some(ch) = m.chunks.first() {
        ds3.send(
            0,
            "PUT",
            &format!("/_rest_/job_chunk/{}?operation=ALLOCATE", ch.chunk_id),
            None,
        )
        .await?;
    }
    ds3.upload_all(0, &m, 50).await?;
    ds3.wait_status(0, &m.job_id, "COMPLETED", Duration::from_secs(60))
        .await?;
    for target in [
        "/_rest_/job",
        "/_rest_/active_job",
        "/_rest_/completed_job",
        "/_rest_/canceled_job",
    ] {
        ds3.send(0, "GET", target, None).await?;
    }
    ds3.send(
        0,
        "PUT",
        &format!("/_rest_/job/{}?name=renamed", m.job_id),
        None,
    )
    .await?;
    ds3.send(
        0,
        "GET",
        &format!("/_rest_/job/{}?replicate", m.job_id),
        None,
    )
    .await?;
    ds3.send(0, "GET", &format!("/{bucket}/a"), None).await?;
    ds3.send(
        0,
        "PUT",
        &format!("/{bucket}/a?job={}&offset=0", m.job_id),
        Some(content("a", 0, 5)),
    )
    .await?;
    let get = ds3
        .create_mol(0, bucket, "START_BULK_GET", &[("a", 0)], "")
        .await?;
    if let Some(ch) = get.chunks.first() {
        ds3.send(
            0,
            "GET",
            &format!("/_rest_/job_chunk/{}", ch.chunk_id),
            None,
        )
        .await?;
    }
    ds3.send(
        0,
        "GET",
        &format!("/_rest_/active_job/{}", get.job_id),
        None,
    )
    .await?;
    read_all(&ds3, &get, |_, _| {}, || {}).await?;
    let verify = ds3
        .create_mol(0, bucket, "START_BULK_VERIFY", &[("a", 0)], "")
        .await?;
    ds3.send(
        0,
        "PUT",
        &format!("/_rest_/active_job/{}?priority=HIGH", verify.job_id),
        None,
    )
    .await?;
    ds3.send(
        0,
        "DELETE",
        &format!("/_rest_/active_job/{}?force", verify.job_id),
        None,
    )
    .await?;
    let truncated = ds3
        .create_mol(0, bucket, "START_BULK_PUT", &[("d", 4)], "")
        .await?;
    ds3.send(
        0,
        "DELETE",
        &format!("/_rest_/active_job/{}", truncated.job_id),
        None,
    )
    .await?;
    ds3.send(0, "GET", &format!("/{bucket}"), None).await?;
    let gone = ds3
        .create_mol(0, bucket, "START_BULK_PUT", &[("c", 4)], "")
        .await?;
    ds3.send(
        0,
        "DELETE",
        &format!("/_rest_/job/{}?force", gone.job_id),
        None,
    )
    .await?;
    ds3.ready(0, &gone.job_id).await?;
    ds3.send(
        0,
        "PUT",
        &format!("/{bucket}/c?job={}&offset=0", gone.job_id),
        Some(content("c", 0, 4)),
    )
    .await?;
    ds3.send(0, "DELETE", &format!("/_rest_/job/{}", gone.job_id), None)
        .await?;
    let seen = ds3.seen.lock().map(|s| s.clone()).unwrap_or_default();
    let violations: Vec<String> = seen
        .iter()
        .filter_map(|a| contract::violation(&a.method, &a.target, a.status))
        .collect();
    c.record(
        "statuses-in-contract",
        violations.is_empty(),
        format!("{} answers, all in their handlers' sets", seen.len()),
        violations.join("; "),
    );
    Ok(())
}

async fn check_bp_19(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let ds3 = client(ctx);
    let size = 20 << 10;
    ds3.store(0, &ctx.bucket, &[("a", size), ("b", size)])
        .await?;
    let get = ds3
        .create_mol(0, &ctx.bucket, "START_BULK_GET", &[("a", 0), ("b", 0)], "")
        .await?;
    let mut not_cached = Vec::new();
    let reads = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = reads.clone();
    let job_id = get.job_id.clone();
    read_all(
        &ds3,
        &get,
        |list, _| {
            for ch in &list.chunks {
                for b in ch.objects.iter().filter(|b| !b.in_cache) {
                    not_cached.push(format!(
                        "chunk {} blob {} InCache=FALSE",
                        ch.chunk_number, b.name
                    ));
                }
            }
        },
        || {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        },
    )
    .await?;
    // Every chunk was loaded once, so a size that never decreased still counts them all.
    let last = ds3.job(0, &job_id).await?;
    c.record(
        "ready-in-cache",
        not_cached.is_empty(),
        "every offered blob InCache=TRUE",
        not_cached.join("; "),
    );
    let total: u64 = get.original_size_in_bytes;
    c.record(
        "cached-never-decreases",
        last.cached_size_in_bytes >= total,
        format!(
            "CachedSizeInBytes {} of {total} at the end",
            last.cached_size_in_bytes
        ),
        format!(
            "CachedSizeInBytes fell to {} of {total} after {} chunks were read",
            last.cached_size_in_bytes,
            reads.load(std::sync::atomic::Ordering::SeqCst)
        ),
    );
    Ok(())
}
