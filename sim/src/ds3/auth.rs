//! DS3 request signing: `Authorization: AWS <access id>:<signature>`, the signature being
//! base64 of HMAC-SHA1 over the string to sign (verb, Content-MD5, Content-Type, Date,
//! `x-amz-` headers, path), keyed by the user's secret key, as the DS3 SDKs compute it.
//! The gateway verifies with [`verify`]; the harness signs with [`authorization`].

use std::collections::BTreeMap;

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// One DS3 user: who a signature names and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The access id (`AWS <id>:...`).
    pub access_id: String,
    /// The secret key the signature is keyed with.
    pub secret_key: String,
    /// The user's name (MasterObjectList `UserName`).
    pub name: String,
    /// The user's id (MasterObjectList `UserId`).
    pub id: String,
    /// May run Replicate PUT Job (otherwise 403).
    pub replicate: bool,
}

/// The users a gateway knows, by access id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    users: BTreeMap<String, User>,
}

impl Credentials {
    /// Adds or replaces a user.
    pub fn add(&mut self, user: User) {
        self.users.insert(user.access_id.clone(), user);
    }

    /// The user with this access id.
    pub fn get(&self, access_id: &str) -> Option<&User> {
        self.users.get(access_id)
    }

    /// Every user, by access id.
    pub fn users(&self) -> impl Iterator<Item = &User> {
        self.users.values()
    }

    /// Reads a credentials file: one user a line, `access_id secret_key name [replicate]`;
    /// `#` starts a comment. Errors name the line.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut creds = Credentials::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            let (id, key, name) = match words.as_slice() {
                [id, key, name] | [id, key, name, "replicate"] => (*id, *key, *name),
                _ => {
                    return Err(format!(
                        "line {}: expected `access_id secret_key name [replicate]`",
                        n + 1
                    ))
                }
            };
            creds.add(User {
                access_id: id.to_string(),
                secret_key: key.to_string(),
                name: name.to_string(),
                id: user_uuid(name),
                replicate: words.len() == 4,
            });
        }
        if creds.users.is_empty() {
            return Err("no user in the credentials file".into());
        }
        Ok(creds)
    }

    /// The fixture users of tests and simulated worlds (never for a real deployment:
    /// `serve --ds3` generates or reads its own). `test_user` may replicate;
    /// `plain_user` may not.
    pub fn fixture() -> Self {
        let mut creds = Credentials::default();
        for (id, key, name, replicate) in [
            ("dGVzdF91c2Vy", "fixture-key-1", "test_user", true),
            ("cGxhaW5fdXNlcg", "fixture-key-2", "plain_user", false),
        ] {
            creds.add(User {
                access_id: id.into(),
                secret_key: key.into(),
                name: name.into(),
                id: user_uuid(name),
                replicate,
            });
        }
        creds
    }
}

/// A stable UUID-shaped id for a user name, so that the same user has the same id on
/// every system (replication compares `UserId`s).
pub fn user_uuid(name: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    crate::ds3::ids::uuid_from(h, crate::rt::splitmix64(h))
}

/// What a request contributes to its signature.
#[derive(Debug, Clone, Default)]
pub struct Signed<'a> {
    /// The method.
    pub verb: &'a str,
    /// The path, without the query.
    pub path: &'a str,
    /// `Content-MD5`, or empty.
    pub content_md5: &'a str,
    /// `Content-Type`, or empty.
    pub content_type: &'a str,
    /// `Date`.
    pub date: &'a str,
    /// `x-amz-*` headers, lower-case names.
    pub amz_headers: Vec<(String, String)>,
}

/// The string the signature covers.
pub fn string_to_sign(s: &Signed<'_>) -> String {
    let mut amz: Vec<(String, String)> = s
        .amz_headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    amz.sort();
    let mut out = format!(
        "{}\n{}\n{}\n{}\n",
        s.verb, s.content_md5, s.content_type, s.date
    );
    for (k, v) in amz {
        out.push_str(&format!("{k}:{v}\n"));
    }
    out.push_str(s.path);
    out
}

/// base64(HMAC-SHA1(key, string to sign)).
pub fn signature(secret_key: &str, s: &Signed<'_>) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret_key.as_bytes()) else {
        return String::new();
    };
    mac.update(string_to_sign(s).as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The `Authorization` header value for a user.
pub fn authorization(user: &User, s: &Signed<'_>) -> String {
    format!("AWS {}:{}", user.access_id, signature(&user.secret_key, s))
}

/// The user a request's `Authorization` header proves, or why not.
pub fn verify<'c>(
    creds: &'c Credentials,
    header: Option<&str>,
    s: &Signed<'_>,
) -> Result<&'c User, String> {
    let header = header.ok_or("no Authorization header")?;
    let rest = header
        .strip_prefix("AWS ")
        .ok_or("Authorization is not `AWS id:signature`")?;
    let (id, sig) = rest
        .rsplit_once(':')
        .ok_or("Authorization is not `AWS id:signature`")?;
    let user = creds
        .get(id.trim())
        .ok_or_else(|| format!("unknown access id `{id}`"))?;
    if s.date.is_empty() {
        return Err("no Date header".into());
    }
    let expected = signature(&user.secret_key, s);
    // Constant-time comparison through the MAC would be the production choice; the
    // reference compares the base64 text, which is what a client can see anyway.
    if expected != sig.trim() {
        return Err("signature does not match".into());
    }
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req<'a>() -> Signed<'a> {
        Signed {
            verb: "PUT",
            path: "/_rest_/bucket/b1",
            date: "Wed, 02 Dec 2026 01:00:00 GMT",
            ..Default::default()
        }
    }

    #[test]
    fn a_signed_request_verifies_and_a_changed_one_does_not() {
        let creds = Credentials::fixture();
        let user = creds.get("dGVzdF91c2Vy").expect("fixture").clone();
        let header = authorization(&user, &req());
        assert_eq!(
            verify(&creds, Some(&header), &req()).map(|u| &u.name),
            Ok(&"test_user".to_string())
        );
        let mut other = req();
        other.path = "/_rest_/bucket/b2";
        assert_eq!(
            verify(&creds, Some(&header), &other).unwrap_err(),
            "signature does not match"
        );
        assert!(verify(&creds, None, &req()).is_err());
        assert!(verify(&creds, Some("AWS nobody:x"), &req()).is_err());
        assert!(verify(&creds, Some("Basic x"), &req()).is_err());
        assert_eq!(
            string_to_sign(&req()),
            "PUT\n\n\nWed, 02 Dec 2026 01:00:00 GMT\n/_rest_/bucket/b1"
        );
    }

    #[test]
    fn credential_files_parse_and_bad_lines_are_named() {
        let creds = Credentials::parse("# users\nid1 key1 alice replicate\nid2 key2 bob\n")
            .expect("parses");
        assert!(creds.get("id1").map(|u| u.replicate).unwrap_or(false));
        assert!(!creds.get("id2").map(|u| u.replicate).unwrap_or(true));
        assert_eq!(creds.get("id1").map(|u| u.id.len()), Some(36));
        assert!(Credentials::parse("id1 key1\n")
            .unwrap_err()
            .contains("line 1"));
        assert!(Credentials::parse("").is_err());
    }
}
