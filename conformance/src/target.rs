//! What a rule check can do with a target: talk HTTP to its nodes, and, when the target
//! allows it, control it (faults, operator switches) or look inside it.
//!
//! Architecture invariant: rule checks see a target only through `Ctx`: node addresses, the
//! strict client and the optional `Control`. They never import the reference node.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::clause::Clauses;
use crate::client::{Client, Endpoint, Followed, Request, Session};
use crate::verdict::Verdict;

/// What a target lets the harness do besides sending HTTP.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Capabilities {
    /// Kill, restart, pause, resume and partition nodes.
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

/// Control over a target beyond HTTP. Each operation may fail with a reason (a vendor hook
/// that exits non-zero, say); checks turn that into a failed or skipped rule. Nodes are
/// 0-based indexes into the node list. Every operation defaults to "not supported", so a
/// control implements only what it can do and says so in [`Control::capabilities`].
pub trait Control: Send + Sync {
    /// What this control can do.
    fn capabilities(&self) -> Capabilities;
    /// Stops node `node` at once (faults).
    fn kill(&self, node: usize) -> ControlFuture<'_, Result<(), String>> {
        let _ = node;
        unsupported("kill nodes")
    }
    /// Starts a killed node `node` again (faults).
    fn restart(&self, node: usize) -> ControlFuture<'_, Result<(), String>> {
        let _ = node;
        unsupported("restart nodes")
    }
    /// Freezes node `node`: it keeps its connections but answers nothing (faults).
    fn pause(&self, node: usize) -> ControlFuture<'_, Result<(), String>> {
        let _ = node;
        unsupported("pause nodes")
    }
    /// Unfreezes a paused node (faults).
    fn resume(&self, node: usize) -> ControlFuture<'_, Result<(), String>> {
        let _ = node;
        unsupported("resume nodes")
    }
    /// Cuts the listed nodes off from the others, both ways (faults). Clients still reach
    /// every node.
    fn partition(&self, nodes: Vec<usize>) -> ControlFuture<'_, Result<(), String>> {
        let _ = nodes;
        unsupported("partition nodes")
    }
    /// Ends every partition (faults).
    fn heal(&self) -> ControlFuture<'_, Result<(), String>> {
        unsupported("heal partitions")
    }
    /// Marks node `node` retiring (it should send clients away with 301) or not (admin).
    fn set_retiring(&self, node: usize, on: bool) -> ControlFuture<'_, Result<(), String>> {
        let _ = (node, on);
        unsupported("retire nodes")
    }
    /// Sets node `node`'s clock offset from real time, in milliseconds (admin: a clock the
    /// harness can move, as the simulator's node clocks are).
    fn set_clock_skew(&self, node: usize, ms: i64) -> ControlFuture<'_, Result<(), String>> {
        let _ = (node, ms);
        unsupported("move node clocks")
    }
    /// How many nodes hold a live copy of the object at `path` (`/bucket/name` or `/<uuid>`)
    /// in the default domain; `None` when the target cannot tell (introspection).
    fn replicas_of(&self, path: &str) -> ControlFuture<'_, Option<usize>> {
        let _ = path;
        Box::pin(async { None })
    }
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
