//! Where an exchange goes: scheme, host (IP literal or DNS name) and port.
//!
//! Targets and redirect `Location`s name nodes by URL, and real services (HTTPS front ends,
//! certificates issued for names) need the name itself: it is the `Host` header, the TLS
//! server name, and what the resolver looks up at connect time. [`Endpoint`] is `Copy` so it
//! can stand wherever a `SocketAddr` stood (rule checks index node lists and compare access
//! nodes by value); host names are therefore interned, see [`Host::Name`].
//!
//! URLs are parsed by hand rather than with a URL library on purpose: the client must resend
//! to the exact URI a server gave (`auth=` tokens are signed over it), and a general parser
//! normalizes paths and percent-encoding. What is accepted is deliberately narrow.

use std::collections::BTreeSet;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scheme {
    /// Plain HTTP/1.1 over TCP.
    Http,
    /// HTTP/1.1 over TLS (rustls).
    Https,
}

impl Scheme {
    /// The scheme as written in a URL.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    /// The port a URL without one means.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// A host: an IP literal, or a DNS name resolved at connect time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Host {
    /// An IPv4 or IPv6 literal.
    Ip(IpAddr),
    /// A DNS name, lower-cased. Interned for the life of the process so that endpoints stay
    /// `Copy`; at most [`NAMES_MAX`] distinct names are accepted, so a server inventing a
    /// new name per redirect cannot grow memory without bound.
    Name(&'static str),
}

/// Most distinct host names a process interns (see [`Host::Name`]).
pub const NAMES_MAX: usize = 4096;

/// Longest DNS name (RFC 1035 §2.3.4, without the trailing dot).
const NAME_BYTES_MAX: usize = 253;

static NAMES: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());

impl Host {
    /// Parses an IP literal (IPv6 without brackets) or a DNS name of letters, digits, `-`
    /// and `_` in dot-separated labels (no label starts or ends with `-`).
    pub fn parse(text: &str) -> Result<Host, String> {
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(Host::Ip(ip));
        }
        let name = text.strip_suffix('.').unwrap_or(text);
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if name.is_empty() || name.len() > NAME_BYTES_MAX || !name.split('.').all(label_ok) {
            return Err(format!("{text:?} is not an IP literal or a host name"));
        }
        // A name made of digits and dots only is a mistyped IPv4 address, not a name.
        if name.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return Err(format!("{text:?} is not a valid IPv4 address"));
        }
        intern(&name.to_ascii_lowercase()).map(Host::Name)
    }
}

fn intern(name: &str) -> Result<&'static str, String> {
    // A panic while holding this lock cannot leave the set half-changed.
    let mut names = NAMES.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(known) = names.get(name) {
        return Ok(known);
    }
    if names.len() >= NAMES_MAX {
        return Err(format!(
            "more than {NAMES_MAX} distinct host names seen; refusing {name:?}"
        ));
    }
    let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
    names.insert(leaked);
    Ok(leaked)
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Host::Ip(IpAddr::V4(ip)) => write!(f, "{ip}"),
            Host::Name(name) => f.write_str(name),
        }
    }
}

/// A node the client talks to. Displays as its authority (`host:port`, what the `Host`
/// header carries); [`Endpoint::url`] adds the scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Endpoint {
    /// `http` or `https`.
    pub scheme: Scheme,
    /// IP literal or host name.
    pub host: Host,
    /// TCP port (never 0).
    pub port: u16,
}

impl Endpoint {
    /// A plain-HTTP endpoint at a socket address (the simulator's nodes, `serve` without TLS).
    pub fn http(addr: SocketAddr) -> Self {
        Self {
            scheme: Scheme::Http,
            host: Host::Ip(addr.ip()),
            port: addr.port(),
        }
    }

    /// The same host and port over TLS.
    pub fn https(self) -> Self {
        Self {
            scheme: Scheme::Https,
            ..self
        }
    }

    /// The socket address, when the host is an IP literal (no lookup needed).
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        match self.host {
            Host::Ip(ip) => Some(SocketAddr::new(ip, self.port)),
            Host::Name(_) => None,
        }
    }

    /// `scheme://host:port`, for messages and command lines.
    pub fn url(&self) -> String {
        format!("{}://{self}", self.scheme.as_str())
    }

    /// Parses a target given on a command line: `http://host[:port][/]`,
    /// `https://host[:port][/]`, or `host[:port]` (plain HTTP). A path other than `/` is
    /// refused: a target names a node, not an object.
    pub fn parse_target(text: &str) -> Result<Endpoint, String> {
        let text = text.trim();
        let (scheme, rest) = split_scheme(text).unwrap_or((Scheme::Http, text));
        let (authority, path) = match rest.find('/') {
            Some(slash) => rest.split_at(slash),
            None => (rest, ""),
        };
        if !path.is_empty() && path != "/" {
            return Err(format!("{text}: a target is a node, not a path ({path})"));
        }
        parse_authority(scheme, authority).map_err(|e| format!("{text}: {e}"))
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

impl From<SocketAddr> for Endpoint {
    fn from(addr: SocketAddr) -> Self {
        Endpoint::http(addr)
    }
}

impl PartialEq<SocketAddr> for Endpoint {
    fn eq(&self, other: &SocketAddr) -> bool {
        *self == Endpoint::http(*other)
    }
}

impl std::str::FromStr for Endpoint {
    type Err = String;

    /// As [`Endpoint::parse_target`].
    fn from_str(text: &str) -> Result<Self, String> {
        Endpoint::parse_target(text)
    }
}

/// `http://` or `https://` (any case) and what follows.
fn split_scheme(text: &str) -> Option<(Scheme, &str)> {
    for scheme in [Scheme::Http, Scheme::Https] {
        let prefix_len = scheme.as_str().len() + 3;
        let matches = text.get(..prefix_len).is_some_and(|p| {
            p[..prefix_len - 3].eq_ignore_ascii_case(scheme.as_str())
                && &p[prefix_len - 3..] == "://"
        });
        if matches {
            return Some((scheme, &text[prefix_len..]));
        }
    }
    None
}

/// `host[:port]` or `[v6][:port]`; no user information.
pub(crate) fn parse_authority(scheme: Scheme, authority: &str) -> Result<Endpoint, String> {
    if authority.is_empty() {
        return Err("no host".to_string());
    }
    if authority.contains('@') {
        return Err("user information is not allowed".to_string());
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let Some(close) = v6.find(']') else {
            return Err("unclosed IPv6 literal".to_string());
        };
        let ip: Ipv6Addr = v6[..close]
            .parse()
            .map_err(|_| "bad IPv6 literal".to_string())?;
        let after = &v6[close + 1..];
        let port = match after.strip_prefix(':') {
            Some(port) => Some(port),
            None if after.is_empty() => None,
            None => return Err("junk after the IPv6 literal".to_string()),
        };
        (Host::Ip(IpAddr::V6(ip)), port)
    } else {
        let (name, port) = match authority.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (authority, None),
        };
        (Host::parse(name)?, port)
    };
    let port = match port {
        None | Some("") => scheme.default_port(),
        Some(digits) => {
            let valid = digits.len() <= 5 && digits.bytes().all(|b| b.is_ascii_digit());
            match digits.parse::<u16>() {
                Ok(p) if valid && p != 0 => p,
                _ => return Err("bad port".to_string()),
            }
        }
    };
    Ok(Endpoint { scheme, host, port })
}

/// A parsed absolute `http://` or `https://` URL.
pub(crate) struct Url {
    pub(crate) endpoint: Endpoint,
    /// The authority as written, used as the `Host` of a request sent there.
    pub(crate) authority: String,
    /// Origin-form target: path plus optional `?query`, fragment dropped.
    pub(crate) target: String,
}

/// Parses an absolute URL strictly: scheme `http` or `https`, no spaces, control or
/// non-ASCII bytes, no user information.
pub(crate) fn parse_url(url: &str) -> Result<Url, String> {
    let Some((scheme, rest)) = split_scheme(url) else {
        return Err("not an absolute http:// or https:// URI".to_string());
    };
    if rest.bytes().any(|b| b <= b' ' || b == 0x7f || b >= 0x80) {
        return Err("contains spaces, control or non-ASCII bytes".to_string());
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let mut target = &rest[authority_end..];
    if let Some(hash) = target.find('#') {
        target = &target[..hash];
    }
    let endpoint = parse_authority(scheme, authority)?;
    let target = if target.starts_with('/') {
        target.to_string()
    } else {
        format!("/{target}")
    };
    Ok(Url {
        endpoint,
        authority: authority.to_string(),
        target,
    })
}
