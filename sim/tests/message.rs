//! Node-to-node exchanges as whole messages in the simulator (`http::message`): the same
//! requests and answers as over HTTP/1.1, and failures where simulated TCP has them.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use replisim_sim::http::message;
use replisim_sim::http::pool::Pool;
use replisim_sim::rt;
use replisim_sim::rt::stats::NetStats;
use replisim_sim::scsp::cluster_key::ClusterKey;
use replisim_sim::scsp::peer_auth;
use replisim_sim::sweep::{run_seed, SweepConfig};
use replisim_sim::world::try_simulate;

const SERVER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 88, 0, 1)), 80);
const CLIENT_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 88, 0, 2));
const LIMIT: Duration = Duration::from_secs(3600);

/// What the test server saw and did.
#[derive(Default)]
struct Seen {
    requests: AtomicU64,
    answered: AtomicU64,
}

/// Two hosts: a server answering messages with `delay` of work per request (echoing the
/// target, the signature header and the body), and a client running `client` with a
/// signed pool. The madsim handle and the server's node id are given to `client` so it can
/// kill or clog the server.
fn with_pair<C, Fut, T>(delay: Duration, seen: Arc<Seen>, client: C) -> T
where
    C: FnOnce(Pool, madsim::runtime::Handle, madsim::task::NodeId) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    try_simulate(7, LIMIT, move || async move {
        let handle = madsim::runtime::Handle::current();
        let server = handle.create_node().name("server").ip(SERVER.ip()).build();
        let host = handle.create_node().name("client").ip(CLIENT_IP).build();
        rt::netem::set_host(server.id(), SERVER.ip());
        rt::netem::set_host(host.id(), CLIENT_IP);
        let server_id = server.id();
        server.spawn(async move {
            message::serve(SERVER, move |req: Request<Bytes>| {
                let seen = seen.clone();
                async move {
                    seen.requests.fetch_add(1, Ordering::SeqCst);
                    rt::sleep(delay).await;
                    seen.answered.fetch_add(1, Ordering::SeqCst);
                    let signed = req.headers().contains_key(peer_auth::HEADER);
                    let body = format!(
                        "{} {} signed={signed} {}",
                        req.method(),
                        req.uri(),
                        String::from_utf8_lossy(req.body())
                    );
                    Some(Response::new(Bytes::from(body)))
                }
            })
            .await
            .expect("bind the message server");
            std::future::pending::<()>().await;
        });
        host.spawn(async move {
            rt::sleep(Duration::from_millis(10)).await;
            let pool = Pool::peers(ClusterKey::from_seed(7, "test"));
            client(pool, handle, server_id).await
        })
        .await
        .expect("client task")
    })
    .expect("simulation")
}

#[test]
fn a_signed_node_to_node_request_goes_as_one_message_and_comes_back_whole() {
    let seen = Arc::new(Seen::default());
    let before = NetStats::now();
    let answers = with_pair(Duration::ZERO, seen.clone(), |pool, _, _| async move {
        let mut answers = Vec::new();
        for i in 0..3 {
            let answer = pool
                .exchange(
                    SERVER,
                    Method::PUT,
                    "/_replisim/replica?n=1",
                    Bytes::from(format!("body{i}")),
                    Duration::from_secs(5),
                    1 << 20,
                )
                .await;
            answers.push(answer.map(|a| (a.status, a.body)));
        }
        answers
    });
    for (i, answer) in answers.into_iter().enumerate() {
        let (status, body) = answer.expect("answered");
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body,
            Bytes::from(format!("PUT /_replisim/replica?n=1 signed=true body{i}"))
        );
    }
    assert_eq!(seen.answered.load(Ordering::SeqCst), 3);
    let net = NetStats::now().since(before);
    // Other tests of this binary may run at the same time: at least ours are counted.
    assert!(net.messages_by_servers >= 3, "{net:?}");
    assert!(net.channels_accepted >= 1, "{net:?}");
}

#[test]
fn an_answer_over_the_size_bound_is_an_error() {
    let seen = Arc::new(Seen::default());
    let answer = with_pair(Duration::ZERO, seen, |pool, _, _| async move {
        pool.exchange(
            SERVER,
            Method::GET,
            "/_replisim/bid?key=k",
            Bytes::new(),
            Duration::from_secs(5),
            8,
        )
        .await
    });
    let e = answer.expect_err("a 31-byte answer over an 8-byte bound");
    assert!(e.0.contains("length limit exceeded"), "{e:?}");
}

#[test]
fn a_node_killed_while_handling_a_request_never_answers_it() {
    let seen = Arc::new(Seen::default());
    let answer = with_pair(
        Duration::from_secs(2),
        seen.clone(),
        |pool, handle, server| async move {
            let killer = {
                let handle = handle.clone();
                async move {
                    rt::sleep(Duration::from_millis(500)).await;
                    handle.kill(server);
                }
            };
            rt::spawn(killer);
            pool.exchange(
                SERVER,
                Method::GET,
                "/_replisim/bid?key=k",
                Bytes::new(),
                Duration::from_secs(10),
                1 << 20,
            )
            .await
        },
    );
    assert!(answer.is_err(), "{:?}", answer.map(|a| a.status));
    assert_eq!(seen.requests.load(Ordering::SeqCst), 1);
    assert_eq!(seen.answered.load(Ordering::SeqCst), 0);
}

#[test]
fn a_clogged_peer_refuses_new_channels_and_stalls_open_ones_until_the_timeout() {
    let seen = Arc::new(Seen::default());
    let (refused, stalled, healed) = with_pair(
        Duration::ZERO,
        seen.clone(),
        |pool, handle, server| async move {
            let net = madsim::net::NetSim::current();
            net.clog_node(server);
            let _ = handle;
            let refused = pool
                .exchange(
                    SERVER,
                    Method::GET,
                    "/_replisim/bid?key=a",
                    Bytes::new(),
                    Duration::from_secs(5),
                    1 << 20,
                )
                .await;
            net.unclog_node(server);
            // Open a channel, then clog the link: the next request on it stalls.
            pool.exchange(
                SERVER,
                Method::GET,
                "/_replisim/bid?key=b",
                Bytes::new(),
                Duration::from_secs(5),
                1 << 20,
            )
            .await
            .expect("answered on a clear link");
            net.clog_node(server);
            let started = rt::now();
            let stalled = pool
                .exchange(
                    SERVER,
                    Method::GET,
                    "/_replisim/bid?key=c",
                    Bytes::new(),
                    Duration::from_secs(3),
                    1 << 20,
                )
                .await
                .map(|a| a.status);
            let waited = rt::now() - started;
            net.unclog_node(server);
            let healed = pool
                .exchange(
                    SERVER,
                    Method::GET,
                    "/_replisim/bid?key=d",
                    Bytes::new(),
                    Duration::from_secs(30),
                    1 << 20,
                )
                .await
                .map(|a| a.status);
            (refused.map(|a| a.status), (stalled, waited), healed)
        },
    );
    let e = refused.expect_err("a clogged peer refuses the connect");
    assert!(e.0.contains("refused"), "{e:?}");
    let (stalled, waited) = stalled;
    let e = stalled.expect_err("a clogged link stalls the request");
    assert!(e.0.contains("timed out"), "{e:?}");
    assert!(waited >= Duration::from_secs(3), "{waited:?}");
    assert_eq!(healed, Ok(StatusCode::OK));
}

#[test]
fn a_standard_sweep_seed_sends_node_to_node_exchanges_as_messages() {
    let before = NetStats::now();
    let report = run_seed(3, &SweepConfig::new()).expect("seed 3 runs");
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    let net = NetStats::now().since(before);
    assert!(net.messages_by_servers > 0, "{net:?}");
    assert!(
        net.messages_by_clients >= net.messages_by_servers,
        "every answer had a request: {net:?}"
    );
}

#[test]
fn outside_a_simulation_nothing_goes_as_a_message() {
    assert!(!message::carries("/_replisim/bid?key=k"));
    assert!(rt::channel::available() == rt::in_sim());
}
