//! Model listings (api.md §7).

use crate::{anthropic, fake, openai};
use agentry_llm::fake::Reply;
use agentry_llm::{ANTHROPIC_MODELS, ChatModel, ModelInfo, OpenAiCompatible, RetryPolicy};
use serde_json::json;

fn ids(models: &[ModelInfo]) -> Vec<&str> {
    models.iter().map(|m| m.id.as_str()).collect()
}

#[tokio::test]
async fn openai_lists_the_provider_models_sorted() {
    let fake = fake().await;
    fake.set_models(["gpt-4o", "gpt-4o-mini", "babbage-002", "gpt-4o"]);
    let client = openai(&fake);
    let models = client.list_models().await;
    assert_eq!(ids(&models), ["babbage-002", "gpt-4o", "gpt-4o-mini"]);
    assert_eq!(
        models[0],
        ModelInfo {
            id: "babbage-002".into(),
            name: "babbage-002".into()
        }
    );
    let sent = &fake.requests()[0];
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("GET", "/v1/models")
    );
    assert_eq!(sent.headers["authorization"], "Bearer sk-test-openai-key");
    // through the trait object too
    let model: &dyn ChatModel = &client;
    assert_eq!(model.list_models().await.len(), 3);
}

#[tokio::test]
async fn openai_listing_failure_is_an_empty_list() {
    let fake = fake().await;
    fake.fail_models();
    let client = openai(&fake).with_options(crate::fast().with_retry(RetryPolicy::none()));
    assert!(client.list_models().await.is_empty());
    assert!(client.try_list_models().await.is_err());
    // a base URL without /v1 reaches /models
    fake.set_models(["llama3.1:8b"]);
    let bare = OpenAiCompatible::new("").with_base_url(fake.anthropic_url());
    assert_eq!(ids(&bare.list_models().await), ["llama3.1:8b"]);
    let last = fake.requests().pop().expect("request");
    assert_eq!(last.path, "/models");
    assert!(
        !last.headers.contains_key("authorization"),
        "no key, no header"
    );
}

#[tokio::test]
async fn openai_accepts_a_bare_array() {
    let fake = fake().await;
    // a scripted chat reply is not consumed by listing
    fake.push(Reply::text("unused"));
    fake.set_models_json(json!(["b", "a", {"id": "c"}]));
    assert_eq!(ids(&openai(&fake).list_models().await), ["a", "b", "c"]);
    assert_eq!(fake.remaining(), 1);
    fake.set_models_json(json!({"unexpected": true}));
    assert!(openai(&fake).list_models().await.is_empty());
}

#[tokio::test]
async fn anthropic_with_a_custom_base_url_answers_the_fixed_list() {
    let fake = fake().await;
    let client = anthropic(&fake);
    assert!(!client.provider_model_listing);
    let models = client.list_models().await;
    let mut expected: Vec<&str> = ANTHROPIC_MODELS.to_vec();
    expected.sort();
    assert_eq!(ids(&models), expected);
    assert!(fake.requests().is_empty(), "no provider call");
}

#[tokio::test]
async fn anthropic_provider_listing() {
    let fake = fake().await;
    fake.set_models(["claude-sonnet-4-6", "claude-haiku-4-5-20251001"]);
    let mut client = anthropic(&fake);
    client.provider_model_listing = true;
    let models = client.list_models().await;
    assert_eq!(
        ids(&models),
        ["claude-haiku-4-5-20251001", "claude-sonnet-4-6"]
    );
    let sent = &fake.requests()[0];
    assert_eq!(sent.method, "GET");
    assert!(sent.path.starts_with("/v1/models"), "{}", sent.path);
    assert_eq!(sent.headers["x-api-key"], "sk-ant-test-key");
    assert_eq!(sent.headers["anthropic-version"], "2023-06-01");

    // a failing listing falls back to the fixed list
    fake.fail_models();
    let client = {
        let mut c = client.with_options(crate::fast().with_retry(RetryPolicy::none()));
        c.provider_model_listing = true;
        c
    };
    assert_eq!(client.list_models().await.len(), ANTHROPIC_MODELS.len());
}
