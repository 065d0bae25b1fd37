//! Agents against the whole product: `platform_api` calling the real HTTP server it runs in,
//! and an agent killed with SIGKILL in the middle of a tool batch, resumed from its checkpoint.
//! The LLM is the fake OpenAI-compatible provider, over HTTP.

use crate::kill9::Server;
use crate::support::{Api, Graph, Harness};
use agentry_llm::fake::{FakeProvider, Reply};
use agentry_store::testing;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// start → agent `a` (model `m` on the fake provider) with the given tool nodes `(id, type)`.
async fn agent_graph(api: &Api, fake: &FakeProvider, name: &str, tools: &[(&str, &str)]) -> String {
    let (code, cred) = api
        .post(
            "/api/v1/credentials/",
            json!({"name": format!("fake-{name}"), "credential_type": "llm",
                "detail": {"provider_type": "openai_compatible", "api_key": "sk-test-123456", "base_url": fake.base_url()}}),
        )
        .await;
    assert_eq!(code, 201, "{cred}");
    let mut g = Graph::new(name)
        .node_body(json!({"node_id": "m", "component_type": "ai_model",
            "config": {"llm_credential_id": cred["id"], "model_name": "gpt-4o-mini"}}))
        .node("a", "agent", json!({}))
        .edge("start", "a")
        .labelled("m", "llm", "a");
    for (id, ty) in tools {
        g = g.node(id, ty, json!({})).labelled(id, "tool", "a");
    }
    api.create(&g).await
}

fn tool_answers(body: &Value) -> Vec<Value> {
    body["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| {
            let text = m["content"].as_str().unwrap_or("").to_string();
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        })
        .collect()
}

#[tokio::test]
async fn platform_api_acts_as_the_owner_with_a_key_that_ends_with_the_run() {
    for t in testing::all("platform_api_acts_as_the_owner").await {
        let h = Harness::start(t).await;
        let name = h.backend;
        let fake = FakeProvider::start().await;
        let slug = agent_graph(&h.admin, &fake, "ops", &[("p", "platform_api")]).await;
        fake.push(Reply::tool_calls(vec![
            ("c1", "platform_api", json!({"path": format!("/api/v1/workflows/{slug}/")})),
            ("c2", "platform_api", json!({"method": "PUT", "path": "/api/v1/workflows/"})),
            ("c3", "platform_api", json!({"path": "//evil.example/steal"})),
            ("c4", "platform_api", json!({"path": "/api/v1/workflows/no-such-flow/"})),
            (
                "c5",
                "platform_api",
                json!({"method": "POST", "path": "/api/v1/workflows/", "body": "{\"name\": \"Made by an agent\"}"}),
            ),
        ]));
        fake.push(Reply::text("done"));
        let detail = h.run(&slug, "inspect yourself").await;
        assert_eq!(detail["status"], "completed", "{name}: {detail}");

        let bodies = fake.chat_bodies();
        let answers = tool_answers(&bodies[1]);
        assert_eq!(answers.len(), 5, "{name}");
        assert_eq!(
            (
                &answers[0]["status_code"],
                &answers[0]["success"],
                &answers[0]["data"]["slug"]
            ),
            (&json!(200), &json!(true), &json!(slug)),
            "{name}: {}",
            answers[0]
        );
        assert_eq!(answers[0].get("error"), None, "{name}");
        assert_eq!(
            answers[1],
            json!({"error": "Unsupported method: PUT"}),
            "{name}"
        );
        assert_eq!(answers[2]["success"], false, "{name}: {}", answers[2]);
        assert_eq!(
            (
                &answers[3]["status_code"],
                &answers[3]["success"],
                &answers[3]["error"]
            ),
            (&json!(404), &json!(false), &json!("HTTP 404")),
            "{name}"
        );
        assert_eq!(answers[4]["status_code"], 201, "{name}: {}", answers[4]);
        // The agent acted as the workflow's owner: the admin sees the new workflow.
        let (_, made) = h.admin.get("/api/v1/workflows/made-by-an-agent/").await;
        assert_eq!(made["name"], "Made by an agent", "{name}");
        // The keys it used ended with the execution.
        let keys = agentry_store::api_keys::list_for_user(h.db(), 1)
            .await
            .expect("keys");
        assert!(
            keys.iter().all(|k| !k.name.starts_with("execution:")),
            "{name}: {keys:?}"
        );
    }
}

/// `/fast` answers at once; `/slow` never answers its first request (the process calling it is
/// killed meanwhile) and answers the next ones at once. Both count their requests.
async fn tool_server() -> (String, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    use axum::routing::get;
    let fast = Arc::new(AtomicUsize::new(0));
    let slow = Arc::new(AtomicUsize::new(0));
    let (f, s) = (fast.clone(), slow.clone());
    let app = axum::Router::new()
        .route(
            "/fast",
            get(move || {
                let f = f.clone();
                async move {
                    f.fetch_add(1, Ordering::SeqCst);
                    "fast-ok"
                }
            }),
        )
        .route(
            "/slow",
            get(move || {
                let s = s.clone();
                async move {
                    if s.fetch_add(1, Ordering::SeqCst) == 0 {
                        std::future::pending::<()>().await;
                    }
                    "slow-ok"
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), fast, slow)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_dash_nine_mid_tool_batch_resumes_without_repeating_finished_calls() {
    let t = testing::sqlite().await;
    let url = t.url.clone();
    let db = t.db.clone();
    let data_dir = std::env::temp_dir().join(format!(
        "agentry-kill9-agent-{}-{}",
        std::process::id(),
        agentry_store::now_ms()
    ));
    std::fs::create_dir_all(&data_dir).expect("data dir");
    let fake = FakeProvider::start().await;
    let (tools, fast, slow) = tool_server().await;

    let server = Server::start(&url, &data_dir);
    let api = Api::new(&server.base).setup().await;
    let slug = agent_graph(&api, &fake, "crashy", &[("h", "http_request")]).await;
    fake.push(
        Reply::tool_calls(vec![
            (
                "c_fast",
                "http_request",
                json!({"url": format!("{tools}/fast")}),
            ),
            (
                "c_slow",
                "http_request",
                json!({"url": format!("{tools}/slow")}),
            ),
        ])
        .usage(100, 10),
    );
    fake.push(Reply::text("both done").usage(200, 5));
    let id = api.execute(&slug, "call both").await;

    // Wait until the fast call's answer is in the checkpoint while the slow one hangs.
    let thread = format!("exec:{id}:a");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let cp = agentry_store::checkpoints::load(&db, &thread)
            .await
            .expect("load");
        let fast_saved = cp
            .as_ref()
            .and_then(|(v, _)| v.pointer("/pending/answers/0").cloned())
            .is_some_and(|a| !a.is_null());
        if fast_saved && slow.load(Ordering::SeqCst) == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "the batch never got half done");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill9();

    let server = Server::start(&url, &data_dir);
    let api = api.at(&server.base);
    let detail = api
        .wait_for(&id, &["completed", "failed", "cancelled"])
        .await;
    assert_eq!(detail["status"], "completed", "{detail}");
    assert_eq!(
        fast.load(Ordering::SeqCst),
        1,
        "a finished tool call ran again"
    );
    assert_eq!(
        slow.load(Ordering::SeqCst),
        2,
        "the interrupted call runs again"
    );
    let bodies = fake.chat_bodies();
    assert_eq!(
        bodies.len(),
        2,
        "the model was not asked again for the batch"
    );
    assert_eq!(
        tool_answers(&bodies[1]),
        vec![json!("HTTP 200\nfast-ok"), json!("HTTP 200\nslow-ok")]
    );
    assert_eq!(
        (
            &detail["total_tokens"],
            &detail["llm_calls"],
            &detail["tool_invocations"]
        ),
        (&json!(315), &json!(2), &json!(2)),
        "usage from before the crash is kept: {detail}"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&data_dir);
}
