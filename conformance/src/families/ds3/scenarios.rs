//! DS3 scenarios: the documented client flows run against the simulated source and target
//! systems, printed as the XML (and JSON) that crossed the wire, with ids and dates
//! normalized so the text is a stable snapshot (`conformance/tests/ds3_scenarios.rs`).
//! They live here rather than in `scenario/` because the scenario files speak SCSP; each
//! flow is a few lines of the family's own client.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use replisim_sim::ds3::auth::{Credentials, User};
use replisim_sim::rt;
use replisim_sim::world::{try_simulate, World};

use super::client::{Ds3, Seen};
use crate::clause::{Clauses, Profile};
use crate::client::{Client, Endpoint, Limits};
use crate::families::SimParams;
use crate::target::{Control, Ctx};
use crate::verdict::Verdict;

/// The scenarios, by name.
pub const NAMES: [&str; 5] = [
    "bulk_put",
    "bulk_get_retry_after",
    "expiring_job",
    "cancel",
    "replication",
];

const BUCKET: &str = "bucket1";

/// Runs scenario `name` on `seed` and returns its normalized wire text.
pub fn run(name: &'static str, seed: u64) -> Result<String, String> {
    if !NAMES.contains(&name) {
        return Err(format!(
            "no DS3 scenario `{name}`; known: {}",
            NAMES.join(", ")
        ));
    }
    let outcome = try_simulate(seed, Duration::from_secs(1800), move || async move {
        let params = SimParams {
            nodes: 1,
            defects: Default::default(),
            alternatives: Default::default(),
            publisher_defects: Default::default(),
            ds3_defects: Default::default(),
            publisher_alternatives: Default::default(),
        };
        let world = (super::FAMILY.world)(&params)
            .build()
            .map_err(|e| format!("world: {e}"))?;
        let world = Arc::new(world);
        rt::sleep(Duration::from_millis(10)).await;
        let ctx = sim_ctx(&world, BUCKET, Limits::default(), None);
        world
            .on_client(async move {
                let ds3 = Ds3::new(&ctx, replicating_fixture_user()?);
                flow(name, &ds3)
                    .await
                    .map_err(|v| format!("{name}: {}", v.evidence))?;
                let seen = ds3.seen.lock().map(|s| s.clone()).unwrap_or_default();
                Ok::<String, String>(render(&seen))
            })
            .await
    });
    outcome.map_err(|e| e.message)?
}

/// A context for a flow outside the rule runner: the world's hosts as nodes (source,
/// target), a fresh client, no clauses judged.
pub(crate) fn sim_ctx(
    world: &World,
    bucket: &str,
    limits: Limits,
    control: Option<Arc<dyn Control>>,
) -> Ctx {
    let client = Client::new(limits);
    Ctx {
        nodes: world.addrs().into_iter().map(Endpoint::http).collect(),
        client: client.clone(),
        bucket: bucket.into(),
        control,
        clauses: Clauses::new("BP-0", &[], Profile::Reference, Some(client)),
        targets: Default::default(),
    }
}

/// The fixture user allowed to replicate.
pub(crate) fn replicating_fixture_user() -> Result<User, String> {
    Credentials::fixture()
        .users()
        .find(|u| u.replicate)
        .cloned()
        .ok_or_else(|| "no fixture user may replicate".to_string())
}

async fn flow(name: &str, ds3: &Ds3) -> Result<(), Verdict> {
    match name {
        "bulk_put" => bulk_put(ds3).await,
        "bulk_get_retry_after" => bulk_get_retry_after(ds3).await,
        "expiring_job" => expiring_job(ds3).await,
        "cancel" => cancel(ds3).await,
        _ => replication(ds3).await,
    }
}

/// A bulk PUT of two objects in 8-byte blobs, through the ready list, to COMPLETED.
async fn bulk_put(ds3: &Ds3) -> Result<(), Verdict> {
    let job = ds3
        .create_mol(
            0,
            BUCKET,
            "START_BULK_PUT",
            &[("o1", 10), ("o2", 5)],
            "&max_upload_size=8",
        )
        .await?;
    ds3.upload_all(0, &job, 20).await?;
    ds3.job(0, &job.job_id).await?;
    expect_status(ds3, 0, &job.job_id, "COMPLETED").await
}

/// A bulk GET that waits: another job holds the cache, so the ready list is empty with
/// `Retry-After`; once that job is persisted the chunk loads and is read.
async fn bulk_get_retry_after(ds3: &Ds3) -> Result<(), Verdict> {
    ds3.store(0, BUCKET, &[("small", 16)]).await?;
    let big = ds3
        .create_mol(0, BUCKET, "START_BULK_PUT", &[("big", 60 << 10)], "")
        .await?;
    ds3.ready(0, &big.job_id).await?;
    let get = ds3
        .create_mol(0, BUCKET, "START_BULK_GET", &[("small", 0)], "")
        .await?;
    let (r, list) = ds3.ready(0, &get.job_id).await?;
    if list.is_none_or(|l| !l.chunks.is_empty()) || r.header("retry-after").is_none() {
        return Err(Verdict::fail(
            "expected an empty ready list with Retry-After",
        ));
    }
    // Send the big object; once it is persisted its cache is free.
    let chunk = ds3.ready(0, &big.job_id).await?.1;
    for c in chunk.iter().flat_map(|l| l.chunks.iter()) {
        for b in &c.objects {
            ds3.put_blob(0, BUCKET, &big.job_id, b).await?;
        }
    }
    expect_status(ds3, 0, &big.job_id, "COMPLETED").await?;
    for _ in 0..10 {
        let (r, list) = ds3.ready(0, &get.job_id).await?;
        if let Some(c) = list.and_then(|l| l.chunks.into_iter().next()) {
            for b in &c.objects {
                ds3.get_blob(0, BUCKET, &get.job_id, b).await?;
            }
            return expect_status(ds3, 0, &get.job_id, "COMPLETED").await;
        }
        rt::sleep(super::client::retry_after(&r)).await;
    }
    Err(Verdict::fail("the GET chunk never became ready"))
}

/// A PUT job left idle past the idle timeout is CANCELED and takes no data.
async fn expiring_job(ds3: &Ds3) -> Result<(), Verdict> {
    let job = ds3
        .create_mol(0, BUCKET, "START_BULK_PUT", &[("o1", 4)], "")
        .await?;
    rt::sleep(super::SIM_TIMES.0 + Duration::from_secs(1)).await;
    ds3.job(0, &job.job_id).await?;
    ds3.send(
        0,
        "PUT",
        &format!("/{BUCKET}/o1?job={}&offset=0", job.job_id),
        Some(Bytes::from_static(b"data")),
    )
    .await?;
    Ok(())
}

/// A forced cancel with one object half sent: 204, CANCELED, the ready list gone (410),
/// the partial object absent.
async fn cancel(ds3: &Ds3) -> Result<(), Verdict> {
    let job = ds3
        .create_mol(
            0,
            BUCKET,
            "START_BULK_PUT",
            &[("o1", 8)],
            "&max_upload_size=4",
        )
        .await?;
    let (_, list) = ds3.ready(0, &job.job_id).await?;
    if let Some(b) = list.and_then(|l| l.chunks.first().and_then(|c| c.objects.first().cloned())) {
        ds3.put_blob(0, BUCKET, &job.job_id, &b).await?;
    }
    ds3.send(
        0,
        "DELETE",
        &format!("/_rest_/job/{}?force", job.job_id),
        None,
    )
    .await?;
    ds3.job(0, &job.job_id).await?;
    ds3.ready(0, &job.job_id).await?;
    ds3.send(0, "GET", &format!("/{BUCKET}/o1"), None).await?;
    Ok(())
}

/// Source → target: a job stored on the source, its description, the same job on the
/// target, the data sent there, both COMPLETED with the same bytes; the payload again
/// gives the same job.
async fn replication(ds3: &Ds3) -> Result<(), Verdict> {
    let src = ds3.store(0, BUCKET, &[("o1", 10), ("o2", 3)]).await?;
    let r = ds3
        .send(
            0,
            "GET",
            &format!("/_rest_/job/{}?replicate", src.job_id),
            None,
        )
        .await?;
    let target = format!("/_rest_/bucket/{BUCKET}?operation=START_BULK_PUT&replicate");
    let dst = ds3
        .send_mol(1, "PUT", &target, Some(r.body.clone()))
        .await?;
    ds3.upload_all(1, &dst, 20).await?;
    expect_status(ds3, 1, &dst.job_id, "COMPLETED").await?;
    for name in ["o1", "o2"] {
        let a = ds3
            .send(0, "GET", &format!("/{BUCKET}/{name}"), None)
            .await?;
        let b = ds3
            .send(1, "GET", &format!("/{BUCKET}/{name}"), None)
            .await?;
        if a.status != 200 || a.body != b.body {
            return Err(Verdict::fail(format!("{name} differs between the systems")));
        }
    }
    ds3.send(1, "PUT", &target, Some(r.body)).await?;
    Ok(())
}

async fn expect_status(ds3: &Ds3, system: usize, job: &str, status: &str) -> Result<(), Verdict> {
    let m = ds3
        .wait_status(system, job, status, Duration::from_secs(60))
        .await?;
    if m.status != status {
        return Err(Verdict::fail(format!(
            "job {job} is {}, expected {status}",
            m.status
        )));
    }
    Ok(())
}

/// The answers as text: request line, status (and `Retry-After`), and text bodies; UUIDs
/// numbered in order of appearance, dates replaced, polling repeats collapsed.
pub fn render(seen: &[Seen]) -> String {
    let mut out = String::new();
    let mut last = String::new();
    for s in seen {
        let body = String::from_utf8_lossy(&s.body);
        let text = if body.starts_with('<') || body.starts_with('{') {
            format!("\n{body}")
        } else if s.body.is_empty() {
            String::new()
        } else {
            format!(" ({} bytes)", s.body.len())
        };
        let retry = s
            .retry_after
            .as_deref()
            .map(|r| format!(" Retry-After: {r}"))
            .unwrap_or_default();
        let entry = format!("> {} {}\n< {}{retry}{text}\n", s.method, s.target, s.status);
        if entry != last {
            out.push_str(&entry);
        }
        last = entry;
    }
    normalize(&out)
}

/// Numbers UUIDs in order of appearance and blanks ISO dates.
pub fn normalize(text: &str) -> String {
    let uuid = regex::Regex::new(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
    let date = regex::Regex::new(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z");
    let (Ok(uuid), Ok(date)) = (uuid, date) else {
        return text.to_string();
    };
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    let numbered = uuid.replace_all(text, |c: &regex::Captures<'_>| {
        let next = names.len() + 1;
        let n = *names.entry(c[0].to_string()).or_insert(next);
        format!("uuid-{n}")
    });
    date.replace_all(&numbered, "<date>").into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizing_numbers_ids_in_order_and_blanks_dates() {
        let t = "a 58fa3a04-7711-49b8-aaba-93b91eb93145 b 4294b5c2-b4ae-46db-8aca-858805a7a116 \
                 58fa3a04-7711-49b8-aaba-93b91eb93145 2016-01-21T18:54:21.000Z";
        assert_eq!(normalize(t), "a uuid-1 b uuid-2 uuid-1 <date>");
        assert!(run("nope", 1).is_err());
    }
}
