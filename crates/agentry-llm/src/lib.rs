//! # agentry-llm
//!
//! agentry's own small LLM client (ARCHITECTURE.md, "LLM"): the provider-neutral conversation
//! ([`Message`], [`ToolCall`], [`ToolSpec`], [`ChatRequest`], [`ChatResponse`], [`Usage`]), the
//! [`ChatModel`] trait the engine holds as `Arc<dyn ChatModel>`, and two clients:
//!
//! * [`OpenAiCompatible`]: `POST {base_url}/chat/completions` (OpenAI, Ollama, vLLM, llama.cpp
//!   server, OpenRouter, GLM…), tools in OpenAI's function format, tool-call arguments parsed
//!   from their JSON text, usage from `prompt_tokens`/`completion_tokens`;
//! * [`Anthropic`]: `POST {base_url}/v1/messages` with `x-api-key` and
//!   `anthropic-version: 2023-06-01`, the system prompt apart, `tool_use`/`tool_result` blocks,
//!   usage from `input_tokens`/`output_tokens`.
//!
//! [`from_credential_detail`] builds the right one from an LLM credential's `detail`
//! (api.md §7). Prices live in `agentry_core::pricing`; [`Usage::cost_usd`] applies them.
//!
//! ## Failures
//! One error type, [`LlmError`]. HTTP 429, 5xx, timeouts and connection failures are retried
//! ([`RetryPolicy`]: by default 3 retries, exponential backoff from 500 ms capped at 8 s with full
//! jitter; a 429's `Retry-After` seconds are honoured up to 60 s). Each attempt has its own
//! timeout ([`ClientOptions::timeout`], default 120 s). 401/403 give
//! `Authentication failed - invalid API key`; other 4xx give the provider's error text; a 2xx body
//! we cannot use gives [`LlmError::MalformedResponse`], whose message names the provider and what
//! was wrong (`openai_compatible: response has no choices`).
//!
//! Tool-call arguments that are not valid JSON do **not** fail the call: the raw text is kept
//! under [`RAW_ARGUMENTS_KEY`] ([`ToolCall::invalid_arguments`]) so the agent loop can answer the
//! model with a tool error it can correct, as spec'd for tool errors.
//!
//! ## Structured output
//! [`ChatRequest::response_format`] (`"json"`, an OpenAI `response_format` object, or a bare JSON
//! Schema) becomes OpenAI's `response_format` (a bare schema as `json_schema`). The Messages API
//! has no such parameter, so for Anthropic the same request appends an instruction to the system
//! prompt ("Respond with a single JSON object…", with the schema when there is one).
//!
//! ## TLS and secrets
//! reqwest is built with `rustls-no-provider`: the process must install rustls' `ring` provider
//! once before the first call (`rustls::crypto::ring::default_provider().install_default()`),
//! tests too, or building the shared HTTP client panics. API keys are sent as sensitive headers,
//! masked in `Debug`, and never logged; error texts never include request headers.
//!
//! ## Tests
//! With feature `test-server`, [`fake::FakeProvider`] is a real HTTP server speaking both wire
//! formats, scripted reply by reply and recording every request.

mod anthropic;
mod error;
#[cfg(feature = "test-server")]
pub mod fake;
mod http;
mod openai;
mod types;

pub use anthropic::{
    ANTHROPIC_BASE_URL, ANTHROPIC_MODELS, ANTHROPIC_VERSION, Anthropic, DEFAULT_MAX_TOKENS,
};
pub use error::{LlmError, Result};
pub use http::{ClientOptions, RetryPolicy};
pub use openai::{GLM_BASE_URL, OPENAI_BASE_URL, OpenAiCompatible};
pub use types::{
    ChatRequest, ChatResponse, Message, ModelInfo, RAW_ARGUMENTS_KEY, Role, ToolCall, ToolSpec,
    Usage,
};

/// The wire formats, for code that wants to inspect or replay bodies.
pub mod wire {
    /// OpenAI chat completions: request body and response parsing.
    pub mod openai {
        pub use crate::openai::{parse_response, request_body};
    }
    /// Anthropic Messages API: request body and response parsing.
    pub mod anthropic {
        pub use crate::anthropic::{parse_response, request_body};
    }
}

use serde_json::{Value, json};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A boxed `Send` future, so [`ChatModel`] can be used as `dyn ChatModel`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A chat model endpoint. Object-safe: hold it as `Arc<dyn ChatModel>`, call
/// `model.chat(&req).await`.
pub trait ChatModel: Send + Sync {
    /// The provider's name as used in errors (`openai_compatible`, `anthropic`, `glm`, …).
    fn provider(&self) -> &str;

    /// One model call, with the client's retries and timeout.
    fn chat<'a>(&'a self, req: &'a ChatRequest) -> BoxFuture<'a, Result<ChatResponse>>;

    /// The models this credential can use, sorted by id (api.md §7; failures give the documented
    /// fallback, never an error).
    fn list_models(&self) -> BoxFuture<'_, Vec<ModelInfo>>;
}

/// Builds the client for an LLM credential's `detail` (api.md §7): `provider_type`
/// (`openai_compatible` when absent or empty, `anthropic`, `glm`), `api_key`, `base_url` (empty =
/// the provider's default), `organization_id`, `custom_headers`. `pricing` is not the client's
/// business (see `agentry_core::pricing`).
pub fn from_credential_detail(
    detail: &Value,
    options: ClientOptions,
) -> Result<Arc<dyn ChatModel>> {
    let text = |key: &str| -> String {
        detail
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    let provider_type = match text("provider_type") {
        t if t.is_empty() => "openai_compatible".to_string(),
        t => t,
    };
    let headers: Vec<(String, String)> = detail
        .get("custom_headers")
        .and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .map(|(name, value)| {
                    let value = match value {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (name.clone(), value)
                })
                .collect()
        })
        .unwrap_or_default();
    let api_key = detail
        .get("api_key")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    match provider_type.as_str() {
        "openai_compatible" | "glm" => {
            let mut client = OpenAiCompatible::new(api_key)
                .with_provider_name(provider_type.clone())
                .with_options(options)
                .with_organization(text("organization_id"));
            if provider_type == "glm" {
                client = client.with_base_url(GLM_BASE_URL);
            }
            client = client.with_base_url(text("base_url"));
            for (name, value) in headers {
                client = client.with_header(name, value);
            }
            Ok(Arc::new(client))
        }
        "anthropic" => {
            let mut client = Anthropic::new(api_key)
                .with_options(options)
                .with_base_url(text("base_url"));
            for (name, value) in headers {
                client = client.with_header(name, value);
            }
            Ok(Arc::new(client))
        }
        other => Err(LlmError::InvalidConfig {
            provider: other.to_string(),
            message: format!("unknown provider_type {other:?}"),
        }),
    }
}

/// Tool parameters as the providers want them: a JSON Schema object (no schema → no arguments).
pub(crate) fn object_schema(parameters: &Value) -> Value {
    match parameters {
        Value::Object(map) if !map.is_empty() => parameters.clone(),
        _ => json!({"type": "object", "properties": {}}),
    }
}

/// The system-prompt instruction standing in for `response_format` where the API has none.
pub(crate) fn response_format_instruction(format: &Value) -> Option<String> {
    const JSON_ONLY: &str = "Respond with a single JSON object and nothing else: no prose, no \
                             code fences.";
    let schema = match format {
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "json" | "json_object" => return Some(JSON_ONLY.to_string()),
            _ => return None,
        },
        Value::Object(map) => match map.get("type").and_then(Value::as_str) {
            Some("json_object") => return Some(JSON_ONLY.to_string()),
            Some("text") => return None,
            Some("json_schema") => format
                .pointer("/json_schema/schema")
                .cloned()
                .unwrap_or(Value::Null),
            _ if map.is_empty() => return None,
            _ => format.clone(),
        },
        _ => return None,
    };
    if schema.is_null() {
        return Some(JSON_ONLY.to_string());
    }
    Some(format!(
        "{JSON_ONLY} The object must match this JSON Schema: {schema}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detail_picks_the_client() {
        let model = from_credential_detail(
            &json!({"api_key": "sk-x", "base_url": "http://localhost:11434/v1"}),
            ClientOptions::default(),
        )
        .expect("openai");
        assert_eq!(model.provider(), "openai_compatible");
        let model = from_credential_detail(
            &json!({"provider_type": "anthropic", "api_key": "k"}),
            ClientOptions::default(),
        )
        .expect("anthropic");
        assert_eq!(model.provider(), "anthropic");
        let model =
            from_credential_detail(&json!({"provider_type": "glm"}), ClientOptions::default())
                .expect("glm");
        assert_eq!(model.provider(), "glm");
        let err =
            from_credential_detail(&json!({"provider_type": "nope"}), ClientOptions::default())
                .err()
                .expect("unknown");
        assert_eq!(
            err.to_string(),
            "nope: invalid configuration: unknown provider_type \"nope\""
        );
    }

    #[test]
    fn debug_masks_keys() {
        let client = OpenAiCompatible::new("sk-secret-key-123456");
        let text = format!("{client:?}");
        assert!(!text.contains("secret"), "{text}");
        let client =
            Anthropic::new("sk-ant-secret-key-123456").with_header("x-token", "hidden-value");
        let text = format!("{client:?}");
        assert!(
            !text.contains("secret") && !text.contains("hidden-value"),
            "{text}"
        );
    }

    #[test]
    fn instructions_for_json() {
        assert!(response_format_instruction(&json!("json")).is_some());
        assert!(response_format_instruction(&json!("text")).is_none());
        let text = response_format_instruction(&json!({"type": "object", "required": ["a"]}))
            .expect("schema");
        assert!(text.contains(r#""required":["a"]"#), "{text}");
    }
}
