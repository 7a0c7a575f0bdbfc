//! Reports: the terminal table, and JSON, JUnit XML, Markdown and HTML files. Reporters
//! format verdicts; they never decide them (only the CLI maps results to exit codes).
//!
//! Everything a target sent (evidence, transcripts) is untrusted text: each format escapes
//! it, and control characters are shown as `\u{..}` so that no target can write escape
//! sequences to a terminal or break a file's syntax.

use std::fmt::Write as _;
use std::time::Duration;

use crate::baseline::{Baseline, Standing};
use crate::client::Exchange;
use crate::verdict::{Outcome, RuleResult};

pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;

/// Counts of each outcome, and of baseline standings when a baseline was given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// Rules run or skipped.
    pub rules: usize,
    /// Rules passed.
    pub passed: usize,
    /// Rules partly observed: no clause failed, some were not observed. Never a pass;
    /// does not change the exit status.
    pub partial: usize,
    /// Rules failed (known ones included).
    pub failed: usize,
    /// Rules skipped.
    pub skipped: usize,
    /// Failures listed in the baseline.
    pub known: usize,
    /// Failures not listed in the baseline (all failures when there is none).
    pub new: usize,
    /// Baseline entries whose rule passes now.
    pub fixed: usize,
}

/// Counts the outcomes.
pub fn summarize(results: &[RuleResult]) -> Summary {
    summarize_against(results, None)
}

/// Counts the outcomes and where failures stand against `baseline`.
pub fn summarize_against(results: &[RuleResult], baseline: Option<&Baseline>) -> Summary {
    let mut s = Summary {
        rules: results.len(),
        ..Summary::default()
    };
    for r in results {
        match r.verdict.outcome {
            Outcome::Pass => s.passed += 1,
            Outcome::Partial => s.partial += 1,
            Outcome::Fail => s.failed += 1,
            Outcome::Skip => s.skipped += 1,
        }
        match baseline.and_then(|b| b.standing(r)) {
            Some(Standing::Known) => s.known += 1,
            Some(Standing::Fixed) => s.fixed += 1,
            Some(Standing::New) => s.new += 1,
            None if r.verdict.outcome == Outcome::Fail => s.new += 1,
            None => {}
        }
    }
    s
}

/// Everything a report shows about one `check` run.
#[derive(Debug, Clone)]
pub struct Report {
    /// The replisim version that produced it.
    pub version: &'static str,
    /// The run's seed.
    pub seed: u64,
    /// What was checked (`simulated cluster of 4 nodes`, or node URLs).
    pub target: String,
    /// Wall-clock time of the whole run.
    pub elapsed: Duration,
    /// One result per rule, in catalog order.
    pub results: Vec<RuleResult>,
    /// The baseline the run was compared with, and the file it came from.
    pub baseline: Option<(String, Baseline)>,
    /// The command that replays the run.
    pub replay: String,
    /// The profile the rules were judged in (`None` when not recorded).
    pub profile: Option<crate::clause::Profile>,
}

impl Report {
    /// A report without a baseline.
    pub fn new(seed: u64, target: impl Into<String>, results: Vec<RuleResult>) -> Self {
        Self {
            version: env!("CARGO_PKG_VERSION"),
            seed,
            target: target.into(),
            elapsed: Duration::ZERO,
            results,
            baseline: None,
            replay: format!("replisim check --seed {seed}"),
            profile: None,
        }
    }

    /// Counts, against the baseline when there is one.
    pub fn summary(&self) -> Summary {
        summarize_against(&self.results, self.baseline.as_ref().map(|(_, b)| b))
    }

    /// Where a result stands against the baseline; `None` without a baseline.
    pub fn standing(&self, result: &RuleResult) -> Option<Standing> {
        self.baseline.as_ref().and_then(|(_, b)| b.standing(result))
    }

    /// Ids of baseline entries whose rule passes now.
    pub fn fixed(&self) -> Vec<&'static str> {
        self.results
            .iter()
            .filter(|r| self.standing(r) == Some(Standing::Fixed))
            .map(|r| r.id)
            .collect()
    }

    /// The word a table shows for a result: PASS, PARTIAL, FAIL, SKIP, or KNOWN for an
    /// accepted failure.
    pub fn word(&self, result: &RuleResult) -> &'static str {
        match (result.verdict.outcome, self.standing(result)) {
            (Outcome::Fail, Some(Standing::Known)) => "KNOWN",
            (Outcome::Pass, _) => "PASS",
            (Outcome::Partial, _) => "PARTIAL",
            (Outcome::Fail, _) => "FAIL",
            (Outcome::Skip, _) => "SKIP",
        }
    }

    /// The evidence with the baseline's word on it, for one-line displays.
    pub fn evidence_line(&self, result: &RuleResult) -> String {
        match self.standing(result) {
            Some(Standing::Known) => {
                format!("known failure (baseline): {}", result.verdict.evidence)
            }
            Some(Standing::Fixed) => format!(
                "fixed — remove it from the baseline: {}",
                result.verdict.evidence
            ),
            _ => result.verdict.evidence.clone(),
        }
    }

    /// The summary as a sentence, e.g. `12 passed, 2 partial, 1 failed, 3 skipped`, with
    /// the baseline counts after it when there is a baseline.
    pub fn summary_line(&self) -> String {
        let s = self.summary();
        let mut line = format!(
            "{} passed, {} partial, {} failed, {} skipped",
            s.passed, s.partial, s.failed, s.skipped
        );
        if self.baseline.is_some() {
            let _ = write!(
                line,
                "\nbaseline: {} known, {} new failures",
                s.known, s.new
            );
            let fixed = self.fixed();
            if !fixed.is_empty() {
                let _ = write!(
                    line,
                    "; fixed — remove from the baseline: {}",
                    fixed.join(", ")
                );
            }
        }
        line
    }
}

/// Text from a target made safe to show anywhere: control characters other than newline
/// and tab become `\u{..}`.
pub fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

/// One line of text: [`printable`], with CR LF shown as `⏎` and other line breaks as spaces.
pub fn one_line(s: &str) -> String {
    printable(&s.replace("\r\n", "⏎ ").replace(['\r', '\n'], " "))
}

/// An exchange as plain text: the request head, the response heads and a preview of the
/// body, as they crossed the wire (line endings normalised), with the outcome.
pub fn exchange_text(e: &Exchange) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "→ {} ({} body bytes sent, {} ms)",
        e.addr,
        e.request_body_len,
        e.elapsed.as_millis()
    );
    for line in e.request_head.lines() {
        let _ = writeln!(out, "  {}", printable(line));
    }
    match &e.outcome {
        Ok(status) => {
            let _ = writeln!(out, "← {status}");
        }
        Err(err) => {
            let _ = writeln!(out, "← no usable response: {}", printable(&err.to_string()));
        }
    }
    for line in e.response_head.lines() {
        let _ = writeln!(out, "  {}", printable(line));
    }
    if !e.response_body_preview.is_empty() {
        let _ = writeln!(
            out,
            "  [body preview] {}",
            one_line(&e.response_body_preview)
        );
    }
    out
}

/// One line per clause for the terminal: state, id, basis and what was seen.
pub fn clause_line(c: &crate::clause::Clause) -> String {
    let exchange = match &c.state {
        crate::clause::ClauseState::Fail {
            exchange: Some(i), ..
        } => format!(" (exchange #{i})"),
        _ => String::new(),
    };
    format!(
        "{:<12} {} {} {}{exchange}",
        c.state.as_str(),
        c.id,
        c.basis.tag(),
        one_line(c.state.text())
    )
}

/// The per-rule table of a run without a baseline: id, outcome, title, one-line evidence;
/// every clause underneath (`- state id [basis] text`); failures get their last exchanges
/// too; then the summary line.
pub fn table(results: &[RuleResult], color: bool) -> String {
    terminal(&Report::new(0, "", results.to_vec()), color)
}

/// The terminal table of a report (see [`table`]); known failures show as KNOWN, fixed
/// baseline entries say so, and the summary adds the baseline counts.
pub fn terminal(report: &Report, color: bool) -> String {
    let results = &report.results;
    let mut out = String::new();
    let id_width = results.iter().map(|r| r.id.len()).max().unwrap_or(2).max(4);
    let title_width = results
        .iter()
        .map(|r| r.title.chars().count())
        .max()
        .unwrap_or(5)
        .clamp(5, 60);
    let _ = writeln!(
        out,
        "{:<id_width$}  {:<8}{:<title_width$}  EVIDENCE",
        "RULE", "RESULT", "TITLE"
    );
    for r in results {
        let word = report.word(r);
        let shown = if color {
            let code = match word {
                "PASS" => "32",
                "FAIL" => "31",
                "KNOWN" => "35",
                "PARTIAL" => "36",
                _ => "33",
            };
            format!("\x1b[{code}m{word:<7}\x1b[0m ")
        } else {
            format!("{word:<8}")
        };
        let mut title: String = r.title.chars().take(title_width).collect();
        if r.title.chars().count() > title_width {
            title.pop();
            title.push('…');
        }
        let _ = writeln!(
            out,
            "{:<id_width$}  {shown}{title:<title_width$}  {}",
            r.id,
            one_line(&report.evidence_line(r))
        );
        for c in &r.verdict.clauses {
            let _ = writeln!(out, "{:id_width$}  - {}", "", clause_line(c));
        }
        if r.verdict.outcome == Outcome::Fail {
            let last: Vec<&Exchange> = r.transcript.iter().rev().take(2).collect();
            for e in last.into_iter().rev() {
                let request_line = e.request_head.lines().next().unwrap_or("");
                let status_line = e
                    .response_head
                    .split("\r\n\r\n")
                    .filter(|h| !h.trim().is_empty())
                    .last()
                    .and_then(|h| h.lines().next())
                    .unwrap_or("(no response)");
                let _ = writeln!(
                    out,
                    "{:id_width$}    {} {} → {}",
                    "",
                    e.addr,
                    one_line(request_line),
                    one_line(status_line)
                );
            }
        }
    }
    let _ = writeln!(out, "{}", report.summary_line());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Strength;
    use crate::clause::{Basis, Clause, ClauseState};
    use crate::verdict::Verdict;

    pub(crate) fn sample() -> Report {
        let exchange = Exchange {
            addr: "127.0.0.1:9".parse().expect("addr"),
            request_head: "POST /b/x HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n".into(),
            request_body_len: 3,
            response_head: "HTTP/1.1 500 <Oops> & \"x\"\r\nX-Evil: \u{1b}[31m]]>\r\n\r\n".into(),
            response_body_preview: "<script>alert(1)</script>\u{0}".into(),
            elapsed: Duration::from_millis(5),
            outcome: Ok(500),
        };
        let result = |id, verdict, transcript: Vec<Exchange>| RuleResult {
            id,
            title: "a title with <angle> & | pipes",
            source: "PF/2443821170",
            strength: Strength::Must,
            verdict,
            transcript,
            elapsed: Duration::from_millis(7),
            cleanup: None,
        };
        let mut report = Report::new(
            7,
            "http://127.0.0.1:9",
            vec![
                result("SCSP-1", Verdict::pass("fine"), Vec::new()),
                result(
                    "SCSP-2",
                    Verdict::fail("got 500 <Oops> & \u{1b}[2J\"quoted\" | piped ]]>"),
                    vec![exchange],
                ),
                result("SCSP-3", Verdict::skip("needs admin control"), Vec::new()),
                result("SCSP-4", Verdict::fail("known one"), Vec::new()),
                result(
                    "SCSP-5",
                    Verdict::from_clauses(vec![
                        Clause {
                            id: "SCSP-5.a".into(),
                            claim: "a claim",
                            basis: Basis::Doc("PF/2443821170"),
                            state: ClauseState::NotObserved("needs <faults> & \u{1b}[2J".into()),
                        },
                        Clause {
                            id: "SCSP-5.b".into(),
                            claim: "b claim",
                            basis: Basis::Choice(3),
                            state: ClauseState::Pass("seen".into()),
                        },
                    ]),
                    Vec::new(),
                ),
            ],
        );
        report.baseline = Some((
            "base.txt".into(),
            Baseline::parse("SCSP-4\nSCSP-1\n").expect("baseline"),
        ));
        report
    }

    #[test]
    fn terminal_table_marks_known_and_fixed_and_hides_escapes() {
        let report = sample();
        let text = terminal(&report, false);
        assert!(text.contains("KNOWN"), "{text}");
        assert!(text.contains("fixed — remove it from the baseline"));
        assert!(
            text.contains("1 passed, 1 partial, 2 failed, 1 skipped"),
            "{text}"
        );
        let clauses: Vec<&str> = text
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix("- "))
            .collect();
        assert!(
            clauses
                .iter()
                .any(|l| l.starts_with("not-observed SCSP-5.a [DOC]")),
            "{text}"
        );
        assert!(text.contains("baseline: 1 known, 1 new failures"), "{text}");
        assert!(
            !text.contains('\u{1b}'),
            "a target's escape codes reached the terminal"
        );
        let colored = terminal(&report, true);
        assert!(colored.contains("\x1b[31mFAIL"));
        let s = report.summary();
        assert_eq!(
            (s.passed, s.partial, s.failed, s.skipped, s.known, s.new, s.fixed),
            (1, 1, 2, 1, 1, 1, 1)
        );
    }
}
