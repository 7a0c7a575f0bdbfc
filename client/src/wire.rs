//! HTTP/1.1 on the wire: encoding a request head and reading a response strictly (RFC 9112).
//!
//! Everything here is generic over `AsyncRead + AsyncWrite`, so it runs on simulated TCP, real
//! TCP, or an in-memory pipe in tests. What the server sends is input: it is parsed, never
//! trusted, and every problem becomes a [`ClientError`].
//!
//! While the client writes (head or body) it keeps reading, so a server that answers early
//! (a redirect or `413` before the body) is heard instead of deadlocking both sides on full
//! buffers; a final response received mid-write stops the write.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use replisim_rt as rt;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

use super::{ClientError, Endpoint, Exchange, HttpVersion, Limits, Request, Response};

/// How much of the response body (as framed on the wire) an [`Exchange`] keeps.
const BODY_PREVIEW_BYTES: usize = 512;
/// How many unparsed head bytes an [`Exchange`] keeps when reading a head failed.
const HEAD_EVIDENCE_BYTES: usize = 1024;
/// Bytes asked of the socket per read.
const READ_CHUNK_BYTES: usize = 8 * 1024;
/// Longest excerpt of offending bytes quoted in a `Malformed` message.
const EXCERPT_BYTES: usize = 48;
/// Initial body buffer, whatever Content-Length the server claims.
const BODY_CAPACITY_INITIAL: usize = 64 * 1024;

/// A request ready for the wire.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// The encoded head, or for a raw request all of its bytes.
    pub(crate) head: Vec<u8>,
    /// The body, sent after the head (or after `100 Continue`).
    pub(crate) body: Bytes,
    /// Wait for `100 Continue` before sending the body.
    pub(crate) expect_continue: bool,
    /// The response has no body whatever its headers say (HEAD).
    pub(crate) head_only: bool,
    /// `head` holds raw bytes; the transcript splits them at the first blank line.
    pub(crate) raw: bool,
}

/// Encodes a request head: `METHOD target HTTP/1.1`, `Host` first, the given headers in order,
/// then `Content-Length` and `Expect` when the client adds them.
pub(crate) fn encode(req: &Request, host: &str) -> Result<Plan, ClientError> {
    if req.method.is_empty() || !req.method.bytes().all(is_tchar) {
        return Err(ClientError::InvalidRequest(format!(
            "method {:?} is not a token",
            req.method
        )));
    }
    if req.target.is_empty() || req.target.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(ClientError::InvalidRequest(format!(
            "target {:?} is empty or has spaces or control bytes",
            req.target
        )));
    }
    for (name, value) in &req.headers {
        check_field(name, value)?;
    }
    let has = |name: &str| req.header_value(name).is_some();

    let mut head = Vec::with_capacity(256);
    push_line(&mut head, &[&req.method, " ", &req.target, " HTTP/1.1"]);
    if !req.omit_host && !has("host") {
        check_field("Host", host)?;
        push_line(&mut head, &["Host: ", host]);
    }
    for (name, value) in &req.headers {
        push_line(&mut head, &[name, ": ", value]);
    }
    if let Some(body) = &req.body {
        if !req.omit_content_length && !has("content-length") && !has("transfer-encoding") {
            push_line(&mut head, &["Content-Length: ", &body.len().to_string()]);
        }
    }
    if req.expect_continue && !has("expect") {
        push_line(&mut head, &["Expect: 100-continue"]);
    }
    head.extend_from_slice(b"\r\n");

    Ok(Plan {
        head,
        body: req.body.clone().unwrap_or_default(),
        expect_continue: req.expect_continue,
        head_only: req.method == "HEAD",
        raw: false,
    })
}

/// A plan that sends `bytes` verbatim.
pub(crate) fn raw_plan(bytes: &[u8], head_only: bool) -> Plan {
    Plan {
        head: bytes.to_vec(),
        body: Bytes::new(),
        expect_continue: false,
        head_only,
        raw: true,
    }
}

fn check_field(name: &str, value: &str) -> Result<(), ClientError> {
    if name.is_empty() || !name.bytes().all(is_tchar) {
        return Err(ClientError::InvalidRequest(format!(
            "header name {name:?} is not a token"
        )));
    }
    if value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
        return Err(ClientError::InvalidRequest(format!(
            "value of {name} contains CR, LF or NUL: {value:?}"
        )));
    }
    Ok(())
}

fn push_line(out: &mut Vec<u8>, parts: &[&str]) {
    for part in parts {
        out.extend_from_slice(part.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

/// tchar from RFC 9110 §5.6.2: the bytes allowed in methods and field names.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Opening a connection: a future that may name the step it is in (`resolve`, `connect`,
/// `tls-handshake`) through the stage it borrows, so a timeout says where it stalled.
pub(crate) type Connecting<'s, S> =
    Pin<Box<dyn Future<Output = Result<S, ClientError>> + Send + 's>>;

/// Runs one exchange: connect, send, read, all within `limits.timeout`. Returns the result
/// and its transcript entry (also for failures).
/// A connect step that hands over an already open stream (in-memory pipes: the response
/// parser's fuzz entry and the client's scripted-server tests).
pub(crate) fn ready<S: Send + 'static>(
    io: S,
) -> impl for<'s> FnOnce(&'s mut &'static str) -> Connecting<'s, S> {
    move |_| Box::pin(async move { Ok(io) })
}

pub(crate) async fn drive<S, C>(
    addr: Endpoint,
    connect: C,
    plan: &Plan,
    limits: &Limits,
) -> (Result<Response, ClientError>, Exchange)
where
    S: AsyncRead + AsyncWrite + Unpin,
    C: for<'s> FnOnce(&'s mut &'static str) -> Connecting<'s, S>,
{
    let start = rt::now();
    let mut tape = Tape::default();
    let outcome = rt::timeout(limits.timeout, run(connect, plan, limits, &mut tape)).await;
    let result = match outcome {
        Ok(result) => result,
        Err(rt::Elapsed) => Err(ClientError::Timeout {
            after: limits.timeout,
            stage: tape.stage,
        }),
    };
    let elapsed = rt::now().saturating_duration_since(start);
    let exchange = tape.into_exchange(addr, plan, elapsed, &result);
    (result, exchange)
}

async fn run<S, C>(
    connect: C,
    plan: &Plan,
    limits: &Limits,
    tape: &mut Tape,
) -> Result<Response, ClientError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    C: for<'s> FnOnce(&'s mut &'static str) -> Connecting<'s, S>,
{
    tape.stage = "connect";
    let io = connect(&mut tape.stage).await?;
    // The connection is dropped when this returns: one exchange per connection.
    Conn { io, t: tape }.exchange(plan, limits).await
}

/// Which part of the response the received bytes belong to, for the transcript.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Tap {
    #[default]
    Head,
    Body,
}

/// Everything about an exchange that must survive a timeout: the read buffer, what was sent,
/// what was received, and the stage reached. Lives outside the timed future.
#[derive(Debug)]
struct Tape {
    stage: &'static str,
    rbuf: Vec<u8>,
    rpos: usize,
    eof: bool,
    tap: Tap,
    response_head: Vec<u8>,
    body_preview: Vec<u8>,
    head_sent: Vec<u8>,
    body_sent: usize,
}

impl Default for Tape {
    fn default() -> Self {
        Self {
            stage: "connect",
            rbuf: Vec::new(),
            rpos: 0,
            eof: false,
            tap: Tap::Head,
            response_head: Vec::new(),
            body_preview: Vec::new(),
            head_sent: Vec::new(),
            body_sent: 0,
        }
    }
}

impl Tape {
    fn unread(&self) -> &[u8] {
        &self.rbuf[self.rpos..]
    }

    fn consume(&mut self, n: usize) {
        let end = self.rpos + n;
        let taken = &self.rbuf[self.rpos..end];
        match self.tap {
            Tap::Head => self.response_head.extend_from_slice(taken),
            Tap::Body => {
                let room = BODY_PREVIEW_BYTES.saturating_sub(self.body_preview.len());
                self.body_preview
                    .extend_from_slice(&taken[..taken.len().min(room)]);
            }
        }
        self.rpos = end;
        if self.rpos == self.rbuf.len() {
            self.rbuf.clear();
            self.rpos = 0;
        }
    }

    fn append_received(&mut self, data: &[u8]) {
        if self.rpos > 0 && self.rpos * 2 >= self.rbuf.len() {
            self.rbuf.drain(..self.rpos);
            self.rpos = 0;
        }
        self.rbuf.extend_from_slice(data);
    }

    fn into_exchange(
        mut self,
        addr: Endpoint,
        plan: &Plan,
        elapsed: Duration,
        result: &Result<Response, ClientError>,
    ) -> Exchange {
        if result.is_err() {
            // Keep the bytes that were received but not understood: they are the evidence.
            let unread_len = self.rbuf.len() - self.rpos;
            match self.tap {
                Tap::Head => {
                    let n = unread_len.min(HEAD_EVIDENCE_BYTES);
                    let end = self.rpos + n;
                    self.response_head
                        .extend_from_slice(&self.rbuf[self.rpos..end]);
                }
                Tap::Body => {
                    let room = BODY_PREVIEW_BYTES.saturating_sub(self.body_preview.len());
                    let end = self.rpos + unread_len.min(room);
                    self.body_preview
                        .extend_from_slice(&self.rbuf[self.rpos..end]);
                }
            }
        }
        let (request_head, request_body_len) = if plan.raw {
            let split = find(&self.head_sent, b"\r\n\r\n")
                .map(|i| i + 4)
                .unwrap_or(self.head_sent.len());
            (
                lossy(&self.head_sent[..split]),
                self.head_sent.len() - split,
            )
        } else {
            (lossy(&self.head_sent), self.body_sent)
        };
        Exchange {
            addr,
            request_head,
            request_body_len,
            response_head: lossy(&self.response_head),
            response_body_preview: lossy(&self.body_preview),
            elapsed,
            outcome: result.as_ref().map(|r| r.status).map_err(Clone::clone),
        }
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Quotes up to [`EXCERPT_BYTES`] bytes readably for error messages.
pub(crate) fn excerpt(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in bytes.iter().take(EXCERPT_BYTES) {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    if bytes.len() > EXCERPT_BYTES {
        out.push('…');
    }
    out
}

fn malformed(what: impl Into<String>, bytes: &[u8]) -> ClientError {
    ClientError::Malformed(format!("{}: {}", what.into(), excerpt(bytes)))
}

/// Whether the request's body goes into the head or body count of the transcript.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Head,
    Body,
}

/// How a watched write ended.
#[derive(Debug)]
enum WriteEnd {
    /// Every byte was written.
    Done,
    /// Response bytes (or EOF) arrived before the write finished.
    Readable,
    /// The write failed; the server may still have answered.
    Failed(io::Error),
}

/// One step of a watched write.
enum Step {
    Read(io::Result<usize>),
    Wrote(io::Result<usize>),
}

/// A parsed status line plus header section.
#[derive(Debug)]
struct Head {
    version: HttpVersion,
    status: u16,
    reason: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// How the body of a final response is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Empty,
    Length(usize),
    Chunked,
    UntilEof,
}

/// Interim responses are skipped; 101 would end HTTP on this connection, so it is final.
fn is_interim(status: u16) -> bool {
    (100..200).contains(&status) && status != 101
}

struct Conn<'t, S> {
    io: S,
    t: &'t mut Tape,
}

fn poll_fill<S: AsyncRead + Unpin>(
    io: &mut S,
    t: &mut Tape,
    cx: &mut Context<'_>,
) -> Poll<io::Result<usize>> {
    let mut chunk = [0u8; READ_CHUNK_BYTES];
    let mut buf = ReadBuf::new(&mut chunk);
    match Pin::new(io).poll_read(cx, &mut buf) {
        Poll::Ready(Ok(())) => {
            let n = buf.filled().len();
            if n == 0 {
                t.eof = true;
            } else {
                t.append_received(buf.filled());
            }
            Poll::Ready(Ok(n))
        }
        Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
        Poll::Pending => Poll::Pending,
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<'_, S> {
    async fn exchange(&mut self, plan: &Plan, limits: &Limits) -> Result<Response, ClientError> {
        let mut info = Vec::new();

        self.t.stage = "send-head";
        if let Some(response) = self
            .send_all(&plan.head, Part::Head, plan, limits, &mut info)
            .await?
        {
            return Ok(response);
        }

        if plan.expect_continue {
            self.t.stage = "continue";
            let wait_start = rt::now();
            loop {
                if self.t.unread().is_empty() && !self.t.eof {
                    let waited = rt::now().saturating_duration_since(wait_start);
                    let left = limits.continue_wait.saturating_sub(waited);
                    match rt::timeout(left, self.fill()).await {
                        Err(rt::Elapsed) => break, // No answer: send the body anyway.
                        Ok(filled) => {
                            filled?;
                            continue;
                        }
                    }
                }
                let head = self.read_head(limits).await?;
                if head.status == 100 {
                    note_interim(&mut info, head.status, limits)?;
                    break;
                }
                if is_interim(head.status) {
                    note_interim(&mut info, head.status, limits)?;
                    self.t.stage = "continue";
                    continue;
                }
                // A final status before 100 Continue: the body is not sent (SCSP §1.6).
                return self.finish(head, plan, limits, info).await;
            }
        }

        self.t.stage = "send-body";
        if let Some(response) = self
            .send_all(&plan.body, Part::Body, plan, limits, &mut info)
            .await?
        {
            return Ok(response);
        }
        self.read_final(plan, limits, info).await
    }

    /// Writes `data` and flushes, reading the response if it starts meanwhile. Returns the
    /// final response if one arrived before the write finished.
    async fn send_all(
        &mut self,
        data: &[u8],
        part: Part,
        plan: &Plan,
        limits: &Limits,
        info: &mut Vec<u16>,
    ) -> Result<Option<Response>, ClientError> {
        let stage = self.t.stage;
        let mut offset = 0;
        loop {
            match self.write_watching(data, &mut offset, part).await? {
                WriteEnd::Done => {
                    return match self.io.flush().await {
                        Ok(()) => Ok(None),
                        Err(e) => self.after_write_failure(e, part, plan, limits, info).await,
                    };
                }
                WriteEnd::Readable => {
                    let head = self.read_head(limits).await?;
                    if is_interim(head.status) {
                        note_interim(info, head.status, limits)?;
                        self.t.stage = stage;
                        continue;
                    }
                    let info = std::mem::take(info);
                    return self.finish(head, plan, limits, info).await.map(Some);
                }
                WriteEnd::Failed(e) => {
                    return self.after_write_failure(e, part, plan, limits, info).await;
                }
            }
        }
    }

    /// A server may answer (say `413`) and close before reading the whole request; the write
    /// then fails, but the answer is the evidence. Read it if it is there.
    async fn after_write_failure(
        &mut self,
        error: io::Error,
        part: Part,
        plan: &Plan,
        limits: &Limits,
        info: &mut Vec<u16>,
    ) -> Result<Option<Response>, ClientError> {
        let info = std::mem::take(info);
        match self.read_final(plan, limits, info).await {
            Ok(response) => Ok(Some(response)),
            Err(_) => Err(ClientError::Io(format!(
                "writing the request {}: {error}",
                match part {
                    Part::Head => "head",
                    Part::Body => "body",
                }
            ))),
        }
    }

    /// Writes from `offset` while also reading, so neither side can deadlock on full buffers.
    async fn write_watching(
        &mut self,
        data: &[u8],
        offset: &mut usize,
        part: Part,
    ) -> Result<WriteEnd, ClientError> {
        loop {
            if *offset >= data.len() {
                return Ok(WriteEnd::Done);
            }
            if !self.t.unread().is_empty() || self.t.eof {
                return Ok(WriteEnd::Readable);
            }
            let io = &mut self.io;
            let t = &mut *self.t;
            let rest = &data[*offset..];
            let step = poll_fn(|cx| {
                if let Poll::Ready(read) = poll_fill(io, t, cx) {
                    return Poll::Ready(Step::Read(read));
                }
                Pin::new(&mut *io).poll_write(cx, rest).map(Step::Wrote)
            })
            .await;
            match step {
                Step::Read(Ok(_)) => {}
                Step::Read(Err(e)) => {
                    return Err(ClientError::Io(format!("reading while sending: {e}")));
                }
                Step::Wrote(Ok(0)) => {
                    return Ok(WriteEnd::Failed(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "the connection accepted no more bytes",
                    )));
                }
                Step::Wrote(Ok(n)) => {
                    match part {
                        Part::Head => self.t.head_sent.extend_from_slice(&rest[..n]),
                        Part::Body => self.t.body_sent += n,
                    }
                    *offset += n;
                }
                Step::Wrote(Err(e)) => return Ok(WriteEnd::Failed(e)),
            }
        }
    }

    /// Reads more bytes into the buffer; `Ok(0)` means EOF. Cancel-safe.
    async fn fill(&mut self) -> Result<usize, ClientError> {
        let io = &mut self.io;
        let t = &mut *self.t;
        poll_fn(|cx| poll_fill(io, t, cx))
            .await
            .map_err(|e| ClientError::Io(format!("reading the response: {e}")))
    }

    /// Reads one CRLF-terminated line of at most `max` bytes (CRLF included) and returns it
    /// without the CRLF. Bare LF or bare CR is malformed (RFC 9112 §2.2, strict reading).
    async fn read_line(
        &mut self,
        max: usize,
        limit: &'static str,
        used: usize,
        what: &str,
    ) -> Result<Vec<u8>, ClientError> {
        loop {
            let unread = self.t.unread();
            if let Some(lf) = unread.iter().position(|&b| b == b'\n') {
                if lf + 1 > max {
                    return Err(ClientError::TooLarge {
                        limit,
                        value: used + lf + 1,
                    });
                }
                if lf == 0 || unread[lf - 1] != b'\r' {
                    return Err(malformed(
                        format!("{what} ends in a bare LF"),
                        &unread[..=lf],
                    ));
                }
                let line = unread[..lf - 1].to_vec();
                if line.contains(&b'\r') {
                    return Err(malformed(format!("{what} contains a bare CR"), &line));
                }
                self.t.consume(lf + 1);
                return Ok(line);
            }
            if unread.len() >= max {
                return Err(ClientError::TooLarge {
                    limit,
                    value: used + unread.len(),
                });
            }
            if self.t.eof {
                return Err(malformed(
                    format!(
                        "connection closed in the middle of the {what} ({} bytes of it received)",
                        unread.len()
                    ),
                    unread,
                ));
            }
            self.fill().await?;
        }
    }

    /// Reads a status line and header section.
    async fn read_head(&mut self, limits: &Limits) -> Result<Head, ClientError> {
        self.t.tap = Tap::Head;
        self.t.stage = "head";
        if self.t.unread().is_empty() && !self.t.eof {
            self.fill().await?;
        }
        if self.t.unread().is_empty() && self.t.eof {
            return Err(ClientError::Malformed(
                "connection closed before a status line".to_string(),
            ));
        }
        let max = limits.header_bytes_max;
        let line = self
            .read_line(max, "header_bytes_max", 0, "status line")
            .await?;
        let (version, status, reason) = parse_status_line(&line)?;
        let used = line.len() + 2;
        let headers = self
            .read_fields(limits, used, "header line", "header_count_max")
            .await?;
        Ok(Head {
            version,
            status,
            reason,
            headers,
        })
    }

    /// Reads field lines up to the empty line; `used` head bytes were already read.
    async fn read_fields(
        &mut self,
        limits: &Limits,
        mut used: usize,
        what: &str,
        count_limit: &'static str,
    ) -> Result<Vec<(String, String)>, ClientError> {
        let mut fields = Vec::new();
        loop {
            let max = limits.header_bytes_max.saturating_sub(used);
            let line = self.read_line(max, "header_bytes_max", used, what).await?;
            used += line.len() + 2;
            if line.is_empty() {
                return Ok(fields);
            }
            if fields.len() >= limits.header_count_max {
                return Err(ClientError::TooLarge {
                    limit: count_limit,
                    value: fields.len() + 1,
                });
            }
            fields.push(parse_field(&line)?);
        }
    }

    /// Reads interim responses until the final one, then its body.
    async fn read_final(
        &mut self,
        plan: &Plan,
        limits: &Limits,
        mut info: Vec<u16>,
    ) -> Result<Response, ClientError> {
        loop {
            let head = self.read_head(limits).await?;
            if is_interim(head.status) {
                note_interim(&mut info, head.status, limits)?;
                continue;
            }
            return self.finish(head, plan, limits, info).await;
        }
    }

    /// Reads the body of a final response.
    async fn finish(
        &mut self,
        head: Head,
        plan: &Plan,
        limits: &Limits,
        informational: Vec<u16>,
    ) -> Result<Response, ClientError> {
        let framing = framing(&head, plan.head_only, limits)?;
        self.t.tap = Tap::Body;
        self.t.stage = "body";
        let mut trailers = Vec::new();
        let body = match framing {
            Framing::Empty => Vec::new(),
            Framing::Length(n) => self.read_length(n).await?,
            Framing::UntilEof => self.read_until_eof(limits).await?,
            Framing::Chunked => self.read_chunked(limits, &mut trailers).await?,
        };
        Ok(Response {
            version: head.version,
            status: head.status,
            reason: head.reason,
            headers: head.headers,
            body: Bytes::from(body),
            trailers,
            informational,
        })
    }

    /// Moves up to `n` buffered bytes into `out`; returns how many.
    fn take_into(&mut self, n: usize, out: &mut Vec<u8>) -> usize {
        let take = n.min(self.t.unread().len());
        out.extend_from_slice(&self.t.unread()[..take]);
        self.t.consume(take);
        take
    }

    async fn read_length(&mut self, n: usize) -> Result<Vec<u8>, ClientError> {
        let mut body = Vec::with_capacity(n.min(BODY_CAPACITY_INITIAL));
        while body.len() < n {
            if self.t.unread().is_empty() {
                if self.t.eof || self.fill().await? == 0 {
                    return Err(ClientError::Malformed(format!(
                        "body ended after {} of {n} bytes",
                        body.len()
                    )));
                }
                continue;
            }
            let want = n - body.len();
            self.take_into(want, &mut body);
        }
        Ok(body)
    }

    async fn read_until_eof(&mut self, limits: &Limits) -> Result<Vec<u8>, ClientError> {
        let mut body = Vec::new();
        loop {
            let unread = self.t.unread().len();
            if body.len() + unread > limits.body_bytes_max {
                return Err(ClientError::TooLarge {
                    limit: "body_bytes_max",
                    value: body.len() + unread,
                });
            }
            self.take_into(unread, &mut body);
            if self.t.eof || self.fill().await? == 0 {
                return Ok(body);
            }
        }
    }

    async fn read_chunked(
        &mut self,
        limits: &Limits,
        trailers: &mut Vec<(String, String)>,
    ) -> Result<Vec<u8>, ClientError> {
        let mut body = Vec::new();
        loop {
            let line = self
                .read_line(
                    limits.header_bytes_max,
                    "header_bytes_max",
                    0,
                    "chunk-size line",
                )
                .await?;
            let size = parse_chunk_size(&line)?;
            if size == 0 {
                break;
            }
            if body.len().saturating_add(size) > limits.body_bytes_max {
                return Err(ClientError::TooLarge {
                    limit: "body_bytes_max",
                    value: body.len().saturating_add(size),
                });
            }
            let mut got = 0;
            while got < size {
                if self.t.unread().is_empty() && (self.t.eof || self.fill().await? == 0) {
                    return Err(ClientError::Malformed(format!(
                        "chunked body ended inside a chunk after {got} of {size} bytes"
                    )));
                }
                got += self.take_into(size - got, &mut body);
            }
            while self.t.unread().len() < 2 {
                if self.t.eof || self.fill().await? == 0 {
                    return Err(malformed(
                        "chunked body ended before the CRLF after chunk data",
                        self.t.unread(),
                    ));
                }
            }
            if &self.t.unread()[..2] != b"\r\n" {
                return Err(malformed(
                    format!("chunk data is not followed by CRLF (chunk of {size} bytes)"),
                    self.t.unread(),
                ));
            }
            self.t.consume(2);
        }
        self.t.stage = "trailers";
        *trailers = self
            .read_fields(limits, 0, "trailer line", "header_count_max")
            .await?;
        Ok(body)
    }
}

fn note_interim(info: &mut Vec<u16>, status: u16, limits: &Limits) -> Result<(), ClientError> {
    info.push(status);
    if info.len() > limits.informational_max {
        return Err(ClientError::TooLarge {
            limit: "informational_max",
            value: info.len(),
        });
    }
    Ok(())
}

/// `HTTP/1.1 NNN reason` (RFC 9112 §4). A missing reason phrase (`HTTP/1.1 200`) is accepted.
fn parse_status_line(line: &[u8]) -> Result<(HttpVersion, u16, String), ClientError> {
    let version = if line.starts_with(b"HTTP/1.1 ") {
        HttpVersion::Http11
    } else if line.starts_with(b"HTTP/1.0 ") {
        HttpVersion::Http10
    } else {
        return Err(malformed(
            "status line does not start with \"HTTP/1.1 \" or \"HTTP/1.0 \"",
            line,
        ));
    };
    let rest = &line[9..];
    let code = rest.get(..3).unwrap_or(rest);
    let code_ok =
        code.len() == 3 && code.iter().all(u8::is_ascii_digit) && (b'1'..=b'5').contains(&code[0]);
    if !code_ok {
        return Err(malformed("status code is not three digits 100-599", line));
    }
    let status = code
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    let reason = match &rest[3..] {
        [] => &[][..],
        [b' ', reason @ ..] => reason,
        _ => return Err(malformed("no space after the status code", line)),
    };
    if reason.iter().any(|&b| is_ctl(b) && b != b'\t') {
        return Err(malformed("reason phrase contains control bytes", line));
    }
    Ok((version, status, lossy(reason)))
}

fn is_ctl(b: u8) -> bool {
    b < 0x20 || b == 0x7f
}

/// `name: OWS value OWS` (RFC 9112 §5). Folded lines and whitespace before the colon are
/// malformed.
fn parse_field(line: &[u8]) -> Result<(String, String), ClientError> {
    if matches!(line.first(), Some(b' ' | b'\t')) {
        return Err(malformed("obsolete line folding in a field line", line));
    }
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return Err(malformed("field line without a colon", line));
    };
    let name = &line[..colon];
    if name.is_empty() {
        return Err(malformed("field line with an empty name", line));
    }
    if name.ends_with(b" ") || name.ends_with(b"\t") {
        return Err(malformed("whitespace between field name and colon", line));
    }
    if !name.iter().all(|&b| is_tchar(b)) {
        return Err(malformed("field name is not a token", line));
    }
    let value = line[colon + 1..].trim_ascii();
    if value.iter().any(|&b| is_ctl(b) && b != b'\t') {
        return Err(malformed("field value contains control bytes", line));
    }
    // Bytes above 0x7f are opaque to HTTP, but a lossy conversion would hide from the
    // verdict what the server sent: bytes that are not UTF-8 are refused with an excerpt.
    if std::str::from_utf8(value).is_err() {
        return Err(malformed("field value is not valid UTF-8", line));
    }
    Ok((lossy(name), lossy(value)))
}

/// `1*HEXDIG *( BWS ";" ... )` (RFC 9112 §7.1). Extensions are skipped, not interpreted.
fn parse_chunk_size(line: &[u8]) -> Result<usize, ClientError> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return Err(malformed("chunk size is not hexadecimal", line));
    }
    let hex = &line[..digits];
    let significant = hex.iter().skip_while(|&&b| b == b'0').count();
    if significant > 15 {
        return Err(malformed("chunk size overflows", line));
    }
    let size = hex.iter().fold(0usize, |acc, &b| {
        let d = char::from(b).to_digit(16).unwrap_or(0) as usize;
        acc * 16 + d
    });
    let ext = line[digits..].trim_ascii_start();
    if !ext.is_empty() && ext[0] != b';' {
        return Err(malformed("junk after the chunk size", line));
    }
    if ext.iter().any(|&b| is_ctl(b) && b != b'\t') {
        return Err(malformed("chunk extension contains control bytes", line));
    }
    Ok(size)
}

/// Body framing per RFC 9112 §6.3, strictly: conflicting lengths, both `Transfer-Encoding`
/// and `Content-Length`, transfer codings other than plain `chunked`, and `Transfer-Encoding`
/// in an HTTP/1.0 response are all malformed.
fn framing(head: &Head, head_only: bool, limits: &Limits) -> Result<Framing, ClientError> {
    if head_only || (100..200).contains(&head.status) || head.status == 204 || head.status == 304 {
        return Ok(Framing::Empty);
    }
    let te: Vec<&str> = head.values("transfer-encoding").collect();
    let cl: Vec<&str> = head.values("content-length").collect();
    if !te.is_empty() {
        let joined = te.join(", ");
        if head.version == HttpVersion::Http10 {
            return Err(malformed(
                "Transfer-Encoding in an HTTP/1.0 response",
                joined.as_bytes(),
            ));
        }
        if !cl.is_empty() {
            return Err(malformed(
                "both Transfer-Encoding and Content-Length",
                format!(
                    "Transfer-Encoding: {joined}; Content-Length: {}",
                    cl.join(", ")
                )
                .as_bytes(),
            ));
        }
        let codings: Vec<&str> = joined
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        return match codings.as_slice() {
            [only] if only.eq_ignore_ascii_case("chunked") => Ok(Framing::Chunked),
            _ => Err(malformed(
                "unsupported Transfer-Encoding (only \"chunked\" is decoded)",
                joined.as_bytes(),
            )),
        };
    }
    if !cl.is_empty() {
        let joined = cl.join(", ");
        let mut length: Option<usize> = None;
        for item in joined.split(',').map(str::trim) {
            let valid =
                !item.is_empty() && item.len() <= 19 && item.bytes().all(|b| b.is_ascii_digit());
            let parsed = if valid {
                item.parse::<u64>().ok()
            } else {
                None
            };
            let Some(value) = parsed else {
                return Err(malformed(
                    "Content-Length is not a number",
                    joined.as_bytes(),
                ));
            };
            let value = usize::try_from(value).unwrap_or(usize::MAX);
            match length {
                Some(seen) if seen != value => {
                    return Err(malformed(
                        "conflicting Content-Length values",
                        joined.as_bytes(),
                    ));
                }
                _ => length = Some(value),
            }
        }
        let length = length.unwrap_or(0);
        if length > limits.body_bytes_max {
            return Err(ClientError::TooLarge {
                limit: "body_bytes_max",
                value: length,
            });
        }
        return Ok(Framing::Length(length));
    }
    Ok(Framing::UntilEof)
}
