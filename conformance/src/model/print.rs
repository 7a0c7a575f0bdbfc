//! A run of a case as a scenario file (docs/scenarios.md, `scenarios/*.toml`): every
//! request with what the model allowed, every fault, wait and heal, so a shrunk
//! counterexample can be read, replayed with `replisim run FILE` and dropped into
//! `scenarios/` as a regression test.
//!
//! The runner ([`super::run`]) builds each request from the same [`PrintedSend`] it prints
//! and sends it exactly as the scenario executor would (a fresh client per request, a session
//! starting at the named node, headers in name order), so the file replays the same
//! simulation on the same seed.
//!
//! Expectations are the model's allowed set projected on each field: the status must be one
//! of the allowed ones, a read's body one of the allowed contents, each metadata header one
//! of the allowed values. An exchange the model allowed to fail and that did fail is pinned
//! as `error = true`. These projections can be slightly looser than the model (a body from
//! one allowed state with metadata from another would pass), never stricter.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::Duration;

use replisim_sim::faults::Fault;
use replisim_sim::scsp::defects::Defect;

use super::reference::State;

/// What the model allows of one exchange.
#[derive(Debug, Clone, Default)]
pub struct Allowed {
    /// Final statuses allowed.
    pub statuses: BTreeSet<u16>,
    /// The exchange may end without an answer (timeouts while faults last).
    pub error_ok: bool,
    /// For reads: the states a 200 or 404 may show (`None`: any).
    pub read: Option<Option<BTreeSet<State>>>,
    /// For a 202: the results its `castor-system-result` may carry (`None`: any).
    pub result: Option<Option<BTreeSet<u16>>>,
    /// A 201 must carry `Content-UUID` (unnamed objects, SCSP-1).
    pub uuid: bool,
}

/// One request of the printed scenario.
#[derive(Debug, Clone)]
pub struct PrintedSend {
    /// Why the step is there (the case step it came from).
    pub note: String,
    /// The node the request starts at; `None`: the scenario session (node 0).
    pub node: Option<usize>,
    /// Method token.
    pub method: String,
    /// Path and query, with `${var}` references to captured UUIDs and upload ids.
    pub path: String,
    /// Headers, sent in name order (the order a TOML table is read in).
    pub headers: Vec<(String, String)>,
    /// Body text, with `${var}` references; `None` sends no body.
    pub body: Option<String>,
    /// Bound on the exchange.
    pub timeout: Duration,
    /// What the model allows.
    pub allowed: Allowed,
    /// The exchange failed (no answer) in the run being printed.
    pub observed_error: bool,
    /// Variables captured from response headers: (variable, header).
    pub capture: Vec<(String, String)>,
    /// The final status received, when there was an answer.
    pub observed_status: Option<u16>,
    /// What a 200 to a GET showed.
    pub observed_read: Option<super::reference::Version>,
    /// The status in a 202's `castor-system-result` trailer.
    pub observed_result: Option<u16>,
}

/// How expectations are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// What the model allows (projected per field): for reproducing a failure of the node
    /// that ran, which fails at the step the model rejected.
    Allowed,
    /// What the node answered (each answer allowed by the model): for a run of the clean
    /// node printed as a regression test; a defect that changes any checked answer on this
    /// seed fails it.
    Pinned,
}

/// One step of the printed scenario.
#[derive(Debug, Clone)]
pub enum PrintedStep {
    /// A request.
    Send(Box<PrintedSend>),
    /// Simulated time passing.
    Sleep {
        /// How long.
        duration: Duration,
        /// Why.
        note: String,
    },
    /// A fault or repair.
    Fault {
        /// The fault.
        fault: Fault,
        /// Why.
        note: String,
    },
    /// Wait until the disks show convergence (`wait_for = { converged = true }`).
    Converge {
        /// Give up after this long.
        timeout: Duration,
        /// Poll interval.
        every: Duration,
    },
}

/// Everything the file needs besides its steps.
#[derive(Debug, Clone)]
pub struct Header<'a> {
    /// The madsim seed.
    pub seed: u64,
    /// The health processor interval of the run.
    pub health_interval: Duration,
    /// Defects the run had switched on (named in a comment only: the file is a regression
    /// test for the clean node).
    pub defects: &'a BTreeSet<Defect>,
    /// What the model found wrong.
    pub violation: &'a str,
    /// Rule ids the case touches.
    pub rules: &'a [String],
    /// How expectations are written.
    pub mode: Mode,
}

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// A JSON value (from the fault's serde form) as an inline TOML value.
fn toml_value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "\"\"".to_string(),
        serde_json::Value::Bool(b) => b.to_string(),
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => quote(s),
        serde_json::Value::Array(items) => format!(
            "[{}]",
            items.iter().map(toml_value).collect::<Vec<_>>().join(", ")
        ),
        serde_json::Value::Object(map) => format!(
            "{{ {} }}",
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| format!("{k} = {}", toml_value(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The fault as the scenario format writes it: `{ fault = "crash", node = 1 }`.
pub fn fault_table(fault: &Fault) -> String {
    match serde_json::to_value(fault) {
        Ok(v) => toml_value(&v),
        Err(e) => format!("\"unprintable fault: {e}\""),
    }
}

/// A regex alternation of literal texts, anchored.
fn one_of(texts: &BTreeSet<String>) -> String {
    let alts: Vec<String> = texts.iter().map(|t| regex::escape(t)).collect();
    format!("^(?:{})$", alts.join("|"))
}

fn pinned_table(s: &PrintedSend) -> String {
    let Some(status) = s.observed_status else {
        return "{ error = true }".to_string();
    };
    let mut parts = vec![format!("status = {status}")];
    let mut headers = Vec::new();
    if let Some(v) = &s.observed_read {
        parts.push(format!("body = {}", quote(&v.content)));
        for name in [super::COLOR, super::SHAPE] {
            let field = match v.meta.get(name) {
                Some(value) => quote(value),
                None => "false".to_string(),
            };
            headers.push(format!("{} = {field}", quote(name)));
        }
        headers.push(format!("\"castor-system-compositemd5\" = {}", v.composite));
    }
    if s.allowed.uuid && status == 201 {
        headers.push("\"Content-UUID\" = \"~^[0-9a-fA-F]{32}$\"".to_string());
    }
    if !headers.is_empty() {
        parts.push(format!("headers = {{ {} }}", headers.join(", ")));
    }
    if let Some(code) = s.observed_result {
        parts.push(format!(
            "trailers = {{ \"castor-system-result\" = {} }}",
            quote(&format!("~^{code} "))
        ));
        parts.push(format!(
            "body = {}",
            quote(&format!("~\"status\":{code}[,}}]"))
        ));
    }
    format!("{{ {} }}", parts.join(", "))
}

fn expect_table(s: &PrintedSend, mode: Mode) -> String {
    let a = &s.allowed;
    if mode == Mode::Pinned {
        return pinned_table(s);
    }
    if s.observed_error && a.error_ok {
        return "{ error = true }".to_string();
    }
    let mut parts = Vec::new();
    let statuses: Vec<String> = a.statuses.iter().map(u16::to_string).collect();
    if statuses.len() == 1 {
        parts.push(format!("status = {}", statuses[0]));
    } else {
        parts.push(format!("status = [{}]", statuses.join(", ")));
    }
    let mut headers = Vec::new();
    if let Some(Some(states)) = &a.read {
        let versions: Vec<_> = states.iter().flatten().collect();
        let contents: BTreeSet<String> = versions.iter().map(|v| v.content.clone()).collect();
        if !versions.is_empty() {
            let mut pattern = one_of(&contents);
            if a.statuses.iter().any(|s| *s != 200) {
                // Error pages are HTML; the reference node's and Swarm's both start so.
                pattern.push_str("|^<html>");
            }
            parts.push(format!("body = {}", quote(&format!("~{pattern}"))));
        }
        if a.statuses.len() == 1 && a.statuses.contains(&200) {
            for name in [super::COLOR, super::SHAPE] {
                let values: BTreeSet<Option<&String>> =
                    versions.iter().map(|v| v.meta.get(name)).collect();
                let present: BTreeSet<String> =
                    values.iter().flatten().map(|s| s.to_string()).collect();
                let field = match (values.contains(&None), present.is_empty()) {
                    (true, true) => "false".to_string(),
                    (false, false) => quote(&format!("~{}", one_of(&present))),
                    _ => continue,
                };
                headers.push(format!("{} = {field}", quote(name)));
            }
            let composite: BTreeSet<bool> = versions.iter().map(|v| v.composite).collect();
            if composite.len() == 1 {
                let on = composite.contains(&true);
                headers.push(format!("\"castor-system-compositemd5\" = {on}"));
            }
        }
    }
    if a.uuid && a.statuses.iter().all(|s| *s == 201) {
        headers.push("\"Content-UUID\" = \"~^[0-9a-fA-F]{32}$\"".to_string());
    }
    if !headers.is_empty() {
        parts.push(format!("headers = {{ {} }}", headers.join(", ")));
    }
    if let Some(result) = &a.result {
        if a.statuses.len() == 1 && a.statuses.contains(&202) {
            match result {
                Some(codes) => {
                    let alts: Vec<String> = codes.iter().map(u16::to_string).collect();
                    parts.push(format!(
                        "trailers = {{ \"castor-system-result\" = {} }}",
                        quote(&format!("~^(?:{}) ", alts.join("|")))
                    ));
                    parts.push(format!(
                        "body = {}",
                        quote(&format!("~\"status\":(?:{})[,}}]", alts.join("|")))
                    ));
                }
                None => parts.push("trailers = { \"castor-system-result\" = true }".to_string()),
            }
        }
    }
    format!("{{ {} }}", parts.join(", "))
}

fn send_table(s: &PrintedSend) -> String {
    let mut parts = Vec::new();
    if let Some(n) = s.node {
        parts.push(format!("node = {n}"));
    }
    parts.push(format!("method = {}", quote(&s.method)));
    parts.push(format!("path = {}", quote(&s.path)));
    if !s.headers.is_empty() {
        let h: Vec<String> = s
            .headers
            .iter()
            .map(|(k, v)| format!("{} = {}", quote(k), quote(v)))
            .collect();
        parts.push(format!("headers = {{ {} }}", h.join(", ")));
    }
    if let Some(b) = &s.body {
        parts.push(format!("body = {}", quote(b)));
    }
    parts.push("follow = true".to_string());
    parts.push(format!("timeout = {}", quote(&duration(s.timeout))));
    format!("{{ {} }}", parts.join(", "))
}

/// Renders the scenario file.
pub fn render(header: &Header<'_>, steps: &[PrintedStep]) -> String {
    let mut out = String::new();
    let defects: Vec<&str> = header.defects.iter().map(|d| d.name()).collect();
    let _ = writeln!(
        out,
        "# A counterexample found by the stateful property test (conformance/tests/prop_*.rs)"
    );
    let _ = writeln!(out, "# and shrunk; it touches {}.", header.rules.join(", "));
    match header.mode {
        Mode::Allowed => {
            let _ = writeln!(
                out,
                "# Expectations are what the reference model (conformance/src/model) allows at each"
            );
            let _ = writeln!(
                out,
                "# step, given what earlier steps answered on this seed."
            );
        }
        Mode::Pinned => {
            let _ = writeln!(
                out,
                "# Expectations pin what the clean reference node answered on this seed, each answer"
            );
            let _ = writeln!(
                out,
                "# allowed by the reference model (conformance/src/model)."
            );
        }
    }
    if !defects.is_empty() {
        let _ = writeln!(
            out,
            "# Found with defect(s) {}, which fail it; the clean node passes. To see the failure,",
            defects.join(", ")
        );
        let quoted: Vec<String> = defects.iter().map(|d| quote(d)).collect();
        let _ = writeln!(
            out,
            "# add `defects = [{}]` under [cluster].",
            quoted.join(", ")
        );
    }
    for line in header.violation.lines() {
        let _ = writeln!(out, "# Violation: {line}");
    }
    let _ = writeln!(
        out,
        "name = {}",
        quote(&format!("property counterexample, seed {}", header.seed))
    );
    let rules: Vec<String> = header.rules.iter().map(|r| quote(r)).collect();
    let _ = writeln!(out, "rules = [{}]", rules.join(", "));
    let _ = writeln!(out, "seeds = {}", quote(&header.seed.to_string()));
    let _ = writeln!(out);
    let _ = writeln!(out, "[cluster]");
    let _ = writeln!(out, "nodes = {}", super::NODES);
    let _ = writeln!(out, "replicas = 2");
    let _ = writeln!(
        out,
        "health_interval = {}",
        quote(&duration(header.health_interval))
    );
    for step in steps {
        let _ = writeln!(out);
        let _ = writeln!(out, "[[step]]");
        match step {
            PrintedStep::Send(s) => {
                if !s.note.is_empty() {
                    let _ = writeln!(out, "note = {}", quote(&s.note));
                }
                let _ = writeln!(out, "send = {}", send_table(s));
                let _ = writeln!(out, "expect = {}", expect_table(s, header.mode));
                if !s.capture.is_empty() && !s.observed_error {
                    let c: Vec<String> = s
                        .capture
                        .iter()
                        .map(|(var, header)| format!("{var} = {}", quote(header)))
                        .collect();
                    let _ = writeln!(out, "capture = {{ {} }}", c.join(", "));
                }
            }
            PrintedStep::Sleep { duration: d, note } => {
                if !note.is_empty() {
                    let _ = writeln!(out, "note = {}", quote(note));
                }
                let _ = writeln!(out, "sleep = {}", quote(&duration(*d)));
            }
            PrintedStep::Fault { fault, note } => {
                if !note.is_empty() {
                    let _ = writeln!(out, "note = {}", quote(note));
                }
                let _ = writeln!(out, "fault = {}", fault_table(fault));
            }
            PrintedStep::Converge { timeout, every } => {
                let _ = writeln!(
                    out,
                    "wait_for = {{ converged = true, timeout = {}, every = {} }}",
                    quote(&duration(*timeout)),
                    quote(&duration(*every))
                );
            }
        }
    }
    out
}

/// Fills `${var}` references from `lookup` (unknown variables stay as written).
pub fn fill(template: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                let name = &after[..end];
                match lookup(name) {
                    Some(v) => out.push_str(&v),
                    None => {
                        out.push_str("${");
                        out.push_str(name);
                        out.push('}');
                    }
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_print_as_inline_tables() {
        assert_eq!(
            fault_table(&Fault::Crash { node: 2 }),
            "{ fault = \"crash\", node = 2 }"
        );
        assert_eq!(
            fault_table(&Fault::Partition {
                groups: vec![vec![0, 1]]
            }),
            "{ fault = \"partition\", groups = [[0, 1]] }"
        );
        assert_eq!(fault_table(&Fault::Heal), "{ fault = \"heal\" }");
    }

    #[test]
    fn templates_fill_known_variables_only() {
        let lookup = |n: &str| (n == "a0").then(|| "abc".to_string());
        assert_eq!(fill("/${a0}?x=${b}", &lookup), "/abc?x=${b}");
        assert_eq!(quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
    }
}
