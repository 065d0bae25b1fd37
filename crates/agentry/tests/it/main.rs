//! The `agentry` binary end to end: it is started as a real process, driven through its command
//! line and its HTTP API, on SQLite and (when configured) PostgreSQL.

mod cli;
