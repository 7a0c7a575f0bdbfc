//! What Rucio's daemons do to the catalog (RUC-20 necromancer, RUC-24 judge-cleaner and
//! reaper), checked where something can run them: the simulator's control runs one round
//! of the daemons on demand ([`Control::run_rucio_daemons`]) and reads and writes the RSEs'
//! storage. Rucio's REST API cannot start a daemon, so against a server the rules are
//! skipped with that reason, never passed.
//!
//! [`Control::run_rucio_daemons`]: crate::target::Control::run_rucio_daemons

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::json;

use super::api::{self, add, call, declare_bad, login, states};
use super::rule;
use crate::catalog::{Rule, Strength};
use crate::check_fn;
use crate::clause::{doc, ClauseSpec};
use crate::target::{Control, Ctx};
use crate::verdict::Verdict;

/// Rucio's necromancer documentation (`bin/rucio-necromancer`).
pub const SRC_NECROMANCER: &str = "RUCIO/necromancer";
/// Rucio's deletion overview and the judge-cleaner and reaper code (`core/rule.py`,
/// `core/replica.py list_and_mark_unlocked_replicas`).
pub const SRC_DELETION: &str = "RUCIO/deletion";

/// The bytes every file of these checks holds (`api::file`'s size and adler32).
const BODY: &[u8] = b"abc";

const RUC_20: [ClauseSpec; 3] = [
    doc(
        "recovered",
        "a BAD replica whose file has an AVAILABLE replica on another RSE is AVAILABLE again once the necromancer has run (a new transfer, not a lost file)",
        SRC_NECROMANCER,
    ),
    doc(
        "bytes-restored",
        "the recovered replica's bytes are on its RSE's storage again, the same as the other copy's",
        SRC_NECROMANCER,
    ),
    doc(
        "lost-unlisted",
        "a BAD replica whose file has no other replica is removed: the file is lost and lists no replica in any state",
        SRC_NECROMANCER,
    ),
];

const RUC_24: [ClauseSpec; 5] = [
    doc(
        "not-before-expiry",
        "while a rule lives, the reaper deletes none of the replicas it locks",
        SRC_DELETION,
    ),
    doc(
        "obsolete-reaped",
        "once its rule expired, an UNAVAILABLE replica (tombstone OBSOLETE) is deleted: gone from listings and from its RSE's storage",
        SRC_DELETION,
    ),
    doc(
        "lru-reaped",
        "once its rule expired, an AVAILABLE replica nothing else locks (tombstone: its last access or creation, in the past) is deleted from listings and storage",
        SRC_DELETION,
    ),
    doc(
        "locked-kept",
        "a replica another rule still locks is never deleted",
        SRC_DELETION,
    ),
    doc(
        "future-tombstone-kept",
        "a replica whose tombstone is in the future is not deleted",
        SRC_DELETION,
    ),
];

/// The daemon rules.
pub fn rules() -> Vec<Rule> {
    vec![
        rule("RUC-20", "the necromancer re-replicates a BAD replica from another RSE, or marks the file lost (replica gone from listings) when no other copy exists; needs daemon control (simulator)", SRC_NECROMANCER, Strength::Must, ruc_20, &RUC_20),
        rule("RUC-24", "rule expiry tombstones released replicas (OBSOLETE if UNAVAILABLE, else LRU) and the reaper deletes those whose tombstone passed, never locked ones or future tombstones; needs daemon control (simulator)", SRC_DELETION, Strength::Must, ruc_24, &RUC_24),
    ]
}

check_fn!(ruc_20, check_ruc_20);
check_fn!(ruc_24, check_ruc_24);

/// The control that runs the daemons, after a first round (nothing of this rule exists
/// yet, so it changes nothing the rule looks at); a skip with the reason when the target
/// has none.
async fn daemons(ctx: &Ctx) -> Result<Arc<dyn Control>, Verdict> {
    let why = "Rucio's REST API cannot run its daemons (necromancer, judge-cleaner, reaper), and this target offers no daemon control";
    let Some(control) = ctx.control.clone() else {
        return Err(Verdict::skip(why));
    };
    match control.run_rucio_daemons().await {
        Ok(_) => Ok(control),
        Err(e) => Err(Verdict::skip(format!("{why}: {e}"))),
    }
}

/// One daemon round; its summary.
async fn run_round(control: &Arc<dyn Control>) -> Result<String, Verdict> {
    control
        .run_rucio_daemons()
        .await
        .map_err(|e| Verdict::fail(format!("the daemon round failed: {e}")))
}

/// Stores the file's bytes on `rse`'s storage, as an upload does before registering it.
async fn upload(control: &Arc<dyn Control>, rse: &str, name: &str) -> Result<(), Verdict> {
    control
        .put_rse_file(rse, api::SCOPE, name, Bytes::from_static(BODY))
        .await
        .map_err(|e| Verdict::fail(format!("writing {name} to {rse}'s storage: {e}")))
}

/// What `rse`'s storage holds of `name`.
async fn stored(
    control: &Arc<dyn Control>,
    rse: &str,
    name: &str,
) -> Result<Option<Bytes>, Verdict> {
    control
        .rse_file(rse, api::SCOPE, name)
        .await
        .map_err(|e| Verdict::fail(format!("reading {name} from {rse}'s storage: {e}")))
}

/// Registers `name` on `rse` with extra file keys; a failure unless 201.
async fn register(
    ctx: &Ctx,
    token: &str,
    rse: &str,
    name: &str,
    extra: serde_json::Value,
) -> Result<(), Verdict> {
    let mut file = api::file(name);
    if let (Some(f), serde_json::Value::Object(more)) = (file.as_object_mut(), extra) {
        f.extend(more);
    }
    let resp = add(ctx, token, rse, json!([file])).await?;
    api::expect(&resp, 201, &format!("POST /replicas of {name} on {rse}"))
}

async fn check_ruc_20(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let control = daemons(ctx).await?;
    let root = login(ctx, api::ROOT).await?;
    let rec = api::name(ctx, "rec");
    let sole = api::name(ctx, "sole");
    for (rse, name) in [("EAST", &rec), ("WEST", &rec), ("EAST", &sole)] {
        upload(&control, rse, name).await?;
        register(ctx, &root, rse, name, json!({})).await?;
    }
    // EAST loses rec's bytes; both EAST replicas are declared bad.
    control
        .delete_rse_file("EAST", api::SCOPE, &rec)
        .await
        .map_err(|e| Verdict::fail(format!("deleting {rec} from EAST's storage: {e}")))?;
    let declared = declare_bad(
        ctx,
        &root,
        &[api::pfn("EAST", &rec), api::pfn("EAST", &sole)],
    )
    .await?;
    api::expect(&declared, 201, "POST /replicas/bad")?;
    let before = states(ctx, &root, &rec).await?;
    if before.get("EAST").map(String::as_str) != Some("BAD") {
        return Err(Verdict::fail(format!(
            "declaring {rec} bad on EAST did not make it BAD (states {before:?}); RUC-17 fails first"
        )));
    }
    let round = run_round(&control).await?;
    let rec_states = states(ctx, &root, &rec).await?;
    c.record(
        "recovered",
        rec_states.get("EAST").map(String::as_str) == Some("AVAILABLE")
            && rec_states.get("WEST").map(String::as_str) == Some("AVAILABLE"),
        format!("after a daemon round ({round}): states {rec_states:?}"),
        format!("after a daemon round ({round}) the file with a copy on WEST has states {rec_states:?}, not EAST and WEST AVAILABLE"),
    );
    let bytes = stored(&control, "EAST", &rec).await?;
    c.record(
        "bytes-restored",
        bytes.as_deref() == Some(BODY),
        format!("EAST's storage holds {rec} again ({} bytes)", BODY.len()),
        format!(
            "EAST's storage holds {} of {rec} after the recovery (states {rec_states:?})",
            match &bytes {
                Some(b) => format!("{} other bytes", b.len()),
                None => "nothing".to_string(),
            }
        ),
    );
    let items = api::list(ctx, &root, &sole, json!({"all_states": true})).await?;
    let sole_states = states(ctx, &root, &sole).await?;
    let listed: Vec<Vec<String>> = items.iter().map(api::rses_of).collect();
    c.record(
        "lost-unlisted",
        sole_states.is_empty() && listed.iter().all(Vec::is_empty),
        format!("{sole} lists no replica (items' rses {listed:?})"),
        format!("the sole-copy file {sole} still lists states {sole_states:?} (rses {listed:?}) after the daemon round ({round})"),
    );
    Ok(())
}

async fn check_ruc_24(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    let control = daemons(ctx).await?;
    let root = login(ctx, api::ROOT).await?;
    let limit = call(
        ctx,
        Some(&root),
        "POST",
        "/accountlimits/local/root/EAST",
        Some(&json!({"bytes": 1_000_000_000_000u64})),
        &[],
    )
    .await?;
    api::expect(&limit, 201, "POST /accountlimits/local/root/EAST")?;
    let lru = api::name(ctx, "lru");
    let obs = api::name(ctx, "obs");
    let kept = api::name(ctx, "kept");
    let future = api::name(ctx, "future");
    let files = [
        (&lru, json!({})),
        (&obs, json!({"state": "U"})),
        (&kept, json!({})),
        // Rucio's DATE_FORMAT, which its JSON decoder turns into a date.
        (
            &future,
            json!({"tombstone": "Fri, 01 Jan 2100 00:00:00 UTC"}),
        ),
    ];
    for (name, extra) in files {
        upload(&control, "EAST", name).await?;
        register(ctx, &root, "EAST", name, extra).await?;
    }
    let add_rule = |names: Vec<String>, lifetime: Option<u64>| {
        let root = root.clone();
        async move {
            let dids: Vec<_> = names
                .iter()
                .map(|n| json!({"scope": api::SCOPE, "name": n}))
                .collect();
            let body = json!({
                "dids": dids, "account": "root", "copies": 1, "rse_expression": "EAST",
                "grouping": "NONE", "weight": null, "lifetime": lifetime, "locked": false,
                "subscription_id": null});
            let made = call(ctx, Some(&root), "POST", "/rules/", Some(&body), &[]).await?;
            api::expect(&made, 201, "POST /rules/")
        }
    };
    add_rule(vec![lru.clone(), obs.clone(), kept.clone()], Some(1)).await?;
    add_rule(vec![kept.clone()], None).await?;
    let present = |s: &std::collections::BTreeMap<String, String>| s.contains_key("EAST");
    let early = run_round(&control).await?;
    let mut early_states = Vec::new();
    for name in [&lru, &obs, &kept] {
        early_states.push((name.clone(), states(ctx, &root, name).await?));
    }
    c.record(
        "not-before-expiry",
        early_states.iter().all(|(_, s)| present(s)),
        format!("before the lifetime ended ({early}) every locked replica is listed"),
        format!(
            "before the rule's 1 s lifetime ended ({early}) the listing shows {early_states:?}"
        ),
    );
    // The simulated clock passes the rule's one-second lifetime.
    replisim_sim::rt::sleep(Duration::from_secs(2)).await;
    let round = run_round(&control).await?;
    let mut seen = Vec::new();
    for name in [&lru, &obs, &kept, &future] {
        let s = states(ctx, &root, name).await?;
        let bytes = stored(&control, "EAST", name).await?;
        seen.push((s, bytes));
    }
    let gone = |i: usize| !present(&seen[i].0) && seen[i].1.is_none();
    let kept_whole = |i: usize| {
        seen[i].0.get("EAST").map(String::as_str) == Some("AVAILABLE")
            && seen[i].1.as_deref() == Some(BODY)
    };
    let show = |i: usize| {
        format!(
            "states {:?}, storage {}",
            seen[i].0,
            if seen[i].1.is_some() {
                "holds it"
            } else {
                "holds nothing"
            }
        )
    };
    c.record(
        "obsolete-reaped",
        gone(1),
        format!("after the rule expired ({round}): {obs} gone"),
        format!(
            "after the rule expired ({round}) the UNAVAILABLE replica {obs}: {}",
            show(1)
        ),
    );
    c.record(
        "lru-reaped",
        gone(0),
        format!("after the rule expired ({round}): {lru} gone"),
        format!(
            "after the rule expired ({round}) the AVAILABLE replica {lru}: {}",
            show(0)
        ),
    );
    c.record(
        "locked-kept",
        kept_whole(2),
        format!("{kept}, still locked by a second rule, stays: {}", show(2)),
        format!(
            "{kept}, still locked by a second rule, after the round ({round}): {}",
            show(2)
        ),
    );
    c.record(
        "future-tombstone-kept",
        kept_whole(3),
        format!("{future}, tombstoned for 2100, stays: {}", show(3)),
        format!(
            "{future}, tombstoned for 2100, after the round ({round}): {}",
            show(3)
        ),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clause_sources_name_the_daemon_documents() {
        for c in RUC_20.iter().chain(RUC_24.iter()) {
            assert!(
                c.basis.detail().starts_with("RUCIO/"),
                "{} cites {}",
                c.slug,
                c.basis.detail()
            );
        }
        assert_eq!(rules().len(), 2);
    }
}
