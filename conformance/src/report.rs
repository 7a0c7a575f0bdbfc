//! Reports: the terminal table. Reporters format verdicts; they never decide them.

use std::fmt::Write as _;

use crate::verdict::{Outcome, RuleResult};

/// Counts of each outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Rules passed.
    pub passed: usize,
    /// Rules failed.
    pub failed: usize,
    /// Rules skipped.
    pub skipped: usize,
}

/// Counts the outcomes.
pub fn summarize(results: &[RuleResult]) -> Summary {
    let mut s = Summary::default();
    for r in results {
        match r.verdict.outcome {
            Outcome::Pass => s.passed += 1,
            Outcome::Fail => s.failed += 1,
            Outcome::Skip => s.skipped += 1,
        }
    }
    s
}

/// The per-rule table: id, outcome, title, one-line evidence; failures get their last
/// exchanges underneath; then the summary line.
pub fn table(results: &[RuleResult], color: bool) -> String {
    let mut out = String::new();
    let id_width = results.iter().map(|r| r.id.len()).max().unwrap_or(2).max(4);
    let title_width = results
        .iter()
        .map(|r| r.title.len())
        .max()
        .unwrap_or(5)
        .clamp(5, 72);
    let _ = writeln!(
        out,
        "{:<id_width$}  {:<7}{:<title_width$}  EVIDENCE",
        "RULE", "RESULT", "TITLE"
    );
    for r in results {
        let word = r.verdict.outcome.as_str().to_ascii_uppercase();
        let shown = if color {
            let code = match r.verdict.outcome {
                Outcome::Pass => "32",
                Outcome::Fail => "31",
                Outcome::Skip => "33",
            };
            format!("\x1b[{code}m{word:<6}\x1b[0m ")
        } else {
            format!("{word:<7}")
        };
        let title: String = r.title.chars().take(title_width).collect();
        let _ = writeln!(
            out,
            "{:<id_width$}  {shown}{title:<title_width$}  {}",
            r.id, r.verdict.evidence
        );
        if r.verdict.outcome == Outcome::Fail {
            for e in r
                .transcript
                .iter()
                .rev()
                .take(2)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
            {
                let request_line = e.request_head.lines().next().unwrap_or("");
                let status_line = e.response_head.lines().next().unwrap_or("(no response)");
                let _ = writeln!(
                    out,
                    "{:id_width$}    {} {request_line} → {status_line}",
                    "", e.addr
                );
            }
        }
    }
    let s = summarize(results);
    let _ = writeln!(
        out,
        "{} passed, {} failed, {} skipped",
        s.passed, s.failed, s.skipped
    );
    out
}
