//! Happy paths on both wire formats: text, usage, tool calls, tool results, request shape.

use crate::{anthropic, fake, openai};
use agentry_llm::fake::Reply;
use agentry_llm::{ChatModel, ChatRequest, Message, Role, ToolCall, ToolSpec, Usage};
use serde_json::json;

fn calculator() -> ToolSpec {
    ToolSpec::new(
        "calculator",
        "Evaluate an arithmetic expression",
        json!({"type": "object", "properties": {"expression": {"type": "string"}},
               "required": ["expression"]}),
    )
}

#[tokio::test]
async fn openai_text_reply_with_usage() {
    let fake = fake().await;
    fake.push(Reply::text("hi there").usage(10, 5));
    let client = openai(&fake)
        .with_organization("org-1")
        .with_header("x-extra", "yes");
    let req = ChatRequest::new(
        "gpt-4o",
        vec![Message::system("be kind"), Message::user("hello")],
    )
    .with_temperature(0.3)
    .with_max_tokens(64);
    let resp = client.chat(&req).await.expect("chat");
    assert_eq!(resp.message.role, Role::Assistant);
    assert_eq!(resp.message.content, "hi there");
    assert!(resp.message.tool_calls.is_empty());
    assert_eq!(resp.usage, Usage::new(10, 5));
    assert_eq!(resp.usage.total_tokens(), 15);
    assert!(resp.usage_reported);
    assert_eq!(resp.finish_reason.as_deref(), Some("stop"));

    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let sent = &requests[0];
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.headers["authorization"], "Bearer sk-test-openai-key");
    assert_eq!(sent.headers["openai-organization"], "org-1");
    assert_eq!(sent.headers["x-extra"], "yes");
    assert_eq!(
        sent.body,
        json!({
            "model": "gpt-4o",
            "messages": [
                {"role": "system", "content": "be kind"},
                {"role": "user", "content": "hello"},
            ],
            "temperature": 0.3,
            "max_tokens": 64,
        })
    );
}

#[tokio::test]
async fn anthropic_text_reply_with_usage() {
    let fake = fake().await;
    fake.push(Reply::text("bonjour").usage(12, 7));
    let client = anthropic(&fake);
    let req = ChatRequest::new(
        "claude-sonnet-4-20250514",
        vec![Message::system("be kind"), Message::user("hello")],
    );
    let resp = client.chat(&req).await.expect("chat");
    assert_eq!(resp.message.role, Role::Assistant);
    assert_eq!(resp.message.content, "bonjour");
    assert_eq!(resp.usage, Usage::new(12, 7));
    assert_eq!(resp.finish_reason.as_deref(), Some("end_turn"));

    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let sent = &requests[0];
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.headers["x-api-key"], "sk-ant-test-key");
    assert_eq!(sent.headers["anthropic-version"], "2023-06-01");
    assert!(!sent.headers.contains_key("authorization"));
    assert_eq!(
        sent.body,
        json!({
            "model": "claude-sonnet-4-20250514",
            "max_tokens": 4096,
            "system": "be kind",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hello"}]}],
        })
    );
}

#[tokio::test]
async fn usage_not_reported_is_flagged() {
    let fake = fake().await;
    fake.push(Reply::text("a").no_usage());
    fake.push(Reply::text("b").no_usage());
    let req = ChatRequest::new("m", vec![Message::user("x")]);
    let resp = openai(&fake).chat(&req).await.expect("openai");
    assert!(!resp.usage_reported);
    assert_eq!(resp.usage, Usage::default());
    let resp = anthropic(&fake).chat(&req).await.expect("anthropic");
    assert!(!resp.usage_reported);
}

fn two_calls() -> Reply {
    Reply::tool_calls(vec![
        ("call_1", "calculator", json!({"expression": "2+2"})),
        ("call_2", "web_search", json!({"query": "rust", "limit": 3})),
    ])
    .usage(20, 8)
}

fn assert_two_calls(calls: &[ToolCall]) {
    assert_eq!(
        calls,
        &[
            ToolCall::new("call_1", "calculator", json!({"expression": "2+2"})),
            ToolCall::new("call_2", "web_search", json!({"query": "rust", "limit": 3})),
        ]
    );
    assert!(calls.iter().all(|c| c.invalid_arguments().is_none()));
}

#[tokio::test]
async fn multiple_tool_calls_on_both_formats() {
    let fake = fake().await;
    fake.push(two_calls());
    fake.push(two_calls().with_text("Let me check."));
    let req =
        ChatRequest::new("any", vec![Message::user("compute")]).with_tools(vec![calculator()]);

    let resp = openai(&fake).chat(&req).await.expect("openai");
    assert_two_calls(&resp.message.tool_calls);
    assert_eq!(resp.message.content, "");
    assert_eq!(resp.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(resp.usage, Usage::new(20, 8));

    let resp = anthropic(&fake).chat(&req).await.expect("anthropic");
    assert_two_calls(&resp.message.tool_calls);
    assert_eq!(resp.message.content, "Let me check.");
    assert_eq!(resp.finish_reason.as_deref(), Some("tool_use"));

    let bodies = fake.chat_bodies();
    assert_eq!(
        bodies[0]["tools"],
        json!([{"type": "function", "function": {
            "name": "calculator",
            "description": "Evaluate an arithmetic expression",
            "parameters": calculator().parameters,
        }}])
    );
    assert_eq!(
        bodies[1]["tools"],
        json!([{
            "name": "calculator",
            "description": "Evaluate an arithmetic expression",
            "input_schema": calculator().parameters,
        }])
    );
}

#[tokio::test]
async fn invalid_tool_arguments_are_kept_for_the_caller() {
    let fake = fake().await;
    fake.push(Reply::tool_calls(vec![(
        "call_9",
        "calculator",
        json!("{not json"),
    )]));
    let req = ChatRequest::new("gpt-4o", vec![Message::user("x")]).with_tools(vec![calculator()]);
    let resp = openai(&fake)
        .chat(&req)
        .await
        .expect("a reply, not an error");
    let call = &resp.message.tool_calls[0];
    assert_eq!(call.id, "call_9");
    assert_eq!(call.invalid_arguments(), Some("{not json"));

    // replaying the conversation sends the model's own text back
    fake.push(Reply::text("ok"));
    let mut messages = req.messages.clone();
    messages.push(resp.message.clone());
    messages.push(Message::tool(
        "call_9",
        "calculator",
        "Error: arguments are not valid JSON",
    ));
    openai(&fake)
        .chat(&ChatRequest::new("gpt-4o", messages))
        .await
        .expect("second call");
    let body = &fake.chat_bodies()[1];
    assert_eq!(
        body["messages"][1]["tool_calls"][0]["function"]["arguments"],
        json!("{not json")
    );
}

/// A conversation after one assistant turn with two tool calls and their results.
fn conversation_with_results() -> Vec<Message> {
    vec![
        Message::system("You are a calculator."),
        Message::user("2+2 and 3*3?"),
        Message::assistant_tool_calls(
            "",
            vec![
                ToolCall::new("call_1", "calculator", json!({"expression": "2+2"})),
                ToolCall::new("call_2", "calculator", json!({"expression": "3*3"})),
            ],
        ),
        Message::tool("call_1", "calculator", "4"),
        Message::tool("call_2", "calculator", "9"),
    ]
}

#[tokio::test]
async fn tool_results_are_serialized_for_openai() {
    let fake = fake().await;
    fake.push(Reply::text("4 and 9"));
    let req = ChatRequest::new("gpt-4o-mini", conversation_with_results());
    let resp = openai(&fake).chat(&req).await.expect("chat");
    assert_eq!(resp.message.content, "4 and 9");
    let body = &fake.chat_bodies()[0];
    assert_eq!(body["model"], json!("gpt-4o-mini"));
    assert_eq!(
        body["messages"],
        json!([
            {"role": "system", "content": "You are a calculator."},
            {"role": "user", "content": "2+2 and 3*3?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "calculator", "arguments": "{\"expression\":\"2+2\"}"}},
                {"id": "call_2", "type": "function",
                 "function": {"name": "calculator", "arguments": "{\"expression\":\"3*3\"}"}},
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "4"},
            {"role": "tool", "tool_call_id": "call_2", "content": "9"},
        ])
    );
}

#[tokio::test]
async fn tool_results_are_serialized_for_anthropic() {
    let fake = fake().await;
    fake.push(Reply::text("4 and 9"));
    let req = ChatRequest::new("claude-3-5-haiku-latest", conversation_with_results());
    anthropic(&fake).chat(&req).await.expect("chat");
    let body = &fake.chat_bodies()[0];
    assert_eq!(body["system"], json!("You are a calculator."));
    assert_eq!(
        body["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "2+2 and 3*3?"}]},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "call_1", "name": "calculator",
                 "input": {"expression": "2+2"}},
                {"type": "tool_use", "id": "call_2", "name": "calculator",
                 "input": {"expression": "3*3"}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "4"},
                {"type": "tool_result", "tool_use_id": "call_2", "content": "9"},
            ]},
        ])
    );
}

#[tokio::test]
async fn response_format_reaches_both_providers() {
    let fake = fake().await;
    fake.push_all([Reply::text("{\"a\":1}"), Reply::text("{\"a\":1}")]);
    let schema = json!({"type": "object", "properties": {"a": {"type": "integer"}}});
    let req = ChatRequest::new("m", vec![Message::user("x")]).with_response_format(schema.clone());
    openai(&fake).chat(&req).await.expect("openai");
    anthropic(&fake).chat(&req).await.expect("anthropic");
    let bodies = fake.chat_bodies();
    assert_eq!(
        bodies[0]["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "output", "schema": schema}})
    );
    let system = bodies[1]["system"].as_str().expect("system prompt");
    assert!(system.contains("JSON"), "{system}");
    assert!(system.contains(&schema.to_string()), "{system}");
}

#[tokio::test]
async fn the_trait_object_drives_either_client() {
    let fake = fake().await;
    fake.push_all([
        Reply::text("one").usage(1, 1),
        Reply::text("two").usage(2, 2),
    ]);
    let models: Vec<std::sync::Arc<dyn ChatModel>> = vec![
        std::sync::Arc::new(openai(&fake)),
        std::sync::Arc::new(anthropic(&fake)),
    ];
    let req = ChatRequest::new("m", vec![Message::user("x")]);
    let mut total = Usage::default();
    let mut texts = Vec::new();
    for model in &models {
        let resp = model.chat(&req).await.expect("chat");
        total += resp.usage;
        texts.push(resp.message.content);
    }
    assert_eq!(texts, ["one", "two"]);
    assert_eq!(total, Usage::new(3, 3));
    assert_eq!(models[0].provider(), "openai_compatible");
    assert_eq!(models[1].provider(), "anthropic");
    let paths: Vec<String> = fake.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/v1/chat/completions", "/v1/messages"]);
}

#[tokio::test]
async fn credential_detail_builds_working_clients() {
    let fake = fake().await;
    fake.expect_api_key("sk-right");
    fake.push_all([Reply::text("o"), Reply::text("a")]);
    let opts = crate::fast();
    let oa = agentry_llm::from_credential_detail(
        &json!({"api_key": "sk-right", "base_url": fake.base_url(),
                "custom_headers": {"x-tenant": "t1"}}),
        opts.clone(),
    )
    .expect("openai");
    let an = agentry_llm::from_credential_detail(
        &json!({"provider_type": "anthropic", "api_key": "sk-right", "base_url": fake.anthropic_url()}),
        opts.clone(),
    )
    .expect("anthropic");
    let req = ChatRequest::new("m", vec![Message::user("x")]);
    assert_eq!(
        oa.chat(&req).await.expect("openai chat").message.content,
        "o"
    );
    assert_eq!(
        an.chat(&req).await.expect("anthropic chat").message.content,
        "a"
    );
    assert_eq!(fake.requests()[0].headers["x-tenant"], "t1");

    let wrong = agentry_llm::from_credential_detail(
        &json!({"api_key": "sk-wrong", "base_url": fake.base_url()}),
        opts,
    )
    .expect("client");
    let err = wrong.chat(&req).await.expect_err("401");
    assert_eq!(err.to_string(), "Authentication failed - invalid API key");
    assert_eq!(fake.remaining(), 0);
    assert_eq!(fake.requests().len(), 3);
}
