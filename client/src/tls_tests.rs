//! Host names and TLS over real loopback TCP: names resolve and go into `Host`, redirects to
//! named nodes are followed, `https://` works against a CA made at test time, and every TLS
//! failure (untrusted root, wrong name, a server that stalls in the handshake) is a typed
//! error within the exchange's budget.

use std::net::SocketAddr;
use std::time::Duration;

use replisim_rt as rt;
use replisim_rt::tls::TlsServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

use crate::test_pki::TestPki;
use crate::{Client, ClientError, Endpoint, Host, Limits, Request, Scheme, Session, Tls};

/// A server on 127.0.0.1 (TLS when given a certificate, plain HTTP otherwise), answering
/// every request with `reply(port)`; sends each request head it saw.
async fn server(
    tls: Option<TlsServer>,
    reply: impl Fn(u16) -> String + Send + 'static,
) -> (u16, UnboundedReceiver<String>) {
    let mut listener = rt::listen("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bind");
    if let Some(tls) = tls {
        listener = listener.with_tls(tls).expect("real listener takes TLS");
    }
    let port = listener.local_addr().expect("local addr").port();
    let (tx, heads) = unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let tx = tx.clone();
            let answer = reply(port);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match stream.read(&mut byte).await {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let _ = tx.send(String::from_utf8_lossy(&head).into_owned());
                let _ = stream.write_all(answer.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (port, heads)
}

fn ok_reply(_: u16) -> String {
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_string()
}

fn target(url: &str) -> Endpoint {
    Endpoint::parse_target(url).expect(url)
}

fn tls_of(pki: &TestPki) -> TlsServer {
    TlsServer::from_pem(pki.cert_pem.as_bytes(), pki.key_pem.as_bytes(), "test cert")
        .expect("test certificate loads")
}

fn trusting(pki: &TestPki) -> Client {
    let tls = Tls::from_ca_pem(pki.ca_pem.as_bytes(), "test CA").expect("test CA loads");
    Client::new(Limits::default()).with_tls(tls)
}

#[tokio::test]
async fn host_names_resolve_and_are_the_host_header() {
    let (port, mut heads) = server(None, ok_reply).await;
    let node = target(&format!("http://LocalHost:{port}"));
    assert_eq!(node.host, Host::Name("localhost"));
    let client = Client::new(Limits::default());
    let response = client
        .send(node, &node.to_string(), &Request::new("GET", "/o"))
        .await
        .expect("an answer by name");
    assert_eq!(response.status, 200);
    let head = heads.recv().await.expect("a request");
    assert!(
        head.starts_with(&format!("GET /o HTTP/1.1\r\nHost: localhost:{port}\r\n")),
        "{head}"
    );
    assert_eq!(client.transcript()[0].addr, node);

    let unknown = client
        .send(
            target("http://no-such-node.invalid:80"),
            "no-such-node.invalid",
            &Request::new("GET", "/"),
        )
        .await;
    match unknown {
        Err(ClientError::Connect(e)) => assert!(e.contains("cannot resolve"), "{e}"),
        Err(ClientError::Timeout { stage, .. }) => assert_eq!(stage, "resolve"),
        other => panic!("a name that does not resolve gave {other:?}"),
    }
}

#[tokio::test]
async fn a_location_with_a_host_name_is_followed_and_becomes_the_access_node() {
    let (b_port, mut at_b) = server(None, ok_reply).await;
    let to_b = format!("http://localhost:{b_port}/obj?auth=t");
    let (a_port, _) = server(None, move |_| {
        format!("HTTP/1.1 301 Moved Permanently\r\nLocation: {to_b}\r\nContent-Length: 0\r\n\r\n")
    })
    .await;
    let a = SocketAddr::from(([127, 0, 0, 1], a_port));
    let mut session = Session::new(Client::new(Limits::default()), a);
    let followed = session
        .request(&Request::new("GET", "/obj"))
        .await
        .expect("followed");
    assert_eq!(followed.response.status, 200);
    assert_eq!(followed.hops[0].from, a);
    let named_b = target(&format!("http://localhost:{b_port}"));
    assert_eq!(session.access_node(), named_b);
    let head = at_b.recv().await.expect("request at b");
    assert!(
        head.starts_with(&format!(
            "GET /obj?auth=t HTTP/1.1\r\nHost: localhost:{b_port}\r\n"
        )),
        "{head}"
    );
}

#[tokio::test]
async fn https_with_the_test_ca_works_by_name_and_by_ip_and_the_port_still_takes_plain_http() {
    let pki = TestPki::new(&["localhost", "127.0.0.1"]);
    let (port, mut heads) = server(Some(tls_of(&pki)), ok_reply).await;
    let client = trusting(&pki);
    for url in [
        format!("https://localhost:{port}"),
        format!("https://127.0.0.1:{port}"),
    ] {
        let node = target(&url);
        assert_eq!(node.scheme, Scheme::Https);
        let response = client
            .send(node, &node.to_string(), &Request::new("GET", "/secure"))
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!((response.status, &response.body[..]), (200, &b"ok"[..]));
        let head = heads.recv().await.expect("request");
        assert!(head.contains(&format!("\r\nHost: {node}\r\n")), "{head}");
    }
    // Node-to-node traffic stays plain HTTP on the same port.
    let plain = SocketAddr::from(([127, 0, 0, 1], port));
    let response = client
        .send(plain, &plain.to_string(), &Request::new("GET", "/plain"))
        .await
        .expect("plain HTTP on a TLS port");
    assert_eq!(response.status, 200);
}

#[tokio::test]
async fn an_untrusted_or_misnamed_certificate_is_a_clear_tls_error() {
    let pki = TestPki::new(&["localhost"]);
    let (port, _) = server(Some(tls_of(&pki)), ok_reply).await;
    let node = target(&format!("https://localhost:{port}"));
    let get = Request::new("GET", "/");

    // The webpki roots do not know the test CA; nor does another test CA.
    let other = TestPki::new(&["localhost"]);
    for client in [Client::new(Limits::default()), trusting(&other)] {
        let result = client.send(node, &node.to_string(), &get).await;
        let Err(ClientError::Tls(message)) = &result else {
            panic!("expected a TLS error, got {result:?}");
        };
        // UnknownIssuer for the webpki roots; BadSignature for the other CA, which has the
        // same name as the real one.
        assert!(message.contains("invalid peer certificate"), "{message}");
        assert!(message.contains(&node.to_string()), "{message}");
        let transcript = client.transcript();
        assert_eq!(transcript.len(), 1);
        assert_eq!(
            transcript[0].outcome,
            Err(ClientError::Tls(message.clone()))
        );
        assert!(
            transcript[0].request_head.is_empty(),
            "nothing sent before TLS"
        );
    }

    // Trusted CA, but the certificate does not name 127.0.0.1.
    let by_ip = target(&format!("https://127.0.0.1:{port}"));
    let result = trusting(&pki).send(by_ip, &by_ip.to_string(), &get).await;
    let Err(ClientError::Tls(message)) = &result else {
        panic!("expected a TLS error, got {result:?}");
    };
    assert!(message.contains("not valid for name"), "{message}");

    // A plain HTTP server behind an https:// target answers the ClientHello with HTTP: the
    // handshake fails at once, naming the problem.
    let plain = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let plain_port = plain.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = plain.accept().await {
            let _ = stream
                .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                .await;
        }
    });
    let not_tls = target(&format!("https://127.0.0.1:{plain_port}"));
    let result = trusting(&pki)
        .send(not_tls, &not_tls.to_string(), &get)
        .await;
    assert!(matches!(result, Err(ClientError::Tls(_))), "{result:?}");
}

#[tokio::test]
async fn a_server_that_stalls_in_the_handshake_times_out() {
    // Accepts connections and holds them without a byte: the ClientHello is never answered.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let limits = Limits {
        timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let pki = TestPki::new(&["localhost"]);
    let client = Client::new(limits)
        .with_tls(Tls::from_ca_pem(pki.ca_pem.as_bytes(), "test CA").expect("CA"));
    let node = target(&format!("https://localhost:{port}"));
    let result = client
        .send(node, &node.to_string(), &Request::new("GET", "/"))
        .await;
    assert_eq!(
        result.map(|r| r.status),
        Err(ClientError::Timeout {
            after: Duration::from_millis(300),
            stage: "tls-handshake"
        })
    );
}

#[test]
fn ca_files_that_hold_no_certificate_are_refused_with_the_reason() {
    let pki = TestPki::new(&["localhost"]);
    let empty = Tls::from_ca_pem(b"", "empty.pem").expect_err("no certificate");
    assert!(
        empty.contains("empty.pem") && empty.contains("no CERTIFICATE"),
        "{empty}"
    );
    let key_only = Tls::from_ca_pem(pki.key_pem.as_bytes(), "key.pem").expect_err("a key");
    assert!(key_only.contains("key.pem"), "{key_only}");
    let missing =
        Tls::from_ca_file(std::path::Path::new("/nonexistent/ca.pem")).expect_err("missing file");
    assert!(missing.contains("/nonexistent/ca.pem"), "{missing}");
    assert_eq!(
        Tls::from_ca_pem(pki.ca_pem.as_bytes(), "ca.pem")
            .expect("a CA")
            .source(),
        "ca.pem"
    );
    let mismatched = TlsServer::from_pem(
        pki.cert_pem.as_bytes(),
        TestPki::new(&["localhost"]).key_pem.as_bytes(),
        "cert.pem",
    )
    .expect_err("a key that is not the certificate's");
    assert!(mismatched.contains("cert.pem"), "{mismatched}");
}
