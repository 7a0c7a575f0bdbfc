//! The HTML report: one self-contained page (inline CSS, no scripts, no external assets)
//! with the summary, a row per rule with its citation and its clauses (`<li class="clause
//! STATE" data-clause="ID" data-state="STATE">`), and each rule's transcript in an
//! expandable `<details>`. Everything from the target is escaped.

use std::fmt::Write as _;

use super::{exchange_text, Report};
use crate::report::junit::xml_escape;

/// Escapes text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    xml_escape(s)
}

const STYLE: &str = "
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.4em; }
.summary span { display: inline-block; padding: .2em .6em; margin-right: .4em; border-radius: .3em; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #ccc; padding: .3em .5em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
.pass { background: #e6f4e6; } .fail { background: #fbe3e3; }
.skip { background: #fff6d6; } .known { background: #efe3fb; } .partial { background: #e0f2f7; }
ul.clauses { margin: .3em 0 0 1em; padding: 0; font-size: .85em; }
li.clause.fail { color: #a00; } li.clause.not-observed { color: #555; } li.clause.not-judged { color: #888; }
pre { white-space: pre-wrap; word-break: break-all; font-size: .85em; background: #f8f8f8; padding: .5em; }
code { font-size: .9em; }
";

/// The report as an HTML page.
pub fn render(report: &Report) -> String {
    let s = report.summary();
    let mut out =
        String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    let _ = writeln!(
        out,
        "<title>replisim check: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>",
        escape(&report.target)
    );
    let _ = writeln!(
        out,
        "<h1>replisim check</h1>\n<p>Target <code>{}</code> · seed {} · replisim {} · {:.1} s</p>",
        escape(&report.target),
        report.seed,
        escape(report.version),
        report.elapsed.as_secs_f64()
    );
    let _ = write!(
        out,
        "<p class=\"summary\"><span class=\"pass\">{} passed</span><span class=\"partial\">{} partial</span><span class=\"fail\">{} failed</span><span class=\"skip\">{} skipped</span>",
        s.passed, s.partial, s.failed, s.skipped
    );
    if let Some((file, _)) = &report.baseline {
        let _ = write!(
            out,
            "<span class=\"known\">baseline <code>{}</code>: {} known, {} new</span>",
            escape(file),
            s.known,
            s.new
        );
        let fixed = report.fixed();
        if !fixed.is_empty() {
            let _ = write!(
                out,
                "<span class=\"pass\">fixed — remove from the baseline: {}</span>",
                escape(&fixed.join(", "))
            );
        }
    }
    out.push_str("</p>\n");
    out.push_str(
        "<table>\n<thead><tr><th>Rule</th><th>Result</th><th>Strength</th><th>Title</th><th>Source</th><th>Evidence</th><th>Transcript</th></tr></thead>\n<tbody>\n",
    );
    for r in &report.results {
        let word = report.word(r);
        let class = word.to_ascii_lowercase();
        let transcript = if r.transcript.is_empty() {
            "—".to_string()
        } else {
            let text: String = r.transcript.iter().map(exchange_text).collect();
            format!(
                "<details><summary>{} exchange{}</summary><pre>{}</pre></details>",
                r.transcript.len(),
                if r.transcript.len() == 1 { "" } else { "s" },
                escape(&text)
            )
        };
        let clauses = if r.verdict.clauses.is_empty() {
            String::new()
        } else {
            let items: String = r
                .verdict
                .clauses
                .iter()
                .map(|c| {
                    format!(
                        "<li class=\"clause {state}\" data-clause=\"{id}\" data-state=\"{state}\"><code>{id}</code> {basis} {state}: {text} <small>({claim})</small></li>",
                        state = c.state.as_str(),
                        id = escape(&c.id),
                        basis = escape(&c.basis.tag()),
                        text = escape(c.state.text()),
                        claim = escape(c.claim),
                    )
                })
                .collect();
            format!("<ul class=\"clauses\">{items}</ul>")
        };
        let cleanup = r
            .cleanup
            .as_ref()
            .map(|c| format!("<br><small>cleanup: {}</small>", escape(c)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "<tr id=\"{}\" class=\"{class}\"><td>{}</td><td>{word}</td><td>{}</td><td>{}</td><td>{}</td><td>{}{clauses}{cleanup}</td><td>{transcript}</td></tr>",
            escape(r.id),
            escape(r.id),
            r.strength.as_str(),
            escape(r.title),
            escape(&crate::sources::cite(r.source)),
            escape(&report.evidence_line(r)),
        );
    }
    out.push_str("</tbody>\n</table>\n");
    let _ = writeln!(
        out,
        "<p>Replay: <code>{}</code></p>\n</body>\n</html>",
        escape(&report.replay)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_from_the_target() {
        let html = render(&crate::report::tests::sample());
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains("<details>"));
        assert!(!html.contains("<link") && !html.contains("src="));
        assert!(html.contains("data-clause=\"SCSP-5.a\" data-state=\"not-observed\""));
        assert!(!html.contains(&["spec", "protocols.md"].join("/")));
    }
}
