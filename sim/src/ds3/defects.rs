//! Deliberate deviations of the reference gateway, one per way a DS3 implementation can go
//! wrong that the `ds3` family must catch (conformance/src/mutants.rs maps each to the
//! clauses it fails). All off by default.

use std::fmt;
use std::str::FromStr;

macro_rules! ds3_defects {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, $rule:literal, $summary:literal; )+) => {
        /// One deliberate deviation of the DS3 gateway.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Ds3Defect {
            $( $(#[$doc])* $variant, )+
        }

        impl Ds3Defect {
            /// Every defect, in a stable order.
            pub const ALL: &'static [Ds3Defect] = &[$(Ds3Defect::$variant),+];

            /// The kebab-case name used on the command line.
            pub fn name(self) -> &'static str {
                match self { $(Ds3Defect::$variant => $name),+ }
            }

            /// The rule id that must catch it.
            pub fn breaks(self) -> &'static str {
                match self { $(Ds3Defect::$variant => $rule),+ }
            }

            /// One line on what it does.
            pub fn summary(self) -> &'static str {
                match self { $(Ds3Defect::$variant => $summary),+ }
            }
        }
    };
}

ds3_defects! {
    /// Breaks BP-14: Replicate PUT Job makes new job, chunk and blob ids on the target.
    NewIdsOnReplicate = "ds3-new-ids-on-replicate", "BP-14", "Replicate PUT Job gives the target job new ids";
    /// Breaks BP-10: CompletedSizeInBytes counts bytes in cache, not bytes persisted.
    CompletedCountsCached = "ds3-completed-counts-cached", "BP-10", "CompletedSizeInBytes counts cached bytes";
    /// Breaks BP-5: Get Job Chunks Ready offers PUT chunks without reserving cache for them.
    ChunkOfferedBeforeAllocation = "ds3-chunk-offered-before-allocation", "BP-5", "a chunk is offered before it is allocated";
    /// Breaks BP-8: IN_ORDER GET jobs load chunks in tape order like NONE.
    InOrderIgnored = "ds3-in-order-ignored", "BP-8", "IN_ORDER is ignored";
    /// Breaks BP-4: an empty ready list carries no Retry-After.
    NoRetryAfter = "ds3-no-retry-after", "BP-4", "an empty chunk list has no Retry-After";
    /// Breaks BP-3: idle jobs never expire.
    JobNeverExpires = "ds3-job-never-expires", "BP-3", "a job never expires";
    /// Breaks BP-11: cancel keeps partially received objects (readable, short).
    CancelKeepsPartial = "ds3-cancel-keeps-partial", "BP-11", "cancel keeps partial objects";
    /// Breaks BP-18: Get Job Chunks Ready for a canceled job answers 409, outside its
    /// contract set (200, 403, 404, 410).
    StatusOutsideContract = "ds3-status-outside-contract", "BP-18", "a status outside the contract's set";
}

impl fmt::Display for Ds3Defect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Ds3Defect {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ds3Defect::ALL
            .iter()
            .copied()
            .find(|d| d.name() == s.trim())
            .ok_or_else(|| format!("unknown DS3 defect `{s}`"))
    }
}
