//! The `jobs` table: the durable work queue. A worker claims a due job with a lease; the
//! transaction that records the job's result also deletes it. A worker that dies loses only its
//! lease: the job becomes claimable again when the lease runs out.

use crate::{Backend, Db, StoreResult, Tx};
use serde_json::Value;
use sqlx::types::Json;

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct JobRow {
    pub id: i64,
    pub kind: String,
    pub execution_id: Option<String>,
    pub node_id: String,
    pub payload: Json<Value>,
    pub run_at: i64,
    pub lease_until: Option<i64>,
    pub lease_owner: Option<String>,
    pub attempts: i64,
    pub created_at: i64,
}

pub struct NewJob<'a> {
    pub kind: &'a str,
    pub execution_id: Option<&'a str>,
    pub node_id: &'a str,
    pub payload: Value,
    pub run_at: i64,
}

pub async fn enqueue(tx: &mut Tx, j: NewJob<'_>) -> StoreResult<i64> {
    let now = crate::now_ms();
    Ok(on!(tx tx, c => {
        sqlx::query_scalar(
            "INSERT INTO jobs (kind, execution_id, node_id, payload, run_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(j.kind)
        .bind(j.execution_id)
        .bind(j.node_id)
        .bind(Json(&j.payload))
        .bind(j.run_at)
        .bind(now)
        .fetch_one(&mut *c)
        .await
    })?)
}

/// Claims the oldest due job with a lease until `now + lease_ms`.
pub async fn claim(db: &Db, owner: &str, now: i64, lease_ms: i64) -> StoreResult<Option<JobRow>> {
    let backend = db.write();
    let pick = sql_for!(backend,
        sqlite: "SELECT id FROM jobs WHERE run_at <= $1 AND (lease_until IS NULL OR lease_until < $1)
                 ORDER BY run_at, id LIMIT 1",
        postgres: "SELECT id FROM jobs WHERE run_at <= $1 AND (lease_until IS NULL OR lease_until < $1)
                   ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED");
    let sql = format!(
        "UPDATE jobs SET lease_until = $2, lease_owner = $3, attempts = attempts + 1
         WHERE id = ({pick}) RETURNING id, kind, execution_id, node_id, payload, run_at, lease_until, lease_owner, attempts, created_at"
    );
    Ok(on!(backend, c => {
        sqlx::query_as::<_, JobRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(now)
            .bind(now + lease_ms)
            .bind(owner)
            .fetch_all(c)
            .await
            .map(|rows| rows.into_iter().next())
    })?)
}

/// Deletes a claimed job inside the transaction that records its result; `false` when the
/// lease was lost (another worker owns the job now), in which case the caller must roll back.
pub async fn complete(tx: &mut Tx, id: i64, owner: &str) -> StoreResult<bool> {
    let n = on!(tx tx, c => {
        sqlx::query("DELETE FROM jobs WHERE id = $1 AND lease_owner = $2")
            .bind(id)
            .bind(owner)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(n > 0)
}

/// Releases a claimed job to run again at `run_at` (retry with backoff).
pub async fn retry_at(tx: &mut Tx, id: i64, owner: &str, run_at: i64) -> StoreResult<bool> {
    let n = on!(tx tx, c => {
        sqlx::query("UPDATE jobs SET run_at = $3, lease_until = NULL, lease_owner = NULL WHERE id = $1 AND lease_owner = $2")
            .bind(id)
            .bind(owner)
            .bind(run_at)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(n > 0)
}

/// Extends a lease while a long job runs.
pub async fn extend(db: &Db, id: i64, owner: &str, until: i64) -> StoreResult<bool> {
    let n = on!(db.write(), c => {
        sqlx::query("UPDATE jobs SET lease_until = $3 WHERE id = $1 AND lease_owner = $2")
            .bind(id)
            .bind(owner)
            .bind(until)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(n > 0)
}

/// Drops every job of an execution (cancel, failure).
pub async fn delete_for_execution(tx: &mut Tx, execution_id: &str) -> StoreResult<u64> {
    Ok(on!(tx tx, c => {
        sqlx::query("DELETE FROM jobs WHERE execution_id = $1")
            .bind(execution_id)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
    })?)
}

/// Jobs due and not leased.
pub async fn queue_depth(db: &Db, now: i64) -> StoreResult<i64> {
    Ok(on!(db.read(), c => {
        sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE run_at <= $1 AND (lease_until IS NULL OR lease_until < $1)")
            .bind(now)
            .fetch_all(c)
            .await
            .and_then(|rows| rows.into_iter().next().ok_or(sqlx::Error::RowNotFound))
    })?)
}

/// Every job of an execution (tests, diagnostics).
pub async fn for_execution(db: &Db, execution_id: &str) -> StoreResult<Vec<JobRow>> {
    Ok(on!(db.read(), c => {
        sqlx::query_as::<_, JobRow>(
            "SELECT id, kind, execution_id, node_id, payload, run_at, lease_until, lease_owner, attempts, created_at
             FROM jobs WHERE execution_id = $1 ORDER BY id",
        )
        .bind(execution_id)
        .fetch_all(c)
        .await
    })?)
}

/// Frees every lease (single-process SQLite start-up: nobody else can hold one).
pub async fn release_all_leases(db: &Db) -> StoreResult<u64> {
    if !matches!(db.write(), Backend::Sqlite(_)) {
        return Ok(0);
    }
    Ok(on!(db.write(), c => {
        sqlx::query("UPDATE jobs SET lease_until = NULL, lease_owner = NULL WHERE lease_owner IS NOT NULL")
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?)
}

/// Inserts a job already leased by `owner`: the worker that commits it runs it next without a
/// claim round trip (a chain of nodes stays on one worker while it has nothing else to do).
pub async fn enqueue_leased(
    tx: &mut Tx,
    j: NewJob<'_>,
    owner: &str,
    lease_until: i64,
) -> StoreResult<JobRow> {
    let now = crate::now_ms();
    Ok(on!(tx tx, c => {
        sqlx::query_as::<_, JobRow>(
            "INSERT INTO jobs (kind, execution_id, node_id, payload, run_at, created_at, lease_until, lease_owner, attempts)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1)
             RETURNING id, kind, execution_id, node_id, payload, run_at, lease_until, lease_owner, attempts, created_at",
        )
        .bind(j.kind)
        .bind(j.execution_id)
        .bind(j.node_id)
        .bind(Json(&j.payload))
        .bind(j.run_at)
        .bind(now)
        .bind(lease_until)
        .bind(owner)
        .fetch_one(&mut *c)
        .await
    })?)
}
