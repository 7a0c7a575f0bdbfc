//! Small helpers every check uses: status expectations and header readings.

use crate::client::Response;
use crate::verdict::Verdict;

/// A checked rule that needs one node and nothing but HTTP: most rules are this shape.
pub const fn http_rule(
    id: &'static str,
    title: &'static str,
    source: &'static str,
    strength: crate::catalog::Strength,
    check: crate::catalog::CheckFn,
    clauses: &'static [crate::clause::ClauseSpec],
) -> crate::catalog::Rule {
    crate::catalog::Rule {
        id,
        title,
        source,
        strength,
        nodes_min: 1,
        needs: crate::target::Capabilities::NONE,
        roles: crate::families::scsp::ROLES,
        uses: crate::target::Capabilities::NONE,
        check: crate::catalog::Check::Run(check),
        clauses,
    }
}

/// Fails unless the response has one of the expected statuses.
pub fn expect_status(response: &Response, expected: &[u16], what: &str) -> Result<(), Verdict> {
    if expected.contains(&response.status) {
        return Ok(());
    }
    let body: String = String::from_utf8_lossy(&response.body)
        .chars()
        .take(120)
        .collect();
    let wanted: Vec<String> = expected.iter().map(u16::to_string).collect();
    Err(Verdict::fail(format!(
        "{what}: expected {}, got {} {}{}",
        wanted.join(" or "),
        response.status,
        response.reason,
        if body.is_empty() {
            String::new()
        } else {
            format!(" ({})", body.trim())
        }
    )))
}

/// A header that must be present.
pub fn require_header<'a>(
    response: &'a Response,
    name: &str,
    what: &str,
) -> Result<&'a str, Verdict> {
    response
        .header(name)
        .ok_or_else(|| Verdict::fail(format!("{what}: {} has no {name} header", response.status)))
}

/// The last path segment of a URI, ignoring its query (`http://n/b/x?auth=1` → `x`).
pub fn last_segment(uri: &str) -> &str {
    let path = uri.split(['?', '#']).next().unwrap_or("");
    path.trim_end_matches('/').rsplit('/').next().unwrap_or("")
}

/// True for 32 hex digits.
pub fn is_uuid(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `Replica-Count` as a number: absent means one (SCSP-10 only requires it above one).
pub fn replica_count(response: &Response) -> Result<usize, Verdict> {
    match response.header("replica-count") {
        None => Ok(1),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| Verdict::fail(format!("Replica-Count `{v}` is not a number"))),
    }
}

/// Declares a catalog check function from an `async fn(&Ctx) -> Result<(), Verdict>` that
/// judges its clauses through `ctx.clauses`.
#[macro_export]
macro_rules! check_fn {
    ($name:ident, $body:ident) => {
        fn $name(ctx: $crate::target::Ctx) -> $crate::catalog::CheckFuture {
            Box::pin(async move { $body(&ctx).await })
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_segments() {
        assert_eq!(last_segment("http://10.0.0.1:80/b/x?auth=1"), "x");
        assert_eq!(
            last_segment("http://n/41a140b5271dc8d22ff8d027176a0821/?auth=1"),
            "41a140b5271dc8d22ff8d027176a0821"
        );
        assert_eq!(last_segment("/b/dir/x"), "x");
    }
}
