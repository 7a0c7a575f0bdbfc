//! Running the catalog against a target: the embedded simulated cluster (deterministic, one
//! fresh world per rule, worlds on several threads) or real nodes over HTTP (independent
//! rules at once, rules that disturb the cluster alone, and a cleanup pass after each rule).
//! Results always come back in the order of the rules given.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use replisim_sim::scsp::defects::Defect;
use replisim_sim::world::{try_simulate, World};

use crate::catalog::{Check, Rule};
use crate::clause::{Clauses, Profile};
use crate::client::{Client, Endpoint, Exchange, Limits, Tls};
use crate::families::{self, Cleanup, CleanupJob, Family, Role, SimParams, Targets};
use crate::hook::{HookControl, HookSpec};
use crate::simcontrol::SimControl;
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
    /// Real SCSP nodes reached over TCP: the same as [`TargetSpec::Roles`] with only the
    /// `scsp` role (a bare `--target URL,URL`).
    Http {
        /// Node endpoints (IP literals or host names, `http` or `https`).
        nodes: Vec<Endpoint>,
    },
    /// Real services reached over TCP, by role (`--target ROLE=URL[,URL…]`, repeatable).
    /// A rule that needs a role not given is skipped, naming the role.
    Roles(Targets),
}

impl TargetSpec {
    /// The real targets by role; `None` for the simulator.
    pub fn targets(&self) -> Option<Targets> {
        match self {
            TargetSpec::Sim { .. } => None,
            TargetSpec::Http { nodes } => Some(Targets::scsp(nodes.clone())),
            TargetSpec::Roles(targets) => Some(targets.clone()),
        }
    }
}

/// A user name and password sent as HTTP Basic credentials on every request, for targets
/// whose domains are protected.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub user: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// The `Authorization` header value: `Basic base64(user:password)`.
    pub fn authorization(&self) -> String {
        format!(
            "Basic {}",
            base64(format!("{}:{}", self.user, self.password).as_bytes())
        )
    }
}

/// Standard base64 with padding (RFC 4648 §4), for Basic credentials.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Rules run at once in the simulator by default: one simulation per thread.
pub const SIM_JOBS_DEFAULT: usize = 4;

/// HTTP rules in flight by default. A rule over HTTP mostly waits (updates of a name 1.1 s
/// apart, expiry and completion waits), so with 4 in flight the catalog took 11 s against
/// `serve` for 0.1 s of work; with every rule in flight it is bounded by the slowest rule.
pub const HTTP_JOBS_DEFAULT: usize = 32;

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
    /// Rules run at once: simulations on this many threads, or HTTP rules in flight.
    pub jobs: usize,
    /// The fault hook that gives an HTTP target the `faults` capability.
    pub fault_hook: Option<HookSpec>,
    /// Basic credentials sent on every request to an HTTP target.
    pub credentials: Option<Credentials>,
    /// Delete what each rule wrote on an HTTP target once the rule is done.
    pub cleanup: bool,
    /// The roots trusted for `https://` targets (`--ca-cert`).
    pub tls: Tls,
    /// What judges the rules; `None` picks by target: the reference profile in the
    /// simulator, the vendor profile over HTTP.
    pub profile: Option<Profile>,
    /// The other choices the simulated reference nodes make (docs/choices.md; the
    /// reference's own by default). The choice sweep runs the vendor profile under them.
    pub alternatives: replisim_sim::scsp::alternatives::Alternatives,
    /// Deliberate defects of the simulated reference publisher (`publisher` family).
    pub publisher_defects: replisim_sim::publisher::defects::PublisherDefects,
    /// Deliberate defects of the simulated reference DS3 gateways (`ds3` family).
    pub ds3_defects: BTreeSet<replisim_sim::ds3::defects::Defect>,
    /// The other choices the simulated reference publisher makes (docs/choices.md P-rows).
    pub publisher_alternatives: replisim_sim::publisher::alternatives::PublisherAlternatives,
    /// Deliberate defects of the simulated Rucio catalog and its daemons (`rucio` family).
    pub rucio_defects: BTreeSet<replisim_sim::rucio::defects::Defect>,
}

impl RunOptions {
    /// Defaults: a 4-node simulated cluster without defects, 10-minute rule budget, 4 jobs,
    /// cleanup on.
    pub fn sim(seed: u64) -> Self {
        Self {
            seed,
            target: TargetSpec::Sim {
                nodes: 4,
                defects: BTreeSet::new(),
            },
            rule_timeout: Duration::from_secs(600),
            limits: Limits::default(),
            jobs: 4,
            fault_hook: None,
            credentials: None,
            cleanup: true,
            tls: Tls::default(),
            profile: None,
            alternatives: Default::default(),
            publisher_defects: Default::default(),
            ds3_defects: BTreeSet::new(),
            publisher_alternatives: Default::default(),
            rucio_defects: BTreeSet::new(),
        }
    }

    /// The profile the run judges in: the one asked for, else reference in the simulator
    /// and vendor against real nodes.
    pub fn profile(&self) -> Profile {
        self.profile.unwrap_or(match self.target {
            TargetSpec::Sim { .. } => Profile::Reference,
            TargetSpec::Http { .. } | TargetSpec::Roles(_) => Profile::Vendor,
        })
    }
}

/// Runs the rules and returns one result per rule, in the order given. Every redirect any
/// rule met is then judged for SCSP-3/SCSP-4 (`rules::redirect::judge_redirects`).
pub fn run(rules: &[Rule], options: &RunOptions) -> Vec<RuleResult> {
    let mut results = match &options.target {
        TargetSpec::Sim { nodes, defects } => run_sim(rules, options, *nodes, defects),
        TargetSpec::Http { nodes } => run_http(rules, options, &Targets::scsp(nodes.clone())),
        TargetSpec::Roles(targets) => run_http(rules, options, targets),
    };
    crate::rules::redirect::judge_redirects(&mut results);
    results
}

/// The family whose namespace and world a rule uses: the one its id names, else SCSP (rules
/// made up by tests).
fn family_of(rule: &Rule) -> &'static Family {
    families::of_rule(rule).unwrap_or(&families::scsp::FAMILY)
}

/// How many nodes a rule's main role (its first) has among the targets.
fn main_role_nodes(rule: &Rule, targets: &Targets) -> usize {
    targets
        .get(rule.roles.first().copied().unwrap_or(Role::Scsp))
        .len()
}

/// The verdict a rule gets without running: no check, a target role the run lacks, too
/// few nodes, a capability the target lacks, or (vendor profile) nothing but reference
/// choices to judge.
fn verdict_before_running(
    rule: &Rule,
    roles: &BTreeSet<Role>,
    nodes: usize,
    have: Capabilities,
    profile: Profile,
) -> Option<Verdict> {
    if let Check::Unchecked(reason) = rule.check {
        return Some(Verdict::skip(reason));
    }
    if let Some(reason) = families::missing_role(rule, roles) {
        return Some(Verdict::skip(reason));
    }
    if !rule.judged_in(profile) {
        return Some(Clauses::new(rule.id, rule.clauses, profile, None).finish(Ok(())));
    }
    if nodes < rule.nodes_min {
        return Some(Verdict::skip(format!(
            "needs at least {} nodes; the target has {nodes}",
            rule.nodes_min
        )));
    }
    let missing = rule.needs.missing_from(have);
    (!missing.is_empty()).then(|| {
        Verdict::skip(format!(
            "needs {} control from the target",
            missing.names().join(" and ")
        ))
    })
}

fn result(
    rule: &Rule,
    verdict: Verdict,
    transcript: Vec<Exchange>,
    started: Instant,
) -> RuleResult {
    RuleResult {
        id: rule.id,
        title: rule.title,
        source: rule.source,
        strength: rule.strength,
        verdict,
        transcript,
        elapsed: started.elapsed(),
        cleanup: None,
    }
}

/// Runs `work(i)` for every index on up to `jobs` threads; results in index order.
fn on_threads<T: Send>(count: usize, jobs: usize, work: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<T>>> = Mutex::new((0..count).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, count.max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= count {
                    break;
                }
                let value = work(i);
                slots.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(value);
            });
        }
    });
    slots
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .flatten()
        .collect()
}

// ---------------------------------------------------------------------------------------
// The simulator

fn run_sim(
    rules: &[Rule],
    options: &RunOptions,
    nodes: usize,
    defects: &BTreeSet<Defect>,
) -> Vec<RuleResult> {
    // Each rule gets its own world on its own thread (`try_simulate`), so running several at
    // once changes nothing in any of them.
    on_threads(rules.len(), options.jobs, |i| {
        run_sim_rule(rules[i], options, nodes, defects.clone())
    })
}

fn run_sim_rule(
    rule: Rule,
    options: &RunOptions,
    nodes: usize,
    defects: BTreeSet<Defect>,
) -> RuleResult {
    let started = Instant::now();
    let full = Capabilities {
        faults: true,
        admin: true,
        introspection: true,
    };
    let profile = options.profile();
    let family = family_of(&rule);
    let roles: BTreeSet<Role> = family.sim_roles.iter().map(|r| r.role).collect();
    if let Some(v) = verdict_before_running(&rule, &roles, nodes, full, profile) {
        return result(&rule, v, Vec::new(), started);
    }
    let Check::Run(check) = rule.check else {
        return result(&rule, Verdict::skip("no check"), Vec::new(), started);
    };
    let client = Client::new(options.limits.clone());
    let clauses = Clauses::new(rule.id, rule.clauses, profile, Some(client.clone()));
    let seed = options.seed;
    let budget = options.rule_timeout;
    let check_client = client.clone();
    let check_clauses = clauses.clone();
    let params = SimParams {
        nodes,
        defects,
        alternatives: options.alternatives,
        publisher_defects: options.publisher_defects.clone(),
        ds3_defects: options.ds3_defects.clone(),
        publisher_alternatives: options.publisher_alternatives,
        rucio_defects: options.rucio_defects.clone(),
    };
    let outcome = try_simulate(seed, budget * 2, move || async move {
        let world = match (family.world)(&params).build() {
            Ok(world) => Arc::new(world),
            Err(e) => return Err(Verdict::fail(format!("the world did not build: {e}"))),
        };
        // Let every node bind its listener before the first request.
        replisim_sim::rt::sleep(Duration::from_millis(10)).await;
        let targets = sim_targets(&world, family);
        let ctx = Ctx {
            nodes: targets.get(main_role(&rule)).to_vec(),
            client: check_client,
            bucket: (family.namespace)(&rule, seed),
            control: Some(Arc::new(SimControl::new(world.clone()))),
            clauses: check_clauses,
            targets,
        };
        let check = check(ctx);
        world
            .on_client(async move {
                match replisim_sim::rt::timeout(budget, check).await {
                    Ok(v) => v,
                    Err(_) => Err(Verdict::fail(format!(
                        "check did not finish within {budget:?} of simulated time"
                    ))),
                }
            })
            .await
    });
    let ended = match outcome {
        Ok(ended) => ended,
        Err(e) => Err(Verdict::fail(format!(
            "the simulation aborted: {} (replay with --seed {seed})",
            e.message.lines().next().unwrap_or("")
        ))),
    };
    let verdict = clauses.finish(ended);
    result(&rule, verdict, client.take_transcript(), started)
}

/// The role whose endpoints are a rule's `Ctx::nodes`: `scsp` when the rule talks to SCSP
/// nodes at all (the publisher's rules write through them), else the first role it names
/// (the DS3 systems for DS3's rules).
fn main_role(rule: &Rule) -> Role {
    if rule.roles.is_empty() || rule.roles.contains(&Role::Scsp) {
        Role::Scsp
    } else {
        rule.roles[0]
    }
}

/// The endpoints of each role a family's simulated world serves: the hosts of the clusters
/// the family names for it (`Family::sim_roles`).
fn sim_targets(world: &World, family: &Family) -> Targets {
    let mut args = Vec::new();
    for served in family.sim_roles {
        let urls: Vec<String> = served
            .clusters
            .iter()
            .flat_map(|name| world.cluster_addrs(name).unwrap_or_default())
            .map(|a| format!("http://{a}"))
            .collect();
        if !urls.is_empty() {
            args.push(format!("{}={}", served.role, urls.join(",")));
        }
    }
    Targets::parse(&args).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Real nodes over HTTP

/// Whether a rule would disturb other rules running beside it on this target: it needs or
/// uses faults or admin control, and the target offers it.
fn disturbs(rule: &Rule, have: Capabilities) -> bool {
    let wants = Capabilities {
        faults: rule.needs.faults || rule.uses.faults,
        admin: rule.needs.admin || rule.uses.admin,
        introspection: false,
    };
    (wants.faults && have.faults) || (wants.admin && have.admin)
}

/// What every HTTP rule shares.
struct HttpRun<'a> {
    options: &'a RunOptions,
    /// The SCSP nodes (the role today's `Ctx` and control address).
    nodes: &'a [Endpoint],
    /// Every target by role, for the families' cleanup passes.
    targets: &'a Targets,
    control: Option<Arc<dyn Control>>,
    headers: Vec<(String, String)>,
    nonce: u64,
}

fn run_http(rules: &[Rule], options: &RunOptions, targets: &Targets) -> Vec<RuleResult> {
    let started = Instant::now();
    let nodes = targets.get(Role::Scsp);
    let roles = targets.roles();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return rules
                .iter()
                .map(|r| {
                    result(
                        r,
                        Verdict::fail(format!("could not start a runtime: {e}")),
                        Vec::new(),
                        started,
                    )
                })
                .collect();
        }
    };
    let control: Option<Arc<dyn Control>> = options
        .fault_hook
        .clone()
        .map(|spec| Arc::new(HookControl::new(spec, nodes.to_vec())) as Arc<dyn Control>);
    let have = control
        .as_ref()
        .map(|c| c.capabilities())
        .unwrap_or_default();
    let headers = options
        .credentials
        .iter()
        .map(|c| ("Authorization".to_string(), c.authorization()))
        .collect();
    // Buckets must not collide with earlier runs against the same cluster.
    let nonce = options.seed
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
    let env = HttpRun {
        options,
        nodes,
        targets,
        control,
        headers,
        nonce,
    };
    let mut slots: Vec<Option<RuleResult>> = rules.iter().map(|_| None).collect();
    let mut together = Vec::new();
    let mut alone = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        let main = main_role_nodes(rule, targets);
        if let Some(v) = verdict_before_running(rule, &roles, main, have, options.profile()) {
            slots[i] = Some(result(rule, v, Vec::new(), Instant::now()));
        } else if disturbs(rule, have) {
            alone.push(i);
        } else {
            together.push(i);
        }
    }
    runtime.block_on(async {
        let env = &env;
        let mut running = futures::stream::iter(together)
            .map(|i| async move { (i, env.run_rule(&rules[i]).await) })
            .buffer_unordered(options.jobs.max(1));
        while let Some((i, r)) = running.next().await {
            slots[i] = Some(r);
        }
        drop(running);
        // Rules that kill, pause or retire nodes run one at a time, after the others.
        for i in alone {
            slots[i] = Some(env.run_rule(&rules[i]).await);
        }
    });
    slots.into_iter().flatten().collect()
}

impl HttpRun<'_> {
    async fn run_rule(&self, rule: &Rule) -> RuleResult {
        let started = Instant::now();
        let Check::Run(check) = rule.check else {
            return result(rule, Verdict::skip("no check"), Vec::new(), started);
        };
        let client = Client::new(self.options.limits.clone())
            .with_default_headers_to(self.headers.clone(), self.targets.endpoints())
            .with_tls(self.options.tls.clone());
        let clauses = Clauses::new(
            rule.id,
            rule.clauses,
            self.options.profile(),
            Some(client.clone()),
        );
        // Whatever the check disturbs is put back before the next rule, even when it fails
        // mid-way or runs out of time.
        let restoring = self
            .control
            .clone()
            .map(|c| Arc::new(crate::restore::Restoring::new(c)));
        // A rule talks to the endpoints of its main role (SCSP nodes, DS3 systems, ...).
        let main = main_role(rule);
        let nodes = match main {
            Role::Scsp => self.nodes.to_vec(),
            other => self.targets.get(other).to_vec(),
        };
        let ctx = Ctx {
            nodes,
            client: client.clone(),
            bucket: (family_of(rule).namespace)(rule, self.nonce),
            control: restoring.clone().map(|r| r as Arc<dyn Control>),
            clauses: clauses.clone(),
            targets: self.targets.clone(),
        };
        let budget = self.options.rule_timeout;
        let ended = match replisim_sim::rt::timeout(budget, check(ctx)).await {
            Ok(ended) => ended,
            Err(_) => Err(Verdict::fail(format!(
                "check did not finish within {budget:?}"
            ))),
        };
        let mut verdict = clauses.finish(ended);
        let restored = match &restoring {
            Some(r) => r.restore().await,
            None => (Vec::new(), Vec::new()),
        };
        if !restored.1.is_empty() {
            verdict.evidence = format!(
                "{}; could not restore the cluster: {}",
                verdict.evidence,
                restored.1.join(", ")
            );
        }
        let mut transcript = client.take_transcript();
        let cleanup = if self.options.cleanup {
            self.clean_up(rule, &transcript).await
        } else {
            None
        };
        if let Some(c) = &cleanup {
            if !c.problems.is_empty() {
                verdict.evidence = format!(
                    "{}; cleanup: could not delete {}",
                    verdict.evidence,
                    c.problems.join(", ")
                );
            }
        }
        for (_, value) in &self.headers {
            for e in &mut transcript {
                e.request_head = e.request_head.replace(value.as_str(), "<redacted>");
            }
        }
        let mut r = result(rule, verdict, transcript, started);
        let mut after: Vec<String> = cleanup.map(|c| c.summary()).into_iter().collect();
        if !restored.0.is_empty() {
            after.push(format!("restored: {}", restored.0.join(", ")));
        }
        r.cleanup = (!after.is_empty()).then(|| after.join("; "));
        r
    }

    /// Deletes what the rule wrote, the way its family does (SCSP: `families::scsp`).
    /// Bounded; never changes the verdict.
    async fn clean_up(&self, rule: &Rule, transcript: &[Exchange]) -> Option<Cleanup> {
        let client = Client::new(self.options.limits.clone())
            .with_default_headers_to(self.headers.clone(), self.targets.endpoints())
            .with_tls(self.options.tls.clone());
        let job = CleanupJob {
            client,
            targets: self.targets.clone(),
            transcript: transcript.to_vec(),
            budget: self.options.rule_timeout.min(Duration::from_secs(60)),
        };
        (family_of(rule).cleanup)(job).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_encode() {
        let c = Credentials {
            user: "Aladdin".into(),
            password: "open sesame".into(),
        };
        assert_eq!(c.authorization(), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b""), "");
        assert!(!format!("{c:?}").contains("sesame"));
    }
}
