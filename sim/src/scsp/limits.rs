//! Request limits that are part of the protocol: persisted metadata size and count
//! (SCSP-16) and the Content-MD5 digest check on writes (SCSP-25).

use bytes::Bytes;
use http::HeaderMap;

use crate::scsp::metadata::is_persisted;

/// Most persisted headers an object may carry.
pub const PERSISTED_HEADERS_MAX: usize = 500;
/// Largest single persisted header (name and value).
pub const PERSISTED_HEADER_BYTES_MAX: usize = 16 * 1024;
/// Largest total of persisted headers.
pub const PERSISTED_BYTES_MAX: usize = 32 * 1024;

/// Checks the persisted headers of a write against the SCSP-16 limits; the error says which.
pub fn check_metadata(headers: &HeaderMap) -> Result<(), String> {
    let mut count = 0;
    let mut total = 0;
    for (name, value) in headers {
        if !is_persisted(name.as_str()) {
            continue;
        }
        count += 1;
        let size = name.as_str().len() + value.len();
        if size > PERSISTED_HEADER_BYTES_MAX {
            return Err(format!(
                "Header {} is {size} bytes; the limit is {PERSISTED_HEADER_BYTES_MAX}.",
                name.as_str()
            ));
        }
        total += size;
    }
    if count > PERSISTED_HEADERS_MAX {
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

/// Decodes standard base64 (with padding), as `Content-MD5` carries its digest.
pub fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if s.len() % 4 != 0 {
        return None;
    }
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    for (i, chunk) in bytes.chunks(4).enumerate() {
        let last = i == bytes.len() / 4 - 1;
        let pad = chunk.iter().rev().take_while(|c| **c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &chunk[..4 - pad] {
            n = (n << 6) | value(c)?;
        }
        n <<= 6 * pad as u32;
        let three = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&three[..3 - pad]);
    }
    Some(out)
}

/// Encodes bytes as standard base64 with padding.
pub fn encode_base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The `Content-MD5` value of some bytes.
pub fn content_md5(bytes: &[u8]) -> String {
    use md5::{Digest, Md5};
    encode_base64(&Md5::digest(bytes))
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
    fn base64_round_trips() {
        for input in [&b""[..], b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar"] {
            let e = encode_base64(input);
            assert_eq!(decode_base64(&e).as_deref(), Some(input), "{e}");
        }
        assert_eq!(encode_base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(decode_base64("Zm9=v"), None);
        assert_eq!(decode_base64("Zg=="), Some(b"f".to_vec()));
        assert_eq!(decode_base64("Z==="), None);
    }

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
