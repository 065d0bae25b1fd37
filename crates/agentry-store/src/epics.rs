//! The `epics` table (registry.md §1): goals owned by a user, with their roll-up of task
//! progress and spend, and full-text search (SQLite FTS5 `epics_fts`, PostgreSQL `search_tsv`).
//!
//! Roll-up discipline: counters and `spent_*` are only ever written by [`recount`], which
//! recomputes them from the task rows inside the caller's transaction. Writers take the epic's
//! row lock first ([`lock`]: `FOR UPDATE` on PostgreSQL; SQLite has one writer), so concurrent
//! task changes under one epic serialize and no recount works from a stale view.

use crate::db::TxConn;
use crate::workflows::json_list;
use crate::{Backend, Db, StoreResult, Tx};
use agentry_core::page::PageRequest;
use agentry_core::registry::round_usd;
use sqlx::AssertSqlSafe;
use sqlx::types::Json;

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct EpicRow {
    pub id: String,
    pub title: String,
    pub description: String,
    pub tags: Json<Vec<String>>,
    pub created_by_node_id: Option<String>,
    pub workflow_id: Option<i64>,
    pub user_profile_id: Option<i64>,
    pub status: String,
    pub priority: i64,
    pub budget_tokens: Option<i64>,
    pub budget_usd: Option<f64>,
    pub spent_tokens: i64,
    pub spent_usd: f64,
    pub agent_overhead_tokens: i64,
    pub agent_overhead_usd: f64,
    pub total_tasks: i64,
    pub completed_tasks: i64,
    pub failed_tasks: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub completed_at: Option<i64>,
    pub result_summary: Option<String>,
}

const COLUMNS: &str = "e.id, e.title, e.description, e.tags, e.created_by_node_id, e.workflow_id,
    e.user_profile_id, e.status, e.priority, e.budget_tokens, e.budget_usd, e.spent_tokens,
    e.spent_usd, e.agent_overhead_tokens, e.agent_overhead_usd, e.total_tasks, e.completed_tasks,
    e.failed_tasks, e.created_at, e.updated_at, e.completed_at, e.result_summary";

/// A new epic (`status` starts `planning`, counters at 0).
#[derive(Debug, Clone)]
pub struct NewEpic<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    pub tags: &'a [String],
    pub created_by_node_id: Option<&'a str>,
    pub workflow_id: Option<i64>,
    pub user_profile_id: Option<i64>,
    pub priority: i64,
    pub budget_tokens: Option<i64>,
    pub budget_usd: Option<f64>,
    pub now: i64,
}

pub async fn insert(tx: &mut Tx, e: &NewEpic<'_>) -> StoreResult<EpicRow> {
    on!(tx tx, c => {
        sqlx::query(
            "INSERT INTO epics (id, title, description, tags, created_by_node_id, workflow_id,
                user_profile_id, status, priority, budget_tokens, budget_usd, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'planning', $8, $9, $10, $11, $11)",
        )
        .bind(e.id)
        .bind(e.title)
        .bind(e.description)
        .bind(Json(e.tags))
        .bind(e.created_by_node_id)
        .bind(e.workflow_id)
        .bind(e.user_profile_id)
        .bind(e.priority)
        .bind(e.budget_tokens)
        .bind(e.budget_usd)
        .bind(e.now)
        .execute(&mut *c)
        .await
        .map(|_| ())
    })?;
    get_in(tx, e.id)
        .await?
        .ok_or_else(|| crate::StoreError::Corrupt("inserted epic vanished".into()))
}

pub async fn get(db: &Db, id: &str) -> StoreResult<Option<EpicRow>> {
    let sql = format!("SELECT {COLUMNS} FROM epics e WHERE e.id = $1");
    Ok(on!(db.read(), c => {
        sqlx::query_as::<_, EpicRow>(AssertSqlSafe(sql.as_str())).bind(id).fetch_all(c).await.map(|rows| rows.into_iter().next())
    })?)
}

/// Reads an epic inside a transaction (sees its own writes).
pub async fn get_in(tx: &mut Tx, id: &str) -> StoreResult<Option<EpicRow>> {
    let sql = format!("SELECT {COLUMNS} FROM epics e WHERE e.id = $1");
    Ok(on!(tx tx, c => {
        sqlx::query_as::<_, EpicRow>(AssertSqlSafe(sql.as_str())).bind(id).fetch_optional(&mut *c).await
    })?)
}

/// Reads an epic and, on PostgreSQL, locks its row until the transaction ends. Every registry
/// write takes this lock first, so one epic's changes (and their recounts) never interleave.
pub async fn lock(tx: &mut Tx, id: &str) -> StoreResult<Option<EpicRow>> {
    let suffix = match tx.conn {
        TxConn::Sqlite(_) => "",
        TxConn::Postgres(_) => " FOR UPDATE",
    };
    let sql = format!("SELECT {COLUMNS} FROM epics e WHERE e.id = $1{suffix}");
    Ok(on!(tx tx, c => {
        sqlx::query_as::<_, EpicRow>(AssertSqlSafe(sql.as_str())).bind(id).fetch_optional(&mut *c).await
    })?)
}

/// The fields a PATCH or a status change writes.
#[derive(Debug, Clone, PartialEq)]
pub struct EpicFields {
    pub title: String,
    pub description: String,
    pub tags: Vec<String>,
    pub status: String,
    pub priority: i64,
    pub budget_tokens: Option<i64>,
    pub budget_usd: Option<f64>,
    pub completed_at: Option<i64>,
    pub result_summary: Option<String>,
}

impl EpicFields {
    pub fn from_row(r: &EpicRow) -> Self {
        EpicFields {
            title: r.title.clone(),
            description: r.description.clone(),
            tags: r.tags.0.clone(),
            status: r.status.clone(),
            priority: r.priority,
            budget_tokens: r.budget_tokens,
            budget_usd: r.budget_usd,
            completed_at: r.completed_at,
            result_summary: r.result_summary.clone(),
        }
    }
}

/// Writes the editable fields; bumps `updated_at`.
pub async fn update(tx: &mut Tx, id: &str, f: &EpicFields, now: i64) -> StoreResult<()> {
    on!(tx tx, c => {
        sqlx::query(
            "UPDATE epics SET title = $2, description = $3, tags = $4, status = $5, priority = $6,
                budget_tokens = $7, budget_usd = $8, completed_at = $9, result_summary = $10,
                updated_at = $11
             WHERE id = $1",
        )
        .bind(id)
        .bind(&f.title)
        .bind(&f.description)
        .bind(Json(&f.tags))
        .bind(&f.status)
        .bind(f.priority)
        .bind(f.budget_tokens)
        .bind(f.budget_usd)
        .bind(f.completed_at)
        .bind(&f.result_summary)
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|_| ())
    })?;
    Ok(())
}

/// Stores the text of the epic's procedural memory (registry.md §9) so search finds it.
pub async fn set_memory_text(tx: &mut Tx, id: &str, text: &str) -> StoreResult<()> {
    on!(tx tx, c => {
        sqlx::query("UPDATE epics SET memory_text = $2 WHERE id = $1").bind(id).bind(text).execute(&mut *c).await.map(|_| ())
    })?;
    Ok(())
}

/// Adds an agent's own LLM usage outside any task to the epic (registry.md §12 overhead).
pub async fn add_overhead(
    tx: &mut Tx,
    id: &str,
    tokens: i64,
    usd: f64,
    now: i64,
) -> StoreResult<()> {
    on!(tx tx, c => {
        sqlx::query(
            "UPDATE epics SET agent_overhead_tokens = agent_overhead_tokens + $2,
                agent_overhead_usd = agent_overhead_usd + $3, updated_at = $4 WHERE id = $1",
        )
        .bind(id).bind(tokens).bind(usd).bind(now)
        .execute(&mut *c).await.map(|_| ())
    })?;
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, sqlx::FromRow)]
struct Sums {
    total: i64,
    completed: i64,
    failed: i64,
    tokens: i64,
    usd: f64,
}

/// registry.md §5: recomputes `total_tasks`, `completed_tasks`, `failed_tasks`, `spent_tokens`
/// and `spent_usd` from the task rows. Returns whether anything changed (the caller then
/// announces `epic_updated`). Call it with the epic locked ([`lock`]).
pub async fn recount(tx: &mut Tx, id: &str, now: i64) -> StoreResult<bool> {
    let sums: Sums = on!(tx tx, c => {
        sqlx::query_as::<_, Sums>(
            "SELECT COUNT(*) AS total,
                CAST(COALESCE(SUM(CASE WHEN status = 'completed' THEN 1 ELSE 0 END), 0) AS BIGINT) AS completed,
                CAST(COALESCE(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0) AS BIGINT) AS failed,
                CAST(COALESCE(SUM(actual_tokens), 0) AS BIGINT) AS tokens,
                CAST(COALESCE(SUM(actual_usd), 0) AS DOUBLE PRECISION) AS usd
             FROM tasks WHERE epic_id = $1",
        )
        .bind(id)
        .fetch_one(&mut *c)
        .await
    })?;
    let usd = round_usd(sums.usd);
    let n = on!(tx tx, c => {
        sqlx::query(
            "UPDATE epics SET total_tasks = $2, completed_tasks = $3, failed_tasks = $4,
                spent_tokens = $5, spent_usd = $6, updated_at = $7
             WHERE id = $1 AND (total_tasks <> $2 OR completed_tasks <> $3 OR failed_tasks <> $4
                OR spent_tokens <> $5 OR spent_usd <> $6)",
        )
        .bind(id)
        .bind(sums.total)
        .bind(sums.completed)
        .bind(sums.failed)
        .bind(sums.tokens)
        .bind(usd)
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(n > 0)
}

/// Filters for [`list`] and [`search`] (all AND-combined).
#[derive(Debug, Clone, Default)]
pub struct EpicFilter {
    /// Only this owner's epics (`None`: everyone's, for admins).
    pub owner_id: Option<i64>,
    pub status: Option<String>,
    /// Any-of exact tag match.
    pub tags: Option<Vec<String>>,
    pub workflow_id: Option<i64>,
}

fn filter_sql(backend: &Backend<'_>) -> String {
    let tag_elems = sql_for!(backend,
        sqlite: "json_each(e.tags) t",
        postgres: "jsonb_array_elements_text(e.tags) t");
    format!(
        "($1 IS NULL OR e.user_profile_id = $1) AND ($2 IS NULL OR e.status = $2)
         AND ($3 IS NULL OR EXISTS (SELECT 1 FROM {tag_elems} WHERE t.value IN {}))
         AND ($4 IS NULL OR e.workflow_id = $4)",
        json_list(backend, 3)
    )
}

/// Epics newest first, with the total before paging.
pub async fn list(db: &Db, f: &EpicFilter, page: PageRequest) -> StoreResult<(Vec<EpicRow>, i64)> {
    let backend = db.read();
    let cond = filter_sql(&backend);
    let list_sql = format!(
        "SELECT {COLUMNS} FROM epics e WHERE {cond}
         ORDER BY e.created_at DESC, e.seq DESC LIMIT $5 OFFSET $6"
    );
    let count_sql = format!("SELECT COUNT(*) FROM epics e WHERE {cond}");
    let tags = f.tags.as_ref().map(Json);
    let rows = on!(backend, c => {
        sqlx::query_as::<_, EpicRow>(AssertSqlSafe(list_sql.as_str()))
            .bind(f.owner_id).bind(&f.status).bind(tags).bind(f.workflow_id)
            .bind(page.limit).bind(page.offset)
            .fetch_all(c).await
    })?;
    let total: i64 = on!(db.read(), c => {
        sqlx::query_scalar(AssertSqlSafe(count_sql.as_str()))
            .bind(f.owner_id).bind(&f.status).bind(tags).bind(f.workflow_id)
            .fetch_all(c).await
            .and_then(|rows| rows.into_iter().next().ok_or(sqlx::Error::RowNotFound))
    })?;
    Ok((rows, total))
}

/// The `search_epics` tool's filter (registry.md §10): the list filters plus `text` as a
/// case-insensitive substring of the title or the description; newest first, at most `limit`.
pub async fn list_containing(
    db: &Db,
    f: &EpicFilter,
    text: &str,
    limit: i64,
) -> StoreResult<Vec<EpicRow>> {
    let backend = db.read();
    let cond = filter_sql(&backend);
    let sql = format!(
        "SELECT {COLUMNS} FROM epics e WHERE {cond}
         AND ($5 = '' OR lower(e.title) LIKE $5 ESCAPE '\\' OR lower(e.description) LIKE $5 ESCAPE '\\')
         ORDER BY e.created_at DESC, e.seq DESC LIMIT $6"
    );
    let pattern = if text.is_empty() {
        String::new()
    } else {
        format!("%{}%", crate::like_escape(&text.to_lowercase()))
    };
    let tags = f.tags.as_ref().map(Json);
    Ok(on!(backend, c => {
        sqlx::query_as::<_, EpicRow>(AssertSqlSafe(sql.as_str()))
            .bind(f.owner_id).bind(&f.status).bind(tags).bind(f.workflow_id)
            .bind(&pattern).bind(limit)
            .fetch_all(c).await
    })?)
}

/// A search hit: the epic and its relevance (higher is better; 0 without a query).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ScoredEpic {
    #[sqlx(flatten)]
    pub epic: EpicRow,
    pub score: f64,
}

/// Full-text search over title, description, tags, result summary and procedural memory:
/// any of `terms` (see `agentry_core::registry::fts_terms`) matches; best first (bm25 on
/// SQLite, `ts_rank` on PostgreSQL), then newest. No terms: filters only, newest first, score 0.
/// Returns the page and the number of matches.
pub async fn search(
    db: &Db,
    f: &EpicFilter,
    terms: &[String],
    limit: i64,
) -> StoreResult<(Vec<ScoredEpic>, i64)> {
    let backend = db.read();
    let cond = filter_sql(&backend);
    let (from, score, matches, query) = if terms.is_empty() {
        (
            "epics e".to_string(),
            "CAST(0 AS DOUBLE PRECISION)".to_string(),
            "($5 IS NULL)".to_string(),
            None,
        )
    } else {
        let r = crate::fts::ranked(&backend, "epics", "e", "seq", 5);
        let q = crate::fts::query_text(&backend, terms);
        let (from, score, matches) = (r.from, r.score, r.matches);
        (from, score, matches, Some(q))
    };
    let list_sql = format!(
        "SELECT {COLUMNS}, {score} AS score FROM {from} WHERE {cond} AND {matches}
         ORDER BY score DESC, e.created_at DESC, e.seq DESC LIMIT $6"
    );
    let count_sql = format!("SELECT COUNT(*) FROM {from} WHERE {cond} AND {matches}");
    let tags = f.tags.as_ref().map(Json);
    let rows = on!(backend, c => {
        sqlx::query_as::<_, ScoredEpic>(AssertSqlSafe(list_sql.as_str()))
            .bind(f.owner_id).bind(&f.status).bind(tags).bind(f.workflow_id)
            .bind(&query).bind(limit)
            .fetch_all(c).await
    })?;
    let total: i64 = on!(db.read(), c => {
        sqlx::query_scalar(AssertSqlSafe(count_sql.as_str()))
            .bind(f.owner_id).bind(&f.status).bind(tags).bind(f.workflow_id).bind(&query)
            .fetch_all(c).await
            .and_then(|rows| rows.into_iter().next().ok_or(sqlx::Error::RowNotFound))
    })?;
    Ok((rows, total))
}

/// Deletes one epic (its tasks cascade).
pub async fn delete(tx: &mut Tx, id: &str) -> StoreResult<bool> {
    let n = on!(tx tx, c => {
        sqlx::query("DELETE FROM epics WHERE id = $1").bind(id).execute(&mut *c).await.map(|r| r.rows_affected())
    })?;
    Ok(n > 0)
}
