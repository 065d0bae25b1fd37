//! Agent benchmarks (BENCHMARKS.md "Agents"): the agent loop's own cost per step with a fake
//! provider that answers at once, and the size and write time of a 50-message checkpoint. Run:
//! `cargo bench -p agentry-engine --bench agent` (add `-- --postgres` to also run on the
//! PostgreSQL named by AGENTRY_TEST_POSTGRES_URL).
//!
//! A "step" is one model call plus, except for the last, one tool batch (one `calculator`
//! call), each followed by its checkpoint. The provider round trip over local HTTP is measured
//! on its own and subtracted, so the figure is the loop's overhead: request building, the
//! checkpoint writes, tool dispatch and the tool-call events.

use agentry_engine::agent::Thread;
use agentry_engine::node::NodeEnv;
use agentry_engine::orchestrator::Orchestrator;
use agentry_engine::worker::spawn_workers;
use agentry_llm::fake::{FakeProvider, Reply};
use agentry_llm::{ChatRequest, Message, ToolCall};
use agentry_service::{Caller, Services};
use agentry_store::{checkpoints, executions, testing};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Bench {
    services: Services,
    caller: Caller,
    fake: FakeProvider,
    _stop: tokio::sync::watch::Sender<bool>,
}

async fn start(db: agentry_store::Db) -> Bench {
    let services = Services::new(db);
    let key = services
        .setup("bench", "bench-password")
        .await
        .expect("setup")
        .key;
    let caller = services.authenticate(&key).await.expect("auth");
    let (stop, rx) = tokio::sync::watch::channel(false);
    let orch = Arc::new(Orchestrator::new(
        services.clone(),
        NodeEnv::default(),
        "bench".into(),
    ));
    spawn_workers(orch, 2, rx);
    Bench {
        services,
        caller,
        fake: FakeProvider::start().await,
        _stop: stop,
    }
}

fn summary(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    (pct(0.5), pct(0.99))
}

/// trigger → agent with a calculator tool, model on the fake provider; returns (slug, cred id).
async fn agent_workflow(b: &Bench) -> (String, i64) {
    let s = &b.services;
    let cred = s
        .create_credential(&b.caller, serde_json::from_value(json!({
            "name": "fake", "credential_type": "llm",
            "detail": {"provider_type": "openai_compatible", "api_key": "sk-bench-123456", "base_url": b.fake.base_url()}
        })).expect("in"))
        .await
        .expect("credential");
    let wf = s
        .create_workflow(
            &b.caller,
            serde_json::from_value(json!({"name": "agent-bench"})).expect("in"),
        )
        .await
        .expect("wf");
    let node = |v| serde_json::from_value(v).expect("in");
    for body in [
        json!({"node_id": "t", "component_type": "trigger_manual"}),
        json!({"node_id": "m", "component_type": "ai_model", "config": {"llm_credential_id": cred.id, "model_name": "gpt-4o-mini"}}),
        json!({"node_id": "a", "component_type": "agent", "config": {"system_prompt": "Bench.", "extra_config": {"max_steps": 100}}}),
        json!({"node_id": "c", "component_type": "calculator"}),
    ] {
        s.create_node(&b.caller, &wf.slug, node(body))
            .await
            .expect("node");
    }
    for body in [
        json!({"source_node_id": "t", "target_node_id": "a"}),
        json!({"source_node_id": "m", "target_node_id": "a", "edge_label": "llm"}),
        json!({"source_node_id": "c", "target_node_id": "a", "edge_label": "tool"}),
    ] {
        s.create_edge(
            &b.caller,
            &wf.slug,
            serde_json::from_value(body).expect("in"),
        )
        .await
        .expect("edge");
    }
    (wf.slug, cred.id)
}

async fn run_to_end(b: &Bench, slug: &str) -> executions::ExecutionRow {
    let id = b
        .services
        .execute(&b.caller, slug, "go".into(), None)
        .await
        .expect("execute");
    loop {
        let row = executions::get(&b.services.db, &id)
            .await
            .expect("get")
            .expect("row");
        if matches!(row.status.as_str(), "completed" | "failed") {
            assert_eq!(row.status, "completed", "{}", row.error_message);
            return row;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn per_step_overhead(b: &Bench, backend: &str) {
    const TOOL_STEPS: usize = 20;
    const RUNS: usize = 15;
    let (slug, cred) = agent_workflow(b).await;
    // The provider's own round trip through the same client, to subtract.
    let (model, _) = b.services.chat_model(None, cred).await.expect("model");
    let req = ChatRequest::new("gpt-4o-mini", vec![Message::user("hi")]);
    let mut rtt = vec![];
    for _ in 0..200 {
        b.fake.push(Reply::text("ok").usage(10, 1));
        let t = Instant::now();
        model.chat(&req).await.expect("chat");
        rtt.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let (rtt50, _) = summary(rtt);
    let mut per_step = vec![];
    for _ in 0..RUNS {
        for i in 0..TOOL_STEPS {
            b.fake.push(
                Reply::tool_calls(vec![(
                    format!("c{i}"),
                    "calculator",
                    json!({"expression": format!("{i}*2")}),
                )])
                .usage(50, 5),
            );
        }
        b.fake.push(Reply::text("done").usage(50, 5));
        let row = run_to_end(b, &slug).await;
        let ms = (row.completed_at.unwrap_or(0) - row.started_at.unwrap_or(0)) as f64;
        per_step.push(ms / (TOOL_STEPS + 1) as f64 - rtt50);
    }
    let (p50, p99) = summary(per_step);
    println!(
        "| {backend} | agent loop overhead per step ({} model calls, {TOOL_STEPS} tool batches per run, {RUNS} runs; provider round trip {rtt50:.2} ms subtracted) | p50 {p50:.2} ms | p99 {p99:.2} ms |",
        TOOL_STEPS + 1
    );
}

/// A 50-message thread: system + user, then 24 tool round trips (an assistant message with a
/// call and the tool's answer), ending with the answer; ~300 characters of text each.
fn fifty_message_thread() -> Thread {
    let text = "The quarterly report shows revenue up 12% with costs flat; the team recommends \
                expanding the pilot to two more regions and revisiting pricing in Q3. ";
    let mut messages = vec![
        Message::system("You are a careful analyst."),
        Message::user(text.repeat(2)),
    ];
    for i in 0..24 {
        messages.push(Message::assistant_tool_calls(
            format!("Step {i}: checking the figures."),
            vec![ToolCall::new(
                format!("call_{i}"),
                "calculator",
                json!({"expression": format!("{i} * 1.12")}),
            )],
        ));
        messages.push(Message::tool(
            format!("call_{i}"),
            "calculator",
            text.repeat(2),
        ));
    }
    messages.truncate(50);
    let times = vec![agentry_store::now_ms(); messages.len()];
    Thread {
        messages,
        times,
        ..Default::default()
    }
}

async fn checkpoint_cost(db: &agentry_store::Db, backend: &str) {
    let th = fifty_message_thread();
    let data = serde_json::to_value(&th).expect("json");
    let bytes = data.to_string().len();
    let mut ms = vec![];
    for i in 0..300 {
        let t = Instant::now();
        checkpoints::save(db, &format!("bench:{}", i % 10), None, "a", &data)
            .await
            .expect("save");
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let (p50, p99) = summary(ms);
    println!(
        "| {backend} | checkpoint of a {}-message thread ({:.1} KiB JSON), 300 writes | p50 {p50:.2} ms | p99 {p99:.2} ms |",
        th.messages.len(),
        bytes as f64 / 1024.0
    );
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let postgres = std::env::args().any(|a| a == "--postgres");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        println!("| backend | scenario | figure | figure |\n|---|---|---|---|");
        let t = testing::sqlite().await;
        let b = start(t.db.clone()).await;
        per_step_overhead(&b, "sqlite").await;
        checkpoint_cost(&t.db, "sqlite").await;
        if postgres {
            let Some(pg) = testing::postgres("agent bench").await else {
                return;
            };
            let b = start(pg.db.clone()).await;
            per_step_overhead(&b, "postgres").await;
            checkpoint_cost(&pg.db, "postgres").await;
        }
    });
}
