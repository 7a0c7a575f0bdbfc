//! UUID-shaped ids for jobs, chunks, objects and blobs, drawn from the seed: a run replays
//! to the same ids, and two systems seeded differently never share one by chance (so a
//! target that keeps the source's ids did so on purpose).

/// A version-4-shaped UUID from 128 bits.
pub fn uuid_from(hi: u64, lo: u64) -> String {
    let hi = (hi & 0xffff_ffff_ffff_0fff) | 0x4000;
    let lo = (lo & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    )
}

/// True for a well-formed UUID (8-4-4-4-12 hex digits).
pub fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The id of draw number `n` of a system seeded with `seed`.
pub fn nth(seed: u64, n: u64) -> String {
    let a = crate::rt::splitmix64(seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let b = crate::rt::splitmix64(a ^ 0x5851_f42d_4c95_7f2d);
    uuid_from(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_uuids_distinct_and_replayable() {
        let a: Vec<String> = (0..100).map(|n| nth(7, n)).collect();
        assert!(a.iter().all(|s| is_uuid(s)), "{a:?}");
        let unique: std::collections::BTreeSet<&String> = a.iter().collect();
        assert_eq!(unique.len(), 100);
        assert_eq!(nth(7, 3), a[3]);
        assert_ne!(nth(8, 3), a[3]);
        assert!(!is_uuid("not-a-uuid"));
    }
}
