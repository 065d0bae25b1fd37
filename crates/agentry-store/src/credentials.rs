//! The `credentials` table. `detail` holds the non-secret settings; `secret` holds the provider
//! key already encrypted by the service (this crate never sees it in clear).

use crate::{Db, StoreResult, Tx};
use agentry_core::page::PageRequest;
use serde_json::Value;
use sqlx::AssertSqlSafe;
use sqlx::types::Json;

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct CredentialRow {
    pub id: i64,
    pub owner_id: i64,
    pub name: String,
    pub credential_type: String,
    pub detail: Json<Value>,
    pub secret: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, owner_id, name, credential_type, detail, secret, created_at, updated_at";

pub async fn insert(
    tx: &mut Tx,
    owner_id: i64,
    name: &str,
    credential_type: &str,
    detail: &Value,
    secret: &str,
) -> StoreResult<CredentialRow> {
    let now = crate::now_ms();
    let sql = format!(
        "INSERT INTO credentials (owner_id, name, credential_type, detail, secret, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {COLUMNS}"
    );
    Ok(on!(tx tx, c => {
        sqlx::query_as::<_, CredentialRow>(AssertSqlSafe(sql.as_str()))
            .bind(owner_id)
            .bind(name)
            .bind(credential_type)
            .bind(Json(detail))
            .bind(secret)
            .bind(now)
            .fetch_one(&mut *c)
            .await
    })?)
}

pub async fn update(
    tx: &mut Tx,
    id: i64,
    name: &str,
    detail: &Value,
    secret: &str,
) -> StoreResult<CredentialRow> {
    let now = crate::now_ms();
    let sql = format!(
        "UPDATE credentials SET name = $2, detail = $3, secret = $4, updated_at = $5 WHERE id = $1 RETURNING {COLUMNS}"
    );
    Ok(on!(tx tx, c => {
        sqlx::query_as::<_, CredentialRow>(AssertSqlSafe(sql.as_str()))
            .bind(id)
            .bind(name)
            .bind(Json(detail))
            .bind(secret)
            .bind(now)
            .fetch_one(&mut *c)
            .await
    })?)
}

pub async fn get(db: &Db, id: i64) -> StoreResult<Option<CredentialRow>> {
    let sql = format!("SELECT {COLUMNS} FROM credentials WHERE id = $1");
    Ok(
        on!(db.read(), c => sqlx::query_as::<_, CredentialRow>(AssertSqlSafe(sql.as_str())).bind(id).fetch_all(c).await.map(|rows| rows.into_iter().next()))?,
    )
}

pub async fn get_by_name(db: &Db, owner_id: i64, name: &str) -> StoreResult<Option<CredentialRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM credentials WHERE owner_id = $1 AND name = $2 ORDER BY id LIMIT 1"
    );
    Ok(on!(db.read(), c => {
        sqlx::query_as::<_, CredentialRow>(AssertSqlSafe(sql.as_str())).bind(owner_id).bind(name).fetch_all(c).await.map(|rows| rows.into_iter().next())
    })?)
}

/// The owner's credentials of one type (`llm`, `tool`), oldest first.
pub async fn of_type(
    db: &Db,
    owner_id: i64,
    credential_type: &str,
) -> StoreResult<Vec<CredentialRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM credentials WHERE owner_id = $1 AND credential_type = $2 ORDER BY id"
    );
    Ok(on!(db.read(), c => {
        sqlx::query_as::<_, CredentialRow>(AssertSqlSafe(sql.as_str())).bind(owner_id).bind(credential_type).fetch_all(c).await
    })?)
}

/// Newest first; `owner_id = None` lists everyone's (admins).
pub async fn list(
    db: &Db,
    owner_id: Option<i64>,
    page: PageRequest,
) -> StoreResult<(Vec<CredentialRow>, i64)> {
    let sql = format!(
        "SELECT {COLUMNS} FROM credentials WHERE ($1 IS NULL OR owner_id = $1) ORDER BY id DESC LIMIT $2 OFFSET $3"
    );
    let rows = on!(db.read(), c => {
        sqlx::query_as::<_, CredentialRow>(AssertSqlSafe(sql.as_str())).bind(owner_id).bind(page.limit).bind(page.offset).fetch_all(c).await
    })?;
    let total: i64 = on!(db.read(), c => {
        sqlx::query_scalar("SELECT COUNT(*) FROM credentials WHERE ($1 IS NULL OR owner_id = $1)").bind(owner_id).fetch_all(c).await.and_then(|rows| rows.into_iter().next().ok_or(sqlx::Error::RowNotFound))
    })?;
    Ok((rows, total))
}

pub async fn delete(tx: &mut Tx, id: i64) -> StoreResult<bool> {
    let n = on!(tx tx, c => {
        sqlx::query("DELETE FROM credentials WHERE id = $1").bind(id).execute(&mut *c).await.map(|r| r.rows_affected())
    })?;
    Ok(n > 0)
}
