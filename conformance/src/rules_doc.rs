//! The project's own rules reference, `docs/rules.md`, generated from the catalog
//! (`replisim rules --markdown`): every rule with its strength, needs, citations and
//! clauses, and every cited document with its address. A test keeps the file equal to the
//! generator's output.

use std::fmt::Write as _;

use crate::catalog::{self, Check};
use crate::clause::Basis;
use crate::sources;

/// `docs/rules.md`.
pub fn markdown() -> String {
    let mut out = String::from(
        "# Rules\n\n\
         Generated from the catalog by `replisim rules --markdown > docs/rules.md`; \
         `conformance/tests/rules_doc.rs` fails when this file and the catalog disagree.\n\n\
         Each checked rule is a list of clauses. A clause id is `<RULE>.<slug>`: the slug is \
         stable and never reused for another claim. Each clause has a basis:\n\n\
         - **[DOC]**: the documents say so (the cited document is named);\n\
         - **[CHOICE n]**: a choice of the reference node, row n of \
         [docs/choices.md](choices.md); judged only with `--profile reference`;\n\
         - **[CONSISTENCY]**: the target must agree with itself.\n\n\
         A rule is PASS when every judged clause was observed and held, FAIL when one failed, \
         PARTIAL when none failed but some were not observed, SKIP when it was not checked. \
         Strength: MUST and SHOULD come from the documents; INF marks a rule whose status \
         codes the documents leave open.\n",
    );
    for rule in catalog::all() {
        let _ = write!(
            out,
            "\n## {} — {}\n\n{} · at least {} node{}",
            rule.id,
            rule.title,
            rule.strength.as_str(),
            rule.nodes_min,
            if rule.nodes_min == 1 { "" } else { "s" }
        );
        if !rule.needs.is_empty() {
            let _ = write!(out, " · needs {}", rule.needs.names().join(", "));
        }
        let uses = rule.uses.missing_from(rule.needs);
        if !uses.is_empty() {
            let _ = write!(out, " · uses {} when offered", uses.names().join(", "));
        }
        out.push_str("\n\nSources:\n");
        for key in sources::keys(rule.source) {
            match sources::find(key) {
                Some(s) => {
                    let _ = writeln!(out, "- {} — <{}>", s.title, s.url);
                }
                None => {
                    let _ = writeln!(out, "- {key}");
                }
            }
        }
        match rule.check {
            Check::Unchecked(reason) => {
                let _ = writeln!(out, "\nNot checked: {reason}.");
            }
            Check::Run(_) => {
                out.push_str("\n| Clause | Basis | Claim |\n|---|---|---|\n");
                for c in rule.clauses {
                    let basis = match c.basis {
                        Basis::Doc(src) => format!("[DOC] {src}"),
                        other => other.tag(),
                    };
                    let _ = writeln!(
                        out,
                        "| `{}` | {} | {} |",
                        crate::clause::clause_id(rule.id, c.slug),
                        basis,
                        c.claim.replace('|', "\\|")
                    );
                }
            }
        }
    }
    out.push_str("\n## Sources\n\n| Key | Document |\n|---|---|\n");
    for s in sources::SOURCES {
        let _ = writeln!(out, "| `{}` | {} — <{}> |", s.key, s.title, s.url);
    }
    out
}
