//! What the engine calls inside its own transactions: the sync of a task from the execution it
//! references (registry.md §5, §7), the epic budget check before a node (§8), and inline-task
//! cost / agent overhead (§12). None of these check a scope: the engine acts on rows it already
//! owns through the execution.
//!
//! Lock order: the engine holds the execution row when it finishes it; these take the epic row
//! after it (the order every registry operation keeps, see the module doc of `registry`).

use super::tasks::{set_status, unblock_dependents_in};
use super::{emit_epic, emit_task, recount_and_announce};
use crate::ServiceResult;
use agentry_core::registry::{
    self as rules, Budget, SYNC_TEXT_MAX, TaskStatus, budget_exceeded, truncate_chars,
};
use agentry_store::epics as epic_store;
use agentry_store::tasks as store;
use agentry_store::{Tx, executions, now_ms};

/// registry.md §5: call when execution `execution_id` has reached a terminal status (after its
/// row was written in `tx`). Every task whose `execution_id` is this execution mirrors it:
/// `completed` / `failed` / (agentry) `cancelled`, its result or error (≤ 500 chars, output as
/// compact JSON, a string output as itself), timing, and its cost as *earlier attempts + this execution's usage* (§7), so
/// running it twice changes nothing. A task already `cancelled` is left alone. Then dependents
/// are unblocked (when completed), the epic recounted, and `task_updated` + `epic_updated`
/// queued. Non-terminal executions and executions no task references do nothing.
pub async fn sync_task_from_execution(tx: &mut Tx, execution_id: &str) -> ServiceResult<()> {
    let linked = store::by_execution_in(tx, execution_id).await?;
    if linked.is_empty() {
        return Ok(());
    }
    let Some(exec) = executions::get_full_for_update(tx, execution_id, false).await? else {
        return Ok(());
    };
    let to = match exec.row.status.as_str() {
        "completed" => TaskStatus::Completed,
        "failed" => TaskStatus::Failed,
        "cancelled" => TaskStatus::Cancelled,
        _ => return Ok(()),
    };
    let now = now_ms();
    for task in linked {
        if epic_store::lock(tx, &task.epic_id).await?.is_none() {
            continue;
        }
        let Some(mut t) = store::get_in(tx, &task.id).await? else {
            continue;
        };
        if t.status == TaskStatus::Cancelled.as_str()
            || t.execution_id.as_deref() != Some(execution_id)
        {
            continue;
        }
        let e = &exec.row;
        t.actual_tokens = t.prior_tokens + e.total_tokens;
        t.actual_usd = rules::round_usd(t.prior_usd + e.total_cost_usd);
        t.llm_calls = t.prior_llm_calls + e.llm_calls;
        t.tool_invocations = t.prior_tool_invocations + e.tool_invocations;
        let run_ms = match (e.started_at, e.completed_at) {
            (Some(s), Some(c)) => (c - s).max(0),
            _ => 0,
        };
        t.duration_ms = t.prior_duration_ms + run_ms;
        match to {
            TaskStatus::Completed => {
                if let Some(out) = exec.final_output.as_ref().filter(|o| !o.0.is_null()) {
                    let text = match &out.0 {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    t.result_summary = Some(truncate_chars(&text, SYNC_TEXT_MAX));
                }
            }
            TaskStatus::Failed => {
                t.error_message = Some(truncate_chars(&e.error_message, SYNC_TEXT_MAX));
            }
            _ => {}
        }
        set_status(&mut t, to, now);
        if let Some(done) = e.completed_at {
            t.completed_at = Some(done);
        }
        store::save(tx, &t, now).await?;
        if let Some(fresh) = store::get_in(tx, &t.id).await? {
            emit_task(tx, "task_updated", &fresh);
        }
        if to == TaskStatus::Completed {
            unblock_dependents_in(tx, &t.epic_id, &t.id, now).await?;
        }
        epic_store::recount(tx, &t.epic_id, now).await?;
        // Always announced after an engine change (api.md §10), even if no counter moved.
        if let Some(epic) = epic_store::get_in(tx, &t.epic_id).await? {
            emit_epic(tx, "epic_updated", &epic);
        }
    }
    Ok(())
}

/// registry.md §8: before a node of execution `execution_id` runs, with the usage accumulated
/// so far in that execution. `Some(message)` when a task of an existing epic references the
/// execution and the epic's budget would be exceeded; the engine then fails the execution
/// with that message.
pub async fn budget_check_in(
    tx: &mut Tx,
    execution_id: &str,
    used_tokens: i64,
    used_usd: f64,
) -> ServiceResult<Option<String>> {
    let row = store::budget_for_execution_in(tx, execution_id).await?;
    Ok(over_budget(row, used_tokens, used_usd))
}

/// [`budget_check_in`] on the row the engine reads before every node
/// ([`agentry_store::executions::node_gate`]).
pub fn gate_over_budget(
    gate: &agentry_store::executions::NodeGate,
    tokens: i64,
    usd: f64,
) -> Option<String> {
    if gate.budget_tokens.is_none() && gate.budget_usd.is_none() {
        return None;
    }
    budget_exceeded(
        &Budget {
            budget_tokens: gate.budget_tokens,
            budget_usd: gate.budget_usd,
            spent_tokens: gate.spent_tokens.unwrap_or(0),
            spent_usd: gate.spent_usd.unwrap_or(0.0),
        },
        tokens,
        usd,
    )
}

fn over_budget(row: Option<store::EpicBudgetRow>, tokens: i64, usd: f64) -> Option<String> {
    let b = row?;
    budget_exceeded(
        &Budget {
            budget_tokens: b.budget_tokens,
            budget_usd: b.budget_usd,
            spent_tokens: b.spent_tokens,
            spent_usd: b.spent_usd,
        },
        tokens,
        usd,
    )
}

/// registry.md §12 inline-task cost: one LLM call of an agent whose active inline task is
/// `task_id` adds its tokens and cost (and 1 call) to the task; the epic's spend follows.
pub async fn add_task_usage_in(
    tx: &mut Tx,
    task_id: &str,
    tokens: i64,
    usd: f64,
) -> ServiceResult<()> {
    let Some(task) = store::get_in(tx, task_id).await? else {
        return Ok(());
    };
    if epic_store::lock(tx, &task.epic_id).await?.is_none() {
        return Ok(());
    }
    let Some(mut t) = store::get_in(tx, task_id).await? else {
        return Ok(());
    };
    let now = now_ms();
    t.actual_tokens += tokens;
    t.actual_usd = rules::round_usd(t.actual_usd + usd);
    t.llm_calls += 1;
    store::save(tx, &t, now).await?;
    if let Some(fresh) = store::get_in(tx, task_id).await? {
        emit_task(tx, "task_updated", &fresh);
    }
    recount_and_announce(tx, &t.epic_id).await
}

/// registry.md §12: an agent's LLM call made with no active inline task, in a run that touched
/// epic `epic_id`, counts as that epic's agent overhead (not toward `spent_*`).
pub async fn add_epic_overhead_in(
    tx: &mut Tx,
    epic_id: &str,
    tokens: i64,
    usd: f64,
) -> ServiceResult<()> {
    if epic_store::lock(tx, epic_id).await?.is_none() {
        return Ok(());
    }
    epic_store::add_overhead(tx, epic_id, tokens, usd, now_ms()).await?;
    if let Some(epic) = epic_store::get_in(tx, epic_id).await? {
        emit_epic(tx, "epic_updated", &epic);
    }
    Ok(())
}

/// registry.md §12: where one LLM call of an agent goes. With an active inline task that is
/// still `running`, its usage is the task's ([`add_task_usage_in`]); otherwise, in a run that
/// has touched an epic, it is that epic's agent overhead ([`add_epic_overhead_in`]). Returns
/// whether the task is still active (a task that left `running` by any route stops
/// collecting). Call it in the transaction that checkpoints the model call, so a crash never
/// counts a call twice.
pub async fn charge_agent_call_in(
    tx: &mut Tx,
    active_task: Option<&str>,
    touched_epic: Option<&str>,
    tokens: i64,
    usd: f64,
) -> ServiceResult<bool> {
    if let Some(task_id) = active_task
        && let Some(t) = store::get_in(tx, task_id).await?
        && t.status == TaskStatus::Running.as_str()
    {
        add_task_usage_in(tx, task_id, tokens, usd).await?;
        return Ok(true);
    }
    if let Some(epic_id) = touched_epic {
        add_epic_overhead_in(tx, epic_id, tokens, usd).await?;
    }
    Ok(false)
}

/// delegation.md §4 "Task link": a child execution spawned with `task_id` takes the task over:
/// `execution_id`, `status = running` (bypassing the transition table, registry.md §3),
/// `started_at`, the child's workflow id and slug, `workflow_source` (`existing` unless given),
/// and a `task_updated` (+ `epic_updated` when counters move). Only a task of an epic owned by
/// `user_id` (the user the child runs as) is linked; unknown or foreign ids return `false` and
/// change nothing (the spawn goes on). Call it in the transaction that creates the child.
pub async fn link_task_in(
    tx: &mut Tx,
    task_id: &str,
    user_id: i64,
    execution_id: &str,
    workflow_id: i64,
    workflow_slug: &str,
    workflow_source: Option<&str>,
) -> ServiceResult<bool> {
    let Some(task) = store::get_in(tx, task_id).await? else {
        return Ok(false);
    };
    let Some(epic) = epic_store::lock(tx, &task.epic_id).await? else {
        return Ok(false);
    };
    if epic.user_profile_id != Some(user_id) {
        return Ok(false);
    }
    let Some(mut t) = store::get_in(tx, task_id).await? else {
        return Ok(false);
    };
    let now = now_ms();
    t.execution_id = Some(execution_id.to_string());
    t.workflow_id = Some(workflow_id);
    t.workflow_slug = Some(workflow_slug.to_string());
    t.workflow_source = workflow_source.unwrap_or("existing").to_string();
    set_status(&mut t, TaskStatus::Running, now);
    store::save(tx, &t, now).await?;
    if let Some(fresh) = store::get_in(tx, task_id).await? {
        emit_task(tx, "task_updated", &fresh);
    }
    recount_and_announce(tx, &t.epic_id).await?;
    Ok(true)
}
