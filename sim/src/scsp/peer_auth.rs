//! Signatures on node-to-node requests: only a holder of the cluster key may ask a node for
//! bids, inventories or replicas, or push and discard replicas (docs/choices.md, "Peer API").
//!
//! The sender puts `X-Replisim-Peer: <unix_ms>.<64 hex>` on every request under
//! `/_replisim/`: an HMAC-SHA256, keyed with the cluster key, over the method, the path with
//! its query, the SHA-256 of the body and the time. The receiver recomputes it and refuses
//! (403) a missing, malformed or wrong signature, or one whose time is further than
//! [`WINDOW_MS`] from its own. Hand-written because the format is ours; the primitives are
//! the `hmac` and `sha2` crates.
//!
//! Time is the world's wall clock (`rt::wall_now`), not a node's skewed `NodeClock`: the
//! skew faults model the timestamps nodes stamp on versions, and a cluster whose peers
//! could not talk under a clock fault would test nothing. A real deployment needs clocks
//! within the window (NTP). Within the window a captured request could be sent again;
//! every internal request is idempotent (bids and inventories read, replica pushes are
//! newest-wins, discards drop one exact version), so a replay changes nothing.

use hmac::{Hmac, Mac};
use http::HeaderValue;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::scsp::cluster_key::ClusterKey;

/// The header carrying the signature.
pub const HEADER: &str = "x-replisim-peer";

/// [`HEADER`] as a ready header name: given as text, it is parsed on every request.
pub const HEADER_NAME: http::HeaderName = http::HeaderName::from_static(HEADER);

/// How far the signing time may be from the receiver's, either way.
pub const WINDOW_MS: u64 = 5 * 60 * 1000;

/// Why a peer request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerAuthError {
    /// No signature header.
    Missing,
    /// Not `<digits>.<64 hex>`.
    Malformed,
    /// The MAC does not match this request and key.
    Invalid,
    /// Authentic, but signed too long before or after now.
    Stale {
        /// Milliseconds between signing and now.
        off_ms: u64,
    },
}

impl std::fmt::Display for PeerAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PeerAuthError::Missing => write!(f, "node-to-node request without a signature"),
            PeerAuthError::Malformed => write!(f, "malformed node-to-node signature"),
            PeerAuthError::Invalid => {
                write!(f, "node-to-node signature not made with this cluster's key")
            }
            PeerAuthError::Stale { off_ms } => write!(
                f,
                "node-to-node signature {off_ms} ms away from now (window {WINDOW_MS} ms)"
            ),
        }
    }
}

/// Keys whose HMAC state a thread keeps ready (a world holds a peer key and a token secret
/// per cluster, and rarely more than two clusters).
const KEYED_MAX: usize = 8;

/// Key bytes and the HMAC state keyed with them.
type KeyedStates = Vec<(Box<[u8]>, Hmac<Sha256>)>;

thread_local! {
    /// HMAC states already keyed, by key bytes: keying costs two SHA-256 blocks, as much as
    /// signing a small request, and every node-to-node request is signed and verified.
    static KEYED: std::cell::RefCell<KeyedStates> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A fresh HMAC-SHA256 keyed with `key` (a copy of a state keyed earlier on this thread):
/// peer signatures and `auth=` tokens both start here.
pub(crate) fn keyed(key: &[u8]) -> Hmac<Sha256> {
    KEYED.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some((_, m)) = cache.iter().find(|(k, _)| **k == *key) {
            return m.clone();
        }
        // An HMAC accepts keys of any length, so this cannot fail; the fallback keeps it total.
        let m = <Hmac<Sha256> as Mac>::new_from_slice(key)
            .unwrap_or_else(|_| <Hmac<Sha256> as Mac>::new(&Default::default()));
        if cache.len() >= KEYED_MAX {
            cache.remove(0);
        }
        cache.push((key.into(), m.clone()));
        m
    })
}

fn mac(key: &ClusterKey, method: &str, target: &str, body: &[u8], unix_ms: u64) -> Hmac<Sha256> {
    let mut m = keyed(key.as_bytes());
    let body_digest = Sha256::digest(body);
    for part in [
        b"replisim-peer-v1".as_slice(),
        method.as_bytes(),
        target.as_bytes(),
        body_digest.as_slice(),
        &unix_ms.to_be_bytes(),
    ] {
        m.update(&(part.len() as u32).to_be_bytes());
        m.update(part);
    }
    m
}

/// How many of its latest signatures a thread remembers for [`verify`].
const MADE_MAX: usize = 8;

/// The largest body whose signature a thread remembers. A memory entry holds a copy of the
/// body, and replica pushes carry whole objects (up to `object_bytes_max`): a larger body
/// is signed and checked by computing, so the memory stays under `MADE_MAX` × this.
const MADE_BODY_MAX: usize = 64 << 10;

/// A signature this thread made, with everything it covers.
struct Made {
    key: ClusterKey,
    method: Box<str>,
    target: Box<str>,
    body: Box<[u8]>,
    unix_ms: u64,
    /// The header value sent, `<unix_ms>.<tag in lower-case hex>`.
    header: HeaderValue,
}

thread_local! {
    /// The latest signatures this thread made. In the simulator the receiving node runs on
    /// the sender's thread, and the three bids of one key carry one signature (made once,
    /// see [`signature_header`]), so nearly every check finds the signature it is asked
    /// about here: the header's tag is then compared with the one computed for exactly the
    /// same key and parts, as text, instead of being decoded and computed again.
    static MADE: std::cell::RefCell<Vec<Made>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// `f` of the signature this thread made for exactly these parts, if it is remembered.
fn find_made<R>(
    key: &ClusterKey,
    method: &str,
    target: &str,
    body: &[u8],
    unix_ms: u64,
    f: impl FnOnce(&Made) -> R,
) -> Option<R> {
    MADE.with(|made| {
        made.borrow()
            .iter()
            .find(|m| {
                m.unix_ms == unix_ms
                    && *m.target == *target
                    && *m.method == *method
                    && *m.body == *body
                    && m.key == *key
            })
            .map(f)
    })
}

/// The header value this thread made for exactly these parts, if it is remembered.
fn made_header(
    key: &ClusterKey,
    method: &str,
    target: &str,
    body: &[u8],
    unix_ms: u64,
) -> Option<HeaderValue> {
    find_made(key, method, target, body, unix_ms, |m| m.header.clone())
}

/// The header value for a request: `method`, `target` (path and query as sent), `body`.
/// The same parts signed again (a PAN asks every peer for a bid on one key at one instant,
/// and pushes one record to several peers) take the value this thread remembers.
pub fn signature_header(
    key: &ClusterKey,
    method: &str,
    target: &str,
    body: &[u8],
    unix_ms: u64,
) -> HeaderValue {
    if let Some(header) = made_header(key, method, target, body, unix_ms) {
        return header;
    }
    let tag = mac(key, method, target, body, unix_ms)
        .finalize()
        .into_bytes();
    let mut tag_hex = [0u8; 64];
    // 32 bytes always fill the 64 digits; were they not, the zeros would be refused.
    let _ = hex::encode_to_slice(tag, &mut tag_hex);
    // One allocation, no formatter: every node-to-node request is signed.
    let mut text = String::with_capacity(21 + tag_hex.len());
    text.push_str(itoa::Buffer::new().format(unix_ms));
    text.push('.');
    text.extend(tag_hex.iter().map(|&b| char::from(b)));
    // Digits, a dot and hex digits are always a valid value; an empty one, were it not,
    // would be refused as malformed by the receiver.
    let header = HeaderValue::try_from(text).unwrap_or_else(|_| HeaderValue::from_static(""));
    if body.len() > MADE_BODY_MAX {
        return header;
    }
    MADE.with(|made| {
        let mut made = made.borrow_mut();
        if made.len() >= MADE_MAX {
            made.remove(0);
        }
        made.push(Made {
            key: key.clone(),
            method: method.into(),
            target: target.into(),
            body: body.into(),
            unix_ms,
            header: header.clone(),
        });
    });
    header
}

/// [`signature_header`] as text.
pub fn sign(key: &ClusterKey, method: &str, target: &str, body: &[u8], unix_ms: u64) -> String {
    let header = signature_header(key, method, target, body, unix_ms);
    String::from_utf8_lossy(header.as_bytes()).into_owned()
}

/// Checks a request's signature header at `now_ms` (Unix milliseconds).
pub fn verify(
    key: &ClusterKey,
    method: &str,
    target: &str,
    body: &[u8],
    header: Option<&[u8]>,
    now_ms: u64,
) -> Result<(), PeerAuthError> {
    let header = header.ok_or(PeerAuthError::Missing)?;
    let text = std::str::from_utf8(header).map_err(|_| PeerAuthError::Malformed)?;
    let (time, tag_hex) = text.split_once('.').ok_or(PeerAuthError::Malformed)?;
    if time.is_empty() || time.len() > 20 || !time.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PeerAuthError::Malformed);
    }
    let unix_ms: u64 = time.parse().map_err(|_| PeerAuthError::Malformed)?;
    // In constant time, as `verify_slice` below compares: over TLS the remembered header
    // was never on the wire in the clear, and the time a comparison takes must not tell
    // how much of a guessed one is right.
    let remembered = made_header(key, method, target, body, unix_ms)
        .is_some_and(|made| ct_eq_by_words(made.as_bytes(), header));
    if !remembered {
        // Not made here, or written otherwise (upper-case digits, a zero before the time,
        // say): decoded and computed.
        let tag = decode_hex_32(tag_hex).ok_or(PeerAuthError::Malformed)?;
        mac(key, method, target, body, unix_ms)
            .verify_slice(&tag)
            .map_err(|_| PeerAuthError::Invalid)?;
    }
    let off_ms = now_ms.abs_diff(unix_ms);
    if off_ms > WINDOW_MS {
        return Err(PeerAuthError::Stale { off_ms });
    }
    Ok(())
}

/// `a == b` in time that depends only on the lengths, eight bytes at a time: `subtle`'s
/// comparison of byte slices puts an optimization barrier on every byte, and checking a
/// remembered signature's 85 bytes that way cost more than finding it.
fn ct_eq_by_words(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let word = |chunk: &[u8]| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        u64::from_le_bytes(bytes)
    };
    let (mut words_a, mut words_b) = (a.chunks_exact(8), b.chunks_exact(8));
    let mut equal = subtle::Choice::from(1);
    for (x, y) in (&mut words_a).zip(&mut words_b) {
        equal &= word(x).ct_eq(&word(y));
    }
    equal &= words_a.remainder().ct_eq(words_b.remainder());
    bool::from(equal)
}

/// The 32 bytes written as 64 hex digits (either case); `None` for anything else.
fn decode_hex_32(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

/// Unix milliseconds on the world's wall clock.
pub fn now_ms() -> u64 {
    crate::rt::wall_now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ClusterKey {
        ClusterKey::from_seed(7, "c")
    }

    #[test]
    fn signed_requests_verify_and_every_bound_part_matters() {
        let k = key();
        let sig = sign(&k, "PUT", "/_replisim/replica", b"body", 1_000_000);
        let (time, tag) = sig.split_once('.').expect("time.tag");
        assert_eq!(time, "1000000");
        assert_eq!(tag.len(), 64, "{sig}");
        assert!(tag
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        let ok = verify(
            &k,
            "PUT",
            "/_replisim/replica",
            b"body",
            Some(sig.as_bytes()),
            1_000_000,
        );
        assert_eq!(ok, Ok(()));
        let bad = |m: &str, t: &str, b: &[u8], k: &ClusterKey| {
            verify(k, m, t, b, Some(sig.as_bytes()), 1_000_000)
        };
        let invalid = Err(PeerAuthError::Invalid);
        assert_eq!(bad("GET", "/_replisim/replica", b"body", &k), invalid);
        assert_eq!(bad("PUT", "/_replisim/bid", b"body", &k), invalid);
        assert_eq!(bad("PUT", "/_replisim/replica", b"bodY", &k), invalid);
        assert_eq!(
            bad(
                "PUT",
                "/_replisim/replica",
                b"body",
                &ClusterKey::from_seed(8, "c")
            ),
            invalid
        );
    }

    #[test]
    fn the_word_comparison_agrees_with_plain_equality() {
        let base: Vec<u8> = (0..85u8).collect();
        for len in [0, 1, 7, 8, 9, 16, 85] {
            let a = &base[..len];
            assert!(ct_eq_by_words(a, a), "{len}");
            for at in 0..len {
                let mut b = a.to_vec();
                b[at] ^= 0x20;
                assert!(!ct_eq_by_words(a, &b), "{len} differing at {at}");
            }
            if len > 0 {
                assert!(!ct_eq_by_words(a, &a[..len - 1]), "{len} against a prefix");
            }
        }
    }

    #[test]
    fn a_remembered_signature_is_checked_as_a_computed_one() {
        let k = key();
        let (method, target, body, at) = ("PUT", "/_replisim/replica", b"body".as_slice(), 7_000);
        let sig = sign(&k, method, target, body, at);
        assert!(
            made_header(&k, method, target, body, at).is_some(),
            "remembered"
        );
        let check = |k: &ClusterKey, header: &str| {
            verify(k, method, target, body, Some(header.as_bytes()), at)
        };
        assert_eq!(check(&k, &sig), Ok(()));
        // Another tag for the same parts: refused through the memory, as through the MAC.
        let mut forged = sig.clone().into_bytes();
        let last = forged.len() - 1;
        forged[last] = if forged[last] == b'0' { b'1' } else { b'0' };
        let forged = String::from_utf8(forged).expect("hex");
        assert_eq!(check(&k, &forged), Err(PeerAuthError::Invalid));
        // The same parts under another key are not taken from the memory.
        assert_eq!(
            check(&ClusterKey::from_seed(8, "c"), &sig),
            Err(PeerAuthError::Invalid)
        );
        // A thread that never made the signature computes it, with the same verdicts.
        let (k2, sig2, forged2) = (k.clone(), sig.clone(), forged.clone());
        std::thread::spawn(move || {
            assert!(
                made_header(&k2, method, target, body, at).is_none(),
                "not made here"
            );
            let check = |h: &str| verify(&k2, method, target, body, Some(h.as_bytes()), at);
            assert_eq!(check(&sig2), Ok(()));
            assert_eq!(check(&forged2), Err(PeerAuthError::Invalid));
        })
        .join()
        .expect("the other thread's checks pass");
        // Only the latest signatures are kept; the rest are computed again.
        for i in 0..MADE_MAX as u64 {
            sign(&k, "GET", "/_replisim/bid", b"", 10_000 + i);
        }
        assert!(
            made_header(&k, method, target, body, at).is_none(),
            "pushed out"
        );
        assert_eq!(check(&k, &sig), Ok(()));
    }

    #[test]
    fn bodies_over_the_bound_are_signed_and_checked_without_the_memory() {
        let k = key();
        let target = "/_replisim/replica";
        let big = vec![b'x'; MADE_BODY_MAX + 1];
        let sig = sign(&k, "PUT", target, &big, 9_000);
        assert!(
            made_header(&k, "PUT", target, &big, 9_000).is_none(),
            "no copy of a large body is kept"
        );
        let check = |body: &[u8]| verify(&k, "PUT", target, body, Some(sig.as_bytes()), 9_000);
        assert_eq!(check(&big), Ok(()));
        let mut other = big.clone();
        other[0] = b'y';
        assert_eq!(check(&other), Err(PeerAuthError::Invalid));
        // At the bound the signature is remembered.
        let edge = vec![b'x'; MADE_BODY_MAX];
        sign(&k, "PUT", target, &edge, 9_001);
        assert!(made_header(&k, "PUT", target, &edge, 9_001).is_some());
    }

    #[test]
    fn keyed_states_kept_per_thread_never_mix_keys() {
        // More keys than the thread keeps keyed, each used twice: every signature must
        // still verify with its own key only, and match one made without the kept states.
        let keys: Vec<ClusterKey> = (0..KEYED_MAX as u64 + 3)
            .map(|i| ClusterKey::from_seed(i, "c"))
            .collect();
        for round in 0..2 {
            for (i, k) in keys.iter().enumerate() {
                let sig = sign(k, "GET", "/_replisim/bid", b"", 5_000);
                let mut fresh = <Hmac<Sha256> as Mac>::new_from_slice(k.as_bytes()).expect("key");
                let body_digest = Sha256::digest(b"");
                for part in [
                    b"replisim-peer-v1".as_slice(),
                    b"GET",
                    b"/_replisim/bid",
                    body_digest.as_slice(),
                    &5_000u64.to_be_bytes(),
                ] {
                    fresh.update(&(part.len() as u32).to_be_bytes());
                    fresh.update(part);
                }
                let expected = format!(
                    "5000.{}",
                    crate::scsp::object::hex(&fresh.finalize().into_bytes(), false)
                );
                assert_eq!(sig, expected, "key {i}, round {round}");
                let other = &keys[(i + 1) % keys.len()];
                let check =
                    |k| verify(k, "GET", "/_replisim/bid", b"", Some(sig.as_bytes()), 5_000);
                assert_eq!(check(k), Ok(()), "key {i}");
                assert_eq!(check(other), Err(PeerAuthError::Invalid), "key {i}");
            }
        }
    }

    #[test]
    fn missing_malformed_and_stale_signatures_are_refused() {
        let k = key();
        let v = |h: Option<&[u8]>, now| verify(&k, "GET", "/_replisim/bid", b"", h, now);
        assert_eq!(v(None, 0), Err(PeerAuthError::Missing));
        for junk in [&b""[..], b"1", b"x.00", b"1.zz", b"\xff.\xfe", b"-1.00"] {
            assert_eq!(v(Some(junk), 0), Err(PeerAuthError::Malformed), "{junk:?}");
        }
        for tag in [
            "0".repeat(63),
            "0".repeat(65),
            format!("{}g", "0".repeat(63)),
        ] {
            let junk = format!("1.{tag}");
            assert_eq!(
                v(Some(junk.as_bytes()), 0),
                Err(PeerAuthError::Malformed),
                "{junk}"
            );
        }
        let sig = sign(&k, "GET", "/_replisim/bid", b"", 10_000_000);
        // Hex digits are read in either case.
        let upper = sig.to_ascii_uppercase();
        assert_eq!(v(Some(upper.as_bytes()), 10_000_000), Ok(()));
        assert_eq!(v(Some(sig.as_bytes()), 10_000_000 + WINDOW_MS), Ok(()));
        assert_eq!(
            v(Some(sig.as_bytes()), 10_000_000 + WINDOW_MS + 1),
            Err(PeerAuthError::Stale {
                off_ms: WINDOW_MS + 1
            })
        );
        // Moving the time without the key breaks the MAC.
        let moved = sig.replacen("10000000", "10000001", 1);
        assert_eq!(
            v(Some(moved.as_bytes()), 10_000_000),
            Err(PeerAuthError::Invalid)
        );
    }
}
