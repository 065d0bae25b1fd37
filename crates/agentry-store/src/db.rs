//! Connection pools for both backends, migrations, and the transaction type.

use crate::events::{self, Event, NewEvent};
use crate::{StoreError, StoreResult};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool, Transaction};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// A handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

enum Inner {
    /// Writes are serialized through one connection; reads use a pool (WAL lets them run
    /// beside the writer).
    Sqlite {
        writer: SqlitePool,
        reader: SqlitePool,
    },
    Postgres(PgPool),
}

/// The pool a query should run on; repositories match on it with the `on!` macro.
pub enum Backend<'a> {
    Sqlite(&'a SqlitePool),
    Postgres(&'a PgPool),
}

impl Db {
    /// Connects to `sqlite://path` (created if missing) or `postgres://…`.
    pub async fn connect(url: &str) -> StoreResult<Db> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts =
                PgConnectOptions::from_str(url).map_err(|e| StoreError::BadUrl(e.to_string()))?;
            Self::connect_postgres(opts, 10).await
        } else if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)
                .map_err(|e| StoreError::BadUrl(e.to_string()))?
                .create_if_missing(true);
            Self::connect_sqlite(opts).await
        } else {
            Err(StoreError::BadUrl(format!(
                "'{url}' is neither sqlite:… nor postgres://…"
            )))
        }
    }

    pub async fn connect_postgres(opts: PgConnectOptions, max_connections: u32) -> StoreResult<Db> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await?;
        Ok(Db {
            inner: Arc::new(Inner::Postgres(pool)),
        })
    }

    pub async fn connect_sqlite(opts: SqliteConnectOptions) -> StoreResult<Db> {
        let opts = opts
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("temp_store", "memory")
            .pragma("cache_size", "-16000");
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(opts.clone())
            .await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(opts.read_only(true))
            .await?;
        Ok(Db {
            inner: Arc::new(Inner::Sqlite { writer, reader }),
        })
    }

    /// Applies pending migrations for this backend.
    pub async fn migrate(&self) -> StoreResult<()> {
        match &*self.inner {
            Inner::Sqlite { writer, .. } => SQLITE_MIGRATIONS.run(writer).await?,
            Inner::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    pub fn is_postgres(&self) -> bool {
        matches!(&*self.inner, Inner::Postgres(_))
    }

    pub fn backend_name(&self) -> &'static str {
        if self.is_postgres() {
            "postgres"
        } else {
            "sqlite"
        }
    }

    /// The pool for reads.
    pub fn read(&self) -> Backend<'_> {
        match &*self.inner {
            Inner::Sqlite { reader, .. } => Backend::Sqlite(reader),
            Inner::Postgres(pool) => Backend::Postgres(pool),
        }
    }

    /// The pool for single-statement writes outside a transaction.
    pub fn write(&self) -> Backend<'_> {
        match &*self.inner {
            Inner::Sqlite { writer, .. } => Backend::Sqlite(writer),
            Inner::Postgres(pool) => Backend::Postgres(pool),
        }
    }

    /// Starts a write transaction. On SQLite it is `BEGIN IMMEDIATE` on the writer connection,
    /// so a transaction never fails half-way on a lock upgrade.
    pub async fn begin(&self) -> StoreResult<Tx> {
        let conn = match &*self.inner {
            Inner::Sqlite { writer, .. } => {
                TxConn::Sqlite(writer.begin_with("BEGIN IMMEDIATE").await?)
            }
            Inner::Postgres(pool) => TxConn::Postgres(pool.begin().await?),
        };
        Ok(Tx {
            conn,
            events: Vec::new(),
        })
    }

    /// A cheap round trip, for health checks.
    pub async fn ping(&self) -> bool {
        let result: Result<i64, sqlx::Error> = on!(self.read(), c => {
            sqlx::query_scalar("SELECT CAST(1 AS BIGINT)").fetch_all(c).await.and_then(|rows| rows.into_iter().next().ok_or(sqlx::Error::RowNotFound))
        });
        result.is_ok()
    }

    /// Closes every pool (waits for connections to be returned).
    pub async fn close(&self) {
        match &*self.inner {
            Inner::Sqlite { writer, reader } => {
                reader.close().await;
                writer.close().await;
            }
            Inner::Postgres(pool) => pool.close().await,
        }
    }
}

pub(crate) enum TxConn {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// A write transaction that also collects the outbox events of the change.
pub struct Tx {
    pub(crate) conn: TxConn,
    events: Vec<NewEvent>,
}

impl Tx {
    /// Queues an event; it is stored in this transaction and returned by [`Tx::commit`].
    pub fn emit(&mut self, event: NewEvent) {
        self.events.push(event);
    }

    /// Stores the queued events, commits, and returns the events with their ids.
    pub async fn commit(mut self) -> StoreResult<Vec<Event>> {
        let pending = std::mem::take(&mut self.events);
        let stored = events::insert_all(&mut self, pending).await?;
        match self.conn {
            TxConn::Sqlite(t) => t.commit().await?,
            TxConn::Postgres(t) => t.commit().await?,
        }
        Ok(stored)
    }

    /// Discards the change (dropping a `Tx` does the same).
    pub async fn rollback(self) -> StoreResult<()> {
        match self.conn {
            TxConn::Sqlite(t) => t.rollback().await?,
            TxConn::Postgres(t) => t.rollback().await?,
        }
        Ok(())
    }
}
