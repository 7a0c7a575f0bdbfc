//! Limits every service applies to what a client sends, before any parser sees it
//! (docs/choices.md, "Hardening"). Each has its own status code: a head too large for the
//! HTTP parser is hyper's **431**, a long request target **414**, a body over a service's
//! size **413**, JSON nested too deep **400**.

/// Longest request target (path and query) a service reads: **414** beyond.
pub const URL_BYTES_MAX: usize = 8 * 1024;

/// Deepest nesting of JSON arrays and objects a service parses: **400** beyond. serde_json
/// stops at 128 itself; no request of any protocol here needs more than a handful.
pub const JSON_DEPTH_MAX: usize = 32;

/// True when `bytes`, read as JSON, opens more than `max` arrays or objects at once. Brackets
/// inside strings (escapes included) do not count. A scan, not a parse: it runs before the
/// parser so the parser never recurses deeply, and it accepts anything the parser will
/// reject for other reasons.
pub fn json_too_deep(bytes: &[u8], max: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_counted_outside_strings_only() {
        // Four levels: the object, its array, the inner object, its array.
        assert!(!json_too_deep(br#"{"a":[1,{"b":[]}]}"#, 4));
        assert!(json_too_deep(br#"{"a":[1,{"b":[]}]}"#, 3));
        assert!(!json_too_deep(br#"{"a":"[[[[[[\"[[[["}"#, 1));
        let deep = format!("{}{}", "[".repeat(33), "]".repeat(33));
        assert!(json_too_deep(deep.as_bytes(), JSON_DEPTH_MAX));
        let ok = format!("{}{}", "[".repeat(32), "]".repeat(32));
        assert!(!json_too_deep(ok.as_bytes(), JSON_DEPTH_MAX));
    }
}
