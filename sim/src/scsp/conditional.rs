//! Conditional requests: If-Match, If-None-Match and If-Modified-Since (SCSP-40, SCSP-41),
//! evaluated in RFC 9110 order against the current version.

use http::HeaderMap;

/// The current version as far as preconditions care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Current<'a> {
    /// Hex MD5 of the content (the entity tag without quotes).
    pub md5_hex: &'a str,
    /// `Last-Modified` in seconds since the epoch.
    pub modified_secs: u64,
}

/// What the preconditions say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// Go ahead.
    Proceed,
    /// 304 Not Modified (reads only).
    NotModified,
    /// 412 Precondition Failed.
    Failed,
}

fn tags(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(|t| {
        let t = t.trim();
        let t = t.strip_prefix("W/").unwrap_or(t);
        t.trim_matches('"')
    })
}

/// Evaluates the preconditions of a request. `is_read` is true for GET and HEAD;
/// `now_secs` is the node's clock (If-Modified-Since dates in the future are ignored).
pub fn evaluate(
    headers: &HeaderMap,
    is_read: bool,
    current: Option<Current<'_>>,
    now_secs: u64,
) -> Precondition {
    evaluate_ignoring(headers, &[], is_read, current, now_secs)
}

/// [`evaluate`] as if the `ignored` headers were absent: how a defect switches a
/// precondition off without copying the request's headers.
pub fn evaluate_ignoring(
    headers: &HeaderMap,
    ignored: &[&str],
    is_read: bool,
    current: Option<Current<'_>>,
    now_secs: u64,
) -> Precondition {
    let header = |headers: &HeaderMap, name: &str| -> Option<String> {
        if ignored.contains(&name) {
            return None;
        }
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    if let Some(if_match) = header(headers, "if-match").as_deref() {
        let matches = match current {
            None => false,
            Some(c) => if_match.trim() == "*" || tags(if_match).any(|t| t == c.md5_hex),
        };
        if !matches {
            return Precondition::Failed;
        }
    }
    if let Some(if_none_match) = header(headers, "if-none-match").as_deref() {
        let matches = match current {
            None => false,
            Some(c) => if_none_match.trim() == "*" || tags(if_none_match).any(|t| t == c.md5_hex),
        };
        if matches {
            return if is_read {
                Precondition::NotModified
            } else {
                Precondition::Failed
            };
        }
        return Precondition::Proceed;
    }
    if is_read {
        if let (Some(since), Some(c)) = (header(headers, "if-modified-since"), current) {
            let since = since.as_str();
            if let Ok(t) = httpdate::parse_http_date(since) {
                let since_secs = t
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                if since_secs <= now_secs && c.modified_secs <= since_secs {
                    return Precondition::NotModified;
                }
            }
        }
    }
    Precondition::Proceed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("header value"));
        }
        h
    }

    const CUR: Current<'static> = Current {
        md5_hex: "abc",
        modified_secs: 1_000,
    };

    #[test]
    fn if_match() {
        let h = headers(&[("if-match", "\"abc\"")]);
        assert_eq!(evaluate(&h, false, Some(CUR), 2_000), Precondition::Proceed);
        let h = headers(&[("if-match", "\"zzz\", \"yyy\"")]);
        assert_eq!(evaluate(&h, true, Some(CUR), 2_000), Precondition::Failed);
        let h = headers(&[("if-match", "*")]);
        assert_eq!(evaluate(&h, false, None, 2_000), Precondition::Failed);
    }

    #[test]
    fn if_none_match() {
        let h = headers(&[("if-none-match", "W/\"abc\"")]);
        assert_eq!(
            evaluate(&h, true, Some(CUR), 2_000),
            Precondition::NotModified
        );
        assert_eq!(evaluate(&h, false, Some(CUR), 2_000), Precondition::Failed);
        let h = headers(&[("if-none-match", "*")]);
        assert_eq!(evaluate(&h, false, None, 2_000), Precondition::Proceed);
    }

    #[test]
    fn if_modified_since_ignores_future_dates() {
        let past =
            httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_500));
        let h = headers(&[("if-modified-since", &past)]);
        assert_eq!(
            evaluate(&h, true, Some(CUR), 2_000),
            Precondition::NotModified
        );
        assert_eq!(
            evaluate(&h, false, Some(CUR), 2_000),
            Precondition::Proceed,
            "reads only"
        );
        let older =
            httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(500));
        let h = headers(&[("if-modified-since", &older)]);
        assert_eq!(evaluate(&h, true, Some(CUR), 2_000), Precondition::Proceed);
        let future =
            httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(9_000));
        let h = headers(&[("if-modified-since", &future)]);
        assert_eq!(evaluate(&h, true, Some(CUR), 2_000), Precondition::Proceed);
    }
}
