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
    pub fn store_key(&self) -> String {
        match self {
            ObjectKey::Domain(d) => format!("d/{d}"),
            ObjectKey::Bucket { domain, bucket } => format!("b/{domain}/{bucket}"),
            ObjectKey::Uuid(u) => format!("u/{u}"),
            ObjectKey::Named {
                domain,
                bucket,
                name,
            } => format!("n/{domain}/{bucket}/{name}"),
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

/// True for a UUID as SCSP renders it: 32 hex digits.
pub fn is_uuid(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A fresh UUID from two random words (from the runtime shim's seeded source).
pub fn new_uuid(high: u64, low: u64) -> String {
    format!("{high:016x}{low:016x}")
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
        assert!(is_uuid(&new_uuid(1, 2)));
    }
}
