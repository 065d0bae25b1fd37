//! Integration tests of agentry-engine (one test binary; one module per area).

mod agent;
mod agent_tools;
mod http;
mod sandbox;
mod support;
