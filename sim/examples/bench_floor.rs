//! bench_floor: what one HTTP exchange costs inside the full simulation, against the floor
//! of a raw madsim + hyper ping-pong, measured in the same run.
//!
//! 1. **The floor.** One madsim simulation with two hosts. The server host runs hyper's
//!    HTTP/1.1 server on the runtime shim's listener (the same `FlushIfDirty` streams the
//!    nodes use) and answers every `GET /ping` with a 4-byte body. The client host opens ONE
//!    keep-alive connection and sends `--exchanges` requests on it, one after another,
//!    collecting each body. Cost per exchange = CPU of the whole simulation / exchanges.
//! 2. **The full simulation.** `--seeds` standard sweep seeds (`sweep::run_seed` with
//!    `SweepConfig::new()`: 4 nodes, the 200-operation workload, every fault kind), one at a
//!    time. Exchanges are counted by the runtime shim (`rt::stats`): every response leaves an
//!    accepted socket in one flushed write, or an accepted message channel as one message
//!    (node-to-node exchanges in the simulator, `http::message`), so the messages sent by
//!    servers are the exchanges answered (`NetStats::exchanges`). Cost per exchange = CPU of
//!    the seeds / exchanges.
//!
//! 3. **The node-to-node floor.** `--exchanges` request/answer pairs on one message channel
//!    between two simulated hosts, as the simulator carries bids, replica pushes and
//!    inventories (`http::message`), with no HTTP and no signature.
//!
//! The three are run in turn `--rounds` times in one process, and the lowest cost of each
//! is kept (the machine is shared; the lowest is the one least disturbed). The program prints
//! the costs; the simulation's ratio to the HTTP floor (the measure) and the median of
//! each round's own ratio (the runs of a round are adjacent in time, so a drift in the
//! machine's speed cancels out); and its ratio to the floors of its own exchanges, each
//! exchange priced at the floor of the way it travelled (HTTP or message).
//! `--part floor|messages|sim` runs only one of them, for callgrind.
//!
//! `--part hour` instead runs the fault-heavy simulated hour (seed 1, 21,000 operations,
//! every fault kind at intensity 4 for 3,600 s) and prints its cost, its exchanges per
//! simulated hour, and the requests pools sent by kind (bids, inventories, replica pushes,
//! other internal requests, client requests).
//!
//! Run: `cargo run --release -p replisim-sim --example bench_floor -- --exchanges 20000 --seeds 20 --rounds 3`

#[path = "common/median.rs"]
mod median;

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use replisim_sim::faults::FaultKind;
use replisim_sim::http::pool::sent_by_kind;
use replisim_sim::nemesis::NemesisConfig;
use replisim_sim::rt;
use replisim_sim::rt::stats::NetStats;
use replisim_sim::sweep::{run_seed, SweepConfig};
use replisim_sim::world::try_simulate;

/// The same allocator as the `replisim` binary (conformance/src/main.rs says why), so that
/// the figures measured here are the ones the command line gets.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The ping-pong server's address.
const SERVER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 77, 0, 1)), 80);
/// The ping-pong client's address.
const CLIENT_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 77, 0, 2));
/// The ping-pong answer.
const PONG: &[u8] = b"pong";
/// Virtual-time bound of the ping-pong simulation.
const PING_PONG_TIME_LIMIT: Duration = Duration::from_secs(7 * 86_400);

/// What one measured part did.
#[derive(Debug, Clone, Copy)]
struct Cost {
    /// CPU of the process over the part.
    cpu: Duration,
    /// Wall time over the part.
    wall: Duration,
    /// HTTP exchanges answered.
    exchanges: u64,
    /// Of those, the ones answered as messages on a channel (node-to-node, in the
    /// simulator); the rest were answered on a stream, as HTTP/1.1 bytes.
    messaged: u64,
    /// Connections accepted (TCP streams and message channels).
    connections: u64,
}

impl Cost {
    fn of(cpu: Duration, wall: Duration, net: &NetStats) -> Self {
        Self {
            cpu,
            wall,
            exchanges: net.exchanges(),
            messaged: net.messages_by_servers,
            connections: net.connections(),
        }
    }

    /// "cpu C s, wall W s: X µs per exchange", the end of every round's line.
    fn timing(&self) -> String {
        format!(
            "cpu {:.2} s, wall {:.2} s: {:.2} µs per exchange",
            self.cpu.as_secs_f64(),
            self.wall.as_secs_f64(),
            self.per_exchange_us()
        )
    }

    fn per_exchange_us(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.exchanges.max(1) as f64
    }
}

/// User + system CPU of this process from `/proc/self/stat`, in USER_HZ ticks (10 ms).
fn process_cpu() -> Result<Duration, String> {
    let stat = std::fs::read_to_string("/proc/self/stat").map_err(|e| format!("stat: {e}"))?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or("stat: no ')'")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the ')'.
    let ticks = |i: usize| -> Result<u64, String> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| format!("stat: field {i}"))
    };
    Ok(Duration::from_millis((ticks(11)? + ticks(12)?) * 10))
}

fn measure<T>(run: impl FnOnce() -> Result<T, String>) -> Result<(T, Duration, Duration), String> {
    let cpu_before = process_cpu()?;
    let start = Instant::now();
    let out = run()?;
    let wall = start.elapsed();
    let cpu = process_cpu()? - cpu_before;
    Ok((out, cpu, wall))
}

/// One simulation (seed 0) of two hosts, measured: `serve` runs on the server host, then
/// `client` on the client host 10 ms later; it ends when the client does. Both hosts are
/// known to the link table, so either may open message channels.
fn two_hosts<S, SF, C, CF>(what: &str, serve: S, client: C) -> Result<(Duration, Duration), String>
where
    S: FnOnce() -> SF + Send + 'static,
    SF: std::future::Future<Output = ()> + Send + 'static,
    C: FnOnce() -> CF + Send + 'static,
    CF: std::future::Future<Output = Result<(), String>> + Send + 'static,
{
    let ((), cpu, wall) = measure(|| {
        try_simulate(0, PING_PONG_TIME_LIMIT, move || async move {
            let handle = madsim::runtime::Handle::current();
            let server = handle.create_node().name("pong").ip(SERVER.ip()).build();
            let client_host = handle.create_node().name("ping").ip(CLIENT_IP).build();
            rt::netem::set_host(server.id(), SERVER.ip());
            rt::netem::set_host(client_host.id(), CLIENT_IP);
            server.spawn(async move { serve().await });
            client_host
                .spawn(async move {
                    rt::sleep(Duration::from_millis(10)).await;
                    client().await
                })
                .await
                .map_err(|e| format!("client task: {e}"))?
        })
        .map_err(|e| format!("{what} simulation: {}", e.message))?
    })?;
    Ok((cpu, wall))
}

/// The floor: `exchanges` keep-alive GETs on one connection between two simulated hosts.
fn ping_pong(exchanges: u64) -> Result<Cost, String> {
    let before = NetStats::now();
    let serve = || async move {
        let listener = rt::listen(SERVER).await.expect("bind the ping-pong server");
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            rt::spawn(async move {
                let service = service_fn(|_req: Request<hyper::body::Incoming>| async {
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(PONG))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    };
    let client = move || async move {
        let stream = rt::connect(SERVER)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        rt::spawn(async move {
            let _ = conn.await;
        });
        for i in 0..exchanges {
            let request = Request::get("/ping")
                .header(http::header::HOST, "10.77.0.1")
                .body(Full::new(Bytes::new()))
                .map_err(|e| format!("request: {e}"))?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| format!("exchange {i}: {e}"))?;
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("body {i}: {e}"))?
                .to_bytes();
            if body != PONG {
                return Err(format!("exchange {i}: body {body:?}"));
            }
        }
        Ok(())
    };
    let (cpu, wall) = two_hosts("ping-pong", serve, client)?;
    let net = NetStats::now().since(before);
    if net.sent_by_servers != exchanges || net.accepted != 1 {
        return Err(format!(
            "ping-pong: {exchanges} exchanges on one connection gave {net:?}; the shim's \
             counters no longer count one message per response"
        ));
    }
    Ok(Cost::of(cpu, wall, &net))
}

/// The node-to-node floor: `exchanges` request/answer pairs on one message channel
/// (`rt::channel`, what node-to-node exchanges ride in the simulator) between two simulated
/// hosts, each message a boxed value as `http::message` sends. No HTTP, no signature: what
/// madsim alone charges for one exchange that travels as messages.
fn message_ping_pong(exchanges: u64) -> Result<Cost, String> {
    let before = NetStats::now();
    let serve = || async move {
        let listener = rt::channel::listen(SERVER)
            .await
            .expect("bind the message ping-pong server");
        loop {
            let Ok((mut channel, _)) = listener.accept().await else {
                continue;
            };
            rt::spawn(async move {
                while let Ok(message) = channel.recv().await {
                    let answer: rt::channel::Payload =
                        Box::new(message.downcast::<u64>().map(|n| *n + 1).unwrap_or(0));
                    if channel.send(answer).await.is_err() {
                        break;
                    }
                }
            });
        }
    };
    let client = move || async move {
        let mut channel = rt::channel::connect(SERVER)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        for i in 0..exchanges {
            channel
                .send(Box::new(i))
                .await
                .map_err(|e| format!("exchange {i}: {e}"))?;
            let answer = channel
                .recv()
                .await
                .map_err(|e| format!("answer {i}: {e}"))?;
            if answer.downcast_ref::<u64>() != Some(&(i + 1)) {
                return Err(format!("exchange {i}: a wrong answer"));
            }
        }
        Ok(())
    };
    let (cpu, wall) = two_hosts("message ping-pong", serve, client)?;
    let net = NetStats::now().since(before);
    if net.exchanges() != exchanges || net.channels_accepted != 1 {
        return Err(format!(
            "message ping-pong: {exchanges} exchanges on one channel gave {net:?}"
        ));
    }
    Ok(Cost::of(cpu, wall, &net))
}

/// The fault-heavy simulated hour of BENCHMARKS.md (as `replisim sweep --seed 1 --ops 21000
/// --duration-secs 3600 --intensity 4`): its cost, and its requests by kind.
fn fault_heavy_hour() -> Result<(), String> {
    let mut config = SweepConfig::new();
    config.workload.ops = 21_000;
    config.nemesis = NemesisConfig::new(FaultKind::ALL.into_iter().collect()).with_intensity(4.0);
    config.nemesis.duration = Duration::from_secs(3600);
    let (before, kinds_before) = (NetStats::now(), sent_by_kind());
    let (report, cpu, wall) = measure(|| run_seed(1, &config).map_err(|e| e.message))?;
    let net = NetStats::now().since(before);
    let simulated_h = report.simulated.as_secs_f64() / 3600.0;
    println!(
        "hour: seed 1, {} ops, {} faults, {} violations, {:.0} s simulated; cpu {:.2} s, wall {:.2} s; \
         {} exchanges ({:.0} per simulated hour, {} of them as messages) on {} connections: {:.2} µs per exchange",
        report.ops,
        report.faults.values().sum::<usize>(),
        report.violations.len(),
        report.simulated.as_secs_f64(),
        cpu.as_secs_f64(),
        wall.as_secs_f64(),
        net.exchanges(),
        net.exchanges() as f64 / simulated_h,
        net.messages_by_servers,
        net.connections(),
        cpu.as_secs_f64() * 1e6 / net.exchanges().max(1) as f64
    );
    print_kinds("hour", &kinds_before, |n| {
        format!("({:.0} per simulated hour)", n as f64 / simulated_h)
    });
    Ok(())
}

/// Prints the requests the pools sent by kind since `before`, each with `per`'s figure.
fn print_kinds(label: &str, before: &[(&'static str, u64)], per: impl Fn(u64) -> String) {
    for ((kind, after), (_, earlier)) in sent_by_kind().into_iter().zip(before) {
        let n = after - earlier;
        println!("{label}: {kind:>14} requests {n:>8} {}", per(n));
    }
}

/// The full simulation: standard sweep seeds `0..seeds`, one at a time.
fn sweep_seeds(seeds: u64) -> Result<Cost, String> {
    let config = SweepConfig::new();
    let (before, kinds_before) = (NetStats::now(), sent_by_kind());
    let (violations, cpu, wall) = measure(|| {
        let mut violations = 0;
        for seed in 0..seeds {
            let report =
                run_seed(seed, &config).map_err(|e| format!("seed {seed}: {}", e.message))?;
            violations += report.violations.len();
        }
        Ok(violations)
    })?;
    if violations > 0 {
        return Err(format!(
            "{violations} invariant violations in seeds 0..{seeds}"
        ));
    }
    let net = NetStats::now().since(before);
    print_kinds("sim", &kinds_before, |n| {
        format!("({:.1} per seed)", n as f64 / seeds.max(1) as f64)
    });
    Ok(Cost::of(cpu, wall, &net))
}

struct Args {
    exchanges: u64,
    seeds: u64,
    rounds: u32,
    part: Option<String>,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            exchanges: 20_000,
            seeds: 20,
            rounds: 3,
            part: None,
        }
    }
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args::default();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        let number = |v: String| -> Result<u64, String> {
            match v.parse::<u64>() {
                Ok(n) if n >= 1 => Ok(n),
                _ => Err(format!("{flag}: expected a whole number ≥ 1, got `{v}`")),
            }
        };
        match flag.as_str() {
            "--exchanges" => args.exchanges = number(value()?)?,
            "--seeds" => args.seeds = number(value()?)?,
            "--rounds" => {
                args.rounds = u32::try_from(number(value()?)?).map_err(|_| "--rounds: too large")?
            }
            "--part" => {
                let v = value()?;
                if !["floor", "sim", "hour", "messages"].contains(&v.as_str()) {
                    return Err(format!(
                        "--part: expected floor, sim, hour or messages, got `{v}`"
                    ));
                }
                args.part = Some(v);
            }
            other => return Err(format!("unknown flag `{other}`")),
        }
    }
    Ok(args)
}

fn best(costs: &[Cost]) -> Option<Cost> {
    costs.iter().copied().min_by(|a, b| {
        a.per_exchange_us()
            .partial_cmp(&b.per_exchange_us())
            .unwrap_or(std::cmp::Ordering::Equal)
    })
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    if args.part.as_deref() == Some("hour") {
        return fault_heavy_hour();
    }
    let wants = |part: &str| args.part.is_none() || args.part.as_deref() == Some(part);
    let (mut floors, mut message_floors, mut sims) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=args.rounds {
        if wants("floor") {
            let c = ping_pong(args.exchanges)?;
            println!(
                "round {round} floor: {} exchanges on {} connection, {}",
                c.exchanges,
                c.connections,
                c.timing()
            );
            floors.push(c);
        }
        if wants("messages") {
            let c = message_ping_pong(args.exchanges)?;
            println!(
                "round {round} messages: {} exchanges on one channel, {}",
                c.exchanges,
                c.timing()
            );
            message_floors.push(c);
        }
        if wants("sim") {
            let c = sweep_seeds(args.seeds)?;
            println!(
                "round {round} sim:   {} seeds, {} exchanges ({:.1} per seed, {} of them as messages) on {} connections, {}",
                args.seeds,
                c.exchanges,
                c.exchanges as f64 / args.seeds as f64,
                c.messaged,
                c.connections,
                c.timing()
            );
            sims.push(c);
        }
    }
    if let (Some(f), Some(s)) = (best(&floors), best(&sims)) {
        println!(
            "best of {}: floor {:.2} µs, full simulation {:.2} µs per exchange: ratio {:.2} (goal ≤ 2)",
            args.rounds,
            f.per_exchange_us(),
            s.per_exchange_us(),
            s.per_exchange_us() / f.per_exchange_us()
        );
        if let Some(m) = best(&message_floors) {
            println!(
                "best of {}: against the floors of its own exchanges ({} over HTTP at {:.2} µs, {} as messages at {:.2} µs): ratio {:.2}",
                args.rounds,
                s.exchanges - s.messaged,
                f.per_exchange_us(),
                s.messaged,
                m.per_exchange_us(),
                own_floors_ratio(&f, &m, &s)
            );
        }
    }
    if let Some(ratio) = median_round_ratio(&floors, &sims) {
        println!(
            "median of the {} rounds' own ratios: {ratio:.2} (each round's simulation against the floor measured just before it)",
            floors.len().min(sims.len())
        );
    }
    Ok(())
}

/// The simulation's CPU against what its exchanges cost at the floor of their own kind: the
/// HTTP ones at the ping-pong's price, the node-to-node messages at the message channel's.
fn own_floors_ratio(floor: &Cost, message_floor: &Cost, sim: &Cost) -> f64 {
    let streamed = (sim.exchanges - sim.messaged) as f64;
    let at_floors =
        streamed * floor.per_exchange_us() + sim.messaged as f64 * message_floor.per_exchange_us();
    sim.cpu.as_secs_f64() * 1e6 / at_floors
}

/// The median over rounds of each round's own ratio. On a machine whose speed drifts, the
/// two runs of one round are closer in time than the best of each, which may come from
/// different rounds.
fn median_round_ratio(floors: &[Cost], sims: &[Cost]) -> Option<f64> {
    median::median(
        floors
            .iter()
            .zip(sims)
            .map(|(f, s)| s.per_exchange_us() / f.per_exchange_us()),
    )
}

/// What `--help` prints, with the defaults `parse_args` starts from.
fn usage() -> String {
    let d = Args::default();
    format!(
        "usage: bench_floor [--exchanges N] [--seeds N] [--rounds N] \
         [--part floor|messages|sim|hour]  (defaults: {} exchanges, {} seeds, {} rounds, every \
         part but hour; see the header of sim/examples/bench_floor.rs)",
        d.exchanges, d.seeds, d.rounds
    )
}

fn main() -> ExitCode {
    if std::env::args().skip(1).any(|a| a == "-h" || a == "--help") {
        println!("{}", usage());
        return ExitCode::SUCCESS;
    }
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_floor: {e}");
            ExitCode::FAILURE
        }
    }
}
