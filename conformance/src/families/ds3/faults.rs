//! Replication under faults: one seed runs the documented source → target replication
//! (store on the source, Get Job to Replicate, Replicate PUT Job, send the data to the
//! target) while a seeded nemesis crashes and restarts either gateway and cuts the WAN
//! between the systems; the client retries what fails. After healing, the outcome must be
//! one of two: the target's job is COMPLETED and every object reads the same on both
//! systems, or the client reports the job not complete. A target job that says COMPLETED
//! with different bytes, or a client that reports complete without it, is a violation.
//! Faults go through the fault vocabulary (`SimControl::apply`), as everywhere else.
//!
//! [`Ds3Seeds`] is this experiment as a world of `replisim sweep --world ds3` (shards,
//! resume, progress and flat memory come from `crate::sweep`).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use replisim_sim::ds3::auth::{Credentials, User};
use replisim_sim::ds3::defects::Defect;
use replisim_sim::faults::Fault;
use replisim_sim::rt;
use replisim_sim::world::{try_simulate, World};

use super::client::Ds3;
use crate::clause::{Clauses, Profile};
use crate::client::{Client, Endpoint, Limits};
use crate::simcontrol::SimControl;
use crate::sweep::{SeedRunner, SeedSummary};
use crate::target::{Control, Ctx};
use crate::verdict::Verdict;

/// What one seed showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedOutcome {
    /// The client saw the target's job COMPLETED.
    pub complete: bool,
    /// Why the client reports the job not complete (its last failed step), if it does.
    pub incomplete: Option<String>,
    /// Faults applied.
    pub faults: usize,
    /// Faults applied, by kind ([`FAULT_KINDS`]).
    pub by_kind: BTreeMap<String, u64>,
    /// What broke the guarantee, if anything.
    pub violation: Option<String>,
    /// Simulated time of the seed.
    pub simulated: Duration,
    /// The world's trace digest (same seed and defects, same digest).
    pub digest: String,
}

/// The nemesis's fault kinds, as the sweep names them.
pub const FAULT_KINDS: [&str; 3] = ["crash-source", "crash-target", "partition-systems"];

/// How long a received chunk waits in cache before it is persisted, in this experiment:
/// long enough that the nemesis's crashes land while data is only in cache.
pub const PERSIST_DELAY: Duration = Duration::from_secs(5);

/// The one invariant this experiment judges.
pub const INVARIANT: &str = "replicated-identical-or-incomplete";

const BUCKET: &str = "replicated";
const OBJECTS: [(&str, u64); 3] = [("o1", 20 << 10), ("o2", 9), ("o3", 17 << 10)];

/// A context for the experiment's client outside the rule runner: the world's hosts as
/// nodes (source, target), a fresh client, no clauses judged.
fn sim_ctx(world: &World, bucket: &str, limits: Limits, control: Option<Arc<dyn Control>>) -> Ctx {
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
fn replicating_fixture_user() -> Result<User, String> {
    Credentials::fixture()
        .users()
        .find(|u| u.replicate)
        .cloned()
        .ok_or_else(|| "no fixture user may replicate".to_string())
}

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
            // A retry after a lost answer may find the job already done (the ready list
            // of a COMPLETED job is 410).
            if let Ok(m) = d.job(1, &dst.job_id).await {
                if m.status == "COMPLETED" {
                    return Ok(());
                }
            }
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

/// A seeded schedule of crashes, restarts and WAN cuts, then everything healed; the
/// faults that took effect, by kind.
async fn nemesis(control: Arc<SimControl>, seed: u64) -> BTreeMap<String, u64> {
    let mut x = rt::splitmix64(seed ^ 0xd53);
    let mut next = |n: u64| {
        x = rt::splitmix64(x);
        x % n
    };
    let mut applied = BTreeMap::new();
    // The first fault comes within 3 s, while the replication is still sending: the
    // client's whole run takes simulated seconds.
    for round in 0..5 {
        let gap = if round == 0 {
            next(3000)
        } else {
            500 + next(4000)
        };
        rt::sleep(Duration::from_millis(gap)).await;
        let kind = next(3) as usize;
        let (fault, repair) = match kind {
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
            let name = FAULT_KINDS[[1, 0, 2][kind]];
            *applied.entry(name.to_string()).or_insert(0) += 1;
        }
        rt::sleep(Duration::from_millis(500 + next(3000))).await;
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

/// Runs one seed with the reference gateways.
pub fn run_seed(seed: u64) -> Result<SeedOutcome, String> {
    run_seed_with(seed, &BTreeSet::new())
}

/// Runs one seed with `defects` switched on in both systems' gateways.
pub fn run_seed_with(seed: u64, defects: &BTreeSet<Defect>) -> Result<SeedOutcome, String> {
    let defects = defects.clone();
    let outcome = try_simulate(seed, Duration::from_secs(3600), move || async move {
        let mut config = super::sim_gateway(&defects);
        config.persist_delay_ms = PERSIST_DELAY.as_millis() as u64;
        // Only the trace's digest is reported, so its events are folded, not kept.
        let world = Arc::new(
            super::systems(config)
                .keep_trace_events(false)
                .build()
                .map_err(|e| format!("world: {e}"))?,
        );
        let start = rt::now();
        rt::sleep(Duration::from_millis(10)).await;
        let control = Arc::new(SimControl::new(world.clone()));
        let limits = Limits {
            timeout: Duration::from_secs(10),
            ..Limits::default()
        };
        let ctx = sim_ctx(&world, BUCKET, limits, Some(control.clone()));
        let traced = world.clone();
        let outcome = world
            .on_client(async move {
                let ds3 = Ds3::new(&ctx, replicating_fixture_user()?);
                let (done, by_kind) = futures::join!(replicate(&ds3), nemesis(control, seed));
                let faults = by_kind.values().sum::<u64>() as usize;
                let job = done.as_ref().ok().cloned();
                let incomplete = done.as_ref().err().map(|v| v.evidence.clone());
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
                    incomplete,
                    faults,
                    by_kind,
                    violation,
                    simulated: Duration::ZERO,
                    digest: String::new(),
                })
            })
            .await;
        outcome.map(|mut o| {
            if let Some(v) = &o.violation {
                traced.trace().record("checker", v.clone());
            }
            o.simulated = rt::now().saturating_duration_since(start);
            o.digest = traced.trace().digest();
            o
        })
    });
    outcome.map_err(|e| e.message)?
}

/// The DS3 replication experiment as a sweep world: every seed runs [`run_seed_with`]
/// with the same defects.
#[derive(Debug, Clone, Default)]
pub struct Ds3Seeds {
    /// Defects switched on in both systems' gateways.
    pub defects: BTreeSet<Defect>,
}

impl SeedRunner for Ds3Seeds {
    fn world(&self) -> &str {
        "ds3"
    }

    fn replay_args(&self) -> String {
        let mut args = String::from(" --world ds3");
        for d in &self.defects {
            args.push_str(&format!(" --defect {d}"));
        }
        args
    }

    fn fault_kinds(&self) -> Vec<String> {
        FAULT_KINDS.iter().map(|k| k.to_string()).collect()
    }

    fn invariants(&self) -> Vec<String> {
        vec![INVARIANT.to_string()]
    }

    fn traces(&self) -> bool {
        false
    }

    fn run_seed(&self, seed: u64) -> Result<SeedSummary, String> {
        let o = run_seed_with(seed, &self.defects)?;
        Ok(SeedSummary {
            faults: o.by_kind,
            violations: o
                .violation
                .map(|v| vec![(INVARIANT.to_string(), v)])
                .unwrap_or_default(),
            simulated: o.simulated,
            digest: o.digest,
            catch_up: None,
        })
    }
}
