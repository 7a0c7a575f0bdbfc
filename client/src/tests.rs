//! Tests for the client. The wire core runs against scripted servers on in-memory pipes
//! (`tokio::io::duplex`); `Client` and `Session` run against tiny canned servers on real
//! loopback TCP. Outside a simulation `rt` falls back to real tokio, so tokio tests drive it.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{duplex, AsyncRead, AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::net::TcpListener;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

use super::wire::{drive, encode, raw_plan, ready, Plan};
use super::*;

const PIPE_BYTES: usize = 64 * 1024;

fn pipe_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9))
}

fn limits() -> Limits {
    Limits {
        timeout: Duration::from_secs(5),
        ..Limits::default()
    }
}

fn plan(req: &Request) -> Plan {
    encode(req, "node.test").expect("test request encodes")
}

/// What a scripted server saw of the request.
#[derive(Debug, Default)]
struct Seen {
    head: String,
    body: Vec<u8>,
    /// Bytes received after the part the server chose to read, up to the client's EOF.
    after: Vec<u8>,
}

/// Runs the client core against `server` on an in-memory pipe. The client end is dropped
/// when the exchange ends, so a server blocked in `read_to_end` finishes then.
async fn over_pipe<F, Fut>(
    plan: Plan,
    limits: Limits,
    server: F,
) -> (Result<Response, ClientError>, Exchange, Seen)
where
    F: FnOnce(DuplexStream) -> Fut,
    Fut: Future<Output = Seen>,
{
    let (client_io, server_io) = duplex(PIPE_BYTES);
    let client = drive(
        Endpoint::http(pipe_addr()),
        ready(client_io),
        &plan,
        &limits,
    );
    let ((result, exchange), seen) = tokio::join!(client, server(server_io));
    (result, exchange, seen)
}

/// Reads a request head byte by byte, so no body byte is consumed.
async fn read_request_head<R: AsyncRead + Unpin>(io: &mut R) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        match io.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

fn content_length(head: &str) -> usize {
    head.split("\r\n")
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())
                .flatten()
        })
        .unwrap_or(0)
}

/// Reads head and Content-Length body, answers `reply`, keeps the connection open until
/// the client drops it (so the client cannot rely on EOF).
async fn answer(mut io: DuplexStream, reply: Vec<u8>) -> Seen {
    let head = read_request_head(&mut io).await;
    let mut body = vec![0; content_length(&head)];
    io.read_exact(&mut body).await.expect("server reads body");
    io.write_all(&reply).await.expect("server writes reply");
    let mut after = Vec::new();
    let _ = io.read_to_end(&mut after).await;
    Seen { head, body, after }
}

/// Like [`answer`] but closes the connection right after the reply.
async fn answer_and_close(mut io: DuplexStream, reply: Vec<u8>) -> Seen {
    let head = read_request_head(&mut io).await;
    let mut body = vec![0; content_length(&head)];
    io.read_exact(&mut body).await.expect("server reads body");
    io.write_all(&reply).await.expect("server writes reply");
    Seen {
        head,
        body,
        after: Vec::new(),
    }
}

/// Sends a GET and answers it with `reply`, keeping the connection open.
async fn get_with_reply(reply: &str, limits: Limits) -> (Result<Response, ClientError>, Exchange) {
    let reply = reply.as_bytes().to_vec();
    let (result, exchange, _) = over_pipe(plan(&Request::new("GET", "/obj")), limits, |io| {
        answer(io, reply)
    })
    .await;
    (result, exchange)
}

fn assert_malformed(result: &Result<Response, ClientError>, needle: &str) {
    match result {
        Err(ClientError::Malformed(why)) => {
            assert!(why.contains(needle), "expected {needle:?} in {why:?}")
        }
        other => panic!("expected Malformed({needle:?}), got {other:?}"),
    }
}

// ---- request encoding -------------------------------------------------------------------

#[test]
fn head_puts_host_first_then_headers_in_order_then_content_length() {
    let req = Request::new("POST", "/bucket/obj?replicate=2")
        .header("Content-Type", "text/plain")
        .header("x-b", "2")
        .header("X-A", "1")
        .body("hello");
    let p = plan(&req);
    assert_eq!(
        String::from_utf8_lossy(&p.head),
        "POST /bucket/obj?replicate=2 HTTP/1.1\r\nHost: node.test\r\nContent-Type: text/plain\r\n\
         x-b: 2\r\nX-A: 1\r\nContent-Length: 5\r\n\r\n"
    );
    assert_eq!(&p.body[..], b"hello");
    assert!(!p.head_only);
}

#[test]
fn suppressions_and_explicit_headers_are_respected() {
    let no_cl = plan(&Request::new("POST", "/o").body("abc").no_content_length());
    assert_eq!(no_cl.head, b"POST /o HTTP/1.1\r\nHost: node.test\r\n\r\n");

    let no_host = plan(&Request::new("GET", "/o").omit_host());
    assert_eq!(no_host.head, b"GET /o HTTP/1.1\r\n\r\n");

    let explicit = plan(
        &Request::new("PUT", "/o")
            .header("content-length", "7")
            .header("HOST", "domain.example")
            .body("abc"),
    );
    assert_eq!(
        explicit.head,
        b"PUT /o HTTP/1.1\r\ncontent-length: 7\r\nHOST: domain.example\r\n\r\n"
    );

    let expect = plan(&Request::new("POST", "/o").body("").expect_continue());
    assert_eq!(
        expect.head,
        b"POST /o HTTP/1.1\r\nHost: node.test\r\nContent-Length: 0\r\nExpect: 100-continue\r\n\r\n"
    );
    assert!(expect.expect_continue);
    assert!(plan(&Request::new("HEAD", "/o")).head_only);
}

#[test]
fn requests_that_would_break_framing_are_refused() {
    let injected = encode(&Request::new("GET", "/o").header("X-A", "1\r\nX-B: 2"), "h");
    assert!(
        matches!(injected, Err(ClientError::InvalidRequest(_))),
        "{injected:?}"
    );
    let spaced = encode(&Request::new("GET", "/a b"), "h");
    assert!(
        matches!(spaced, Err(ClientError::InvalidRequest(_))),
        "{spaced:?}"
    );
    let bad_name = encode(&Request::new("GET", "/o").header("X A", "1"), "h");
    assert!(
        matches!(bad_name, Err(ClientError::InvalidRequest(_))),
        "{bad_name:?}"
    );
    let bad_host = encode(&Request::new("GET", "/o"), "h\r\n");
    assert!(
        matches!(bad_host, Err(ClientError::InvalidRequest(_))),
        "{bad_host:?}"
    );
}

// ---- response framing -------------------------------------------------------------------

#[tokio::test]
async fn content_length_body_is_read_without_waiting_for_eof() {
    let (result, exchange) = get_with_reply(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
        limits(),
    )
    .await;
    let response = result.expect("response");
    assert_eq!(response.status, 200);
    assert_eq!(response.reason, "OK");
    assert_eq!(response.version, HttpVersion::Http11);
    assert_eq!(&response.body[..], b"hello");
    assert_eq!(response.header("content-type"), Some("text/plain"));
    assert!(response.informational.is_empty());
    assert_eq!(exchange.outcome, Ok(200));
    assert_eq!(
        exchange.request_head,
        "GET /obj HTTP/1.1\r\nHost: node.test\r\n\r\n"
    );
    assert_eq!(
        exchange.response_head,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n"
    );
    assert_eq!(exchange.response_body_preview, "hello");
}

#[tokio::test]
async fn chunked_body_with_trailers_is_decoded() {
    let (result, exchange) = get_with_reply(
        "HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\nTrailer: Castor-System-Result\r\n\r\n\
         4\r\nWiki\r\n6\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\n\
         Castor-System-Result: 201 Created\r\nX-Other: a\r\n\r\n",
        limits(),
    )
    .await;
    let response = result.expect("response");
    assert_eq!(response.status, 202);
    assert_eq!(&response.body[..], b"Wikipedia in \r\n\r\nchunks.");
    assert_eq!(
        response.trailer("castor-system-result"),
        Some("201 Created")
    );
    assert_eq!(response.trailers.len(), 2);
    assert!(exchange.response_body_preview.starts_with("4\r\nWiki\r\n"));
}

#[tokio::test]
async fn chunk_extensions_are_skipped() {
    let (result, _) = get_with_reply(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
         3;name=value\r\nabc\r\n2 ; quoted=\"x;y\"\r\nde\r\n0;last\r\n\r\n",
        limits(),
    )
    .await;
    let response = result.expect("response");
    assert_eq!(&response.body[..], b"abcde");
    assert!(response.trailers.is_empty());
}

#[tokio::test]
async fn whitespace_keepalive_chunks_are_body_bytes() {
    let (result, _) = get_with_reply(
        "HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n\
         1\r\n \r\n2\r\n\r\n\r\n1\r\n\n\r\n4\r\ndone\r\n0\r\nCastor-System-Result: 200 OK\r\n\r\n",
        limits(),
    )
    .await;
    let response = result.expect("response");
    assert_eq!(&response.body[..], b" \r\n\ndone");
    assert_eq!(response.trailer("Castor-System-Result"), Some("200 OK"));
}

#[tokio::test]
async fn head_response_has_no_body_despite_content_length() {
    let quick = Limits {
        timeout: Duration::from_secs(2),
        ..Limits::default()
    };
    let (result, _, _) = over_pipe(plan(&Request::new("HEAD", "/obj")), quick, |io| {
        answer(io, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n".to_vec())
    })
    .await;
    let response = result.expect("HEAD must not wait for the 5 body bytes");
    assert_eq!(response.header("Content-Length"), Some("5"));
    assert!(response.body.is_empty());
}

#[tokio::test]
async fn no_body_for_204_and_304() {
    for reply in [
        "HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n",
        "HTTP/1.1 304 Not Modified\r\nContent-Length: 3\r\n\r\n",
    ] {
        let (result, _) = get_with_reply(reply, limits()).await;
        let response = result.expect("response");
        assert!(response.body.is_empty(), "{reply}");
    }
}

#[tokio::test]
async fn body_until_eof_and_http10_are_accepted() {
    let (result, _, _) = over_pipe(plan(&Request::new("GET", "/")), limits(), |io| {
        answer_and_close(
            io,
            b"HTTP/1.0 200 OK\r\nServer: old\r\n\r\nuntil close".to_vec(),
        )
    })
    .await;
    let response = result.expect("response");
    assert_eq!(response.version, HttpVersion::Http10);
    assert_eq!(&response.body[..], b"until close");
}

#[tokio::test]
async fn informational_responses_are_skipped_and_recorded() {
    let (result, exchange) = get_with_reply(
        "HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n\
         HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        limits(),
    )
    .await;
    let response = result.expect("response");
    assert_eq!(response.status, 200);
    assert_eq!(response.informational, vec![102, 103]);
    assert_eq!(&response.body[..], b"ok");
    assert_eq!(
        exchange.response_head,
        "HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n\
         HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"
    );
}

#[tokio::test]
async fn endless_informational_responses_hit_a_limit() {
    let small = Limits {
        informational_max: 2,
        ..limits()
    };
    let (result, _) = get_with_reply(
        "HTTP/1.1 102 A\r\n\r\nHTTP/1.1 102 B\r\n\r\nHTTP/1.1 102 C\r\n\r\n",
        small,
    )
    .await;
    assert_eq!(
        result,
        Err(ClientError::TooLarge {
            limit: "informational_max",
            value: 3
        })
    );
}

// ---- 100-continue -------------------------------------------------------------------------

#[tokio::test]
async fn body_is_sent_after_100_continue() {
    // continue_wait is longer than the whole budget: only 100 Continue can release the body.
    let waits = Limits {
        timeout: Duration::from_secs(3),
        continue_wait: Duration::from_secs(60),
        ..Limits::default()
    };
    let req = Request::new("POST", "/obj")
        .body("payload")
        .expect_continue();
    let (result, exchange, seen) = over_pipe(plan(&req), waits, |mut io| async move {
        let head = read_request_head(&mut io).await;
        io.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .await
            .expect("write 100");
        let mut body = vec![0; content_length(&head)];
        io.read_exact(&mut body).await.expect("read body");
        io.write_all(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
            .await
            .expect("write 201");
        let mut after = Vec::new();
        let _ = io.read_to_end(&mut after).await;
        Seen { head, body, after }
    })
    .await;
    let response = result.expect("response");
    assert_eq!(response.status, 201);
    assert_eq!(response.informational, vec![100]);
    assert!(seen.head.contains("\r\nExpect: 100-continue\r\n"));
    assert_eq!(seen.body, b"payload");
    assert!(seen.after.is_empty());
    assert_eq!(exchange.request_body_len, 7);
}

#[tokio::test]
async fn final_status_before_continue_means_no_body_is_sent() {
    let waits = Limits {
        continue_wait: Duration::from_secs(60),
        ..limits()
    };
    let req = Request::new("POST", "/obj")
        .body("payload")
        .expect_continue();
    let (result, exchange, seen) = over_pipe(plan(&req), waits, |mut io| async move {
        let head = read_request_head(&mut io).await;
        io.write_all(
            b"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://10.0.0.2/obj?auth=x\r\n\
              Content-Length: 0\r\n\r\n",
        )
        .await
        .expect("write 307");
        // Everything the client sends from now until it drops the connection.
        let mut after = Vec::new();
        let _ = io.read_to_end(&mut after).await;
        Seen {
            head,
            body: Vec::new(),
            after,
        }
    })
    .await;
    let response = result.expect("response");
    assert_eq!(response.status, 307);
    assert!(response.informational.is_empty());
    assert!(seen.after.is_empty(), "client sent {:?}", seen.after);
    assert_eq!(exchange.request_body_len, 0);
}

#[tokio::test]
async fn body_is_sent_anyway_when_no_continue_arrives() {
    let waits = Limits {
        continue_wait: Duration::from_millis(50),
        ..limits()
    };
    let req = Request::new("PUT", "/obj").body("late").expect_continue();
    let (result, _, seen) = over_pipe(plan(&req), waits, |io| {
        answer(
            io,
            b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n".to_vec(),
        )
    })
    .await;
    let response = result.expect("response");
    assert_eq!(response.status, 201);
    assert!(response.informational.is_empty());
    assert_eq!(seen.body, b"late");
}

#[tokio::test]
async fn early_final_response_stops_a_large_body() {
    // The server answers 413 without reading the body; the pipe fills, and a client that only
    // wrote would deadlock until its timeout.
    let body = vec![b'x'; 4 * 1024 * 1024];
    let req = Request::new("POST", "/obj").body(body.clone());
    let (result, exchange, seen) = over_pipe(plan(&req), limits(), |mut io| async move {
        let head = read_request_head(&mut io).await;
        io.write_all(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n")
            .await
            .expect("write 413");
        let mut after = Vec::new();
        let _ = io.read_to_end(&mut after).await;
        Seen {
            head,
            body: Vec::new(),
            after,
        }
    })
    .await;
    assert_eq!(result.map(|r| r.status), Ok(413));
    assert!(exchange.request_body_len < body.len());
    assert_eq!(seen.after.len(), exchange.request_body_len);
}

// ---- malformed and oversized responses ------------------------------------------------------

#[tokio::test]
async fn truncated_body_is_malformed() {
    let (result, exchange, _) = over_pipe(plan(&Request::new("GET", "/o")), limits(), |io| {
        answer_and_close(
            io,
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nfour".to_vec(),
        )
    })
    .await;
    assert_eq!(
        result,
        Err(ClientError::Malformed(
            "body ended after 4 of 10 bytes".to_string()
        ))
    );
    assert_eq!(exchange.response_body_preview, "four");
    assert!(exchange.outcome.is_err());
}

#[tokio::test]
async fn truncated_chunked_body_is_malformed() {
    let (result, _, _) = over_pipe(plan(&Request::new("GET", "/o")), limits(), |io| {
        answer_and_close(
            io,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab".to_vec(),
        )
    })
    .await;
    assert_malformed(&result, "ended inside a chunk after 2 of 5 bytes");
}

#[tokio::test]
async fn conflicting_content_lengths_are_malformed() {
    for reply in [
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello!",
    ] {
        let (result, _) = get_with_reply(reply, limits()).await;
        assert_malformed(&result, "conflicting Content-Length");
    }
    // Identical duplicates are one length (RFC 9112 §6.3).
    let (same, _) = get_with_reply(
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
        limits(),
    )
    .await;
    assert_eq!(
        same.map(|r| r.body),
        Ok(bytes::Bytes::from_static(b"hello"))
    );
}

#[tokio::test]
async fn bad_framing_headers_are_malformed() {
    let cases = [
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\n",
            "not a number",
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            "not a number",
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
            "not a number",
        ),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
            "both Transfer-Encoding and Content-Length",
        ),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            "unsupported",
        ),
        (
            "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "HTTP/1.0",
        ),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "not hexadecimal",
        ),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n",
            "not followed by CRLF",
        ),
    ];
    for (reply, needle) in cases {
        let (result, _) = get_with_reply(reply, limits()).await;
        assert_malformed(&result, needle);
    }
}

#[tokio::test]
async fn garbage_status_lines_are_malformed() {
    let cases = [
        ("HTTX/1.1 200 OK\r\n\r\n", "status line does not start"),
        ("garbage\r\n\r\n", "status line does not start"),
        ("HTTP/2 200 OK\r\n\r\n", "status line does not start"),
        ("HTTP/1.1 20 OK\r\n\r\n", "three digits"),
        ("HTTP/1.1 999 Nine\r\n\r\n", "three digits"),
        ("HTTP/1.1 200OK\r\n\r\n", "no space after"),
    ];
    for (reply, needle) in cases {
        let (result, exchange) = get_with_reply(reply, limits()).await;
        assert_malformed(&result, needle);
        // The offending bytes are kept as evidence.
        assert!(
            exchange.response_head.starts_with(&reply[..5]),
            "{exchange:?}"
        );
    }
}

#[tokio::test]
async fn bad_header_lines_are_malformed() {
    let cases = [
        (
            "HTTP/1.1 200 OK\r\nX-A: 1\r\n  folded\r\n\r\n",
            "obsolete line folding",
        ),
        (
            "HTTP/1.1 200 OK\r\nX-A : 1\r\n\r\n",
            "whitespace between field name and colon",
        ),
        (
            "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
            "without a colon",
        ),
        ("HTTP/1.1 200 OK\nContent-Length: 0\n\n", "bare LF"),
        ("HTTP/1.1 200 OK\r\nX-A: 1\r2\r\n\r\n", "bare CR"),
        ("HTTP/1.1 200 OK\r\nX-A: \x01\r\n\r\n", "control bytes"),
    ];
    for (reply, needle) in cases {
        let (result, _) = get_with_reply(reply, limits()).await;
        assert_malformed(&result, needle);
    }
}

#[tokio::test]
async fn header_values_that_are_not_utf8_are_malformed_and_utf8_is_kept() {
    let reply = b"HTTP/1.1 200 OK\r\nETag: \"\xc3\x28\"\r\nContent-Length: 0\r\n\r\n".to_vec();
    let (result, _, _) = over_pipe(plan(&Request::new("GET", "/o")), limits(), |io| {
        answer(io, reply)
    })
    .await;
    assert_malformed(&result, "not valid UTF-8");
    let reply = "HTTP/1.1 200 OK\r\nX-Name: caf\u{e9}\r\nContent-Length: 0\r\n\r\n";
    let (result, _) = get_with_reply(reply, limits()).await;
    let response = result.expect("UTF-8 values are opaque data");
    assert_eq!(response.header("x-name"), Some("caf\u{e9}"));
}

#[tokio::test]
async fn empty_reply_is_malformed() {
    let (result, _, _) = over_pipe(plan(&Request::new("GET", "/o")), limits(), |io| {
        answer_and_close(io, Vec::new())
    })
    .await;
    assert_malformed(&result, "closed before a status line");
}

#[tokio::test]
async fn oversized_heads_and_bodies_are_too_large() {
    let small = Limits {
        header_bytes_max: 1024,
        header_count_max: 3,
        body_bytes_max: 8,
        ..limits()
    };
    let big_header = format!("HTTP/1.1 200 OK\r\nX-Big: {}\r\n\r\n", "a".repeat(2000));
    let (result, _) = get_with_reply(&big_header, small.clone()).await;
    assert!(
        matches!(result, Err(ClientError::TooLarge { limit: "header_bytes_max", value }) if value > 1024),
        "{result:?}"
    );

    let many = "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n";
    let (result, _) = get_with_reply(many, small.clone()).await;
    assert_eq!(
        result,
        Err(ClientError::TooLarge {
            limit: "header_count_max",
            value: 4
        })
    );

    let long_cl = "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n123456789";
    let (result, _) = get_with_reply(long_cl, small.clone()).await;
    assert_eq!(
        result,
        Err(ClientError::TooLarge {
            limit: "body_bytes_max",
            value: 9
        })
    );

    let long_chunks = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n12345\r\n5\r\n67890\r\n0\r\n\r\n";
    let (result, _) = get_with_reply(long_chunks, small).await;
    assert_eq!(
        result,
        Err(ClientError::TooLarge {
            limit: "body_bytes_max",
            value: 10
        })
    );
}

// ---- timeouts ------------------------------------------------------------------------------

#[tokio::test]
async fn server_that_never_answers_times_out() {
    let quick = Limits {
        timeout: Duration::from_millis(200),
        ..Limits::default()
    };
    let (result, exchange, seen) = over_pipe(
        plan(&Request::new("GET", "/o")),
        quick,
        |mut io| async move {
            let head = read_request_head(&mut io).await;
            // Hold the connection silently until the client gives up and drops it.
            let mut after = Vec::new();
            let _ = io.read_to_end(&mut after).await;
            Seen {
                head,
                body: Vec::new(),
                after,
            }
        },
    )
    .await;
    let expected = ClientError::Timeout {
        after: Duration::from_millis(200),
        stage: "head",
    };
    assert_eq!(result, Err(expected.clone()));
    assert_eq!(exchange.outcome, Err(expected));
    assert!(exchange.elapsed >= Duration::from_millis(200));
    assert!(seen.head.starts_with("GET /o HTTP/1.1\r\n"));
}

#[tokio::test]
async fn slow_whitespace_trickle_is_bounded_by_the_timeout() {
    let quick = Limits {
        timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let (result, exchange, _) = over_pipe(
        plan(&Request::new("POST", "/o?complete")),
        quick,
        |mut io| async move {
            let head = read_request_head(&mut io).await;
            io.write_all(b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n")
                .await
                .expect("write head");
            // A server that keeps the connection alive with whitespace forever; the pause is the
            // server's pacing, and the loop ends when the client drops the connection.
            while io.write_all(b"1\r\n \r\n").await.is_ok() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Seen {
                head,
                ..Seen::default()
            }
        },
    )
    .await;
    assert_eq!(
        result,
        Err(ClientError::Timeout {
            after: Duration::from_millis(300),
            stage: "body"
        })
    );
    assert!(exchange
        .response_body_preview
        .starts_with("1\r\n \r\n1\r\n \r\n"));
    assert!(exchange
        .response_head
        .starts_with("HTTP/1.1 202 Accepted\r\n"));
}

// ---- Location parsing ------------------------------------------------------------------------

#[test]
fn parse_location_accepts_ip_literals_and_host_names() {
    let ok = |loc: &str| parse_location(loc).expect(loc);
    let at = |addr: &str| Endpoint::http(addr.parse().expect("addr"));
    assert_eq!(
        ok("http://10.0.0.2:8080/bucket/obj?auth=B1E1509329C7A5DD90DCF6642DFB"),
        (
            at("10.0.0.2:8080"),
            "/bucket/obj?auth=B1E1509329C7A5DD90DCF6642DFB".to_string()
        )
    );
    assert_eq!(
        ok("http://10.0.0.2/41a140b5271dc8d22ff8d027176a0821"),
        (
            at("10.0.0.2:80"),
            "/41a140b5271dc8d22ff8d027176a0821".to_string()
        )
    );
    assert_eq!(
        ok("HTTP://[::1]:9000/o"),
        (at("[::1]:9000"), "/o".to_string())
    );
    assert_eq!(
        ok("http://[fe80::1]/"),
        (at("[fe80::1]:80"), "/".to_string())
    );
    assert_eq!(
        ok("http://127.0.0.1"),
        (at("127.0.0.1:80"), "/".to_string())
    );
    assert_eq!(
        ok("http://127.0.0.1:5/a#frag"),
        (at("127.0.0.1:5"), "/a".to_string())
    );

    // Host names are kept as names (lower-cased), resolved only when connecting.
    let (named, target) = ok("http://Node-2.Example.COM:81?auth=x");
    assert_eq!(named.host, Host::Name("node-2.example.com"));
    assert_eq!((named.scheme, named.port), (Scheme::Http, 81));
    assert_eq!(target, "/?auth=x");
    assert_eq!(named.to_string(), "node-2.example.com:81");
    let (local, _) = ok("http://localhost/o");
    assert_eq!(local.to_string(), "localhost:80");
    assert_ne!(local, at("127.0.0.1:80"));

    // https: its own default port; the same host over http is another endpoint.
    let (secure, target) = ok("HTTPS://store.example.org/b/o?auth=1");
    assert_eq!(secure.url(), "https://store.example.org:443");
    assert_eq!(target, "/b/o?auth=1");
    let (plain, _) = ok("http://store.example.org:443/b/o");
    assert_ne!(secure, plain);
    assert_eq!(secure, plain.https());
    assert_eq!(ok("https://10.0.0.2:8443/o").0, at("10.0.0.2:8443").https());
}

#[test]
fn parse_location_rejects_everything_else() {
    for loc in [
        "/relative/path",
        "ftp://10.0.0.2/o",
        "http:/10.0.0.2/o",
        "http://10.0.0.2:99999/o",
        "http://10.0.0.2:0/o",
        "http://10.0.0.2:8a/o",
        "http://user@10.0.0.2/o",
        "http://user@example.com/o",
        "http://[::1/o",
        "http://[::1]x/o",
        "http://10.0.0.2/a b",
        "http://10.0.0.256/o",
        "http://node_a..example/o",
        "http://exa%6dple.com/o",
        "http://-/o",
        "https:///o",
        "",
    ] {
        assert!(
            matches!(parse_location(loc), Err(ClientError::BadLocation(_))),
            "{loc:?} -> {:?}",
            parse_location(loc)
        );
    }
    let long = format!("http://{}.example/o", "a".repeat(64));
    assert!(parse_location(&long).is_err(), "a 64-byte label is refused");
}

#[test]
fn targets_parse_with_or_without_a_scheme() {
    let t = |text: &str| Endpoint::parse_target(text).expect(text);
    assert_eq!(
        t("127.0.0.1:9"),
        Endpoint::http("127.0.0.1:9".parse().expect("a"))
    );
    assert_eq!(
        t("http://127.0.0.1/"),
        Endpoint::http("127.0.0.1:80".parse().expect("a"))
    );
    assert_eq!(
        t("https://node1.example:8443").url(),
        "https://node1.example:8443"
    );
    assert_eq!(t("node1.example").url(), "http://node1.example:80");
    for bad in ["http://", "https://h:1/bucket", "ftp://h", "http://h:x", ""] {
        assert!(Endpoint::parse_target(bad).is_err(), "{bad:?} accepted");
    }
}

// ---- Client and Session over real loopback TCP -------------------------------------------------

/// A canned server on 127.0.0.1: one connection per reply, in order; then it stops listening,
/// so any further connect is refused.
struct Fake {
    addr: SocketAddr,
    seen: UnboundedReceiver<Seen>,
}

impl Fake {
    async fn start(replies: impl FnOnce(SocketAddr) -> Vec<String>) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let replies = replies(addr);
        let (tx, seen) = unbounded_channel();
        tokio::spawn(async move {
            for reply in replies {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let head = read_request_head(&mut stream).await;
                let mut body = vec![0; content_length(&head)];
                if head.contains("\r\nExpect: 100-continue\r\n") {
                    // Like an SCSP node: redirect from the head alone, else ask for the body.
                    if reply.starts_with("HTTP/1.1 3") {
                        body.clear();
                    } else if stream
                        .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                if stream.read_exact(&mut body).await.is_err() {
                    return;
                }
                let _ = stream.write_all(reply.as_bytes()).await;
                let _ = tx.send(Seen {
                    head,
                    body,
                    after: Vec::new(),
                });
            }
        });
        Fake { addr, seen }
    }

    async fn next(&mut self) -> Seen {
        self.seen
            .recv()
            .await
            .expect("the fake server saw a request")
    }
}

fn redirect(status: u16, location: &str) -> String {
    let reason = if status == 301 {
        "Moved Permanently"
    } else {
        "Temporary Redirect"
    };
    format!("HTTP/1.1 {status} {reason}\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n")
}

fn reply(status: u16, body: &str) -> String {
    format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test]
async fn session_follows_307_and_keeps_the_access_node() {
    let mut b = Fake::start(|_| vec![reply(201, "created")]).await;
    let location = format!("http://{}/bucket/obj?auth=tok", b.addr);
    let to_b = location.clone();
    let mut a = Fake::start(move |_| vec![redirect(307, &to_b), reply(200, "again")]).await;

    let client = Client::new(Limits::default());
    let mut session = Session::new(client.clone(), a.addr);
    let req = Request::new("POST", "/bucket/obj")
        .header("X-Test", "1")
        .body("hello");
    let followed = session.request(&req).await.expect("followed");
    assert_eq!(followed.response.status, 201);
    assert_eq!(&followed.response.body[..], b"created");
    assert_eq!(
        followed.hops,
        vec![Hop {
            status: 307,
            from: a.addr.into(),
            location
        }]
    );
    assert_eq!(session.access_node(), a.addr);

    let at_a = a.next().await;
    assert_eq!(
        at_a.head,
        format!(
            "POST /bucket/obj HTTP/1.1\r\nHost: {}\r\nX-Test: 1\r\nContent-Length: 5\r\n\r\n",
            a.addr
        )
    );
    let at_b = b.next().await;
    assert_eq!(
        at_b.head,
        format!(
            "POST /bucket/obj?auth=tok HTTP/1.1\r\nHost: {}\r\nX-Test: 1\r\nContent-Length: 5\r\n\r\n",
            b.addr
        )
    );
    assert_eq!(at_b.body, b"hello");

    // The next request starts at the unchanged access node.
    let again = session
        .request(&Request::new("GET", "/other"))
        .await
        .expect("second");
    assert_eq!(again.response.status, 200);
    assert!(again.hops.is_empty());
    assert!(a.next().await.head.starts_with("GET /other HTTP/1.1\r\n"));
    assert_eq!(client.transcript().len(), 3);
}

#[tokio::test]
async fn credentials_go_only_to_the_named_hosts_not_where_a_redirect_points() {
    let mut elsewhere = Fake::start(|_| vec![reply(201, "")]).await;
    let to = format!("http://{}/b/o?auth=tok", elsewhere.addr);
    let mut named = Fake::start(move |_| vec![redirect(307, &to)]).await;
    let client = Client::new(Limits::default()).with_default_headers_to(
        vec![("Authorization".into(), "Basic dTpw".into())],
        vec![named.addr.into()],
    );
    let mut session = Session::new(client, named.addr);
    let followed = session
        .request(&Request::new("PUT", "/b/o").body("x"))
        .await
        .expect("followed");
    assert_eq!(followed.response.status, 201);
    assert!(named
        .next()
        .await
        .head
        .contains("\r\nAuthorization: Basic dTpw\r\n"));
    let there = elsewhere.next().await.head;
    assert!(!there.contains("Authorization"), "{there}");
}

#[tokio::test]
async fn session_follows_301_and_moves_the_access_node() {
    let mut b = Fake::start(|_| vec![reply(201, ""), reply(200, "at b")]).await;
    let location = format!("http://{}/obj?auth=tok", b.addr);
    let to_b = location.clone();
    // A serves exactly one connection: a second request to A would be refused.
    let mut a = Fake::start(move |_| vec![redirect(301, &to_b)]).await;

    let mut session = Session::new(Client::new(Limits::default()), a.addr);
    let req = Request::new("PUT", "/obj").body("v1").expect_continue();
    let followed = session.request(&req).await.expect("followed");
    assert_eq!(followed.response.status, 201);
    assert_eq!(followed.response.informational, vec![100]);
    assert_eq!(followed.hops.len(), 1);
    assert_eq!(followed.hops[0].status, 301);
    assert_eq!(followed.hops[0].location, location);
    assert_eq!(session.access_node(), b.addr);
    assert_eq!(a.next().await.body, b"");
    let at_b = b.next().await;
    assert!(at_b.head.starts_with("PUT /obj?auth=tok HTTP/1.1\r\n"));
    assert_eq!(at_b.body, b"v1");

    let again = session
        .request(&Request::new("GET", "/other"))
        .await
        .expect("second");
    assert_eq!(&again.response.body[..], b"at b");
    assert!(b.next().await.head.starts_with("GET /other HTTP/1.1\r\n"));
    let transcript = session.client().take_transcript();
    assert_eq!(transcript.len(), 3);
    assert_eq!(transcript[0].addr, a.addr);
    assert_eq!(transcript[2].addr, b.addr);
    assert!(session.client().transcript().is_empty());
}

#[tokio::test]
async fn session_gives_up_on_redirect_loops_and_bad_locations() {
    let a = Fake::start(|addr| vec![redirect(307, &format!("http://{addr}/loop")); 4]).await;
    let limits = Limits {
        redirects_max: 3,
        ..Limits::default()
    };
    let client = Client::new(limits);
    let mut session = Session::new(client.clone(), a.addr);
    let result = session.request(&Request::new("GET", "/loop")).await;
    assert_eq!(result, Err(ClientError::RedirectLoop { hops: 3 }));
    assert_eq!(client.transcript().len(), 4);

    let c = Fake::start(|_| {
        vec!["HTTP/1.1 301 Moved Permanently\r\nContent-Length: 0\r\n\r\n".to_string()]
    })
    .await;
    let mut session = Session::new(Client::new(Limits::default()), c.addr);
    let result = session.request(&Request::new("GET", "/o")).await;
    assert!(
        matches!(result, Err(ClientError::BadLocation(_))),
        "{result:?}"
    );
    assert_eq!(session.access_node(), c.addr);
}

#[tokio::test]
async fn failed_connects_are_typed_and_recorded() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let client = Client::new(Limits::default());
    let result = client.send(addr, "h", &Request::new("GET", "/")).await;
    assert!(matches!(result, Err(ClientError::Connect(_))), "{result:?}");
    let transcript = client.transcript();
    assert_eq!(transcript.len(), 1);
    assert!(matches!(
        transcript[0].outcome,
        Err(ClientError::Connect(_))
    ));
    assert_eq!(transcript[0].addr, addr);
}

#[tokio::test]
async fn send_raw_sends_exact_bytes() {
    let mut a = Fake::start(|_| {
        vec!["HTTP/1.1 505 HTTP Version Not Supported\r\nContent-Length: 0\r\n\r\n".to_string()]
    })
    .await;
    let client = Client::new(Limits::default());
    let raw = b"GET / HTTP/1.0\r\n\r\n";
    let response = client.send_raw(a.addr, raw, false).await.expect("response");
    assert_eq!(response.status, 505);
    assert_eq!(a.next().await.head.as_bytes(), raw);
    let transcript = client.transcript();
    assert_eq!(transcript[0].request_head, "GET / HTTP/1.0\r\n\r\n");
    assert_eq!(transcript[0].request_body_len, 0);
    assert_eq!(transcript[0].outcome, Ok(505));
}

#[tokio::test]
async fn raw_transcript_splits_head_from_body() {
    let raw = b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
    let (result, exchange, seen) = over_pipe(raw_plan(raw, false), limits(), |io| {
        answer(
            io,
            b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n".to_vec(),
        )
    })
    .await;
    assert_eq!(result.map(|r| r.status), Ok(201));
    assert_eq!(seen.body, b"abc");
    assert_eq!(
        exchange.request_head,
        "POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\n"
    );
    assert_eq!(exchange.request_body_len, 3);
}

#[tokio::test]
async fn unencodable_requests_are_recorded_and_send_nothing() {
    let client = Client::new(Limits::default());
    // Port 9 on loopback: nothing is connected to, since encoding fails first.
    let bad = Request::new("GET", "/").header("X-A", "1\r\n");
    let result = client.send(pipe_addr(), "h", &bad).await;
    assert!(
        matches!(result, Err(ClientError::InvalidRequest(_))),
        "{result:?}"
    );
    let transcript = client.transcript();
    assert_eq!(transcript.len(), 1);
    assert!(transcript[0].request_head.is_empty());
    assert_eq!(transcript[0].outcome, result.map(|r| r.status));
}

// ---- the same client over madsim's simulated TCP -----------------------------------------------

/// The client inside a simulation: `rt` picks simulated TCP and virtual time, the head is
/// flushed before waiting for `100 Continue`, a silent server costs virtual (not wall) time,
/// and a clogged link refuses the connect at once (notes/madsim.md §3). Fixed seeds.
#[cfg(madsim)]
mod simulated {
    use std::net::{IpAddr, Ipv4Addr};

    use madsim::net::NetSim;
    use madsim::runtime::{Handle, Runtime};
    use replisim_rt as rt;

    use super::*;

    const SERVER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 80);

    /// Answers `/silent` never; anything else with `100 Continue` (when asked), then a
    /// chunked 201 with a trailer. Holds each connection until the client drops it.
    async fn serve(mut stream: rt::Stream) {
        let head = read_request_head(&mut stream).await;
        let mut rest = Vec::new();
        if !head.starts_with("GET /silent ") {
            if head.contains("\r\nExpect: 100-continue\r\n") {
                let _ = stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await;
                let _ = stream.flush().await;
            }
            let mut body = vec![0; content_length(&head)];
            if stream.read_exact(&mut body).await.is_err() {
                return;
            }
            let reply = format!(
                "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{}\r\n0\r\n\
                 Castor-System-Result: 201 Created\r\n\r\n",
                body.len(),
                String::from_utf8_lossy(&body)
            );
            let _ = stream.write_all(reply.as_bytes()).await;
            let _ = stream.flush().await;
        }
        let _ = stream.read_to_end(&mut rest).await;
    }

    #[test]
    fn client_runs_over_simulated_tcp() {
        for seed in 0..4 {
            Runtime::with_seed_and_config(seed, madsim::Config::default()).block_on(async {
                let handle = Handle::current();
                let server = handle.create_node().name("server").ip(SERVER.ip()).build();
                let listener = server
                    .spawn(rt::listen(SERVER))
                    .await
                    .expect("listen task")
                    .expect("bind");
                server.spawn(async move {
                    while let Ok((stream, _)) = listener.accept().await {
                        rt::spawn(serve(stream));
                    }
                });
                let server_id = server.id();
                let client_node = handle
                    .create_node()
                    .name("client")
                    .ip(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9)))
                    .build();
                client_node
                    .spawn(async move {
                        let client = Client::new(Limits::default());
                        let start = rt::now();
                        let req = Request::new("POST", "/obj")
                            .body("payload")
                            .expect_continue();
                        let response = client.send(SERVER, "node1", &req).await.expect("201");
                        assert_eq!(response.status, 201);
                        assert_eq!(response.informational, vec![100]);
                        assert_eq!(&response.body[..], b"payload");
                        assert_eq!(
                            response.trailer("castor-system-result"),
                            Some("201 Created")
                        );
                        // 100 Continue released the body, not the 1 s continue_wait.
                        assert!(rt::now() - start < Limits::default().continue_wait);

                        let silent = client
                            .send(SERVER, "node1", &Request::new("GET", "/silent"))
                            .await;
                        assert_eq!(
                            silent,
                            Err(ClientError::Timeout {
                                after: Duration::from_secs(10),
                                stage: "head"
                            })
                        );

                        // Host names resolve through madsim's DNS table.
                        NetSim::current().add_dns_record("node1.sim.example", SERVER.ip());
                        let named = Endpoint::parse_target("http://node1.sim.example:80")
                            .expect("a host name");
                        let by_name = client
                            .send(named, &named.to_string(), &Request::new("POST", "/n").body("x"))
                            .await
                            .expect("201 by name");
                        assert_eq!(by_name.status, 201);
                        let unknown = Endpoint::parse_target("http://nowhere.sim.example")
                            .expect("a host name");
                        let unresolved = client.send(unknown, "x", &Request::new("GET", "/")).await;
                        assert!(
                            matches!(&unresolved, Err(ClientError::Connect(e)) if e.contains("cannot resolve")),
                            "{unresolved:?}"
                        );

                        NetSim::current().clog_node(server_id);
                        let clogged = client
                            .send(SERVER, "node1", &Request::new("GET", "/"))
                            .await;
                        assert!(
                            matches!(clogged, Err(ClientError::Connect(_))),
                            "{clogged:?}"
                        );
                        assert_eq!(client.transcript().len(), 5);
                    })
                    .await
                    .expect("client task");
            });
        }
    }
}
