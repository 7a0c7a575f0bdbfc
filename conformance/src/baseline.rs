//! Baselines: failures a vendor has accepted for now, so CI fails only on regressions.
//!
//! A baseline is a text file with one rule id per line; `#` starts a comment (the rest of the
//! line). `replisim check --write-baseline FILE` writes the current failures, each followed by
//! its evidence as a comment; `--baseline FILE` reads one back. A failure listed there is
//! *known*: still shown, but it does not make the exit status non-zero. A failure not listed
//! is *new*. A listed rule that now passes is *fixed*: remove it from the baseline.
//!
//! ```text
//! # replisim baseline: accepted failures, one rule id per line; `#` starts a comment.
//! SCSP-3   # retiring node answered 307; expected 301
//! ```

use std::collections::BTreeMap;

use crate::verdict::{Outcome, RuleResult};

/// The accepted failures: rule id (upper case) → the comment written beside it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Baseline {
    /// Rule id → comment (empty when the line had none).
    pub entries: BTreeMap<String, String>,
}

/// Where a rule's result stands against a baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Standing {
    /// Failed and not in the baseline: a regression, or a rule not yet accepted.
    New,
    /// Failed and in the baseline: accepted for now.
    Known,
    /// In the baseline but passes now: the entry should be removed.
    Fixed,
}

impl Standing {
    /// Lower-case name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Standing::New => "new",
            Standing::Known => "known",
            Standing::Fixed => "fixed",
        }
    }
}

fn is_rule_id(s: &str) -> bool {
    s.split_once('-').is_some_and(|(family, n)| {
        !family.is_empty()
            && family.bytes().all(|b| b.is_ascii_alphanumeric())
            && family.as_bytes()[0].is_ascii_alphabetic()
            && !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
    })
}

impl Baseline {
    /// Parses the text format; errors name the line.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut entries = BTreeMap::new();
        for (i, line) in text.lines().enumerate() {
            let (content, comment) = match line.split_once('#') {
                Some((c, comment)) => (c, comment.trim()),
                None => (line, ""),
            };
            let words: Vec<&str> = content.split_whitespace().collect();
            match words.as_slice() {
                [] => {}
                [id] if is_rule_id(id) => {
                    entries.insert(id.to_ascii_uppercase(), comment.to_string());
                }
                _ => {
                    return Err(format!(
                        "line {}: expected one rule id such as SCSP-3 (and an optional # comment), found `{}`",
                        i + 1,
                        content.trim()
                    ))
                }
            }
        }
        Ok(Self { entries })
    }

    /// Reads and parses a baseline file.
    pub fn load(path: &std::path::Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read baseline {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("baseline {}: {e}", path.display()))
    }

    /// The failures of a run, each with its evidence as the comment.
    pub fn from_failures(results: &[RuleResult]) -> Self {
        let entries = results
            .iter()
            .filter(|r| r.verdict.outcome == Outcome::Fail)
            .map(|r| {
                let evidence: String = r
                    .verdict
                    .evidence
                    .chars()
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .collect();
                (r.id.to_ascii_uppercase(), evidence)
            })
            .collect();
        Self { entries }
    }

    /// The text format, with `about` (what run it came from) in the header comment.
    pub fn render(&self, about: &str) -> String {
        let mut out = String::from(
            "# replisim baseline: accepted failures, one rule id per line; `#` starts a comment.\n\
             # `replisim check --baseline FILE` shows these as known and does not fail on them.\n",
        );
        for line in about.lines() {
            out.push_str(&format!("# {line}\n"));
        }
        let width = self.entries.keys().map(String::len).max().unwrap_or(0);
        let mut ids: Vec<&String> = self.entries.keys().collect();
        ids.sort_by_key(|id| crate::catalog::rule_order(id));
        for id in ids {
            let comment = &self.entries[id];
            if comment.is_empty() {
                out.push_str(&format!("{id}\n"));
            } else {
                out.push_str(&format!("{id:<width$}  # {comment}\n"));
            }
        }
        out
    }

    /// Whether the rule is listed.
    pub fn contains(&self, id: &str) -> bool {
        self.entries.contains_key(&id.to_ascii_uppercase())
    }

    /// Where a result stands: `None` for passes and skips the baseline does not mention.
    pub fn standing(&self, result: &RuleResult) -> Option<Standing> {
        match (result.verdict.outcome, self.contains(result.id)) {
            (Outcome::Fail, true) => Some(Standing::Known),
            (Outcome::Fail, false) => Some(Standing::New),
            (Outcome::Pass, true) => Some(Standing::Fixed),
            _ => None,
        }
    }

    /// Listed ids that are not among `known_ids` (a typo, or a rule that was removed).
    pub fn unknown_ids<'a>(&'a self, known_ids: &[&str]) -> Vec<&'a str> {
        self.entries
            .keys()
            .filter(|id| !known_ids.iter().any(|k| k.eq_ignore_ascii_case(id)))
            .map(String::as_str)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Strength;
    use crate::verdict::Verdict;

    fn result(id: &'static str, verdict: Verdict) -> RuleResult {
        RuleResult {
            id,
            title: "t",
            source: "s",
            strength: Strength::Must,
            verdict,
            transcript: Vec::new(),
            elapsed: std::time::Duration::ZERO,
            cleanup: None,
        }
    }

    #[test]
    fn round_trips_through_text() {
        let results = vec![
            result(
                "SCSP-10",
                Verdict::fail("Replica-Count: 3\r\nwith # inside"),
            ),
            result("SCSP-3", Verdict::fail("no 301")),
            result("SCSP-4", Verdict::pass("ok")),
        ];
        let written = Baseline::from_failures(&results).render("against x, seed 1");
        assert!(written.find("SCSP-3").expect("3") < written.find("SCSP-10").expect("10"));
        let read = Baseline::parse(&written).expect("parses");
        assert_eq!(read.entries.len(), 2);
        assert!(read.contains("scsp-3") && read.contains("SCSP-10"));
        assert_eq!(read.entries["SCSP-3"], "no 301");
    }

    #[test]
    fn standings() {
        let b = Baseline::parse("SCSP-1\nSCSP-2 # flaky\n\n  # only a comment\n").expect("ok");
        assert_eq!(
            b.standing(&result("SCSP-1", Verdict::fail("x"))),
            Some(Standing::Known)
        );
        assert_eq!(
            b.standing(&result("SCSP-2", Verdict::pass("x"))),
            Some(Standing::Fixed)
        );
        assert_eq!(
            b.standing(&result("SCSP-3", Verdict::fail("x"))),
            Some(Standing::New)
        );
        assert_eq!(b.standing(&result("SCSP-2", Verdict::skip("x"))), None);
        assert_eq!(b.unknown_ids(&["SCSP-1"]), vec!["SCSP-2"]);
    }

    #[test]
    fn bad_lines_are_named() {
        let err = Baseline::parse("SCSP-1\nSCSP-2 SCSP-3\n").unwrap_err();
        assert!(err.starts_with("line 2:"), "{err}");
        assert!(Baseline::parse("scsp3\n").is_err());
        assert!(Baseline::parse("-3\n").is_err());
    }
}
