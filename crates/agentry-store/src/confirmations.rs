//! The `confirmations` table: pending human answers (engine.md §6).

use crate::{Db, StoreResult, Tx};

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ConfirmationRow {
    pub id: String,
    pub execution_id: String,
    pub node_id: String,
    /// `before`, `after` (interrupts) or `node` (human_confirmation).
    pub phase: String,
    pub prompt: String,
    pub expires_at: i64,
    pub created_at: i64,
}

const COLUMNS: &str = "id, execution_id, node_id, phase, prompt, expires_at, created_at";

pub async fn insert(tx: &mut Tx, r: &ConfirmationRow) -> StoreResult<()> {
    on!(tx tx, c => {
        sqlx::query(
            "INSERT INTO confirmations (id, execution_id, node_id, phase, prompt, expires_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&r.id)
        .bind(&r.execution_id)
        .bind(&r.node_id)
        .bind(&r.phase)
        .bind(&r.prompt)
        .bind(r.expires_at)
        .bind(r.created_at)
        .execute(&mut *c)
        .await
        .map(|_| ())
    })?;
    Ok(())
}

/// The oldest pending confirmation of an execution.
pub async fn first_for(db: &Db, execution_id: &str) -> StoreResult<Option<ConfirmationRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM confirmations WHERE execution_id = $1 ORDER BY created_at, id LIMIT 1"
    );
    Ok(on!(db.read(), c => {
        sqlx::query_as::<_, ConfirmationRow>(sqlx::AssertSqlSafe(sql.as_str())).bind(execution_id).fetch_all(c).await.map(|rows| rows.into_iter().next())
    })?)
}

pub async fn first_for_in(tx: &mut Tx, execution_id: &str) -> StoreResult<Option<ConfirmationRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM confirmations WHERE execution_id = $1 ORDER BY created_at, id LIMIT 1"
    );
    Ok(on!(tx tx, c => {
        sqlx::query_as::<_, ConfirmationRow>(sqlx::AssertSqlSafe(sql.as_str())).bind(execution_id).fetch_optional(&mut *c).await
    })?)
}

pub async fn get_in(tx: &mut Tx, id: &str) -> StoreResult<Option<ConfirmationRow>> {
    let sql = format!("SELECT {COLUMNS} FROM confirmations WHERE id = $1");
    Ok(
        on!(tx tx, c => sqlx::query_as::<_, ConfirmationRow>(sqlx::AssertSqlSafe(sql.as_str())).bind(id).fetch_optional(&mut *c).await)?,
    )
}

pub async fn delete(tx: &mut Tx, id: &str) -> StoreResult<()> {
    on!(tx tx, c => sqlx::query("DELETE FROM confirmations WHERE id = $1").bind(id).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

pub async fn delete_for_execution(tx: &mut Tx, execution_id: &str) -> StoreResult<()> {
    on!(tx tx, c => {
        sqlx::query("DELETE FROM confirmations WHERE execution_id = $1").bind(execution_id).execute(&mut *c).await.map(|_| ())
    })?;
    Ok(())
}
