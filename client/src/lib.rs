//! A strict, transcript-recording HTTP/1.1 client for talking to SCSP nodes.
//!
//! The conformance harness judges servers it does not trust (our hyper reference node or a
//! vendor's server), so this client never hangs and never panics on what a server sends: every
//! failure is a typed [`ClientError`], every exchange is bounded by [`Limits`], and every
//! exchange, failed or not, is kept as an [`Exchange`] for the evidence in reports.
//!
//! Architecture invariant: time, sockets and timeouts come only from `replisim_rt`, so the
//! same code runs over simulated TCP inside madsim and over real TCP under tokio. The protocol
//! core (`wire`) is generic over `AsyncRead + AsyncWrite` and is tested over in-memory pipes.
//!
//! Layout: `wire` encodes requests and reads responses (RFC 9112 framing), `session` follows
//! SCSP redirects (301 moves the access node, 307 does not; SCSP-3, SCSP-4), `endpoint` says
//! where an exchange goes (scheme, IP literal or host name, port), `connect` resolves,
//! connects and runs the TLS handshake, `tls` holds the trusted roots.
//!
//! Architecture invariant: this crate depends on the runtime shim only, never on the
//! reference node (`replisim-sim`): it must judge any server on the same terms.

mod connect;
mod endpoint;
mod session;
mod tls;
mod wire;

#[cfg(any(test, feature = "test-pki"))]
pub mod test_pki;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tls_tests;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;

pub use endpoint::{Endpoint, Host, Scheme, NAMES_MAX};
pub use session::{parse_location, Followed, Hop, Session};
pub use tls::Tls;

/// Bounds on one exchange, so a misbehaving server yields a named error instead of a hang or
/// an unbounded allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Budget for the whole exchange: connect, send, and read the complete response.
    pub timeout: Duration,
    /// How long to wait for `100 Continue` after sending the head with
    /// `Expect: 100-continue` before sending the body anyway (RFC 9110 §10.1.1).
    pub continue_wait: Duration,
    /// Largest response head (status line plus header lines, CRLFs included); also bounds a
    /// chunk-size line and the trailer section.
    pub header_bytes_max: usize,
    /// Most header lines in one response head (and most trailer lines).
    pub header_count_max: usize,
    /// Largest decoded response body.
    pub body_bytes_max: usize,
    /// Most redirects a [`Session`] follows for one request.
    pub redirects_max: usize,
    /// Most interim (1xx) responses accepted before the final one, so a server cannot keep
    /// the client busy with an endless stream of `100 Continue`.
    pub informational_max: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            continue_wait: Duration::from_secs(1),
            header_bytes_max: 64 * 1024,
            header_count_max: 600,
            body_bytes_max: 64 * 1024 * 1024,
            redirects_max: 8,
            informational_max: 16,
        }
    }
}

/// A request to send, described exactly as it should appear on the wire.
///
/// Tests need unusual requests (no `Host`, no `Content-Length`), so the only headers the client
/// adds are `Host`, `Content-Length` and `Expect`, each of which can be suppressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method token, sent as given (methods are case-sensitive).
    pub method: String,
    /// Origin-form target: path plus optional `?query`.
    pub target: String,
    /// Header fields, sent in this order, exactly as given.
    pub headers: Vec<(String, String)>,
    /// The body; `None` sends no body and no automatic `Content-Length`.
    pub body: Option<Bytes>,
    /// Send `Expect: 100-continue` and hold the body back until `100 Continue`, a final
    /// status, or [`Limits::continue_wait`].
    pub expect_continue: bool,
    /// Send no `Host` header at all (for testing a server's rejection of such requests).
    pub omit_host: bool,
    /// Do not add `Content-Length` for the body (for testing `411 Length Required`).
    pub omit_content_length: bool,
}

impl Request {
    /// A request with no headers and no body.
    pub fn new(method: impl Into<String>, target: impl Into<String>) -> Self {
        Self {
            method: method.into(),
            target: target.into(),
            headers: Vec::new(),
            body: None,
            expect_continue: false,
            omit_host: false,
            omit_content_length: false,
        }
    }

    /// Appends a header field (sent after `Host`, in call order).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body. `Content-Length` is added when the head is encoded, unless a
    /// `Content-Length` or `Transfer-Encoding` header was given or
    /// [`Request::no_content_length`] was called. An empty body still sends
    /// `Content-Length: 0`.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Suppresses the automatic `Content-Length`.
    pub fn no_content_length(mut self) -> Self {
        self.omit_content_length = true;
        self
    }

    /// Sends `Expect: 100-continue` and waits for `100 Continue` before the body.
    pub fn expect_continue(mut self) -> Self {
        self.expect_continue = true;
        self
    }

    /// Suppresses the automatic `Host` header.
    pub fn omit_host(mut self) -> Self {
        self.omit_host = true;
        self
    }

    /// First value of a header of this request, matched case-insensitively.
    pub fn header_value(&self, name: &str) -> Option<&str> {
        find_first(&self.headers, name)
    }
}

/// The HTTP version of a response's status line. HTTP/1.0 answers are accepted but recorded,
/// since SCSP nodes are expected to speak HTTP/1.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpVersion {
    /// `HTTP/1.0`.
    Http10,
    /// `HTTP/1.1`.
    Http11,
}

impl fmt::Display for HttpVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HttpVersion::Http10 => "HTTP/1.0",
            HttpVersion::Http11 => "HTTP/1.1",
        })
    }
}

/// A complete final response, decoded from its framing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The version on the status line.
    pub version: HttpVersion,
    /// The status code of the final response.
    pub status: u16,
    /// The reason phrase, possibly empty.
    pub reason: String,
    /// Header fields in received order, names as received.
    pub headers: Vec<(String, String)>,
    /// The body with any chunked framing removed.
    pub body: Bytes,
    /// Trailer fields of a chunked body (SCSP sends `Castor-System-Result` here after a 202).
    pub trailers: Vec<(String, String)>,
    /// Interim (1xx) status codes received before the final response, in order.
    pub informational: Vec<u16>,
}

impl Response {
    /// First value of a header, matched case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_first(&self.headers, name)
    }

    /// Every value of a header, in received order, matched case-insensitively.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// First value of a trailer field, matched case-insensitively.
    pub fn trailer(&self, name: &str) -> Option<&str> {
        find_first(&self.trailers, name)
    }
}

fn find_first<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// One request/response as it crossed the wire, kept as evidence for reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// The node connected to (displays as `host:port`).
    pub addr: Endpoint,
    /// The request head bytes actually written (lossy UTF-8).
    pub request_head: String,
    /// How many request body bytes were actually written (fewer than the body when the server
    /// answered first or the connection failed).
    pub request_body_len: usize,
    /// Every response head as received, 1xx heads included, concatenated (lossy UTF-8). When
    /// reading a head failed, the unparsed bytes received so far are appended.
    pub response_head: String,
    /// The first 512 bytes received after the final head, still in their wire framing
    /// (chunk sizes included), lossy UTF-8.
    pub response_body_preview: String,
    /// Time from the start of the connect to the end of the exchange.
    pub elapsed: Duration,
    /// The final status, or why there was none.
    pub outcome: Result<u16, ClientError>,
}

/// Why an exchange produced no usable response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// The TCP connection could not be opened (a name that does not resolve, refused,
    /// unreachable, or a clogged simulated link, which refuses at once).
    Connect(String),
    /// The TLS handshake failed (untrusted or expired certificate, wrong name, not TLS at
    /// all): which node, which roots were trusted, and rustls's reason.
    Tls(String),
    /// The exchange's budget ([`Limits::timeout`]) ran out.
    Timeout {
        /// The budget that ran out.
        after: Duration,
        /// What the client was doing: `resolve`, `connect`, `tls-handshake`, `send-head`,
        /// `continue`, `send-body`, `head`, `body` or `trailers`.
        stage: &'static str,
    },
    /// The connection failed while reading or writing.
    Io(String),
    /// The server's bytes break HTTP/1.1 framing or syntax: what was wrong, with an excerpt.
    Malformed(String),
    /// The response exceeded one of the [`Limits`].
    TooLarge {
        /// The name of the limit, e.g. `header_bytes_max`.
        limit: &'static str,
        /// The size seen (at least this much) when the limit was hit.
        value: usize,
    },
    /// The redirect chain was longer than [`Limits::redirects_max`].
    RedirectLoop {
        /// Redirects followed before giving up.
        hops: usize,
    },
    /// A redirect had no usable `Location` (missing, repeated, relative, not `http` or
    /// `https`, or a malformed host or port).
    BadLocation(String),
    /// The request itself cannot be encoded (e.g. a CR or LF in a header value); nothing was
    /// sent. Use [`Client::send_raw`] for deliberately broken requests.
    InvalidRequest(String),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Connect(e) => write!(f, "connect failed: {e}"),
            ClientError::Tls(e) => write!(f, "TLS failed: {e}"),
            ClientError::Timeout { after, stage } => {
                write!(
                    f,
                    "no complete response within {after:?} (stalled in {stage})"
                )
            }
            ClientError::Io(e) => write!(f, "connection error: {e}"),
            ClientError::Malformed(e) => write!(f, "malformed response: {e}"),
            ClientError::TooLarge { limit, value } => {
                write!(f, "response exceeds {limit} (reached {value})")
            }
            ClientError::RedirectLoop { hops } => {
                write!(f, "gave up after following {hops} redirects")
            }
            ClientError::BadLocation(e) => write!(f, "unusable redirect Location: {e}"),
            ClientError::InvalidRequest(e) => write!(f, "request cannot be encoded: {e}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// The client: sends one request per fresh connection and records every exchange.
///
/// Clones share the transcript, so the harness can keep a handle while a [`Session`] owns
/// another.
#[derive(Debug, Clone)]
pub struct Client {
    limits: Limits,
    transcript: Arc<Mutex<Vec<Exchange>>>,
    default_headers: Arc<Vec<(String, String)>>,
    /// When set, default headers go only to these endpoints (credentials stay with the
    /// hosts the user named, whatever a redirect says).
    default_headers_to: Option<Arc<Vec<Endpoint>>>,
    tls: Tls,
}

impl Client {
    /// A client with these limits and an empty transcript.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            transcript: Arc::new(Mutex::new(Vec::new())),
            default_headers: Arc::new(Vec::new()),
            default_headers_to: None,
            tls: Tls::default(),
        }
    }

    /// Trusts these roots for `https://` endpoints instead of the webpki roots.
    pub fn with_tls(mut self, tls: Tls) -> Self {
        self.tls = tls;
        self
    }

    /// Adds these headers to every request sent with [`Client::send`] that does not carry a
    /// header of the same name (credentials for protected domains, say). Raw requests
    /// ([`Client::send_raw`]) are sent exactly as given.
    pub fn with_default_headers(mut self, headers: Vec<(String, String)>) -> Self {
        self.default_headers = Arc::new(headers);
        self
    }

    /// [`Client::with_default_headers`], sent only to `to`: a redirect to any other host
    /// (or port) gets the request without them. For credentials, which must not leak to a
    /// host a target names in a `Location`.
    pub fn with_default_headers_to(
        mut self,
        headers: Vec<(String, String)>,
        to: Vec<Endpoint>,
    ) -> Self {
        self.default_headers = Arc::new(headers);
        self.default_headers_to = Some(Arc::new(to));
        self
    }

    /// The limits every exchange of this client obeys.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// One exchange on a fresh connection. `host` is the `Host` value to send; the client
    /// puts `Host` first unless the request has its own `Host` header or asked for none.
    /// `addr` is an [`Endpoint`] or a `SocketAddr` (plain HTTP).
    pub async fn send(
        &self,
        addr: impl Into<Endpoint>,
        host: &str,
        req: &Request,
    ) -> Result<Response, ClientError> {
        let addr = addr.into();
        let with_defaults;
        let allowed = self
            .default_headers_to
            .as_ref()
            .is_none_or(|to| to.contains(&addr));
        let req = if self.default_headers.is_empty() || !allowed {
            req
        } else {
            let mut r = req.clone();
            for (name, value) in self.default_headers.iter() {
                if r.header_value(name).is_none() {
                    r.headers.push((name.clone(), value.clone()));
                }
            }
            with_defaults = r;
            &with_defaults
        };
        let plan = match wire::encode(req, host) {
            Ok(plan) => plan,
            Err(e) => {
                self.record(Exchange {
                    addr,
                    request_head: String::new(),
                    request_body_len: 0,
                    response_head: String::new(),
                    response_body_preview: String::new(),
                    elapsed: Duration::ZERO,
                    outcome: Err(e.clone()),
                });
                return Err(e);
            }
        };
        self.run(addr, &plan).await
    }

    /// Sends these exact bytes (HTTP/1.0, no `Host`, garbage...) and parses the response.
    /// `head_only_response` says the response has no body whatever its headers claim (as for
    /// a HEAD request).
    pub async fn send_raw(
        &self,
        addr: impl Into<Endpoint>,
        bytes: &[u8],
        head_only_response: bool,
    ) -> Result<Response, ClientError> {
        let addr = addr.into();
        let plan = wire::raw_plan(bytes, head_only_response);
        self.run(addr, &plan).await
    }

    /// Reads `reply` as the answer to `request` (raw bytes, as [`Client::send_raw`] sends
    /// them) over an in-memory pipe instead of a socket: the whole response parser, framing,
    /// limits and timeout included, without a network. For fuzzing the parser; the exchange
    /// is recorded like any other.
    pub async fn read_reply(
        &self,
        request: &[u8],
        reply: &[u8],
        head_only_response: bool,
    ) -> Result<Response, ClientError> {
        use tokio::io::AsyncWriteExt;
        let plan = wire::raw_plan(request, head_only_response);
        let (client_io, mut server_io) = tokio::io::duplex(64 * 1024);
        let addr = Endpoint::http(std::net::SocketAddr::from(([127, 0, 0, 1], 9)));
        let client = wire::drive(addr, wire::ready(client_io), &plan, &self.limits);
        // The request fits the pipe's buffer, so the server end need not read it. A reply
        // the client stops reading ends the write when the client drops its end.
        let server = async move {
            let _ = server_io.write_all(reply).await;
            let _ = server_io.shutdown().await;
        };
        let ((result, exchange), ()) = tokio::join!(client, server);
        self.record(exchange);
        result
    }

    /// All exchanges so far, oldest first.
    pub fn transcript(&self) -> Vec<Exchange> {
        self.lock().clone()
    }

    /// All exchanges so far, oldest first, leaving the transcript empty.
    pub fn take_transcript(&self) -> Vec<Exchange> {
        std::mem::take(&mut *self.lock())
    }

    async fn run(&self, addr: Endpoint, plan: &wire::Plan) -> Result<Response, ClientError> {
        let open = connect::opener(addr, self.tls.clone());
        let (result, exchange) = wire::drive(addr, open, plan, &self.limits).await;
        self.record(exchange);
        result
    }

    fn record(&self, exchange: Exchange) {
        self.lock().push(exchange);
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Exchange>> {
        // A panic while holding this lock cannot leave a half-pushed Vec behind.
        self.transcript
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
