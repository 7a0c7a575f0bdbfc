//! Accounts, userpass identities and tokens. Tokens are drawn from the catalog's seeded
//! generator (never a fixed secret) and expire on the clock the caller passes in.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use crate::rucio::error::Failure;
use crate::seeded::SeededRng;

/// How long a token lives: the server's default, one hour.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// One account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The `admin` account attribute: may add, update and tombstone replicas everywhere.
    pub admin: bool,
}

/// A userpass identity.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Identity {
    password: String,
    account: String,
}

/// An issued token.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    account: String,
    expires: SystemTime,
}

/// Accounts, identities and live tokens.
#[derive(Debug, Clone)]
pub struct Auth {
    accounts: BTreeMap<String, Account>,
    identities: BTreeMap<String, Identity>,
    tokens: BTreeMap<String, Token>,
    rng: SeededRng,
}

/// A successful login: what `GET /auth/userpass` puts in its headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// `X-Rucio-Auth-Token`.
    pub token: String,
    /// `X-Rucio-Auth-Account`.
    pub account: String,
    /// `X-Rucio-Auth-Token-Expires`.
    pub expires: SystemTime,
}

impl Auth {
    /// No accounts; tokens from a generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            accounts: BTreeMap::new(),
            identities: BTreeMap::new(),
            tokens: BTreeMap::new(),
            rng: SeededRng::new(seed),
        }
    }

    /// Adds an account with one userpass identity of the same name.
    pub fn add_account(&mut self, account: &str, password: &str, admin: bool) {
        self.accounts.insert(account.to_string(), Account { admin });
        self.identities.insert(
            account.to_string(),
            Identity {
                password: password.to_string(),
                account: account.to_string(),
            },
        );
    }

    /// Whether the account exists.
    pub fn has_account(&self, account: &str) -> bool {
        self.accounts.contains_key(account)
    }

    /// Root or an `admin` account: who the generic policy lets change replicas.
    pub fn privileged(&self, account: &str) -> bool {
        account == "root" || self.accounts.get(account).is_some_and(|a| a.admin)
    }

    /// `GET /auth/userpass`: any missing header is one refusal, a wrong combination another.
    pub fn login(
        &mut self,
        account: Option<&str>,
        username: Option<&str>,
        password: Option<&str>,
        now: SystemTime,
    ) -> Result<Login, Failure> {
        let (Some(account), Some(username), Some(password)) = (account, username, password) else {
            return Err(Failure::rucio(
                401,
                "CannotAuthenticate",
                "Cannot authenticate without passing all required arguments",
            ));
        };
        let valid = self
            .identities
            .get(username)
            .is_some_and(|i| i.password == password && i.account == account)
            && self.accounts.contains_key(account);
        if !valid {
            return Err(Failure::rucio(
                401,
                "CannotAuthenticate",
                format!("Cannot authenticate to account {account} with given credentials"),
            ));
        }
        let token = format!(
            "{account}-{username}-unknown-{:016x}{:016x}",
            self.rng.next_u64(),
            self.rng.next_u64()
        );
        let expires = now + TOKEN_LIFETIME;
        self.tokens.insert(
            token.clone(),
            Token {
                account: account.to_string(),
                expires,
            },
        );
        Ok(Login {
            token,
            account: account.to_string(),
            expires,
        })
    }

    /// The account of a token: a missing token is the server's 400 ValueError, an unknown
    /// or expired one 401.
    pub fn account_of(&self, token: Option<&str>, now: SystemTime) -> Result<String, Failure> {
        let Some(token) = token else {
            return Err(Failure::rucio(400, "ValueError", "Token must be set."));
        };
        match self.tokens.get(token) {
            Some(t) if t.expires > now => Ok(t.account.clone()),
            _ => Err(Failure::rucio(
                401,
                "CannotAuthenticate",
                "Cannot authenticate with given credentials",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_seeded_and_expire() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut a = Auth::new(1);
        a.add_account("root", "secret", false);
        let login = a
            .login(Some("root"), Some("root"), Some("secret"), t0)
            .expect("login");
        assert!(login.token.starts_with("root-root-unknown-"));
        assert_eq!(login.token.len(), "root-root-unknown-".len() + 32);
        let mut b = Auth::new(1);
        b.add_account("root", "secret", false);
        let again = b
            .login(Some("root"), Some("root"), Some("secret"), t0)
            .expect("login");
        assert_eq!(login.token, again.token, "a pure function of the seed");
        assert_eq!(a.account_of(Some(&login.token), t0).as_deref(), Ok("root"));
        let late = t0 + TOKEN_LIFETIME;
        assert_eq!(
            a.account_of(Some(&login.token), late)
                .map_err(|f| f.status()),
            Err(401)
        );
        assert_eq!(a.account_of(None, t0).map_err(|f| f.status()), Err(400));
        let wrong = a.login(Some("root"), Some("root"), Some("nope"), t0);
        assert_eq!(
            wrong.map_err(|f| f.class()),
            Err(Some("CannotAuthenticate"))
        );
    }
}
