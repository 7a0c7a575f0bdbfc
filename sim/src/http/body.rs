//! Reading a whole HTTP/1.1 body into bytes of its own.
//!
//! hyper hands over a body that arrived in one read as a slice of the connection's read
//! buffer (8 KiB or more, shared with what the connection reads next). A stored object or a
//! replica kept that slice, so every small object held a whole buffer alive (a quarter of
//! a sweep seed's heap), and hyper, finding its buffer still shared, allocated a new one
//! for the next request. Bodies that outlive their exchange are therefore copied out: one
//! copy of the body, next to the digest computed over it anyway.

use bytes::{BufMut, Bytes};
use http_body_util::{BodyExt, Limited};
use hyper::body::Body;

/// The error of a body that failed or went over its bound (`Limited`'s own, whose text
/// callers pass on: "length limit exceeded").
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// Reads all of `body`, at most `limit` bytes, into an allocation of its own length, so
/// that keeping the result keeps nothing of the connection alive. Each data frame is copied
/// once, straight into that allocation (collecting first and copying after would copy a
/// body of several frames twice); trailers carry no bytes and are passed over, as
/// `collect` does.
pub async fn collect_owned<B>(body: B, limit: usize) -> Result<Bytes, BodyError>
where
    B: Body,
    B::Error: Into<BodyError>,
{
    let mut body = std::pin::pin!(Limited::new(body, limit));
    // A body with a `Content-Length` states its size; its frames then fill the vector
    // exactly, without growing it.
    let mut owned =
        Vec::with_capacity(body.size_hint().exact().unwrap_or(0).min(limit as u64) as usize);
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            owned.put(data);
        }
    }
    // A body of unstated size (chunked) may have grown the vector past its length; what
    // is kept is the length only.
    owned.shrink_to_fit();
    Ok(Bytes::from(owned))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;

    /// The copy is what the module is for: a body handed over as a slice of a larger
    /// buffer must come back in storage of its own.
    #[test]
    fn a_body_sliced_from_a_larger_buffer_comes_back_in_its_own_allocation() {
        let buffer = Bytes::from(vec![7u8; 8192]);
        let body = Full::new(buffer.slice(100..612));
        let owned = futures::executor::block_on(collect_owned(body, 1 << 20)).expect("a body");
        assert_eq!(owned.len(), 512);
        assert!(owned.iter().all(|&b| b == 7));
        let inside = buffer.as_ptr_range();
        assert!(
            !inside.contains(&owned.as_ptr()),
            "the collected body still points into the buffer it was sliced from"
        );
    }

    #[test]
    fn a_body_of_several_frames_comes_back_whole() {
        use http_body_util::StreamBody;
        use hyper::body::Frame;
        let frames = ["abc", "", "defg"].map(|part| {
            Ok::<_, std::convert::Infallible>(Frame::data(Bytes::from_static(part.as_bytes())))
        });
        let body = StreamBody::new(futures::stream::iter(frames));
        let owned = futures::executor::block_on(collect_owned(body, 1 << 20)).expect("a body");
        assert_eq!(&owned[..], b"abcdefg");
    }

    #[test]
    fn a_body_over_the_limit_is_refused_with_limiteds_reason() {
        let body = Full::new(Bytes::from(vec![0u8; 100]));
        let err = futures::executor::block_on(collect_owned(body, 99)).expect_err("too long");
        assert_eq!(err.to_string(), "length limit exceeded");
    }
}
