//! The SCSP family: Swarm storage nodes spoken to in SCSP.
//!
//! Its rule checks live in `crate::rules` (one module per SCSP method family, mirroring the
//! node's modules), its unchecked rules in `catalog::UNCHECKED`, its context in
//! `target::Ctx` (node endpoints, a bucket per rule, the control). Its cleanup pass is
//! here: objects newest first, then buckets with `recursive=now`.

use std::time::Duration;

use replisim_sim::world::{WorldBuilder, WorldConfig};

use super::{Cleanup, CleanupFuture, CleanupJob, Family, Role, SimParams, SimRole};
use crate::catalog::Rule;
use crate::client::{Client, Endpoint, Exchange, Request, Session};
use crate::rules;
use replisim_sim::world::SCSP_CLUSTER;

/// The roles SCSP rules talk to: SCSP nodes only.
pub const ROLES: &[Role] = &[Role::Scsp];

/// The SCSP family.
pub const FAMILY: Family = Family {
    name: "scsp",
    summary: "Swarm SCSP storage nodes (docs/rules.md, SCSP-n)",
    roles: ROLES,
    rules: all,
    namespace: bucket_for,
    cleanup,
    world,
    sim_roles: &[SimRole {
        role: Role::Scsp,
        clusters: &[SCSP_CLUSTER],
    }],
};

/// Every SCSP rule with a check, from the rule modules, in the order the modules list them.
pub fn checked() -> Vec<Rule> {
    let mut rules = Vec::new();
    rules.extend(rules::write::RULES);
    rules.extend(rules::redirect::RULES);
    rules.extend(rules::replication::RULES);
    rules.extend(rules::update::RULES);
    rules.extend(rules::versions::RULES);
    rules.extend(rules::copy::RULES);
    rules.extend(rules::append::RULES);
    rules.extend(rules::conditional::RULES);
    rules.extend(rules::limits::RULES);
    rules.extend(rules::multipart::RULES);
    rules.extend(rules::contexts::RULES);
    rules.extend(rules::read::RULES);
    rules.extend(rules::transport::RULES);
    rules.extend(rules::storage::RULES);
    rules
}

/// Every SCSP rule, checked or not: an `UNCHECKED` entry is dropped when a rule module
/// checks the same id.
fn all() -> Vec<Rule> {
    let mut rules = checked();
    let unchecked: Vec<Rule> = crate::catalog::UNCHECKED
        .into_iter()
        .filter(|u| !rules.iter().any(|r| r.id == u.id))
        .collect();
    rules.extend(unchecked);
    rules
}

/// The bucket one rule writes in: the run's nonce and the rule id, so that rules and runs
/// against the same cluster never see each other's objects.
pub fn bucket_for(rule: &Rule, nonce: u64) -> String {
    format!("rs-{nonce:x}-{}", rule.id.to_ascii_lowercase())
}

/// One SCSP cluster of `nodes` reference nodes with the asked defects and choices.
pub fn world(params: &SimParams) -> WorldBuilder {
    let mut config = WorldConfig::new(params.nodes);
    config.defects = params.defects.clone();
    config.alternatives = params.alternatives;
    config.builder()
}

/// The family's cleanup pass, boxed for `Family::cleanup`.
pub fn cleanup(job: CleanupJob) -> CleanupFuture {
    Box::pin(clean_up(job))
}

/// Deletes what the rule's successful writes created: objects newest first, then its
/// buckets (`recursive=now`), through the first SCSP node. Bounded; never changes the
/// verdict.
async fn clean_up(job: CleanupJob) -> Option<Cleanup> {
    let (objects, contexts) = written_paths(&job.transcript);
    if objects.is_empty() && contexts.is_empty() {
        return None;
    }
    let access = *job.targets.get(Role::Scsp).first()?;
    let client = job.client;
    let mut report = Cleanup::default();
    let budget = job.budget;
    let work = async {
        let mut conflicted = Vec::new();
        for path in objects.iter().rev() {
            match delete(&client, access, path).await {
                Deleted::Gone => report.deleted += 1,
                Deleted::Conflict => conflicted.push(path.clone()),
                Deleted::Refused(why) => report.problems.push(why),
            }
        }
        if !conflicted.is_empty() {
            // 409: the delete came within the second of the rule's last update
            // (SCSP-19); deletes a second later are ordered after it.
            replisim_sim::rt::sleep(Duration::from_millis(1100)).await;
            for path in &conflicted {
                match delete(&client, access, path).await {
                    Deleted::Gone => report.deleted += 1,
                    Deleted::Conflict => report.problems.push(format!("DELETE {path} → 409")),
                    Deleted::Refused(why) => report.problems.push(why),
                }
            }
        }
        for path in contexts.iter().rev() {
            let target = with_query(path, "recursive=now");
            match delete(&client, access, &target).await {
                Deleted::Gone => report.contexts_deleted += 1,
                Deleted::Refused(why) if why.ends_with("→ 501") || why.ends_with("→ 405") => {
                    report.contexts_kept.push(why)
                }
                Deleted::Conflict => report.problems.push(format!("DELETE {target} → 409")),
                Deleted::Refused(why) => report.problems.push(why),
            }
        }
    };
    if replisim_sim::rt::timeout(budget, work).await.is_err() {
        report.problems.push(format!(
            "everything: cleanup did not finish within {budget:?}"
        ));
    }
    Some(report)
}

enum Deleted {
    Gone,
    Conflict,
    Refused(String),
}

async fn delete(client: &Client, access: Endpoint, target: &str) -> Deleted {
    let mut session = Session::new(client.clone(), access);
    match session.request(&Request::new("DELETE", target)).await {
        Ok(done) => match done.response.status {
            200 | 202 | 204 | 404 => Deleted::Gone,
            409 => Deleted::Conflict,
            other => Deleted::Refused(format!("DELETE {target} → {other}")),
        },
        Err(e) => Deleted::Refused(format!("DELETE {target} ({e})")),
    }
}

fn with_query(path: &str, arg: &str) -> String {
    if path.contains('?') {
        format!("{path}&{arg}")
    } else {
        format!("{path}?{arg}")
    }
}

/// The paths the transcript's successful writes (201, or 202 for a multipart completion)
/// created, in order of first creation:
/// objects (`/bucket/name`, `/<uuid>`) and contexts (`/bucket`). A `domain=` argument of the
/// write is kept, so that the delete addresses the same domain.
fn written_paths(transcript: &[Exchange]) -> (Vec<String>, Vec<String>) {
    let mut objects = Vec::new();
    let mut contexts = Vec::new();
    for e in transcript {
        // 201 answers a write; 202 answers a multipart completion, which may still fail,
        // but deleting a name that was never made is harmless (404).
        if e.outcome != Ok(201) && e.outcome != Ok(202) {
            continue;
        }
        let request_line = e.request_head.lines().next().unwrap_or("");
        let mut parts = request_line.split(' ');
        let method = parts.next().unwrap_or("");
        let request_target = parts.next().unwrap_or("");
        if method.eq_ignore_ascii_case("DELETE") {
            continue;
        }
        let final_head = e
            .response_head
            .split("\r\n\r\n")
            .filter(|h| !h.trim().is_empty())
            .last()
            .unwrap_or("");
        let location = final_head.lines().find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("location")
                .then(|| value.trim())
        });
        let path = match location {
            Some(loc) => path_of(loc),
            None => path_of(request_target),
        };
        let segments: Vec<&str> = path
            .trim_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        if segments.is_empty() {
            continue;
        }
        let is_context = segments.len() == 1 && !rules::common::is_uuid(segments[0]);
        let domain = request_target.split_once('?').and_then(|(_, q)| {
            q.split('&')
                .find(|a| a.to_ascii_lowercase().starts_with("domain="))
        });
        let path = match domain {
            Some(arg) => format!("{path}?{arg}"),
            None => path,
        };
        let list = if is_context {
            &mut contexts
        } else {
            &mut objects
        };
        if !list.contains(&path) {
            list.push(path);
        }
    }
    (objects, contexts)
}

/// The path of an absolute or origin-form URI, without query or fragment.
fn path_of(uri: &str) -> String {
    let rest = match uri.find("://") {
        Some(i) => {
            let after = &uri[i + 3..];
            after.find('/').map_or("/", |p| &after[p..])
        }
        None => uri,
    };
    let path = rest.split(['?', '#']).next().unwrap_or("/");
    if path.is_empty() {
        "/".to_string()
    } else {
        path.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(request: &str, response: &str, status: u16) -> Exchange {
        Exchange {
            addr: "127.0.0.1:1".parse().expect("addr"),
            request_head: request.to_string(),
            request_body_len: 0,
            response_head: response.to_string(),
            response_body_preview: String::new(),
            elapsed: Duration::ZERO,
            outcome: Ok(status),
        }
    }

    #[test]
    fn cleanup_finds_what_writes_created() {
        let uuid = "41a140b5271dc8d22ff8d027176a0821";
        let transcript = vec![
            exchange("POST /b HTTP/1.1\r\n", "HTTP/1.1 201 Created\r\nLocation: http://10.0.0.1:80/b\r\n\r\n", 201),
            exchange("POST /b/x HTTP/1.1\r\n", "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://10.0.0.2/b/x?auth=1\r\n\r\n", 307),
            exchange("POST /b/x?auth=1 HTTP/1.1\r\n", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nLocation: http://10.0.0.2:80/b/x\r\n\r\n", 201),
            exchange("POST /b/x HTTP/1.1\r\n", "HTTP/1.1 201 Created\r\nlocation: http://10.0.0.2:80/b/x\r\n\r\n", 201),
            exchange("POST / HTTP/1.1\r\n", &format!("HTTP/1.1 201 Created\r\nLocation: http://10.0.0.3/{uuid}\r\n\r\n"), 201),
            exchange("POST /b/y?domain=d.example HTTP/1.1\r\n", "HTTP/1.1 201 Created\r\n\r\n", 201),
            exchange("DELETE /b/z HTTP/1.1\r\n", "HTTP/1.1 201 Created\r\n\r\n", 201),
        ];
        let (objects, contexts) = written_paths(&transcript);
        assert_eq!(
            objects,
            vec![
                "/b/x".to_string(),
                format!("/{uuid}"),
                "/b/y?domain=d.example".to_string()
            ]
        );
        assert_eq!(contexts, vec!["/b".to_string()]);
        assert_eq!(with_query("/b", "recursive=now"), "/b?recursive=now");
        assert_eq!(path_of("http://h:1"), "/");
    }
}
