//! A client request as the handlers see it: parsed once, checked once.

use http::HeaderMap;

use crate::scsp::key::{Locator, ObjectKey};
use crate::scsp::query::Query;

/// The parts of a client request every method family needs.
#[derive(Debug, Clone)]
pub struct ClientRequest {
    /// The method, upper-case as sent.
    pub method: String,
    /// The raw path.
    pub path: String,
    /// The raw query string ("" when absent).
    pub query_raw: String,
    /// Parsed query arguments.
    pub query: Query,
    /// What the path names.
    pub locator: Locator,
    /// The domain the request addresses ("" for the default domain).
    pub domain: String,
    /// Whether the domain came from `?domain=` (then Locations repeat it).
    pub domain_from_query: bool,
    /// Request headers.
    pub headers: HeaderMap,
    /// True when a valid `auth=` token pins the request to this node: no further redirect.
    pub pinned: bool,
}

impl ClientRequest {
    /// A header as text, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The store key of the object or context the path names (None for the root).
    pub fn object_key(&self) -> Option<ObjectKey> {
        match &self.locator {
            Locator::Root => None,
            Locator::Uuid(u) => Some(ObjectKey::Uuid(u.clone())),
            Locator::Bucket(b) => Some(ObjectKey::Bucket {
                domain: self.domain.clone(),
                bucket: b.clone(),
            }),
            Locator::Named { bucket, name } => Some(ObjectKey::Named {
                domain: self.domain.clone(),
                bucket: bucket.clone(),
                name: name.clone(),
            }),
        }
    }
}

/// The domain a request addresses: `?domain=` wins; otherwise the Host name when it is a
/// name (not an IP literal, not `localhost`); otherwise the default domain "".
pub fn domain_of(query: &Query, host: &str) -> (String, bool) {
    if let Some(d) = query.get("domain") {
        return (d.to_ascii_lowercase(), true);
    }
    let name = strip_port(host);
    let is_ip =
        name.parse::<std::net::IpAddr>().is_ok() || (name.starts_with('[') && name.ends_with(']'));
    if name.is_empty() || is_ip || name.eq_ignore_ascii_case("localhost") {
        (String::new(), false)
    } else {
        (name.to_ascii_lowercase(), false)
    }
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return match host.find(']') {
            Some(end) => &host[..=end],
            None => host,
        };
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_comes_from_query_then_host_name() {
        let q = Query::parse("domain=Example.com");
        assert_eq!(domain_of(&q, "10.0.0.1:80"), ("example.com".into(), true));
        let none = Query::default();
        assert_eq!(domain_of(&none, "10.0.0.1:80"), ("".into(), false));
        assert_eq!(domain_of(&none, "[::1]:80"), ("".into(), false));
        assert_eq!(domain_of(&none, "localhost:8080"), ("".into(), false));
        assert_eq!(domain_of(&none, "tenant.org"), ("tenant.org".into(), false));
    }
}
