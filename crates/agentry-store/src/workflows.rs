//! The `workflows` table.

use crate::{Backend, Db, StoreResult, Tx};
use agentry_core::discovery::Capabilities;
use agentry_core::ids;
use agentry_core::page::PageRequest;
use serde_json::Value;
use sqlx::AssertSqlSafe;
use sqlx::types::Json;

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct WorkflowRow {
    pub id: i64,
    pub owner_id: i64,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub is_active: bool,
    pub is_public: bool,
    pub is_default: bool,
    pub is_callable: bool,
    pub tags: Option<Json<Vec<String>>>,
    pub error_handler_workflow_id: Option<i64>,
    pub forked_from_id: Option<i64>,
    pub max_execution_seconds: i64,
    pub input_schema: Option<Json<Value>>,
    pub output_schema: Option<Json<Value>>,
    pub created_at: i64,
    pub updated_at: i64,
    pub node_count: i64,
    pub edge_count: i64,
}

const SELECT: &str =
    "SELECT w.id, w.owner_id, w.name, w.slug, w.description, w.is_active, w.is_public,
    w.is_default, w.is_callable, w.tags, w.error_handler_workflow_id, w.forked_from_id,
    w.max_execution_seconds, w.input_schema, w.output_schema, w.created_at, w.updated_at,
    (SELECT COUNT(*) FROM nodes n WHERE n.workflow_id = w.id) AS node_count,
    (SELECT COUNT(*) FROM edges e WHERE e.workflow_id = w.id) AS edge_count
    FROM workflows w";

/// The editable fields of a workflow (everything but ids, owner and timestamps).
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowFields {
    pub name: String,
    pub description: String,
    pub is_active: bool,
    pub is_public: bool,
    pub is_default: bool,
    pub is_callable: bool,
    pub tags: Option<Vec<String>>,
    pub error_handler_workflow_id: Option<i64>,
    pub forked_from_id: Option<i64>,
    pub max_execution_seconds: i64,
    pub input_schema: Option<Value>,
    pub output_schema: Option<Value>,
}

impl WorkflowFields {
    pub fn from_row(row: &WorkflowRow) -> Self {
        WorkflowFields {
            name: row.name.clone(),
            description: row.description.clone(),
            is_active: row.is_active,
            is_public: row.is_public,
            is_default: row.is_default,
            is_callable: row.is_callable,
            tags: row.tags.as_ref().map(|t| t.0.clone()),
            error_handler_workflow_id: row.error_handler_workflow_id,
            forked_from_id: row.forked_from_id,
            max_execution_seconds: row.max_execution_seconds,
            input_schema: row.input_schema.as_ref().map(|j| j.0.clone()),
            output_schema: row.output_schema.as_ref().map(|j| j.0.clone()),
        }
    }
}

/// Inserts a workflow under the first free slug among `base`, `base-{first_suffix}`,
/// `base-{first_suffix+1}`, … (reserved route words count as taken). Safe under concurrency:
/// the unique index decides, and a loser moves on to the next candidate.
pub async fn insert_unique_slug(
    tx: &mut Tx,
    owner_id: i64,
    base_slug: &str,
    first_suffix: u32,
    f: &WorkflowFields,
    now: i64,
) -> StoreResult<WorkflowRow> {
    let mut n = 0u32;
    loop {
        let candidate = ids::slug_candidate(base_slug, n);
        n = if n == 0 { first_suffix } else { n + 1 };
        if ids::is_reserved_slug(&candidate) {
            continue;
        }
        let id: Option<i64> = on!(tx tx, c => {
            sqlx::query_scalar(
                "INSERT INTO workflows (owner_id, name, slug, description, is_active, is_public, is_default,
                    is_callable, tags, error_handler_workflow_id, forked_from_id, max_execution_seconds,
                    input_schema, output_schema, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15)
                 ON CONFLICT (slug) DO NOTHING RETURNING id",
            )
            .bind(owner_id)
            .bind(&f.name)
            .bind(&candidate)
            .bind(&f.description)
            .bind(f.is_active)
            .bind(f.is_public)
            .bind(f.is_default)
            .bind(f.is_callable)
            .bind(f.tags.as_ref().map(Json))
            .bind(f.error_handler_workflow_id)
            .bind(f.forked_from_id)
            .bind(f.max_execution_seconds)
            .bind(f.input_schema.as_ref().map(Json))
            .bind(f.output_schema.as_ref().map(Json))
            .bind(now)
            .fetch_optional(&mut *c)
            .await
        })?;
        if let Some(id) = id {
            return get_in(tx, id)
                .await?
                .ok_or_else(|| crate::StoreError::Corrupt("inserted workflow vanished".into()));
        }
    }
}

/// Writes every editable field and the slug; bumps `updated_at`.
pub async fn update(
    tx: &mut Tx,
    id: i64,
    slug: &str,
    f: &WorkflowFields,
    now: i64,
) -> StoreResult<Option<WorkflowRow>> {
    let n = on!(tx tx, c => {
        sqlx::query(
            "UPDATE workflows SET name = $1, slug = $2, description = $3, is_active = $4, is_public = $5,
                is_default = $6, is_callable = $7, tags = $8, error_handler_workflow_id = $9,
                forked_from_id = $10, max_execution_seconds = $11, input_schema = $12,
                output_schema = $13, updated_at = $14
             WHERE id = $15",
        )
        .bind(&f.name)
        .bind(slug)
        .bind(&f.description)
        .bind(f.is_active)
        .bind(f.is_public)
        .bind(f.is_default)
        .bind(f.is_callable)
        .bind(f.tags.as_ref().map(Json))
        .bind(f.error_handler_workflow_id)
        .bind(f.forked_from_id)
        .bind(f.max_execution_seconds)
        .bind(f.input_schema.as_ref().map(Json))
        .bind(f.output_schema.as_ref().map(Json))
        .bind(now)
        .bind(id)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    if n == 0 {
        return Ok(None);
    }
    get_in(tx, id).await
}

/// Bumps `updated_at` (a node or edge of the workflow changed).
pub async fn touch(tx: &mut Tx, id: i64, now: i64) -> StoreResult<()> {
    on!(tx tx, c => {
        sqlx::query("UPDATE workflows SET updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&mut *c)
            .await
            .map(|_| ())
    })?;
    Ok(())
}

pub async fn get_by_slug(db: &Db, slug: &str) -> StoreResult<Option<WorkflowRow>> {
    let sql = format!("{SELECT} WHERE w.slug = $1");
    Ok(
        on!(db.read(), c => sqlx::query_as::<_, WorkflowRow>(AssertSqlSafe(sql.as_str())).bind(slug).fetch_all(c).await.map(|rows| rows.into_iter().next()))?,
    )
}

pub async fn get(db: &Db, id: i64) -> StoreResult<Option<WorkflowRow>> {
    let sql = format!("{SELECT} WHERE w.id = $1");
    Ok(
        on!(db.read(), c => sqlx::query_as::<_, WorkflowRow>(AssertSqlSafe(sql.as_str())).bind(id).fetch_all(c).await.map(|rows| rows.into_iter().next()))?,
    )
}

/// Reads a workflow inside a transaction (sees the transaction's own writes).
pub async fn get_in(tx: &mut Tx, id: i64) -> StoreResult<Option<WorkflowRow>> {
    let sql = format!("{SELECT} WHERE w.id = $1");
    Ok(
        on!(tx tx, c => sqlx::query_as::<_, WorkflowRow>(AssertSqlSafe(sql.as_str())).bind(id).fetch_optional(&mut *c).await)?,
    )
}

pub async fn get_by_slug_in(tx: &mut Tx, slug: &str) -> StoreResult<Option<WorkflowRow>> {
    let sql = format!("{SELECT} WHERE w.slug = $1");
    Ok(
        on!(tx tx, c => sqlx::query_as::<_, WorkflowRow>(AssertSqlSafe(sql.as_str())).bind(slug).fetch_optional(&mut *c).await)?,
    )
}

/// The workflow created with `key` (the `workflow_create` tool's idempotency key), inside a
/// transaction.
pub async fn get_by_create_key_in(tx: &mut Tx, key: &str) -> StoreResult<Option<WorkflowRow>> {
    let sql = format!("{SELECT} WHERE w.create_key = $1");
    Ok(
        on!(tx tx, c => sqlx::query_as::<_, WorkflowRow>(AssertSqlSafe(sql.as_str())).bind(key).fetch_optional(&mut *c).await)?,
    )
}

/// Marks workflow `id` as created with `key` (unique: a second workflow with the same key is a
/// unique violation).
pub async fn set_create_key(tx: &mut Tx, id: i64, key: &str) -> StoreResult<()> {
    on!(tx tx, c => {
        sqlx::query("UPDATE workflows SET create_key = $1 WHERE id = $2")
            .bind(key)
            .bind(id)
            .execute(&mut *c)
            .await
            .map(|_| ())
    })?;
    Ok(())
}

/// Is `slug` used by a workflow other than `except_id`?
pub async fn slug_taken(tx: &mut Tx, slug: &str, except_id: i64) -> StoreResult<bool> {
    let found: Option<i64> = on!(tx tx, c => {
        sqlx::query_scalar("SELECT id FROM workflows WHERE slug = $1 AND id <> $2")
            .bind(slug)
            .bind(except_id)
            .fetch_optional(&mut *c)
            .await
    })?;
    Ok(found.is_some())
}

/// `x IN (elements of the JSON array bound as $n)`, per dialect.
pub(crate) fn json_list(backend: &Backend<'_>, n: u8) -> String {
    match backend {
        Backend::Sqlite(_) => format!("(SELECT value FROM json_each(${n}))"),
        Backend::Postgres(_) => format!("(SELECT jsonb_array_elements_text(${n}::jsonb))"),
    }
}

/// `x IN (integer elements of the JSON array bound as $1)`, per dialect.
pub(crate) fn json_id_list(backend: &Backend<'_>) -> &'static str {
    match backend {
        Backend::Sqlite(_) => "(SELECT value FROM json_each($1))",
        Backend::Postgres(_) => "(SELECT CAST(jsonb_array_elements_text($1::jsonb) AS BIGINT))",
    }
}

/// Filters for [`list`].
#[derive(Debug, Clone, Default)]
pub struct WorkflowFilter {
    /// Only this owner's workflows (`None`: everyone's, for admins).
    pub owner_id: Option<i64>,
    /// Any-of exact tag match.
    pub tags: Option<Vec<String>>,
}

/// Workflows newest first, with the total before paging.
pub async fn list(
    db: &Db,
    filter: &WorkflowFilter,
    page: PageRequest,
) -> StoreResult<(Vec<WorkflowRow>, i64)> {
    let backend = db.read();
    let tag_elems = sql_for!(backend,
        sqlite: "json_each(w.tags) t",
        postgres: "jsonb_array_elements_text(w.tags) t");
    let cond = format!(
        "($1 IS NULL OR w.owner_id = $1)
         AND ($2 IS NULL OR EXISTS (SELECT 1 FROM {tag_elems} WHERE t.value IN {}))",
        json_list(&backend, 2)
    );
    let list_sql =
        format!("{SELECT} WHERE {cond} ORDER BY w.created_at DESC, w.id DESC LIMIT $3 OFFSET $4");
    let count_sql = format!("SELECT COUNT(*) FROM workflows w WHERE {cond}");
    let tags = filter.tags.as_ref().map(Json);
    let rows = on!(backend, c => {
        sqlx::query_as::<_, WorkflowRow>(AssertSqlSafe(list_sql.as_str()))
            .bind(filter.owner_id)
            .bind(tags)
            .bind(page.limit)
            .bind(page.offset)
            .fetch_all(c)
            .await
    })?;
    let total: i64 = on!(db.read(), c => {
        sqlx::query_scalar(AssertSqlSafe(count_sql.as_str())).bind(filter.owner_id).bind(tags).fetch_all(c).await.and_then(|rows| rows.into_iter().next().ok_or(sqlx::Error::RowNotFound))
    })?;
    Ok((rows, total))
}

/// Deletes one workflow (nodes and edges cascade).
pub async fn delete(tx: &mut Tx, id: i64) -> StoreResult<bool> {
    let n = on!(tx tx, c => {
        sqlx::query("DELETE FROM workflows WHERE id = $1")
            .bind(id)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(n > 0)
}

/// Deletes the named workflows the owner may change (`owner_id = None`: any); returns the
/// slugs actually deleted.
pub async fn delete_many(
    tx: &mut Tx,
    slugs: &[String],
    owner_id: Option<i64>,
) -> StoreResult<Vec<String>> {
    if slugs.is_empty() {
        return Ok(vec![]);
    }
    let list = match &tx.conn {
        crate::db::TxConn::Sqlite(_) => "(SELECT value FROM json_each($1))",
        crate::db::TxConn::Postgres(_) => "(SELECT jsonb_array_elements_text($1::jsonb))",
    };
    let sql = format!(
        "DELETE FROM workflows WHERE slug IN {list} AND ($2 IS NULL OR owner_id = $2) RETURNING slug"
    );
    Ok(on!(tx tx, c => {
        sqlx::query_scalar::<_, String>(AssertSqlSafe(sql.as_str())).bind(Json(slugs)).bind(owner_id).fetch_all(&mut *c).await
    })?)
}

/// The workflows discovery may return (discovery.md §2): active ones of owner `$1` plus public
/// ones; `$1` NULL (admins): every active workflow. Shared by the discovery reads of
/// `workflows`, `nodes`, `edges` and `executions`, which join `workflows w`.
pub(crate) const DISCOVERABLE: &str =
    "w.is_active AND ($1 IS NULL OR w.owner_id = $1 OR w.is_public)";

/// A discovery candidate: what the score and the result item need from the workflow row.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct CandidateRow {
    pub id: i64,
    pub owner_id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub tags: Option<Json<Vec<String>>>,
    /// Cached capabilities; `None` when a node or edge changed since they were computed.
    pub capabilities: Option<Json<Capabilities>>,
    pub capabilities_version: i64,
}

/// Every discovery candidate for `owner_id` (`None`: all active workflows), by id.
pub async fn discovery_candidates(
    db: &Db,
    owner_id: Option<i64>,
) -> StoreResult<Vec<CandidateRow>> {
    let sql = format!(
        "SELECT w.id, w.owner_id, w.slug, w.name, w.description, w.tags, w.capabilities,
            w.capabilities_version
         FROM workflows w WHERE {DISCOVERABLE} ORDER BY w.id"
    );
    Ok(on!(db.read(), c => {
        sqlx::query_as::<_, CandidateRow>(AssertSqlSafe(sql.as_str())).bind(owner_id).fetch_all(c).await
    })?)
}

/// The discovery candidates matching any of `terms` in name, description or tags, with their
/// full-text rank (higher is better; see `fts`). No terms: nothing.
pub async fn text_ranks(
    db: &Db,
    owner_id: Option<i64>,
    terms: &[String],
) -> StoreResult<Vec<(i64, f64)>> {
    if terms.is_empty() {
        return Ok(vec![]);
    }
    let backend = db.read();
    let r = crate::fts::ranked(&backend, "workflows", "w", "id", 2);
    let query = crate::fts::query_text(&backend, terms);
    let sql = format!(
        "SELECT w.id, {} AS score FROM {} WHERE {} AND {DISCOVERABLE}",
        r.score, r.from, r.matches
    );
    Ok(on!(backend, c => {
        sqlx::query_as::<_, (i64, f64)>(AssertSqlSafe(sql.as_str())).bind(owner_id).bind(&query).fetch_all(c).await
    })?)
}

/// Caches recomputed capabilities: each `(workflow id, version read, capabilities)` is written
/// only if the workflow's `capabilities_version` is still the one read (a node or edge change
/// since then bumped it, and its capabilities stay cleared for the next reader).
pub async fn store_capabilities(db: &Db, items: &[(i64, i64, Capabilities)]) -> StoreResult<()> {
    if items.is_empty() {
        return Ok(());
    }
    let mut tx = db.begin().await?;
    for (id, version, caps) in items {
        on!(tx tx, c => {
            sqlx::query(
                "UPDATE workflows SET capabilities = $1 WHERE id = $2 AND capabilities_version = $3",
            )
            .bind(Json(caps))
            .bind(id)
            .bind(version)
            .execute(&mut *c)
            .await
            .map(|_| ())
        })?;
    }
    tx.commit().await?;
    Ok(())
}
