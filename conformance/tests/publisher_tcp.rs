//! The `publisher` family over real TCP, as a vendor runs it: `replisim serve --publisher`'s
//! pieces (a loopback SCSP cluster and a reference publisher watching it) checked with
//! `--target scsp=… --target publisher=…` in the vendor profile. Nothing fails; only the
//! rule that needs control a real publisher lacks (a rules change, ENUM-15) is left
//! PARTIAL, never PASS. The same against the publisher under every alternative choice at
//! once (the choice sweep over TCP).

use std::net::SocketAddr;

use replisim_conformance::catalog::{self, Rule, Selection};
use replisim_conformance::families::Targets;
use replisim_conformance::runner::{self, RunOptions, TargetSpec};
use replisim_conformance::verdict::{Outcome, RuleResult};
use replisim_sim::publisher::alternatives::PublisherAlternatives;
use replisim_sim::publisher::host::PublisherConfig;
use replisim_sim::publisher::rules::Rules;
use replisim_sim::serve::{self, ServeConfig};

/// The family as `--protocol publisher` selects it.
fn publisher_rules() -> Vec<Rule> {
    catalog::select_with(&Selection {
        protocols: vec!["publisher".into()],
        ..Selection::default()
    })
    .expect("publisher rules")
}

/// Runs the family against a fresh loopback cluster and publisher with these choices.
fn run_against_serve(alternatives: PublisherAlternatives) -> Vec<RuleResult> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let (nodes, publisher) = runtime.block_on(async {
        let cluster = serve::start(ServeConfig::new(3, 0))
            .await
            .expect("cluster on loopback");
        let mut config = PublisherConfig::new(SocketAddr::from(([127, 0, 0, 1], 0)), Vec::new());
        config.rules = Rules::parse("channel replisim-named kind=named\n").expect("valid rules");
        config.alternatives = alternatives;
        let publisher = serve::start_publisher(config.addr, cluster.addrs.clone(), config)
            .await
            .expect("publisher on loopback");
        (cluster.addrs, publisher.addr)
    });
    let scsp: Vec<String> = nodes.iter().map(|a| format!("http://{a}")).collect();
    let targets = Targets::parse(&[
        format!("scsp={}", scsp.join(",")),
        format!("publisher=http://{publisher}"),
    ])
    .expect("targets");
    let mut options = RunOptions::sim(5);
    options.target = TargetSpec::Roles(targets);
    options.rule_timeout = std::time::Duration::from_secs(120);
    let rules = publisher_rules();
    let results = std::thread::spawn(move || runner::run(&rules, &options))
        .join()
        .expect("runner thread");
    drop(runtime);
    results
}

fn assert_vendor_verdicts(results: &[RuleResult], label: &str) {
    assert_eq!(results.len(), 16, "{label}");
    for r in results {
        eprintln!(
            "{label} {} {}: {}",
            r.id,
            r.verdict.outcome.as_str(),
            r.verdict.evidence
        );
        assert_ne!(
            r.verdict.outcome,
            Outcome::Fail,
            "{label} {}: {}",
            r.id,
            r.verdict.evidence
        );
        if r.id == "ENUM-15" {
            assert_eq!(
                r.verdict.outcome,
                Outcome::Partial,
                "{label}: a rules change needs control a real publisher lacks: {}",
                r.verdict.evidence
            );
        } else {
            assert_eq!(
                r.verdict.outcome,
                Outcome::Pass,
                "{label} {}: {}",
                r.id,
                r.verdict.evidence
            );
        }
    }
}

#[test]
fn the_family_over_real_tcp_against_serve_has_no_fail() {
    let results = run_against_serve(PublisherAlternatives::default());
    assert_vendor_verdicts(&results, "reference");
}

#[test]
fn every_publisher_alternative_at_once_over_real_tcp_has_no_fail() {
    let all = PublisherAlternatives::all_alternatives();
    let results = run_against_serve(all);
    assert_vendor_verdicts(&results, &all.to_string());
}
