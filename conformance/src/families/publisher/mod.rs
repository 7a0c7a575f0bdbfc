//! The publisher family: DX Content Router's Enumerator API (rules ENUM-1..16). Its checks
//! (`checks`) write objects through the `scsp` target and read them back through the
//! `publisher` target (`api`). In the simulator each rule gets an SCSP cluster and a
//! reference publisher watching it, in a cluster named `publisher`.

pub mod api;
pub mod checks;

use replisim_sim::publisher::host::{PublisherConfig, PublisherFactory};
use replisim_sim::publisher::rules::Rules;
use replisim_sim::world::{Link, WorldBuilder};

use super::{Cleanup, CleanupFuture, CleanupJob, Family, Role, SimParams, SimRole};
use crate::catalog::Rule;
use replisim_sim::world::SCSP_CLUSTER;

/// The roles publisher rules talk to.
pub const ROLES: &[Role] = &[Role::Scsp, Role::Publisher];

/// The rules file of the simulated publisher: besides `PublishAll`, a channel whose filter
/// leaves every unnamed object out, so that ENUM-8 can show a delete arriving anyway.
pub const RULES_FILE: &str = "channel replisim-named kind=named\n";

/// The publisher family.
pub const FAMILY: Family = Family {
    name: "publisher",
    summary: "DX Content Router publisher, Enumerator API (docs/rules.md, ENUM-n)",
    roles: ROLES,
    rules: all,
    namespace: super::scsp::bucket_for,
    cleanup,
    world,
    sim_roles: &[
        SimRole {
            role: Role::Scsp,
            clusters: &[SCSP_CLUSTER],
        },
        SimRole {
            role: Role::Publisher,
            clusters: &["publisher"],
        },
    ],
};

fn all() -> Vec<Rule> {
    checks::RULES.to_vec()
}

/// The SCSP cluster of the SCSP family's world, and one reference publisher host watching
/// it in a cluster named `publisher` (its role), joined by a plain WAN link.
fn world(params: &SimParams) -> WorldBuilder {
    let mut template = PublisherConfig::new(replisim_sim::world::host_addr(1, 0), Vec::new());
    template.rules = Rules::parse(RULES_FILE).unwrap_or_default();
    template.defects = params.publisher_defects.clone();
    template.alternatives = params.publisher_alternatives;
    // Longer than the three revisions ENUM-7 writes a second apart (SCSP's version
    // resolution): a publisher that only diffs inventories between polls cannot see them all.
    template.poll_interval = std::time::Duration::from_secs(5);
    super::scsp::world(params)
        .cluster(
            Role::Publisher.as_str(),
            1,
            PublisherFactory::new("replisim", template),
        )
        .wan("replisim", Role::Publisher.as_str(), Link::new())
}

fn cleanup(job: CleanupJob) -> CleanupFuture {
    Box::pin(clean_up(job))
}

/// Ends the enumerators the rule started (a 404 is fine: ended, expired), then deletes the
/// objects it wrote the way the SCSP family does, from the SCSP exchanges alone.
async fn clean_up(mut job: CleanupJob) -> Option<Cleanup> {
    let publishers: Vec<_> = job.targets.get(Role::Publisher).to_vec();
    let (to_publisher, to_nodes): (Vec<_>, Vec<_>) = std::mem::take(&mut job.transcript)
        .into_iter()
        .partition(|e| publishers.contains(&e.addr));
    let mut problems = Vec::new();
    let mut ended = std::collections::BTreeSet::new();
    for e in &to_publisher {
        let is_start = e.request_head.starts_with("POST ") && e.outcome == Ok(201);
        let id = e.response_head.lines().find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("content-uuid")
                .then(|| value.trim().to_string())
        });
        if let (true, Some(id)) = (is_start, id) {
            if ended.insert(id.clone()) {
                let req = crate::client::Request::new("DELETE", format!("/{id}"));
                match job.client.send(e.addr, &e.addr.to_string(), &req).await {
                    Ok(r) if r.status == 200 || r.status == 404 => {}
                    Ok(r) => problems.push(format!("End of enumerator {id} → {}", r.status)),
                    Err(err) => problems.push(format!("End of enumerator {id} ({err})")),
                }
            }
        }
    }
    job.transcript = to_nodes;
    let mut report = (super::scsp::cleanup)(job).await.unwrap_or_default();
    report.problems.extend(problems);
    Some(report)
}
