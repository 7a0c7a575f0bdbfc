//! What a rule check can do with a target: talk HTTP to its nodes, and, when the target
//! allows it, control it (faults, operator switches) or look inside it.
//!
//! Architecture invariant: rule checks see a target only through `Ctx`: node addresses, the
//! strict client and the optional `Control`. They never import the reference node.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use replisim_sim::faults::{Fault, FaultKind};

use crate::clause::Clauses;
use crate::client::{Client, Endpoint, Followed, Request, Session};
use crate::verdict::Verdict;

/// What a target lets the harness do besides sending HTTP.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Capabilities {
    /// Some of the fault vocabulary ([`Control::fault_kinds`] says which): kill, restart,
    /// pause, resume and partition nodes at least.
    pub faults: bool,
    /// Operator switches (retire a node so that it answers 301).
    pub admin: bool,
    /// Count replicas on disk, to compare with what the protocol claims.
    pub introspection: bool,
}

impl Capabilities {
    /// Nothing but HTTP: what a rule that only sends requests needs.
    pub const NONE: Capabilities = Capabilities {
        faults: false,
        admin: false,
        introspection: false,
    };

    /// Names of the capabilities set, for tables and skip reasons.
    pub fn names(self) -> Vec<&'static str> {
        [
            (self.faults, "faults"),
            (self.admin, "admin"),
            (self.introspection, "introspection"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect()
    }

    /// The capabilities of `self` that `have` lacks.
    pub fn missing_from(self, have: Capabilities) -> Capabilities {
        Capabilities {
            faults: self.faults && !have.faults,
            admin: self.admin && !have.admin,
            introspection: self.introspection && !have.introspection,
        }
    }

    /// True when no capability is set.
    pub fn is_empty(self) -> bool {
        self == Capabilities::NONE
    }
}

/// What a [`Control`] operation returns: a boxed future, so that controls can wait for a
/// process (the fault hook) or act at once (the simulated world).
pub type ControlFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

fn unsupported<T: Send + 'static>(what: &str) -> ControlFuture<'static, Result<T, String>> {
    let message = format!("this target cannot {what}");
    Box::pin(async move { Err(message) })
}

/// Control over a target beyond HTTP, in the one fault vocabulary of the simulator
/// ([`Fault`]): every fault a check, a scenario step or a property-test run injects goes
/// through [`Control::apply`], whatever the target. Each operation may fail with a reason (a
/// vendor hook that exits non-zero, a fault kind the target cannot do); checks turn that into
/// a failed, partial or skipped rule. Nodes are 0-based indexes into the node list. A control
/// implements `apply` for the kinds it lists in [`Control::fault_kinds`] and refuses the rest
/// with a reason; the named fault methods below are thin wrappers over `apply`, kept so
/// that rule code reads as what it does.
pub trait Control: Send + Sync {
    /// What this control can do.
    fn capabilities(&self) -> Capabilities;
    /// The fault kinds [`Control::apply`] carries out (empty: no faults at all).
    fn fault_kinds(&self) -> BTreeSet<FaultKind> {
        BTreeSet::new()
    }
    /// Applies one fault or repair now; returns once it has taken effect, or why not.
    fn apply(&self, fault: Fault) -> ControlFuture<'_, Result<(), String>> {
        unsupported(&format!("apply `{fault}` (it offers no faults)"))
    }
    /// Stops node `node` at once, as a power loss does (faults).
    fn kill(&self, node: usize) -> ControlFuture<'_, Result<(), String>> {
        self.apply(Fault::Crash { node })
    }
    /// Starts a killed node `node` again (faults).
    fn restart(&self, node: usize) -> ControlFuture<'_, Result<(), String>> {
        self.apply(Fault::Restart { node })
    }
    /// Freezes node `node`: it keeps its connections but answers nothing (faults).
    fn pause(&self, node: usize) -> ControlFuture<'_, Result<(), String>> {
        self.apply(Fault::Pause { node })
    }
    /// Unfreezes a paused node (faults).
    fn resume(&self, node: usize) -> ControlFuture<'_, Result<(), String>> {
        self.apply(Fault::Resume { node })
    }
    /// Cuts the listed nodes off from the others, both ways (faults). Clients still reach
    /// every node.
    fn partition(&self, nodes: Vec<usize>) -> ControlFuture<'_, Result<(), String>> {
        self.apply(Fault::Partition {
            groups: vec![nodes],
        })
    }
    /// Ends every partition (faults).
    fn heal(&self) -> ControlFuture<'_, Result<(), String>> {
        self.apply(Fault::Heal)
    }
    /// Ends every fault at once (partitions, loss and latency, full disks, paused and
    /// stopped nodes; clocks stay), as the start of a liveness phase.
    fn heal_all(&self) -> ControlFuture<'_, Result<(), String>> {
        unsupported("end every fault at once")
    }
    /// Sets node `node`'s clock offset from real time, in milliseconds (the `clock` fault
    /// kind).
    fn set_clock_skew(&self, node: usize, ms: i64) -> ControlFuture<'_, Result<(), String>> {
        self.apply(Fault::Skew { node, ms })
    }
    /// Replaces the rules file of the publisher (role `publisher`) with `rules`, as an
    /// operator's edit would (ENUM-15); a real publisher offers no such control.
    fn change_publisher_rules(&self, rules: String) -> ControlFuture<'_, Result<(), String>> {
        let _ = rules;
        unsupported("change the publisher's rules file")
    }
    /// Marks node `node` retiring (it should send clients away with 301) or not (admin).
    fn set_retiring(&self, node: usize, on: bool) -> ControlFuture<'_, Result<(), String>> {
        let _ = (node, on);
        unsupported("retire nodes")
    }
    /// Runs one round of the Rucio catalog's daemons now, on the target's clock: minos,
    /// the auditor, the necromancer, the judge-cleaner and the reaper (RUC-20, RUC-24).
    /// Returns what they did, in a line. Rucio's REST API offers no way to run a daemon,
    /// so only the simulator's control can.
    fn run_rucio_daemons(&self) -> ControlFuture<'_, Result<String, String>> {
        unsupported("run Rucio's daemons (necromancer, judge-cleaner, reaper) on demand")
    }
    /// Stores `body` as the bytes of `scope:name` on RSE `rse`'s storage (its deterministic
    /// PFN), as an upload would before the replica is registered.
    fn put_rse_file(
        &self,
        rse: &str,
        scope: &str,
        name: &str,
        body: bytes::Bytes,
    ) -> ControlFuture<'_, Result<(), String>> {
        let _ = (rse, scope, name, body);
        unsupported("write to an RSE's storage")
    }
    /// The bytes of `scope:name` on RSE `rse`'s storage; `None` when it holds none.
    fn rse_file(
        &self,
        rse: &str,
        scope: &str,
        name: &str,
    ) -> ControlFuture<'_, Result<Option<bytes::Bytes>, String>> {
        let _ = (rse, scope, name);
        unsupported("read an RSE's storage")
    }
    /// Deletes the bytes of `scope:name` from RSE `rse`'s storage (a site losing a file).
    fn delete_rse_file(
        &self,
        rse: &str,
        scope: &str,
        name: &str,
    ) -> ControlFuture<'_, Result<(), String>> {
        let _ = (rse, scope, name);
        unsupported("delete from an RSE's storage")
    }
    /// How many nodes hold a live copy of the object at `path` (`/bucket/name` or `/<uuid>`)
    /// in the default domain; `None` when the target cannot tell (introspection).
    fn replicas_of(&self, path: &str) -> ControlFuture<'_, Option<usize>> {
        let _ = path;
        Box::pin(async { None })
    }
}

/// The kinds in `offered`, for refusals and skip reasons (`none` when empty).
fn kind_list(offered: &BTreeSet<FaultKind>) -> String {
    if offered.is_empty() {
        return "none".to_string();
    }
    let names: Vec<&str> = offered.iter().map(|k| k.name()).collect();
    names.join(", ")
}

/// Why a control refuses `fault`: the kinds it does offer, for skip reasons and errors.
pub fn refusal(who: &str, fault: &Fault, offered: &BTreeSet<FaultKind>) -> String {
    format!(
        "{who} cannot apply `{fault}` (fault kind {}); it offers only: {}",
        fault.kind(),
        kind_list(offered)
    )
}

/// Everything one rule check gets.
#[derive(Clone)]
pub struct Ctx {
    /// Node endpoints in the order the user gave them (node 0 is the default access node).
    pub nodes: Vec<Endpoint>,
    /// The strict client; its transcript becomes the rule's evidence.
    pub client: Client,
    /// A bucket name no other rule uses, so rules never see each other's objects.
    pub bucket: String,
    /// Control over the target, when it offers any.
    pub control: Option<Arc<dyn Control>>,
    /// Every target by role (`nodes` are the `scsp` ones), for families that talk to
    /// other services (the publisher).
    pub targets: crate::families::Targets,
    /// The rule's clauses, judged as the check goes (see `clause`).
    pub clauses: Clauses,
}

impl Ctx {
    /// What the target allows besides HTTP.
    pub fn capabilities(&self) -> Capabilities {
        self.control
            .as_ref()
            .map(|c| c.capabilities())
            .unwrap_or_default()
    }

    /// The control, when it offers fault kind `kind` (disk full, bit rot, …); otherwise why
    /// not, as a skip or not-observed reason.
    pub fn control_for(&self, kind: FaultKind) -> Result<&Arc<dyn Control>, String> {
        match &self.control {
            None => Err(format!(
                "needs the `{kind}` fault, and the target offers no fault control"
            )),
            Some(c) if c.fault_kinds().contains(&kind) => Ok(c),
            Some(c) => Err(format!(
                "needs the `{kind}` fault, which the target's control does not offer (it offers: {})",
                kind_list(&c.fault_kinds())
            )),
        }
    }

    /// The control, when the target has the capability `pick` selects.
    pub fn control_with(&self, pick: fn(Capabilities) -> bool) -> Option<&Arc<dyn Control>> {
        self.control.as_ref().filter(|c| pick(c.capabilities()))
    }

    /// A session whose access node is node `i`.
    pub fn session(&self, i: usize) -> Session {
        Session::new(self.client.clone(), self.nodes[i])
    }

    /// `/<bucket>/<name>`.
    pub fn object(&self, name: &str) -> String {
        format!("/{}/{name}", self.bucket)
    }

    /// Sends through a session at node `i`, following redirects.
    pub async fn request(&self, i: usize, req: &Request) -> Result<Followed, Verdict> {
        Ok(self.session(i).request(req).await?)
    }

    /// Creates this rule's bucket (an existing one is fine).
    pub async fn ensure_bucket(&self) -> Result<(), Verdict> {
        let req = Request::new("POST", format!("/{}", self.bucket)).body(bytes::Bytes::new());
        let done = self.request(0, &req).await?;
        match done.response.status {
            201 | 409 => Ok(()),
            other => Err(Verdict::fail(format!(
                "could not create bucket {}: POST answered {other}",
                self.bucket
            ))),
        }
    }

    /// Waits past the once-per-second update limit (SCSP-19) before updating an object
    /// again, on the target's clocks (virtual time in the simulator): 1.1 s, plus the
    /// spread between the nodes' clocks and a second for the `Date` header's resolution
    /// when the nodes disagree, so that nodes whose clocks are skewed (up to two minutes)
    /// still see the update as newer.
    pub async fn next_second(&self) {
        let spread = self.clock_spread().await;
        let extra = if spread.is_zero() {
            Duration::ZERO
        } else {
            spread + Duration::from_secs(1)
        };
        replisim_sim::rt::sleep(Duration::from_millis(1100) + extra).await;
    }

    /// How far apart the nodes' clocks are, from the `Date` header of a `GET /` to each
    /// (whole seconds; nodes that do not answer or send no date are left out), at most two
    /// minutes.
    pub async fn clock_spread(&self) -> Duration {
        let mut dates = Vec::new();
        for node in &self.nodes {
            let Ok(r) = self
                .client
                .send(*node, &node.to_string(), &Request::new("GET", "/"))
                .await
            else {
                continue;
            };
            if let Some(date) = r
                .header("date")
                .and_then(|d| httpdate::parse_http_date(d).ok())
            {
                dates.push(date);
            }
        }
        let (Some(first), Some(last)) = (dates.iter().min(), dates.iter().max()) else {
            return Duration::ZERO;
        };
        last.duration_since(*first)
            .unwrap_or_default()
            .min(Duration::from_secs(120))
    }
}
