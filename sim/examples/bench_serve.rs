//! bench_serve: `replisim serve` against a bare hyper server, under one load generator, in
//! one run.
//!
//! Two servers are started as child processes, one after the other, on loopback:
//! - **bare**: this program re-run with `--bare-server PORT`: hyper's HTTP/1.1 server on a
//!   tokio multi-thread runtime (as `serve` uses) that keeps POSTed bodies in a map and
//!   answers GETs from it. Nothing else: the most a hyper server can do on this machine.
//! - **serve**: `replisim serve --nodes N` (the binary given by `--replisim`).
//!
//! Against each, the same load: `--connections` keep-alive connections, each in a loop of
//! one POST of a fresh 4 KiB object (`/bench/c<conn>-<i>`) then one GET of it, for
//! `--secs` seconds after a one-second warm-up. SCSP may answer 301/307; the generator
//! follows to `Location` on a keep-alive connection to that node, and a request's latency
//! covers its redirects. Every POST must end in 201 and every GET in 200 with the body sent
//! (otherwise the run stops). Printed per server: requests/s and latency p50/p90/p99, by
//! method; then serve's requests/s as a share of bare's.
//!
//! Run (release, from the workspace root, with `replisim` built):
//! `cargo run --release -p replisim-sim --example bench_serve -- --connections 16 --secs 5`

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

// ---------------------------------------------------------------------------------------
// The bare server.

fn bare_server(port: u16) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    runtime.block_on(async move {
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
            let store = store.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let store = store.clone();
                    async move {
                        let path = req.uri().path().to_string();
                        let response = match *req.method() {
                            Method::POST => match req.into_body().collect().await {
                                Ok(body) => {
                                    store
                                        .lock()
                                        .unwrap_or_else(|p| p.into_inner())
                                        .insert(path, body.to_bytes());
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
                        };
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}

fn status_only(status: StatusCode) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = status;
    r
}

// ---------------------------------------------------------------------------------------
// The load generator.

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
            _ => {
                let stream = tokio::net::TcpStream::connect(addr)
                    .await
                    .map_err(|e| format!("connect {addr}: {e}"))?;
                stream.set_nodelay(true).map_err(|e| e.to_string())?;
                let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                    .await
                    .map_err(|e| format!("handshake {addr}: {e}"))?;
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                sender
            }
        };
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
        self.open.insert(addr, sender);
        Ok((parts.status, parts.headers, body))
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

/// Latencies of one method, in microseconds.
#[derive(Default)]
struct Latencies {
    post: Vec<u32>,
    get: Vec<u32>,
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

/// One connection's loop: POST a fresh object, GET it back, until `end`. Latencies count
/// only after `measure_from`.
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
    prepare: bool,
) -> Result<Outcome, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    runtime.block_on(async move {
        if prepare {
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

struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn report(name: &str, o: &Outcome) {
    println!(
        "{name:>5}: {:>8.0} requests/s | POST p50 {:.2} p90 {:.2} p99 {:.2} ms | GET p50 {:.2} p90 {:.2} p99 {:.2} ms ({} POST + {} GET)",
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
    nodes: usize,
    port: u16,
    replisim: String,
}

fn parse_args(raw: &[String]) -> Result<Args, String> {
    let mut args = Args {
        connections: 16,
        secs: 5,
        nodes: 4,
        port: 18_600,
        replisim: "target/release/replisim".to_string(),
    };
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
            "--nodes" => args.nodes = number(&value)? as usize,
            "--port" => {
                args.port = u16::try_from(number(&value)?).map_err(|_| "--port: too large")?
            }
            "--replisim" => args.replisim = value,
            other => return Err(format!("unknown flag `{other}`")),
        }
    }
    Ok(args)
}

fn run() -> Result<(), String> {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    if raw.first().map(String::as_str) == Some("--bare-server") {
        let port = raw
            .get(1)
            .and_then(|p| p.parse().ok())
            .ok_or("--bare-server needs a port")?;
        return bare_server(port);
    }
    let args = parse_args(&raw)?;
    let me = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;

    let bare_addr: SocketAddr = ([127, 0, 0, 1], args.port).into();
    let bare = {
        let mut child = Guard(
            Command::new(&me)
                .args(["--bare-server", &args.port.to_string()])
                .stdout(Stdio::null())
                .spawn()
                .map_err(|e| format!("start the bare server: {e}"))?,
        );
        wait_listening(bare_addr, &mut child.0)?;
        load(bare_addr, args.connections, args.secs, false)?
    };
    report("bare", &bare);

    let serve_port = args.port + 1;
    let serve_addr: SocketAddr = ([127, 0, 0, 1], serve_port).into();
    let serve = {
        let mut child = Guard(
            Command::new(&args.replisim)
                .args([
                    "serve",
                    "--nodes",
                    &args.nodes.to_string(),
                    "--port",
                    &serve_port.to_string(),
                ])
                .stdout(Stdio::null())
                .spawn()
                .map_err(|e| format!("start {}: {e}", args.replisim))?,
        );
        for n in 0..args.nodes {
            let addr: SocketAddr = ([127, 0, 0, 1], serve_port + n as u16).into();
            wait_listening(addr, &mut child.0)?;
        }
        load(serve_addr, args.connections, args.secs, true)?
    };
    report("serve", &serve);
    println!(
        "serve / bare: {:.1}% of the requests/s (goal ≥ 50%), {} connections, {} s each",
        100.0 * serve.requests_per_sec / bare.requests_per_sec,
        args.connections,
        args.secs
    );
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_serve: {e}");
            ExitCode::FAILURE
        }
    }
}
