//! Building responses: one place for the headers every answer carries and the error body.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};

use crate::scsp::alternatives::ErrorBody;

/// Why a response body stopped early; hyper then aborts the connection, which is how a
/// node signals a failed validation mid-body (SCSP-38).
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// The response body type of the node: boxed so that bodies can stream or stop early.
pub type Body = BoxBody<Bytes, BodyError>;

/// The `Server` header value.
pub const SERVER: &str = concat!("replisim/", env!("CARGO_PKG_VERSION"));

/// [`SERVER`] as a ready header value: every answer carries it.
pub const SERVER_VALUE: http::HeaderValue = http::HeaderValue::from_static(SERVER);

/// The methods the node implements, for `Allow` (404/501 examples in the docs list these).
pub const ALLOW: &str = "HEAD, GET, PUT, POST, COPY, APPEND, DELETE";

/// A body from bytes.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// A body that sends `bytes` and then fails, so the peer sees the connection drop before
/// the length it was promised.
pub fn truncated(bytes: Bytes, why: &'static str) -> Body {
    let frames = futures::stream::iter([
        Ok(hyper::body::Frame::data(bytes)),
        Err(BodyError::from(why)),
    ]);
    http_body_util::StreamBody::new(frames).boxed()
}

/// A body streamed in one frame with no size known in advance, so the framing is whatever
/// the headers say (a defect can then declare a length the body does not have).
pub fn streamed(bytes: impl Into<Bytes>) -> Body {
    let frames =
        futures::stream::iter([Ok::<_, BodyError>(hyper::body::Frame::data(bytes.into()))]);
    http_body_util::StreamBody::new(frames).boxed()
}

/// No body at all.
pub fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// Starts a response with the headers every answer carries.
pub fn builder(status: StatusCode) -> http::response::Builder {
    Response::builder()
        .status(status)
        .header(http::header::SERVER, SERVER_VALUE)
}

/// Finishes a builder; a header value we built ourselves is always valid, so a failure here
/// is a programming error reported as a 500 rather than a panic in the node.
pub fn finish(builder: http::response::Builder, body: Body) -> Response<Body> {
    match builder.body(body) {
        Ok(r) => r,
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("internal error building a response: {e}"),
        ),
    }
}

/// The message of an error answer, kept with the response so the router can render it in
/// another format (the `error-body` alternative) without every handler knowing the node.
#[derive(Debug, Clone)]
pub struct ErrorMessage(pub String);

/// Renders an error answer's body in the format the `error-body` alternative picks; other
/// answers pass through.
pub fn restyle(style: ErrorBody, mut response: Response<Body>) -> Response<Body> {
    if style == ErrorBody::Html {
        return response;
    }
    let Some(ErrorMessage(message)) = response.extensions_mut().remove::<ErrorMessage>() else {
        return response;
    };
    let status = response.status();
    let reason = status.canonical_reason().unwrap_or("");
    let (content_type, body) = match style {
        ErrorBody::Json => (
            "application/json",
            serde_json::json!({"status": status.as_u16(), "reason": reason, "message": message})
                .to_string(),
        ),
        _ => (
            "text/plain",
            format!("{} {reason}: {message}\n", status.as_u16()),
        ),
    };
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    *response.body_mut() = full(body);
    response
}

/// An error answer with the human-readable HTML body Swarm uses.
pub fn error(status: StatusCode, message: &str) -> Response<Body> {
    const HEAD: &str = "<html><body><h2>replisim Storage Error</h2><br>";
    const TAIL: &str = "</body></html>";
    let mut body = String::with_capacity(HEAD.len() + message.len() + TAIL.len() + 8);
    body.push_str(HEAD);
    push_html_escaped(&mut body, message);
    body.push_str(TAIL);
    let mut response = Response::new(full(body));
    response
        .extensions_mut()
        .insert(ErrorMessage(message.to_string()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(http::header::SERVER, HeaderValue::from_static(SERVER));
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/html"),
    );
    // SCSP-42: 500 and 501 close the connection.
    if status == StatusCode::INTERNAL_SERVER_ERROR || status == StatusCode::NOT_IMPLEMENTED {
        headers.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    }
    if status == StatusCode::NOT_IMPLEMENTED || status == StatusCode::NOT_FOUND {
        headers.insert(http::header::ALLOW, HeaderValue::from_static(ALLOW));
    }
    response
}

/// Appends `s` with `&`, `<` and `>` escaped, in one pass (what replacing `&` first, then
/// `<`, then `>` gives: no escape introduces a `<` or `>`).
fn push_html_escaped(out: &mut String, s: &str) {
    let mut rest = s;
    while let Some(at) = rest.find(['&', '<', '>']) {
        out.push_str(&rest[..at]);
        out.push_str(match rest.as_bytes()[at] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            _ => "&gt;",
        });
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_escape_as_the_chained_replacements_did() {
        for message in [
            "",
            "plain",
            "a&b",
            "<&>",
            "&lt;",
            ">>x<<",
            "é & ✓ <b>",
            "&&&",
        ] {
            let mut escaped = String::new();
            push_html_escaped(&mut escaped, message);
            let chained = message
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            assert_eq!(escaped, chained, "{message}");
        }
        let answer = error(StatusCode::NOT_FOUND, "x<y & z");
        let body = futures::executor::block_on(answer.into_body().collect())
            .expect("a full body")
            .to_bytes();
        assert_eq!(
            &body[..],
            b"<html><body><h2>replisim Storage Error</h2><br>x&lt;y &amp; z</body></html>"
        );
    }
}
