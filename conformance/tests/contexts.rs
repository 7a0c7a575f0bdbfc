//! Buckets and domains beyond creation (SCSP-21, §1.1): PUT, APPEND and COPY update a
//! context, DELETE needs `recursive`, `recursive=now` drops the contents at once and plain
//! `recursive` hides them at once and drops them after the grace period. In the simulator
//! on two seeds, and over real TCP against `serve`.

mod node_support;

use bytes::Bytes;
use node_support::{config, on_world, show, text, Probe};
use replisim_conformance::client::{Client, Limits, Request, Session};
use replisim_sim::serve::{self, ServeConfig};
use replisim_sim::store::Disk;

const SEEDS: [u64; 2] = [5, 6];

fn each_seed<F, Fut>(scenario: F)
where
    F: Fn(Probe) -> Fut + Copy + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    for seed in SEEDS {
        on_world(config("", &[]), seed, scenario);
    }
}

/// Nodes whose disk holds any record under `prefix`.
fn holders_under(p: &Probe, prefix: &str) -> Vec<usize> {
    (0..p.nodes.len())
        .filter(|i| {
            Disk::lock(p.world.disk(*i))
                .records()
                .any(|(k, _)| k.starts_with(prefix))
        })
        .collect()
}

#[test]
fn bucket_put_append_and_copy_update_it_and_a_missing_one_is_404() {
    each_seed(|p| async move {
        p.bucket("b").await;
        p.next_second().await;
        let put = p
            .follow(
                1,
                &Request::new("PUT", "/b")
                    .header("X-Owner-Meta", "ann")
                    .body(Bytes::from_static(b"about b")),
            )
            .await;
        assert_eq!(put.status, 201, "{}", show(&put));
        assert!(put.header("location").is_some_and(|l| l.ends_with("/b")));
        let head = p.follow(2, &Request::new("HEAD", "/b")).await;
        assert_eq!(head.header("x-owner-meta"), Some("ann"), "{}", show(&head));
        p.next_second().await;
        let appended = p
            .follow(
                3,
                &Request::new("APPEND", "/b").body(Bytes::from_static(b", more")),
            )
            .await;
        assert_eq!(appended.status, 201, "{}", show(&appended));
        p.next_second().await;
        let copied = p
            .follow(
                0,
                &Request::new("COPY", "/b")
                    .header("Content-Length", "0")
                    .header("X-Team-Meta", "storage"),
            )
            .await;
        assert_eq!(copied.status, 201, "{}", show(&copied));
        let read = p.follow(1, &Request::new("GET", "/b")).await;
        assert_eq!(&read.body[..], b"about b, more", "{}", show(&read));
        assert_eq!(read.header("x-team-meta"), Some("storage"));
        assert_eq!(
            read.header("x-owner-meta"),
            None,
            "COPY replaced the metadata"
        );
        // A context PUT is always an update (§1.1); putcreate on a context is 400.
        let missing = p
            .follow(
                0,
                &Request::new("PUT", "/nope").body(Bytes::from_static(b"x")),
            )
            .await;
        assert_eq!(missing.status, 404, "{}", show(&missing));
        let putcreate = p
            .follow(
                0,
                &Request::new("PUT", "/nope?putcreate=yes").body(Bytes::from_static(b"x")),
            )
            .await;
        assert_eq!(putcreate.status, 400, "{}", show(&putcreate));
        // Objects in the bucket are untouched by updates of the bucket.
        p.post("/b/x", b"inside", 201).await;
        assert_eq!(
            &p.follow(2, &Request::new("GET", "/b/x")).await.body[..],
            b"inside"
        );
    });
}

#[test]
fn bucket_delete_without_recursive_is_refused_and_changes_nothing() {
    each_seed(|p| async move {
        p.bucket("b").await;
        p.post("/b/x", b"kept", 201).await;
        p.next_second().await;
        for query in ["", "?recursive=no"] {
            let r = p
                .follow(0, &Request::new("DELETE", format!("/b{query}")))
                .await;
            assert_eq!(r.status, 400, "DELETE /b{query}: {}", show(&r));
            assert!(text(&r).contains("recursive"), "{}", show(&r));
        }
        assert_eq!(p.follow(1, &Request::new("GET", "/b")).await.status, 200);
        assert_eq!(
            &p.follow(1, &Request::new("GET", "/b/x")).await.body[..],
            b"kept"
        );
    });
}

#[test]
fn recursive_now_drops_the_bucket_and_its_objects_on_every_node() {
    each_seed(|p| async move {
        p.bucket("b").await;
        p.bucket("other").await;
        p.post("/b/x", b"x", 201).await;
        p.post("/b/dir/y", b"y", 201).await;
        p.post("/other/z", b"z", 201).await;
        p.next_second().await;
        assert!(!holders_under(&p, "n//b/").is_empty());
        let deleted = p
            .follow(2, &Request::new("DELETE", "/b?recursive=now"))
            .await;
        assert_eq!(deleted.status, 200, "{}", show(&deleted));
        for node in 0..p.nodes.len() {
            for path in ["/b", "/b/x", "/b/dir/y"] {
                let r = p.send(node, &Request::new("GET", path)).await;
                assert_eq!(r.status, 404, "node{} GET {path}: {}", node + 1, show(&r));
            }
        }
        assert!(
            holders_under(&p, "n//b/").is_empty(),
            "contents dropped at once"
        );
        assert_eq!(
            &p.follow(0, &Request::new("GET", "/other/z")).await.body[..],
            b"z"
        );
        // The bucket is gone for writes too, and a new one of the name starts empty.
        p.post("/b/w", b"w", 412).await;
        p.next_second().await;
        p.bucket("b").await;
        assert_eq!(p.follow(1, &Request::new("GET", "/b/x")).await.status, 404);
        p.post("/b/x", b"new", 201).await;
        assert_eq!(
            &p.follow(3, &Request::new("GET", "/b/x")).await.body[..],
            b"new"
        );
    });
}

#[test]
fn recursive_hides_at_once_and_the_health_processor_drops_after_the_grace_period() {
    each_seed(|p| async move {
        p.bucket("b").await;
        p.post("/b/x", b"x", 201).await;
        p.next_second().await;
        let deleted = p
            .follow(0, &Request::new("DELETE", "/b?recursive=yes"))
            .await;
        assert_eq!(deleted.status, 200, "{}", show(&deleted));
        assert_eq!(p.follow(1, &Request::new("GET", "/b/x")).await.status, 404);
        assert_eq!(p.follow(1, &Request::new("HEAD", "/b")).await.status, 404);
        let kept = holders_under(&p, "n//b/");
        assert!(!kept.is_empty(), "restorable during the grace period");
        // A week and a health pass later (node clocks moved on a week), the copies are gone.
        for i in 0..p.nodes.len() {
            p.world.clock(i).set_skew_ms(8 * 24 * 3600 * 1000);
        }
        replisim_sim::rt::sleep(p.world.cluster().health_interval * 2).await;
        assert!(
            holders_under(&p, "n//b/").is_empty(),
            "still held by {kept:?}"
        );
    });
}

#[test]
fn domain_put_and_recursive_delete_take_its_buckets_and_objects() {
    each_seed(|p| async move {
        let d = "?domain=tenant.example";
        let created = p
            .follow(
                0,
                &Request::new("POST", format!("/{d}"))
                    .header("Content-Type", "application/castorcontext")
                    .body(Bytes::new()),
            )
            .await;
        assert_eq!(created.status, 201, "{}", show(&created));
        p.next_second().await;
        let put = p
            .follow(
                1,
                &Request::new("PUT", format!("/{d}"))
                    .header("X-Tenant-Meta", "t")
                    .body(Bytes::new()),
            )
            .await;
        assert_eq!(put.status, 201, "{}", show(&put));
        p.post(&format!("/b{d}"), b"", 201).await;
        p.post(&format!("/b/x{d}"), b"x", 201).await;
        p.next_second().await;
        let refused = p.follow(0, &Request::new("DELETE", format!("/{d}"))).await;
        assert_eq!(refused.status, 400, "{}", show(&refused));
        let deleted = p
            .follow(0, &Request::new("DELETE", format!("/{d}&recursive=now")))
            .await;
        assert_eq!(deleted.status, 200, "{}", show(&deleted));
        for path in [format!("/b{d}"), format!("/b/x{d}")] {
            let r = p.follow(2, &Request::new("GET", path.clone())).await;
            assert_eq!(r.status, 404, "GET {path}: {}", show(&r));
        }
        assert!(holders_under(&p, "n/tenant.example/").is_empty());
        assert!(holders_under(&p, "b/tenant.example/").is_empty());
        // Writing into the deleted domain is 412, as into any missing domain (SCSP-13).
        p.post(&format!("/{d}"), b"unnamed", 412).await;
        // DELETE / without a domain names nothing to delete.
        assert_eq!(p.follow(0, &Request::new("DELETE", "/")).await.status, 400);
    });
}

#[test]
fn newname_renames_a_bucket_with_its_objects_and_refuses_a_taken_name() {
    each_seed(|p| async move {
        p.bucket("old").await;
        p.bucket("taken").await;
        p.post("/old/x", b"x", 201).await;
        p.post("/old/dir/y", b"y", 201).await;
        p.next_second().await;
        let taken = p
            .follow(
                0,
                &Request::new("COPY", "/old?newname=taken").header("Content-Length", "0"),
            )
            .await;
        assert_eq!(taken.status, 409, "{}", show(&taken));
        let renamed = p
            .follow(
                1,
                &Request::new("COPY", "/old?newname=new").header("Content-Length", "0"),
            )
            .await;
        assert_eq!(renamed.status, 201, "{}", show(&renamed));
        assert!(renamed
            .header("location")
            .is_some_and(|l| l.ends_with("/new")));
        for node in 0..p.nodes.len() {
            let moved = p.follow(node, &Request::new("GET", "/new/dir/y")).await;
            assert_eq!(&moved.body[..], b"y", "node{}: {}", node + 1, show(&moved));
            for gone in ["/old", "/old/x"] {
                let r = p.follow(node, &Request::new("GET", gone)).await;
                assert_eq!(r.status, 404, "node{} GET {gone}: {}", node + 1, show(&r));
            }
        }
        assert!(holders_under(&p, "n//old/").is_empty());
        // The new name is an ordinary bucket: writable, updatable without moving anything.
        p.post("/new/z", b"z", 201).await;
        p.next_second().await;
        let put = p
            .follow(
                0,
                &Request::new("PUT", "/new").body(Bytes::from_static(b"b")),
            )
            .await;
        assert_eq!(put.status, 201, "{}", show(&put));
        assert_eq!(
            &p.follow(2, &Request::new("GET", "/new/x")).await.body[..],
            b"x"
        );
    });
}

#[test]
fn contexts_over_real_tcp_against_serve() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let cluster = runtime
        .block_on(serve::start(ServeConfig::new(4, 0)))
        .expect("cluster on ephemeral loopback ports");
    let nodes = cluster.addrs.clone();
    let statuses = runtime.block_on(async move {
        let client = Client::new(Limits::default());
        let mut session = Session::new(client, nodes[0]);
        let mut statuses = Vec::new();
        let steps = [
            Request::new("POST", "/ctx-real").body(Bytes::new()),
            Request::new("POST", "/ctx-real/x").body(Bytes::from_static(b"x")),
            Request::new("PUT", "/ctx-real")
                .header("X-Owner-Meta", "ann")
                .body(Bytes::from_static(b"about")),
            Request::new("DELETE", "/ctx-real"),
            Request::new("DELETE", "/ctx-real?recursive=yes"),
            Request::new("GET", "/ctx-real/x"),
            Request::new("GET", "/ctx-real"),
        ];
        for (i, req) in steps.iter().enumerate() {
            if i == 2 || i == 4 {
                // Updates of one context at least a second apart (SCSP-19).
                tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
            }
            let r = session.request(req).await.expect("exchange");
            statuses.push((req.method.clone(), req.target.clone(), r.response.status));
        }
        statuses
    });
    let got: Vec<u16> = statuses.iter().map(|(_, _, s)| *s).collect();
    assert_eq!(got, vec![201, 201, 201, 400, 200, 404, 404], "{statuses:?}");
    drop(runtime);
}
