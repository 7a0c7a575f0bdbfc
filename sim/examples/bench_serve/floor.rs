//! The protocol's floors for `serve`: what an SCSP cluster on this machine must do per client
//! request, done with none of a node's logic.
//!
//! SCSP-6 has the node that receives a request (the PAN) ask every other node for a bid
//! before it answers, on every request. A floor server is the bare server plus exactly that:
//! per request, one bid round to `peers` in-process peers that answer a fixed 64-byte bid at
//! once, then the bare server's store or lookup. No redirects, signatures or records. It is a
//! measurement, not a proof: the cost of that work alone, written as plainly as tokio and
//! hyper allow, which a server doing the same work and more is not expected to beat.
//!
//! Bids travel one of two ways:
//! - [`Transport::Http`]: HTTP/1.1 exchanges on pooled keep-alive connections, as `serve`'s
//!   nodes ask today;
//! - [`Transport::Datagram`]: one UDP datagram to each peer and one back, as the documents'
//!   "multicasts a bid request" suggests (a round is one datagram per peer; a real multicast
//!   would save the sends, not the answers).
//!
//! With `push`, every POST also sends its body to one peer over HTTP before the answer: the
//! second synchronous replica the reference writes by default (docs/choices.md row 4).

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::oneshot;

/// The size of a bid answer: about what `serve`'s text encoding of a bid for a held object
/// takes.
const BID_BYTES: usize = 64;
/// A bid round whose answers are not all back by then counts as lost and is retried.
const ROUND_TIMEOUT: Duration = Duration::from_secs(1);
/// Attempts at one bid round before the floor gives up on it (and answers 503).
const ROUND_ATTEMPTS: u32 = 3;

/// How a floor server's PAN asks its peers for bids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// HTTP/1.1 on keep-alive TCP connections.
    Http,
    /// One UDP datagram to each peer and one back.
    Datagram,
}

impl Transport {
    /// The word on the command line and in the report.
    pub fn word(self) -> &'static str {
        match self {
            Transport::Http => "http",
            Transport::Datagram => "datagram",
        }
    }

    /// The transport a command-line word names.
    pub fn from_word(word: &str) -> Result<Transport, String> {
        match word {
            "http" => Ok(Transport::Http),
            "datagram" => Ok(Transport::Datagram),
            other => Err(format!(
                "unknown bid transport `{other}` (http or datagram)"
            )),
        }
    }
}

/// One floor to measure: what its server is started with.
#[derive(Clone, Copy, Debug)]
pub struct FloorArgs {
    /// Peers asked for a bid per request (`serve --nodes` − 1).
    pub peers: usize,
    /// How bids travel.
    pub transport: Transport,
    /// Whether each POST pushes a replica to a peer.
    pub push: bool,
}

impl FloorArgs {
    /// The floors every run measures, for a cluster of `nodes`.
    pub fn all(nodes: usize) -> Vec<FloorArgs> {
        let peers = nodes.saturating_sub(1);
        [Transport::Http, Transport::Datagram]
            .into_iter()
            .flat_map(|transport| {
                [false, true].map(|push| FloorArgs {
                    peers,
                    transport,
                    push,
                })
            })
            .collect()
    }

    /// The short name in the report: `floor/http`, `floor/datagram+push`, ...
    pub fn name(self) -> String {
        let push = if self.push { "+push" } else { "" };
        format!("floor/{}{push}", self.transport.word())
    }

    /// What the floor does per request, in words.
    pub fn describe(self) -> String {
        let peers = match self.peers {
            1 => "1 peer".to_string(),
            n => format!("{n} peers"),
        };
        let how = match self.transport {
            Transport::Http => "HTTP/1.1 exchanges",
            Transport::Datagram => "UDP datagrams",
        };
        let push = if self.push {
            ", and a replica pushed over HTTP per POST"
        } else {
            ""
        };
        format!("a bid round to {peers} per request as {how}{push}")
    }

    /// The arguments after `--floor-server PORT`.
    pub fn to_args(self) -> Vec<String> {
        let mut out = vec![self.peers.to_string(), self.transport.word().to_string()];
        if self.push {
            out.push("push".to_string());
        }
        out
    }

    /// Reads what [`FloorArgs::to_args`] wrote.
    pub fn parse(raw: &[String]) -> Result<FloorArgs, String> {
        const USAGE: &str = "--floor-server PORT PEERS (http|datagram) [push]";
        let peers = raw
            .first()
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| format!("{USAGE}: PEERS is a whole number"))?;
        let transport = Transport::from_word(raw.get(1).map_or("", String::as_str))?;
        let push = match raw.get(2).map(String::as_str) {
            None => false,
            Some("push") => true,
            Some(other) => return Err(format!("{USAGE}: unexpected `{other}`")),
        };
        Ok(FloorArgs {
            peers,
            transport,
            push,
        })
    }
}

/// How a floor asks for bids, and whether writes push a replica.
pub struct Floor {
    /// The peers over HTTP: they answer bids over HTTP and take pushed replicas.
    http: HttpPeers,
    /// With `Some`, bids go as datagrams to these peers instead.
    datagrams: Option<DatagramPeers>,
    /// Each POST pushes its body to one peer.
    push: bool,
    /// The peer the next push goes to.
    next_push: AtomicU64,
}

impl Floor {
    /// Starts the peers and the PAN's side of asking them.
    pub async fn start(args: FloorArgs) -> Result<Floor, String> {
        let datagrams = match args.transport {
            Transport::Http => None,
            Transport::Datagram => Some(DatagramPeers::start(args.peers).await?),
        };
        // Peers over HTTP only where something goes to them over HTTP.
        let over_http = args.transport == Transport::Http || args.push;
        Ok(Floor {
            http: HttpPeers::start(if over_http { args.peers } else { 0 }).await?,
            datagrams,
            push: args.push,
            next_push: AtomicU64::new(0),
        })
    }

    /// One bid round: `Ok` once every peer has answered, an error when one did not.
    pub async fn bid_round(&self) -> Result<(), String> {
        match &self.datagrams {
            Some(d) => d.round().await,
            None => {
                let asks = (0..self.http.peers.len())
                    .map(|p| self.http.exchange(p, Method::GET, "/bid", Bytes::new()));
                for answer in futures::future::join_all(asks).await {
                    answer.map_err(|e| format!("a bid over HTTP failed: {e}"))?;
                }
                Ok(())
            }
        }
    }

    /// With `push`, sends a written body to the next peer and waits for its answer.
    pub async fn replicate(&self, body: Bytes) -> Result<(), String> {
        let peers = self.http.peers.len() as u64;
        if !self.push || peers == 0 {
            return Ok(());
        }
        let peer = (self.next_push.fetch_add(1, Ordering::Relaxed) % peers) as usize;
        self.http
            .exchange(peer, Method::PUT, "/replica", body)
            .await
            .map_err(|e| format!("a replica push failed: {e}"))
    }
}

/// The fixed answer every peer gives.
fn bid_answer() -> Bytes {
    Bytes::from(vec![b'b'; BID_BYTES])
}

// ---------------------------------------------------------------------------------------
// Peers over HTTP.

/// The PAN's idle keep-alive connections to one peer.
type Idle = Mutex<Vec<SendRequest<Full<Bytes>>>>;

/// Peers answering every request with the fixed bid, with the PAN's idle connections to each.
struct HttpPeers {
    peers: Vec<(SocketAddr, Idle)>,
}

impl HttpPeers {
    async fn start(peers: usize) -> Result<HttpPeers, String> {
        let mut out = Vec::with_capacity(peers);
        for _ in 0..peers {
            let listener = TcpListener::bind(("127.0.0.1", 0))
                .await
                .map_err(|e| format!("bind a peer: {e}"))?;
            let addr = listener.local_addr().map_err(|e| e.to_string())?;
            tokio::spawn(serve_peer(listener));
            out.push((addr, Mutex::new(Vec::new())));
        }
        Ok(HttpPeers { peers: out })
    }

    /// One exchange with one peer, on an idle connection or a new one; the connection goes
    /// back to the pool after a complete exchange (after an error it is dropped).
    async fn exchange(
        &self,
        peer: usize,
        method: Method,
        path: &str,
        body: Bytes,
    ) -> Result<(), String> {
        let (addr, idle) = &self.peers[peer];
        let pooled = idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut sender = match pooled {
            Some(s) if !s.is_closed() => s,
            _ => crate::connect(*addr).await?,
        };
        crate::exchange_on(&mut sender, *addr, method, path, body).await?;
        idle.lock().unwrap_or_else(|p| p.into_inner()).push(sender);
        Ok(())
    }
}

/// A peer's HTTP server: reads each request's body (a pushed replica), answers the fixed bid.
async fn serve_peer(listener: TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = service_fn(|req: Request<hyper::body::Incoming>| async {
                let status = match req.into_body().collect().await {
                    Ok(_) => StatusCode::OK,
                    Err(_) => StatusCode::BAD_REQUEST,
                };
                let mut r = Response::new(Full::new(bid_answer()));
                *r.status_mut() = status;
                Ok::<_, Infallible>(r)
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

// ---------------------------------------------------------------------------------------
// Bids as datagrams.

/// Rounds waiting for answers: round id → (answers still missing, who to wake).
type Waiting = Mutex<HashMap<u64, (usize, oneshot::Sender<()>)>>;

/// Peers answering datagrams, and the PAN's one socket to ask them from.
struct DatagramPeers {
    socket: Arc<UdpSocket>,
    peers: Vec<SocketAddr>,
    next_round: AtomicU64,
    waiting: Arc<Waiting>,
}

impl DatagramPeers {
    async fn start(peers: usize) -> Result<DatagramPeers, String> {
        let mut addrs = Vec::with_capacity(peers);
        for _ in 0..peers {
            let socket = UdpSocket::bind(("127.0.0.1", 0))
                .await
                .map_err(|e| format!("bind a bidder: {e}"))?;
            addrs.push(socket.local_addr().map_err(|e| e.to_string())?);
            tokio::spawn(answer_datagrams(socket));
        }
        let socket = Arc::new(
            UdpSocket::bind(("127.0.0.1", 0))
                .await
                .map_err(|e| format!("bind the PAN's socket: {e}"))?,
        );
        let waiting: Arc<Waiting> = Arc::default();
        tokio::spawn(collect_answers(socket.clone(), waiting.clone()));
        Ok(DatagramPeers {
            socket,
            peers: addrs,
            next_round: AtomicU64::new(0),
            waiting,
        })
    }

    /// One attempt at a round; `false` when some answer did not come back in time.
    async fn try_round(&self) -> bool {
        let id = self.next_round.fetch_add(1, Ordering::Relaxed);
        let (done, answered) = oneshot::channel();
        self.waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, (self.peers.len(), done));
        let ask = id.to_le_bytes();
        for peer in &self.peers {
            if let Err(e) = self.socket.send_to(&ask, peer).await {
                eprintln!("floor: a bid request to {peer} failed: {e}");
            }
        }
        let complete = matches!(
            tokio::time::timeout(ROUND_TIMEOUT, answered).await,
            Ok(Ok(()))
        );
        if !complete {
            self.waiting
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
        }
        complete
    }

    /// One bid round, asked again while an answer is missing, at most [`ROUND_ATTEMPTS`]
    /// times; then an error.
    async fn round(&self) -> Result<(), String> {
        if self.peers.is_empty() {
            return Ok(());
        }
        for attempt in 1..=ROUND_ATTEMPTS {
            if self.try_round().await {
                return Ok(());
            }
            eprintln!("floor: bid round attempt {attempt} of {ROUND_ATTEMPTS} lost a datagram");
        }
        Err(format!(
            "no complete bid round in {ROUND_ATTEMPTS} attempts"
        ))
    }
}

/// A bidder: answers every datagram with the round id and the fixed bid.
async fn answer_datagrams(socket: UdpSocket) {
    let mut buf = [0u8; 64];
    let mut answer = vec![0u8; 8 + BID_BYTES];
    answer[8..].copy_from_slice(&bid_answer());
    loop {
        let Ok((n, from)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        if n < 8 {
            continue;
        }
        answer[..8].copy_from_slice(&buf[..8]);
        let _ = socket.send_to(&answer, from).await;
    }
}

/// The PAN's side: counts each round's answers and wakes the round when all are in.
async fn collect_answers(socket: Arc<UdpSocket>, waiting: Arc<Waiting>) {
    let mut buf = [0u8; 8 + BID_BYTES];
    loop {
        let Ok((n, _)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let Some(id) = buf.get(..8).filter(|_| n >= 8) else {
            continue;
        };
        let id = u64::from_le_bytes(id.try_into().unwrap_or_default());
        let mut waiting = waiting.lock().unwrap_or_else(|p| p.into_inner());
        let Some((missing, _)) = waiting.get_mut(&id) else {
            continue;
        };
        *missing -= 1;
        if *missing == 0 {
            if let Some((_, done)) = waiting.remove(&id) {
                let _ = done.send(());
            }
        }
    }
}
