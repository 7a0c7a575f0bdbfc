//! The rule catalog: every rule's id, title, source, strength, needs and check.

use std::future::Future;
use std::pin::Pin;

use crate::rules;
use crate::target::{Capabilities, Ctx};
use crate::verdict::Verdict;

/// How binding a rule is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Strength {
    /// The documentation requires it.
    Must,
    /// The documentation recommends it.
    Should,
    /// The documentation is silent; replisim infers it (and the reference makes it a knob).
    Inf,
}

impl Strength {
    /// Upper-case name for tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Strength::Must => "MUST",
            Strength::Should => "SHOULD",
            Strength::Inf => "INF",
        }
    }
}

/// A boxed check future.
pub type CheckFuture = Pin<Box<dyn Future<Output = Verdict> + Send>>;

/// A rule check: given the context, a verdict.
pub type CheckFn = fn(Ctx) -> CheckFuture;

/// One rule of the catalog.
#[derive(Clone, Copy)]
pub struct Rule {
    /// Rule id from spec/protocols.md, e.g. `SCSP-3`.
    pub id: &'static str,
    /// What the rule says, in a line.
    pub title: &'static str,
    /// Where it comes from (seed document or doc page).
    pub source: &'static str,
    /// How binding it is.
    pub strength: Strength,
    /// Nodes the check needs at least.
    pub nodes_min: usize,
    /// Capabilities without which the rule is skipped entirely. Checks that only use a
    /// capability for part of their work say so in their evidence instead.
    pub needs: Capabilities,
    /// The check.
    pub check: CheckFn,
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rule")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Every rule with a check, in id order.
pub fn all() -> Vec<Rule> {
    let mut rules = Vec::new();
    rules.extend(rules::write::RULES);
    rules.extend(rules::redirect::RULES);
    rules.extend(rules::replication::RULES);
    rules.extend(rules::update::RULES);
    rules.sort_by_key(|r| rule_order(r.id));
    rules
}

/// Sort key that puts SCSP-9 before SCSP-10.
pub fn rule_order(id: &str) -> (String, u32) {
    match id.rsplit_once('-') {
        Some((family, n)) => (family.to_string(), n.parse().unwrap_or(u32::MAX)),
        None => (id.to_string(), u32::MAX),
    }
}

/// Rules whose id matches any of the patterns (`SCSP-3`, `SCSP-1*`, case-insensitive);
/// every rule when there are no patterns.
pub fn select(patterns: &[String]) -> Result<Vec<Rule>, String> {
    let all = all();
    if patterns.is_empty() {
        return Ok(all);
    }
    let picked: Vec<Rule> = all
        .into_iter()
        .filter(|r| patterns.iter().any(|p| id_matches(p, r.id)))
        .collect();
    if picked.is_empty() {
        let ids: Vec<&str> = self::all().iter().map(|r| r.id).collect();
        return Err(format!(
            "no rule matches {}; known rules: {}",
            patterns.join(", "),
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
}
