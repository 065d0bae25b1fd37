//! # agentry-store
//!
//! The only crate that speaks SQL. One repository layer over two backends:
//! embedded **SQLite** (WAL, one writer connection, a pool of readers) and **PostgreSQL**.
//! Each backend has its own migrations (`migrations/sqlite`, `migrations/postgres`), kept in
//! step by a test that compares the resulting schemas. The SQL text is shared: both engines
//! accept `$n` placeholders, `RETURNING`, `ON CONFLICT` and the types used here (integers,
//! text, booleans, JSON). Where they differ (JSON functions), a repository picks per backend.
//!
//! Queries on a pool always read every row (`fetch_all`, then take the first): on SQLite a
//! statement stopped after its first row stays active, which keeps that connection's implicit
//! transaction open, so later reads on it saw an old snapshot (and a `RETURNING` write stayed
//! uncommitted). Inside a [`Tx`] this does not matter: the commit ends it.
//!
//! Writes go through a [`Tx`]: repositories add rows and outbox [`events`](events::NewEvent)
//! to it, and [`Tx::commit`] returns the stored events, with their ids, only after the commit,
//! so nothing is published for a change that did not happen.
//!
//! One module per table: [`users`], [`api_keys`], [`workflows`], [`nodes`], [`edges`], [`events`],
//! [`executions`], [`node_runs`], [`jobs`], [`waits`], [`confirmations`], [`credentials`], [`checkpoints`], [`memories`],
//! [`epics`], [`tasks`]. Full-text ranking (FTS5 bm25 / tsvector `ts_rank`) is built in one
//! place, `fts`, for workflow discovery and epic and task search alike.

#[macro_use]
mod macros;
pub mod api_keys;
pub mod checkpoints;
pub mod confirmations;
pub mod credentials;
mod db;
pub mod edges;
pub mod epics;
mod error;
pub mod events;
pub mod executions;
mod fts;
pub mod jobs;
pub mod memories;
pub mod node_runs;
pub mod nodes;
pub mod tasks;
#[cfg(feature = "testing")]
pub mod testing;
pub mod users;
pub mod waits;
pub mod workflows;

pub use db::{Backend, Db, Tx};
pub use error::{StoreError, StoreResult};
pub use events::{Event, NewEvent};

/// The current time in UTC milliseconds since the epoch (the unit of every timestamp column).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `text` for a `LIKE … ESCAPE '\'` pattern: its wildcards and the escape character are
/// taken literally.
pub(crate) fn like_escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}
