//! Building the new version of an object: content and metadata for each mutating method,
//! by the rules of SCSP-22..30 (COPY replaces metadata, `preserve` merges it, APPEND adds
//! bytes, `Castor-System-*` metadata survives COPY but not PUT or APPEND).

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};

use crate::scsp::config::NodeContext;
use crate::scsp::defects::Defect;
use crate::scsp::metadata;
use crate::scsp::object::{md5_hex, Kind, Record, Version};
use crate::scsp::request::ClientRequest;

/// The kind of new version a request makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutation {
    /// POST: create an object or context, or overwrite a named object.
    Create,
    /// PUT: replace the content of an existing named or alias object.
    Replace,
    /// APPEND: add bytes to the end of an existing named or alias object.
    Append,
    /// COPY: replace the metadata of an existing named or alias object, content unchanged.
    Copy,
    /// DELETE: write a deletion marker.
    Delete,
}

impl Mutation {
    /// Mutations that need the current content on the serving node.
    pub fn needs_current_content(self) -> bool {
        matches!(self, Mutation::Append | Mutation::Copy)
    }

    /// Mutations that take a request body.
    pub fn takes_body(self) -> bool {
        matches!(
            self,
            Mutation::Create | Mutation::Replace | Mutation::Append
        )
    }
}

/// System metadata written by the cluster, not by clients.
pub const COMPOSITE_MD5: &str = "castor-system-compositemd5";
/// Marks an object written erasure-coded (`encoding=` or `erasurecoded=yes`).
pub const ENCODING: &str = "castor-system-encoding";

fn is_system(name: &str) -> bool {
    name.starts_with("castor-system-")
}

fn custom_of(meta: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    meta.iter()
        .filter(|(k, _)| !is_system(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn system_of(meta: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    meta.iter()
        .filter(|(k, _)| is_system(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The erasure-coding mark a write asks for (`encoding=k:p` or `erasurecoded=yes`, 5:2 by
/// default), as system metadata.
pub fn encoding_of(query: &crate::scsp::query::Query) -> Option<(String, String)> {
    if !(query.has("encoding") || query.flag("erasurecoded")) {
        return None;
    }
    let k_p = query
        .get("encoding")
        .filter(|v| !v.is_empty())
        .unwrap_or("5:2");
    Some((ENCODING.to_string(), k_p.to_string()))
}

/// Content and metadata of the new version, from the request, the stored version (for
/// updates) and the body.
pub fn compose(
    ctx: &NodeContext,
    req: &ClientRequest,
    mutation: Mutation,
    stored: Option<&Record>,
    body: Bytes,
) -> (Bytes, BTreeMap<String, String>) {
    let supplied = metadata::persisted(&req.headers);
    let preserve = req.query.flag("preserve")
        && !ctx.cluster.has(Defect::PreserveIgnored)
        && !(mutation == Mutation::Replace && ctx.cluster.has(Defect::PutPreserveIgnored));
    let old_meta = stored.map(|s| s.meta.clone()).unwrap_or_default();
    let old_content = stored.map(|s| s.content.clone()).unwrap_or_default();
    let merged = |base: BTreeMap<String, String>| {
        let mut m = base;
        m.extend(supplied.clone());
        m
    };
    match mutation {
        Mutation::Create => {
            let mut meta = supplied.clone();
            meta.extend(encoding_of(&req.query));
            (body, meta)
        }
        Mutation::Replace => {
            let mut meta = if preserve {
                merged(custom_of(&old_meta))
            } else {
                supplied.clone()
            };
            let mut system = system_of(&old_meta);
            if !ctx.cluster.has(Defect::CompositeMd5KeptOnPut) {
                system.remove(COMPOSITE_MD5);
            }
            meta.extend(system);
            (body, meta)
        }
        Mutation::Append => {
            let content = if ctx.cluster.has(Defect::AppendReplacesContent) {
                body
            } else {
                let mut joined = BytesMut::with_capacity(old_content.len() + body.len() + 1);
                joined.extend_from_slice(&old_content);
                if ctx.cluster.has(Defect::AppendWithSeparator) {
                    joined.extend_from_slice(b"\n");
                }
                joined.extend_from_slice(&body);
                joined.freeze()
            };
            let mut meta = if ctx.cluster.has(Defect::AppendDropsMetadata) {
                supplied.clone()
            } else {
                merged(custom_of(&old_meta))
            };
            let mut system = system_of(&old_meta);
            if !ctx.cluster.has(Defect::CompositeMd5KeptOnPut) {
                system.remove(COMPOSITE_MD5);
            }
            meta.extend(system);
            // The stored digest described the old content only.
            meta.remove("content-md5");
            (content, meta)
        }
        Mutation::Copy => {
            let keep_all = preserve || ctx.cluster.has(Defect::CopyKeepsUnlistedHeaders);
            let mut meta = if keep_all {
                merged(custom_of(&old_meta))
            } else {
                supplied.clone()
            };
            meta.extend(system_of(&old_meta));
            if ctx.cluster.has(Defect::CompositeMd5DroppedOnCopy) {
                meta.remove(COMPOSITE_MD5);
            }
            if ctx.cluster.has(Defect::CopyDropsExpires) {
                meta.remove("expires");
            }
            let content = if ctx.cluster.has(Defect::CopyDropsContentLength) {
                Bytes::new()
            } else {
                old_content
            };
            (content, meta)
        }
        Mutation::Delete => (Bytes::new(), BTreeMap::new()),
    }
}

/// A record from its parts.
pub fn record(
    key: String,
    kind: Kind,
    version: Version,
    deleted: bool,
    content: Bytes,
    meta: BTreeMap<String, String>,
) -> Record {
    Record {
        key,
        kind,
        version,
        deleted,
        md5_hex: md5_hex(&content),
        meta,
        content,
    }
}
