//! The task registry over HTTP (api.md §8-§10, registry.md): epics and tasks, every endpoint
//! and status code, dependency chains, transitions, retry, cancel cascades (with the linked
//! executions), deletes re-evaluating dependents, roll-up under concurrent writers, scoping
//! between users, ranked search, `epic:` WebSocket events; and the engine's sync from an
//! execution and procedural memory, driven through the service on the same database.

use crate::support::{Client, TestServer, Ws, detail};
use agentry_service::registry::{link_task_in, sync_task_from_execution};
use agentry_store::executions::{self, NewExecution, Totals};
use agentry_store::testing;
use serde_json::{Value, json};
use std::collections::BTreeSet;

const EPIC_KEYS: &[&str] = &[
    "id",
    "title",
    "description",
    "tags",
    "created_by_node_id",
    "workflow_id",
    "user_profile_id",
    "status",
    "priority",
    "budget_tokens",
    "budget_usd",
    "spent_tokens",
    "spent_usd",
    "agent_overhead_tokens",
    "agent_overhead_usd",
    "total_tasks",
    "completed_tasks",
    "failed_tasks",
    "created_at",
    "updated_at",
    "completed_at",
    "result_summary",
];

const TASK_KEYS: &[&str] = &[
    "id",
    "epic_id",
    "title",
    "description",
    "tags",
    "created_by_node_id",
    "status",
    "priority",
    "workflow_id",
    "workflow_slug",
    "execution_id",
    "workflow_source",
    "depends_on",
    "requirements",
    "estimated_tokens",
    "actual_tokens",
    "actual_usd",
    "llm_calls",
    "tool_invocations",
    "duration_ms",
    "created_at",
    "updated_at",
    "started_at",
    "completed_at",
    "result_summary",
    "error_message",
    "retry_count",
    "max_retries",
    "notes",
];

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().expect("an object").keys().cloned().collect()
}

fn key_set(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|k| k.to_string()).collect()
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

async fn epic(c: &Client, body: Value) -> Value {
    let (status, out) = c.post("/api/v1/epics/", body).await;
    assert_eq!(status, 201, "create epic: {out}");
    out
}

async fn task(c: &Client, epic_id: &str, title: &str, deps: &[&str]) -> Value {
    let (status, out) = c
        .post(
            "/api/v1/tasks/",
            json!({"epic_id": epic_id, "title": title, "depends_on": deps}),
        )
        .await;
    assert_eq!(status, 201, "create task {title}: {out}");
    out
}

async fn set_status(c: &Client, task_id: &str, status: &str) -> Value {
    let (code, out) = c
        .patch(
            &format!("/api/v1/tasks/{task_id}/"),
            json!({"status": status}),
        )
        .await;
    assert_eq!(code, 200, "{task_id} -> {status}: {out}");
    out
}

async fn get(c: &Client, path: &str) -> Value {
    let (status, out) = c.get(path).await;
    assert_eq!(status, 200, "GET {path}: {out}");
    out
}

async fn status_of(c: &Client, task_id: &str) -> String {
    get(c, &format!("/api/v1/tasks/{task_id}/")).await["status"]
        .as_str()
        .expect("status")
        .to_string()
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("a list answer, got {page}"))
        .iter()
        .map(id)
        .collect()
}

#[tokio::test]
async fn epic_endpoints_and_fields() {
    for db in testing::all("registry_epic_endpoints").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = s.admin().await;
        let me = get(&admin, "/api/v1/auth/me/").await;

        let e = epic(&admin, json!({"title": "Launch"})).await;
        assert_eq!(keys(&e), key_set(EPIC_KEYS), "[{b}] {e}");
        let eid = id(&e);
        assert!(eid.starts_with("ep-") && eid.len() == 29, "[{b}] {eid}");
        assert_eq!(e["status"], "planning");
        assert_eq!(e["priority"], 2);
        assert_eq!(e["tags"], json!([]));
        assert_eq!(e["description"], "");
        assert_eq!(e["user_profile_id"], me["id"]);
        assert_eq!(e["budget_usd"], Value::Null);
        assert_eq!(e["spent_usd"], json!(0.0));
        assert_eq!(e["total_tasks"], 0);
        assert!(e["created_at"].as_str().is_some_and(|t| t.ends_with('Z')));

        let wf = admin.create_workflow(json!({"name": "host"})).await;
        let full = epic(
            &admin,
            json!({"title": "Full", "description": "d", "tags": ["a", "b"], "priority": 1,
                   "budget_tokens": 1000, "budget_usd": 2.5, "workflow_id": wf["id"]}),
        )
        .await;
        assert_eq!(full["tags"], json!(["a", "b"]), "[{b}]");
        assert_eq!(full["budget_usd"], json!(2.5));
        assert_eq!(full["budget_tokens"], 1000);
        assert_eq!(full["workflow_id"], wf["id"]);

        // 422s name the field.
        for (body, field) in [
            (json!({}), "title"),
            (json!({"title": ""}), "title"),
            (json!({"title": "x".repeat(256)}), "title"),
            (json!({"title": "x", "priority": 0}), "priority"),
            (json!({"title": "x", "priority": 6}), "priority"),
            (json!({"title": "x", "tags": "a,b"}), "tags"),
            (json!({"title": "x", "budget_usd": -1}), "budget_usd"),
            (json!({"title": "x", "workflow_id": 999_999}), "workflow_id"),
        ] {
            let (status, out) = admin.post("/api/v1/epics/", body.clone()).await;
            assert_eq!(status, 422, "[{b}] {body}: {out}");
            assert!(out["detail"].to_string().contains(field), "[{b}] {out}");
        }

        assert_eq!(get(&admin, &format!("/api/v1/epics/{eid}/")).await, e);
        assert_eq!(
            admin.get("/api/v1/epics/ep-nope/").await,
            (404, detail("Epic not found.")),
            "[{b}]"
        );

        // Lists: newest first, filters by status, tags (any-of, exact), workflow.
        let all = get(&admin, "/api/v1/epics/").await;
        assert_eq!(ids(&all), vec![id(&full), eid.clone()], "[{b}]");
        assert_eq!(all["total"], 2);
        let tagged = get(&admin, "/api/v1/epics/?tags=zzz,b").await;
        assert_eq!(ids(&tagged), vec![id(&full)], "[{b}]");
        assert_eq!(get(&admin, "/api/v1/epics/?tags=bb").await["total"], 0);
        let by_wf = get(&admin, &format!("/api/v1/epics/?workflow_id={}", wf["id"])).await;
        assert_eq!(ids(&by_wf), vec![id(&full)]);
        let paged = get(&admin, "/api/v1/epics/?limit=1&offset=1").await;
        assert_eq!(
            (ids(&paged), paged["total"].clone()),
            (vec![eid.clone()], json!(2))
        );
        assert_eq!(
            admin.get("/api/v1/epics/?status=nope").await.0,
            422,
            "[{b}]"
        );
        assert_eq!(admin.get("/api/v1/epics/?limit=-1").await.0, 422, "[{b}]");

        // PATCH: fields, transitions, completed_at.
        let path = format!("/api/v1/epics/{eid}/");
        let (status, p) = admin
            .patch(
                &path,
                json!({"title": "Launch v2", "tags": ["x"], "result_summary": "ok",
                                  "budget_usd": 1.25, "status": "active"}),
            )
            .await;
        assert_eq!(status, 200, "[{b}] {p}");
        assert_eq!(
            (p["title"].clone(), p["status"].clone()),
            (json!("Launch v2"), json!("active"))
        );
        assert_eq!(p["tags"], json!(["x"]));
        assert_eq!(p["budget_usd"], json!(1.25));
        assert_eq!(p["completed_at"], Value::Null);
        assert_eq!(admin.patch(&path, json!({"status": "bogus"})).await.0, 422);
        assert_eq!(admin.patch(&path, json!({"priority": 9})).await.0, 422);
        assert_eq!(admin.patch(&path, json!({"title": null})).await.0, 422);
        assert_eq!(
            admin.patch(&path, json!({"status": "planning"})).await,
            (409, detail("Invalid status transition: active -> planning")),
            "[{b}]"
        );
        let (_, paused) = admin.patch(&path, json!({"status": "paused"})).await;
        assert_eq!(paused["status"], "paused");
        assert_eq!(
            admin.patch(&path, json!({"status": "completed"})).await,
            (
                409,
                detail("Invalid status transition: paused -> completed")
            )
        );
        let (_, failed) = admin.patch(&path, json!({"status": "failed"})).await;
        assert!(failed["completed_at"].is_string(), "[{b}] {failed}");
        // Same status again is a no-op success; terminal epics move nowhere else.
        assert_eq!(admin.patch(&path, json!({"status": "failed"})).await.0, 200);
        assert_eq!(
            admin.patch(&path, json!({"status": "active"})).await,
            (409, detail("Invalid status transition: failed -> active"))
        );

        // Delete and batch delete.
        assert_eq!(admin.delete(&path).await, (204, Value::Null), "[{b}]");
        assert_eq!(admin.delete(&path).await, (404, detail("Epic not found.")));
        let x = epic(&admin, json!({"title": "x"})).await;
        let (status, _) = admin
            .post(
                "/api/v1/epics/batch-delete/",
                json!({"epic_ids": [id(&x), "ep-unknown"]}),
            )
            .await;
        assert_eq!(status, 204);
        assert_eq!(
            admin.get(&format!("/api/v1/epics/{}/", id(&x))).await.0,
            404
        );
        assert_eq!(
            admin
                .post("/api/v1/epics/batch-delete/", json!({"epic_ids": []}))
                .await
                .0,
            204
        );
        assert_eq!(
            ids(&get(&admin, "/api/v1/epics/").await),
            vec![id(&full)],
            "[{b}]"
        );
    }
}

#[tokio::test]
async fn task_endpoints_dependencies_and_transitions() {
    for db in testing::all("registry_task_dependencies").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let c = s.admin().await;
        let e = id(&epic(&c, json!({"title": "Chain"})).await);

        // A → B → C.
        let a = task(&c, &e, "A", &[]).await;
        assert_eq!(keys(&a), key_set(TASK_KEYS), "[{b}] {a}");
        assert!(id(&a).starts_with("tk-") && id(&a).len() == 29);
        assert_eq!(
            (
                a["status"].clone(),
                a["priority"].clone(),
                a["max_retries"].clone()
            ),
            (json!("pending"), json!(2), json!(2))
        );
        assert_eq!(a["workflow_source"], "inline");
        assert_eq!(
            (a["notes"].clone(), a["requirements"].clone()),
            (json!([]), Value::Null)
        );
        let bb = task(&c, &e, "B", &[&id(&a)]).await;
        let cc = task(&c, &e, "C", &[&id(&bb)]).await;
        assert_eq!(
            (bb["status"].clone(), cc["status"].clone()),
            (json!("blocked"), json!("blocked"))
        );
        let ep = get(&c, &format!("/api/v1/epics/{e}/")).await;
        assert_eq!(ep["total_tasks"], 3, "[{b}] counters follow creates");

        // Blocked tasks cannot start; completion unblocks the next link only.
        assert_eq!(
            c.patch(
                &format!("/api/v1/tasks/{}/", id(&bb)),
                json!({"status": "running"})
            )
            .await,
            (409, detail("Invalid status transition: blocked -> running")),
            "[{b}]"
        );
        let running = set_status(&c, &id(&a), "running").await;
        assert!(running["started_at"].is_string(), "[{b}]");
        let done = set_status(&c, &id(&a), "completed").await;
        assert!(done["completed_at"].is_string());
        assert_eq!(status_of(&c, &id(&bb)).await, "pending", "[{b}]");
        assert_eq!(status_of(&c, &id(&cc)).await, "blocked", "[{b}]");
        set_status(&c, &id(&bb), "completed").await;
        assert_eq!(status_of(&c, &id(&cc)).await, "pending", "[{b}]");
        assert_eq!(
            c.patch(
                &format!("/api/v1/tasks/{}/", id(&a)),
                json!({"status": "pending"})
            )
            .await,
            (
                409,
                detail("Invalid status transition: completed -> pending")
            ),
            "[{b}]"
        );

        // Diamond D → {E, F} → G (duplicates in depends_on are dropped).
        let d = task(&c, &e, "D", &[]).await;
        let ee = task(&c, &e, "E", &[&id(&d)]).await;
        let f = task(&c, &e, "F", &[&id(&d)]).await;
        let g = task(&c, &e, "G", &[&id(&ee), &id(&f), &id(&ee)]).await;
        assert_eq!(g["depends_on"], json!([id(&ee), id(&f)]), "[{b}]");
        set_status(&c, &id(&d), "completed").await;
        assert_eq!(status_of(&c, &id(&ee)).await, "pending");
        assert_eq!(status_of(&c, &id(&f)).await, "pending");
        set_status(&c, &id(&ee), "completed").await;
        assert_eq!(
            status_of(&c, &id(&g)).await,
            "blocked",
            "[{b}] one of two done"
        );
        set_status(&c, &id(&f), "failed").await;
        assert_eq!(
            status_of(&c, &id(&g)).await,
            "blocked",
            "[{b}] a failed dep blocks"
        );
        set_status(&c, &id(&f), "pending").await; // failed → pending = retry
        set_status(&c, &id(&f), "completed").await;
        assert_eq!(status_of(&c, &id(&g)).await, "pending", "[{b}]");

        // Unknown and other-epic dependencies are refused; depends_on is immutable.
        let other = id(&epic(&c, json!({"title": "Other"})).await);
        let foreign = task(&c, &other, "elsewhere", &[]).await;
        for deps in [vec!["tk-nope".to_string()], vec![id(&foreign)]] {
            let (status, out) = c
                .post(
                    "/api/v1/tasks/",
                    json!({"epic_id": e, "title": "x", "depends_on": deps}),
                )
                .await;
            assert_eq!(
                (status, out),
                (422, detail("One or more dependencies do not exist")),
                "[{b}]"
            );
        }
        assert_eq!(
            c.patch(
                &format!("/api/v1/tasks/{}/", id(&g)),
                json!({"depends_on": []})
            )
            .await,
            (422, detail("depends_on cannot be changed after creation")),
            "[{b}]"
        );
        assert_eq!(
            c.post(
                "/api/v1/tasks/",
                json!({"epic_id": "ep-nope", "title": "x"})
            )
            .await,
            (404, detail("Epic not found."))
        );
        for (body, field) in [
            (json!({"epic_id": e}), "title"),
            (
                json!({"epic_id": e, "title": "x", "priority": 7}),
                "priority",
            ),
            (
                json!({"epic_id": e, "title": "x", "requirements": [1]}),
                "requirements",
            ),
            (
                json!({"epic_id": e, "title": "x", "max_retries": -1}),
                "max_retries",
            ),
        ] {
            let (status, out) = c.post("/api/v1/tasks/", body.clone()).await;
            assert_eq!(status, 422, "[{b}] {body}: {out}");
            assert!(out["detail"].to_string().contains(field), "[{b}] {out}");
        }
        let (status, out) = c
            .patch(
                &format!("/api/v1/tasks/{}/", id(&g)),
                json!({"status": "done"}),
            )
            .await;
        assert_eq!(status, 422, "[{b}] {out}");

        // PATCH fields, notes replace the array; GET, 404s.
        let (status, p) = c
            .patch(
                &format!("/api/v1/tasks/{}/", id(&g)),
                json!({"title": "G2", "notes": ["one", {"k": 1}], "workflow_slug": "wf",
                       "result_summary": "r", "tags": ["t"], "priority": 5}),
            )
            .await;
        assert_eq!(status, 200, "[{b}] {p}");
        assert_eq!(p["notes"], json!(["one", {"k": 1}]));
        assert_eq!(
            (p["title"].clone(), p["workflow_slug"].clone()),
            (json!("G2"), json!("wf"))
        );
        assert_eq!(get(&c, &format!("/api/v1/tasks/{}/", id(&g))).await, p);
        assert_eq!(
            c.get("/api/v1/tasks/tk-nope/").await,
            (404, detail("Task not found."))
        );
        assert_eq!(
            c.patch("/api/v1/tasks/tk-nope/", json!({"title": "x"}))
                .await,
            (404, detail("Task not found."))
        );

        // Lists and filters; actionable is pending-only, oldest first.
        let by_epic = get(&c, &format!("/api/v1/tasks/?epic_id={e}")).await;
        assert_eq!(by_epic["total"], 7, "[{b}]");
        assert_eq!(ids(&by_epic)[0], id(&g), "[{b}] newest first");
        let pending = get(&c, &format!("/api/v1/tasks/?epic_id={e}&status=pending")).await;
        assert_eq!(ids(&pending), vec![id(&g), id(&cc)], "[{b}]");
        assert_eq!(get(&c, "/api/v1/tasks/?tags=t").await["total"], 1);
        assert_eq!(get(&c, "/api/v1/tasks/?workflow_slug=wf").await["total"], 1);
        let actionable = get(&c, "/api/v1/tasks/actionable/").await;
        assert_eq!(
            ids(&actionable),
            vec![id(&cc), id(&g), id(&foreign)],
            "[{b}]"
        );
        let scoped = get(
            &c,
            &format!("/api/v1/tasks/actionable/?epic_id={e}&limit=1"),
        )
        .await;
        assert_eq!(
            (ids(&scoped), scoped["total"].clone()),
            (vec![id(&cc)], json!(2))
        );
        let epic_tasks = get(&c, &format!("/api/v1/epics/{e}/tasks/?limit=2")).await;
        assert_eq!(
            (epic_tasks["total"].clone(), ids(&epic_tasks).len()),
            (json!(7), 2)
        );
        assert_eq!(
            c.get("/api/v1/epics/ep-nope/tasks/").await,
            (404, detail("Epic not found."))
        );

        // Counters and progress.
        let ep = get(&c, &format!("/api/v1/epics/{e}/")).await;
        assert_eq!(
            (
                ep["total_tasks"].clone(),
                ep["completed_tasks"].clone(),
                ep["failed_tasks"].clone()
            ),
            (json!(7), json!(5), json!(0)),
            "[{b}] {ep}"
        );
        let progress = get(&c, &format!("/api/v1/epics/{e}/progress/")).await;
        assert_eq!(
            progress,
            json!({"progress": {"total": 7, "completed": 5, "running": 0, "failed": 0,
                                 "blocked": 0, "pending": 2, "cancelled": 0},
                   "cost": {"spent_tokens": 0, "spent_usd": 0.0, "budget_tokens": null,
                            "budget_usd": null, "agent_overhead_tokens": 0,
                            "agent_overhead_usd": 0.0}}),
            "[{b}]"
        );
        assert_eq!(
            c.get("/api/v1/epics/ep-nope/progress/").await,
            (404, detail("Epic not found."))
        );
    }
}

#[tokio::test]
async fn retry_and_cancel_follow_the_rules() {
    for db in testing::all("registry_retry_and_cancel").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let c = s.admin().await;
        let e = id(&epic(&c, json!({"title": "Retry"})).await);
        let t = id(&task(&c, &e, "flaky", &[]).await);
        let retry = format!("/api/v1/tasks/{t}/retry/");

        assert_eq!(
            c.post(&retry, json!({})).await,
            (409, detail("Only failed tasks can be retried")),
            "[{b}]"
        );
        set_status(&c, &t, "running").await;
        let (_, failed) = c
            .patch(
                &format!("/api/v1/tasks/{t}/"),
                json!({"status": "failed", "error_message": "boom"}),
            )
            .await;
        assert_eq!(failed["error_message"], "boom");
        assert_eq!(
            get(&c, &format!("/api/v1/epics/{e}/")).await["failed_tasks"],
            1,
            "[{b}]"
        );
        let (status, r1) = c.post(&retry, json!({})).await;
        assert_eq!(status, 200, "[{b}] {r1}");
        assert_eq!(
            (
                r1["status"].clone(),
                r1["retry_count"].clone(),
                r1["error_message"].clone(),
                r1["completed_at"].clone()
            ),
            (json!("pending"), json!(1), Value::Null, Value::Null),
            "[{b}]"
        );
        assert_eq!(
            get(&c, &format!("/api/v1/epics/{e}/")).await["failed_tasks"],
            0,
            "[{b}]"
        );
        // PATCH failed → pending is the same retry.
        set_status(&c, &t, "failed").await;
        let r2 = set_status(&c, &t, "pending").await;
        assert_eq!(r2["retry_count"], 2, "[{b}]");
        set_status(&c, &t, "failed").await;
        assert_eq!(
            c.post(&retry, json!({})).await,
            (409, detail("Retry limit reached")),
            "[{b}]"
        );
        assert_eq!(
            c.patch(&format!("/api/v1/tasks/{t}/"), json!({"status": "pending"}))
                .await,
            (409, detail("Retry limit reached")),
            "[{b}]"
        );
        assert_eq!(
            c.post("/api/v1/tasks/tk-nope/retry/", json!({})).await.0,
            404
        );

        // Retry of a task whose dependency is not completed comes back blocked.
        let dep = id(&task(&c, &e, "dep", &[]).await);
        let d2 = id(&task(&c, &e, "dependent", &[&dep]).await);
        set_status(&c, &dep, "failed").await;
        set_status(&c, &dep, "pending").await;
        assert_eq!(status_of(&c, &d2).await, "blocked");

        // Cancel: failed tasks can be cancelled, with the reason as a note; twice is 409.
        let cancel = format!("/api/v1/tasks/{t}/cancel/");
        let (status, out) = c.post(&cancel, json!({"reason": "giving up"})).await;
        assert_eq!(status, 200, "[{b}] {out}");
        assert_eq!(out["status"], "cancelled");
        assert_eq!(out["notes"], json!(["Cancelled: giving up"]));
        assert_eq!(
            c.post(&cancel, json!({})).await,
            (409, detail("Task already cancelled"))
        );
        // No body at all is fine; a completed task refuses.
        let done = id(&task(&c, &e, "done", &[]).await);
        set_status(&c, &done, "completed").await;
        let (status, out) = c
            .raw(
                reqwest::Method::POST,
                &format!("/api/v1/tasks/{done}/cancel/"),
                None,
            )
            .await;
        assert_eq!(
            (status, out),
            (409, detail("Task already completed")),
            "[{b}]"
        );
        let (status, out) = c
            .raw(
                reqwest::Method::POST,
                &format!("/api/v1/tasks/{d2}/cancel/"),
                None,
            )
            .await;
        assert_eq!(
            (status, out["status"].clone(), out["notes"].clone()),
            (200, json!("cancelled"), json!([]))
        );
        assert_eq!(
            c.post("/api/v1/tasks/tk-nope/cancel/", json!({})).await,
            (404, detail("Task not found."))
        );
    }
}

/// An execution row of `workflow_id` in `status`, inserted through the store.
async fn execution(s: &TestServer, workflow: &Value, user: i64, status: &str) -> String {
    let id = agentry_service::executions::new_execution_id();
    let empty = json!({});
    let mut tx = s.db().begin().await.expect("begin");
    executions::insert(
        &mut tx,
        NewExecution {
            id: &id,
            workflow_id: workflow["id"].as_i64().expect("workflow id"),
            workflow_slug: workflow["slug"].as_str().expect("slug"),
            user_profile_id: Some(user),
            trigger_node_id: None,
            trigger_payload: &empty,
            snapshot: &empty,
            state: &empty,
            book: &empty,
            parent_execution_id: None,
            parent_node_id: "",
            root_execution_id: &id,
            spawn_key: None,
            now: agentry_store::now_ms(),
        },
    )
    .await
    .expect("insert execution");
    if status != "pending" {
        executions::save(
            &mut tx,
            &id,
            status,
            &empty,
            &empty,
            Some(agentry_store::now_ms()),
        )
        .await
        .expect("save execution");
    }
    tx.commit().await.expect("commit");
    id
}

async fn execution_status(s: &TestServer, id: &str) -> String {
    executions::get(s.db(), id)
        .await
        .expect("read")
        .expect("exists")
        .status
}

#[tokio::test]
async fn epic_cancel_cascades_to_unfinished_tasks_and_executions() {
    for db in testing::all("registry_epic_cancel_cascade").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let c = s.admin().await;
        let me = get(&c, "/api/v1/auth/me/").await["id"]
            .as_i64()
            .expect("id");
        let wf = c.create_workflow(json!({"name": "worker"})).await;
        let e = id(&epic(&c, json!({"title": "Doomed"})).await);

        let done = id(&task(&c, &e, "done", &[]).await);
        set_status(&c, &done, "completed").await;
        let failed = id(&task(&c, &e, "failed", &[]).await);
        set_status(&c, &failed, "failed").await;
        let pending = id(&task(&c, &e, "pending", &[]).await);
        let blocked = id(&task(&c, &e, "blocked", &[&failed]).await);
        let running = id(&task(&c, &e, "running", &[]).await);
        let exec = execution(&s, &wf, me, "running").await;
        let (status, _) = c
            .patch(
                &format!("/api/v1/tasks/{running}/"),
                json!({"status": "running", "execution_id": exec}),
            )
            .await;
        assert_eq!(status, 200);

        let (status, out) = c
            .patch(
                &format!("/api/v1/epics/{e}/"),
                json!({"status": "cancelled"}),
            )
            .await;
        assert_eq!(status, 200, "[{b}] {out}");
        assert_eq!(out["status"], "cancelled");
        assert!(out["completed_at"].is_string());
        for (t, want) in [
            (&done, "completed"),
            (&failed, "failed"),
            (&pending, "cancelled"),
            (&blocked, "cancelled"),
            (&running, "cancelled"),
        ] {
            assert_eq!(status_of(&c, t).await, want, "[{b}] {t}");
        }
        assert_eq!(
            execution_status(&s, &exec).await,
            "cancelled",
            "[{b}] linked execution"
        );
        assert_eq!(
            (
                out["total_tasks"].clone(),
                out["completed_tasks"].clone(),
                out["failed_tasks"].clone()
            ),
            (json!(5), json!(1), json!(1))
        );

        // A task cancel cancels its linked execution too.
        let e2 = id(&epic(&c, json!({"title": "Two"})).await);
        let t = id(&task(&c, &e2, "one", &[]).await);
        let exec2 = execution(&s, &wf, me, "pending").await;
        c.patch(
            &format!("/api/v1/tasks/{t}/"),
            json!({"execution_id": exec2}),
        )
        .await;
        let (status, out) = c
            .post(
                &format!("/api/v1/tasks/{t}/cancel/"),
                json!({"reason": "stop"}),
            )
            .await;
        assert_eq!(
            (status, out["status"].clone()),
            (200, json!("cancelled")),
            "[{b}] {out}"
        );
        assert_eq!(execution_status(&s, &exec2).await, "cancelled", "[{b}]");
    }
}

#[tokio::test]
async fn deletes_clean_dependencies() {
    for db in testing::all("registry_deletes_clean_dependencies").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let c = s.admin().await;
        let e = id(&epic(&c, json!({"title": "Deps"})).await);
        let a = id(&task(&c, &e, "A", &[]).await);
        let bb = id(&task(&c, &e, "B", &[&a]).await);
        let cc = id(&task(&c, &e, "C", &[&a, &bb]).await);

        assert_eq!(
            c.delete(&format!("/api/v1/tasks/{a}/")).await,
            (204, Value::Null)
        );
        assert_eq!(
            c.delete(&format!("/api/v1/tasks/{a}/")).await,
            (404, detail("Task not found."))
        );
        let b_now = get(&c, &format!("/api/v1/tasks/{bb}/")).await;
        assert_eq!(
            (b_now["status"].clone(), b_now["depends_on"].clone()),
            (json!("pending"), json!([])),
            "[{b}]"
        );
        let c_now = get(&c, &format!("/api/v1/tasks/{cc}/")).await;
        assert_eq!(
            (c_now["status"].clone(), c_now["depends_on"].clone()),
            (json!("blocked"), json!([bb])),
            "[{b}]"
        );
        assert_eq!(
            get(&c, &format!("/api/v1/epics/{e}/")).await["total_tasks"],
            2
        );

        let (status, _) = c
            .post(
                "/api/v1/tasks/batch-delete/",
                json!({"task_ids": [bb, "tk-unknown"]}),
            )
            .await;
        assert_eq!(status, 204);
        let c_now = get(&c, &format!("/api/v1/tasks/{cc}/")).await;
        assert_eq!(
            (c_now["status"].clone(), c_now["depends_on"].clone()),
            (json!("pending"), json!([])),
            "[{b}]"
        );
        assert_eq!(
            get(&c, &format!("/api/v1/epics/{e}/")).await["total_tasks"],
            1,
            "[{b}]"
        );

        // Deleting the epic deletes its tasks.
        assert_eq!(c.delete(&format!("/api/v1/epics/{e}/")).await.0, 204);
        assert_eq!(c.get(&format!("/api/v1/tasks/{cc}/")).await.0, 404, "[{b}]");
    }
}

#[tokio::test]
async fn users_only_see_their_own_epics_and_tasks() {
    for db in testing::all("registry_scoping").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let admin = s.admin().await;
        let alice = s.user(&admin, "alice").await;
        let bob = s.user(&admin, "bob").await;
        let e = id(&epic(&alice, json!({"title": "Alice's"})).await);
        let t = id(&task(&alice, &e, "secret", &[]).await);
        let bob_epic = id(&epic(&bob, json!({"title": "Bob's"})).await);

        for path in [
            format!("/api/v1/epics/{e}/"),
            format!("/api/v1/epics/{e}/tasks/"),
            format!("/api/v1/epics/{e}/progress/"),
        ] {
            assert_eq!(
                bob.get(&path).await,
                (404, detail("Epic not found.")),
                "[{b}] {path}"
            );
        }
        assert_eq!(
            bob.get(&format!("/api/v1/tasks/{t}/")).await,
            (404, detail("Task not found."))
        );
        assert_eq!(
            bob.patch(&format!("/api/v1/epics/{e}/"), json!({"title": "mine"}))
                .await
                .0,
            404
        );
        assert_eq!(
            bob.patch(&format!("/api/v1/tasks/{t}/"), json!({"title": "mine"}))
                .await
                .0,
            404
        );
        assert_eq!(
            bob.post(&format!("/api/v1/tasks/{t}/retry/"), json!({}))
                .await
                .0,
            404
        );
        assert_eq!(
            bob.post(&format!("/api/v1/tasks/{t}/cancel/"), json!({}))
                .await
                .0,
            404
        );
        assert_eq!(bob.delete(&format!("/api/v1/tasks/{t}/")).await.0, 404);
        assert_eq!(bob.delete(&format!("/api/v1/epics/{e}/")).await.0, 404);
        assert_eq!(
            bob.post("/api/v1/tasks/", json!({"epic_id": e, "title": "sneak"}))
                .await,
            (404, detail("Epic not found.")),
            "[{b}]"
        );
        assert_eq!(
            ids(&get(&bob, "/api/v1/epics/").await),
            vec![bob_epic.clone()],
            "[{b}]"
        );
        assert_eq!(get(&bob, "/api/v1/tasks/").await["total"], 0);
        assert_eq!(get(&bob, "/api/v1/tasks/actionable/").await["total"], 0);
        let (_, found) = bob
            .post("/api/v1/epics/search/", json!({"query": "Alice"}))
            .await;
        assert_eq!(found["total"], 0, "[{b}] {found}");
        let (_, found) = bob
            .post("/api/v1/tasks/search/", json!({"query": "secret"}))
            .await;
        assert_eq!(found["total"], 0, "[{b}] {found}");
        assert_eq!(
            bob.post("/api/v1/tasks/batch-delete/", json!({"task_ids": [t]}))
                .await
                .0,
            204
        );
        assert_eq!(
            bob.post("/api/v1/epics/batch-delete/", json!({"epic_ids": [e]}))
                .await
                .0,
            204
        );
        assert_eq!(
            get(&alice, &format!("/api/v1/tasks/{t}/")).await["title"],
            "secret",
            "[{b}] skipped"
        );
        assert_eq!(
            get(&alice, &format!("/api/v1/epics/{e}/")).await["total_tasks"],
            1
        );

        // Admins see everything.
        assert_eq!(get(&admin, "/api/v1/epics/").await["total"], 2, "[{b}]");
        assert_eq!(
            get(&admin, &format!("/api/v1/tasks/{t}/")).await["id"],
            json!(t)
        );

        // WebSocket: bob may not subscribe to alice's epic.
        let mut ws = Ws::connect(&s, bob.token()).await;
        let channel = format!("epic:{e}");
        ws.send(json!({"type": "subscribe", "channel": channel}))
            .await;
        assert_eq!(
            ws.recv().await,
            json!({"type": "error", "channel": channel, "detail": "forbidden"}),
            "[{b}]"
        );
    }
}

#[tokio::test]
async fn rollup_survives_concurrent_writers() {
    for db in testing::all("registry_concurrent_rollup").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let c = s.admin().await;
        let e = id(&epic(&c, json!({"title": "Busy"})).await);
        let mut writers = vec![];
        for w in 0..8 {
            let c = c.clone();
            let e = e.clone();
            writers.push(tokio::spawn(async move {
                for i in 0..4 {
                    let t = id(&task(&c, &e, &format!("w{w}-{i}"), &[]).await);
                    match i {
                        0 | 1 => {
                            set_status(&c, &t, "completed").await;
                        }
                        2 => {
                            set_status(&c, &t, "failed").await;
                        }
                        _ => {}
                    }
                }
            }));
        }
        for w in writers {
            w.await.expect("writer");
        }
        let ep = get(&c, &format!("/api/v1/epics/{e}/")).await;
        let count = |status: &'static str| {
            let c = c.clone();
            let e = e.clone();
            async move {
                get(
                    &c,
                    &format!("/api/v1/tasks/?epic_id={e}&status={status}&limit=1"),
                )
                .await["total"]
                    .clone()
            }
        };
        assert_eq!(ep["total_tasks"], 32, "[{b}] {ep}");
        assert_eq!(ep["completed_tasks"], count("completed").await, "[{b}]");
        assert_eq!(ep["completed_tasks"], 16, "[{b}]");
        assert_eq!(ep["failed_tasks"], count("failed").await, "[{b}]");
        assert_eq!(ep["failed_tasks"], 8, "[{b}]");
    }
}

#[tokio::test]
async fn search_ranks_text_matches() {
    for db in testing::all("registry_search").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let c = s.admin().await;
        let strong = epic(
            &c,
            json!({"title": "Deploy the API gateway", "description": "deploy api, then deploy api again",
                   "tags": ["ops"]}),
        )
        .await;
        let weak = epic(
            &c,
            json!({"title": "Quarterly notes", "description": "maybe deploy later"}),
        )
        .await;
        let none = epic(&c, json!({"title": "Unrelated", "tags": ["ops"]})).await;

        let (status, found) = c
            .post("/api/v1/epics/search/", json!({"query": "deploying API"}))
            .await;
        assert_eq!(status, 200, "[{b}] {found}");
        assert_eq!(ids(&found), vec![id(&strong), id(&weak)], "[{b}] {found}");
        assert_eq!(found["total"], 2);
        let items = found["items"].as_array().expect("items");
        let scores: Vec<f64> = items
            .iter()
            .map(|i| i["score"].as_f64().expect("score"))
            .collect();
        assert!(scores[0] > scores[1] && scores[1] > 0.0, "[{b}] {scores:?}");
        assert_eq!(items[0]["success_rate"], Value::Null);
        assert_eq!(
            keys(&items[0]).len(),
            EPIC_KEYS.len() + 2,
            "[{b}] EpicOut + score + success_rate"
        );

        // Empty query: filters only, newest first, score 0.
        let (_, all) = c.post("/api/v1/epics/search/", json!({})).await;
        assert_eq!(ids(&all), vec![id(&none), id(&weak), id(&strong)], "[{b}]");
        assert!(
            all["items"]
                .as_array()
                .expect("items")
                .iter()
                .all(|i| i["score"] == json!(0.0))
        );
        let (_, ops) = c
            .post(
                "/api/v1/epics/search/",
                json!({"query": "deploy", "tags": ["ops"]}),
            )
            .await;
        assert_eq!(ids(&ops), vec![id(&strong)], "[{b}]");
        let (_, limited) = c.post("/api/v1/epics/search/", json!({"limit": 1})).await;
        assert_eq!(
            (ids(&limited).len(), limited["total"].clone()),
            (1, json!(3))
        );
        assert_eq!(
            c.post("/api/v1/epics/search/", json!({"status": "nope"}))
                .await
                .0,
            422
        );
        // Query syntax is just words.
        let (status, _) = c
            .post("/api/v1/epics/search/", json!({"query": "\"NEAR( OR * -"}))
            .await;
        assert_eq!(status, 200, "[{b}]");

        // Tasks: notes and result summaries are searched too.
        let e = id(&strong);
        let t1 = id(&task(&c, &e, "Write migration", &[]).await);
        let t2 = id(&task(&c, &e, "Review", &[]).await);
        c.patch(
            &format!("/api/v1/tasks/{t2}/"),
            json!({"notes": ["the migration of the postgres migration"]}),
        )
        .await;
        task(&c, &e, "Other", &[]).await;
        let (_, found) = c
            .post(
                "/api/v1/tasks/search/",
                json!({"query": "migration postgres"}),
            )
            .await;
        assert_eq!(ids(&found), vec![t2.clone(), t1.clone()], "[{b}] {found}");
        let (_, filtered) = c
            .post(
                "/api/v1/tasks/search/",
                json!({"query": "migration", "epic_id": id(&weak)}),
            )
            .await;
        assert_eq!(filtered["total"], 0);
        let (_, all) = c
            .post(
                "/api/v1/tasks/search/",
                json!({"query": "", "status": "pending"}),
            )
            .await;
        assert_eq!(all["total"], 3, "[{b}]");
    }
}

#[tokio::test]
async fn epic_events_reach_subscribers_after_rest_changes() {
    for db in testing::all("registry_ws_events").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let alice = s.admin().await;
        let e = epic(&alice, json!({"title": "Live"})).await;
        let eid = id(&e);
        let channel = format!("epic:{eid}");
        let mut ws = Ws::connect(&s, alice.token()).await;
        ws.subscribe(&channel).await;

        let t = task(&alice, &eid, "watched", &[]).await;
        let ev = ws.recv().await;
        assert_eq!(
            (ev["type"].clone(), ev["channel"].clone()),
            (json!("task_created"), json!(channel)),
            "[{b}]"
        );
        assert_eq!(ev["data"], t, "[{b}]");
        assert!(ev["id"].is_i64());
        let ev = ws.recv().await;
        assert_eq!(ev["type"], "epic_updated", "[{b}] counters moved");
        assert_eq!(ev["data"]["total_tasks"], 1);

        let done = set_status(&alice, &id(&t), "completed").await;
        let ev = ws.recv().await;
        assert_eq!(
            (ev["type"].clone(), ev["data"].clone()),
            (json!("task_updated"), done),
            "[{b}]"
        );
        assert_eq!(ws.recv().await["type"], "epic_updated");

        let (_, patched) = alice
            .patch(
                &format!("/api/v1/epics/{eid}/"),
                json!({"status": "active"}),
            )
            .await;
        let ev = ws.recv().await;
        assert_eq!(
            (ev["type"].clone(), ev["data"].clone()),
            (json!("epic_updated"), patched),
            "[{b}]"
        );

        alice.delete(&format!("/api/v1/tasks/{}/", id(&t))).await;
        let ev = ws.recv().await;
        assert_eq!(
            (ev["type"].clone(), ev["data"].clone()),
            (json!("task_deleted"), json!({"id": id(&t)})),
            "[{b}]"
        );
        assert_eq!(ws.recv().await["type"], "epic_updated");

        let t2 = id(&task(&alice, &eid, "two", &[]).await);
        ws.recv().await;
        ws.recv().await;
        alice
            .post("/api/v1/tasks/batch-delete/", json!({"task_ids": [t2]}))
            .await;
        let ev = ws.recv().await;
        assert_eq!(
            (ev["type"].clone(), ev["data"].clone()),
            (json!("tasks_deleted"), json!({"task_ids": [t2]})),
            "[{b}]"
        );
        ws.recv().await;

        alice.delete(&format!("/api/v1/epics/{eid}/")).await;
        let ev = ws.recv().await;
        assert_eq!(
            (ev["type"].clone(), ev["data"].clone()),
            (json!("epic_deleted"), json!({"id": eid})),
            "[{b}]"
        );
    }
}

/// Ends execution `id` as `status` with this usage (what the engine's finish writes).
async fn finish(
    s: &TestServer,
    id: &str,
    status: &str,
    output: Option<Value>,
    error: &str,
    tokens: i64,
    usd: f64,
) {
    let mut tx = s.db().begin().await.expect("begin");
    let totals = Totals {
        input_tokens: tokens,
        output_tokens: 0,
        cost_usd: usd,
        llm_calls: 2,
        tool_invocations: 3,
    };
    executions::finish(
        &mut tx,
        id,
        status,
        output.as_ref(),
        error,
        totals,
        agentry_store::now_ms(),
    )
    .await
    .expect("finish");
    sync_task_from_execution(&mut tx, id).await.expect("sync");
    tx.commit().await.expect("commit");
}

#[tokio::test]
async fn engine_sync_mirrors_executions_and_adds_up_attempts() {
    for db in testing::all("registry_engine_sync").await {
        let s = TestServer::start(db).await;
        let b = s.backend;
        let c = s.admin().await;
        let me = get(&c, "/api/v1/auth/me/").await["id"]
            .as_i64()
            .expect("id");
        let wf = c.create_workflow(json!({"name": "child"})).await;
        let e = id(&epic(&c, json!({"title": "Delegated", "tags": ["deploy"]})).await);
        let t = id(&task(&c, &e, "delegated", &[]).await);
        let next = id(&task(&c, &e, "next", &[&t]).await);
        let link = |exec: &str| json!({"status": "running", "execution_id": exec, "workflow_slug": "child"});

        // Attempt 1 fails.
        let x1 = execution(&s, &wf, me, "running").await;
        c.patch(&format!("/api/v1/tasks/{t}/"), link(&x1)).await;
        finish(&s, &x1, "failed", None, &"e".repeat(600), 100, 0.25).await;
        let after1 = get(&c, &format!("/api/v1/tasks/{t}/")).await;
        assert_eq!(after1["status"], "failed", "[{b}] {after1}");
        assert_eq!(
            after1["error_message"].as_str().map(str::len),
            Some(500),
            "[{b}]"
        );
        assert_eq!(
            (
                after1["actual_tokens"].clone(),
                after1["actual_usd"].clone(),
                after1["llm_calls"].clone(),
                after1["tool_invocations"].clone()
            ),
            (json!(100), json!(0.25), json!(2), json!(3)),
            "[{b}]"
        );
        assert!(after1["completed_at"].is_string());
        let ep = get(&c, &format!("/api/v1/epics/{e}/")).await;
        assert_eq!(
            (ep["spent_tokens"].clone(), ep["failed_tasks"].clone()),
            (json!(100), json!(1)),
            "[{b}]"
        );

        // Retry, attempt 2 completes: costs add up, dependents unblock; a second sync of the
        // same execution changes nothing.
        c.post(&format!("/api/v1/tasks/{t}/retry/"), json!({}))
            .await;
        let x2 = execution(&s, &wf, me, "running").await;
        // The engine's spawn link (delegation.md §4): only the epic owner's tasks.
        let wf_id = wf["id"].as_i64().expect("workflow id");
        let mut tx = s.db().begin().await.expect("begin");
        let foreign = link_task_in(&mut tx, &t, me + 1000, &x2, wf_id, "child", None).await;
        let linked = link_task_in(&mut tx, &t, me, &x2, wf_id, "child", None).await;
        tx.commit().await.expect("commit");
        assert_eq!(
            (foreign.ok(), linked.ok()),
            (Some(false), Some(true)),
            "[{b}]"
        );
        let running = get(&c, &format!("/api/v1/tasks/{t}/")).await;
        assert_eq!(
            (
                running["status"].clone(),
                running["execution_id"].clone(),
                running["workflow_id"].clone(),
                running["workflow_source"].clone()
            ),
            (
                json!("running"),
                json!(x2),
                wf["id"].clone(),
                json!("existing")
            ),
            "[{b}]"
        );
        finish(
            &s,
            &x2,
            "completed",
            Some(json!({"answer": 42})),
            "",
            50,
            0.5,
        )
        .await;
        let mut tx = s.db().begin().await.expect("begin");
        sync_task_from_execution(&mut tx, &x2)
            .await
            .expect("sync again");
        tx.commit().await.expect("commit");
        let after2 = get(&c, &format!("/api/v1/tasks/{t}/")).await;
        assert_eq!(after2["status"], "completed", "[{b}]");
        assert_eq!(after2["result_summary"], json!("{\"answer\":42}"), "[{b}]");
        assert_eq!(
            (
                after2["actual_tokens"].clone(),
                after2["actual_usd"].clone(),
                after2["llm_calls"].clone()
            ),
            (json!(150), json!(0.75), json!(4)),
            "[{b}] attempts add up"
        );
        assert_eq!(status_of(&c, &next).await, "pending", "[{b}] auto-unblock");
        let ep = get(&c, &format!("/api/v1/epics/{e}/")).await;
        assert_eq!(
            (
                ep["spent_tokens"].clone(),
                ep["spent_usd"].clone(),
                ep["completed_tasks"].clone(),
                ep["failed_tasks"].clone()
            ),
            (json!(150), json!(0.75), json!(1), json!(0)),
            "[{b}] {ep}"
        );

        // A cancelled task is never flipped back; an execution no task references is ignored.
        let t3 = id(&task(&c, &e, "cancelled", &[]).await);
        let x3 = execution(&s, &wf, me, "running").await;
        c.patch(&format!("/api/v1/tasks/{t3}/"), link(&x3)).await;
        c.post(&format!("/api/v1/tasks/{t3}/cancel/"), json!({}))
            .await;
        assert_eq!(execution_status(&s, &x3).await, "cancelled", "[{b}]");
        finish(&s, &x3, "completed", Some(json!("late")), "", 10, 0.0).await;
        assert_eq!(status_of(&c, &t3).await, "cancelled", "[{b}]");
        let orphan = execution(&s, &wf, me, "running").await;
        finish(&s, &orphan, "completed", None, "", 1, 0.0).await;

        // Budget check (registry.md §8) for an execution linked to a task.
        let t4 = id(&task(&c, &e, "budgeted", &[]).await);
        let x4 = execution(&s, &wf, me, "running").await;
        c.patch(&format!("/api/v1/tasks/{t4}/"), link(&x4)).await;
        c.patch(
            &format!("/api/v1/epics/{e}/"),
            json!({"budget_tokens": 200}),
        )
        .await;
        let mut tx = s.db().begin().await.expect("begin");
        let within = agentry_service::registry::budget_check_in(&mut tx, &x4, 50, 0.0)
            .await
            .expect("check");
        let over = agentry_service::registry::budget_check_in(&mut tx, &x4, 51, 0.0)
            .await
            .expect("check");
        let unlinked = agentry_service::registry::budget_check_in(&mut tx, &orphan, 1_000, 0.0)
            .await
            .expect("check");
        tx.rollback().await.expect("rollback");
        assert_eq!(within, None, "[{b}] 150 + 50 is not over 200");
        assert_eq!(
            over.as_deref(),
            Some("Epic budget exceeded: 201 tokens used (budget: 200 tokens)"),
            "[{b}]"
        );
        assert_eq!(unlinked, None);

        // Procedural memory when the epic completes (registry.md §9), found by epic search.
        c.post(&format!("/api/v1/tasks/{t4}/cancel/"), json!({}))
            .await;
        set_status(&c, &next, "completed").await;
        let (status, done) = c
            .patch(
                &format!("/api/v1/epics/{e}/"),
                json!({"status": "completed"}),
            )
            .await;
        assert_eq!(status, 200, "[{b}] {done}");
        let memory = agentry_store::memories::get(s.db(), me, "fact", &format!("procedure:{e}"))
            .await
            .expect("read memory")
            .expect("procedure memory written");
        assert_eq!(memory.fact_type, "procedure");
        let value: Value = serde_json::from_str(&memory.value).expect("JSON value");
        assert_eq!(value["goal"], "Delegated", "[{b}] {value}");
        assert_eq!(value["tags"], json!(["deploy"]));
        assert_eq!(value["workflow_slugs"], json!(["child"]));
        assert_eq!(value["success_rate"], json!(0.5), "[{b}] 2 of 4 completed");
        assert!(value["duration_ms"].as_i64().is_some_and(|d| d >= 0));
        let (_, found) = c
            .post("/api/v1/epics/search/", json!({"query": "child"}))
            .await;
        assert_eq!(
            ids(&found),
            vec![e.clone()],
            "[{b}] workflow slug found through memory"
        );
    }
}
