//! Anthropic's Messages API (`POST {base_url}/v1/messages`).

use crate::error::{LlmError, Result};
use crate::http::{self, Call, ClientOptions};
use crate::types::{
    ChatRequest, ChatResponse, Message, ModelInfo, RAW_ARGUMENTS_KEY, Role, ToolCall, Usage,
};
use crate::{BoxFuture, ChatModel};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Map, Value, json};
use std::fmt;

/// Anthropic's API root, the default `base_url` (without `/v1`).
pub const ANTHROPIC_BASE_URL: &str = "https://api.anthropic.com";
/// The `anthropic-version` header sent with every request.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";
/// `max_tokens` is required by the Messages API; this is sent when the request sets none.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;
/// The model list of api.md §7 for Anthropic credentials with a custom base URL (or when the
/// provider listing fails).
pub const ANTHROPIC_MODELS: &[&str] = &[
    "claude-opus-4-6",
    "claude-sonnet-4-6",
    "claude-sonnet-4-20250514",
    "claude-opus-4-0-20250514",
    "claude-haiku-4-5-20251001",
    "claude-3-5-sonnet-20241022",
];

/// A client for Anthropic's Messages API.
///
/// `Debug` masks the API key; nothing here logs it.
#[derive(Clone)]
pub struct Anthropic {
    /// Used in errors and logs: `anthropic`.
    pub provider: String,
    /// The API root *without* `/v1`. Trailing slashes are ignored.
    pub base_url: String,
    /// Sent as `x-api-key`.
    pub api_key: String,
    /// Extra headers sent with every request (e.g. `anthropic-beta`).
    pub custom_headers: std::collections::BTreeMap<String, String>,
    /// Whether [`list_models`](Anthropic::list_models) asks the provider (`GET /v1/models`)
    /// rather than answering [`ANTHROPIC_MODELS`]. True for the default base URL;
    /// [`with_base_url`](Anthropic::with_base_url) with another URL turns it off (api.md §7).
    pub provider_model_listing: bool,
    pub options: ClientOptions,
    http: Option<reqwest::Client>,
}

impl fmt::Debug for Anthropic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Anthropic")
            .field("provider", &self.provider)
            .field("base_url", &self.base_url)
            .field("api_key", &http::mask(&self.api_key))
            .field(
                "custom_headers",
                &self.custom_headers.keys().collect::<Vec<_>>(),
            )
            .field("provider_model_listing", &self.provider_model_listing)
            .field("options", &self.options)
            .finish()
    }
}

impl Anthropic {
    pub fn new(api_key: impl Into<String>) -> Self {
        Anthropic {
            provider: "anthropic".to_string(),
            base_url: ANTHROPIC_BASE_URL.to_string(),
            api_key: api_key.into(),
            custom_headers: Default::default(),
            provider_model_listing: true,
            options: ClientOptions::default(),
            http: None,
        }
    }

    /// Another API root (without `/v1`); an empty one keeps the current. A URL other than
    /// [`ANTHROPIC_BASE_URL`] switches model listing to the fixed list.
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        let base_url = base_url.into();
        let base_url = base_url.trim();
        if !base_url.is_empty() {
            self.base_url = base_url.to_string();
            self.provider_model_listing = base_url.trim_end_matches('/') == ANTHROPIC_BASE_URL;
        }
        self
    }

    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.custom_headers.insert(name.into(), value.into());
        self
    }

    pub fn with_options(mut self, options: ClientOptions) -> Self {
        self.options = options;
        self
    }

    /// Use this `reqwest::Client` instead of the process-wide one.
    pub fn with_http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    fn call(&self) -> Result<Call<'_>> {
        let mut headers = HeaderMap::new();
        http::insert_header(&mut headers, &self.provider, "x-api-key", &self.api_key)?;
        http::insert_header(
            &mut headers,
            &self.provider,
            "anthropic-version",
            ANTHROPIC_VERSION,
        )?;
        Call::new(
            &self.provider,
            self.http.as_ref(),
            &self.options,
            headers,
            &self.custom_headers,
        )
    }

    /// Sends one Messages API call (with retries).
    pub async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse> {
        let body = request_body(req);
        let url = http::join_url(&self.base_url, "/v1/messages");
        let value = self.call()?.json(Method::POST, &url, Some(&body)).await?;
        parse_response(&self.provider, &value)
    }

    /// The provider's models (`GET /v1/models`) when `provider_model_listing`, else — or when
    /// that fails — [`ANTHROPIC_MODELS`]; sorted by id.
    pub async fn list_models(&self) -> Vec<ModelInfo> {
        if self.provider_model_listing {
            match self.try_list_models().await {
                Ok(models) => return models,
                Err(error) => {
                    tracing::info!(provider = %self.provider, %error, "listing models failed");
                }
            }
        }
        crate::types::model_list(ANTHROPIC_MODELS.iter().map(|id| id.to_string()))
    }

    /// `GET {base_url}/v1/models` with its error: ids from `data[].id`, sorted.
    pub async fn try_list_models(&self) -> Result<Vec<ModelInfo>> {
        let url = http::join_url(&self.base_url, "/v1/models?limit=1000");
        let value = self.call()?.json(Method::GET, &url, None).await?;
        let items = value
            .get("data")
            .and_then(Value::as_array)
            .or_else(|| value.as_array())
            .ok_or_else(|| LlmError::malformed(&self.provider, "model list has no data[]"))?;
        Ok(crate::types::model_list(items.iter().filter_map(|item| {
            item.as_str()
                .or_else(|| item.get("id").and_then(Value::as_str))
                .map(str::to_string)
        })))
    }
}

impl ChatModel for Anthropic {
    fn provider(&self) -> &str {
        &self.provider
    }

    fn chat<'a>(&'a self, req: &'a ChatRequest) -> BoxFuture<'a, Result<ChatResponse>> {
        Box::pin(Anthropic::chat(self, req))
    }

    fn list_models(&self) -> BoxFuture<'_, Vec<ModelInfo>> {
        Box::pin(Anthropic::list_models(self))
    }
}

/// The JSON body of `POST /v1/messages` for `req`.
///
/// System messages are joined (blank-line separated) into `system`, together with the
/// response-format instruction when `response_format` asks for JSON (the Messages API has no
/// such parameter). Tool results travel as `tool_result` blocks of a user turn, and consecutive
/// turns of the same side are merged into one (the API wants the results of one assistant turn's
/// tool calls in the single user turn that follows it, results first).
pub fn request_body(req: &ChatRequest) -> Value {
    let mut system: Vec<&str> = Vec::new();
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for message in &req.messages {
        let (role, blocks) = match message.role {
            Role::System => {
                if !message.content.is_empty() {
                    system.push(&message.content);
                }
                continue;
            }
            Role::User => ("user", text_block(&message.content)),
            Role::Assistant => {
                let mut blocks = text_block(&message.content);
                blocks.extend(message.tool_calls.iter().map(|call| {
                    json!({
                        "type": "tool_use",
                        "id": call.id,
                        "name": call.name,
                        "input": tool_input(call),
                    })
                }));
                ("assistant", blocks)
            }
            Role::Tool => (
                "user",
                vec![json!({
                    "type": "tool_result",
                    "tool_use_id": message.tool_call_id.clone().unwrap_or_default(),
                    "content": message.content,
                })],
            ),
        };
        match turns.last_mut() {
            Some((last_role, last_blocks)) if *last_role == role => last_blocks.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    let messages: Vec<Value> = turns
        .into_iter()
        .filter(|(_, blocks)| !blocks.is_empty())
        .map(|(role, mut blocks)| {
            // tool results first within a user turn (stable otherwise)
            blocks.sort_by_key(|b| b.get("type") != Some(&json!("tool_result")));
            json!({"role": role, "content": blocks})
        })
        .collect();

    let instruction = req
        .response_format
        .as_ref()
        .and_then(crate::response_format_instruction);
    let mut system = system.join("\n\n");
    if let Some(instruction) = instruction {
        if !system.is_empty() {
            system.push_str("\n\n");
        }
        system.push_str(&instruction);
    }

    let mut body = Map::new();
    body.insert("model".into(), json!(req.model));
    body.insert(
        "max_tokens".into(),
        json!(req.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS)),
    );
    if !system.is_empty() {
        body.insert("system".into(), json!(system));
    }
    body.insert("messages".into(), Value::Array(messages));
    if !req.tools.is_empty() {
        let tools = req
            .tools
            .iter()
            .map(|tool| {
                json!({
                    "name": tool.name,
                    "description": tool.description,
                    "input_schema": crate::object_schema(&tool.parameters),
                })
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    if let Some(temperature) = req.temperature {
        body.insert("temperature".into(), json!(temperature));
    }
    Value::Object(body)
}

/// A text block, or none for empty text (the API rejects empty text blocks).
fn text_block(text: &str) -> Vec<Value> {
    if text.is_empty() {
        Vec::new()
    } else {
        vec![json!({"type": "text", "text": text})]
    }
}

/// `tool_use.input` must be an object.
fn tool_input(call: &ToolCall) -> Value {
    if call.arguments.is_object() {
        call.arguments.clone()
    } else {
        json!({ RAW_ARGUMENTS_KEY: call.arguments_text() })
    }
}

/// Reads a Messages API body.
pub fn parse_response(provider: &str, value: &Value) -> Result<ChatResponse> {
    if !value.is_object() {
        return Err(LlmError::malformed(
            provider,
            "response is not a JSON object",
        ));
    }
    if value.get("type") == Some(&json!("error")) {
        let text = value
            .pointer("/error/message")
            .and_then(Value::as_str)
            .unwrap_or("no error text");
        return Err(LlmError::malformed(
            provider,
            format!("response is an error: {text}"),
        ));
    }
    let blocks = value
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| LlmError::malformed(provider, "response has no content"))?;
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for (index, block) in blocks.iter().enumerate() {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => {
                let part = block.get("text").and_then(Value::as_str).ok_or_else(|| {
                    LlmError::malformed(provider, format!("content block {index} has no text"))
                })?;
                text.push_str(part);
            }
            Some("tool_use") => {
                let field = |key: &str| {
                    block
                        .get(key)
                        .and_then(Value::as_str)
                        .filter(|s| !s.is_empty())
                        .ok_or_else(|| {
                            LlmError::malformed(
                                provider,
                                format!("tool_use block {index} has no {key}"),
                            )
                        })
                };
                let (id, name) = (field("id")?, field("name")?);
                let input = block.get("input").cloned().unwrap_or_else(|| json!({}));
                tool_calls.push(ToolCall::new(id, name, input));
            }
            // thinking, redacted_thinking, server tool blocks…: not part of the answer
            Some(_) => {}
            None => {
                return Err(LlmError::malformed(
                    provider,
                    format!("content block {index} has no type"),
                ));
            }
        }
    }
    let usage = value.get("usage").filter(|u| u.is_object());
    let count = |key: &str| {
        usage
            .and_then(|u| u.get(key))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    // Cached prompt tokens are reported apart from `input_tokens`; they are input all the same.
    let input = count("input_tokens")
        + count("cache_creation_input_tokens")
        + count("cache_read_input_tokens");
    Ok(ChatResponse {
        message: Message::assistant_tool_calls(text, tool_calls),
        usage: Usage::new(input, count("output_tokens")),
        usage_reported: usage.is_some(),
        finish_reason: value
            .get("stop_reason")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turns_are_merged_and_results_come_first() {
        let req = ChatRequest::new(
            "claude-sonnet-4",
            vec![
                Message::system("one"),
                Message::system("two"),
                Message::user("hi"),
                Message::assistant_tool_calls(
                    "let me see",
                    vec![
                        ToolCall::new("t1", "a", json!({})),
                        ToolCall::new("t2", "b", json!({"x": 1})),
                    ],
                ),
                Message::tool("t1", "a", "r1"),
                Message::tool("t2", "b", "r2"),
                Message::user("and?"),
            ],
        )
        .with_response_format(json!("json"));
        let body = request_body(&req);
        assert!(
            body["system"]
                .as_str()
                .expect("system")
                .starts_with("one\n\ntwo\n\n")
        );
        assert_eq!(body["max_tokens"], json!(DEFAULT_MAX_TOKENS));
        let messages = body["messages"].as_array().expect("messages");
        assert_eq!(messages.len(), 3);
        assert_eq!(
            messages[1]["content"][0],
            json!({"type": "text", "text": "let me see"})
        );
        assert_eq!(messages[1]["content"][2]["input"], json!({"x": 1}));
        assert_eq!(messages[2]["role"], json!("user"));
        assert_eq!(messages[2]["content"][0]["tool_use_id"], json!("t1"));
        assert_eq!(messages[2]["content"][1]["tool_use_id"], json!("t2"));
        assert_eq!(messages[2]["content"][2]["text"], json!("and?"));
    }

    #[test]
    fn malformed_bodies() {
        let err = parse_response("anthropic", &json!({"id": "x"})).expect_err("no content");
        assert_eq!(err.to_string(), "anthropic: response has no content");
        let err = parse_response(
            "anthropic",
            &json!({"content": [{"type": "tool_use", "name": "x", "input": {}}]}),
        )
        .expect_err("no id");
        assert_eq!(err.to_string(), "anthropic: tool_use block 0 has no id");
    }

    #[test]
    fn cached_tokens_count_as_input() {
        let resp = parse_response(
            "anthropic",
            &json!({"content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn",
                "usage": {"input_tokens": 3, "cache_read_input_tokens": 7, "output_tokens": 2}}),
        )
        .expect("parses");
        assert_eq!(resp.usage, Usage::new(10, 2));
        assert_eq!(resp.message.content, "ok");
        assert_eq!(resp.finish_reason.as_deref(), Some("end_turn"));
    }
}
