//! The JSON report: everything about a run in one machine-readable document (format 2).
//!
//! Top level: `replisim` (version), `format` (2), `seed`, `target`, `profile`
//! (`reference`/`vendor` or `null`), `elapsed_ms`, `summary` (`rules`, `passed`, `partial`,
//! `failed`, `skipped`, `known`, `new`, `fixed`), `baseline` (`null`, or `file` and `fixed`
//! ids), `replay`, and `rules`: one object per rule in catalog order with `id`, `protocol`,
//! `title`, `source` (keys), `citation` (titles and URLs), `strength`, `outcome`
//! (`pass`/`partial`/`fail`/`skip`), `evidence`, `clauses` (each: `id`, `claim`, `basis`
//! (`doc`/`choice`/`consistency`), `basis_detail`, `state`
//! (`pass`/`fail`/`not-observed`/`not-judged`), `evidence`, `exchange` (transcript index or
//! `null`)), `baseline` (`null` or `new`/`known`/`fixed`), `elapsed_ms`, `cleanup` and
//! `transcript` (each exchange: `addr`, `request_head`, `request_body_len`, `response_head`,
//! `response_body_preview`, `elapsed_ms`, `status` or `null`, `error` or `null`).

use serde_json::{json, Value};

use super::Report;
use crate::catalog::protocol_of;
use crate::clause::{Clause, ClauseState};
use crate::client::Exchange;

fn clause(c: &Clause) -> Value {
    json!({
        "id": c.id,
        "claim": c.claim,
        "basis": c.basis.kind(),
        "basis_detail": c.basis.detail(),
        "state": c.state.as_str(),
        "evidence": c.state.text(),
        "exchange": match &c.state {
            ClauseState::Fail { exchange, .. } => *exchange,
            _ => None,
        },
    })
}

fn exchange(e: &Exchange) -> Value {
    json!({
        "addr": e.addr.to_string(),
        "request_head": e.request_head,
        "request_body_len": e.request_body_len,
        "response_head": e.response_head,
        "response_body_preview": e.response_body_preview,
        "elapsed_ms": e.elapsed.as_millis() as u64,
        "status": e.outcome.as_ref().ok(),
        "error": e.outcome.as_ref().err().map(|err| err.to_string()),
    })
}

/// The report as a JSON value.
pub fn value(report: &Report) -> Value {
    let rules: Vec<Value> = report
        .results
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "protocol": protocol_of(r.id),
                "title": r.title,
                "source": r.source,
                "citation": crate::sources::cite(r.source),
                "strength": r.strength.as_str(),
                "outcome": r.verdict.outcome.as_str(),
                "evidence": r.verdict.evidence,
                "clauses": r.verdict.clauses.iter().map(clause).collect::<Vec<_>>(),
                "baseline": report.standing(r).map(|s| s.as_str()),
                "elapsed_ms": r.elapsed.as_millis() as u64,
                "cleanup": r.cleanup,
                "transcript": r.transcript.iter().map(exchange).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "replisim": report.version,
        "format": 2,
        "seed": report.seed,
        "target": report.target,
        "profile": report.profile.map(|p| p.as_str()),
        "elapsed_ms": report.elapsed.as_millis() as u64,
        "summary": report.summary(),
        "baseline": report.baseline.as_ref().map(|(file, _)| json!({
            "file": file,
            "fixed": report.fixed(),
        })),
        "replay": report.replay,
        "rules": rules,
    })
}

/// The report as pretty-printed JSON text.
pub fn render(report: &Report) -> String {
    let mut text = serde_json::to_string_pretty(&value(report)).unwrap_or_else(|e| {
        // Serializing a Value of strings and numbers cannot fail; say so if it ever does.
        format!("{{\"error\": \"could not serialize the report: {e}\"}}")
    });
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_back_with_every_field() {
        let report = crate::report::tests::sample();
        let v: Value = serde_json::from_str(&render(&report)).expect("valid JSON");
        assert_eq!(v["seed"], 7);
        assert_eq!(v["summary"]["failed"], 2);
        assert_eq!(v["summary"]["known"], 1);
        assert_eq!(v["rules"][1]["outcome"], "fail");
        assert_eq!(v["rules"][1]["baseline"], "new");
        assert_eq!(v["rules"][3]["baseline"], "known");
        assert_eq!(v["rules"][0]["baseline"], "fixed");
        assert_eq!(v["rules"][1]["transcript"][0]["status"], 500);
        assert_eq!(v["rules"][1]["strength"], "MUST");
        assert_eq!(v["baseline"]["fixed"][0], "SCSP-1");
        assert_eq!(v["summary"]["partial"], 1);
        assert_eq!(v["rules"][4]["outcome"], "partial");
        assert_eq!(v["rules"][4]["clauses"][0]["id"], "SCSP-5.a");
        assert_eq!(v["rules"][4]["clauses"][0]["state"], "not-observed");
        assert_eq!(v["rules"][4]["clauses"][1]["basis"], "choice");
    }
}
