//! What a request path names: the node itself, a context, or an object, and its store key.

/// A parsed request target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Locator {
    /// `/`: node status on GET; an unnamed write (or domain creation) on POST.
    Root,
    /// `/<32 hex>`: an unnamed object (immutable or alias).
    Uuid(String),
    /// `/<bucket>`: a bucket context.
    Bucket(String),
    /// `/<bucket>/<name...>`: a named object.
    Named {
        /// The bucket.
        bucket: String,
        /// The name, possibly with further slashes.
        name: String,
    },
}

/// The store key of everything a node keeps. Its string form orders contexts before objects
/// and is what replicas, inventories and the trace use.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ObjectKey {
    /// A domain context.
    Domain(String),
    /// A bucket context in a domain.
    Bucket {
        /// The domain ("" is the default, untenanted domain).
        domain: String,
        /// The bucket.
        bucket: String,
    },
    /// An unnamed object.
    Uuid(String),
    /// A named object.
    Named {
        /// The domain ("" is the default domain).
        domain: String,
        /// The bucket.
        bucket: String,
        /// The name.
        name: String,
    },
}

impl ObjectKey {
    /// The string form used on disk and on the internal wire.
    ///
    /// Built from its parts with one allocation of the right size: every request computes
    /// it, some more than once.
    pub fn store_key(&self) -> String {
        match self {
            ObjectKey::Domain(d) => join_key("d/", &[d]),
            ObjectKey::Bucket { domain, bucket } => join_key("b/", &[domain, bucket]),
            ObjectKey::Uuid(u) => join_key("u/", &[u]),
            ObjectKey::Named {
                domain,
                bucket,
                name,
            } => join_key("n/", &[domain, bucket, name]),
        }
    }

    /// The key of the context a named object or bucket lives in, if any.
    pub fn parent_context(&self) -> Option<ObjectKey> {
        match self {
            ObjectKey::Named { domain, bucket, .. } => Some(ObjectKey::Bucket {
                domain: domain.clone(),
                bucket: bucket.clone(),
            }),
            ObjectKey::Bucket { domain, .. } if !domain.is_empty() => {
                Some(ObjectKey::Domain(domain.clone()))
            }
            _ => None,
        }
    }
}

/// `prefix` followed by `parts` joined with `/`.
fn join_key(prefix: &str, parts: &[&str]) -> String {
    let len = prefix.len() + parts.iter().map(|p| p.len() + 1).sum::<usize>();
    let mut key = String::with_capacity(len);
    key.push_str(prefix);
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            key.push('/');
        }
        key.push_str(part);
    }
    key
}

/// True for a UUID as SCSP renders it: 32 hex digits.
pub fn is_uuid(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A fresh UUID from two random words (from the runtime shim's seeded source).
pub fn new_uuid(high: u64, low: u64) -> String {
    let mut words = [0u8; 16];
    words[..8].copy_from_slice(&high.to_be_bytes());
    words[8..].copy_from_slice(&low.to_be_bytes());
    crate::scsp::object::hex(&words, false)
}

/// Splits a request path into a locator. Returns `None` for paths SCSP has no meaning for
/// (empty segments such as `//x`).
pub fn parse_path(path: &str) -> Option<Locator> {
    let trimmed = path.strip_prefix('/')?;
    if trimmed.is_empty() {
        return Some(Locator::Root);
    }
    match trimmed.split_once('/') {
        None if is_uuid(trimmed) => Some(Locator::Uuid(trimmed.to_ascii_lowercase())),
        None => Some(Locator::Bucket(trimmed.to_string())),
        Some((bucket, name)) if !bucket.is_empty() && !name.is_empty() => Some(Locator::Named {
            bucket: bucket.to_string(),
            name: name.to_string(),
        }),
        // `/<uuid>/` appears in redirect examples (seed-000): treat it as the UUID.
        Some((uuid, "")) if is_uuid(uuid) => Some(Locator::Uuid(uuid.to_ascii_lowercase())),
        Some((bucket, "")) if !bucket.is_empty() => Some(Locator::Bucket(bucket.to_string())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_into_locators() {
        assert_eq!(parse_path("/"), Some(Locator::Root));
        let uuid = "41a140b5271dc8d22ff8d027176a0821";
        assert_eq!(
            parse_path(&format!("/{uuid}")),
            Some(Locator::Uuid(uuid.into()))
        );
        assert_eq!(
            parse_path(&format!("/{uuid}/")),
            Some(Locator::Uuid(uuid.into()))
        );
        assert_eq!(
            parse_path("/photos"),
            Some(Locator::Bucket("photos".into()))
        );
        assert_eq!(
            parse_path("/photos/2024/a.jpg"),
            Some(Locator::Named {
                bucket: "photos".into(),
                name: "2024/a.jpg".into()
            })
        );
        assert_eq!(parse_path("//a"), None);
        assert_eq!(parse_path("nope"), None);
    }

    #[test]
    fn store_keys_are_distinct_per_kind() {
        let named = ObjectKey::Named {
            domain: "".into(),
            bucket: "b".into(),
            name: "n".into(),
        };
        assert_eq!(named.store_key(), "n//b/n");
        assert_eq!(
            named.parent_context(),
            Some(ObjectKey::Bucket {
                domain: "".into(),
                bucket: "b".into()
            })
        );
        assert_eq!(ObjectKey::Domain("d".into()).store_key(), "d/d");
        assert_eq!(ObjectKey::Uuid("u1".into()).store_key(), "u/u1");
        let bucket = ObjectKey::Bucket {
            domain: "x.org".into(),
            bucket: "b".into(),
        };
        assert_eq!(bucket.store_key(), "b/x.org/b");
        assert!(is_uuid(&new_uuid(1, 2)));
        assert_eq!(
            new_uuid(0x0123_4567_89ab_cdef, 2),
            "0123456789abcdef0000000000000002"
        );
    }
}
