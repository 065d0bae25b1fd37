//! Integration tests of agentry-engine (one test binary; one module per area).

mod http;
mod sandbox;
mod support;
