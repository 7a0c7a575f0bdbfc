//! What a rule check returns: pass, partial, fail or skip, always with evidence and the
//! clauses behind it. Reporters format verdicts; they never decide them.

use std::time::Duration;

use crate::catalog::Strength;
use crate::clause::{Clause, ClauseState};
use crate::client::{ClientError, Exchange};

/// The four outcomes of a rule. PARTIAL is never a pass, and it does not change the exit
/// status: some clause could not be observed on this target (it needs fault or clock
/// control, or the target never gave the occasion), and none failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Every judged clause was observed and held.
    Pass,
    /// No clause failed, but some judged clause was not observed.
    Partial,
    /// The target broke the rule; the evidence says how.
    Fail,
    /// The rule could not be checked on this target; the evidence says why.
    Skip,
}

impl Outcome {
    /// Lower-case name for tables and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Partial => "partial",
            Outcome::Fail => "fail",
            Outcome::Skip => "skip",
        }
    }
}

/// A rule's result: outcome, a one-line reason a person can act on, and its clauses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Pass, partial, fail or skip.
    pub outcome: Outcome,
    /// One line: what was seen (pass), what was wrong (fail), what was not observed
    /// (partial) or what is missing (skip).
    pub evidence: String,
    /// The rule's clauses and how each ended (empty for rules that were not run).
    pub clauses: Vec<Clause>,
}

impl Verdict {
    /// A pass with what was observed.
    pub fn pass(evidence: impl Into<String>) -> Self {
        Self {
            outcome: Outcome::Pass,
            evidence: evidence.into(),
            clauses: Vec::new(),
        }
    }

    /// A failure with what was wrong.
    pub fn fail(evidence: impl Into<String>) -> Self {
        Self {
            outcome: Outcome::Fail,
            evidence: evidence.into(),
            clauses: Vec::new(),
        }
    }

    /// A skip with the reason the rule could not be checked.
    pub fn skip(reason: impl Into<String>) -> Self {
        Self {
            outcome: Outcome::Skip,
            evidence: reason.into(),
            clauses: Vec::new(),
        }
    }

    /// The same verdict carrying these clauses.
    pub fn with_clauses(mut self, clauses: Vec<Clause>) -> Self {
        self.clauses = clauses;
        self
    }

    /// The verdict its clauses decide: FAIL if any failed, else PARTIAL if any was not
    /// observed, else PASS if any passed; a rule whose clauses are all not judged (every one
    /// a reference choice, in the vendor profile) is a SKIP.
    pub fn from_clauses(clauses: Vec<Clause>) -> Self {
        let of = |want: &str| -> Vec<&Clause> {
            clauses
                .iter()
                .filter(|c| c.state.as_str() == want)
                .collect()
        };
        let (failed, unobserved, passed) = (of("fail"), of("not-observed"), of("pass"));
        let (outcome, evidence) = if let Some(first) = failed.first() {
            (
                Outcome::Fail,
                format!("{}: {}", first.id, first.state.text()),
            )
        } else if !unobserved.is_empty() {
            let list: Vec<String> = unobserved
                .iter()
                .map(|c| format!("{} ({})", c.id, c.state.text()))
                .collect();
            (
                Outcome::Partial,
                format!(
                    "{} of {} judged clauses observed; not observed: {}",
                    passed.len(),
                    passed.len() + unobserved.len(),
                    list.join("; ")
                ),
            )
        } else if passed.is_empty() {
            (
                Outcome::Skip,
                "every clause rests on a choice of the reference node; none is judged in the vendor profile".to_string(),
            )
        } else {
            let seen: Vec<&str> = passed.iter().map(|c| c.state.text()).collect();
            (Outcome::Pass, seen.join("; "))
        };
        Self {
            outcome,
            evidence,
            clauses,
        }
    }

    /// Decides the outcome again after clauses changed (redirects judged across rules).
    pub fn recompute(&mut self) {
        if self.outcome == Outcome::Skip && self.clauses.is_empty() {
            return;
        }
        let clauses = std::mem::take(&mut self.clauses);
        *self = Verdict::from_clauses(clauses);
    }

    /// The clause with this id, if the verdict has it.
    pub fn clause(&self, id: &str) -> Option<&Clause> {
        self.clauses.iter().find(|c| c.id == id)
    }

    /// Whether some judged clause was not observed.
    pub fn has_unobserved(&self) -> bool {
        self.clauses
            .iter()
            .any(|c| matches!(c.state, ClauseState::NotObserved(_)))
    }
}

/// A target that gives no usable answer has failed the rule being checked.
impl From<ClientError> for Verdict {
    fn from(e: ClientError) -> Self {
        Verdict::fail(format!("no usable response: {e}"))
    }
}

/// A rule's verdict with the exchanges that produced it.
#[derive(Debug, Clone)]
pub struct RuleResult {
    /// The rule id, e.g. `SCSP-3`.
    pub id: &'static str,
    /// The rule title.
    pub title: &'static str,
    /// Where the rule comes from.
    pub source: &'static str,
    /// How binding the rule is (reports show it; a vendor may select by it).
    pub strength: Strength,

    /// The verdict.
    pub verdict: Verdict,
    /// Every exchange the check made, oldest first (credentials redacted).
    pub transcript: Vec<Exchange>,
    /// Wall-clock time the rule took, cleanup included.
    pub elapsed: Duration,
    /// What cleaning up after the rule did, when it did anything (HTTP targets only).
    /// Cleanup never changes the verdict; a cleanup problem is also appended to the
    /// evidence.
    pub cleanup: Option<String>,
}
