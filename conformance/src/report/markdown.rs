//! The Markdown report: the summary, one table row per rule, and a table of every clause
//! (rule, clause id, basis, state, what was seen), for pull requests, wikis and CI job
//! summaries.

use std::fmt::Write as _;

use super::{one_line, Report};

/// Escapes text for a Markdown table cell: every ASCII punctuation character that Markdown
/// or inline HTML could interpret is backslash-escaped, and line breaks become spaces.
pub fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in one_line(s).chars() {
        if matches!(
            c,
            '\\' | '`'
                | '*'
                | '_'
                | '['
                | ']'
                | '<'
                | '>'
                | '|'
                | '#'
                | '!'
                | '~'
                | '&'
                | '{'
                | '}'
                | '('
                | ')'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The report as Markdown.
pub fn render(report: &Report) -> String {
    let s = report.summary();
    let mut out = String::from("# replisim check\n\n");
    let _ = writeln!(
        out,
        "Target: {} · seed {} · replisim {}\n",
        cell(&report.target),
        report.seed,
        report.version
    );
    let _ = writeln!(
        out,
        "**{} passed, {} partial, {} failed, {} skipped** of {} rules (PARTIAL: no clause failed, some were not observed; never a pass)",
        s.passed, s.partial, s.failed, s.skipped, s.rules
    );
    if let Some((file, _)) = &report.baseline {
        let _ = write!(
            out,
            "\nBaseline {}: {} known, {} new failures",
            cell(file),
            s.known,
            s.new
        );
        let fixed = report.fixed();
        if !fixed.is_empty() {
            let _ = write!(
                out,
                "; fixed — remove from the baseline: {}",
                fixed.join(", ")
            );
        }
        out.push('\n');
    }
    out.push_str("\n| Rule | Result | Strength | Title | Source | Evidence |\n");
    out.push_str("|---|---|---|---|---|---|\n");
    for r in &report.results {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            cell(r.id),
            report.word(r),
            r.strength.as_str(),
            cell(r.title),
            cell(&crate::sources::cite(r.source)),
            cell(&report.evidence_line(r))
        );
    }
    out.push_str(
        "\n## Clauses\n\n| Rule | Clause | Basis | State | Evidence |\n|---|---|---|---|---|\n",
    );
    for r in &report.results {
        for c in &r.verdict.clauses {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                cell(r.id),
                cell(&c.id),
                cell(&c.basis.tag()),
                c.state.as_str(),
                cell(c.state.text())
            );
        }
    }
    let _ = writeln!(out, "\nReplay: `{}`", report.replay.replace('`', "'"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_per_rule_and_pipes_escaped() {
        let md = render(&crate::report::tests::sample());
        let rows: Vec<&str> = md
            .lines()
            .filter(|l| l.starts_with("| SCSP-") && l.matches(" | ").count() == 5)
            .collect();
        assert_eq!(rows.len(), 5);
        let clause_rows: Vec<&str> = md
            .lines()
            .filter(|l| l.starts_with("| SCSP-") && l.matches(" | ").count() == 4)
            .collect();
        assert_eq!(clause_rows.len(), 2, "{md}");
        assert!(clause_rows[0].contains("not-observed"));
        assert!(md.contains("\\<Oops\\>"));
    }
}
