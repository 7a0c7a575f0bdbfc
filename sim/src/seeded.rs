//! Small deterministic randomness helpers: everything random in replisim derives from a seed.

/// One step of SplitMix64 (it lives in the runtime shim, which needs it for `random_u64`).
pub use replisim_rt::splitmix64;

/// A seeded SplitMix64 stream, for choices made outside node code (world layout, workloads).
#[derive(Debug, Clone)]
pub struct SeededRng {
    state: u64,
}

impl SeededRng {
    /// A stream that is a pure function of `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next value of the stream.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        splitmix64(self.state)
    }

    /// A value in `0..bound` (`bound` > 0); the tiny modulo bias is irrelevant here.
    pub fn below(&mut self, bound: u64) -> u64 {
        assert!(bound > 0, "below(0) has no values");
        self.next_u64() % bound
    }
}

/// A stable 64-bit FNV-1a hash: used where a value must not depend on the process (digests,
/// tie-breaks), unlike std's randomly keyed hasher.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    fnv1a_extend(FNV_OFFSET, bytes)
}

/// The FNV-1a state before any byte: [`fnv1a_extend`] from it over a text's parts in order
/// gives the [`fnv1a`] of the whole text.
pub const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// Continues an FNV-1a hash `h` over `bytes` (digests of texts fed in pieces).
pub fn fnv1a_extend(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_pure_functions_of_the_seed() {
        let a: Vec<u64> = {
            let mut r = SeededRng::new(7);
            (0..4).map(|_| r.next_u64()).collect()
        };
        let mut r = SeededRng::new(7);
        let b: Vec<u64> = (0..4).map(|_| r.next_u64()).collect();
        assert_eq!(a, b);
        assert_ne!(a[0], a[1]);
        assert_ne!(SeededRng::new(8).next_u64(), a[0]);
    }

    #[test]
    fn fnv_is_stable() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_ne!(fnv1a(b"a"), fnv1a(b"b"));
    }

    #[test]
    fn fnv_folded_in_pieces_equals_fnv_of_the_whole() {
        let whole = fnv1a(b"node1 up\nnode2 up\n");
        let pieces = [b"node1 up\n".as_slice(), b"node2", b" up\n"]
            .iter()
            .fold(FNV_OFFSET, |h, p| fnv1a_extend(h, p));
        assert_eq!(pieces, whole);
        assert_ne!(fnv1a_extend(FNV_OFFSET, b"node1 up\n"), whole);
    }
}
