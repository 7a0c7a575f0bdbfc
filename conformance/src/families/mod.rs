//! Protocol families: what one protocol brings to the harness.
//!
//! Each protocol (SCSP today; the publisher, DS3 and Rucio next) is one [`Family`]: its
//! rules, the target roles its rules talk to, the namespace each rule writes in, the
//! simulated world its rules run in, and how its checks see a target. The catalog
//! aggregates the families ([`ALL`]) and `--protocol` selects among them; targets name the
//! role they play ([`Targets`], `--target ROLE=URL[,URL…]`). ARCHITECTURE.md, "How to add a
//! protocol family", lists every place a new family touches.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::time::Duration;

use replisim_sim::publisher::alternatives::PublisherAlternatives;
use replisim_sim::publisher::defects::PublisherDefects;
use replisim_sim::scsp::alternatives::Alternatives;
use replisim_sim::scsp::defects::Defect;
use replisim_sim::world::WorldBuilder;

use crate::catalog::Rule;
use crate::client::{Client, Endpoint, Exchange};

pub mod ds3;
pub mod publisher;
pub mod rucio;
pub mod scsp;

/// The part a target plays: which service its URLs reach. Rules name the roles they talk
/// to, so a run against a partial deployment skips what it cannot reach instead of failing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Swarm storage nodes spoken to in SCSP.
    Scsp,
    /// A DX Content Router publisher.
    Publisher,
    /// A BlackPearl DS3 gateway.
    Ds3,
    /// A Rucio catalog server.
    Rucio,
}

impl Role {
    /// Every role, for help texts and errors.
    pub const ALL: [Role; 4] = [Role::Scsp, Role::Publisher, Role::Ds3, Role::Rucio];

    /// The name used on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Scsp => "scsp",
            Role::Publisher => "publisher",
            Role::Ds3 => "ds3",
            Role::Rucio => "rucio",
        }
    }

    /// The names of every role, comma-separated.
    pub fn known() -> String {
        Role::ALL.map(Role::as_str).join(", ")
    }

    /// Why a rule that needs this role is skipped when the user gave no such target.
    pub fn missing_reason(self) -> String {
        format!("needs a `{0}` target (--target {0}=URL)", self.as_str())
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    /// Parses a role name in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown target role `{s}`; known roles: {}", Role::known()))
    }
}

/// The targets of a run, by role, each a list of endpoints in the order the user gave them
/// (node 0 of a role is its default access node).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets(BTreeMap<Role, Vec<Endpoint>>);

impl Targets {
    /// Only SCSP nodes: what a bare `--target URL,URL` means.
    pub fn scsp(nodes: Vec<Endpoint>) -> Self {
        let mut t = Targets::default();
        if !nodes.is_empty() {
            t.0.insert(Role::Scsp, nodes);
        }
        t
    }

    /// Parses the values of repeated `--target` options: `ROLE=URL[,URL…]`, or a bare URL
    /// list for `scsp`. A role given twice, an unknown role or a bad URL is an error.
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut targets = Targets::default();
        for arg in args {
            let (role, urls) = match arg.split_once('=') {
                // `=` inside a URL (a query) is not a role: roles are plain words.
                Some((name, urls)) if !name.contains([':', '/']) => (name.parse::<Role>()?, urls),
                _ => (Role::Scsp, arg.as_str()),
            };
            let mut nodes = Vec::new();
            for url in urls.split(',').map(str::trim).filter(|u| !u.is_empty()) {
                nodes.push(Endpoint::parse_target(url)?);
            }
            if nodes.is_empty() {
                return Err(format!("--target {arg}: no URL for role `{role}`"));
            }
            if targets.0.insert(role, nodes).is_some() {
                return Err(format!(
                    "--target names role `{role}` twice; give all its URLs in one --target {role}=URL,URL"
                ));
            }
        }
        Ok(targets)
    }

    /// The endpoints of `role`; empty when the user gave none.
    pub fn get(&self, role: Role) -> &[Endpoint] {
        self.0.get(&role).map_or(&[], Vec::as_slice)
    }

    /// Every endpoint of every role: the hosts credentials may go to.
    pub fn endpoints(&self) -> Vec<Endpoint> {
        self.0.values().flatten().copied().collect()
    }

    /// The roles given.
    pub fn roles(&self) -> BTreeSet<Role> {
        self.0.keys().copied().collect()
    }

    /// True when no role was given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The targets by role, for reports and replay lines: `scsp=URL,URL publisher=URL`.
    pub fn describe(&self) -> String {
        self.0
            .iter()
            .map(|(role, nodes)| {
                let urls: Vec<String> = nodes.iter().map(|e| e.url()).collect();
                format!("{role}={}", urls.join(","))
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The same targets as `--target` options, for replay lines.
    pub fn as_args(&self) -> String {
        self.0
            .iter()
            .map(|(role, nodes)| {
                let urls: Vec<String> = nodes.iter().map(|e| e.url()).collect();
                format!(" --target {role}={}", urls.join(","))
            })
            .collect()
    }
}

/// What a family's cleanup pass gets: a client set up like the rule's (credentials, TLS),
/// the run's targets, the rule's transcript and a time budget.
pub struct CleanupJob {
    /// A fresh client with the run's default headers and TLS roots.
    pub client: Client,
    /// The run's targets by role.
    pub targets: Targets,
    /// Everything the rule sent and got: what it created is found here.
    pub transcript: Vec<Exchange>,
    /// How long the pass may take.
    pub budget: Duration,
}

/// A family's cleanup pass in progress; `None` when the rule wrote nothing.
pub type CleanupFuture = Pin<Box<dyn Future<Output = Option<Cleanup>> + Send>>;

/// What a cleanup pass did, for the rule's report line.
#[derive(Debug, Default)]
pub struct Cleanup {
    /// Objects (items) deleted.
    pub deleted: usize,
    /// Containers (SCSP buckets) deleted.
    pub contexts_deleted: usize,
    /// Containers the target refused to delete by design (501/405), with the answer.
    pub contexts_kept: Vec<String>,
    /// What could not be deleted, and why.
    pub problems: Vec<String>,
}

impl Cleanup {
    /// One line: what was deleted, kept and refused.
    pub fn summary(&self) -> String {
        let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        let mut parts = vec![format!("deleted {}", plural(self.deleted, "object"))];
        if self.contexts_deleted > 0 {
            parts.push(format!(
                "deleted {}",
                plural(self.contexts_deleted, "bucket")
            ));
        }
        if !self.contexts_kept.is_empty() {
            parts.push(format!(
                "left buckets the target cannot delete ({})",
                self.contexts_kept.join(", ")
            ));
        }
        if !self.problems.is_empty() {
            parts.push(format!("could not delete {}", self.problems.join(", ")));
        }
        parts.join("; ")
    }
}

/// What the simulator is asked for when a family builds its world.
#[derive(Debug, Clone)]
pub struct SimParams {
    /// Hosts of the family's main role (`--nodes`).
    pub nodes: usize,
    /// Deliberate defects switched on in every reference node.
    pub defects: BTreeSet<Defect>,
    /// The other choices the reference nodes make.
    pub alternatives: Alternatives,
    /// Deliberate defects of the reference publisher (worlds that run one).
    pub publisher_defects: PublisherDefects,
    /// Deliberate defects of the reference DS3 gateways (`ds3` family).
    pub ds3_defects: BTreeSet<replisim_sim::ds3::defects::Defect>,
    /// The other choices the reference publisher makes.
    pub publisher_alternatives: PublisherAlternatives,
    /// Deliberate defects of the reference Rucio catalog and its daemons (`rucio` family).
    pub rucio_defects: BTreeSet<replisim_sim::rucio::defects::Defect>,
}

/// One protocol family of the harness. Plain data and function pointers, so that the
/// catalog can list the families in a `const` and a new family is one more entry.
#[derive(Clone, Copy)]
pub struct Family {
    /// The `--protocol` name, also the lower-case prefix of its rule ids (`scsp` → `SCSP-3`).
    pub name: &'static str,
    /// What the family is, in a line, for listings.
    pub summary: &'static str,
    /// The roles its rules talk to (each rule names its own subset in `Rule::roles`).
    pub roles: &'static [Role],
    /// Its rules, checked or not, in any order (the catalog sorts them).
    pub rules: fn() -> Vec<Rule>,
    /// The namespace one rule writes in on a shared target, so that rules never see each
    /// other's data: the SCSP family's bucket name. `nonce` separates runs.
    pub namespace: fn(&Rule, u64) -> String,
    /// Deletes what one rule wrote on a shared target, found in its transcript (run after
    /// each rule unless `--no-cleanup`).
    pub cleanup: fn(CleanupJob) -> CleanupFuture,
    /// The simulated world one rule of this family runs in.
    pub world: fn(&SimParams) -> WorldBuilder,
    /// The roles the family's simulated world serves, each with the clusters of that world
    /// whose hosts serve it: the runner's only way to find a role's endpoints. Rules needing
    /// other roles are skipped in the simulator with the role's reason.
    pub sim_roles: &'static [SimRole],
}

/// A role served in a family's simulated world, and by which of its clusters (by name, in
/// the order their endpoints are given to the rules: DS3's `source` before `target`).
#[derive(Clone, Copy, Debug)]
pub struct SimRole {
    /// The role.
    pub role: Role,
    /// The names of the clusters whose hosts serve it.
    pub clusters: &'static [&'static str],
}

impl std::fmt::Debug for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Family")
            .field("name", &self.name)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

/// Every family of the harness, in listing order.
pub const ALL: [Family; 4] = [scsp::FAMILY, publisher::FAMILY, ds3::FAMILY, rucio::FAMILY];

/// The family named `name` (case-insensitive).
pub fn by_name(name: &str) -> Option<&'static Family> {
    ALL.iter()
        .find(|f| f.name.eq_ignore_ascii_case(name.trim()))
}

/// The family a rule belongs to, by its id prefix.
pub fn of_rule(rule: &Rule) -> Option<&'static Family> {
    by_name(&rule.protocol())
}

/// The names of every family, comma-separated, for errors.
pub fn known() -> String {
    ALL.map(|f| f.name).join(", ")
}

/// Why `rule` cannot run with the targets' roles: the first role it needs that `have`
/// lacks, as a skip reason.
pub fn missing_role(rule: &Rule, have: &BTreeSet<Role>) -> Option<String> {
    rule.roles
        .iter()
        .find(|r| !have.contains(r))
        .map(|r| r.missing_reason())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn roles_and_bare_lists_parse() {
        let t = Targets::parse(&args(&[
            "scsp=http://a.example:1,http://b.example:2",
            "publisher=http://c.example:3",
        ]))
        .expect("parses");
        assert_eq!(t.get(Role::Scsp).len(), 2);
        assert_eq!(t.get(Role::Publisher)[0].url(), "http://c.example:3");
        assert!(t.get(Role::Ds3).is_empty());
        assert_eq!(
            t.describe(),
            "scsp=http://a.example:1,http://b.example:2 publisher=http://c.example:3"
        );
        let bare = Targets::parse(&args(&["http://a.example:1,http://b.example:2"])).expect("bare");
        assert_eq!(bare.roles(), BTreeSet::from([Role::Scsp]));
        assert_eq!(
            bare,
            Targets::parse(&args(&["SCSP=http://a.example:1,http://b.example:2"])).expect("named")
        );
        // `=` in a URL's query does not make a role: it is parsed (and refused) as a URL.
        let query = Targets::parse(&args(&["http://a.example:1/?x=1"])).unwrap_err();
        assert!(query.contains("not a path"), "{query}");
    }

    #[test]
    fn bad_targets_are_errors() {
        let unknown = Targets::parse(&args(&["ftp=http://a:1"])).unwrap_err();
        assert!(
            unknown.contains("known roles: scsp, publisher, ds3, rucio"),
            "{unknown}"
        );
        let twice = Targets::parse(&args(&["http://a:1", "scsp=http://b:2"])).unwrap_err();
        assert!(twice.contains("role `scsp` twice"), "{twice}");
        assert!(Targets::parse(&args(&["publisher="]))
            .unwrap_err()
            .contains("no URL"));
        assert!(Targets::parse(&args(&["rucio=http://"])).is_err());
    }

    #[test]
    fn families_are_found_by_name_and_rule() {
        assert_eq!(by_name("SCSP").map(|f| f.name), Some("scsp"));
        assert!(by_name("ftp").is_none());
        assert_eq!(known(), "scsp, publisher, ds3, rucio");
        assert_eq!(by_name("Publisher").map(|f| f.name), Some("publisher"));
        for rule in crate::catalog::all() {
            let family = of_rule(&rule).expect("every rule has a family");
            assert!(
                rule.roles.iter().all(|r| family.roles.contains(r)),
                "{}",
                rule.id
            );
        }
        assert_eq!(by_name("ds3").map(|f| f.name), Some("ds3"));
        let rule = crate::catalog::all()
            .into_iter()
            .find(|r| r.id.starts_with("SCSP-"))
            .expect("SCSP rules");
        assert_eq!(missing_role(&rule, &BTreeSet::from([Role::Scsp])), None);
        assert_eq!(
            missing_role(&rule, &BTreeSet::from([Role::Publisher])).as_deref(),
            Some("needs a `scsp` target (--target scsp=URL)")
        );
    }
}
