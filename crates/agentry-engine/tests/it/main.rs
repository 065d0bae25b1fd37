//! Integration tests of agentry-engine (one test binary; one module per area).

mod agent;
mod agent_tools;
mod discover;
mod http;
mod registry_tools;
mod sandbox;
mod spawn;
mod support;
mod workflow_tool;
