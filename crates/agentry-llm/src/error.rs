//! The one error type of this crate.

use std::time::Duration;

/// `Result` with [`LlmError`].
pub type Result<T, E = LlmError> = std::result::Result<T, E>;

/// What went wrong talking to a provider. Every variant carries the provider's name
/// (`openai_compatible`, `anthropic`, `glm`, …) so an error read out of context still says where
/// it came from; [`Auth`](LlmError::Auth) alone keeps the exact text api.md §7 asks for.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LlmError {
    /// HTTP 401 or 403.
    #[error("Authentication failed - invalid API key")]
    Auth {
        provider: String,
        status: u16,
        /// The provider's own error text (not shown by `Display`).
        message: String,
    },
    /// HTTP 429, still limited after the retries (or asking to wait longer than allowed).
    #[error("{provider}: rate limited (HTTP 429): {message}")]
    RateLimited {
        provider: String,
        /// The provider's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
        message: String,
    },
    /// HTTP 5xx, still failing after the retries.
    #[error("{provider}: server error (HTTP {status}): {message}")]
    Server {
        provider: String,
        status: u16,
        message: String,
    },
    /// No complete answer within the per-request timeout, after the retries.
    #[error("{provider}: request timed out after {}s", .after.as_secs_f64())]
    Timeout { provider: String, after: Duration },
    /// The provider could not be reached (DNS, refused connection, TLS, reset), after the retries.
    #[error("{provider}: connection failed: {message}")]
    Connection { provider: String, message: String },
    /// A 2xx answer we cannot use: not JSON, or JSON without what a reply must have.
    #[error("{provider}: {what}")]
    MalformedResponse { provider: String, what: String },
    /// Any other 4xx: the provider rejected the request (unknown model, bad schema, too long…).
    #[error("{provider}: bad request (HTTP {status}): {message}")]
    BadRequest {
        provider: String,
        status: u16,
        message: String,
    },
    /// The credential or request cannot be turned into a call (unknown provider type, a header
    /// that is not valid HTTP, …). Never retried.
    #[error("{provider}: invalid configuration: {message}")]
    InvalidConfig { provider: String, message: String },
}

impl LlmError {
    /// Whether trying again later may help: rate limits, server errors, timeouts and connection
    /// failures. The clients already retried these before returning them.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            LlmError::RateLimited { .. }
                | LlmError::Server { .. }
                | LlmError::Timeout { .. }
                | LlmError::Connection { .. }
        )
    }

    /// The provider the error came from.
    pub fn provider(&self) -> &str {
        match self {
            LlmError::Auth { provider, .. }
            | LlmError::RateLimited { provider, .. }
            | LlmError::Server { provider, .. }
            | LlmError::Timeout { provider, .. }
            | LlmError::Connection { provider, .. }
            | LlmError::MalformedResponse { provider, .. }
            | LlmError::BadRequest { provider, .. }
            | LlmError::InvalidConfig { provider, .. } => provider,
        }
    }

    /// The HTTP status the provider answered with, if the error came from an answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            LlmError::Auth { status, .. }
            | LlmError::Server { status, .. }
            | LlmError::BadRequest { status, .. } => Some(*status),
            LlmError::RateLimited { .. } => Some(429),
            _ => None,
        }
    }

    pub(crate) fn malformed(provider: &str, what: impl Into<String>) -> Self {
        LlmError::MalformedResponse {
            provider: provider.to_string(),
            what: what.into(),
        }
    }

    pub(crate) fn config(provider: &str, message: impl Into<String>) -> Self {
        LlmError::InvalidConfig {
            provider: provider.to_string(),
            message: message.into(),
        }
    }
}
