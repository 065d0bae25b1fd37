//! The store's one test story, run on SQLite and (when `AGENTRY_TEST_POSTGRES_URL` is set)
//! PostgreSQL.

mod discovery;
mod memories;
mod schema;
mod story;
