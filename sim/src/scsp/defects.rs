//! Named deliberate defects ("mutants") of the reference node. All are off by default; the
//! conformance tests switch each on and assert that the rule it breaks fails, which is how
//! the catalog proves it has teeth.

use std::fmt;
use std::str::FromStr;

/// One deliberate deviation from the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Defect {
    /// Breaks SCSP-3/SCSP-4: redirect `Location` carries no `auth=` token.
    RedirectWithoutAuth,
    /// Breaks SCSP-1: 201 for an unnamed object omits `Content-UUID`.
    OmitContentUuid,
    /// Breaks SCSP-8: `Replica-Count` claims one more replica than was made.
    OverstateReplicaCount,
    /// Breaks SCSP-3: a retiring node answers 307 where the policy says 301.
    TemporaryInsteadOfPermanent,
    /// Breaks SCSP-12: a named POST with `If-None-Match: *` overwrites an existing object.
    IgnoreIfNoneMatch,
    /// Breaks SCSP-7: an immutable write succeeds with a single replica.
    AcceptSingleReplicaUnnamed,
    /// Breaks SCSP-18: PUT on an immutable unnamed object is accepted as an update.
    AllowPutOnImmutable,
    /// Breaks SCSP-14: a WRITE without `Content-Length` is accepted.
    AcceptMissingContentLength,
    /// Breaks SCSP-17: PUT of a missing name creates it instead of answering 404.
    PutCreatesMissing,
    /// Breaks SCSP-9: `replicate=N` is ignored; writes always make two synchronous replicas.
    IgnoreReplicateArgument,
    /// Breaks SCSP-2: the 201's `Content-Type` describes the object, not the response body.
    ContentTypeOfObject,
    /// Breaks the durability invariant: writes are acknowledged before any replica is synced
    /// (disks sync only every few seconds), so a crash loses acknowledged data.
    AckBeforeSync,
    /// Breaks the convergence invariant (SCSP-11): the health processor never runs.
    HealthProcessorOff,
    /// Breaks the integrity invariant: the health processor never checks a replica before
    /// copying it, so rotten replicas survive and spread.
    RepairFromCorruptReplica,
    /// Breaks the durability invariant (SCSP-15): a node whose disk is full acknowledges a
    /// write it could not store.
    AcceptWritesOnFullDisk,
    /// Breaks SCSP-22: COPY keeps custom headers the request did not list.
    CopyKeepsUnlistedHeaders,
    /// Breaks SCSP-22: COPY takes the request's Content-Length of 0 and empties the object.
    CopyDropsContentLength,
    /// Breaks SCSP-23: `preserve` is ignored, so COPY drops the headers it should keep.
    PreserveIgnored,
    /// Breaks SCSP-28: `newname` writes the new name but the old one stays readable.
    RenameKeepsOldName,
    /// Breaks SCSP-29: APPEND replaces the content instead of adding to it.
    AppendReplacesContent,
    /// Breaks SCSP-30: PUT and APPEND keep Castor-System-CompositeMD5.
    CompositeMd5KeptOnPut,
    /// Breaks SCSP-19: an update stamped in the same second as the stored version is taken as newer even when it is older, answered 201 and then lost.
    SameSecondAlwaysNewer,
    /// Breaks SCSP-19: an update older than the stored version is answered 201 instead of 409, and lost.
    NeverConflict,
    /// Breaks SCSP-40: If-Match is ignored.
    IgnoreIfMatch,
    /// Breaks SCSP-41: If-Modified-Since is ignored.
    IgnoreIfModifiedSince,
    /// Breaks SCSP-16: metadata over 32 KB is accepted.
    HeaderLimitsUnenforced,
    /// Breaks SCSP-43: query argument names are matched case-sensitively.
    CaseSensitiveQueryArguments,
    /// Breaks SCSP-32: a 202 ends without the castor-system-result trailer.
    TrailerMissing,
    /// Breaks SCSP-32: a failed completion's trailer says 201 while the body says it failed.
    TrailerContradictsBody,
    /// Breaks SCSP-31: the first part becomes readable as the object before assembly completes.
    VisibleBeforeCompletion,
}

impl Defect {
    /// Every defect, in a stable order.
    pub const ALL: [Defect; 30] = [
        Defect::RedirectWithoutAuth,
        Defect::OmitContentUuid,
        Defect::OverstateReplicaCount,
        Defect::TemporaryInsteadOfPermanent,
        Defect::IgnoreIfNoneMatch,
        Defect::AcceptSingleReplicaUnnamed,
        Defect::AllowPutOnImmutable,
        Defect::AcceptMissingContentLength,
        Defect::PutCreatesMissing,
        Defect::IgnoreReplicateArgument,
        Defect::ContentTypeOfObject,
        Defect::AckBeforeSync,
        Defect::HealthProcessorOff,
        Defect::RepairFromCorruptReplica,
        Defect::AcceptWritesOnFullDisk,
        Defect::CopyKeepsUnlistedHeaders,
        Defect::CopyDropsContentLength,
        Defect::PreserveIgnored,
        Defect::RenameKeepsOldName,
        Defect::AppendReplacesContent,
        Defect::CompositeMd5KeptOnPut,
        Defect::SameSecondAlwaysNewer,
        Defect::NeverConflict,
        Defect::IgnoreIfMatch,
        Defect::IgnoreIfModifiedSince,
        Defect::HeaderLimitsUnenforced,
        Defect::CaseSensitiveQueryArguments,
        Defect::TrailerMissing,
        Defect::TrailerContradictsBody,
        Defect::VisibleBeforeCompletion,
    ];

    /// The kebab-case name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Defect::RedirectWithoutAuth => "redirect-without-auth",
            Defect::OmitContentUuid => "omit-content-uuid",
            Defect::OverstateReplicaCount => "overstate-replica-count",
            Defect::TemporaryInsteadOfPermanent => "temporary-instead-of-permanent",
            Defect::IgnoreIfNoneMatch => "ignore-if-none-match",
            Defect::AcceptSingleReplicaUnnamed => "accept-single-replica-unnamed",
            Defect::AllowPutOnImmutable => "allow-put-on-immutable",
            Defect::AcceptMissingContentLength => "accept-missing-content-length",
            Defect::PutCreatesMissing => "put-creates-missing",
            Defect::IgnoreReplicateArgument => "ignore-replicate-argument",
            Defect::ContentTypeOfObject => "content-type-of-object",
            Defect::AckBeforeSync => "ack-before-sync",
            Defect::HealthProcessorOff => "health-processor-off",
            Defect::RepairFromCorruptReplica => "repair-from-corrupt-replica",
            Defect::AcceptWritesOnFullDisk => "accept-writes-on-full-disk",
            Defect::CopyKeepsUnlistedHeaders => "copy-keeps-unlisted-headers",
            Defect::CopyDropsContentLength => "copy-drops-content-length",
            Defect::PreserveIgnored => "preserve-ignored",
            Defect::RenameKeepsOldName => "rename-keeps-old-name",
            Defect::AppendReplacesContent => "append-replaces-content",
            Defect::CompositeMd5KeptOnPut => "composite-md5-kept-on-put",
            Defect::SameSecondAlwaysNewer => "same-second-always-newer",
            Defect::NeverConflict => "never-conflict",
            Defect::IgnoreIfMatch => "ignore-if-match",
            Defect::IgnoreIfModifiedSince => "ignore-if-modified-since",
            Defect::HeaderLimitsUnenforced => "header-limits-unenforced",
            Defect::CaseSensitiveQueryArguments => "case-sensitive-query-arguments",
            Defect::TrailerMissing => "trailer-missing",
            Defect::TrailerContradictsBody => "trailer-contradicts-body",
            Defect::VisibleBeforeCompletion => "visible-before-completion",
        }
    }

    /// The rule id this defect is meant to break: the rule that must catch it.
    pub fn breaks(self) -> &'static str {
        match self {
            Defect::RedirectWithoutAuth => "SCSP-3",
            Defect::OmitContentUuid => "SCSP-1",
            Defect::OverstateReplicaCount => "SCSP-8",
            Defect::TemporaryInsteadOfPermanent => "SCSP-3",
            Defect::IgnoreIfNoneMatch => "SCSP-12",
            Defect::AcceptSingleReplicaUnnamed => "SCSP-7",
            Defect::AllowPutOnImmutable => "SCSP-18",
            Defect::AcceptMissingContentLength => "SCSP-14",
            Defect::PutCreatesMissing => "SCSP-17",
            Defect::IgnoreReplicateArgument => "SCSP-9",
            Defect::ContentTypeOfObject => "SCSP-2",
            Defect::AckBeforeSync => "INV-durability",
            Defect::HealthProcessorOff => "INV-convergence",
            Defect::RepairFromCorruptReplica => "INV-integrity",
            Defect::AcceptWritesOnFullDisk => "INV-durability",
            Defect::CopyKeepsUnlistedHeaders => "SCSP-22",
            Defect::CopyDropsContentLength => "SCSP-22",
            Defect::PreserveIgnored => "SCSP-23",
            Defect::RenameKeepsOldName => "SCSP-28",
            Defect::AppendReplacesContent => "SCSP-29",
            Defect::CompositeMd5KeptOnPut => "SCSP-30",
            Defect::SameSecondAlwaysNewer => "SCSP-19",
            Defect::NeverConflict => "SCSP-19",
            Defect::IgnoreIfMatch => "SCSP-40",
            Defect::IgnoreIfModifiedSince => "SCSP-41",
            Defect::HeaderLimitsUnenforced => "SCSP-16",
            Defect::CaseSensitiveQueryArguments => "SCSP-43",
            Defect::TrailerMissing => "SCSP-32",
            Defect::TrailerContradictsBody => "SCSP-32",
            Defect::VisibleBeforeCompletion => "SCSP-31",
        }
    }

    /// One line on what the defect does, for `replisim mutants`.
    pub fn summary(self) -> &'static str {
        match self {
            Defect::RedirectWithoutAuth => "redirect Location carries no auth= token",
            Defect::OmitContentUuid => "201 for an unnamed object omits Content-UUID",
            Defect::OverstateReplicaCount => "Replica-Count claims one more replica than made",
            Defect::TemporaryInsteadOfPermanent => "a retiring node sends 307 instead of 301",
            Defect::IgnoreIfNoneMatch => "If-None-Match: * does not stop an overwrite",
            Defect::AcceptSingleReplicaUnnamed => "immutable write succeeds with one replica",
            Defect::AllowPutOnImmutable => "PUT on an immutable object is accepted",
            Defect::AcceptMissingContentLength => "WRITE without Content-Length is accepted",
            Defect::PutCreatesMissing => "PUT of a missing name creates it",
            Defect::IgnoreReplicateArgument => "replicate=N is ignored",
            Defect::AckBeforeSync => "writes are acknowledged before any replica is synced",
            Defect::HealthProcessorOff => "the health processor never runs",
            Defect::RepairFromCorruptReplica => "repairs copy replicas without checking them",
            Defect::AcceptWritesOnFullDisk => "a full node acknowledges writes it did not store",
            Defect::CopyKeepsUnlistedHeaders => "COPY keeps headers the request did not list",
            Defect::CopyDropsContentLength => "COPY empties the content (Content-Length 0)",
            Defect::PreserveIgnored => "COPY and PUT ignore preserve",
            Defect::RenameKeepsOldName => "newname leaves the old name readable",
            Defect::AppendReplacesContent => "APPEND replaces instead of appending",
            Defect::CompositeMd5KeptOnPut => "PUT keeps Castor-System-CompositeMD5",
            Defect::SameSecondAlwaysNewer => "same-second update always taken as newer",
            Defect::NeverConflict => "409 never sent for an older version",
            Defect::IgnoreIfMatch => "If-Match is ignored",
            Defect::IgnoreIfModifiedSince => "If-Modified-Since is ignored",
            Defect::HeaderLimitsUnenforced => "metadata size limits are not enforced",
            Defect::CaseSensitiveQueryArguments => "query argument names are case-sensitive",
            Defect::TrailerMissing => "202 without castor-system-result trailer",
            Defect::TrailerContradictsBody => "trailer says success, body says failure",
            Defect::VisibleBeforeCompletion => "assembled object visible before completion",
            Defect::ContentTypeOfObject => {
                "201 Content-Type gives the object's type, not the body's"
            }
        }
    }
}

impl fmt::Display for Defect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Defect {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Defect::ALL
            .into_iter()
            .find(|d| d.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Defect::ALL.iter().map(|d| d.name()).collect();
                format!("unknown defect `{s}`; known: {}", names.join(", "))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for d in Defect::ALL {
            assert_eq!(d.name().parse::<Defect>(), Ok(d));
            assert!(seen.insert(d.name()));
            assert!(d.breaks().starts_with("SCSP-") || d.breaks().starts_with("INV-"));
        }
        assert!("nope".parse::<Defect>().unwrap_err().contains("known:"));
    }
}
