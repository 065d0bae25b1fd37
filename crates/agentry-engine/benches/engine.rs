//! Engine benchmarks (BENCHMARKS.md "Engine"): per-node orchestration overhead, executions per
//! second with 2 workers, and the cost of a `code` node. Run:
//! `cargo bench -p agentry-engine --bench engine` (add `-- --postgres` to also run on the
//! PostgreSQL named by AGENTRY_TEST_POSTGRES_URL).
//!
//! Everything runs in this process: a fresh database, the service layer, and a worker pool of 2
//! (as `agentry serve --workers 2`); executions are started through the service (no HTTP).

use agentry_engine::node::NodeEnv;
use agentry_engine::orchestrator::Orchestrator;
use agentry_engine::worker::spawn_workers;
use agentry_service::{Caller, Services};
use agentry_store::{executions, testing};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Bench {
    services: Services,
    caller: Caller,
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
        _stop: stop,
    }
}

/// trigger → n nodes in a chain; `node(i)` gives each node's (type, extra_config).
async fn chain(
    b: &Bench,
    name: &str,
    n: usize,
    node: impl Fn(usize) -> (&'static str, Value),
) -> String {
    let s = &b.services;
    let wf = s
        .create_workflow(
            &b.caller,
            serde_json::from_value(json!({"name": name})).expect("in"),
        )
        .await
        .expect("wf");
    s.create_node(
        &b.caller,
        &wf.slug,
        serde_json::from_value(json!({"node_id": "t", "component_type": "trigger_manual"}))
            .expect("in"),
    )
    .await
    .expect("t");
    let mut prev = "t".to_string();
    for i in 0..n {
        let (ct, extra) = node(i);
        let id = format!("n{i}");
        s.create_node(
            &b.caller,
            &wf.slug,
            serde_json::from_value(
                json!({"node_id": id, "component_type": ct, "config": {"extra_config": extra}}),
            )
            .expect("in"),
        )
        .await
        .expect("node");
        s.create_edge(
            &b.caller,
            &wf.slug,
            serde_json::from_value(json!({"source_node_id": prev, "target_node_id": id}))
                .expect("in"),
        )
        .await
        .expect("edge");
        prev = id;
    }
    wf.slug
}

async fn run_to_end(b: &Bench, slug: &str) -> executions::ExecutionRow {
    let id = b
        .services
        .execute(&b.caller, slug, "bench".into(), None)
        .await
        .expect("execute");
    wait(b, &id).await
}

async fn wait(b: &Bench, id: &str) -> executions::ExecutionRow {
    loop {
        let row = executions::get(&b.services.db, id)
            .await
            .expect("get")
            .expect("row");
        if matches!(row.status.as_str(), "completed" | "failed" | "cancelled") {
            assert_eq!(row.status, "completed", "{}", row.error_message);
            return row;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn summary(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    (
        pct(&v, 0.5),
        pct(&v, 0.99),
        v.iter().sum::<f64>() / v.len() as f64,
    )
}

async fn per_node_overhead(b: &Bench, backend: &str) {
    let slug = chain(b, "linear20", 20, |i| {
        (
            "text_template",
            json!({"template": format!("{{{{ trigger.text }}}} {i}")}),
        )
    })
    .await;
    for _ in 0..3 {
        run_to_end(b, &slug).await; // warm-up
    }
    let runs = 30;
    let mut per_node_ms = vec![];
    for _ in 0..runs {
        let row = run_to_end(b, &slug).await;
        let wall = (row.completed_at.unwrap_or(0) - row.started_at.unwrap_or(0)) as f64;
        per_node_ms.push(wall / 20.0);
    }
    let (p50, p99, mean) = summary(per_node_ms);
    println!(
        "| {backend} | per-node overhead, 20-node text_template chain, {runs} runs | p50 {p50:.2} ms | p99 {p99:.2} ms | mean {mean:.2} ms |"
    );
}

async fn throughput(b: &Bench, backend: &str) {
    let slug = chain(b, "trivial3", 3, |i| {
        ("text_template", json!({"template": format!("step {i}")}))
    })
    .await;
    let n = 600;
    let started = Instant::now();
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        ids.push(
            b.services
                .execute(&b.caller, &slug, "x".into(), None)
                .await
                .expect("execute"),
        );
    }
    for id in &ids {
        wait(b, id).await;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "| {backend} | throughput, {n} trivial 3-node executions, 2 workers | {:.0} executions/s | {:.0} nodes/s | {secs:.2} s total |",
        n as f64 / secs,
        (3 * n) as f64 / secs
    );
}

async fn code_node(b: &Bench, backend: &str) {
    let slug = chain(b, "code1", 1, |_| ("code", json!({"code": "return 1"}))).await;
    let empty = chain(b, "tt1", 1, |_| ("text_template", json!({"template": "x"}))).await;
    run_to_end(b, &slug).await;
    let runs = 20;
    let mut code_ms = vec![];
    let mut base_ms = vec![];
    for _ in 0..runs {
        let c = run_to_end(b, &slug).await;
        code_ms.push((c.completed_at.unwrap_or(0) - c.started_at.unwrap_or(0)) as f64);
        let t = run_to_end(b, &empty).await;
        base_ms.push((t.completed_at.unwrap_or(0) - t.started_at.unwrap_or(0)) as f64);
    }
    let (cp50, cp99, _) = summary(code_ms);
    let (bp50, _, _) = summary(base_ms);
    println!(
        "| {backend} | one `code` node (`return 1`, bubblewrap sandbox), {runs} runs | p50 {cp50:.1} ms | p99 {cp99:.1} ms | sandbox cost ≈ {:.1} ms (p50 minus a text_template node's {bp50:.1} ms) |",
        cp50 - bp50
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
        println!("| backend | scenario | figure | figure | figure |\n|---|---|---|---|---|");
        let t = testing::sqlite().await;
        let b = start(t.db.clone()).await;
        per_node_overhead(&b, "sqlite").await;
        throughput(&b, "sqlite").await;
        code_node(&b, "sqlite").await;
        if postgres {
            let Some(pg) = testing::postgres("engine bench").await else {
                return;
            };
            let b = start(pg.db.clone()).await;
            per_node_overhead(&b, "postgres").await;
            throughput(&b, "postgres").await;
            code_node(&b, "postgres").await;
        }
    });
}
