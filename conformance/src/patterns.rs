//! Client-side patterns the SCSP documents prescribe, offered to rule checks and users:
//! the HEAD → COPY update that keeps an object's metadata (seed-001), and reading a 202's
//! final result from its trailer (SCSP-32).

use crate::client::{Request, Response};
use crate::target::Ctx;
use crate::verdict::Verdict;

/// True for a header seed-001 lists under "Headers to preserve" (case-insensitive):
/// Allow, Cache-Control, `Castor-*` except `Castor-System-*`, Content-Base,
/// Content-Disposition, Content-Encoding, Content-Language, Content-Length,
/// Content-Location, Content-MD5, Content-Type, Expires, Lifepoint, `Policy-*` except
/// `Policy-*-Evaluated[-Constrained]`, and `X-*-Meta[-*]`.
pub fn is_preserved(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    const EXACT: [&str; 12] = [
        "allow",
        "cache-control",
        "content-base",
        "content-disposition",
        "content-encoding",
        "content-language",
        "content-length",
        "content-location",
        "content-md5",
        "content-type",
        "expires",
        "lifepoint",
    ];
    if EXACT.contains(&n.as_str()) {
        return true;
    }
    if let Some(rest) = n.strip_prefix("castor-") {
        return !rest.starts_with("system-");
    }
    if n.starts_with("policy-") {
        return !(n.ends_with("-evaluated") || n.ends_with("-evaluated-constrained"));
    }
    n.strip_prefix("x-")
        .is_some_and(|rest| rest.split('-').skip(1).any(|part| part == "meta"))
}

/// The documented way to change metadata with COPY: HEAD the object, keep every writable
/// persisted header it has, apply `set` (add or replace) and `remove`, and COPY with no
/// body. `Content-Length` is not sent as a header value from the HEAD: COPY carries none.
pub async fn copy_keeping(
    ctx: &Ctx,
    node: usize,
    path: &str,
    set: &[(&str, &str)],
    remove: &[&str],
) -> Result<Response, Verdict> {
    let head = ctx
        .request(node, &Request::new("HEAD", path))
        .await?
        .response;
    if head.status != 200 {
        return Err(Verdict::fail(format!(
            "HEAD {path} before COPY answered {}",
            head.status
        )));
    }
    let mut headers: Vec<(String, String)> = head
        .headers
        .iter()
        .filter(|(k, _)| is_preserved(k) && !k.eq_ignore_ascii_case("content-length"))
        .filter(|(k, _)| !remove.iter().any(|r| r.eq_ignore_ascii_case(k)))
        .filter(|(k, _)| !set.iter().any(|(s, _)| s.eq_ignore_ascii_case(k)))
        .cloned()
        .collect();
    headers.extend(set.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let mut copy = Request::new("COPY", path).header("Content-Length", "0");
    for (k, v) in headers {
        copy = copy.header(k, v);
    }
    Ok(ctx.request(node, &copy).await?.response)
}

/// The final status of a 202: from the `castor-system-result` trailer (`NNN Reason`), which
/// must agree with the status in the body's last JSON line. A 202 alone is never success.
pub fn result_of_202(response: &Response) -> Result<u16, Verdict> {
    if response.status != 202 {
        return Err(Verdict::fail(format!(
            "expected 202 Accepted, got {}",
            response.status
        )));
    }
    let Some(trailer) = response.trailer("castor-system-result") else {
        return Err(Verdict::fail(
            "the 202 ended without a castor-system-result trailer, so its outcome is unknown",
        ));
    };
    let code: u16 = trailer
        .split_whitespace()
        .next()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| {
            Verdict::fail(format!(
                "castor-system-result `{trailer}` has no status code"
            ))
        })?;
    let text = String::from_utf8_lossy(&response.body);
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    let body_code = serde_json::from_str::<serde_json::Value>(last)
        .ok()
        .and_then(|v| v.get("status").and_then(|s| s.as_u64()));
    match body_code {
        Some(b) if b as u16 == code => Ok(code),
        Some(b) => Err(Verdict::fail(format!(
            "the trailer says {code} but the body says {b}: the 202's outcome is contradictory"
        ))),
        None => Err(Verdict::fail(format!(
            "the 202's body does not end with a result (last line `{}`)",
            last.chars().take(80).collect::<String>()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preserve_list_of_seed_001() {
        for yes in [
            "Allow",
            "Castor-Color",
            "Content-Length",
            "X-A-Meta-B",
            "Policy-X",
            "Lifepoint",
        ] {
            assert!(is_preserved(yes), "{yes}");
        }
        for no in [
            "Castor-System-Version",
            "Policy-X-Evaluated",
            "Etag",
            "Date",
            "X-Meta",
        ] {
            assert!(!is_preserved(no), "{no}");
        }
    }
}
