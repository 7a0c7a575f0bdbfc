//! BP-20: a bucket whose data policy says versioning KEEP_LATEST takes the same names again
//! and shows one object per name, the latest (the SDK's testDuplicateObjectsVersioningKeepLatest).
//! The check makes its own data policy and bucket through the Spectra S3 API and removes
//! them afterwards; a target that will not make them leaves the clauses not observed.

use std::collections::BTreeMap;

use bytes::Bytes;
use replisim_sim::ds3::xml::{self, MasterObjectList};
use replisim_sim::rt;

use super::client::{content, retry_after, Ds3};
use crate::clause::{doc, ClauseSpec};
use crate::target::Ctx;
use crate::verdict::Verdict;

/// The clauses of BP-20.
pub const BP_20: [ClauseSpec; 3] = [
    doc("reput-accepted", "in a bucket whose data policy has versioning KEEP_LATEST, a second bulk PUT of the same names with new content is created (200), takes every blob (200) and completes, like the first", "DS3PY"),
    doc("one-visible", "afterwards Get Bucket (GET /{bucket}) lists exactly one object per name", "DS3PY"),
    doc("latest-content", "a bulk GET of each name reads the second PUT's bytes (the contract's VersioningLevel KEEP_LATEST: the latest version is the one kept)", "DS3AG"),
];

/// The names and sizes of the first and the second PUT (the second content is longer, so
/// the old version reads back different).
const FIRST: [(&str, u64); 2] = [("a", 10), ("b", 7)];
const SECOND: [(&str, u64); 2] = [("a", 14), ("b", 11)];

fn all_not_observed(ctx: &Ctx, why: &str) {
    for c in &BP_20 {
        ctx.clauses.not_observed(c.slug, why);
    }
}

/// BP-20's check: policy and bucket made, two PUTs of the same names, then judged; the
/// bucket (with force) and the policy are deleted whatever happened.
pub async fn check_bp_20(ctx: &Ctx) -> Result<(), Verdict> {
    let ds3 = Ds3::new(ctx, super::current().0);
    let policy_name = format!("{}-keep-latest", ctx.bucket);
    let r = ds3
        .send(
            0,
            "POST",
            &format!("/_rest_/data_policy?name={policy_name}&versioning=KEEP_LATEST"),
            None,
        )
        .await?;
    if r.status != 201 {
        all_not_observed(
            ctx,
            &format!(
                "the target did not make a data policy with versioning KEEP_LATEST (Create Data Policy answered {})",
                r.status
            ),
        );
        return Ok(());
    }
    let policy_id = xml::from_xml::<xml::DataPolicyDoc>(&String::from_utf8_lossy(&r.body))
        .map(|p| p.id)
        .ok()
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| policy_name.clone());
    let bucket = format!("{}-kl", ctx.bucket);
    let made = ds3
        .send(
            0,
            "POST",
            &format!("/_rest_/bucket?name={bucket}&data_policy_id={policy_id}"),
            None,
        )
        .await;
    let outcome = match made {
        Ok(r) if r.status == 201 => reput(ctx, &ds3, &bucket).await,
        Ok(r) => {
            all_not_observed(
                ctx,
                &format!(
                    "the target did not make a bucket with the KEEP_LATEST policy (Create Bucket answered {})",
                    r.status
                ),
            );
            Ok(())
        }
        Err(v) => Err(v),
    };
    // Clean up whatever happened; a failure to clean up does not change the verdict.
    let _ = ds3
        .send(0, "DELETE", &format!("/_rest_/bucket/{bucket}?force"), None)
        .await;
    let _ = ds3
        .send(
            0,
            "DELETE",
            &format!("/_rest_/data_policy/{policy_id}"),
            None,
        )
        .await;
    outcome
}

async fn reput(ctx: &Ctx, ds3: &Ds3, bucket: &str) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    ds3.store(0, bucket, &FIRST).await?;
    let r = ds3.create(0, bucket, "START_BULK_PUT", &SECOND, "").await?;
    if r.status != 200 {
        c.record(
            "reput-accepted",
            false,
            "",
            format!(
                "the second bulk PUT of the same names answered {}: {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            ),
        );
        let why = "the second PUT was refused";
        c.not_observed("one-visible", why);
        c.not_observed("latest-content", why);
        return Ok(());
    }
    let second = Ds3::mol(&r, "the second Create Bulk PUT")?;
    let sent = ds3.upload_all(0, &second, 200).await;
    let done = match sent {
        Ok(()) => {
            ds3.wait_status(
                0,
                &second.job_id,
                "COMPLETED",
                std::time::Duration::from_secs(120),
            )
            .await?
        }
        Err(v) => {
            c.record("reput-accepted", false, "", v.evidence.clone());
            let why = "the second PUT's blobs were not all taken";
            c.not_observed("one-visible", why);
            c.not_observed("latest-content", why);
            return Ok(());
        }
    };
    c.check(
        "reput-accepted",
        done.status == "COMPLETED",
        format!("the second job {} COMPLETED", second.job_id),
        format!(
            "the second job is {} two minutes after its last blob",
            done.status
        ),
    )?;
    let listed = ds3.send(0, "GET", &format!("/{bucket}"), None).await?;
    let list: xml::ListBucketResult = if listed.status == 200 {
        xml::from_xml(&String::from_utf8_lossy(&listed.body))
            .map_err(|e| Verdict::fail(format!("Get Bucket's answer: {e}")))?
    } else {
        return Err(Verdict::fail(format!(
            "Get Bucket answered {}",
            listed.status
        )));
    };
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for o in &list.contents {
        *counts.entry(o.key.as_str()).or_default() += 1;
    }
    let want: BTreeMap<&str, usize> = SECOND.iter().map(|(n, _)| (*n, 1)).collect();
    c.record(
        "one-visible",
        counts == want,
        format!("one entry each: {counts:?}"),
        format!("Get Bucket lists {counts:?}, expected {want:?}"),
    );
    let read = read_whole(ds3, bucket, &SECOND).await?;
    let mut wrong = Vec::new();
    for (name, size) in SECOND {
        let got = read.get(name).cloned().unwrap_or_default();
        if got != content(name, 0, size) {
            wrong.push(format!(
                "{name}: {} bytes, not the {size} put last",
                got.len()
            ));
        }
    }
    c.record(
        "latest-content",
        wrong.is_empty(),
        "every name reads the second PUT's bytes",
        wrong.join("; "),
    );
    Ok(())
}

/// Reads objects whole through a bulk GET job (the documented loop: ready chunks, then
/// their blobs), bounded; the bytes per name in offset order.
async fn read_whole(
    ds3: &Ds3,
    bucket: &str,
    names: &[(&str, u64)],
) -> Result<BTreeMap<String, Bytes>, Verdict> {
    let job: MasterObjectList = ds3
        .create_mol(0, bucket, "START_BULK_GET", names, "")
        .await?;
    let total: usize = job.chunks.iter().map(|c| c.objects.len()).sum();
    let mut parts: BTreeMap<String, BTreeMap<u64, Bytes>> = BTreeMap::new();
    let mut got = 0;
    for _ in 0..120 {
        if got >= total {
            break;
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
        for ch in &list.chunks {
            for blob in &ch.objects {
                let by_name = parts.entry(blob.name.clone()).or_default();
                if by_name.contains_key(&blob.offset) {
                    continue;
                }
                let r = ds3.get_blob(0, bucket, &job.job_id, blob).await?;
                if r.status != 200 {
                    return Err(Verdict::fail(format!(
                        "GET of {} at {} answered {}",
                        blob.name, blob.offset, r.status
                    )));
                }
                by_name.insert(blob.offset, r.body.clone());
                got += 1;
            }
        }
    }
    Ok(parts
        .into_iter()
        .map(|(name, blobs)| {
            let bytes: Vec<u8> = blobs.values().flat_map(|b| b.iter().copied()).collect();
            (name, Bytes::from(bytes))
        })
        .collect())
}
