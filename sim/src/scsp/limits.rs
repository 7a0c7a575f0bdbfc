//! Request limits that are part of the protocol: persisted metadata size and count
//! (SCSP-16) and the Content-MD5 digest check on writes (SCSP-25).

use bytes::Bytes;
use http::HeaderMap;

use crate::http::content_md5::{content_md5, decode_base64};
use crate::scsp::metadata::is_persisted;

/// Most persisted headers an object may carry.
pub const PERSISTED_HEADERS_MAX: usize = 500;
/// Largest single persisted header (name and value).
pub const PERSISTED_HEADER_BYTES_MAX: usize = 16 * 1024;
/// Largest total of persisted headers.
pub const PERSISTED_BYTES_MAX: usize = 32 * 1024;

/// Checks the persisted headers of a write against the SCSP-16 limits; the error says which.
pub fn check_metadata(headers: &HeaderMap) -> Result<(), String> {
    check_metadata_skipping(headers, Skip::default())
}

/// Limits a node leaves unchecked (the `header-count-unlimited` and `header-size-unlimited`
/// defects); the total is always checked.
#[derive(Debug, Clone, Copy, Default)]
pub struct Skip {
    /// No limit on the number of headers.
    pub count: bool,
    /// No limit on the size of one header.
    pub one_header: bool,
}

/// `check_metadata` without the limits `skip` names.
pub fn check_metadata_skipping(headers: &HeaderMap, skip: Skip) -> Result<(), String> {
    let mut count = 0;
    let mut total = 0;
    for (name, value) in headers {
        if !is_persisted(name.as_str()) {
            continue;
        }
        count += 1;
        let size = name.as_str().len() + value.len();
        if size > PERSISTED_HEADER_BYTES_MAX && !skip.one_header {
            return Err(format!(
                "Header {} is {size} bytes; the limit is {PERSISTED_HEADER_BYTES_MAX}.",
                name.as_str()
            ));
        }
        total += size;
    }
    if count > PERSISTED_HEADERS_MAX && !skip.count {
        return Err(format!(
            "{count} metadata headers; the limit is {PERSISTED_HEADERS_MAX}."
        ));
    }
    if total > PERSISTED_BYTES_MAX {
        return Err(format!(
            "{total} bytes of metadata headers; the limit is {PERSISTED_BYTES_MAX}."
        ));
    }
    Ok(())
}

/// Checks a `Content-MD5` header against the bytes it describes.
pub fn check_content_md5(headers: &HeaderMap, bytes: &Bytes) -> Result<(), String> {
    let Some(claimed) = headers.get("content-md5").and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    match decode_base64(claimed) {
        Some(d) if d.len() == 16 => {
            if claimed.trim() == content_md5(bytes) {
                Ok(())
            } else {
                Err(format!(
                    "Content-MD5 {claimed} does not match the content ({}).",
                    content_md5(bytes)
                ))
            }
        }
        _ => Err(format!(
            "Content-MD5 `{claimed}` is not a base64 MD5 digest."
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_md5_is_checked() {
        let body = Bytes::from_static(b"hello");
        let mut h = HeaderMap::new();
        h.insert("content-md5", content_md5(&body).parse().expect("value"));
        assert!(check_content_md5(&h, &body).is_ok());
        assert!(check_content_md5(&h, &Bytes::from_static(b"other")).is_err());
        h.insert("content-md5", "nope".parse().expect("value"));
        assert!(check_content_md5(&h, &body).is_err());
    }

    #[test]
    fn metadata_limits() {
        let mut h = HeaderMap::new();
        h.insert("x-a-meta", "v".parse().expect("value"));
        assert!(check_metadata(&h).is_ok());
        h.insert("x-big-meta", "v".repeat(17 * 1024).parse().expect("value"));
        assert!(check_metadata(&h).unwrap_err().contains("x-big-meta"));
        let mut many = HeaderMap::new();
        for i in 0..501 {
            many.append(
                http::HeaderName::from_bytes(format!("x-m{i}-meta").as_bytes()).expect("name"),
                "v".parse().expect("value"),
            );
        }
        assert!(check_metadata(&many).unwrap_err().contains("501"));
        let mut total = HeaderMap::new();
        for i in 0..3 {
            total.insert(
                http::HeaderName::from_bytes(format!("x-t{i}-meta").as_bytes()).expect("name"),
                "v".repeat(12 * 1024).parse().expect("value"),
            );
        }
        assert!(check_metadata(&total)
            .unwrap_err()
            .contains("bytes of metadata"));
    }
}
