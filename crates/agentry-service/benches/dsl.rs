//! DSL apply benchmark (BENCHMARKS.md "DSL"): `apply_dsl` end to end (parse, compile, resolve
//! models through the owner's credentials, one transaction writing the workflow, its nodes and
//! edges, the graph check, commit) for 10- and 200-step documents, plus the `validate-dsl` dry
//! run of the 200-step one. Run: `cargo bench -p agentry-service --bench dsl` (add
//! `-- --postgres` to also run on the PostgreSQL named by AGENTRY_TEST_POSTGRES_URL).
//!
//! The documents are those of `agentry-dsl`'s compile bench (code, transform, an agent with an
//! explicit model and two tools, http, wait, a switch every 10 steps); every apply creates a
//! new workflow under a fresh name, so the figure is not the slug search (`-2`, `-3`, … costs
//! one failed insert per taken candidate).

use agentry_service::{Caller, Services};
use agentry_store::testing;
use serde_json::json;
use std::fmt::Write;
use std::time::Instant;

fn document(n: usize, credential_id: i64) -> String {
    let mut s = String::from("name: Bench Flow\ntrigger: manual\ntags: [bench]\nsteps:\n");
    let mut i = 0;
    while i < n {
        if i % 10 == 9 && i + 2 < n {
            let _ = write!(
                s,
                "  - id: s{i}\n    type: switch\n    rules: [{{field: node_outputs.s{p}.output, operator: contains, value: yes, route: s{a}}}]\n    default: s{b}\n",
                p = i - 1,
                a = i + 1,
                b = i + 2
            );
            i += 1;
            continue;
        }
        let _ = match i % 5 {
            0 => write!(
                s,
                "  - id: s{i}\n    type: code\n    snippet: |\n      x = {i}\n      return x * 2\n"
            ),
            1 => writeln!(
                s,
                "  - {{id: s{i}, type: transform, template: 'Step {i}: {{{{ trigger.text }}}}'}}"
            ),
            2 => write!(
                s,
                "  - id: s{i}\n    type: agent\n    prompt: You are step {i}. Be brief.\n    model: {{credential_id: {credential_id}, model_name: gpt-4o-mini, temperature: 0.2}}\n    tools: [calculator, {{type: http_request, allow_hosts: [example.com]}}]\n"
            ),
            3 => writeln!(
                s,
                "  - {{id: s{i}, type: http, url: 'https://example.com/{i}', method: POST}}"
            ),
            _ => writeln!(s, "  - {{id: s{i}, type: wait, delay: 1}}"),
        };
        i += 1;
    }
    s
}

fn summary(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    (pct(0.5), pct(0.99))
}

async fn run(db: agentry_store::Db, backend: &str) {
    let s = Services::new(db);
    let key = s.setup("bench", "bench-password").await.expect("setup").key;
    let caller: Caller = s.authenticate(&key).await.expect("auth");
    let cred = s
        .create_credential(
            &caller,
            serde_json::from_value(json!({"name": "c", "credential_type": "llm",
                "detail": {"api_key": "sk-bench-123456"}}))
            .expect("in"),
        )
        .await
        .expect("credential");
    for (n, samples) in [(10usize, 200usize), (200, 40)] {
        let text = document(n, cred.id);
        let mut v = Vec::with_capacity(samples);
        let mut shape = (0, 0);
        for k in 0..samples {
            let text = text.replacen("name: Bench Flow", &format!("name: Bench Flow {n} {k}"), 1);
            let t = Instant::now();
            let out = match s.apply_dsl(&caller, &text, None, None).await {
                Ok(out) => out,
                Err(_) => panic!("the bench document applies"),
            };
            v.push(t.elapsed().as_secs_f64() * 1e3);
            shape = (out.node_count, out.edge_count);
        }
        let (p50, p99) = summary(v);
        println!(
            "| {backend} | apply, {n} steps ({} nodes, {} edges) | p50 {p50:.1} ms | p99 {p99:.1} ms |",
            shape.0, shape.1
        );
    }
    let text = document(200, cred.id);
    let mut v = vec![];
    for _ in 0..40 {
        let t = Instant::now();
        let out = s.validate_dsl(&caller, &text).await.expect("validate");
        assert!(out.valid, "{:?}", out.errors);
        v.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let (p50, p99) = summary(v);
    println!(
        "| {backend} | validate-dsl (dry run), 200 steps | p50 {p50:.1} ms | p99 {p99:.1} ms |"
    );
}

fn main() {
    let postgres = std::env::args().any(|a| a == "--postgres");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        println!("| backend | scenario | figure | figure |\n|---|---|---|---|");
        let t = testing::sqlite().await;
        run(t.db.clone(), "sqlite").await;
        if postgres {
            let Some(pg) = testing::postgres("dsl bench").await else {
                return;
            };
            run(pg.db.clone(), "postgres").await;
        }
    });
}
