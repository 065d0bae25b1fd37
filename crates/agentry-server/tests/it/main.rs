//! HTTP and WebSocket integration tests for agentry-server: each test starts the real server
//! in-process on an ephemeral port and speaks HTTP/WebSocket to it, on SQLite and (when
//! `AGENTRY_TEST_POSTGRES_URL` is set) PostgreSQL.

mod support;

mod auth;
mod bad_input;
mod credentials;
mod discover;
mod dsl;
mod nodes_edges;
mod openapi;
mod registry;
mod websocket;
mod workflows;
