//! Which clauses each deliberate defect of the reference node must fail: the proof that
//! every checked clause has teeth. `replisim mutants` prints this table;
//! `conformance/tests/mutants.rs` runs the catalog with each defect and asserts that every
//! mapped clause fails, and that every checked clause is mapped by some defect.
//!
//! Keyed by defect name (`sim/src/scsp/defects.rs`), so that a new defect shows up as
//! unmapped rather than breaking the build.

/// Defect name → clause ids it must fail (in the reference profile). Defects that break a
/// fault invariant instead of a rule map to no clause; `replisim sweep` catches them.
pub const MUTANTS: &[(&str, &[&str])] = &[
    ("redirect-without-auth", &["SCSP-3.auth", "SCSP-4.auth"]),
    (
        "omit-content-uuid",
        &["SCSP-1.unnamed-location", "SCSP-35.part-uuid"],
    ),
    (
        "overstate-replica-count",
        &[
            "SCSP-8.count-at-most-asked",
            "SCSP-8.count-matches-disks",
            "SCSP-9.counts",
            "SCSP-10.present-above-one",
        ],
    ),
    ("temporary-instead-of-permanent", &["SCSP-3.retiring-301"]),
    (
        "ignore-if-none-match",
        &[
            "SCSP-12.if-none-match",
            "SCSP-12.refused-untouched",
            "SCSP-40.put-conditions",
        ],
    ),
    ("accept-single-replica-unnamed", &["SCSP-7.one-node-412"]),
    (
        "allow-put-on-immutable",
        &["SCSP-18.refused-403", "SCSP-18.unchanged"],
    ),
    (
        "accept-missing-content-length",
        &["SCSP-14.length-required"],
    ),
    ("put-creates-missing", &["SCSP-17.missing-404"]),
    (
        "ignore-replicate-argument",
        &[
            "SCSP-9.counts",
            "SCSP-10.one-or-absent",
            "SCSP-8.one-node-201",
            "SCSP-43.replicate-upper-case",
        ],
    ),
    ("content-type-of-object", &["SCSP-2.type"]),
    ("ack-before-sync", &[]),
    ("health-processor-off", &["SCSP-38.health-repairs"]),
    ("repair-from-corrupt-replica", &[]),
    (
        "accept-writes-on-full-disk",
        &["SCSP-15.full-507", "SCSP-15.no-ack-lost"],
    ),
    ("validate-ignored", &["SCSP-38.validate-truncates"]),
    (
        "copy-keeps-unlisted-headers",
        &["SCSP-22.replaces-metadata"],
    ),
    (
        "copy-drops-content-length",
        &["SCSP-22.keeps-content", "SCSP-28.new-name-reads"],
    ),
    (
        "preserve-ignored",
        &["SCSP-23.copy-preserve", "SCSP-23.put-preserve"],
    ),
    ("rename-keeps-old-name", &["SCSP-28.old-name-gone"]),
    (
        "append-replaces-content",
        &[
            "SCSP-29.concatenates",
            "SCSP-29.alias-keeps-uuid",
            "SCSP-36.append-current",
        ],
    ),
    ("composite-md5-kept-on-put", &["SCSP-30.removed-by-put"]),
    (
        "same-second-always-newer",
        &["SCSP-19.older-same-second", "SCSP-19.older-409"],
    ),
    (
        "never-conflict",
        &["SCSP-19.older-10s", "SCSP-19.older-409"],
    ),
    (
        "ignore-if-match",
        &["SCSP-40.if-match-412-etag", "SCSP-40.put-conditions"],
    ),
    ("ignore-if-modified-since", &["SCSP-41.unmodified-304"]),
    (
        "header-limits-unenforced",
        &[
            "SCSP-16.over-500-headers",
            "SCSP-16.header-over-16k",
            "SCSP-16.total-over-32k",
            "SCSP-16.exact-400",
        ],
    ),
    (
        "case-sensitive-query-arguments",
        &[
            "SCSP-43.alias-forms",
            "SCSP-43.replicate-upper-case",
            "SCSP-32.accepted-202",
            "SCSP-33.copy-by-part-202",
        ],
    ),
    ("trailer-missing", &["SCSP-32.trailer"]),
    (
        "trailer-contradicts-body",
        &[
            "SCSP-32.body-agrees",
            "SCSP-31.duplicate-fails",
            "SCSP-36.put-changed-fails",
        ],
    ),
    (
        "visible-before-completion",
        &["SCSP-31.invisible-before", "SCSP-36.put-failed-untouched"],
    ),
    (
        "location-without-name",
        &["SCSP-1.named-location", "SCSP-28.new-name-reads"],
    ),
    ("content-uuid-upper-case", &["SCSP-1.unnamed-location"]),
    ("redirect-with-body", &["SCSP-3.empty", "SCSP-4.empty"]),
    ("retiring-node-serves-writes", &["SCSP-3.retiring-301"]),
    (
        "token-for-wrong-node",
        &["SCSP-4.resend-accepted", "SCSP-5.early-body-redirect"],
    ),
    ("single-replica-unnamed-default", &["SCSP-7.healthy-201"]),
    (
        "replica-count-reports-policy",
        &[
            "SCSP-8.one-node-201",
            "SCSP-9.counts",
            "SCSP-10.one-or-absent",
        ],
    ),
    ("named-write-needs-two-replicas", &["SCSP-8.one-node-201"]),
    ("replicate-full-ignores-lifepoint", &["SCSP-9.counts"]),
    ("replicate-not-capped", &["SCSP-9.counts"]),
    ("replicate-immediate-means-full", &["SCSP-9.counts"]),
    (
        "omit-replica-count",
        &[
            "SCSP-10.present-above-one",
            "SCSP-8.count-matches-disks",
            "SCSP-7.healthy-201",
        ],
    ),
    (
        "named-overwrite-ignored",
        &["SCSP-12.new-version", "SCSP-19.spaced"],
    ),
    ("if-none-match-conflict", &["SCSP-12.if-none-match"]),
    ("missing-host-accepted", &["SCSP-14.host-required"]),
    ("length-required-as-400", &["SCSP-14.length-required"]),
    (
        "header-count-unlimited",
        &["SCSP-16.over-500-headers", "SCSP-16.exact-400"],
    ),
    (
        "header-size-unlimited",
        &["SCSP-16.header-over-16k", "SCSP-16.exact-400"],
    ),
    (
        "alias-put-new-uuid",
        &["SCSP-17.alias-keeps-uuid", "SCSP-26.alias-keeps-uuid"],
    ),
    (
        "allow-append-on-immutable",
        &["SCSP-18.refused-403", "SCSP-18.unchanged"],
    ),
    ("allow-copy-on-immutable", &["SCSP-18.refused-403"]),
    ("update-single-replica", &["SCSP-19.spaced"]),
    (
        "recreate-after-delete-conflict",
        &["SCSP-20.recreate-after-second"],
    ),
    ("copy-drops-expires", &["SCSP-22.preserve-list"]),
    ("put-preserve-ignored", &["SCSP-23.put-preserve"]),
    ("copy-body-accepted", &["SCSP-24.body-refused"]),
    (
        "content-md5-unchecked-on-write",
        &["SCSP-25.write-mismatch", "SCSP-25.status-400"],
    ),
    (
        "copy-content-md5-unchecked",
        &[
            "SCSP-25.copy-mismatch",
            "SCSP-25.status-400",
            "SCSP-26.failed-403",
        ],
    ),
    ("alias-copy-failure-400", &["SCSP-26.failed-403"]),
    (
        "missing-domain-404",
        &["SCSP-27.copy-409", "SCSP-27.put-409"],
    ),
    ("rename-ignored", &["SCSP-28.new-name-reads"]),
    (
        "append-with-separator",
        &[
            "SCSP-29.concatenates",
            "SCSP-29.alias-keeps-uuid",
            "SCSP-36.append-current",
        ],
    ),
    ("append-drops-metadata", &["SCSP-29.keeps-metadata"]),
    ("composite-md5-dropped-on-copy", &["SCSP-30.kept-by-copy"]),
    ("manifest-order-always", &["SCSP-31.ascending"]),
    ("duplicate-parts-accepted", &["SCSP-31.duplicate-fails"]),
    ("missing-part-skipped", &["SCSP-32.bad-fails"]),
    ("copy-part-synchronous", &["SCSP-33.copy-by-part-202"]),
    (
        "content-md5-on-initiate-accepted",
        &["SCSP-34.initiate-md5-400"],
    ),
    ("append-initiate-any-target", &["SCSP-34.append-needs-ec"]),
    ("part-without-content-uuid", &["SCSP-35.part-uuid"]),
    (
        "put-upload-ignores-target-change",
        &["SCSP-36.put-changed-fails"],
    ),
    (
        "append-upload-replaces-content",
        &["SCSP-36.append-current"],
    ),
    ("precondition-without-etag", &["SCSP-40.if-match-412-etag"]),
    ("if-none-match-get-412", &["SCSP-40.if-none-match-304"]),
    (
        "future-if-modified-since-honoured",
        &["SCSP-41.future-ignored"],
    ),
    ("if-modified-since-on-put", &["SCSP-41.put-ignores"]),
    ("boolean-true-not-recognised", &["SCSP-43.alias-forms"]),
    ("continue-before-redirect", &["SCSP-5.redirect-holds-body"]),
    (
        "write-into-missing-bucket",
        &[
            "SCSP-13.missing-bucket-412",
            "SCSP-13.refused-not-stored",
            "SCSP-13.missing-domain-412",
        ],
    ),
    (
        "context-delete-without-recursive",
        &["SCSP-21.needs-recursive", "SCSP-21.refusal-400"],
    ),
    (
        "recursive-delete-leaves-objects",
        &["SCSP-21.recursive-now-gone"],
    ),
    ("context-put-creates", &["SCSP-21.put-missing-404"]),
    (
        "range-end-exclusive",
        &["SCSP-37.closed-range", "SCSP-37.open-range"],
    ),
    (
        "range-out-of-bounds-200",
        &[
            "SCSP-37.out-of-bounds-416",
            "SCSP-37.unsatisfiable-content-range",
        ],
    ),
    ("suffix-range-from-start", &["SCSP-37.suffix-range"]),
    (
        "not-implemented-keeps-alive",
        &["SCSP-42.not-implemented-closes"],
    ),
    ("http10-accepted", &["SCSP-42.http10-505"]),
    ("found-instead-of-temporary", &["SCSP-3.only-301-307"]),
    (
        "permanent-for-lost-bids",
        &["SCSP-4.no-301-unless-retiring"],
    ),
    ("retiring-token-expired", &["SCSP-3.resend-accepted"]),
    ("retiring-redirects-to-itself", &["SCSP-3.no-bounce-back"]),
    (
        "redirected-write-drops-body",
        &["SCSP-4.readable", "SCSP-5.early-body-redirect"],
    ),
    ("metadata-limit-too-low", &["SCSP-16.within-limits"]),
    ("alias-put-not-repointed", &["SCSP-17.alias-reads-new"]),
    ("copy-md5-of-request-body", &["SCSP-25.copy-match"]),
    ("if-match-never-matches", &["SCSP-40.if-match-200"]),
    ("if-modified-since-any-date", &["SCSP-41.older-200"]),
    ("initiate-body-refused", &["SCSP-34.initiate-body-ignored"]),
    (
        "content-md5-on-complete-accepted",
        &["SCSP-34.complete-md5-400"],
    ),
    ("update-rate-limited", &["SCSP-19.fast-201-or-409"]),
    ("recreate-soon-lost", &["SCSP-20.recreate-soon-consistent"]),
    ("copy-body-refused-after-store", &["SCSP-24.unchanged"]),
    (
        "assembly-drops-last-part",
        &["SCSP-32.valid-succeeds", "SCSP-35.resent-part"],
    ),
    (
        "failed-completion-leaves-object",
        &["SCSP-31.failed-invisible", "SCSP-32.failed-invisible"],
    ),
    (
        "copy-part-copies-nothing",
        &["SCSP-33.copied-part-assembles"],
    ),
    ("created-length-of-object", &["SCSP-2.length"]),
    (
        "fast-update-stored-empty",
        &["SCSP-19.fast-reads-acknowledged"],
    ),
];

/// The DS3 gateway's defects (`sim/src/ds3/defects.rs`) → BP clause ids of the ds3 family
/// they must fail. A defect that breaks the replication invariant instead maps to no
/// clause; `replisim sweep --world ds3` catches it.
pub const DS3_MUTANTS: &[(&str, &[&str])] = &[
    ("ds3-cache-in-memory", &[]),
    ("ds3-new-ids-on-replicate", &["BP-14.same-ids"]),
    (
        "ds3-completed-counts-cached",
        &["BP-10.completed-only-when-persisted"],
    ),
    (
        "ds3-chunk-offered-before-allocation",
        &["BP-5.offered-put-accepted"],
    ),
    ("ds3-in-order-ignored", &["BP-8.ready-in-number-order"]),
    ("ds3-no-retry-after", &["BP-4.retry-after"]),
    ("ds3-job-never-expires", &["BP-3.expires-after-idle"]),
    (
        "ds3-cancel-keeps-partial",
        &["BP-11.partial-deleted", "BP-12.partial-deleted"],
    ),
    (
        "ds3-status-outside-contract",
        &["BP-18.statuses-in-contract", "BP-15.codes"],
    ),
    (
        "ds3-drops-last-blob",
        &["BP-1.created", "BP-1.covered-once"],
    ),
    ("ds3-max-upload-size-ignored", &["BP-2.blobs-within-max"]),
    ("ds3-modify-keeps-idle-timer", &["BP-3.modify-resets-idle"]),
    (
        "ds3-allocate-aggregating",
        &["BP-6.allocate-aggregating-404"],
    ),
    ("ds3-aggregating-ignored", &["BP-9.appended-same-id"]),
    ("ds3-aggregation-window-endless", &["BP-9.window-ends"]),
    ("ds3-job-never-completes", &["BP-10.completed"]),
    ("ds3-cancel-ignored", &["BP-11.canceled"]),
    (
        "ds3-force-keeps-cached",
        &["BP-11.cached-deleted-with-force"],
    ),
    ("ds3-truncate-drops-received", &["BP-12.keeps-received"]),
    ("ds3-modify-ignored", &["BP-13.applies"]),
    ("ds3-replicate-any-priority", &["BP-14.priority-limited"]),
    ("ds3-replicate-ignores-permission", &["BP-15.forbidden-403"]),
    ("ds3-jobs-kept-forever", &["BP-16.gone-after-retention"]),
    (
        "ds3-put-without-offset-accepted",
        &["BP-17.job-needs-offset"],
    ),
    ("ds3-ready-before-loaded", &["BP-19.ready-in-cache"]),
    (
        "ds3-cached-drops-on-read",
        &["BP-19.cached-never-decreases"],
    ),
    ("ds3-keep-latest-keeps-both", &["BP-20.one-visible"]),
    ("ds3-keep-latest-refuses-reput", &["BP-20.reput-accepted"]),
    ("ds3-keep-latest-serves-old", &["BP-20.latest-content"]),
    ("ds3-307-never-clears", &["BP-7.retry-gets-past"]),
    ("ds3-307-on-bulk", &["BP-7.only-object-requests"]),
];

/// Publisher defect name (`sim/src/publisher/defects.rs`) → ENUM clause ids it must fail.
pub const PUBLISHER_MUTANTS: &[(&str, &[&str])] = &[
    ("start-without-sync-token", &["ENUM-1.created"]),
    ("start-reuses-id", &["ENUM-1.fresh-id"]),
    ("start-bound-exclusive", &["ENUM-2.start-inclusive"]),
    ("end-bound-inclusive", &["ENUM-2.end-exclusive"]),
    ("date-only-end-of-day", &["ENUM-2.date-midnight"]),
    ("max-items-ignored", &["ENUM-3.at-most-max"]),
    (
        "metadata-without-content-uuid",
        &["ENUM-3.metadata-one-object"],
    ),
    ("alias-update-code-3", &["ENUM-4.codes"]),
    (
        "uuid-lists-deleted-immutables",
        &["ENUM-5.deleted-immutable-skipped"],
    ),
    ("uuid-alias-once", &["ENUM-5.alias-repeats"]),
    ("event-reports-every-event", &["ENUM-6.last-only"]),
    ("metadata-skips-deleted", &["ENUM-7.every-event"]),
    (
        "publisher-diffs-inventories",
        &["ENUM-7.every-event", "ENUM-5.alias-repeats"],
    ),
    // No HTTP clause writes contexts: sim/tests/publisher_journal.rs and the replication
    // world test (a recursive bucket delete reaching B) fail it.
    ("publisher-ignores-context-deletes", &[]),
    ("delete-filtered", &["ENUM-8.delete-on-every-channel"]),
    ("acked-on-send", &["ENUM-9.unacked-redelivered"]),
    (
        "redeliver-after-ack",
        &["ENUM-9.acked-not-redelivered", "ENUM-11.each-once"],
    ),
    ("dropped-resent", &["ENUM-10.dropped-not-resent"]),
    ("max-items-zero-ignored", &["ENUM-12.zero-pauses"]),
    ("pause-permanent", &["ENUM-12.resumes"]),
    ("expired-still-answers", &["ENUM-13.expired-404"]),
    ("timeout-from-start", &["ENUM-13.read-keeps-alive"]),
    ("end-answers-204", &["ENUM-14.deleted-200"]),
    ("end-keeps-enumerator", &["ENUM-14.next-404"]),
    (
        "rules-change-keeps-enumerators",
        &["ENUM-15.rules-change-404"],
    ),
    (
        "arguments-not-persisted",
        &["ENUM-16.max-items-persists", "ENUM-16.override-persists"],
    ),
];

/// The Rucio catalog's defects (`sim/src/rucio/defects.rs`) → clause ids of the rucio
/// family they must fail; `conformance/tests/mutants.rs` runs each against the reference
/// catalog served with that defect.
pub const RUCIO_MUTANTS: &[(&str, &[&str])] = &[
    ("rucio-post-answers-200", &["RUC-1.post-201"]),
    ("rucio-put-answers-body", &["RUC-1.put-200-empty"]),
    (
        "rucio-delete-allowed",
        &["RUC-1.delete-401", "RUC-15.permission-first"],
    ),
    (
        "rucio-error-class-header-missing",
        &["RUC-2.class-body-and-header"],
    ),
    ("rucio-message-header-uncut", &["RUC-2.message-header-cut"]),
    ("rucio-missing-token-401", &["RUC-2.missing-token-400"]),
    ("rucio-volatile-accepted", &["RUC-3.volatile-500"]),
    (
        "rucio-write-availability-ignored",
        &["RUC-3.write-unavailable-503"],
    ),
    ("rucio-nondet-pfn-optional", &["RUC-4.nondet-needs-pfn"]),
    ("rucio-pfn-not-verified", &["RUC-4.wrong-pfn-400"]),
    ("rucio-unknown-scope-accepted", &["RUC-5.unknown-scope-404"]),
    (
        "rucio-get-lists-nothing",
        &["RUC-5.did-created", "RUC-10.get-lists-unreadable"],
    ),
    ("rucio-readd-duplicate", &["RUC-6.readd-silent"]),
    ("rucio-default-state-copying", &["RUC-7.default-available"]),
    (
        "rucio-state-ignored",
        &[
            "RUC-7.state-honoured",
            "RUC-8.available-only",
            "RUC-9.hidden-file-one-item",
        ],
    ),
    ("rucio-all-states-ignored", &["RUC-8.all-states"]),
    (
        "rucio-unavailable-ignored",
        &["RUC-8.unavailable-adds-copying"],
    ),
    (
        "rucio-list-shows-unreadable",
        &["RUC-10.list-hides-unreadable"],
    ),
    (
        "rucio-ignore-availability-ignored",
        &["RUC-10.list-ignore-true"],
    ),
    (
        "rucio-priorities-zero-based",
        &["RUC-11.priorities-1-based"],
    ),
    ("rucio-every-protocol-listed", &["RUC-11.one-pfn-per-rse"]),
    ("rucio-accept-ignored", &["RUC-12.unsupported-406"]),
    ("rucio-stream-labelled-json", &["RUC-12.default-stream"]),
    ("rucio-metalink-ignored", &["RUC-12.metalink"]),
    (
        "rucio-put-unknown-accepted",
        &["RUC-13.unknown-replica-500"],
    ),
    ("rucio-tu-only-from-available", &["RUC-13.copying-to-tu"]),
    ("rucio-bad-stays-bad", &["RUC-14.bad-to-available"]),
    ("rucio-delete-unknown-rse-401", &["RUC-15.unknown-rse-404"]),
    ("rucio-delete-refused-403", &["RUC-16.nobody-401"]),
    ("rucio-refused-delete-removes", &["RUC-16.replica-remains"]),
    ("rucio-declare-bad-noop", &["RUC-17.declared-bad"]),
    ("rucio-redeclare-silent", &["RUC-17.already-declared"]),
    ("rucio-unknown-pfn-silent", &["RUC-17.unknown-replica"]),
    (
        "rucio-suspicious-refused",
        &["RUC-18.suspicious-keeps-state"],
    ),
    ("rucio-tu-expiry-optional", &["RUC-19.tu-needs-expiry"]),
    ("rucio-bad-expiry-accepted", &["RUC-19.bad-forbids-expiry"]),
    ("rucio-tu-unbounded", &["RUC-19.tu-at-most-30-days"]),
    ("rucio-tombstone-answers-200", &["RUC-21.tombstone-201"]),
    ("rucio-tombstone-ignores-locks", &["RUC-21.locked-423"]),
    ("rucio-tombstone-unknown-accepted", &["RUC-21.unknown-404"]),
    ("rucio-unknown-did-list-400", &["RUC-22.post-unknown-200"]),
    ("rucio-unknown-did-get-404", &["RUC-22.get-unknown-200"]),
    ("rucio-empty-list-404", &["RUC-23.empty-200"]),
    ("rucio-dids-answer-nothing", &["RUC-25.maps-pfn"]),
    ("rucio-dids-rse-optional", &["RUC-25.rse-required"]),
    (
        "rucio-necromancer-never-replicates",
        &["RUC-20.recovered", "RUC-20.bytes-restored"],
    ),
    ("rucio-necromancer-no-copy", &["RUC-20.bytes-restored"]),
    (
        "rucio-necromancer-loses-recoverable",
        &["RUC-20.recovered", "RUC-20.bytes-restored"],
    ),
    ("rucio-lost-still-listed", &["RUC-20.lost-unlisted"]),
    (
        "rucio-expiry-ignores-lifetime",
        &["RUC-24.not-before-expiry"],
    ),
    (
        "rucio-expiry-no-tombstone",
        &["RUC-24.obsolete-reaped", "RUC-24.lru-reaped"],
    ),
    ("rucio-expiry-lru-in-future", &["RUC-24.lru-reaped"]),
    ("rucio-expiry-drops-all-locks", &["RUC-24.locked-kept"]),
    (
        "rucio-reaper-future-tombstones",
        &["RUC-24.future-tombstone-kept"],
    ),
    (
        "rucio-reaper-keeps-bytes",
        &["RUC-24.lru-reaped", "RUC-24.obsolete-reaped"],
    ),
];

/// The Rucio defects that break a rule only the simulator can check (its control runs
/// the daemons), so `conformance/tests/mutants.rs` runs them in the simulator rather than
/// against a catalog served on loopback.
pub const RUCIO_DAEMON_RULES: &[&str] = &["RUC-20", "RUC-24"];

/// The clauses a defect must fail; `None` when the table does not list it.
pub fn clauses_of(defect: &str) -> Option<&'static [&'static str]> {
    MUTANTS
        .iter()
        .chain(PUBLISHER_MUTANTS)
        .chain(RUCIO_MUTANTS)
        .chain(DS3_MUTANTS)
        .find(|(name, _)| *name == defect)
        .map(|(_, clauses)| *clauses)
}

/// Every checked clause of the catalog: `(id, judged in the vendor profile)`.
pub fn checked_clauses() -> Vec<String> {
    crate::catalog::all()
        .iter()
        .filter(|r| r.is_checked())
        .flat_map(|r| r.clause_ids())
        .collect()
}

/// Checked clauses no defect is mapped to.
pub fn unmapped_clauses() -> Vec<String> {
    checked_clauses()
        .into_iter()
        .filter(|id| {
            !MUTANTS
                .iter()
                .chain(PUBLISHER_MUTANTS)
                .chain(RUCIO_MUTANTS)
                .chain(DS3_MUTANTS)
                .any(|(_, c)| c.contains(&id.as_str()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mapped_clause_exists_and_names_are_unique() {
        let all = checked_clauses();
        let mut names = std::collections::BTreeSet::new();
        for (name, clauses) in MUTANTS
            .iter()
            .chain(PUBLISHER_MUTANTS)
            .chain(RUCIO_MUTANTS)
            .chain(DS3_MUTANTS)
        {
            assert!(names.insert(*name), "{name} twice");
            for c in *clauses {
                assert!(all.iter().any(|a| a == c), "{name}: no clause {c}");
            }
        }
        assert_eq!(
            clauses_of("trailer-missing"),
            Some(&["SCSP-32.trailer"][..])
        );
        assert_eq!(clauses_of("nope"), None);
    }
}
