//! The `executions` table: one row per run of a workflow, holding its graph snapshot, its
//! durable context (`state`, observable; `book`, engine bookkeeping) and its usage totals.

use crate::db::TxConn;
use crate::{Db, StoreResult, Tx};
use agentry_core::page::PageRequest;
use serde_json::Value;
use sqlx::AssertSqlSafe;
use sqlx::types::Json;

/// What list endpoints show (no snapshot or context).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ExecutionRow {
    pub id: String,
    pub workflow_id: i64,
    pub workflow_slug: String,
    pub user_profile_id: Option<i64>,
    pub status: String,
    pub trigger_node_id: Option<String>,
    pub error_message: String,
    pub parent_execution_id: Option<String>,
    pub parent_node_id: String,
    pub root_execution_id: String,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub completed_at: Option<i64>,
    pub total_input_tokens: i64,
    pub total_output_tokens: i64,
    pub total_tokens: i64,
    pub total_cost_usd: f64,
    pub llm_calls: i64,
    pub tool_invocations: i64,
}

const COLUMNS: &str = "e.id, e.workflow_id, e.workflow_slug, e.user_profile_id, e.status, e.trigger_node_id,
    e.error_message, e.parent_execution_id, e.parent_node_id, e.root_execution_id, e.created_at, e.started_at,
    e.completed_at, e.total_input_tokens, e.total_output_tokens, e.total_tokens, e.total_cost_usd, e.llm_calls,
    e.tool_invocations";

/// Everything the engine loads to run a job.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ExecutionFull {
    #[sqlx(flatten)]
    pub row: ExecutionRow,
    pub trigger_payload: Json<Value>,
    /// Only when asked for (it is large and the engine caches it per execution).
    pub snapshot: Option<Json<Value>>,
    pub state: Json<Value>,
    pub book: Json<Value>,
    pub final_output: Option<Json<Value>>,
}

const FULL: &str = "e.trigger_payload, CASE WHEN $2 THEN e.snapshot ELSE NULL END AS snapshot, e.state, e.book, e.final_output";

pub struct NewExecution<'a> {
    pub id: &'a str,
    pub workflow_id: i64,
    pub workflow_slug: &'a str,
    pub user_profile_id: Option<i64>,
    pub trigger_node_id: Option<&'a str>,
    pub trigger_payload: &'a Value,
    pub snapshot: &'a Value,
    pub state: &'a Value,
    pub book: &'a Value,
    pub parent_execution_id: Option<&'a str>,
    pub parent_node_id: &'a str,
    pub root_execution_id: &'a str,
    /// Idempotency key for executions created by the engine (children): a second insert with
    /// the same key creates nothing.
    pub spawn_key: Option<&'a str>,
    pub now: i64,
}

/// Inserts a `pending` execution; `false` when `spawn_key` was already used.
pub async fn insert(tx: &mut Tx, e: NewExecution<'_>) -> StoreResult<bool> {
    let n = on!(tx tx, c => {
        sqlx::query(
            "INSERT INTO executions (id, workflow_id, workflow_slug, user_profile_id, status, trigger_node_id,
                trigger_payload, snapshot, state, book, parent_execution_id, parent_node_id, root_execution_id,
                spawn_key, created_at)
             VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             ON CONFLICT (spawn_key) DO NOTHING",
        )
        .bind(e.id)
        .bind(e.workflow_id)
        .bind(e.workflow_slug)
        .bind(e.user_profile_id)
        .bind(e.trigger_node_id)
        .bind(Json(e.trigger_payload))
        .bind(Json(e.snapshot))
        .bind(Json(e.state))
        .bind(Json(e.book))
        .bind(e.parent_execution_id)
        .bind(e.parent_node_id)
        .bind(e.root_execution_id)
        .bind(e.spawn_key)
        .bind(e.now)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(n > 0)
}

pub async fn get(db: &Db, id: &str) -> StoreResult<Option<ExecutionRow>> {
    let sql = format!("SELECT {COLUMNS} FROM executions e WHERE e.id = $1");
    Ok(
        on!(db.read(), c => sqlx::query_as::<_, ExecutionRow>(AssertSqlSafe(sql.as_str())).bind(id).fetch_all(c).await.map(|rows| rows.into_iter().next()))?,
    )
}

pub async fn get_full(
    db: &Db,
    id: &str,
    with_snapshot: bool,
) -> StoreResult<Option<ExecutionFull>> {
    let sql = format!("SELECT {COLUMNS}, {FULL} FROM executions e WHERE e.id = $1");
    Ok(
        on!(db.read(), c => sqlx::query_as::<_, ExecutionFull>(AssertSqlSafe(sql.as_str())).bind(id).bind(with_snapshot).fetch_all(c).await.map(|rows| rows.into_iter().next()))?,
    )
}

/// Loads an execution inside `tx`, locking its row on PostgreSQL (SQLite transactions are
/// already serialized), so read-modify-write of the context is safe across workers.
pub async fn get_full_for_update(
    tx: &mut Tx,
    id: &str,
    with_snapshot: bool,
) -> StoreResult<Option<ExecutionFull>> {
    let lock = match tx.conn {
        TxConn::Sqlite(_) => "",
        TxConn::Postgres(_) => " FOR UPDATE",
    };
    let sql = format!("SELECT {COLUMNS}, {FULL} FROM executions e WHERE e.id = $1{lock}");
    Ok(
        on!(tx tx, c => sqlx::query_as::<_, ExecutionFull>(AssertSqlSafe(sql.as_str())).bind(id).bind(with_snapshot).fetch_optional(&mut *c).await)?,
    )
}

/// Writes status, context and start time.
pub async fn save(
    tx: &mut Tx,
    id: &str,
    status: &str,
    state: &Value,
    book: &Value,
    started_at: Option<i64>,
) -> StoreResult<()> {
    on!(tx tx, c => {
        sqlx::query(
            "UPDATE executions SET status = $2, state = $3, book = $4, started_at = COALESCE(started_at, $5) WHERE id = $1",
        )
        .bind(id)
        .bind(status)
        .bind(Json(state))
        .bind(Json(book))
        .bind(started_at)
        .execute(&mut *c)
        .await
        .map(|_| ())
    })?;
    Ok(())
}

/// Usage totals of an execution.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Totals {
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_usd: f64,
    pub llm_calls: i64,
    pub tool_invocations: i64,
}

/// Ends an execution: terminal status, output or error, completion time, usage totals.
pub async fn finish(
    tx: &mut Tx,
    id: &str,
    status: &str,
    final_output: Option<&Value>,
    error_message: &str,
    totals: Totals,
    now: i64,
) -> StoreResult<()> {
    on!(tx tx, c => {
        sqlx::query(
            "UPDATE executions SET status = $2, final_output = $3, error_message = $4, completed_at = $5,
                total_input_tokens = $6, total_output_tokens = $7, total_tokens = $6 + $7, total_cost_usd = $8,
                llm_calls = $9, tool_invocations = $10
             WHERE id = $1",
        )
        .bind(id)
        .bind(status)
        .bind(final_output.map(Json))
        .bind(error_message)
        .bind(now)
        .bind(totals.input_tokens)
        .bind(totals.output_tokens)
        .bind(totals.cost_usd)
        .bind(totals.llm_calls)
        .bind(totals.tool_invocations)
        .execute(&mut *c)
        .await
        .map(|_| ())
    })?;
    Ok(())
}

/// Filters for [`list`].
#[derive(Debug, Clone, Default)]
pub struct ExecutionFilter {
    /// Only executions this user may see (their workflow's owner or the user they run as);
    /// `None`: all (admins).
    pub visible_to: Option<i64>,
    pub workflow_slug: Option<String>,
    pub status: Option<String>,
    pub parent_execution_id: Option<String>,
}

/// Newest first, with the total before paging.
pub async fn list(
    db: &Db,
    f: &ExecutionFilter,
    page: PageRequest,
) -> StoreResult<(Vec<ExecutionRow>, i64)> {
    let cond = "($1 IS NULL OR e.user_profile_id = $1 OR w.owner_id = $1)
        AND ($2 IS NULL OR e.workflow_slug = $2) AND ($3 IS NULL OR e.status = $3)
        AND ($4 IS NULL OR e.parent_execution_id = $4)";
    let list_sql = format!(
        "SELECT {COLUMNS} FROM executions e JOIN workflows w ON w.id = e.workflow_id WHERE {cond}
         ORDER BY e.created_at DESC, e.id DESC LIMIT $5 OFFSET $6"
    );
    let count_sql = format!(
        "SELECT COUNT(*) FROM executions e JOIN workflows w ON w.id = e.workflow_id WHERE {cond}"
    );
    let rows = on!(db.read(), c => {
        sqlx::query_as::<_, ExecutionRow>(AssertSqlSafe(list_sql.as_str()))
            .bind(f.visible_to)
            .bind(&f.workflow_slug)
            .bind(&f.status)
            .bind(&f.parent_execution_id)
            .bind(page.limit)
            .bind(page.offset)
            .fetch_all(c)
            .await
    })?;
    let total: i64 = on!(db.read(), c => {
        sqlx::query_scalar(AssertSqlSafe(count_sql.as_str()))
            .bind(f.visible_to)
            .bind(&f.workflow_slug)
            .bind(&f.status)
            .bind(&f.parent_execution_id)
            .fetch_all(c)
            .await
            .and_then(|rows| rows.into_iter().next().ok_or(sqlx::Error::RowNotFound))
    })?;
    Ok((rows, total))
}

/// Non-terminal children of an execution (ids).
pub async fn active_children(tx: &mut Tx, parent: &str) -> StoreResult<Vec<String>> {
    Ok(on!(tx tx, c => {
        sqlx::query_scalar(
            "SELECT id FROM executions WHERE parent_execution_id = $1 AND status IN ('pending', 'running', 'interrupted')",
        )
        .bind(parent)
        .fetch_all(&mut *c)
        .await
    })?)
}

/// What the engine checks before running a node (engine.md §3, registry.md §8): the
/// execution's status and, when a task references it, its epic's budget and spend (this one
/// query reads `tasks` and `epics` too, so the hot path pays one round trip for both).
#[derive(Debug, Clone, PartialEq, Default, sqlx::FromRow)]
pub struct NodeGate {
    pub status: String,
    pub budget_tokens: Option<i64>,
    pub budget_usd: Option<f64>,
    pub spent_tokens: Option<i64>,
    pub spent_usd: Option<f64>,
}

pub async fn node_gate(db: &Db, id: &str) -> StoreResult<Option<NodeGate>> {
    Ok(on!(db.read(), c => {
        sqlx::query_as::<_, NodeGate>(
            "SELECT e.status, b.budget_tokens, b.budget_usd, b.spent_tokens, b.spent_usd
             FROM executions e LEFT JOIN (
                 SELECT t.execution_id, ep.budget_tokens, ep.budget_usd, ep.spent_tokens, ep.spent_usd
                 FROM tasks t JOIN epics ep ON ep.id = t.epic_id
                 WHERE t.execution_id = $1 ORDER BY t.seq LIMIT 1) b ON b.execution_id = e.id
             WHERE e.id = $1",
        )
        .bind(id)
        .fetch_all(c)
        .await
        .map(|rows| rows.into_iter().next())
    })?)
}

/// What an execution's descendants (children, their children, …) used, for the
/// `activity_summary` of its `execution_completed` event (api.md §10).
#[derive(Debug, Clone, Copy, PartialEq, Default, sqlx::FromRow)]
pub struct DescendantTotals {
    pub count: i64,
    pub tokens: i64,
    pub cost_usd: f64,
    pub llm_calls: i64,
}

pub async fn descendant_totals_in(tx: &mut Tx, id: &str) -> StoreResult<DescendantTotals> {
    Ok(on!(tx tx, c => {
        sqlx::query_as::<_, DescendantTotals>(
            "WITH RECURSIVE d(id) AS (
                 SELECT id FROM executions WHERE parent_execution_id = $1
                 UNION ALL
                 SELECT e.id FROM executions e JOIN d ON e.parent_execution_id = d.id)
             SELECT COUNT(*) AS count,
                    CAST(COALESCE(SUM(x.total_tokens), 0) AS BIGINT) AS tokens,
                    CAST(COALESCE(SUM(x.total_cost_usd), 0) AS DOUBLE PRECISION) AS cost_usd,
                    CAST(COALESCE(SUM(x.llm_calls), 0) AS BIGINT) AS llm_calls
             FROM executions x WHERE x.id IN (SELECT id FROM d)",
        )
        .bind(id)
        .fetch_one(&mut *c)
        .await
    })?)
}

/// Ids of executions still running or waiting (for recovery reports and health).
pub async fn count_by_status(db: &Db) -> StoreResult<Vec<(String, i64)>> {
    Ok(on!(db.read(), c => {
        sqlx::query_as::<_, (String, i64)>("SELECT status, COUNT(*) FROM executions GROUP BY status")
            .fetch_all(c)
            .await
    })?)
}

pub async fn delete(tx: &mut Tx, id: &str) -> StoreResult<bool> {
    let n = on!(tx tx, c => {
        sqlx::query("DELETE FROM executions WHERE id = $1").bind(id).execute(&mut *c).await.map(|r| r.rows_affected())
    })?;
    Ok(n > 0)
}

/// The execution created with `spawn_key`, if any.
pub async fn id_by_spawn_key(tx: &mut Tx, key: &str) -> StoreResult<Option<String>> {
    Ok(on!(tx tx, c => {
        sqlx::query_scalar("SELECT id FROM executions WHERE spawn_key = $1").bind(key).fetch_optional(&mut *c).await
    })?)
}

/// Is an execution started at this trigger still pending or running?
pub async fn active_for_trigger(
    tx: &mut Tx,
    workflow_id: i64,
    trigger_node_id: &str,
) -> StoreResult<bool> {
    let found: Option<String> = on!(tx tx, c => {
        sqlx::query_scalar(
            "SELECT id FROM executions WHERE workflow_id = $1 AND trigger_node_id = $2
               AND status IN ('pending', 'running') LIMIT 1",
        )
        .bind(workflow_id)
        .bind(trigger_node_id)
        .fetch_optional(&mut *c)
        .await
    })?;
    Ok(found.is_some())
}

/// A workflow's execution metrics (discovery.md §3) over its `completed` and `failed`
/// executions: their number, how many completed, the mean duration of those with both
/// timestamps and the mean cost.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct WorkflowMetricsRow {
    pub workflow_id: i64,
    pub execution_count: i64,
    pub completed: i64,
    pub avg_duration_ms: Option<f64>,
    pub avg_cost_usd: Option<f64>,
}

/// Metrics of every discovery candidate of `owner_id` that has counted executions.
pub async fn discovery_metrics(
    db: &Db,
    owner_id: Option<i64>,
) -> StoreResult<Vec<WorkflowMetricsRow>> {
    let sql = format!(
        "SELECT x.workflow_id, COUNT(*) AS execution_count,
            CAST(SUM(CASE WHEN x.status = 'completed' THEN 1 ELSE 0 END) AS BIGINT) AS completed,
            CAST(AVG(CASE WHEN x.started_at IS NOT NULL AND x.completed_at IS NOT NULL
                THEN x.completed_at - x.started_at END) AS DOUBLE PRECISION) AS avg_duration_ms,
            CAST(AVG(x.total_cost_usd) AS DOUBLE PRECISION) AS avg_cost_usd
         FROM executions x JOIN workflows w ON w.id = x.workflow_id
         WHERE x.status IN ('completed', 'failed') AND {}
         GROUP BY x.workflow_id",
        crate::workflows::DISCOVERABLE
    );
    Ok(on!(db.read(), c => {
        sqlx::query_as::<_, WorkflowMetricsRow>(AssertSqlSafe(sql.as_str())).bind(owner_id).fetch_all(c).await
    })?)
}
