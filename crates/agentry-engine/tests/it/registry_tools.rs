//! The registry tools (tools.md §1–2, §8) driven by the fake provider, the inline-task cost of
//! registry.md §12, and the engine's side of the registry: a task mirrors the execution it
//! delegated to (§5) and an over-budget epic stops its execution before the next node (§8).

use crate::agent::{World, agent_workflow, messages, wait_for, world};
use agentry_core::Patch;
use agentry_core::registry::round_usd;
use agentry_llm::fake::Reply;
use agentry_service::registry::{EpicIn, EpicOut, Scope, TaskIn, TaskOut, TaskPatch};
use agentry_store::testing;
use serde_json::{Value, json};

/// The tool answers of the newest batch in a recorded chat body, parsed as JSON.
fn last_batch(body: &Value) -> Vec<Value> {
    let msgs = messages(body);
    let first = msgs
        .iter()
        .rposition(|m| m["role"] != "tool")
        .map_or(0, |i| i + 1);
    msgs[first..]
        .iter()
        .map(|m| {
            let text = m["content"].as_str().unwrap_or("");
            serde_json::from_str(text).unwrap_or_else(|_| json!({"raw": text}))
        })
        .collect()
}

fn err(text: &str) -> Value {
    json!({"success": false, "error": text})
}

async fn epic(w: &World, owner: i64, title: &str, budget_tokens: Option<i64>) -> EpicOut {
    w.services
        .create_epic(
            Scope::owner(owner),
            EpicIn {
                title: title.into(),
                budget_tokens,
                ..Default::default()
            },
        )
        .await
        .expect("epic")
}

async fn task(w: &World, epic_id: &str, title: &str, deps: &[&str]) -> TaskOut {
    w.services
        .create_task(
            Scope::owner(w.caller.user_id),
            TaskIn {
                epic_id: epic_id.into(),
                title: title.into(),
                depends_on: Some(deps.iter().map(|d| d.to_string()).collect()),
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

async fn get_epic(w: &World, id: &str) -> EpicOut {
    w.services
        .get_epic(Scope::owner(w.caller.user_id), id)
        .await
        .expect("epic")
}

async fn run(w: &World, slug: &str) -> agentry_store::executions::ExecutionRow {
    let id = w
        .services
        .execute(&w.caller, slug, "go".into(), None)
        .await
        .expect("execute");
    let row = wait_for(w, &id, &["completed", "failed"]).await;
    assert_eq!(row.status, "completed", "{}", row.error_message);
    row
}

#[tokio::test]
async fn registry_tools_answer_per_spec_and_change_the_registry() {
    for t in testing::all("registry_tools_answer_per_spec").await {
        let w = world(t.db.clone()).await;
        let name = t.db.backend_name();
        let me = w.caller.user_id;
        let other = w
            .services
            .create_user(
                serde_json::from_value(json!({"username": "eve", "password": "password1"}))
                    .expect("user in"),
            )
            .await
            .expect("user");
        let foreign = epic(&w, other.id, "Eve's secret plan", None).await;
        let e = epic(&w, me, "Launch site", None).await;
        let a = task(&w, &e.id, "A", &[]).await;
        let b = task(&w, &e.id, "B", &[&a.id]).await;
        assert_eq!(
            (a.status.as_str(), b.status.as_str()),
            ("pending", "blocked")
        );

        // Bundles plus a single type that repeats one of their tools.
        let slug = agent_workflow(
            &w,
            "planner",
            &["epic_tools", "task_tools", "task_update"],
            json!({}),
        )
        .await;
        let wf = w
            .services
            .get_workflow(&w.caller, &slug)
            .await
            .expect("workflow");
        w.fake.push(Reply::tool_calls(vec![
            (
                "c1",
                "create_epic",
                json!({"title": "Ship v2", "tags": "release, q3", "priority": 3, "budget_tokens": 5000}),
            ),
            ("c2", "epic_status", json!({"epic_id": e.id})),
            ("c3", "epic_status", json!({"epic_id": foreign.id})),
            ("c4", "create_epic", json!({"title": "x", "priority": 9})),
            ("c5", "search_epics", json!({"query": "LAUNCH"})),
            (
                "c6",
                "search_epics",
                json!({"tags": (0..21).map(|i| format!("t{i}")).collect::<Vec<_>>().join(",")}),
            ),
        ]));
        w.fake.push(Reply::tool_calls(vec![
            (
                "d1",
                "create_task",
                json!({"epic_id": e.id, "title": "C", "depends_on": format!("{}, {}", a.id, b.id)}),
            ),
            (
                "d2",
                "create_task",
                json!({"epic_id": e.id, "title": "D", "depends_on": "tk-nope"}),
            ),
            (
                "d3",
                "create_task",
                json!({"epic_id": foreign.id, "title": "E"}),
            ),
            (
                "d4",
                "update_task",
                json!({"task_id": a.id, "status": "running"}),
            ),
            (
                "d5",
                "update_task",
                json!({"task_id": b.id, "status": "completed"}),
            ),
            (
                "d6",
                "update_task",
                json!({"task_id": b.id, "status": "done"}),
            ),
            ("d7", "cancel_task", json!({"task_id": "tk-none"})),
        ]));
        w.fake.push(Reply::tool_calls(vec![
            (
                "e1",
                "update_task",
                json!({"task_id": a.id, "status": "completed", "result_summary": "built", "notes": "n1"}),
            ),
            ("e2", "update_epic", json!({"epic_id": e.id, "status": "bogus"})),
            ("e3", "update_epic", json!({"epic_id": foreign.id, "title": "mine"})),
            ("e4", "update_epic", json!({"epic_id": e.id, "status": "active", "priority": 1})),
        ]));
        w.fake.push(Reply::tool_calls(vec![
            ("f1", "list_tasks", json!({"epic_id": e.id, "limit": 2})),
            ("f2", "epic_status", json!({"epic_id": e.id})),
        ]));
        w.fake.push(Reply::tool_calls(vec![(
            "g1",
            "cancel_task",
            json!({"task_id": b.id, "reason": "not needed"}),
        )]));
        w.fake.push(Reply::tool_calls(vec![
            ("h1", "cancel_task", json!({"task_id": b.id})),
            ("h2", "cancel_task", json!({"task_id": a.id})),
            (
                "h3",
                "update_epic",
                json!({"epic_id": e.id, "status": "planning"}),
            ),
        ]));
        w.fake.push(Reply::text("planned"));
        run(&w, &slug).await;
        let bodies = w.fake.chat_bodies();
        assert_eq!(bodies.len(), 7, "{name}");

        // The tool list: eight distinct tools, the duplicate offered once.
        let mut offered: Vec<String> = bodies[0]["tools"]
            .as_array()
            .expect("tools")
            .iter()
            .map(|t| t["function"]["name"].as_str().unwrap_or("").to_string())
            .collect();
        offered.sort();
        assert_eq!(
            offered,
            [
                "cancel_task",
                "create_epic",
                "create_task",
                "epic_status",
                "list_tasks",
                "search_epics",
                "update_epic",
                "update_task"
            ],
            "{name}"
        );

        let r1 = last_batch(&bodies[1]);
        let new_epic = r1[0]["epic_id"].as_str().expect("epic id").to_string();
        assert!(new_epic.starts_with("ep-"), "{name}: {new_epic}");
        assert_eq!(
            r1[0],
            json!({"success": true, "epic_id": new_epic, "title": "Ship v2", "status": "planning"}),
            "{name}"
        );
        let created = get_epic(&w, &new_epic).await;
        assert_eq!(created.tags, ["release", "q3"], "{name}");
        assert_eq!(created.priority, 3, "{name}");
        assert_eq!(created.budget_tokens, Some(5000), "{name}");
        assert_eq!(created.user_profile_id, Some(me), "{name}");
        assert_eq!(created.workflow_id, Some(wf.workflow.id), "{name}");
        // The bundle node offers create_epic: it is the creator.
        assert_eq!(
            created.created_by_node_id.as_deref(),
            Some("tool0"),
            "{name}"
        );
        assert_eq!(r1[1]["success"], true, "{name}");
        assert_eq!(r1[1]["total_tasks"], 2, "{name}");
        assert_eq!(
            r1[1]["tasks"],
            json!([{"id": a.id, "title": "A", "status": "pending"},
                   {"id": b.id, "title": "B", "status": "blocked"}]),
            "{name}"
        );
        assert_eq!(
            r1[1]["progress"],
            json!({"total": 2, "pending": 1, "blocked": 1, "running": 0, "completed": 0,
                   "failed": 0, "cancelled": 0}),
            "{name}"
        );
        assert_eq!(r1[2], err("Epic not found"), "{name}");
        assert_eq!(r1[3], err("Priority must be between 1 and 5"), "{name}");
        let hits: Vec<&str> = r1[4]["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|r| r["title"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(
            hits,
            ["Launch site"],
            "{name}: only my epics, substring, any case"
        );
        assert_eq!(r1[4]["success_rate"], Value::Null, "{name}");
        assert_eq!(r1[4]["avg_cost"], 0.0, "{name}");
        assert_eq!(
            r1[5],
            err("Too many tags specified. Maximum is 20."),
            "{name}"
        );

        let r2 = last_batch(&bodies[2]);
        let c_id = r2[0]["task_id"].as_str().expect("task id").to_string();
        assert_eq!(
            r2[0],
            json!({"success": true, "task_id": c_id, "status": "blocked"}),
            "{name}"
        );
        assert_eq!(
            r2[1],
            err("One or more dependencies do not exist"),
            "{name}"
        );
        assert_eq!(r2[2], err("Epic not found"), "{name}");
        assert_eq!(
            r2[3],
            json!({"success": true, "task_id": a.id, "status": "running"}),
            "{name}"
        );
        assert_eq!(
            r2[4],
            err("Invalid status transition: blocked -> completed"),
            "{name}"
        );
        assert_eq!(
            r2[5],
            err(
                "Invalid status. Must be one of: blocked, cancelled, completed, failed, pending, running"
            ),
            "{name}"
        );
        assert_eq!(r2[6], err("Task not found"), "{name}");

        let r3 = last_batch(&bodies[3]);
        assert_eq!(
            r3[0],
            json!({"success": true, "task_id": a.id, "status": "completed"}),
            "{name}"
        );
        assert_eq!(
            r3[1],
            err(
                "Invalid status. Must be one of: active, cancelled, completed, failed, paused, planning"
            ),
            "{name}"
        );
        assert_eq!(r3[2], err("Epic not found"), "{name}");
        assert_eq!(
            r3[3],
            json!({"success": true, "epic_id": e.id, "status": "active"}),
            "{name}"
        );
        assert_eq!(get_epic(&w, &e.id).await.priority, 1, "{name}");
        let done = get_task(&w, &a.id).await;
        assert_eq!(done.result_summary.as_deref(), Some("built"), "{name}");
        assert_eq!(done.notes, [json!("n1")], "{name}");

        let r4 = last_batch(&bodies[4]);
        assert_eq!(r4[0]["total"], 3, "{name}");
        let listed: Vec<&str> = r4[0]["tasks"]
            .as_array()
            .expect("tasks")
            .iter()
            .map(|t| t["title"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(listed, ["C", "B"], "{name}: newest first, limited");
        // A's completion unblocked B; C still waits for B.
        assert_eq!(r4[0]["tasks"][0]["status"], "blocked", "{name}");
        assert_eq!(r4[0]["tasks"][1]["status"], "pending", "{name}");
        assert_eq!(
            r4[0]["tasks"][0]["depends_on"],
            json!([a.id, b.id]),
            "{name}"
        );
        assert_eq!(r4[1]["completed_tasks"], 1, "{name}");
        assert_eq!(r4[1]["total_tasks"], 3, "{name}");

        let r5 = last_batch(&bodies[5]);
        assert_eq!(
            r5[0],
            json!({"success": true, "task_id": b.id, "execution_cancelled": false}),
            "{name}"
        );
        let cancelled = get_task(&w, &b.id).await;
        assert_eq!(cancelled.status, "cancelled", "{name}");
        assert_eq!(cancelled.notes, [json!("Cancelled: not needed")], "{name}");

        let r6 = last_batch(&bodies[6]);
        assert_eq!(r6[0], err("Task already cancelled"), "{name}");
        assert_eq!(r6[1], err("Task already completed"), "{name}");
        assert_eq!(
            r6[2],
            err("Invalid status transition: active -> planning"),
            "{name}"
        );
        // Nothing of Eve's changed.
        let eve = w
            .services
            .get_epic(Scope::owner(other.id), &foreign.id)
            .await
            .expect("eve's epic");
        assert_eq!(
            (eve.title.as_str(), eve.total_tasks),
            ("Eve's secret plan", 0),
            "{name}"
        );
    }
}

#[tokio::test]
async fn inline_task_cost_goes_to_the_running_task_then_to_epic_overhead() {
    for t in testing::all("inline_task_cost").await {
        let w = world(t.db.clone()).await;
        let name = t.db.backend_name();
        let e = epic(&w, w.caller.user_id, "Inline work", None).await;
        let a = task(&w, &e.id, "A", &[]).await;
        let slug = agent_workflow(&w, "inline", &["epic_tools", "task_tools"], json!({})).await;
        w.fake.push(
            Reply::tool_calls(vec![("c1", "epic_status", json!({"epic_id": e.id}))])
                .usage(1000, 100),
        );
        w.fake.push(
            Reply::tool_calls(vec![(
                "c2",
                "update_task",
                json!({"task_id": a.id, "status": "running"}),
            )])
            .usage(2000, 200),
        );
        w.fake.push(
            Reply::tool_calls(vec![(
                "c3",
                "update_task",
                json!({"task_id": a.id, "status": "completed"}),
            )])
            .usage(3000, 300),
        );
        w.fake.push(Reply::text("done").usage(4000, 400));
        let row = run(&w, &slug).await;
        let cost = |i: f64, o: f64| (i * 0.15 + o * 0.60) / 1_000_000.0;

        // Call 1 precedes any registry touch: charged nowhere. Call 2 comes after the epic was
        // touched with no active task: overhead. Call 3 is made while A runs: A's. Call 4
        // after A completed: overhead again.
        let a = get_task(&w, &a.id).await;
        assert_eq!((a.actual_tokens, a.llm_calls), (3300, 1), "{name}");
        assert!(
            (a.actual_usd - round_usd(cost(3000.0, 300.0))).abs() < 1e-9,
            "{name}: {}",
            a.actual_usd
        );
        let e = get_epic(&w, &e.id).await;
        assert_eq!(e.agent_overhead_tokens, 2200 + 4400, "{name}");
        assert!(
            (e.agent_overhead_usd - (cost(2000.0, 200.0) + cost(4000.0, 400.0))).abs() < 1e-8,
            "{name}: {}",
            e.agent_overhead_usd
        );
        // Spend is the tasks' actuals only; overhead is not spend.
        assert_eq!(e.spent_tokens, 3300, "{name}");
        assert_eq!(row.total_tokens, 11_000, "{name}");
    }
}

/// trigger → a1 → a2, both agents on the fake provider, `a1` interrupting before it runs so the
/// test can link a task to the execution first.
async fn two_agent_chain(w: &World) -> String {
    let slug = agent_workflow(w, "chain", &[], json!({})).await;
    let s = &w.services;
    let node = |v: Value| serde_json::from_value(v).expect("node in");
    s.patch_node(
        &w.caller,
        &slug,
        "a",
        serde_json::from_value(json!({"interrupt_before": true})).expect("patch"),
    )
    .await
    .expect("interrupt a");
    s.create_node(
        &w.caller,
        &slug,
        node(json!({"node_id": "a2", "component_type": "agent",
            "config": {"system_prompt": "second"}})),
    )
    .await
    .expect("a2");
    for (src, dst, label) in [("a", "a2", None), ("m", "a2", Some("llm"))] {
        let mut e = json!({"source_node_id": src, "target_node_id": dst});
        if let Some(l) = label {
            e["edge_label"] = json!(l);
        }
        s.create_edge(&w.caller, &slug, serde_json::from_value(e).expect("edge"))
            .await
            .expect("edge");
    }
    slug
}

/// Starts the chain, links `task_id` to the execution while it waits before `a`, resumes it.
async fn run_linked(
    w: &World,
    slug: &str,
    task_id: &str,
) -> agentry_store::executions::ExecutionRow {
    let id = w
        .services
        .execute(&w.caller, slug, "go".into(), None)
        .await
        .expect("execute");
    wait_for(w, &id, &["interrupted"]).await;
    w.services
        .patch_task(
            Scope::owner(w.caller.user_id),
            task_id,
            TaskPatch {
                execution_id: Patch::Value(id.clone()),
                ..Default::default()
            },
        )
        .await
        .expect("link");
    w.services
        .resume_execution(&w.caller, &id, "yes".into())
        .await
        .expect("resume");
    wait_for(w, &id, &["completed", "failed"]).await
}

#[tokio::test]
async fn over_budget_epic_stops_its_execution_before_the_next_node() {
    for t in testing::all("over_budget_epic_stops").await {
        let w = world(t.db.clone()).await;
        let name = t.db.backend_name();
        let e = epic(&w, w.caller.user_id, "Tight", Some(50)).await;
        let a = task(&w, &e.id, "A", &[]).await;
        let slug = two_agent_chain(&w).await;
        w.fake.push(Reply::text("first").usage(40, 20));
        w.fake.push(Reply::text("second").usage(1, 1));
        let row = run_linked(&w, &slug, &a.id).await;
        let msg = "Epic budget exceeded: 60 tokens used (budget: 50 tokens)";
        assert_eq!(
            (row.status.as_str(), row.error_message.as_str()),
            ("failed", msg),
            "{name}"
        );
        // The gated node never ran: one model call only.
        assert_eq!(w.fake.chat_bodies().len(), 1, "{name}");
        // The task mirrors the failure, with the execution's usage; the epic's status stays.
        let a = get_task(&w, &a.id).await;
        assert_eq!(a.status, "failed", "{name}");
        assert_eq!(a.error_message.as_deref(), Some(msg), "{name}");
        assert_eq!(a.actual_tokens, 60, "{name}");
        let e = get_epic(&w, &e.id).await;
        assert_eq!(
            (e.status.as_str(), e.spent_tokens),
            ("planning", 60),
            "{name}"
        );
        assert_eq!(e.failed_tasks, 1, "{name}");
    }
}

#[tokio::test]
async fn a_task_mirrors_the_execution_it_delegated_to() {
    for t in testing::all("task_mirrors_execution").await {
        let w = world(t.db.clone()).await;
        let name = t.db.backend_name();
        let e = epic(&w, w.caller.user_id, "Roomy", Some(1_000_000)).await;
        let a = task(&w, &e.id, "A", &[]).await;
        let b = task(&w, &e.id, "B", &[&a.id]).await;
        let slug = two_agent_chain(&w).await;
        w.fake.push(Reply::text("first").usage(40, 20));
        w.fake.push(Reply::text("the answer").usage(10, 5));
        let row = run_linked(&w, &slug, &a.id).await;
        assert_eq!(row.status, "completed", "{name}: {}", row.error_message);
        let a = get_task(&w, &a.id).await;
        assert_eq!(a.status, "completed", "{name}");
        // The execution's final output, as compact JSON (registry.md §5).
        assert_eq!(
            a.result_summary.as_deref(),
            Some(r#"{"output":"the answer"}"#),
            "{name}"
        );
        assert_eq!((a.actual_tokens, a.llm_calls), (75, 2), "{name}");
        assert!(a.completed_at.is_some(), "{name}");
        // Its completion unblocked B and rolled up to the epic in the same commit.
        assert_eq!(get_task(&w, &b.id).await.status, "pending", "{name}");
        let e = get_epic(&w, &e.id).await;
        assert_eq!((e.completed_tasks, e.spent_tokens), (1, 75), "{name}");
    }
}
