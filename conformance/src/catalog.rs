//! The rule catalog: every rule's id, title, source, strength, needs and check.
//!
//! Every rule of the protocol documents is listed, checked or not, so that a vendor sees
//! what was *not* verified as clearly as what was. The catalog aggregates the protocol
//! families (`families::ALL`). SCSP's checked rules come from the `RULES` arrays of the
//! modules under `rules/` (`families::scsp::checked`); [`UNCHECKED`] lists the remaining
//! SCSP rules with the reason each has no check. A rule module that adds a check for an id listed in [`UNCHECKED`]
//! replaces that entry (delete it from [`UNCHECKED`] when convenient); two *checked* rules
//! with one id are a bug that the unit tests catch.

use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;

use crate::clause::ClauseSpec;
use crate::families::{self, Role};
use crate::target::{Capabilities, Ctx};
use crate::verdict::Verdict;

/// How binding a rule is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub enum Strength {
    /// The documentation requires it.
    Must,
    /// The documentation recommends it.
    Should,
    /// The documentation is silent; replisim infers it (and the reference makes it a knob).
    Inf,
}

impl Strength {
    /// Every strength, for help texts and errors.
    pub const ALL: [Strength; 3] = [Strength::Must, Strength::Should, Strength::Inf];

    /// Upper-case name for tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Strength::Must => "MUST",
            Strength::Should => "SHOULD",
            Strength::Inf => "INF",
        }
    }
}

impl FromStr for Strength {
    type Err = String;

    /// Parses `must`, `should` or `inf`, in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Strength::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown strength `{s}`; use must, should or inf"))
    }
}

/// A boxed check future. It judges clauses through `Ctx::clauses` and ends with `Ok(())`,
/// or with the failure (or skip) that stopped it; the runner turns the clauses into the
/// verdict (`Clauses::finish`).
pub type CheckFuture = Pin<Box<dyn Future<Output = Result<(), Verdict>> + Send>>;

/// A rule check: given the context, its clauses judged.
pub type CheckFn = fn(Ctx) -> CheckFuture;

/// Whether and how a rule is checked. A rule without a check is always reported as a skip
/// carrying its reason, never as a pass.
#[derive(Clone, Copy)]
pub enum Check {
    /// The rule is checked by this function.
    Run(CheckFn),
    /// The rule has no check; the text says why (not written yet, or impossible from
    /// outside the target) and becomes the skip evidence.
    Unchecked(&'static str),
}

/// One rule of the catalog.
#[derive(Clone, Copy)]
pub struct Rule {
    /// Rule id, e.g. `SCSP-3` (docs/rules.md lists them all).
    pub id: &'static str,
    /// What the rule says, in a line.
    pub title: &'static str,
    /// Where it comes from: keys of [`crate::sources`], comma-separated.
    pub source: &'static str,
    /// How binding it is.
    pub strength: Strength,
    /// Nodes the check needs at least.
    pub nodes_min: usize,
    /// Capabilities without which the rule is skipped entirely.
    pub needs: Capabilities,
    /// The target roles the check talks to; a run whose targets lack one skips the rule,
    /// naming the role (`families::missing_role`).
    pub roles: &'static [Role],
    /// Capabilities the check uses for part of its work when the target has them (and says
    /// so in its evidence when it does not). The HTTP runner runs a rule that needs or uses
    /// faults or admin control alone, since it disturbs the whole cluster.
    pub uses: Capabilities,
    /// The check, or why there is none.
    pub check: Check,
    /// The clauses the check judges, in the order it judges them (empty for unchecked
    /// rules).
    pub clauses: &'static [ClauseSpec],
}

impl Rule {
    /// A checked rule with the defaults most rules share (one node, no capabilities); the
    /// families' own table helpers start from it and override what differs.
    pub const fn checked(
        id: &'static str,
        title: &'static str,
        source: &'static str,
        strength: Strength,
        roles: &'static [Role],
        check: CheckFn,
        clauses: &'static [ClauseSpec],
    ) -> Rule {
        Rule {
            id,
            title,
            source,
            strength,
            nodes_min: 1,
            needs: Capabilities::NONE,
            roles,
            uses: Capabilities::NONE,
            check: Check::Run(check),
            clauses,
        }
    }

    /// A rule without a check, listed with the reason (skipped when run).
    pub const fn without_check(
        id: &'static str,
        title: &'static str,
        source: &'static str,
        strength: Strength,
        roles: &'static [Role],
        reason: &'static str,
    ) -> Rule {
        Rule {
            id,
            title,
            source,
            strength,
            nodes_min: 1,
            needs: Capabilities::NONE,
            roles,
            uses: Capabilities::NONE,
            check: Check::Unchecked(reason),
            clauses: &[],
        }
    }

    /// The protocol family, from the id prefix: `SCSP-3` → `scsp`.
    pub fn protocol(&self) -> String {
        protocol_of(self.id)
    }

    /// Whether the rule has a check.
    pub fn is_checked(&self) -> bool {
        matches!(self.check, Check::Run(_))
    }

    /// Whether any clause is judged in `profile` (a rule made only of reference choices
    /// is skipped in the vendor profile without running).
    pub fn judged_in(&self, profile: crate::clause::Profile) -> bool {
        self.clauses.iter().any(|c| c.basis.judged_in(profile))
    }

    /// Full ids of the rule's clauses.
    pub fn clause_ids(&self) -> Vec<String> {
        self.clauses
            .iter()
            .map(|c| crate::clause::clause_id(self.id, c.slug))
            .collect()
    }
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rule")
            .field("id", &self.id)
            .field("checked", &self.is_checked())
            .finish_non_exhaustive()
    }
}

/// The protocol family of a rule id (`SCSP-3` → `scsp`). The publisher's rules keep the
/// `ENUM-n` ids the protocol documents and the spec use (`ENUM-3` → `publisher`).
pub fn protocol_of(id: &str) -> String {
    let prefix = id
        .rsplit_once('-')
        .map_or(id, |(family, _)| family)
        .to_ascii_lowercase();
    // Families whose rules keep the research catalog's prefix (spec section 3: BP-n; section 4: RUC-n).
    match prefix.as_str() {
        "bp" => "ds3".to_string(),
        "enum" => "publisher".to_string(),
        "ruc" => "rucio".to_string(),
        _ => prefix,
    }
}

/// Every rule of every family (`families::ALL`), checked or not, in id order (SCSP-9
/// before SCSP-10).
pub fn all() -> Vec<Rule> {
    let mut rules: Vec<Rule> = families::ALL.iter().flat_map(|f| (f.rules)()).collect();
    rules.sort_by_key(|r| rule_order(r.id));
    rules
}

/// Sort key that puts SCSP-9 before SCSP-10, and the families in `families::ALL` order
/// (SCSP first).
pub fn rule_order(id: &str) -> (usize, String, u32) {
    let family = families::ALL
        .iter()
        .position(|f| f.name == protocol_of(id))
        .unwrap_or(usize::MAX);
    match id.rsplit_once('-') {
        Some((prefix, n)) => (family, prefix.to_string(), n.parse().unwrap_or(u32::MAX)),
        None => (family, id.to_string(), u32::MAX),
    }
}

/// Which rules a run or a listing takes. Each list that is not empty must match; an empty
/// list matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Id patterns (`SCSP-3`, `SCSP-1*`, case-insensitive); a rule matching any is taken.
    pub ids: Vec<String>,
    /// Protocol families (`scsp`), case-insensitive.
    pub protocols: Vec<String>,
    /// Strengths to keep.
    pub strengths: Vec<Strength>,
}

/// Rules whose id matches any of the patterns (`SCSP-3`, `SCSP-1*`, case-insensitive);
/// every rule when there are no patterns.
pub fn select(patterns: &[String]) -> Result<Vec<Rule>, String> {
    select_with(&Selection {
        ids: patterns.to_vec(),
        ..Selection::default()
    })
}

/// Rules that the selection takes, in catalog order. An error names what matched nothing
/// and what exists, so a typo is easy to fix.
pub fn select_with(selection: &Selection) -> Result<Vec<Rule>, String> {
    let all = all();
    for p in &selection.protocols {
        if families::by_name(p).is_none() {
            return Err(format!(
                "unknown protocol `{p}`; known protocols: {}",
                families::known()
            ));
        }
    }
    let picked: Vec<Rule> = all
        .iter()
        .filter(|r| selection.ids.is_empty() || selection.ids.iter().any(|p| id_matches(p, r.id)))
        .filter(|r| {
            selection.protocols.is_empty()
                || selection
                    .protocols
                    .iter()
                    .any(|p| p.eq_ignore_ascii_case(&r.protocol()))
        })
        .filter(|r| selection.strengths.is_empty() || selection.strengths.contains(&r.strength))
        .copied()
        .collect();
    if picked.is_empty() {
        let ids: Vec<&str> = all.iter().map(|r| r.id).collect();
        let mut asked = selection.ids.clone();
        asked.extend(selection.protocols.iter().map(|p| format!("protocol {p}")));
        asked.extend(
            selection
                .strengths
                .iter()
                .map(|s| format!("strength {}", s.as_str())),
        );
        return Err(format!(
            "no rule matches {}; known rules: {}",
            asked.join(", "),
            ids.join(", ")
        ));
    }
    Ok(picked)
}

fn id_matches(pattern: &str, id: &str) -> bool {
    let (p, id) = (pattern.to_ascii_uppercase(), id.to_ascii_uppercase());
    match p.strip_suffix('*') {
        Some(prefix) => id.starts_with(prefix),
        None => p == id,
    }
}

/// An entry of [`UNCHECKED`].
const fn unchecked(
    id: &'static str,
    title: &'static str,
    source: &'static str,
    strength: Strength,
    nodes_min: usize,
    needs: Capabilities,
    reason: &'static str,
) -> Rule {
    Rule {
        nodes_min,
        needs,
        ..Rule::without_check(id, title, source, strength, families::scsp::ROLES, reason)
    }
}

const NONE: Capabilities = Capabilities::NONE;
const INTROSPECTION: Capabilities = Capabilities {
    introspection: true,
    ..Capabilities::NONE
};
const ADMIN: Capabilities = Capabilities {
    admin: true,
    ..Capabilities::NONE
};

/// The SCSP rules that have no check, each with the reason. The
/// capabilities are those a check would need.
pub const UNCHECKED: [Rule; 5] = [
    unchecked(
        "SCSP-6",
        "the lowest-cost bidder services a request; a redirect is issued iff it is not the access node",
        "KB/38050164",
        Strength::Must,
        2,
        INTROSPECTION,
        "cannot be checked from outside: bids and their inputs are proprietary; it needs a target that exposes its bids",
    ),
    unchecked(
        "SCSP-11",
        "after a 201 with fewer replicas than the policy, the cluster eventually reaches the policy count",
        "PF/2443821675",
        Strength::Must,
        2,
        INTROSPECTION,
        "not checked by the catalog yet: needs replica counts (introspection) and a bounded wait; `replisim sweep` checks it as the convergence invariant",
    ),
    unchecked(
        "SCSP-39",
        "a READ 404 is a legitimate transient outcome; a client that knows the object exists retries",
        "PF/2443821568",
        Strength::Should,
        1,
        NONE,
        "a rule for clients and checkers, not for nodes: the harness honours it (sweeps retry reads before judging durability)",
    ),
    unchecked(
        "SCSP-44",
        "a domain READ first answers 401 with Digest and Basic challenges for <cluster>/_administrators",
        "PF/2443821550",
        Strength::Must,
        1,
        ADMIN,
        "not checked yet: needs a protected domain on the target, which the reference node does not model",
    ),
    unchecked(
        "SCSP-45",
        "every replica of an object has the same UUID and content; a UUID is never reassigned",
        "PF/2443810982",
        Strength::Must,
        2,
        INTROSPECTION,
        "not checked by the catalog: needs every replica's bytes (introspection); `replisim sweep` checks it as the integrity invariant",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_sorted() {
        let ids: Vec<&str> = all().iter().map(|r| r.id).collect();
        let mut sorted = ids.clone();
        sorted.sort_by_key(|id| rule_order(id));
        sorted.dedup();
        assert_eq!(ids, sorted);
    }

    #[test]
    fn checked_rules_never_share_an_id() {
        let mut ids: Vec<&str> = families::scsp::checked().iter().map(|r| r.id).collect();
        let n = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), n, "two rule modules check the same id");
        for r in UNCHECKED {
            assert!(matches!(r.check, Check::Unchecked(reason) if !reason.is_empty()));
        }
    }

    #[test]
    fn every_scsp_rule_of_the_spec_is_listed() {
        let all = all();
        for n in 1..=45 {
            let id = format!("SCSP-{n}");
            let rule = all
                .iter()
                .find(|r| r.id == id)
                .unwrap_or_else(|| panic!("{id} is missing from the catalog"));
            assert!(!rule.title.is_empty() && !rule.source.is_empty());
            assert_eq!(rule.is_checked(), !rule.clauses.is_empty(), "{id}");
        }
        assert_eq!(all.iter().filter(|r| r.protocol() == "scsp").count(), 45);
    }

    #[test]
    fn clause_slugs_are_unique_kebab_case() {
        for rule in all() {
            let mut seen = std::collections::BTreeSet::new();
            for c in rule.clauses {
                assert!(seen.insert(c.slug), "{}.{} twice", rule.id, c.slug);
                assert!(
                    !c.slug.is_empty()
                        && c.slug
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                    "{}.{} is not kebab-case",
                    rule.id,
                    c.slug
                );
                assert!(!c.claim.is_empty());
            }
        }
    }

    #[test]
    fn patterns_select_rules() {
        let one = select(&["scsp-3".to_string()]).expect("SCSP-3 exists");
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].id, "SCSP-3");
        let ones = select(&["SCSP-1*".to_string()]).expect("some SCSP-1x");
        assert!(ones.iter().all(|r| r.id.starts_with("SCSP-1")));
        assert!(ones.len() >= 3);
        let err = select(&["NOPE-1".to_string()]).unwrap_err();
        assert!(err.contains("known rules"));
    }

    #[test]
    fn protocol_and_strength_filter() {
        let scsp = select_with(&Selection {
            protocols: vec!["SCSP".into()],
            ..Selection::default()
        })
        .expect("scsp rules");
        assert_eq!(
            scsp.len(),
            all().iter().filter(|r| r.id.starts_with("SCSP-")).count()
        );
        let ds3 = select_with(&Selection {
            protocols: vec!["ds3".into()],
            ..Selection::default()
        })
        .expect("ds3 rules");
        assert_eq!(ds3.len(), 20);
        assert!(ds3.iter().all(|r| r.id.starts_with("BP-")));
        let publisher = select_with(&Selection {
            protocols: vec!["publisher".into()],
            ..Selection::default()
        })
        .expect("publisher rules");
        assert_eq!(publisher.len(), 16);
        assert!(publisher.iter().all(|r| r.id.starts_with("ENUM-")));
        let rucio = select_with(&Selection {
            protocols: vec!["rucio".into()],
            ..Selection::default()
        })
        .expect("rucio rules");
        assert!(rucio.iter().all(|r| r.id.starts_with("RUC-")));
        assert_eq!(
            scsp.len() + publisher.len() + ds3.len() + rucio.len(),
            all().len()
        );
        assert_eq!(all().last().map(|r| r.id), Some("RUC-25"));
        let inferred = select_with(&Selection {
            strengths: vec![Strength::Inf],
            ..Selection::default()
        })
        .expect("some INF rules");
        assert!(inferred.iter().all(|r| r.strength == Strength::Inf));
        assert!(inferred.iter().any(|r| r.id == "SCSP-24"));
        let err = select_with(&Selection {
            protocols: vec!["ftp".into()],
            ..Selection::default()
        })
        .unwrap_err();
        assert!(err.contains("known protocols: scsp"), "{err}");
        let none = select_with(&Selection {
            ids: vec!["SCSP-24".into()],
            strengths: vec![Strength::Must],
            ..Selection::default()
        })
        .unwrap_err();
        assert!(none.contains("strength MUST"), "{none}");
        assert_eq!("Should".parse::<Strength>(), Ok(Strength::Should));
        assert!("maybe".parse::<Strength>().is_err());
    }
}
