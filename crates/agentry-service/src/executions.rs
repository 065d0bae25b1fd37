//! Executions (api.md §6, §11; engine.md §4, §6): creating them (manual, chat, webhook, child),
//! reading them, cancelling them with their descendants, answering confirmations, and the
//! durable steps both the API and the workers need (finishing an execution and reporting to a
//! waiting parent). Work itself runs on workers (`agentry-engine`); this module only writes
//! rows and jobs.

use crate::dto::{
    ExecutionDetailOut, ExecutionOut, ExecutionStatusOut, LogOut, PendingConfirmationOut,
};
use crate::workflows::can_read;
use crate::{Caller, ServiceError, ServiceResult, Services};
use agentry_core::flow::{SnapEdge, SnapNode, Snapshot};
use agentry_core::graph::{EdgeLabel, EdgeType};
use agentry_core::page::{Page, PageRequest};
use agentry_core::run::{Book, Status};
use agentry_core::time::iso;
use agentry_store::executions::{self, ExecutionFilter, ExecutionRow, NewExecution, Totals};
use agentry_store::jobs::{self, NewJob};
use agentry_store::workflows::{self, WorkflowRow};
use agentry_store::{NewEvent, Tx, confirmations, edges, node_runs, nodes, now_ms, waits};
use rand::RngCore;
use serde_json::{Value, json};

pub const NOT_FOUND: &str = "Execution not found.";

/// A new random UUIDv4 string.
pub fn new_execution_id() -> String {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Emits an execution event on `execution:{id}` and on `workflow:{slug}` (api.md §10).
pub fn emit_execution_event(tx: &mut Tx, execution_id: &str, slug: &str, kind: &str, data: Value) {
    let mut e = NewEvent::new(format!("execution:{execution_id}"), kind, data.clone());
    e.execution_id = Some(execution_id.to_string());
    tx.emit(e);
    let mut w = NewEvent::new(crate::workflows::channel(slug), kind, data);
    w.execution_id = Some(execution_id.to_string());
    tx.emit(w);
}

/// Where a new execution comes from.
pub struct Origin<'a> {
    pub trigger_node_id: Option<&'a str>,
    pub payload: Value,
    pub user_id: Option<i64>,
    /// `(parent execution, parent node, root execution)` for children.
    pub parent: Option<(&'a str, &'a str, &'a str)>,
    /// Idempotency key for children created by the engine.
    pub spawn_key: Option<String>,
    /// For children: where their node events are mirrored (the root execution).
    pub root: Option<agentry_core::flow::RootLink>,
}

/// Freezes a workflow's graph for an execution.
pub async fn snapshot_in(tx: &mut Tx, w: &WorkflowRow) -> ServiceResult<Snapshot> {
    let node_rows = nodes::list_in(tx, w.id).await?;
    let edge_rows = edges::list_in(tx, w.id).await?;
    Ok(Snapshot {
        workflow_id: w.id,
        slug: w.slug.clone(),
        max_execution_seconds: w.max_execution_seconds,
        nodes: node_rows
            .iter()
            .map(|n| SnapNode {
                node_id: n.node_id.clone(),
                component_type: n.component_type.clone(),
                label: n.label.clone(),
                is_entry_point: n.is_entry_point,
                interrupt_before: n.interrupt_before,
                interrupt_after: n.interrupt_after,
                config: n.config.0.clone(),
                subworkflow_id: n.subworkflow_id,
            })
            .collect(),
        edges: edge_rows
            .iter()
            .map(|e| SnapEdge {
                id: e.id,
                source: e.source_node_id.clone(),
                target: e.target_node_id.clone(),
                edge_type: EdgeType::parse(&e.edge_type).unwrap_or(EdgeType::Direct),
                label: EdgeLabel::parse(&e.edge_label).unwrap_or(EdgeLabel::Data),
                condition_value: e.condition_value.clone(),
                condition_mapping: e.condition_mapping.as_ref().map(|j| j.0.clone()),
                priority: e.priority,
            })
            .collect(),
        root: None,
    })
}

fn to_json<T: serde::Serialize>(v: &T) -> ServiceResult<Value> {
    serde_json::to_value(v).map_err(|e| ServiceError::Internal(e.to_string()))
}

/// Creates a `pending` execution and its start job inside `tx`. Returns the id, or the id of
/// the execution an earlier call with the same `spawn_key` created.
pub async fn create_in(tx: &mut Tx, w: &WorkflowRow, origin: Origin<'_>) -> ServiceResult<String> {
    let id = new_execution_id();
    let mut snapshot = snapshot_in(tx, w).await?;
    snapshot.root = origin.root.clone();
    let snapshot = to_json(&snapshot)?;
    let book = Book {
        spawn_depth: origin
            .payload
            .get("_spawn_depth")
            .and_then(Value::as_i64)
            .unwrap_or(0),
        ..Default::default()
    };
    let root = origin
        .parent
        .map(|(_, _, r)| r.to_string())
        .unwrap_or_else(|| id.clone());
    let inserted = executions::insert(
        tx,
        NewExecution {
            id: &id,
            workflow_id: w.id,
            workflow_slug: &w.slug,
            user_profile_id: origin.user_id,
            trigger_node_id: origin.trigger_node_id,
            trigger_payload: &origin.payload,
            snapshot: &snapshot,
            state: &json!({}),
            book: &to_json(&book)?,
            parent_execution_id: origin.parent.map(|(p, _, _)| p),
            parent_node_id: origin.parent.map(|(_, n, _)| n).unwrap_or(""),
            root_execution_id: &root,
            spawn_key: origin.spawn_key.as_deref(),
            now: now_ms(),
        },
    )
    .await?;
    if !inserted {
        let key = origin.spawn_key.unwrap_or_default();
        return existing_by_spawn_key(tx, &key).await;
    }
    jobs::enqueue(
        tx,
        NewJob {
            kind: "start",
            execution_id: Some(&id),
            node_id: "",
            payload: json!({}),
            run_at: now_ms(),
        },
    )
    .await?;
    Ok(id)
}

async fn existing_by_spawn_key(tx: &mut Tx, key: &str) -> ServiceResult<String> {
    let id = agentry_store::executions::id_by_spawn_key(tx, key).await?;
    id.ok_or_else(|| ServiceError::Internal(format!("spawn key {key} vanished")))
}

fn exec_out(r: &ExecutionRow) -> ExecutionOut {
    ExecutionOut {
        execution_id: r.id.clone(),
        workflow_slug: r.workflow_slug.clone(),
        status: r.status.clone(),
        error_message: r.error_message.clone(),
        started_at: r.started_at.map(iso),
        completed_at: r.completed_at.map(iso),
        created_at: iso(r.created_at),
        total_tokens: r.total_tokens,
        total_input_tokens: r.total_input_tokens,
        total_output_tokens: r.total_output_tokens,
        total_cost_usd: r.total_cost_usd,
        llm_calls: r.llm_calls,
        tool_invocations: r.tool_invocations,
        parent_execution_id: r.parent_execution_id.clone(),
        parent_node_id: r.parent_node_id.clone(),
        root_execution_id: r.root_execution_id.clone(),
    }
}

/// Terminal-state bookkeeping shared by the workers and cancellation: the row, its jobs,
/// waits and confirmations, the final event, and the report to a waiting parent.
pub struct Finish<'a> {
    pub status: Status,
    pub final_output: Option<&'a Value>,
    pub error_message: &'a str,
    pub error_code: Option<&'a str>,
    pub totals: Totals,
    pub activity: Value,
}

/// Ends execution `row` inside `tx`.
pub async fn finish_in(tx: &mut Tx, row: &ExecutionRow, f: Finish<'_>) -> ServiceResult<()> {
    let now = now_ms();
    executions::finish(
        tx,
        &row.id,
        f.status.as_str(),
        f.final_output,
        f.error_message,
        f.totals,
        now,
    )
    .await?;
    jobs::delete_for_execution(tx, &row.id).await?;
    waits::delete_for_execution(tx, &row.id).await?;
    confirmations::delete_for_execution(tx, &row.id).await?;
    // Threads that live only as long as the execution (delegation.md §10).
    agentry_store::checkpoints::delete_for_execution(tx, &row.id).await?;
    // Its platform_api keys end with it.
    agentry_store::api_keys::delete_named(tx, &crate::auth::execution_key_name(&row.id)).await?;
    let (kind, data) = match f.status {
        Status::Completed => (
            "execution_completed",
            json!({"output": f.final_output, "activity_summary": f.activity}),
        ),
        Status::Failed => {
            let mut d = json!({"error": truncate(f.error_message, 500)});
            if let Some(code) = f.error_code {
                d["error_code"] = json!(code);
            }
            ("execution_failed", d)
        }
        _ => ("execution_cancelled", json!({"execution_id": row.id})),
    };
    emit_execution_event(tx, &row.id, &row.workflow_slug, kind, data);
    if f.status == Status::Failed {
        start_error_handler(tx, row, f.error_message).await?;
    }
    if let Some(parent) = &row.parent_execution_id {
        let slot = match f.status {
            Status::Completed => f.final_output.cloned().unwrap_or(Value::Null),
            Status::Failed => {
                json!({"_error": format!("Child execution failed: {}", truncate(f.error_message, 500))})
            }
            _ => json!({"_error": "Child execution cancelled"}),
        };
        let about = json!({
            "execution_id": row.id,
            "status": f.status.as_str(),
            "duration_ms": row.started_at.map(|s| (now - s).max(0)).unwrap_or(0),
            "total_tokens": f.totals.input_tokens + f.totals.output_tokens,
        });
        report_to_parent(tx, parent, &row.parent_node_id, &row.id, slot, &about).await?;
    }
    // A task that delegated to this execution mirrors its end (registry.md §5). After the
    // parent report, so locks go child → parent → epic, the order a spawning parent takes
    // (its own row, then the epic of the tasks it links).
    crate::registry::sync_task_from_execution(tx, &row.id).await?;
    Ok(())
}

/// Puts a child's result into its parent's wait; when the wait is complete, stores the resume
/// value and enqueues the parent node again. Dropped when the parent is not running or
/// interrupted, or no longer waits. A `spawn_and_await` wait also gets `about` (the child's
/// execution id, status, duration and tokens) merged into the slot (delegation.md §5).
pub async fn report_to_parent(
    tx: &mut Tx,
    parent_id: &str,
    node_id: &str,
    child_id: &str,
    slot: Value,
    about: &Value,
) -> ServiceResult<()> {
    let Some(parent) = executions::get_full_for_update(tx, parent_id, false).await? else {
        return Ok(());
    };
    if !matches!(
        Status::parse(&parent.row.status),
        Some(Status::Running | Status::Interrupted)
    ) {
        return Ok(());
    }
    let Some(wait) = waits::find(tx, parent_id, node_id).await? else {
        return Ok(());
    };
    let mut data = wait.data.0.clone();
    let child_ids: Vec<String> = data
        .get("child_ids")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    if !child_ids.iter().any(|c| c == child_id) {
        return Ok(());
    }
    data["results"][child_id] = if data.get("spawn").and_then(Value::as_bool) == Some(true) {
        spawn_slot(slot, about)
    } else {
        slot
    };
    let results = data["results"].as_object().cloned().unwrap_or_default();
    if results.len() < child_ids.len() {
        waits::update_data(tx, wait.id, &data).await?;
        return Ok(());
    }
    let ordered: Vec<Value> = child_ids
        .iter()
        .map(|c| results.get(c).cloned().unwrap_or(Value::Null))
        .collect();
    let value = if data.get("single").and_then(Value::as_bool) == Some(true) {
        ordered.into_iter().next().unwrap_or(Value::Null)
    } else {
        Value::Array(ordered)
    };
    waits::delete(tx, wait.id).await?;
    let mut book: Book = serde_json::from_value(parent.book.0.clone()).unwrap_or_default();
    book.resume.insert(node_id.to_string(), value);
    book.waiting.remove(node_id);
    book.unpause(now_ms());
    let state = parent.state.0.clone();
    executions::save(
        tx,
        parent_id,
        &parent.row.status,
        &state,
        &to_json(&book)?,
        None,
    )
    .await?;
    jobs::enqueue(
        tx,
        NewJob {
            kind: "node",
            execution_id: Some(parent_id),
            node_id,
            payload: json!({"resume": true}),
            run_at: now_ms(),
        },
    )
    .await?;
    Ok(())
}

/// delegation.md §5 (agentry): a child's slot with its execution id, status, duration and
/// tokens beside the result keys (a null result gives those keys alone).
pub fn spawn_slot(result: Value, about: &Value) -> Value {
    let mut slot = match result {
        Value::Object(m) => m,
        Value::Null => serde_json::Map::new(),
        other => {
            let mut m = serde_json::Map::new();
            m.insert("output".into(), other);
            m
        }
    };
    if let Value::Object(extra) = about {
        for (k, v) in extra {
            slot.insert(k.clone(), v.clone());
        }
    }
    Value::Object(slot)
}

pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    text.chars().take(max).collect()
}

impl Services {
    fn can_see(caller: &Caller, row: &ExecutionRow, owner_id: Option<i64>) -> bool {
        caller.is_admin()
            || row.user_profile_id == Some(caller.user_id)
            || owner_id == Some(caller.user_id)
    }

    /// Loads an execution the caller may see.
    pub async fn visible_execution(
        &self,
        caller: &Caller,
        id: &str,
    ) -> ServiceResult<ExecutionRow> {
        let not_found = || ServiceError::NotFound(NOT_FOUND.into());
        let row = executions::get(&self.db, id).await?.ok_or_else(not_found)?;
        let owner = workflows::get(&self.db, row.workflow_id)
            .await?
            .map(|w| w.owner_id);
        if Self::can_see(caller, &row, owner) {
            Ok(row)
        } else {
            Err(not_found())
        }
    }

    async fn start(&self, w: &WorkflowRow, origin: Origin<'_>) -> ServiceResult<String> {
        let mut tx = self.db.begin().await?;
        let id = create_in(&mut tx, w, origin).await?;
        self.commit(tx).await?;
        self.work.notify_waiters();
        Ok(id)
    }

    /// `POST /workflows/{slug}/execute/`.
    pub async fn execute(
        &self,
        caller: &Caller,
        slug: &str,
        text: String,
        trigger_node_id: Option<String>,
    ) -> ServiceResult<String> {
        let w = workflows::get_by_slug(&self.db, slug)
            .await?
            .filter(|w| w.is_active && can_read(caller, w))
            .ok_or_else(|| ServiceError::NotFound("Workflow not found".into()))?;
        let node_rows = nodes::list(&self.db, w.id).await?;
        let trigger = match trigger_node_id {
            Some(t) => node_rows
                .iter()
                .find(|n| n.node_id == t && n.component_type == "trigger_manual")
                .ok_or_else(|| ServiceError::NotFound("Manual trigger node not found".into()))?,
            None => node_rows
                .iter()
                .find(|n| n.component_type == "trigger_manual")
                .ok_or_else(|| {
                    ServiceError::NotFound("No trigger configured for manual execution".into())
                })?,
        };
        let origin = Origin {
            trigger_node_id: Some(&trigger.node_id),
            payload: json!({"text": text}),
            user_id: Some(caller.user_id),
            parent: None,
            spawn_key: None,
            root: None,
        };
        self.start(&w, origin).await
    }

    /// `POST /workflows/{slug}/chat/`.
    pub async fn chat(
        &self,
        caller: &Caller,
        slug: &str,
        text: String,
        trigger_node_id: Option<String>,
    ) -> ServiceResult<String> {
        let w = workflows::get_by_slug(&self.db, slug)
            .await?
            .filter(|w| w.is_active && can_read(caller, w))
            .ok_or_else(|| ServiceError::NotFound(crate::workflows::NOT_FOUND.into()))?;
        let node_rows = nodes::list(&self.db, w.id).await?;
        let trigger = node_rows
            .iter()
            .filter(|n| n.component_type == "trigger_chat")
            .find(|n| trigger_node_id.as_ref().is_none_or(|t| *t == n.node_id))
            .ok_or_else(|| ServiceError::NotFound("No chat trigger found.".into()))?;
        let origin = Origin {
            trigger_node_id: Some(&trigger.node_id),
            payload: json!({"text": text}),
            user_id: Some(caller.user_id),
            parent: None,
            spawn_key: None,
            root: None,
        };
        self.start(&w, origin).await.map_err(|e| match e {
            ServiceError::Unavailable(_) => {
                ServiceError::Unavailable("Failed to enqueue workflow execution.".into())
            }
            other => other,
        })
    }

    /// `POST /webhooks/{slug}/` (no bearer key; the workflow's own secret).
    pub async fn webhook(
        &self,
        slug: &str,
        body: &[u8],
        headers: Vec<(String, String)>,
        signature: Option<&str>,
    ) -> ServiceResult<String> {
        let not_found = || ServiceError::NotFound("Webhook not found.".into());
        let w = workflows::get_by_slug(&self.db, slug)
            .await?
            .filter(|w| w.is_active)
            .ok_or_else(not_found)?;
        let node_rows = nodes::list(&self.db, w.id).await?;
        let trigger = node_rows
            .iter()
            .filter(|n| n.component_type == "trigger_webhook")
            .find(|n| n.config.0.get("is_active").and_then(Value::as_bool) != Some(false))
            .ok_or_else(not_found)?;
        let secret = trigger
            .config
            .0
            .pointer("/trigger_config/secret")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !secret.is_empty() && !crate::signature::verify(secret, body, signature) {
            return Err(ServiceError::Unauthorized("Invalid signature.".into()));
        }
        let parsed: Value = serde_json::from_slice(body)
            .unwrap_or_else(|_| json!({"raw": String::from_utf8_lossy(body)}));
        let text = parsed
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let headers: serde_json::Map<String, Value> = headers
            .into_iter()
            .filter(|(k, _)| {
                k == "content-type"
                    || k == "user-agent"
                    || (k.starts_with("x-") && k != "x-agentry-signature")
            })
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        let origin = Origin {
            trigger_node_id: Some(&trigger.node_id),
            payload: json!({"text": text, "payload": parsed, "headers": headers}),
            user_id: Some(w.owner_id),
            parent: None,
            spawn_key: None,
            root: None,
        };
        self.start(&w, origin).await
    }

    pub async fn list_executions(
        &self,
        caller: &Caller,
        workflow_slug: Option<String>,
        status: Option<String>,
        parent: Option<String>,
        page: PageRequest,
    ) -> ServiceResult<Page<ExecutionOut>> {
        if let Some(s) = &status
            && Status::parse(s).is_none()
        {
            return Err(ServiceError::invalid(
                "status",
                "must be one of pending, running, completed, failed, cancelled, interrupted",
            ));
        }
        let filter = ExecutionFilter {
            visible_to: caller.owner_filter(),
            workflow_slug,
            status,
            parent_execution_id: parent,
        };
        let (rows, total) = executions::list(&self.db, &filter, page).await?;
        Ok(Page {
            items: rows.iter().map(exec_out).collect(),
            total,
        })
    }

    pub async fn get_execution(
        &self,
        caller: &Caller,
        id: &str,
    ) -> ServiceResult<ExecutionDetailOut> {
        self.visible_execution(caller, id).await?;
        let full = executions::get_full(&self.db, id, false)
            .await?
            .ok_or_else(|| ServiceError::NotFound(NOT_FOUND.into()))?;
        let logs = node_runs::list(&self.db, id).await?;
        let pending = confirmations::first_for(&self.db, id).await?;
        Ok(ExecutionDetailOut {
            execution: exec_out(&full.row),
            final_output: full.final_output.map(|j| j.0),
            trigger_payload: full.trigger_payload.0,
            logs: logs
                .into_iter()
                .map(|l| LogOut {
                    id: l.id,
                    node_id: l.node_id,
                    status: l.status,
                    input: l.input.map(|j| j.0),
                    output: l.output.map(|j| j.0),
                    error: l.error,
                    error_code: l.error_code,
                    metadata: l.metadata.0,
                    duration_ms: l.duration_ms,
                    timestamp: iso(l.created_at),
                })
                .collect(),
            pending_confirmation: pending.map(|c| PendingConfirmationOut {
                id: c.id,
                node_id: c.node_id,
                prompt: c.prompt,
                expires_at: iso(c.expires_at),
            }),
        })
    }

    pub async fn execution_status(
        &self,
        caller: &Caller,
        id: &str,
    ) -> ServiceResult<ExecutionStatusOut> {
        let row = self
            .visible_execution(caller, id)
            .await
            .map_err(|_| ServiceError::NotFound("Execution not found".into()))?;
        let full = executions::get_full(&self.db, id, false)
            .await?
            .ok_or_else(|| ServiceError::NotFound("Execution not found".into()))?;
        Ok(ExecutionStatusOut {
            execution_id: row.id,
            workflow: row.workflow_slug,
            status: row.status,
            started_at: row.started_at.map(iso),
            completed_at: row.completed_at.map(iso),
            final_output: full.final_output.map(|j| j.0),
            error_message: if row.error_message.is_empty() {
                None
            } else {
                Some(row.error_message)
            },
        })
    }

    /// Cancels a pending, running or interrupted execution and every descendant.
    pub async fn cancel_execution(&self, caller: &Caller, id: &str) -> ServiceResult<ExecutionOut> {
        let row = self.visible_execution(caller, id).await?;
        let mut tx = self.db.begin().await?;
        cancel_tree_in(&mut tx, &row.id, true).await?;
        self.commit(tx).await?;
        Ok(exec_out(
            &executions::get(&self.db, id).await?.unwrap_or(row),
        ))
    }

    /// Deletes the caller's executions (cancelling running ones first).
    pub async fn batch_delete_executions(
        &self,
        caller: &Caller,
        ids: &[String],
    ) -> ServiceResult<()> {
        if ids.len() > 1000 {
            return Err(ServiceError::invalid(
                "execution_ids",
                "at most 1000 per request",
            ));
        }
        let mut tx = self.db.begin().await?;
        for id in ids {
            let Ok(row) = self.visible_execution(caller, id).await else {
                continue;
            };
            cancel_tree_in(&mut tx, &row.id, true).await?;
            executions::delete(&mut tx, &row.id).await?;
        }
        self.commit(tx).await
    }

    /// `POST /executions/{id}/resume/`: answers the pending confirmation.
    pub async fn resume_execution(
        &self,
        caller: &Caller,
        id: &str,
        input: String,
    ) -> ServiceResult<ExecutionOut> {
        let row = self.visible_execution(caller, id).await?;
        let mut tx = self.db.begin().await?;
        let Some(conf) = confirmations::first_for_in(&mut tx, id).await? else {
            return Err(ServiceError::Conflict(
                "Execution is not waiting for input.".into(),
            ));
        };
        answer_in(&mut tx, &row, &conf, &input).await?;
        self.commit(tx).await?;
        self.work.notify_waiters();
        Ok(exec_out(
            &executions::get(&self.db, id).await?.unwrap_or(row),
        ))
    }
}

/// Words that confirm (engine.md §2), compared lower-cased and trimmed.
pub fn is_confirming(text: &str) -> bool {
    matches!(
        text.trim().to_lowercase().as_str(),
        "yes" | "confirm" | "true" | "y" | "1"
    )
}

/// Applies an answer to a confirmation inside `tx`.
async fn answer_in(
    tx: &mut Tx,
    row: &ExecutionRow,
    conf: &confirmations::ConfirmationRow,
    input: &str,
) -> ServiceResult<()> {
    let full = executions::get_full_for_update(tx, &row.id, false)
        .await?
        .ok_or_else(|| ServiceError::NotFound(NOT_FOUND.into()))?;
    let mut book: Book = serde_json::from_value(full.book.0.clone()).unwrap_or_default();
    confirmations::delete(tx, &conf.id).await?;
    let confirmed = is_confirming(input);
    if conf.phase != "node" && !confirmed {
        // A rejected generic interrupt cancels the execution.
        return cancel_tree_in(tx, &row.id, true).await;
    }
    match conf.phase.as_str() {
        "node" => {
            book.resume
                .insert(conf.node_id.clone(), Value::String(input.to_string()));
        }
        "before" => {
            book.confirmed_before.insert(conf.node_id.clone());
        }
        _ => {
            book.confirmed_after
                .entry(conf.node_id.clone())
                .or_insert(None);
        }
    }
    let now = now_ms();
    let remaining = confirmations::first_for_in(tx, &row.id).await?;
    let status = if remaining.is_some() {
        Status::Interrupted
    } else {
        Status::Running
    };
    if status == Status::Running {
        book.unpause(now);
    }
    executions::save(
        tx,
        &row.id,
        status.as_str(),
        &full.state.0,
        &to_json(&book)?,
        None,
    )
    .await?;
    jobs::enqueue(
        tx,
        NewJob {
            kind: "node",
            execution_id: Some(&row.id),
            node_id: &conf.node_id,
            payload: json!({"resume": true, "phase": conf.phase}),
            run_at: now,
        },
    )
    .await?;
    Ok(())
}

/// Cancels `id` (if not terminal) and its non-terminal descendants. `is_root`: the execution the
/// caller cancelled; its parent, if waiting, gets the `cancelled` slot.
pub async fn cancel_tree_in(tx: &mut Tx, id: &str, is_root: bool) -> ServiceResult<()> {
    let mut stack = vec![(id.to_string(), is_root)];
    while let Some((current, root)) = stack.pop() {
        let Some(full) = executions::get_full_for_update(tx, &current, false).await? else {
            continue;
        };
        let status = Status::parse(&full.row.status).unwrap_or(Status::Failed);
        if status.is_terminal() {
            continue;
        }
        for child in executions::active_children(tx, &current).await? {
            stack.push((child, false));
        }
        let mut row = full.row.clone();
        if !root {
            // Its parent is being cancelled too: nothing to report.
            row.parent_execution_id = None;
        }
        finish_in(
            tx,
            &row,
            Finish {
                status: Status::Cancelled,
                final_output: None,
                error_message: "",
                error_code: None,
                totals: Totals {
                    input_tokens: row.total_input_tokens,
                    output_tokens: row.total_output_tokens,
                    cost_usd: row.total_cost_usd,
                    llm_calls: row.llm_calls,
                    tool_invocations: row.tool_invocations,
                },
                activity: Value::Null,
            },
        )
        .await?;
    }
    Ok(())
}

/// engine.md §11 "error handler": a failed execution starts its workflow's error-handler
/// workflow at an active `trigger_error` node. Failures of error handlers start nothing.
async fn start_error_handler(
    tx: &mut Tx,
    row: &ExecutionRow,
    error_message: &str,
) -> ServiceResult<()> {
    let Some(w) = workflows::get_in(tx, row.workflow_id).await? else {
        return Ok(());
    };
    let Some(handler_id) = w.error_handler_workflow_id else {
        return Ok(());
    };
    let own_nodes = nodes::list_in(tx, w.id).await?;
    let started_by_error = row.trigger_node_id.as_ref().is_some_and(|t| {
        own_nodes
            .iter()
            .any(|n| &n.node_id == t && n.component_type == "trigger_error")
    });
    if started_by_error {
        return Ok(());
    }
    let Some(handler) = workflows::get_in(tx, handler_id).await? else {
        return Ok(());
    };
    if !handler.is_active || !(handler.is_public || handler.owner_id == w.owner_id) {
        return Ok(());
    }
    let handler_nodes = nodes::list_in(tx, handler.id).await?;
    let Some(trigger) = handler_nodes.iter().find(|n| {
        n.component_type == "trigger_error"
            && n.config.0.get("is_active").and_then(Value::as_bool) != Some(false)
    }) else {
        return Ok(());
    };
    let node_id = error_message
        .strip_prefix("Node ")
        .and_then(|rest| rest.split_once(": "))
        .map(|(id, _)| id.to_string())
        .unwrap_or_default();
    let payload = json!({
        "text": error_message,
        "error": {
            "execution_id": row.id,
            "workflow_slug": row.workflow_slug,
            "node_id": node_id,
            "error_message": error_message,
        }
    });
    let origin = Origin {
        trigger_node_id: Some(&trigger.node_id),
        payload,
        user_id: Some(w.owner_id),
        parent: None,
        spawn_key: Some(format!("error-handler:{}", row.id)),
        root: None,
    };
    create_in(tx, &handler, origin).await?;
    Ok(())
}

/// A chat text that answers a pending confirmation: `/confirm_{id}` (= yes) or `/cancel_{id}`
/// (= no). Returns the confirmation id and the answer.
pub fn chat_command(text: &str) -> Option<(&str, &str)> {
    let text = text.trim();
    if let Some(id) = text.strip_prefix("/confirm_") {
        return Some((id, "yes"));
    }
    text.strip_prefix("/cancel_").map(|id| (id, "no"))
}

impl Services {
    /// Answers a confirmation named by a chat text (engine.md §6): the confirmation must be
    /// visible to the caller and not expired. Starts nothing; returns the answered execution.
    pub async fn answer_chat_command(
        &self,
        caller: &Caller,
        confirmation_id: &str,
        answer: &str,
    ) -> ServiceResult<(String, String)> {
        let not_found = || ServiceError::NotFound("Confirmation not found.".into());
        let mut tx = self.db.begin().await?;
        let conf = confirmations::get_in(&mut tx, confirmation_id)
            .await?
            .ok_or_else(not_found)?;
        if conf.expires_at < now_ms() {
            return Err(not_found());
        }
        let row = self
            .visible_execution(caller, &conf.execution_id)
            .await
            .map_err(|_| not_found())?;
        answer_in(&mut tx, &row, &conf, answer).await?;
        self.commit(tx).await?;
        self.work.notify_waiters();
        let status = executions::get(&self.db, &row.id)
            .await?
            .map(|r| r.status)
            .unwrap_or(row.status);
        Ok((row.id, status))
    }
}
