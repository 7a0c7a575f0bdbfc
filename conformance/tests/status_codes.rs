//! Every status code the reference SCSP node implements, asserted end to end: a 4-node
//! simulated cluster on fixed seeds, driven over simulated TCP by the strict conformance
//! client. One test per status and rule; each test name says the rule (spec §1.5, §1.11).
//!
//! Each scenario runs once per seed in [`SEEDS`]: the seed decides placement (which node wins
//! a bid, hence whether a request is served by its access node or redirected), so the seeds
//! vary which path each request takes. Tests that need a particular path (a redirect, a local
//! write) find it explicitly rather than relying on a seed.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use replisim_conformance::client::{
    parse_location, Client, ClientError, Endpoint, Exchange, Followed, Limits, Request, Response,
    Session,
};
use replisim_sim::rt;
use replisim_sim::scsp::object::md5_hex;
use replisim_sim::store::Disk;
use replisim_sim::world::{simulate, World, WorldConfig};

/// The seeds every scenario runs with, explicitly (never madsim's default random seed).
const SEEDS: [u64; 3] = [101, 202, 303];

/// The once-per-second update limit of the protocol (§1.8, SCSP-19), with a margin: the wait
/// between two updates of the same object.
const UPDATE_GAP: Duration = Duration::from_millis(1100);

/// The methods the node says it implements.
const IMPLEMENTED: [&str; 7] = ["HEAD", "GET", "PUT", "POST", "COPY", "APPEND", "DELETE"];

/// One scenario's view of the world: the cluster, the strict client and the node addresses.
struct Sim {
    world: Arc<World>,
    client: Client,
    nodes: Vec<SocketAddr>,
}

/// Runs `scenario` on the client node of a fresh world built from `config`, once per seed.
fn run<F, Fut>(config: WorldConfig, scenario: F)
where
    F: Fn(Sim) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    for seed in SEEDS {
        let config = config.clone();
        simulate(seed, move || async move {
            let world = Arc::new(World::start(config));
            let sim = Sim {
                world: world.clone(),
                client: Client::new(Limits::default()),
                nodes: world.addrs(),
            };
            world
                .on_client(async move {
                    sim.wait_until_serving().await;
                    scenario(sim).await;
                })
                .await;
        });
    }
}

fn four_nodes() -> WorldConfig {
    WorldConfig::new(4)
}

/// Status, reason and the start of the body, for assertion messages.
fn show(r: &Response) -> String {
    let body: String = String::from_utf8_lossy(&r.body).chars().take(200).collect();
    format!("{} {} {:?} body={body:?}", r.status, r.reason, r.headers)
}

fn text(r: &Response) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

fn header<'a>(r: &'a Response, name: &str) -> &'a str {
    r.header(name)
        .unwrap_or_else(|| panic!("{} has no {name} header: {}", r.status, show(r)))
}

/// The `auth=` value of a Location or target, if any.
fn auth_token(uri: &str) -> Option<&str> {
    let query = uri.split_once('?')?.1;
    query
        .split('&')
        .find_map(|arg| arg.strip_prefix("auth="))
        .filter(|t| !t.is_empty())
}

/// The same URI with the last hex digit of its `auth=` token changed.
fn flip_token_digit(uri: &str) -> String {
    let token = auth_token(uri).unwrap_or_else(|| panic!("no auth= in {uri}"));
    let last = token.chars().last().unwrap_or('0');
    let flipped = if last == '0' { '1' } else { '0' };
    let forged = format!("{}{flipped}", &token[..token.len() - 1]);
    assert_ne!(forged, token);
    uri.replacen(&format!("auth={token}"), &format!("auth={forged}"), 1)
}

/// Checks the shape of a redirect: empty body with `Content-Length: 0` and a `Location`
/// carrying `auth=` (SCSP-3, SCSP-4). Returns the Location.
fn assert_redirect_shape(r: &Response, status: u16) -> String {
    assert_eq!(r.status, status, "expected a {status}: {}", show(r));
    assert_eq!(
        r.header("content-length").map(str::trim),
        Some("0"),
        "{}",
        show(r)
    );
    assert!(r.body.is_empty(), "a redirect has no body: {}", show(r));
    let location = header(r, "location").to_string();
    let token = auth_token(&location).unwrap_or_else(|| panic!("no auth= in {location}"));
    assert_eq!(token.len(), 32, "token of 32 hex digits: {location}");
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()), "{location}");
    location
}

/// Checks the headers every 201 has (SCSP-1, SCSP-2) for content `body`.
fn assert_created(r: &Response, body: &[u8]) {
    assert_eq!(r.status, 201, "{}", show(r));
    let location = header(r, "location");
    parse_location(location).unwrap_or_else(|e| panic!("Location {location}: {e}"));
    assert_eq!(header(r, "etag"), format!("\"{}\"", md5_hex(body)));
    let version = header(r, "castor-system-version");
    let (secs, millis) = version
        .split_once('.')
        .unwrap_or_else(|| panic!("Castor-System-Version {version} is not secs.mmm"));
    assert!(
        !secs.is_empty() && secs.bytes().all(|b| b.is_ascii_digit()),
        "{version}"
    );
    assert!(
        millis.len() == 3 && millis.bytes().all(|b| b.is_ascii_digit()),
        "{version}"
    );
    let modified = httpdate::parse_http_date(header(r, "last-modified"))
        .unwrap_or_else(|e| panic!("Last-Modified: {e}: {}", show(r)));
    let modified_secs = modified
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    assert_eq!(
        modified_secs.to_string(),
        secs,
        "Last-Modified is the version's second"
    );
    // SCSP-2: Content-Type and Content-Length describe the response body.
    assert!(
        header(r, "content-type").starts_with("text/html"),
        "{}",
        show(r)
    );
    assert!(
        text(r).contains("A new object has been created"),
        "{}",
        show(r)
    );
}

/// The last path segment of a URI, without its query.
fn last_segment(uri: &str) -> &str {
    let path = uri.split(['?', '#']).next().unwrap_or("");
    path.trim_end_matches('/').rsplit('/').next().unwrap_or("")
}

impl Sim {
    /// Polls `GET /` on every node (bounded) until each serves: nodes bind asynchronously.
    async fn wait_until_serving(&self) {
        let probe = Client::new(Limits::default());
        for (i, addr) in self.nodes.iter().enumerate() {
            let mut attempts = 0;
            loop {
                let r = probe
                    .send(*addr, &addr.to_string(), &Request::new("GET", "/"))
                    .await;
                if matches!(r, Ok(ref r) if r.status == 200) {
                    break;
                }
                attempts += 1;
                assert!(attempts < 200, "node{} never served GET /: {r:?}", i + 1);
                rt::sleep(Duration::from_millis(5)).await;
            }
        }
    }

    /// One exchange with node `i`, no redirects followed.
    async fn send(&self, i: usize, req: &Request) -> Response {
        let addr = self.nodes[i];
        self.client
            .send(addr, &addr.to_string(), req)
            .await
            .unwrap_or_else(|e| panic!("{} {} to node{}: {e}", req.method, req.target, i + 1))
    }

    /// One exchange with the node a `Location` names, sending its exact target.
    async fn send_to_location(&self, location: &str, req: &Request) -> Response {
        let (addr, target) =
            parse_location(location).unwrap_or_else(|e| panic!("Location {location}: {e}"));
        let mut req = req.clone();
        req.target = target;
        self.client
            .send(addr, &addr.to_string(), &req)
            .await
            .unwrap_or_else(|e| panic!("{} {location}: {e}", req.method))
    }

    /// A request through a session whose access node is node `i`, following redirects.
    async fn follow(&self, i: usize, req: &Request) -> Followed {
        Session::new(self.client.clone(), self.nodes[i])
            .request(req)
            .await
            .unwrap_or_else(|e| panic!("{} {} via node{}: {e}", req.method, req.target, i + 1))
    }

    /// The final response of [`Sim::follow`].
    async fn final_of(&self, i: usize, req: &Request) -> Response {
        self.follow(i, req).await.response
    }

    /// Which node an address is.
    fn index_of(&self, addr: impl Into<Endpoint>) -> usize {
        let addr = addr.into();
        self.nodes
            .iter()
            .position(|a| addr == *a)
            .unwrap_or_else(|| panic!("{addr} is not a node of this world"))
    }

    /// The node a Location points at.
    fn node_of_location(&self, location: &str) -> usize {
        let (addr, _) =
            parse_location(location).unwrap_or_else(|e| panic!("Location {location}: {e}"));
        self.index_of(addr)
    }

    /// Creates a bucket in the default domain (201 required).
    async fn create_bucket(&self, bucket: &str) {
        let r = self
            .final_of(
                0,
                &Request::new("POST", format!("/{bucket}")).body(Bytes::new()),
            )
            .await;
        assert_eq!(r.status, 201, "create bucket {bucket}: {}", show(&r));
    }

    /// WRITEs `body` at `path` through node 0 and requires a 201.
    async fn write(&self, path: &str, body: &'static [u8], headers: &[(&str, &str)]) -> Response {
        let mut req = Request::new("POST", path).body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = self.final_of(0, &req).await;
        assert_created(&r, body);
        r
    }

    /// Nodes whose disk holds a live copy of `store_key`.
    fn holders(&self, store_key: &str) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|i| {
                Disk::lock(self.world.disk(*i))
                    .get(store_key)
                    .is_some_and(|r| !r.removed)
            })
            .collect()
    }

    /// WRITEs fresh names `/<bucket>/probe-<k>` to node `pan` with `Expect: 100-continue`
    /// until the PAN redirects one (another node won the bid). Returns that path and the
    /// 307; the redirected request was not written (its body was never sent).
    async fn redirected_write(
        &self,
        pan: usize,
        bucket: &str,
        body: &'static [u8],
    ) -> (String, Response) {
        for k in 0..32 {
            let path = format!("/{bucket}/probe-{k}");
            let r = self
                .send(
                    pan,
                    &Request::new("POST", &path).body(body).expect_continue(),
                )
                .await;
            match r.status {
                307 => return (path, r),
                201 => continue,
                _ => panic!("probe write {path} to node{}: {}", pan + 1, show(&r)),
            }
        }
        panic!(
            "node{} served 32 fresh names itself: no write bid was ever won elsewhere",
            pan + 1
        )
    }

    /// The last exchange of the transcript.
    fn last_exchange(&self) -> Exchange {
        self.client
            .transcript()
            .pop()
            .unwrap_or_else(|| panic!("the transcript is empty"))
    }
}

// ---------------------------------------------------------------------------------------
// 201 Created (SCSP-1, SCSP-2)

#[test]
fn scsp1_named_write_201_with_location_etag_last_modified_and_version() {
    run(four_nodes(), |sim| async move {
        sim.create_bucket("photos").await;
        let body: &[u8] = b"hello world";
        let r = sim.write("/photos/cat.jpg", b"hello world", &[]).await;
        let location = header(&r, "location");
        let (addr, target) = parse_location(location).expect("Location");
        assert_eq!(target, "/photos/cat.jpg", "Location names the object");
        assert_eq!(last_segment(location), "cat.jpg");
        assert_eq!(header(&r, "replica-count"), "2", "policy replicas by ROW");
        // The node in the Location holds the object and serves it without a redirect.
        let got = sim
            .client
            .send(addr, &addr.to_string(), &Request::new("GET", &target))
            .await
            .expect("GET");
        assert_eq!(got.status, 200, "{}", show(&got));
        assert_eq!(&got.body[..], body);
        assert_eq!(got.header("etag"), r.header("etag"));
        assert_eq!(
            got.header("castor-system-version"),
            r.header("castor-system-version")
        );
    });
}

#[test]
fn scsp1_unnamed_write_201_with_content_uuid_equal_to_location_segment() {
    run(four_nodes(), |sim| async move {
        let r = sim.write("/", b"unnamed payload", &[]).await;
        let uuid = header(&r, "content-uuid");
        assert!(
            uuid.len() == 32 && uuid.bytes().all(|b| b.is_ascii_hexdigit()),
            "Content-UUID is 32 hex digits: {uuid}"
        );
        assert_eq!(last_segment(header(&r, "location")), uuid);
        let got = sim
            .final_of(1, &Request::new("GET", format!("/{uuid}")))
            .await;
        assert_eq!(got.status, 200, "{}", show(&got));
        assert_eq!(&got.body[..], b"unnamed payload");
    });
}

#[test]
fn scsp1_alias_write_201_with_content_uuid_and_scsp17_put_keeps_the_uuid() {
    run(four_nodes(), |sim| async move {
        let r = sim.write("/?alias", b"first", &[]).await;
        let uuid = header(&r, "content-uuid").to_string();
        assert_eq!(last_segment(header(&r, "location")), uuid);

        rt::sleep(UPDATE_GAP).await;
        let put = sim
            .final_of(
                2,
                &Request::new("PUT", format!("/{uuid}?alias=yes")).body(&b"second"[..]),
            )
            .await;
        assert_created(&put, b"second");
        assert_eq!(
            put.header("content-uuid"),
            Some(uuid.as_str()),
            "alias UUID is stable"
        );

        let got = sim
            .final_of(3, &Request::new("GET", format!("/{uuid}")))
            .await;
        assert_eq!(got.status, 200, "{}", show(&got));
        assert_eq!(&got.body[..], b"second");
        assert_eq!(got.header("castor-system-alias"), Some(uuid.as_str()));
    });
}

#[test]
fn contexts_201_domain_then_bucket_then_named_write_into_the_domain() {
    run(four_nodes(), |sim| async move {
        let domain = sim
            .final_of(
                0,
                &Request::new("POST", "/?domain=acme.example")
                    .header("Content-Type", "application/castorcontext")
                    .body(Bytes::new()),
            )
            .await;
        assert_eq!(domain.status, 201, "domain create: {}", show(&domain));
        assert!(header(&domain, "location").ends_with("/?domain=acme.example"));

        let bucket = sim
            .final_of(
                1,
                &Request::new("POST", "/docs?domain=acme.example").body(Bytes::new()),
            )
            .await;
        assert_eq!(bucket.status, 201, "bucket create: {}", show(&bucket));
        let (_, target) = parse_location(header(&bucket, "location")).expect("Location");
        assert_eq!(target, "/docs?domain=acme.example");

        let named = sim
            .final_of(
                2,
                &Request::new("POST", "/docs/readme.txt?domain=acme.example").body(&b"read me"[..]),
            )
            .await;
        assert_created(&named, b"read me");
        let (_, target) = parse_location(header(&named, "location")).expect("Location");
        assert_eq!(target, "/docs/readme.txt?domain=acme.example");

        let got = sim
            .final_of(
                3,
                &Request::new("GET", "/docs/readme.txt?domain=acme.example"),
            )
            .await;
        assert_eq!(got.status, 200, "{}", show(&got));
        assert_eq!(&got.body[..], b"read me");
        // The same path in the default domain is another object: tenancy separates them.
        let other = sim
            .final_of(3, &Request::new("GET", "/docs/readme.txt"))
            .await;
        assert_eq!(other.status, 404, "{}", show(&other));
    });
}

// ---------------------------------------------------------------------------------------
// 200, 206, 416 (READ, INFO; SCSP-37)

#[test]
fn read_200_get_from_every_node_and_head_has_length_but_no_body() {
    run(four_nodes(), |sim| async move {
        sim.create_bucket("b").await;
        let written = sim.write("/b/greeting", b"hello world", &[]).await;
        for i in 0..sim.nodes.len() {
            let get = sim.final_of(i, &Request::new("GET", "/b/greeting")).await;
            assert_eq!(get.status, 200, "GET via node{}: {}", i + 1, show(&get));
            assert_eq!(&get.body[..], b"hello world");
            assert_eq!(get.header("etag"), written.header("etag"));

            let head = sim.final_of(i, &Request::new("HEAD", "/b/greeting")).await;
            assert_eq!(head.status, 200, "HEAD via node{}: {}", i + 1, show(&head));
            assert_eq!(
                head.header("content-length"),
                Some("11"),
                "HEAD gives the object's length"
            );
            assert!(head.body.is_empty());
            assert_eq!(head.header("etag"), written.header("etag"));
        }
        // No body bytes on the wire: read the HEAD answer as if it had the body its
        // Content-Length announces; with `Connection: close` the node must hang up first.
        let holder = sim.node_of_location(header(&written, "location"));
        let raw = format!(
            "HEAD /b/greeting HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            sim.nodes[holder]
        );
        let r = sim
            .client
            .send_raw(sim.nodes[holder], raw.as_bytes(), false)
            .await;
        match r {
            Err(ClientError::Malformed(why)) => {
                assert!(why.contains("after 0 of 11 bytes"), "{why}")
            }
            other => panic!("HEAD sent body bytes or no answer: {other:?}"),
        }
    });
}

#[test]
fn scsp37_range_206_with_content_range_for_first_suffix_and_open_ranges() {
    run(four_nodes(), |sim| async move {
        sim.create_bucket("b").await;
        sim.write("/b/digits", b"0123456789", &[]).await;
        let cases: [(&str, &[u8], &str); 4] = [
            ("bytes=0-4", b"01234", "bytes 0-4/10"),
            ("bytes=-3", b"789", "bytes 7-9/10"),
            ("bytes=5-", b"56789", "bytes 5-9/10"),
            ("bytes=8-100", b"89", "bytes 8-9/10"),
        ];
        for (i, (range, part, content_range)) in cases.into_iter().enumerate() {
            let r = sim
                .final_of(
                    i % 4,
                    &Request::new("GET", "/b/digits").header("Range", range),
                )
                .await;
            assert_eq!(r.status, 206, "{range}: {}", show(&r));
            assert_eq!(&r.body[..], part, "{range}");
            assert_eq!(r.header("content-range"), Some(content_range), "{range}");
        }
    });
}

#[test]
fn scsp37_range_out_of_bounds_416_with_content_range_star_length() {
    run(four_nodes(), |sim| async move {
        sim.create_bucket("b").await;
        sim.write("/b/digits", b"0123456789", &[]).await;
        for (i, range) in ["bytes=10-12", "bytes=25-", "bytes=-0"]
            .into_iter()
            .enumerate()
        {
            let r = sim
                .final_of(
                    i % 4,
                    &Request::new("GET", "/b/digits").header("Range", range),
                )
                .await;
            assert_eq!(r.status, 416, "{range}: {}", show(&r));
            assert_eq!(r.header("content-range"), Some("bytes */10"), "{range}");
        }
    });
}

// ---------------------------------------------------------------------------------------
// 404 (SCSP-17, SCSP-39)

#[test]
fn read_and_delete_404_for_a_missing_name_and_a_missing_uuid() {
    run(four_nodes(), |sim| async move {
        sim.create_bucket("b").await;
        for i in 0..sim.nodes.len() {
            for (method, target) in [
                ("GET", "/b/never-written"),
                ("HEAD", "/b/never-written"),
                ("GET", "/0123456789abcdef0123456789abcdef"),
                ("DELETE", "/b/never-written"),
                ("DELETE", "/0123456789abcdef0123456789abcdef"),
            ] {
                let r = sim.send(i, &Request::new(method, target)).await;
                assert_eq!(
                    r.status,
                    404,
                    "{method} {target} at node{}: {}",
                    i + 1,
                    show(&r)
                );
                let allow = header(&r, "allow");
                for m in IMPLEMENTED {
                    assert!(allow.contains(m), "Allow {allow:?} lacks {m}");
                }
            }
        }
    });
}

#[test]
fn delete_200_then_every_node_answers_404() {
    run(four_nodes(), |sim| async move {
        sim.create_bucket("b").await;
        sim.write("/b/doomed", b"short-lived", &[]).await;
        rt::sleep(UPDATE_GAP).await;
        let del = sim.final_of(1, &Request::new("DELETE", "/b/doomed")).await;
        assert_eq!(del.status, 200, "{}", show(&del));
        assert_eq!(sim.holders("n//b/doomed"), Vec::<usize>::new());
        for i in 0..sim.nodes.len() {
            for method in ["GET", "HEAD"] {
                let r = sim.final_of(i, &Request::new(method, "/b/doomed")).await;
                assert_eq!(r.status, 404, "{method} via node{}: {}", i + 1, show(&r));
            }
        }
    });
}

#[test]
fn scsp17_put_of_a_missing_name_or_uuid_404_and_creates_nothing() {
    run(four_nodes(), |sim| async move {
        sim.create_bucket("b").await;
        for (i, target) in ["/b/absent", "/00000000000000000000000000000abc"]
            .into_iter()
            .enumerate()
        {
            let r = sim
                .final_of(i, &Request::new("PUT", target).body(&b"content"[..]))
                .await;
            assert_eq!(r.status, 404, "PUT {target}: {}", show(&r));
            let get = sim.final_of(i + 2, &Request::new("GET", target)).await;
            assert_eq!(
                get.status,
                404,
                "PUT must not create {target}: {}",
                show(&get)
            );
        }
    });
}

// ---------------------------------------------------------------------------------------
// 501, 505, 400, 411 (SCSP-42, SCSP-14)

#[test]
fn scsp42_unknown_method_501_with_allow_and_connection_close() {
    run(four_nodes(), |sim| async move {
        for (i, target) in ["/", "/b/pot"].into_iter().enumerate() {
            let r = sim.send(i, &Request::new("BREW", target)).await;
            assert_eq!(r.status, 501, "BREW {target}: {}", show(&r));
            let allow = header(&r, "allow");
            for m in IMPLEMENTED {
                assert!(allow.contains(m), "Allow {allow:?} lacks {m}");
            }
            assert!(!allow.contains("BREW"), "{allow}");
            assert!(
                header(&r, "connection").eq_ignore_ascii_case("close"),
                "{}",
                show(&r)
            );
        }
    });
}

#[test]
fn scsp42_http_1_0_request_505() {
    run(four_nodes(), |sim| async move {
        for (i, raw) in [
            "GET / HTTP/1.0\r\nHost: 10.0.0.1\r\n\r\n".to_string(),
            "POST /b/n HTTP/1.0\r\nHost: 10.0.0.1\r\nContent-Length: 3\r\n\r\nabc".to_string(),
        ]
        .into_iter()
        .enumerate()
        {
            let r = sim
                .client
                .send_raw(sim.nodes[i], raw.as_bytes(), false)
                .await
                .unwrap_or_else(|e| panic!("{raw:?}: {e}"));
            assert_eq!(r.status, 505, "{raw:?}: {}", show(&r));
            assert!(text(&r).contains("HTTP/1.1"), "{}", show(&r));
        }
    });
}

#[test]
fn scsp14_request_without_host_400() {
    run(four_nodes(), |sim| async move {
        sim.create_bucket("b").await;
        let get = sim.send(0, &Request::new("GET", "/b/n").omit_host()).await;
        assert_eq!(get.status, 400, "{}", show(&get));
        assert!(
            text(&get).contains("Host header is required."),
            "{}",
            show(&get)
        );
        let raw = "POST /b/n HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
        let post = sim
            .client
            .send_raw(sim.nodes[1], raw.as_bytes(), false)
            .await
            .expect("raw POST");
        assert_eq!(post.status, 400, "{}", show(&post));
        assert!(text(&post).contains("Host header is required."));
        assert!(sim.holders("n//b/n").is_empty(), "nothing was written");
    });
}

#[test]
fn scsp14_write_without_content_length_411() {
    run(four_nodes(), |sim| async move {
        sim.create_bucket("b").await;
        for (i, target) in ["/b/n", "/"].into_iter().enumerate() {
            let req = Request::new("POST", target).no_content_length();
            let r = sim.send(i, &req).await;
            assert_eq!(r.status, 411, "POST {target}: {}", show(&r));
            assert!(
                !sim.last_exchange()
                    .request_head
                    .to_ascii_lowercase()
                    .contains("content-length"),
                "the request must really lack Content-Length"
            );
        }
        assert!(sim.holders("n//b/n").is_empty(), "nothing was written");
    });
}

#[test]
fn scsp24_copy_with_a_nonzero_content_length_400_and_changes_nothing() {
    run(four_nodes(), |sim| async move {
        sim.create_bucket("b").await;
        let written = sim
            .write("/b/doc", b"payload", &[("X-Color-Meta", "red")])
            .await;
        rt::sleep(UPDATE_GAP).await;
        for i in 0..sim.nodes.len() {
            let r = sim
                .final_of(
                    i,
                    &Request::new("COPY", "/b/doc")
                        .header("X-Color-Meta", "blue")
                        .body(&b"abc"[..]),
                )
                .await;
            assert_eq!(
                r.status,
                400,
                "COPY with a body via node{}: {}",
                i + 1,
                show(&r)
            );
        }
        let got = sim.final_of(0, &Request::new("GET", "/b/doc")).await;
        assert_eq!(&got.body[..], b"payload");
        assert_eq!(got.header("x-color-meta"), Some("red"));
        assert_eq!(
            got.header("castor-system-version"),
            written.header("castor-system-version")
        );
    });
}

#[test]
fn malformed_write_requests_400() {
    run(four_nodes(), |sim| async move {
        sim.create_bucket("b").await;
        let uuid = header(&sim.write("/", b"x", &[]).await, "content-uuid").to_string();
        let cases = [
            // SCSP-9: replicate is `immediate`, `full` or a positive integer.
            Request::new("POST", "/b/n?replicate=0").body(&b"x"[..]),
            Request::new("POST", "/b/n?replicate=many").body(&b"x"[..]),
            // A UUID is written by PUT, APPEND or COPY, never POST.
            Request::new("POST", format!("/{uuid}")).body(&b"x"[..]),
            // A path with an empty segment names nothing.
            Request::new("POST", "//n").body(&b"x"[..]),
        ];
        for (i, req) in cases.iter().enumerate() {
            let r = sim.final_of(i % 4, req).await;
            assert_eq!(r.status, 400, "{} {}: {}", req.method, req.target, show(&r));
        }
        assert!(sim.holders("n//b/n").is_empty(), "nothing was written");
    });
}

// ---------------------------------------------------------------------------------------
// 412 (SCSP-12, SCSP-13, SCSP-7)

#[test]
fn scsp12_if_none_match_star_on_an_existing_name_412_and_keeps_the_old_version() {
    run(four_nodes(), |sim| async move {
        sim.create_bucket("b").await;
        let first = sim.write("/b/once", b"first", &[]).await;
        for i in 0..sim.nodes.len() {
            let r = sim
                .final_of(
                    i,
                    &Request::new("POST", "/b/once")
                        .header("If-None-Match", "*")
                        .body(&b"second"[..]),
                )
                .await;
            assert_eq!(r.status, 412, "via node{}: {}", i + 1, show(&r));
        }
        let got = sim.final_of(0, &Request::new("GET", "/b/once")).await;
        assert_eq!(&got.body[..], b"first", "the old version is untouched");
        assert_eq!(
            got.header("castor-system-version"),
            first.header("castor-system-version")
        );
        // A name that does not exist yet is written despite If-None-Match: *.
        let fresh = sim
            .final_of(
                1,
                &Request::new("POST", "/b/fresh")
                    .header("If-None-Match", "*")
                    .body(&b"new"[..]),
            )
            .await;
        assert_created(&fresh, b"new");
    });
}

#[test]
fn scsp13_named_write_into_a_missing_bucket_or_domain_412() {
    run(four_nodes(), |sim| async move {
        for i in 0..sim.nodes.len() {
            let r = sim
                .final_of(i, &Request::new("POST", "/nobucket/n").body(&b"x"[..]))
                .await;
            assert_eq!(r.status, 412, "via node{}: {}", i + 1, show(&r));
            assert!(text(&r).contains("nobucket"), "{}", show(&r));
        }
        sim.create_bucket("b").await;
        let r = sim
            .final_of(
                2,
                &Request::new("POST", "/b/n?domain=nodomain.example").body(&b"x"[..]),
            )
            .await;
        assert_eq!(r.status, 412, "missing domain: {}", show(&r));
        // Once the bucket exists the same WRITE succeeds.
        sim.write("/b/n", b"x", &[]).await;
        assert!(sim.holders("n//nobucket/n").is_empty());
    });
}

#[test]
fn scsp7_write_with_every_other_node_killed_412_unless_replicate_1() {
    run(four_nodes(), |sim| async move {
        sim.create_bucket("b").await;
        for i in 1..sim.nodes.len() {
            sim.world.kill(i);
        }
        let unnamed = sim
            .send(0, &Request::new("POST", "/").body(&b"lonely"[..]))
            .await;
        assert_eq!(unnamed.status, 412, "immutable write: {}", show(&unnamed));
        let named = sim
            .send(0, &Request::new("POST", "/b/n").body(&b"lonely"[..]))
            .await;
        assert_eq!(named.status, 412, "named write: {}", show(&named));
        let stored_objects = Disk::lock(sim.world.disk(0))
            .records()
            .filter(|(k, _)| k.starts_with("u/") || k.starts_with("n/"))
            .count();
        assert_eq!(stored_objects, 0, "a 412 write leaves nothing behind");
        // SCSP-9: replicate=1 asks for a single replica, which one node can give.
        let single = sim
            .send(
                0,
                &Request::new("POST", "/?replicate=1").body(&b"lonely"[..]),
            )
            .await;
        assert_created(&single, b"lonely");
    });
}

// ---------------------------------------------------------------------------------------
// 403 (SCSP-18, auth= tokens)

#[test]
fn scsp18_put_copy_append_on_an_immutable_object_403() {
    run(four_nodes(), |sim| async move {
        let r = sim.write("/", b"immutable", &[]).await;
        let uuid = header(&r, "content-uuid").to_string();
        let target = format!("/{uuid}");
        rt::sleep(UPDATE_GAP).await;
        let attempts = [
            Request::new("PUT", &target).body(&b"replaced"[..]),
            Request::new("COPY", &target)
                .header("X-Color-Meta", "red")
                .body(Bytes::new()),
            Request::new("APPEND", &target).body(&b"more"[..]),
        ];
        for (i, req) in attempts.iter().enumerate() {
            let r = sim.final_of(i, req).await;
            assert_eq!(r.status, 403, "{} on immutable: {}", req.method, show(&r));
        }
        let got = sim.final_of(3, &Request::new("GET", &target)).await;
        assert_eq!(&got.body[..], b"immutable");
        assert_eq!(got.header("x-color-meta"), None);
    });
}

#[test]
fn scsp3_auth_token_with_one_hex_digit_flipped_403_and_the_real_one_201() {
    run(four_nodes(), |sim| async move {
        sim.create_bucket("b").await;
        let (path, redirect) = sim.redirected_write(0, "b", b"guarded").await;
        let location = assert_redirect_shape(&redirect, 307);
        let forged = flip_token_digit(&location);
        let req = Request::new("POST", &path).body(&b"guarded"[..]);

        let r = sim.send_to_location(&forged, &req).await;
        assert_eq!(r.status, 403, "forged token: {}", show(&r));
        assert!(text(&r).contains("Invalid auth token"), "{}", show(&r));
        let key = format!("n/{path}");
        assert!(
            sim.holders(&key).is_empty(),
            "a forged request writes nothing"
        );

        let r = sim.send_to_location(&location, &req).await;
        assert_created(&r, b"guarded");
    });
}

#[test]
fn scsp3_auth_token_used_after_the_ttl_403_expired() {
    run(four_nodes(), |sim| async move {
        sim.create_bucket("b").await;
        let (path, redirect) = sim.redirected_write(0, "b", b"timely").await;
        let location = assert_redirect_shape(&redirect, 307);
        let req = Request::new("POST", &path).body(&b"timely"[..]);
        let r = sim.send_to_location(&location, &req).await;
        assert_created(&r, b"timely");

        // Advance the simulated clock past the token's lifetime and resend the same bytes.
        let ttl = sim.world.cluster().auth_ttl;
        rt::sleep(ttl + Duration::from_secs(2)).await;
        let r = sim.send_to_location(&location, &req).await;
        assert_eq!(r.status, 403, "expired token: {}", show(&r));
        assert!(text(&r).contains("Expired"), "{}", show(&r));
        // The access node hands out a fresh, working redirect.
        let again = sim.final_of(0, &req).await;
        assert_created(&again, b"timely");
    });
}

// ---------------------------------------------------------------------------------------
// 409 (contexts, SCSP-19)

#[test]
fn context_that_exists_409_for_bucket_and_domain() {
    run(four_nodes(), |sim| async move {
        sim.create_bucket("dup").await;
        for i in 0..sim.nodes.len() {
            let r = sim
                .final_of(i, &Request::new("POST", "/dup").body(Bytes::new()))
                .await;
            assert_eq!(r.status, 409, "bucket via node{}: {}", i + 1, show(&r));
        }
        let domain = Request::new("POST", "/?domain=dup.example")
            .header("Content-Type", "application/castorcontext")
            .body(Bytes::new());
        let first = sim.final_of(1, &domain).await;
        assert_eq!(first.status, 201, "{}", show(&first));
        let second = sim.final_of(2, &domain).await;
        assert_eq!(second.status, 409, "domain: {}", show(&second));
    });
}

#[test]
fn scsp19_update_stamped_older_than_the_stored_version_409() {
    run(four_nodes(), |sim| async move {
        sim.create_bucket("b").await;
        let first = sim.write("/b/versioned", b"one", &[]).await;
        rt::sleep(UPDATE_GAP).await;
        // Every node's clock now runs 10 s behind the stored version's stamp, so whichever
        // node serves the update stamps an older version.
        for i in 0..sim.nodes.len() {
            sim.world.clock(i).set_skew_ms(-10_000);
        }
        let put = Request::new("PUT", "/b/versioned").body(&b"two"[..]);
        let r = sim.final_of(1, &put).await;
        assert_eq!(r.status, 409, "{}", show(&r));
        assert!(
            text(&r).contains("Later version already exists."),
            "{}",
            show(&r)
        );
        let got = sim.final_of(2, &Request::new("GET", "/b/versioned")).await;
        assert_eq!(&got.body[..], b"one");
        assert_eq!(
            got.header("castor-system-version"),
            first.header("castor-system-version")
        );
        // With the clocks back in step the same update is accepted.
        for i in 0..sim.nodes.len() {
            sim.world.clock(i).set_skew_ms(0);
        }
        rt::sleep(UPDATE_GAP).await;
        let r = sim.final_of(1, &put).await;
        assert_created(&r, b"two");
    });
}

// ---------------------------------------------------------------------------------------
// 413, 507 (size limits; SCSP-15)

#[test]
fn declared_length_over_object_bytes_max_413_without_the_body_being_sent() {
    run(four_nodes(), |sim| async move {
        sim.create_bucket("b").await;
        let too_big = (sim.world.cluster().object_bytes_max + 1).to_string();
        for (i, target) in ["/b/huge", "/"].into_iter().enumerate() {
            let req = Request::new("POST", target)
                .header("Content-Length", too_big.as_str())
                .expect_continue();
            let r = sim.send(i, &req).await;
            assert_eq!(r.status, 413, "POST {target}: {}", show(&r));
            let ex = sim.last_exchange();
            assert!(ex
                .request_head
                .contains(&format!("Content-Length: {too_big}")));
            assert_eq!(ex.request_body_len, 0);
            assert!(r.informational.is_empty(), "no 100 before a 413");
        }
    });
}

#[test]
fn scsp15_no_node_has_space_507() {
    let config = WorldConfig {
        disk_bytes: 4096,
        ..WorldConfig::new(4)
    };
    run(config, |sim| async move {
        sim.create_bucket("b").await;
        static BIG: [u8; 8192] = [b'z'; 8192];
        for (i, target) in ["/b/big", "/"].into_iter().enumerate() {
            let r = sim
                .final_of(i, &Request::new("POST", target).body(&BIG[..]))
                .await;
            assert_eq!(r.status, 507, "POST {target}: {}", show(&r));
            assert!(text(&r).contains("Not enough disk space"), "{}", show(&r));
        }
        // A small object fits: the 507 was about space, not the world.
        sim.write("/b/small", b"fits", &[]).await;
    });
}

// ---------------------------------------------------------------------------------------
// 301, 307, auth= pinning (SCSP-3, SCSP-4, SCSP-6)

#[test]
fn scsp3_retiring_node_301_with_empty_body_and_auth_and_session_moves() {
    run(four_nodes(), |sim| async move {
        sim.create_bucket("b").await;
        sim.write("/b/before", b"old", &[]).await;
        sim.world.set_retiring(0, true);

        let write = Request::new("POST", "/b/after").body(&b"new"[..]);
        let r = sim.send(0, &write).await;
        let location = assert_redirect_shape(&r, 301);
        assert_ne!(
            sim.node_of_location(&location),
            0,
            "a retiring node sends clients away"
        );

        let read = sim.send(0, &Request::new("GET", "/b/before")).await;
        let location = assert_redirect_shape(&read, 301);
        assert_ne!(sim.node_of_location(&location), 0);

        let mut session = Session::new(sim.client.clone(), sim.nodes[0]);
        let done = session.request(&write).await.expect("session write");
        assert_created(&done.response, b"new");
        assert_eq!(done.hops.len(), 1);
        assert_eq!(done.hops[0].status, 301);
        assert_ne!(
            session.access_node(),
            sim.nodes[0],
            "301 moves the access node"
        );
    });
}

#[test]
fn scsp4_pan_307_for_a_write_another_node_wins_and_session_stays() {
    run(four_nodes(), |sim| async move {
        sim.create_bucket("b").await;
        let (path, r) = sim.redirected_write(0, "b", b"elsewhere").await;
        let location = assert_redirect_shape(&r, 307);
        let target = sim.node_of_location(&location);
        assert_ne!(target, 0);
        assert!(
            sim.holders(&format!("n/{path}")).is_empty(),
            "307 wrote nothing"
        );

        let mut session = Session::new(sim.client.clone(), sim.nodes[0]);
        let done = session
            .request(&Request::new("POST", &path).body(&b"elsewhere"[..]))
            .await
            .expect("session write");
        assert_created(&done.response, b"elsewhere");
        assert_eq!(done.hops.len(), 1);
        assert_eq!(done.hops[0].status, 307);
        assert_eq!(
            session.access_node(),
            sim.nodes[0],
            "307 keeps the access node"
        );
        assert_eq!(
            sim.node_of_location(header(&done.response, "location")),
            target,
            "the bid winner served it"
        );
    });
}

#[test]
fn scsp3_valid_token_is_served_at_the_target_without_a_further_redirect() {
    run(four_nodes(), |sim| async move {
        sim.create_bucket("b").await;
        // A write: node1 redirects it to the bid winner W. Then W starts retiring, so on its
        // own W would send the client away; the token still pins the request to W.
        let (path, r) = sim.redirected_write(0, "b", b"pinned").await;
        let location = assert_redirect_shape(&r, 307);
        let target = sim.node_of_location(&location);
        sim.world.set_retiring(target, true);
        let write = Request::new("POST", &path).body(&b"pinned"[..]);
        let unpinned = sim.send(target, &write).await;
        let elsewhere = assert_redirect_shape(&unpinned, 301);
        assert_ne!(sim.node_of_location(&elsewhere), target);
        let done = sim.send_to_location(&location, &write).await;
        assert_created(&done, b"pinned");
        assert_eq!(
            sim.node_of_location(header(&done, "location")),
            target,
            "served where the token points"
        );
        sim.world.set_retiring(target, false);

        // A read, from a node that holds no copy.
        let key = format!("n/{path}");
        let holders = sim.holders(&key);
        assert_eq!(holders.len(), 2, "ROW made two replicas");
        assert!(holders.contains(&target));
        let stranger = (0..sim.nodes.len())
            .find(|i| !holders.contains(i))
            .expect("a node without a copy");
        let r = sim.send(stranger, &Request::new("GET", &path)).await;
        let location = assert_redirect_shape(&r, 307);
        assert!(holders.contains(&sim.node_of_location(&location)));
        let got = sim
            .send_to_location(&location, &Request::new("GET", &path))
            .await;
        assert_eq!(got.status, 200, "{}", show(&got));
        assert_eq!(&got.body[..], b"pinned");
    });
}

// ---------------------------------------------------------------------------------------
// Expect: 100-continue (§1.6, SCSP-5)

#[test]
fn scsp5_expect_continue_redirected_write_gets_307_without_the_body_being_sent() {
    run(four_nodes(), |sim| async move {
        sim.create_bucket("b").await;
        let (path, r) = sim.redirected_write(0, "b", &[b'q'; 2048]).await;
        assert_redirect_shape(&r, 307);
        assert!(r.informational.is_empty(), "no 100 before a redirect");
        let ex = sim.last_exchange();
        assert!(ex.request_head.contains("Expect: 100-continue"));
        assert!(ex.request_head.contains("Content-Length: 2048"));
        assert_eq!(ex.request_body_len, 0, "the body stays with the client");
        assert_eq!(ex.outcome, Ok(307));
        let got = sim.final_of(1, &Request::new("GET", &path)).await;
        assert_eq!(got.status, 404, "nothing was written: {}", show(&got));
    });
}

#[test]
fn scsp5_expect_continue_locally_served_write_gets_100_then_201() {
    run(four_nodes(), |sim| async move {
        sim.create_bucket("b").await;
        let body: &'static [u8] = &[b'w'; 3000];
        let req = Request::new("POST", "/b/local")
            .body(body)
            .expect_continue();
        let first = sim.send(0, &req).await;
        // Whoever wins the bid serves it; if node1 did not, send it (without a token)
        // straight to the winner, which then serves it itself.
        let (serving, r) = match first.status {
            201 => (0, first),
            307 => {
                let winner = sim.node_of_location(header(&first, "location"));
                (winner, sim.send(winner, &req).await)
            }
            _ => panic!("{}", show(&first)),
        };
        assert_created(&r, body);
        assert_eq!(r.informational, vec![100], "100 Continue, then the 201");
        assert_eq!(sim.node_of_location(header(&r, "location")), serving);
        let ex = sim.last_exchange();
        assert_eq!(
            ex.request_body_len,
            body.len(),
            "the whole body went after the 100"
        );
        let got = sim.final_of(2, &Request::new("GET", "/b/local")).await;
        assert_eq!(&got.body[..], body);
    });
}

// ---------------------------------------------------------------------------------------
// APPEND and COPY on a named object (SCSP-29, SCSP-22)

#[test]
fn scsp29_append_201_concatenates_and_keeps_metadata() {
    run(four_nodes(), |sim| async move {
        sim.create_bucket("b").await;
        sim.write("/b/log", b"hello", &[("X-Color-Meta", "blue")])
            .await;
        rt::sleep(UPDATE_GAP).await;
        let r = sim
            .final_of(1, &Request::new("APPEND", "/b/log").body(&b" world"[..]))
            .await;
        assert_created(&r, b"hello world");
        rt::sleep(UPDATE_GAP).await;
        let r = sim
            .final_of(2, &Request::new("APPEND", "/b/log").body(&b"!"[..]))
            .await;
        assert_created(&r, b"hello world!");
        for i in 0..sim.nodes.len() {
            let got = sim.final_of(i, &Request::new("GET", "/b/log")).await;
            assert_eq!(got.status, 200, "{}", show(&got));
            assert_eq!(&got.body[..], b"hello world!");
            assert_eq!(got.header("x-color-meta"), Some("blue"));
        }
    });
}

#[test]
fn scsp22_copy_201_keeps_content_and_replaces_persisted_metadata() {
    run(four_nodes(), |sim| async move {
        sim.create_bucket("b").await;
        let written = sim
            .write(
                "/b/doc",
                b"payload",
                &[
                    ("X-Color-Meta", "red"),
                    ("X-Shape-Meta", "round"),
                    ("Content-Type", "text/plain"),
                ],
            )
            .await;
        let before = sim.final_of(0, &Request::new("GET", "/b/doc")).await;
        assert_eq!(before.header("x-color-meta"), Some("red"));
        assert_eq!(before.header("content-type"), Some("text/plain"));

        rt::sleep(UPDATE_GAP).await;
        let copy = Request::new("COPY", "/b/doc")
            .header("X-Shape-Meta", "square")
            .body(Bytes::new());
        let r = sim.final_of(3, &copy).await;
        assert_created(&r, b"payload");
        assert!(
            sim.last_exchange()
                .request_head
                .contains("Content-Length: 0"),
            "COPY declares an empty body"
        );

        for i in 0..sim.nodes.len() {
            let got = sim.final_of(i, &Request::new("GET", "/b/doc")).await;
            assert_eq!(got.status, 200, "{}", show(&got));
            assert_eq!(&got.body[..], b"payload", "COPY keeps the content");
            assert_eq!(got.header("etag"), written.header("etag"));
            assert_eq!(got.header("x-shape-meta"), Some("square"), "given on COPY");
            assert_eq!(
                got.header("x-color-meta"),
                None,
                "absent from COPY: dropped"
            );
            assert_ne!(
                got.header("content-type"),
                Some("text/plain"),
                "dropped too"
            );
            let head = sim.final_of(i, &Request::new("HEAD", "/b/doc")).await;
            assert_eq!(head.header("content-length"), Some("7"));
        }
    });
}
