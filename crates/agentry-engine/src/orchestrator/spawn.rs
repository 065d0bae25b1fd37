//! `spawn_and_await` on the orchestrator's side (delegation.md §3–§9): create every child in
//! the commit that parks the agent node (all-or-nothing, idempotent per cycle and item), link
//! their tasks, and arm the deadline; at the deadline, fill the missing slots with
//! `Child execution timed out`, resume the parent, and cancel the stragglers. Results of
//! children that end in time arrive through `executions::report_to_parent`.

use super::{EngineResult, Orchestrator, Run};
use crate::agent::tools::spawn::SpawnRequest;
use crate::events::node_status;
use agentry_core::flow::SnapNode;
use agentry_service::executions::{self as exec_ops, Origin};
use agentry_store::jobs::{JobRow, NewJob};
use agentry_store::workflows::WorkflowRow;
use agentry_store::{Tx, executions, jobs, node_runs, now_ms, users, waits, workflows};
use serde_json::{Value, json};

/// Children exist at depths 1..=3 (delegation.md §4).
pub const MAX_SPAWN_DEPTH: i64 = 3;
/// The job kind that fires a spawn wait's deadline.
pub const DEADLINE_JOB: &str = "spawn_deadline";
const WAIT_KIND: &str = "spawn";

impl Orchestrator {
    /// The agent suspended on `spawn_and_await`: validate every item, create the children,
    /// park the node. Any failure resumes the node at once with `{"_error"}` instead, so the
    /// model reads `Spawn failed: …` and keeps reasoning; nothing is created then.
    pub(super) async fn park_on_children(
        &self,
        tx: &mut Tx,
        run: &mut Run,
        node: &SnapNode,
        req: &SpawnRequest,
        duration_ms: i64,
    ) -> EngineResult<()> {
        let targets = match self.resolve_targets(tx, run, req).await? {
            Ok(t) => t,
            Err(message) => {
                // Resume the same node now: it stays in flight, nothing waits.
                run.book
                    .resume
                    .insert(node.node_id.clone(), json!({"_error": message}));
                run.next
                    .push((node.node_id.clone(), now_ms(), json!({"resume": true})));
                return Ok(());
            }
        };
        let (id, slug) = (run.id(), run.slug());
        let user = run.full.row.user_profile_id;
        let root = run.full.row.root_execution_id.clone();
        let cycle = {
            let c = run
                .book
                .spawn_cycles
                .entry(node.node_id.clone())
                .or_insert(0);
            *c += 1;
            *c
        };
        let depth = run.book.spawn_depth + 1;
        let mut child_ids = vec![];
        for (i, (item, (target, trigger))) in req.tasks.iter().zip(&targets).enumerate() {
            let child = exec_ops::create_in(
                tx,
                target,
                Origin {
                    trigger_node_id: trigger.as_deref(),
                    payload: json!({"text": item.input_text, "payload": item.input_data,
                        "_spawn_depth": depth}),
                    user_id: user,
                    parent: Some((&id, &node.node_id, &root)),
                    // A retried job finds the same children instead of making new ones.
                    spawn_key: Some(format!("{id}:{}:spawn{cycle}:{i}", node.node_id)),
                    root: Some(run.root_link(&node.node_id)),
                },
            )
            .await?;
            if let (Some(task_id), Some(user)) = (&item.task_id, user) {
                let linked = agentry_service::registry::link_task_in(
                    tx,
                    task_id,
                    user,
                    &child,
                    target.id,
                    &target.slug,
                    None,
                )
                .await?;
                if !linked {
                    tracing::info!(
                        task_id,
                        child,
                        "spawn: task not linked (unknown or not the user's)"
                    );
                }
            }
            child_ids.push(child);
        }
        let deadline = now_ms() + req.timeout_seconds * 1000;
        let wait_id = waits::insert(
            tx,
            &id,
            &node.node_id,
            WAIT_KIND,
            &json!({"child_ids": child_ids, "results": {}, "spawn": true, "cycle": cycle}),
            Some(deadline),
        )
        .await?;
        jobs::enqueue(
            tx,
            NewJob {
                kind: DEADLINE_JOB,
                execution_id: Some(&id),
                node_id: &node.node_id,
                payload: json!({"wait_id": wait_id, "cycle": cycle}),
                run_at: deadline,
            },
        )
        .await?;
        run.book.waiting.insert(node.node_id.clone());
        if run.book.waiting.len() as i64 >= run.book.inflight {
            run.book.pause(now_ms());
        }
        let about = json!({"child_execution_ids": child_ids, "cycle": cycle});
        node_runs::insert(
            tx,
            node_runs::NewNodeRun {
                execution_id: &id,
                node_id: &node.node_id,
                status: "waiting",
                input: None,
                output: None,
                error: "",
                error_code: "",
                metadata: &about,
                duration_ms,
                now: now_ms(),
            },
        )
        .await?;
        node_status(
            tx,
            &id,
            &slug,
            run.topo.0.root.as_ref(),
            node,
            "waiting",
            about,
        );
        self.services.work.notify_waiters();
        Ok(())
    }

    /// Every item's target workflow and trigger node, or the first item's failure message.
    async fn resolve_targets(
        &self,
        tx: &mut Tx,
        run: &Run,
        req: &SpawnRequest,
    ) -> EngineResult<Result<Vec<(WorkflowRow, Option<String>)>, String>> {
        if run.book.spawn_depth >= MAX_SPAWN_DEPTH {
            return Ok(Err(format!(
                "Spawn depth limit reached ({MAX_SPAWN_DEPTH}). Cannot spawn further child workflows."
            )));
        }
        let Some(user) = run.full.row.user_profile_id else {
            return Ok(Err("no user to run the child as".into()));
        };
        let is_admin = users::get(&self.services.db, user)
            .await?
            .is_some_and(|u| u.role == "admin");
        let mut out = vec![];
        for item in &req.tasks {
            if item.workflow_slug == "self" {
                let Some(own) = workflows::get_in(tx, run.topo.0.workflow_id).await? else {
                    return Ok(Err("target workflow not found: slug='self'".into()));
                };
                out.push((own, run.full.row.trigger_node_id.clone()));
                continue;
            }
            let target = workflows::get_by_slug_in(tx, &item.workflow_slug)
                .await?
                .filter(|w| w.is_public || w.owner_id == user || is_admin);
            let Some(target) = target else {
                return Ok(Err(format!(
                    "target workflow not found: slug='{}'",
                    item.workflow_slug
                )));
            };
            let trigger = agentry_store::nodes::list_in(tx, target.id)
                .await?
                .into_iter()
                .find(|n| n.component_type == "trigger_workflow")
                .map(|n| n.node_id);
            out.push((target, trigger));
        }
        Ok(Ok(out))
    }

    /// A spawn wait's deadline (delegation.md §6): unless the wait already completed (or is of
    /// another cycle), every missing slot becomes `Child execution timed out`, the parent
    /// resumes with the results in input order, and the unfinished children are cancelled with
    /// their descendants and linked tasks (their late results find no wait and are dropped).
    pub(super) async fn spawn_deadline(&self, job: &JobRow) -> EngineResult<()> {
        let mut tx = self.services.db.begin().await?;
        let Some(mut run) = self.load(&mut tx, job).await? else {
            return self.commit(tx).await;
        };
        let wait_id = job.payload.0.get("wait_id").and_then(Value::as_i64);
        let wait = waits::find(&mut tx, &run.id(), &job.node_id).await?;
        let Some(wait) = wait.filter(|w| Some(w.id) == wait_id && w.kind == WAIT_KIND) else {
            return self.save_and_commit(tx, Some(run), job).await;
        };
        if run.status.is_terminal() {
            return self.save_and_commit(tx, Some(run), job).await;
        }
        let data = wait.data.0.clone();
        let child_ids: Vec<String> = data["child_ids"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let now = now_ms();
        let mut slots = vec![];
        let mut late = vec![];
        for child in &child_ids {
            if let Some(done) = data["results"].get(child) {
                slots.push(done.clone());
                continue;
            }
            let row = executions::get_full_for_update(&mut tx, child, false).await?;
            let (duration_ms, tokens) = row
                .as_ref()
                .map(|r| {
                    (
                        r.row.started_at.map(|s| (now - s).max(0)).unwrap_or(0),
                        r.row.total_tokens,
                    )
                })
                .unwrap_or((0, 0));
            slots.push(
                json!({"_error": "Child execution timed out", "execution_id": child,
                "status": "timed_out", "duration_ms": duration_ms, "total_tokens": tokens}),
            );
            late.push(child.clone());
        }
        waits::delete(&mut tx, wait.id).await?;
        run.book.waiting.remove(&job.node_id);
        run.book.unpause(now);
        run.book
            .resume
            .insert(job.node_id.clone(), Value::Array(slots));
        run.next
            .push((job.node_id.clone(), now, json!({"resume": true})));
        for child in late {
            // Not as a root: the parent is told through the slot above, not "cancelled".
            exec_ops::cancel_tree_in(&mut tx, &child, false).await?;
        }
        self.save_and_commit(tx, Some(run), job).await
    }
}
