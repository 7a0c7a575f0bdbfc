//! The cluster key: the one secret every node of a cluster shares. It keys the `auth=`
//! tokens of redirects (`auth`) and the signatures of node-to-node requests (`peer_auth`).
//!
//! It is never a constant: the simulator derives it from the world's seed and the cluster's
//! name (so a seed replays to the same tokens and trace), `replisim serve` draws it from the
//! operating system or reads it from `--secret-file`. Its `Debug` form is redacted, so a
//! logged `ClusterConfig` never shows it.

use std::sync::Arc;

/// Bytes drawn for a fresh key (256 bits, the HMAC-SHA256 block's natural key size).
pub const KEY_BYTES: usize = 32;

/// Shortest key accepted from a file: below 128 bits a key can be guessed.
pub const FILE_KEY_BYTES_MIN: usize = 16;

/// The shared secret of one cluster.
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterKey(Arc<[u8]>);

impl std::fmt::Debug for ClusterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClusterKey(<{} bytes, redacted>)", self.0.len())
    }
}

impl ClusterKey {
    /// A key from bytes the caller drew (the OS source in `serve`).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self(Arc::from(bytes))
    }

    /// The simulator's key: a SplitMix64 stream seeded by the world seed mixed with the
    /// cluster name, so two clusters of one world have different keys and a seed always
    /// gives the same key. It does not draw from the simulation's RNG, so adding it left
    /// every other seeded choice (UUIDs, nemesis schedules) where it was.
    pub fn from_seed(seed: u64, cluster: &str) -> Self {
        // FNV-1a of the name: any stable mixing will do, it only separates clusters.
        let name = cluster.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let mut state = crate::rt::splitmix64(seed ^ name.rotate_left(17));
        let mut out = Vec::with_capacity(KEY_BYTES);
        while out.len() < KEY_BYTES {
            state = crate::rt::splitmix64(state);
            out.extend_from_slice(&state.to_le_bytes());
        }
        Self::from_bytes(&out)
    }

    /// A key read from a file's contents (`serve --secret-file`): the bytes as they are,
    /// without a trailing newline. Refuses keys shorter than [`FILE_KEY_BYTES_MIN`].
    pub fn from_file_contents(contents: &[u8]) -> Result<Self, String> {
        let trimmed = contents
            .strip_suffix(b"\n")
            .map(|c| c.strip_suffix(b"\r").unwrap_or(c))
            .unwrap_or(contents);
        if trimmed.len() < FILE_KEY_BYTES_MIN {
            return Err(format!(
                "the secret is {} bytes; at least {FILE_KEY_BYTES_MIN} are needed",
                trimmed.len()
            ));
        }
        Ok(Self::from_bytes(trimmed))
    }

    /// The key bytes, for the MACs.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// The first characters of a token or signature followed by `…`: enough to tell two apart
/// in a log, too few to replay. Every trace line and log that mentions one goes through here.
pub fn truncated(token: &str) -> String {
    let shown: String = token.chars().take(6).collect();
    if shown.len() < token.len() {
        format!("{shown}…")
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_keys_differ_per_seed_and_cluster_and_replay() {
        let a = ClusterKey::from_seed(1, "c0");
        assert_eq!(a, ClusterKey::from_seed(1, "c0"));
        assert_ne!(a, ClusterKey::from_seed(2, "c0"));
        assert_ne!(a, ClusterKey::from_seed(1, "c1"));
        assert_eq!(a.as_bytes().len(), KEY_BYTES);
    }

    #[test]
    fn debug_never_shows_the_key() {
        let key = ClusterKey::from_bytes(b"very-secret-bytes-here");
        let shown = format!("{key:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn file_keys_are_trimmed_and_must_be_long_enough() {
        let key = ClusterKey::from_file_contents(b"0123456789abcdef0123\n").expect("key");
        assert_eq!(key.as_bytes(), b"0123456789abcdef0123");
        let short = ClusterKey::from_file_contents(b"short\n").unwrap_err();
        assert!(short.contains("5 bytes"), "{short}");
    }

    #[test]
    fn tokens_are_truncated() {
        assert_eq!(truncated("0123456789ABCDEF"), "012345…");
        assert_eq!(truncated("abc"), "abc");
    }
}
