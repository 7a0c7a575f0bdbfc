//! The `ds3` family: BlackPearl DS3 systems spoken to in Spectra S3 (rules BP-1..20, spec
//! section 3). `--target ds3=SOURCE[,TARGET]`: the first URL is the system jobs start on,
//! the second the one jobs replicate to (BP-14, BP-15 need both).
//!
//! Checks sign as a DS3 user (`--ds3-credentials FILE`, the fixture users in the
//! simulator). Clauses that wait for hours (idle expiry 24 h, the 30-minute aggregation
//! window, 30-day retention) are observed only when the user states the target's setting
//! (`--ds3-idle-timeout`, `--ds3-aggregation-window`, `--ds3-retention`); otherwise they
//! are not observed (PARTIAL). The simulated world is built with short settings the
//! harness knows ([`SIM_TIMES`]).

use std::sync::RwLock;
use std::time::Duration;

use replisim_sim::ds3::auth::{Credentials, User};
use replisim_sim::ds3::defects::Defect;
use replisim_sim::ds3::gateway::GatewayConfig;
use replisim_sim::ds3::host::Ds3Factory;
use replisim_sim::world::{Link, WorldBuilder};

use super::{CleanupFuture, CleanupJob, Family, Role, SimParams, SimRole};
use crate::catalog::Rule;

pub mod cli;
pub mod client;
pub mod contract;
pub mod faults;
pub mod redirects;
pub mod rules;
pub mod versioning;

/// The roles DS3 rules talk to.
pub const ROLES: &[Role] = &[Role::Ds3];

/// The DS3 family.
pub const FAMILY: Family = Family {
    name: "ds3",
    summary: "BlackPearl DS3 bulk jobs and replication (docs/rules.md, BP-n)",
    roles: ROLES,
    rules: rules::all,
    namespace: bucket_for,
    cleanup,
    world,
    sim_roles: &[SimRole {
        role: Role::Ds3,
        clusters: &["source", "target"],
    }],
};

/// The waits a target is configured with, as the user states them (or the simulator knows).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Times {
    /// Idle time after which a job is canceled (BP-3).
    pub idle_timeout: Option<Duration>,
    /// How long aggregating jobs take appends (BP-9).
    pub aggregation_window: Option<Duration>,
    /// How long ended jobs stay visible (BP-16).
    pub retention: Option<Duration>,
}

/// What the simulated systems are built with (short, so a check observes them in
/// simulated minutes).
pub const SIM_TIMES: (Duration, Duration, Duration) = (
    Duration::from_secs(120),
    Duration::from_secs(60),
    Duration::from_secs(180),
);

/// How checks reach a real DS3 target: credentials and stated waits.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Users from `--ds3-credentials`: the first with replication permission signs;
    /// one without it (if any) is used for BP-15's 403.
    pub credentials: Option<Credentials>,
    /// The waits the user stated.
    pub times: Times,
}

static SETTINGS: RwLock<Option<Settings>> = RwLock::new(None);

/// Sets how checks reach real DS3 targets (the CLI calls this before a run).
pub fn configure(settings: Settings) {
    if let Ok(mut s) = SETTINGS.write() {
        *s = Some(settings);
    }
}

/// The users and waits a check works with: the simulator's own inside a simulation,
/// otherwise what [`configure`] set (the fixture users by default).
pub fn current() -> (User, Option<User>, Times) {
    let (creds, times) = if replisim_sim::rt::in_sim() {
        let (idle, window, retention) = SIM_TIMES;
        (
            Credentials::fixture(),
            Times {
                idle_timeout: Some(idle),
                aggregation_window: Some(window),
                retention: Some(retention),
            },
        )
    } else {
        let s = SETTINGS
            .read()
            .ok()
            .and_then(|s| s.clone())
            .unwrap_or_default();
        (s.credentials.unwrap_or_else(Credentials::fixture), s.times)
    };
    let mut users: Vec<User> = creds.users().cloned().collect();
    users.sort_by_key(|u| !u.replicate);
    let main = users.first().cloned().unwrap_or_else(|| {
        Credentials::fixture()
            .users()
            .next()
            .cloned()
            .unwrap_or_else(|| User {
                access_id: String::new(),
                secret_key: String::new(),
                name: String::new(),
                id: String::new(),
                replicate: false,
            })
    });
    let plain = users.iter().find(|u| !u.replicate).cloned();
    (main, plain, times)
}

/// The bucket one rule writes in.
pub fn bucket_for(rule: &Rule, nonce: u64) -> String {
    format!("rs-{nonce:x}-{}", rule.id.to_ascii_lowercase())
}

/// The gateway settings of the simulated systems: documented behaviour, small cache and
/// chunks (so cache pressure and chunk order show with kilobytes), the short waits.
pub fn sim_gateway(defects: &std::collections::BTreeSet<Defect>) -> GatewayConfig {
    let (idle, window, retention) = SIM_TIMES;
    let mut c = GatewayConfig::new(0, "ds3");
    c.cache_bytes = 64 << 10;
    c.chunk_bytes = 16 << 10;
    c.idle_timeout_ms = idle.as_millis() as u64;
    c.aggregation_window_ms = window.as_millis() as u64;
    c.retention_ms = retention.as_millis() as u64;
    c.retry_after_secs = 2;
    c.defects = defects.clone();
    c
}

/// Two systems, `source` and `target`, one gateway each, joined by a WAN link (the
/// harness's client sits on the source's LAN). Their gateways are busy: the first GET of
/// each blob answers 307 ([`SIM_BUSY_REDIRECTS`]), so BP-7's retry is observed.
fn world(params: &SimParams) -> WorldBuilder {
    let mut config = sim_gateway(&params.ds3_defects);
    config.busy_redirects = SIM_BUSY_REDIRECTS;
    systems(config)
}

/// How many 307s the family's simulated gateways send for each blob GET before serving it
/// (docs/choices.md D13): fewer than the SDK's `maxRedirect`, so its retries get past them.
pub const SIM_BUSY_REDIRECTS: u32 = 1;

/// The two systems of `world` with gateways built from `config` (the fault sweep slows
/// persistence so that its crashes land while chunks are in cache).
pub fn systems(config: GatewayConfig) -> WorldBuilder {
    let factory = Ds3Factory::new(config, Credentials::fixture());
    WorldBuilder::new()
        .disk_bytes(64 << 20)
        .cluster("source", 1, factory.clone())
        .cluster("target", 1, factory)
        .wan("source", "target", Link::new())
}

/// DS3 has no delete of objects in its bulk API; a rule's jobs end on their own (idle
/// expiry) and its bucket is its own. Nothing to clean.
fn cleanup(_job: CleanupJob) -> CleanupFuture {
    Box::pin(async { None })
}
