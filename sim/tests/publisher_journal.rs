//! The publisher reads the nodes' event journals (docs/choices.md row P2): revisions
//! written closer together than a poll are each an event, and neither a publisher crash nor
//! a node crash between the write and the poll loses one. With the journals switched off
//! (`publisher-diffs-inventories`) the same writes fold into one event.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use http::Method;
use replisim_sim::publisher::defects::PublisherDefect;
use replisim_sim::publisher::host::{self, PublisherConfig};
use replisim_sim::rt;
use replisim_sim::store::Disk;
use replisim_sim::world::{simulate, World, WorldConfig};

mod publisher_support;
use publisher_support::{call, scsp_now as scsp, PUBLISHER};

/// Every item of a fresh enumerator of `query` on `PublishAll`, acknowledged as read: the
/// object each answer names, and its body.
async fn read_all(query: &str) -> Vec<(String, String)> {
    let started = call(Method::POST, &format!("/PublishAll?{query}")).await;
    assert_eq!(started.status, 201);
    let id = started.header("content-uuid").expect("id").to_string();
    let mut token = started
        .header("content-sync-token")
        .expect("token")
        .to_string();
    let mut items = Vec::new();
    loop {
        let next = call(Method::GET, &format!("/{id}?syncToken={token}")).await;
        assert_eq!(next.status, 200);
        token = next
            .header("content-sync-token")
            .expect("token")
            .to_string();
        if next.body.is_empty() {
            break;
        }
        let object = next
            .header("content-uuid")
            .or(next.header("content-name"))
            .unwrap_or("")
            .to_string();
        items.push((object, String::from_utf8_lossy(&next.body).into_owned()));
    }
    let _ = call(Method::DELETE, &format!("/{id}")).await;
    items
}

/// How many Metadata items name each object.
fn per_object(items: &[(String, String)]) -> BTreeMap<String, usize> {
    let mut n = BTreeMap::new();
    for (object, _) in items {
        *n.entry(object.clone()).or_insert(0) += 1;
    }
    n
}

/// UUID enumerator lines per UUID.
fn uuid_lines(items: &[(String, String)]) -> BTreeMap<String, usize> {
    let mut n = BTreeMap::new();
    for line in items.iter().flat_map(|(_, body)| body.lines()) {
        *n.entry(line.trim().to_string()).or_insert(0) += 1;
    }
    n
}

/// A three-node cluster and a publisher polling it every `poll`; returns the world and the
/// publisher's madsim node.
fn cluster_and_publisher(
    poll: Duration,
    defects: &[PublisherDefect],
) -> (World, madsim::runtime::NodeHandle) {
    let world = World::start(WorldConfig::new(3));
    let mut config = PublisherConfig::new(PUBLISHER, world.addrs());
    config.cluster_key = Some(world.cluster().key.clone());
    config.poll_interval = poll;
    config.defects = defects.iter().copied().collect();
    let disk = Disk::shared(1 << 26);
    let node = madsim::runtime::Handle::current()
        .create_node()
        .name("publisher")
        .ip(PUBLISHER.ip())
        .init(move || {
            let config = config.clone();
            let disk = disk.clone();
            async move {
                let _ = host::run(config, disk).await;
            }
        })
        .build();
    (world, node)
}

/// Writes an alias three times and a named object twice, back to back (well inside one
/// poll interval); returns the alias UUID, then waits for two polls and reads the Metadata
/// and UUID enumerators.
async fn quick_writes(n0: SocketAddr) -> (String, Vec<(String, String)>, Vec<(String, String)>) {
    // The publisher's first poll (at its start) opens the journals.
    rt::sleep(Duration::from_millis(500)).await;
    let alias = scsp(n0, Method::POST, "/?alias=yes", b"v1").await;
    let alias = alias.header("content-uuid").expect("uuid").to_string();
    scsp(n0, Method::PUT, &format!("/{alias}"), b"v2").await;
    scsp(n0, Method::PUT, &format!("/{alias}"), b"v3").await;
    scsp(n0, Method::POST, "/photos", b"").await;
    scsp(n0, Method::POST, "/photos/x.jpg", b"x1").await;
    scsp(n0, Method::PUT, "/photos/x.jpg", b"x2").await;
    rt::sleep(Duration::from_secs(3)).await;
    (alias, read_all("").await, read_all("type=UUID").await)
}

#[test]
fn two_quick_writes_are_two_metadata_items_and_an_alias_repeats_per_revision() {
    simulate(11, || async {
        let (world, _publisher) = cluster_and_publisher(Duration::from_secs(1), &[]);
        let n0 = world.addrs()[0];
        let (alias, metadata, uuids) = world.on_client(quick_writes(n0)).await;
        let n = per_object(&metadata);
        assert_eq!(n.get(&alias), Some(&3), "ENUM-7: one item per write: {n:?}");
        assert_eq!(n.get("/photos/x.jpg"), Some(&2), "{n:?}");
        let bodies: Vec<&str> = metadata
            .iter()
            .filter(|(o, _)| *o == alias)
            .map(|(_, b)| b.as_str())
            .collect();
        assert_eq!(
            bodies
                .iter()
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
            3,
            "three distinct revisions: {bodies:?}"
        );
        let lines = uuid_lines(&uuids);
        assert_eq!(lines.get(&alias), Some(&3), "ENUM-5: {lines:?}");
    });
}

#[test]
fn without_the_journals_quick_revisions_fold_into_one() {
    simulate(11, || async {
        let (world, _publisher) =
            cluster_and_publisher(Duration::from_secs(1), &[PublisherDefect::DiffsInventories]);
        let n0 = world.addrs()[0];
        let (alias, metadata, _) = world.on_client(quick_writes(n0)).await;
        let n = per_object(&metadata);
        assert!(
            n.get(&alias).is_some_and(|&k| k < 3),
            "the inventory diff sees fewer than 3 revisions: {n:?}"
        );
    });
}

#[test]
fn a_publisher_crash_and_node_crashes_between_write_and_poll_lose_nothing() {
    simulate(12, || async {
        // A poll every minute: the writes below are never seen by a poll before the crashes.
        let (world, publisher) = cluster_and_publisher(Duration::from_secs(60), &[]);
        let n0 = world.addrs()[0];
        let alias = world
            .on_client(async move {
                rt::sleep(Duration::from_millis(500)).await;
                let a = scsp(n0, Method::POST, "/?alias=yes", b"v1").await;
                let alias = a.header("content-uuid").expect("uuid").to_string();
                scsp(n0, Method::PUT, &format!("/{alias}"), b"v2").await;
                scsp(n0, Method::DELETE, &format!("/{alias}"), b"").await;
                alias
            })
            .await;
        let handle = madsim::runtime::Handle::current();
        handle.kill(publisher.id());
        for i in 0..world.len() {
            world.kill(i);
            let lost = Disk::lock(world.disk(i)).crash();
            assert!(lost.is_empty(), "node {i} lost synced data: {lost:?}");
        }
        for i in 0..world.len() {
            world.restart(i);
        }
        handle.restart(publisher.id());
        let metadata = world
            .on_client(async move {
                rt::sleep(Duration::from_secs(5)).await;
                read_all("").await
            })
            .await;
        let codes: Vec<String> = metadata
            .iter()
            .filter(|(o, _)| *o == alias)
            .map(|(_, body)| {
                body.lines()
                    .find_map(|l| l.strip_prefix("Content-Event: "))
                    .unwrap_or("?")
                    .to_string()
            })
            .collect();
        assert_eq!(
            codes.len(),
            3,
            "POST, PUT and DELETE each an item: {metadata:?}"
        );
        // A second restart of the publisher alone registers nothing twice.
        handle.kill(publisher.id());
        handle.restart(publisher.id());
        let again = world
            .on_client(async move {
                rt::sleep(Duration::from_secs(3)).await;
                read_all("").await
            })
            .await;
        assert_eq!(again, metadata);
    });
}

/// Every item of a fresh Metadata enumerator on `PublishAll`: the object each answer names
/// and its `Content-Event` code.
async fn metadata_codes() -> Vec<(String, String)> {
    let started = call(Method::POST, "/PublishAll").await;
    assert_eq!(started.status, 201);
    let id = started.header("content-uuid").expect("id").to_string();
    let mut token = started
        .header("content-sync-token")
        .expect("token")
        .to_string();
    let mut items = Vec::new();
    loop {
        let next = call(Method::GET, &format!("/{id}?syncToken={token}")).await;
        assert_eq!(next.status, 200);
        token = next
            .header("content-sync-token")
            .expect("token")
            .to_string();
        if next.body.is_empty() && next.header("content-event").is_none() {
            break;
        }
        let object = next
            .header("content-uuid")
            .or(next.header("content-name"))
            .unwrap_or("")
            .to_string();
        let code = next.header("content-event").unwrap_or("?").to_string();
        items.push((object, code));
    }
    let _ = call(Method::DELETE, &format!("/{id}")).await;
    items
}

/// Writes three objects in bucket `photos` and one in `keep`, then deletes `photos` with
/// `recursive=now` and bucket `old` (one object) with `recursive` (the grace period); returns
/// the Metadata enumerator's (object, code) items.
async fn context_deletes(n: Vec<SocketAddr>) -> Vec<(String, String)> {
    rt::sleep(Duration::from_millis(500)).await;
    for bucket in ["/photos", "/keep", "/old"] {
        scsp(n[0], Method::POST, bucket, b"").await;
    }
    // Written through different nodes: each holds some of the objects.
    for (i, name) in ["/photos/a", "/photos/b", "/photos/c", "/keep/k", "/old/x"]
        .iter()
        .enumerate()
    {
        scsp(n[i % n.len()], Method::POST, name, b"body").await;
    }
    rt::sleep(Duration::from_secs(2)).await;
    scsp(n[1], Method::DELETE, "/photos?recursive=now", b"").await;
    scsp(n[2], Method::DELETE, "/old?recursive", b"").await;
    rt::sleep(Duration::from_secs(3)).await;
    metadata_codes().await
}

/// Delete items (code 1) per object.
fn deletes(items: &[(String, String)]) -> BTreeMap<String, usize> {
    let mut n = BTreeMap::new();
    for (object, _) in items.iter().filter(|(_, c)| c == "1") {
        *n.entry(object.clone()).or_insert(0) += 1;
    }
    n
}

#[test]
fn a_recursive_bucket_delete_is_a_delete_event_per_object_it_drops() {
    simulate(13, || async {
        let (world, _publisher) = cluster_and_publisher(Duration::from_secs(1), &[]);
        let items = world.on_client(context_deletes(world.addrs())).await;
        let gone = deletes(&items);
        for object in ["/photos/a", "/photos/b", "/photos/c", "/old/x"] {
            assert_eq!(
                gone.get(object),
                Some(&1),
                "{object}: one delete item: {items:?}"
            );
        }
        assert_eq!(gone.get("/keep/k"), None, "{items:?}");
        // Each delete orders after the object's create: it is the object's last event.
        for object in ["/photos/a", "/old/x"] {
            let codes: Vec<&str> = items
                .iter()
                .filter(|(o, _)| o == object)
                .map(|(_, c)| c.as_str())
                .collect();
            assert_eq!(codes, ["2", "1"], "{object}: {items:?}");
        }
    });
}

#[test]
fn a_publisher_that_ignores_context_deletes_lists_none() {
    simulate(13, || async {
        let (world, _publisher) = cluster_and_publisher(
            Duration::from_secs(1),
            &[PublisherDefect::IgnoresContextDeletes],
        );
        let items = world.on_client(context_deletes(world.addrs())).await;
        let gone = deletes(&items);
        assert!(gone.is_empty(), "no delete items: {items:?}");
        assert!(
            items.iter().any(|(o, c)| o == "/photos/a" && c == "2"),
            "the creates are there: {items:?}"
        );
    });
}
