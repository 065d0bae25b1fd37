//! Discovery benchmark (BENCHMARKS.md "Discovery"): `Services::discover_workflows` latency
//! over 10,000 workflows (5 nodes and 4 edges each, 2,000 finished executions). Run:
//! `cargo bench -p agentry-service --bench discovery` (add `-- --postgres` to also run on the
//! PostgreSQL named by AGENTRY_TEST_POSTGRES_URL).
//!
//! The data is written through the store in batches of 500 workflows per transaction (the
//! service would take minutes to create 90,000 rows one request at a time); discovery itself
//! runs exactly as the route and the tool run it.

use agentry_service::Services;
use agentry_service::discovery::{DiscoverIn, DiscoverScope};
use agentry_service::registry::Scope;
use agentry_store::edges::EdgeFields;
use agentry_store::nodes::NodeFields;
use agentry_store::workflows::WorkflowFields;
use agentry_store::{Db, executions, testing, users};
use serde_json::{Value, json};
use std::time::Instant;

const WORKFLOWS: usize = 10_000;
const BATCH: usize = 500;
const SAMPLES: usize = 100;

fn summary(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    (pct(0.5), pct(0.99))
}

fn node(id: &str, ct: &str, config: Value) -> NodeFields {
    NodeFields {
        node_id: id.into(),
        label: String::new(),
        component_type: ct.into(),
        is_entry_point: false,
        interrupt_before: false,
        interrupt_after: false,
        position_x: 0,
        position_y: 0,
        config,
        subworkflow_id: None,
        code_block_id: None,
    }
}

fn edge(a: &str, b: &str, label: &str) -> EdgeFields {
    EdgeFields {
        source_node_id: a.into(),
        target_node_id: b.into(),
        edge_type: "direct".into(),
        edge_label: label.into(),
        condition_mapping: None,
        condition_value: String::new(),
        priority: 0,
    }
}

const TRIGGERS: [&str; 4] = [
    "trigger_chat",
    "trigger_manual",
    "trigger_webhook",
    "trigger_schedule",
];
const STEPS: [&str; 3] = ["agent", "code", "switch"];
const TOOLS: [&str; 4] = ["web_search", "calculator", "memory_read", "http_request"];
const WORDS: [&str; 6] = [
    "invoice", "support", "report", "deploy", "summary", "triage",
];

/// Two users; workflows alternate between them, every tenth public.
async fn seed(db: &Db) -> (i64, i64) {
    let mut tx = db.begin().await.expect("tx");
    let a = users::insert(&mut tx, "bench-a", "x", "normal", 1)
        .await
        .expect("user")
        .expect("a")
        .id;
    let b = users::insert(&mut tx, "bench-b", "x", "normal", 1)
        .await
        .expect("user")
        .expect("b")
        .id;
    tx.commit().await.expect("commit");
    let started = Instant::now();
    for chunk in 0..WORKFLOWS / BATCH {
        let mut tx = db.begin().await.expect("tx");
        for j in 0..BATCH {
            let i = chunk * BATCH + j;
            let owner = if i.is_multiple_of(2) { a } else { b };
            let word = WORDS[i % WORDS.len()];
            let f = WorkflowFields {
                name: format!("Workflow {i} {word}"),
                description: format!("Handles {word} work for team {}", i % 17),
                is_active: true,
                is_public: i.is_multiple_of(10),
                is_default: false,
                is_callable: true,
                tags: Some(vec![word.into(), format!("t{}", i % 7)]),
                error_handler_workflow_id: None,
                forked_from_id: None,
                max_execution_seconds: 600,
                input_schema: None,
                output_schema: None,
            };
            let w = agentry_store::workflows::insert_unique_slug(
                &mut tx,
                owner,
                &format!("wf-{i}"),
                1,
                &f,
                1,
            )
            .await
            .expect("workflow");
            let nodes = [
                node("t", TRIGGERS[i % 4], json!({})),
                node(
                    "s",
                    STEPS[i % 3],
                    json!({"system_prompt": "You help with things.", "extra_config": {"conversation_memory": i.is_multiple_of(5)}}),
                ),
                node(
                    "m",
                    "ai_model",
                    json!({"model_name": if i.is_multiple_of(2) { "gpt-4o-mini" } else { "claude-3-5-sonnet" }}),
                ),
                node("k", TOOLS[i % 4], json!({})),
                node("r", "reply_chat", json!({})),
            ];
            for n in &nodes {
                agentry_store::nodes::insert(&mut tx, w.id, n, 1)
                    .await
                    .expect("node");
            }
            for e in [
                edge("t", "s", ""),
                edge("m", "s", "llm"),
                edge("k", "s", "tool"),
                edge("s", "r", ""),
            ] {
                agentry_store::edges::insert(&mut tx, w.id, &e)
                    .await
                    .expect("edge");
            }
            if i.is_multiple_of(10) {
                for (k, status) in ["completed", "failed"].iter().enumerate() {
                    let id = format!("bench-{i}-{k}");
                    let empty = json!({});
                    executions::insert(
                        &mut tx,
                        executions::NewExecution {
                            id: &id,
                            workflow_id: w.id,
                            workflow_slug: &w.slug,
                            user_profile_id: None,
                            trigger_node_id: None,
                            trigger_payload: &empty,
                            snapshot: &empty,
                            state: &empty,
                            book: &empty,
                            parent_execution_id: None,
                            parent_node_id: "",
                            root_execution_id: &id,
                            spawn_key: None,
                            now: 1,
                        },
                    )
                    .await
                    .expect("execution");
                    executions::save(&mut tx, &id, "running", &empty, &empty, Some(10))
                        .await
                        .expect("save");
                    let totals = executions::Totals {
                        cost_usd: 0.01,
                        ..Default::default()
                    };
                    executions::finish(&mut tx, &id, status, None, "", totals, 10 + i as i64)
                        .await
                        .expect("finish");
                }
            }
        }
        tx.commit().await.expect("commit");
    }
    eprintln!(
        "seeded {WORKFLOWS} workflows in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    (a, b)
}

async fn measure(s: &Services, backend: &str, label: &str, scope: Scope, body: Value) {
    let mut ms = vec![];
    let mut total = 0;
    for _ in 0..SAMPLES {
        let input: DiscoverIn = serde_json::from_value(body.clone()).expect("input");
        let t = Instant::now();
        let out = s
            .discover_workflows(
                DiscoverScope {
                    scope,
                    exclude_id: Some(1),
                    exclude_slug: None,
                },
                input,
            )
            .await
            .expect("discover");
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        total = out.total;
    }
    let (p50, p99) = summary(ms);
    println!("| {backend} | {label} ({total} candidates) | p50 {p50:.1} ms | p99 {p99:.1} ms |");
}

async fn run(db: Db, backend: &str) {
    let (a, _) = seed(&db).await;
    let s = Services::new(db);
    let caps = json!({"requirements": {"triggers": ["chat"], "node_types": ["agent"],
        "tools": ["web_search"], "tags": ["support"]}});
    let admin = Scope {
        user_id: a,
        is_admin: true,
    };
    measure(
        &s,
        backend,
        "capabilities + tags, admin scope",
        admin,
        caps.clone(),
    )
    .await;
    measure(
        &s,
        backend,
        "capabilities + tags, one user's own + public",
        Scope::owner(a),
        caps,
    )
    .await;
    measure(
        &s,
        backend,
        "query only (\"invoice reports\"), admin scope",
        admin,
        json!({"query": "invoice reports"}),
    )
    .await;
    measure(
        &s,
        backend,
        "empty requirements, admin scope",
        admin,
        json!({}),
    )
    .await;
}

fn main() {
    let postgres = std::env::args().any(|a| a == "--postgres");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        println!("| backend | scenario | p50 | p99 |\n|---|---|---|---|");
        let t = testing::sqlite().await;
        run(t.db.clone(), "sqlite").await;
        if postgres {
            let Some(pg) = testing::postgres("discovery bench").await else {
                return;
            };
            run(pg.db.clone(), "postgres").await;
        }
    });
}
