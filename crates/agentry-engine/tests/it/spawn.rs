//! `spawn_and_await` end to end (delegation.md): parallel children, results in input order with
//! failures and timeouts as slots, sequential spawns, `"self"` recursion to the depth limit,
//! cancellation cascading to grandchildren, task linkage and the budget gate. Real workers on
//! each backend; the parent agents talk to the fake provider over HTTP.

use crate::agent::{World, agent_workflow, messages, wait_for, world};
use agentry_llm::fake::Reply;
use agentry_service::registry::{EpicIn, Scope, TaskIn, TaskOut};
use agentry_store::{executions, testing};
use serde_json::{Value, json};

/// The content of the newest tool message in a recorded chat body.
fn last_tool_answer(body: &Value) -> String {
    messages(body)
        .iter()
        .rev()
        .find(|m| m["role"] == "tool")
        .and_then(|m| m["content"].as_str())
        .unwrap_or("")
        .to_string()
}

/// A child workflow: `trigger_workflow` → the step nodes in a chain (ids `s`, `s2`, …).
async fn child_workflow(w: &World, name: &str, steps: &[Value]) -> String {
    let s = &w.services;
    let wf = s
        .create_workflow(
            &w.caller,
            serde_json::from_value(json!({"name": name})).expect("wf in"),
        )
        .await
        .expect("workflow");
    let trigger = json!({"node_id": "t", "component_type": "trigger_workflow"});
    let mut previous = "t".to_string();
    for (i, step) in std::iter::once(&trigger).chain(steps).enumerate() {
        let mut node = step.clone();
        if i > 0 {
            let id = if i == 1 {
                "s".to_string()
            } else {
                format!("s{i}")
            };
            node["node_id"] = json!(id);
        }
        s.create_node(
            &w.caller,
            &wf.slug,
            serde_json::from_value(node.clone()).expect("node in"),
        )
        .await
        .expect("node");
        if i > 0 {
            let id = node["node_id"].as_str().unwrap_or("").to_string();
            s.create_edge(
                &w.caller,
                &wf.slug,
                serde_json::from_value(json!({"source_node_id": previous, "target_node_id": id}))
                    .expect("edge in"),
            )
            .await
            .expect("edge");
            previous = id;
        }
    }
    wf.slug
}

/// A child that waits an hour before it answers.
async fn slow_child(w: &World) -> String {
    child_workflow(
        w,
        "slow",
        &[
            json!({"component_type": "wait", "config": {"extra_config": {"duration": 3600}}}),
            json!({"component_type": "reply_chat", "config": {"extra_config": {"message": "late"}}}),
        ],
    )
    .await
}

async fn echo_child(w: &World) -> String {
    child_workflow(
        w,
        "echo",
        &[
            json!({"component_type": "reply_chat", "config": {"extra_config": {
            "message": "done: {{ trigger.text }} {{ trigger.payload.n | default('-') }}"}}}),
        ],
    )
    .await
}

async fn start(w: &World, slug: &str) -> String {
    w.services
        .execute(&w.caller, slug, "go".into(), None)
        .await
        .expect("execute")
}

async fn children_of(w: &World, parent: &str) -> Vec<executions::ExecutionRow> {
    let filter = executions::ExecutionFilter {
        parent_execution_id: Some(parent.to_string()),
        ..Default::default()
    };
    let page = agentry_core::page::PageRequest {
        limit: 1000,
        offset: 0,
    };
    let mut out = executions::list(&w.services.db, &filter, page)
        .await
        .expect("list")
        .0;
    out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    out
}

async fn task(w: &World, epic_id: &str, title: &str) -> TaskOut {
    w.services
        .create_task(
            Scope::owner(w.caller.user_id),
            TaskIn {
                epic_id: epic_id.into(),
                title: title.into(),
                ..Default::default()
            },
        )
        .await
        .expect("task")
}

async fn get_task(w: &World, id: &str) -> TaskOut {
    w.services
        .get_task(Scope::owner(w.caller.user_id), id)
        .await
        .expect("task")
}

#[tokio::test]
async fn three_children_in_parallel_one_fails_one_times_out() {
    for t in testing::all("spawn_three_children").await {
        let w = world(t.db.clone()).await;
        let name = t.db.backend_name();
        let ok = echo_child(&w).await;
        let bad = child_workflow(
            &w,
            "bad",
            &[json!({"component_type": "code",
                "config": {"extra_config": {"code": "raise ValueError('no luck')"}}})],
        )
        .await;
        let slow = slow_child(&w).await;
        let epic = w
            .services
            .create_epic(
                Scope::owner(w.caller.user_id),
                EpicIn {
                    title: "fan out".into(),
                    ..Default::default()
                },
            )
            .await
            .expect("epic");
        let (t_ok, t_bad, t_slow) = (
            task(&w, &epic.id, "ok").await,
            task(&w, &epic.id, "bad").await,
            task(&w, &epic.id, "slow").await,
        );
        let parent = agent_workflow(&w, "boss", &["spawn_and_await"], json!({})).await;
        w.fake.push(
            Reply::tool_calls(vec![(
                "s1",
                "spawn_and_await",
                json!({"timeout_seconds": 10, "tasks": [
                    {"workflow_slug": ok, "input_text": "first", "input_data": {"n": 7}, "task_id": t_ok.id},
                    {"workflow_slug": bad, "task_id": t_bad.id},
                    {"workflow_slug": slow, "task_id": t_slow.id}]}),
            )])
            .usage(10, 5),
        );
        w.fake.push(Reply::text("two of three failed").usage(20, 5));
        let id = start(&w, &parent).await;
        let row = wait_for(&w, &id, &["completed", "failed"]).await;
        assert_eq!(row.status, "completed", "{name}: {}", row.error_message);

        let kids = children_of(&w, &id).await;
        assert_eq!(kids.len(), 3, "{name}: one child per item, none twice");
        let bodies = w.fake.chat_bodies();
        assert_eq!(bodies.len(), 2, "{name}");
        let slots: Value =
            serde_json::from_str(&last_tool_answer(&bodies[1])).expect("results are JSON");
        let slots = slots.as_array().expect("array");
        assert_eq!(slots.len(), 3, "{name}");
        // Input order, whatever order they ended in.
        let by_slug = |slug: &str| {
            kids.iter()
                .find(|k| k.workflow_slug == slug)
                .map(|k| k.id.clone())
                .expect("child")
        };
        assert_eq!(slots[0]["execution_id"], json!(by_slug(&ok)), "{name}");
        assert_eq!(slots[0]["status"], "completed", "{name}");
        assert_eq!(slots[0]["output"], "done: first 7", "{name}");
        assert_eq!(slots[1]["execution_id"], json!(by_slug(&bad)), "{name}");
        assert_eq!(slots[1]["status"], "failed", "{name}");
        let err = slots[1]["_error"].as_str().unwrap_or("");
        assert!(
            err.starts_with("Child execution failed: ") && err.contains("no luck"),
            "{name}: {err}"
        );
        assert_eq!(slots[2]["execution_id"], json!(by_slug(&slow)), "{name}");
        assert_eq!(slots[2]["status"], "timed_out", "{name}");
        assert_eq!(slots[2]["_error"], "Child execution timed out", "{name}");
        for s in slots {
            assert!(s["duration_ms"].is_i64(), "{name}: {s}");
            assert!(s["total_tokens"].is_i64(), "{name}: {s}");
        }
        // The straggler was cancelled; every child is linked to its parent node.
        let slow_row = executions::get(&w.services.db, &by_slug(&slow))
            .await
            .expect("get")
            .expect("slow child");
        assert_eq!(slow_row.status, "cancelled", "{name}");
        assert!(kids.iter().all(|k| k.parent_node_id == "a"), "{name}");
        // Tasks mirror their children.
        let (a, b, c) = (
            get_task(&w, &t_ok.id).await,
            get_task(&w, &t_bad.id).await,
            get_task(&w, &t_slow.id).await,
        );
        assert_eq!(
            (a.status.as_str(), b.status.as_str(), c.status.as_str()),
            ("completed", "failed", "cancelled"),
            "{name}"
        );
        assert_eq!(
            a.execution_id.as_deref(),
            Some(by_slug(&ok).as_str()),
            "{name}"
        );
        assert_eq!(a.workflow_slug.as_deref(), Some(ok.as_str()), "{name}");
        assert!(a.started_at.is_some() && a.completed_at.is_some(), "{name}");
        // The parent reported its own usage only, once per segment.
        assert_eq!(row.total_tokens, 40, "{name}");
    }
}

#[tokio::test]
async fn sequential_spawns_each_get_their_own_results() {
    for t in testing::all("spawn_sequential").await {
        let w = world(t.db.clone()).await;
        let name = t.db.backend_name();
        let echo = echo_child(&w).await;
        let parent = agent_workflow(&w, "boss", &["spawn_and_await"], json!({})).await;
        w.fake.push(Reply::tool_calls(vec![(
            "s1",
            "spawn_and_await",
            json!({"tasks": [{"workflow_slug": echo, "input_text": "one"}]}),
        )]));
        w.fake.push(Reply::tool_calls(vec![(
            "s2",
            "spawn_and_await",
            json!({"tasks": [{"workflow_slug": echo, "input_text": "two"},
                             {"workflow_slug": echo, "input_text": "three"}]}),
        )]));
        w.fake.push(Reply::text("all done"));
        let id = start(&w, &parent).await;
        let row = wait_for(&w, &id, &["completed", "failed"]).await;
        assert_eq!(row.status, "completed", "{name}: {}", row.error_message);
        let bodies = w.fake.chat_bodies();
        assert_eq!(bodies.len(), 3, "{name}");
        let outputs = |body: &Value| -> Vec<String> {
            let v: Value = serde_json::from_str(&last_tool_answer(body)).expect("json");
            v.as_array()
                .expect("array")
                .iter()
                .map(|s| s["output"].as_str().unwrap_or("").to_string())
                .collect()
        };
        assert_eq!(outputs(&bodies[1]), ["done: one -"], "{name}");
        assert_eq!(
            outputs(&bodies[2]),
            ["done: two -", "done: three -"],
            "{name}"
        );
        assert_eq!(children_of(&w, &id).await.len(), 3, "{name}");
        assert_eq!(
            serde_json::from_value::<Value>(row_output(&w, &id).await).expect("out"),
            json!({"output": "all done"}),
            "{name}"
        );
    }
}

async fn row_output(w: &World, id: &str) -> Value {
    executions::get_full(&w.services.db, id, false)
        .await
        .expect("get")
        .and_then(|f| f.final_output.map(|o| o.0))
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn self_recursion_stops_at_depth_three_and_every_level_resumes() {
    for t in testing::all("spawn_self_depth").await {
        let w = world(t.db.clone()).await;
        let name = t.db.backend_name();
        let slug = agent_workflow(&w, "recursive", &["spawn_and_await"], json!({})).await;
        let spawn = || {
            Reply::tool_calls(vec![(
                "s",
                "spawn_and_await",
                json!({"tasks": [{"workflow_slug": "self", "input_text": "deeper"}]}),
            )])
        };
        // Depths 0, 1, 2 spawn; depth 3 is refused and answers; then each level answers.
        for _ in 0..4 {
            w.fake.push(spawn());
        }
        for level in (0..4).rev() {
            w.fake.push(Reply::text(format!("level {level}")));
        }
        let id = start(&w, &slug).await;
        let row = wait_for(&w, &id, &["completed", "failed"]).await;
        assert_eq!(row.status, "completed", "{name}: {}", row.error_message);
        let bodies = w.fake.chat_bodies();
        assert_eq!(bodies.len(), 8, "{name}");
        assert_eq!(
            last_tool_answer(&bodies[4]),
            "Spawn failed: Spawn depth limit reached (3). Cannot spawn further child workflows.",
            "{name}"
        );
        let inner: Value = serde_json::from_str(&last_tool_answer(&bodies[7])).expect("json");
        assert_eq!(inner[0]["output"], "level 1", "{name}");
        assert_eq!(inner[0]["status"], "completed", "{name}");
        // Root → three generations, one child each.
        let mut depth = 0;
        let mut current = id.clone();
        loop {
            let kids = children_of(&w, &current).await;
            if kids.is_empty() {
                break;
            }
            assert_eq!(kids.len(), 1, "{name}");
            assert_eq!(kids[0].root_execution_id, id, "{name}");
            current = kids[0].id.clone();
            depth += 1;
        }
        assert_eq!(depth, 3, "{name}");

        // Every descendant's node events are mirrored on the root's channel (api.md §10),
        // pointing at the root's spawning node, from all three generations.
        let mirrored: Vec<Value> = agentry_store::events::list_after(
            &w.services.db,
            &format!("execution:{id}"),
            0,
            10_000,
        )
        .await
        .expect("events")
        .into_iter()
        .filter(|e| e.kind == "child_node_status")
        .map(|e| e.data.0)
        .collect();
        let from: std::collections::BTreeSet<String> = mirrored
            .iter()
            .map(|d| d["child_execution_id"].as_str().unwrap_or("").to_string())
            .collect();
        assert_eq!(from.len(), 3, "{name}: {from:?}");
        assert!(!from.contains(&id), "{name}");
        assert!(
            mirrored
                .iter()
                .all(|d| d["is_child_event"] == true && d["parent_node_id"] == "a"),
            "{name}"
        );
        // The root's summary counts its whole tree (api.md §10): 3 descendants, 8 model calls.
        let completed = agentry_store::events::list_after(
            &w.services.db,
            &format!("execution:{id}"),
            0,
            10_000,
        )
        .await
        .expect("events")
        .into_iter()
        .find(|e| e.kind == "execution_completed")
        .expect("completed event");
        let summary = &completed.data.0["activity_summary"];
        assert_eq!(summary["child_count"], 3, "{name}: {summary}");
        assert_eq!(summary["llm_calls"], 8, "{name}: {summary}");
        assert_eq!(summary["tool_invocations"], 1, "{name}: {summary}");
        // Including the grandchildren's tool calls (their spawn_and_await going to `waiting`).
        assert!(
            mirrored
                .iter()
                .any(|d| d["is_tool_call"] == true && d["status"] == "waiting"),
            "{name}"
        );
    }
}

#[tokio::test]
async fn cancelling_the_parent_cancels_every_descendant() {
    for t in testing::all("spawn_cancel_cascade").await {
        let w = world(t.db.clone()).await;
        let name = t.db.backend_name();
        let slow = slow_child(&w).await;
        let middle = agent_workflow(&w, "middle", &["spawn_and_await"], json!({})).await;
        let top = agent_workflow(&w, "top", &["spawn_and_await"], json!({})).await;
        w.fake.push(Reply::tool_calls(vec![(
            "s1",
            "spawn_and_await",
            json!({"tasks": [{"workflow_slug": middle}]}),
        )]));
        w.fake.push(Reply::tool_calls(vec![(
            "s2",
            "spawn_and_await",
            json!({"tasks": [{"workflow_slug": slow}, {"workflow_slug": slow}]}),
        )]));
        let id = start(&w, &top).await;
        // Wait until the grandchildren exist (the middle agent has parked on them).
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        let (child, grandchildren) = loop {
            let kids = children_of(&w, &id).await;
            if let Some(c) = kids.first() {
                let g = children_of(&w, &c.id).await;
                if g.len() == 2 {
                    break (c.id.clone(), g);
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{name}: no grandchildren"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        w.services
            .cancel_execution(&w.caller, &id)
            .await
            .expect("cancel");
        for e in [id.clone(), child]
            .into_iter()
            .chain(grandchildren.into_iter().map(|g| g.id))
        {
            let row = executions::get(&w.services.db, &e)
                .await
                .expect("get")
                .expect("row");
            assert_eq!(row.status, "cancelled", "{name}: {e}");
        }
        // No more model calls were made after the cancel.
        assert_eq!(w.fake.chat_bodies().len(), 2, "{name}");
    }
}

#[tokio::test]
async fn bad_spawns_answer_the_model_and_create_nothing() {
    for t in testing::all("spawn_bad_args").await {
        let w = world(t.db.clone()).await;
        let name = t.db.backend_name();
        let echo = echo_child(&w).await;
        let parent = agent_workflow(&w, "boss", &["spawn_and_await"], json!({})).await;
        w.fake.push(Reply::tool_calls(vec![(
            "s1",
            "spawn_and_await",
            json!({"tasks": []}),
        )]));
        w.fake.push(Reply::tool_calls(vec![(
            "s2",
            "spawn_and_await",
            json!({"tasks": [{"workflow_slug": echo}, {"workflow_slug": "nope"}]}),
        )]));
        w.fake.push(Reply::text("gave up"));
        let id = start(&w, &parent).await;
        let row = wait_for(&w, &id, &["completed", "failed"]).await;
        assert_eq!(row.status, "completed", "{name}: {}", row.error_message);
        let bodies = w.fake.chat_bodies();
        assert_eq!(
            last_tool_answer(&bodies[1]),
            "Error: tasks list cannot be empty",
            "{name}"
        );
        assert_eq!(
            last_tool_answer(&bodies[2]),
            "Spawn failed: target workflow not found: slug='nope'",
            "{name}"
        );
        // All-or-nothing: the valid first item started nothing either.
        assert!(children_of(&w, &id).await.is_empty(), "{name}");
    }
}

#[tokio::test]
async fn a_child_of_an_over_budget_epic_fails_at_its_gate() {
    for t in testing::all("spawn_budget_gate").await {
        let w = world(t.db.clone()).await;
        let name = t.db.backend_name();
        let echo = echo_child(&w).await;
        let epic = w
            .services
            .create_epic(
                Scope::owner(w.caller.user_id),
                EpicIn {
                    title: "tight".into(),
                    budget_tokens: Some(100),
                    ..Default::default()
                },
            )
            .await
            .expect("epic");
        let (inline, delegated) = (
            task(&w, &epic.id, "inline").await,
            task(&w, &epic.id, "child").await,
        );
        let parent =
            agent_workflow(&w, "boss", &["spawn_and_await", "task_tools"], json!({})).await;
        w.fake.push(
            Reply::tool_calls(vec![(
                "u1",
                "update_task",
                json!({"task_id": inline.id, "status": "running"}),
            )])
            .usage(1, 0),
        );
        // This call is made while `inline` runs: its 500 tokens are the epic's spend.
        w.fake.push(
            Reply::tool_calls(vec![(
                "s1",
                "spawn_and_await",
                json!({"tasks": [{"workflow_slug": echo, "task_id": delegated.id}]}),
            )])
            .usage(500, 0),
        );
        w.fake.push(Reply::text("over budget"));
        let id = start(&w, &parent).await;
        let row = wait_for(&w, &id, &["completed", "failed"]).await;
        assert_eq!(row.status, "completed", "{name}: {}", row.error_message);
        let slots: Value =
            serde_json::from_str(&last_tool_answer(&w.fake.chat_bodies()[2])).expect("json");
        let msg = "Epic budget exceeded: 500 tokens used (budget: 100 tokens)";
        assert_eq!(
            slots[0]["_error"],
            json!(format!("Child execution failed: {msg}")),
            "{name}"
        );
        assert_eq!(slots[0]["status"], "failed", "{name}");
        let d = get_task(&w, &delegated.id).await;
        assert_eq!(
            (d.status.as_str(), d.error_message.as_deref()),
            ("failed", Some(msg)),
            "{name}"
        );
    }
}

/// A thousand parents on two workers: every parent parks (no worker held while it waits), the
/// children run on the same two workers, and every parent resumes and completes once.
#[tokio::test]
async fn a_thousand_parked_parents_on_two_workers_all_complete() {
    const PARENTS: usize = 1000;
    for t in testing::all("spawn_thousand_parents").await {
        let w = crate::agent::world_with_workers(t.db.clone(), 0).await;
        let name = t.db.backend_name();
        let echo = echo_child(&w).await;
        let parent = agent_workflow(&w, "boss", &["spawn_and_await"], json!({})).await;
        // Each request says its turn: no tool answer yet → spawn; after it → answer.
        let target = echo.clone();
        w.fake.respond_with(move |body| {
            let resumed = messages(body).iter().any(|m| m["role"] == "tool");
            if resumed {
                Reply::text("ok").usage(3, 1)
            } else {
                Reply::tool_calls(vec![(
                    "s",
                    "spawn_and_await",
                    json!({"tasks": [{"workflow_slug": target, "input_text": "x"}]}),
                )])
                .usage(5, 1)
            }
        });
        let mut ids = Vec::with_capacity(PARENTS);
        for _ in 0..PARENTS {
            ids.push(start(&w, &parent).await);
        }
        agentry_engine::worker::spawn_workers(w.orch.clone(), 2, w.stop.subscribe());
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(600);
        loop {
            let filter = executions::ExecutionFilter {
                workflow_slug: Some(parent.clone()),
                status: Some("completed".into()),
                ..Default::default()
            };
            let page = agentry_core::page::PageRequest {
                limit: 1,
                offset: 0,
            };
            let done = executions::list(&w.services.db, &filter, page)
                .await
                .expect("list")
                .1;
            if done as usize == PARENTS {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{name}: only {done} of {PARENTS} parents completed"
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        // One child per parent, never two; every parent saw exactly its own result.
        let children = executions::list(
            &w.services.db,
            &executions::ExecutionFilter {
                workflow_slug: Some(echo.clone()),
                ..Default::default()
            },
            agentry_core::page::PageRequest {
                limit: 1,
                offset: 0,
            },
        )
        .await
        .expect("children")
        .1;
        assert_eq!(children as usize, PARENTS, "{name}");
        // Parking held no worker: the first child started only after (nearly) every parent had
        // parked, since the parents' start jobs were queued first.
        let mut first_child_start = i64::MAX;
        let mut parked_at = vec![];
        for id in &ids {
            let kids = children_of(&w, id).await;
            assert_eq!(kids.len(), 1, "{name}");
            first_child_start = first_child_start.min(kids[0].started_at.unwrap_or(i64::MAX));
            let runs = agentry_store::node_runs::list(&w.services.db, id)
                .await
                .expect("node runs");
            let waiting = runs
                .iter()
                .find(|r| r.status == "waiting")
                .map(|r| r.created_at)
                .expect("parked once");
            parked_at.push(waiting);
        }
        let parked_before_any_child = parked_at
            .iter()
            .filter(|t| **t <= first_child_start)
            .count();
        assert!(
            parked_before_any_child > PARENTS / 2,
            "{name}: only {parked_before_any_child} parents were parked at once"
        );
    }
}
