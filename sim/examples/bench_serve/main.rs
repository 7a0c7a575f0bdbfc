//! bench_serve: `replisim serve` against a bare hyper server and against the protocol's own
//! floors, under one load generator, in one run.
//!
//! Six servers run as child processes on loopback for the whole benchmark:
//! - **bare**: this program re-run with `--bare-server PORT`: hyper's HTTP/1.1 server on a
//!   tokio multi-thread runtime (as `serve` uses) that keeps POSTed bodies in a map and
//!   answers GETs from it. Nothing else: the most a hyper server can do on this machine.
//! - four **floors**: this program re-run with `--floor-server PORT PEERS TRANSPORT [push]`:
//!   the bare server plus, before every answer, the bid round SCSP-6 asks of every request,
//!   to `--nodes` − 1 in-process peers that answer at once (`floor.rs`). Bids travel as
//!   HTTP/1.1 exchanges (as `serve`'s do) or as UDP datagrams; with `push`, each POST also
//!   pushes its body to a peer: the cost of that work alone, which a server doing it and
//!   more is not expected to beat. Like bare, they run on the system allocator; `serve` runs
//!   on mimalloc, as the `replisim` binary always does.
//! - **serve**: `replisim serve --nodes N` (the binary given by `--replisim`).
//!
//! The load goes to one server at a time, each in turn, for `--rounds` rounds, so that a
//! slow spell of a shared machine weighs on one round of every server rather than on one
//! server. The load: `--connections` keep-alive connections, each in a loop of one POST of
//! a fresh 4 KiB object (`/bench/r<round>-c<conn>-<i>`) then one GET of it, for `--secs`
//! seconds after a one-second warm-up. SCSP may answer 301/307; the generator follows to
//! `Location` on a keep-alive connection to that node, and a request's latency covers its
//! redirects. Every POST must end in 201 and every GET in 200 with the body sent (otherwise
//! the run stops). Printed per round and server: requests/s and latency p50/p90/p99, by
//! method; then each floor's and serve's share of the same round's bare, and the median of
//! those shares.
//!
//! Run (release, from the workspace root, with `replisim` built):
//! `cargo run --release -p replisim-sim --example bench_serve -- --connections 16 --secs 5 --rounds 3`

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

mod floor;
#[path = "../common/median.rs"]
mod median;

use floor::{Floor, FloorArgs};

// No mimalloc here, unlike `replisim` and the other benchmarks: under it this process's
// bare hyper server and load generator (tokio on several threads) did 35–40% fewer
// requests/s than on the system allocator (BENCHMARKS.md, Figure 10), which would flatter
// `serve`'s share of bare.

/// Size of every object written and read.
const OBJECT_BYTES: usize = 4096;
/// Load before measuring starts.
const WARM_UP: Duration = Duration::from_secs(1);
/// How long a server gets to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// The bucket every object goes into.
const BUCKET: &str = "bench";
/// Redirects followed for one request.
const REDIRECTS_MAX: usize = 3;
/// The longest one HTTP exchange may take, the load generator's or a floor's.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------
// The bare server.

/// Runs the bare server on `port` until the process is killed; with `floor`, a floor server
/// instead: the same, after a bid round to that many peers by that transport
/// (`floor.rs`).
fn bare_or_floor_server(port: u16, floor: Option<FloorArgs>) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    runtime.block_on(async move {
        let floor = match floor {
            Some(f) => Some(Arc::new(Floor::start(f).await?)),
            None => None,
        };
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| format!("bind {port}: {e}"))?;
        let store: Arc<Mutex<HashMap<String, Bytes>>> = Arc::default();
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(s) => s,
                Err(_) => continue,
            };
            let _ = stream.set_nodelay(true);
            let (store, floor) = (store.clone(), floor.clone());
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let (store, floor) = (store.clone(), floor.clone());
                    async move {
                        Ok::<_, Infallible>(answer_request(req, &store, floor.as_deref()).await)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}

/// What the bare server does with a request: keeps a POSTed body, answers a GET from what
/// it keeps. A floor server first holds its bid round, and pushes a POSTed body before
/// keeping it.
async fn answer_request(
    req: Request<hyper::body::Incoming>,
    store: &Mutex<HashMap<String, Bytes>>,
    floor: Option<&Floor>,
) -> Response<Full<Bytes>> {
    // A floor whose peers failed answers 503, which stops the run: a round cut short must
    // never count as a cheaper one.
    if let Some(floor) = floor {
        if let Err(e) = floor.bid_round().await {
            eprintln!("floor: {e}");
            return status_only(StatusCode::SERVICE_UNAVAILABLE);
        }
    }
    let path = req.uri().path().to_string();
    match *req.method() {
        Method::POST => match req.into_body().collect().await {
            Ok(body) => {
                let body = body.to_bytes();
                if let Some(floor) = floor {
                    if let Err(e) = floor.replicate(body.clone()).await {
                        eprintln!("floor: {e}");
                        return status_only(StatusCode::SERVICE_UNAVAILABLE);
                    }
                }
                store
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(path, body);
                status_only(StatusCode::CREATED)
            }
            Err(_) => status_only(StatusCode::BAD_REQUEST),
        },
        Method::GET => {
            let found = store
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&path)
                .cloned();
            match found {
                Some(b) => Response::new(Full::new(b)),
                None => status_only(StatusCode::NOT_FOUND),
            }
        }
        _ => status_only(StatusCode::METHOD_NOT_ALLOWED),
    }
}

fn status_only(status: StatusCode) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = status;
    r
}

// ---------------------------------------------------------------------------------------
// The load generator.

/// A new keep-alive HTTP/1.1 connection to `addr`, its driver spawned.
async fn connect(addr: SocketAddr) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake {addr}: {e}"))?;
    tokio::spawn(conn);
    Ok(sender)
}

/// One request on an open connection to `addr`: the answer's status, headers and whole body,
/// or an error after [`EXCHANGE_TIMEOUT`] (a server or peer that stalls stops the run rather
/// than hanging it).
async fn exchange_on(
    sender: &mut SendRequest<Full<Bytes>>,
    addr: SocketAddr,
    method: Method,
    target: &str,
    body: Bytes,
) -> Result<(StatusCode, http::HeaderMap, Bytes), String> {
    let exchange = async {
        sender
            .ready()
            .await
            .map_err(|e| format!("{addr} not ready: {e}"))?;
        let request = Request::builder()
            .method(method)
            .uri(target)
            .header(http::header::HOST, addr.to_string())
            .header(http::header::CONTENT_LENGTH, body.len())
            .body(Full::new(body))
            .map_err(|e| format!("request: {e}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("{target} to {addr}: {e}"))?;
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| format!("body of {target}: {e}"))?
            .to_bytes();
        Ok((parts.status, parts.headers, body))
    };
    tokio::time::timeout(EXCHANGE_TIMEOUT, exchange)
        .await
        .map_err(|_| format!("{target} to {addr}: no answer within {EXCHANGE_TIMEOUT:?}"))?
}

/// One worker's keep-alive connections, by server address.
#[derive(Default)]
struct Connections {
    open: HashMap<SocketAddr, SendRequest<Full<Bytes>>>,
}

impl Connections {
    async fn send(
        &mut self,
        addr: SocketAddr,
        method: Method,
        target: &str,
        body: Bytes,
    ) -> Result<(StatusCode, http::HeaderMap, Bytes), String> {
        let mut sender = match self.open.remove(&addr) {
            Some(s) if !s.is_closed() => s,
            _ => connect(addr).await?,
        };
        let answer = exchange_on(&mut sender, addr, method, target, body).await?;
        self.open.insert(addr, sender);
        Ok(answer)
    }

    /// Sends and follows 301/307 to the exact `Location` (same method and body).
    async fn send_following(
        &mut self,
        addr: SocketAddr,
        method: Method,
        target: &str,
        body: Bytes,
    ) -> Result<(StatusCode, Bytes), String> {
        let (mut addr, mut target) = (addr, target.to_string());
        for _ in 0..=REDIRECTS_MAX {
            let (status, headers, answer) = self
                .send(addr, method.clone(), &target, body.clone())
                .await?;
            if status != StatusCode::MOVED_PERMANENTLY && status != StatusCode::TEMPORARY_REDIRECT {
                return Ok((status, answer));
            }
            let location = headers
                .get(http::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| format!("{target}: {status} without Location"))?;
            (addr, target) = split_location(location)?;
        }
        Err(format!("{target}: more than {REDIRECTS_MAX} redirects"))
    }
}

/// `http://127.0.0.1:8081/b/o?auth=..` → (127.0.0.1:8081, `/b/o?auth=..`).
fn split_location(location: &str) -> Result<(SocketAddr, String), String> {
    let rest = location
        .strip_prefix("http://")
        .ok_or_else(|| format!("Location `{location}` is not http://"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr = authority
        .parse()
        .map_err(|e| format!("Location `{location}`: {e}"))?;
    Ok((addr, path.to_string()))
}

/// Latencies of the POSTs and of the GETs, in microseconds.
#[derive(Default)]
struct Latencies {
    post: Vec<u32>,
    get: Vec<u32>,
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

/// One connection's loop: POST an object, GET it back, until `end`. Latencies count only
/// after `measure_from`. Every round writes the same names again, so what a server keeps
/// stays the size of one round's writes, not of all rounds'.
async fn worker(
    entry: SocketAddr,
    conn: usize,
    measure_from: Instant,
    end: Instant,
) -> Result<Latencies, String> {
    let mut connections = Connections::default();
    let mut out = Latencies::default();
    let body = Bytes::from(vec![b'x'; OBJECT_BYTES]);
    let mut i = 0u64;
    while Instant::now() < end {
        let target = format!("/{BUCKET}/c{conn}-{i}");
        i += 1;
        let started = Instant::now();
        let (status, _) = connections
            .send_following(entry, Method::POST, &target, body.clone())
            .await?;
        if status != StatusCode::CREATED {
            return Err(format!("POST {target}: {status}"));
        }
        let posted = Instant::now();
        let (status, got) = connections
            .send_following(entry, Method::GET, &target, Bytes::new())
            .await?;
        if status != StatusCode::OK || got != body {
            return Err(format!("GET {target}: {status}, {} bytes", got.len()));
        }
        if started >= measure_from {
            out.post.push(micros(posted - started));
            out.get.push(micros(posted.elapsed()));
        }
    }
    Ok(out)
}

struct Outcome {
    requests_per_sec: f64,
    post: Vec<u32>,
    get: Vec<u32>,
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    f64::from(sorted[rank.clamp(1, sorted.len()) - 1]) / 1000.0
}

fn load(
    entry: SocketAddr,
    connections: usize,
    secs: u64,
    make_bucket: bool,
) -> Result<Outcome, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    runtime.block_on(async move {
        if make_bucket {
            let (status, _) = Connections::default()
                .send_following(entry, Method::POST, &format!("/{BUCKET}"), Bytes::new())
                .await?;
            if !status.is_success() {
                return Err(format!("POST /{BUCKET}: {status}"));
            }
        }
        let measure_from = Instant::now() + WARM_UP;
        let end = measure_from + Duration::from_secs(secs);
        let tasks: Vec<_> = (0..connections)
            .map(|c| tokio::spawn(worker(entry, c, measure_from, end)))
            .collect();
        let mut all = Latencies::default();
        for t in tasks {
            let l = t.await.map_err(|e| format!("worker: {e}"))??;
            all.post.extend(l.post);
            all.get.extend(l.get);
        }
        let measured = end.saturating_duration_since(measure_from).as_secs_f64();
        all.post.sort_unstable();
        all.get.sort_unstable();
        Ok(Outcome {
            requests_per_sec: (all.post.len() + all.get.len()) as f64 / measured,
            post: all.post,
            get: all.get,
        })
    })
}

fn wait_listening(addr: SocketAddr, child: &mut Child) -> Result<(), String> {
    let start = Instant::now();
    while start.elapsed() < START_TIMEOUT {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("server exited early: {status}"));
        }
        if std::net::TcpStream::connect(addr).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!(
        "nothing listened on {addr} within {START_TIMEOUT:?}"
    ))
}

/// A child server, killed when this goes out of scope (on every return, errors included).
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn report(name: &str, o: &Outcome) {
    println!(
        "{name:>19}: {:>8.0} requests/s | POST p50 {:.2} p90 {:.2} p99 {:.2} ms | GET p50 {:.2} p90 {:.2} p99 {:.2} ms ({} POST + {} GET)",
        o.requests_per_sec,
        percentile(&o.post, 50.0),
        percentile(&o.post, 90.0),
        percentile(&o.post, 99.0),
        percentile(&o.get, 50.0),
        percentile(&o.get, 90.0),
        percentile(&o.get, 99.0),
        o.post.len(),
        o.get.len()
    );
}

struct Args {
    connections: usize,
    secs: u64,
    rounds: usize,
    nodes: usize,
    port: u16,
    replisim: String,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            connections: 16,
            secs: 5,
            rounds: 3,
            nodes: 4,
            port: 18_600,
            replisim: "target/release/replisim".to_string(),
        }
    }
}

fn parse_args(raw: &[String]) -> Result<Args, String> {
    let mut args = Args::default();
    let mut it = raw.iter();
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?
            .clone();
        let number = |v: &str| -> Result<u64, String> {
            match v.parse::<u64>() {
                Ok(n) if n >= 1 => Ok(n),
                _ => Err(format!("{flag}: expected a whole number ≥ 1, got `{v}`")),
            }
        };
        match flag.as_str() {
            "--connections" => args.connections = number(&value)? as usize,
            "--secs" => args.secs = number(&value)?,
            "--rounds" => args.rounds = number(&value)? as usize,
            "--nodes" => args.nodes = number(&value)? as usize,
            "--port" => {
                args.port = u16::try_from(number(&value)?).map_err(|_| "--port: too large")?
            }
            "--replisim" => args.replisim = value,
            other => return Err(format!("unknown flag `{other}`")),
        }
    }
    if args.nodes < 2 {
        // One node cannot take a write (SCSP-7: two nodes must answer the bid).
        return Err("--nodes: at least 2".to_string());
    }
    // bare, the floors, then serve's nodes, on consecutive ports.
    let last = u32::from(args.port) + FloorArgs::all(args.nodes).len() as u32 + args.nodes as u32;
    if last > u32::from(u16::MAX) {
        return Err(format!(
            "--port {}: the servers need ports up to {last}",
            args.port
        ));
    }
    Ok(args)
}

/// One server under measure: its name, the child process, where the load goes, and the
/// outcome of each round.
struct Measured {
    name: String,
    child: KillOnDrop,
    entry: SocketAddr,
    /// `serve` needs its bucket made before the first round.
    make_bucket: bool,
    rounds: Vec<Outcome>,
}

/// Starts `command` as a child server and waits until every address in `listening`
/// accepts; the load will go to the first.
fn start(
    name: String,
    mut command: Command,
    listening: &[SocketAddr],
    make_bucket: bool,
) -> Result<Measured, String> {
    // A server left over from an earlier run would be measured in this one's place.
    if let Some(busy) = listening
        .iter()
        .find(|a| std::net::TcpStream::connect(a).is_ok())
    {
        return Err(format!(
            "something already listens on {busy}: stop it or choose another --port"
        ));
    }
    let mut child = KillOnDrop(
        command
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("start {command:?}: {e}"))?,
    );
    for addr in listening {
        wait_listening(*addr, &mut child.0)?;
    }
    Ok(Measured {
        name,
        child,
        entry: listening[0],
        make_bucket,
        rounds: Vec::new(),
    })
}

fn loopback(port: u16) -> SocketAddr {
    ([127, 0, 0, 1], port).into()
}

fn run() -> Result<(), String> {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let port_at = |i: usize| -> Result<u16, String> {
        raw.get(i)
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| format!("{} needs a port", raw[0]))
    };
    match raw.first().map(String::as_str) {
        Some("--bare-server") => return bare_or_floor_server(port_at(1)?, None),
        Some("--floor-server") => {
            let floor = FloorArgs::parse(raw.get(2..).unwrap_or_default())?;
            return bare_or_floor_server(port_at(1)?, Some(floor));
        }
        _ => {}
    }
    let args = parse_args(&raw)?;
    let me = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;

    // Every server runs for the whole benchmark, and the rounds take them in turn: a slow
    // spell of the machine then weighs on one round of each, not on one server.
    let mut servers = Vec::new();
    let mut bare_command = Command::new(&me);
    bare_command.args(["--bare-server", &args.port.to_string()]);
    servers.push(start(
        "bare".to_string(),
        bare_command,
        &[loopback(args.port)],
        false,
    )?);
    // The protocol's floors: a bid round per request to the peers `serve` would ask.
    let floors = FloorArgs::all(args.nodes);
    for (offset, floor) in (1..).zip(&floors) {
        let port = args.port + offset;
        let mut command = Command::new(&me);
        command
            .args(["--floor-server", &port.to_string()])
            .args(floor.to_args());
        servers.push(start(floor.name(), command, &[loopback(port)], false)?);
    }
    let serve_port = args.port + 1 + floors.len() as u16;
    let mut serve_command = Command::new(&args.replisim);
    serve_command.args([
        "serve",
        "--nodes",
        &args.nodes.to_string(),
        "--port",
        &serve_port.to_string(),
    ]);
    let nodes: Vec<SocketAddr> = (0..args.nodes)
        .map(|n| loopback(serve_port + n as u16))
        .collect();
    servers.push(start("serve".to_string(), serve_command, &nodes, true)?);

    // The order turns by one each round, so that no server always comes first.
    let count = servers.len();
    for round in 1..=args.rounds {
        println!("round {round} of {}:", args.rounds);
        for turn in 0..count {
            let server = &mut servers[(turn + round - 1) % count];
            let make_bucket = server.make_bucket && server.rounds.is_empty();
            let outcome = load(server.entry, args.connections, args.secs, make_bucket)?;
            report(&server.name, &outcome);
            server.rounds.push(outcome);
            if let Ok(Some(status)) = server.child.0.try_wait() {
                return Err(format!("{} exited during the run: {status}", server.name));
            }
        }
    }

    // Each round's share of that round's bare, then the median over the rounds.
    let bare = &servers[0].rounds;
    let share = |server: &Measured| -> (f64, Vec<String>) {
        let shares: Vec<f64> = server
            .rounds
            .iter()
            .zip(bare)
            .map(|(o, b)| 100.0 * o.requests_per_sec / b.requests_per_sec)
            .collect();
        let each = shares.iter().map(|s| format!("{s:.1}%")).collect();
        (median::median(shares).unwrap_or(0.0), each)
    };
    println!(
        "shares of bare, median of {} rounds ({} connections, {} s a round):",
        args.rounds, args.connections, args.secs
    );
    for (floor, server) in floors.iter().zip(&servers[1..]) {
        let (median, each) = share(server);
        println!(
            "{} / bare: {median:.1}% (rounds {}; {})",
            floor.name(),
            each.join(", "),
            floor.describe()
        );
    }
    let (median, each) = share(&servers[servers.len() - 1]);
    println!(
        "serve / bare: {median:.1}% of the requests/s (rounds {}; goal ≥ 50%)",
        each.join(", ")
    );
    Ok(())
}

/// What `--help` prints, with the defaults `parse_args` starts from.
fn usage() -> String {
    let d = Args::default();
    format!(
        "usage: bench_serve [--connections N] [--secs N] [--rounds N] [--nodes N] [--port P] \
         [--replisim PATH]  (defaults: {} connections, {} s, {} rounds, {} nodes, ports from {}, \
         {}; see the header of sim/examples/bench_serve/main.rs)",
        d.connections, d.secs, d.rounds, d.nodes, d.port, d.replisim
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
            eprintln!("bench_serve: {e}");
            ExitCode::FAILURE
        }
    }
}
