//! The `api_keys` table. Keys are stored only as a SHA-256 hash plus an 8-character prefix.

use crate::{Db, StoreResult, Tx};
use sqlx::AssertSqlSafe;

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ApiKeyRow {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub is_active: bool,
}

const COLUMNS: &str = "id, user_id, name, prefix, created_at, last_used_at, expires_at, is_active";

pub struct NewKey<'a> {
    pub user_id: i64,
    pub name: &'a str,
    pub prefix: &'a str,
    pub key_hash: &'a str,
    pub expires_at: Option<i64>,
    pub now: i64,
}

pub async fn insert(tx: &mut Tx, k: NewKey<'_>) -> StoreResult<ApiKeyRow> {
    let sql = format!(
        "INSERT INTO api_keys (user_id, name, prefix, key_hash, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
    );
    Ok(on!(tx tx, c => {
        sqlx::query_as::<_, ApiKeyRow>(AssertSqlSafe(sql.as_str()))
            .bind(k.user_id)
            .bind(k.name)
            .bind(k.prefix)
            .bind(k.key_hash)
            .bind(k.now)
            .bind(k.expires_at)
            .fetch_one(&mut *c)
            .await
    })?)
}

/// Replaces the secret of the user's key named `name` (newest one), or creates it.
pub async fn rotate(tx: &mut Tx, k: NewKey<'_>) -> StoreResult<ApiKeyRow> {
    let sql = format!(
        "UPDATE api_keys SET prefix = $1, key_hash = $2, created_at = $3, last_used_at = NULL,
                expires_at = NULL, is_active = TRUE
         WHERE id = (SELECT MAX(id) FROM api_keys WHERE user_id = $4 AND name = $5)
         RETURNING {COLUMNS}"
    );
    let updated = on!(tx tx, c => {
        sqlx::query_as::<_, ApiKeyRow>(AssertSqlSafe(sql.as_str()))
            .bind(k.prefix)
            .bind(k.key_hash)
            .bind(k.now)
            .bind(k.user_id)
            .bind(k.name)
            .fetch_optional(&mut *c)
            .await
    })?;
    match updated {
        Some(row) => Ok(row),
        None => insert(tx, k).await,
    }
}

/// Looks a key up by its hash.
pub async fn find_by_hash(db: &Db, key_hash: &str) -> StoreResult<Option<ApiKeyRow>> {
    let sql = format!("SELECT {COLUMNS} FROM api_keys WHERE key_hash = $1");
    Ok(
        on!(db.read(), c => sqlx::query_as::<_, ApiKeyRow>(AssertSqlSafe(sql.as_str())).bind(key_hash).fetch_all(c).await.map(|rows| rows.into_iter().next()))?,
    )
}

/// Sets `last_used_at`, at most once per minute per key (one cheap write).
pub async fn touch(db: &Db, id: i64, now: i64) -> StoreResult<()> {
    on!(db.write(), c => {
        sqlx::query(
            "UPDATE api_keys SET last_used_at = $1
             WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
        )
        .bind(now)
        .bind(id)
        .bind(now - 60_000)
        .execute(c)
        .await
        .map(|_| ())
    })?;
    Ok(())
}

/// The user's keys, newest first.
pub async fn list_for_user(db: &Db, user_id: i64) -> StoreResult<Vec<ApiKeyRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM api_keys WHERE user_id = $1 ORDER BY created_at DESC, id DESC"
    );
    Ok(
        on!(db.read(), c => sqlx::query_as::<_, ApiKeyRow>(AssertSqlSafe(sql.as_str())).bind(user_id).fetch_all(c).await)?,
    )
}

/// Deletes every key with this name (the short-lived keys of one execution).
pub async fn delete_named(tx: &mut Tx, name: &str) -> StoreResult<u64> {
    Ok(on!(tx tx, c => {
        sqlx::query("DELETE FROM api_keys WHERE name = $1")
            .bind(name)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
    })?)
}

/// Revokes one of the user's keys; false when the user has no such key.
pub async fn revoke(tx: &mut Tx, user_id: i64, key_id: i64) -> StoreResult<bool> {
    let n = on!(tx tx, c => {
        sqlx::query("UPDATE api_keys SET is_active = FALSE WHERE id = $1 AND user_id = $2")
            .bind(key_id)
            .bind(user_id)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(n > 0)
}
