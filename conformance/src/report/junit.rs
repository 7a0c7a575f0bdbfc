//! The JUnit XML report, for CI systems: one `<testcase>` per rule, grouped in one
//! `<testsuite>` per protocol. A failure carries its evidence as the message and its
//! transcript as the text; a skip carries its reason. A known failure (listed in the
//! baseline) is reported as skipped with the evidence, the way test runners report an
//! expected failure, so CI dashboards stay green on accepted failures only. A PARTIAL rule
//! is reported as skipped with a message starting `PARTIAL:` (never as a pass). Each
//! testcase lists its clauses as properties named `clause <id>` with the value
//! `<state> <basis> <text>`.

use std::fmt::Write as _;

use super::{exchange_text, printable, Report};
use crate::baseline::Standing;
use crate::catalog::protocol_of;
use crate::verdict::{Outcome, RuleResult};

/// Escapes text for XML content and attribute values, and replaces characters XML 1.0
/// cannot carry at all (control characters, U+FFFE, U+FFFF).
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in printable(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\u{fffe}' | '\u{ffff}' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

fn transcript(r: &RuleResult) -> String {
    r.transcript.iter().map(exchange_text).collect()
}

fn secs(d: std::time::Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

/// The report as JUnit XML.
pub fn render(report: &Report) -> String {
    let mut protocols: Vec<String> = report.results.iter().map(|r| protocol_of(r.id)).collect();
    protocols.dedup();
    let summary = report.summary();
    let counted_failures = summary.failed - summary.known;
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"replisim check\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{}\">",
        summary.rules,
        counted_failures,
        summary.skipped + summary.partial + summary.known,
        secs(report.elapsed)
    );
    for protocol in protocols {
        let cases: Vec<&RuleResult> = report
            .results
            .iter()
            .filter(|r| protocol_of(r.id) == protocol)
            .collect();
        let failures = cases
            .iter()
            .filter(|r| {
                report.standing(r) != Some(Standing::Known) && r.verdict.outcome == Outcome::Fail
            })
            .count();
        let skipped = cases
            .iter()
            .filter(|r| {
                report.standing(r) == Some(Standing::Known)
                    || matches!(r.verdict.outcome, Outcome::Skip | Outcome::Partial)
            })
            .count();
        let time: std::time::Duration = cases.iter().map(|r| r.elapsed).sum();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{}\">",
            xml_escape(&protocol),
            cases.len(),
            secs(time)
        );
        out.push_str("    <properties>\n");
        for (name, value) in [
            ("seed", report.seed.to_string()),
            ("target", report.target.clone()),
            ("replay", report.replay.clone()),
            ("replisim", report.version.to_string()),
        ] {
            let _ = writeln!(
                out,
                "      <property name=\"{name}\" value=\"{}\"/>",
                xml_escape(&value)
            );
        }
        out.push_str("    </properties>\n");
        for r in cases {
            let _ = write!(
                out,
                "    <testcase name=\"{}: {}\" classname=\"replisim.{}\" time=\"{}\">",
                xml_escape(r.id),
                xml_escape(r.title),
                xml_escape(&protocol),
                secs(r.elapsed)
            );
            let evidence = xml_escape(&report.evidence_line(r));
            let known = report.standing(r) == Some(Standing::Known);
            let mut children = Vec::new();
            match r.verdict.outcome {
                Outcome::Fail if !known => children.push(format!(
                    "<failure message=\"{evidence}\" type=\"{}\">{}</failure>",
                    r.strength.as_str(),
                    xml_escape(&format!(
                        "{} ({}, {})\n\n{}",
                        report.evidence_line(r),
                        r.strength.as_str(),
                        r.source,
                        transcript(r)
                    ))
                )),
                Outcome::Fail | Outcome::Skip => {
                    children.push(format!("<skipped message=\"{evidence}\"/>"))
                }
                Outcome::Partial => {
                    children.push(format!("<skipped message=\"PARTIAL: {evidence}\"/>"))
                }
                Outcome::Pass => {}
            }
            if !r.verdict.clauses.is_empty() {
                let mut props = String::from("<properties>");
                for c in &r.verdict.clauses {
                    let _ = write!(
                        props,
                        "\n        <property name=\"clause {}\" value=\"{}\"/>",
                        xml_escape(&c.id),
                        xml_escape(&format!(
                            "{} {} {}",
                            c.state.as_str(),
                            c.basis.tag(),
                            c.state.text()
                        ))
                    );
                }
                props.push_str("\n      </properties>");
                children.insert(0, props);
            }
            let transcript_in_failure = r.verdict.outcome == Outcome::Fail && !known;
            if !r.transcript.is_empty() && !transcript_in_failure {
                children.push(format!(
                    "<system-out>{}</system-out>",
                    xml_escape(&transcript(r))
                ));
            }
            for child in &children {
                let _ = write!(out, "\n      {child}");
            }
            if !children.is_empty() {
                out.push_str("\n    ");
            }
            out.push_str("</testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_xml_cannot_carry() {
        assert_eq!(
            xml_escape("a<b>&\"'\u{1b}\u{0}\u{ffff}"),
            "a&lt;b&gt;&amp;&quot;&apos;\\u{1b}\\u{0}\\u{ffff}"
        );
        let xml = render(&crate::report::tests::sample());
        assert!(!xml.contains('\u{1b}') && !xml.contains('\u{0}'));
        assert!(xml.contains("<failure message=\"got 500 &lt;Oops&gt;"));
        assert!(xml.contains(
            "<property name=\"clause SCSP-5.a\" value=\"not-observed [DOC] needs &lt;faults&gt;"
        ));
        assert!(xml.contains("<skipped message=\"PARTIAL: "));
    }
}
