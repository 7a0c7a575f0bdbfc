//! SCSP redirects: a client session keeps a current access node (PAN) and follows 301/307.
//!
//! SCSP-3 (seed-000, spec §1.5): a `301` carries a `Location` with the exact URI to resend to,
//! `auth=` included, and that node becomes the access node for all later requests until the
//! next 301. SCSP-4: a `307` has the same shape but the client keeps its current access node.
//! Other 3xx codes are not SCSP redirects and are returned as final responses.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{Client, ClientError, Request, Response};

/// A client session with a current access node, following SCSP redirects.
#[derive(Debug, Clone)]
pub struct Session {
    client: Client,
    access: SocketAddr,
}

/// The final response of a [`Session::request`] and the redirects that led to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Followed {
    /// The first response that was not a 301 or 307.
    pub response: Response,
    /// The redirects followed, in order.
    pub hops: Vec<Hop>,
}

/// One redirect followed, kept so rules can check who redirected where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// 301 or 307.
    pub status: u16,
    /// The node that answered with the redirect.
    pub from: SocketAddr,
    /// The `Location` value exactly as received.
    pub location: String,
}

impl Session {
    /// A session whose requests start at `access`.
    pub fn new(client: Client, access: SocketAddr) -> Self {
        Self { client, access }
    }

    /// The node requests currently start at.
    pub fn access_node(&self) -> SocketAddr {
        self.access
    }

    /// Moves the session to another access node (e.g. after a node was killed).
    pub fn set_access_node(&mut self, access: SocketAddr) {
        self.access = access;
    }

    /// The underlying client, for its transcript and limits.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Sends to the access node and follows redirects. On 301 the same method, headers and
    /// body go to the exact `Location` URI and its host:port becomes the access node (at once,
    /// even if a later hop fails); on 307 they go to the `Location` and the access node stays.
    /// Without an explicit `Host` header, each hop sends the authority it connects to as
    /// `Host`. More than [`super::Limits::redirects_max`] redirects is
    /// [`ClientError::RedirectLoop`].
    pub async fn request(&mut self, req: &Request) -> Result<Followed, ClientError> {
        let mut addr = self.access;
        let mut host = addr.to_string();
        let mut current = req.clone();
        let mut hops = Vec::new();
        loop {
            let response = self.client.send(addr, &host, &current).await?;
            let status = response.status;
            if status != 301 && status != 307 {
                return Ok(Followed { response, hops });
            }
            let location = match response.header_all("location").as_slice() {
                [one] => (*one).to_string(),
                [] => {
                    return Err(ClientError::BadLocation(format!(
                        "{status} from {addr} has no Location header"
                    )))
                }
                many => {
                    return Err(ClientError::BadLocation(format!(
                        "{status} from {addr} has {} Location headers",
                        many.len()
                    )))
                }
            };
            if hops.len() >= self.client.limits().redirects_max {
                return Err(ClientError::RedirectLoop { hops: hops.len() });
            }
            let target = parse_location_parts(&location)?;
            hops.push(Hop {
                status,
                from: addr,
                location,
            });
            if status == 301 {
                self.access = target.addr;
            }
            addr = target.addr;
            host = target.authority;
            current.target = target.target;
        }
    }
}

/// Parses `http://host:port/path?query` into the socket address and origin-form target, so
/// redirects can be followed without DNS. The host must be an IPv4 literal, a bracketed IPv6
/// literal, or `localhost` (127.0.0.1); the port defaults to 80; a fragment is dropped.
/// Anything else is [`ClientError::BadLocation`].
pub fn parse_location(location: &str) -> Result<(SocketAddr, String), ClientError> {
    parse_location_parts(location).map(|l| (l.addr, l.target))
}

/// A parsed absolute `http` Location.
struct Location {
    addr: SocketAddr,
    /// The authority as written, used as the `Host` of the redirected request.
    authority: String,
    target: String,
}

fn parse_location_parts(location: &str) -> Result<Location, ClientError> {
    let bad = |why: &str| ClientError::BadLocation(format!("{why}: {location:?}"));
    let scheme_len = "http://".len();
    let has_scheme = location
        .get(..scheme_len)
        .is_some_and(|s| s.eq_ignore_ascii_case("http://"));
    if !has_scheme {
        return Err(bad("not an absolute http:// URI"));
    }
    let rest = &location[scheme_len..];
    if rest.bytes().any(|b| b <= b' ' || b == 0x7f || b >= 0x80) {
        return Err(bad("contains spaces, control or non-ASCII bytes"));
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let mut target = &rest[authority_end..];
    if let Some(hash) = target.find('#') {
        target = &target[..hash];
    }
    if authority.contains('@') {
        return Err(bad("user information is not allowed"));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let Some(close) = v6.find(']') else {
            return Err(bad("unclosed IPv6 literal"));
        };
        let ip: Ipv6Addr = v6[..close].parse().map_err(|_| bad("bad IPv6 literal"))?;
        let after = &v6[close + 1..];
        let port = match after.strip_prefix(':') {
            Some(port) => Some(port),
            None if after.is_empty() => None,
            None => return Err(bad("junk after the IPv6 literal")),
        };
        (IpAddr::V6(ip), port)
    } else {
        let (name, port) = match authority.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (authority, None),
        };
        let ip = if name.eq_ignore_ascii_case("localhost") {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            let ip: Ipv4Addr = name
                .parse()
                .map_err(|_| bad("host is not an IP literal or localhost"))?;
            IpAddr::V4(ip)
        };
        (ip, port)
    };
    let port = match port {
        None | Some("") => 80,
        Some(digits) => {
            let valid = digits.len() <= 5 && digits.bytes().all(|b| b.is_ascii_digit());
            match digits.parse::<u16>() {
                Ok(p) if valid && p != 0 => p,
                _ => return Err(bad("bad port")),
            }
        }
    };
    let target = if target.starts_with('/') {
        target.to_string()
    } else {
        format!("/{target}")
    };
    Ok(Location {
        addr: SocketAddr::new(host, port),
        authority: authority.to_string(),
        target,
    })
}
