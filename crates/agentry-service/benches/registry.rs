//! Registry benchmarks (BENCHMARKS.md "Registry"): task creation with dependencies, one writer
//! and eight, and list / search latency over 10,000 tasks. Run:
//! `cargo bench -p agentry-service --bench registry` (add `-- --postgres` to also run on the
//! PostgreSQL named by AGENTRY_TEST_POSTGRES_URL).
//!
//! Every create goes through the service exactly as `POST /tasks/` does: one transaction that
//! locks the epic, checks the dependencies, inserts the task, recounts the epic and queues the
//! events.

use agentry_core::page::PageRequest;
use agentry_service::Services;
use agentry_service::registry::{EpicIn, Scope, TaskIn, TaskSearchIn};
use agentry_store::tasks::TaskFilter;
use agentry_store::testing;
use std::time::Instant;

const TASKS: usize = 10_000;
const EPICS: usize = 100;
const CHAIN: usize = 1_000;
const SAMPLES: usize = 200;

fn summary(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    (pct(0.5), pct(0.99))
}

fn row(backend: &str, scenario: &str, figures: &str) {
    println!("| {backend} | {scenario} | {figures} |");
}

async fn epic(s: &Services, scope: Scope, title: &str) -> String {
    s.create_epic(
        scope,
        EpicIn {
            title: title.into(),
            tags: Some(vec!["bench".into()]),
            ..Default::default()
        },
    )
    .await
    .expect("epic")
    .id
}

fn task_in(epic_id: &str, i: usize, deps: Vec<String>) -> TaskIn {
    TaskIn {
        epic_id: epic_id.into(),
        title: format!("Task {i}: summarise report {}", i % 37),
        description: Some(format!(
            "Collect the figures of region {} and write them up",
            i % 11
        )),
        tags: Some(vec![format!("t{}", i % 5)]),
        depends_on: Some(deps),
        ..Default::default()
    }
}

/// A chain of `CHAIN` tasks in one epic, each depending on the previous two.
async fn create_with_dependencies(s: &Services, scope: Scope, backend: &str) {
    let e = epic(s, scope, "chain").await;
    let mut ids: Vec<String> = vec![];
    let mut ms = vec![];
    let started = Instant::now();
    for i in 0..CHAIN {
        let deps = ids.iter().rev().take(2).cloned().collect();
        let t = Instant::now();
        let task = s
            .create_task(scope, task_in(&e, i, deps))
            .await
            .expect("task");
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        ids.push(task.id);
    }
    let secs = started.elapsed().as_secs_f64();
    let (p50, p99) = summary(ms);
    row(
        backend,
        &format!("create task with 2 dependencies, 1 writer, {CHAIN} tasks"),
        &format!(
            "{:.0} tasks/s | p50 {p50:.2} ms, p99 {p99:.2} ms",
            CHAIN as f64 / secs
        ),
    );
}

/// Eight writers, each adding tasks to its own epic (with one dependency on its previous task).
async fn create_concurrently(s: &Services, scope: Scope, backend: &str) {
    const WRITERS: usize = 8;
    const PER: usize = 125;
    let mut epics = vec![];
    for w in 0..WRITERS {
        epics.push(epic(s, scope, &format!("writer {w}")).await);
    }
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for e in epics {
        let s = s.clone();
        set.spawn(async move {
            let mut last: Option<String> = None;
            for i in 0..PER {
                let t = s
                    .create_task(scope, task_in(&e, i, last.take().into_iter().collect()))
                    .await
                    .expect("task");
                last = Some(t.id);
            }
        });
    }
    while set.join_next().await.is_some() {}
    let secs = started.elapsed().as_secs_f64();
    row(
        backend,
        &format!(
            "create task with 1 dependency, {WRITERS} writers, {} tasks",
            WRITERS * PER
        ),
        &format!("{:.0} tasks/s | —", (WRITERS * PER) as f64 / secs),
    );
}

/// Seeds `TASKS` tasks over `EPICS` epics (so the owner has 10,000 tasks), then times reads.
async fn list_latency(s: &Services, scope: Scope, backend: &str) {
    let mut epics = vec![];
    for e in 0..EPICS {
        epics.push(epic(s, scope, &format!("seed {e}")).await);
    }
    let per = TASKS / EPICS;
    let mut set = tokio::task::JoinSet::new();
    for e in epics.clone() {
        let s = s.clone();
        set.spawn(async move {
            for i in 0..per {
                s.create_task(scope, task_in(&e, i, vec![]))
                    .await
                    .expect("seed task");
            }
        });
        // A few epics at a time: seeding is not what is measured.
        if set.len() >= 4 {
            set.join_next().await;
        }
    }
    while set.join_next().await.is_some() {}
    eprintln!("seeded {TASKS} tasks");

    let page = PageRequest {
        limit: 50,
        offset: 0,
    };
    let mut cases: Vec<(&str, Vec<f64>)> = vec![];
    let mut time = |label: &'static str, ms: f64| match cases.iter_mut().find(|c| c.0 == label) {
        Some(c) => c.1.push(ms),
        None => cases.push((label, vec![ms])),
    };
    for i in 0..SAMPLES {
        let t = Instant::now();
        let all = s
            .list_tasks(scope, TaskFilter::default(), page)
            .await
            .expect("list");
        time(
            "GET /tasks/ (first 50 of all, newest first)",
            t.elapsed().as_secs_f64() * 1000.0,
        );
        assert!(all.total >= TASKS as i64);

        let t = Instant::now();
        let deep = s
            .list_tasks(
                scope,
                TaskFilter::default(),
                PageRequest {
                    limit: 50,
                    offset: 5_000,
                },
            )
            .await
            .expect("list");
        time(
            "GET /tasks/?offset=5000",
            t.elapsed().as_secs_f64() * 1000.0,
        );
        assert_eq!(deep.items.len(), 50);

        let t = Instant::now();
        s.list_tasks(
            scope,
            TaskFilter {
                tags: Some(vec![format!("t{}", i % 5)]),
                status: Some("pending".into()),
                ..Default::default()
            },
            page,
        )
        .await
        .expect("list");
        time(
            "GET /tasks/?status=pending&tags=tN",
            t.elapsed().as_secs_f64() * 1000.0,
        );

        let t = Instant::now();
        let one = s
            .epic_tasks(scope, &epics[i % EPICS], page)
            .await
            .expect("epic tasks");
        time(
            "GET /epics/{id}/tasks/ (100 tasks)",
            t.elapsed().as_secs_f64() * 1000.0,
        );
        assert_eq!(one.total, per as i64);

        let t = Instant::now();
        s.search_tasks(
            scope,
            TaskSearchIn {
                query: Some(format!("region {}", i % 11)),
                limit: Some(20),
                ..Default::default()
            },
        )
        .await
        .expect("search");
        time(
            "POST /tasks/search/ (full text, 20 best)",
            t.elapsed().as_secs_f64() * 1000.0,
        );
    }
    for (label, ms) in cases {
        let (p50, p99) = summary(ms);
        row(
            backend,
            &format!("{label}, {TASKS} tasks"),
            &format!("p50 {p50:.2} ms | p99 {p99:.2} ms"),
        );
    }
}

async fn run(db: agentry_store::Db, backend: &str) {
    let s = Services::new(db);
    let key = s.setup("bench", "bench-password").await.expect("setup").key;
    let caller = s.authenticate(&key).await.expect("auth");
    let scope = Scope::of(&caller);
    create_with_dependencies(&s, scope, backend).await;
    create_concurrently(&s, scope, backend).await;
    list_latency(&s, scope, backend).await;
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
            let Some(pg) = testing::postgres("registry bench").await else {
                return;
            };
            run(pg.db.clone(), "postgres").await;
        }
    });
}
