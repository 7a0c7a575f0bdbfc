//! Running a checked scenario: in the simulator (a fresh world per seed, every ability) or
//! against real nodes over TCP (HTTP only, plus whatever [`RealControl`] offers). Steps run
//! in order; the first step whose expectation fails ends the run and is reported with the
//! expected and received values and the exchanges it made.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use replisim_sim::faults::Fault;
use replisim_sim::invariants;
use replisim_sim::replication::publisher_factory;
use replisim_sim::replicator::{ReplicatorConfig, ReplicatorHost};
use replisim_sim::rt;
use replisim_sim::scsp::config::{ClusterConfig, NodeControl};
use replisim_sim::scsp::key::{parse_path, Locator, ObjectKey};
use replisim_sim::scsp::object::{md5_hex, Record};
use replisim_sim::scsp::records::Objects;
use replisim_sim::serve::RealCluster;
use replisim_sim::store::{Disk, SharedDisk};
use replisim_sim::world::{try_simulate, Link, World, WorldConfig};

use super::text::{show_duration, Template};
use super::transcript::{self, StepRecord};
use super::*;
use crate::client::{
    parse_location, Client, ClientError, Endpoint, Exchange, Hop, Limits, Request, Response,
    Session, Tls,
};
use crate::simcontrol::SimControl;
use crate::target::Control;

/// What one run of a scenario (one seed, or one real target) did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The seed (in the simulator) or the seed given for `${seed}` on a real target.
    pub seed: u64,
    /// A record of every step that ran, in order.
    pub steps: Vec<StepRecord>,
    /// The step that failed, if one did.
    pub failure: Option<StepFailure>,
    /// Why the scenario did not run at all (a real target lacking some control).
    pub skipped: Option<String>,
}

impl Outcome {
    /// True when every step ran and held.
    pub fn passed(&self) -> bool {
        self.failure.is_none() && self.skipped.is_none()
    }
}

/// The step that failed and why.
#[derive(Debug, Clone)]
pub struct StepFailure {
    /// Its number (0 when the run failed outside any step, e.g. the simulation aborted).
    pub step: usize,
    /// Where it is in the file.
    pub at: Option<Location>,
    /// What the step did, e.g. `POST /b/x → node0`.
    pub action: String,
    /// Expected versus got.
    pub message: String,
    /// The exchanges the step made, as evidence.
    pub exchanges: Vec<Exchange>,
}

/// Control over an in-process real cluster (`replisim_sim::serve`): operator switches and
/// the disks, but no faults. A vendor cluster behind `--target` has none of it.
#[derive(Debug, Clone)]
pub struct RealControl {
    /// Operator switches per node.
    pub controls: Vec<Arc<NodeControl>>,
    /// Disks per node.
    pub disks: Vec<SharedDisk>,
}

impl From<&RealCluster> for RealControl {
    fn from(c: &RealCluster) -> Self {
        RealControl {
            controls: c.controls.clone(),
            disks: c.disks.clone(),
        }
    }
}

/// Where steps go.
enum Backend {
    Sim(Arc<World>),
    Real {
        addrs: Vec<Endpoint>,
        control: Option<RealControl>,
        tls: Tls,
    },
}

impl Backend {
    fn addrs(&self) -> Vec<Endpoint> {
        match self {
            Backend::Sim(w) => w.addrs().into_iter().map(Endpoint::http).collect(),
            Backend::Real { addrs, .. } => addrs.clone(),
        }
    }

    /// A client for one step: trusting the target's CA on a real target.
    fn client(&self, limits: Limits) -> Client {
        match self {
            Backend::Sim(_) => Client::new(limits),
            Backend::Real { tls, .. } => Client::new(limits).with_tls(tls.clone()),
        }
    }

    /// Runs a client task: on the simulated client node, or right here on a real target.
    async fn on_client<F, T>(&self, f: F) -> T
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        self.on_client_at(0, f).await
    }

    /// Runs a client task on client host `k` (a real target has one client: this process).
    async fn on_client_at<F, T>(&self, k: usize, f: F) -> T
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        match self {
            Backend::Sim(w) => w.on_client_at(k, f).await,
            Backend::Real { .. } => f.await,
        }
    }

    fn disks(&self) -> Result<Vec<SharedDisk>, String> {
        match self {
            Backend::Sim(w) => Ok((0..w.len()).map(|i| w.disk(i).clone()).collect()),
            Backend::Real {
                control: Some(c), ..
            } => Ok(c.disks.clone()),
            Backend::Real { control: None, .. } => {
                Err("the target offers no look at its disks".to_string())
            }
        }
    }

    fn cluster_config(&self) -> ClusterConfig {
        match self {
            Backend::Sim(w) => w.cluster().clone(),
            // Only the node count and policy matter to the disk checks; a named node (never
            // one with disks to look at) gets a placeholder address.
            Backend::Real { addrs, .. } => ClusterConfig::new(
                addrs
                    .iter()
                    .map(|e| {
                        e.socket_addr()
                            .unwrap_or(SocketAddr::from(([0, 0, 0, 0], e.port)))
                    })
                    .collect(),
            ),
        }
    }

    /// The target's control, through which every fault step goes (`None`: a real target
    /// without one).
    fn control(&self) -> Option<SimControl> {
        match self {
            Backend::Sim(w) => Some(SimControl::new(w.clone())),
            Backend::Real { .. } => None,
        }
    }

    async fn apply(&self, fault: &Fault) -> Result<(), String> {
        match self.control() {
            Some(c) => c.apply(fault.clone()).await,
            None => Err("a real target takes no faults".to_string()),
        }
    }

    async fn set_retiring(&self, node: usize, on: bool) -> Result<(), String> {
        match self {
            Backend::Sim(_) => match self.control() {
                Some(c) => c.set_retiring(node, on).await,
                None => Err("the simulated target has no control".to_string()),
            },
            Backend::Real {
                control: Some(c), ..
            } => c
                .controls
                .get(node)
                .map(|n| n.set_retiring(on))
                .ok_or_else(|| format!("no node {node}")),
            Backend::Real { control: None, .. } => {
                Err("the target offers no operator switches".to_string())
            }
        }
    }
}

/// Simulated time one seed may take: every sleep, wait and request timeout, plus an hour.
fn time_limit(scenario: &Scenario) -> Duration {
    let mut total = Duration::from_secs(3600);
    for step in &scenario.steps {
        total += match &step.action {
            Action::Sleep(d) => *d,
            Action::WaitFor(w) => w.timeout + w.every + Duration::from_secs(60),
            _ => Duration::from_secs(60),
        };
    }
    total
}

/// A world of the topology's `[[cluster]]` tables and `[[wan]]` links, clients placed in
/// file order.
fn several_clusters(topo: &super::Topology) -> Result<World, String> {
    let mut b = World::builder().disk_bytes(topo.disk_bytes_default);
    for k in &topo.clusters {
        b = match &k.service {
            super::Service::Scsp => {
                let node = replisim_sim::scsp::node()
                    .replicas(k.replicas)
                    .health_interval(topo.health_interval)
                    .defects(topo.defects.clone());
                b.cluster(&k.name, k.nodes, node)
            }
            super::Service::Publisher { watches, rules } => {
                let publisher = publisher_factory(watches, rules.clone(), Duration::from_secs(1));
                b.cluster(&k.name, k.nodes, publisher)
            }
            super::Service::Replicator {
                publisher,
                from,
                to,
                channel,
                defects,
            } => {
                let unset = SocketAddr::from(([0, 0, 0, 0], 0));
                let mut config = ReplicatorConfig::new(unset, Vec::new(), Vec::new());
                config.channel = channel.clone();
                config.defects = defects.clone();
                let host = ReplicatorHost::new(config, publisher, from, to);
                b.cluster(&k.name, k.nodes, host)
            }
            super::Service::Ds3 { defects } => {
                b.cluster(&k.name, k.nodes, super::ds3::factory(defects))
            }
        };
    }
    for w in &topo.wan {
        let link = Link::new()
            .latency_ms(w.latency_ms.0, w.latency_ms.1)
            .loss_permille(w.loss_permille);
        b = b.wan(&w.between.0, &w.between.1, link);
    }
    for k in &topo.clusters {
        for _ in 0..k.clients {
            b = b.client_in(&k.name);
        }
    }
    b.build()
}

/// Runs one seed of a scenario in a fresh simulated world.
pub fn run_sim(scenario: &Scenario, seed: u64) -> Outcome {
    let shared = Arc::new(scenario.clone());
    let limit = time_limit(scenario);
    let outcome = try_simulate(seed, limit, move || async move {
        let sc = shared;
        let topo = &sc.cluster;
        let world = if topo.service.is_rucio() {
            match super::rucio::world(topo.service).build() {
                Ok(world) => Arc::new(world),
                Err(e) => panic!("the rucio world did not build: {e}"),
            }
        } else if topo.clusters.is_empty() {
            let mut config = WorldConfig::new(topo.nodes);
            config.policy_replicas = topo.replicas;
            config.health_interval = topo.health_interval;
            config.defects = topo.defects.clone();
            config.disk_bytes = topo.disk_bytes_default;
            Arc::new(World::start(config))
        } else {
            match several_clusters(topo) {
                Ok(world) => Arc::new(world),
                Err(e) => panic!("the topology did not build: {e}"),
            }
        };
        for (i, bytes) in topo.disk_bytes.iter().enumerate() {
            if *bytes != topo.disk_bytes_default {
                Disk::lock(world.disk(i)).set_capacity_bytes(*bytes);
            }
        }
        for (i, ms) in topo.skew_ms.iter().enumerate() {
            if *ms != 0 {
                let _ = SimControl::new(world.clone())
                    .apply(Fault::Skew { node: i, ms: *ms })
                    .await;
            }
        }
        // Let every node bind its listener before the first request.
        rt::sleep(Duration::from_millis(10)).await;
        execute(&sc, &Backend::Sim(world), seed, String::new()).await
    });
    outcome.unwrap_or_else(|e| Outcome {
        seed,
        steps: Vec::new(),
        failure: Some(StepFailure {
            step: 0,
            at: None,
            action: "simulation".to_string(),
            message: format!(
                "the simulation aborted: {}",
                e.message.lines().next().unwrap_or("")
            ),
            exchanges: Vec::new(),
        }),
        skipped: None,
    })
}

/// Runs a scenario against real nodes over TCP (call it inside a tokio runtime). Skips it,
/// saying why, when it needs control the target lacks. `run_token` fills `${run}`, so reruns
/// against one cluster use fresh names.
pub async fn run_real(
    scenario: &Scenario,
    addrs: &[SocketAddr],
    control: Option<RealControl>,
    seed: u64,
    run_token: &str,
) -> Outcome {
    let endpoints: Vec<Endpoint> = addrs.iter().copied().map(Endpoint::http).collect();
    run_real_at(
        scenario,
        &endpoints,
        Tls::default(),
        control,
        seed,
        run_token,
    )
    .await
}

/// [`run_real`] at endpoints that may be host names or `https://`, trusting `tls`'s roots.
pub async fn run_real_at(
    scenario: &Scenario,
    addrs: &[Endpoint],
    tls: Tls,
    control: Option<RealControl>,
    seed: u64,
    run_token: &str,
) -> Outcome {
    let abilities = Abilities {
        faults: false,
        retire: control.is_some(),
        introspection: control.is_some(),
        configure: false,
    };
    if let Some(why) = scenario.needs(abilities, addrs.len()) {
        return Outcome {
            seed,
            steps: Vec::new(),
            failure: None,
            skipped: Some(why),
        };
    }
    let backend = Backend::Real {
        addrs: addrs.to_vec(),
        control,
        tls,
    };
    execute(scenario, &backend, seed, run_token.to_string()).await
}

/// The state carried from step to step.
struct Run<'a> {
    backend: &'a Backend,
    nodes: Vec<Endpoint>,
    /// The scenario session's access node (moved by followed 301s).
    access: Endpoint,
    vars: BTreeMap<String, String>,
}

/// What a step produced: its record, and an error message when it failed.
struct Done {
    record: StepRecord,
    exchanges: Vec<Exchange>,
    failed: Option<String>,
}

async fn execute(sc: &Scenario, backend: &Backend, seed: u64, run_token: String) -> Outcome {
    let nodes = backend.addrs();
    let mut run = Run {
        backend,
        access: nodes[0],
        nodes,
        vars: BTreeMap::from([
            ("run".to_string(), run_token),
            ("seed".to_string(), seed.to_string()),
        ]),
    };
    let mut steps = Vec::new();
    for step in &sc.steps {
        let done = run.step(step).await;
        let failed = done.failed.map(|message| StepFailure {
            step: step.number,
            at: Some(step.at),
            action: done.record.action.clone(),
            message,
            exchanges: done.exchanges,
        });
        steps.push(done.record);
        if failed.is_some() {
            return Outcome {
                seed,
                steps,
                failure: failed,
                skipped: None,
            };
        }
    }
    Outcome {
        seed,
        steps,
        failure: None,
        skipped: None,
    }
}

/// What one request produced.
struct Answer {
    /// The request body as the scenario wrote it (rendered), and its length.
    body: Option<(String, usize)>,
    result: Result<Response, ClientError>,
    hops: Vec<Hop>,
    exchanges: Vec<Exchange>,
}

impl Run<'_> {
    fn lookup(&self) -> impl Fn(&str) -> Option<String> + '_ {
        |name| self.vars.get(name).cloned()
    }

    fn render(&self, t: &Template) -> Result<String, String> {
        t.render(&self.lookup())
    }

    fn record(&self, step: &Step, action: String) -> StepRecord {
        StepRecord::new(step.number, step.at.line, action, step.note.clone())
    }

    async fn step(&mut self, step: &Step) -> Done {
        match &step.action {
            Action::Send {
                send,
                expect,
                capture,
            } => {
                let mut record = self.record(step, String::new());
                let answer = match self.send(send).await {
                    Ok((action, answer)) => {
                        record.action = action;
                        answer
                    }
                    Err((action, why)) => {
                        record.action = action;
                        return Done {
                            record,
                            exchanges: Vec::new(),
                            failed: Some(why),
                        };
                    }
                };
                self.finish_request(record, answer, expect, capture)
            }
            Action::Raw {
                raw,
                expect,
                capture,
            } => {
                let bytes = match self.render(&raw.bytes) {
                    Ok(b) => b,
                    Err(e) => {
                        return Done {
                            record: self.record(step, format!("raw → node{}", raw.node)),
                            exchanges: Vec::new(),
                            failed: Some(e),
                        }
                    }
                };
                let first_line = bytes.lines().next().unwrap_or("").to_string();
                let record = self.record(step, format!("raw → node{}: {first_line}", raw.node));
                let client = self.backend.client(limits(raw.timeout));
                let addr = self.nodes[raw.node];
                let head_only = raw.head_only;
                let c = client.clone();
                let result = self
                    .backend
                    .on_client(async move { c.send_raw(addr, bytes.as_bytes(), head_only).await })
                    .await;
                let answer = Answer {
                    body: None,
                    result,
                    hops: Vec::new(),
                    exchanges: client.take_transcript(),
                };
                self.finish_request(record, answer, expect, capture)
            }
            Action::Sleep(d) => {
                rt::sleep(*d).await;
                self.plain(step, format!("sleep {}", show_duration(*d)), Ok(None))
            }
            Action::Fault(f) => {
                let outcome = self.backend.apply(f).await.map(|_| None);
                self.plain(
                    step,
                    format!("fault {}", transcript::show_fault(f)),
                    outcome,
                )
            }
            Action::Retire { node, on } => {
                let verb = if *on { "retire" } else { "unretire" };
                let outcome = self.backend.set_retiring(*node, *on).await.map(|_| None);
                self.plain(step, format!("{verb} node{node}"), outcome)
            }
            Action::Check(cond) => {
                let (what, outcome) = match self.describe_condition(cond) {
                    Ok(what) => (what, self.condition(cond).map(Some)),
                    Err(e) => ("check".to_string(), Err(e)),
                };
                self.plain(step, format!("check {what}"), outcome)
            }
            Action::WaitFor(w) => self.wait_for(step, w).await,
            Action::RucioDaemons => {
                let outcome = match self.backend.control() {
                    Some(control) => {
                        self.backend
                            .on_client(async move { control.run_rucio_daemons().await })
                            .await
                    }
                    None => Err("a real target cannot run Rucio's daemons".to_string()),
                };
                self.plain(step, "rucio daemons".to_string(), outcome.map(Some))
            }
        }
    }

    fn plain(&self, step: &Step, action: String, outcome: Result<Option<String>, String>) -> Done {
        let mut record = self.record(step, action);
        let failed = match outcome {
            Ok(result) => {
                record.result = result;
                None
            }
            Err(e) => Some(e),
        };
        Done {
            record,
            exchanges: Vec::new(),
            failed,
        }
    }

    /// Builds and sends a request. Errors carry the action text for the record.
    async fn send(&mut self, spec: &SendSpec) -> Result<(String, Answer), (String, String)> {
        let method = spec.method.clone();
        let (addr, target, label) = match &spec.target {
            Target::Url(u) => {
                let url = self
                    .render(u)
                    .map_err(|e| (format!("{method} {}", u.source()), e))?;
                let (addr, target) =
                    parse_location(&url).map_err(|e| (format!("{method} {url}"), e.to_string()))?;
                let label = self.node_label(addr);
                (addr, target, label)
            }
            Target::Node(i) => {
                let path = self
                    .render(&spec.path)
                    .map_err(|e| (format!("{method} {}", spec.path.source()), e))?;
                (self.nodes[*i], path, format!("node{i}"))
            }
            Target::Session => {
                let path = self
                    .render(&spec.path)
                    .map_err(|e| (format!("{method} {}", spec.path.source()), e))?;
                let label = self.node_label(self.access);
                (self.access, path, label)
            }
        };
        let action = format!("{method} {target} → {label}");
        let mut req = Request::new(method.clone(), target.clone());
        for (name, value) in &spec.headers {
            let v = self.render(value).map_err(|e| (action.clone(), e))?;
            req = req.header(name.clone(), v);
        }
        let body = match &spec.body {
            BodySpec::None => None,
            BodySpec::Text(t) => {
                let text = self.render(t).map_err(|e| (action.clone(), e))?;
                req = req.body(text.clone());
                let len = text.len();
                Some((transcript::body_text(text.as_bytes(), 300), len))
            }
            BodySpec::Repeat { pattern, bytes } => {
                req = req.body(repeated(pattern, *bytes));
                Some((format!("[{bytes} bytes: {pattern:?} repeated]"), *bytes))
            }
        };
        if let Some(user) = &spec.sign {
            let named = |n: &str| {
                req.headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(n))
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            let (md5, content_type) = (named("Content-MD5"), named("Content-Type"));
            let date = httpdate::fmt_http_date(rt::wall_now());
            for (k, v) in
                super::ds3::signing_headers(user, &method, &target, &md5, &content_type, &date)
            {
                req = req.header(k, v);
            }
        }
        req.expect_continue = spec.expect_continue;
        req.omit_host = spec.omit_host;
        req.omit_content_length = spec.omit_content_length;

        let client = self.backend.client(limits(spec.timeout));
        let c = client.clone();
        let follow = spec.follow;
        let (result, hops, access) = self
            .backend
            .on_client_at(spec.client, async move {
                if follow {
                    let mut session = Session::new(c, addr);
                    match session.request(&req).await {
                        Ok(f) => (Ok(f.response), f.hops, session.access_node()),
                        Err(e) => (Err(e), Vec::new(), session.access_node()),
                    }
                } else {
                    (
                        c.send(addr, &addr.to_string(), &req).await,
                        Vec::new(),
                        addr,
                    )
                }
            })
            .await;
        if matches!(spec.target, Target::Session) {
            // SCSP-3: a followed 301 moves the session; a 307 leaves it where it was.
            self.access = access;
        }
        Ok((
            action,
            Answer {
                body,
                result,
                hops,
                exchanges: client.take_transcript(),
            },
        ))
    }

    fn node_label(&self, addr: Endpoint) -> String {
        match self.nodes.iter().position(|a| *a == addr) {
            Some(i) => format!("node{i}"),
            None => addr.to_string(),
        }
    }

    fn finish_request(
        &mut self,
        mut record: StepRecord,
        answer: Answer,
        expect: &Expect,
        capture: &[Capture],
    ) -> Done {
        record.exchanges =
            transcript::exchanges(&answer.exchanges, &answer.result, answer.body.clone());
        let mut failed = judge(expect, &answer, &self.lookup()).err();
        if failed.is_none() {
            match captures(capture, &answer.result) {
                Ok(values) => {
                    for (k, v) in values {
                        record.captured.insert(k.clone(), v.clone());
                        self.vars.insert(k, v);
                    }
                }
                Err(e) => failed = Some(e),
            }
        }
        Done {
            record,
            exchanges: answer.exchanges,
            failed,
        }
    }

    async fn wait_for(&mut self, step: &Step, w: &WaitFor) -> Done {
        let start = rt::now();
        let timeout = show_duration(w.timeout);
        match &w.what {
            Waited::Condition(cond) => {
                let what = match self.describe_condition(cond) {
                    Ok(what) => what,
                    Err(e) => return self.plain(step, "wait_for".to_string(), Err(e)),
                };
                let action = format!("wait_for {what} (timeout {timeout})");
                loop {
                    match self.condition(cond) {
                        Ok(seen) => return self.plain(step, action, Ok(Some(seen))),
                        Err(e) if rt::now().saturating_duration_since(start) >= w.timeout => {
                            return self.plain(
                                step,
                                action,
                                Err(format!("still not true after {timeout}: {e}")),
                            )
                        }
                        Err(_) => rt::sleep(w.every).await,
                    }
                }
            }
            Waited::Request { send, expect } => loop {
                let (action, answer) = match self.send(send).await {
                    Ok(ok) => ok,
                    Err((action, why)) => {
                        return self.plain(step, format!("wait_for {action}"), Err(why))
                    }
                };
                let action = format!("wait_for {action} (timeout {timeout})");
                let verdict = judge(expect, &answer, &self.lookup());
                let over = rt::now().saturating_duration_since(start) >= w.timeout;
                if verdict.is_ok() || over {
                    let record = self.record(step, action);
                    let mut done = self.finish_request(record, answer, expect, &[]);
                    if let Some(why) = done.failed.take() {
                        done.failed = Some(format!("still not true after {timeout}: {why}"));
                    }
                    return done;
                }
                rt::sleep(w.every).await;
            },
        }
    }

    fn store_key(&self, path: &Template) -> Result<(String, String), String> {
        let rendered = self.render(path)?;
        let key = match parse_path(&rendered) {
            Some(Locator::Uuid(u)) => ObjectKey::Uuid(u),
            Some(Locator::Named { bucket, name }) => ObjectKey::Named {
                domain: String::new(),
                bucket,
                name,
            },
            Some(Locator::Bucket(bucket)) => ObjectKey::Bucket {
                domain: String::new(),
                bucket,
            },
            _ => return Err(format!("{rendered:?} names no object")),
        };
        Ok((rendered, key.store_key()))
    }

    fn describe_condition(&self, cond: &Condition) -> Result<String, String> {
        Ok(match cond {
            Condition::Replicas { path, bound } => {
                format!("replicas of {} {bound}", self.render(path)?)
            }
            Condition::Identical(path) => format!("identical replicas of {}", self.render(path)?),
            Condition::Converged => "converged".to_string(),
        })
    }

    /// Judges a condition now: what was seen when it holds, why not otherwise.
    fn condition(&self, cond: &Condition) -> Result<String, String> {
        let disks = self.backend.disks()?;
        match cond {
            Condition::Replicas { path, bound } => {
                let (shown, key) = self.store_key(path)?;
                let copies = copies(&disks, &key);
                let newest = copies.iter().map(|(_, r)| r.version).max();
                let live = copies
                    .iter()
                    .filter(|(_, r)| Some(r.version) == newest && !r.deleted)
                    .count();
                if bound.holds(live) {
                    Ok(format!("{live} replicas"))
                } else {
                    Err(format!(
                        "expected {bound} replicas of {shown}, got {live} ({})",
                        holders(&copies)
                    ))
                }
            }
            Condition::Identical(path) => {
                let (shown, key) = self.store_key(path)?;
                identical(&shown, &copies(&disks, &key))
            }
            Condition::Converged => {
                let problems = invariants::check_disks(&self.backend.cluster_config(), &disks);
                if problems.is_empty() {
                    Ok("converged".to_string())
                } else {
                    Err(format!(
                        "expected every object at its policy count with no damaged copy, got: {}",
                        problems
                            .iter()
                            .take(3)
                            .map(|v| v.to_string())
                            .collect::<Vec<_>>()
                            .join("; ")
                    ))
                }
            }
        }
    }
}

fn limits(timeout: Option<Duration>) -> Limits {
    let mut l = Limits::default();
    if let Some(t) = timeout {
        l.timeout = t;
    }
    l
}

/// `pattern` repeated and cut to exactly `bytes` bytes.
fn repeated(pattern: &str, bytes: usize) -> Bytes {
    let p = pattern.as_bytes();
    let mut out = Vec::with_capacity(bytes);
    while out.len() < bytes {
        let take = (bytes - out.len()).min(p.len());
        out.extend_from_slice(&p[..take]);
    }
    Bytes::from(out)
}

/// Every copy of a key: (node, record).
fn copies(disks: &[SharedDisk], key: &str) -> Vec<(usize, Record)> {
    disks
        .iter()
        .enumerate()
        .filter_map(|(i, d)| Objects::lock(d).get(key).map(|r| (i, r)))
        .collect()
}

fn holders(copies: &[(usize, Record)]) -> String {
    if copies.is_empty() {
        return "no node holds it".to_string();
    }
    copies
        .iter()
        .map(|(i, r)| {
            let state = if r.deleted {
                " deleted"
            } else if md5_hex(&r.content) != r.md5_hex {
                " rotten"
            } else {
                ""
            };
            format!("node{i} v{}{state}", r.version.castor_system_version())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn identical(shown: &str, copies: &[(usize, Record)]) -> Result<String, String> {
    let Some((_, first)) = copies.first() else {
        return Err(format!(
            "expected identical replicas of {shown}, got no copy at all"
        ));
    };
    let same = copies.iter().all(|(_, r)| {
        r.version == first.version
            && r.md5_hex == first.md5_hex
            && !r.deleted
            && md5_hex(&r.content) == r.md5_hex
    });
    if same {
        Ok(format!("{} identical replicas", copies.len()))
    } else {
        Err(format!(
            "expected every copy of {shown} to hold the same undamaged version, got: {}",
            holders(copies)
        ))
    }
}

/// Checks an answer against its expectation; the error lists every mismatch.
fn judge(
    expect: &Expect,
    answer: &Answer,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), String> {
    let response = match (&answer.result, &expect.error) {
        (Err(e), Some(ErrorExpect::Any)) => {
            let _ = e;
            return Ok(());
        }
        (Err(e), Some(ErrorExpect::Matching(m))) => {
            let text = e.to_string();
            return match m.matches(&text, lookup)? {
                true => Ok(()),
                false => Err(format!(
                    "expected the exchange to fail with an error {}, got: {text}",
                    m.describe(lookup)
                )),
            };
        }
        (Err(e), _) => return Err(format!("expected an answer, got none: {e}")),
        (Ok(r), Some(ErrorExpect::Any | ErrorExpect::Matching(_))) => {
            return Err(format!(
                "expected the exchange to fail, got a complete answer: {} {}",
                r.status, r.reason
            ))
        }
        (Ok(r), _) => r,
    };
    let mut wrong = Vec::new();
    if !expect.status.is_empty() && !expect.status.contains(&response.status) {
        let wanted: Vec<String> = expect.status.iter().map(|s| s.to_string()).collect();
        let mut got = format!("{} {}", response.status, response.reason);
        let body = transcript::body_text(&response.body, 160);
        if !body.is_empty() && response.status >= 300 {
            got.push_str(&format!(" ({body})"));
        }
        wrong.push(format!(
            "expected status {}, got {got}",
            wanted.join(" or ")
        ));
    }
    for (name, fe) in &expect.headers {
        if let Some(w) = field_mismatch("header", name, fe, &response.header_all(name), lookup)? {
            wrong.push(w);
        }
    }
    let trailer_values = |name: &str| -> Vec<&str> {
        response
            .trailers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    };
    for (name, fe) in &expect.trailers {
        if let Some(w) = field_mismatch("trailer", name, fe, &trailer_values(name), lookup)? {
            wrong.push(w);
        }
    }
    let body = String::from_utf8_lossy(&response.body);
    if let Some(m) = &expect.body {
        if !m.matches(&body, lookup)? {
            wrong.push(format!(
                "expected body {}, got {:?}",
                m.describe(lookup),
                transcript::body_text(&response.body, 200)
            ));
        }
    }
    if let Some(t) = &expect.body_contains {
        let needle = t.render(lookup)?;
        if !body.contains(&needle) {
            wrong.push(format!(
                "expected the body to contain {needle:?}, got {:?}",
                transcript::body_text(&response.body, 200)
            ));
        }
    }
    if let Some(n) = expect.body_bytes {
        if response.body.len() != n {
            wrong.push(format!(
                "expected a body of {n} bytes, got {}",
                response.body.len()
            ));
        }
    }
    if let Some(list) = &expect.informational {
        if &response.informational != list {
            wrong.push(format!(
                "expected interim answers {list:?}, got {:?}",
                response.informational
            ));
        }
    }
    if let Some(sent) = expect.body_sent {
        let went = answer
            .exchanges
            .first()
            .is_some_and(|e| e.request_body_len > 0);
        if went != sent {
            let first = answer.exchanges.first().map(|e| e.request_body_len);
            wrong.push(format!(
                "expected the body {} to the first node, got {} bytes sent",
                if sent { "sent" } else { "held back" },
                first.unwrap_or(0)
            ));
        }
    }
    if let Some(list) = &expect.redirects {
        let got: Vec<u16> = answer.hops.iter().map(|h| h.status).collect();
        if &got != list {
            wrong.push(format!("expected redirects {list:?}, got {got:?}"));
        }
    }
    for (path, fe) in &expect.xml {
        let found = match path.value(&body) {
            Ok(v) => v,
            Err(e) => {
                wrong.push(format!("expected XML at {}: {e}", path.source()));
                continue;
            }
        };
        let values: Vec<&str> = found.iter().map(String::as_str).collect();
        if let Some(w) = field_mismatch("XML value", path.source(), fe, &values, lookup)? {
            wrong.push(w);
        }
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(wrong.join("; "))
    }
}

fn field_mismatch(
    kind: &str,
    name: &str,
    fe: &FieldExpect,
    values: &[&str],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<String>, String> {
    Ok(match fe {
        FieldExpect::Present if values.is_empty() => {
            Some(format!("expected a {name} {kind}, got none"))
        }
        FieldExpect::Absent if !values.is_empty() => {
            Some(format!("expected no {name} {kind}, got {:?}", values[0]))
        }
        FieldExpect::Value(m) => {
            let mut any = false;
            for v in values {
                any |= m.matches(v, lookup)?;
            }
            if any {
                None
            } else if values.is_empty() {
                Some(format!(
                    "expected {kind} {name} {}, got none",
                    m.describe(lookup)
                ))
            } else {
                Some(format!(
                    "expected {kind} {name} {}, got {:?}",
                    m.describe(lookup),
                    values[0]
                ))
            }
        }
        _ => None,
    })
}

fn captures(
    list: &[Capture],
    result: &Result<Response, ClientError>,
) -> Result<Vec<(String, String)>, String> {
    if list.is_empty() {
        return Ok(Vec::new());
    }
    let response = result
        .as_ref()
        .map_err(|e| format!("nothing to capture from: no answer ({e})"))?;
    let mut out = Vec::new();
    for cap in list {
        let (value, from) = match &cap.source {
            CaptureSource::Header(h) => (response.header(h).map(str::to_string), h.as_str()),
            CaptureSource::Trailer(t) => (response.trailer(t).map(str::to_string), t.as_str()),
            CaptureSource::Body => (
                Some(String::from_utf8_lossy(&response.body).into_owned()),
                "body",
            ),
            CaptureSource::Xml(path) => (
                path.value(&String::from_utf8_lossy(&response.body))
                    .map_err(|e| format!("capture {}: {e}", cap.name))?,
                path.source(),
            ),
        };
        let value = value.ok_or_else(|| {
            format!(
                "capture {}: expected a {from} in the answer, got none",
                cap.name
            )
        })?;
        let value = match &cap.regex {
            None => value.trim().to_string(),
            Some(re) => {
                let found = re.captures(&value).ok_or_else(|| {
                    format!(
                        "capture {}: expected {from} to match /{}/, got {value:?}",
                        cap.name,
                        re.as_str()
                    )
                })?;
                found
                    .get(1)
                    .or_else(|| found.get(0))
                    .map(|m| m.as_str().to_string())
                    .unwrap_or_default()
            }
        };
        out.push((cap.name.clone(), value));
    }
    Ok(out)
}
