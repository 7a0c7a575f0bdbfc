//! A run as a Chrome-trace / Perfetto timeline (JSON Trace Event Format): one track per
//! node, one for the client (its operations as slices from request to answer), one for the
//! nemesis and one for the checker. Open it at ui.perfetto.dev or chrome://tracing.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::trace::TraceEvent;
use crate::workload::{Op, OpKind, OpResult};

fn micros(d: std::time::Duration) -> u64 {
    d.as_micros().min(u128::from(u64::MAX)) as u64
}

/// The timeline of one run: trace events as instants on their actor's track, workload
/// operations as slices on the client track.
pub fn render(events: &[TraceEvent], ops: &[Op]) -> String {
    let mut tracks: BTreeMap<String, u64> = BTreeMap::new();
    let mut track = |actor: &str| -> u64 {
        let next = tracks.len() as u64 + 1;
        *tracks.entry(actor.to_string()).or_insert(next)
    };
    let mut out: Vec<Value> = Vec::new();
    let client = track("client");
    for op in ops {
        let (name, target) = match &op.kind {
            OpKind::WriteNamed { name, .. } => ("POST", name.clone()),
            OpKind::WriteUnnamed { .. } => ("POST", "/".to_string()),
            OpKind::Read { name } => ("GET", name.clone()),
            OpKind::Delete { name } => ("DELETE", name.clone()),
        };
        let result = match &op.result {
            OpResult::Done { status, .. } | OpResult::Refused { status } => status.to_string(),
            OpResult::Unknown { why } => format!("unknown: {why}"),
        };
        out.push(json!({
            "name": format!("{name} {target} → {result}"),
            "cat": "request",
            "ph": "X",
            "ts": micros(op.invoked),
            "dur": micros(op.completed.saturating_sub(op.invoked)).max(1),
            "pid": 1,
            "tid": client,
            "args": { "op": op.id, "entry_node": op.node + 1, "result": result },
        }));
    }
    for e in events {
        let tid = track(&e.actor);
        let cat = match e.actor.as_str() {
            "nemesis" => "fault",
            "checker" => "violation",
            a if a.starts_with("node") && e.what.starts_with("replica") => "replication",
            a if a.starts_with("node") && e.what.starts_with("health") => "health",
            _ => "event",
        };
        out.push(json!({
            "name": e.what,
            "cat": cat,
            "ph": "i",
            "s": "t",
            "ts": micros(e.at),
            "pid": 1,
            "tid": tid,
        }));
    }
    for (actor, tid) in &tracks {
        out.push(json!({
            "name": "thread_name",
            "ph": "M",
            "pid": 1,
            "tid": tid,
            "args": { "name": actor },
        }));
    }
    out.push(
        json!({ "name": "process_name", "ph": "M", "pid": 1, "args": { "name": "replisim" } }),
    );
    serde_json::to_string_pretty(&json!({ "traceEvents": out, "displayTimeUnit": "ms" }))
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn tracks_and_slices_are_well_formed() {
        let events = vec![
            TraceEvent {
                at: Duration::from_millis(5),
                actor: "node1".into(),
                what: "up".into(),
            },
            TraceEvent {
                at: Duration::from_millis(9),
                actor: "nemesis".into(),
                what: "crash node1".into(),
            },
        ];
        let ops = vec![Op {
            id: 0,
            kind: OpKind::Read { name: "n0".into() },
            node: 0,
            invoked: Duration::from_millis(1),
            completed: Duration::from_millis(3),
            result: OpResult::Refused { status: 404 },
        }];
        let v: Value = serde_json::from_str(&render(&events, &ops)).expect("valid JSON");
        let list = v["traceEvents"].as_array().expect("events");
        let slice = list.iter().find(|e| e["ph"] == "X").expect("a slice");
        assert_eq!(slice["dur"], 2000);
        assert_eq!(slice["name"], "GET n0 → 404");
        let names: Vec<&str> = list
            .iter()
            .filter(|e| e["name"] == "thread_name")
            .filter_map(|e| e["args"]["name"].as_str())
            .collect();
        assert_eq!(names, vec!["client", "nemesis", "node1"]);
        let fault = list
            .iter()
            .find(|e| e["cat"] == "fault")
            .expect("fault instant");
        assert_eq!(fault["ts"], 9000);
    }
}
