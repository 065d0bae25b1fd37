//! OpenAI-compatible chat completions: OpenAI, Ollama, vLLM, llama.cpp server, OpenRouter, GLM…

use crate::error::{LlmError, Result};
use crate::http::{self, Call, ClientOptions};
use crate::types::{ChatRequest, ChatResponse, Message, ModelInfo, Role, ToolCall, Usage};
use crate::{BoxFuture, ChatModel};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::fmt;

/// OpenAI's API root, the default `base_url`.
pub const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";
/// GLM's (Z.ai) OpenAI-compatible API root, the default for `provider_type: glm`.
pub const GLM_BASE_URL: &str = "https://api.z.ai/api/paas/v4";

/// A client for any server speaking OpenAI's `POST {base_url}/chat/completions`.
///
/// `Debug` masks the API key; nothing here logs it.
#[derive(Clone)]
pub struct OpenAiCompatible {
    /// Used in errors and logs: `openai_compatible` (or `glm`, …).
    pub provider: String,
    /// The API root including any version segment, e.g. `https://api.openai.com/v1` or
    /// `http://localhost:11434/v1`. Trailing slashes are ignored.
    pub base_url: String,
    /// Sent as `Authorization: Bearer …`; empty sends no `Authorization` (local servers).
    pub api_key: String,
    /// Sent as `OpenAI-Organization` when set.
    pub organization: Option<String>,
    /// Extra headers sent with every request (they may override the ones above).
    pub custom_headers: BTreeMap<String, String>,
    pub options: ClientOptions,
    http: Option<reqwest::Client>,
}

impl fmt::Debug for OpenAiCompatible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiCompatible")
            .field("provider", &self.provider)
            .field("base_url", &self.base_url)
            .field("api_key", &http::mask(&self.api_key))
            .field("organization", &self.organization)
            .field(
                "custom_headers",
                &self.custom_headers.keys().collect::<Vec<_>>(),
            )
            .field("options", &self.options)
            .finish()
    }
}

impl OpenAiCompatible {
    /// A client for OpenAI itself with `api_key`.
    pub fn new(api_key: impl Into<String>) -> Self {
        OpenAiCompatible {
            provider: "openai_compatible".to_string(),
            base_url: OPENAI_BASE_URL.to_string(),
            api_key: api_key.into(),
            organization: None,
            custom_headers: BTreeMap::new(),
            options: ClientOptions::default(),
            http: None,
        }
    }

    /// Another API root; an empty one keeps the current.
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        let base_url = base_url.into();
        if !base_url.trim().is_empty() {
            self.base_url = base_url.trim().to_string();
        }
        self
    }

    /// An organization id; an empty one means none.
    pub fn with_organization(mut self, organization: impl Into<String>) -> Self {
        let organization = organization.into();
        self.organization = (!organization.is_empty()).then_some(organization);
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

    /// The name used in errors and logs (e.g. `glm`).
    pub fn with_provider_name(mut self, provider: impl Into<String>) -> Self {
        self.provider = provider.into();
        self
    }

    /// Use this `reqwest::Client` instead of the process-wide one.
    pub fn with_http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    fn call(&self) -> Result<Call<'_>> {
        let mut headers = HeaderMap::new();
        if !self.api_key.is_empty() {
            http::insert_header(
                &mut headers,
                &self.provider,
                "authorization",
                &format!("Bearer {}", self.api_key),
            )?;
        }
        if let Some(organization) = &self.organization {
            http::insert_header(
                &mut headers,
                &self.provider,
                "openai-organization",
                organization,
            )?;
        }
        Call::new(
            &self.provider,
            self.http.as_ref(),
            &self.options,
            headers,
            &self.custom_headers,
        )
    }

    /// Sends one chat completion (with retries).
    pub async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse> {
        let body = request_body(req);
        let url = http::join_url(&self.base_url, "/chat/completions");
        let value = self.call()?.json(Method::POST, &url, Some(&body)).await?;
        parse_response(&self.provider, &value)
    }

    /// `GET {base_url}/models`, sorted by id; any failure gives an empty list (api.md §7).
    pub async fn list_models(&self) -> Vec<ModelInfo> {
        match self.try_list_models().await {
            Ok(models) => models,
            Err(error) => {
                tracing::info!(provider = %self.provider, %error, "listing models failed");
                Vec::new()
            }
        }
    }

    /// `GET {base_url}/models` with its error: ids from `data[].id` or a bare array (of ids or
    /// of `{id}` objects), sorted.
    pub async fn try_list_models(&self) -> Result<Vec<ModelInfo>> {
        let url = http::join_url(&self.base_url, "/models");
        let value = self.call()?.json(Method::GET, &url, None).await?;
        let items = value
            .get("data")
            .and_then(Value::as_array)
            .or_else(|| value.as_array())
            .ok_or_else(|| {
                LlmError::malformed(&self.provider, "model list has neither data[] nor an array")
            })?;
        Ok(crate::types::model_list(items.iter().filter_map(|item| {
            item.as_str()
                .or_else(|| item.get("id").and_then(Value::as_str))
                .map(str::to_string)
        })))
    }
}

impl ChatModel for OpenAiCompatible {
    fn provider(&self) -> &str {
        &self.provider
    }

    fn chat<'a>(&'a self, req: &'a ChatRequest) -> BoxFuture<'a, Result<ChatResponse>> {
        Box::pin(OpenAiCompatible::chat(self, req))
    }

    fn list_models(&self) -> BoxFuture<'_, Vec<ModelInfo>> {
        Box::pin(OpenAiCompatible::list_models(self))
    }
}

/// The JSON body of `POST /chat/completions` for `req`.
pub fn request_body(req: &ChatRequest) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), json!(req.model));
    body.insert(
        "messages".into(),
        Value::Array(req.messages.iter().map(wire_message).collect()),
    );
    if !req.tools.is_empty() {
        let tools = req
            .tools
            .iter()
            .map(|tool| {
                json!({
                    "type": "function",
                    "function": {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": crate::object_schema(&tool.parameters),
                    }
                })
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    if let Some(temperature) = req.temperature {
        body.insert("temperature".into(), json!(temperature));
    }
    if let Some(max_tokens) = req.max_tokens {
        body.insert("max_tokens".into(), json!(max_tokens));
    }
    if let Some(format) = req.response_format.as_ref().and_then(response_format) {
        body.insert("response_format".into(), format);
    }
    Value::Object(body)
}

fn wire_message(message: &Message) -> Value {
    match message.role {
        Role::System => json!({"role": "system", "content": message.content}),
        Role::User => json!({"role": "user", "content": message.content}),
        Role::Assistant if message.tool_calls.is_empty() => {
            json!({"role": "assistant", "content": message.content})
        }
        Role::Assistant => {
            let calls: Vec<Value> = message
                .tool_calls
                .iter()
                .map(|call| {
                    json!({
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": call.arguments_text()},
                    })
                })
                .collect();
            let content = if message.content.is_empty() {
                Value::Null
            } else {
                json!(message.content)
            };
            json!({"role": "assistant", "content": content, "tool_calls": calls})
        }
        Role::Tool => json!({
            "role": "tool",
            "tool_call_id": message.tool_call_id.clone().unwrap_or_default(),
            "content": message.content,
        }),
    }
}

/// OpenAI's `response_format` for the node's setting; `None` for plain text.
fn response_format(format: &Value) -> Option<Value> {
    match format {
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "json" | "json_object" => Some(json!({"type": "json_object"})),
            _ => None,
        },
        Value::Object(map) => match map.get("type").and_then(Value::as_str) {
            Some("json_object" | "json_schema") => Some(format.clone()),
            Some("text") => None,
            _ if map.is_empty() => None,
            // a bare JSON Schema (its own `type` is usually "object")
            _ => Some(json!({
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": format},
            })),
        },
        _ => None,
    }
}

/// Reads a chat completion body.
pub fn parse_response(provider: &str, value: &Value) -> Result<ChatResponse> {
    if !value.is_object() {
        return Err(LlmError::malformed(
            provider,
            "response is not a JSON object",
        ));
    }
    let choice = match value.get("choices").and_then(Value::as_array) {
        Some(choices) if !choices.is_empty() => &choices[0],
        _ => {
            let what = match value.get("error") {
                Some(error) => format!(
                    "response has no choices (error: {})",
                    http::error_text(&error.to_string(), None)
                ),
                None => "response has no choices".to_string(),
            };
            return Err(LlmError::malformed(provider, what));
        }
    };
    let message = choice
        .get("message")
        .filter(|m| m.is_object())
        .ok_or_else(|| LlmError::malformed(provider, "choice has no message"))?;
    let content = match message.get("content") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        // some servers send content parts
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str).or_else(|| p.as_str()))
            .collect::<Vec<_>>()
            .join(""),
        Some(_) => {
            return Err(LlmError::malformed(
                provider,
                "message content is neither text nor null",
            ));
        }
    };
    let mut tool_calls = Vec::new();
    match message.get("tool_calls") {
        None | Some(Value::Null) => {}
        Some(Value::Array(calls)) => {
            for (index, call) in calls.iter().enumerate() {
                tool_calls.push(parse_tool_call(provider, index, call)?);
            }
        }
        Some(_) => return Err(LlmError::malformed(provider, "tool_calls is not an array")),
    }
    let finish_reason = choice
        .get("finish_reason")
        .and_then(Value::as_str)
        .map(str::to_string);
    let usage = value.get("usage").filter(|u| u.is_object());
    let count = |key: &str| {
        usage
            .and_then(|u| u.get(key))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    Ok(ChatResponse {
        message: Message::assistant_tool_calls(content, tool_calls),
        usage: Usage::new(count("prompt_tokens"), count("completion_tokens")),
        usage_reported: usage.is_some(),
        finish_reason,
    })
}

fn parse_tool_call(provider: &str, index: usize, call: &Value) -> Result<ToolCall> {
    let function = call
        .get("function")
        .filter(|f| f.is_object())
        .ok_or_else(|| {
            LlmError::malformed(provider, format!("tool call {index} has no function"))
        })?;
    let name = function
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            LlmError::malformed(provider, format!("tool call {index} has no function name"))
        })?;
    // Some local servers omit ids; the loop needs one to pair the result with the call.
    let id = call
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| format!("call_{index}"));
    Ok(match function.get("arguments") {
        Some(Value::String(text)) => ToolCall::from_json_text(id, name, text),
        None | Some(Value::Null) => ToolCall::new(id, name, json!({})),
        // Ollama and others sometimes send the object itself
        Some(other) => ToolCall::new(id, name, other.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ToolSpec;

    #[test]
    fn body_shape() {
        let req = ChatRequest::new(
            "gpt-4o",
            vec![
                Message::system("be brief"),
                Message::user("2+2?"),
                Message::assistant_tool_calls(
                    "",
                    vec![ToolCall::new(
                        "c1",
                        "calculator",
                        json!({"expression": "2+2"}),
                    )],
                ),
                Message::tool("c1", "calculator", "4"),
            ],
        )
        .with_tools(vec![ToolSpec::new("calculator", "math", Value::Null)])
        .with_temperature(0.2)
        .with_response_format(json!("json"));
        let body = request_body(&req);
        assert_eq!(body["messages"][2]["content"], Value::Null);
        assert_eq!(
            body["messages"][2]["tool_calls"][0]["function"]["arguments"],
            json!(r#"{"expression":"2+2"}"#)
        );
        assert_eq!(body["messages"][3]["tool_call_id"], json!("c1"));
        assert_eq!(
            body["tools"][0]["function"]["parameters"],
            json!({"type": "object", "properties": {}})
        );
        assert_eq!(body["response_format"], json!({"type": "json_object"}));
        assert_eq!(body["temperature"], json!(0.2));
        assert!(body.get("max_tokens").is_none());
    }

    #[test]
    fn response_formats() {
        assert_eq!(response_format(&json!("text")), None);
        assert_eq!(
            response_format(&json!({"type": "json_object"})),
            Some(json!({"type": "json_object"}))
        );
        assert_eq!(response_format(&json!({"type": "text"})), None);
        let schema = json!({"type": "object", "properties": {"a": {"type": "string"}}});
        assert_eq!(
            response_format(&schema),
            Some(
                json!({"type": "json_schema", "json_schema": {"name": "output", "schema": schema}})
            )
        );
        assert_eq!(response_format(&json!({})), None);
    }

    #[test]
    fn invalid_arguments_are_kept() {
        let value = json!({"choices": [{"message": {"role": "assistant", "content": null,
            "tool_calls": [{"id": "a", "type": "function",
                "function": {"name": "calc", "arguments": "{not json"}}]},
            "finish_reason": "tool_calls"}]});
        let resp = parse_response("openai_compatible", &value).expect("parses");
        let call = &resp.message.tool_calls[0];
        assert_eq!(call.invalid_arguments(), Some("{not json"));
        assert_eq!(call.arguments_text(), "{not json");
        assert!(!resp.usage_reported);
    }

    #[test]
    fn malformed_bodies() {
        let err = parse_response("openai_compatible", &json!({"id": "x"})).expect_err("no choices");
        assert_eq!(
            err.to_string(),
            "openai_compatible: response has no choices"
        );
        let err = parse_response(
            "glm",
            &json!({"choices": [{"message": {"tool_calls": [{"function": {}}]}}]}),
        )
        .expect_err("no name");
        assert_eq!(err.to_string(), "glm: tool call 0 has no function name");
    }
}
