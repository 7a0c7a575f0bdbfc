//! A 202 can end in failure (SCSP-32): duplicate part numbers, a missing part, a target
//! changed since initiate, and the assembling node crashing mid-way. In every case no
//! partial object is ever visible, and the client is never told "success".

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use replisim_conformance::client::{Client, Limits, Request, Response, Session};
use replisim_conformance::patterns::result_of_202;
use replisim_sim::rt;
use replisim_sim::world::{simulate, World, WorldConfig};

async fn send(addr: SocketAddr, req: Request) -> Response {
    Session::new(Client::new(Limits::default()), addr)
        .request(&req)
        .await
        .expect("an answer")
        .response
}

async fn initiate(addr: SocketAddr, target: &str) -> String {
    let r = send(
        addr,
        Request::new("POST", format!("{target}?uploads")).body(Bytes::new()),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", String::from_utf8_lossy(&r.body));
    r.header("castor-system-uploadid")
        .expect("upload id")
        .to_string()
}

async fn part(addr: SocketAddr, target: &str, id: &str, n: u32, body: &'static [u8]) -> String {
    let r = send(
        addr,
        Request::new("POST", format!("{target}?partNumber={n}&uploadId={id}"))
            .body(Bytes::from_static(body)),
    )
    .await;
    assert_eq!(r.status, 201);
    r.header("content-uuid").expect("Content-UUID").to_string()
}

fn complete_request(target: &str, id: &str, parts: &[(u32, &str)]) -> Request {
    let list: Vec<String> = parts
        .iter()
        .map(|(n, u)| format!("{{\"partNumber\":{n},\"uuid\":\"{u}\"}}"))
        .collect();
    Request::new("POST", format!("{target}?uploadId={id}"))
        .header("TE", "trailers")
        .body(Bytes::from(format!("{{\"parts\":[{}]}}", list.join(","))))
}

/// A 4-node world with bucket `b`; runs `check` on the client node.
fn with_world<F, Fut>(seed: u64, check: F)
where
    F: FnOnce(Arc<World>, Vec<SocketAddr>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    simulate(seed, move || async move {
        let world = Arc::new(World::start(WorldConfig::new(4)));
        let addrs = world.addrs();
        let w = world.clone();
        world
            .on_client(async move {
                rt::sleep(Duration::from_millis(10)).await;
                let bucket = send(addrs[0], Request::new("POST", "/b").body(Bytes::new())).await;
                assert_eq!(bucket.status, 201);
                check(w, addrs).await;
            })
            .await;
    });
}

#[test]
fn duplicate_part_numbers_end_the_202_in_failure() {
    with_world(51, |_, a| async move {
        let id = initiate(a[0], "/b/dup").await;
        let p1 = part(a[0], "/b/dup", &id, 1, b"one").await;
        let p2 = part(a[0], "/b/dup", &id, 2, b"two").await;
        let r = send(a[0], complete_request("/b/dup", &id, &[(1, &p1), (1, &p2)])).await;
        assert_eq!(r.status, 202);
        assert_eq!(result_of_202(&r).expect("a consistent result"), 400);
        assert!(String::from_utf8_lossy(&r.body).contains("duplicate part number 1"));
        assert_eq!(send(a[1], Request::new("GET", "/b/dup")).await.status, 404);
    });
}

#[test]
fn a_missing_part_ends_the_202_in_failure() {
    with_world(52, |_, a| async move {
        let id = initiate(a[0], "/b/missing").await;
        let r = send(
            a[0],
            complete_request(
                "/b/missing",
                &id,
                &[(1, "00000000000000000000000000000001")],
            ),
        )
        .await;
        assert_eq!(result_of_202(&r).expect("a consistent result"), 400);
        assert_eq!(
            send(a[2], Request::new("GET", "/b/missing")).await.status,
            404
        );
    });
}

#[test]
fn a_target_changed_since_initiate_ends_the_202_in_conflict() {
    with_world(53, |_, a| async move {
        assert_eq!(
            send(
                a[0],
                Request::new("POST", "/b/t").body(Bytes::from_static(b"v1"))
            )
            .await
            .status,
            201
        );
        let id = {
            let r = send(a[0], Request::new("PUT", "/b/t?uploads").body(Bytes::new())).await;
            assert_eq!(r.status, 200);
            r.header("castor-system-uploadid").expect("id").to_string()
        };
        let p1 = part(a[0], "/b/t", &id, 1, b"v3").await;
        rt::sleep(Duration::from_millis(1100)).await;
        assert_eq!(
            send(
                a[1],
                Request::new("PUT", "/b/t").body(Bytes::from_static(b"v2"))
            )
            .await
            .status,
            201
        );
        let r = send(a[0], complete_request("/b/t", &id, &[(1, &p1)])).await;
        assert_eq!(result_of_202(&r).expect("a consistent result"), 409);
        assert_eq!(
            &send(a[3], Request::new("GET", "/b/t")).await.body[..],
            b"v2"
        );
    });
}

#[test]
fn a_crash_during_assembly_leaves_no_object_and_no_success() {
    with_world(54, |world, a| async move {
        let id = initiate(a[0], "/b/crash").await;
        let mut parts = Vec::new();
        for n in 1..=5 {
            parts.push((n, part(a[0], "/b/crash", &id, n, b"chunk").await));
        }
        let listed: Vec<(u32, &str)> = parts.iter().map(|(n, u)| (*n, u.as_str())).collect();
        let request = complete_request("/b/crash", &id, &listed);
        // Assembly takes 400 ms per part; kill the assembling node a second in.
        let killer = {
            let world = world.clone();
            async move {
                rt::sleep(Duration::from_secs(1)).await;
                world.kill(0);
            }
        };
        let client = Client::new(Limits::default());
        let host = a[0].to_string();
        let (outcome, ()) = futures::join!(client.send(a[0], &host, &request), killer);
        match outcome {
            Ok(r) => {
                assert!(
                    result_of_202(&r).is_err(),
                    "a cut-off 202 must not read as a result: {r:?}"
                );
            }
            Err(e) => eprintln!("completion cut off as expected: {e}"),
        }
        for (node, addr) in a.iter().enumerate().skip(1) {
            let seen = send(*addr, Request::new("GET", "/b/crash")).await;
            assert_eq!(
                seen.status, 404,
                "node {node} shows an object after a crashed assembly"
            );
        }
        world.restart(0);
        rt::sleep(Duration::from_millis(50)).await;
        // The upload is still open: completing it on another node works.
        let r = send(a[1], complete_request("/b/crash", &id, &listed)).await;
        assert_eq!(result_of_202(&r).expect("a consistent result"), 201);
        assert_eq!(
            &send(a[2], Request::new("GET", "/b/crash")).await.body[..],
            b"chunkchunkchunkchunkchunk"
        );
    });
}
