//! The `http_request` node (engine.md §11) against a small local HTTP/1.1 server.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use agentry_engine::node::{NodeEnv, State};
use agentry_engine::nodes::http_request::{self, HttpError, HttpRequest, MAX_BODY_BYTES};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::{node, run_node};

fn install_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A request as the test server saw it.
struct Req {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct Server {
    port: u16,
    hits: Arc<AtomicUsize>,
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

/// Serves: `/json`, `/echo` (method, content type and body back), `/fail` (500), `/big` (6 MiB),
/// `/redirect` (302 to `http://localhost:{port}/json`), `/hang` (never answers).
async fn server() -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move { serve(stream, port, counter).await });
        }
    });
    Server { port, hits }
}

async fn read_request(stream: &mut TcpStream) -> Option<Req> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    let len = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Req {
        method,
        path,
        headers,
        body,
    })
}

async fn serve(mut stream: TcpStream, port: u16, hits: Arc<AtomicUsize>) {
    let Some(req) = read_request(&mut stream).await else {
        return;
    };
    hits.fetch_add(1, Ordering::SeqCst);
    let (status, extra, body): (&str, Vec<(String, String)>, Vec<u8>) = match req.path.as_str() {
        "/json" => (
            "200 OK",
            vec![
                ("Content-Type".into(), "application/json".into()),
                ("X-Custom".into(), "yes".into()),
            ],
            br#"{"hello": "world", "n": [1, 2]}"#.to_vec(),
        ),
        "/echo" => {
            let echoed = json!({
                "method": req.method,
                "content_type": req.header("content-type"),
                "x_token": req.header("x-token"),
                "body": String::from_utf8_lossy(&req.body),
            });
            (
                "200 OK",
                vec![("Content-Type".into(), "application/json".into())],
                echoed.to_string().into_bytes(),
            )
        }
        "/fail" => (
            "500 Internal Server Error",
            vec![],
            b"internal oops".to_vec(),
        ),
        "/big" => ("200 OK", vec![], vec![b'a'; MAX_BODY_BYTES + 1024 * 1024]),
        "/redirect" => (
            "302 Found",
            vec![("Location".into(), format!("http://localhost:{port}/json"))],
            Vec::new(),
        ),
        "/hang" => {
            // Keep the connection open without answering until the client gives up.
            let mut sink = [0u8; 64];
            while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
            return;
        }
        _ => ("404 Not Found", vec![], b"nope".to_vec()),
    };
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(&body).await;
    let _ = stream.shutdown().await;
}

async fn run_http(cfg: Value) -> agentry_engine::node::NodeResult {
    install_tls();
    run_node(
        &NodeEnv::default(),
        &node("http_request", cfg),
        &State::default(),
    )
    .await
}

#[tokio::test]
async fn get_parses_a_json_body() {
    let s = server().await;
    let out = run_http(json!({"url": s.url("/json")}))
        .await
        .expect("request succeeds")
        .output;
    assert_eq!(out["status_code"], json!(200));
    assert_eq!(out["body"], json!({"hello": "world", "n": [1, 2]}));
    assert_eq!(out["headers"]["x-custom"], json!("yes"));
    assert_eq!(out["headers"]["content-type"], json!("application/json"));
    assert!(out.get("truncated").is_none());
}

#[tokio::test]
async fn post_sends_json_and_text_bodies_and_headers() {
    let s = server().await;
    let out = run_http(json!({
        "url": s.url("/echo"), "method": "post", "headers": {"X-Token": "t0k"}, "body": {"a": [1, "b"]}
    }))
    .await
    .expect("request succeeds")
    .output;
    assert_eq!(out["status_code"], json!(200));
    let body = &out["body"];
    assert_eq!(body["method"], json!("POST"));
    assert_eq!(body["content_type"], json!("application/json"));
    assert_eq!(body["x_token"], json!("t0k"));
    let sent: Value =
        serde_json::from_str(body["body"].as_str().expect("text")).expect("json sent");
    assert_eq!(sent, json!({"a": [1, "b"]}));

    // A string body goes out verbatim, with the caller's content type.
    let out = run_http(json!({
        "url": s.url("/echo"), "method": "PUT", "headers": {"Content-Type": "text/plain"}, "body": "plain words"
    }))
    .await
    .expect("request succeeds")
    .output;
    assert_eq!(out["body"]["method"], json!("PUT"));
    assert_eq!(out["body"]["content_type"], json!("text/plain"));
    assert_eq!(out["body"]["body"], json!("plain words"));
}

#[tokio::test]
async fn an_error_status_is_an_output_not_an_error() {
    let s = server().await;
    let out = run_http(json!({"url": s.url("/fail")}))
        .await
        .expect("a 500 is an output")
        .output;
    assert_eq!(out["status_code"], json!(500));
    assert_eq!(out["body"], json!("internal oops"));
    let out = run_http(json!({"url": s.url("/missing")}))
        .await
        .expect("a 404 is an output")
        .output;
    assert_eq!(out["status_code"], json!(404));
}

#[tokio::test]
async fn host_lists_are_enforced_before_any_request() {
    let s = server().await;
    let err =
        run_http(json!({"url": s.url("/json"), "allow_hosts": ["*.example.com", "api.test"]}))
            .await
            .expect_err("not in allow list");
    assert_eq!(err.message, "Host '127.0.0.1' is not allowed");
    assert!(!err.retryable);
    let err = run_http(json!({"url": s.url("/json"), "deny_hosts": ["127.0.0.1"]}))
        .await
        .expect_err("denied");
    assert_eq!(err.message, "Host '127.0.0.1' is not allowed");
    assert_eq!(s.hits.load(Ordering::SeqCst), 0, "no request was sent");

    let out = run_http(json!({"url": s.url("/json"), "allow_hosts": ["127.0.0.1"], "deny_hosts": ["*.example.com"]}))
        .await
        .expect("allowed")
        .output;
    assert_eq!(out["status_code"], json!(200));
}

#[tokio::test]
async fn redirects_are_followed_and_every_hop_is_checked() {
    let s = server().await;
    let out = run_http(json!({"url": s.url("/redirect")}))
        .await
        .expect("followed")
        .output;
    assert_eq!(out["status_code"], json!(200));
    assert_eq!(out["body"]["hello"], json!("world"));

    let before = s.hits.load(Ordering::SeqCst);
    let err = run_http(json!({"url": s.url("/redirect"), "deny_hosts": ["localhost"]}))
        .await
        .expect_err("the redirect target is denied");
    assert_eq!(err.message, "Host 'localhost' is not allowed");
    assert_eq!(
        s.hits.load(Ordering::SeqCst),
        before + 1,
        "only the first hop was sent"
    );
}

#[tokio::test]
async fn only_http_and_https_urls() {
    let err = run_http(json!({"url": "file:///etc/passwd"}))
        .await
        .expect_err("file URL");
    assert!(
        err.message.contains("Only http and https"),
        "{}",
        err.message
    );
    assert!(!err.retryable);
    let err = run_http(json!({"method": "GET"}))
        .await
        .expect_err("no URL");
    assert_eq!(err.message, "No URL provided");
}

#[tokio::test]
async fn connection_refused_is_a_transient_error_naming_the_url() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let url = format!("http://127.0.0.1:{port}/x");
    let err = run_http(json!({"url": url})).await.expect_err("refused");
    assert!(err.retryable);
    assert!(
        err.message
            .starts_with(&format!("Request to {url} failed: ")),
        "{}",
        err.message
    );
    assert!(
        err.message.to_lowercase().contains("refused"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn a_timeout_is_a_transient_error_naming_the_url() {
    let s = server().await;
    let url = s.url("/hang");
    let started = std::time::Instant::now();
    let err = run_http(json!({"url": url, "timeout": 1}))
        .await
        .expect_err("times out");
    assert!(err.retryable);
    assert_eq!(err.code, "timeout");
    assert_eq!(err.message, format!("Request to {url} timed out after 1s"));
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[tokio::test]
async fn an_oversize_body_is_cut() {
    let s = server().await;
    let out = run_http(json!({"url": s.url("/big")}))
        .await
        .expect("request succeeds")
        .output;
    assert_eq!(out["truncated"], json!(true));
    assert_eq!(out["body"].as_str().map(str::len), Some(MAX_BODY_BYTES));
}

#[tokio::test]
async fn perform_is_usable_without_a_node() {
    install_tls();
    let s = server().await;
    let client = http_request::client_builder().build().expect("client");
    let mut req = HttpRequest::new(s.url("/echo"));
    req.method = "DELETE".into();
    let out = http_request::perform(&client, &req).await.expect("ok");
    assert_eq!(out["body"]["method"], json!("DELETE"));
    req.method = "BAD METHOD".into();
    assert!(matches!(
        http_request::perform(&client, &req).await,
        Err(HttpError::Invalid(_))
    ));
}
