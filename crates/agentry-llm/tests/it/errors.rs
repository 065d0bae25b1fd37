//! Failures: retries, rate limits, server errors, malformed bodies, auth, timeouts.

use crate::{anthropic, fake, fast, openai};
use agentry_llm::fake::{FakeProvider, Reply};
use agentry_llm::{
    ChatModel, ChatRequest, ClientOptions, LlmError, Message, OpenAiCompatible, RetryPolicy,
};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

fn req() -> ChatRequest {
    ChatRequest::new("gpt-4o", vec![Message::user("hello")])
}

fn both(fake: &FakeProvider) -> Vec<Arc<dyn ChatModel>> {
    vec![Arc::new(openai(fake)), Arc::new(anthropic(fake))]
}

#[tokio::test]
async fn rate_limit_with_retry_after_then_success() {
    let fake = fake().await;
    for model in both(&fake) {
        fake.clear_requests();
        fake.push(Reply::status(429).retry_after(0));
        fake.push(Reply::text("finally").usage(3, 4));
        let resp = model.chat(&req()).await.expect("retried");
        assert_eq!(resp.message.content, "finally");
        assert_eq!(resp.usage.output_tokens, 4);
        assert_eq!(fake.requests().len(), 2, "{}", model.provider());
    }
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let fake = fake().await;
    fake.push(Reply::status(429).retry_after(1));
    fake.push(Reply::text("ok"));
    let started = std::time::Instant::now();
    openai(&fake).chat(&req()).await.expect("retried");
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn retry_after_beyond_the_limit_fails_at_once() {
    let fake = fake().await;
    fake.push(Reply::status(429).retry_after(3600).message("slow down"));
    let err = openai(&fake).chat(&req()).await.expect_err("rate limited");
    assert_eq!(
        err,
        LlmError::RateLimited {
            provider: "openai_compatible".into(),
            retry_after: Some(Duration::from_secs(3600)),
            message: "slow down".into(),
        }
    );
    assert!(err.is_retryable());
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn rate_limited_until_retries_run_out() {
    let fake = fake().await;
    fake.push_all((0..4).map(|_| Reply::status(429)));
    let err = anthropic(&fake).chat(&req()).await.expect_err("429");
    assert!(
        matches!(
            err,
            LlmError::RateLimited {
                retry_after: None,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "anthropic: rate limited (HTTP 429): Rate limit reached"
    );
    assert_eq!(fake.requests().len(), 4);
}

#[tokio::test]
async fn server_errors_exhaust_the_retries() {
    let fake = fake().await;
    for model in both(&fake) {
        fake.clear_requests();
        fake.push_all((0..4).map(|_| Reply::status(500)));
        fake.push(Reply::text("never reached"));
        let err = model.chat(&req()).await.expect_err("server error");
        assert_eq!(
            err,
            LlmError::Server {
                provider: model.provider().to_string(),
                status: 500,
                message: "Internal server error".into(),
            }
        );
        assert!(err.is_retryable());
        assert_eq!(fake.requests().len(), 4, "1 attempt + 3 retries");
        // the leftover reply is for the next client
        model.chat(&req()).await.expect("next call works");
    }
}

#[tokio::test]
async fn server_error_then_success() {
    let fake = fake().await;
    fake.push_all([Reply::status(503), Reply::status(502), Reply::text("up")]);
    let resp = anthropic(&fake).chat(&req()).await.expect("recovered");
    assert_eq!(resp.message.content, "up");
    assert_eq!(fake.requests().len(), 3);
}

#[tokio::test]
async fn malformed_bodies_name_the_provider() {
    let fake = fake().await;
    fake.push(Reply::malformed("{not json"));
    let err = openai(&fake).chat(&req()).await.expect_err("malformed");
    assert!(matches!(err, LlmError::MalformedResponse { .. }), "{err:?}");
    assert!(!err.is_retryable());
    let text = err.to_string();
    assert!(
        text.starts_with("openai_compatible: response is not JSON"),
        "{text}"
    );
    assert!(text.contains("{not json"), "{text}");

    fake.push(Reply::malformed("{not json"));
    let text = anthropic(&fake)
        .chat(&req())
        .await
        .expect_err("malformed")
        .to_string();
    assert!(
        text.starts_with("anthropic: response is not JSON"),
        "{text}"
    );

    fake.push(Reply::raw_json(
        json!({"id": "x", "object": "chat.completion"}),
    ));
    let err = openai(&fake).chat(&req()).await.expect_err("no choices");
    assert_eq!(
        err.to_string(),
        "openai_compatible: response has no choices"
    );

    fake.push(Reply::raw_json(json!({"id": "x", "type": "message"})));
    let err = anthropic(&fake).chat(&req()).await.expect_err("no content");
    assert_eq!(err.to_string(), "anthropic: response has no content");

    // malformed answers are not retried
    assert_eq!(fake.requests().len(), 4);
}

#[tokio::test]
async fn auth_failures_are_not_retried() {
    let fake = fake().await;
    for model in both(&fake) {
        fake.clear_requests();
        fake.push(Reply::status(401));
        let err = model.chat(&req()).await.expect_err("401");
        assert_eq!(err.to_string(), "Authentication failed - invalid API key");
        assert!(matches!(err, LlmError::Auth { status: 401, .. }));
        assert!(!err.is_retryable());
        assert_eq!(fake.requests().len(), 1);
    }
    fake.push(Reply::status(403));
    let err = openai(&fake).chat(&req()).await.expect_err("403");
    assert_eq!(err.to_string(), "Authentication failed - invalid API key");
}

#[tokio::test]
async fn bad_requests_carry_the_provider_text() {
    let fake = fake().await;
    fake.push(Reply::status(400).message("model 'nope' does not exist"));
    let err = openai(&fake).chat(&req()).await.expect_err("400");
    assert_eq!(
        err.to_string(),
        "openai_compatible: bad request (HTTP 400): model 'nope' does not exist"
    );
    fake.push(Reply::status(404).message("not_found: model: nope"));
    let err = anthropic(&fake).chat(&req()).await.expect_err("404");
    assert_eq!(err.status(), Some(404));
    assert_eq!(
        err.to_string(),
        "anthropic: bad request (HTTP 404): not_found: model: nope"
    );
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn timeouts_are_retried_then_reported() {
    let fake = fake().await;
    fake.push(Reply::text("late").delay(Duration::from_millis(1500)));
    fake.push(Reply::text("on time"));
    let options = ClientOptions::default()
        .with_timeout(Duration::from_millis(300))
        .with_retry(RetryPolicy::fast(1));
    let client = openai(&fake).with_options(options.clone());
    let resp = client.chat(&req()).await.expect("second attempt");
    assert_eq!(resp.message.content, "on time");

    fake.push(Reply::text("late").delay(Duration::from_millis(1500)));
    let client = anthropic(&fake).with_options(options.with_retry(RetryPolicy::none()));
    let err = client.chat(&req()).await.expect_err("timeout");
    assert_eq!(
        err,
        LlmError::Timeout {
            provider: "anthropic".into(),
            after: Duration::from_millis(300)
        }
    );
    assert_eq!(err.to_string(), "anthropic: request timed out after 0.3s");
}

#[tokio::test]
async fn connection_failures_are_retried_then_reported() {
    let fake = fake().await;
    let addr = fake.addr();
    drop(fake);
    // give the aborted server a moment to release the port
    tokio::time::sleep(Duration::from_millis(50)).await;
    let client = OpenAiCompatible::new("sk-never-shown-12345")
        .with_base_url(format!("http://{addr}/v1"))
        .with_options(fast());
    let err = client.chat(&req()).await.expect_err("refused");
    assert!(matches!(err, LlmError::Connection { .. }), "{err:?}");
    assert!(err.is_retryable());
    let text = err.to_string();
    assert!(
        text.starts_with("openai_compatible: connection failed"),
        "{text}"
    );
    assert!(!text.contains("sk-never-shown"), "{text}");
}

#[tokio::test]
async fn an_empty_script_answers_500_with_a_clear_message() {
    let fake = fake().await;
    let client = openai(&fake).with_options(fast().with_retry(RetryPolicy::none()));
    let err = client.chat(&req()).await.expect_err("empty script");
    assert_eq!(
        err.to_string(),
        "openai_compatible: server error (HTTP 500): fake provider: no scripted reply left for \
         POST /v1/chat/completions"
    );
}
