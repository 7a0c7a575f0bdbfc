//! The DS3 options of `replisim serve` (reference gateways on real sockets) and of
//! `replisim check` (credentials, and the waits the target is configured with).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use replisim_sim::ds3::auth::{Credentials, User};
use replisim_sim::ds3::gateway::GatewayConfig;
use replisim_sim::store::Disk;

use super::{Settings, Times};

/// `replisim serve` options for DS3 gateways.
#[derive(Debug, Clone, clap::Args)]
pub struct Ds3ServeArgs {
    /// Also serve reference BlackPearl DS3 gateways (one per system; see --ds3-systems).
    #[arg(long)]
    pub ds3: bool,
    /// Number of DS3 systems (2 = a source and a target for replication).
    #[arg(long, default_value_t = 2)]
    pub ds3_systems: usize,
    /// Port of the first DS3 system; the others follow. 0 picks free ports.
    #[arg(long, default_value_t = 8180)]
    pub ds3_port: u16,
    /// DS3 users, one a line: `access_id secret_key name [replicate]`. Without it, two
    /// users with fresh random keys are made and printed.
    #[arg(long, value_name = "FILE")]
    pub ds3_credentials: Option<std::path::PathBuf>,
    /// Idle time after which a job is canceled (default 24h; `90s`, `30m`, `24h`).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub ds3_idle_timeout: Option<Duration>,
    /// How long aggregating jobs take appends (default 30m).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub ds3_aggregation_window: Option<Duration>,
    /// How long ended jobs stay visible (default 30 days, `720h`).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub ds3_retention: Option<Duration>,
    /// Largest chunk the gateways cut a job into (`16384`, `16K`, `64M`, `1G`). The
    /// default is small, 16 KiB, so that the harness's kilobyte-sized jobs span several
    /// chunks and chunk order (BP-8) can be seen; real systems cut gigabytes.
    #[arg(long, value_name = "BYTES", value_parser = parse_size, default_value = "16K")]
    pub ds3_chunk_size: u64,
}

impl Default for Ds3ServeArgs {
    fn default() -> Self {
        Self {
            ds3: false,
            ds3_systems: 2,
            ds3_port: 8180,
            ds3_credentials: None,
            ds3_idle_timeout: None,
            ds3_aggregation_window: None,
            ds3_retention: None,
            ds3_chunk_size: SERVE_CHUNK_BYTES,
        }
    }
}

/// The chunk size `serve --ds3` uses unless `--ds3-chunk-size` says otherwise.
pub const SERVE_CHUNK_BYTES: u64 = 16 << 10;

/// `16384`, `16K`, `64M` or `1G` (binary multiples), at least 1 KiB.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a size (16384, 16K, 64M, 1G)"))?;
    let shift = match unit.trim_end_matches(['B', 'b', 'i']) {
        "" => 0,
        "K" | "k" => 10,
        "M" | "m" => 20,
        "G" | "g" => 30,
        _ => return Err(format!("`{s}`: unknown unit `{unit}` (use K, M or G)")),
    };
    let bytes = n
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("`{s}` is too large"))?;
    if bytes < 1024 {
        return Err(format!(
            "`{s}`: a chunk of less than 1 KiB holds no useful job"
        ));
    }
    Ok(bytes)
}

/// `replisim check` options for DS3 targets.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Ds3CheckArgs {
    /// DS3 users to sign with (the file `serve --ds3` prints): the first user with
    /// `replicate` signs; a user without it is used to see Replicate PUT Job's 403.
    #[arg(long, value_name = "FILE")]
    pub ds3_credentials: Option<std::path::PathBuf>,
    /// The target's job idle timeout, so BP-3 is observed (it waits 1.25 times this).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub ds3_idle_timeout: Option<Duration>,
    /// The target's aggregation window, so BP-9's window clause is observed.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub ds3_aggregation_window: Option<Duration>,
    /// The target's retention of ended jobs, so BP-16 is observed.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub ds3_retention: Option<Duration>,
}

/// `90`, `90s`, `30m`, `24h` or `2d`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (90s, 30m, 24h, 2d)"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86_400),
        _ => return Err(format!("`{s}`: unknown unit `{unit}` (use s, m, h or d)")),
    };
    Ok(Duration::from_secs(secs))
}

fn read_credentials(path: &std::path::Path) -> Result<Credentials, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("--ds3-credentials {}: {e}", path.display()))?;
    Credentials::parse(&text).map_err(|e| format!("--ds3-credentials {}: {e}", path.display()))
}

/// Applies `check`'s DS3 options before a run.
pub fn configure(args: &Ds3CheckArgs) -> Result<(), String> {
    let credentials = args
        .ds3_credentials
        .as_deref()
        .map(read_credentials)
        .transpose()?;
    super::configure(Settings {
        credentials,
        times: Times {
            idle_timeout: args.ds3_idle_timeout,
            aggregation_window: args.ds3_aggregation_window,
            retention: args.ds3_retention,
        },
    });
    Ok(())
}

/// Two users with keys from the operating system's hash seed (never from the source):
/// `admin` may replicate, `reader` may not.
fn fresh_credentials() -> Credentials {
    use std::hash::{BuildHasher, Hasher};
    let mut creds = Credentials::default();
    for (name, replicate) in [("admin", true), ("reader", false)] {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write(name.as_bytes());
        let key = format!(
            "{:016x}{:016x}",
            h.finish(),
            replisim_sim::rt::splitmix64(h.finish())
        );
        creds.add(User {
            access_id: format!("{name}-id"),
            secret_key: key,
            name: name.into(),
            id: replisim_sim::ds3::auth::user_uuid(name),
            replicate,
        });
    }
    creds
}

/// Starts the DS3 systems of `serve --ds3` on the current runtime and prints their URLs,
/// the credentials file and the `check` line. Returns the systems' addresses.
pub async fn start_serve(
    args: &Ds3ServeArgs,
    ip: IpAddr,
    seed: u64,
) -> Result<Vec<SocketAddr>, String> {
    let credentials = match &args.ds3_credentials {
        Some(path) => read_credentials(path)?,
        None => fresh_credentials(),
    };
    let mut addrs = Vec::new();
    for i in 0..args.ds3_systems.max(1) {
        let port = if args.ds3_port == 0 {
            0
        } else {
            args.ds3_port
                .checked_add(i as u16)
                .ok_or("--ds3-port: the range runs past 65535")?
        };
        let mut config = GatewayConfig::new(replisim_sim::rt::splitmix64(seed ^ i as u64), "ds3");
        config.chunk_bytes = args.ds3_chunk_size;
        if let Some(d) = args.ds3_idle_timeout {
            config.idle_timeout_ms = d.as_millis() as u64;
        }
        if let Some(d) = args.ds3_aggregation_window {
            config.aggregation_window_ms = d.as_millis() as u64;
        }
        if let Some(d) = args.ds3_retention {
            config.retention_ms = d.as_millis() as u64;
        }
        let addr = replisim_sim::ds3::host::serve_real(
            config,
            credentials.clone(),
            SocketAddr::new(ip, port),
            Disk::shared(1 << 30),
        )
        .await
        .map_err(|e| format!("could not start DS3 system {}: {e}", i + 1))?;
        addrs.push(addr);
    }
    println!(
        "replisim serve: {} DS3 systems, chunks of at most {} bytes",
        addrs.len(),
        args.ds3_chunk_size
    );
    for (i, a) in addrs.iter().enumerate() {
        let role = match i {
            0 => "source",
            1 => "target",
            _ => "system",
        };
        println!("  ds3 {role} http://{a}");
    }
    if args.ds3_credentials.is_none() {
        println!("  ds3 users (save these lines as a file for --ds3-credentials):");
        for u in credentials.users() {
            let flag = if u.replicate { " replicate" } else { "" };
            println!("    {} {} {}{flag}", u.access_id, u.secret_key, u.name);
        }
    }
    let urls: Vec<String> = addrs.iter().map(|a| format!("http://{a}")).collect();
    println!(
        "check it with: replisim check --protocol ds3 --target ds3={} --ds3-credentials FILE",
        urls.join(",")
    );
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_bad_ones_are_errors() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("5w").is_err());
        assert_eq!(parse_size("16K"), Ok(SERVE_CHUNK_BYTES));
        assert_eq!(parse_size("16384"), Ok(16384));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert!(parse_size("12").unwrap_err().contains("1 KiB"));
        assert!(parse_size("5T").is_err());
        assert!(parse_size("K").is_err());
        let fresh = fresh_credentials();
        assert_eq!(fresh.users().filter(|u| u.replicate).count(), 1);
        assert_eq!(fresh.users().count(), 2);
    }
}
