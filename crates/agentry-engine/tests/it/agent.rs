//! The agent node end to end: a real worker pool on each backend, a real HTTP client talking
//! to the fake OpenAI-compatible provider server, checkpoints in the database.

use agentry_engine::node::NodeEnv;
use agentry_engine::orchestrator::Orchestrator;
use agentry_engine::worker::spawn_workers;
use agentry_llm::fake::{FakeProvider, Reply};
use agentry_service::{Caller, Services};
use agentry_store::{executions, testing};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

pub(crate) struct World {
    pub services: Services,
    pub caller: Caller,
    pub fake: FakeProvider,
    pub orch: Arc<Orchestrator>,
    pub stop: tokio::sync::watch::Sender<bool>,
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

pub(crate) async fn world(db: agentry_store::Db) -> World {
    world_with_workers(db, 2).await
}

/// A world whose worker pool has `workers` workers (0: start them later from `orch`).
pub(crate) async fn world_with_workers(db: agentry_store::Db, workers: usize) -> World {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let services = Services::new(db);
    let key = services
        .setup("admin", "password1")
        .await
        .expect("setup")
        .key;
    let caller = services.authenticate(&key).await.expect("auth");
    let fake = FakeProvider::start().await;
    let (stop, rx) = tokio::sync::watch::channel(false);
    let orch = Arc::new(Orchestrator::new(
        services.clone(),
        NodeEnv {
            // Workflow ids repeat between tests and backends; workspaces must not.
            workspace_root: Some(std::env::temp_dir().join(format!(
                "agentry-test-workspaces-{}",
                ulid::Ulid::generate()
            ))),
            ..Default::default()
        },
        "test".into(),
    ));
    if workers > 0 {
        spawn_workers(orch.clone(), workers, rx);
    }
    World {
        services,
        caller,
        fake,
        orch,
        stop,
    }
}

/// trigger → agent (model `gpt-4o-mini` on the fake provider) with the given tool nodes.
pub(crate) async fn agent_workflow(
    w: &World,
    name: &str,
    tools: &[&str],
    agent_extra: Value,
) -> String {
    let s = &w.services;
    let cred = s
        .create_credential(&w.caller, serde_json::from_value(json!({
            "name": format!("fake-{name}"), "credential_type": "llm",
            "detail": {"provider_type": "openai_compatible", "api_key": "sk-test-123456", "base_url": w.fake.base_url()}
        })).expect("credential in"))
        .await
        .expect("credential");
    let wf = s
        .create_workflow(
            &w.caller,
            serde_json::from_value(json!({"name": name})).expect("wf in"),
        )
        .await
        .expect("workflow");
    let node = |v: Value| serde_json::from_value(v).expect("node in");
    let edge = |v: Value| serde_json::from_value(v).expect("edge in");
    s.create_node(
        &w.caller,
        &wf.slug,
        node(json!({"node_id": "t", "component_type": "trigger_manual"})),
    )
    .await
    .expect("t");
    s.create_node(
        &w.caller,
        &wf.slug,
        node(json!({"node_id": "m", "component_type": "ai_model",
        "config": {"llm_credential_id": cred.id, "model_name": "gpt-4o-mini"}})),
    )
    .await
    .expect("m");
    s.create_node(
        &w.caller,
        &wf.slug,
        node(json!({"node_id": "a", "component_type": "agent",
        "config": {"system_prompt": "You are terse.", "extra_config": agent_extra}})),
    )
    .await
    .expect("a");
    s.create_edge(
        &w.caller,
        &wf.slug,
        edge(json!({"source_node_id": "t", "target_node_id": "a"})),
    )
    .await
    .expect("t-a");
    s.create_edge(
        &w.caller,
        &wf.slug,
        edge(json!({"source_node_id": "m", "target_node_id": "a", "edge_label": "llm"})),
    )
    .await
    .expect("m-a");
    for (i, t) in tools.iter().enumerate() {
        let id = format!("tool{i}");
        s.create_node(
            &w.caller,
            &wf.slug,
            node(json!({"node_id": id, "component_type": t})),
        )
        .await
        .expect("tool");
        s.create_edge(
            &w.caller,
            &wf.slug,
            edge(json!({"source_node_id": id, "target_node_id": "a", "edge_label": "tool"})),
        )
        .await
        .expect("tool edge");
    }
    wf.slug
}

pub(crate) async fn wait_for(w: &World, id: &str, want: &[&str]) -> executions::ExecutionRow {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let row = executions::get(&w.services.db, id)
            .await
            .expect("get")
            .expect("exists");
        if want.contains(&row.status.as_str()) {
            return row;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "execution {id} stuck in {}",
            row.status
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub(crate) fn messages(body: &Value) -> Vec<Value> {
    body["messages"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn parallel_tool_calls_usage_and_cost() {
    for t in testing::all("parallel_tool_calls_usage_and_cost").await {
        let w = world(t.db.clone()).await;
        let slug = agent_workflow(&w, "calc", &["calculator"], json!({})).await;
        w.fake.push(
            Reply::tool_calls(vec![
                ("call_1", "calculator", json!({"expression": "2+2"})),
                ("call_2", "calculator", json!({"expression": "1/0"})),
            ])
            .usage(100, 20),
        );
        w.fake
            .push(Reply::text("4, and 1/0 is undefined").usage(150, 30));
        let id = w
            .services
            .execute(&w.caller, &slug, "compute".into(), None)
            .await
            .expect("execute");
        let row = wait_for(&w, &id, &["completed", "failed"]).await;
        assert_eq!(row.status, "completed", "{}", row.error_message);
        let full = executions::get_full(&w.services.db, &id, false)
            .await
            .expect("get")
            .expect("row");
        assert_eq!(
            full.final_output.map(|j| j.0),
            Some(json!({"output": "4, and 1/0 is undefined"}))
        );
        assert_eq!(
            (
                row.total_input_tokens,
                row.total_output_tokens,
                row.total_tokens
            ),
            (250, 50, 300)
        );
        assert_eq!((row.llm_calls, row.tool_invocations), (2, 2));
        let expected_cost = (250.0 * 0.15 + 50.0 * 0.60) / 1_000_000.0;
        assert!(
            (row.total_cost_usd - expected_cost).abs() < 1e-12,
            "{} vs {expected_cost}",
            row.total_cost_usd
        );

        let bodies = w.fake.chat_bodies();
        assert_eq!(bodies.len(), 2);
        assert_eq!(bodies[0]["model"], "gpt-4o-mini");
        assert_eq!(bodies[0]["tools"][0]["function"]["name"], "calculator");
        let first = messages(&bodies[0]);
        assert_eq!(
            first[0],
            json!({"role": "system", "content": "You are terse."})
        );
        assert_eq!(first.last().expect("user")["content"], "compute");
        // The second call carries the first conversation, the tool calls and both answers in order;
        // the tool error went back to the model as a message, not an execution failure.
        let second = messages(&bodies[1]);
        assert_eq!(&second[..first.len()], &first[..]);
        let tool_msgs: Vec<&Value> = second.iter().filter(|m| m["role"] == "tool").collect();
        assert_eq!(tool_msgs.len(), 2);
        assert_eq!(
            (
                tool_msgs[0]["tool_call_id"].as_str(),
                tool_msgs[0]["content"].as_str()
            ),
            (Some("call_1"), Some("4"))
        );
        assert_eq!(tool_msgs[1]["content"], "Error: division by zero");
    }
}

#[tokio::test]
async fn ask_human_suspends_and_resumes_where_it_stopped() {
    for t in testing::all("ask_human_suspends_and_resumes_where_it_stopped").await {
        let w = world(t.db.clone()).await;
        let slug = agent_workflow(&w, "asker", &["ask_human"], json!({})).await;
        w.fake.push(
            Reply::tool_calls(vec![(
                "call_q",
                "ask_human",
                json!({"question": "Deploy to prod?"}),
            )])
            .usage(10, 5),
        );
        w.fake.push(Reply::text("Deploying.").usage(20, 5));
        let id = w
            .services
            .execute(&w.caller, &slug, "ship it".into(), None)
            .await
            .expect("execute");
        wait_for(&w, &id, &["interrupted"]).await;
        let detail = w
            .services
            .get_execution(&w.caller, &id)
            .await
            .expect("detail");
        let pending = detail.pending_confirmation.expect("pending confirmation");
        assert_eq!(
            (pending.node_id.as_str(), pending.prompt.as_str()),
            ("a", "Deploy to prod?")
        );
        assert_eq!(
            w.fake.chat_bodies().len(),
            1,
            "the worker parked the agent after one model call"
        );

        w.services
            .resume_execution(&w.caller, &id, "yes, go".into())
            .await
            .expect("resume");
        let row = wait_for(&w, &id, &["completed", "failed"]).await;
        assert_eq!(row.status, "completed", "{}", row.error_message);
        assert_eq!(
            (row.total_input_tokens, row.llm_calls, row.tool_invocations),
            (30, 2, 1)
        );
        let bodies = w.fake.chat_bodies();
        let (first, second) = (messages(&bodies[0]), messages(&bodies[1]));
        // Resumed exactly where it stopped: same history, the assistant's call, the answer.
        assert_eq!(&second[..first.len()], &first[..]);
        assert_eq!(second.len(), first.len() + 2);
        assert_eq!(second[first.len() + 1]["content"], "yes, go");
        let logs = w
            .services
            .get_execution(&w.caller, &id)
            .await
            .expect("detail")
            .logs;
        let statuses: Vec<&str> = logs
            .iter()
            .filter(|l| l.node_id == "a")
            .map(|l| l.status.as_str())
            .collect();
        assert_eq!(statuses, vec!["waiting", "completed"]);
    }
}

#[tokio::test]
async fn max_steps_fails_the_node() {
    for t in testing::all("max_steps_fails_the_node").await {
        let w = world(t.db.clone()).await;
        let slug = agent_workflow(&w, "looper", &["calculator"], json!({"max_steps": 2})).await;
        for i in 0..2 {
            w.fake.push(
                Reply::tool_calls(vec![(
                    format!("c{i}"),
                    "calculator",
                    json!({"expression": "1+1"}),
                )])
                .usage(1, 1),
            );
        }
        let id = w
            .services
            .execute(&w.caller, &slug, "go".into(), None)
            .await
            .expect("execute");
        let row = wait_for(&w, &id, &["completed", "failed"]).await;
        assert_eq!(row.status, "failed");
        assert_eq!(
            row.error_message,
            "Node a: Agent 'a' reached max_steps (2) without a final answer"
        );
    }
}

#[tokio::test]
async fn a_missing_model_is_a_clear_error() {
    for t in testing::all("a_missing_model_is_a_clear_error").await {
        let w = world(t.db.clone()).await;
        let s = &w.services;
        let wf = s
            .create_workflow(
                &w.caller,
                serde_json::from_value(json!({"name": "nomodel"})).expect("in"),
            )
            .await
            .expect("wf");
        s.create_node(
            &w.caller,
            &wf.slug,
            serde_json::from_value(json!({"node_id": "t", "component_type": "trigger_manual"}))
                .expect("in"),
        )
        .await
        .expect("t");
        s.create_node(
            &w.caller,
            &wf.slug,
            serde_json::from_value(json!({"node_id": "a", "component_type": "agent"})).expect("in"),
        )
        .await
        .expect("a");
        s.create_edge(
            &w.caller,
            &wf.slug,
            serde_json::from_value(json!({"source_node_id": "t", "target_node_id": "a"}))
                .expect("in"),
        )
        .await
        .expect("e");
        let id = s
            .execute(&w.caller, &wf.slug, "hi".into(), None)
            .await
            .expect("execute");
        let row = wait_for(&w, &id, &["completed", "failed"]).await;
        assert_eq!(
            row.error_message,
            "Node a: Node 'a' has no connected ai_model node via edge_label='llm'."
        );
    }
}

#[tokio::test]
async fn conversation_memory_spans_executions_and_shows_in_chat_history() {
    for t in testing::all("conversation_memory_spans_executions").await {
        let w = world(t.db.clone()).await;
        let slug = agent_workflow(&w, "memo", &[], json!({"conversation_memory": true})).await;
        // A chat trigger next to the manual one: chats use the user's durable thread.
        let s = &w.services;
        s.create_node(
            &w.caller,
            &slug,
            serde_json::from_value(json!({"node_id": "c", "component_type": "trigger_chat"}))
                .expect("in"),
        )
        .await
        .expect("c");
        s.create_edge(
            &w.caller,
            &slug,
            serde_json::from_value(json!({"source_node_id": "c", "target_node_id": "a"}))
                .expect("in"),
        )
        .await
        .expect("c-a");
        w.fake
            .push(Reply::text("Nice to meet you, Ada.").usage(5, 5));
        w.fake.push(Reply::text("Your name is Ada.").usage(9, 5));
        let first = s
            .chat(&w.caller, &slug, "My name is Ada.".into(), None)
            .await
            .expect("chat 1");
        assert_eq!(
            wait_for(&w, &first, &["completed", "failed"]).await.status,
            "completed"
        );
        let second = s
            .chat(&w.caller, &slug, "What is my name?".into(), None)
            .await
            .expect("chat 2");
        assert_eq!(
            wait_for(&w, &second, &["completed", "failed"]).await.status,
            "completed"
        );

        let bodies = w.fake.chat_bodies();
        let texts: Vec<String> = messages(&bodies[1])
            .iter()
            .map(|m| m["content"].as_str().unwrap_or("").to_string())
            .collect();
        assert!(
            texts.contains(&"My name is Ada.".to_string())
                && texts.contains(&"Nice to meet you, Ada.".to_string()),
            "{texts:?}"
        );
        assert_eq!(texts.last().map(String::as_str), Some("What is my name?"));
        let system_count = messages(&bodies[1])
            .iter()
            .filter(|m| m["role"] == "system")
            .count();
        assert_eq!(
            system_count, 1,
            "the system prompt is not repeated per turn"
        );

        let history = s
            .chat_history(&w.caller, &slug, None, None)
            .await
            .expect("history");
        let got: Vec<(String, String)> = history
            .messages
            .iter()
            .map(|m| (m.role.clone(), m.text.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("user".to_string(), "My name is Ada.".to_string()),
                (
                    "assistant".to_string(),
                    "Nice to meet you, Ada.".to_string()
                ),
                ("user".to_string(), "What is my name?".to_string()),
                ("assistant".to_string(), "Your name is Ada.".to_string()),
            ]
        );
        assert_eq!(
            history.thread_id,
            format!(
                "{}:{}",
                w.caller.user_id,
                s.readable_workflow(&w.caller, &slug).await.expect("wf").id
            )
        );
        let two = s
            .chat_history(&w.caller, &slug, Some(2), None)
            .await
            .expect("history");
        assert!(two.has_more);
        assert_eq!(two.messages.len(), 2);
        s.delete_chat_history(&w.caller, &slug)
            .await
            .expect("delete");
        assert!(
            s.chat_history(&w.caller, &slug, None, None)
                .await
                .expect("history")
                .messages
                .is_empty()
        );
    }
}

#[tokio::test]
async fn each_turns_text_is_a_chat_message_once() {
    for t in testing::all("agent_chat_messages").await {
        let w = world(t.db.clone()).await;
        let name = t.db.backend_name();
        let slug = agent_workflow(&w, "chatty", &["calculator"], json!({})).await;
        let calc = |id: &str| {
            Reply::tool_calls(vec![(id, "calculator", json!({"expression": "2+2"}))])
                .with_text("Working on it")
        };
        w.fake.push(calc("c1"));
        w.fake.push(calc("c2"));
        w.fake.push(Reply::text("It is 4."));
        let id = w
            .services
            .execute(&w.caller, &slug, "2+2?".into(), None)
            .await
            .expect("execute");
        let row = wait_for(&w, &id, &["completed", "failed"]).await;
        assert_eq!(row.status, "completed", "{name}: {}", row.error_message);
        let chat: Vec<Value> =
            agentry_store::events::list_after(&w.services.db, &format!("execution:{id}"), 0, 1000)
                .await
                .expect("events")
                .into_iter()
                .filter(|e| e.kind == "chat_message")
                .map(|e| e.data.0)
                .collect();
        assert_eq!(
            chat,
            [
                json!({"text": "Working on it", "node_id": "a"}),
                json!({"text": "It is 4.", "node_id": "a"})
            ],
            "{name}: the repeated turn text is sent once"
        );
    }
}
