//! Epic operations (api.md §8, registry.md §3, §6, §9, §12): create, read, list, patch (with
//! the transition table, the cancel cascade and procedural memory on completion), delete,
//! progress and ranked search.

use super::{
    EpicIn, EpicOut, EpicPatch, EpicProgressOut, EpicSearchIn, EpicSearchItem, ProgressCost,
    ProgressCounts, Scope, check_non_negative, check_priority, check_tags, check_title, emit_epic,
    emit_task, epic_not_found, recount_and_announce, search_limit,
};
use crate::{ServiceError, ServiceResult, Services};
use agentry_core::page::{Page, PageRequest};
use agentry_core::registry::{
    self as rules, DEFAULT_PRIORITY, EpicOutcome, EpicStatus, TaskStatus,
};
use agentry_store::epics::{self as store, EpicFields, EpicFilter, EpicRow, NewEpic};
use agentry_store::memories::{self, NewMemory};
use agentry_store::tasks as task_store;
use agentry_store::{NewEvent, Tx, executions, now_ms, workflows};
use serde_json::json;

fn parse_status(text: &str) -> ServiceResult<EpicStatus> {
    EpicStatus::parse(text).ok_or_else(|| {
        ServiceError::invalid(
            "status",
            format!("must be one of {}", EpicStatus::choices()),
        )
    })
}

fn check_budget_tokens(v: Option<i64>) -> ServiceResult<()> {
    check_non_negative("budget_tokens", v.map(|n| n as f64))
}

impl Services {
    /// Loads an epic the scope may see (404 otherwise).
    pub async fn visible_epic(&self, scope: Scope, id: &str) -> ServiceResult<EpicRow> {
        store::get(&self.db, id)
            .await?
            .filter(|e| scope.sees(e.user_profile_id))
            .ok_or_else(epic_not_found)
    }

    /// `POST /epics/`: a `planning` epic owned by the scope's user.
    pub async fn create_epic(&self, scope: Scope, input: EpicIn) -> ServiceResult<EpicOut> {
        let title = check_title(&input.title)?;
        let tags = input.tags.unwrap_or_default();
        check_tags(&tags)?;
        let priority = check_priority(input.priority.unwrap_or(DEFAULT_PRIORITY))?;
        check_budget_tokens(input.budget_tokens)?;
        check_non_negative("budget_usd", input.budget_usd)?;
        if let Some(wf) = input.workflow_id {
            let found = workflows::get(&self.db, wf).await?;
            if !found.is_some_and(|w| scope.sees(Some(w.owner_id)) || w.is_public) {
                return Err(ServiceError::invalid("workflow_id", "workflow not found"));
            }
        }
        let id = format!("ep-{}", ulid::Ulid::generate());
        let mut tx = self.db.begin().await?;
        let row = store::insert(
            &mut tx,
            &NewEpic {
                id: &id,
                title: &title,
                description: input.description.as_deref().unwrap_or(""),
                tags: &tags,
                created_by_node_id: input.created_by_node_id.as_deref(),
                workflow_id: input.workflow_id,
                user_profile_id: Some(scope.user_id),
                priority,
                budget_tokens: input.budget_tokens,
                budget_usd: input.budget_usd.map(rules::round_usd),
                now: now_ms(),
            },
        )
        .await?;
        emit_epic(&mut tx, "epic_created", &row);
        self.commit(tx).await?;
        Ok(EpicOut::from(&row))
    }

    pub async fn get_epic(&self, scope: Scope, id: &str) -> ServiceResult<EpicOut> {
        Ok(EpicOut::from(&self.visible_epic(scope, id).await?))
    }

    /// `GET /epics/`: newest first; `tags` any-of.
    pub async fn list_epics(
        &self,
        scope: Scope,
        status: Option<String>,
        tags: Option<Vec<String>>,
        workflow_id: Option<i64>,
        page: PageRequest,
    ) -> ServiceResult<Page<EpicOut>> {
        if let Some(s) = &status {
            parse_status(s)?;
        }
        let filter = EpicFilter {
            owner_id: scope.owner_filter(),
            status,
            tags,
            workflow_id,
        };
        let (rows, total) = store::list(&self.db, &filter, page).await?;
        Ok(Page {
            items: rows.iter().map(EpicOut::from).collect(),
            total,
        })
    }

    /// `PATCH /epics/{id}/`. A status change follows registry.md §3 (409 otherwise); `cancelled`
    /// cancels the unfinished tasks and their executions (§6); `completed` records procedural
    /// memory (§9).
    pub async fn patch_epic(
        &self,
        scope: Scope,
        id: &str,
        patch: EpicPatch,
    ) -> ServiceResult<EpicOut> {
        let current = self.visible_epic(scope, id).await?;
        // Validate everything before touching the database; apply it to the locked row.
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
        let tags = patch.tags.into_option().map(Option::unwrap_or_default);
        if let Some(t) = &tags {
            check_tags(t)?;
        }
        let budget_tokens = patch.budget_tokens.into_option();
        if let Some(v) = budget_tokens {
            check_budget_tokens(v)?;
        }
        let budget_usd = patch.budget_usd.into_option();
        if let Some(v) = budget_usd {
            check_non_negative("budget_usd", v)?;
        }
        let target = match patch.status.into_option() {
            None => None,
            Some(None) => return Err(ServiceError::invalid("status", "must not be null")),
            Some(Some(s)) => Some(parse_status(&s)?),
        };

        let mut tx = self.db.begin().await?;
        let cancelling = target == Some(EpicStatus::Cancelled);
        let mut cancelled_execs = vec![];
        if cancelling {
            // Executions first (lock order execution → epic, see the module doc).
            for t in task_store::of_epic_in(&mut tx, id).await? {
                let cancellable =
                    TaskStatus::parse(&t.status).is_some_and(TaskStatus::is_cancellable_by_epic);
                if let (true, Some(exec)) = (cancellable, &t.execution_id)
                    && owns_execution_in(&mut tx, current.user_profile_id, scope, exec).await?
                {
                    crate::executions::cancel_tree_in(&mut tx, exec, true).await?;
                    cancelled_execs.push(exec.clone());
                }
            }
        }
        let locked = store::lock(&mut tx, id).await?.ok_or_else(epic_not_found)?;
        let mut f = EpicFields::from_row(&locked);
        if let Some(v) = title {
            f.title = v;
        }
        if let Some(v) = patch.description.into_option() {
            f.description = v.unwrap_or_default();
        }
        if let Some(v) = tags {
            f.tags = v;
        }
        if let Some(v) = priority {
            f.priority = v;
        }
        if let Some(v) = budget_tokens {
            f.budget_tokens = v;
        }
        if let Some(v) = budget_usd {
            f.budget_usd = v.map(rules::round_usd);
        }
        if let Some(v) = patch.result_summary.into_option() {
            f.result_summary = v;
        }
        let from = parse_status(&locked.status)?;
        let now = now_ms();
        if let Some(to) = target {
            rules::check_epic_transition(from, to).map_err(ServiceError::Conflict)?;
            if to != from {
                f.status = to.as_str().to_string();
                f.completed_at = to.is_terminal().then_some(now);
            }
        }
        store::update(&mut tx, id, &f, now).await?;
        if cancelling && from != EpicStatus::Cancelled {
            cancel_tasks_in(&mut tx, id, &cancelled_execs, now).await?;
            recount_and_announce(&mut tx, id).await?;
        }
        if target == Some(EpicStatus::Completed) && from != EpicStatus::Completed {
            record_procedure_in(&mut tx, id).await?;
        }
        let row = store::get_in(&mut tx, id)
            .await?
            .ok_or_else(epic_not_found)?;
        emit_epic(&mut tx, "epic_updated", &row);
        self.commit(tx).await?;
        self.work.notify_waiters();
        Ok(EpicOut::from(&row))
    }

    /// `DELETE /epics/{id}/` (tasks cascade).
    pub async fn delete_epic(&self, scope: Scope, id: &str) -> ServiceResult<()> {
        self.visible_epic(scope, id).await?;
        let mut tx = self.db.begin().await?;
        if store::delete(&mut tx, id).await? {
            tx.emit(NewEvent::new(
                super::channel(id),
                "epic_deleted",
                json!({"id": id}),
            ));
        }
        self.commit(tx).await
    }

    /// `POST /epics/batch-delete/`: unknown and out-of-scope ids are skipped.
    pub async fn batch_delete_epics(&self, scope: Scope, ids: &[String]) -> ServiceResult<()> {
        if ids.len() > 1000 {
            return Err(ServiceError::invalid(
                "epic_ids",
                "at most 1000 per request",
            ));
        }
        // Scope first: no pool reads while the transaction holds a connection.
        let mut visible = vec![];
        for id in rules::dedup_ids(ids.iter().cloned()) {
            if self.visible_epic(scope, &id).await.is_ok() {
                visible.push(id);
            }
        }
        let mut tx = self.db.begin().await?;
        for id in visible {
            if store::delete(&mut tx, &id).await? {
                tx.emit(NewEvent::new(
                    super::channel(&id),
                    "epic_deleted",
                    json!({"id": id}),
                ));
            }
        }
        self.commit(tx).await
    }

    /// `GET /epics/{id}/progress/`.
    pub async fn epic_progress(&self, scope: Scope, id: &str) -> ServiceResult<EpicProgressOut> {
        let e = self.visible_epic(scope, id).await?;
        let mut p = ProgressCounts::default();
        for (status, n) in task_store::status_counts(&self.db, id).await? {
            p.total += n;
            match TaskStatus::parse(&status) {
                Some(TaskStatus::Completed) => p.completed += n,
                Some(TaskStatus::Running) => p.running += n,
                Some(TaskStatus::Failed) => p.failed += n,
                Some(TaskStatus::Blocked) => p.blocked += n,
                Some(TaskStatus::Pending) => p.pending += n,
                Some(TaskStatus::Cancelled) => p.cancelled += n,
                None => {}
            }
        }
        Ok(EpicProgressOut {
            progress: p,
            cost: ProgressCost {
                spent_tokens: e.spent_tokens,
                spent_usd: e.spent_usd,
                budget_tokens: e.budget_tokens,
                budget_usd: e.budget_usd,
                agent_overhead_tokens: e.agent_overhead_tokens,
                agent_overhead_usd: e.agent_overhead_usd,
            },
        })
    }

    /// `POST /epics/search/`: ranked full-text search (registry.md §12).
    pub async fn search_epics(
        &self,
        scope: Scope,
        input: EpicSearchIn,
    ) -> ServiceResult<Page<EpicSearchItem>> {
        if let Some(s) = &input.status {
            parse_status(s)?;
        }
        let terms = rules::fts_terms(input.query.as_deref().unwrap_or(""));
        let filter = EpicFilter {
            owner_id: scope.owner_filter(),
            status: input.status,
            tags: input.tags.filter(|t| !t.is_empty()),
            workflow_id: None,
        };
        let (rows, total) =
            store::search(&self.db, &filter, &terms, search_limit(input.limit)).await?;
        Ok(Page {
            items: rows
                .iter()
                .map(|r| EpicSearchItem::new(&r.epic, r.score))
                .collect(),
            total,
        })
    }

    /// The `search_epics` tool's filter (registry.md §10): `status` exact, `tags` any-of,
    /// `query` a case-insensitive substring of title or description; newest first, `limit`
    /// clamped to 1..100.
    pub async fn find_epics(
        &self,
        scope: Scope,
        query: &str,
        status: Option<String>,
        tags: Vec<String>,
        limit: i64,
    ) -> ServiceResult<Vec<EpicOut>> {
        if let Some(s) = &status {
            parse_status(s)?;
        }
        let filter = EpicFilter {
            owner_id: scope.owner_filter(),
            status,
            tags: Some(tags).filter(|t| !t.is_empty()),
            workflow_id: None,
        };
        let rows =
            store::list_containing(&self.db, &filter, query.trim(), limit.clamp(1, 100)).await?;
        Ok(rows.iter().map(EpicOut::from).collect())
    }
}

/// May the epic's owner (or an admin scope) cancel this execution? A task's `execution_id`
/// is writable through PATCH, so it must never become a way to cancel someone else's run.
/// Reads inside `tx` (locking the execution on PostgreSQL, which the cancel needs anyway).
pub(crate) async fn owns_execution_in(
    tx: &mut Tx,
    epic_owner: Option<i64>,
    scope: Scope,
    execution_id: &str,
) -> ServiceResult<bool> {
    let Some(exec) = executions::get_full_for_update(tx, execution_id, false).await? else {
        return Ok(false);
    };
    if scope.is_admin {
        return Ok(true);
    }
    let Some(owner) = epic_owner else {
        return Ok(false);
    };
    if exec.row.user_profile_id == Some(owner) {
        return Ok(true);
    }
    let wf_owner = workflows::get_in(tx, exec.row.workflow_id)
        .await?
        .map(|w| w.owner_id);
    Ok(wf_owner == Some(owner))
}

/// §6 cascade: every `pending`/`blocked`/`running` task of the epic → `cancelled`, with a
/// `task_updated` each; their executions not already in `cancelled_execs` are cancelled too.
async fn cancel_tasks_in(
    tx: &mut Tx,
    epic_id: &str,
    cancelled_execs: &[String],
    now: i64,
) -> ServiceResult<()> {
    for mut t in task_store::of_epic_in(tx, epic_id).await? {
        if !TaskStatus::parse(&t.status).is_some_and(TaskStatus::is_cancellable_by_epic) {
            continue;
        }
        if let Some(exec) = &t.execution_id
            && !cancelled_execs.contains(exec)
            && t.status == TaskStatus::Running.as_str()
        {
            // Linked after our first pass (a spawn raced the cancel): cancel it now. Only
            // running tasks can have gained one, and only through the engine, so it is the
            // owner's execution.
            crate::executions::cancel_tree_in(tx, exec, true).await?;
        }
        t.status = TaskStatus::Cancelled.as_str().to_string();
        t.completed_at = Some(now);
        task_store::save(tx, &t, now).await?;
        if let Some(fresh) = task_store::get_in(tx, &t.id).await? {
            emit_task(tx, "task_updated", &fresh);
        }
    }
    Ok(())
}

/// §9: writes `procedure:{epic_id}` for the owner and keeps its text on the epic for search.
async fn record_procedure_in(tx: &mut Tx, epic_id: &str) -> ServiceResult<()> {
    let Some(e) = store::get_in(tx, epic_id).await? else {
        return Ok(());
    };
    let tasks = task_store::of_epic_in(tx, epic_id).await?;
    let outcome = EpicOutcome {
        title: &e.title,
        tags: &e.tags.0,
        workflow_ids: tasks.iter().filter_map(|t| t.workflow_id).collect(),
        workflow_slugs: tasks
            .iter()
            .filter_map(|t| t.workflow_slug.clone())
            .collect(),
        total_tasks: e.total_tasks,
        completed_tasks: e.completed_tasks,
        spent_usd: e.spent_usd,
        created_at: e.created_at,
        completed_at: e.completed_at.unwrap_or_else(now_ms),
    };
    let value = rules::procedure_value(&outcome).to_string();
    store::set_memory_text(tx, epic_id, &value).await?;
    if let Some(owner) = e.user_profile_id {
        memories::upsert(
            tx,
            &NewMemory {
                owner_id: owner,
                kind: memories::FACT,
                key: &rules::procedure_key(epic_id),
                value: &value,
                fact_type: "procedure",
                confidence: 1.0,
            },
            true,
        )
        .await?;
    }
    Ok(())
}
