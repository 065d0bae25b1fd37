//! agentry-llm integration tests: the real clients against the fake provider server.

mod clients;
mod errors;
mod models;

use agentry_llm::fake::FakeProvider;
use agentry_llm::{Anthropic, ClientOptions, OpenAiCompatible, RetryPolicy};
use std::time::Duration;

/// Installs the ring provider (reqwest is built without one) and starts a fake provider.
pub async fn fake() -> FakeProvider {
    let _ = rustls::crypto::ring::default_provider().install_default();
    FakeProvider::start().await
}

/// Three retries with millisecond delays, 5 s per attempt.
pub fn fast() -> ClientOptions {
    ClientOptions::default()
        .with_retry(RetryPolicy::fast(3))
        .with_timeout(Duration::from_secs(5))
}

pub fn openai(fake: &FakeProvider) -> OpenAiCompatible {
    OpenAiCompatible::new("sk-test-openai-key")
        .with_base_url(fake.base_url())
        .with_options(fast())
}

pub fn anthropic(fake: &FakeProvider) -> Anthropic {
    Anthropic::new("sk-ant-test-key")
        .with_base_url(fake.anthropic_url())
        .with_options(fast())
}
