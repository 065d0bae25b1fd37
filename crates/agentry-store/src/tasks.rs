//! The `tasks` table (registry.md §2): units of work under one epic, with dependencies, cost,
//! retries and notes, and full-text search (SQLite FTS5 `tasks_fts`, PostgreSQL `search_tsv`).
//!
//! A task is read whole ([`TaskRow`]), changed by the service, and written whole ([`save`]):
//! every write happens with its epic locked (`epics::lock`), so read-modify-write is safe.
//! `prior_*` hold what earlier attempts of a retried task cost (§7).

use crate::workflows::json_list;
use crate::{Backend, Db, StoreResult, Tx};
use agentry_core::page::PageRequest;
use serde_json::Value;
use sqlx::AssertSqlSafe;
use sqlx::types::Json;

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct TaskRow {
    pub id: String,
    pub epic_id: String,
    pub title: String,
    pub description: String,
    pub tags: Json<Vec<String>>,
    pub created_by_node_id: Option<String>,
    pub status: String,
    pub priority: i64,
    pub workflow_id: Option<i64>,
    pub workflow_slug: Option<String>,
    pub execution_id: Option<String>,
    pub workflow_source: String,
    pub depends_on: Json<Vec<String>>,
    pub requirements: Option<Json<Value>>,
    pub estimated_tokens: Option<i64>,
    pub actual_tokens: i64,
    pub actual_usd: f64,
    pub llm_calls: i64,
    pub tool_invocations: i64,
    pub duration_ms: i64,
    pub prior_tokens: i64,
    pub prior_usd: f64,
    pub prior_llm_calls: i64,
    pub prior_tool_invocations: i64,
    pub prior_duration_ms: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub started_at: Option<i64>,
    pub completed_at: Option<i64>,
    pub result_summary: Option<String>,
    pub error_message: Option<String>,
    pub retry_count: i64,
    pub max_retries: i64,
    pub notes: Json<Vec<Value>>,
}

const COLUMNS: &str = "t.id, t.epic_id, t.title, t.description, t.tags, t.created_by_node_id,
    t.status, t.priority, t.workflow_id, t.workflow_slug, t.execution_id, t.workflow_source,
    t.depends_on, t.requirements, t.estimated_tokens, t.actual_tokens, t.actual_usd, t.llm_calls,
    t.tool_invocations, t.duration_ms, t.prior_tokens, t.prior_usd, t.prior_llm_calls,
    t.prior_tool_invocations, t.prior_duration_ms, t.created_at, t.updated_at, t.started_at,
    t.completed_at, t.result_summary, t.error_message, t.retry_count, t.max_retries, t.notes";

/// A new task; everything else starts at its column default.
#[derive(Debug, Clone)]
pub struct NewTask<'a> {
    pub id: &'a str,
    pub epic_id: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    pub tags: &'a [String],
    pub created_by_node_id: Option<&'a str>,
    pub status: &'a str,
    pub priority: i64,
    pub workflow_slug: Option<&'a str>,
    pub depends_on: &'a [String],
    pub requirements: Option<&'a Value>,
    pub estimated_tokens: Option<i64>,
    pub max_retries: i64,
    pub now: i64,
}

pub async fn insert(tx: &mut Tx, t: &NewTask<'_>) -> StoreResult<TaskRow> {
    on!(tx tx, c => {
        sqlx::query(
            "INSERT INTO tasks (id, epic_id, title, description, tags, created_by_node_id, status,
                priority, workflow_slug, depends_on, requirements, estimated_tokens, max_retries,
                created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)",
        )
        .bind(t.id)
        .bind(t.epic_id)
        .bind(t.title)
        .bind(t.description)
        .bind(Json(t.tags))
        .bind(t.created_by_node_id)
        .bind(t.status)
        .bind(t.priority)
        .bind(t.workflow_slug)
        .bind(Json(t.depends_on))
        .bind(t.requirements.map(Json))
        .bind(t.estimated_tokens)
        .bind(t.max_retries)
        .bind(t.now)
        .execute(&mut *c)
        .await
        .map(|_| ())
    })?;
    get_in(tx, t.id)
        .await?
        .ok_or_else(|| crate::StoreError::Corrupt("inserted task vanished".into()))
}

pub async fn get(db: &Db, id: &str) -> StoreResult<Option<TaskRow>> {
    let sql = format!("SELECT {COLUMNS} FROM tasks t WHERE t.id = $1");
    Ok(on!(db.read(), c => {
        sqlx::query_as::<_, TaskRow>(AssertSqlSafe(sql.as_str())).bind(id).fetch_all(c).await.map(|rows| rows.into_iter().next())
    })?)
}

pub async fn get_in(tx: &mut Tx, id: &str) -> StoreResult<Option<TaskRow>> {
    let sql = format!("SELECT {COLUMNS} FROM tasks t WHERE t.id = $1");
    Ok(on!(tx tx, c => {
        sqlx::query_as::<_, TaskRow>(AssertSqlSafe(sql.as_str())).bind(id).fetch_optional(&mut *c).await
    })?)
}

/// Every task of an epic, oldest first (dependency checks and cascades).
pub async fn of_epic_in(tx: &mut Tx, epic_id: &str) -> StoreResult<Vec<TaskRow>> {
    let sql =
        format!("SELECT {COLUMNS} FROM tasks t WHERE t.epic_id = $1 ORDER BY t.created_at, t.seq");
    Ok(on!(tx tx, c => {
        sqlx::query_as::<_, TaskRow>(AssertSqlSafe(sql.as_str())).bind(epic_id).fetch_all(&mut *c).await
    })?)
}

/// `(id, status)` of an epic's tasks (dependency evaluation needs nothing else).
pub async fn statuses_in(tx: &mut Tx, epic_id: &str) -> StoreResult<Vec<(String, String)>> {
    Ok(on!(tx tx, c => {
        sqlx::query_as::<_, (String, String)>("SELECT id, status FROM tasks WHERE epic_id = $1")
            .bind(epic_id).fetch_all(&mut *c).await
    })?)
}

/// Tasks whose `execution_id` is this execution (engine sync, §5).
pub async fn by_execution_in(tx: &mut Tx, execution_id: &str) -> StoreResult<Vec<TaskRow>> {
    let sql = format!("SELECT {COLUMNS} FROM tasks t WHERE t.execution_id = $1 ORDER BY t.seq");
    Ok(on!(tx tx, c => {
        sqlx::query_as::<_, TaskRow>(AssertSqlSafe(sql.as_str())).bind(execution_id).fetch_all(&mut *c).await
    })?)
}

/// Writes every mutable field of `t` and bumps `updated_at` (`t.updated_at` is ignored).
pub async fn save(tx: &mut Tx, t: &TaskRow, now: i64) -> StoreResult<()> {
    on!(tx tx, c => {
        sqlx::query(
            "UPDATE tasks SET title = $2, description = $3, tags = $4, status = $5, priority = $6,
                workflow_id = $7, workflow_slug = $8, execution_id = $9, workflow_source = $10,
                depends_on = $11, requirements = $12, estimated_tokens = $13, actual_tokens = $14,
                actual_usd = $15, llm_calls = $16, tool_invocations = $17, duration_ms = $18,
                prior_tokens = $19, prior_usd = $20, prior_llm_calls = $21,
                prior_tool_invocations = $22, prior_duration_ms = $23, started_at = $24,
                completed_at = $25, result_summary = $26, error_message = $27, retry_count = $28,
                max_retries = $29, notes = $30, updated_at = $31
             WHERE id = $1",
        )
        .bind(&t.id)
        .bind(&t.title)
        .bind(&t.description)
        .bind(&t.tags)
        .bind(&t.status)
        .bind(t.priority)
        .bind(t.workflow_id)
        .bind(&t.workflow_slug)
        .bind(&t.execution_id)
        .bind(&t.workflow_source)
        .bind(&t.depends_on)
        .bind(&t.requirements)
        .bind(t.estimated_tokens)
        .bind(t.actual_tokens)
        .bind(t.actual_usd)
        .bind(t.llm_calls)
        .bind(t.tool_invocations)
        .bind(t.duration_ms)
        .bind(t.prior_tokens)
        .bind(t.prior_usd)
        .bind(t.prior_llm_calls)
        .bind(t.prior_tool_invocations)
        .bind(t.prior_duration_ms)
        .bind(t.started_at)
        .bind(t.completed_at)
        .bind(&t.result_summary)
        .bind(&t.error_message)
        .bind(t.retry_count)
        .bind(t.max_retries)
        .bind(&t.notes)
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|_| ())
    })?;
    Ok(())
}

/// `(status, count)` of an epic's tasks (the progress endpoint).
pub async fn status_counts(db: &Db, epic_id: &str) -> StoreResult<Vec<(String, i64)>> {
    Ok(on!(db.read(), c => {
        sqlx::query_as::<_, (String, i64)>("SELECT status, COUNT(*) FROM tasks WHERE epic_id = $1 GROUP BY status")
            .bind(epic_id).fetch_all(c).await
    })?)
}

/// Filters for [`list`] and [`search`] (all AND-combined).
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    /// Only tasks of this owner's epics (`None`: everyone's, for admins).
    pub owner_id: Option<i64>,
    pub epic_id: Option<String>,
    pub status: Option<String>,
    /// Any-of exact tag match.
    pub tags: Option<Vec<String>>,
    pub workflow_slug: Option<String>,
    /// Oldest first (the actionable list) instead of newest first.
    pub oldest_first: bool,
}

fn filter_sql(backend: &Backend<'_>) -> String {
    let tag_elems = sql_for!(backend,
        sqlite: "json_each(t.tags) tg",
        postgres: "jsonb_array_elements_text(t.tags) tg");
    format!(
        "($1 IS NULL OR e.user_profile_id = $1) AND ($2 IS NULL OR t.epic_id = $2)
         AND ($3 IS NULL OR t.status = $3)
         AND ($4 IS NULL OR EXISTS (SELECT 1 FROM {tag_elems} WHERE tg.value IN {}))
         AND ($5 IS NULL OR t.workflow_slug = $5)",
        json_list(backend, 4)
    )
}

/// Tasks newest (or oldest) first, with the total before paging.
pub async fn list(db: &Db, f: &TaskFilter, page: PageRequest) -> StoreResult<(Vec<TaskRow>, i64)> {
    let backend = db.read();
    let cond = filter_sql(&backend);
    let order = if f.oldest_first {
        "t.created_at, t.seq"
    } else {
        "t.created_at DESC, t.seq DESC"
    };
    let from = "tasks t JOIN epics e ON e.id = t.epic_id";
    let list_sql =
        format!("SELECT {COLUMNS} FROM {from} WHERE {cond} ORDER BY {order} LIMIT $6 OFFSET $7");
    let count_sql = format!("SELECT COUNT(*) FROM {from} WHERE {cond}");
    let tags = f.tags.as_ref().map(Json);
    let rows = on!(backend, c => {
        sqlx::query_as::<_, TaskRow>(AssertSqlSafe(list_sql.as_str()))
            .bind(f.owner_id).bind(&f.epic_id).bind(&f.status).bind(tags).bind(&f.workflow_slug)
            .bind(page.limit).bind(page.offset)
            .fetch_all(c).await
    })?;
    let total: i64 = on!(db.read(), c => {
        sqlx::query_scalar(AssertSqlSafe(count_sql.as_str()))
            .bind(f.owner_id).bind(&f.epic_id).bind(&f.status).bind(tags).bind(&f.workflow_slug)
            .fetch_all(c).await
            .and_then(|rows| rows.into_iter().next().ok_or(sqlx::Error::RowNotFound))
    })?;
    Ok((rows, total))
}

/// A search hit: the task and its relevance (higher is better; 0 without a query).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ScoredTask {
    #[sqlx(flatten)]
    pub task: TaskRow,
    pub score: f64,
}

/// Full-text search over title, description, tags, result summary and notes; same rules as
/// `epics::search`. Returns the page and the number of matches.
pub async fn search(
    db: &Db,
    f: &TaskFilter,
    terms: &[String],
    limit: i64,
) -> StoreResult<(Vec<ScoredTask>, i64)> {
    let backend = db.read();
    let cond = filter_sql(&backend);
    let (from, score, matches, query) = if terms.is_empty() {
        (
            "tasks t JOIN epics e ON e.id = t.epic_id".to_string(),
            "CAST(0 AS DOUBLE PRECISION)".to_string(),
            "($6 IS NULL)".to_string(),
            None,
        )
    } else {
        let r = crate::fts::ranked(&backend, "tasks", "t", "seq", 6);
        let q = crate::fts::query_text(&backend, terms);
        (
            format!("{} JOIN epics e ON e.id = t.epic_id", r.from),
            r.score,
            r.matches,
            Some(q),
        )
    };
    let list_sql = format!(
        "SELECT {COLUMNS}, {score} AS score FROM {from} WHERE {cond} AND {matches}
         ORDER BY score DESC, t.created_at DESC, t.seq DESC LIMIT $7"
    );
    let count_sql = format!("SELECT COUNT(*) FROM {from} WHERE {cond} AND {matches}");
    let tags = f.tags.as_ref().map(Json);
    let rows = on!(backend, c => {
        sqlx::query_as::<_, ScoredTask>(AssertSqlSafe(list_sql.as_str()))
            .bind(f.owner_id).bind(&f.epic_id).bind(&f.status).bind(tags).bind(&f.workflow_slug)
            .bind(&query).bind(limit)
            .fetch_all(c).await
    })?;
    let total: i64 = on!(db.read(), c => {
        sqlx::query_scalar(AssertSqlSafe(count_sql.as_str()))
            .bind(f.owner_id).bind(&f.epic_id).bind(&f.status).bind(tags).bind(&f.workflow_slug)
            .bind(&query)
            .fetch_all(c).await
            .and_then(|rows| rows.into_iter().next().ok_or(sqlx::Error::RowNotFound))
    })?;
    Ok((rows, total))
}

/// Deletes one task.
pub async fn delete(tx: &mut Tx, id: &str) -> StoreResult<bool> {
    let n = on!(tx tx, c => {
        sqlx::query("DELETE FROM tasks WHERE id = $1").bind(id).execute(&mut *c).await.map(|r| r.rows_affected())
    })?;
    Ok(n > 0)
}

/// What §8's budget check needs for an execution that some task references: the epic's budget
/// and spend. `None` when no task of an existing epic points at it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct EpicBudgetRow {
    pub epic_id: String,
    pub budget_tokens: Option<i64>,
    pub budget_usd: Option<f64>,
    pub spent_tokens: i64,
    pub spent_usd: f64,
}

const BUDGET_FOR_EXECUTION: &str =
    "SELECT e.id AS epic_id, e.budget_tokens, e.budget_usd, e.spent_tokens, e.spent_usd
     FROM tasks t JOIN epics e ON e.id = t.epic_id WHERE t.execution_id = $1
     ORDER BY t.seq LIMIT 1";

pub async fn budget_for_execution_in(
    tx: &mut Tx,
    execution_id: &str,
) -> StoreResult<Option<EpicBudgetRow>> {
    Ok(on!(tx tx, c => {
        sqlx::query_as::<_, EpicBudgetRow>(BUDGET_FOR_EXECUTION)
            .bind(execution_id)
            .fetch_optional(&mut *c)
            .await
    })?)
}
