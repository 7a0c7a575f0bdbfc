//! What one item asks of cluster B, decided against what cluster A shows now (RP6).
//!
//! An item names a revision (`Castor-System-Version`). The replicator reads the object
//! from A: if A shows exactly that revision, its bytes and the item's metadata go to B; if
//! A shows a newer one, a later item brings it and this one is superseded; if A shows an
//! older one or none, A's copy is not reachable yet and the item is parked, to be tried
//! again. A delete is applied when A answers 404, superseded when A holds a newer
//! revision. B is first asked whether it already holds the bytes and metadata: that makes
//! every item idempotent (a replayed journal, a redelivered batch) and stops the echo of a
//! replicated write in bidirectional replication (RP7).

use std::collections::BTreeMap;

use bytes::Bytes;
use http::Method;

use crate::replicator::config::{ReplicatorConfig, ReplicatorDefect};
use crate::replicator::item::{Change, Item};
use crate::replicator::scsp::{self, Seen};
use crate::scsp::metadata::lifepoint_reps;
use crate::store::md5_hex;

/// How one attempt at an item ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// B holds the revision (or no longer holds a deleted object).
    Applied,
    /// A holds a newer revision: a later item brings it.
    Superseded,
    /// A does not show the revision yet; try again later.
    Park(String),
    /// A network or cluster failure; try again.
    Retry(String),
}

impl Outcome {
    /// True when the item needs nothing more.
    pub fn is_done(&self) -> bool {
        matches!(self, Outcome::Applied | Outcome::Superseded)
    }
}

/// The content type a node reports for an object stored without one (docs/choices.md).
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// Whether B's persisted headers are the item's, reading a default `Content-Type` in B's
/// answer as "none stored".
pub fn same_meta(held: &BTreeMap<String, String>, wanted: &BTreeMap<String, String>) -> bool {
    let mut held = held.clone();
    if !wanted.contains_key("content-type")
        && held.get("content-type").map(String::as_str) == Some(DEFAULT_CONTENT_TYPE)
    {
        held.remove("content-type");
    }
    held == *wanted
}

/// One attempt at an item. `first` picks the node each cluster is asked first.
pub async fn apply(config: &ReplicatorConfig, item: &Item, first: usize) -> Outcome {
    let timeout = config.request_timeout;
    let source = match scsp::look(&config.source, first, item, Method::GET, timeout).await {
        Ok(seen) => seen,
        Err(e) => return Outcome::Retry(format!("reading A: {e}")),
    };
    match (item.change, source) {
        (
            Change::Written,
            Seen::Live {
                version_ms,
                md5,
                body,
                ..
            },
        ) if version_ms == item.version_ms => place(config, item, &md5, body, first).await,
        (Change::Written, Seen::Live { version_ms, .. }) if version_ms > item.version_ms => {
            Outcome::Superseded
        }
        (Change::Written, _) => Outcome::Park("A does not show this revision yet".into()),
        (Change::Deleted, Seen::Missing) => {
            if config.has(ReplicatorDefect::IgnoreDeletes) {
                return Outcome::Applied;
            }
            remove(config, item, first).await
        }
        (Change::Deleted, Seen::Live { version_ms, .. }) if version_ms > item.version_ms => {
            Outcome::Superseded
        }
        (Change::Deleted, Seen::Live { .. }) => {
            Outcome::Park("A still shows an older revision".into())
        }
    }
}

/// Makes B hold `body` with the item's metadata.
async fn place(
    config: &ReplicatorConfig,
    item: &Item,
    md5: &str,
    body: Bytes,
    first: usize,
) -> Outcome {
    let timeout = config.request_timeout;
    if md5_hex(&body) != md5 {
        return Outcome::Retry("A sent bytes that do not match its Etag".into());
    }
    let with_meta = !config.has(ReplicatorDefect::DropMetadata);
    let wanted_meta = if with_meta {
        item.meta.clone()
    } else {
        BTreeMap::new()
    };
    let holds = |seen: &Seen| matches!(seen, Seen::Live { md5: m, meta, .. } if m == md5 && same_meta(meta, &wanted_meta));
    match scsp::look(&config.target, first, item, Method::HEAD, timeout).await {
        Ok(seen) if holds(&seen) => return Outcome::Applied,
        Ok(_) => {}
        Err(e) => return Outcome::Retry(format!("asking B: {e}")),
    }
    let written = match scsp::write(&config.target, first, item, body, with_meta, timeout).await {
        Ok(w) => w,
        Err(e) => return Outcome::Retry(format!("writing B: {e}")),
    };
    let wanted = lifepoint_reps(&item.meta).unwrap_or(config.replicas);
    if !config.read_back_always && written.replicas.is_some_and(|n| n >= wanted) {
        return Outcome::Applied;
    }
    // Fewer replicas than asked (or no count): B holds it only if a read finds it.
    match scsp::look(&config.target, first, item, Method::HEAD, timeout).await {
        Ok(seen) if holds(&seen) => Outcome::Applied,
        Ok(_) => Outcome::Retry("B does not show the write yet".into()),
        Err(e) => Outcome::Retry(format!("reading back from B: {e}")),
    }
}

/// Deletes the object in B and checks that B no longer shows it.
async fn remove(config: &ReplicatorConfig, item: &Item, first: usize) -> Outcome {
    let timeout = config.request_timeout;
    if let Err(e) = scsp::delete(&config.target, first, item, timeout).await {
        return Outcome::Retry(format!("deleting in B: {e}"));
    }
    match scsp::look(&config.target, first, item, Method::HEAD, timeout).await {
        Ok(Seen::Missing) => Outcome::Applied,
        Ok(Seen::Live { .. }) => Outcome::Retry("B still shows the object".into()),
        Err(e) => Outcome::Retry(format!("reading back from B: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_default_content_type_reads_as_none_stored() {
        let wanted = BTreeMap::from([("x-a-meta".to_string(), "1".to_string())]);
        let mut held = wanted.clone();
        held.insert("content-type".into(), DEFAULT_CONTENT_TYPE.into());
        assert!(same_meta(&held, &wanted));
        held.insert("content-type".into(), "text/plain".into());
        assert!(!same_meta(&held, &wanted));
        let mut typed = wanted.clone();
        typed.insert("content-type".into(), DEFAULT_CONTENT_TYPE.into());
        assert!(!same_meta(&wanted, &typed));
    }
}
