//! SCSP redirects: a client session keeps a current access node (PAN) and follows 301/307.
//!
//! SCSP-3 (seed-000, spec §1.5): a `301` carries a `Location` with the exact URI to resend to,
//! `auth=` included, and that node becomes the access node for all later requests until the
//! next 301. SCSP-4: a `307` has the same shape but the client keeps its current access node.
//! Other 3xx codes are not SCSP redirects and are returned as final responses.

use super::endpoint::{parse_url, Url};
use super::{Client, ClientError, Endpoint, Request, Response};

/// A client session with a current access node, following SCSP redirects.
#[derive(Debug, Clone)]
pub struct Session {
    client: Client,
    access: Endpoint,
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
    pub from: Endpoint,
    /// The `Location` value exactly as received.
    pub location: String,
}

impl Session {
    /// A session whose requests start at `access` (an [`Endpoint`] or a `SocketAddr`).
    pub fn new(client: Client, access: impl Into<Endpoint>) -> Self {
        Self {
            client,
            access: access.into(),
        }
    }

    /// The node requests currently start at.
    pub fn access_node(&self) -> Endpoint {
        self.access
    }

    /// Moves the session to another access node (e.g. after a node was killed).
    pub fn set_access_node(&mut self, access: impl Into<Endpoint>) {
        self.access = access.into();
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
                self.access = target.endpoint;
            }
            addr = target.endpoint;
            host = target.authority;
            current.target = target.target;
        }
    }
}

/// Parses an absolute `http://` or `https://` Location into the endpoint and origin-form
/// target, so a redirect can be followed exactly. The host is an IPv4 literal, a bracketed
/// IPv6 literal or a host name (resolved when connecting); the port defaults to the
/// scheme's; a fragment is dropped. Anything else is [`ClientError::BadLocation`].
pub fn parse_location(location: &str) -> Result<(Endpoint, String), ClientError> {
    parse_location_parts(location).map(|l| (l.endpoint, l.target))
}

fn parse_location_parts(location: &str) -> Result<Url, ClientError> {
    parse_url(location).map_err(|why| ClientError::BadLocation(format!("{why}: {location:?}")))
}
