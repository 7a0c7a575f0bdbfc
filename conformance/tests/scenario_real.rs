//! Scenario files over real TCP: the reference cluster from `replisim_sim::serve`, started
//! in-process on ephemeral loopback ports, one fresh cluster per scenario. Every scenario
//! that needs nothing a real cluster lacks (faults, clock skew, cluster configuration) runs
//! and must pass, exactly as in the simulator; scenarios needing more are skipped with a
//! reason that names the step and what it needs.
//!
//! Scenarios whose simulated waits are long (the 61 s auth-token expiry, health-processor
//! repairs) would cost that much real time here; they are left to the simulator, which
//! `tests/scenarios.rs` runs on every seed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use replisim_conformance::scenario::{
    load, report, run_real, Action, Outcome, RealControl, Scenario, WaitFor, Waited,
};
use replisim_sim::serve::{self, ServeConfig};

/// Most real time a scenario may sleep to be run here.
const SLEEP_MAX: Duration = Duration::from_secs(3);

fn scenarios() -> Vec<(PathBuf, Scenario)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut out: Vec<(PathBuf, Scenario)> = std::fs::read_dir(dir)
        .expect("scenarios/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| {
            let s = load(&p).unwrap_or_else(|e| panic!("{e}"));
            (p, s)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// True when the scenario is quick in real time: short sleeps, no waits on the disks.
fn quick(s: &Scenario) -> bool {
    let slept: Duration = s
        .steps
        .iter()
        .filter_map(|st| match st.action {
            Action::Sleep(d) => Some(d),
            _ => None,
        })
        .sum();
    let waits_on_disks = s.steps.iter().any(|st| {
        matches!(
            st.action,
            Action::WaitFor(WaitFor {
                what: Waited::Condition(_),
                ..
            })
        )
    });
    slept <= SLEEP_MAX && !waits_on_disks
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Runs one scenario against a fresh in-process cluster, with or without its controls.
fn run_on_fresh_cluster(rt: &tokio::runtime::Runtime, s: &Scenario, with_control: bool) -> Outcome {
    rt.block_on(async {
        let cluster = serve::start(ServeConfig::new(s.cluster.nodes, 0))
            .await
            .expect("cluster on ephemeral loopback ports");
        let control = with_control.then(|| RealControl::from(&cluster));
        run_real(s, &cluster.addrs, control, 0, "-real").await
    })
}

#[test]
fn scenarios_pass_over_real_tcp_against_serve() {
    let rt = runtime();
    let mut ran = Vec::new();
    let mut skipped = Vec::new();
    for (path, s) in scenarios() {
        if !quick(&s) {
            continue;
        }
        let outcome = run_on_fresh_cluster(&rt, &s, true);
        if let Some(why) = &outcome.skipped {
            skipped.push(format!("{}: {why}", path.display()));
            continue;
        }
        assert!(
            outcome.passed(),
            "over real TCP:\n{}",
            report(&s, &(0..1), std::slice::from_ref(&outcome), &[], true)
        );
        ran.push(
            path.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
        );
    }
    assert!(
        ran.len() >= 15,
        "only {} scenarios ran over real TCP: {ran:?}",
        ran.len()
    );
    for must in [
        "unnamed_write.toml",
        "redirect_301_retiring.toml",
        "multipart_202.toml",
    ] {
        assert!(ran.iter().any(|r| r == must), "{must} did not run: {ran:?}");
    }
    // Faults cannot be applied to real nodes: those scenarios say so.
    assert!(
        skipped
            .iter()
            .any(|s| s.contains("row_412_one_node_alive")
                && s.contains("needs fault `crash node=1`")),
        "{skipped:#?}"
    );
}

#[test]
fn without_control_a_retire_step_is_skipped_with_its_reason() {
    let rt = runtime();
    let (_, s) = scenarios()
        .into_iter()
        .find(|(p, _)| p.ends_with("redirect_301_retiring.toml"))
        .expect("the 301 scenario exists");
    let outcome = run_on_fresh_cluster(&rt, &s, false);
    let why = outcome.skipped.expect("skipped without operator switches");
    assert!(
        why.contains("step 2") && why.contains("retire") && why.contains("does not offer"),
        "{why}"
    );
    assert!(outcome.steps.is_empty(), "nothing ran");
}

#[test]
fn configuration_a_real_target_cannot_honour_is_a_skip() {
    let rt = runtime();
    let (_, s) = scenarios()
        .into_iter()
        .find(|(p, _)| p.ends_with("disk_full_507.toml"))
        .expect("the 507 scenario exists");
    let outcome = run_on_fresh_cluster(&rt, &s, true);
    let why = outcome.skipped.expect("skipped: disk sizes cannot be set");
    assert!(why.contains("[cluster] disk"), "{why}");
}
