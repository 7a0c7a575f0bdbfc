//! What a rule check returns: pass, fail or skip, always with evidence. Reporters format
//! verdicts; they never decide them.

use std::time::Duration;

use crate::catalog::Strength;
use crate::client::{ClientError, Exchange};

/// The three outcomes of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The target did what the rule requires.
    Pass,
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
            Outcome::Fail => "fail",
            Outcome::Skip => "skip",
        }
    }
}

/// A rule's result: outcome and a one-line reason a person can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Pass, fail or skip.
    pub outcome: Outcome,
    /// One line: what was seen (pass), what was wrong (fail) or what is missing (skip).
    pub evidence: String,
}

impl Verdict {
    /// A pass with what was observed.
    pub fn pass(evidence: impl Into<String>) -> Self {
        Self {
            outcome: Outcome::Pass,
            evidence: evidence.into(),
        }
    }

    /// A failure with what was wrong.
    pub fn fail(evidence: impl Into<String>) -> Self {
        Self {
            outcome: Outcome::Fail,
            evidence: evidence.into(),
        }
    }

    /// A skip with the reason the rule could not be checked.
    pub fn skip(reason: impl Into<String>) -> Self {
        Self {
            outcome: Outcome::Skip,
            evidence: reason.into(),
        }
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
