//! A fake LLM provider: a real HTTP server on `127.0.0.1:0` speaking both wire formats, scripted
//! reply by reply, recording every request. Feature `test-server`.
//!
//! ```no_run
//! # async fn demo() {
//! use agentry_llm::fake::{FakeProvider, Reply};
//! use serde_json::json;
//! let fake = FakeProvider::start().await;
//! fake.push(Reply::tool_calls(vec![("call_1", "calculator", json!({"expression": "2+2"}))]));
//! fake.push(Reply::text("4").usage(10, 5));
//! // point an OpenAiCompatible at fake.base_url(), or an Anthropic at fake.anthropic_url()
//! # }
//! ```
//!
//! Routes: `POST /v1/chat/completions` and `/chat/completions` (OpenAI), `POST /v1/messages`
//! (Anthropic), `GET /v1/models` and `/models` (both; not scripted). Each POST takes the next
//! [`Reply`] and renders it in the format of the route it came in on, so one script serves either
//! client. An empty script answers `500` with
//! `fake provider: no scripted reply left for POST /v1/messages` (a test never hangs; note the
//! client retries a 500). Unknown routes answer `404`. Every request, whatever the route, is
//! recorded ([`FakeProvider::requests`]).

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// One scripted answer to one chat call.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    kind: Kind,
    usage: Option<(u64, u64)>,
    delay: Option<Duration>,
    retry_after: Option<String>,
    message: Option<String>,
    finish_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Text(String),
    ToolCalls {
        text: String,
        calls: Vec<(String, String, Value)>,
    },
    Status(u16),
    Malformed(String),
    RawJson(Value),
}

impl Reply {
    fn of(kind: Kind) -> Self {
        Reply {
            kind,
            usage: Some((0, 0)),
            delay: None,
            retry_after: None,
            message: None,
            finish_reason: None,
        }
    }

    /// A final text answer (usage `0/0` unless [`usage`](Reply::usage) says otherwise).
    pub fn text(text: impl Into<String>) -> Self {
        Reply::of(Kind::Text(text.into()))
    }

    /// An assistant turn requesting these `(id, name, arguments)` calls. A `Value::String`
    /// argument is sent verbatim as OpenAI's argument text (e.g. `json!("{not json")`).
    pub fn tool_calls<I, S1, S2>(calls: I) -> Self
    where
        I: IntoIterator<Item = (S1, S2, Value)>,
        S1: Into<String>,
        S2: Into<String>,
    {
        Reply::of(Kind::ToolCalls {
            text: String::new(),
            calls: calls
                .into_iter()
                .map(|(id, name, args)| (id.into(), name.into(), args))
                .collect(),
        })
    }

    /// An error answer with this HTTP status and the provider's error body; see
    /// [`retry_after`](Reply::retry_after) and [`message`](Reply::message).
    pub fn status(code: u16) -> Self {
        Reply::of(Kind::Status(code))
    }

    /// `200` with this body as `application/json`, whatever it is.
    pub fn malformed(body: impl Into<String>) -> Self {
        Reply::of(Kind::Malformed(body.into()))
    }

    /// `200` with exactly this JSON body (the same for both formats).
    pub fn raw_json(value: Value) -> Self {
        Reply::of(Kind::RawJson(value))
    }

    /// Reported usage: `input` prompt tokens, `output` completion tokens.
    pub fn usage(mut self, input: u64, output: u64) -> Self {
        self.usage = Some((input, output));
        self
    }

    /// Report no usage at all.
    pub fn no_usage(mut self) -> Self {
        self.usage = None;
        self
    }

    /// Text accompanying tool calls (for a text reply, replaces the text).
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        match &mut self.kind {
            Kind::Text(t) | Kind::ToolCalls { text: t, .. } => *t = text.into(),
            _ => {}
        }
        self
    }

    /// A `Retry-After: <seconds>` header.
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.to_string());
        self
    }

    /// The error message of a [`status`](Reply::status) reply.
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// Wait this long before answering (timeouts, concurrency).
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// The stop reason to send instead of the format's usual one.
    pub fn finish_reason(mut self, reason: impl Into<String>) -> Self {
        self.finish_reason = Some(reason.into());
        self
    }
}

/// A request the fake received.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    pub method: String,
    /// Path and query, e.g. `/v1/chat/completions`.
    pub path: String,
    /// Lower-cased names.
    pub headers: BTreeMap<String, String>,
    /// The body as JSON; `Value::String` when it was not JSON; `Value::Null` when empty.
    pub body: Value,
}

impl RecordedRequest {
    /// Whether it was a chat call (either format).
    pub fn is_chat(&self) -> bool {
        self.method == "POST" && route_format(&self.path).is_some()
    }
}

/// Computes a reply from a chat request's JSON body (see [`FakeProvider::respond_with`]).
pub type Responder = Arc<dyn Fn(&Value) -> Reply + Send + Sync>;

#[derive(Default)]
struct ScriptState {
    script: VecDeque<Reply>,
    responder: Option<Responder>,
    requests: Vec<RecordedRequest>,
    /// The body `GET /models` answers; `None` → 500.
    models: Option<Value>,
    api_key: Option<String>,
    served: u64,
}

type Shared = Arc<Mutex<ScriptState>>;

struct ServerTask(tokio::task::JoinHandle<()>);

impl Drop for ServerTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The fake provider server. Clones share the server and script; it stops when the last clone
/// is dropped.
#[derive(Clone)]
pub struct FakeProvider {
    addr: SocketAddr,
    state: Shared,
    _task: Arc<ServerTask>,
}

impl std::fmt::Debug for FakeProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeProvider")
            .field("addr", &self.addr)
            .finish()
    }
}

impl FakeProvider {
    /// Starts the server on an ephemeral port of 127.0.0.1 (inside a tokio runtime). Panics when
    /// it cannot bind (test-only code).
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("fake provider: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("fake provider: local address");
        let state: Shared = Arc::new(Mutex::new(ScriptState {
            models: Some(models_body(&["fake-model-1", "fake-model-2"])),
            ..Default::default()
        }));
        let app = Router::new().fallback(handle).with_state(state.clone());
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::error!(%error, "fake provider server stopped");
            }
        });
        FakeProvider {
            addr,
            state,
            _task: Arc::new(ServerTask(task)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, ScriptState> {
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// OpenAI-style base URL: `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Anthropic-style base URL (no `/v1`): `http://127.0.0.1:PORT`.
    pub fn anthropic_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Appends a reply to the script.
    pub fn push(&self, reply: Reply) -> &Self {
        self.lock().script.push_back(reply);
        self
    }

    /// Appends several replies.
    pub fn push_all(&self, replies: impl IntoIterator<Item = Reply>) -> &Self {
        self.lock().script.extend(replies);
        self
    }

    /// Answers chat calls the script has no reply left for by calling `responder` with the
    /// request body: for concurrent callers whose order is unknown (each request says which
    /// turn it is).
    pub fn respond_with(&self, responder: impl Fn(&Value) -> Reply + Send + Sync + 'static) {
        self.lock().responder = Some(Arc::new(responder));
    }

    /// Replies not yet served.
    pub fn remaining(&self) -> usize {
        self.lock().script.len()
    }

    /// Chat calls answered from the script so far.
    pub fn served(&self) -> u64 {
        self.lock().served
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// The JSON bodies of the chat calls received (either format), in order.
    pub fn chat_bodies(&self) -> Vec<Value> {
        self.lock()
            .requests
            .iter()
            .filter(|r| r.is_chat())
            .map(|r| r.body.clone())
            .collect()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        let mut st = self.lock();
        st.requests.clear();
        st.requests.shrink_to_fit();
    }

    /// The ids `GET /models` answers (default `fake-model-1`, `fake-model-2`).
    pub fn set_models<S: Into<String>>(&self, ids: impl IntoIterator<Item = S>) {
        let ids: Vec<String> = ids.into_iter().map(Into::into).collect();
        self.lock().models = Some(models_body(&ids));
    }

    /// Makes `GET /models` answer exactly this JSON body (e.g. a bare array of ids).
    pub fn set_models_json(&self, body: Value) {
        self.lock().models = Some(body);
    }

    /// Makes `GET /models` answer `500`.
    pub fn fail_models(&self) {
        self.lock().models = None;
    }

    /// Requires this key (`Authorization: Bearer` on OpenAI routes, `x-api-key` on Anthropic
    /// ones); other requests get `401` without consuming the script.
    pub fn expect_api_key(&self, key: impl Into<String>) {
        self.lock().api_key = Some(key.into());
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Format {
    OpenAi,
    Anthropic,
}

fn route_format(path: &str) -> Option<Format> {
    let path = path.split('?').next().unwrap_or_default();
    match path.trim_end_matches('/') {
        "/v1/chat/completions" | "/chat/completions" => Some(Format::OpenAi),
        "/v1/messages" => Some(Format::Anthropic),
        _ => None,
    }
}

async fn handle(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| uri.path().to_string());
    let recorded = RecordedRequest {
        method: method.to_string(),
        path: path.clone(),
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()))
        },
    };
    let model = recorded
        .body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("fake-model")
        .to_string();
    let bare_path = uri.path().trim_end_matches('/');
    let is_models = method == Method::GET && matches!(bare_path, "/v1/models" | "/models");
    let format = if method == Method::POST {
        route_format(&path)
    } else {
        None
    };
    let auth_format = format.or(is_models.then(|| {
        if headers.contains_key("x-api-key") {
            Format::Anthropic
        } else {
            Format::OpenAi
        }
    }));

    let (reply, serial, models) = {
        let mut st = state.lock().unwrap_or_else(|poison| poison.into_inner());
        let body = recorded.body.clone();
        st.requests.push(recorded);
        if let (Some(expected), Some(fmt)) = (st.api_key.clone(), auth_format) {
            let given = match fmt {
                Format::OpenAi => headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .map(str::to_string),
                Format::Anthropic => headers
                    .get("x-api-key")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string),
            };
            if given.as_deref() != Some(expected.as_str()) {
                let reply = Reply::status(401).message("Invalid API key");
                return render(&reply, fmt, &model, 0);
            }
        }
        if is_models {
            (None, 0, Some(st.models.clone()))
        } else if format.is_some() {
            let reply = st
                .script
                .pop_front()
                .or_else(|| st.responder.as_ref().map(|r| r(&body)));
            if reply.is_some() {
                st.served += 1;
            }
            (reply, st.served, None)
        } else {
            return (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"error": {"message": format!("fake provider: no route {method} {path}")}})),
            )
                .into_response();
        }
    };

    if let Some(models) = models {
        return match models {
            Some(body) => axum::Json(body).into_response(),
            None => (
                StatusCode::INTERNAL_SERVER_ERROR,
                axum::Json(json!({"error": {"message": "fake provider: model listing fails"}})),
            )
                .into_response(),
        };
    }

    let format = format.unwrap_or(Format::OpenAi);
    match reply {
        Some(reply) => {
            if let Some(delay) = reply.delay {
                tokio::time::sleep(delay).await;
            }
            render(&reply, format, &model, serial)
        }
        None => {
            let message = format!("fake provider: no scripted reply left for {method} {path}");
            render(&Reply::status(500).message(message), format, &model, serial)
        }
    }
}

fn render(reply: &Reply, format: Format, model: &str, serial: u64) -> Response {
    let json_response = |status: StatusCode, body: String| -> Response {
        let mut response = (status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    };
    match &reply.kind {
        Kind::Status(code) => {
            let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let message = reply.message.clone().unwrap_or_else(|| {
                match code {
                    401 => "Incorrect API key provided",
                    403 => "Permission denied",
                    429 => "Rate limit reached",
                    500..=599 => "Internal server error",
                    _ => "Bad request",
                }
                .to_string()
            });
            let body = match format {
                Format::OpenAi => json!({"error": {
                    "message": message, "type": error_type(*code), "code": code,
                }}),
                Format::Anthropic => json!({"type": "error", "error": {
                    "type": error_type(*code), "message": message,
                }}),
            };
            let mut response = json_response(status, body.to_string());
            if let Some(value) = reply
                .retry_after
                .as_deref()
                .and_then(|v| HeaderValue::from_str(v).ok())
            {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        Kind::Malformed(body) => json_response(StatusCode::OK, body.clone()),
        Kind::RawJson(value) => json_response(StatusCode::OK, value.to_string()),
        Kind::Text(text) => {
            let body = match format {
                Format::OpenAi => openai_body(reply, model, serial, json!(text), None),
                Format::Anthropic => anthropic_body(
                    reply,
                    model,
                    serial,
                    vec![json!({"type": "text", "text": text})],
                ),
            };
            json_response(StatusCode::OK, body.to_string())
        }
        Kind::ToolCalls { text, calls } => {
            let body = match format {
                Format::OpenAi => {
                    let wire: Vec<Value> = calls
                        .iter()
                        .map(|(id, name, args)| {
                            let arguments = match args {
                                Value::String(raw) => raw.clone(),
                                other => other.to_string(),
                            };
                            json!({"id": id, "type": "function",
                                   "function": {"name": name, "arguments": arguments}})
                        })
                        .collect();
                    let content = if text.is_empty() {
                        Value::Null
                    } else {
                        json!(text)
                    };
                    openai_body(reply, model, serial, content, Some(wire))
                }
                Format::Anthropic => {
                    let mut blocks = Vec::new();
                    if !text.is_empty() {
                        blocks.push(json!({"type": "text", "text": text}));
                    }
                    blocks.extend(calls.iter().map(|(id, name, args)| {
                        json!({"type": "tool_use", "id": id, "name": name, "input": args})
                    }));
                    anthropic_body(reply, model, serial, blocks)
                }
            };
            json_response(StatusCode::OK, body.to_string())
        }
    }
}

fn models_body<S: AsRef<str>>(ids: &[S]) -> Value {
    let data: Vec<Value> = ids
        .iter()
        .map(|id| {
            let id = id.as_ref();
            json!({"id": id, "object": "model", "type": "model", "display_name": id})
        })
        .collect();
    json!({"object": "list", "data": data, "has_more": false})
}

fn error_type(code: u16) -> &'static str {
    match code {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        500..=599 => "api_error",
        _ => "invalid_request_error",
    }
}

fn openai_body(
    reply: &Reply,
    model: &str,
    serial: u64,
    content: Value,
    tool_calls: Option<Vec<Value>>,
) -> Value {
    let has_calls = tool_calls.is_some();
    let mut message = json!({"role": "assistant", "content": content});
    if let Some(calls) = tool_calls {
        message["tool_calls"] = Value::Array(calls);
    }
    let finish = reply
        .finish_reason
        .clone()
        .unwrap_or_else(|| if has_calls { "tool_calls" } else { "stop" }.to_string());
    let mut body = json!({
        "id": format!("chatcmpl-fake-{serial}"),
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
    });
    if let Some((input, output)) = reply.usage {
        body["usage"] = json!({
            "prompt_tokens": input,
            "completion_tokens": output,
            "total_tokens": input + output,
        });
    }
    body
}

fn anthropic_body(reply: &Reply, model: &str, serial: u64, content: Vec<Value>) -> Value {
    let has_calls = content
        .iter()
        .any(|b| b.get("type") == Some(&json!("tool_use")));
    let stop = reply
        .finish_reason
        .clone()
        .unwrap_or_else(|| if has_calls { "tool_use" } else { "end_turn" }.to_string());
    let mut body = json!({
        "id": format!("msg_fake_{serial}"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": null,
    });
    if let Some((input, output)) = reply.usage {
        body["usage"] = json!({"input_tokens": input, "output_tokens": output});
    }
    body
}
