//! Which request headers an object keeps (persisted metadata), and the lifepoint's `reps=`.

use std::collections::BTreeMap;

use http::HeaderMap;

/// True for a header a client may persist on an object. This is the COPY "headers to
/// preserve" list of seed-001, minus `Content-Length` (derived from the content).
pub fn is_persisted(name: &str) -> bool {
    // Names from hyper are already lower case: copy only the others.
    let n: std::borrow::Cow<'_, str> = if name.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(name.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(name)
    };
    const EXACT: [&str; 11] = [
        "allow",
        "cache-control",
        "content-base",
        "content-disposition",
        "content-encoding",
        "content-language",
        "content-location",
        "content-md5",
        "content-type",
        "expires",
        "lifepoint",
    ];
    if EXACT.contains(&n.as_ref()) {
        return true;
    }
    if n.starts_with("castor-") {
        return !n.starts_with("castor-system-");
    }
    if n.starts_with("policy-") {
        return !(n.ends_with("-evaluated") || n.ends_with("-evaluated-constrained"));
    }
    // X-<anything>-Meta or X-<anything>-Meta-<anything>.
    if let Some(rest) = n.strip_prefix("x-") {
        return rest.split('-').skip(1).any(|part| part == "meta");
    }
    false
}

/// The persisted headers of a request, names lower-cased, in name order. Repeated headers
/// are joined with ", " as HTTP allows.
pub fn persisted(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        if !is_persisted(name.as_str()) {
            continue;
        }
        let Ok(v) = value.to_str() else { continue };
        out.entry(name.as_str().to_string())
            .and_modify(|existing| {
                existing.push_str(", ");
                existing.push_str(v);
            })
            .or_insert_with(|| v.to_string());
    }
    out
}

/// The `reps=N` of a `Lifepoint` header, e.g. `[] reps=3` → 3.
pub fn lifepoint_reps(meta: &BTreeMap<String, String>) -> Option<usize> {
    let lifepoint = meta.get("lifepoint")?;
    lifepoint
        .split(|c: char| c.is_whitespace() || c == ',')
        .find_map(|part| part.strip_prefix("reps=")?.parse::<usize>().ok())
        .filter(|n| *n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preserve_list_matches_seed_001() {
        for yes in [
            "Content-Type",
            "Castor-Color",
            "X-Color-Meta",
            "x-a-meta-b",
            "Policy-Replicas",
            "Lifepoint",
            "content-type",
            "x-color-meta",
        ] {
            assert!(is_persisted(yes), "{yes}");
        }
        for no in [
            "Content-Length",
            "Castor-System-Version",
            "Policy-Replicas-Evaluated",
            "X-Meta",
            "Host",
            "Authorization",
            "castor-system-version",
            "policy-replicas-evaluated",
        ] {
            assert!(!is_persisted(no), "{no}");
        }
    }

    #[test]
    fn lifepoint_reps_are_read() {
        let meta = BTreeMap::from([("lifepoint".to_string(), "[] reps=3".to_string())]);
        assert_eq!(lifepoint_reps(&meta), Some(3));
        assert_eq!(lifepoint_reps(&BTreeMap::new()), None);
    }
}
