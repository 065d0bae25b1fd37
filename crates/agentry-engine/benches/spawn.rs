//! spawn_and_await benchmarks (BENCHMARKS.md "Delegation"). Run:
//! `cargo bench -p agentry-engine --bench spawn` (add `-- --postgres` to also run on the
//! PostgreSQL named by AGENTRY_TEST_POSTGRES_URL).
//!
//! * **Spawn → resume overhead**: a parent agent whose first answer spawns one trivial child
//!   (trigger → reply) and whose second answer ends the run, against the same parent whose
//!   first answer calls `calculator` instead. Both make two model calls to the fake provider,
//!   so the difference of their durations is what the spawn costs: creating the child, parking
//!   the parent, running the child, reporting its result, waking the parent and resuming it.
//! * **Parked parents**: 2,000 parents parked on children that wait an hour; what the process
//!   holds for them (resident memory before and after, live tokio tasks) and what the database
//!   holds (rows and, on SQLite, file growth).

use agentry_engine::node::NodeEnv;
use agentry_engine::orchestrator::Orchestrator;
use agentry_engine::worker::spawn_workers;
use agentry_llm::fake::{FakeProvider, Reply};
use agentry_service::{Caller, Services};
use agentry_store::{executions, testing};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// Counts the bytes live on the Rust heap, so parked parents' footprint in this process is
/// measured exactly (RSS also moves with allocator retention and SQLite's own page cache,
/// which C allocates outside this counter and bounds by its `cache_size`).
#[global_allocator]
static GLOBAL: &stats_alloc::StatsAlloc<std::alloc::System> = &stats_alloc::INSTRUMENTED_SYSTEM;

fn live_heap() -> i64 {
    // `bytes_allocated` / `bytes_deallocated` already include reallocations' growth and
    // shrinkage (`bytes_reallocated` is that same net change again).
    let s = GLOBAL.stats();
    s.bytes_allocated as i64 - s.bytes_deallocated as i64
}

const RUNS: usize = 60;
const PARKED: usize = 2000;

struct Bench {
    services: Services,
    caller: Caller,
    fake: FakeProvider,
    cred: i64,
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
    let fake = FakeProvider::start().await;
    let cred = services
        .create_credential(&caller, serde_json::from_value(json!({
            "name": "fake", "credential_type": "llm",
            "detail": {"provider_type": "openai_compatible", "api_key": "sk-bench-123456", "base_url": fake.base_url()}
        })).expect("in"))
        .await
        .expect("credential")
        .id;
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
        fake,
        cred,
        _stop: stop,
    }
}

fn summary(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    (pct(0.5), pct(0.99))
}

async fn workflow(b: &Bench, name: &str, nodes: Vec<Value>, edges: Vec<Value>) -> String {
    let s = &b.services;
    let wf = s
        .create_workflow(
            &b.caller,
            serde_json::from_value(json!({"name": name})).expect("in"),
        )
        .await
        .expect("wf");
    for n in nodes {
        s.create_node(&b.caller, &wf.slug, serde_json::from_value(n).expect("in"))
            .await
            .expect("node");
    }
    for e in edges {
        s.create_edge(&b.caller, &wf.slug, serde_json::from_value(e).expect("in"))
            .await
            .expect("edge");
    }
    wf.slug
}

/// trigger → agent with one tool node of type `tool`.
async fn parent(b: &Bench, name: &str, tool: &str) -> String {
    workflow(
        b,
        name,
        vec![
            json!({"node_id": "t", "component_type": "trigger_manual"}),
            json!({"node_id": "m", "component_type": "ai_model",
                "config": {"llm_credential_id": b.cred, "model_name": "gpt-4o-mini"}}),
            json!({"node_id": "a", "component_type": "agent"}),
            json!({"node_id": "x", "component_type": tool}),
        ],
        vec![
            json!({"source_node_id": "t", "target_node_id": "a"}),
            json!({"source_node_id": "m", "target_node_id": "a", "edge_label": "llm"}),
            json!({"source_node_id": "x", "target_node_id": "a", "edge_label": "tool"}),
        ],
    )
    .await
}

/// trigger_workflow → the given steps in a chain.
async fn child(b: &Bench, name: &str, steps: Vec<Value>) -> String {
    let mut nodes = vec![json!({"node_id": "t", "component_type": "trigger_workflow"})];
    let mut edges = vec![];
    let mut prev = "t".to_string();
    for (i, mut step) in steps.into_iter().enumerate() {
        let id = format!("s{i}");
        step["node_id"] = json!(id);
        nodes.push(step);
        edges.push(json!({"source_node_id": prev, "target_node_id": id}));
        prev = id;
    }
    workflow(b, name, nodes, edges).await
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
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn duration(row: &executions::ExecutionRow) -> f64 {
    (row.completed_at.unwrap_or(0) - row.started_at.unwrap_or(0)) as f64
}

async fn spawn_overhead(b: &Bench, backend: &str) {
    let echo = child(
        b,
        "echo",
        vec![
            json!({"component_type": "reply_chat", "config": {"extra_config": {"message": "ok"}}}),
        ],
    )
    .await;
    let spawner = parent(b, "spawner", "spawn_and_await").await;
    let plain = parent(b, "plain", "calculator").await;
    let (mut with_spawn, mut without) = (vec![], vec![]);
    for _ in 0..RUNS {
        b.fake.push(Reply::tool_calls(vec![(
            "s",
            "spawn_and_await",
            json!({"tasks": [{"workflow_slug": echo, "input_text": "x"}]}),
        )]));
        b.fake.push(Reply::text("done"));
        with_spawn.push(duration(&run_to_end(b, &spawner).await));
        b.fake.push(Reply::tool_calls(vec![(
            "c",
            "calculator",
            json!({"expression": "1+1"}),
        )]));
        b.fake.push(Reply::text("done"));
        without.push(duration(&run_to_end(b, &plain).await));
    }
    let (s50, s99) = summary(with_spawn);
    let (p50, p99) = summary(without);
    println!(
        "| {backend} | parent with one spawned trivial child vs one calculator call ({RUNS} runs each) | spawn p50 {s50:.1} ms, p99 {s99:.1} ms | calculator p50 {p50:.1} ms, p99 {p99:.1} ms | overhead p50 {:.1} ms |",
        s50 - p50
    );
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn file_kib(path: Option<&std::path::Path>) -> u64 {
    let Some(p) = path else { return 0 };
    let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let wal = p.with_extension("db-wal");
    (size(p) + size(&wal)) / 1024
}

async fn parked_parents(b: &Bench, backend: &str, db_file: Option<&std::path::Path>) {
    let slow = child(
        b,
        "slow",
        vec![
            json!({"component_type": "wait", "config": {"extra_config": {"duration": 3600}}}),
            json!({"component_type": "reply_chat", "config": {"extra_config": {"message": "late"}}}),
        ],
    )
    .await;
    let spawner = parent(b, "parker", "spawn_and_await").await;
    let target = slow.clone();
    b.fake.respond_with(move |_| {
        Reply::tool_calls(vec![(
            "s",
            "spawn_and_await",
            json!({"tasks": [{"workflow_slug": target, "input_text": "x"}]}),
        )])
    });
    b.fake.clear_requests();
    let heap_before = live_heap();
    let rss_before = rss_kib();
    let file_before = file_kib(db_file);
    let tasks_before = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    // Two halves: a footprint that grows by the same amount in each is per parent; one that
    // grows only in the first is warm-up (caches and buffers reaching their size).
    let mut heap_marks = vec![heap_before];
    for half in 1..=2 {
        for _ in 0..PARKED / 2 {
            b.services
                .execute(&b.caller, &spawner, "go".into(), None)
                .await
                .expect("execute");
        }
        // Until every parent has parked and every child sits in its delayed step.
        loop {
            let waiting = executions::list(
                &b.services.db,
                &executions::ExecutionFilter {
                    workflow_slug: Some(slow.clone()),
                    status: Some("running".into()),
                    ..Default::default()
                },
                agentry_core::page::PageRequest {
                    limit: 1,
                    offset: 0,
                },
            )
            .await
            .expect("list")
            .1;
            let queued = agentry_store::jobs::queue_depth(&b.services.db, agentry_store::now_ms())
                .await
                .unwrap_or(1);
            if waiting as usize == half * PARKED / 2 && queued == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        b.fake.clear_requests();
        heap_marks.push(live_heap());
    }
    println!(
        "| {backend} | live Rust heap while parking: first {} parents {:+.1} KiB, next {} {:+.1} KiB |",
        PARKED / 2,
        (heap_marks[1] - heap_marks[0]) as f64 / 1024.0,
        PARKED / 2,
        (heap_marks[2] - heap_marks[1]) as f64 / 1024.0,
    );
    b.fake.clear_requests();
    let tasks_after = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    let heap_after = live_heap();
    println!(
        "| {backend} | {PARKED} parents parked | live Rust heap {:+.1} KiB in all ({:+.0} bytes per parent) |",
        (heap_after - heap_before) as f64 / 1024.0,
        (heap_after - heap_before) as f64 / PARKED as f64,
    );
    let rss_after = rss_kib();
    let file_after = file_kib(db_file);
    println!(
        "| {backend} | {PARKED} parents parked on running children | process RSS +{:.1} MiB ({:.2} KiB per parent, allocator retention included) | live tokio tasks {tasks_before} → {tasks_after} | database file +{:.1} MiB ({:.1} KiB per parent and its child) |",
        (rss_after.saturating_sub(rss_before)) as f64 / 1024.0,
        rss_after.saturating_sub(rss_before) as f64 / PARKED as f64,
        file_after.saturating_sub(file_before) as f64 / 1024.0,
        file_after.saturating_sub(file_before) as f64 / PARKED as f64,
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
        let t = testing::sqlite().await;
        let b = start(t.db.clone()).await;
        spawn_overhead(&b, "sqlite").await;
        let file = t
            .url
            .strip_prefix("sqlite://")
            .map(std::path::PathBuf::from);
        parked_parents(&b, "sqlite", file.as_deref()).await;
        if postgres {
            let Some(pg) = testing::postgres("spawn bench").await else {
                return;
            };
            let b = start(pg.db.clone()).await;
            spawn_overhead(&b, "postgres").await;
            parked_parents(&b, "postgres", None).await;
        }
    });
}
