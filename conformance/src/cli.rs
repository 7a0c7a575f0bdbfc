//! The `replisim` command line: argument definitions and what each subcommand does.
//! Exit codes: 0 every rule passed (skips allowed), 1 a rule failed, 2 the harness or its
//! input failed.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use replisim_sim::faults::FaultKind;
use replisim_sim::nemesis::NemesisConfig;
use replisim_sim::scsp::defects::Defect;
use replisim_sim::serve::{self, ServeConfig};
use replisim_sim::sweep::SweepConfig;

use crate::catalog;
use crate::report;
use crate::runner::{self, RunOptions, TargetSpec};

/// replisim: a deterministic cluster simulator and conformance harness for replicated
/// object storage (SCSP).
#[derive(Debug, Parser)]
#[command(name = "replisim", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the conformance catalog against the embedded simulated cluster (default) or a
    /// real cluster (--target), and print a per-rule table.
    Check(CheckArgs),
    /// Run the reference cluster over real TCP on this machine until interrupted.
    Serve(ServeArgs),
    /// Run a workload under seeded random faults over many seeds and check the invariants
    /// (durability, convergence, integrity, order).
    Sweep(SweepArgs),
    /// Run scenario files (scenarios/*.toml) in the simulator, or against real nodes with
    /// --target, and report each failing step with the command that replays it.
    Run(crate::scenario::RunArgs),
    /// List the rules of the catalog.
    Rules,
    /// List the reference node's deliberate defects and the rule each must trip.
    Mutants,
}

/// Colour choice for terminal output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when standard output is a terminal.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// Arguments of `replisim check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Seed of the run: the same seed replays the same simulated run exactly.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Real nodes to check instead of the simulator, comma-separated
    /// (`http://127.0.0.1:8080,http://127.0.0.1:8081`).
    #[arg(long, value_delimiter = ',')]
    pub target: Vec<String>,
    /// Only rules whose id matches (`SCSP-3`, `SCSP-1*`); repeatable.
    #[arg(long = "rule")]
    pub rules: Vec<String>,
    /// Nodes in the simulated cluster.
    #[arg(long, default_value_t = 4)]
    pub nodes: usize,
    /// Switch on a deliberate defect in the simulated reference node (see `replisim
    /// mutants`); repeatable.
    #[arg(long = "defect")]
    pub defects: Vec<String>,
    /// Budget per rule in seconds (simulated time in the simulator).
    #[arg(long, default_value_t = 600)]
    pub rule_timeout_secs: u64,
    /// When to colour the table.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// Arguments of `replisim serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Number of nodes.
    #[arg(long, default_value_t = 4)]
    pub nodes: usize,
    /// Port of the first node; node i listens on port + i. 0 picks free ports.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
    /// Seed for placement tie-breaks and UUIDs.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Disk size of each node in MiB.
    #[arg(long, default_value_t = 1024)]
    pub disk_mib: u64,
}

/// Arguments of `replisim sweep`.
#[derive(Debug, clap::Args)]
pub struct SweepArgs {
    /// Seeds to run, `A..B` (B exclusive).
    #[arg(long, conflicts_with = "seed")]
    pub seeds: Option<String>,
    /// One seed to run (replay); with --trace, write its timeline.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Seeds run at once.
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// Fault kinds, comma-separated: crash, pause, partition, loss, latency, clock,
    /// disk-full, bitrot, lose; or all, or none.
    #[arg(long, default_value = "all")]
    pub faults: String,
    /// Fault rate relative to the default (6 faults per simulated minute).
    #[arg(long, default_value_t = 1.0)]
    pub intensity: f64,
    /// Operations of the workload per seed.
    #[arg(long, default_value_t = 200)]
    pub ops: usize,
    /// Length of the fault phase in simulated seconds (the workload may run longer).
    #[arg(long, default_value_t = 60)]
    pub duration_secs: u64,
    /// Nodes in the cluster.
    #[arg(long, default_value_t = 4)]
    pub nodes: usize,
    /// Switch on a deliberate defect (see `replisim mutants`); repeatable.
    #[arg(long = "defect")]
    pub defects: Vec<String>,
    /// Write a Chrome-trace / Perfetto JSON timeline of the run (needs --seed).
    #[arg(long, requires = "seed")]
    pub trace: Option<std::path::PathBuf>,
}

/// Runs a parsed command line.
pub fn main_with(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Check(args) => check(args),
        Command::Serve(args) => serve_forever(args),
        Command::Sweep(args) => sweep(args),
        Command::Run(args) => crate::scenario::run_command(args),
        Command::Rules => {
            print!("{}", rules_table());
            ExitCode::SUCCESS
        }
        Command::Mutants => {
            print!("{}", mutants_table());
            ExitCode::SUCCESS
        }
    }
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("replisim: {message}");
    ExitCode::from(2)
}

/// Parses `http://host:port`, `host:port` or `host` (port 80) into an address.
pub fn parse_target(url: &str) -> Result<SocketAddr, String> {
    let rest = url.trim();
    if rest.starts_with("https://") {
        return Err(format!(
            "{url}: https is not supported; SCSP nodes speak plain HTTP/1.1"
        ));
    }
    let rest = rest.strip_prefix("http://").unwrap_or(rest);
    let authority = rest.split('/').next().unwrap_or("");
    if authority.is_empty() {
        return Err(format!("{url}: no host"));
    }
    let with_port = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()) && !p.is_empty())
        && !authority.ends_with(']')
    {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    with_port
        .to_socket_addrs()
        .map_err(|e| format!("{url}: {e}"))?
        .next()
        .ok_or_else(|| format!("{url}: resolves to no address"))
}

fn check(args: CheckArgs) -> ExitCode {
    let rules = match catalog::select(&args.rules) {
        Ok(r) => r,
        Err(e) => return usage_error(&e),
    };
    let defects = match parse_defects(&args.defects) {
        Ok(d) => d,
        Err(e) => return usage_error(&e),
    };
    let target = if args.target.is_empty() {
        if !(1..=250).contains(&args.nodes) {
            return usage_error("--nodes must be between 1 and 250");
        }
        TargetSpec::Sim {
            nodes: args.nodes,
            defects,
        }
    } else {
        if !defects.is_empty() {
            return usage_error(
                "--defect switches the simulated reference node; it cannot apply to --target",
            );
        }
        let mut nodes = Vec::new();
        for url in &args.target {
            match parse_target(url) {
                Ok(a) => nodes.push(a),
                Err(e) => return usage_error(&e),
            }
        }
        TargetSpec::Http { nodes }
    };
    let described = match &target {
        TargetSpec::Sim { nodes, defects } if defects.is_empty() => {
            format!("simulated cluster of {nodes} nodes")
        }
        TargetSpec::Sim { nodes, defects } => format!(
            "simulated cluster of {nodes} nodes with defects {}",
            defects
                .iter()
                .map(|d| d.name())
                .collect::<Vec<_>>()
                .join(",")
        ),
        TargetSpec::Http { nodes } => format!(
            "{}",
            nodes
                .iter()
                .map(|a| format!("http://{a}"))
                .collect::<Vec<_>>()
                .join(",")
        ),
    };
    println!(
        "replisim check: {} rules against {described}, seed {}",
        rules.len(),
        args.seed
    );
    let mut options = RunOptions::sim(args.seed);
    options.target = target;
    options.rule_timeout = Duration::from_secs(args.rule_timeout_secs.max(1));
    let results = runner::run(&rules, &options);
    let color = match args.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => std::io::stdout().is_terminal(),
    };
    print!("{}", report::table(&results, color));
    let summary = report::summarize(&results);
    if summary.failed > 0 {
        let mut replay = format!("replisim check --seed {}", args.seed);
        for d in &args.defects {
            replay.push_str(&format!(" --defect {d}"));
        }
        if !args.target.is_empty() {
            replay.push_str(&format!(" --target {}", args.target.join(",")));
        }
        println!("replay: {replay}");
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn parse_defects(names: &[String]) -> Result<BTreeSet<Defect>, String> {
    names.iter().map(|n| n.parse::<Defect>()).collect()
}

fn sweep(args: SweepArgs) -> ExitCode {
    let seeds = match (&args.seeds, args.seed) {
        (Some(range), None) => match crate::sweep::parse_seeds(range) {
            Ok(r) => r,
            Err(e) => return usage_error(&e),
        },
        (None, Some(seed)) => seed..seed + 1,
        _ => return usage_error("give --seeds A..B or --seed N"),
    };
    let kinds = match FaultKind::parse_list(&args.faults) {
        Ok(k) => k,
        Err(e) => return usage_error(&e),
    };
    let defects = match parse_defects(&args.defects) {
        Ok(d) => d,
        Err(e) => return usage_error(&e),
    };
    if !(1..=250).contains(&args.nodes) {
        return usage_error("--nodes must be between 1 and 250");
    }
    if !(args.intensity.is_finite() && args.intensity >= 0.0) {
        return usage_error("--intensity must be a number ≥ 0");
    }
    let mut config = SweepConfig::new();
    config.nodes = args.nodes;
    config.workload.ops = args.ops;
    config.nemesis = NemesisConfig::new(kinds).with_intensity(args.intensity);
    config.nemesis.duration = std::time::Duration::from_secs(args.duration_secs.max(1));
    // Room for the workload to outlast the faults, and for the liveness phase.
    config.time_limit = std::time::Duration::from_secs(
        (args.duration_secs.max(1) * 3).max(3600) + (args.ops as u64).saturating_mul(2),
    );
    config.defects = defects;
    config.keep_trace = args.trace.is_some();
    let mut replay_args = format!(
        " --faults {} --intensity {} --ops {} --duration-secs {} --nodes {}",
        args.faults, args.intensity, args.ops, args.duration_secs, args.nodes
    );
    for d in &args.defects {
        replay_args.push_str(&format!(" --defect {d}"));
    }
    println!(
        "replisim sweep: seeds {}..{}, {} jobs, faults {}, intensity {}, {} ops on {} nodes",
        seeds.start,
        seeds.end,
        args.jobs.max(1),
        args.faults,
        args.intensity,
        args.ops,
        args.nodes
    );
    let started = std::time::Instant::now();
    let outcome = crate::sweep::run(
        seeds,
        args.jobs,
        &config,
        &crate::sweep::terminal_progress(started),
    );
    print!("{}", crate::sweep::summary(&outcome, &replay_args));
    if let (Some(path), Some(report)) = (&args.trace, outcome.reports.first()) {
        let json = replisim_sim::chrome_trace::render(&report.trace, &report.history);
        if let Err(e) = std::fs::write(path, json) {
            return usage_error(&format!("could not write {}: {e}", path.display()));
        }
        println!(
            "trace: {} ({} events, digest {})",
            path.display(),
            report.trace.len(),
            report.digest
        );
    }
    if !outcome.crashed.is_empty() {
        ExitCode::from(2)
    } else if outcome.failing() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn serve_forever(args: ServeArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return usage_error(&format!("could not start a runtime: {e}")),
    };
    runtime.block_on(async {
        let mut config = ServeConfig::new(args.nodes, args.port);
        config.ip = args.bind;
        config.seed = args.seed;
        config.disk_bytes = args.disk_mib.saturating_mul(1 << 20);
        let cluster = match serve::start(config).await {
            Ok(c) => c,
            Err(e) => return usage_error(&format!("could not start the cluster: {e}")),
        };
        println!(
            "replisim serve: {} nodes (seed {})",
            cluster.addrs.len(),
            args.seed
        );
        for (i, a) in cluster.addrs.iter().enumerate() {
            println!("  node{} http://{a}", i + 1);
        }
        let targets: Vec<String> = cluster
            .addrs
            .iter()
            .map(|a| format!("http://{a}"))
            .collect();
        println!(
            "check it with: replisim check --target {}",
            targets.join(",")
        );
        match tokio::signal::ctrl_c().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => usage_error(&format!("waiting for Ctrl-C failed: {e}")),
        }
    })
}

/// The `replisim rules` listing: every rule of the catalog; rules without a check say why
/// on the line below.
pub fn rules_table() -> String {
    rules_table_of(&catalog::all())
}

fn rules_table_of(rules: &[catalog::Rule]) -> String {
    let needs_of = |r: &catalog::Rule| {
        let mut needs: Vec<String> = r.needs.names().iter().map(|n| n.to_string()).collect();
        needs.extend(
            r.uses
                .missing_from(r.needs)
                .names()
                .iter()
                .map(|n| format!("{n}?")),
        );
        if needs.is_empty() {
            "-".to_string()
        } else {
            needs.join(",")
        }
    };
    let needs_width = rules
        .iter()
        .map(|r| needs_of(r).len())
        .max()
        .unwrap_or(0)
        .max(5);
    let source_width = rules
        .iter()
        .map(|r| r.source.len())
        .max()
        .unwrap_or(0)
        .max(6);
    let mut out = format!(
        "{:<8} {:<8} {:<5} {:<needs_width$} {:<5} {:<source_width$} TITLE\n",
        "RULE", "STRENGTH", "NODES", "NEEDS", "CHECK", "SOURCE"
    );
    for r in rules {
        out.push_str(&format!(
            "{:<8} {:<8} {:<5} {:<needs_width$} {:<5} {:<source_width$} {}\n",
            r.id,
            r.strength.as_str(),
            r.nodes_min,
            needs_of(r),
            if r.is_checked() { "yes" } else { "no" },
            r.source,
            r.title
        ));
        if let catalog::Check::Unchecked(reason) = r.check {
            out.push_str(&format!("{:<9}└ {reason}\n", ""));
        }
    }
    let checked = rules.iter().filter(|r| r.is_checked()).count();
    out.push_str(&format!(
        "{} rules, {checked} checked, {} without a check (skipped with the reason shown); \
         `faults?` = used when the target offers it\n",
        rules.len(),
        rules.len() - checked
    ));
    out
}

/// The `replisim mutants` listing.
pub fn mutants_table() -> String {
    let mut out = String::from("DEFECT                          BREAKS    WHAT IT DOES\n");
    for d in Defect::ALL {
        out.push_str(&format!(
            "{:<31} {:<9} {}\n",
            d.name(),
            d.breaks(),
            d.summary()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        assert_eq!(
            parse_target("http://127.0.0.1:8080").expect("ok"),
            "127.0.0.1:8080".parse().expect("addr")
        );
        assert_eq!(
            parse_target("127.0.0.1:9").expect("ok"),
            "127.0.0.1:9".parse().expect("addr")
        );
        assert_eq!(
            parse_target("http://127.0.0.1/").expect("ok"),
            "127.0.0.1:80".parse().expect("addr")
        );
        assert!(parse_target("https://x:1").unwrap_err().contains("https"));
        assert!(parse_target("http://").is_err());
    }

    #[test]
    fn check_arguments_parse() {
        let cli = Cli::try_parse_from([
            "replisim",
            "check",
            "--seed",
            "9",
            "--rule",
            "SCSP-3",
            "--defect",
            "omit-content-uuid",
        ])
        .expect("valid");
        match cli.command {
            Command::Check(a) => {
                assert_eq!(a.seed, 9);
                assert_eq!(a.rules, vec!["SCSP-3"]);
                assert_eq!(a.defects, vec!["omit-content-uuid"]);
            }
            other => panic!("parsed as {other:?}"),
        }
        assert!(Cli::try_parse_from(["replisim", "check", "--seed", "x"]).is_err());
    }

    #[test]
    fn listings_name_every_rule_and_defect() {
        let rules = rules_table();
        for r in catalog::all() {
            assert!(rules.contains(r.id));
        }
        let mutants = mutants_table();
        for d in Defect::ALL {
            assert!(mutants.contains(d.name()));
        }
    }
}
