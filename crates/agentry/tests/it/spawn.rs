//! `spawn_and_await` under SIGKILL (delegation.md; the spawn issue's durability proofs): the
//! real `agentry serve` is killed (a) right after the children are created, (b) while they
//! run, (c) after they finished, while the resumed parent is asking the model again. After a
//! restart every parent completes exactly once with the right results and no child set is
//! created twice. Children block on a gate the test opens, so each moment is reached by
//! observation, not by sleeping.

use crate::kill9::Server;
use crate::support::{Api, Graph, runs};
use agentry_llm::fake::{FakeProvider, Reply};
use agentry_store::testing;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// An HTTP server whose `/work` answers `done` once the gate is open; counts the calls.
async fn gate_server() -> (String, watch::Sender<bool>, Arc<AtomicUsize>) {
    use axum::routing::get;
    let (open, rx) = watch::channel(false);
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let app = axum::Router::new().route(
        "/work",
        get(move || {
            let mut rx = rx.clone();
            let h = h.clone();
            async move {
                h.fetch_add(1, Ordering::SeqCst);
                let _ = rx.wait_for(|open| *open).await;
                "done"
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
    (format!("http://{addr}"), open, hits)
}

/// When to kill the server.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Moment {
    ChildrenCreated,
    ChildrenRunning,
    ParentResuming,
}

async fn until(what: &str, mut cond: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond().await {
        assert!(Instant::now() < deadline, "never reached: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn kill_at(moment: Moment) {
    let t = testing::sqlite().await;
    let data_dir = std::env::temp_dir().join(format!(
        "agentry-kill9-spawn-{}-{moment:?}-{}",
        std::process::id(),
        agentry_store::now_ms()
    ));
    std::fs::create_dir_all(&data_dir).expect("data dir");
    let fake = FakeProvider::start().await;
    let (gate, open, hits) = gate_server().await;
    if moment == Moment::ParentResuming {
        open.send_replace(true);
    }

    let server = Server::start(&t.url, &data_dir);
    let api = Api::new(&server.base).setup().await;
    let (code, cred) = api
        .post(
            "/api/v1/credentials/",
            json!({"name": "fake", "credential_type": "llm",
                "detail": {"provider_type": "openai_compatible", "api_key": "sk-test-123456",
                    "base_url": fake.base_url()}}),
        )
        .await;
    assert_eq!(code, 201, "{cred}");
    let worker = api
        .create(
            &Graph::child("worker")
                .node("h", "http_request", json!({"url": format!("{gate}/work")}))
                .edge("start", "h"),
        )
        .await;
    let boss = api
        .create(
            &Graph::new("boss")
                .node_body(json!({"node_id": "m", "component_type": "ai_model",
                    "config": {"llm_credential_id": cred["id"], "model_name": "gpt-4o-mini"}}))
                .node("a", "agent", json!({}))
                .node("s", "spawn_and_await", json!({}))
                .edge("start", "a")
                .labelled("m", "llm", "a")
                .labelled("s", "tool", "a"),
        )
        .await;
    fake.push(
        Reply::tool_calls(vec![(
            "s1",
            "spawn_and_await",
            json!({"tasks": [{"workflow_slug": worker, "input_text": "one"},
                             {"workflow_slug": worker, "input_text": "two"}]}),
        )])
        .usage(10, 2),
    );
    if moment == Moment::ParentResuming {
        // The first resumed call hangs long enough to be killed in the middle of it.
        fake.push(Reply::text("never seen").delay(Duration::from_secs(120)));
    }
    fake.push(Reply::text("both finished").usage(20, 3));
    let id = api.execute(&boss, "delegate").await;

    match moment {
        Moment::ChildrenCreated => {
            until("two children", async || api.children(&id).await.len() == 2).await
        }
        Moment::ChildrenRunning => {
            until("both children inside their step", async || {
                hits.load(Ordering::SeqCst) >= 2
            })
            .await
        }
        Moment::ParentResuming => {
            until("the resumed parent asking the model", async || {
                fake.chat_bodies().len() >= 2
            })
            .await
        }
    }
    server.kill9();

    let server = Server::start(&t.url, &data_dir);
    let api = api.at(&server.base);
    open.send_replace(true);
    let detail = api
        .wait_for(&id, &["completed", "failed", "cancelled"])
        .await;
    assert_eq!(detail["status"], "completed", "{moment:?}: {detail}");

    // No child set created twice, each child completed once.
    let children = api.children(&id).await;
    assert_eq!(children.len(), 2, "{moment:?}: {children:?}");
    assert!(
        children.iter().all(|c| c["status"] == "completed"),
        "{moment:?}: {children:?}"
    );
    // The parent's agent completed exactly once, after one wait.
    let agent_rows: Vec<(String, String)> = runs(&detail)
        .into_iter()
        .filter(|(node, _)| node == "a")
        .collect();
    assert_eq!(
        agent_rows,
        [
            ("a".to_string(), "waiting".to_string()),
            ("a".to_string(), "completed".to_string())
        ],
        "{moment:?}"
    );
    // The model got both results, in input order, in the turn that finished the run.
    let bodies = fake.chat_bodies();
    let last = bodies.last().expect("requests");
    let answer = last["messages"]
        .as_array()
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "tool"))
        .and_then(|m| m["content"].as_str())
        .unwrap_or("");
    let slots: Value = serde_json::from_str(answer).expect("results");
    let ids: Vec<&str> = slots
        .as_array()
        .expect("array")
        .iter()
        .map(|s| s["execution_id"].as_str().unwrap_or(""))
        .collect();
    let mut expected: Vec<&str> = children
        .iter()
        .map(|c| c["execution_id"].as_str().unwrap_or(""))
        .collect();
    let mut got = ids.clone();
    expected.sort_unstable();
    got.sort_unstable();
    assert_eq!(
        got, expected,
        "{moment:?}: the slots are this parent's children"
    );
    assert_eq!(ids.len(), 2, "{moment:?}: {slots}");
    assert!(
        slots
            .as_array()
            .expect("array")
            .iter()
            .all(|s| s["status"] == "completed"),
        "{moment:?}: {slots}"
    );
    assert_eq!(
        detail["final_output"]["output"], "both finished",
        "{moment:?}"
    );
    match moment {
        // Each child's step was interrupted by the kill and ran again.
        Moment::ChildrenRunning => assert_eq!(hits.load(Ordering::SeqCst), 4, "{moment:?}"),
        // The resumed call was cut short and asked again, with the same results.
        Moment::ParentResuming => assert_eq!(bodies.len(), 3, "{moment:?}"),
        Moment::ChildrenCreated => assert_eq!(bodies.len(), 2, "{moment:?}"),
    }
    let spawn_turns = bodies
        .iter()
        .filter(|b| {
            b["messages"]
                .as_array()
                .is_some_and(|m| m.iter().all(|m| m["role"] != "tool"))
        })
        .count();
    assert_eq!(
        spawn_turns, 1,
        "{moment:?}: the model was asked to spawn again"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&data_dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_dash_nine_right_after_the_children_are_created() {
    kill_at(Moment::ChildrenCreated).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_dash_nine_while_the_children_run() {
    kill_at(Moment::ChildrenRunning).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_dash_nine_while_the_parent_resumes() {
    kill_at(Moment::ParentResuming).await;
}
