//! Scenario files: protocol walk-throughs in TOML that run on the simulated cluster (any
//! seed) and, when they need no control over the cluster, on real nodes over TCP.
//!
//! A scenario names a topology, a seed range and a list of steps: HTTP requests through the
//! strict client with expectations and captures, raw bytes, simulated-time sleeps, waits for
//! a condition, faults (the world's own [`Fault`] vocabulary), operator switches (retire) and
//! checks of the disks. `docs/scenarios.md` is the reference for the format.
//!
//! Layout: `model` is the file as serde reads it (`deny_unknown_fields` everywhere), `validate`
//! turns it into the checked [`Scenario`] below or errors with `file:line:column`, `text` holds
//! the little languages inside strings (durations, sizes, `${var}` templates, `~regex`
//! matchers), `exec` runs steps against a backend, `transcript` records and normalizes what
//! crossed the wire (for snapshots and failure reports), and `cli` is `replisim run`.
//!
//! Architecture invariant: scenario input never panics the harness. Every problem in a file
//! is a [`ScenarioError`] with a location; every problem while running is a failed step.

mod cli;
pub mod ds3;
mod exec;
mod model;
pub mod rucio;
pub mod text;
pub mod transcript;
mod validate;

use std::collections::BTreeSet;
use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use replisim_sim::faults::Fault;
use replisim_sim::scsp::defects::Defect;

pub use cli::{report, run_command, RunArgs};
pub use exec::{run_real, run_real_at, run_sim, Outcome, RealControl, StepFailure};
pub use text::{Matcher, Template};

/// A checked scenario, ready to run. Built only by [`parse`] or [`load`], so every node
/// index, duration, pattern and variable in it has been checked against the file.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The file as named on the command line (used in messages and replay commands).
    pub file: String,
    /// The `name` line: what the scenario shows.
    pub name: String,
    /// Rule ids it exercises (`SCSP-3`).
    pub rules: Vec<String>,
    /// Seeds it runs on in the simulator (end exclusive).
    pub seeds: Range<u64>,
    /// The simulated cluster.
    pub cluster: Topology,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

/// The `[cluster]` section, with defaults filled in.
#[derive(Debug, Clone)]
pub struct Topology {
    /// Number of nodes (default 4).
    pub nodes: usize,
    /// Policy replicas per object (default 2).
    pub replicas: usize,
    /// Disk size of the nodes `disks` does not name (`disk`, default 1 GiB); a `disk_free`
    /// fault restores this size.
    pub disk_bytes_default: u64,
    /// Disk size of each node, in node order.
    pub disk_bytes: Vec<u64>,
    /// Clock offset of each node in milliseconds, in node order.
    pub skew_ms: Vec<i64>,
    /// Health processor interval (default 10 s).
    pub health_interval: Duration,
    /// Deliberate defects switched on in every node.
    pub defects: BTreeSet<Defect>,
    /// Settings a real target cannot be made to honour (for the skip reason).
    pub needs_control: Vec<String>,
    /// `[[cluster]]` tables: a world of several named SCSP clusters (empty for `[cluster]`).
    /// Nodes and clients are numbered across them in file order.
    pub clusters: Vec<NamedCluster>,
    /// `[[wan]]` links between those clusters.
    pub wan: Vec<WanLink>,
    /// What the hosts run (`service`; SCSP unless the file says `rucio`).
    pub service: rucio::Service,
}

impl Topology {
    /// The simulated address of every node, in node order.
    pub fn addrs(&self) -> Vec<std::net::SocketAddr> {
        if self.clusters.is_empty() {
            return (0..self.nodes)
                .map(replisim_sim::world::node_addr)
                .collect();
        }
        self.clusters
            .iter()
            .enumerate()
            .flat_map(|(c, k)| (0..k.nodes).map(move |i| replisim_sim::world::host_addr(c, i)))
            .collect()
    }
}

/// One `[[cluster]]`: SCSP nodes on their own LAN, with client hosts there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedCluster {
    /// Its name, used by `[[wan]]` and by cluster faults (`partition_wan`).
    pub name: String,
    /// Number of nodes (default 4).
    pub nodes: usize,
    /// Policy replicas per object (default 2).
    pub replicas: usize,
    /// Client hosts on its LAN (default 1).
    pub clients: usize,
    /// What its hosts run.
    pub service: Service,
}

/// What the hosts of a `[[cluster]]` run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Service {
    /// Reference SCSP nodes.
    Scsp,
    /// A publisher of the named SCSP cluster, with these channels.
    Publisher {
        /// The cluster it watches.
        watches: String,
        /// Its channels.
        rules: replisim_sim::publisher::rules::Rules,
    },
    /// A replicator reading `publisher`'s enumerator on `channel`, copying `from` into `to`.
    Replicator {
        /// The cluster whose host 0 is the publisher.
        publisher: String,
        /// The source SCSP cluster.
        from: String,
        /// The target SCSP cluster.
        to: String,
        /// The channel.
        channel: String,
        /// Deliberate replicator defects.
        defects: BTreeSet<replisim_sim::replicator::ReplicatorDefect>,
    },
    /// A BlackPearl DS3 system: one reference gateway.
    Ds3 {
        /// Deliberate gateway defects.
        defects: BTreeSet<replisim_sim::ds3::defects::Defect>,
    },
}

/// One `[[wan]]` link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WanLink {
    /// The two clusters it joins.
    pub between: (String, String),
    /// Extra one-way latency range in milliseconds.
    pub latency_ms: (u64, u64),
    /// Per-mille of sends lost on it.
    pub loss_permille: u32,
}

/// Where a step sits in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
}

/// One step of a scenario.
#[derive(Debug, Clone)]
pub struct Step {
    /// 1-based position in the file's step list.
    pub number: usize,
    /// Where the step's `[[step]]` table starts.
    pub at: Location,
    /// The step's `note`, shown in transcripts.
    pub note: Option<String>,
    /// What the step does.
    pub action: Action,
}

/// What a step does: exactly one of these per `[[step]]`.
#[derive(Debug, Clone)]
pub enum Action {
    /// An HTTP request through the strict client.
    Send {
        /// The request.
        send: SendSpec,
        /// What must hold of the answer.
        expect: Expect,
        /// Values saved for later steps.
        capture: Vec<Capture>,
    },
    /// Exact bytes on a fresh connection (HTTP/1.0 requests, broken requests).
    Raw {
        /// The bytes and where they go.
        raw: RawSpec,
        /// What must hold of the answer.
        expect: Expect,
        /// Values saved for later steps.
        capture: Vec<Capture>,
    },
    /// Wait this long (simulated time in the simulator).
    Sleep(Duration),
    /// Poll a condition or a request until it holds or the timeout passes.
    WaitFor(WaitFor),
    /// Apply a fault through the world (simulator only).
    Fault(Fault),
    /// Mark a node retiring (`on`) or not; a retiring node answers clients with 301.
    Retire {
        /// Node index.
        node: usize,
        /// Retiring or back in service.
        on: bool,
    },
    /// Judge a condition on the disks now.
    Check(Condition),
    /// Run one round of the Rucio catalog's daemons (`service = "rucio-storage"`).
    RucioDaemons,
}

/// Which node a request starts at.
#[derive(Debug, Clone)]
pub enum Target {
    /// The scenario's session: starts at node 0 and moves with every followed 301 (SCSP-3).
    Session,
    /// This node, for this request only.
    Node(usize),
    /// An absolute `http://` URL (usually a captured `Location`).
    Url(Template),
}

/// A request to send.
#[derive(Debug, Clone)]
pub struct SendSpec {
    /// Where it goes.
    pub target: Target,
    /// Which client host sends it (0 unless the file says `client`).
    pub client: usize,
    /// The method token, sent as written.
    pub method: String,
    /// Path with query (unused with [`Target::Url`]).
    pub path: Template,
    /// Header fields in file order (alphabetical, as TOML tables are read).
    pub headers: Vec<(String, Template)>,
    /// The body.
    pub body: BodySpec,
    /// Send `Expect: 100-continue` and hold the body back until `100 Continue`.
    pub expect_continue: bool,
    /// Follow 301/307 redirects (default: no, so they can be seen).
    pub follow: bool,
    /// Send no `Host` header.
    pub omit_host: bool,
    /// Send no `Content-Length` even with a body.
    pub omit_content_length: bool,
    /// Bound on the exchange (default 10 s).
    pub timeout: Option<Duration>,
    /// Sign as this DS3 user (`sign`): `Date` and `Authorization: AWS id:signature`.
    pub sign: Option<Box<replisim_sim::ds3::auth::User>>,
}

/// A request body.
#[derive(Debug, Clone)]
pub enum BodySpec {
    /// No body and no `Content-Length`.
    None,
    /// This text (may be empty: `Content-Length: 0`).
    Text(Template),
    /// `pattern` repeated and cut to `bytes` bytes.
    Repeat {
        /// The repeated text.
        pattern: String,
        /// Total length.
        bytes: usize,
    },
}

/// Raw bytes to send.
#[derive(Debug, Clone)]
pub struct RawSpec {
    /// Node index.
    pub node: usize,
    /// The bytes, as text with TOML escapes (`\r\n`).
    pub bytes: Template,
    /// The answer has no body whatever its headers say (a HEAD request).
    pub head_only: bool,
    /// Bound on the exchange.
    pub timeout: Option<Duration>,
}

/// Expectations on one answer. Everything left out is not checked.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    /// The final status must be one of these (empty: any).
    pub status: Vec<u16>,
    /// Header expectations, by name.
    pub headers: Vec<(String, FieldExpect)>,
    /// Trailer expectations, by name.
    pub trailers: Vec<(String, FieldExpect)>,
    /// The whole body, exactly or by pattern.
    pub body: Option<Matcher>,
    /// A substring the body must contain.
    pub body_contains: Option<Template>,
    /// The body's length in bytes.
    pub body_bytes: Option<usize>,
    /// Whether the exchange must fail (no complete answer) and how.
    pub error: Option<ErrorExpect>,
    /// The interim (1xx) statuses received before the final answer.
    pub informational: Option<Vec<u16>>,
    /// Whether the request body went on the wire to the first node asked.
    pub body_sent: Option<bool>,
    /// The redirect statuses followed (with `follow = true`).
    pub redirects: Option<Vec<u16>>,
    /// Values the XML body must hold, by path.
    pub xml: Vec<(ds3::XmlPath, FieldExpect)>,
}

/// What a header or trailer must be.
#[derive(Debug, Clone)]
pub enum FieldExpect {
    /// Present, any value (`true`).
    Present,
    /// Absent (`false`).
    Absent,
    /// Present with a matching value.
    Value(Matcher),
}

/// Whether an exchange must fail.
#[derive(Debug, Clone)]
pub enum ErrorExpect {
    /// It must fail (`error = true`): a dropped connection, a timeout.
    Any,
    /// It must not fail (`error = false`, the default).
    No,
    /// It must fail with a message matching this.
    Matching(Matcher),
}

/// One value saved into a variable.
#[derive(Debug, Clone)]
pub struct Capture {
    /// The variable name (used as `${name}`).
    pub name: String,
    /// Where the value comes from.
    pub source: CaptureSource,
    /// Keep only the regex's first group (or whole match when it has none).
    pub regex: Option<regex::Regex>,
}

/// Where a captured value comes from.
#[derive(Debug, Clone)]
pub enum CaptureSource {
    /// A response header.
    Header(String),
    /// A response trailer.
    Trailer(String),
    /// The response body as text.
    Body,
    /// A value in the XML body.
    Xml(ds3::XmlPath),
}

/// A `wait_for` step.
#[derive(Debug, Clone)]
pub struct WaitFor {
    /// What is waited for.
    pub what: Waited,
    /// Give up (and fail) after this long.
    pub timeout: Duration,
    /// Pause between attempts.
    pub every: Duration,
}

/// What a `wait_for` polls.
#[derive(Debug, Clone)]
pub enum Waited {
    /// A condition on the disks.
    Condition(Condition),
    /// A request, until its answer meets the expectation.
    Request {
        /// The request.
        send: Box<SendSpec>,
        /// What the answer must meet.
        expect: Box<Expect>,
    },
}

/// A condition on the cluster's disks (needs introspection).
#[derive(Debug, Clone)]
pub enum Condition {
    /// How many nodes hold a live copy of the object at this path.
    Replicas {
        /// `/bucket/name` or `/<uuid>` in the default domain.
        path: Template,
        /// The allowed counts.
        bound: Bound,
    },
    /// Every node holding the object holds the same version with the same, undamaged bytes.
    Identical(Template),
    /// No object is short of good replicas and no rotten or conflicting copy exists
    /// (the sweep's convergence and integrity checks over every disk).
    Converged,
}

/// Limits on a count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bound {
    /// Exactly this many.
    pub exactly: Option<usize>,
    /// At least this many.
    pub at_least: Option<usize>,
    /// At most this many.
    pub at_most: Option<usize>,
}

impl Bound {
    /// True when `n` is within every limit.
    pub fn holds(&self, n: usize) -> bool {
        self.exactly.is_none_or(|e| n == e)
            && self.at_least.is_none_or(|l| n >= l)
            && self.at_most.is_none_or(|m| n <= m)
    }
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(e) = self.exactly {
            parts.push(format!("exactly {e}"));
        }
        if let Some(l) = self.at_least {
            parts.push(format!("at least {l}"));
        }
        if let Some(m) = self.at_most {
            parts.push(format!("at most {m}"));
        }
        f.write_str(&parts.join(" and "))
    }
}

/// A problem in a scenario file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file as named.
    pub file: String,
    /// 1-based line (0 when the problem is the file itself, e.g. unreadable).
    pub line: usize,
    /// 1-based column.
    pub col: usize,
    /// What was expected or wrong.
    pub message: String,
    /// The offending source line, for the caret display.
    pub source_line: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            return write!(f, "{}: {}", self.file, self.message);
        }
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.col, self.message
        )?;
        if !self.source_line.is_empty() {
            let number = self.line.to_string();
            let pad = " ".repeat(number.len());
            let caret_pad: String = self
                .source_line
                .chars()
                .take(self.col.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            write!(
                f,
                "\n{pad} |\n{number} | {}\n{pad} | {caret_pad}^",
                self.source_line
            )?;
        }
        Ok(())
    }
}

/// Every problem found in one file (at least one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioErrors(pub Vec<ScenarioError>);

impl fmt::Display for ScenarioErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioErrors {}

/// Parses and checks scenario text; `file` names it in messages.
pub fn parse(file: &str, text: &str) -> Result<Scenario, ScenarioErrors> {
    validate::parse(file, text)
}

/// Reads and checks a scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioErrors> {
    let file = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&file, &text),
        Err(e) => Err(ScenarioErrors(vec![ScenarioError {
            file,
            line: 0,
            col: 0,
            message: format!("cannot read: {e}"),
            source_line: String::new(),
        }])),
    }
}

impl Scenario {
    /// Why this scenario cannot run on a target with these abilities, if it cannot: the
    /// first setting or step that needs control the target lacks.
    pub fn needs(&self, abilities: Abilities, target_nodes: usize) -> Option<String> {
        if target_nodes < self.cluster.nodes {
            return Some(format!(
                "needs {} nodes; the target has {target_nodes}",
                self.cluster.nodes
            ));
        }
        if !abilities.configure {
            if let Some(setting) = self.cluster.needs_control.first() {
                return Some(format!(
                    "[cluster] {setting} needs control of the cluster's configuration, which \
                     the target does not offer"
                ));
            }
        }
        for step in &self.steps {
            let lacking = match &step.action {
                Action::Fault(f) if !abilities.faults => {
                    Some(format!("fault `{}`", transcript::show_fault(f)))
                }
                Action::Retire { .. } if !abilities.retire => {
                    Some("retire/unretire (an operator switch)".to_string())
                }
                Action::Check(_)
                | Action::WaitFor(WaitFor {
                    what: Waited::Condition(_),
                    ..
                }) if !abilities.introspection => {
                    Some("a look at the nodes' disks (introspection)".to_string())
                }
                _ => None,
            };
            if let Some(what) = lacking {
                return Some(format!(
                    "step {} (line {}) needs {what}, which the target does not offer",
                    step.number, step.at.line
                ));
            }
        }
        None
    }
}

/// What a backend can do besides HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Abilities {
    /// Apply faults (crash, partition, clock, disks...).
    pub faults: bool,
    /// Retire and unretire nodes.
    pub retire: bool,
    /// Look at the disks (replica counts, identical replicas, convergence).
    pub introspection: bool,
    /// Set up the cluster as `[cluster]` asks (disk sizes, skew, defects, replicas).
    pub configure: bool,
}

impl Abilities {
    /// Everything: the simulator.
    pub const ALL: Abilities = Abilities {
        faults: true,
        retire: true,
        introspection: true,
        configure: true,
    };
}
