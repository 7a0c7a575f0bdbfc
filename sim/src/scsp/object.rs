//! What a node stores: records (one version of one object or context) and their versions.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// The kind of a stored thing; it decides which methods are allowed (SCSP-18).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Unnamed, addressed by UUID, never modified (only WRITE, READ, INFO, DELETE).
    Immutable,
    /// Unnamed but mutable ("anchor stream"): the UUID stays while the content changes.
    Alias,
    /// `/bucket/name` inside a domain.
    Named,
    /// A domain (tenant) context.
    Domain,
    /// A bucket context inside a domain.
    Bucket,
    /// An open multipart upload (its state, kept on every node like a context).
    Upload,
}

impl Kind {
    /// Contexts are kept on every node, so a bucket lookup never needs the network.
    pub fn is_context(self) -> bool {
        matches!(self, Kind::Domain | Kind::Bucket | Kind::Upload)
    }

    /// Every kind, in a stable order.
    pub const ALL: [Kind; 6] = [
        Kind::Immutable,
        Kind::Alias,
        Kind::Named,
        Kind::Domain,
        Kind::Bucket,
        Kind::Upload,
    ];

    /// The lower-case name used on the node-to-node wire.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Immutable => "immutable",
            Kind::Alias => "alias",
            Kind::Named => "named",
            Kind::Domain => "domain",
            Kind::Bucket => "bucket",
            Kind::Upload => "upload",
        }
    }

    /// The kind with this name.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Unnamed objects answer with `Content-UUID` (SCSP-1).
    pub fn is_unnamed(self) -> bool {
        matches!(self, Kind::Immutable | Kind::Alias)
    }
}

/// A version stamp: the serving node's clock in milliseconds, then the node id as tie-break.
///
/// Newest wins everywhere (replica push, health processor, reads). Two versions stamped in
/// the same millisecond on different nodes are ordered by node id; this is the documented
/// tie-break knob's default (see docs/choices.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Version {
    /// Milliseconds since the Unix epoch on the serving node's (possibly skewed) clock.
    pub stamp_ms: u64,
    /// The node that stamped it.
    pub node: u32,
}

/// The `Castor-System-Version` header's name, parsed once (a name given as text is parsed
/// and copied on every response).
pub(crate) const CASTOR_SYSTEM_VERSION: http::HeaderName =
    http::HeaderName::from_static("castor-system-version");

impl Version {
    /// `Castor-System-Version`: epoch seconds with a millisecond fraction, e.g. `1287187180.959`.
    pub fn castor_system_version(&self) -> String {
        let mut out = String::with_capacity(24);
        out.push_str(itoa::Buffer::new().format(self.stamp_ms / 1000));
        out.push('.');
        let ms = self.stamp_ms % 1000;
        for digit in [ms / 100, ms / 10 % 10, ms % 10] {
            out.push(char::from(b'0' + digit as u8));
        }
        out
    }

    /// `Last-Modified`: one-second resolution, as HTTP dates have.
    pub fn last_modified(&self) -> String {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(self.stamp_ms);
        httpdate::fmt_http_date(t)
    }
}

/// One version of one object or context, as stored on a node and shipped between nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The store key (see `key::ObjectKey::store_key`).
    pub key: String,
    /// What it is.
    pub kind: Kind,
    /// Its version.
    pub version: Version,
    /// A deletion marker: the object reads as 404 but the version still orders later writes.
    pub deleted: bool,
    /// Persisted metadata headers, lower-cased names, in name order.
    pub meta: BTreeMap<String, String>,
    /// Hex MD5 of the content, the body of the quoted `Etag`.
    pub md5_hex: String,
    /// The content bytes (empty for contexts and deletion markers).
    #[serde(skip)]
    pub content: Bytes,
}

impl Record {
    /// Bytes this record takes on disk: content plus a small fixed overhead, so that even
    /// empty objects and markers use space and a full disk is reachable.
    pub fn stored_bytes(&self) -> u64 {
        self.content.len() as u64 + 256
    }

    /// The quoted entity tag.
    pub fn etag(&self) -> String {
        let mut tag = String::with_capacity(self.md5_hex.len() + 2);
        tag.push('"');
        tag.push_str(&self.md5_hex);
        tag.push('"');
        tag
    }
}

/// Hex MD5 of some bytes (the disk's digest, which SCSP's `Etag` and `Content-MD5` share).
pub use crate::store::md5_hex;

/// Lower- or upper-case hex of some bytes, without a formatter per byte (digests are hexed
/// on every write and every scrub).
pub fn hex(bytes: &[u8], upper: bool) -> String {
    let digits: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(digits[usize::from(b >> 4)] as char);
        out.push(digits[usize::from(b & 0x0f)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_show_seconds_and_three_digits_of_milliseconds() {
        let shown = |stamp_ms| Version { stamp_ms, node: 1 }.castor_system_version();
        assert_eq!(shown(0), "0.000");
        assert_eq!(shown(7), "0.007");
        assert_eq!(shown(1_000_050), "1000.050");
        assert_eq!(shown(1_287_187_180_959), "1287187180.959");
        assert_eq!(shown(u64::MAX), "18446744073709551.615");
    }

    #[test]
    fn last_modified_is_the_http_date_of_the_stamp() {
        let shown = |stamp_ms| Version { stamp_ms, node: 0 }.last_modified();
        assert_eq!(shown(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(shown(784_111_777_000), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(shown(784_111_777_999), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(shown(951_782_400_000), "Tue, 29 Feb 2000 00:00:00 GMT");
    }

    #[test]
    fn the_etag_is_the_quoted_md5() {
        let record = Record {
            key: "u/x".to_string(),
            kind: Kind::Immutable,
            version: Version {
                stamp_ms: 1,
                node: 0,
            },
            deleted: false,
            meta: BTreeMap::new(),
            md5_hex: md5_hex(b"x"),
            content: Bytes::from_static(b"x"),
        };
        assert_eq!(record.etag(), format!("\"{}\"", md5_hex(b"x")));
    }
}
