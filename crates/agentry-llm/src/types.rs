//! The provider-neutral conversation: messages, tool calls, tool schemas, requests, replies.
//!
//! Everything here is `Serialize + Deserialize` so the engine can checkpoint a conversation as
//! JSON and replay exactly what was sent.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Who said a [`Message`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

/// One turn of a conversation.
///
/// * `system` / `user`: `content`.
/// * `assistant`: `content` (may be empty) and the `tool_calls` it requested.
/// * `tool`: the result (`content`) of the call `tool_call_id`, made to tool `name`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    #[serde(default)]
    pub content: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Message {
    fn plain(role: Role, content: impl Into<String>) -> Self {
        Message {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
            name: None,
        }
    }

    pub fn system(content: impl Into<String>) -> Self {
        Message::plain(Role::System, content)
    }

    pub fn user(content: impl Into<String>) -> Self {
        Message::plain(Role::User, content)
    }

    pub fn assistant(content: impl Into<String>) -> Self {
        Message::plain(Role::Assistant, content)
    }

    /// An assistant turn that requests tool calls (with optional accompanying text).
    pub fn assistant_tool_calls(content: impl Into<String>, tool_calls: Vec<ToolCall>) -> Self {
        Message {
            tool_calls,
            ..Message::plain(Role::Assistant, content)
        }
    }

    /// The result of tool call `tool_call_id` made to tool `name`.
    pub fn tool(
        tool_call_id: impl Into<String>,
        name: impl Into<String>,
        content: impl Into<String>,
    ) -> Self {
        Message {
            tool_call_id: Some(tool_call_id.into()),
            name: Some(name.into()),
            ..Message::plain(Role::Tool, content)
        }
    }
}

/// The key under which [`ToolCall::arguments`] keeps the provider's raw argument text when it
/// was not valid JSON (OpenAI sends arguments as a JSON *string*, which models sometimes get
/// wrong). The call is kept, so the caller can answer it with an error the model can read.
pub const RAW_ARGUMENTS_KEY: &str = "_raw_arguments";

/// A tool call requested by the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The provider's call id; the tool message answering it carries the same id.
    pub id: String,
    /// The tool's name (a [`ToolSpec::name`]).
    pub name: String,
    /// The arguments as JSON, or `{RAW_ARGUMENTS_KEY: "<raw text>"}` when they did not parse.
    pub arguments: Value,
}

impl ToolCall {
    pub fn new(id: impl Into<String>, name: impl Into<String>, arguments: Value) -> Self {
        ToolCall {
            id: id.into(),
            name: name.into(),
            arguments,
        }
    }

    /// Builds a call from arguments given as JSON text, keeping the raw text under
    /// [`RAW_ARGUMENTS_KEY`] when it is not valid JSON. Empty text means `{}`.
    pub fn from_json_text(id: impl Into<String>, name: impl Into<String>, text: &str) -> Self {
        let arguments = if text.trim().is_empty() {
            Value::Object(Default::default())
        } else {
            serde_json::from_str(text).unwrap_or_else(|_| {
                let mut raw = serde_json::Map::new();
                raw.insert(
                    RAW_ARGUMENTS_KEY.to_string(),
                    Value::String(text.to_string()),
                );
                Value::Object(raw)
            })
        };
        ToolCall::new(id, name, arguments)
    }

    /// The raw argument text when the provider's arguments were not valid JSON.
    pub fn invalid_arguments(&self) -> Option<&str> {
        let map = self.arguments.as_object()?;
        if map.len() != 1 {
            return None;
        }
        map.get(RAW_ARGUMENTS_KEY)?.as_str()
    }

    /// The arguments as JSON text, as they go back to a provider that wants text: the original
    /// text for invalid arguments, so a replayed conversation is what the model produced.
    pub fn arguments_text(&self) -> String {
        match self.invalid_arguments() {
            Some(raw) => raw.to_string(),
            None => self.arguments.to_string(),
        }
    }
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments object.
    pub parameters: Value,
}

impl ToolSpec {
    pub fn new(name: impl Into<String>, description: impl Into<String>, parameters: Value) -> Self {
        ToolSpec {
            name: name.into(),
            description: description.into(),
            parameters,
        }
    }
}

/// One model call.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<Message>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// The `ai_model` node's `response_format`: `"json"`/`"json_object"`, an OpenAI
    /// `response_format` object (`{"type": "json_object"}`, `{"type": "json_schema", …}`), or a
    /// bare JSON Schema. Each client maps it to its wire format (see the crate docs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<Value>,
}

impl ChatRequest {
    pub fn new(model: impl Into<String>, messages: Vec<Message>) -> Self {
        ChatRequest {
            model: model.into(),
            messages,
            ..Default::default()
        }
    }

    pub fn with_tools(mut self, tools: Vec<ToolSpec>) -> Self {
        self.tools = tools;
        self
    }

    pub fn with_temperature(mut self, temperature: f64) -> Self {
        self.temperature = Some(temperature);
        self
    }

    pub fn with_max_tokens(mut self, max_tokens: u32) -> Self {
        self.max_tokens = Some(max_tokens);
        self
    }

    pub fn with_response_format(mut self, response_format: Value) -> Self {
        self.response_format = Some(response_format);
        self
    }
}

/// Provider-reported token counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

impl Usage {
    pub fn new(input_tokens: u64, output_tokens: u64) -> Self {
        Usage {
            input_tokens,
            output_tokens,
        }
    }

    pub fn total_tokens(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }

    /// The cost in USD at `model`'s rates (engine.md §10; `pricing_overrides` is the
    /// credential's `detail.pricing`, or `Value::Null`).
    pub fn cost_usd(&self, model: &str, pricing_overrides: &Value) -> f64 {
        agentry_core::pricing::cost_usd(
            model,
            self.input_tokens,
            self.output_tokens,
            pricing_overrides,
        )
    }
}

impl std::ops::Add for Usage {
    type Output = Usage;
    fn add(self, other: Usage) -> Usage {
        Usage::new(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
        )
    }
}

impl std::ops::AddAssign for Usage {
    fn add_assign(&mut self, other: Usage) {
        *self = *self + other;
    }
}

/// A model's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// Always `role: assistant`: text and/or tool calls.
    pub message: Message,
    /// Token counts (zero when the provider reported none; see `usage_reported`).
    pub usage: Usage,
    /// Whether the provider reported usage at all (engine.md §10: `llm_calls` counts only AI
    /// messages carrying provider usage).
    pub usage_reported: bool,
    /// The provider's stop reason as sent (`stop`, `tool_calls`, `length`, `end_turn`,
    /// `tool_use`, `max_tokens`, …).
    pub finish_reason: Option<String>,
}

/// A model a credential can use (`GET /credentials/{id}/models/` items).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ModelInfo {
    pub id: String,
    pub name: String,
}

impl ModelInfo {
    pub fn new(id: impl Into<String>) -> Self {
        let id = id.into();
        ModelInfo {
            name: id.clone(),
            id,
        }
    }
}

/// Sorted by id, duplicates removed.
pub(crate) fn model_list(ids: impl IntoIterator<Item = String>) -> Vec<ModelInfo> {
    let mut ids: Vec<String> = ids.into_iter().filter(|id| !id.is_empty()).collect();
    ids.sort();
    ids.dedup();
    ids.into_iter().map(ModelInfo::new).collect()
}
