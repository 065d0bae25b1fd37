//! Task operations (api.md §9, registry.md §3, §4, §6, §7, §12): create (dependencies checked
//! in the same epic, de-duplicated, `blocked` until they complete), read, list, patch (the
//! transition table; `failed → pending` is a retry), delete (ids removed from `depends_on`,
//! blocked tasks re-evaluated), retry, cancel (with the linked execution), actionable, search.

use super::{
    CancelOutcome, Scope, TaskIn, TaskOut, TaskPatch, TaskSearchIn, TaskSearchItem, check_priority,
    check_tags, check_title, emit_task, epic_not_found, recount_and_announce, search_limit,
    task_not_found,
};
use crate::{ServiceError, ServiceResult, Services};
use agentry_core::page::{Page, PageRequest};
use agentry_core::registry::{
    self as rules, DEFAULT_MAX_RETRIES, DEFAULT_PRIORITY, TaskStatus, status_for_deps,
};
use agentry_store::epics::{self as epic_store, EpicRow};
use agentry_store::tasks::{self as store, NewTask, TaskFilter, TaskRow};
use agentry_store::{NewEvent, Tx, now_ms};
use serde_json::{Value, json};
use std::collections::HashMap;

fn parse_status(text: &str) -> ServiceResult<TaskStatus> {
    TaskStatus::parse(text).ok_or_else(|| {
        ServiceError::invalid(
            "status",
            format!("must be one of {}", TaskStatus::choices()),
        )
    })
}

fn status_of(t: &TaskRow) -> TaskStatus {
    // Rows are only ever written with valid statuses; read anything else as failed.
    TaskStatus::parse(&t.status).unwrap_or(TaskStatus::Failed)
}

/// Moves `t` to `to`, keeping the timestamps honest: `started_at` on the first `running`,
/// `completed_at` while finished (cleared when it leaves).
pub(crate) fn set_status(t: &mut TaskRow, to: TaskStatus, now: i64) {
    if to == TaskStatus::Running && t.started_at.is_none() {
        t.started_at = Some(now);
    }
    if to.is_finished() {
        if status_of(t) != to || t.completed_at.is_none() {
            t.completed_at = Some(now);
        }
    } else {
        t.completed_at = None;
    }
    t.status = to.as_str().to_string();
}

/// §4: the status a task's dependencies give it, from the epic's `(id, status)` pairs.
fn deps_status(deps: &[String], statuses: &HashMap<String, String>) -> TaskStatus {
    status_for_deps(deps, |d| {
        statuses.get(d).map(String::as_str) == Some(TaskStatus::Completed.as_str())
    })
}

async fn status_map(tx: &mut Tx, epic_id: &str) -> ServiceResult<HashMap<String, String>> {
    Ok(store::statuses_in(tx, epic_id).await?.into_iter().collect())
}

/// §7: a failed task back to `pending` (or `blocked`), keeping what earlier attempts cost.
pub(crate) async fn retry_in(tx: &mut Tx, t: &mut TaskRow, now: i64) -> ServiceResult<()> {
    if status_of(t) != TaskStatus::Failed {
        return Err(ServiceError::Conflict(rules::ONLY_FAILED_RETRY.into()));
    }
    if t.retry_count >= t.max_retries {
        return Err(ServiceError::Conflict(rules::RETRY_LIMIT.into()));
    }
    let statuses = status_map(tx, &t.epic_id).await?;
    t.retry_count += 1;
    t.error_message = None;
    t.execution_id = None;
    t.prior_tokens = t.actual_tokens;
    t.prior_usd = t.actual_usd;
    t.prior_llm_calls = t.llm_calls;
    t.prior_tool_invocations = t.tool_invocations;
    t.prior_duration_ms = t.duration_ms;
    set_status(t, deps_status(&t.depends_on.0, &statuses), now);
    t.completed_at = None;
    Ok(())
}

/// §4 auto-unblock: after `completed_id` completed, every `blocked` task of the epic listing it
/// whose dependencies are now all completed becomes `pending` (`task_updated` each).
pub(crate) async fn unblock_dependents_in(
    tx: &mut Tx,
    epic_id: &str,
    completed_id: &str,
    now: i64,
) -> ServiceResult<()> {
    let tasks = store::of_epic_in(tx, epic_id).await?;
    let statuses: HashMap<String, String> = tasks
        .iter()
        .map(|t| (t.id.clone(), t.status.clone()))
        .collect();
    for mut t in tasks {
        if status_of(&t) != TaskStatus::Blocked || !t.depends_on.0.iter().any(|d| d == completed_id)
        {
            continue;
        }
        if deps_status(&t.depends_on.0, &statuses) == TaskStatus::Pending {
            set_status(&mut t, TaskStatus::Pending, now);
            save_and_emit(tx, &t, "task_updated", now).await?;
        }
    }
    Ok(())
}

async fn save_and_emit(tx: &mut Tx, t: &TaskRow, kind: &str, now: i64) -> ServiceResult<TaskRow> {
    store::save(tx, t, now).await?;
    let fresh = store::get_in(tx, &t.id).await?.ok_or_else(task_not_found)?;
    emit_task(tx, kind, &fresh);
    Ok(fresh)
}

/// Removes `deleted` ids from the epic's other tasks' `depends_on` and re-evaluates the blocked
/// ones (agentry: an emptied list → `pending`).
async fn forget_deleted_in(
    tx: &mut Tx,
    epic_id: &str,
    deleted: &[String],
    now: i64,
) -> ServiceResult<()> {
    let tasks = store::of_epic_in(tx, epic_id).await?;
    let statuses: HashMap<String, String> = tasks
        .iter()
        .map(|t| (t.id.clone(), t.status.clone()))
        .collect();
    for mut t in tasks {
        if !t.depends_on.0.iter().any(|d| deleted.contains(d)) {
            continue;
        }
        t.depends_on.0.retain(|d| !deleted.contains(d));
        if status_of(&t) == TaskStatus::Blocked
            && deps_status(&t.depends_on.0, &statuses) == TaskStatus::Pending
        {
            set_status(&mut t, TaskStatus::Pending, now);
        }
        save_and_emit(tx, &t, "task_updated", now).await?;
    }
    Ok(())
}

impl Services {
    /// Loads a task whose epic the scope may see, with that epic (404 otherwise).
    pub async fn visible_task(&self, scope: Scope, id: &str) -> ServiceResult<(TaskRow, EpicRow)> {
        let task = store::get(&self.db, id).await?.ok_or_else(task_not_found)?;
        let epic = epic_store::get(&self.db, &task.epic_id)
            .await?
            .filter(|e| scope.sees(e.user_profile_id))
            .ok_or_else(task_not_found)?;
        Ok((task, epic))
    }

    /// `POST /tasks/`.
    pub async fn create_task(&self, scope: Scope, input: TaskIn) -> ServiceResult<TaskOut> {
        let title = check_title(&input.title)?;
        let tags = input.tags.unwrap_or_default();
        check_tags(&tags)?;
        let priority = check_priority(input.priority.unwrap_or(DEFAULT_PRIORITY))?;
        let max_retries = input.max_retries.unwrap_or(DEFAULT_MAX_RETRIES);
        if max_retries < 0 {
            return Err(ServiceError::invalid(
                "max_retries",
                "must be greater than or equal to 0",
            ));
        }
        if input.estimated_tokens.is_some_and(|n| n < 0) {
            return Err(ServiceError::invalid(
                "estimated_tokens",
                "must be greater than or equal to 0",
            ));
        }
        let requirements = match input.requirements {
            None | Some(Value::Null) => None,
            Some(v @ Value::Object(_)) => Some(v),
            Some(_) => {
                return Err(ServiceError::invalid(
                    "requirements",
                    "must be an object or null",
                ));
            }
        };
        let deps = rules::dedup_ids(input.depends_on.unwrap_or_default());
        self.visible_epic(scope, &input.epic_id).await?;

        let mut tx = self.db.begin().await?;
        epic_store::lock(&mut tx, &input.epic_id)
            .await?
            .ok_or_else(epic_not_found)?;
        let statuses = status_map(&mut tx, &input.epic_id).await?;
        if deps.iter().any(|d| !statuses.contains_key(d)) {
            return Err(ServiceError::Invalid(rules::DEPS_MISSING.into()));
        }
        let status = deps_status(&deps, &statuses);
        let id = format!("tk-{}", ulid::Ulid::generate());
        let row = store::insert(
            &mut tx,
            &NewTask {
                id: &id,
                epic_id: &input.epic_id,
                title: &title,
                description: input.description.as_deref().unwrap_or(""),
                tags: &tags,
                created_by_node_id: input.created_by_node_id.as_deref(),
                status: status.as_str(),
                priority,
                workflow_slug: input.workflow_slug.as_deref(),
                depends_on: &deps,
                requirements: requirements.as_ref(),
                estimated_tokens: input.estimated_tokens,
                max_retries,
                now: now_ms(),
            },
        )
        .await?;
        emit_task(&mut tx, "task_created", &row);
        recount_and_announce(&mut tx, &input.epic_id).await?;
        self.commit(tx).await?;
        Ok(TaskOut::from(&row))
    }

    pub async fn get_task(&self, scope: Scope, id: &str) -> ServiceResult<TaskOut> {
        Ok(TaskOut::from(&self.visible_task(scope, id).await?.0))
    }

    /// `GET /tasks/` (newest first) and, with `oldest_first` + `pending`, the actionable list.
    pub async fn list_tasks(
        &self,
        scope: Scope,
        mut filter: TaskFilter,
        page: PageRequest,
    ) -> ServiceResult<Page<TaskOut>> {
        if let Some(s) = &filter.status {
            parse_status(s)?;
        }
        filter.owner_id = scope.owner_filter();
        let (rows, total) = store::list(&self.db, &filter, page).await?;
        Ok(Page {
            items: rows.iter().map(TaskOut::from).collect(),
            total,
        })
    }

    /// `GET /epics/{id}/tasks/`: 404 for an epic out of scope.
    pub async fn epic_tasks(
        &self,
        scope: Scope,
        epic_id: &str,
        page: PageRequest,
    ) -> ServiceResult<Page<TaskOut>> {
        self.visible_epic(scope, epic_id).await?;
        let filter = TaskFilter {
            epic_id: Some(epic_id.to_string()),
            ..Default::default()
        };
        self.list_tasks(scope, filter, page).await
    }

    /// `GET /tasks/actionable/`: `pending` tasks, oldest first (registry.md §12).
    pub async fn actionable_tasks(
        &self,
        scope: Scope,
        epic_id: Option<String>,
        page: PageRequest,
    ) -> ServiceResult<Page<TaskOut>> {
        let filter = TaskFilter {
            epic_id,
            status: Some(TaskStatus::Pending.as_str().into()),
            oldest_first: true,
            ..Default::default()
        };
        self.list_tasks(scope, filter, page).await
    }

    /// `PATCH /tasks/{id}/`.
    pub async fn patch_task(
        &self,
        scope: Scope,
        id: &str,
        patch: TaskPatch,
    ) -> ServiceResult<TaskOut> {
        if !patch.depends_on.is_absent() {
            return Err(ServiceError::Invalid(rules::DEPENDS_ON_IMMUTABLE.into()));
        }
        let title = match patch.title.into_option() {
            None => None,
            Some(None) => return Err(ServiceError::invalid("title", "must not be null")),
            Some(Some(v)) => Some(check_title(&v)?),
        };
        let priority = match patch.priority.into_option() {
            None => None,
            Some(None) => return Err(ServiceError::invalid("priority", "must not be null")),
            Some(Some(v)) => Some(check_priority(v)?),
        };
        let target = match patch.status.into_option() {
            None => None,
            Some(None) => return Err(ServiceError::invalid("status", "must not be null")),
            Some(Some(s)) => Some(parse_status(&s)?),
        };
        let tags = patch.tags.into_option().map(Option::unwrap_or_default);
        if let Some(t) = &tags {
            check_tags(t)?;
        }
        let (task, _) = self.visible_task(scope, id).await?;

        let mut tx = self.db.begin().await?;
        epic_store::lock(&mut tx, &task.epic_id)
            .await?
            .ok_or_else(task_not_found)?;
        let mut t = store::get_in(&mut tx, id)
            .await?
            .ok_or_else(task_not_found)?;
        let now = now_ms();
        if let Some(v) = title {
            t.title = v;
        }
        if let Some(v) = patch.description.into_option() {
            t.description = v.unwrap_or_default();
        }
        if let Some(v) = tags {
            t.tags.0 = v;
        }
        if let Some(v) = priority {
            t.priority = v;
        }
        if let Some(v) = patch.workflow_slug.into_option() {
            t.workflow_slug = v;
        }
        if let Some(v) = patch.execution_id.into_option() {
            t.execution_id = v;
        }
        if let Some(v) = patch.result_summary.into_option() {
            t.result_summary = v;
        }
        if let Some(v) = patch.error_message.into_option() {
            t.error_message = v;
        }
        if let Some(v) = patch.notes.into_option() {
            t.notes.0 = v.unwrap_or_default();
        }
        let from = status_of(&t);
        let mut completed = false;
        if let Some(to) = target.filter(|to| *to != from) {
            rules::check_task_transition(from, to).map_err(ServiceError::Conflict)?;
            if from == TaskStatus::Failed && to == TaskStatus::Pending {
                retry_in(&mut tx, &mut t, now).await?;
            } else {
                set_status(&mut t, to, now);
                completed = to == TaskStatus::Completed;
            }
        }
        let row = save_and_emit(&mut tx, &t, "task_updated", now).await?;
        if completed {
            unblock_dependents_in(&mut tx, &t.epic_id, id, now).await?;
        }
        recount_and_announce(&mut tx, &t.epic_id).await?;
        self.commit(tx).await?;
        Ok(TaskOut::from(&row))
    }

    /// `POST /tasks/{id}/retry/` (registry.md §7).
    pub async fn retry_task(&self, scope: Scope, id: &str) -> ServiceResult<TaskOut> {
        let (task, _) = self.visible_task(scope, id).await?;
        let mut tx = self.db.begin().await?;
        epic_store::lock(&mut tx, &task.epic_id)
            .await?
            .ok_or_else(task_not_found)?;
        let mut t = store::get_in(&mut tx, id)
            .await?
            .ok_or_else(task_not_found)?;
        let now = now_ms();
        retry_in(&mut tx, &mut t, now).await?;
        let row = save_and_emit(&mut tx, &t, "task_updated", now).await?;
        recount_and_announce(&mut tx, &t.epic_id).await?;
        self.commit(tx).await?;
        Ok(TaskOut::from(&row))
    }

    /// `POST /tasks/{id}/cancel/` and the `cancel_task` tool (registry.md §6): any task but a
    /// completed or cancelled one → `cancelled`, a `"Cancelled: {reason}"` note, and its linked
    /// execution (with descendants) cancelled with full execution-cancel semantics.
    pub async fn cancel_task(
        &self,
        scope: Scope,
        id: &str,
        reason: Option<&str>,
    ) -> ServiceResult<CancelOutcome> {
        let (task, epic) = self.visible_task(scope, id).await?;
        match status_of(&task) {
            TaskStatus::Completed => {
                return Err(ServiceError::Conflict(rules::ALREADY_COMPLETED.into()));
            }
            TaskStatus::Cancelled => {
                return Err(ServiceError::Conflict(rules::ALREADY_CANCELLED.into()));
            }
            _ => {}
        }
        let mut tx = self.db.begin().await?;
        let mut execution_cancelled = false;
        if let Some(exec) = &task.execution_id
            && super::epics::owns_execution_in(&mut tx, epic.user_profile_id, scope, exec).await?
        {
            // Before the epic lock: execution → epic is the one lock order (module doc).
            let before =
                agentry_store::executions::get_full_for_update(&mut tx, exec, false).await?;
            let active = before.is_some_and(|e| {
                matches!(e.row.status.as_str(), "pending" | "running" | "interrupted")
            });
            if active {
                crate::executions::cancel_tree_in(&mut tx, exec, true).await?;
                execution_cancelled = true;
            }
        }
        epic_store::lock(&mut tx, &task.epic_id)
            .await?
            .ok_or_else(task_not_found)?;
        let mut t = store::get_in(&mut tx, id)
            .await?
            .ok_or_else(task_not_found)?;
        let now = now_ms();
        match status_of(&t) {
            TaskStatus::Completed => {
                return Err(ServiceError::Conflict(rules::ALREADY_COMPLETED.into()));
            }
            // Cancelled meanwhile (by the execution's own sync): still add the note.
            TaskStatus::Cancelled => {}
            _ => set_status(&mut t, TaskStatus::Cancelled, now),
        }
        if let Some(reason) = reason.map(str::trim).filter(|r| !r.is_empty()) {
            t.notes
                .0
                .push(Value::String(format!("Cancelled: {reason}")));
        }
        let row = save_and_emit(&mut tx, &t, "task_updated", now).await?;
        recount_and_announce(&mut tx, &t.epic_id).await?;
        self.commit(tx).await?;
        self.work.notify_waiters();
        Ok(CancelOutcome {
            task: TaskOut::from(&row),
            execution_cancelled,
        })
    }

    /// `DELETE /tasks/{id}/`.
    pub async fn delete_task(&self, scope: Scope, id: &str) -> ServiceResult<()> {
        let (task, _) = self.visible_task(scope, id).await?;
        let mut tx = self.db.begin().await?;
        epic_store::lock(&mut tx, &task.epic_id)
            .await?
            .ok_or_else(task_not_found)?;
        if store::delete(&mut tx, id).await? {
            tx.emit(NewEvent::new(
                super::channel(&task.epic_id),
                "task_deleted",
                json!({"id": id}),
            ));
            forget_deleted_in(&mut tx, &task.epic_id, &[id.to_string()], now_ms()).await?;
            recount_and_announce(&mut tx, &task.epic_id).await?;
        }
        self.commit(tx).await
    }

    /// `POST /tasks/batch-delete/`: unknown and out-of-scope ids are skipped; one
    /// `tasks_deleted` per affected epic.
    pub async fn batch_delete_tasks(&self, scope: Scope, ids: &[String]) -> ServiceResult<()> {
        if ids.len() > 1000 {
            return Err(ServiceError::invalid(
                "task_ids",
                "at most 1000 per request",
            ));
        }
        // Group by epic, keeping the order epics were first named in.
        let mut by_epic: Vec<(String, Vec<String>)> = vec![];
        for id in rules::dedup_ids(ids.iter().cloned()) {
            let Ok((task, _)) = self.visible_task(scope, &id).await else {
                continue;
            };
            match by_epic.iter_mut().find(|(e, _)| *e == task.epic_id) {
                Some((_, list)) => list.push(id),
                None => by_epic.push((task.epic_id, vec![id])),
            }
        }
        let mut tx = self.db.begin().await?;
        let now = now_ms();
        for (epic_id, ids) in by_epic {
            if epic_store::lock(&mut tx, &epic_id).await?.is_none() {
                continue;
            }
            let mut deleted = vec![];
            for id in ids {
                if store::delete(&mut tx, &id).await? {
                    deleted.push(id);
                }
            }
            if deleted.is_empty() {
                continue;
            }
            tx.emit(NewEvent::new(
                super::channel(&epic_id),
                "tasks_deleted",
                json!({"task_ids": deleted}),
            ));
            forget_deleted_in(&mut tx, &epic_id, &deleted, now).await?;
            recount_and_announce(&mut tx, &epic_id).await?;
        }
        self.commit(tx).await
    }

    /// `POST /tasks/search/`: ranked full-text search (registry.md §12).
    pub async fn search_tasks(
        &self,
        scope: Scope,
        input: TaskSearchIn,
    ) -> ServiceResult<Page<TaskSearchItem>> {
        if let Some(s) = &input.status {
            parse_status(s)?;
        }
        let terms = rules::fts_terms(input.query.as_deref().unwrap_or(""));
        let filter = TaskFilter {
            owner_id: scope.owner_filter(),
            epic_id: input.epic_id,
            status: input.status,
            tags: input.tags.filter(|t| !t.is_empty()),
            workflow_slug: None,
            oldest_first: false,
        };
        let (rows, total) =
            store::search(&self.db, &filter, &terms, search_limit(input.limit)).await?;
        Ok(Page {
            items: rows
                .iter()
                .map(|r| TaskSearchItem {
                    task: TaskOut::from(&r.task),
                    score: r.score,
                })
                .collect(),
            total,
        })
    }
}
