//! The engine harness: the HTTP server and two workers in-process over one test database (one
//! `Services`, so the workers' events reach the server's WebSocket sessions), an admin, a JSON
//! client, workflows built from a compact description, and waiting for an execution to end by
//! polling `GET /executions/{id}/` (never by sleeping and hoping).

#![allow(dead_code)] // not every test module uses every helper

use agentry_engine::node::NodeEnv;
use agentry_engine::orchestrator::Orchestrator;
use agentry_server::{AppState, serve};
use agentry_service::Services;
use agentry_store::Db;
use agentry_store::testing::TestDb;
use futures_util::{SinkExt, StreamExt};
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const ADMIN: &str = "admin";
pub const PASSWORD: &str = "correct-horse-battery";
/// How long a test waits for an execution to reach the state it expects.
pub const DEADLINE: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(25);

pub const TERMINAL: [&str; 3] = ["completed", "failed", "cancelled"];

/// Server + 2 workers over one test database, with an admin logged in; stopped on drop.
pub struct Harness {
    pub backend: &'static str,
    pub admin: Api,
    pub services: Services,
    stop_workers: watch::Sender<bool>,
    stop_server: Option<oneshot::Sender<()>>,
    server: JoinHandle<std::io::Result<()>>,
    workers: Vec<JoinHandle<()>>,
    // Dropped last: nothing may outlive the database.
    test_db: TestDb,
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = self.stop_workers.send(true);
        if let Some(tx) = self.stop_server.take() {
            let _ = tx.send(());
        }
        self.server.abort();
        for w in &self.workers {
            w.abort();
        }
    }
}

impl Harness {
    /// Starts the server on `127.0.0.1:0` and 2 workers, and runs first-run setup.
    pub async fn start(test_db: TestDb) -> Harness {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let backend = test_db.db.backend_name();
        let services = Services::new(test_db.db.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind an ephemeral port");
        let base = format!("http://{}", listener.local_addr().expect("local address"));
        let (stop_server, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(serve(
            listener,
            AppState {
                services: services.clone(),
                version: "test",
            },
            async move {
                let _ = rx.await;
            },
        ));
        let (stop_workers, stop_rx) = watch::channel(false);
        let orchestrator = Arc::new(Orchestrator::new(
            services.clone(),
            NodeEnv {
                public_url: Some(base.clone()),
                ..Default::default()
            },
            format!("test-{}", ulid_like()),
        ));
        let workers = agentry_engine::worker::spawn_workers(orchestrator, 2, stop_rx);
        let admin = Api::new(&base).setup().await;
        Harness {
            backend,
            admin,
            services,
            stop_workers,
            stop_server: Some(stop_server),
            server,
            workers,
            test_db,
        }
    }

    pub fn db(&self) -> &Db {
        &self.test_db.db
    }

    /// Creates the workflow `g` describes; returns its slug.
    pub async fn create(&self, g: &Graph) -> String {
        self.admin.create(g).await
    }

    /// Starts `slug` with `text`; returns the execution id.
    pub async fn execute(&self, slug: &str, text: &str) -> String {
        self.admin.execute(slug, text).await
    }

    /// Waits until execution `id` is completed, failed or cancelled; returns its detail.
    pub async fn finished(&self, id: &str) -> Value {
        self.admin.wait_for(id, &TERMINAL).await
    }

    /// Starts `slug` with `text` and waits for the end.
    pub async fn run(&self, slug: &str, text: &str) -> Value {
        let id = self.execute(slug, text).await;
        self.finished(&id).await
    }

    /// `ws://…/ws/?token=…` for the admin.
    pub fn ws_url(&self) -> String {
        format!(
            "{}/ws/?token={}",
            self.admin.base.replacen("http://", "ws://", 1),
            self.admin.token()
        )
    }
}

/// A process-unique suffix for lease owners.
fn ulid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A workflow described compactly: nodes (id, type, extra_config) and edges.
#[derive(Clone, Debug)]
pub struct Graph {
    /// The `POST /workflows/` body.
    pub workflow: Value,
    pub nodes: Vec<Value>,
    pub edges: Vec<Value>,
}

impl Graph {
    /// A workflow with a `trigger_manual` node named `start`.
    pub fn new(name: &str) -> Graph {
        Graph::bare(name).node_body(
            json!({"node_id": "start", "component_type": "trigger_manual", "config": {}}),
        )
    }

    /// A workflow with a `trigger_workflow` node named `start` (the target of `workflow` nodes).
    pub fn child(name: &str) -> Graph {
        Graph::bare(name).node_body(
            json!({"node_id": "start", "component_type": "trigger_workflow", "config": {}}),
        )
    }

    /// A workflow without any node.
    pub fn bare(name: &str) -> Graph {
        Graph {
            workflow: json!({ "name": name }),
            nodes: vec![],
            edges: vec![],
        }
    }

    /// Sets a field of the workflow itself (e.g. `max_execution_seconds`).
    pub fn with(mut self, key: &str, value: Value) -> Graph {
        self.workflow[key] = value;
        self
    }

    /// A node with its `extra_config`.
    pub fn node(self, id: &str, component_type: &str, extra: Value) -> Graph {
        self.node_body(json!({
            "node_id": id,
            "component_type": component_type,
            "config": {"extra_config": extra},
        }))
    }

    /// A `text_template` node.
    pub fn template(self, id: &str, template: &str) -> Graph {
        self.node(id, "text_template", json!({ "template": template }))
    }

    /// A `code` node running `code`.
    pub fn code(self, id: &str, code: &str) -> Graph {
        self.node(id, "code", json!({ "code": code }))
    }

    /// A node given as the full `POST /nodes/` body.
    pub fn node_body(mut self, body: Value) -> Graph {
        self.nodes.push(body);
        self
    }

    /// Direct edges along `path` (`["start", "a", "b"]` = start→a, a→b).
    pub fn chain(mut self, path: &[&str]) -> Graph {
        for w in path.windows(2) {
            self.edges
                .push(json!({"source_node_id": w[0], "target_node_id": w[1]}));
        }
        self
    }

    /// A direct edge.
    pub fn edge(self, source: &str, target: &str) -> Graph {
        self.chain(&[source, target])
    }

    /// A conditional edge taken when the route is `value`.
    pub fn when(mut self, source: &str, value: &str, target: &str) -> Graph {
        self.edges.push(json!({
            "source_node_id": source,
            "target_node_id": target,
            "edge_type": "conditional",
            "condition_value": value,
        }));
        self
    }

    /// An edge with a label (`loop_body`, `loop_return`).
    pub fn labelled(mut self, source: &str, label: &str, target: &str) -> Graph {
        self.edges.push(json!({
            "source_node_id": source,
            "target_node_id": target,
            "edge_label": label,
        }));
        self
    }
}

/// A JSON client for one server; every call answers `(status, body)` (`Null` for an empty
/// body, a JSON string for a body that is not JSON).
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    pub base: String,
    pub token: Option<String>,
}

impl Api {
    pub fn new(base: &str) -> Api {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Api {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("build an HTTP client"),
            base: base.trim_end_matches('/').to_string(),
            token: None,
        }
    }

    /// The same credentials against another server (a restarted process).
    pub fn at(&self, base: &str) -> Api {
        Api {
            base: base.trim_end_matches('/').to_string(),
            ..self.clone()
        }
    }

    pub fn token(&self) -> &str {
        self.token.as_deref().expect("an authenticated client")
    }

    /// First-run setup; returns the admin's client.
    pub async fn setup(&self) -> Api {
        let (status, body) = self
            .post(
                "/api/v1/auth/setup/",
                json!({"username": ADMIN, "password": PASSWORD}),
            )
            .await;
        assert_eq!(status, 200, "setup: {body}");
        Api {
            token: Some(body["key"].as_str().expect("a key").to_string()),
            ..self.clone()
        }
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

    pub async fn request(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap_or_else(|e| panic!("{path}: {e}"));
        answer(resp).await
    }

    /// Creates the workflow `g` describes (asserting every step); returns its slug.
    pub async fn create(&self, g: &Graph) -> String {
        let (status, w) = self.post("/api/v1/workflows/", g.workflow.clone()).await;
        assert_eq!(status, 201, "create workflow {}: {w}", g.workflow);
        let slug = w["slug"].as_str().expect("slug").to_string();
        for n in &g.nodes {
            let (status, out) = self
                .post(&format!("/api/v1/workflows/{slug}/nodes/"), n.clone())
                .await;
            assert_eq!(status, 201, "create node {n}: {out}");
        }
        for e in &g.edges {
            let (status, out) = self
                .post(&format!("/api/v1/workflows/{slug}/edges/"), e.clone())
                .await;
            assert_eq!(status, 201, "create edge {e}: {out}");
        }
        slug
    }

    /// `POST /workflows/{slug}/execute/`; returns the execution id.
    pub async fn execute(&self, slug: &str, text: &str) -> String {
        let (status, out) = self
            .post(
                &format!("/api/v1/workflows/{slug}/execute/"),
                json!({ "text": text }),
            )
            .await;
        assert_eq!(status, 200, "execute {slug}: {out}");
        assert_eq!(out["status"], "pending", "{out}");
        out["execution_id"].as_str().expect("execution_id").into()
    }

    /// `GET /executions/{id}/` (asserting 200).
    pub async fn execution(&self, id: &str) -> Value {
        let (status, out) = self.get(&format!("/api/v1/executions/{id}/")).await;
        assert_eq!(status, 200, "get execution {id}: {out}");
        out
    }

    /// Polls execution `id` until its status is one of `statuses`; fails the test after
    /// [`DEADLINE`] (showing the last answer).
    pub async fn wait_for(&self, id: &str, statuses: &[&str]) -> Value {
        self.wait_until(id, &format!("status in {statuses:?}"), |e| {
            statuses.iter().any(|s| e["status"] == *s)
        })
        .await
    }

    /// Polls execution `id` until `cond` holds for its detail.
    pub async fn wait_until(&self, id: &str, what: &str, cond: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let e = self.execution(id).await;
            if cond(&e) {
                return e;
            }
            if Instant::now() > deadline {
                panic!("execution {id}: no {what} within {DEADLINE:?}; last: {e:#}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Children of execution `id` (`GET /executions/?parent_execution_id=`).
    pub async fn children(&self, id: &str) -> Vec<Value> {
        let (status, page) = self
            .get(&format!("/api/v1/executions/?parent_execution_id={id}"))
            .await;
        assert_eq!(status, 200, "{page}");
        page["items"].as_array().expect("items").clone()
    }
}

async fn answer(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("read the answer");
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, value)
}

/// `(node_id, status)` of each log row, in order.
pub fn runs(detail: &Value) -> Vec<(String, String)> {
    logs(detail)
        .iter()
        .map(|l| {
            (
                l["node_id"].as_str().expect("node_id").to_string(),
                l["status"].as_str().expect("status").to_string(),
            )
        })
        .collect()
}

/// The log rows.
pub fn logs(detail: &Value) -> Vec<Value> {
    detail["logs"].as_array().expect("logs").clone()
}

/// `(node_id, status)` pairs from string slices, for comparing with [`runs`].
pub fn rows(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, s)| (n.to_string(), s.to_string()))
        .collect()
}

/// Outputs of a node's completed log rows, in order.
pub fn outputs_of(detail: &Value, node_id: &str) -> Vec<Value> {
    logs(detail)
        .into_iter()
        .filter(|l| l["node_id"] == node_id && l["status"] == "completed")
        .map(|l| l["output"].clone())
        .collect()
}

/// A WebSocket client on `/ws/`.
pub struct Ws {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Ws {
    pub async fn connect(url: &str) -> Ws {
        let (stream, _) = tokio_tungstenite::connect_async(url)
            .await
            .unwrap_or_else(|e| panic!("WebSocket handshake with {url}: {e}"));
        Ws { stream }
    }

    pub async fn send(&mut self, v: Value) {
        self.stream
            .send(Message::Text(v.to_string().into()))
            .await
            .expect("send a WebSocket frame");
    }

    /// The next JSON frame (skipping heartbeat pings), within 10 s.
    pub async fn recv(&mut self) -> Value {
        loop {
            let next = tokio::time::timeout(Duration::from_secs(10), self.stream.next())
                .await
                .expect("a WebSocket frame within 10 s");
            match next {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(t.as_str()).expect("a JSON frame");
                    if v["type"] != "ping" {
                        return v;
                    }
                }
                Some(Ok(Message::Close(c))) => panic!("socket closed: {c:?}"),
                Some(Ok(_)) => continue,
                other => panic!("socket ended: {other:?}"),
            }
        }
    }

    /// Subscribes (replaying stored events after `after`, when given) and checks the answer.
    pub async fn subscribe(&mut self, channel: &str, after: Option<i64>) {
        let mut frame = json!({"type": "subscribe", "channel": channel});
        if let Some(a) = after {
            frame["after"] = json!(a);
        }
        self.send(frame).await;
        let ack = self.recv().await;
        assert_eq!(ack["type"], "subscribed", "{ack}");
        assert_eq!(ack["channel"], channel, "{ack}");
    }

    /// Frames until (and including) the first of type `kind`.
    pub async fn until(&mut self, kind: &str) -> Vec<Value> {
        let mut seen = vec![];
        loop {
            let v = self.recv().await;
            let done = v["type"] == kind;
            seen.push(v);
            if done {
                return seen;
            }
        }
    }
}
