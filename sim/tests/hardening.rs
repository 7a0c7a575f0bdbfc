//! What an attacker on the client port can and cannot do to the reference cluster: `auth=`
//! tokens that are forged, expired or replayed for another request get 403; the
//! node-to-node API under `/_replisim/` refuses unsigned or wrongly signed requests; values
//! decoded from peers are range-checked.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use replisim_sim::http::client::{exchange, Answer};
use replisim_sim::rt;
use replisim_sim::scsp::cluster_key::ClusterKey;
use replisim_sim::scsp::peer_auth;
use replisim_sim::world::{simulate, World, WorldConfig};

const TIMEOUT: Duration = Duration::from_secs(5);

async fn send(
    addr: SocketAddr,
    method: Method,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    exchange(
        addr,
        method,
        target,
        headers,
        Bytes::copy_from_slice(body),
        TIMEOUT,
        1 << 20,
    )
    .await
    .expect("exchange")
}

/// A redirect's `Location` split into the node it names and its path and query.
struct Redirect {
    node: SocketAddr,
    target: String,
}

/// Starts a 4-node world with node 0 retiring, asks node 0 for a write of `/b/x?replicate=2`
/// (which it redirects with 301), then runs `then` on the client with the redirect.
fn with_redirect<F, Fut>(then: F) -> Answer
where
    F: FnOnce(Vec<SocketAddr>, Redirect) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Answer> + Send + 'static,
{
    simulate(5, move || async move {
        let world = World::start(WorldConfig::new(4));
        let addrs = world.addrs();
        world
            .on_client(async move {
                rt::sleep(Duration::from_millis(10)).await;
                let bucket = send(addrs[1], Method::POST, "/b", &[], b"").await;
                let bucket = if bucket.status == 307 {
                    let loc = bucket.header("location").expect("Location").to_string();
                    let r = split(&loc);
                    send(r.node, Method::POST, &r.target, &[], b"").await
                } else {
                    bucket
                };
                assert_eq!(bucket.status, 201, "{:?}", bucket.body);
                addrs
            })
            .await;
        world.set_retiring(0, true);
        let addrs = world.addrs();
        world
            .on_client(async move {
                let first = send(addrs[0], Method::POST, "/b/x?replicate=2", &[], b"v").await;
                assert_eq!(first.status, 301, "{:?}", first.body);
                let location = first.header("location").expect("Location").to_string();
                assert!(location.contains("auth="), "{location}");
                then(addrs, split(&location)).await
            })
            .await
    })
}

fn split(location: &str) -> Redirect {
    let rest = location.strip_prefix("http://").expect("absolute Location");
    let (host, target) = rest.split_at(rest.find('/').expect("path"));
    Redirect {
        node: host.parse().expect("ip:port"),
        target: target.to_string(),
    }
}

fn token_of(target: &str) -> String {
    let at = target.find("auth=").expect("auth=") + 5;
    target[at..at + 32].to_string()
}

fn refused(answer: &Answer, why: &str) {
    assert_eq!(answer.status, 403, "{:?}", answer.body);
    let body = String::from_utf8_lossy(&answer.body);
    assert!(body.contains(why), "{body}");
}

#[test]
fn the_genuine_token_is_accepted() {
    let done =
        with_redirect(|_, r| async move { send(r.node, Method::POST, &r.target, &[], b"v").await });
    assert_eq!(done.status, 201, "{:?}", done.body);
}

#[test]
fn a_forged_token_gets_403() {
    let answer = with_redirect(|_, r| async move {
        let token = token_of(&r.target);
        // Same expiry, a made-up MAC: what a client without the key can do.
        let forged = r
            .target
            .replace(&token, &format!("{}{}", &token[..8], "0".repeat(24)));
        send(r.node, Method::POST, &forged, &[], b"v").await
    });
    refused(&answer, "Invalid auth token");
}

#[test]
fn a_token_made_with_the_old_fixed_secret_gets_403() {
    let answer = with_redirect(|addrs, r| async move {
        let (path, query) = r.target.split_once('?').expect("query");
        let others: Vec<&str> = query
            .split('&')
            .filter(|a| !a.starts_with("auth="))
            .collect();
        let others = others.join("&");
        let grant = replisim_sim::scsp::auth::Grant {
            method: "POST",
            node: addrs.iter().position(|a| *a == r.node).expect("a node"),
            path,
            query: &others,
        };
        // The key every cluster shared before keys were drawn per cluster.
        let token =
            replisim_sim::scsp::auth::issue(b"replisim-cluster-secret", &grant, u32::MAX - 1);
        let minted = format!("{path}?{others}&auth={token}");
        send(r.node, Method::POST, &minted, &[], b"v").await
    });
    refused(&answer, "Invalid auth token");
}

#[test]
fn an_expired_token_gets_403() {
    let answer = with_redirect(|_, r| async move {
        rt::sleep(Duration::from_secs(61)).await;
        send(r.node, Method::POST, &r.target, &[], b"v").await
    });
    refused(&answer, "Expired auth token");
}

#[test]
fn a_token_replayed_for_another_method_gets_403() {
    let answer =
        with_redirect(|_, r| async move { send(r.node, Method::PUT, &r.target, &[], b"v").await });
    refused(&answer, "Invalid auth token");
}

#[test]
fn a_token_replayed_for_another_path_gets_403() {
    let answer = with_redirect(|_, r| async move {
        let other = r.target.replacen("/b/x?", "/b/y?", 1);
        send(r.node, Method::POST, &other, &[], b"v").await
    });
    refused(&answer, "Invalid auth token");
}

#[test]
fn a_token_replayed_on_another_node_gets_403() {
    let answer = with_redirect(|addrs, r| async move {
        let other = addrs
            .iter()
            .copied()
            .find(|a| *a != r.node && *a != addrs[0])
            .expect("a third node");
        send(other, Method::POST, &r.target, &[], b"v").await
    });
    refused(&answer, "Invalid auth token");
}

#[test]
fn a_token_replayed_with_another_query_gets_403() {
    let answer = with_redirect(|_, r| async move {
        let other = r.target.replacen("replicate=2", "replicate=1", 1);
        assert_ne!(other, r.target);
        send(r.node, Method::POST, &other, &[], b"v").await
    });
    refused(&answer, "Invalid auth token");
}

/// Sends a node-to-node request signed with `key`, as a peer would.
async fn signed(
    addr: SocketAddr,
    key: &ClusterKey,
    method: Method,
    target: &str,
    body: &[u8],
) -> Answer {
    let sig = peer_auth::sign(key, method.as_str(), target, body, peer_auth::now_ms());
    send(addr, method, target, &[(peer_auth::HEADER, &sig)], body).await
}

/// Runs `ask` on a client of a fresh 3-node world, with the world's cluster key.
fn on_world<F, Fut>(ask: F) -> Answer
where
    F: FnOnce(Vec<SocketAddr>, ClusterKey) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Answer> + Send + 'static,
{
    simulate(9, move || async move {
        let world = World::start(WorldConfig::new(3));
        let addrs = world.addrs();
        let key = world.cluster().key.clone();
        world
            .on_client(async move {
                rt::sleep(Duration::from_millis(10)).await;
                ask(addrs, key).await
            })
            .await
    })
}

#[test]
fn an_unsigned_peer_request_from_a_client_gets_403() {
    let answer = on_world(|addrs, _| async move {
        send(addrs[0], Method::GET, "/_replisim/inventory", &[], b"").await
    });
    assert_eq!(answer.status, 403, "{:?}", answer.body);
    let body = String::from_utf8_lossy(&answer.body);
    assert!(body.contains("without a signature"), "{body}");
    assert!(!body.contains("inventory 0"), "no inventory leaks: {body}");
}

#[test]
fn a_peer_request_signed_with_another_key_gets_403() {
    let answer = on_world(|addrs, _| async move {
        let other = ClusterKey::from_seed(12345, "elsewhere");
        let target = "/_replisim/inventory";
        signed(addrs[0], &other, Method::GET, target, b"").await
    });
    assert_eq!(answer.status, 403, "{:?}", answer.body);
    assert!(String::from_utf8_lossy(&answer.body).contains("not made with this cluster's key"));
}

#[test]
fn a_signature_replayed_for_another_path_gets_403() {
    let answer = on_world(|addrs, key| async move {
        let sig = peer_auth::sign(
            &key,
            "GET",
            "/_replisim/bid?key=a",
            b"",
            peer_auth::now_ms(),
        );
        send(
            addrs[0],
            Method::GET,
            "/_replisim/inventory",
            &[(peer_auth::HEADER, &sig)],
            b"",
        )
        .await
    });
    assert_eq!(answer.status, 403, "{:?}", answer.body);
}

#[test]
fn a_correctly_signed_peer_request_is_served() {
    let answer = on_world(|addrs, key| async move {
        let target = "/_replisim/inventory";
        signed(addrs[0], &key, Method::GET, target, b"").await
    });
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert!(String::from_utf8_lossy(&answer.body).starts_with("inventory 0 "));
}

#[test]
fn a_signed_discard_naming_a_node_out_of_range_gets_400() {
    let answer = on_world(|addrs, key| async move {
        let target = "/_replisim/replica?key=u%2Fx&stamp=1&node=99";
        signed(addrs[0], &key, Method::DELETE, target, b"").await
    });
    assert_eq!(answer.status, 400, "{:?}", answer.body);
    assert!(String::from_utf8_lossy(&answer.body).contains("node 99 of a 3-node cluster"));
}

#[test]
fn a_signed_replica_push_with_a_bad_digest_gets_400() {
    let answer = on_world(|addrs, key| async move {
        let record = replisim_sim::scsp::object::Record {
            key: "u/0123456789abcdef0123456789abcdef".into(),
            kind: replisim_sim::scsp::object::Kind::Immutable,
            version: replisim_sim::scsp::object::Version {
                stamp_ms: 1,
                node: 0,
            },
            deleted: false,
            meta: Default::default(),
            md5_hex: "not-a-digest".into(),
            content: Bytes::from_static(b"x"),
        };
        let body = replisim_sim::scsp::peer::encode_record(&record);
        let target = "/_replisim/replica";
        signed(addrs[0], &key, Method::PUT, target, &body).await
    });
    assert_eq!(answer.status, 400, "{:?}", answer.body);
    assert!(String::from_utf8_lossy(&answer.body).contains("32 hex digits"));
}

#[test]
fn each_seed_and_cluster_has_its_own_key() {
    let key_of = |seed| {
        simulate(seed, || async {
            World::start(WorldConfig::new(2)).cluster().key.clone()
        })
    };
    assert_eq!(key_of(3), key_of(3));
    assert_ne!(key_of(3), key_of(4));
}

#[test]
fn the_trace_of_redirected_writes_holds_no_token() {
    let (rendered, token) = simulate(5, || async {
        let world = World::start(WorldConfig::new(4));
        world.set_retiring(0, true);
        let addrs = world.addrs();
        let token = world
            .on_client(async move {
                rt::sleep(Duration::from_millis(10)).await;
                let first = send(addrs[0], Method::POST, "/", &[], b"v").await;
                assert_eq!(first.status, 301, "{:?}", first.body);
                let location = first.header("location").expect("Location").to_string();
                let r = split(&location);
                let done = send(r.node, Method::POST, &r.target, &[], b"v").await;
                assert_eq!(done.status, 201, "{:?}", done.body);
                // A replay for another method is refused, and traced with a cut token.
                let refused = send(r.node, Method::PUT, &r.target, &[], b"v").await;
                assert_eq!(refused.status, 403, "{:?}", refused.body);
                token_of(&r.target)
            })
            .await;
        (world.trace().render(), token)
    });
    assert!(
        rendered.contains("moved"),
        "the redirect is traced: {rendered}"
    );
    assert!(!rendered.contains(&token), "{rendered}");
    assert!(
        !rendered.contains(&token[8..]),
        "not even the MAC: {rendered}"
    );
}

#[test]
fn a_request_target_over_the_limit_gets_414() {
    let answer = on_world(|addrs, _| async move {
        let long = format!(
            "/b/{}",
            "n".repeat(replisim_sim::http::limits::URL_BYTES_MAX)
        );
        send(addrs[0], Method::GET, &long, &[], b"").await
    });
    assert_eq!(answer.status, 414, "{:?}", answer.body);
    assert!(String::from_utf8_lossy(&answer.body).contains("the limit is 8192"));
}

#[test]
fn more_headers_than_the_parser_takes_get_431() {
    let answer = on_world(|addrs, _| async move {
        let names: Vec<String> = (0..600).map(|i| format!("x-h{i}-meta")).collect();
        let headers: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
        send(addrs[0], Method::GET, "/b/o", &headers, b"").await
    });
    assert_eq!(answer.status, 431, "{:?}", answer.body);
}

#[test]
fn a_head_larger_than_the_parser_buffer_gets_431() {
    let answer = on_world(|addrs, _| async move {
        let value = "v".repeat(600 * 1024);
        send(
            addrs[0],
            Method::GET,
            "/b/o",
            &[("x-big-meta", &value)],
            b"",
        )
        .await
    });
    assert_eq!(answer.status, 431, "{:?}", answer.body);
}

#[test]
fn rucio_json_nested_deeper_than_the_limit_gets_400() {
    use replisim_sim::http::limits::JSON_DEPTH_MAX;
    use replisim_sim::rucio::rest::json_body;
    let inner = format!(
        "{}1{}",
        "[".repeat(JSON_DEPTH_MAX),
        "]".repeat(JSON_DEPTH_MAX)
    );
    let too_deep = format!("{{\"a\":{inner}}}");
    let refused = json_body(too_deep.as_bytes()).expect_err("too deep");
    assert_eq!(refused.status(), 400);
    assert!(format!("{refused:?}").contains("nested deeper than 32"));
    // One level less parses.
    let fits = format!(
        "{{\"a\":{}1{}}}",
        "[".repeat(JSON_DEPTH_MAX - 1),
        "]".repeat(JSON_DEPTH_MAX - 1)
    );
    assert!(json_body(fits.as_bytes()).is_ok());
    // Far beyond serde_json's own recursion limit: still a 400, no stack overflow.
    let huge = "[".repeat(1_000_000);
    assert_eq!(json_body(huge.as_bytes()).expect_err("deep").status(), 400);
}

#[test]
fn a_publisher_request_target_over_the_limit_gets_414() {
    use replisim_sim::publisher::core::Publisher;
    use replisim_sim::publisher::durable::DurableLog;
    use replisim_sim::publisher::http::{handle, SharedPublisher};
    use replisim_sim::publisher::rules::Rules;
    use replisim_sim::store::Disk;
    let p = SharedPublisher::new(Publisher::new(
        DurableLog::new(Disk::shared(1 << 20)),
        Rules::parse("channel A\n").expect("rules"),
        1,
    ));
    let long = format!(
        "/A?type={}",
        "x".repeat(replisim_sim::http::limits::URL_BYTES_MAX)
    );
    let req = http::Request::builder()
        .method(Method::POST)
        .uri(long)
        .body(())
        .expect("request");
    assert_eq!(handle(&p, req, 1_000).status(), 414);
}

#[test]
fn ds3_xml_entities_are_never_expanded() {
    use replisim_sim::ds3::xml::{from_xml, BulkRequest};
    // Billion laughs: each entity ten of the one before. Expanded, 10^9 "lol"s.
    let mut doc = String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE Ds3 [\n<!ENTITY lol \"lol\">\n");
    for i in 1..10 {
        let prev = if i == 1 {
            "lol".to_string()
        } else {
            format!("lol{}", i - 1)
        };
        doc.push_str(&format!(
            "<!ENTITY lol{i} \"{}\">\n",
            format!("&{prev};").repeat(10)
        ));
    }
    doc.push_str("]>\n<Objects><Object Name=\"&lol9;\" Size=\"1\"/></Objects>");
    let refused = from_xml::<BulkRequest>(&doc);
    assert!(refused.is_err(), "an entity was expanded: {refused:?}");
    // An external entity is not fetched either.
    let external = "<!DOCTYPE Ds3 [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\
                    <Objects><Object Name=\"&x;\" Size=\"1\"/></Objects>";
    let refused = from_xml::<BulkRequest>(external);
    assert!(refused.is_err(), "{refused:?}");
    // The predefined entities still read as themselves.
    let plain = "<Objects><Object Name=\"a&amp;b\" Size=\"1\"/></Objects>";
    let parsed = from_xml::<BulkRequest>(plain).expect("a plain request parses");
    assert_eq!(parsed.objects[0].name, "a&b");
}
