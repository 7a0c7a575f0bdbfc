//! One item of a Metadata enumerator (spec section 2.3) as the replicator uses it: which
//! object, which revision, created or deleted, and the revision's metadata.
//!
//! The reference publisher names the object in `Content-UUID` (unnamed) or `Content-Name`
//! (named, a request path) with `Content-Domain`, says the event code in `Content-Event`,
//! and sends `Castor-System-Version` and the persisted headers as body lines. Only named
//! objects can be copied with their identity over SCSP (RP4): an unnamed item is read but
//! not applied, and reported back as `dropped`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::http::client::Answer;
use crate::scsp::query::percent_decode;

/// What an item says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// The revision is content (a create or an update).
    Written,
    /// The object was deleted (event code 1).
    Deleted,
}

/// One event the replicator applies to B.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Item {
    /// `/bucket/name` of a named object (decoded).
    pub path: String,
    /// Its domain ("" for the default domain).
    pub domain: String,
    /// The revision's `Castor-System-Version` in milliseconds.
    pub version_ms: u64,
    /// Written or deleted.
    pub change: Change,
    /// The revision's persisted metadata, lower-case names.
    pub meta: BTreeMap<String, String>,
}

impl Item {
    /// The SCSP request target that names the object (`/bucket/name[?domain=D]`).
    pub fn target(&self) -> String {
        let path: Vec<String> = self
            .path
            .split('/')
            .map(crate::scsp::query::percent_encode)
            .collect();
        let mut target = path.join("/");
        if !self.domain.is_empty() {
            target.push_str("?domain=");
            target.push_str(&crate::scsp::query::percent_encode(&self.domain));
        }
        target
    }

    /// The bucket's request target (`/bucket[?domain=D]`), for creating it in B.
    pub fn bucket_target(&self) -> Option<String> {
        let bucket = self.path.strip_prefix('/')?.split('/').next()?;
        let mut target = format!("/{}", crate::scsp::query::percent_encode(bucket));
        if !self.domain.is_empty() {
            target.push_str("?domain=");
            target.push_str(&crate::scsp::query::percent_encode(&self.domain));
        }
        Some(target)
    }
}

/// What one Next answer held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answered {
    /// Nothing new (an empty body).
    Nothing,
    /// An unnamed object's event: not applied (RP4).
    Unnamed,
    /// A named object's event.
    Named(Item),
}

/// Parses `S.mmm` (Castor-System-Version) into milliseconds.
pub fn version_ms(text: &str) -> Option<u64> {
    let (secs, millis) = text.trim().split_once('.')?;
    let secs: u64 = secs.parse().ok()?;
    let millis: u64 = millis.parse().ok()?;
    (millis < 1000).then_some(secs * 1000 + millis)
}

/// Reads a 200 answer of a Metadata enumerator. Anything malformed is an error naming what
/// is wrong: the publisher is another system, its text is untrusted.
pub fn parse(answer: &Answer) -> Result<Answered, String> {
    let body = std::str::from_utf8(&answer.body).map_err(|_| "body is not UTF-8".to_string())?;
    if body.trim().is_empty() {
        return Ok(Answered::Nothing);
    }
    let name = match (answer.header("content-name"), answer.header("content-uuid")) {
        (Some(name), _) => name.to_string(),
        (None, Some(_)) => return Ok(Answered::Unnamed),
        (None, None) => return Err("an item without Content-Name or Content-UUID".into()),
    };
    let path = percent_decode(&name);
    if !path.starts_with('/') || path.matches('/').count() < 2 {
        return Err(format!("Content-Name `{name}` is not /bucket/name"));
    }
    let domain = answer
        .header("content-domain")
        .map(percent_decode)
        .unwrap_or_default();
    let change = match answer.header("content-event").map(str::trim) {
        Some("1") => Change::Deleted,
        Some("2" | "4") | None => Change::Written,
        Some(other) => return Err(format!("Content-Event `{other}`")),
    };
    let mut version = None;
    let mut meta = BTreeMap::new();
    for line in body.lines().filter(|l| !l.trim().is_empty()) {
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| format!("metadata line `{line}` has no colon"))?;
        let k = k.trim().to_ascii_lowercase();
        let v = v.trim().to_string();
        if k == "castor-system-version" {
            version = Some(version_ms(&v).ok_or_else(|| format!("version `{v}`"))?);
        } else if crate::scsp::metadata::is_persisted(&k) {
            meta.insert(k, v);
        }
    }
    Ok(Answered::Named(Item {
        path,
        domain,
        version_ms: version.ok_or("an item without Castor-System-Version")?,
        change,
        meta,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::{HeaderMap, HeaderValue, StatusCode};

    fn answer(headers: &[(&'static str, &'static str)], body: &'static str) -> Answer {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, HeaderValue::from_static(v));
        }
        Answer {
            status: StatusCode::OK,
            headers: map,
            body: Bytes::from_static(body.as_bytes()),
        }
    }

    #[test]
    fn a_named_item_reads_its_name_domain_version_and_metadata() {
        let a = answer(
            &[
                ("content-name", "/photos/a%20b.jpg"),
                ("content-domain", "d.example"),
                ("content-event", "2"),
            ],
            "Castor-System-Version: 12.034\nx-color-meta: blue\ncontent-type: image/jpeg\n",
        );
        let Ok(Answered::Named(item)) = parse(&a) else {
            panic!("a named item")
        };
        assert_eq!(item.path, "/photos/a b.jpg");
        assert_eq!(item.domain, "d.example");
        assert_eq!(item.version_ms, 12_034);
        assert_eq!(item.change, Change::Written);
        assert_eq!(item.meta.len(), 2);
        assert_eq!(item.target(), "/photos/a%20b.jpg?domain=d.example");
        assert_eq!(
            item.bucket_target().as_deref(),
            Some("/photos?domain=d.example")
        );
    }

    #[test]
    fn empty_unnamed_and_malformed_answers_are_told_apart() {
        assert_eq!(parse(&answer(&[], "")), Ok(Answered::Nothing));
        assert_eq!(
            parse(&answer(
                &[("content-uuid", "00ff")],
                "Castor-System-Version: 1.000\n"
            )),
            Ok(Answered::Unnamed)
        );
        for (headers, body, says) in [
            (vec![], "x: y\n", "without Content-Name"),
            (
                vec![("content-name", "/flat")],
                "x: y\n",
                "not /bucket/name",
            ),
            (
                vec![("content-name", "/b/n")],
                "no colon here\n",
                "no colon",
            ),
            (
                vec![("content-name", "/b/n")],
                "x-a-meta: 1\n",
                "Castor-System-Version",
            ),
            (
                vec![("content-name", "/b/n"), ("content-event", "3")],
                "Castor-System-Version: 1.000\n",
                "Content-Event",
            ),
        ] {
            let err = parse(&answer(&headers, body)).unwrap_err();
            assert!(err.contains(says), "{err}");
        }
    }

    #[test]
    fn versions_parse_as_milliseconds() {
        assert_eq!(version_ms("1700000000.005"), Some(1_700_000_000_005));
        assert_eq!(version_ms("12"), None);
        assert_eq!(version_ms("a.b"), None);
    }
}
