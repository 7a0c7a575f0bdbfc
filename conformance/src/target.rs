//! What a rule check can do with a target: talk HTTP to its nodes, and, when the target
//! allows it, control it (faults, operator switches) or look inside it.
//!
//! Architecture invariant: rule checks see a target only through `Ctx`: node addresses, the
//! strict client and the optional `Control`. They never import the reference node.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::client::{Client, Followed, Request, Session};
use crate::verdict::Verdict;

/// What a target lets the harness do besides sending HTTP.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// Kill and restart nodes.
    pub faults: bool,
    /// Operator switches (retire a node so that it answers 301).
    pub admin: bool,
    /// Count replicas on disk, to compare with what the protocol claims.
    pub introspection: bool,
}

/// Control over a target beyond HTTP. Each method may fail with a reason (a vendor hook
/// that exits non-zero, say); checks turn that into a failed or skipped rule.
pub trait Control: Send + Sync {
    /// What this control can do.
    fn capabilities(&self) -> Capabilities;
    /// Stops node `node` (index into the node list) at once.
    fn kill(&self, node: usize) -> Result<(), String>;
    /// Starts node `node` again.
    fn restart(&self, node: usize) -> Result<(), String>;
    /// Marks node `node` retiring (it should send clients away with 301) or not.
    fn set_retiring(&self, node: usize, on: bool) -> Result<(), String>;
    /// How many nodes hold a live copy of the object at `path` (`/bucket/name` or `/<uuid>`)
    /// in the default domain; `None` when the target cannot tell.
    fn replicas_of(&self, path: &str) -> Option<usize>;
}

/// Everything one rule check gets.
#[derive(Clone)]
pub struct Ctx {
    /// Node addresses in the order the user gave them (node 0 is the default access node).
    pub nodes: Vec<SocketAddr>,
    /// The strict client; its transcript becomes the rule's evidence.
    pub client: Client,
    /// A bucket name no other rule uses, so rules never see each other's objects.
    pub bucket: String,
    /// Control over the target, when it offers any.
    pub control: Option<Arc<dyn Control>>,
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
    /// again, on the target's clock (virtual time in the simulator).
    pub async fn next_second(&self) {
        replisim_sim::rt::sleep(Duration::from_millis(1100)).await;
    }
}
