//! One test per ENUM rule the core implements (spec section 2.5), named after it, and the
//! property that acknowledged items are never delivered again while unacknowledged ones
//! always are. ENUM-11 (no order between items) is a rule for subscribers and the harness:
//! there is nothing for the publisher to do or to test.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use crate::publisher::core::{Args, Batch, Publisher, PublisherError};
use crate::publisher::durable::DurableLog;
use crate::publisher::event::{EventCode, ObjectClass};
use crate::publisher::journal::Observed;
use crate::publisher::rules::Rules;
use crate::store::Disk;

const DAY_MS: u64 = 86_400_000;

fn publisher(rules: &str) -> Publisher {
    let rules = Rules::parse(rules).expect("valid rules");
    Publisher::new(DurableLog::new(Disk::shared(1 << 24)), rules, 7)
}

fn write(p: &mut Publisher, object: &str, class: ObjectClass, ms: u64, deleted: bool) {
    write_meta(p, object, class, ms, deleted, &[]);
}

fn write_meta(
    p: &mut Publisher,
    object: &str,
    class: ObjectClass,
    ms: u64,
    deleted: bool,
    meta: &[(&str, &str)],
) {
    p.register(Observed {
        object: object.to_string(),
        domain: String::new(),
        class,
        version: (ms, 1),
        deleted,
        meta: meta
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    })
    .expect("disk has room");
}

fn args(pairs: &[(&str, &str)]) -> Args {
    pairs
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
        .collect()
}

fn start(p: &mut Publisher, channel: &str, pairs: &[(&str, &str)]) -> (String, String) {
    let s = p.start(channel, &args(pairs), 0).expect("started");
    (s.id, s.token)
}

/// Reads everything an enumerator has, acknowledging each batch, as `object,code` strings.
fn drain(p: &mut Publisher, id: &str, mut token: String) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let batch = p
            .next(id, &args(&[("syncToken", &token), ("maxItems", "1000")]), 1)
            .expect("live");
        token = batch.token.clone();
        if batch.items.is_empty() {
            return out;
        }
        out.extend(
            batch
                .items
                .iter()
                .map(|e| format!("{},{}", e.object, e.code.wire())),
        );
    }
}

fn objects(batch: &Batch) -> Vec<&str> {
    batch.items.iter().map(|e| e.object.as_str()).collect()
}

#[test]
fn enum_1_start_returns_a_fresh_id_and_a_sync_token() {
    let mut p = publisher("channel Photos kind=named\n");
    let a = p.start("Photos", &args(&[]), 0).expect("started");
    let b = p
        .start(
            "Photos",
            &args(&[("type", "uuid"), ("start", "2010-12-01")]),
            0,
        )
        .expect("started");
    assert_ne!(a.id, b.id);
    assert_eq!(a.id.len(), 32);
    assert!(!a.token.is_empty());
    assert_eq!(
        a.message,
        "Object Enumerator created - channel: 'Photos', type: 'Metadata'"
    );
    assert_eq!(
        b.message,
        "Object Enumerator created - channel: 'Photos', type: 'UUID', start: '2010-12-01'"
    );
    assert_eq!(
        p.start("photos", &args(&[]), 0),
        Err(PublisherError::UnknownChannel("photos".into()))
    );
    assert!(matches!(
        p.start("Photos", &args(&[("type", "List")]), 0),
        Err(PublisherError::BadArgument(_))
    ));
}

#[test]
fn enum_2_start_is_inclusive_end_exclusive_on_creation_time() {
    let mut p = publisher("");
    write(&mut p, "before", ObjectClass::Immutable, DAY_MS - 1, false);
    write(&mut p, "first", ObjectClass::Immutable, DAY_MS, false);
    write(
        &mut p,
        "last",
        ObjectClass::Immutable,
        2 * DAY_MS - 1,
        false,
    );
    write(&mut p, "end", ObjectClass::Immutable, 2 * DAY_MS, false);
    // An alias created before the range and updated inside it stays out: the bound is on
    // creation time.
    write(&mut p, "old-alias", ObjectClass::Alias, 10, false);
    write(&mut p, "old-alias", ObjectClass::Alias, DAY_MS + 5, false);
    let (id, token) = start(
        &mut p,
        "PublishAll",
        &[
            ("type", "UUID"),
            ("start", "1970-01-02"),
            ("end", "1970-01-03T00:00:00Z"),
        ],
    );
    assert_eq!(drain(&mut p, &id, token), ["first,2", "last,2"]);
    assert!(matches!(
        p.start(
            "PublishAll",
            &args(&[("type", "Event"), ("start", "1970-01-02")]),
            0
        ),
        Err(PublisherError::BadArgument(_))
    ));
    assert!(matches!(
        p.start(
            "PublishAll",
            &args(&[("end", "Fri, 02 Jan 1970 00:00:00 GMT")]),
            0
        ),
        Err(PublisherError::BadArgument(_))
    ));
}

#[test]
fn enum_3_max_items_bounds_uuid_and_event_and_metadata_gives_one_object() {
    let mut p = publisher("");
    for i in 0..5 {
        write(
            &mut p,
            &format!("u{i}"),
            ObjectClass::Immutable,
            10 + i,
            false,
        );
    }
    for kind in ["UUID", "Event"] {
        let (id, token) = start(&mut p, "PublishAll", &[("type", kind), ("maxItems", "2")]);
        let batch = p
            .next(&id, &args(&[("syncToken", &token)]), 1)
            .expect("live");
        assert_eq!(objects(&batch), ["u0", "u1"], "{kind}");
    }
    let (id, token) = start(&mut p, "PublishAll", &[("maxItems", "3")]);
    let batch = p
        .next(&id, &args(&[("syncToken", &token)]), 1)
        .expect("live");
    assert_eq!(objects(&batch), ["u0"], "Metadata: one object per answer");
}

#[test]
fn enum_4_event_codes_are_1_2_4_and_never_3() {
    let mut p = publisher("");
    write(&mut p, "imm", ObjectClass::Immutable, 10, false);
    write(&mut p, "alias", ObjectClass::Alias, 11, false);
    write(&mut p, "gone", ObjectClass::Immutable, 12, false);
    write(&mut p, "gone", ObjectClass::Immutable, 13, true);
    let (id, token) = start(&mut p, "PublishAll", &[("type", "Event")]);
    let mut lines = drain(&mut p, &id, token);
    lines.sort();
    assert_eq!(lines, ["alias,4", "gone,1", "imm,2"]);
}

#[test]
fn enum_5_uuid_skips_deleted_immutables_and_repeats_alias_uuids() {
    let mut p = publisher("");
    write(&mut p, "kept", ObjectClass::Immutable, 10, false);
    write(&mut p, "gone", ObjectClass::Immutable, 11, false);
    write(&mut p, "gone", ObjectClass::Immutable, 12, true);
    write(&mut p, "anchor", ObjectClass::Alias, 13, false);
    write(&mut p, "anchor", ObjectClass::Alias, 14, false);
    write(&mut p, "anchor", ObjectClass::Alias, 15, true);
    write(&mut p, "/b/named", ObjectClass::Named, 16, false);
    let (id, token) = start(&mut p, "PublishAll", &[("type", "uuid")]);
    let uuids: Vec<String> = drain(&mut p, &id, token)
        .into_iter()
        .map(|l| l.split(',').next().unwrap_or_default().to_string())
        .collect();
    assert_eq!(uuids, ["kept", "anchor", "anchor", "anchor"]);
}

#[test]
fn enum_6_event_gives_only_the_last_event_per_uuid() {
    let mut p = publisher("");
    write(&mut p, "anchor", ObjectClass::Alias, 10, false);
    write(&mut p, "anchor", ObjectClass::Alias, 11, false);
    write(&mut p, "imm", ObjectClass::Immutable, 12, false);
    let (id, token) = start(&mut p, "PublishAll", &[("type", "Event")]);
    // The first answer is lost; meanwhile the anchor is deleted.
    let lost = p
        .next(&id, &args(&[("syncToken", &token)]), 1)
        .expect("live");
    assert_eq!(objects(&lost), ["anchor", "imm"]);
    write(&mut p, "anchor", ObjectClass::Alias, 13, true);
    write(&mut p, "/b/n", ObjectClass::Named, 14, false);
    let mut lines = drain(&mut p, &id, token);
    lines.sort();
    assert_eq!(lines, ["anchor,1", "imm,2"]);
}

#[test]
fn enum_7_metadata_returns_every_event_including_after_delete() {
    let mut p = publisher("");
    write_meta(
        &mut p,
        "/b/x",
        ObjectClass::Named,
        10,
        false,
        &[("x-a-meta", "1")],
    );
    write_meta(
        &mut p,
        "/b/x",
        ObjectClass::Named,
        11,
        false,
        &[("x-a-meta", "2")],
    );
    write(&mut p, "/b/x", ObjectClass::Named, 12, true);
    write(&mut p, "anchor", ObjectClass::Alias, 13, false);
    let (id, mut token) = start(&mut p, "PublishAll", &[]);
    let mut seen = Vec::new();
    loop {
        let batch = p
            .next(&id, &args(&[("syncToken", &token)]), 1)
            .expect("live");
        token = batch.token;
        let Some(e) = batch.items.first() else { break };
        assert_eq!(batch.items.len(), 1);
        seen.push((e.object.clone(), e.code, e.meta.get("x-a-meta").cloned()));
    }
    assert_eq!(
        seen,
        [
            (
                "/b/x".to_string(),
                EventCode::Created,
                Some("1".to_string())
            ),
            (
                "/b/x".to_string(),
                EventCode::Updated,
                Some("2".to_string())
            ),
            ("/b/x".to_string(), EventCode::Deleted, None),
            ("anchor".to_string(), EventCode::AliasWritten, None),
        ]
    );
}

#[test]
fn enum_8_deletes_go_on_every_channel() {
    let mut p = publisher("channel Blue meta:x-color-meta=blue\nchannel Photos bucket=photos\n");
    write_meta(
        &mut p,
        "red",
        ObjectClass::Alias,
        10,
        false,
        &[("x-color-meta", "red")],
    );
    write_meta(
        &mut p,
        "blue",
        ObjectClass::Alias,
        11,
        false,
        &[("x-color-meta", "blue")],
    );
    write(&mut p, "red", ObjectClass::Alias, 12, true);
    let (id, token) = start(&mut p, "Blue", &[("type", "Event")]);
    let mut lines = drain(&mut p, &id, token);
    lines.sort();
    assert_eq!(lines, ["blue,4", "red,1"]);
    let (id, token) = start(&mut p, "Photos", &[("type", "Event")]);
    assert_eq!(drain(&mut p, &id, token), ["red,1"]);
}

#[test]
fn enum_9_acknowledged_items_are_not_redelivered_and_unacknowledged_are() {
    let mut p = publisher("");
    for i in 0..4 {
        write(
            &mut p,
            &format!("u{i}"),
            ObjectClass::Immutable,
            10 + i,
            false,
        );
    }
    let (id, t0) = start(&mut p, "PublishAll", &[("type", "UUID"), ("maxItems", "2")]);
    let first = p.next(&id, &args(&[("syncToken", &t0)]), 1).expect("live");
    assert_eq!(objects(&first), ["u0", "u1"]);
    // No token: the first batch was not acknowledged and comes again.
    let again = p.next(&id, &args(&[]), 1).expect("live");
    assert_eq!(objects(&again), ["u0", "u1"]);
    // A stale token (the answer before last): still not acknowledged.
    let once_more = p
        .next(&id, &args(&[("syncToken", &first.token)]), 1)
        .expect("live");
    assert_eq!(objects(&once_more), ["u0", "u1"]);
    let second = p
        .next(&id, &args(&[("syncToken", &once_more.token)]), 1)
        .expect("live");
    assert_eq!(objects(&second), ["u2", "u3"]);
    let end = p
        .next(&id, &args(&[("syncToken", &second.token)]), 1)
        .expect("live");
    assert!(end.items.is_empty(), "acknowledged items never come back");
}

#[test]
fn enum_10_dropped_items_are_not_resent() {
    let mut p = publisher("");
    for i in 0..3 {
        write(
            &mut p,
            &format!("u{i}"),
            ObjectClass::Immutable,
            10 + i,
            false,
        );
    }
    let (id, t0) = start(&mut p, "PublishAll", &[("type", "UUID")]);
    let batch = p.next(&id, &args(&[("syncToken", &t0)]), 1).expect("live");
    assert_eq!(batch.items.len(), 3);
    // The subscriber gave up on two of them and says so while acknowledging the batch.
    let after = p
        .next(
            &id,
            &args(&[("syncToken", &batch.token), ("dropped", "2")]),
            1,
        )
        .expect("live");
    assert!(after.items.is_empty());
    assert_eq!(p.enumerator(&id).map(|e| e.dropped_total), Some(2));
    let later = p
        .next(&id, &args(&[("syncToken", &after.token)]), 1)
        .expect("live");
    assert!(later.items.is_empty());
    assert!(matches!(
        p.next(&id, &args(&[("dropped", "two")]), 1),
        Err(PublisherError::BadArgument(_))
    ));
}

#[test]
fn enum_12_max_items_zero_pauses_and_nonzero_resumes() {
    let mut p = publisher("");
    write(&mut p, "u0", ObjectClass::Immutable, 10, false);
    for kind in ["UUID", "Metadata"] {
        let (id, t0) = start(&mut p, "PublishAll", &[("type", kind)]);
        let paused = p
            .next(&id, &args(&[("syncToken", &t0), ("maxItems", "0")]), 1)
            .expect("live");
        assert!(paused.items.is_empty(), "{kind}");
        // maxItems=0 persists: still paused without repeating it.
        let still = p
            .next(&id, &args(&[("syncToken", &paused.token)]), 1)
            .expect("live");
        assert!(still.items.is_empty(), "{kind}");
        let resumed = p
            .next(
                &id,
                &args(&[("syncToken", &still.token), ("maxItems", "5")]),
                1,
            )
            .expect("live");
        assert_eq!(objects(&resumed), ["u0"], "{kind}");
    }
}

#[test]
fn enum_13_unread_enumerator_expires_after_timeout() {
    let mut p = publisher("");
    let s = p
        .start("PublishAll", &args(&[("timeout", "60")]), 1_000)
        .expect("started");
    let d = p.start("PublishAll", &args(&[]), 1_000).expect("started");
    // Reading keeps it alive.
    p.next(&s.id, &args(&[]), 59_000).expect("read in time");
    p.next(&s.id, &args(&[]), 118_999).expect("read in time");
    assert_eq!(
        p.next(&s.id, &args(&[]), 178_999 + 1),
        Err(PublisherError::UnknownEnumerator(s.id.clone()))
    );
    // The default is 90000 s.
    p.next(&d.id, &args(&[]), 1_000 + 89_999_000)
        .expect("default timeout not reached");
    assert!(p.next(&d.id, &args(&[]), 1_000 + 2 * 90_000_000).is_err());
    assert!(matches!(
        p.start("PublishAll", &args(&[("timeout", "0")]), 0),
        Err(PublisherError::BadArgument(_))
    ));
}

#[test]
fn enum_14_end_deletes_and_later_next_is_not_found() {
    let mut p = publisher("");
    let (id, _) = start(&mut p, "PublishAll", &[]);
    p.end(&id, 1).expect("ended");
    assert_eq!(
        p.next(&id, &args(&[]), 2),
        Err(PublisherError::UnknownEnumerator(id.clone()))
    );
    assert_eq!(p.end(&id, 3), Err(PublisherError::UnknownEnumerator(id)));
}

#[test]
fn enum_15_rules_change_deletes_every_enumerator() {
    let mut p = publisher("channel A\n");
    let (a, _) = start(&mut p, "A", &[]);
    let (all, _) = start(&mut p, "PublishAll", &[]);
    p.set_rules(Rules::parse("channel A\nchannel B\n").expect("valid"));
    assert_eq!(p.enumerator_count(), 0);
    for id in [a, all] {
        assert_eq!(
            p.next(&id, &args(&[]), 1),
            Err(PublisherError::UnknownEnumerator(id.clone()))
        );
    }
    start(&mut p, "B", &[]);
}

#[test]
fn enum_16_start_arguments_persist_across_next() {
    let mut p = publisher("");
    for i in 0..6 {
        write(
            &mut p,
            &format!("u{i}"),
            ObjectClass::Immutable,
            10 + i,
            false,
        );
    }
    let (id, t0) = start(
        &mut p,
        "PublishAll",
        &[
            ("type", "UUID"),
            ("maxItems", "2"),
            ("context", "nightly"),
            ("version", "2.2"),
        ],
    );
    let a = p.next(&id, &args(&[("syncToken", &t0)]), 1).expect("live");
    assert_eq!(a.items.len(), 2);
    let b = p
        .next(&id, &args(&[("syncToken", &a.token), ("maxItems", "3")]), 1)
        .expect("live");
    assert_eq!(b.items.len(), 3);
    let c = p
        .next(&id, &args(&[("syncToken", &b.token)]), 1)
        .expect("live");
    assert_eq!(c.items.len(), 1, "the changed maxItems=3 persists");
    let stored = &p.enumerator(&id).expect("live").args;
    assert_eq!(stored.get("context").map(String::as_str), Some("nightly"));
    assert_eq!(stored.get("version").map(String::as_str), Some("2.2"));
}

/// What a subscriber does next in the property test.
#[derive(Debug, Clone)]
enum Step {
    /// Objects are written (alias revisions: every one is an item of a UUID enumerator).
    Write(u8),
    /// A Next with this `maxItems`; the answer is lost when `lost`.
    Next { max: u8, lost: bool },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (1u8..4).prop_map(Step::Write),
        (0u8..4, any::<bool>()).prop_map(|(max, lost)| Step::Next { max, lost }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Acknowledged items never come again; every unacknowledged item does, until it is
    /// acknowledged: after a final drain each item has been acknowledged exactly once.
    #[test]
    fn acknowledged_items_never_return_and_unacknowledged_always_do(
        steps in proptest::collection::vec(step(), 1..40)
    ) {
        let mut p = publisher("");
        let (id, mut token) = start(&mut p, "PublishAll", &[("type", "UUID")]);
        let mut received: Vec<u64> = Vec::new();
        let mut acked: BTreeMap<u64, u32> = BTreeMap::new();
        // The subscriber's token is the publisher's newest unless an answer was lost since.
        let mut in_sync = true;
        let mut written = 0u64;
        let mut ms = 10u64;
        let mut answer = |p: &mut Publisher, max: u8, lost: bool| -> Result<usize, TestCaseError> {
            let batch = p
                .next(&id, &args(&[("syncToken", &token), ("maxItems", &max.to_string())]), 1)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            // A current token acknowledges the batch it came with, whatever happens to
            // this answer; a stale one acknowledges nothing.
            if in_sync {
                for seq in received.drain(..) {
                    *acked.entry(seq).or_default() += 1;
                }
            }
            if lost {
                in_sync = false;
                return Ok(batch.items.len());
            }
            in_sync = true;
            received.clear();
            for e in &batch.items {
                prop_assert!(!acked.contains_key(&e.seq), "acknowledged item {} came again", e.seq);
                received.push(e.seq);
            }
            token = batch.token;
            Ok(batch.items.len())
        };
        for s in steps {
            match s {
                Step::Write(n) => {
                    for _ in 0..n {
                        written += 1;
                        ms += 1;
                        write(&mut p, &format!("a{}", written % 5), ObjectClass::Alias, ms, false);
                    }
                }
                Step::Next { max, lost } => {
                    answer(&mut p, max, lost)?;
                }
            }
        }
        while answer(&mut p, 3, false)? > 0 {}
        // The empty answer acknowledged the last batch.
        let all: BTreeSet<u64> = (1..=p.journal().len()).collect();
        prop_assert_eq!(acked.keys().copied().collect::<BTreeSet<u64>>(), all);
        prop_assert!(acked.values().all(|n| *n == 1));
    }
}
