//! The DS3 API contract's facts as test data (conformance/data/ds3/contract.json, written
//! by tools/ds3/extract_contract.py from Spectra's published 6.0.0 contract): which handler
//! a request reaches, and the response codes that handler may answer (BP-18).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

/// The extracted contract, compiled in: nothing is read outside the project at run time.
const CONTRACT_JSON: &str = include_str!("../../../data/ds3/contract.json");

/// One request handler of the contract.
#[derive(Debug, Clone, Deserialize)]
pub struct Handler {
    /// Short class name (`CreatePutJob`).
    pub name: String,
    /// `amazons3` or `spectrads3`.
    pub classification: String,
    /// HTTP verb.
    pub verb: String,
    /// Path shape: `/_rest_/job/{id}`, `/{bucket}/{object}`.
    pub path: String,
    /// The `operation=` value it needs, if any.
    pub operation: Option<String>,
    /// Required query parameters: [snake_name, type].
    pub required: Vec<(String, String)>,
    /// Optional query parameters.
    pub optional: Vec<(String, String)>,
    /// Response code → body types.
    pub codes: BTreeMap<String, Vec<String>>,
}

impl Handler {
    /// The codes this handler may answer.
    pub fn code_set(&self) -> Vec<u16> {
        self.codes.keys().filter_map(|c| c.parse().ok()).collect()
    }

    /// Whether `status` is in the contract's set, or one of the answers every handler may
    /// give (docs/choices.md D4): 403 for a request whose signature fails, and 404 for an
    /// id in the path that names nothing.
    pub fn allows(&self, status: u16) -> bool {
        self.code_set().contains(&status)
            || status == 403
            || (status == 404 && self.path.contains("{id}") && self.classification == "spectrads3")
    }

    fn matches(&self, method: &str, segments: &[&str], query: &BTreeMap<String, String>) -> bool {
        if !self.verb.eq_ignore_ascii_case(method) {
            return false;
        }
        let shape: Vec<&str> = self.path.trim_start_matches('/').split('/').collect();
        let path_ok = if self.classification == "amazons3" {
            segments.first() != Some(&"_rest_")
                && match shape.as_slice() {
                    [""] => segments.is_empty() || segments == [""],
                    ["{bucket}"] => segments.len() == 1,
                    _ => segments.len() >= 2,
                }
        } else {
            shape.len() == segments.len()
                && shape
                    .iter()
                    .zip(segments)
                    .all(|(s, p)| s.starts_with('{') || s.eq_ignore_ascii_case(p))
        };
        if !path_ok {
            return false;
        }
        self.required.iter().all(|(name, _)| match name.as_str() {
            "operation" => match (&self.operation, query.get("operation")) {
                (Some(want), Some(got)) => want.eq_ignore_ascii_case(got),
                (None, got) => got.is_some(),
                _ => false,
            },
            other => query.contains_key(other),
        })
    }
}

#[derive(Deserialize)]
struct Document {
    handlers: Vec<Handler>,
}

/// Every handler of the contract.
pub fn handlers() -> &'static [Handler] {
    static PARSED: OnceLock<Vec<Handler>> = OnceLock::new();
    PARSED.get_or_init(|| {
        serde_json::from_str::<Document>(CONTRACT_JSON)
            .map(|d| d.handlers)
            .unwrap_or_default()
    })
}

/// The handler a request reaches: among those whose verb, path and required parameters
/// match, the one with the most required parameters (a `replicate` flag or `operation`
/// tells handlers of one path apart).
pub fn handler_for(method: &str, target: &str) -> Option<&'static Handler> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let query: BTreeMap<String, String> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_ascii_lowercase(), v.to_string()),
            None => (p.to_ascii_lowercase(), String::new()),
        })
        .collect();
    handlers()
        .iter()
        .filter(|h| h.matches(method, &segments, &query))
        .max_by_key(|h| (h.required.len(), h.classification == "spectrads3"))
}

/// Why a status is outside the contract for this request, if it is.
pub fn violation(method: &str, target: &str, status: u16) -> Option<String> {
    let Some(h) = handler_for(method, target) else {
        return Some(format!(
            "{method} {target}: no handler of the contract takes this request"
        ));
    };
    (!h.allows(status)).then(|| {
        format!(
            "{method} {target} ({}) answered {status}; the contract allows {:?}",
            h.name,
            h.code_set()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_data_loads_and_requests_find_their_handlers() {
        assert!(handlers().len() > 300, "{}", handlers().len());
        let name = |m: &str, t: &str| handler_for(m, t).map(|h| h.name.as_str());
        assert_eq!(
            name("PUT", "/_rest_/bucket/b?operation=START_BULK_PUT"),
            Some("CreatePutJob")
        );
        assert_eq!(
            name("PUT", "/_rest_/bucket/b?operation=START_BULK_PUT&replicate"),
            Some("ReplicatePutJob")
        );
        assert_eq!(
            name("PUT", "/_rest_/bucket/b?operation=START_BULK_GET"),
            Some("CreateGetJob")
        );
        assert_eq!(
            name("GET", "/_rest_/job_chunk?job=x"),
            Some("GetJobChunksReadyForClientProcessing")
        );
        assert_eq!(
            name("GET", "/_rest_/job/x?replicate"),
            Some("GetJobToReplicate")
        );
        assert_eq!(name("GET", "/_rest_/job/x"), Some("GetJob"));
        assert_eq!(name("DELETE", "/_rest_/job/x?force"), Some("CancelJob"));
        assert_eq!(name("DELETE", "/_rest_/job/x"), Some("TruncateJob"));
        assert_eq!(name("PUT", "/b/o?job=x&offset=0"), Some("CreateObject"));
        assert_eq!(name("GET", "/b/o?job=x&offset=0"), Some("GetObject"));
        assert_eq!(
            name("PUT", "/_rest_/job_chunk/c?operation=ALLOCATE"),
            Some("AllocateJobChunk")
        );
        assert_eq!(violation("GET", "/_rest_/job_chunk?job=x", 410), None);
        assert!(violation("GET", "/_rest_/job_chunk?job=x", 409).is_some());
        assert!(violation(
            "PUT",
            "/_rest_/bucket/b?operation=START_BULK_PUT&replicate",
            201
        )
        .is_some());
        assert_eq!(
            violation(
                "PUT",
                "/_rest_/bucket/b?operation=START_BULK_PUT&replicate",
                204
            ),
            None
        );
    }
}
