//! Listing replicas (POST /replicas/list and GET `/replicas/<scope>/<name>`): which replicas
//! show, which PFNs each gets, in which order, and the two wire forms (JSON stream and
//! metalink). The two endpoints differ on the real server and both differences are kept:
//! POST hides read-unavailable RSEs unless `ignore_availability` is true and orders PFNs
//! by string; GET shows them and orders by RSE.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use crate::rucio::catalog::{Catalog, Did};
use crate::rucio::state::ReplicaState;

/// Which endpoint asks: their defaults and orders differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// POST /replicas/list.
    Post,
    /// GET `/replicas/<scope>/<name>`.
    Get,
}

/// What the request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// The DIDs, in any order; answered sorted by (scope, name), once each.
    pub dids: Vec<Did>,
    /// Restrict to these schemes. `Some(empty)` selects nothing (GET's query string is
    /// iterated per character by the server and matches no scheme).
    pub schemes: Option<Vec<String>>,
    /// Restrict to these RSEs (`A|B`).
    pub rse_expression: Option<BTreeSet<String>>,
    /// The client's site: RSEs whose name equals it are `lan`.
    pub client_site: Option<String>,
    /// List replicas on read-unavailable RSEs.
    pub ignore_availability: bool,
    /// List replicas in every state.
    pub all_states: bool,
    /// Also list UNAVAILABLE and COPYING replicas.
    pub unavailable: bool,
    /// Metalink: every scheme but srm, with a global priority order.
    pub metalink: bool,
}

impl ListQuery {
    /// The defaults of an endpoint for these DIDs.
    pub fn new(endpoint: Endpoint, dids: Vec<Did>) -> Self {
        Self {
            dids,
            schemes: None,
            rse_expression: None,
            client_site: None,
            ignore_availability: endpoint == Endpoint::Get,
            all_states: false,
            unavailable: false,
            metalink: false,
        }
    }
}

/// One PFN of a listed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedPfn {
    /// The URL.
    pub pfn: String,
    /// RSE name.
    pub rse: String,
    /// RSE id.
    pub rse_id: String,
    /// `lan` or `wan`.
    pub domain: &'static str,
    /// 1 is preferred.
    pub priority: u32,
    /// The RSE is volatile.
    pub volatile: bool,
}

/// One listed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedFile {
    /// Scope.
    pub scope: String,
    /// Name.
    pub name: String,
    /// Size.
    pub bytes: u64,
    /// Adler-32.
    pub adler32: Option<String>,
    /// MD5.
    pub md5: Option<String>,
    /// PFNs by priority.
    pub pfns: Vec<ListedPfn>,
    /// State per listed RSE.
    pub states: BTreeMap<String, ReplicaState>,
}

impl Catalog {
    /// The files a list request answers with. A DID that does not exist, or has no
    /// replica at all, is left out; one whose replicas are all filtered out shows with
    /// empty `pfns`, `rses` and `states`.
    pub fn list_replicas(&self, endpoint: Endpoint, q: &ListQuery) -> Vec<ListedFile> {
        let dids: BTreeSet<&Did> = q.dids.iter().collect();
        let mut out = Vec::new();
        for (scope, name) in dids {
            let Some(file) = self.did(scope, name) else {
                continue;
            };
            let replicas = self.replicas_of(scope, name);
            if replicas.is_empty() {
                continue;
            }
            let mut states = BTreeMap::new();
            // (lan first, sort key, pfn)
            let mut pfns: Vec<(bool, String, ListedPfn)> = Vec::new();
            for (rse_name, replica) in replicas {
                let Some(rse) = self.rses.get(rse_name) else {
                    continue;
                };
                let state_listed = q.all_states
                    || replica.state == ReplicaState::Available
                    || (q.unavailable
                        && matches!(
                            replica.state,
                            ReplicaState::Unavailable | ReplicaState::Copying
                        ));
                let rse_listed = q
                    .rse_expression
                    .as_ref()
                    .is_none_or(|e| e.contains(rse_name))
                    && (q.ignore_availability || rse.read);
                if !(state_listed && rse_listed) {
                    continue;
                }
                states.insert(rse_name.to_string(), replica.state);
                let lan = q.client_site.as_deref() == Some(rse_name);
                let mut protocols: Vec<_> = rse
                    .protocols
                    .iter()
                    .filter(|p| match (&q.schemes, q.metalink) {
                        (_, true) => p.scheme != "srm",
                        (Some(schemes), false) => schemes.contains(&p.scheme),
                        (None, false) => true,
                    })
                    .collect();
                protocols.sort_by_key(|p| p.priority);
                if q.schemes.is_none() && !q.metalink {
                    protocols.truncate(1);
                }
                for (rank, p) in protocols.into_iter().enumerate() {
                    let pfn = if rse.deterministic {
                        p.pfn(&replica.path)
                    } else {
                        // A non-deterministic replica keeps the path it was registered
                        // with; it is offered through every selected protocol.
                        p.pfn(
                            replica
                                .path
                                .strip_prefix(p.prefix.as_str())
                                .unwrap_or(&replica.path),
                        )
                    };
                    let key = match endpoint {
                        Endpoint::Post => pfn.clone(),
                        Endpoint::Get => format!("{rse_name}\u{0}{rank:04}"),
                    };
                    pfns.push((
                        !lan,
                        key,
                        ListedPfn {
                            pfn,
                            rse: rse_name.to_string(),
                            rse_id: rse.id.clone(),
                            domain: if lan { "lan" } else { "wan" },
                            priority: 0,
                            volatile: rse.volatile,
                        },
                    ));
                }
            }
            pfns.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
            let pfns = pfns
                .into_iter()
                .enumerate()
                .map(|(i, (_, _, mut p))| {
                    p.priority = i as u32 + 1;
                    p
                })
                .collect();
            out.push(ListedFile {
                scope: scope.clone(),
                name: name.clone(),
                bytes: file.bytes,
                adler32: file.adler32.clone(),
                md5: file.md5.clone(),
                pfns,
                states,
            });
        }
        out
    }
}

impl ListedFile {
    /// The JSON document of one stream line.
    pub fn to_json(&self) -> Value {
        let mut pfns = Map::new();
        let mut rses: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for p in &self.pfns {
            pfns.insert(
                p.pfn.clone(),
                json!({
                    "rse_id": p.rse_id,
                    "rse": p.rse,
                    "type": "DISK",
                    "volatile": p.volatile,
                    "domain": p.domain,
                    "priority": p.priority,
                    "client_extract": false,
                }),
            );
            rses.entry(p.rse.clone())
                .or_default()
                .push(Value::String(p.pfn.clone()));
        }
        let states: Map<String, Value> = self
            .states
            .iter()
            .map(|(rse, s)| (rse.clone(), Value::String(s.name().to_string())))
            .collect();
        json!({
            "scope": self.scope,
            "name": self.name,
            "bytes": self.bytes,
            "md5": self.md5,
            "adler32": self.adler32,
            "pfns": pfns,
            "rses": rses,
            "states": states,
        })
    }
}

/// The JSON stream: one document per line, each ending in a newline; nothing when empty.
pub fn json_stream(files: &[ListedFile]) -> String {
    files.iter().map(|f| format!("{}\n", f.to_json())).collect()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The metalink document. GET and POST write it differently on the real server: the
/// `glfn` prefix (`/atlas` vs the policy schema `/generic`) and POST's extra `domain` and
/// `client_extract` attributes.
pub fn metalink(endpoint: Endpoint, files: &[ListedFile]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metalink xmlns=\"urn:ietf:params:xml:ns:metalink\">\n",
    );
    let vo = match endpoint {
        Endpoint::Get => "atlas",
        Endpoint::Post => "generic",
    };
    for f in files {
        let (scope, name) = (xml_escape(&f.scope), xml_escape(&f.name));
        out.push_str(&format!(" <file name=\"{name}\">\n"));
        out.push_str(&format!("  <identity>{scope}:{name}</identity>\n"));
        if let Some(a) = &f.adler32 {
            out.push_str(&format!(
                "  <hash type=\"adler32\">{}</hash>\n",
                xml_escape(a)
            ));
        }
        if let Some(m) = &f.md5 {
            out.push_str(&format!("  <hash type=\"md5\">{}</hash>\n", xml_escape(m)));
        }
        out.push_str(&format!("  <size>{}</size>\n", f.bytes));
        out.push_str(&format!(
            "  <glfn name=\"/{vo}/rucio/{scope}:{name}\"></glfn>\n"
        ));
        for p in &f.pfns {
            let attrs = match endpoint {
                Endpoint::Get => format!("location=\"{}\" priority=\"{}\"", p.rse, p.priority),
                Endpoint::Post => format!(
                    "location=\"{}\" domain=\"{}\" priority=\"{}\" client_extract=\"false\"",
                    p.rse, p.domain, p.priority
                ),
            };
            out.push_str(&format!("  <url {attrs}>{}</url>\n", xml_escape(&p.pfn)));
        }
        out.push_str(" </file>\n");
    }
    out.push_str("</metalink>\n");
    out
}
