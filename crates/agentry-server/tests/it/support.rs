//! The harness: the real server on an ephemeral port for one test database, a small JSON
//! client, users, and a WebSocket client that reads frames with a timeout.

#![allow(dead_code)] // not every test module uses every helper

use agentry_server::{AppState, serve};
use agentry_service::Services;
use agentry_store::testing::TestDb;
use futures_util::{SinkExt, StreamExt};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for a WebSocket frame before failing.
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(5);

pub const ADMIN: &str = "admin";
pub const PASSWORD: &str = "correct-horse-battery";

/// A running server over one test database; stopped (and the database dropped) on drop.
pub struct TestServer {
    pub base: String,
    pub backend: &'static str,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
    // Dropped last: the server must not outlive its database.
    test_db: TestDb,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // Open WebSockets would hold a graceful shutdown; the test is over, so stop at once.
        self.task.abort();
    }
}

impl TestServer {
    /// Starts the server in-process on `127.0.0.1:0`.
    pub async fn start(db: TestDb) -> TestServer {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let backend = if db.url.starts_with("sqlite") {
            "sqlite"
        } else {
            "postgres"
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind an ephemeral port");
        let addr = listener.local_addr().expect("local address");
        let state = AppState {
            services: Services::new(db.db.clone()),
            version: "test",
        };
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, state, async move {
            let _ = rx.await;
        }));
        TestServer {
            base: format!("http://{addr}"),
            backend,
            shutdown: Some(tx),
            task,
            test_db: db,
        }
    }

    /// The database the server runs on, for arranging states the API cannot produce.
    pub fn db(&self) -> &agentry_store::Db {
        &self.test_db.db
    }

    /// A client without credentials.
    pub fn anon(&self) -> Client {
        Client {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("build an HTTP client"),
            base: self.base.clone(),
            token: None,
        }
    }

    /// Runs first-run setup and returns the admin's client.
    pub async fn admin(&self) -> Client {
        let (status, body) = self
            .anon()
            .post(
                "/api/v1/auth/setup/",
                json!({"username": ADMIN, "password": PASSWORD}),
            )
            .await;
        assert_eq!(status, 200, "[{}] setup: {body}", self.backend);
        self.anon().with_token(key_of(&body))
    }

    /// Creates a normal user through the admin API and logs in as that user.
    pub async fn user(&self, admin: &Client, username: &str) -> Client {
        let (status, body) = admin
            .post(
                "/api/v1/users/",
                json!({"username": username, "password": PASSWORD}),
            )
            .await;
        assert_eq!(status, 201, "[{}] create user: {body}", self.backend);
        self.login(username, PASSWORD).await
    }

    /// Logs in through `/auth/token/`.
    pub async fn login(&self, username: &str, password: &str) -> Client {
        let (status, body) = self
            .anon()
            .post(
                "/api/v1/auth/token/",
                json!({"username": username, "password": password}),
            )
            .await;
        assert_eq!(status, 200, "[{}] login {username}: {body}", self.backend);
        self.anon().with_token(key_of(&body))
    }

    /// `ws://…/ws/?token=…`
    pub fn ws_url(&self, token: &str) -> String {
        format!(
            "{}/ws/?token={token}",
            self.base.replacen("http://", "ws://", 1)
        )
    }
}

fn key_of(body: &Value) -> String {
    let key = body["key"].as_str().expect("a key in the answer");
    assert_eq!(body["requires_mfa"], json!(false));
    key.to_string()
}

/// A JSON client; every call answers `(status, body)`, with `Null` for an empty body and a
/// JSON string for a body that is not JSON.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    pub base: String,
    pub token: Option<String>,
}

impl Client {
    pub fn with_token(&self, token: impl Into<String>) -> Client {
        Client {
            token: Some(token.into()),
            ..self.clone()
        }
    }

    pub fn token(&self) -> &str {
        self.token.as_deref().expect("an authenticated client")
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.request(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.request(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.request(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.request(Method::DELETE, path, None).await
    }

    pub async fn request(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let bytes = body.map(|b| b.to_string().into_bytes());
        self.raw(method, path, bytes).await
    }

    /// Sends `body` as-is with `Content-Type: application/json`.
    pub async fn raw(&self, method: Method, path: &str, body: Option<Vec<u8>>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let resp = req.send().await.expect("send the request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("read the answer");
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    /// Creates a workflow and returns its body (asserting 201).
    pub async fn create_workflow(&self, body: Value) -> Value {
        let (status, out) = self.post("/api/v1/workflows/", body).await;
        assert_eq!(status, 201, "create workflow: {out}");
        out
    }

    /// Creates a node in `slug` and returns its body (asserting 201).
    pub async fn create_node(&self, slug: &str, body: Value) -> Value {
        let (status, out) = self
            .post(&format!("/api/v1/workflows/{slug}/nodes/"), body)
            .await;
        assert_eq!(status, 201, "create node: {out}");
        out
    }

    /// Creates an edge in `slug` and returns its body (asserting 201).
    pub async fn create_edge(&self, slug: &str, body: Value) -> Value {
        let (status, out) = self
            .post(&format!("/api/v1/workflows/{slug}/edges/"), body)
            .await;
        assert_eq!(status, 201, "create edge: {out}");
        out
    }
}

/// `{"detail": text}`
pub fn detail(text: &str) -> Value {
    json!({ "detail": text })
}

/// The slugs of a list answer's items.
pub fn slugs(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|w| w["slug"].as_str().expect("slug").to_string())
        .collect()
}

/// A WebSocket client on `/ws/`.
pub struct Ws {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// What a socket read yielded.
#[derive(Debug)]
pub enum Frame {
    Json(Value),
    Close {
        code: u16,
        reason: String,
    },
    /// The stream ended without a close frame.
    Ended,
}

impl Ws {
    pub async fn connect(server: &TestServer, token: &str) -> Ws {
        Ws::connect_url(&server.ws_url(token)).await
    }

    /// Connects; the handshake itself must succeed (a bad token is refused after it).
    pub async fn connect_url(url: &str) -> Ws {
        let (stream, _) = tokio_tungstenite::connect_async(url)
            .await
            .unwrap_or_else(|e| panic!("WebSocket handshake with {url}: {e}"));
        Ws { stream }
    }

    pub async fn send(&mut self, v: Value) {
        self.send_text(&v.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.stream
            .send(Message::Text(text.into()))
            .await
            .expect("send a WebSocket frame");
    }

    /// The next frame that matters (text or close), within [`FRAME_TIMEOUT`].
    pub async fn next_frame(&mut self) -> Frame {
        loop {
            let next = tokio::time::timeout(FRAME_TIMEOUT, self.stream.next())
                .await
                .expect("a WebSocket frame within 5 s");
            match next {
                None | Some(Err(_)) => return Frame::Ended,
                Some(Ok(Message::Text(t))) => {
                    return Frame::Json(
                        serde_json::from_str(t.as_str()).expect("a JSON text frame"),
                    );
                }
                Some(Ok(Message::Close(c))) => {
                    return match c {
                        Some(f) => Frame::Close {
                            code: u16::from(f.code),
                            reason: f.reason.as_str().to_string(),
                        },
                        None => Frame::Close {
                            code: 1005,
                            reason: String::new(),
                        },
                    };
                }
                Some(Ok(_)) => continue, // transport pings and pongs
            }
        }
    }

    /// The next JSON frame, skipping the server's heartbeat pings.
    pub async fn recv(&mut self) -> Value {
        loop {
            match self.next_frame().await {
                Frame::Json(v) if v["type"] == "ping" => continue,
                Frame::Json(v) => return v,
                other => panic!("expected a JSON frame, got {other:?}"),
            }
        }
    }

    /// Subscribes and asserts the acknowledgement.
    pub async fn subscribe(&mut self, channel: &str) {
        self.send(json!({"type": "subscribe", "channel": channel}))
            .await;
        assert_eq!(
            self.recv().await,
            json!({"type": "subscribed", "channel": channel})
        );
    }
}
