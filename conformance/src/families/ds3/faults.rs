//! Replication under faults: one seed runs the documented source → target replication
//! (store on the source, Get Job to Replicate, Replicate PUT Job, send the data to the
//! target) while a seeded nemesis crashes and restarts either gateway and cuts the WAN
//! between the systems; the client retries what fails. After healing, the outcome must be
//! one of two: the target's job is COMPLETED and every object reads the same on both
//! systems, or the client reports the job not complete. A target job that says COMPLETED
//! with different bytes, or a client that reports complete without it, is a violation.
//! Faults go through the fault vocabulary (`SimControl::apply`), as everywhere else.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use replisim_sim::faults::Fault;
use replisim_sim::rt;
use replisim_sim::world::try_simulate;

use super::client::Ds3;
use super::scenarios::{replicating_fixture_user, sim_ctx};
use crate::client::Limits;
use crate::families::SimParams;
use crate::simcontrol::SimControl;
use crate::target::Control;
use crate::verdict::Verdict;

/// What one seed showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedOutcome {
    /// The client saw the target's job COMPLETED.
    pub complete: bool,
    /// Faults applied.
    pub faults: usize,
    /// What broke the guarantee, if anything.
    pub violation: Option<String>,
}

const BUCKET: &str = "replicated";
const OBJECTS: [(&str, u64); 3] = [("o1", 20 << 10), ("o2", 9), ("o3", 17 << 10)];

/// Retries `step` up to 12 times, 2 s apart; the last failure otherwise.
async fn retry<T, F, Fut>(mut step: F) -> Result<T, Verdict>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Verdict>>,
{
    let mut last = Verdict::fail("no attempt");
    for _ in 0..12 {
        match step().await {
            Ok(v) => return Ok(v),
            Err(v) => last = v,
        }
        rt::sleep(Duration::from_secs(2)).await;
    }
    Err(last)
}

/// The client's replication, retrying each step; `Ok(job)` when the target's job was
/// seen COMPLETED.
async fn replicate(ds3: &Ds3) -> Result<String, Verdict> {
    let src = retry(|| {
        let d = ds3.clone();
        async move { d.store(0, BUCKET, &OBJECTS).await }
    })
    .await?;
    let payload = retry(|| {
        let d = ds3.clone();
        let id = src.job_id.clone();
        async move {
            let r = d
                .send(0, "GET", &format!("/_rest_/job/{id}?replicate"), None)
                .await?;
            if r.status == 200 {
                Ok(r.body)
            } else {
                Err(Verdict::fail(format!("Get Job to Replicate {}", r.status)))
            }
        }
    })
    .await?;
    let target = format!("/_rest_/bucket/{BUCKET}?operation=START_BULK_PUT&replicate");
    let dst = retry(|| {
        let d = ds3.clone();
        let (t, p) = (target.clone(), payload.clone());
        async move { d.send_mol(1, "PUT", &t, Some(p)).await }
    })
    .await?;
    retry(|| {
        let d = ds3.clone();
        let dst = dst.clone();
        async move {
            d.upload_all(1, &dst, 30).await?;
            let m = d
                .wait_status(1, &dst.job_id, "COMPLETED", Duration::from_secs(30))
                .await?;
            if m.status == "COMPLETED" {
                Ok(())
            } else {
                Err(Verdict::fail(format!("target job {}", m.status)))
            }
        }
    })
    .await?;
    Ok(dst.job_id)
}

/// A seeded schedule of crashes, restarts and WAN cuts, then everything healed.
async fn nemesis(control: Arc<SimControl>, seed: u64) -> usize {
    let mut x = rt::splitmix64(seed ^ 0xd53);
    let mut next = |n: u64| {
        x = rt::splitmix64(x);
        x % n
    };
    let mut applied = 0;
    for _ in 0..5 {
        rt::sleep(Duration::from_secs(1 + next(8))).await;
        let (fault, repair) = match next(3) {
            0 => (Fault::Crash { node: 1 }, Fault::Restart { node: 1 }),
            1 => (Fault::Crash { node: 0 }, Fault::Restart { node: 0 }),
            _ => (
                Fault::PartitionWan {
                    a: "source".into(),
                    b: "target".into(),
                },
                Fault::Heal,
            ),
        };
        if control.apply(fault).await.is_ok() {
            applied += 1;
        }
        rt::sleep(Duration::from_secs(1 + next(6))).await;
        let _ = control.apply(repair).await;
    }
    let _ = control.heal_all().await;
    applied
}

/// After healing: the target job's status and whether every object reads the same.
async fn judge(ds3: &Ds3, job: Option<&str>) -> Result<(Option<String>, Vec<String>), Verdict> {
    let status = match job {
        Some(id) => Some(
            retry(|| {
                let d = ds3.clone();
                let id = id.to_string();
                async move { d.job(1, &id).await }
            })
            .await?
            .status,
        ),
        None => None,
    };
    let mut differ = Vec::new();
    for (name, _) in OBJECTS {
        let read = |system: usize| {
            let d = ds3.clone();
            async move {
                d.send(system, "GET", &format!("/{BUCKET}/{name}"), None)
                    .await
            }
        };
        let a = retry(|| read(0)).await?;
        let b = retry(|| read(1)).await?;
        if a.status != b.status || a.body != b.body {
            differ.push(format!(
                "{name}: source {} ({} bytes), target {} ({} bytes)",
                a.status,
                a.body.len(),
                b.status,
                b.body.len()
            ));
        }
    }
    Ok((status, differ))
}

/// Runs one seed.
pub fn run_seed(seed: u64) -> Result<SeedOutcome, String> {
    let outcome = try_simulate(seed, Duration::from_secs(3600), move || async move {
        let params = SimParams {
            nodes: 1,
            defects: Default::default(),
            alternatives: Default::default(),
            publisher_defects: Default::default(),
            publisher_alternatives: Default::default(),
            rucio_defects: Default::default(),
        };
        let world = Arc::new(
            (super::FAMILY.world)(&params)
                .build()
                .map_err(|e| format!("world: {e}"))?,
        );
        rt::sleep(Duration::from_millis(10)).await;
        let control = Arc::new(SimControl::new(world.clone()));
        let limits = Limits {
            timeout: Duration::from_secs(10),
            ..Limits::default()
        };
        let ctx = sim_ctx(&world, BUCKET, limits, Some(control.clone()));
        world
            .on_client(async move {
                let ds3 = Ds3::new(&ctx, replicating_fixture_user()?);
                let (done, faults) = futures::join!(replicate(&ds3), nemesis(control, seed));
                let job = done.as_ref().ok().cloned();
                let (status, differ) = judge(&ds3, job.as_deref())
                    .await
                    .map_err(|v| format!("judging after healing: {}", v.evidence))?;
                let complete = job.is_some();
                let violation = if complete && status.as_deref() != Some("COMPLETED") {
                    Some(format!(
                        "reported complete, but the target job is {status:?}"
                    ))
                } else if status.as_deref() == Some("COMPLETED") && !differ.is_empty() {
                    Some(format!(
                        "COMPLETED on the target with {}",
                        differ.join("; ")
                    ))
                } else {
                    None
                };
                Ok::<SeedOutcome, String>(SeedOutcome {
                    complete,
                    faults,
                    violation,
                })
            })
            .await
    });
    outcome.map_err(|e| e.message)?
}
