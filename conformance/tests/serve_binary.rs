//! `replisim serve` as a user runs it: the binary starts a 4-node cluster on loopback, and a
//! real HTTP client writes through a redirect and reads the object back from another node.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use bytes::Bytes;
use replisim_conformance::client::{parse_location, Client, Endpoint, Limits, Request};

/// Kills the server when the test ends, pass or fail.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server() -> (Server, Vec<SocketAddr>) {
    start_server_with(&[])
}

fn start_server_with(extra: &[&str]) -> (Server, Vec<SocketAddr>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_replisim"))
        .args(["serve", "--nodes", "4", "--port", "0", "--seed", "3"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("replisim serve starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let server = Server(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut addrs = Vec::new();
    while addrs.len() < 4 {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("serve prints its node addresses within 30 s");
        if let Some(url) = line
            .split_whitespace()
            .nth(1)
            .filter(|_| line.trim().starts_with("node"))
        {
            let addr = url
                .trim_start_matches("http://")
                .parse()
                .expect("node address");
            addrs.push(addr);
        }
    }
    (server, addrs)
}

#[test]
fn serve_binary_writes_through_a_redirect_and_reads_from_another_node() {
    let (_server, addrs) = start_server();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let client = Client::new(Limits::default());
        let send = |addr: Endpoint, req: Request| {
            let client = client.clone();
            async move {
                client
                    .send(addr, &addr.to_string(), &req)
                    .await
                    .expect("an answer")
            }
        };
        let bucket = send(
            addrs[0].into(),
            Request::new("POST", "/photos").body(Bytes::new()),
        )
        .await;
        let bucket = if bucket.status == 307 {
            let (addr, target) =
                parse_location(bucket.header("location").expect("Location")).expect("Location");
            send(addr, Request::new("POST", target).body(Bytes::new())).await
        } else {
            bucket
        };
        assert_eq!(bucket.status, 201);

        // Find a write that node 1 redirects, to exercise write → 307 → 201.
        let mut redirected = None;
        for i in 0..32 {
            let path = format!("/photos/p{i}.jpg");
            let first = send(
                addrs[0].into(),
                Request::new("POST", path.clone()).body(Bytes::from_static(b"jpeg")),
            )
            .await;
            match first.status {
                201 => continue,
                307 => {
                    let location = first.header("location").expect("Location").to_string();
                    assert!(location.contains("auth="), "{location}");
                    assert_eq!(first.header("content-length"), Some("0"));
                    let (addr, target) = parse_location(&location).expect("Location");
                    let created = send(
                        addr,
                        Request::new("POST", target).body(Bytes::from_static(b"jpeg")),
                    )
                    .await;
                    assert_eq!(created.status, 201);
                    assert_eq!(created.header("replica-count"), Some("2"));
                    redirected = Some((path, addr));
                    break;
                }
                other => panic!("unexpected {other} for {path}"),
            }
        }
        let (path, served_by) = redirected.expect("with 4 nodes some write is redirected");

        let reader = addrs
            .iter()
            .copied()
            .find(|a| served_by != *a)
            .expect("another node");
        let mut read = send(reader.into(), Request::new("GET", path.clone())).await;
        if read.status == 307 {
            let (addr, target) =
                parse_location(read.header("location").expect("Location")).expect("Location");
            read = send(addr, Request::new("GET", target)).await;
        }
        assert_eq!(read.status, 200);
        assert_eq!(&read.body[..], b"jpeg");
    });
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

async fn send(addr: Endpoint, req: Request) -> replisim_conformance::client::Response {
    Client::new(Limits::default())
        .send(addr, &addr.to_string(), &req)
        .await
        .expect("an answer")
}

/// Creates bucket `/t` through node 0 and finds a write node 0 redirects: the index of the
/// node the redirect names and its exact target (`auth=` included).
async fn a_redirect(addrs: &[SocketAddr]) -> (usize, String) {
    let bucket = send(
        addrs[0].into(),
        Request::new("POST", "/t").body(Bytes::new()),
    )
    .await;
    if bucket.status == 307 {
        let (addr, target) =
            parse_location(bucket.header("location").expect("Location")).expect("Location");
        let made = send(addr, Request::new("POST", target).body(Bytes::new())).await;
        assert_eq!(made.status, 201);
    }
    for i in 0..64 {
        let path = format!("/t/o{i}");
        let first = send(
            addrs[0].into(),
            Request::new("POST", path).body(Bytes::from_static(b"x")),
        )
        .await;
        if first.status == 307 {
            let (addr, target) =
                parse_location(first.header("location").expect("Location")).expect("Location");
            let node = addrs
                .iter()
                .position(|a| Endpoint::from(*a) == addr)
                .expect("a node of the cluster");
            return (node, target);
        }
    }
    panic!("with 4 nodes some write is redirected");
}

#[test]
fn serve_refuses_a_non_loopback_bind_without_allow_remote() {
    let out = Command::new(env!("CARGO_BIN_EXE_replisim"))
        .args(["serve", "--port", "0", "--bind", "0.0.0.0"])
        .output()
        .expect("replisim serve runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--allow-remote"), "{stderr}");
    assert!(
        stderr.contains("0.0.0.0 is not a loopback address"),
        "{stderr}"
    );
}

#[test]
fn serve_refuses_the_peer_api_to_clients() {
    let (_server, addrs) = start_server();
    runtime().block_on(async {
        for path in [
            "/_replisim/inventory",
            "/_replisim/bid?key=x",
            "/_replisim/replica?key=x",
        ] {
            let answer = send(addrs[0].into(), Request::new("GET", path)).await;
            assert_eq!(answer.status, 403, "{path}");
            assert!(!String::from_utf8_lossy(&answer.body).contains("inventory 0"));
        }
    });
}

#[test]
fn each_serve_draws_its_own_key_and_a_secret_file_shares_one() {
    // Same seed, no --secret-file: the keys come from the OS, so a token of one cluster is
    // refused by the other's node at the same index.
    let (_a, a) = start_server();
    let (_b, b) = start_server();
    runtime().block_on(async {
        let (node, target) = a_redirect(&a).await;
        let replayed = send(
            b[node].into(),
            Request::new("POST", target).body(Bytes::from_static(b"x")),
        )
        .await;
        assert_eq!(replayed.status, 403, "{:?}", replayed.body);
    });
    // The same --secret-file on both: the token of one is good on the other.
    let dir = std::env::temp_dir().join(format!("replisim-secret-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("key");
    std::fs::write(&file, "a shared key of enough bytes\n").expect("key file");
    let path = file.to_string_lossy().to_string();
    let (_c, c) = start_server_with(&["--secret-file", &path]);
    let (_d, d) = start_server_with(&["--secret-file", &path]);
    runtime().block_on(async {
        let (node, target) = a_redirect(&c).await;
        let replayed = send(
            d[node].into(),
            Request::new("POST", target).body(Bytes::from_static(b"x")),
        )
        .await;
        // The bucket exists only on the first cluster: 201 would need it on d too, so the
        // token's acceptance shows as anything but 403.
        assert_ne!(replayed.status, 403, "{:?}", replayed.body);
    });
    let short = Command::new(env!("CARGO_BIN_EXE_replisim"))
        .args(["serve", "--port", "0", "--secret-file"])
        .arg(dir.join("missing"))
        .output()
        .expect("replisim serve runs");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("--secret-file"));
    let _ = std::fs::remove_dir_all(&dir);
}
