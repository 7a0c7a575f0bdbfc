//! `auth=` tokens on redirect `Location`s (seed-000: the client must resend the exact URI).
//!
//! The docs give no format (examples are 28–32 hex digits). Ours is 32 hex digits: 8 of
//! expiry (Unix seconds on the issuing node's clock) and 24 of HMAC-SHA256 over the method,
//! the target node, the path, the other query arguments and the expiry, keyed with the
//! cluster secret. The target verifies it; see docs/choices.md for the statuses.

use hmac::Mac;

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Not 32 hex digits, or the MAC does not match: forged or altered.
    Invalid,
    /// Well formed and authentic, but its expiry has passed.
    Expired,
}

/// What a token binds: the request it permits.
#[derive(Debug, Clone, Copy)]
pub struct Grant<'a> {
    /// The HTTP method.
    pub method: &'a str,
    /// The node that must serve it (its index).
    pub node: usize,
    /// The request path.
    pub path: &'a str,
    /// The query string without the `auth` argument.
    pub query: &'a str,
}

fn mac(secret: &[u8], grant: &Grant<'_>, expiry_secs: u32) -> [u8; 12] {
    let mut m = crate::scsp::peer_auth::keyed(secret);
    let mut node = itoa::Buffer::new();
    for part in [
        grant.method.as_bytes(),
        node.format(grant.node).as_bytes(),
        grant.path.as_bytes(),
        grant.query.as_bytes(),
        &expiry_secs.to_be_bytes(),
    ] {
        m.update(&(part.len() as u32).to_be_bytes());
        m.update(part);
    }
    let full = m.finalize().into_bytes();
    let mut out = [0u8; 12];
    out.copy_from_slice(&full[..12]);
    out
}

/// Issues a token valid until `expiry_secs`.
pub fn issue(secret: &[u8], grant: &Grant<'_>, expiry_secs: u32) -> String {
    // The expiry's eight hex digits are its four big-endian bytes: one hex pass writes the
    // whole token (every redirect issues one and every redirected request checks one).
    let mut token = [0u8; 16];
    token[..4].copy_from_slice(&expiry_secs.to_be_bytes());
    token[4..].copy_from_slice(&mac(secret, grant, expiry_secs));
    crate::scsp::object::hex(&token, true)
}

/// Checks a token against the request it arrived with, at `now_secs` on the target's clock.
pub fn verify(
    secret: &[u8],
    grant: &Grant<'_>,
    token: &str,
    now_secs: u32,
) -> Result<(), TokenError> {
    if token.len() != 32 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(TokenError::Invalid);
    }
    let expiry_secs = u32::from_str_radix(&token[..8], 16).map_err(|_| TokenError::Invalid)?;
    let expected = issue(secret, grant, expiry_secs);
    // Constant-time comparison is not needed in a simulator, but it costs nothing.
    let same = expected
        .bytes()
        .zip(token.to_ascii_uppercase().bytes())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0;
    if !same {
        return Err(TokenError::Invalid);
    }
    if now_secs > expiry_secs {
        return Err(TokenError::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"cluster-secret";

    fn grant() -> Grant<'static> {
        Grant {
            method: "POST",
            node: 2,
            path: "/b/n",
            query: "replicate=2",
        }
    }

    #[test]
    fn issued_tokens_verify_until_expiry() {
        let t = issue(SECRET, &grant(), 1000);
        assert_eq!(t.len(), 32);
        assert_eq!(verify(SECRET, &grant(), &t, 999), Ok(()));
        assert_eq!(verify(SECRET, &grant(), &t, 1000), Ok(()));
        assert_eq!(verify(SECRET, &grant(), &t, 1001), Err(TokenError::Expired));
    }

    #[test]
    fn tokens_start_with_the_expiry_in_eight_upper_case_hex_digits() {
        for expiry in [0, 9, 0xAB, 1000, 0x1234_5678, u32::MAX] {
            let t = issue(SECRET, &grant(), expiry);
            assert_eq!(&t[..8], format!("{expiry:08X}"));
            assert!(t[8..]
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()));
        }
    }

    #[test]
    fn tokens_bind_method_node_path_and_query() {
        let t = issue(SECRET, &grant(), 1000);
        let other = [
            Grant {
                method: "PUT",
                ..grant()
            },
            Grant { node: 3, ..grant() },
            Grant {
                path: "/b/m",
                ..grant()
            },
            Grant {
                query: "replicate=1",
                ..grant()
            },
        ];
        for g in other {
            assert_eq!(verify(SECRET, &g, &t, 0), Err(TokenError::Invalid));
        }
        assert_eq!(verify(b"other", &grant(), &t, 0), Err(TokenError::Invalid));
        assert_eq!(verify(SECRET, &grant(), "xyz", 0), Err(TokenError::Invalid));
        // Extending the expiry without the key is caught by the MAC.
        let forged = format!("FFFFFFFF{}", &t[8..]);
        assert_eq!(
            verify(SECRET, &grant(), &forged, 0),
            Err(TokenError::Invalid)
        );
    }
}
