//! From the file as serde read it to a checked [`Scenario`]: every node index exists, every
//! duration and size parses, every pattern compiles, every variable is captured before it is
//! used, every step has exactly one action. Each problem is reported with the line and
//! column of the value it is about; all problems of a file are reported at once.

use std::collections::BTreeSet;
use std::ops::Range;
use std::time::Duration;

use replisim_sim::faults::Fault;
use replisim_sim::scsp::defects::Defect;
use toml::Spanned;

use super::model::*;
use super::text::{self, Matcher, Template};
use super::*;

/// Variables every scenario has: `${run}` (empty in the simulator, a unique suffix on a real
/// target) and `${seed}`.
pub(crate) const BUILTIN_VARIABLES: [&str; 2] = ["run", "seed"];

/// Default number of nodes.
const NODES_DEFAULT: usize = 4;
/// Most nodes a scenario may ask for (the world's limit).
const NODES_MAX: i64 = 250;
/// Default disk size (the world's default).
const DISK_BYTES_DEFAULT: u64 = 1 << 30;
/// Largest clock skew or jump, in ms (ten years): beyond it node clocks would overflow.
const SKEW_MS_MAX: i64 = 10 * 365 * 24 * 3600 * 1000;
/// Largest repeated body.
const BODY_BYTES_MAX: u64 = 128 << 20;
/// Default pause between `wait_for` attempts.
const EVERY_DEFAULT: Duration = Duration::from_secs(1);
/// Most steps in one file.
const STEPS_MAX: usize = 10_000;
/// Most clients per `[[cluster]]`, and most clusters (the world's address plan).
const CLIENTS_MAX: i64 = 250;
const CLUSTERS_MAX: usize = 250;
/// Largest extra WAN latency, in ms (a minute).
const LATENCY_MS_MAX: i64 = 60_000;

struct Checker<'a> {
    file: &'a str,
    text: &'a str,
    errors: Vec<ScenarioError>,
    nodes: usize,
    /// Client hosts in the world (1 unless `[[cluster]]` tables ask for more).
    clients: usize,
    /// The `[[cluster]]` names (empty for a one-cluster `[cluster]` file).
    cluster_names: Vec<String>,
    known: BTreeSet<String>,
    /// The hosts serve the Rucio catalog with its RSEs' storage (`rucio_daemons` steps).
    rucio_storage: bool,
}

impl Checker<'_> {
    fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        let (line, col) = text::line_col(self.text, span.start);
        let source_line = self.text.lines().nth(line - 1).unwrap_or("").to_string();
        self.errors.push(ScenarioError {
            file: self.file.to_string(),
            line,
            col,
            message: message.into(),
            source_line,
        });
    }

    fn location(&self, span: &Range<usize>) -> Location {
        let (line, col) = text::line_col(self.text, span.start);
        Location { line, col }
    }

    fn duration(&mut self, s: &Spanned<String>) -> Option<Duration> {
        match text::parse_duration(s.get_ref()) {
            Ok(d) => Some(d),
            Err(e) => {
                self.error(s.span(), e);
                None
            }
        }
    }

    fn node(&mut self, n: &Spanned<Int>) -> Option<usize> {
        let value = n.get_ref().0;
        match usize::try_from(value) {
            Ok(i) if i < self.nodes => Some(i),
            _ => {
                self.error(
                    n.span(),
                    format!(
                        "node {value} does not exist: the cluster has {} nodes, numbered 0 to {}",
                        self.nodes,
                        self.nodes - 1
                    ),
                );
                None
            }
        }
    }

    fn count(&mut self, n: &Spanned<Int>, what: &str) -> Option<usize> {
        match usize::try_from(n.get_ref().0) {
            Ok(v) => Some(v),
            Err(_) => {
                self.error(n.span(), format!("expected {what} ≥ 0"));
                None
            }
        }
    }

    /// A template whose variables must be known at this point.
    fn template(&mut self, s: &Spanned<String>) -> Option<Template> {
        self.template_str(s.get_ref(), s.span())
    }

    fn template_str(&mut self, s: &str, span: Range<usize>) -> Option<Template> {
        let t = match Template::parse(s) {
            Ok(t) => t,
            Err(e) => {
                self.error(span, e);
                return None;
            }
        };
        if let Err(e) = text::check_known(&t, &self.known) {
            let at = self.variable_offset(&t, span);
            self.error(at, e);
            return None;
        }
        Some(t)
    }

    /// The span of the first unknown `${name}` inside a string, when the source spells it
    /// plainly; otherwise the string's own span.
    fn variable_offset(&self, t: &Template, span: Range<usize>) -> Range<usize> {
        let source = self.text.get(span.clone()).unwrap_or("");
        t.variables()
            .find(|v| !self.known.contains(*v))
            .and_then(|v| source.find(&format!("${{{v}}}")))
            .map(|i| span.start + i..span.end)
            .unwrap_or(span)
    }

    fn matcher(&mut self, s: &str, span: Range<usize>) -> Option<Matcher> {
        let m = match Matcher::parse(s) {
            Ok(m) => m,
            Err(e) => {
                self.error(span, e);
                return None;
            }
        };
        if let Err(e) = text::check_known(m.template(), &self.known) {
            let at = self.variable_offset(m.template(), span);
            self.error(at, e);
            return None;
        }
        Some(m)
    }

    fn status(&mut self, n: i64, span: Range<usize>) -> Option<u16> {
        match u16::try_from(n) {
            Ok(s) if (100..=599).contains(&s) => Some(s),
            _ => {
                self.error(
                    span,
                    format!("expected an HTTP status from 100 to 599, found {n}"),
                );
                None
            }
        }
    }

    fn header_name(&mut self, name: &Spanned<String>) -> bool {
        let ok = !name.get_ref().is_empty()
            && name
                .get_ref()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !ok {
            self.error(
                name.span(),
                format!(
                    "{:?} is not a header name (letters, digits and !#$%&'*+-.^_`|~)",
                    name.get_ref()
                ),
            );
        }
        ok
    }
}

/// Parses and checks a scenario.
pub(crate) fn parse(file: &str, text: &str) -> Result<Scenario, ScenarioErrors> {
    let mut checker = Checker {
        file,
        text,
        errors: Vec::new(),
        nodes: NODES_DEFAULT,
        clients: 1,
        cluster_names: Vec::new(),
        known: BUILTIN_VARIABLES.iter().map(|s| s.to_string()).collect(),
        rucio_storage: false,
    };
    let raw: RawScenario = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            checker.error(span, e.message().trim_end().to_string());
            return Err(ScenarioErrors(checker.errors));
        }
    };
    let scenario = check(&mut checker, raw);
    match scenario {
        Some(s) if checker.errors.is_empty() => Ok(s),
        _ => {
            if checker.errors.is_empty() {
                checker.error(0..0, "the scenario is invalid");
            }
            Err(ScenarioErrors(checker.errors))
        }
    }
}

fn check(c: &mut Checker, raw: RawScenario) -> Option<Scenario> {
    if raw.name.get_ref().trim().is_empty() {
        c.error(
            raw.name.span(),
            "expected a non-empty name saying what the scenario shows",
        );
    }
    let rule_id = regex::Regex::new(r"^[A-Z]+-[0-9]+$").ok()?;
    let mut rules = Vec::new();
    for r in &raw.rules {
        if rule_id.is_match(r.get_ref()) {
            rules.push(r.get_ref().clone());
        } else {
            c.error(
                r.span(),
                format!(
                    "expected a rule id such as \"SCSP-3\", found {:?}",
                    r.get_ref()
                ),
            );
        }
    }
    let seeds = match &raw.seeds {
        None => 0..1,
        Some(s) => {
            let parsed = match s.get_ref() {
                RawSeeds::Range(r) => text::parse_seeds(r),
                RawSeeds::One(n) => text::check_seeds(*n..n.saturating_add(1)),
            };
            match parsed {
                Ok(r) => r,
                Err(e) => {
                    c.error(s.span(), e);
                    0..1
                }
            }
        }
    };
    let cluster = match &raw.cluster {
        RawClusterSection::One(one) => {
            if let Some(w) = raw.wan.first() {
                c.error(
                    w.span(),
                    "[[wan]] links join [[cluster]] tables; this file has one [cluster]",
                );
            }
            topology(c, one)
        }
        RawClusterSection::Many(many) => world_topology(c, many, &raw.wan),
    };
    if raw.steps.is_empty() {
        c.error(0..0, "expected at least one [[step]]");
    }
    if raw.steps.len() > STEPS_MAX {
        c.error(0..0, format!("more than {STEPS_MAX} steps"));
    }
    let mut steps = Vec::new();
    for (i, s) in raw.steps.iter().enumerate() {
        if let Some(step) = step(c, i + 1, s) {
            steps.push(step);
        }
    }
    Some(Scenario {
        file: c.file.to_string(),
        name: raw.name.into_inner().trim().to_string(),
        rules,
        seeds,
        cluster,
        steps,
    })
}

fn topology(c: &mut Checker, raw: &RawCluster) -> Topology {
    let mut needs_control = Vec::new();
    let service = match &raw.service {
        None => rucio::Service::Scsp,
        Some(s) => rucio::Service::parse(s.get_ref()).unwrap_or_else(|| {
            c.error(
                s.span(),
                format!(
                    "unknown service `{}`; known: {}",
                    s.get_ref(),
                    rucio::Service::NAMES
                ),
            );
            rucio::Service::Scsp
        }),
    };
    let nodes = match &raw.nodes {
        // A Rucio catalog is one service on one host (plus its RSEs' clusters).
        None if service == rucio::Service::Rucio => 1,
        None if service == rucio::Service::RucioStorage => rucio::STORAGE_HOSTS,
        None => NODES_DEFAULT,
        Some(n) if (1..=NODES_MAX).contains(&n.get_ref().0) => n.get_ref().0 as usize,
        Some(n) => {
            c.error(
                n.span(),
                format!("expected 1 to {NODES_MAX} nodes, found {}", n.get_ref().0),
            );
            NODES_DEFAULT
        }
    };
    if service == rucio::Service::Rucio {
        if nodes != 1 {
            if let Some(n) = &raw.nodes {
                c.error(n.span(), "a `rucio` service runs on one host: nodes = 1");
            }
        }
        needs_control.push("service = \"rucio\"".to_string());
    }
    if service == rucio::Service::RucioStorage {
        if nodes != rucio::STORAGE_HOSTS {
            if let Some(n) = &raw.nodes {
                c.error(
                    n.span(),
                    format!(
                        "a `rucio-storage` world has {} hosts: the catalog and two 2-node RSE clusters",
                        rucio::STORAGE_HOSTS
                    ),
                );
            }
        }
        needs_control.push("service = \"rucio-storage\"".to_string());
        c.rucio_storage = true;
    }
    c.nodes = nodes;
    let replicas = match &raw.replicas {
        None => 2,
        Some(r) if (1..=nodes as i64).contains(&r.get_ref().0) => {
            if r.get_ref().0 != 2 {
                needs_control.push(format!("replicas = {}", r.get_ref().0));
            }
            r.get_ref().0 as usize
        }
        Some(r) => {
            c.error(
                r.span(),
                format!(
                    "expected 1 to {nodes} policy replicas (one per node at most), found {}",
                    r.get_ref().0
                ),
            );
            2
        }
    };
    let mut disk = DISK_BYTES_DEFAULT;
    if let Some(d) = &raw.disk {
        match text::parse_size(d.get_ref()) {
            Ok(b) => {
                disk = b;
                needs_control.push(format!("disk = {:?}", d.get_ref()));
            }
            Err(e) => c.error(d.span(), e),
        }
    }
    let mut disk_bytes = vec![disk; nodes];
    if let Some(list) = &raw.disks {
        if list.len() > nodes {
            c.error(
                list[nodes].span(),
                format!("disks lists more sizes than the {nodes} nodes"),
            );
        }
        for (i, d) in list.iter().enumerate().take(nodes) {
            match text::parse_size(d.get_ref()) {
                Ok(b) => disk_bytes[i] = b,
                Err(e) => c.error(d.span(), e),
            }
        }
        needs_control.push("disks".to_string());
    }
    let mut skew_ms = vec![0; nodes];
    if let Some(list) = &raw.skew_ms {
        if list.len() > nodes {
            c.error(
                list[nodes].span(),
                format!("skew_ms lists more offsets than the {nodes} nodes"),
            );
        }
        for (i, s) in list.iter().enumerate().take(nodes) {
            if s.get_ref().0.abs() > SKEW_MS_MAX {
                c.error(s.span(), "expected a clock skew within ten years");
            } else {
                skew_ms[i] = s.get_ref().0;
            }
        }
        if skew_ms.iter().any(|s| *s != 0) {
            needs_control.push("skew_ms (clock control)".to_string());
        }
    }
    let mut health_interval = Duration::from_secs(10);
    if let Some(h) = &raw.health_interval {
        if let Some(d) = c.duration(h) {
            if d < Duration::from_millis(100) {
                c.error(h.span(), "expected a health interval of at least 100ms");
            } else {
                health_interval = d;
                needs_control.push(format!("health_interval = {:?}", h.get_ref()));
            }
        }
    }
    let mut defects = BTreeSet::new();
    for d in &raw.defects {
        match d.get_ref().parse::<Defect>() {
            Ok(defect) => {
                defects.insert(defect);
            }
            Err(e) => c.error(d.span(), e),
        }
    }
    if !defects.is_empty() {
        needs_control.push("defects".to_string());
    }
    Topology {
        nodes,
        replicas,
        disk_bytes_default: disk,
        disk_bytes,
        skew_ms,
        health_interval,
        defects,
        needs_control,
        clusters: Vec::new(),
        wan: Vec::new(),
        service,
    }
}

/// `[[cluster]]` tables and `[[wan]]` links: a world of several SCSP clusters. Nodes are
/// numbered across the world in file order (the first cluster's nodes first), and so are
/// clients.
fn world_topology(
    c: &mut Checker,
    many: &[Spanned<RawNamedCluster>],
    wan: &[Spanned<RawWan>],
) -> Topology {
    let mut clusters: Vec<NamedCluster> = Vec::new();
    // Cluster names a publisher or replicator refers to, checked once all are known.
    let mut refers: Vec<(Range<usize>, String, Role)> = Vec::new();
    for raw in many {
        let r = raw.get_ref();
        let service = service(c, r, &mut refers);
        let name = r.name.get_ref().trim().to_string();
        if name.is_empty()
            || !name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
        {
            c.error(
                r.name.span(),
                "expected a cluster name of letters, digits, `-` or `_`",
            );
        } else if clusters.iter().any(|k| k.name == name) {
            c.error(r.name.span(), format!("a second cluster named {name:?}"));
        }
        let nodes = match &r.nodes {
            None if service != Service::Scsp => 1,
            None => NODES_DEFAULT,
            Some(n) if service != Service::Scsp && n.get_ref().0 != 1 => {
                let what = match service {
                    Service::Ds3 { .. } => "a DS3 system has one host (its gateway)",
                    _ => "a publisher or replicator cluster has one host",
                };
                c.error(n.span(), what);
                1
            }
            Some(n) if (1..=NODES_MAX).contains(&n.get_ref().0) => n.get_ref().0 as usize,
            Some(n) => {
                c.error(
                    n.span(),
                    format!("expected 1 to {NODES_MAX} nodes, found {}", n.get_ref().0),
                );
                NODES_DEFAULT
            }
        };
        let replicas = match &r.replicas {
            None => 2,
            Some(n) if (1..=nodes as i64).contains(&n.get_ref().0) => n.get_ref().0 as usize,
            Some(n) => {
                c.error(
                    n.span(),
                    format!(
                        "expected 1 to {nodes} policy replicas, found {}",
                        n.get_ref().0
                    ),
                );
                2
            }
        };
        let clients = match &r.clients {
            None => 1,
            Some(n) if (0..=CLIENTS_MAX).contains(&n.get_ref().0) => n.get_ref().0 as usize,
            Some(n) => {
                c.error(
                    n.span(),
                    format!(
                        "expected 0 to {CLIENTS_MAX} clients, found {}",
                        n.get_ref().0
                    ),
                );
                1
            }
        };
        clusters.push(NamedCluster {
            name,
            nodes,
            replicas,
            clients,
            service,
        });
    }
    for (span, name, role) in refers {
        let found = clusters.iter().find(|k| k.name == name);
        let fits = matches!(
            (found.map(|k| &k.service), role),
            (Some(Service::Scsp), Role::Scsp) | (Some(Service::Publisher { .. }), Role::Publisher)
        );
        if !fits {
            let what = match role {
                Role::Scsp => "an SCSP cluster",
                Role::Publisher => "a publisher cluster",
            };
            c.error(span, format!("expected the name of {what}, found {name:?}"));
        }
    }
    if clusters.len() > CLUSTERS_MAX {
        c.error(
            many[CLUSTERS_MAX].span(),
            format!("more than {CLUSTERS_MAX} clusters"),
        );
    }
    let mut links = Vec::new();
    for w in wan {
        let r = w.get_ref();
        let names: Vec<&Spanned<String>> = r.between.get_ref().iter().collect();
        if names.len() != 2 {
            c.error(
                r.between.span(),
                "expected two cluster names, such as [\"east\", \"west\"]",
            );
            continue;
        }
        for n in &names {
            if !clusters.iter().any(|k| &k.name == n.get_ref()) {
                c.error(
                    n.span(),
                    format!("no [[cluster]] is named {:?}", n.get_ref()),
                );
            }
        }
        if names[0].get_ref() == names[1].get_ref() {
            c.error(r.between.span(), "a WAN link joins two different clusters");
        }
        let latency_ms = match &r.latency_ms {
            None => (0, 0),
            Some(l) => match l.get_ref().as_slice() {
                [a, b]
                    if 0 <= a.get_ref().0
                        && a.get_ref().0 <= b.get_ref().0
                        && b.get_ref().0 <= LATENCY_MS_MAX =>
                {
                    (a.get_ref().0 as u64, b.get_ref().0 as u64)
                }
                _ => {
                    c.error(
                        l.span(),
                        format!("expected [least, most] milliseconds, 0 to {LATENCY_MS_MAX}"),
                    );
                    (0, 0)
                }
            },
        };
        let loss_permille = match &r.loss_permille {
            None => 0,
            Some(n) if (0..=1000).contains(&n.get_ref().0) => n.get_ref().0 as u32,
            Some(n) => {
                c.error(n.span(), "expected a loss of 0 to 1000 per mille");
                0
            }
        };
        links.push(WanLink {
            between: (names[0].get_ref().clone(), names[1].get_ref().clone()),
            latency_ms,
            loss_permille,
        });
    }
    let nodes: usize = clusters.iter().map(|k| k.nodes).sum::<usize>().max(1);
    c.nodes = nodes;
    c.clients = clusters.iter().map(|k| k.clients).sum::<usize>().max(1);
    c.cluster_names = clusters.iter().map(|k| k.name.clone()).collect();
    Topology {
        nodes,
        replicas: clusters.first().map(|k| k.replicas).unwrap_or(2),
        disk_bytes_default: DISK_BYTES_DEFAULT,
        disk_bytes: vec![DISK_BYTES_DEFAULT; nodes],
        skew_ms: vec![0; nodes],
        health_interval: Duration::from_secs(10),
        defects: BTreeSet::new(),
        needs_control: vec!["several clusters ([[cluster]])".to_string()],
        clusters,
        wan: links,
        service: rucio::Service::Scsp,
    }
}

/// What a publisher or replicator names another cluster as.
#[derive(Debug, Clone, Copy)]
enum Role {
    Scsp,
    Publisher,
}

/// A `[[cluster]]`'s service: SCSP nodes, or the `publisher` or `replicator` it declares.
fn service(
    c: &mut Checker,
    r: &RawNamedCluster,
    refers: &mut Vec<(Range<usize>, String, Role)>,
) -> Service {
    let mut named = |n: &Spanned<String>, role| {
        refers.push((n.span(), n.get_ref().trim().to_string(), role));
        n.get_ref().trim().to_string()
    };
    if let Some(d) = &r.ds3 {
        if r.publisher.is_some() || r.replicator.is_some() {
            c.error(
                d.span(),
                "a cluster runs one service: a DS3 system, a publisher or a replicator",
            );
        }
        let mut defects = BTreeSet::new();
        for name in &d.get_ref().defects {
            match name.get_ref().parse::<replisim_sim::ds3::defects::Defect>() {
                Ok(defect) => {
                    defects.insert(defect);
                }
                Err(e) => c.error(name.span(), e),
            }
        }
        return Service::Ds3 { defects };
    }
    match (&r.publisher, &r.replicator) {
        (Some(p), Some(_)) => {
            c.error(
                p.span(),
                "a cluster runs a publisher or a replicator, not both",
            );
            Service::Scsp
        }
        (Some(p), None) => {
            let p = p.get_ref();
            let rules = match &p.rules {
                None => replisim_sim::publisher::rules::Rules::default(),
                Some(text) => match replisim_sim::publisher::rules::Rules::parse(text.get_ref()) {
                    Ok(rules) => rules,
                    Err(e) => {
                        c.error(text.span(), e.to_string());
                        replisim_sim::publisher::rules::Rules::default()
                    }
                },
            };
            Service::Publisher {
                watches: named(&p.watches, Role::Scsp),
                rules,
            }
        }
        (None, Some(rep)) => {
            let rep = rep.get_ref();
            let mut defects = BTreeSet::new();
            for d in &rep.defects {
                match d
                    .get_ref()
                    .parse::<replisim_sim::replicator::ReplicatorDefect>()
                {
                    Ok(d) => {
                        defects.insert(d);
                    }
                    Err(e) => c.error(d.span(), e),
                }
            }
            Service::Replicator {
                publisher: named(&rep.publisher, Role::Publisher),
                from: named(&rep.from, Role::Scsp),
                to: named(&rep.to, Role::Scsp),
                channel: rep
                    .channel
                    .as_ref()
                    .map(|ch| ch.get_ref().clone())
                    .unwrap_or_else(|| replisim_sim::publisher::rules::PUBLISH_ALL.to_string()),
                defects,
            }
        }
        (None, None) => Service::Scsp,
    }
}

fn step(c: &mut Checker, number: usize, raw: &Spanned<RawStep>) -> Option<Step> {
    let at = c.location(&raw.span());
    let s = raw.get_ref();
    let mut actions: Vec<&str> = Vec::new();
    for (present, name) in [
        (s.send.is_some(), "send"),
        (s.raw.is_some(), "raw"),
        (s.sleep.is_some(), "sleep"),
        (s.wait_for.is_some(), "wait_for"),
        (s.fault.is_some(), "fault"),
        (s.retire.is_some(), "retire"),
        (s.unretire.is_some(), "unretire"),
        (s.check.is_some(), "check"),
        (s.rucio_daemons.is_some(), "rucio_daemons"),
    ] {
        if present {
            actions.push(name);
        }
    }
    const ACTIONS: &str =
        "send, raw, sleep, wait_for, fault, retire, unretire, check or rucio_daemons";
    if actions.len() != 1 {
        let found = if actions.is_empty() {
            "none".to_string()
        } else {
            actions.join(" and ")
        };
        c.error(
            raw.span(),
            format!("step {number}: expected exactly one action ({ACTIONS}), found {found}"),
        );
        return None;
    }
    let is_request = s.send.is_some() || s.raw.is_some();
    if !is_request {
        if let Some(e) = &s.expect {
            c.error(
                e.span(),
                format!(
                    "step {number}: `expect` belongs to a send or raw step (wait_for has its own)"
                ),
            );
        }
        if let Some(cap) = &s.capture {
            if let Some((k, _)) = cap.iter().next() {
                c.error(
                    k.span(),
                    format!("step {number}: `capture` belongs to a send or raw step"),
                );
            }
        }
    }
    let action = if let Some(send) = &s.send {
        let send = send_spec(c, send)?;
        let expect = expect(c, s.expect.as_ref())?;
        let capture = captures(c, s.capture.as_ref())?;
        Action::Send {
            send,
            expect,
            capture,
        }
    } else if let Some(r) = &s.raw {
        let raw = raw_spec(c, r)?;
        let expect = expect(c, s.expect.as_ref())?;
        let capture = captures(c, s.capture.as_ref())?;
        Action::Raw {
            raw,
            expect,
            capture,
        }
    } else if let Some(d) = &s.sleep {
        Action::Sleep(c.duration(d)?)
    } else if let Some(w) = &s.wait_for {
        Action::WaitFor(wait_for(c, w)?)
    } else if let Some(f) = &s.fault {
        Action::Fault(fault(c, f)?)
    } else if let Some(n) = &s.retire {
        Action::Retire {
            node: c.node(n)?,
            on: true,
        }
    } else if let Some(n) = &s.unretire {
        Action::Retire {
            node: c.node(n)?,
            on: false,
        }
    } else if let Some(run) = &s.rucio_daemons {
        if !*run.get_ref() {
            c.error(
                run.span(),
                format!("step {number}: `rucio_daemons = true` runs them; false is no step"),
            );
            return None;
        }
        if !c.rucio_storage {
            c.error(
                run.span(),
                format!("step {number}: rucio_daemons needs [cluster] service = \"rucio-storage\""),
            );
            return None;
        }
        Action::RucioDaemons
    } else if let Some(cond) = &s.check {
        let r = cond.get_ref();
        Action::Check(condition(
            c,
            cond.span(),
            r.replicas.as_ref(),
            r.identical.as_ref(),
            r.converged.as_ref(),
            false,
        )?)
    } else {
        return None;
    };
    Some(Step {
        number,
        at,
        note: s.note.clone(),
        action,
    })
}

fn optional_duration(c: &mut Checker, d: Option<&Spanned<String>>) -> Option<Option<Duration>> {
    match d {
        None => Some(None),
        Some(d) => c.duration(d).map(Some),
    }
}

fn send_spec(c: &mut Checker, raw: &Spanned<RawSend>) -> Option<SendSpec> {
    let s = raw.get_ref();
    let mut ok = true;
    let target = match (&s.node, &s.url) {
        (Some(n), None) => c.node(n).map(Target::Node),
        (None, Some(u)) => c.template(u).map(Target::Url),
        (None, None) => Some(Target::Session),
        (Some(n), Some(_)) => {
            c.error(n.span(), "give either `node` or `url`, not both");
            None
        }
    };
    let method = match &s.method {
        None => "GET".to_string(),
        Some(m) => {
            let valid = !m.get_ref().is_empty()
                && m.get_ref()
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
            if !valid {
                c.error(m.span(), format!("{:?} is not a method token", m.get_ref()));
                ok = false;
            }
            m.get_ref().clone()
        }
    };
    let path = match (&s.path, &s.url) {
        (Some(p), None) => {
            if !p.get_ref().starts_with('/') {
                c.error(
                    p.span(),
                    format!("expected a path starting with `/`, found {:?}", p.get_ref()),
                );
                ok = false;
            }
            c.template(p)
        }
        (None, Some(_)) => Template::parse("").ok(),
        (Some(p), Some(_)) => {
            c.error(p.span(), "a request with `url` takes its path from the URL");
            None
        }
        (None, None) => {
            c.error(raw.span(), "a send needs a `path` (or a `url`)");
            None
        }
    };
    let mut headers = Vec::new();
    for (name, value) in &s.headers {
        if c.header_name(name) {
            if let Some(t) = c.template(value) {
                headers.push((name.get_ref().clone(), t));
            } else {
                ok = false;
            }
        } else {
            ok = false;
        }
    }
    let body = match (&s.body, &s.body_repeat) {
        (None, None) => Some(BodySpec::None),
        (Some(b), None) => c.template(b).map(BodySpec::Text),
        (None, Some(r)) => repeat(c, r),
        (Some(b), Some(_)) => {
            c.error(b.span(), "give either `body` or `body_repeat`, not both");
            None
        }
    };
    let timeout = optional_duration(c, s.timeout.as_ref());
    let client = match &s.client {
        None => Some(0),
        Some(k) => match usize::try_from(k.get_ref().0) {
            Ok(k) if k < c.clients => Some(k),
            _ => {
                let clients = c.clients;
                c.error(
                    k.span(),
                    format!(
                        "client {} does not exist: the world has {clients} clients, numbered 0 to {}",
                        k.get_ref().0,
                        clients - 1
                    ),
                );
                None
            }
        },
    };
    let sign = match &s.sign {
        None => Some(None),
        Some(u) => match super::ds3::user(u.get_ref()) {
            Ok(user) => Some(Some(Box::new(user))),
            Err(e) => {
                c.error(u.span(), e);
                None
            }
        },
    };
    let (target, path, body, timeout, client) = (target?, path?, body?, timeout?, client?);
    let sign = sign?;
    ok.then_some(SendSpec {
        target,
        client,
        method,
        path,
        headers,
        body,
        expect_continue: s.expect_continue,
        follow: s.follow,
        omit_host: s.omit_host,
        omit_content_length: s.omit_content_length,
        timeout,
        sign,
    })
}

fn repeat(c: &mut Checker, raw: &Spanned<RawRepeat>) -> Option<BodySpec> {
    let r = raw.get_ref();
    if r.pattern.get_ref().is_empty() {
        c.error(r.pattern.span(), "expected a non-empty pattern to repeat");
        return None;
    }
    let bytes = match r.bytes.get_ref() {
        RawSize::Bytes(n) => u64::try_from(*n).map_err(|_| "expected a size ≥ 0".to_string()),
        RawSize::Text(t) => text::parse_size(t),
    };
    match bytes {
        Ok(b) if b <= BODY_BYTES_MAX => Some(BodySpec::Repeat {
            pattern: r.pattern.get_ref().clone(),
            bytes: b as usize,
        }),
        Ok(_) => {
            c.error(r.bytes.span(), "expected a repeated body of at most 128MiB");
            None
        }
        Err(e) => {
            c.error(r.bytes.span(), e);
            None
        }
    }
}

fn raw_spec(c: &mut Checker, raw: &Spanned<RawRaw>) -> Option<RawSpec> {
    let r = raw.get_ref();
    let node = match &r.node {
        Some(n) => c.node(n),
        None => Some(0),
    };
    if r.bytes.get_ref().is_empty() {
        c.error(r.bytes.span(), "expected the bytes to send");
    }
    let bytes = c.template(&r.bytes);
    let timeout = optional_duration(c, r.timeout.as_ref());
    Some(RawSpec {
        node: node?,
        bytes: bytes?,
        head_only: r.head_only,
        timeout: timeout?,
    })
}

fn field_expects(
    c: &mut Checker,
    raw: &std::collections::BTreeMap<Spanned<String>, Spanned<RawMatch>>,
) -> Option<Vec<(String, FieldExpect)>> {
    let mut out = Vec::new();
    let mut ok = true;
    for (name, m) in raw {
        if !c.header_name(name) {
            ok = false;
            continue;
        }
        let e = match m.get_ref() {
            RawMatch::Present(true) => FieldExpect::Present,
            RawMatch::Present(false) => FieldExpect::Absent,
            RawMatch::Text(t) => match c.matcher(t, m.span()) {
                Some(m) => FieldExpect::Value(m),
                None => {
                    ok = false;
                    continue;
                }
            },
        };
        out.push((name.get_ref().clone(), e));
    }
    ok.then_some(out)
}

fn statuses(c: &mut Checker, list: &[Spanned<Int>]) -> Option<Vec<u16>> {
    let mut out = Vec::new();
    let mut ok = true;
    for s in list {
        match c.status(s.get_ref().0, s.span()) {
            Some(v) => out.push(v),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn expect(c: &mut Checker, raw: Option<&Spanned<RawExpect>>) -> Option<Expect> {
    let Some(raw) = raw else {
        return Some(Expect::default());
    };
    let e = raw.get_ref();
    let status = match &e.status {
        None => Some(Vec::new()),
        Some(s) => match s.get_ref() {
            RawStatus::One(n) => c.status(*n, s.span()).map(|v| vec![v]),
            RawStatus::Any(list) => {
                if list.is_empty() {
                    c.error(s.span(), "expected at least one status in the list");
                }
                let mut out = Vec::new();
                for n in list {
                    out.push(c.status(*n, s.span())?);
                }
                Some(out)
            }
        },
    };
    let headers = field_expects(c, &e.headers);
    let trailers = field_expects(c, &e.trailers);
    let body = match &e.body {
        None => Some(None),
        Some(b) => c.matcher(b.get_ref(), b.span()).map(Some),
    };
    let body_contains = match &e.body_contains {
        None => Some(None),
        Some(b) => c.template(b).map(Some),
    };
    let body_bytes = match &e.body_bytes {
        None => Some(None),
        Some(n) => c.count(n, "a body length").map(Some),
    };
    let error = match &e.error {
        None => Some(None),
        Some(m) => match m.get_ref() {
            RawMatch::Present(true) => Some(Some(ErrorExpect::Any)),
            RawMatch::Present(false) => Some(Some(ErrorExpect::No)),
            RawMatch::Text(t) => c
                .matcher(t, m.span())
                .map(|m| Some(ErrorExpect::Matching(m))),
        },
    };
    let informational = match &e.informational {
        None => Some(None),
        Some(list) => statuses(c, list).map(Some),
    };
    let redirects = match &e.redirects {
        None => Some(None),
        Some(list) => statuses(c, list).map(Some),
    };
    let mut xml = Some(Vec::new());
    for (path, m) in &e.xml {
        let parsed = super::ds3::XmlPath::parse(path.get_ref());
        let want = match m.get_ref() {
            RawMatch::Present(true) => Some(FieldExpect::Present),
            RawMatch::Present(false) => Some(FieldExpect::Absent),
            RawMatch::Text(t) => c.matcher(t, m.span()).map(FieldExpect::Value),
        };
        match (parsed, want) {
            (Ok(p), Some(w)) => {
                if let Some(list) = xml.as_mut() {
                    list.push((p, w));
                }
            }
            (Err(msg), _) => {
                c.error(path.span(), msg);
                xml = None;
            }
            (_, None) => xml = None,
        }
    }
    let error = error?;
    let expects_answer = !status.as_ref().is_some_and(|s| s.is_empty())
        || !e.xml.is_empty()
        || !e.headers.is_empty()
        || !e.trailers.is_empty()
        || e.body.is_some()
        || e.body_contains.is_some()
        || e.body_bytes.is_some();
    if expects_answer && matches!(error, Some(ErrorExpect::Any | ErrorExpect::Matching(_))) {
        c.error(
            raw.span(),
            "`error` says the exchange fails, so it cannot also expect a status, headers or body",
        );
        return None;
    }
    Some(Expect {
        status: status?,
        headers: headers?,
        trailers: trailers?,
        body: body?,
        body_contains: body_contains?,
        body_bytes: body_bytes?,
        error,
        informational: informational?,
        body_sent: e.body_sent,
        redirects: redirects?,
        xml: xml?,
    })
}

fn captures(
    c: &mut Checker,
    raw: Option<&std::collections::BTreeMap<Spanned<String>, Spanned<RawCapture>>>,
) -> Option<Vec<Capture>> {
    let Some(raw) = raw else {
        return Some(Vec::new());
    };
    let mut out = Vec::new();
    let mut ok = true;
    for (name, source) in raw {
        if !text::is_variable_name(name.get_ref()) {
            c.error(
                name.span(),
                format!(
                    "{:?} is not a variable name (letters, digits and _, not starting with a digit)",
                    name.get_ref()
                ),
            );
            ok = false;
            continue;
        }
        if BUILTIN_VARIABLES.contains(&name.get_ref().as_str()) {
            c.error(
                name.span(),
                format!(
                    "`${{{}}}` is built in and cannot be captured",
                    name.get_ref()
                ),
            );
            ok = false;
            continue;
        }
        let (source_kind, regex) = match source.get_ref() {
            RawCapture::Header(h) => (Some(CaptureSource::Header(h.clone())), None),
            RawCapture::From(f) => {
                let xml = match f.xml.as_deref().map(super::ds3::XmlPath::parse) {
                    None => None,
                    Some(Ok(p)) => Some(CaptureSource::Xml(p)),
                    Some(Err(msg)) => {
                        c.error(source.span(), msg);
                        ok = false;
                        continue;
                    }
                };
                let picked: Vec<CaptureSource> = [
                    f.header.clone().map(CaptureSource::Header),
                    f.trailer.clone().map(CaptureSource::Trailer),
                    f.body.then_some(CaptureSource::Body),
                    xml,
                ]
                .into_iter()
                .flatten()
                .collect();
                let kind = if picked.len() == 1 {
                    picked.into_iter().next()
                } else {
                    c.error(
                        source.span(),
                        "a capture takes exactly one of `header`, `trailer`, `xml` or `body = true`",
                    );
                    None
                };
                let regex = match &f.regex {
                    None => Some(None),
                    Some(r) => match regex::Regex::new(r) {
                        Ok(re) => Some(Some(re)),
                        Err(e) => {
                            c.error(source.span(), format!("bad regular expression: {e}"));
                            None
                        }
                    },
                };
                (kind, regex.flatten())
            }
        };
        match source_kind {
            Some(source) => out.push(Capture {
                name: name.get_ref().clone(),
                source,
                regex,
            }),
            None => ok = false,
        }
    }
    // Captured names are known from the next step on.
    for cap in &out {
        c.known.insert(cap.name.clone());
    }
    ok.then_some(out)
}

fn wait_for(c: &mut Checker, raw: &Spanned<RawWaitFor>) -> Option<WaitFor> {
    let w = raw.get_ref();
    let timeout = match &w.timeout {
        Some(t) => c.duration(t),
        None => {
            c.error(
                raw.span(),
                "wait_for needs a `timeout`, such as timeout = \"60s\"",
            );
            None
        }
    };
    let every = match &w.every {
        None => Some(EVERY_DEFAULT),
        Some(e) => match c.duration(e) {
            Some(d) if d >= Duration::from_millis(10) => Some(d),
            Some(_) => {
                c.error(e.span(), "expected `every` of at least 10ms");
                None
            }
            None => None,
        },
    };
    let what = match &w.send {
        Some(send) => {
            if w.replicas.is_some() || w.identical.is_some() || w.converged.is_some() {
                c.error(
                    raw.span(),
                    "wait_for polls either a request (`send`) or a condition, not both",
                );
                return None;
            }
            let Some(e) = &w.expect else {
                c.error(
                    send.span(),
                    "wait_for with `send` needs an `expect` saying what to wait for",
                );
                return None;
            };
            let send = send_spec(c, send)?;
            let expect = expect(c, Some(e))?;
            Some(Waited::Request {
                send: Box::new(send),
                expect: Box::new(expect),
            })
        }
        None => {
            if let Some(e) = &w.expect {
                c.error(e.span(), "`expect` in wait_for goes with `send`");
                return None;
            }
            condition(
                c,
                raw.span(),
                w.replicas.as_ref(),
                w.identical.as_ref(),
                w.converged.as_ref(),
                true,
            )
            .map(Waited::Condition)
        }
    };
    Some(WaitFor {
        what: what?,
        timeout: timeout?,
        every: every?,
    })
}

fn condition(
    c: &mut Checker,
    span: Range<usize>,
    replicas: Option<&Spanned<RawReplicas>>,
    identical: Option<&Spanned<String>>,
    converged: Option<&Spanned<bool>>,
    in_wait: bool,
) -> Option<Condition> {
    let count = [replicas.is_some(), identical.is_some(), converged.is_some()]
        .iter()
        .filter(|p| **p)
        .count();
    if count != 1 {
        let what = if in_wait {
            "wait_for needs exactly one of `send`, `replicas`, `identical` or `converged = true`"
        } else {
            "check needs exactly one of `replicas`, `identical` or `converged = true`"
        };
        c.error(span, what);
        return None;
    }
    if let Some(r) = replicas {
        let rr = r.get_ref();
        let path = object_path(c, &rr.path)?;
        let mut bound = Bound::default();
        if let Some(n) = &rr.exactly {
            bound.exactly = Some(c.count(n, "a replica count")?);
        }
        if let Some(n) = &rr.at_least {
            bound.at_least = Some(c.count(n, "a replica count")?);
        }
        if let Some(n) = &rr.at_most {
            bound.at_most = Some(c.count(n, "a replica count")?);
        }
        if bound == Bound::default() {
            c.error(
                r.span(),
                "replicas needs `exactly`, `at_least` or `at_most` (a count)",
            );
            return None;
        }
        return Some(Condition::Replicas { path, bound });
    }
    if let Some(p) = identical {
        return object_path(c, p).map(Condition::Identical);
    }
    match converged {
        Some(b) if *b.get_ref() => Some(Condition::Converged),
        Some(b) => {
            c.error(
                b.span(),
                "`converged = false` checks nothing; use converged = true",
            );
            None
        }
        None => None,
    }
}

fn object_path(c: &mut Checker, p: &Spanned<String>) -> Option<Template> {
    let t = c.template(p)?;
    let s = p.get_ref();
    let object_like = s.starts_with('/') && s.len() > 1 && !s.contains('?');
    if !object_like {
        c.error(
            p.span(),
            format!(
                "expected an object path such as \"/bucket/name\" or \"/${{uuid}}\" (no query), found {s:?}"
            ),
        );
        return None;
    }
    Some(t)
}

fn fault(c: &mut Checker, f: &Spanned<Fault>) -> Option<Fault> {
    let fault = f.get_ref().clone();
    let nodes: Vec<usize> = match &fault {
        Fault::Crash { node }
        | Fault::Restart { node }
        | Fault::Pause { node }
        | Fault::Resume { node }
        | Fault::Isolate { node }
        | Fault::DiskFull { node }
        | Fault::DiskFree { node }
        | Fault::BitRot { node, .. }
        | Fault::Lose { node } => vec![*node],
        Fault::Skew { node, ms } | Fault::Jump { node, ms } => {
            if ms.abs() > SKEW_MS_MAX {
                c.error(f.span(), "expected a clock offset within ten years");
                return None;
            }
            vec![*node]
        }
        Fault::Partition { groups } => groups.iter().flatten().copied().collect(),
        Fault::PartitionOneWay { from, to } => vec![*from, *to],
        Fault::Heal
        | Fault::Loss { .. }
        | Fault::Latency { .. }
        | Fault::PartitionWan { .. }
        | Fault::PartitionWanOneWay { .. }
        | Fault::PartitionLan { .. }
        | Fault::LinkLoss { .. }
        | Fault::LinkLatency { .. } => Vec::new(),
    };
    if let Some(bad) = nodes.iter().find(|n| **n >= c.nodes) {
        c.error(
            f.span(),
            format!(
                "fault names node {bad}, which does not exist: the cluster has {} nodes, \
                 numbered 0 to {}",
                c.nodes,
                c.nodes - 1
            ),
        );
        return None;
    }
    let named: Vec<&String> = match &fault {
        Fault::PartitionWan { a, b } => vec![a, b],
        Fault::PartitionWanOneWay { from, to } => vec![from, to],
        Fault::PartitionLan { cluster, .. } => vec![cluster],
        Fault::LinkLoss { cluster, peer, .. } | Fault::LinkLatency { cluster, peer, .. } => {
            std::iter::once(cluster).chain(peer.iter()).collect()
        }
        _ => Vec::new(),
    };
    if let Some(bad) = named.iter().find(|n| !c.cluster_names.contains(n)) {
        let known = if c.cluster_names.is_empty() {
            "this file has one unnamed [cluster]; name clusters with [[cluster]] tables".to_string()
        } else {
            format!("the clusters are {}", c.cluster_names.join(", "))
        };
        c.error(
            f.span(),
            format!("fault names cluster {bad:?}, which does not exist: {known}"),
        );
        return None;
    }
    if let Fault::Loss { permille } | Fault::LinkLoss { permille, .. } = &fault {
        if *permille > 1000 {
            c.error(f.span(), "expected loss permille from 0 to 1000");
            return None;
        }
    }
    if let Fault::Latency { min_ms, max_ms } | Fault::LinkLatency { min_ms, max_ms, .. } = &fault {
        if min_ms > max_ms || *max_ms > 60_000 {
            c.error(
                f.span(),
                "expected latency with min_ms ≤ max_ms ≤ 60000 (one minute)",
            );
            return None;
        }
    }
    Some(fault)
}
