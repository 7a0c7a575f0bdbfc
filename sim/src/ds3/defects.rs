//! Deliberate defects of the reference DS3 gateway: each makes it deviate from one BP rule
//! the way a plausible implementation could, so the `ds3` family's clauses (and the DS3
//! replication sweep) can be shown to catch them (conformance/src/mutants.rs). Off by
//! default; `GatewayConfig::defects` switches them on. Their names keep the `ds3-` prefix,
//! so one `--defect` flag can name a defect of any service.

defect_table! {
    service = "DS3";
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
    /// Breaks BP-18 and BP-15: Get Job Chunks Ready for a canceled job answers 409 (its
    /// contract set is 200, 403, 404, 410) and Replicate PUT Job answers 201, not 200.
    StatusOutsideContract = "ds3-status-outside-contract", "BP-18", "a status outside the contract's set";
    /// Breaks BP-1: the last blob of a bulk PUT is left out of the job.
    DropsLastBlob = "ds3-drops-last-blob", "BP-1", "a bulk PUT leaves out its last blob";
    /// Breaks BP-2: `max_upload_size` is ignored (one blob per object).
    MaxUploadIgnored = "ds3-max-upload-size-ignored", "BP-2", "max_upload_size is ignored";
    /// Breaks BP-3: Modify Job does not reset the idle timer.
    ModifyKeepsIdleTimer = "ds3-modify-keeps-idle-timer", "BP-3", "Modify Job does not reset the idle timer";
    /// Breaks BP-6: Allocate Job Chunk allocates chunks of aggregating jobs.
    AllocateAggregating = "ds3-allocate-aggregating", "BP-6", "aggregating jobs' chunks are allocated (200)";
    /// Breaks BP-9: `aggregating=true` never appends to an open job.
    AggregatingIgnored = "ds3-aggregating-ignored", "BP-9", "aggregating jobs are never appended to";
    /// Breaks BP-9: the 30-minute aggregation window never ends.
    AggregationWindowEndless = "ds3-aggregation-window-endless", "BP-9", "the aggregation window never ends";
    /// Breaks BP-10: a PUT job never reaches COMPLETED.
    JobNeverCompletes = "ds3-job-never-completes", "BP-10", "a PUT job never completes";
    /// Breaks BP-11: Cancel answers 204 and does nothing.
    CancelIgnored = "ds3-cancel-ignored", "BP-11", "cancel answers 204 and does nothing";
    /// Breaks BP-11: cancel with `force` keeps objects fully in cache.
    ForceKeepsCached = "ds3-force-keeps-cached", "BP-11", "force keeps cached objects";
    /// Breaks BP-12: truncate deletes objects fully received in cache.
    TruncateDropsReceived = "ds3-truncate-drops-received", "BP-12", "truncate drops received objects";
    /// Breaks BP-13: Modify Active Job answers 200 and changes nothing.
    ModifyIgnored = "ds3-modify-ignored", "BP-13", "Modify Active Job changes nothing";
    /// Breaks BP-14: Replicate PUT Job accepts the system priorities CRITICAL/BACKGROUND.
    ReplicateAnyPriority = "ds3-replicate-any-priority", "BP-14", "Replicate PUT Job accepts any priority";
    /// Breaks BP-15: a user without replication permission may replicate.
    ReplicateIgnoresPermission = "ds3-replicate-ignores-permission", "BP-15", "replication ignores the user's permission";
    /// Breaks BP-16: ended jobs are never forgotten.
    JobsKeptForever = "ds3-jobs-kept-forever", "BP-16", "ended jobs are kept forever";
    /// Breaks BP-17: a PUT with `job` but no `offset` is taken as offset 0.
    PutWithoutOffset = "ds3-put-without-offset-accepted", "BP-17", "a job PUT without offset is accepted";
    /// Breaks BP-19: GET chunks are offered while they are still loading.
    ReadyBeforeLoaded = "ds3-ready-before-loaded", "BP-19", "GET chunks are offered before they are in cache";
    /// Breaks BP-19: CachedSizeInBytes of a GET job drops as chunks are read.
    CachedDropsOnRead = "ds3-cached-drops-on-read", "BP-19", "a GET job's CachedSizeInBytes drops as it is read";
    /// Breaks BP-20: in a KEEP_LATEST bucket a re-put object leaves the old version listed
    /// beside the new one.
    KeepLatestKeepsBoth = "ds3-keep-latest-keeps-both", "BP-20", "KEEP_LATEST keeps the old version visible beside the new";
    /// Breaks BP-20: a KEEP_LATEST bucket refuses a bulk PUT of names it holds, as NONE does.
    KeepLatestRefusesReput = "ds3-keep-latest-refuses-reput", "BP-20", "KEEP_LATEST refuses to re-put a name";
    /// Breaks BP-20: a re-put object in a KEEP_LATEST bucket never replaces the old one.
    KeepLatestServesOld = "ds3-keep-latest-serves-old", "BP-20", "KEEP_LATEST keeps serving the old version";
    /// Breaks BP-7: a GET of a blob not yet in cache answers 307 instead of 503 with
    /// `Retry-After`; the load takes longer than the SDK's immediate retries, so it never
    /// clears for them.
    RedirectNeverClears = "ds3-307-never-clears", "BP-7", "a GET of a blob not in cache answers 307 until it is loaded";
    /// Breaks BP-7: Get Job Chunks Ready answers 307 where an empty list with `Retry-After`
    /// belongs (a 307 outside object GET).
    RedirectOnBulk = "ds3-307-on-bulk", "BP-7", "Get Job Chunks Ready answers 307 while nothing is ready";
    /// Breaks the replication invariant: received blobs are acknowledged but held only in
    /// the gateway's memory until their chunk persists, so a crash of the gateway loses
    /// them while its saved state still says received, and the job then reports
    /// COMPLETED over objects whose bytes are gone. Only a crash shows it, so only the
    /// fault sweep (`replisim sweep --world ds3`) catches it.
    CacheInMemory = "ds3-cache-in-memory", "INV-replication", "received blobs live in memory until persisted; a crash loses them yet the job completes";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_are_unique_and_break_bp_rules() {
        let mut seen = std::collections::BTreeSet::new();
        for &d in Defect::ALL {
            assert_eq!(d.name().parse::<Defect>(), Ok(d));
            assert!(seen.insert(d.name()), "{d} twice");
            assert!(d.name().starts_with("ds3-"), "{d}");
            assert!(
                d.name().parse::<crate::scsp::defects::Defect>().is_err(),
                "{d} is also an SCSP defect"
            );
            assert!(
                d.breaks().starts_with("BP-") || d.breaks().starts_with("INV-"),
                "{d} breaks {}",
                d.breaks()
            );
        }
        assert!("nope"
            .parse::<Defect>()
            .unwrap_err()
            .contains("ds3-no-retry-after"));
    }
}
