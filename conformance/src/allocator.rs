//! The `replisim` binary's allocator settings (its global allocator is mimalloc; see
//! `main.rs`).
//!
//! mimalloc keeps freed memory for its purge delay (1,000 ms by default) before it returns
//! it to the system. A sweep frees a whole world every few milliseconds, so with the default
//! the pages of about a hundred finished seeds stayed resident, and a sweep's peak RSS grew
//! with its length: 20.8 MB at 100 seeds and 23.2 MB at 10,000 with 2 jobs; 13.3 MB for
//! one seed and 16.8 MB for 1,000 one at a time. At 100 ms most of that growth is gone
//! (BENCHMARKS.md, Figure 15) for about 1% more CPU in system time.

use libmimalloc_sys::{mi_option_get, mi_option_set_default, mi_option_t};

/// mimalloc's purge delay option. Its position in mimalloc's `mi_option_e` (v3,
/// `include/mimalloc.h`); `libmimalloc-sys` names no constant for it.
const PURGE_DELAY: mi_option_t = 15;

/// The purge delay `replisim` runs with, unless `MIMALLOC_PURGE_DELAY` sets another.
pub const PURGE_DELAY_MS: std::ffi::c_long = 100;

/// Applies the settings above; called first thing in `main`. An option given in the
/// environment is left as it is.
pub fn tune() {
    // SAFETY: sets one option to a valid value; mimalloc reads its options at each use, so
    // they may be changed while it runs. `set_default` leaves an option read from the
    // environment alone.
    unsafe { mi_option_set_default(PURGE_DELAY, PURGE_DELAY_MS) };
}

/// mimalloc's current purge delay in milliseconds.
pub fn purge_delay_ms() -> std::ffi::c_long {
    // SAFETY: reads one option by its valid index.
    unsafe { mi_option_get(PURGE_DELAY) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_is_the_option_set() {
        // mimalloc's own default for this option is 1,000 ms; no neighbouring option has it,
        // so this also checks that the index names the purge delay.
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(
                purge_delay_ms(),
                1000,
                "index {PURGE_DELAY} is not the purge delay"
            );
            tune();
            assert_eq!(purge_delay_ms(), PURGE_DELAY_MS);
        }
    }
}
