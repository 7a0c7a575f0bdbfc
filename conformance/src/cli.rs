//! The `replisim` command line: argument definitions and what each subcommand does.
//! Exit codes: 0 every rule passed or was skipped (failures listed in a `--baseline` count
//! as accepted), 1 a rule failed that the baseline does not list, 2 the harness or its input
//! failed.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use replisim_sim::faults::FaultKind;
use replisim_sim::nemesis::NemesisConfig;
use replisim_sim::scsp::alternatives::Alternatives;
use replisim_sim::scsp::cluster_key::ClusterKey;
use replisim_sim::scsp::defects::Defect;
use replisim_sim::serve::{self, ServeConfig};
use replisim_sim::sweep::SweepConfig;

use crate::baseline::Baseline;
use crate::catalog;
use crate::clause::Profile;
use crate::client::{Endpoint, Tls};
use crate::hook::HookSpec;
use crate::report::{self, Report};
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
    Check(Box<CheckArgs>),
    /// Run the reference cluster over real TCP on this machine until interrupted.
    Serve(ServeArgs),
    /// Run a workload under seeded random faults over many seeds and check the invariants
    /// (durability, convergence, integrity, order).
    Sweep(SweepArgs),
    /// Add the result files of sweep shards or parts into one summary (and file).
    Merge(MergeArgs),
    /// Run scenario files (scenarios/*.toml) in the simulator, or against real nodes with
    /// --target, and report each failing step with the command that replays it.
    Run(crate::scenario::RunArgs),
    /// List the rules of the catalog: checked or not (and why), strength, needs, source;
    /// with --markdown, the whole rules reference (docs/rules.md).
    Rules(RulesArgs),
    /// List the reference node's deliberate defects and the clauses each must fail.
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

/// Which rules to take, shared by `check` and `rules`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SelectArgs {
    /// Only rules whose id matches (`SCSP-3`, `SCSP-1*`); repeatable.
    #[arg(long = "rule")]
    pub rules: Vec<String>,
    /// Only rules of these protocols (`scsp`), comma-separated.
    #[arg(long = "protocol", value_delimiter = ',')]
    pub protocols: Vec<String>,
    /// Only rules of these strengths (`must`, `should`, `inf`), comma-separated.
    #[arg(long = "strength", value_delimiter = ',')]
    pub strengths: Vec<String>,
}

impl SelectArgs {
    /// The catalog selection these arguments describe.
    pub fn selection(&self) -> Result<catalog::Selection, String> {
        Ok(catalog::Selection {
            ids: self.rules.clone(),
            protocols: self.protocols.clone(),
            strengths: self
                .strengths
                .iter()
                .map(|s| s.parse())
                .collect::<Result<_, _>>()?,
        })
    }

    /// The same selection as command-line arguments, for replay lines.
    fn as_args(&self) -> String {
        let mut out = String::new();
        for r in &self.rules {
            out.push_str(&format!(" --rule {r}"));
        }
        if !self.protocols.is_empty() {
            out.push_str(&format!(" --protocol {}", self.protocols.join(",")));
        }
        if !self.strengths.is_empty() {
            out.push_str(&format!(" --strength {}", self.strengths.join(",")));
        }
        out
    }
}

/// Arguments of `replisim check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Seed of the run: the same seed replays the same simulated run exactly.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Real services to check instead of the simulator, by role: `ROLE=URL[,URL…]`,
    /// repeatable, with roles scsp, publisher, ds3 and rucio
    /// (`--target scsp=http://127.0.0.1:8080,http://127.0.0.1:8081 --target publisher=…`).
    /// A bare URL list means `scsp`; host names and `https://` work too. Rules needing a
    /// role not given are skipped. SCSP node indexes (for --fault-hook) count from 0 in
    /// the order given.
    #[arg(long, value_name = "ROLE=URL,…")]
    pub target: Vec<String>,
    /// With an `https://` --target: trust the CA certificates in this PEM file instead of
    /// the built-in webpki roots.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<std::path::PathBuf>,
    /// Which rules to run.
    #[command(flatten)]
    pub select: SelectArgs,
    /// Nodes in the simulated cluster.
    #[arg(long, default_value_t = 4)]
    pub nodes: usize,
    /// Switch on a deliberate defect in a simulated reference service: an SCSP node, the
    /// publisher, a DS3 gateway or the Rucio catalog (names in `replisim mutants`);
    /// repeatable.
    #[arg(long = "defect")]
    pub defects: Vec<String>,
    /// Budget per rule in seconds (simulated time in the simulator).
    #[arg(long, default_value_t = 600)]
    pub rule_timeout_secs: u64,
    /// Budget of one HTTP exchange in seconds (connect, send, whole response).
    #[arg(long, default_value_t = 10)]
    pub request_timeout_secs: u64,
    /// Rules run at once: simulations on this many threads (default 4), or HTTP rules in
    /// flight (default 32: most of a rule's time over HTTP is spent waiting out the
    /// protocol's clocks, such as the 1 s between updates of a name). Rules that kill,
    /// pause or retire nodes always run alone.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// With --target: a command that injects faults into your cluster, called as
    /// `CMD kill|restart|pause|resume NODE`, `CMD partition NODE...` or `CMD heal`
    /// (NODE: 0-based index into --target). Exit 0 once done; anything else is an error.
    /// CMD is split at whitespace and run without a shell.
    #[arg(long, value_name = "CMD")]
    pub fault_hook: Option<String>,
    /// Seconds one fault-hook call may take before it is killed and counts as failed.
    #[arg(long, default_value_t = 60)]
    pub fault_hook_timeout_secs: u64,
    /// With --target: user name sent as HTTP Basic credentials on every request.
    #[arg(long)]
    pub user: Option<String>,
    /// Password for --user (or set REPLISIM_PASSWORD, which other users cannot see in
    /// the process list).
    #[arg(long)]
    pub password: Option<String>,
    /// With --target: leave the objects each rule wrote instead of deleting them.
    #[arg(long)]
    pub no_cleanup: bool,
    /// Also write a report: `json=FILE`, `junit=FILE`, `markdown=FILE` or `html=FILE`;
    /// repeatable.
    #[arg(long = "report", value_name = "FORMAT=FILE")]
    pub reports: Vec<String>,
    /// Accepted failures (one rule id per line): they show as KNOWN and do not make the
    /// exit status 1; listed rules that pass are reported as fixed.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<std::path::PathBuf>,
    /// Write this run's failures as a baseline file.
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<std::path::PathBuf>,
    /// When to colour the table.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// What judges the rules: `reference` (every clause, the reference node's choices
    /// included; the default in the simulator) or `vendor` (only what the documents say
    /// and consistency; the default with --target).
    #[arg(long)]
    pub profile: Option<String>,
    /// In the simulator: make the reference nodes choose otherwise where the documents
    /// leave a choice open, `name=value[,name=value…]` (see `replisim serve --help`);
    /// with `--profile vendor` no such choice may fail a rule.
    #[arg(long = "choice", value_name = "NAME=VALUE")]
    pub choices: Vec<String>,
    /// DS3 targets: credentials and the waits they are configured with.
    #[command(flatten)]
    pub ds3: crate::families::ds3::cli::Ds3CheckArgs,
}

/// Arguments of `replisim rules`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RulesArgs {
    /// Which rules to list.
    #[command(flatten)]
    pub select: SelectArgs,
    /// Print the rules reference as Markdown (docs/rules.md) instead of the table.
    #[arg(long)]
    pub markdown: bool,
}

/// A report file format of `--report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// Machine-readable JSON.
    Json,
    /// JUnit XML for CI systems.
    Junit,
    /// A Markdown summary table.
    Markdown,
    /// A self-contained HTML page.
    Html,
}

/// Parses `FORMAT=FILE` of `--report`.
pub fn parse_report(spec: &str) -> Result<(ReportFormat, std::path::PathBuf), String> {
    let (format, file) = spec
        .split_once('=')
        .ok_or_else(|| format!("--report {spec}: expected FORMAT=FILE, e.g. junit=report.xml"))?;
    let format = match format.trim().to_ascii_lowercase().as_str() {
        "json" => ReportFormat::Json,
        "junit" | "xml" => ReportFormat::Junit,
        "markdown" | "md" => ReportFormat::Markdown,
        "html" => ReportFormat::Html,
        other => {
            return Err(format!(
                "--report {spec}: unknown format `{other}`; use json, junit, markdown or html"
            ))
        }
    };
    if file.trim().is_empty() {
        return Err(format!("--report {spec}: no file name"));
    }
    Ok((format, std::path::PathBuf::from(file)))
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
    /// Address to listen on. Loopback unless --allow-remote: the nodes serve anyone who can
    /// reach them.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
    /// Allow --bind to name an address other than loopback.
    #[arg(long)]
    pub allow_remote: bool,
    /// Read the cluster key (which signs auth= tokens and node-to-node requests) from this
    /// file, at least 16 bytes; without it a fresh key is drawn from the OS at start.
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<std::path::PathBuf>,
    /// Seed for placement tie-breaks and UUIDs.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Disk size of each node in MiB.
    #[arg(long, default_value_t = 1024)]
    pub disk_mib: u64,
    /// Serve TLS with this PEM certificate chain (needs --tls-key); node URLs become
    /// `https://`. Plain HTTP is still accepted on the same ports (node-to-node traffic).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// Another choice where the documents leave one open, NAME=VALUE (repeatable; --help
    /// lists them).
    #[arg(long = "choice", value_name = "NAME=VALUE", value_parser = parse_choice, long_help = choice_help())]
    pub choices: Vec<Alternatives>,
    /// Start from a seeded random combination of choices (as the choice sweep draws them);
    /// --choice then overrides single knobs.
    #[arg(long, value_name = "SEED")]
    pub random_choices: Option<u64>,
    /// DS3 gateways (`--ds3`).
    #[command(flatten)]
    pub ds3: crate::families::ds3::cli::Ds3ServeArgs,
    /// Also start a reference publisher (DX Content Router Enumerator API) watching the
    /// nodes; its URL is printed. Channels: `PublishAll`, plus those of --publisher-rules.
    #[arg(long)]
    pub publisher: bool,
    /// The publisher's port (0: the port after the last node's, or a free one with --port 0).
    #[arg(long, default_value_t = 0, requires = "publisher")]
    pub publisher_port: u16,
    /// The publisher's rules file: lines `channel NAME COND...` (docs/choices.md row P1).
    #[arg(long, value_name = "FILE", requires = "publisher")]
    pub publisher_rules: Option<std::path::PathBuf>,
    /// Another choice of the publisher, NAME=VALUE (repeatable): order, line-end, token,
    /// bad-argument, max-items-default (docs/choices.md P-rows).
    #[arg(
        long = "publisher-choice",
        value_name = "NAME=VALUE",
        requires = "publisher"
    )]
    pub publisher_choices: Vec<String>,
    /// Serve the reference Rucio catalog (bootstrapped like tools/rucio/bootstrap.py) on
    /// --bind:--port instead of SCSP nodes; check it with --target rucio=URL.
    #[arg(long, conflicts_with_all = ["tls_cert", "choices", "random_choices"])]
    pub rucio: bool,
    /// Also run a reference replicator that reads this publisher's Metadata enumerator
    /// (`http://host:port`) and copies the cluster it publishes (--replicate-from) into
    /// the nodes served here.
    #[arg(long, value_name = "PUBLISHER_URL", requires = "replicate_from")]
    pub replicator: Option<String>,
    /// The source cluster's SCSP nodes the replicator reads content from, comma-separated.
    #[arg(long, value_name = "URL[,URL…]")]
    pub replicate_from: Option<String>,
    /// The channel the replicator subscribes to.
    #[arg(long, default_value = "PublishAll")]
    pub channel: String,
}

/// `--choice` values: checked here so a typo is a usage error naming the known knobs.
fn parse_choice(s: &str) -> Result<Alternatives, String> {
    s.parse()
}

fn choice_help() -> String {
    format!(
        "Another choice where the documents leave one open, NAME=VALUE (repeatable). The \
         first value of each is the reference's own choice (docs/choices.md):\n{}",
        Alternatives::help()
    )
}

/// The choices `serve` runs with: the random draw (if any), then each `--choice` on top.
pub fn serve_alternatives(args: &ServeArgs) -> Alternatives {
    let mut out = args
        .random_choices
        .map(Alternatives::random)
        .unwrap_or_default();
    for given in &args.choices {
        for knob in Alternatives::KNOBS {
            if let Some(v) = given.get(knob.name) {
                if Alternatives::default().get(knob.name) != Some(v) {
                    let _ = out.set(knob.name, v);
                }
            }
        }
    }
    out
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
    /// Length of the fault phase in simulated seconds (the workload may run longer). The
    /// replication worlds keep their faults this long after the workload's last write too.
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
    /// The experiment: `scsp` (one cluster), `replication` (cluster A, its publisher,
    /// cluster B and its replicator over a WAN) or `replication-both` (both directions).
    /// The replication worlds take the faults wan-partition, drop-answers, wan-loss,
    /// wan-latency, crash-replicator, crash-publisher, crash-node, and the replicator
    /// defects ack-before-apply, ignore-deletes, no-restart-on-404, drop-metadata (and the
    /// publishers' defects, e.g. publisher-diffs-inventories).
    /// `ds3` replicates a DS3 job between two BlackPearl systems while their gateways crash
    /// and the WAN between them is cut (its defects are the `ds3-` ones).
    #[arg(long, default_value = "scsp")]
    pub world: String,
    /// Run only shard K of N (K from 0): the range cut into N consecutive blocks, block K.
    #[arg(long, requires = "seeds")]
    pub shard: Option<String>,
    /// Write the mergeable JSON result here, and checkpoint into it while running.
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
    /// Continue the sweep a checkpoint or result file recorded (same flags otherwise); the
    /// result goes back to this file unless --out says otherwise.
    #[arg(long, requires = "seeds")]
    pub resume: Option<std::path::PathBuf>,
    /// Resume from FILE when it exists, else start; either way checkpoint into it (for
    /// jobs that a scheduler may restart: a Kubernetes pod, a CI rerun).
    #[arg(long, requires = "seeds", conflicts_with_all = ["out", "resume"])]
    pub checkpoint: Option<std::path::PathBuf>,
    /// Stop after this many seeds (the result file records which are done; --resume it).
    #[arg(long)]
    pub stop_after: Option<u64>,
    /// Show progress on stderr even when it is not a terminal (a line every 10 s).
    #[arg(long, conflicts_with = "no_progress")]
    pub progress: bool,
    /// Never show progress.
    #[arg(long)]
    pub no_progress: bool,
}

/// Arguments of `replisim merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// Result files of `replisim sweep --out` (shards, resumed parts) to add together.
    #[arg(required = true)]
    pub files: Vec<std::path::PathBuf>,
    /// Write the merged result here.
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
}

/// Runs a parsed command line.
pub fn main_with(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Check(args) => check(*args),
        Command::Serve(args) => serve_forever(args),
        Command::Sweep(args) => sweep(args),
        Command::Merge(args) => merge_results(args),
        Command::Run(args) => crate::scenario::run_command(args),
        Command::Rules(args) if args.markdown => {
            print!("{}", crate::rules_doc::markdown());
            ExitCode::SUCCESS
        }
        Command::Rules(args) => match args
            .select
            .selection()
            .and_then(|s| catalog::select_with(&s))
        {
            Ok(rules) => {
                print!("{}", rules_table_of(&rules));
                ExitCode::SUCCESS
            }
            Err(e) => usage_error(&e),
        },
        Command::Mutants => {
            print!("{}", mutants_table());
            ExitCode::SUCCESS
        }
    }
}

impl SweepArgs {
    /// The seeds to run: `--seeds A..B`, or the one seed of `--seed N`.
    pub fn seed_range(&self) -> Result<std::ops::Range<u64>, String> {
        match (&self.seeds, self.seed) {
            (Some(range), None) => crate::sweep::parse_seeds(range),
            (None, Some(seed)) => Ok(seed..seed.saturating_add(1)),
            _ => Err("give --seeds A..B or --seed N".into()),
        }
    }
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("replisim: {message}");
    ExitCode::from(2)
}

/// Parses `http://host:port`, `https://host:port`, `host:port` or `host` (port 80) into an
/// endpoint. Host names stay names: they are resolved when connecting.
pub fn parse_target(url: &str) -> Result<Endpoint, String> {
    Endpoint::parse_target(url)
}

/// The roots for `https://` targets: the CA file's certificates, or the webpki roots.
pub fn tls_from(ca_cert: Option<&std::path::Path>) -> Result<Tls, String> {
    match ca_cert {
        Some(path) => Tls::from_ca_file(path).map_err(|e| format!("--ca-cert {e}")),
        None => Ok(Tls::default()),
    }
}

fn check(args: CheckArgs) -> ExitCode {
    let rules = match args
        .select
        .selection()
        .and_then(|s| catalog::select_with(&s))
    {
        Ok(r) => r,
        Err(e) => return usage_error(&e),
    };
    let (defects, publisher_defects, ds3_defects, rucio_defects) =
        match split_defects(&args.defects) {
            Ok(d) => d,
            Err(e) => return usage_error(&e),
        };
    if let Err(e) = crate::families::ds3::cli::configure(&args.ds3) {
        return usage_error(&e);
    }
    let mut alternatives = replisim_sim::scsp::alternatives::Alternatives::default();
    for spec in &args.choices {
        match spec.parse::<replisim_sim::scsp::alternatives::Alternatives>() {
            Ok(parsed) => {
                // Later --choice flags add to earlier ones.
                let reference = replisim_sim::scsp::alternatives::Alternatives::default();
                for knob in replisim_sim::scsp::alternatives::Alternatives::KNOBS {
                    if let Some(value) = parsed.get(knob.name) {
                        if reference.get(knob.name) != Some(value) {
                            let _ = alternatives.set(knob.name, value);
                        }
                    }
                }
            }
            Err(e) => return usage_error(&e),
        }
    }
    let profile = match args.profile.as_deref().map(str::parse::<Profile>) {
        None => None,
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => return usage_error(&e),
    };
    let mut reports = Vec::new();
    for spec in &args.reports {
        match parse_report(spec) {
            Ok(r) => reports.push(r),
            Err(e) => return usage_error(&e),
        }
    }
    let baseline = match &args.baseline {
        Some(path) => match Baseline::load(path) {
            Ok(b) => Some((path.display().to_string(), b)),
            Err(e) => return usage_error(&e),
        },
        None => None,
    };
    let password = args
        .password
        .clone()
        .or_else(|| std::env::var("REPLISIM_PASSWORD").ok());
    let credentials = match (&args.user, password) {
        (Some(user), Some(password)) => Some(runner::Credentials {
            user: user.clone(),
            password,
        }),
        (Some(_), None) => {
            return usage_error("--user needs --password (or REPLISIM_PASSWORD)");
        }
        (None, Some(_)) if args.password.is_some() => {
            return usage_error("--password needs --user");
        }
        (None, _) => None,
    };
    let target = if args.target.is_empty() {
        if !(1..=250).contains(&args.nodes) {
            return usage_error("--nodes must be between 1 and 250");
        }
        if args.ca_cert.is_some() {
            return usage_error("--ca-cert applies to --target; the simulator speaks plain HTTP");
        }
        if args.fault_hook.is_some() || credentials.is_some() {
            return usage_error(
                "--fault-hook, --user and --password apply to --target; the simulator has full control already",
            );
        }
        TargetSpec::Sim {
            nodes: args.nodes,
            defects,
        }
    } else {
        if !defects.is_empty()
            || !publisher_defects.is_empty()
            || !ds3_defects.is_empty()
            || !rucio_defects.is_empty()
        {
            return usage_error(
                "--defect switches the simulated reference node; it cannot apply to --target",
            );
        }
        match crate::families::Targets::parse(&args.target) {
            Ok(targets) => TargetSpec::Roles(targets),
            Err(e) => return usage_error(&e),
        }
    };
    let described = match &target {
        TargetSpec::Sim { nodes, .. } => {
            let mut text = simulated_worlds(&rules, *nodes);
            if !args.defects.is_empty() {
                text.push_str(&format!(" with defects {}", args.defects.join(",")));
            }
            text
        }
        TargetSpec::Http { .. } | TargetSpec::Roles(_) => {
            target.targets().map(|t| t.describe()).unwrap_or_default()
        }
    };
    let unchecked = rules.iter().filter(|r| !r.is_checked()).count();
    let mut options = RunOptions::sim(args.seed);
    if !args.choices.is_empty() && !matches!(target, TargetSpec::Sim { .. }) {
        return usage_error(
            "--choice switches the simulated reference nodes; it cannot apply to --target",
        );
    }
    options.target = target;
    options.profile = profile;
    options.alternatives = alternatives;
    options.publisher_defects = publisher_defects;
    options.ds3_defects = ds3_defects;
    options.rucio_defects = rucio_defects;
    let profile = options.profile();
    println!(
        "replisim check: {} rules ({unchecked} without a check) against {described}{}, seed {}, profile {}",
        rules.len(),
        if args.fault_hook.is_some() {
            " with a fault hook"
        } else {
            ""
        },
        args.seed,
        profile.as_str()
    );
    if let Some((file, b)) = &baseline {
        let known: Vec<&str> = catalog::all().iter().map(|r| r.id).collect();
        let unknown = b.unknown_ids(&known);
        if !unknown.is_empty() {
            eprintln!(
                "replisim: baseline {file} lists rules the catalog does not have: {}",
                unknown.join(", ")
            );
        }
    }
    options.rule_timeout = Duration::from_secs(args.rule_timeout_secs.max(1));
    options.limits.timeout = Duration::from_secs(args.request_timeout_secs.max(1));
    options.jobs = args
        .jobs
        .unwrap_or(match options.target {
            TargetSpec::Sim { .. } => runner::SIM_JOBS_DEFAULT,
            TargetSpec::Http { .. } | TargetSpec::Roles(_) => runner::HTTP_JOBS_DEFAULT,
        })
        .max(1);
    options.fault_hook = args.fault_hook.as_ref().map(|command| HookSpec {
        command: command.clone(),
        timeout: Duration::from_secs(args.fault_hook_timeout_secs.max(1)),
    });
    options.credentials = credentials;
    options.cleanup = !args.no_cleanup;
    options.tls = match tls_from(args.ca_cert.as_deref()) {
        Ok(tls) => tls,
        Err(e) => return usage_error(&e),
    };
    let started = std::time::Instant::now();
    let results = runner::run(&rules, &options);
    let mut replay = format!("replisim check --seed {}", args.seed);
    replay.push_str(&args.select.as_args());
    if args.target.is_empty() && args.nodes != 4 {
        replay.push_str(&format!(" --nodes {}", args.nodes));
    }
    for d in &args.defects {
        replay.push_str(&format!(" --defect {d}"));
    }
    if let Some(targets) = options.target.targets() {
        replay.push_str(&targets.as_args());
    }
    if let Some(ca) = &args.ca_cert {
        replay.push_str(&format!(" --ca-cert {}", ca.display()));
    }
    if args.profile.is_some() {
        replay.push_str(&format!(" --profile {}", profile.as_str()));
    }
    if !alternatives.is_reference() {
        replay.push_str(&format!(" --choice {alternatives}"));
    }
    let report = Report {
        version: env!("CARGO_PKG_VERSION"),
        seed: args.seed,
        target: described,
        elapsed: started.elapsed(),
        results,
        baseline,
        replay,
        profile: Some(profile),
    };
    let color = match args.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => std::io::stdout().is_terminal(),
    };
    print!("{}", report::terminal(&report, color));
    let summary = report.summary();
    if summary.new > 0 {
        println!("replay: {}", report.replay);
    }
    let mut harness_failed = false;
    for (format, path) in &reports {
        let text = match format {
            ReportFormat::Json => report::json::render(&report),
            ReportFormat::Junit => report::junit::render(&report),
            ReportFormat::Markdown => report::markdown::render(&report),
            ReportFormat::Html => report::html::render(&report),
        };
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("replisim: could not write {}: {e}", path.display());
            harness_failed = true;
        }
    }
    if let Some(path) = &args.write_baseline {
        let about = format!(
            "Written by replisim {} from `{}`.",
            report.version, report.replay
        );
        let text = Baseline::from_failures(&report.results).render(&about);
        match std::fs::write(path, text) {
            Ok(()) => println!(
                "baseline: wrote {} failures to {}",
                summary.failed,
                path.display()
            ),
            Err(e) => {
                eprintln!("replisim: could not write {}: {e}", path.display());
                harness_failed = true;
            }
        }
    }
    exit_code(&summary, harness_failed)
}

/// The exit status of `check`: 2 when the harness failed (a report could not be written),
/// else 1 when some failure is not in the baseline, else 0.
pub fn exit_code(summary: &report::Summary, harness_failed: bool) -> ExitCode {
    if harness_failed {
        ExitCode::from(2)
    } else if summary.new > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn parse_defects(names: &[String]) -> Result<BTreeSet<Defect>, String> {
    names.iter().map(|n| n.parse::<Defect>()).collect()
}

/// `check --defect` names a defect of the SCSP node, of the publisher, of the DS3
/// gateway or of the Rucio catalog; an unknown name is an error listing them all.
type SplitDefects = (
    BTreeSet<Defect>,
    replisim_sim::publisher::defects::PublisherDefects,
    BTreeSet<replisim_sim::ds3::defects::Defect>,
    BTreeSet<replisim_sim::rucio::defects::Defect>,
);

fn split_defects(names: &[String]) -> Result<SplitDefects, String> {
    use replisim_sim::ds3::defects::Defect as Ds3Defect;
    use replisim_sim::publisher::defects::PublisherDefect;
    use replisim_sim::rucio::defects::Defect as RucioDefect;
    let mut split = SplitDefects::default();
    for name in names {
        if let Ok(d) = name.parse::<Defect>() {
            split.0.insert(d);
        } else if let Ok(d) = name.parse::<PublisherDefect>() {
            split.1.insert(d);
        } else if let Ok(d) = name.parse::<Ds3Defect>() {
            split.2.insert(d);
        } else if let Ok(d) = name.parse::<RucioDefect>() {
            split.3.insert(d);
        } else {
            let list = |names: Vec<&str>| names.join(", ");
            return Err(format!(
                "unknown defect `{name}`; SCSP defects: {}; publisher defects: {}; DS3 defects: {}; Rucio defects: {}",
                list(Defect::ALL.iter().map(|d| d.name()).collect()),
                list(PublisherDefect::all().iter().map(|d| d.name()).collect()),
                list(Ds3Defect::ALL.iter().map(|d| d.name()).collect()),
                list(RucioDefect::ALL.iter().map(|d| d.name()).collect()),
            ));
        }
    }
    Ok(split)
}

fn sweep(args: SweepArgs) -> ExitCode {
    if args.world == "ds3" {
        return ds3_sweep(&args);
    }
    if args.world != "scsp" {
        return crate::replication_sweep::command(&args);
    }
    let seeds = match args.seed_range() {
        Ok(r) => r,
        Err(e) => return usage_error(&e),
    };
    let runner = match scsp_seeds(&args) {
        Ok(r) => r,
        Err(e) => return usage_error(&e),
    };
    if let (Some(path), Some(seed)) = (&args.trace, args.seed) {
        return sweep_trace(&runner, seed, path);
    }
    run_sweep(&args, seeds, &runner)
}

/// `sweep --world ds3`: the DS3 replication experiment (families/ds3/faults.rs) through
/// the sweep's seed runner; `--defect` names DS3 gateway defects.
fn ds3_sweep(args: &SweepArgs) -> ExitCode {
    use replisim_sim::ds3::defects::Defect as Ds3Defect;
    let seeds = match args.seed_range() {
        Ok(r) => r,
        Err(e) => return usage_error(&e),
    };
    if args.trace.is_some() {
        return usage_error("--trace is for the scsp world; the ds3 world records no timeline");
    }
    if args.faults != "all" {
        return usage_error(
            "the ds3 world's faults are fixed (crash-source, crash-target, partition-systems); drop --faults",
        );
    }
    let defects = match args
        .defects
        .iter()
        .map(|n| n.parse::<Ds3Defect>())
        .collect::<Result<BTreeSet<_>, _>>()
    {
        Ok(d) => d,
        Err(e) => return usage_error(&e),
    };
    let runner = crate::families::ds3::faults::Ds3Seeds { defects };
    run_sweep(args, seeds, &runner)
}

/// What a simulated `check` runs against, for the report's header: SCSP rules run in a
/// cluster of `nodes` reference nodes (so does the publisher family, with a publisher
/// beside it); DS3 and Rucio in worlds of their own (two DS3 systems; a Rucio catalog with
/// its RSEs' clusters).
fn simulated_worlds(rules: &[crate::catalog::Rule], nodes: usize) -> String {
    let mut families: Vec<String> = rules.iter().map(|r| r.protocol()).collect();
    families.dedup();
    families.sort();
    families.dedup();
    match families.as_slice() {
        [only] if only == "scsp" => format!("simulated cluster of {nodes} nodes"),
        _ if families.iter().any(|f| f == "scsp" || f == "publisher") => format!(
            "simulated worlds ({}; SCSP clusters of {nodes} nodes)",
            families.join(", ")
        ),
        _ => format!("simulated worlds ({})", families.join(", ")),
    }
}

/// The SCSP world's settings from the flags.
fn scsp_seeds(args: &SweepArgs) -> Result<crate::sweep::ScspSeeds, String> {
    let kinds = FaultKind::parse_list(&args.faults)?;
    let defects = parse_defects(&args.defects)?;
    if !(1..=250).contains(&args.nodes) {
        return Err("--nodes must be between 1 and 250".into());
    }
    if !(args.intensity.is_finite() && args.intensity >= 0.0) {
        return Err("--intensity must be a number ≥ 0".into());
    }
    let mut config = SweepConfig::new();
    config.nodes = args.nodes;
    config.workload.ops = args.ops;
    config.nemesis = NemesisConfig::new(kinds).with_intensity(args.intensity);
    config.nemesis.duration = std::time::Duration::from_secs(args.duration_secs.max(1));
    config.defects = defects;
    let mut replay_args = format!(
        " --faults {} --intensity {} --ops {} --duration-secs {} --nodes {}",
        args.faults, args.intensity, args.ops, args.duration_secs, args.nodes
    );
    for d in &args.defects {
        replay_args.push_str(&format!(" --defect {d}"));
    }
    Ok(crate::sweep::ScspSeeds {
        config,
        replay_args,
    })
}

/// `--seed N --trace FILE`: one seed with its whole trace, written as a timeline.
fn sweep_trace(runner: &crate::sweep::ScspSeeds, seed: u64, path: &std::path::Path) -> ExitCode {
    let mut config = runner.config.clone();
    config.keep_trace = true;
    let report = match replisim_sim::sweep::run_seed(seed, &config) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("CRASH seed {seed}: {}", e.message);
            return ExitCode::from(2);
        }
    };
    for v in &report.violations {
        println!("seed {seed}: {v}");
    }
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
    if report.violations.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The seeds of a sweep with any world kind: sharding, resuming, checkpoints, progress,
/// the summary and the exit status.
pub(crate) fn run_sweep(
    args: &SweepArgs,
    seeds: std::ops::Range<u64>,
    runner: &dyn crate::sweep::SeedRunner,
) -> ExitCode {
    use crate::sweep::{progress, Plan, SweepResult};
    let shard = match args.shard.as_deref().map(crate::sweep::Shard::parse) {
        Some(Err(e)) => return usage_error(&e),
        Some(Ok(s)) => Some(s),
        None => None,
    };
    let mut plan = Plan::fresh(runner, seeds.clone(), shard);
    plan.jobs = args.jobs.max(1);
    plan.stop_after = args.stop_after;
    let resume = match &args.checkpoint {
        Some(path) if path.exists() => Some(path),
        Some(_) => None,
        None => args.resume.as_ref(),
    };
    if let Some(path) = resume {
        let earlier = match SweepResult::load(path) {
            Ok(r) => r,
            Err(e) => return usage_error(&e),
        };
        let same = earlier.same_settings(&plan.result).and_then(|()| {
            match earlier.planned == plan.result.planned {
                true => Ok(()),
                false => Err(format!(
                    "seeds {} against {}",
                    earlier.planned.describe(),
                    plan.result.planned.describe()
                )),
            }
        });
        if let Err(why) = same {
            return usage_error(&format!(
                "{} is not this sweep ({why}): resume with the flags it was started with",
                path.display()
            ));
        }
        plan.result = earlier;
    }
    let out = (args.out.clone())
        .or_else(|| args.checkpoint.clone())
        .or_else(|| args.resume.clone());
    let show = if args.no_progress {
        progress::Show::Never
    } else if args.progress {
        progress::Show::Always
    } else {
        progress::Show::Auto
    };
    println!(
        "replisim sweep: seeds {}..{}{}, {} jobs,{}",
        seeds.start,
        seeds.end,
        shard
            .map(|s| format!(" shard {s} ({})", plan.result.planned.describe()))
            .unwrap_or_default(),
        plan.jobs,
        runner.replay_args()
    );
    if !plan.result.done.is_empty() {
        println!(
            "resuming: {} seeds done, {} to run",
            plan.result.done.len(),
            plan.result.planned.len() - plan.result.done.len()
        );
    }
    let checkpoint_error = std::sync::Mutex::new(None::<String>);
    let result = crate::sweep::run(
        runner,
        plan,
        &progress::stderr_progress(show),
        &|snapshot: &SweepResult| {
            if let Some(path) = &out {
                if let Err(e) = snapshot.save(path) {
                    *checkpoint_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                }
            }
        },
    );
    print!("{}", crate::sweep::summary(&result));
    if let Some(path) = &out {
        if let Err(e) = result.save(path) {
            return usage_error(&e);
        }
        println!("result: {}", path.display());
        if !result.complete() {
            println!(
                "continue with: replisim sweep --seeds {}..{}{}{} --resume {}",
                seeds.start,
                seeds.end,
                shard.map(|s| format!(" --shard {s}")).unwrap_or_default(),
                runner.replay_args(),
                path.display()
            );
        }
    } else if let Some(e) = checkpoint_error
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
    {
        eprintln!("replisim: {e}");
    }
    sweep_status(&result)
}

/// 2 when a simulation crashed, 1 when a seed broke an invariant, else 0.
fn sweep_status(result: &crate::sweep::SweepResult) -> ExitCode {
    if result.tally.crashed > 0 {
        ExitCode::from(2)
    } else if result.tally.failing > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn merge_results(args: MergeArgs) -> ExitCode {
    let mut results = Vec::new();
    for path in &args.files {
        match crate::sweep::SweepResult::load(path) {
            Ok(r) => results.push((path.display().to_string(), r)),
            Err(e) => return usage_error(&e),
        }
    }
    let merged = match crate::sweep::merge(&results) {
        Ok(m) => m,
        Err(e) => return usage_error(&e),
    };
    println!(
        "replisim merge: {} results, {} {}",
        results.len(),
        merged.world,
        merged.replay_args.trim()
    );
    print!("{}", crate::sweep::summary(&merged));
    if let Some(path) = &args.out {
        if let Err(e) = merged.save(path) {
            return usage_error(&e);
        }
        println!("result: {}", path.display());
    }
    sweep_status(&merged)
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
        if args.rucio {
            return serve_rucio(&args).await;
        }
        let mut config = ServeConfig::new(args.nodes, args.port);
        config.ip = args.bind;
        config.allow_remote = args.allow_remote;
        if let Some(path) = &args.secret_file {
            let read = std::fs::read(path).map_err(|e| e.to_string());
            match read.and_then(|c| ClusterKey::from_file_contents(&c)) {
                Ok(key) => config.key = Some(key),
                Err(e) => return usage_error(&format!("--secret-file {}: {e}", path.display())),
            }
        }
        config.seed = args.seed;
        config.disk_bytes = args.disk_mib.saturating_mul(1 << 20);
        if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
            match serve::TlsServer::from_pem_files(cert, key) {
                Ok(tls) => config.tls = Some(tls),
                Err(e) => return usage_error(&format!("--tls-cert: {e}")),
            }
        }
        let scheme = if config.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let alternatives = serve_alternatives(&args);
        config.alternatives = alternatives;
        let cluster = match serve::start(config).await {
            Ok(c) => c,
            Err(e) => return usage_error(&format!("could not start the cluster: {e}")),
        };
        println!(
            "replisim serve: {} nodes (seed {})",
            cluster.addrs.len(),
            args.seed
        );
        if !alternatives.is_reference() {
            println!("  choices: {alternatives}");
        }
        if args.ds3.ds3 {
            if let Err(e) =
                crate::families::ds3::cli::start_serve(&args.ds3, args.bind, args.seed).await
            {
                return usage_error(&e);
            }
        }
        for (i, a) in cluster.addrs.iter().enumerate() {
            println!("  node{} {scheme}://{a}", i + 1);
        }
        let targets: Vec<String> = cluster
            .addrs
            .iter()
            .map(|a| format!("{scheme}://{a}"))
            .collect();
        println!(
            "check it with: replisim check --target {}",
            targets.join(",")
        );
        if args.publisher {
            let publisher = match start_publisher(&args, &cluster).await {
                Ok(p) => p,
                Err(e) => return usage_error(&e),
            };
            println!("  publisher http://{}", publisher.addr);
            println!(
                "check it with: replisim check --protocol publisher --target scsp={} --target publisher=http://{}",
                targets.join(","),
                publisher.addr
            );
        }
        match crate::replicator_serve::config_from(&args, &cluster.addrs) {
            Ok(Some(r)) => {
                println!(
                    "  replicator: {} ({}) into these nodes",
                    r.publisher, r.channel
                );
                serve::start_replicator(r);
            }
            Ok(None) => {}
            Err(e) => return usage_error(&e),
        }
        match tokio::signal::ctrl_c().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => usage_error(&format!("waiting for Ctrl-C failed: {e}")),
        }
    })
}

/// Starts the reference publisher `serve --publisher` asks for, beside `nodes`.
async fn start_publisher(
    args: &ServeArgs,
    cluster: &serve::RealCluster,
) -> Result<serve::RealPublisher, String> {
    let nodes = &cluster.addrs;
    use replisim_sim::publisher::host::PublisherConfig;
    use replisim_sim::publisher::rules::Rules;
    let port = match (args.publisher_port, args.port) {
        (0, 0) => 0,
        (0, first) => u16::try_from(usize::from(first) + nodes.len())
            .map_err(|_| "--publisher-port: the port after the nodes' is past 65535".to_string())?,
        (p, _) => p,
    };
    let mut config = PublisherConfig::new(std::net::SocketAddr::new(args.bind, port), Vec::new());
    if let Some(path) = &args.publisher_rules {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("--publisher-rules {}: {e}", path.display()))?;
        config.rules = Rules::parse(&text)
            .map_err(|e| format!("--publisher-rules {}: {e}", path.display()))?;
    }
    for choice in &args.publisher_choices {
        config.alternatives = format!("{},{choice}", config.alternatives)
            .parse()
            .map_err(|e| format!("--publisher-choice {choice}: {e}"))?;
    }
    config.cluster_key = Some(cluster.key.clone());
    serve::start_publisher(config.addr, nodes.to_vec(), config)
        .await
        .map_err(|e| format!("could not start the publisher: {e}"))
}

/// `replisim serve --rucio`: the reference Rucio catalog until Ctrl-C.
async fn serve_rucio(args: &ServeArgs) -> ExitCode {
    let addr = std::net::SocketAddr::new(args.bind, args.port);
    let bound =
        match replisim_sim::rucio::server::serve_bootstrapped(addr, args.seed, Default::default())
            .await
        {
            Ok(a) => a,
            Err(e) => {
                return usage_error(&format!("could not serve the Rucio catalog on {addr}: {e}"))
            }
        };
    println!("replisim serve: Rucio catalog (seed {})", args.seed);
    println!("  rucio http://{bound}");
    println!("check it with: replisim check --protocol rucio --target rucio=http://{bound}");
    match tokio::signal::ctrl_c().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => usage_error(&format!("waiting for Ctrl-C failed: {e}")),
    }
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

/// The `replisim mutants` listing: each defect, the clauses it must fail (or the invariant
/// a sweep checks), and what it does; then the checked clauses no defect fails yet.
pub fn mutants_table() -> String {
    let mut out = String::from(
        "DEFECT                               MUST FAIL                                    WHAT IT DOES\n",
    );
    // (name, rule it breaks, summary, where a defect mapped to no clause is caught)
    let rows = Defect::ALL
        .iter()
        .map(|d| (d.name(), d.breaks(), d.summary(), "replisim sweep"))
        .chain(replisim_sim::ds3::defects::Defect::ALL.iter().map(|d| {
            (
                d.name(),
                d.breaks(),
                d.summary(),
                "replisim sweep --world ds3",
            )
        }))
        .chain(
            replisim_sim::publisher::defects::PublisherDefect::all()
                .into_iter()
                .map(|d| (d.name(), d.breaks(), d.summary(), "replication tests")),
        )
        .chain(
            replisim_sim::rucio::defects::Defect::ALL
                .iter()
                .map(|d| (d.name(), d.breaks(), d.summary(), "recovery tests")),
        );
    for (name, breaks, summary, caught_by) in rows {
        let fails = match crate::mutants::clauses_of(name) {
            Some([]) => format!("{breaks} ({caught_by})"),
            Some(clauses) => clauses.join(", "),
            None => format!("{breaks} (not mapped to clauses)"),
        };
        out.push_str(&format!("{name:<36} {fails:<44} {summary}\n"));
    }
    let unmapped = crate::mutants::unmapped_clauses();
    out.push_str(&format!(
        "{} checked clauses, {} without a mutant{}{}\n",
        crate::mutants::checked_clauses().len(),
        unmapped.len(),
        if unmapped.is_empty() { "" } else { ": " },
        unmapped.join(", ")
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        let at = |a: &str| Endpoint::http(a.parse().expect("addr"));
        assert_eq!(
            parse_target("http://127.0.0.1:8080"),
            Ok(at("127.0.0.1:8080"))
        );
        assert_eq!(parse_target("127.0.0.1:9"), Ok(at("127.0.0.1:9")));
        assert_eq!(parse_target("http://127.0.0.1/"), Ok(at("127.0.0.1:80")));
        assert_eq!(
            parse_target("https://node1.example:8443").map(|e| e.url()),
            Ok("https://node1.example:8443".to_string())
        );
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
                assert_eq!(a.select.rules, vec!["SCSP-3"]);
                assert_eq!(a.defects, vec!["omit-content-uuid"]);
            }
            other => panic!("parsed as {other:?}"),
        }
        assert!(Cli::try_parse_from(["replisim", "check", "--seed", "x"]).is_err());
    }

    #[test]
    fn check_options_parse() {
        let cli = Cli::try_parse_from([
            "replisim",
            "check",
            "--target",
            "http://127.0.0.1:1,http://127.0.0.1:2",
            "--protocol",
            "scsp",
            "--strength",
            "must,should",
            "--jobs",
            "2",
            "--fault-hook",
            "./hook.sh --lab",
            "--user",
            "admin",
            "--password",
            "secret",
            "--report",
            "json=out.json",
            "--report",
            "junit=out.xml",
            "--baseline",
            "base.txt",
            "--write-baseline",
            "new.txt",
        ])
        .expect("valid");
        let Command::Check(a) = cli.command else {
            panic!("not check");
        };
        assert_eq!(a.target.len(), 1);
        assert_eq!(a.jobs, Some(2));
        assert_eq!(a.fault_hook.as_deref(), Some("./hook.sh --lab"));
        assert_eq!(a.reports, vec!["json=out.json", "junit=out.xml"]);
        let selection = a.select.selection().expect("selection");
        assert_eq!(
            selection.strengths,
            vec![catalog::Strength::Must, catalog::Strength::Should]
        );
        assert_eq!(
            a.select.as_args(),
            " --protocol scsp --strength must,should"
        );
        assert_eq!(
            parse_report("HTML=r.html").expect("ok"),
            (ReportFormat::Html, std::path::PathBuf::from("r.html"))
        );
        assert!(parse_report("pdf=x")
            .unwrap_err()
            .contains("unknown format"));
        assert!(parse_report("json").unwrap_err().contains("FORMAT=FILE"));
        assert!(parse_report("json=").is_err());
        let rules = Cli::try_parse_from(["replisim", "rules", "--strength", "inf"]).expect("ok");
        let Command::Rules(r) = rules.command else {
            panic!("not rules");
        };
        let picked = catalog::select_with(&r.select.selection().expect("ok")).expect("some");
        assert!(picked.iter().all(|r| r.strength == catalog::Strength::Inf));
    }

    #[test]
    fn exit_codes_follow_new_failures() {
        let s = |failed, known| report::Summary {
            failed,
            known,
            new: failed - known,
            ..report::Summary::default()
        };
        assert_eq!(exit_code(&s(0, 0), false), ExitCode::SUCCESS);
        assert_eq!(exit_code(&s(2, 2), false), ExitCode::SUCCESS);
        assert_eq!(exit_code(&s(2, 1), false), ExitCode::from(1));
        assert_eq!(exit_code(&s(0, 0), true), ExitCode::from(2));
    }

    #[test]
    fn check_defects_name_scsp_publisher_and_ds3_defects() {
        let names: Vec<String> = ["omit-content-uuid", "ds3-no-retry-after"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (scsp, publisher, ds3, rucio) = split_defects(&names).expect("known names");
        assert!(rucio.is_empty());
        assert_eq!(scsp, BTreeSet::from([Defect::OmitContentUuid]));
        assert!(publisher.is_empty());
        assert_eq!(
            ds3,
            BTreeSet::from([replisim_sim::ds3::defects::Defect::NoRetryAfter])
        );
        let err = split_defects(&["nope".to_string()]).unwrap_err();
        assert!(err.contains("DS3 defects: ds3-"), "{err}");
        assert!(err.contains("Rucio defects: rucio-"), "{err}");
        let (_, _, _, rucio) =
            split_defects(&["rucio-post-answers-200".to_string()]).expect("a Rucio defect");
        assert_eq!(
            rucio,
            BTreeSet::from([replisim_sim::rucio::defects::Defect::PostAnswers200])
        );
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
        for d in replisim_sim::ds3::defects::Defect::ALL {
            assert!(mutants.contains(d.name()), "{d}");
        }
    }
}
