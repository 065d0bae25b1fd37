//! The HTTP plumbing both clients share: options, the retry loop, status → error mapping.

use crate::error::{LlmError, Result};
use rand::Rng;
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use std::sync::OnceLock;
use std::time::Duration;

/// How failed calls are retried: 429, 5xx, timeouts and connection failures, with exponential
/// backoff and full jitter (attempt `n` waits a random time in `[0, min(max_delay, base_delay ×
/// 2ⁿ)]`). A 429's `Retry-After` (in seconds) is waited instead, unless it is longer than
/// `max_retry_after`, in which case the call fails at once with [`LlmError::RateLimited`]
/// (holding a worker for minutes helps nobody; the job layer can reschedule).
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (so at most `max_retries + 1` requests).
    pub max_retries: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retries.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// `max_retries` retries with millisecond delays: for tests.
    pub fn fast(max_retries: u32) -> Self {
        RetryPolicy {
            max_retries,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            max_retry_after: Duration::from_secs(5),
        }
    }

    /// The backoff before retry number `attempt` (0-based), with full jitter.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(attempt.min(31)))
            .min(self.max_delay);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::rng().random_range(0..=millis))
    }
}

/// Options every client takes.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientOptions {
    /// Per request (one attempt), from connecting until the whole body has arrived.
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: Duration::from_secs(120),
            retry: RetryPolicy::default(),
        }
    }
}

impl ClientOptions {
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
}

/// The process-wide `reqwest::Client` (one connection pool for every credential). Building it
/// needs a rustls crypto provider installed first (see the crate docs).
pub(crate) fn shared_client(provider: &str) -> Result<reqwest::Client> {
    static SHARED: OnceLock<reqwest::Client> = OnceLock::new();
    if let Some(client) = SHARED.get() {
        return Ok(client.clone());
    }
    let client = reqwest::Client::builder()
        .user_agent(concat!("agentry/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| LlmError::config(provider, format!("cannot build HTTP client: {e}")))?;
    Ok(SHARED.get_or_init(|| client).clone())
}

/// Adds `name: value`, failing with [`LlmError::InvalidConfig`] (naming the header, never its
/// value, which may be a secret) when either is not valid HTTP.
pub(crate) fn insert_header(
    headers: &mut HeaderMap,
    provider: &str,
    name: &str,
    value: &str,
) -> Result<()> {
    let header_name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| LlmError::config(provider, format!("invalid header name {name:?}")))?;
    let mut header_value = HeaderValue::from_str(value)
        .map_err(|_| LlmError::config(provider, format!("invalid value for header {name:?}")))?;
    header_value.set_sensitive(true);
    headers.insert(header_name, header_value);
    Ok(())
}

/// One provider endpoint call: what to send and how.
pub(crate) struct Call<'a> {
    pub provider: &'a str,
    pub http: reqwest::Client,
    pub options: &'a ClientOptions,
    pub headers: HeaderMap,
}

impl<'a> Call<'a> {
    /// A call with the provider's own `headers` plus the credential's custom headers, on the
    /// client given for tests or else the shared one.
    pub fn new(
        provider: &'a str,
        http: Option<&reqwest::Client>,
        options: &'a ClientOptions,
        mut headers: HeaderMap,
        custom_headers: &std::collections::BTreeMap<String, String>,
    ) -> Result<Call<'a>> {
        for (name, value) in custom_headers {
            insert_header(&mut headers, provider, name, value)?;
        }
        let http = match http {
            Some(http) => http.clone(),
            None => shared_client(provider)?,
        };
        Ok(Call {
            provider,
            http,
            options,
            headers,
        })
    }

    /// Sends the request (retrying per the policy) and returns the JSON body of a 2xx answer.
    pub async fn json(&self, method: Method, url: &str, body: Option<&Value>) -> Result<Value> {
        let body = body.map(|b| b.to_string());
        let retry = &self.options.retry;
        let mut attempt = 0u32;
        loop {
            let outcome = self.attempt(method.clone(), url, body.clone()).await;
            let error = match outcome {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            if !error.is_retryable() || attempt >= retry.max_retries {
                return Err(error);
            }
            let delay = match &error {
                LlmError::RateLimited {
                    retry_after: Some(wait),
                    ..
                } => {
                    if *wait > retry.max_retry_after {
                        return Err(error);
                    }
                    *wait
                }
                _ => retry.backoff(attempt),
            };
            tracing::warn!(
                provider = self.provider,
                attempt = attempt + 1,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                error = %error,
                "LLM provider call failed; retrying"
            );
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    async fn attempt(&self, method: Method, url: &str, body: Option<String>) -> Result<Value> {
        let mut request = self
            .http
            .request(method, url)
            .headers(self.headers.clone())
            .timeout(self.options.timeout);
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let response = request.send().await.map_err(|e| self.transport_error(e))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let text = response.text().await.map_err(|e| self.transport_error(e))?;
        let provider = self.provider.to_string();
        if status.is_success() {
            return serde_json::from_str(&text).map_err(|e| {
                LlmError::malformed(
                    self.provider,
                    format!("response is not JSON ({e}): {}", excerpt(&text)),
                )
            });
        }
        let code = status.as_u16();
        let message = error_text(&text, status.canonical_reason());
        Err(match code {
            401 | 403 => LlmError::Auth {
                provider,
                status: code,
                message,
            },
            429 => LlmError::RateLimited {
                provider,
                retry_after,
                message,
            },
            500..=599 => LlmError::Server {
                provider,
                status: code,
                message,
            },
            _ => LlmError::BadRequest {
                provider,
                status: code,
                message,
            },
        })
    }

    fn transport_error(&self, error: reqwest::Error) -> LlmError {
        if error.is_timeout() {
            return LlmError::Timeout {
                provider: self.provider.to_string(),
                after: self.options.timeout,
            };
        }
        if error.is_builder() {
            return LlmError::config(self.provider, error_chain(&error.without_url()));
        }
        LlmError::Connection {
            provider: self.provider.to_string(),
            message: error_chain(&error.without_url()),
        }
    }
}

/// `Retry-After` in (possibly fractional) seconds; an HTTP date is ignored (backoff applies).
fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs: f64 = value.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)))
}

/// An error and its causes, `: `-joined (reqwest's own text stops at the outermost layer).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The provider's error text from an error body: `error.message` (OpenAI, Anthropic),
/// `error` as text, `message`, or `detail`; else the body itself (shortened); else the reason.
pub(crate) fn error_text(body: &str, reason: Option<&str>) -> String {
    if let Ok(value) = serde_json::from_str::<Value>(body) {
        let candidates = [
            value.pointer("/error/message"),
            value.get("error"),
            value.get("message"),
            value.get("detail"),
        ];
        for candidate in candidates.into_iter().flatten() {
            if let Some(text) = candidate.as_str().filter(|t| !t.is_empty()) {
                return text.to_string();
            }
        }
    }
    if body.trim().is_empty() {
        reason.unwrap_or("no error text").to_string()
    } else {
        excerpt(body)
    }
}

/// At most 300 characters of `text`, for error messages.
pub(crate) fn excerpt(text: &str) -> String {
    const MAX: usize = 300;
    let text = text.trim();
    if text.chars().count() <= MAX {
        return text.to_string();
    }
    let cut: String = text.chars().take(MAX).collect();
    format!("{cut}…")
}

/// `base` without trailing slashes, followed by `path`.
pub(crate) fn join_url(base: &str, path: &str) -> String {
    format!("{}{}", base.trim_end_matches('/'), path)
}

/// A secret shown as api.md §7 masks it: first 4 + `****` + last 4, or `****` under 8 chars.
pub(crate) fn mask(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() < 8 {
        return "****".to_string();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded_and_jittered() {
        let policy = RetryPolicy::default();
        for attempt in 0..40 {
            let cap = (Duration::from_millis(500) * 2u32.saturating_pow(attempt.min(31)))
                .min(Duration::from_secs(8));
            for _ in 0..20 {
                assert!(policy.backoff(attempt) <= cap);
            }
        }
        // full jitter: not always the ceiling
        let samples: Vec<_> = (0..50).map(|_| policy.backoff(5)).collect();
        assert!(samples.iter().any(|d| *d < Duration::from_secs(8)));
    }

    #[test]
    fn retry_after_parsing() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(" 0.5 "), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }

    #[test]
    fn error_texts() {
        assert_eq!(
            error_text(r#"{"error":{"message":"bad model","type":"x"}}"#, None),
            "bad model"
        );
        assert_eq!(error_text(r#"{"error":"nope"}"#, None), "nope");
        assert_eq!(error_text(r#"{"detail":"why"}"#, None), "why");
        assert_eq!(error_text("plain", None), "plain");
        assert_eq!(error_text("", Some("Bad Request")), "Bad Request");
    }

    #[test]
    fn masking() {
        assert_eq!(mask("sk-1234567890abcd"), "sk-1****abcd");
        assert_eq!(mask("short"), "****");
    }

    #[test]
    fn urls() {
        assert_eq!(join_url("http://x/v1/", "/models"), "http://x/v1/models");
        assert_eq!(join_url("http://x/v1", "/models"), "http://x/v1/models");
    }
}
