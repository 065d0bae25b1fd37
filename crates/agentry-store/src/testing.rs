//! Test support: a fresh, migrated database per test on each backend.
//!
//! SQLite: a file in a temporary directory. PostgreSQL: a schema of its own inside the database
//! named by `AGENTRY_TEST_POSTGRES_URL` (so tests run in parallel), selected through the
//! connection's `search_path`. Schemas left behind by earlier runs are dropped after an hour.

use crate::Db;
use sqlx::AssertSqlSafe;
use sqlx::postgres::PgConnectOptions;
use std::path::PathBuf;
use std::str::FromStr;

pub const POSTGRES_ENV: &str = "AGENTRY_TEST_POSTGRES_URL";

/// A database for one test; the SQLite file is removed on drop.
pub struct TestDb {
    pub db: Db,
    /// A URL another process (the `agentry` binary) can use to reach the same data.
    pub url: String,
    dir: Option<PathBuf>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A fresh SQLite database.
pub async fn sqlite() -> TestDb {
    let dir = std::env::temp_dir().join(format!("agentry-test-{}", ulid::Ulid::generate()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    let url = format!("sqlite://{}", dir.join("agentry.db").display());
    let db = Db::connect(&url).await.expect("open sqlite");
    db.migrate().await.expect("migrate sqlite");
    TestDb {
        db,
        url,
        dir: Some(dir),
    }
}

/// A fresh PostgreSQL schema, or `None` (with a note on stderr) when
/// `AGENTRY_TEST_POSTGRES_URL` is unset.
pub async fn postgres(test_name: &str) -> Option<TestDb> {
    let Ok(base) = std::env::var(POSTGRES_ENV) else {
        eprintln!("skipped: {test_name} on PostgreSQL ({POSTGRES_ENV} is not set)");
        return None;
    };
    let schema = format!("t_{}", ulid::Ulid::generate().to_string().to_lowercase());
    let admin = Db::connect(&base)
        .await
        .expect("connect to AGENTRY_TEST_POSTGRES_URL");
    drop_stale_schemas(&admin).await;
    if let crate::Backend::Postgres(pool) = admin.write() {
        sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(pool)
            .await
            .expect("create schema");
    }
    admin.close().await;
    let opts = PgConnectOptions::from_str(&base)
        .expect("parse AGENTRY_TEST_POSTGRES_URL")
        .options([("search_path", schema.as_str())]);
    let db = Db::connect_postgres(opts, 5)
        .await
        .expect("connect to test schema");
    db.migrate().await.expect("migrate postgres");
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
    Some(TestDb { db, url, dir: None })
}

/// Both backends that are available: SQLite always, PostgreSQL when configured.
pub async fn all(test_name: &str) -> Vec<TestDb> {
    let mut dbs = vec![sqlite().await];
    if let Some(pg) = postgres(test_name).await {
        dbs.push(pg);
    }
    dbs
}

async fn drop_stale_schemas(admin: &Db) {
    let crate::Backend::Postgres(pool) = admin.write() else {
        return;
    };
    let Ok(names) = sqlx::query_scalar::<_, String>(
        "SELECT schema_name::text FROM information_schema.schemata WHERE schema_name LIKE 't\\_%'",
    )
    .fetch_all(pool)
    .await
    else {
        return;
    };
    let hour_ago = crate::now_ms().saturating_sub(3_600_000) as u64;
    for name in names {
        let Ok(id) = ulid::Ulid::from_string(&name[2..].to_uppercase()) else {
            continue;
        };
        if id.timestamp_ms() < hour_ago {
            let _ = sqlx::query(AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS {name} CASCADE"
            )))
            .execute(pool)
            .await;
        }
    }
}
