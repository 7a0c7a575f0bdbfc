//! Running the catalog against a target: the embedded simulated cluster (deterministic, one
//! fresh world per rule) or real nodes over HTTP.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use replisim_sim::scsp::defects::Defect;
use replisim_sim::store::Disk;
use replisim_sim::world::{try_simulate, World, WorldConfig};

use crate::catalog::Rule;
use crate::client::{Client, Limits};
use crate::target::{Capabilities, Control, Ctx};
use crate::verdict::{RuleResult, Verdict};

/// Where the catalog runs.
#[derive(Debug, Clone)]
pub enum TargetSpec {
    /// The embedded reference cluster in the simulator.
    Sim {
        /// Number of nodes.
        nodes: usize,
        /// Deliberate defects switched on in every node.
        defects: BTreeSet<Defect>,
    },
    /// Real nodes reached over TCP.
    Http {
        /// Node addresses.
        nodes: Vec<SocketAddr>,
    },
}

/// Options of one catalog run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The seed: placement, UUIDs and timing in the simulator, and bucket names everywhere.
    pub seed: u64,
    /// The target.
    pub target: TargetSpec,
    /// Budget for one rule (simulated time in the simulator, real time over HTTP).
    pub rule_timeout: Duration,
    /// Client limits.
    pub limits: Limits,
}

impl RunOptions {
    /// Defaults: a 4-node simulated cluster without defects, seed 0, 10-minute rule budget.
    pub fn sim(seed: u64) -> Self {
        Self {
            seed,
            target: TargetSpec::Sim {
                nodes: 4,
                defects: BTreeSet::new(),
            },
            rule_timeout: Duration::from_secs(600),
            limits: Limits::default(),
        }
    }
}

/// Runs the rules, in order, and returns one result per rule.
pub fn run(rules: &[Rule], options: &RunOptions) -> Vec<RuleResult> {
    match &options.target {
        TargetSpec::Sim { nodes, defects } => rules
            .iter()
            .map(|rule| run_sim_rule(*rule, options, *nodes, defects.clone()))
            .collect(),
        TargetSpec::Http { nodes } => run_http(rules, options, nodes),
    }
}

fn bucket_for(rule: &Rule, nonce: u64) -> String {
    format!("rs-{nonce:x}-{}", rule.id.to_ascii_lowercase())
}

fn skip_for_size(rule: &Rule, nodes: usize) -> Option<Verdict> {
    (nodes < rule.nodes_min).then(|| {
        Verdict::skip(format!(
            "needs at least {} nodes; the target has {nodes}",
            rule.nodes_min
        ))
    })
}

fn skip_for_capabilities(rule: &Rule, have: Capabilities) -> Option<Verdict> {
    let missing: Vec<&str> = [
        (rule.needs.faults && !have.faults, "fault control"),
        (rule.needs.admin && !have.admin, "admin control"),
        (
            rule.needs.introspection && !have.introspection,
            "introspection",
        ),
    ]
    .into_iter()
    .filter_map(|(missing, name)| missing.then_some(name))
    .collect();
    (!missing.is_empty())
        .then(|| Verdict::skip(format!("needs {} from the target", missing.join(" and "))))
}

fn result(rule: &Rule, verdict: Verdict, client: &Client) -> RuleResult {
    RuleResult {
        id: rule.id,
        title: rule.title,
        source: rule.source,
        verdict,
        transcript: client.take_transcript(),
    }
}

/// The simulated target's control: world operations, called from the client node.
struct SimControl {
    world: Arc<World>,
}

impl Control for SimControl {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            faults: true,
            admin: true,
            introspection: true,
        }
    }

    fn kill(&self, node: usize) -> Result<(), String> {
        self.check(node)?;
        self.world.kill(node);
        Ok(())
    }

    fn restart(&self, node: usize) -> Result<(), String> {
        self.check(node)?;
        self.world.restart(node);
        Ok(())
    }

    fn set_retiring(&self, node: usize, on: bool) -> Result<(), String> {
        self.check(node)?;
        self.world.set_retiring(node, on);
        Ok(())
    }

    fn replicas_of(&self, path: &str) -> Option<usize> {
        let key = store_key_of(path)?;
        Some(
            (0..self.world.len())
                .filter(|i| {
                    Disk::lock(self.world.disk(*i))
                        .get(&key)
                        .is_some_and(|r| !r.deleted)
                })
                .count(),
        )
    }
}

impl SimControl {
    fn check(&self, node: usize) -> Result<(), String> {
        if node < self.world.len() {
            Ok(())
        } else {
            Err(format!(
                "no node {node} in a {}-node world",
                self.world.len()
            ))
        }
    }
}

/// The reference node's store key for a path in the default domain.
fn store_key_of(path: &str) -> Option<String> {
    let trimmed = path.split('?').next()?.strip_prefix('/')?;
    if trimmed.len() == 32 && trimmed.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Some(format!("u/{}", trimmed.to_ascii_lowercase()));
    }
    trimmed.contains('/').then(|| format!("n//{trimmed}"))
}

fn run_sim_rule(
    rule: Rule,
    options: &RunOptions,
    nodes: usize,
    defects: BTreeSet<Defect>,
) -> RuleResult {
    let client = Client::new(options.limits.clone());
    if let Some(v) = skip_for_size(&rule, nodes) {
        return result(&rule, v, &client);
    }
    let seed = options.seed;
    let budget = options.rule_timeout;
    let check_client = client.clone();
    let outcome = try_simulate(seed, budget * 2, move || async move {
        let mut config = WorldConfig::new(nodes);
        config.defects = defects;
        let world = Arc::new(World::start(config));
        // Let every node bind its listener before the first request.
        replisim_sim::rt::sleep(Duration::from_millis(10)).await;
        let ctx = Ctx {
            nodes: world.addrs(),
            client: check_client,
            bucket: bucket_for(&rule, seed),
            control: Some(Arc::new(SimControl {
                world: world.clone(),
            })),
        };
        let check = (rule.check)(ctx);
        world
            .on_client(async move {
                match replisim_sim::rt::timeout(budget, check).await {
                    Ok(v) => v,
                    Err(_) => Verdict::fail(format!(
                        "check did not finish within {budget:?} of simulated time"
                    )),
                }
            })
            .await
    });
    let verdict = match outcome {
        Ok(v) => v,
        Err(e) => Verdict::fail(format!(
            "the simulation aborted: {} (replay with --seed {seed})",
            e.message.lines().next().unwrap_or("")
        )),
    };
    result(&rule, verdict, &client)
}

fn run_http(rules: &[Rule], options: &RunOptions, nodes: &[SocketAddr]) -> Vec<RuleResult> {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let client = Client::new(options.limits.clone());
            return rules
                .iter()
                .map(|r| {
                    result(
                        r,
                        Verdict::fail(format!("could not start a runtime: {e}")),
                        &client,
                    )
                })
                .collect();
        }
    };
    // Buckets must not collide with earlier runs against the same cluster.
    let nonce = options.seed
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
    runtime.block_on(async {
        let mut results = Vec::new();
        for rule in rules {
            let client = Client::new(options.limits.clone());
            let verdict = if let Some(v) = skip_for_size(rule, nodes.len()) {
                v
            } else if let Some(v) = skip_for_capabilities(rule, Capabilities::default()) {
                v
            } else {
                let ctx = Ctx {
                    nodes: nodes.to_vec(),
                    client: client.clone(),
                    bucket: bucket_for(rule, nonce),
                    control: None,
                };
                match replisim_sim::rt::timeout(options.rule_timeout, (rule.check)(ctx)).await {
                    Ok(v) => v,
                    Err(_) => Verdict::fail(format!(
                        "check did not finish within {:?}",
                        options.rule_timeout
                    )),
                }
            };
            results.push(result(rule, verdict, &client));
        }
        results
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_store_keys() {
        assert_eq!(store_key_of("/b/n"), Some("n//b/n".to_string()));
        assert_eq!(
            store_key_of("/41A140B5271DC8D22FF8D027176A0821?x"),
            Some("u/41a140b5271dc8d22ff8d027176a0821".to_string())
        );
        assert_eq!(store_key_of("/bucket"), None);
    }
}
