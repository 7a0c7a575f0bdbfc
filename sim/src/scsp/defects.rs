//! Named deliberate defects ("mutants") of the reference node. All are off by default; the
//! conformance tests switch each on and assert that the rule it breaks fails, which is how
//! the catalog proves it has teeth. Each breaks one documented behaviour that a check or a
//! scenario observes over HTTP (or, for `INV-` ones, a fault invariant a sweep judges).

defect_table! {
    service = "SCSP";
    /// Breaks SCSP-3/SCSP-4: redirect `Location` carries no `auth=` token.
    RedirectWithoutAuth = "redirect-without-auth", "SCSP-3", "redirect Location carries no auth= token";
    /// Breaks SCSP-1: 201 for an unnamed object omits `Content-UUID`.
    OmitContentUuid = "omit-content-uuid", "SCSP-1", "201 for an unnamed object omits Content-UUID";
    /// Breaks SCSP-8: `Replica-Count` claims one more replica than was made.
    OverstateReplicaCount = "overstate-replica-count", "SCSP-8", "Replica-Count claims one more replica than made";
    /// Breaks SCSP-3: a retiring node answers 307 where the policy says 301.
    TemporaryInsteadOfPermanent = "temporary-instead-of-permanent", "SCSP-3", "a retiring node sends 307 instead of 301";
    /// Breaks SCSP-12: a named POST with `If-None-Match: *` overwrites an existing object.
    IgnoreIfNoneMatch = "ignore-if-none-match", "SCSP-12", "If-None-Match: * does not stop an overwrite";
    /// Breaks SCSP-7: an immutable write succeeds with a single replica.
    AcceptSingleReplicaUnnamed = "accept-single-replica-unnamed", "SCSP-7", "immutable write succeeds with one replica";
    /// Breaks SCSP-18: PUT on an immutable unnamed object is accepted as an update.
    AllowPutOnImmutable = "allow-put-on-immutable", "SCSP-18", "PUT on an immutable object is accepted";
    /// Breaks SCSP-14: a WRITE without `Content-Length` is accepted.
    AcceptMissingContentLength = "accept-missing-content-length", "SCSP-14", "WRITE without Content-Length is accepted";
    /// Breaks SCSP-17: PUT of a missing name creates it instead of answering 404.
    PutCreatesMissing = "put-creates-missing", "SCSP-17", "PUT of a missing name creates it";
    /// Breaks SCSP-9: `replicate=N` is ignored; writes always make two synchronous replicas.
    IgnoreReplicateArgument = "ignore-replicate-argument", "SCSP-9", "replicate=N is ignored";
    /// Breaks SCSP-2: the 201's `Content-Type` describes the object, not the response body.
    ContentTypeOfObject = "content-type-of-object", "SCSP-2", "201 Content-Type gives the object's type, not the body's";
    /// Breaks the durability invariant: writes are acknowledged before any replica is synced
    /// (disks sync only every few seconds), so a crash loses acknowledged data.
    AckBeforeSync = "ack-before-sync", "INV-durability", "writes are acknowledged before any replica is synced";
    /// Breaks the convergence invariant (SCSP-11): the health processor never runs.
    HealthProcessorOff = "health-processor-off", "INV-convergence", "the health processor never runs";
    /// Breaks the integrity invariant: the health processor never checks a replica before
    /// copying it, so rotten replicas survive and spread.
    RepairFromCorruptReplica = "repair-from-corrupt-replica", "INV-integrity", "repairs copy replicas without checking them";
    /// Breaks the durability invariant (SCSP-15): a node whose disk is full acknowledges a
    /// write it could not store.
    AcceptWritesOnFullDisk = "accept-writes-on-full-disk", "INV-durability", "a full node acknowledges writes it did not store";
    /// Breaks SCSP-38: `validate=yes` is ignored, so a corrupt replica is served whole.
    ValidateIgnored = "validate-ignored", "SCSP-38", "GET ?validate=yes serves a corrupt replica whole";
    /// Breaks SCSP-22: COPY keeps custom headers the request did not list.
    CopyKeepsUnlistedHeaders = "copy-keeps-unlisted-headers", "SCSP-22", "COPY keeps headers the request did not list";
    /// Breaks SCSP-22: COPY takes the request's Content-Length of 0 and empties the object.
    CopyDropsContentLength = "copy-drops-content-length", "SCSP-22", "COPY empties the content (Content-Length 0)";
    /// Breaks SCSP-23: `preserve` is ignored, so COPY drops the headers it should keep.
    PreserveIgnored = "preserve-ignored", "SCSP-23", "COPY and PUT ignore preserve";
    /// Breaks SCSP-28: `newname` writes the new name but the old one stays readable.
    RenameKeepsOldName = "rename-keeps-old-name", "SCSP-28", "newname leaves the old name readable";
    /// Breaks SCSP-29: APPEND replaces the content instead of adding to it.
    AppendReplacesContent = "append-replaces-content", "SCSP-29", "APPEND replaces instead of appending";
    /// Breaks SCSP-30: PUT and APPEND keep Castor-System-CompositeMD5.
    CompositeMd5KeptOnPut = "composite-md5-kept-on-put", "SCSP-30", "PUT keeps Castor-System-CompositeMD5";
    /// Breaks SCSP-19: an update stamped in the same second as the stored version is taken as
    /// newer even when it is older, answered 201 and then lost.
    SameSecondAlwaysNewer = "same-second-always-newer", "SCSP-19", "same-second update always taken as newer";
    /// Breaks SCSP-19: an update older than the stored version is answered 201 instead of 409,
    /// and lost.
    NeverConflict = "never-conflict", "SCSP-19", "409 never sent for an older version";
    /// Breaks SCSP-40: If-Match is ignored.
    IgnoreIfMatch = "ignore-if-match", "SCSP-40", "If-Match is ignored";
    /// Breaks SCSP-41: If-Modified-Since is ignored.
    IgnoreIfModifiedSince = "ignore-if-modified-since", "SCSP-41", "If-Modified-Since is ignored";
    /// Breaks SCSP-16: metadata over 32 KB is accepted.
    HeaderLimitsUnenforced = "header-limits-unenforced", "SCSP-16", "metadata size limits are not enforced";
    /// Breaks SCSP-43: query argument names are matched case-sensitively.
    CaseSensitiveQueryArguments = "case-sensitive-query-arguments", "SCSP-43", "query argument names are case-sensitive";
    /// Breaks SCSP-32: a 202 ends without the castor-system-result trailer.
    TrailerMissing = "trailer-missing", "SCSP-32", "202 without castor-system-result trailer";
    /// Breaks SCSP-32: a failed completion's trailer says 201 while the body says it failed.
    TrailerContradictsBody = "trailer-contradicts-body", "SCSP-32", "trailer says success, body says failure";
    /// Breaks SCSP-31: the first part becomes readable as the object before assembly completes.
    VisibleBeforeCompletion = "visible-before-completion", "SCSP-31", "assembled object visible before completion";
    /// Breaks SCSP-1: a named WRITE's 201 Location ends in the bucket instead of the object
    /// name.
    LocationWithoutName = "location-without-name", "SCSP-1", "named 201 Location names the bucket, not the object";
    /// Breaks SCSP-1: the 201's Content-UUID is sent in upper case, so it no longer equals the
    /// Location's last segment.
    ContentUuidUpperCase = "content-uuid-upper-case", "SCSP-1", "Content-UUID in upper case, unlike the Location";
    /// Breaks SCSP-3/SCSP-4: 301 and 307 carry a short HTML body, so Content-Length is not 0.
    RedirectWithBody = "redirect-with-body", "SCSP-4", "redirects carry an HTML body and its length";
    /// Breaks SCSP-3: a retiring node serves writes it wins instead of sending clients away
    /// with 301.
    RetiringNodeServesWrites = "retiring-node-serves-writes", "SCSP-3", "a retiring node keeps serving writes itself";
    /// Breaks SCSP-3/SCSP-4: the redirect's auth= token is issued for the redirecting node, so
    /// the resend to the Location is refused (403).
    TokenForWrongNode = "token-for-wrong-node", "SCSP-4", "auth= tokens are bound to the redirecting node";
    /// Breaks SCSP-7: an immutable WRITE without `replicate` makes a single synchronous replica
    /// and still answers 201.
    SingleReplicaUnnamedDefault = "single-replica-unnamed-default", "SCSP-7", "unnamed writes without replicate make one replica";
    /// Breaks SCSP-8: Replica-Count states the policy replica count instead of the replicas
    /// actually made.
    ReplicaCountReportsPolicy = "replica-count-reports-policy", "SCSP-8", "Replica-Count reports the policy count, not what was made";
    /// Breaks SCSP-8: a named WRITE needs two replicas like an immutable one, so with one node
    /// alive it is 412.
    NamedWriteNeedsTwoReplicas = "named-write-needs-two-replicas", "SCSP-8", "a named write with one node alive is 412";
    /// Breaks SCSP-9: `replicate=full` makes the cluster policy's count of replicas, ignoring
    /// the lifepoint's `reps=`.
    ReplicateFullIgnoresLifepoint = "replicate-full-ignores-lifepoint", "SCSP-9", "replicate=full uses the cluster policy, not the lifepoint";
    /// Breaks SCSP-9: `replicate=N` makes N synchronous replicas even above the lifepoint or
    /// policy count.
    ReplicateNotCapped = "replicate-not-capped", "SCSP-9", "replicate=N is not capped by the lifepoint or policy";
    /// Breaks SCSP-9: `replicate=immediate` is read as `full` instead of two replicas.
    ReplicateImmediateMeansFull = "replicate-immediate-means-full", "SCSP-9", "replicate=immediate makes every policy replica";
    /// Breaks SCSP-10: Replica-Count is never sent, not even when two or more replicas were
    /// made.
    OmitReplicaCount = "omit-replica-count", "SCSP-10", "Replica-Count is never sent";
    /// Breaks SCSP-12: a WRITE to an existing name answers 201 but stores nothing, so the old
    /// version stays.
    NamedOverwriteIgnored = "named-overwrite-ignored", "SCSP-12", "POST to an existing name answers 201 but keeps the old version";
    /// Breaks SCSP-12: a WRITE with `If-None-Match: *` on an existing name is refused with 409
    /// instead of 412.
    IfNoneMatchConflict = "if-none-match-conflict", "SCSP-12", "If-None-Match: * on an existing name is 409, not 412";
    /// Breaks SCSP-14: a request without a Host header is served instead of refused with 400.
    MissingHostAccepted = "missing-host-accepted", "SCSP-14", "requests without Host are served";
    /// Breaks SCSP-14: a WRITE without Content-Length is refused with 400 instead of 411.
    LengthRequiredAs400 = "length-required-as-400", "SCSP-14", "WRITE without Content-Length is 400, not 411";
    /// Breaks SCSP-16: the limit of 500 metadata headers is not enforced (the size limits still
    /// are).
    HeaderCountUnlimited = "header-count-unlimited", "SCSP-16", "more than 500 metadata headers are accepted";
    /// Breaks SCSP-16: the 16 KB limit of a single metadata header is not enforced (the count
    /// and total limits still are).
    HeaderSizeUnlimited = "header-size-unlimited", "SCSP-16", "one metadata header over 16 KB is accepted";
    /// Breaks SCSP-17: PUT on an alias object answers a Location with a fresh UUID instead of
    /// the alias's own.
    AliasPutNewUuid = "alias-put-new-uuid", "SCSP-17", "PUT on an alias answers the new content object's UUID";
    /// Breaks SCSP-18: APPEND on an immutable unnamed object is accepted instead of refused
    /// with 403.
    AllowAppendOnImmutable = "allow-append-on-immutable", "SCSP-18", "APPEND on an immutable object is accepted";
    /// Breaks SCSP-18: COPY on an immutable unnamed object is accepted instead of refused with
    /// 403.
    AllowCopyOnImmutable = "allow-copy-on-immutable", "SCSP-18", "COPY on an immutable object is accepted";
    /// Breaks SCSP-19: an update of an existing name makes one synchronous replica even with
    /// `replicate=immediate`, so only one node has the latest version.
    UpdateSingleReplica = "update-single-replica", "SCSP-19", "updates of an existing name make one replica whatever replicate says";
    /// Breaks SCSP-20: a WRITE of a deleted name is refused with 409 however long after the
    /// DELETE it comes.
    RecreateAfterDeleteConflict = "recreate-after-delete-conflict", "SCSP-20", "a WRITE over a deletion marker is always 409";
    /// Breaks SCSP-22: COPY drops `Expires` although the request lists it, so the HEAD → COPY
    /// pattern loses it.
    CopyDropsExpires = "copy-drops-expires", "SCSP-22", "COPY does not persist Expires";
    /// Breaks SCSP-23: PUT with `preserve` drops the existing custom headers (COPY still keeps
    /// them).
    PutPreserveIgnored = "put-preserve-ignored", "SCSP-23", "PUT ignores preserve (COPY honours it)";
    /// Breaks SCSP-24: COPY with a body or a non-zero Content-Length is accepted, the body
    /// ignored.
    CopyBodyAccepted = "copy-body-accepted", "SCSP-24", "COPY with a body is accepted and the body ignored";
    /// Breaks SCSP-25: a WRITE whose Content-MD5 does not match its body is stored.
    ContentMd5UncheckedOnWrite = "content-md5-unchecked-on-write", "SCSP-25", "a WRITE's Content-MD5 is not checked";
    /// Breaks SCSP-25: a COPY whose Content-MD5 does not match the stored content succeeds.
    CopyContentMd5Unchecked = "copy-content-md5-unchecked", "SCSP-25", "a COPY's Content-MD5 is not checked";
    /// Breaks SCSP-26: a failing COPY of an alias object answers 400 instead of 403.
    AliasCopyFailure400 = "alias-copy-failure-400", "SCSP-26", "a failed COPY of an alias is 400, not 403";
    /// Breaks SCSP-27: COPY and PUT of an object in a domain that does not exist answer 404
    /// instead of 409.
    MissingDomain404 = "missing-domain-404", "SCSP-27", "COPY/PUT in a missing domain is 404, not 409";
    /// Breaks SCSP-28: `newname` is ignored; the update happens under the old name.
    RenameIgnored = "rename-ignored", "SCSP-28", "newname is ignored";
    /// Breaks SCSP-29: APPEND puts a newline between the old content and the new bytes.
    AppendWithSeparator = "append-with-separator", "SCSP-29", "APPEND adds a newline before the new bytes";
    /// Breaks SCSP-29: APPEND replaces the object's metadata with the request's headers instead
    /// of keeping it.
    AppendDropsMetadata = "append-drops-metadata", "SCSP-29", "APPEND replaces the metadata with the request's";
    /// Breaks SCSP-30: COPY removes Castor-System-CompositeMD5, which it must keep.
    CompositeMd5DroppedOnCopy = "composite-md5-dropped-on-copy", "SCSP-30", "COPY removes Castor-System-CompositeMD5";
    /// Breaks SCSP-31: a completion assembles parts in manifest order even without
    /// `manifestorder`.
    ManifestOrderAlways = "manifest-order-always", "SCSP-31", "parts are assembled in manifest order by default";
    /// Breaks SCSP-31: a manifest listing a part number twice completes (201) instead of
    /// failing.
    DuplicatePartsAccepted = "duplicate-parts-accepted", "SCSP-31", "a manifest with a part number twice completes";
    /// Breaks SCSP-32: a manifest naming a part that does not exist completes with 201 (the
    /// part is skipped) instead of failing.
    MissingPartSkipped = "missing-part-skipped", "SCSP-32", "manifest parts that do not exist are skipped";
    /// Breaks SCSP-33: a multipart COPY-by-part answers 201 synchronously instead of 202 with
    /// keep-alive bytes.
    CopyPartSynchronous = "copy-part-synchronous", "SCSP-33", "COPY-by-part answers 201 at once, no 202";
    /// Breaks SCSP-34: a multipart initiate carrying Content-MD5 is accepted instead of refused
    /// with 400.
    ContentMd5OnInitiateAccepted = "content-md5-on-initiate-accepted", "SCSP-34", "Content-MD5 on multipart initiate is accepted";
    /// Breaks SCSP-34: APPEND-initiate is accepted on an object that is not erasure-coded.
    AppendInitiateAnyTarget = "append-initiate-any-target", "SCSP-34", "APPEND-initiate works on objects that are not erasure-coded";
    /// Breaks SCSP-35: a part uploaded for a named target answers 201 without Content-UUID.
    PartWithoutContentUuid = "part-without-content-uuid", "SCSP-35", "parts of a named target answer without Content-UUID";
    /// Breaks SCSP-36: a PUT-initiated completion succeeds although the target was changed
    /// after initiate.
    PutUploadIgnoresTargetChange = "put-upload-ignores-target-change", "SCSP-36", "a PUT-initiated completion ignores changes of the target";
    /// Breaks SCSP-36: an APPEND-initiated completion writes the parts alone, dropping the
    /// content the target has at completion.
    AppendUploadReplacesContent = "append-upload-replaces-content", "SCSP-36", "an APPEND-initiated completion drops the current content";
    /// Breaks SCSP-40: 412 (and 304) answers to conditional reads carry no ETag.
    PreconditionWithoutEtag = "precondition-without-etag", "SCSP-40", "412 and 304 answers carry no ETag";
    /// Breaks SCSP-40: a GET whose If-None-Match matches answers 412 instead of 304.
    IfNoneMatchGet412 = "if-none-match-get-412", "SCSP-40", "GET with a matching If-None-Match is 412, not 304";
    /// Breaks SCSP-41: an If-Modified-Since date in the future is honoured (304) instead of
    /// ignored.
    FutureIfModifiedSinceHonoured = "future-if-modified-since-honoured", "SCSP-41", "If-Modified-Since dates in the future are not ignored";
    /// Breaks SCSP-41: If-Modified-Since is applied to PUT (412 when unmodified) although it
    /// concerns GET/HEAD only.
    IfModifiedSinceOnPut = "if-modified-since-on-put", "SCSP-41", "If-Modified-Since is applied to PUT";
    /// Breaks SCSP-43: a boolean argument is true only bare or `=yes`; `=true` reads as false.
    BooleanTrueNotRecognised = "boolean-true-not-recognised", "SCSP-43", "`arg=true` is not read as true";
    /// Breaks SCSP-5: a write that is redirected reads the body first, so `Expect:
    /// 100-continue` gets 100 Continue before the 307.
    ContinueBeforeRedirect = "continue-before-redirect", "SCSP-5", "100 Continue is sent before a redirect";
    /// Breaks SCSP-13: a named WRITE into a missing bucket is stored and answered 201 instead
    /// of 412.
    WriteIntoMissingBucket = "write-into-missing-bucket", "SCSP-13", "a named WRITE into a missing bucket is accepted";
    /// Breaks SCSP-21: DELETE of a bucket or domain without `recursive` deletes it instead of
    /// refusing.
    ContextDeleteWithoutRecursive = "context-delete-without-recursive", "SCSP-21", "DELETE of a bucket without recursive deletes it";
    /// Breaks SCSP-21: after DELETE of a bucket with `recursive=now`, the objects it held still
    /// read 200.
    RecursiveDeleteLeavesObjects = "recursive-delete-leaves-objects", "SCSP-21", "objects of a recursively deleted bucket stay readable";
    /// Breaks the context rules checked with SCSP-21 (§1.1: a context PUT is always an update):
    /// PUT of a bucket that does not exist creates it (201) instead of 404.
    ContextPutCreates = "context-put-creates", "SCSP-21", "PUT of a missing bucket creates it";
    /// Breaks SCSP-37: `Range: bytes=a-b` is served as if b were exclusive, one byte short,
    /// with a Content-Range that says so.
    RangeEndExclusive = "range-end-exclusive", "SCSP-37", "Range a-b sends bytes a..b-1";
    /// Breaks SCSP-37: a Range that starts past the end gets 200 with the whole object instead
    /// of 416.
    RangeOutOfBounds200 = "range-out-of-bounds-200", "SCSP-37", "an unsatisfiable Range gets 200 with the whole object";
    /// Breaks SCSP-37: a suffix range `bytes=-n` is served as the first n bytes instead of the
    /// last.
    SuffixRangeFromStart = "suffix-range-from-start", "SCSP-37", "Range -n sends the first n bytes";
    /// Breaks SCSP-42: 500 and 501 answers do not carry `Connection: close`.
    NotImplementedKeepsAlive = "not-implemented-keeps-alive", "SCSP-42", "501 answers keep the connection open";
    /// Breaks SCSP-42: requests in HTTP/1.0 are served instead of refused with 505.
    Http10Accepted = "http10-accepted", "SCSP-42", "HTTP/1.0 requests are served";
    /// Breaks SCSP-3: redirects that should be 307 are sent as 302 Found, which a client
    /// may resend as a GET.
    FoundInsteadOfTemporary = "found-instead-of-temporary", "SCSP-3", "redirects are 302 Found instead of 307";
    /// Breaks SCSP-4's reference choice (docs/choices.md row 1): a node that is not retiring
    /// sends a 301 when another node wins the bid, so clients move for good.
    PermanentForLostBids = "permanent-for-lost-bids", "SCSP-4", "a node that is not retiring answers lost bids with 301";
    /// Breaks SCSP-3: a retiring node issues `auth=` tokens that expire the moment they are
    /// made, so the resend to its 301 Location is refused (403).
    RetiringTokenExpired = "retiring-token-expired", "SCSP-3", "a retiring node issues already expired auth= tokens";
    /// Breaks SCSP-3: a retiring node counts itself among the nodes it can send a client to,
    /// so its 301 names itself.
    RetiringRedirectsToItself = "retiring-redirects-to-itself", "SCSP-3", "a retiring node's 301 names itself";
    /// Breaks SCSP-4: a write resent to a redirect's Location (pinned by its token) is stored
    /// without its body.
    RedirectedWriteDropsBody = "redirected-write-drops-body", "SCSP-4", "writes resent to a redirect's Location are stored empty";
    /// Breaks SCSP-16: the total metadata limit is 8 KB instead of 32 KB (a unit mix-up), so
    /// ordinary metadata is refused.
    MetadataLimitTooLow = "metadata-limit-too-low", "SCSP-16", "metadata over 8 KB in total is refused";
    /// Breaks SCSP-17: PUT on an alias object answers 201 with the alias UUID but leaves the
    /// alias pointing at its old content.
    AliasPutNotRepointed = "alias-put-not-repointed", "SCSP-17", "PUT on an alias keeps the old content";
    /// Breaks SCSP-25: a COPY's Content-MD5 is checked against the (empty) request body
    /// instead of the stored content, so the right digest is refused.
    CopyMd5OfRequestBody = "copy-md5-of-request-body", "SCSP-25", "a COPY's Content-MD5 is checked against its empty body";
    /// Breaks SCSP-40: If-Match on a read compares the ETag without its quotes, so even the
    /// current ETag does not match (412).
    IfMatchNeverMatches = "if-match-never-matches", "SCSP-40", "If-Match on a read never matches";
    /// Breaks SCSP-41: any If-Modified-Since date on a read answers 304, however old.
    IfModifiedSinceAnyDate = "if-modified-since-any-date", "SCSP-41", "If-Modified-Since answers 304 whatever the date";
    /// Breaks SCSP-34: a multipart initiate with a body is refused (400) instead of ignoring
    /// the body.
    InitiateBodyRefused = "initiate-body-refused", "SCSP-34", "a body on multipart initiate is refused";
    /// Breaks SCSP-34: Content-MD5 on a multipart completion is accepted (the initiate's is
    /// still refused).
    ContentMd5OnCompleteAccepted = "content-md5-on-complete-accepted", "SCSP-34", "Content-MD5 on multipart complete is accepted";
    /// Breaks SCSP-19: an update within a second of the stored version is refused with 429
    /// Too Many Requests, which the documents do not allow (201 or 409).
    UpdateRateLimited = "update-rate-limited", "SCSP-19", "updates within a second are refused with 429";
    /// Breaks SCSP-20: a WRITE within a second of a DELETE of the name answers 201 but the
    /// deletion marker wins, so the acknowledged object never reads back.
    RecreateSoonLost = "recreate-soon-lost", "SCSP-20", "a WRITE right after a DELETE is acknowledged and lost";
    /// Breaks SCSP-24: a COPY with a body is checked only after it was stored, so the
    /// refused COPY (400) has already replaced the content with its body.
    CopyBodyRefusedAfterStore = "copy-body-refused-after-store", "SCSP-24", "a COPY with a body is refused after it changed the object";
    /// Breaks SCSP-32: assembly leaves out the manifest's last part, so a valid completion
    /// ends in 201 with the object short.
    AssemblyDropsLastPart = "assembly-drops-last-part", "SCSP-32", "a completion leaves out the last part";
    /// Breaks SCSP-31/SCSP-32: a completion creates an empty target before it assembles and
    /// does not remove it when the completion fails.
    FailedCompletionLeavesObject = "failed-completion-leaves-object", "SCSP-32", "a failed completion leaves an empty object at the target";
    /// Breaks SCSP-33: COPY-by-part records the part without the source's bytes.
    CopyPartCopiesNothing = "copy-part-copies-nothing", "SCSP-33", "a part made by COPY-by-part is empty";
    /// Breaks SCSP-2: a 201 for an object with a declared Content-Type copies the request's
    /// Content-Length (the object's) instead of its own body's.
    CreatedLengthOfObject = "created-length-of-object", "SCSP-2", "201 Content-Length gives the object's length, not the body's";
    /// Breaks SCSP-19: an update within a second of the stored version is acknowledged (201)
    /// but stored without its body, so reads return content no update wrote.
    FastUpdateStoredEmpty = "fast-update-stored-empty", "SCSP-19", "an update within a second is stored without its body";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for &d in Defect::ALL {
            assert_eq!(d.name().parse::<Defect>(), Ok(d));
            assert!(seen.insert(d.name()));
            assert!(["SCSP-", "INV-"].iter().any(|p| d.breaks().starts_with(p)));
        }
        assert!("nope".parse::<Defect>().unwrap_err().contains("known:"));
    }
}
