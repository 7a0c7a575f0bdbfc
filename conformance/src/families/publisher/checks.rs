//! The ENUM rules (DX Content Router's Enumerator API) and their checks: objects are written
//! through the `scsp` target and read back through the `publisher` target.

use std::collections::BTreeSet;
use std::time::Duration;

use super::api::{self, counts, lines, Api, Watch, FILTERED_CHANNEL, PUBLISH_ALL};
use crate::catalog::{Rule, Strength};
use crate::clause::{consistency, doc, ClauseSpec};
use crate::families::Role;
use crate::rules::common::expect_status;
use crate::target::{Capabilities, Ctx};
use crate::verdict::Verdict;

/// Roles of the rules that write objects (their main role: `Ctx::nodes` are SCSP nodes) and
/// read them back through the publisher.
const BOTH: &[Role] = &[Role::Scsp, Role::Publisher];
/// Roles of the rules that only drive enumerators.
const PUBLISHER_ONLY: &[Role] = &[Role::Publisher];

const fn rule(
    id: &'static str,
    title: &'static str,
    source: &'static str,
    roles: &'static [Role],
    check: crate::catalog::CheckFn,
    clauses: &'static [ClauseSpec],
) -> Rule {
    Rule::checked(id, title, source, Strength::Must, roles, check, clauses)
}

/// Every ENUM rule, each with its check.
pub const RULES: [Rule; 16] = [
    rule(
        "ENUM-1",
        "Start answers 201 with a fresh enumerator id and a sync token",
        "DXCR/p39",
        PUBLISHER_ONLY,
        |c| Box::pin(enum_1(c)),
        &ENUM_1,
    ),
    rule(
        "ENUM-2",
        "start is inclusive and end exclusive on creation time; a bare date is midnight",
        "DXCR/p39",
        BOTH,
        |c| Box::pin(enum_2(c)),
        &ENUM_2,
    ),
    rule(
        "ENUM-3",
        "UUID and Event answers carry at most maxItems lines; Metadata answers one object",
        "DXCR/p41",
        BOTH,
        |c| Box::pin(enum_3(c)),
        &ENUM_3,
    ),
    rule(
        "ENUM-4",
        "Event lines are uuid,1|2|4; code 3 never appears",
        "DXCR/p41",
        BOTH,
        |c| Box::pin(enum_4(c)),
        &ENUM_4,
    ),
    rule(
        "ENUM-5",
        "UUID enumerators skip deleted immutables and repeat alias UUIDs",
        "DXCR/p38",
        BOTH,
        |c| Box::pin(enum_5(c)),
        &ENUM_5,
    ),
    rule(
        "ENUM-6",
        "Event enumerators report only the last event per UUID",
        "DXCR/p38",
        BOTH,
        |c| Box::pin(enum_6(c)),
        &ENUM_6,
    ),
    rule(
        "ENUM-7",
        "Metadata enumerators return every event of a mutable object, deleted or not",
        "DXCR/p38",
        BOTH,
        |c| Box::pin(enum_7(c)),
        &ENUM_7,
    ),
    rule(
        "ENUM-8",
        "Delete events go on every channel, whatever its filter",
        "DXCR/p38",
        BOTH,
        |c| Box::pin(enum_8(c)),
        &ENUM_8,
    ),
    rule(
        "ENUM-9",
        "syncToken acknowledges: unacknowledged items come again, acknowledged never",
        "DXCR/p40",
        BOTH,
        |c| Box::pin(enum_9(c)),
        &ENUM_9,
    ),
    rule(
        "ENUM-10",
        "Items reported as dropped are not resent",
        "DXCR/p40",
        BOTH,
        |c| Box::pin(enum_10(c)),
        &ENUM_10,
    ),
    rule(
        "ENUM-11",
        "Items come in no promised order: each object once, compared as a multiset",
        "DXCR/p40",
        BOTH,
        |c| Box::pin(enum_11(c)),
        &ENUM_11,
    ),
    rule(
        "ENUM-12",
        "maxItems=0 pauses an enumerator; a non-zero value resumes it",
        "DXCR/p42",
        BOTH,
        |c| Box::pin(enum_12(c)),
        &ENUM_12,
    ),
    rule(
        "ENUM-13",
        "An enumerator unread for its timeout is removed: 404",
        "DXCR/p42",
        PUBLISHER_ONLY,
        |c| Box::pin(enum_13(c)),
        &ENUM_13,
    ),
    Rule {
        uses: Capabilities {
            faults: false,
            admin: true,
            introspection: false,
        },
        ..rule(
            "ENUM-15",
            "A rules change deletes every enumerator: 404, then Start again",
            "DXCR/ch5.3",
            PUBLISHER_ONLY,
            |c| Box::pin(enum_15(c)),
            &ENUM_15,
        )
    },
    rule(
        "ENUM-14",
        "End answers 200 Object Enumerator deleted; Next then answers 404",
        "DXCR/p41",
        PUBLISHER_ONLY,
        |c| Box::pin(enum_14(c)),
        &ENUM_14,
    ),
    rule(
        "ENUM-16",
        "Arguments given once persist for later calls until changed",
        "DXCR/p39",
        BOTH,
        |c| Box::pin(enum_16(c)),
        &ENUM_16,
    ),
];

const ENUM_1: [ClauseSpec; 2] = [
    doc(
        "created",
        "Start answers 201 with Content-UUID and Content-Sync-Token",
        "DXCR/p39",
    ),
    doc(
        "fresh-id",
        "a second Start gets another enumerator id",
        "DXCR/p39",
    ),
];

async fn enum_1(ctx: Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let api = Api::of(&ctx)?;
    let first = api.start(PUBLISH_ALL, "type=UUID").await?;
    c.check(
        "created",
        first.token.is_some(),
        format!("201, Content-UUID {}, Content-Sync-Token", first.id),
        "201 without Content-Sync-Token",
    )?;
    let second = api.start(PUBLISH_ALL, "type=UUID").await?;
    let fresh = second.id != first.id;
    let _ = api.end(&first.id).await;
    let _ = api.end(&second.id).await;
    c.check(
        "fresh-id",
        fresh,
        format!("{} then {}", first.id, second.id),
        format!("both Starts got {}", first.id),
    )
}

const ENUM_2: [ClauseSpec; 3] = [
    doc(
        "start-inclusive",
        "an object created in start's second is listed; one created before start is not",
        "DXCR/p39",
    ),
    doc(
        "end-exclusive",
        "an object created at or after end is not listed; one created before end is",
        "DXCR/p39",
    ),
    doc(
        "date-midnight",
        "a start or end without a time of day means 00:00:00 of that date",
        "DXCR/p39",
    ),
];

async fn enum_2(ctx: Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let api = Api::of(&ctx)?;
    let uuid = api::write(&ctx, false, "bounded").await?;
    api.settle(&[(&uuid, "2")]).await?;
    let head = ctx
        .request(0, &crate::client::Request::new("HEAD", format!("/{uuid}")))
        .await?
        .response;
    expect_status(&head, &[200], "HEAD of the written object")?;
    let Some(created_s) = head
        .header("castor-system-version")
        .and_then(|v| v.trim().split('.').next())
        .and_then(|s| s.parse::<u64>().ok())
    else {
        for slug in ["start-inclusive", "end-exclusive", "date-midnight"] {
            c.not_observed(
                slug,
                "the object's HEAD has no Castor-System-Version to place it in time",
            );
        }
        return Ok(());
    };
    let listed = |query: String| {
        let api = &api;
        let uuid = uuid.clone();
        async move {
            let lines = api
                .lines_of(PUBLISH_ALL, &format!("type=UUID&{query}"))
                .await?;
            Ok::<bool, Verdict>(lines.contains(&uuid))
        }
    };
    let second = api::iso8601(created_s, false);
    let next_second = api::iso8601(created_s + 1, false);
    let date = api::iso8601(created_s, true);
    let at_start = listed(format!("start={second}")).await?;
    let before_start = listed(format!("start={next_second}")).await?;
    c.record(
        "start-inclusive",
        at_start && !before_start,
        format!("created {second}: listed from start={second}, not from start={next_second}"),
        format!("created {second}: start={second} lists it: {at_start}; start={next_second} lists it: {before_start}"),
    );
    let at_end = listed(format!("end={second}")).await?;
    let before_end = listed(format!("end={next_second}")).await?;
    c.record(
        "end-exclusive",
        !at_end && before_end,
        format!("created {second}: not listed with end={second}, listed with end={next_second}"),
        format!("created {second}: end={second} lists it: {at_end}; end={next_second} lists it: {before_end}"),
    );
    let from_date = listed(format!("start={date}")).await?;
    let until_date = listed(format!("end={date}")).await?;
    c.record(
        "date-midnight",
        from_date && !until_date,
        format!("created {second}: listed from start={date}, not until end={date}"),
        format!("created {second}: start={date} lists it: {from_date}; end={date} lists it: {until_date}"),
    );
    Ok(())
}

const ENUM_3: [ClauseSpec; 2] = [
    doc(
        "at-most-max",
        "a UUID answer carries at most maxItems lines",
        "DXCR/p41",
    ),
    doc(
        "metadata-one-object",
        "a Metadata answer names its one object in Content-UUID (or Content-Name)",
        "DXCR/p41",
    ),
];

async fn enum_3(ctx: Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let api = Api::of(&ctx)?;
    let mut ours = Vec::new();
    for body in ["a", "b", "c"] {
        ours.push(api::write(&ctx, false, body).await?);
    }
    let expect: Vec<(&str, &str)> = ours.iter().map(|u| (u.as_str(), "2")).collect();
    api.settle(&expect).await?;
    let started = api.start(PUBLISH_ALL, "type=UUID").await?;
    let answers = api.drain(&started.id, started.token, "maxItems=2").await;
    let _ = api.end(&started.id).await;
    let answers = answers?;
    let widest = answers.iter().map(|a| lines(a).len()).max().unwrap_or(0);
    c.check(
        "at-most-max",
        widest > 0 && widest <= 2,
        format!(
            "{} answers of at most 2 lines with maxItems=2",
            answers.len()
        ),
        format!("an answer with maxItems=2 carried {widest} lines"),
    )?;
    let started = api.start(PUBLISH_ALL, "").await?;
    let first = api
        .next(
            &started.id,
            &started
                .token
                .map(|t| format!("syncToken={t}"))
                .unwrap_or_default(),
        )
        .await?;
    let _ = api.end(&started.id).await;
    expect_status(&first, &[200], "Next on a Metadata enumerator")?;
    let named = first
        .header("content-uuid")
        .or(first.header("content-name"));
    c.check(
        "metadata-one-object",
        !first.body.is_empty() && named.is_some_and(|n| !n.trim().is_empty()),
        format!("the first Metadata answer names {}", named.unwrap_or("")),
        "a Metadata answer names no object (no Content-UUID, no Content-Name)",
    )
}

/// Writes a kept immutable, an immutable it then deletes and an alias it updates once,
/// waiting for each revision to be published before the next write; returns the three
/// UUIDs (kept, deleted, alias).
async fn kept_gone_alias(ctx: &Ctx, api: &Api<'_>) -> Result<(String, String, String), Verdict> {
    let mut watch = Watch::start(api).await?;
    let kept = api::write(ctx, false, "kept").await?;
    watch.await_item(&kept).await?;
    let gone = api::write(ctx, false, "gone").await?;
    watch.await_item(&gone).await?;
    // The alias's create and update back to back, without waiting for the create to be
    // published: each is an event however close together (ENUM-5 counts both).
    let alias = api::write(ctx, true, "v1").await?;
    api::update(ctx, &alias, "v2").await?;
    watch.await_item(&alias).await?;
    api::delete(ctx, &gone).await?;
    watch.await_item(&gone).await?;
    watch.end().await;
    Ok((kept, gone, alias))
}

const ENUM_4: [ClauseSpec; 1] = [doc(
    "codes",
    "an immutable's create is 2, an alias's create and update 4, a delete 1; never 3",
    "DXCR/p41",
)];

async fn enum_4(ctx: Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let api = Api::of(&ctx)?;
    let (kept, gone, alias) = kept_gone_alias(&ctx, &api).await?;
    let seen = api.lines_of(PUBLISH_ALL, "type=Event").await?;
    let want = [
        format!("{kept},2"),
        format!("{gone},1"),
        format!("{alias},4"),
    ];
    let ours: Vec<&String> = seen
        .iter()
        .filter(|l| {
            [&kept, &gone, &alias]
                .iter()
                .any(|u| l.starts_with(u.as_str()))
        })
        .collect();
    let bad: Vec<&&String> = ours.iter().filter(|l| !want.contains(l)).collect();
    c.check(
        "codes",
        bad.is_empty() && want.iter().all(|w| ours.contains(&w)),
        want.join(" "),
        format!("expected {}; got {ours:?}", want.join(" ")),
    )
}

const ENUM_5: [ClauseSpec; 2] = [
    doc(
        "deleted-immutable-skipped",
        "an immutable deleted before enumeration is not listed; a kept one is, once",
        "DXCR/p38",
    ),
    doc(
        "alias-repeats",
        "an alias UUID is listed once per create and update",
        "DXCR/p38",
    ),
];

async fn enum_5(ctx: Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let api = Api::of(&ctx)?;
    let (kept, gone, alias) = kept_gone_alias(&ctx, &api).await?;
    let seen = api.lines_of(PUBLISH_ALL, "type=UUID").await?;
    let n = counts(&seen, &[kept.clone(), gone.clone(), alias.clone()]);
    let (k, g, a) = (n[&kept], n[&gone], n[&alias]);
    c.record(
        "deleted-immutable-skipped",
        k == 1 && g == 0,
        "the kept immutable once, the deleted one not at all",
        format!("kept immutable listed {k} times, deleted one {g} times"),
    );
    c.record(
        "alias-repeats",
        a == 2,
        "the alias listed for its create and its update",
        format!("the alias, written twice, listed {a} times"),
    );
    Ok(())
}

const ENUM_6: [ClauseSpec; 1] = [doc(
    "last-only",
    "an Event enumerator lists each UUID once, with its last event",
    "DXCR/p38",
)];

async fn enum_6(ctx: Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let api = Api::of(&ctx)?;
    let (_, gone, alias) = kept_gone_alias(&ctx, &api).await?;
    let seen = api.lines_of(PUBLISH_ALL, "type=Event").await?;
    let ours: Vec<&String> = seen
        .iter()
        .filter(|l| l.starts_with(alias.as_str()) || l.starts_with(gone.as_str()))
        .collect();
    let mut want = vec![format!("{alias},4"), format!("{gone},1")];
    want.sort();
    let mut got: Vec<String> = ours.iter().map(|s| s.to_string()).collect();
    got.sort();
    c.check(
        "last-only",
        got == want,
        want.join(" "),
        format!("expected only {}; got {got:?}", want.join(" ")),
    )
}

const ENUM_7: [ClauseSpec; 1] = [doc(
    "every-event",
    "a Metadata enumerator returns one item per write of an alias (POST, PUT, DELETE sent back to back, a second apart), also after its delete",
    "DXCR/p38",
)];

/// Metadata items about `object` in a Metadata enumerator on `PublishAll` started now.
async fn metadata_items_about(api: &Api<'_>, object: &str) -> Result<usize, Verdict> {
    let later = api.start(PUBLISH_ALL, "").await?;
    let answers = api.drain(&later.id, later.token, "").await;
    let _ = api.end(&later.id).await;
    Ok(answers?
        .iter()
        .filter(|r| {
            r.header("content-uuid")
                .is_some_and(|u| u.trim().eq_ignore_ascii_case(object))
        })
        .count())
}

async fn enum_7(ctx: Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let api = Api::of(&ctx)?;
    // Back to back (a second apart: SCSP's version resolution), inside one poll interval of
    // a polling publisher: each write is an event all the same (a publisher that only diffs
    // what the nodes hold folds them).
    let alias = api::write(&ctx, true, "v1").await?;
    api::update(&ctx, &alias, "v2").await?;
    api::delete(&ctx, &alias).await?;
    api.settle(&[(&alias, "1")]).await?;
    // A Metadata enumerator started after the delete has all three. The earlier writes may
    // be published a little later than the delete (nothing orders them): look again until
    // three are there or the publishing wait is over.
    let mut waited = Duration::ZERO;
    let n = loop {
        let n = metadata_items_about(&api, &alias).await?;
        if n >= 3 || waited >= api::PUBLISH_WAIT {
            break n;
        }
        replisim_sim::rt::sleep(Duration::from_secs(1)).await;
        waited += Duration::from_secs(1);
    };
    c.check(
        "every-event",
        n == 3,
        "POST, PUT and DELETE, sent back to back, each an item, read after the delete",
        format!(
            "an enumerator started after the delete has {n} items for the alias written 3 times back to back"
        ),
    )
}

const ENUM_8: [ClauseSpec; 1] = [doc(
    "delete-on-every-channel",
    "a delete reaches a channel whose filter leaves the object out",
    "DXCR/p38",
)];

async fn enum_8(ctx: Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let api = Api::of(&ctx)?;
    let probe = api.start_raw(FILTERED_CHANNEL, "type=Event").await?;
    if probe.status != 201 {
        c.not_observed(
            "delete-on-every-channel",
            format!("the publisher has no channel `{FILTERED_CHANNEL}` (Start answered {}); give it one whose filter leaves unnamed objects out", probe.status),
        );
        return Ok(());
    }
    if let Some(id) = probe.header("content-uuid") {
        let _ = api.end(id).await;
    }
    let uuid = api::write(&ctx, false, "filtered").await?;
    api.settle(&[(&uuid, "2")]).await?;
    api::delete(&ctx, &uuid).await?;
    api.settle(&[(&uuid, "1")]).await?;
    let seen = api.lines_of(FILTERED_CHANNEL, "type=Event").await?;
    let line = format!("{uuid},1");
    c.check(
        "delete-on-every-channel",
        seen.contains(&line),
        format!("{line} on `{FILTERED_CHANNEL}`"),
        format!("no {line} on `{FILTERED_CHANNEL}` ({} lines)", seen.len()),
    )
}

/// Writes `n` immutables and waits until they are published; returns their UUIDs.
async fn published_immutables(ctx: &Ctx, api: &Api<'_>, n: usize) -> Result<Vec<String>, Verdict> {
    const BODIES: [&str; 6] = ["1", "2", "3", "4", "5", "6"];
    let mut ours = Vec::new();
    for body in BODIES.iter().take(n) {
        ours.push(api::write(ctx, false, body).await?);
    }
    let expect: Vec<(&str, &str)> = ours.iter().map(|u| (u.as_str(), "2")).collect();
    api.settle(&expect).await?;
    Ok(ours)
}

/// Acknowledges answers of UUID enumerator `id` until one carries some of `ours`; returns
/// that answer's lines of ours and the token that was sent for it.
async fn batch_with_ours(
    api: &Api<'_>,
    id: &str,
    mut token: Option<String>,
    ours: &[String],
) -> Result<(BTreeSet<String>, Option<String>, Option<String>), Verdict> {
    for _ in 0..400 {
        let query = match &token {
            Some(t) => format!("syncToken={t}&maxItems=1000"),
            None => "maxItems=1000".to_string(),
        };
        let r = api.next(id, &query).await?;
        expect_status(&r, &[200], "Next")?;
        let got: BTreeSet<String> = lines(&r).into_iter().filter(|l| ours.contains(l)).collect();
        let sent = token.clone();
        token = r.header("content-sync-token").map(str::to_string);
        if !got.is_empty() {
            return Ok((got, sent, token));
        }
        if r.body.is_empty() {
            break;
        }
    }
    Err(Verdict::fail(
        "a UUID enumerator never listed the objects just written",
    ))
}

/// `syncToken=T&extra`, leaving out what is absent.
fn token_query(token: &Option<String>, extra: &str) -> String {
    match token {
        Some(t) if extra.is_empty() => format!("syncToken={t}"),
        Some(t) => format!("syncToken={t}&{extra}"),
        None => extra.to_string(),
    }
}

const ENUM_9: [ClauseSpec; 2] = [
    doc(
        "unacked-redelivered",
        "items of an answer never acknowledged (it was lost) come again",
        "DXCR/p40",
    ),
    doc(
        "acked-not-redelivered",
        "items acknowledged by syncToken never come again",
        "DXCR/p40",
    ),
];

async fn enum_9(ctx: Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let api = Api::of(&ctx)?;
    let ours = published_immutables(&ctx, &api, 3).await?;
    let started = api.start(PUBLISH_ALL, "type=UUID").await?;
    let (first, sent, _lost) = batch_with_ours(&api, &started.id, started.token, &ours).await?;
    // The answer is taken as lost: the next Next carries the token sent before it.
    let again = api
        .next(&started.id, &token_query(&sent, "maxItems=1000"))
        .await?;
    expect_status(&again, &[200], "Next after a lost answer")?;
    let again_lines: BTreeSet<String> = lines(&again).into_iter().collect();
    let missing: Vec<&String> = first.difference(&again_lines).collect();
    c.record(
        "unacked-redelivered",
        missing.is_empty(),
        format!("{} items of the lost answer came again", first.len()),
        format!("items of the lost answer did not come again: {missing:?}"),
    );
    let acked: BTreeSet<String> = again_lines.intersection(&first).cloned().collect();
    let token = again.header("content-sync-token").map(str::to_string);
    let rest = api.drain(&started.id, token, "maxItems=1000").await;
    let _ = api.end(&started.id).await;
    let rest: Vec<String> = rest?.iter().flat_map(lines).collect();
    let repeated: Vec<&String> = rest.iter().filter(|l| acked.contains(*l)).collect();
    c.record(
        "acked-not-redelivered",
        repeated.is_empty(),
        format!("{} acknowledged items never came again", acked.len()),
        format!("acknowledged items came again: {repeated:?}"),
    );
    Ok(())
}

const ENUM_10: [ClauseSpec; 1] = [doc(
    "dropped-not-resent",
    "items acknowledged with a dropped count are not sent again",
    "DXCR/p40",
)];

async fn enum_10(ctx: Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let api = Api::of(&ctx)?;
    let ours = published_immutables(&ctx, &api, 3).await?;
    let started = api.start(PUBLISH_ALL, "type=UUID").await?;
    let (first, _, token) = batch_with_ours(&api, &started.id, started.token, &ours).await?;
    let dropped = format!("maxItems=1000&dropped={}", first.len());
    let rest = api.drain(&started.id, token, &dropped).await;
    let _ = api.end(&started.id).await;
    let rest: Vec<String> = rest?.iter().flat_map(lines).collect();
    let resent: Vec<&String> = rest.iter().filter(|l| first.contains(*l)).collect();
    c.check(
        "dropped-not-resent",
        resent.is_empty(),
        format!("{} dropped items were not sent again", first.len()),
        format!("dropped items were sent again: {resent:?}"),
    )
}

const ENUM_11: [ClauseSpec; 1] = [consistency(
    "each-once",
    "an enumeration read to its end lists each immutable written once, exactly once, in any order",
)];

async fn enum_11(ctx: Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let api = Api::of(&ctx)?;
    let ours = published_immutables(&ctx, &api, 3).await?;
    let seen = api.lines_of(PUBLISH_ALL, "type=UUID").await?;
    let n = counts(&seen, &ours);
    c.check(
        "each-once",
        n.values().all(|k| *k == 1),
        "each of 3 immutables listed once",
        format!("times each immutable was listed: {n:?}"),
    )
}

const ENUM_12: [ClauseSpec; 2] = [
    doc(
        "zero-pauses",
        "with items waiting, a Next with maxItems=0 answers 200 with no items",
        "DXCR/p42",
    ),
    doc(
        "resumes",
        "a later Next with a non-zero maxItems returns the waiting items",
        "DXCR/p42",
    ),
];

async fn enum_12(ctx: Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let api = Api::of(&ctx)?;
    let ours = published_immutables(&ctx, &api, 2).await?;
    let started = api.start(PUBLISH_ALL, "type=UUID").await?;
    let paused = api
        .next(&started.id, &token_query(&started.token, "maxItems=0"))
        .await?;
    expect_status(&paused, &[200], "Next with maxItems=0")?;
    let held = lines(&paused);
    c.record(
        "zero-pauses",
        held.is_empty(),
        "200 with no items",
        format!("maxItems=0 returned {} items", held.len()),
    );
    let token = paused.header("content-sync-token").map(str::to_string);
    let rest = api.drain(&started.id, token, "maxItems=1000").await;
    let _ = api.end(&started.id).await;
    let rest: Vec<String> = rest?.iter().flat_map(lines).collect();
    let n = counts(&rest, &ours);
    c.record(
        "resumes",
        n.values().all(|k| *k >= 1),
        "maxItems=1000 resumed with the waiting items",
        format!("after the pause, times each waiting item came: {n:?}"),
    );
    Ok(())
}

const ENUM_13: [ClauseSpec; 2] = [
    doc(
        "read-keeps-alive",
        "an enumerator read more often than its timeout lives on",
        "DXCR/p42",
    ),
    doc(
        "expired-404",
        "an enumerator unread for its timeout answers 404",
        "DXCR/p42",
    ),
];

async fn enum_13(ctx: Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let api = Api::of(&ctx)?;
    let started = api.start(PUBLISH_ALL, "type=UUID&timeout=3").await?;
    let mut token = started.token;
    for _ in 0..3 {
        replisim_sim::rt::sleep(Duration::from_millis(1500)).await;
        let r = api
            .next(&started.id, &token_query(&token, "maxItems=1"))
            .await?;
        if r.status != 200 {
            return Err(c.fail(
                "read-keeps-alive",
                format!("read every 1.5 s with timeout=3, it answered {}", r.status),
            ));
        }
        token = r.header("content-sync-token").map(str::to_string);
    }
    c.pass(
        "read-keeps-alive",
        "read every 1.5 s for 4.5 s with timeout=3: 200 each time",
    );
    replisim_sim::rt::sleep(Duration::from_secs(5)).await;
    let late = api
        .next(&started.id, &token_query(&token, "maxItems=1"))
        .await?;
    let _ = api.end(&started.id).await;
    c.check(
        "expired-404",
        late.status == 404,
        "unread for 5 s with timeout=3: 404",
        format!("unread for 5 s with timeout=3, it answered {}", late.status),
    )
}

const ENUM_14: [ClauseSpec; 2] = [
    doc(
        "deleted-200",
        "End answers 200 with the body Object Enumerator deleted",
        "DXCR/p41",
    ),
    doc("next-404", "a Next after End answers 404", "DXCR/p41"),
];

async fn enum_14(ctx: Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let api = Api::of(&ctx)?;
    let started = api.start(PUBLISH_ALL, "type=UUID").await?;
    let ended = api.end(&started.id).await?;
    let body = String::from_utf8_lossy(&ended.body).trim().to_string();
    c.record(
        "deleted-200",
        ended.status == 200 && body == "Object Enumerator deleted",
        "200 Object Enumerator deleted",
        format!("End answered {} `{body}`", ended.status),
    );
    let after = api.next(&started.id, "").await?;
    c.check(
        "next-404",
        after.status == 404,
        "404 after End",
        format!("Next after End answered {}", after.status),
    )
}

const ENUM_15: [ClauseSpec; 1] = [doc(
    "rules-change-404",
    "after a rules change an enumerator answers 404, and Start works again",
    "DXCR/ch5.3",
)];

async fn enum_15(ctx: Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let api = Api::of(&ctx)?;
    let Some(control) = ctx.control.clone() else {
        c.not_observed(
            "rules-change-404",
            "needs control over the publisher's rules file, which an HTTP target does not offer",
        );
        return Ok(());
    };
    let started = api.start(PUBLISH_ALL, "type=UUID").await?;
    let before = api
        .next(&started.id, &token_query(&started.token, ""))
        .await?;
    expect_status(&before, &[200], "Next before the rules change")?;
    let rules = format!("{}channel replisim-changed\n", super::RULES_FILE);
    if let Err(why) = control.change_publisher_rules(rules).await {
        c.not_observed("rules-change-404", why);
        return Ok(());
    }
    let after = api.next(&started.id, "").await?;
    let again = api.start(PUBLISH_ALL, "type=UUID").await?;
    let _ = api.end(&again.id).await;
    c.check(
        "rules-change-404",
        after.status == 404,
        "404 after the rules change; Start answered 201 again",
        format!("after the rules change, Next answered {}", after.status),
    )
}

const ENUM_16: [ClauseSpec; 2] = [
    doc(
        "max-items-persists",
        "maxItems given on Start applies to a Next that does not repeat it",
        "DXCR/p39",
    ),
    doc(
        "override-persists",
        "a maxItems changed on a Next applies to the later Nexts",
        "DXCR/p39",
    ),
];

async fn enum_16(ctx: Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let api = Api::of(&ctx)?;
    published_immutables(&ctx, &api, 6).await?;
    let started = api.start(PUBLISH_ALL, "type=UUID&maxItems=1").await?;
    let first = api
        .next(&started.id, &token_query(&started.token, ""))
        .await?;
    expect_status(&first, &[200], "Next")?;
    let n1 = lines(&first).len();
    c.record(
        "max-items-persists",
        n1 == 1,
        "maxItems=1 from Start: 1 item",
        format!("maxItems=1 on Start, a Next without it returned {n1} items"),
    );
    let token = first.header("content-sync-token").map(str::to_string);
    let second = api
        .next(&started.id, &token_query(&token, "maxItems=2"))
        .await?;
    expect_status(&second, &[200], "Next")?;
    let token = second.header("content-sync-token").map(str::to_string);
    let third = api.next(&started.id, &token_query(&token, "")).await?;
    let _ = api.end(&started.id).await;
    expect_status(&third, &[200], "Next")?;
    let n3 = lines(&third).len();
    c.record(
        "override-persists",
        n3 == 2,
        "maxItems=2 from the previous Next: 2 items",
        format!("maxItems=2 on one Next, the next one returned {n3} items"),
    );
    Ok(())
}
