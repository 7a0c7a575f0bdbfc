//! bench_writes: how fast the simulated SCSP cluster runs, in two figures.
//!
//! 1. **Replicated writes in one simulation.** A 4-node world with the default policy
//!    (2 replicas). The client creates a bucket, then sends `--writes` named POSTs (1 KiB
//!    bodies, distinct names, access node chosen round-robin), following every 301/307 to the
//!    exact `Location`. Every write must end in 201 with `Replica-Count: 2`, and afterwards
//!    exactly 2 disks must hold each object; otherwise the run aborts saying which write broke.
//! 2. **Seeds per second.** `--seeds` independent simulations (seeds 0..N) of a small workload
//!    (bucket + 20 writes + 20 reads, following redirects), first one at a time, then
//!    `--jobs` at a time. Each simulation runs on its own thread inside `try_simulate`.
//!
//! What counts as an HTTP exchange: one request and its response, wherever it goes: client
//! requests, redirected resends, and node-to-node bids, replica pushes and health inventories.
//! - Client exchanges are counted exactly, in the client.
//! - TCP connections are counted exactly: madsim emits one `trace!` event per connection a
//!   simulated listener accepts (`madsim::sim::net::tcp::listener`), and a tiny tracing
//!   subscriber counts those events per simulation thread.
//! - Simulated network messages are counted exactly by madsim (`NetSim::stat().msg_count`):
//!   one per connect plus one per flushed write.
//! - Node-to-node exchanges travel as whole messages on channels (`http::message`), which
//!   madsim counts like streams (one message per connect, one per request or response);
//!   the channels nodes accept are counted per thread by `rt::stats` and added to the
//!   connections.
//! - Node-to-node traffic may reuse pooled keep-alive connections, so connections alone do
//!   not count exchanges. The total is derived: `(messages - connections) / 2`, which holds
//!   while every HTTP request and every response leaves in one flushed write (the `FlushIfDirty`
//!   wrapper sends nothing on empty flushes). Each run starts with a calibration (one
//!   `GET /` per node, which causes no node-to-node traffic) and aborts if those exchanges do
//!   not cost exactly 1 connection and 3 messages each.
//!
//! Run: `cargo run --release -p replisim-sim --example bench_writes -- --writes 1000 --seeds 200 --jobs 2`

use std::cell::Cell;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Method;
use replisim_sim::http::client::{exchange, Answer};
use replisim_sim::rt;
use replisim_sim::world::{try_simulate, World, WorldConfig};

/// The same allocator as the `replisim` binary (conformance/src/main.rs says why), so that
/// the figures measured here are the ones the command line gets.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Nodes in every simulated world.
const NODE_COUNT: usize = 4;
/// Replicas every write must report (the default policy).
const REPLICA_COUNT_EXPECTED: &str = "2";
/// Body size of every benchmark write.
const BODY_BYTES: usize = 1024;
/// Bound on one client exchange (virtual time).
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest response body the client accepts.
const RESPONSE_BYTES_MAX: usize = 1 << 20;
/// Redirects followed for one request before giving up.
const REDIRECTS_MAX: usize = 3;
/// Simulated network messages of one exchange on a fresh connection: connect, request,
/// response.
const MESSAGES_PER_FRESH_EXCHANGE: u64 = 3;
/// Virtual time a node gets to bind its listener before the client starts.
const STARTUP_WAIT: Duration = Duration::from_millis(10);
/// Virtual-time bound for the big run.
const BIG_RUN_TIME_LIMIT: Duration = Duration::from_secs(86_400);
/// Virtual-time bound for each small seed.
const SEED_TIME_LIMIT: Duration = Duration::from_secs(3_600);
/// Writes (and reads) in the small per-seed workload.
const SEED_OBJECT_COUNT: usize = 20;

// ---------------------------------------------------------------------------------------
// Counting accepted connections (= HTTP exchanges) through madsim's own tracing event.

/// The module madsim logs `accept tcp connection` from.
const ACCEPT_EVENT_TARGET: &str = "madsim::sim::net::tcp::listener";

thread_local! {
    /// Connections accepted by simulated listeners on this thread. Each simulation runs on a
    /// fresh thread (`try_simulate`), so a reading belongs to one simulation only.
    static ACCEPTED: Cell<u64> = const { Cell::new(0) };
}

fn accepted_connections() -> u64 {
    ACCEPTED.with(Cell::get)
}

/// The simulation's network counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct NetCount {
    /// TCP connections accepted by any simulated listener, plus message channels accepted.
    connections: u64,
    /// madsim's message count: connects plus flushed writes.
    messages: u64,
}

impl NetCount {
    fn now() -> Self {
        Self {
            connections: accepted_connections()
                + replisim_sim::rt::stats::channels_accepted_on_this_thread(),
            messages: madsim::net::NetSim::current().stat().msg_count,
        }
    }

    fn since(self, earlier: NetCount) -> NetCount {
        NetCount {
            connections: self.connections - earlier.connections,
            messages: self.messages - earlier.messages,
        }
    }

    /// HTTP exchanges, derived: every message that is not a connect is a request or a response.
    fn exchanges(self) -> Result<u64, String> {
        let segments = self
            .messages
            .checked_sub(self.connections)
            .ok_or_else(|| format!("{self:?}: fewer messages than connections"))?;
        if segments % 2 != 0 {
            return Err(format!(
                "{self:?}: an odd number of non-connect messages, so some HTTP message took \
                 more than one write and the derived exchange count would be wrong"
            ));
        }
        Ok(segments / 2)
    }
}

/// Sends one `GET /` (the node status page: no node-to-node traffic) to every node and checks
/// that each cost exactly one connection and [`MESSAGES_PER_FRESH_EXCHANGE`] messages, i.e.
/// that the counters mean what the report says.
async fn calibrate(client: &mut Client, addrs: &[SocketAddr]) -> Result<(), String> {
    let before = NetCount::now();
    for addr in addrs {
        let answer = client
            .send_following(*addr, Method::GET, "/", Bytes::new())
            .await?;
        if answer.status != 200 {
            return Err(format!(
                "calibration GET / to {addr}: got {}",
                answer.status
            ));
        }
    }
    let seen = NetCount::now().since(before);
    let n = addrs.len() as u64;
    let expected = NetCount {
        connections: n,
        messages: n * MESSAGES_PER_FRESH_EXCHANGE,
    };
    if seen != expected {
        return Err(format!(
            "calibration: {n} status-page GETs gave {seen:?}, expected {expected:?}; the \
             exchange counter no longer matches madsim ({ACCEPT_EVENT_TARGET}) or the node"
        ));
    }
    Ok(())
}

/// A subscriber interested in one callsite only: madsim's accept event. Everything else is
/// switched off at registration, so the cost elsewhere is one cached interest check.
struct AcceptCounter;

fn is_accept_event(meta: &tracing::Metadata<'_>) -> bool {
    meta.is_event() && meta.target() == ACCEPT_EVENT_TARGET
}

impl tracing::Subscriber for AcceptCounter {
    fn register_callsite(
        &self,
        meta: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        if is_accept_event(meta) {
            tracing::subscriber::Interest::always()
        } else {
            tracing::subscriber::Interest::never()
        }
    }

    fn enabled(&self, meta: &tracing::Metadata<'_>) -> bool {
        is_accept_event(meta)
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::TRACE)
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, _: &tracing::Event<'_>) {
        ACCEPTED.with(|c| c.set(c.get() + 1));
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

// ---------------------------------------------------------------------------------------
// The client.

/// A client that follows redirects and counts what it sends.
#[derive(Debug, Default)]
struct Client {
    /// Exchanges sent, redirected resends included.
    exchanges: u64,
    /// 301/307 answers followed.
    redirects: u64,
}

impl Client {
    /// Sends one request and follows up to [`REDIRECTS_MAX`] redirects to the exact
    /// `Location` (same method, headers and body).
    async fn send_following(
        &mut self,
        addr: SocketAddr,
        method: Method,
        target: &str,
        body: Bytes,
    ) -> Result<Answer, String> {
        let mut addr = addr;
        let mut target = target.to_string();
        for _ in 0..=REDIRECTS_MAX {
            self.exchanges += 1;
            let answer = exchange(
                addr,
                method.clone(),
                &target,
                &[],
                body.clone(),
                EXCHANGE_TIMEOUT,
                RESPONSE_BYTES_MAX,
            )
            .await
            .map_err(|e| format!("{method} {target} to {addr}: {e}"))?;
            if answer.status != 301 && answer.status != 307 {
                return Ok(answer);
            }
            self.redirects += 1;
            let location = answer
                .header("location")
                .ok_or_else(|| format!("{method} {target}: {} without Location", answer.status))?;
            (addr, target) = split_location(location)?;
        }
        Err(format!(
            "{method} {target}: more than {REDIRECTS_MAX} redirects"
        ))
    }
}

/// `http://10.0.0.2:80/b/o?auth=..` → (10.0.0.2:80, `/b/o?auth=..`).
fn split_location(location: &str) -> Result<(SocketAddr, String), String> {
    let rest = location
        .strip_prefix("http://")
        .ok_or_else(|| format!("Location is not absolute http: {location}"))?;
    let slash = rest
        .find('/')
        .ok_or_else(|| format!("Location has no path: {location}"))?;
    let (host, target) = rest.split_at(slash);
    let addr = host
        .parse()
        .map_err(|e| format!("Location host `{host}` is not ip:port ({e}): {location}"))?;
    Ok((addr, target.to_string()))
}

/// Checks a write's answer: 201 with `Replica-Count: 2`.
fn check_created(what: &str, answer: &Answer) -> Result<(), String> {
    if answer.status != 201 {
        return Err(format!(
            "{what}: expected 201, got {} ({})",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        ));
    }
    match answer.header("replica-count") {
        Some(REPLICA_COUNT_EXPECTED) => Ok(()),
        other => Err(format!(
            "{what}: 201 with Replica-Count {other:?}, expected {REPLICA_COUNT_EXPECTED}"
        )),
    }
}

fn body_for(i: usize) -> Bytes {
    let mut body = vec![b'a' + (i % 26) as u8; BODY_BYTES];
    let tag = format!("object {i}");
    body[..tag.len()].copy_from_slice(tag.as_bytes());
    Bytes::from(body)
}

/// The store key of a named object in the default domain: `n/<domain>/<bucket>/<name>`.
fn store_key(target: &str) -> String {
    format!("n/{target}")
}

// ---------------------------------------------------------------------------------------
// Figure 1: many writes in one simulation.

#[derive(Debug, Clone)]
struct WritesRun {
    /// Virtual time from the bucket POST to the last 201.
    virtual_elapsed: Duration,
    /// Client exchanges in that window (redirected resends included).
    client_exchanges: u64,
    /// Redirects the client followed.
    redirects: u64,
    /// Connections and messages in that window.
    net: NetCount,
}

/// Creates `bucket`, then writes `count` objects named by `name`, round-robin over the
/// nodes; every write must be a 201 with two replicas.
async fn write_objects(
    client: &mut Client,
    addrs: &[SocketAddr],
    bucket: &str,
    count: usize,
    name: impl Fn(usize) -> String,
) -> Result<(), String> {
    let created = client
        .send_following(addrs[0], Method::POST, bucket, Bytes::new())
        .await?;
    if created.status != 201 {
        return Err(format!(
            "bucket create: expected 201, got {}",
            created.status
        ));
    }
    for i in 0..count {
        let target = name(i);
        let answer = client
            .send_following(addrs[i % addrs.len()], Method::POST, &target, body_for(i))
            .await?;
        check_created(&format!("write {i} (POST {target})"), &answer)?;
    }
    Ok(())
}

async fn writes_workload(writes: usize) -> Result<WritesRun, String> {
    let world = World::start(WorldConfig::new(NODE_COUNT));
    let addrs = world.addrs();
    let run = world
        .on_client(async move {
            rt::sleep(STARTUP_WAIT).await;
            let mut client = Client::default();
            calibrate(&mut client, &addrs).await?;
            let mut client = Client::default();
            let before = NetCount::now();
            let start = Instant::now();
            write_objects(&mut client, &addrs, "/bench", writes, |i| {
                format!("/bench/obj-{i:06}")
            })
            .await?;
            let virtual_elapsed = start.elapsed();
            Ok::<_, String>(WritesRun {
                virtual_elapsed,
                client_exchanges: client.exchanges,
                redirects: client.redirects,
                net: NetCount::now().since(before),
            })
        })
        .await?;
    for i in 0..writes {
        let key = store_key(&format!("/bench/obj-{i:06}"));
        let copies = world.replica_count(&key);
        if copies != 2 {
            return Err(format!("write {i}: {copies} disks hold {key}, expected 2"));
        }
    }
    Ok(run)
}

// ---------------------------------------------------------------------------------------
// Figure 2: many small simulations.

/// What one seed of the small workload did; equal across runs of the same seed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SeedRun {
    virtual_elapsed: Duration,
    client_exchanges: u64,
    net: NetCount,
}

async fn seed_workload() -> Result<SeedRun, String> {
    let world = World::start(WorldConfig::new(NODE_COUNT));
    let addrs = world.addrs();
    world
        .on_client(async move {
            rt::sleep(STARTUP_WAIT).await;
            let mut client = Client::default();
            calibrate(&mut client, &addrs).await?;
            let mut client = Client::default();
            let before = NetCount::now();
            let start = Instant::now();
            write_objects(&mut client, &addrs, "/s", SEED_OBJECT_COUNT, |i| {
                format!("/s/o{i}")
            })
            .await?;
            for i in 0..SEED_OBJECT_COUNT {
                let target = format!("/s/o{i}");
                let answer = client
                    .send_following(
                        addrs[(i + 1) % addrs.len()],
                        Method::GET,
                        &target,
                        Bytes::new(),
                    )
                    .await?;
                if answer.status != 200 || answer.body != body_for(i) {
                    return Err(format!(
                        "GET {target}: expected 200 with the written body, got {} ({} bytes)",
                        answer.status,
                        answer.body.len()
                    ));
                }
            }
            Ok(SeedRun {
                virtual_elapsed: start.elapsed(),
                client_exchanges: client.exchanges,
                net: NetCount::now().since(before),
            })
        })
        .await
}

/// Runs seeds `0..seeds`, `jobs` at a time; returns the time spent and each seed's result.
fn run_seeds(seeds: u64, jobs: usize) -> Result<(Spent, Vec<SeedRun>), String> {
    let next = AtomicU64::new(0);
    let results: Mutex<Vec<Option<Result<SeedRun, String>>>> =
        Mutex::new(vec![None; seeds as usize]);
    let (spent, ()) = Spent::measure(|| {
        std::thread::scope(|scope| {
            for _ in 0..jobs {
                scope.spawn(|| loop {
                    let seed = next.fetch_add(1, Ordering::SeqCst);
                    if seed >= seeds {
                        break;
                    }
                    let outcome = match try_simulate(seed, SEED_TIME_LIMIT, seed_workload) {
                        Ok(Ok(run)) => Ok(run),
                        Ok(Err(e)) => Err(format!("seed {seed}: {e}")),
                        Err(e) => Err(e.to_string()),
                    };
                    results.lock().unwrap_or_else(|p| p.into_inner())[seed as usize] =
                        Some(outcome);
                });
            }
        })
    });
    let mut runs = Vec::with_capacity(seeds as usize);
    for (seed, slot) in results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .enumerate()
    {
        match slot {
            Some(Ok(run)) => runs.push(run),
            Some(Err(e)) => return Err(e),
            None => return Err(format!("seed {seed}: never ran")),
        }
    }
    Ok((spent, runs))
}

// ---------------------------------------------------------------------------------------
// Arguments and output.

#[derive(Debug, Clone, Copy)]
struct Args {
    writes: usize,
    seeds: u64,
    jobs: usize,
}

const USAGE: &str = "usage: bench_writes [--writes N (1000)] [--seeds N (200)] [--jobs N (2)]";

fn parse_args(raw: &[String]) -> Result<Args, String> {
    let mut args = Args {
        writes: 1000,
        seeds: 200,
        jobs: 2,
    };
    let mut i = 0;
    while i < raw.len() {
        let (flag, inline) = match raw[i].split_once('=') {
            Some((f, v)) => (f, Some(v.to_string())),
            None => (raw[i].as_str(), None),
        };
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        let value = match inline {
            Some(v) => v,
            None => {
                i += 1;
                raw.get(i)
                    .cloned()
                    .ok_or_else(|| format!("{flag} needs a value"))?
            }
        };
        let number: u64 = value
            .parse()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| format!("{flag} {value}: expected a whole number >= 1"))?;
        match flag {
            "--writes" => args.writes = number as usize,
            "--seeds" => args.seeds = number,
            "--jobs" => args.jobs = number as usize,
            other => return Err(format!("unrecognized flag {other}")),
        }
        i += 1;
    }
    Ok(args)
}

fn per_second(count: f64, wall: Duration) -> f64 {
    count / wall.as_secs_f64()
}

/// User + system CPU time of this whole process so far (finished threads included), from
/// `/proc/self/stat` in USER_HZ ticks (100 per second on Linux): 10 ms resolution. `None`
/// where there is no procfs. Read on a thread outside any simulation (madsim does not
/// intercept file reads anyway).
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces; fields after it start at `state` (field 3).
    let (_, after_name) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let utime: u64 = fields.get(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.get(15 - 3)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// Wall time and process CPU time of one phase. CPU time shows how much of the wall time
/// the benchmark really had the cores (the machine may be shared).
#[derive(Debug, Clone, Copy)]
struct Spent {
    wall: Duration,
    cpu: Option<Duration>,
}

impl Spent {
    fn measure<T>(work: impl FnOnce() -> T) -> (Spent, T) {
        let cpu_before = process_cpu();
        let started = Instant::now();
        let value = work();
        let wall = started.elapsed();
        let cpu = match (cpu_before, process_cpu()) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a)),
            _ => None,
        };
        (Spent { wall, cpu }, value)
    }

    fn cpu_text(&self) -> String {
        match self.cpu {
            Some(cpu) => format!("{:.2} s", cpu.as_secs_f64()),
            None => "n/a".to_string(),
        }
    }
}

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse_args(&raw) {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("bench_writes: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = tracing::subscriber::set_global_default(AcceptCounter) {
        eprintln!("bench_writes: cannot install the exchange counter: {e}");
        return ExitCode::from(2);
    }
    match run(args, &raw) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_writes: FAILED: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(args: Args, raw: &[String]) -> Result<(), String> {
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("bench_writes ({profile} build, {cores} cores available)");
    println!(
        "command: cargo run --release -p replisim-sim --example bench_writes -- --writes {} --seeds {} --jobs {}",
        args.writes, args.seeds, args.jobs
    );
    println!("argv:    bench_writes {}", raw.join(" "));
    if profile == "debug" {
        println!("warning: debug build; the figures below are not comparable to release ones");
    }

    // Figure 1.
    let writes = args.writes;
    let (big_spent, big) =
        Spent::measure(|| try_simulate(0, BIG_RUN_TIME_LIMIT, move || writes_workload(writes)));
    let big = big
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("seed 0: {e}"))?;
    let big_wall = big_spent.wall;
    let big_exchanges = big.net.exchanges().map_err(|e| format!("seed 0: {e}"))?;
    if big_exchanges < big.client_exchanges {
        return Err(format!(
            "seed 0: derived {big_exchanges} exchanges in all, but the client alone sent {}",
            big.client_exchanges
        ));
    }
    let node_to_node = big_exchanges - big.client_exchanges;

    // Figure 2.
    let (seq_spent, seq_runs) = run_seeds(args.seeds, 1)?;
    let (par_spent, par_runs) = run_seeds(args.seeds, args.jobs)?;
    let (seq_wall, par_wall) = (seq_spent.wall, par_spent.wall);
    let same = seq_runs == par_runs;
    let mut seed_exchanges = 0;
    for (seed, run) in seq_runs.iter().enumerate() {
        seed_exchanges += run
            .net
            .exchanges()
            .map_err(|e| format!("seed {seed}: {e}"))?;
    }
    let seed_client: u64 = seq_runs.iter().map(|r| r.client_exchanges).sum();
    let seed_connections: u64 = seq_runs.iter().map(|r| r.net.connections).sum();
    let seed_virtual: Duration = seq_runs.iter().map(|r| r.virtual_elapsed).sum();
    let seeds = args.seeds as f64;

    println!();
    println!(
        "## {} replicated writes, one simulation (seed 0, {NODE_COUNT} nodes, 2 replicas, {BODY_BYTES} B bodies)",
        args.writes
    );
    println!("| figure | value |");
    println!("|---|---|");
    println!(
        "| wall time (whole simulation: thread, runtime, world start, calibration, writes, checks) | {:.3} s |",
        big_wall.as_secs_f64()
    );
    println!(
        "| CPU time of the process meanwhile (user + sys) | {} |",
        big_spent.cpu_text()
    );
    println!(
        "| simulated time (bucket POST to last 201) | {:.3} s ({:.1} ms per write) |",
        big.virtual_elapsed.as_secs_f64(),
        big.virtual_elapsed.as_secs_f64() * 1000.0 / args.writes as f64
    );
    println!(
        "| writes answered 201 with Replica-Count 2 | {} of {} (+ bucket), 2 disks each |",
        args.writes, args.writes
    );
    println!(
        "| writes per wall second | {:.0} |",
        per_second(args.writes as f64, big_wall)
    );
    println!("| HTTP exchanges, total (derived) | {big_exchanges} |");
    println!(
        "|   client (exact: requests + {} redirected resends) | {} |",
        big.redirects, big.client_exchanges
    );
    println!("|   node-to-node (total - client: bids, replica pushes, health) | {node_to_node} |");
    println!(
        "| HTTP exchanges per wall second (total / wall) | {:.0} |",
        per_second(big_exchanges as f64, big_wall)
    );
    println!(
        "| client exchanges per wall second | {:.0} |",
        per_second(big.client_exchanges as f64, big_wall)
    );
    println!(
        "| connections accepted, TCP and message channels (exact) | {} |",
        big.net.connections
    );
    println!(
        "| simulated network messages (exact: connects + flushed writes) | {} |",
        big.net.messages
    );

    println!();
    println!(
        "## seeds per second: seeds 0..{}, each bucket + {SEED_OBJECT_COUNT} writes + {SEED_OBJECT_COUNT} reads",
        args.seeds
    );
    println!("| run | wall | CPU (user + sys) | seeds/s | ms/seed |");
    println!("|---|---|---|---|---|");
    for (label, spent) in [
        ("1 at a time".to_string(), seq_spent),
        (format!("{} at a time", args.jobs), par_spent),
    ] {
        println!(
            "| {label} | {:.3} s | {} | {:.1} | {:.2} |",
            spent.wall.as_secs_f64(),
            spent.cpu_text(),
            per_second(seeds, spent.wall),
            spent.wall.as_secs_f64() * 1000.0 / seeds
        );
    }
    println!();
    println!(
        "per seed (mean, calibration excluded): {:.1} HTTP exchanges ({:.1} client), {:.1} connections, {:.1} ms simulated",
        seed_exchanges as f64 / seeds,
        seed_client as f64 / seeds,
        seed_connections as f64 / seeds,
        seed_virtual.as_secs_f64() * 1000.0 / seeds
    );
    println!(
        "HTTP exchanges per wall second: {:.0} (1 at a time), {:.0} ({} at a time)",
        per_second(seed_exchanges as f64, seq_wall),
        per_second(seed_exchanges as f64, par_wall),
        args.jobs
    );
    println!(
        "every seed gave the same counts and simulated time in both runs: {}",
        if same { "yes" } else { "NO" }
    );
    Ok(())
}
