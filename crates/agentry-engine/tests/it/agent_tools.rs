//! Agent tools end to end (tools.md §6–§8): memory, web search through a fake SearXNG server,
//! the sandboxed run_command / code_execute, and an agent on the Anthropic wire format. Each
//! runs a real worker pool on each backend with the fake provider over HTTP.

use crate::agent::{World, agent_workflow, messages, wait_for, world};
use agentry_llm::fake::Reply;
use agentry_store::{memories, testing};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// The contents of the tool messages of a recorded chat body, in order.
fn tool_answers(body: &Value) -> Vec<String> {
    messages(body)
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap_or("").to_string())
        .collect()
}

async fn run(w: &World, slug: &str, text: &str) -> agentry_store::executions::ExecutionRow {
    let id = w
        .services
        .execute(&w.caller, slug, text.into(), None)
        .await
        .expect("execute");
    let row = wait_for(w, &id, &["completed", "failed"]).await;
    assert_eq!(row.status, "completed", "{}", row.error_message);
    row
}

#[tokio::test]
async fn memory_tools_remember_and_recall_for_the_owner_only() {
    for t in testing::all("memory_tools_remember_and_recall").await {
        let w = world(t.db.clone()).await;
        let name = t.db.backend_name();
        // Another user's fact must never show up.
        let other = w
            .services
            .create_user(
                serde_json::from_value(json!({"username": "eve", "password": "password1"}))
                    .expect("user in"),
            )
            .await
            .expect("user");
        let mut tx = t.db.begin().await.expect("begin");
        memories::upsert(
            &mut tx,
            &memories::NewMemory {
                owner_id: other.id,
                kind: memories::FACT,
                key: "secret",
                value: "blue moon",
                fact_type: "world_knowledge",
                confidence: 1.0,
            },
            true,
        )
        .await
        .expect("upsert");
        tx.commit().await.expect("commit");

        let slug = agent_workflow(&w, "mem", &["memory_write", "memory_read"], json!({})).await;
        w.fake.push(Reply::tool_calls(vec![(
            "c1",
            "remember",
            json!({"key": "color", "value": "blue", "fact_type": "user_preference"}),
        )]));
        w.fake.push(Reply::tool_calls(vec![
            ("c2", "recall", json!({"key": "color"})),
            ("c3", "recall", json!({"query": "blue"})),
            ("c4", "recall", json!({})),
            ("c5", "recall", json!({"key": "nothing-here"})),
            ("c6", "remember", json!({"key": "x"})),
            (
                "c7",
                "remember",
                json!({"key": "x", "value": "1", "fact_type": "gossip"}),
            ),
        ]));
        w.fake.push(Reply::text("Your color is blue."));
        run(&w, &slug, "remember my color").await;

        let bodies = w.fake.chat_bodies();
        assert_eq!(bodies.len(), 3, "{name}");
        assert_eq!(
            tool_answers(&bodies[1]),
            vec!["Remembered: color = blue (created)"],
            "{name}"
        );
        let fact = json!([{"key": "color", "value": "blue", "confidence": 1.0}]).to_string();
        // Each request carries the whole conversation: the new answers follow the first one.
        assert_eq!(
            tool_answers(&bodies[2])[1..],
            vec![
                "color = blue".to_string(),
                fact.clone(),
                fact,
                "No memory found for key: nothing-here".to_string(),
                "Error: value is required".to_string(),
                "Error: fact_type must be one of: user_preference, world_knowledge, self_knowledge, correction, relationship".to_string(),
            ],
            "{name}"
        );
        // The run left an episode that `recall` with memory_type episodes can find.
        let owner = w.caller.user_id;
        let episodes = memories::list(
            &t.db,
            owner,
            &memories::Filter {
                kind: memories::EPISODE,
                ..Default::default()
            },
            10,
        )
        .await
        .expect("episodes");
        assert_eq!(episodes.len(), 1, "{name}");
        assert_eq!(
            episodes[0].value, "Asked: remember my color → Answered: Your color is blue.",
            "{name}"
        );
    }
}

/// A SearXNG stand-in: `/search` answers two results and records the query; `/down/search`
/// answers 500.
async fn fake_searxng() -> (String, Arc<Mutex<Vec<String>>>) {
    use axum::extract::{Query, State};
    use axum::routing::get;
    let seen: Arc<Mutex<Vec<String>>> = Default::default();
    let app = axum::Router::new()
        .route(
            "/search",
            get(
                |State(seen): State<Arc<Mutex<Vec<String>>>>,
                 Query(q): Query<std::collections::HashMap<String, String>>| async move {
                    if let Ok(mut s) = seen.lock() {
                        s.push(format!("{}|{}", q.get("q").cloned().unwrap_or_default(), q.get("format").cloned().unwrap_or_default()));
                    }
                    axum::Json(json!({"results": [
                        {"title": "Tokio", "content": "An async runtime.", "url": "https://tokio.rs"},
                        {"title": "async-std", "content": "Another one.", "url": "https://async.rs"}
                    ]}))
                },
            ),
        )
        .route(
            "/down/search",
            get(|| async { (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "down") }),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), seen)
}

#[tokio::test]
async fn web_search_comes_from_the_owners_searxng_credential() {
    for t in testing::all("web_search_from_searxng_credential").await {
        let w = world(t.db.clone()).await;
        let name = t.db.backend_name();
        let (base, seen) = fake_searxng().await;
        let tool_cred = |cred_name: &str, url: String, preferred: bool| {
            serde_json::from_value(json!({"name": cred_name, "credential_type": "tool",
                "detail": {"tool_type": "searxng", "config": {"url": url}, "is_preferred": preferred}}))
            .expect("cred in")
        };
        w.services
            .create_credential(&w.caller, tool_cred("searx", base.clone(), false))
            .await
            .expect("credential");
        // No tool node: web_search is offered because the owner has the credential.
        let slug = agent_workflow(&w, "searcher", &[], json!({})).await;
        w.fake.push(Reply::tool_calls(vec![(
            "s1",
            "web_search",
            json!({"query": "rust async"}),
        )]));
        w.fake.push(Reply::text("Tokio."));
        run(&w, &slug, "which runtime?").await;
        let bodies = w.fake.chat_bodies();
        let offered: Vec<&str> = bodies[0]["tools"]
            .as_array()
            .expect("tools")
            .iter()
            .filter_map(|t| t["function"]["name"].as_str())
            .collect();
        assert_eq!(offered, vec!["web_search"], "{name}");
        assert_eq!(
            tool_answers(&bodies[1]),
            vec![
                "**Tokio**\nAn async runtime.\nURL: https://tokio.rs\n\n**async-std**\nAnother one.\nURL: https://async.rs"
            ],
            "{name}"
        );
        assert_eq!(
            seen.lock().expect("seen").clone(),
            vec!["rust async|json"],
            "{name}"
        );

        // A preferred credential wins; its server failing is an answer, not a failure.
        w.services
            .create_credential(&w.caller, tool_cred("broken", format!("{base}/down"), true))
            .await
            .expect("credential");
        w.fake.clear_requests();
        w.fake.push(Reply::tool_calls(vec![(
            "s2",
            "web_search",
            json!({"query": "anything"}),
        )]));
        w.fake.push(Reply::text("I'll answer from memory."));
        run(&w, &slug, "again").await;
        let bodies = w.fake.chat_bodies();
        assert_eq!(
            tool_answers(&bodies[1]),
            vec!["Web search unavailable. Try answering from your knowledge."],
            "{name}"
        );
    }
}

#[tokio::test]
async fn run_command_keeps_its_workspace_and_has_no_network() {
    for t in testing::all("run_command_workspace").await {
        let w = world(t.db.clone()).await;
        let name = t.db.backend_name();
        let slug = agent_workflow(&w, "shell", &["run_command", "code_execute"], json!({})).await;
        w.fake.push(Reply::tool_calls(vec![(
            "r1",
            "run_command",
            json!({"command": "echo hello > note.txt && cat note.txt"}),
        )]));
        w.fake.push(Reply::text("written"));
        run(&w, &slug, "write").await;

        let port = w.fake.addr().port();
        w.fake.clear_requests();
        w.fake.push(Reply::tool_calls(vec![
            ("r2", "run_command", json!({"command": "cat note.txt; exit 3"})),
            (
                "r3",
                "run_command",
                json!({"command": format!("python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}), 2)' 2>/dev/null || echo offline")}),
            ),
            ("r4", "run_command", json!({"command": "true"})),
            (
                "r5",
                "code_execute",
                json!({"language": "bash", "code": "echo '{\"a\": 1}'"}),
            ),
            ("r6", "code_execute", json!({"language": "ruby", "code": "puts 1"})),
        ]));
        w.fake.push(Reply::text("read"));
        run(&w, &slug, "read").await;
        let bodies = w.fake.chat_bodies();
        assert_eq!(
            tool_answers(&bodies[1]),
            vec![
                "hello\n\n[exit code: 3]",
                "offline\n",
                "(no output)",
                "stdout:\n{\"a\": 1}\n\nstderr:\n\nexit_code: 0\nresult: {\"a\":1}",
                "Error: Language 'ruby' not supported. Use 'python' or 'bash'.",
            ],
            "{name}"
        );
    }
}

#[tokio::test]
async fn an_anthropic_agent_uses_tools_and_is_priced() {
    for t in testing::all("anthropic_agent_tools").await {
        let w = world(t.db.clone()).await;
        let name = t.db.backend_name();
        let slug = agent_workflow(&w, "claude", &["calculator"], json!({})).await;
        // Point the workflow's model at an Anthropic credential.
        let cred = w
            .services
            .create_credential(&w.caller, serde_json::from_value(json!({
                "name": "anthropic", "credential_type": "llm",
                "detail": {"provider_type": "anthropic", "api_key": "sk-ant-123456", "base_url": w.fake.anthropic_url()}
            })).expect("cred in"))
            .await
            .expect("credential");
        w.services
            .patch_node(
                &w.caller,
                &slug,
                "m",
                serde_json::from_value(json!({"config": {"llm_credential_id": cred.id, "model_name": "claude-sonnet-4-20250514"}}))
                    .expect("patch in"),
            )
            .await
            .expect("patch");
        w.fake.push(
            Reply::tool_calls(vec![(
                "toolu_1",
                "calculator",
                json!({"expression": "6*7"}),
            )])
            .usage(1000, 100),
        );
        w.fake.push(Reply::text("42").usage(2000, 10));
        let row = run(&w, &slug, "six times seven").await;
        assert_eq!(
            (
                row.total_input_tokens,
                row.total_output_tokens,
                row.llm_calls,
                row.tool_invocations
            ),
            (3000, 110, 2, 1),
            "{name}"
        );
        let expected = (3000.0 * 3.0 + 110.0 * 15.0) / 1_000_000.0;
        assert!(
            (row.total_cost_usd - expected).abs() < 1e-12,
            "{name}: {}",
            row.total_cost_usd
        );
        let requests: Vec<_> = w
            .fake
            .requests()
            .into_iter()
            .filter(|r| r.is_chat())
            .collect();
        assert_eq!(requests.len(), 2, "{name}");
        assert!(
            requests.iter().all(|r| r.path.starts_with("/v1/messages")),
            "{name}"
        );
        let second = &w.fake.chat_bodies()[1];
        // Anthropic wire format: the system prompt on top, the tool result as a user block.
        assert_eq!(second["system"], "You are terse.", "{name}");
        let result_block = second["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .flat_map(|m| m["content"].as_array().cloned().unwrap_or_default())
            .find(|b| b["type"] == "tool_result")
            .expect("a tool_result block");
        assert_eq!(
            (
                result_block["tool_use_id"].as_str(),
                result_block["content"].as_str()
            ),
            (Some("toolu_1"), Some("42")),
            "{name}"
        );
    }
}
