//! Triggers and the per-execution stream end to end, over HTTP on SQLite and PostgreSQL with the
//! server and two workers in process: schedule triggers (engine.md §11 `trigger_schedule`), the
//! chat texts `/confirm_{id}` and `/cancel_{id}` with confirmation expiry (engine.md §6), error
//! handler workflows (engine.md §11), and `GET /ws/executions/{id}/` (api.md §10). Every test
//! waits for the state it expects by polling the API (or reading the socket) under a deadline;
//! the one fixed wait proves an absence and says why it is long enough.

use crate::support::{Api, DEADLINE, Graph, Harness, PASSWORD, TERMINAL, outputs_of, rows, runs};
use agentry_core::time::parse_iso;
use agentry_store::testing;
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const POLL: Duration = Duration::from_millis(50);

/// Wall-clock milliseconds (the server runs in this process, on the same clock).
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_millis() as i64
}

fn ms(iso: &Value) -> i64 {
    iso.as_str()
        .and_then(parse_iso)
        .unwrap_or_else(|| panic!("an ISO-8601 timestamp, got {iso}"))
}

/// Polls `probe` until it answers `Ok`; fails after [`DEADLINE`] with its last `Err` text.
async fn poll<T>(what: &str, mut probe: impl AsyncFnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + DEADLINE;
    loop {
        match probe().await {
            Ok(v) => return v,
            Err(last) if Instant::now() > deadline => {
                panic!("no {what} within {DEADLINE:?}; last: {last}")
            }
            Err(_) => tokio::time::sleep(POLL).await,
        }
    }
}

/// Every execution of workflow `slug` the caller may see (`GET /executions/?workflow_slug=`),
/// oldest first.
async fn executions_of(api: &Api, slug: &str) -> Vec<Value> {
    let (status, page) = api
        .get(&format!(
            "/api/v1/executions/?workflow_slug={slug}&limit=500"
        ))
        .await;
    assert_eq!(status, 200, "{page}");
    let mut items = page["items"].as_array().expect("items").clone();
    assert_eq!(page["total"], json!(items.len()), "{page}");
    items.sort_by_key(|e| ms(&e["created_at"]));
    items
}

/// Details of the completed executions of `slug`, oldest first.
async fn completed_of(api: &Api, slug: &str) -> Vec<Value> {
    let mut out = vec![];
    for e in executions_of(api, slug).await {
        if e["status"] == "completed" {
            out.push(api.execution(e["execution_id"].as_str().expect("id")).await);
        }
    }
    out
}

/// A workflow id by slug.
async fn workflow_id(api: &Api, slug: &str) -> i64 {
    let (status, w) = api.get(&format!("/api/v1/workflows/{slug}/")).await;
    assert_eq!(status, 200, "{w}");
    w["id"].as_i64().expect("id")
}

/// A `trigger_schedule` node named `every`, not armed yet (no `trigger_config`): the rest of
/// the graph is built before the first fire, which a PATCH then arms.
fn scheduled(name: &str) -> Graph {
    Graph::bare(name)
        .node_body(json!({"node_id": "every", "component_type": "trigger_schedule", "config": {}}))
}

async fn arm(api: &Api, slug: &str, trigger_config: Value) {
    let (status, node) = api
        .patch(
            &format!("/api/v1/workflows/{slug}/nodes/every/"),
            json!({"config": {"trigger_config": trigger_config}}),
        )
        .await;
    assert_eq!(status, 200, "{node}");
    assert_eq!(node["config"]["trigger_config"], trigger_config, "{node}");
}

#[tokio::test]
async fn schedule_trigger_fires_until_edited() {
    for t in testing::all("schedule_trigger_fires_until_edited").await {
        let h = Harness::start(t).await;
        let b = h.backend;
        let api = &h.admin;

        // A bad schedule is refused, naming the field; nothing is stored.
        let slug = h.create(&Graph::bare("Refused")).await;
        for (tc, why) in [
            (json!({"cron": "61 * * * *"}), "cron minute"),
            (json!({"cron": "* * * *"}), "5 fields"),
            (json!({"interval_seconds": 0}), "interval_seconds"),
        ] {
            let (status, body) = api
                .post(
                    &format!("/api/v1/workflows/{slug}/nodes/"),
                    json!({"node_id": "s", "component_type": "trigger_schedule",
                           "config": {"trigger_config": tc}}),
                )
                .await;
            assert_eq!(status, 422, "[{b}] {tc}: {body}");
            let detail = body["detail"].as_str().expect("a text detail");
            assert!(
                detail.contains("trigger_config") && detail.contains(why),
                "[{b}] {tc}: {detail}"
            );
        }
        let (_, nodes) = api.get(&format!("/api/v1/workflows/{slug}/nodes/")).await;
        assert_eq!(nodes, json!([]), "[{b}]");
        // A valid cron is accepted.
        let (status, body) = api
            .post(
                &format!("/api/v1/workflows/{slug}/nodes/"),
                json!({"node_id": "s", "component_type": "trigger_schedule",
                       "config": {"trigger_config": {"cron": "*/5 9-17 * * 1-5"}}}),
            )
            .await;
        assert_eq!(status, 201, "[{b}] {body}");

        // `edited` (PATCHed to 3600 s later), `deleted` (node deleted later) and `control`
        // (left alone) tick every second; `slow` runs 2 s per execution, so fires are skipped
        // while its previous execution runs.
        let tick = |name: &str| {
            scheduled(name)
                .template("say", "{{ trigger.text }}")
                .edge("every", "say")
        };
        let edited = h.create(&tick("Edited ticker")).await;
        let deleted = h.create(&tick("Deleted ticker")).await;
        let control = h.create(&tick("Control ticker")).await;
        let slow = h
            .create(
                &scheduled("Slow ticker")
                    .node("w", "wait", json!({"duration": 2, "unit": "seconds"}))
                    .template("say", "{{ trigger.text }}/{{ trigger.payload.k }}")
                    .chain(&["every", "w", "say"]),
            )
            .await;
        let armed_from = now_ms();
        for slug in [&edited, &deleted, &control] {
            arm(api, slug, json!({"interval_seconds": 1, "text": "tick"})).await;
        }
        arm(
            api,
            &slow,
            json!({"interval_seconds": 1, "text": "slow", "payload": {"k": "v"}}),
        )
        .await;

        // Each ticker completes at least 2 executions, each with its own fire time.
        for slug in [&edited, &deleted, &control] {
            let done = poll("2 completed scheduled executions", async || {
                let done = completed_of(api, slug).await;
                if done.len() >= 2 {
                    Ok(done)
                } else {
                    Err(format!("{:#}", json!(executions_of(api, slug).await)))
                }
            })
            .await;
            let mut last_fire = None;
            for e in &done {
                let payload = &e["trigger_payload"];
                let fire = ms(&payload["timestamp"]);
                assert_eq!(
                    payload,
                    &json!({"text": "tick", "timestamp": payload["timestamp"], "payload": {}}),
                    "[{b}] {slug}"
                );
                assert!(fire >= armed_from + 1000, "[{b}] {slug}: {payload}");
                if let Some(prev) = last_fire {
                    assert!(
                        fire >= prev + 1000,
                        "[{b}] {slug}: fires 1 s apart: {done:#?}"
                    );
                }
                last_fire = Some(fire);
                assert_eq!(runs(e), rows(&[("say", "completed")]), "[{b}] {slug}");
                assert_eq!(
                    e["final_output"],
                    json!({"node_outputs": {"every": payload, "say": {"output": "tick"}}}),
                    "[{b}] {slug}"
                );
            }
        }
        // Nothing a ticker started failed.
        for slug in [&edited, &deleted, &control] {
            for e in executions_of(api, slug).await {
                assert_ne!(e["status"], "failed", "[{b}] {e}");
            }
        }

        // The slow ticker: a fire while the previous execution is pending or running starts
        // nothing, so its executions never overlap.
        let done = poll("2 completed slow executions", async || {
            let done = completed_of(api, &slow).await;
            if done.len() >= 2 {
                Ok(done)
            } else {
                Err(format!("{:#}", json!(executions_of(api, &slow).await)))
            }
        })
        .await;
        for e in &done {
            assert_eq!(
                e["trigger_payload"]["payload"],
                json!({"k": "v"}),
                "[{b}] {e:#}"
            );
            assert_eq!(
                outputs_of(e, "say"),
                vec![json!({"output": "slow/v"})],
                "[{b}]"
            );
        }
        let all = executions_of(api, &slow).await;
        for pair in all.windows(2) {
            assert!(
                ms(&pair[1]["created_at"]) >= ms(&pair[0]["completed_at"]),
                "[{b}] overlapping scheduled executions: {pair:#?}"
            );
        }

        // Re-arming far away and deleting the node stop the 1 s fires.
        let (status, node) = api
            .patch(
                &format!("/api/v1/workflows/{edited}/nodes/every/"),
                json!({"config": {"trigger_config": {"interval_seconds": 3600, "text": "tick"}}}),
            )
            .await;
        assert_eq!(status, 200, "[{b}] {node}");
        let (status, body) = api
            .request(
                reqwest::Method::DELETE,
                &format!("/api/v1/workflows/{deleted}/nodes/every/"),
                None,
            )
            .await;
        assert_eq!(status, 204, "[{b}] {body}");
        let edited_at = now_ms();
        let edited_count = executions_of(api, &edited).await.len();
        let deleted_count = executions_of(api, &deleted).await.len();
        let control_count = executions_of(api, &control).await.len();

        // Proving an absence needs a wait. It is bounded and sufficient: 2.5 s is more than two
        // intervals of the old schedules (1 s), and the control ticker — same interval, same
        // job queue, same two workers — must meanwhile start at least two executions, so the
        // workers did process schedule fires during the window; a fire still armed on the old
        // schedule would have run in it too.
        let window = Duration::from_millis(2500);
        tokio::time::sleep(window).await;
        poll("2 control fires after the edit", async || {
            let later = executions_of(api, &control).await;
            if later.len() >= control_count + 2 {
                Ok(())
            } else {
                Err(format!("{} then {}", control_count, later.len()))
            }
        })
        .await;
        for (slug, before) in [(&edited, edited_count), (&deleted, deleted_count)] {
            let later = executions_of(api, slug).await;
            assert_eq!(
                later.len(),
                before,
                "[{b}] {slug}: executions started after the edit: {later:#?}"
            );
            for e in later {
                let d = api.execution(e["execution_id"].as_str().expect("id")).await;
                assert!(
                    ms(&d["trigger_payload"]["timestamp"]) < edited_at,
                    "[{b}] {slug}: fired after the edit: {d:#}"
                );
            }
        }
    }
}

#[tokio::test]
async fn an_edit_waits_for_a_fire_in_progress() {
    for t in testing::all("an_edit_waits_for_a_fire_in_progress").await {
        let h = Harness::start(t).await;
        let b = h.backend;
        let api = &h.admin;
        let slug = h
            .create(
                &scheduled("Raced")
                    .template("say", "{{ trigger.text }}")
                    .edge("every", "say"),
            )
            .await;
        // Armed an hour ahead: the workers leave it alone; this test fires it by hand.
        arm(api, &slug, json!({"interval_seconds": 3600, "text": "old"})).await;
        let (status, node) = api.get(&format!("/api/v1/workflows/{slug}/nodes/")).await;
        assert_eq!(status, 200, "[{b}] {node}");
        let version = ms(&node[0]["updated_at"]);
        let wid = workflow_id(api, &slug).await;

        // A fire, as a worker runs it, with its transaction still open.
        let mut tx = h.db().begin().await.expect("begin");
        let payload = json!({"workflow_id": wid, "node_id": "every", "version": version});
        let started = agentry_service::schedules::fire_in(&mut tx, &payload, now_ms())
            .await
            .expect("fire");
        let fired = started.expect("an execution started by the fire");

        // An edit meanwhile must wait for that fire: had it committed first, the fire would
        // start an execution from the old schedule after the edit returned. The bounded wait
        // proves an absence (the edit is not done yet); unblocked, it takes milliseconds.
        let editor = api.clone();
        let path = format!("/api/v1/workflows/{slug}/nodes/every/");
        let mut edit = tokio::spawn(async move {
            editor
                .patch(
                    &path,
                    json!({"config": {"trigger_config": {"interval_seconds": 3600, "text": "new"}}}),
                )
                .await
        });
        let early = tokio::time::timeout(Duration::from_millis(1500), &mut edit).await;
        assert!(
            early.is_err(),
            "[{b}] the edit returned while a fire of the old schedule was uncommitted: {early:?}"
        );
        tx.commit().await.expect("commit the fire");
        let (status, node) = edit.await.expect("the edit task");
        assert_eq!(status, 200, "[{b}] {node}");
        let e = h.finished(&fired).await;
        assert_eq!(e["status"], "completed", "[{b}] {e:#}");
        assert_eq!(e["trigger_payload"]["text"], "old", "[{b}]");
        assert_eq!(executions_of(api, &slug).await.len(), 1, "[{b}]");
    }
}

/// What a read on the per-execution socket yielded.
#[derive(Debug)]
enum Frame {
    Json(Value),
    /// A close frame (`1005` when it carries no code).
    Close(u16),
    /// The stream ended without a close frame.
    Ended,
}

/// A client on `GET /ws/executions/{id}/` (server-push only).
struct ExecStream {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl ExecStream {
    async fn connect(h: &Harness, id: &str, token: &str) -> ExecStream {
        let url = format!(
            "{}/ws/executions/{id}/?token={token}",
            h.admin.base.replacen("http://", "ws://", 1)
        );
        let (stream, _) = tokio_tungstenite::connect_async(&url)
            .await
            .unwrap_or_else(|e| panic!("WebSocket handshake with {url}: {e}"));
        ExecStream { stream }
    }

    /// The next text or close frame, within 10 s.
    async fn next(&mut self) -> Frame {
        loop {
            let next = tokio::time::timeout(Duration::from_secs(10), self.stream.next())
                .await
                .expect("a WebSocket frame within 10 s");
            match next {
                None | Some(Err(_)) => return Frame::Ended,
                Some(Ok(Message::Text(t))) => {
                    return Frame::Json(serde_json::from_str(t.as_str()).expect("a JSON frame"));
                }
                Some(Ok(Message::Close(c))) => {
                    return Frame::Close(c.map(|f| u16::from(f.code)).unwrap_or(1005));
                }
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Events up to and including the first of type `kind`; the socket must stay open.
    async fn until(&mut self, kind: &str) -> Vec<Value> {
        let mut seen = vec![];
        loop {
            match self.next().await {
                Frame::Json(v) => {
                    let done = v["type"] == kind;
                    seen.push(v);
                    if done {
                        return seen;
                    }
                }
                other => panic!("{other:?} before {kind}; seen {seen:#?}"),
            }
        }
    }

    /// Events up to the server's close, which must be a normal one; then the stream ends.
    async fn until_closed(&mut self) -> Vec<Value> {
        let mut seen = vec![];
        loop {
            match self.next().await {
                Frame::Json(v) => seen.push(v),
                Frame::Close(code) => {
                    assert!(code == 1000 || code == 1005, "close {code}; {seen:#?}");
                    let end = self.next().await;
                    assert!(matches!(end, Frame::Ended), "after the close: {end:?}");
                    return seen;
                }
                Frame::Ended => panic!("ended without a close frame; seen {seen:#?}"),
            }
        }
    }

    /// The socket is refused after the handshake with close code 1008.
    async fn expect_policy_close(&mut self, what: &str) {
        match self.next().await {
            Frame::Close(code) => assert_eq!(code, 1008, "{what}"),
            other => panic!("{what}: expected close 1008, got {other:?}"),
        }
    }
}

/// `type` of each event, with `node_id:status` for `node_status`.
fn kinds(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|v| match v["type"].as_str() {
            Some("node_status") => format!(
                "{}:{}",
                v["data"]["node_id"].as_str().unwrap_or("?"),
                v["data"]["status"].as_str().unwrap_or("?")
            ),
            other => other.unwrap_or("?").to_string(),
        })
        .collect()
}

/// The frames are exactly the events stored on `execution:{id}`, in commit order.
async fn assert_all_stored(h: &Harness, id: &str, frames: &[Value]) {
    let stored = agentry_store::events::list_after(h.db(), &format!("execution:{id}"), 0, 1000)
        .await
        .expect("events");
    let stored: Vec<(i64, &str, &Value)> = stored
        .iter()
        .map(|e| (e.id, e.kind.as_str(), &e.data.0))
        .collect();
    let got: Vec<(i64, &str, &Value)> = frames
        .iter()
        .map(|f| {
            assert_eq!(f["execution_id"], id, "{f}");
            (
                f["id"].as_i64().expect("an event id"),
                f["type"].as_str().expect("a type"),
                &f["data"],
            )
        })
        .collect();
    assert_eq!(got, stored, "{frames:#?}");
}

/// Creates a normal user and logs in; returns that user's client.
async fn other_user(h: &Harness, name: &str) -> Api {
    let (status, body) = h
        .admin
        .post(
            "/api/v1/users/",
            json!({"username": name, "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = h
        .admin
        .post(
            "/api/v1/auth/token/",
            json!({"username": name, "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let mut api = h.admin.clone();
    api.token = Some(body["key"].as_str().expect("key").to_string());
    api
}

#[tokio::test]
async fn execution_stream_replays_then_goes_live_then_closes() {
    for t in testing::all("execution_stream_replays_then_goes_live_then_closes").await {
        let h = Harness::start(t).await;
        let b = h.backend;
        let token = h.admin.token().to_string();

        // Already completed: the stored events in order, ending with execution_completed,
        // then the server closes.
        let short = h
            .create(
                &Graph::new("Short")
                    .template("a", "{{ trigger.text }}")
                    .template("b", "{{ a.output | upper }}")
                    .chain(&["start", "a", "b"]),
            )
            .await;
        let e = h.run(&short, "hey").await;
        assert_eq!(e["status"], "completed", "[{b}] {e:#}");
        let id = e["execution_id"].as_str().expect("id");
        let frames = ExecStream::connect(&h, id, &token)
            .await
            .until_closed()
            .await;
        assert_eq!(
            kinds(&frames),
            [
                "execution_started",
                "node_enqueued",
                "a:running",
                "a:success",
                "node_enqueued",
                "b:running",
                "b:success",
                "execution_completed",
            ],
            "[{b}] {frames:#?}"
        );
        assert_all_stored(&h, id, &frames).await;
        assert_eq!(
            frames[7]["data"]["output"], e["final_output"],
            "[{b}] {frames:#?}"
        );
        assert_eq!(
            frames[6]["data"]["output"],
            json!({"output": "HEY"}),
            "[{b}]"
        );

        // Failed: ends with execution_failed, then the close.
        let bad = h
            .create(
                &Graph::new("Broken")
                    .template("x", "{{ nobody.output }}")
                    .chain(&["start", "x"]),
            )
            .await;
        let e = h.run(&bad, "").await;
        assert_eq!(e["status"], "failed", "[{b}] {e:#}");
        let id = e["execution_id"].as_str().expect("id");
        let frames = ExecStream::connect(&h, id, &token)
            .await
            .until_closed()
            .await;
        assert_eq!(
            kinds(&frames),
            [
                "execution_started",
                "node_enqueued",
                "x:running",
                "x:failed",
                "execution_failed",
            ],
            "[{b}] {frames:#?}"
        );
        assert_eq!(
            frames[4]["data"],
            json!({"error": e["error_message"]}),
            "[{b}]"
        );
        assert_all_stored(&h, id, &frames).await;

        // Waiting on a human: the stored events, then (after the answer) the live ones, then
        // the close after execution_completed.
        let gate = h
            .create(
                &Graph::new("Gate")
                    .node("h", "human_confirmation", json!({"prompt": "Go?"}))
                    .template("t", "{{ h.confirmed }}")
                    .chain(&["start", "h", "t"]),
            )
            .await;
        let id = h.execute(&gate, "").await;
        h.admin.wait_for(&id, &["interrupted"]).await;
        let mut ws = ExecStream::connect(&h, &id, &token).await;
        let mut frames = ws.until("execution_interrupted").await;
        assert_eq!(
            kinds(&frames),
            [
                "execution_started",
                "node_enqueued",
                "execution_interrupted"
            ],
            "[{b}] {frames:#?}"
        );
        assert_eq!(frames[2]["data"], json!({"node_id": "h"}), "[{b}]");
        let (status, out) = h
            .admin
            .post(
                &format!("/api/v1/executions/{id}/resume/"),
                json!({"input": "yes"}),
            )
            .await;
        assert_eq!(status, 200, "[{b}] {out}");
        let live = ws.until_closed().await;
        assert_eq!(
            kinds(&live),
            [
                "h:running",
                "h:success",
                "node_enqueued",
                "t:running",
                "t:success",
                "execution_completed",
            ],
            "[{b}] {live:#?}"
        );
        assert_eq!(
            live[1]["data"]["output"],
            json!({"confirmed": true, "user_response": "yes"}),
            "[{b}]"
        );
        frames.extend(live);
        assert_all_stored(&h, &id, &frames).await;

        // Cancelled while connected: execution_cancelled, then the close.
        let id = h.execute(&gate, "").await;
        h.admin.wait_for(&id, &["interrupted"]).await;
        let mut ws = ExecStream::connect(&h, &id, &token).await;
        let mut frames = ws.until("execution_interrupted").await;
        let (status, out) = h
            .admin
            .post(&format!("/api/v1/executions/{id}/cancel/"), json!({}))
            .await;
        assert_eq!(status, 200, "[{b}] {out}");
        let live = ws.until_closed().await;
        assert_eq!(kinds(&live), ["execution_cancelled"], "[{b}] {live:#?}");
        assert_eq!(live[0]["data"], json!({"execution_id": id}), "[{b}]");
        frames.extend(live);
        assert_all_stored(&h, &id, &frames).await;

        // Another user's token, a bad token, an unknown execution: close 1008.
        let bob = other_user(&h, "bob").await;
        ExecStream::connect(&h, &id, bob.token())
            .await
            .expect_policy_close(&format!("[{b}] another user's execution"))
            .await;
        ExecStream::connect(&h, &id, "not-a-key")
            .await
            .expect_policy_close(&format!("[{b}] a bad token"))
            .await;
        ExecStream::connect(&h, "00000000-0000-4000-8000-000000000000", &token)
            .await
            .expect_policy_close(&format!("[{b}] an unknown execution"))
            .await;
        // That user streams their own execution.
        let mine = bob
            .create(
                &Graph::new("Bob's")
                    .template("a", "{{ trigger.text }}")
                    .edge("start", "a"),
            )
            .await;
        let id = bob.execute(&mine, "mine").await;
        bob.wait_for(&id, &TERMINAL).await;
        let frames = ExecStream::connect(&h, &id, bob.token())
            .await
            .until_closed()
            .await;
        assert_eq!(
            kinds(&frames).last().map(String::as_str),
            Some("execution_completed"),
            "[{b}] {frames:#?}"
        );
        assert_all_stored(&h, &id, &frames).await;
    }
}

/// `POST /workflows/{slug}/chat/` with `text`.
async fn chat(api: &Api, slug: &str, text: &str) -> (u16, Value) {
    api.post(
        &format!("/api/v1/workflows/{slug}/chat/"),
        json!({ "text": text }),
    )
    .await
}

/// Starts `slug` from its chat trigger and waits for the confirmation; returns the execution
/// id and the confirmation id.
async fn chat_until_interrupted(h: &Harness, slug: &str, text: &str) -> (String, String) {
    let (status, out) = chat(&h.admin, slug, text).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["status"], "pending", "{out}");
    assert_eq!(out["response"], "", "{out}");
    let id = out["execution_id"].as_str().expect("id").to_string();
    let e = h.admin.wait_for(&id, &["interrupted"]).await;
    let pending = &e["pending_confirmation"];
    assert_eq!(pending["node_id"], "h", "{e:#}");
    assert_eq!(pending["prompt"], "Deploy?", "{e:#}");
    let conf = pending["id"].as_str().expect("confirmation id").to_string();
    (id, conf)
}

#[tokio::test]
async fn chat_texts_answer_confirmations() {
    for t in testing::all("chat_texts_answer_confirmations").await {
        let h = Harness::start(t).await;
        let b = h.backend;
        let slug = h
            .create(
                &Graph::bare("Chat gate")
                    .node_body(
                        json!({"node_id": "chat", "component_type": "trigger_chat", "config": {}}),
                    )
                    .node("h", "human_confirmation", json!({"prompt": "Deploy?"}))
                    .template(
                        "t",
                        "{{ h.confirmed }} {{ h.user_response }} {{ trigger.text }}",
                    )
                    .chain(&["chat", "h", "t"]),
            )
            .await;

        for (verb, confirmed, answer, output) in [
            ("confirm", true, "yes", "True yes deploy v3"),
            ("cancel", false, "no", "False no deploy v3"),
        ] {
            let (id, conf) = chat_until_interrupted(&h, &slug, "deploy v3").await;
            let before = executions_of(&h.admin, &slug).await.len();
            let (status, out) = chat(&h.admin, &slug, &format!("/{verb}_{conf}")).await;
            assert_eq!(status, 200, "[{b}] {verb}: {out}");
            assert_eq!(out["execution_id"], id.as_str(), "[{b}] {out}");
            assert_eq!(out["response"], "", "[{b}] {out}");
            assert!(
                out["status"] == "running" || out["status"] == "completed",
                "[{b}] {out}"
            );
            let e = h.finished(&id).await;
            assert_eq!(e["status"], "completed", "[{b}] {verb}: {e:#}");
            assert_eq!(
                runs(&e),
                rows(&[("h", "completed"), ("t", "completed")]),
                "[{b}] {verb}"
            );
            assert_eq!(
                outputs_of(&e, "h"),
                vec![json!({"confirmed": confirmed, "user_response": answer})],
                "[{b}] {verb}"
            );
            assert_eq!(
                outputs_of(&e, "t"),
                vec![json!({ "output": output })],
                "[{b}] {verb}"
            );
            assert_eq!(e["trigger_payload"], json!({"text": "deploy v3"}), "[{b}]");
            // The answering text started nothing.
            assert_eq!(
                executions_of(&h.admin, &slug).await.len(),
                before,
                "[{b}] {verb}"
            );
            // Answered once: the id names nothing any more.
            let (status, body) = chat(&h.admin, &slug, &format!("/confirm_{conf}")).await;
            assert_eq!(status, 404, "[{b}] {body}");
            assert_eq!(body, json!({"detail": "Confirmation not found."}), "[{b}]");
        }

        // An unknown id.
        let (status, body) = chat(&h.admin, &slug, "/confirm_deadbeef").await;
        assert_eq!(status, 404, "[{b}] {body}");
        assert_eq!(body, json!({"detail": "Confirmation not found."}), "[{b}]");
        let (status, body) = chat(&h.admin, &slug, "/cancel_0badc0de").await;
        assert_eq!(status, 404, "[{b}] {body}");
        assert_eq!(body, json!({"detail": "Confirmation not found."}), "[{b}]");

        // Another user cannot answer the admin's confirmation (and learns nothing).
        let (id, conf) = chat_until_interrupted(&h, &slug, "deploy v4").await;
        let bob = other_user(&h, "bob").await;
        let (status, body) = chat(&bob, &slug, &format!("/confirm_{conf}")).await;
        assert_eq!(status, 404, "[{b}] {body}");
        assert_eq!(body, json!({"detail": "Confirmation not found."}), "[{b}]");
        let e = h.admin.execution(&id).await;
        assert_eq!(e["status"], "interrupted", "[{b}] {e:#}");
        assert_eq!(e["pending_confirmation"]["id"], conf.as_str(), "[{b}]");

        // Expired: chat texts no longer find it; the API resume still answers it.
        let mut tx = h.db().begin().await.expect("begin");
        let mut row = agentry_store::confirmations::get_in(&mut tx, &conf)
            .await
            .expect("read the confirmation")
            .expect("the confirmation");
        agentry_store::confirmations::delete(&mut tx, &conf)
            .await
            .expect("delete");
        row.expires_at = now_ms() - 1000;
        agentry_store::confirmations::insert(&mut tx, &row)
            .await
            .expect("insert");
        tx.commit().await.expect("commit");
        let (status, body) = chat(&h.admin, &slug, &format!("/confirm_{conf}")).await;
        assert_eq!(status, 404, "[{b}] {body}");
        assert_eq!(body, json!({"detail": "Confirmation not found."}), "[{b}]");
        let e = h.admin.execution(&id).await;
        assert_eq!(e["status"], "interrupted", "[{b}] {e:#}");
        assert_eq!(e["pending_confirmation"]["id"], conf.as_str(), "[{b}]");
        let (status, out) = h
            .admin
            .post(
                &format!("/api/v1/executions/{id}/resume/"),
                json!({"input": "yes"}),
            )
            .await;
        assert_eq!(status, 200, "[{b}] {out}");
        let e = h.finished(&id).await;
        assert_eq!(e["status"], "completed", "[{b}] {e:#}");
        assert_eq!(
            outputs_of(&e, "t"),
            vec![json!({"output": "True yes deploy v4"})],
            "[{b}]"
        );
    }
}

#[tokio::test]
async fn error_handler_workflow_runs_on_failure() {
    for t in testing::all("error_handler_workflow_runs_on_failure").await {
        let h = Harness::start(t).await;
        let b = h.backend;
        let api = &h.admin;
        let on_error = |name: &str, template: &str| {
            Graph::bare(name)
                .node_body(
                    json!({"node_id": "oops", "component_type": "trigger_error", "config": {}}),
                )
                .template("say", template)
                .edge("oops", "say")
        };
        let handler = h
            .create(&on_error("Handler", "handled: {{ trigger.error.node_id }}"))
            .await;
        let handler_id = workflow_id(api, &handler).await;
        let failing = |name: &str, handler_id: i64| {
            Graph::new(name)
                .with("error_handler_workflow_id", json!(handler_id))
                .template("fine", "ok")
                .template("bad", "{{ x.y }}")
                .chain(&["start", "fine", "bad"])
        };
        let flaky = h
            .create(
                &Graph::new("Flaky")
                    .template("fine", "ok")
                    .template("bad", "{{ x.y }}")
                    .chain(&["start", "fine", "bad"]),
            )
            .await;
        let (status, w) = api
            .patch(
                &format!("/api/v1/workflows/{flaky}/"),
                json!({"error_handler_workflow_id": handler_id}),
            )
            .await;
        assert_eq!(status, 200, "[{b}] {w}");
        assert_eq!(w["error_handler_workflow_id"], handler_id, "[{b}]");
        assert!(executions_of(api, &handler).await.is_empty(), "[{b}]");

        let e = h.run(&flaky, "go").await;
        assert_eq!(e["status"], "failed", "[{b}] {e:#}");
        let failed_id = e["execution_id"].as_str().expect("id");
        let msg = e["error_message"].as_str().expect("error").to_string();
        assert!(msg.starts_with("Node bad: Template error: "), "[{b}] {msg}");
        // The handler's execution is created in the same commit as the failure.
        let started = executions_of(api, &handler).await;
        assert_eq!(started.len(), 1, "[{b}] {started:#?}");
        let hid = started[0]["execution_id"].as_str().expect("id");
        let he = h.finished(hid).await;
        assert_eq!(he["status"], "completed", "[{b}] {he:#}");
        let payload = json!({
            "text": msg,
            "error": {
                "execution_id": failed_id,
                "workflow_slug": flaky,
                "node_id": "bad",
                "error_message": msg,
            },
        });
        assert_eq!(he["trigger_payload"], payload, "[{b}]");
        assert_eq!(
            outputs_of(&he, "say"),
            vec![json!({"output": "handled: bad"})],
            "[{b}]"
        );
        assert_eq!(
            he["final_output"],
            json!({"node_outputs": {"oops": payload, "say": {"output": "handled: bad"}}}),
            "[{b}]"
        );
        assert_eq!(he["parent_execution_id"], Value::Null, "[{b}]");
        // A run that succeeds starts nothing (the handler would already exist: same commit).
        let fine = h
            .create(
                &Graph::new("Fine")
                    .with("error_handler_workflow_id", json!(handler_id))
                    .template("fine", "ok")
                    .edge("start", "fine"),
            )
            .await;
        assert_eq!(h.run(&fine, "").await["status"], "completed", "[{b}]");
        assert_eq!(executions_of(api, &handler).await.len(), 1, "[{b}]");

        // A failing handler starts nothing: not itself (its own handler) …
        let broken = h.create(&on_error("Broken handler", "{{ x.y }}")).await;
        let broken_id = workflow_id(api, &broken).await;
        let (status, w) = api
            .patch(
                &format!("/api/v1/workflows/{broken}/"),
                json!({"error_handler_workflow_id": broken_id}),
            )
            .await;
        assert_eq!(status, 200, "[{b}] {w}");
        let f2 = h.create(&failing("Flaky 2", broken_id)).await;
        assert_eq!(h.run(&f2, "").await["status"], "failed", "[{b}]");
        let started = executions_of(api, &broken).await;
        assert_eq!(started.len(), 1, "[{b}] {started:#?}");
        let bid = started[0]["execution_id"].as_str().expect("id");
        let be = h.finished(bid).await;
        assert_eq!(be["status"], "failed", "[{b}] {be:#}");
        assert!(
            be["error_message"]
                .as_str()
                .is_some_and(|m| m.starts_with("Node say: Template error: ")),
            "[{b}] {be:#}"
        );
        // Had the handler's failure started a handler, it would exist now: it is created in
        // the commit that records the failure (shown above for `flaky`).
        assert_eq!(executions_of(api, &broken).await.len(), 1, "[{b}]");

        // … nor another handler.
        let (status, w) = api
            .patch(
                &format!("/api/v1/workflows/{broken}/"),
                json!({"error_handler_workflow_id": handler_id}),
            )
            .await;
        assert_eq!(status, 200, "[{b}] {w}");
        assert_eq!(h.run(&f2, "").await["status"], "failed", "[{b}]");
        let started = executions_of(api, &broken).await;
        assert_eq!(started.len(), 2, "[{b}] {started:#?}");
        for s in &started {
            let d = h.finished(s["execution_id"].as_str().expect("id")).await;
            assert_eq!(d["status"], "failed", "[{b}] {d:#}");
        }
        assert_eq!(executions_of(api, &handler).await.len(), 1, "[{b}]");

        // A handler whose trigger_error node is inactive is not started.
        let off = h
            .create(
                &Graph::bare("Inactive handler")
                    .node_body(json!({"node_id": "oops", "component_type": "trigger_error",
                                      "config": {"is_active": false}}))
                    .template("say", "never")
                    .edge("oops", "say"),
            )
            .await;
        let off_id = workflow_id(api, &off).await;
        let f3 = h.create(&failing("Flaky 3", off_id)).await;
        assert_eq!(h.run(&f3, "").await["status"], "failed", "[{b}]");
        assert!(executions_of(api, &off).await.is_empty(), "[{b}]");
    }
}
