//! The reference cluster in the simulator: the write → redirect → 201 → read path, replica
//! placement, the health processor, restarts and determinism.

use std::time::Duration;

use bytes::Bytes;
use http::Method;
use replisim_sim::http::client::{exchange, Answer};
use replisim_sim::rt;
use replisim_sim::world::{simulate, World, WorldConfig};

const TIMEOUT: Duration = Duration::from_secs(5);

async fn send(
    addr: std::net::SocketAddr,
    method: Method,
    target: &str,
    headers: &[(&str, &str)],
    body: &'static [u8],
) -> Answer {
    exchange(
        addr,
        method,
        target,
        headers,
        Bytes::from_static(body),
        TIMEOUT,
        1 << 20,
    )
    .await
    .expect("exchange")
}

/// Follows one redirect if there is one, as SCSP-3/4 require.
async fn send_following(
    addr: std::net::SocketAddr,
    method: Method,
    target: &str,
    headers: &[(&str, &str)],
    body: &'static [u8],
) -> Answer {
    let first = send(addr, method.clone(), target, headers, body).await;
    if first.status == 301 || first.status == 307 {
        let location = first
            .header("location")
            .expect("redirect has Location")
            .to_string();
        let rest = location.strip_prefix("http://").expect("absolute Location");
        let (host, path) = rest.split_at(rest.find('/').expect("path"));
        return send(host.parse().expect("ip:port"), method, path, headers, body).await;
    }
    first
}

#[test]
fn write_redirect_create_read_from_another_node() {
    simulate(1, || async {
        let world = World::start(WorldConfig::new(4));
        let addrs = world.addrs();
        let (created, reads) = world
            .on_client(async move {
                rt::sleep(Duration::from_millis(10)).await;
                let bucket = send_following(addrs[0], Method::POST, "/photos", &[], b"").await;
                assert_eq!(bucket.status, 201, "bucket create: {:?}", bucket.body);
                let mut redirects = 0;
                let mut created = Vec::new();
                for i in 0..8 {
                    let target = format!("/photos/p{i}.jpg");
                    let first = send(addrs[0], Method::POST, &target, &[], b"hello").await;
                    if first.status == 307 {
                        redirects += 1;
                        let loc = first.header("location").expect("Location");
                        assert!(loc.contains("auth="), "redirect carries auth=: {loc}");
                        assert_eq!(first.header("content-length"), Some("0"));
                    }
                    let done = send_following(addrs[0], Method::POST, &target, &[], b"hello").await;
                    assert_eq!(done.status, 201, "{:?}", done.body);
                    assert_eq!(done.header("replica-count"), Some("2"));
                    created.push(target);
                }
                assert!(redirects > 0, "with 4 nodes some writes must be redirected");
                let mut reads = 0;
                for target in &created {
                    for addr in &addrs {
                        let r = send_following(*addr, Method::GET, target, &[], b"").await;
                        assert_eq!(r.status, 200);
                        assert_eq!(&r.body[..], b"hello");
                        reads += 1;
                    }
                }
                (created, reads)
            })
            .await;
        assert_eq!(created.len(), 8);
        assert_eq!(reads, 32);
        for target in &created {
            // Store key of a named object in the default domain: n/<domain>/<bucket>/<name>.
            assert_eq!(world.replica_count(&format!("n/{target}")), 2, "{target}");
        }
        assert_eq!(
            world.replica_count("b//photos"),
            4,
            "contexts live on every node"
        );
    });
}

#[test]
fn health_processor_restores_replicas_after_a_node_is_lost() {
    simulate(2, || async {
        let world = World::start(WorldConfig::new(4));
        let addrs = world.addrs();
        let uuid = world
            .on_client(async move {
                rt::sleep(Duration::from_millis(10)).await;
                let r = send_following(addrs[1], Method::POST, "/", &[], b"payload").await;
                assert_eq!(r.status, 201);
                r.header("content-uuid").expect("Content-UUID").to_string()
            })
            .await;
        let key = format!("u/{uuid}");
        assert_eq!(world.replica_count(&key), 2);
        let holder = (0..4)
            .find(|i| {
                replisim_sim::store::Disk::lock(world.disk(*i))
                    .get(&key)
                    .is_some()
            })
            .expect("a holder");
        world.kill(holder);
        // Wipe the dead node's disk so its copy is really lost.
        replisim_sim::store::Disk::lock(world.disk(holder)).remove(&key);
        let mut waited = Duration::ZERO;
        while world.replica_count(&key) < 2 {
            assert!(
                waited < Duration::from_secs(120),
                "health processor did not repair in 120 s"
            );
            rt::sleep(Duration::from_secs(1)).await;
            waited += Duration::from_secs(1);
        }
        assert_eq!(world.replica_count(&key), 2);
        world.restart(holder);
    });
}

/// A small workload with writes, redirects, reads and a health pass; returns the digest.
async fn workload() -> String {
    {
        let world = World::start(WorldConfig::new(4));
        let addrs = world.addrs();
        world
            .on_client(async move {
                rt::sleep(Duration::from_millis(10)).await;
                send_following(addrs[2], Method::POST, "/b", &[], b"").await;
                for i in 0..5 {
                    let t = format!("/b/o{i}");
                    send_following(addrs[i % 4], Method::POST, &t, &[], b"x").await;
                    send_following(addrs[(i + 1) % 4], Method::GET, &t, &[], b"").await;
                }
                send_following(addrs[0], Method::POST, "/", &[], b"unnamed").await;
            })
            .await;
        rt::sleep(Duration::from_secs(25)).await;
        world.trace().digest()
    }
}

fn digest_of(seed: u64) -> String {
    simulate(seed, workload)
}

#[test]
fn same_seed_same_trace_digest() {
    let a = digest_of(42);
    let b = digest_of(42);
    assert_eq!(a, b, "seed 42 must replay byte for byte");
    let c = digest_of(43);
    assert_ne!(
        a, c,
        "a different seed should place and time things differently"
    );
}

#[test]
fn madsim_determinism_checker_finds_no_divergence() {
    // madsim runs the seed twice and compares every random draw with the virtual time.
    let digest =
        madsim::runtime::Runtime::check_determinism(11, madsim::Config::default(), workload);
    assert_eq!(digest.len(), 16);
}
