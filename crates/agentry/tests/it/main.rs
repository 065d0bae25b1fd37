//! The `agentry` binary end to end: it is started as a real process, driven through its command
//! line and its HTTP API, on SQLite and (when configured) PostgreSQL; the engine runs in-process
//! with the server (`engine`) and as a real process killed with SIGKILL (`kill9`).

mod agents;
mod cli;
mod dsl;
mod engine;
mod examples;
mod kill9;
mod spawn;
mod support;
mod triggers;
