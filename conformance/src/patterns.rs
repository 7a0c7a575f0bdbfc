//! Client-side patterns the SCSP documents prescribe, offered to rule checks and users:
//! the HEAD → COPY update that keeps an object's metadata (the SCSP COPY page), and reading a 202's
//! final result from its trailer (SCSP-32).

use crate::client::{Request, Response};
use crate::target::Ctx;
use crate::verdict::Verdict;

/// True for a header the SCSP COPY page lists under "Headers to preserve" (case-insensitive):
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

/// The final status of a 202: from the `castor-system-result` trailer (`NNN Reason`),
/// which must agree with whatever outcome the body states, in whatever format (the
/// reference's JSON line, plain text, HTML). A 202 alone is never success.
pub fn result_of_202(response: &Response) -> Result<u16, Verdict> {
    if response.status != 202 {
        return Err(Verdict::fail(format!(
            "expected 202 Accepted, got {}",
            response.status
        )));
    }
    let code = trailer_code(response).map_err(Verdict::fail)?;
    body_agrees(response, code).map_err(Verdict::fail)?;
    Ok(code)
}

/// How a multipart completion ended: the trailer's status after a 202 (see
/// [`result_of_202`]), or the status itself when the target answered at once (a bad
/// manifest may be refused before any 202).
pub fn completion_outcome(response: &Response) -> Result<u16, Verdict> {
    if response.status == 202 {
        result_of_202(response)
    } else {
        Ok(response.status)
    }
}

/// The status code of the `castor-system-result` trailer.
pub fn trailer_code(response: &Response) -> Result<u16, String> {
    let Some(trailer) = response.trailer("castor-system-result") else {
        return Err(
            "the 202 ended without a castor-system-result trailer, so its outcome is unknown"
                .to_string(),
        );
    };
    trailer
        .split_whitespace()
        .next()
        .and_then(|c| c.parse().ok())
        .filter(|c| (100..600).contains(c))
        .ok_or_else(|| format!("castor-system-result `{trailer}` has no status code"))
}

/// Whether the outcome a 202's body states agrees with `code`. The body's format is the
/// target's choice: a last line of JSON with a `status` must equal `code`; otherwise any
/// status codes the text names (`201 Created`, `<h1>400 Bad Request</h1>`) must include
/// one of the same class (success or failure), and a body that names no code must not
/// speak only of the opposite outcome. A body that states nothing agrees.
pub fn body_agrees(response: &Response, code: u16) -> Result<(), String> {
    let text = String::from_utf8_lossy(&response.body);
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    if let Some(b) = serde_json::from_str::<serde_json::Value>(last)
        .ok()
        .and_then(|v| v.get("status").and_then(|s| s.as_u64()))
    {
        return if b == u64::from(code) {
            Ok(())
        } else {
            Err(format!(
                "the trailer says {code} but the body says {b}: the 202's outcome is contradictory"
            ))
        };
    }
    let success = |c: u16| c < 400;
    let named: Vec<u16> = text
        .split(|ch: char| !ch.is_ascii_alphanumeric())
        .filter(|t| t.len() == 3 && t.bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|t| t.parse::<u16>().ok())
        .filter(|c| (200..600).contains(c))
        .collect();
    if !named.is_empty() {
        return if named.iter().any(|c| success(*c) == success(code)) {
            Ok(())
        } else {
            Err(format!(
                "the trailer says {code} but the body names {named:?}: the 202's outcome is contradictory"
            ))
        };
    }
    let lower = text.to_ascii_lowercase();
    let says_failure = ["fail", "error", "invalid"]
        .iter()
        .any(|w| lower.contains(w));
    let says_success = ["success", "created", "complete"]
        .iter()
        .any(|w| lower.contains(w));
    match (success(code), says_success, says_failure) {
        (true, false, true) => Err(format!(
            "the trailer says {code} but the body speaks only of failure"
        )),
        (false, true, false) => Err(format!(
            "the trailer says {code} but the body speaks only of success"
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepted(body: &str, trailer: &str) -> Response {
        Response {
            version: crate::client::HttpVersion::Http11,
            status: 202,
            reason: "Accepted".into(),
            headers: Vec::new(),
            body: bytes::Bytes::from(body.to_string()),
            trailers: vec![("castor-system-result".into(), trailer.into())],
            informational: Vec::new(),
        }
    }

    #[test]
    fn a_202_body_may_state_its_outcome_in_any_format() {
        let json = accepted(
            "   \n{\"status\":201,\"reason\":\"Created\"}\n",
            "201 Created",
        );
        assert_eq!(result_of_202(&json).ok(), Some(201));
        let text = accepted("    \n400 Bad Request: duplicate part\n", "400 Bad Request");
        assert_eq!(result_of_202(&text).ok(), Some(400));
        let html = accepted("  <html><h1>201 Created</h1></html>", "201 Created");
        assert_eq!(result_of_202(&html).ok(), Some(201));
        let silent = accepted("      ", "409 Conflict");
        assert_eq!(result_of_202(&silent).ok(), Some(409));
        for (body, trailer) in [
            ("{\"status\":400}", "201 Created"),
            ("  <h1>400 Bad Request</h1>", "201 Created"),
            ("upload failed", "201 Created"),
            ("upload created", "400 Bad Request"),
        ] {
            assert!(
                result_of_202(&accepted(body, trailer)).is_err(),
                "{body} / {trailer}"
            );
        }
        let mut none = accepted("{\"status\":201}", "201 Created");
        none.trailers.clear();
        assert!(result_of_202(&none).is_err());
        let mut sync = accepted("", "");
        sync.status = 400;
        assert_eq!(completion_outcome(&sync).ok(), Some(400));
    }

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
