//! `http_request`: one HTTP call (engine.md §11). The request logic ([`HttpRequest`],
//! [`perform`]) is shared with the `http_request` agent tool (tools.md §7).
//!
//! Output `{"status_code", "headers", "body"}` (body = parsed JSON or text; over
//! [`MAX_BODY_BYTES`] it is cut and `"truncated": true` is added). An HTTP error status is a
//! normal output. Only `http`/`https`; `allow_hosts`/`deny_hosts` are checked for the URL and for
//! every redirect hop (redirects are followed here, never by the client, so no hop escapes the
//! lists).

use std::sync::LazyLock;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde_json::{Map, Value, json};

use crate::node::{NodeCtx, NodeError, NodeOutcome, NodeResult};

/// Bodies longer than this are cut (5 MiB).
pub const MAX_BODY_BYTES: usize = 5 * 1024 * 1024;
/// Default `timeout` in seconds.
pub const DEFAULT_TIMEOUT_SECS: f64 = 30.0;
/// Largest accepted `timeout` in seconds.
pub const MAX_TIMEOUT_SECS: f64 = 300.0;
/// Redirect hops followed before giving up.
pub const MAX_REDIRECTS: usize = 10;

pub async fn run(ctx: NodeCtx<'_>) -> NodeResult {
    let req = HttpRequest::from_config(ctx.node.extra()).map_err(node_error)?;
    let client = shared_client().map_err(|e| NodeError::transient("http_error", e))?;
    let output = perform(client, &req).await.map_err(node_error)?;
    Ok(NodeOutcome::output(output))
}

fn node_error(e: HttpError) -> NodeError {
    match &e {
        HttpError::Invalid(_) => NodeError::fatal("config_error", e.to_string()),
        HttpError::HostNotAllowed(_) => NodeError::fatal("host_not_allowed", e.to_string()),
        HttpError::Timeout { .. } => NodeError::transient("timeout", e.to_string()),
        HttpError::Connection { .. } => NodeError::transient("http_error", e.to_string()),
    }
}

/// Why a request produced no response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// Bad configuration (URL, method, headers): retrying cannot help.
    #[error("{0}")]
    Invalid(String),
    /// The URL's (or a redirect's) host is excluded by `allow_hosts`/`deny_hosts`.
    #[error("Host '{0}' is not allowed")]
    HostNotAllowed(String),
    #[error("Request to {url} timed out after {secs}s")]
    Timeout { url: String, secs: String },
    /// Connection refused, DNS failure, TLS error, reset, too many redirects.
    #[error("Request to {url} failed: {cause}")]
    Connection { url: String, cause: String },
}

impl HttpError {
    /// Whether a retry may succeed (connection problems and timeouts).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            HttpError::Timeout { .. } | HttpError::Connection { .. }
        )
    }
}

/// One request, as configured on the node (or assembled by the tool).
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    /// Upper-case method (`GET` by default).
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// A string is sent as is; other JSON (not null) as `application/json`.
    pub body: Option<Value>,
    /// Whole-request limit (all redirect hops and the body).
    pub timeout: Duration,
    /// Host names or `*.suffix` patterns; empty = any host.
    pub allow_hosts: Vec<String>,
    /// Host names or `*.suffix` patterns that are refused (checked first).
    pub deny_hosts: Vec<String>,
}

impl HttpRequest {
    /// A `GET` of `url` with the default timeout and no host lists.
    pub fn new(url: impl Into<String>) -> Self {
        HttpRequest {
            method: "GET".into(),
            url: url.into(),
            headers: Vec::new(),
            body: None,
            timeout: Duration::from_secs_f64(DEFAULT_TIMEOUT_SECS),
            allow_hosts: Vec::new(),
            deny_hosts: Vec::new(),
        }
    }

    /// Reads `method`, `url`, `headers`, `body`, `timeout`, `allow_hosts`, `deny_hosts` from a
    /// node's `extra_config` (templates already resolved).
    pub fn from_config(cfg: &Map<String, Value>) -> Result<Self, HttpError> {
        let url = cfg
            .get("url")
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or("");
        if url.is_empty() {
            return Err(HttpError::Invalid("No URL provided".into()));
        }
        let mut req = HttpRequest::new(url);
        if let Some(m) = cfg
            .get("method")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|m| !m.is_empty())
        {
            req.method = m.to_ascii_uppercase();
        }
        match cfg.get("headers") {
            None | Some(Value::Null) => {}
            Some(Value::Object(h)) => {
                req.headers = h.iter().map(|(k, v)| (k.clone(), value_text(v))).collect();
            }
            Some(_) => return Err(HttpError::Invalid("`headers` must be an object".into())),
        }
        req.body = cfg.get("body").filter(|b| !b.is_null()).cloned();
        req.timeout = timeout_from(cfg.get("timeout"));
        req.allow_hosts = string_list(cfg.get("allow_hosts"));
        req.deny_hosts = string_list(cfg.get("deny_hosts"));
        Ok(req)
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `timeout` in seconds: a positive number or numeric string, at most 300; else 30.
fn timeout_from(v: Option<&Value>) -> Duration {
    let secs = match v {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    let secs = match secs {
        Some(s) if s.is_finite() && s > 0.0 => s.min(MAX_TIMEOUT_SECS),
        _ => DEFAULT_TIMEOUT_SECS,
    };
    Duration::from_secs_f64(secs)
}

/// A JSON array of strings, or a comma-separated string.
fn string_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        Some(Value::String(s)) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        _ => Vec::new(),
    }
}

fn normalize_host(h: &str) -> String {
    let h = h.trim().trim_end_matches('.');
    let h = h
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(h);
    h.to_ascii_lowercase()
}

/// Whether `host` matches one pattern: `*` (any host), `*.example.com` (any subdomain of
/// `example.com`, at any depth, but not `example.com` itself) or an exact host name / IP
/// (case-insensitive, a trailing dot ignored).
pub fn host_matches(host: &str, pattern: &str) -> bool {
    let host = normalize_host(host);
    let pattern = pattern.trim();
    if pattern == "*" {
        return true;
    }
    if let Some(suffix) = pattern.strip_prefix("*.") {
        let suffix = normalize_host(suffix);
        return !suffix.is_empty()
            && host.len() > suffix.len()
            && host.ends_with(&suffix)
            && host.as_bytes()[host.len() - suffix.len() - 1] == b'.';
    }
    let pattern = normalize_host(pattern);
    !pattern.is_empty() && host == pattern
}

/// `deny` wins; then an empty `allow` admits any host, else the host must match one of it.
pub fn host_allowed(host: &str, allow: &[String], deny: &[String]) -> bool {
    if deny.iter().any(|p| host_matches(host, p)) {
        return false;
    }
    allow.is_empty() || allow.iter().any(|p| host_matches(host, p))
}

/// Parses and checks a URL: http/https only, a host, and the host lists.
fn check_url(url: &str, req: &HttpRequest) -> Result<Url, HttpError> {
    let parsed =
        Url::parse(url).map_err(|e| HttpError::Invalid(format!("Invalid URL '{url}': {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(HttpError::Invalid(format!(
            "Only http and https URLs are supported, got '{url}'"
        )));
    }
    let host = parsed.host_str().map(normalize_host).unwrap_or_default();
    if host.is_empty() {
        return Err(HttpError::Invalid(format!("Invalid URL '{url}': no host")));
    }
    if !host_allowed(&host, &req.allow_hosts, &req.deny_hosts) {
        return Err(HttpError::HostNotAllowed(host));
    }
    Ok(parsed)
}

static SHARED: LazyLock<Result<reqwest::Client, String>> = LazyLock::new(|| {
    // reqwest is built without a default TLS provider; installing ring twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    client_builder()
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
});

/// The builder for clients [`perform`] expects: redirects are not followed by the client
/// ([`perform`] follows them itself, checking each hop's host).
pub fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("agentry/", env!("CARGO_PKG_VERSION")))
}

/// The process-wide client for HTTP requests (installs the ring TLS provider if none is).
pub fn shared_client() -> Result<&'static reqwest::Client, String> {
    SHARED.as_ref().map_err(Clone::clone)
}

/// The cause chain of an error, outermost first, without repeats.
fn cause_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = err.source();
    }
    parts.join(": ")
}

/// Sends the request (following up to [`MAX_REDIRECTS`] redirects, each hop host-checked) and
/// returns `{"status_code", "headers", "body"[, "truncated": true]}`. The client should come
/// from [`client_builder`] / [`shared_client`] (a client that follows redirects itself would
/// skip the host check of the hops).
pub async fn perform(client: &reqwest::Client, req: &HttpRequest) -> Result<Value, HttpError> {
    let method = Method::from_bytes(req.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| HttpError::Invalid(format!("Invalid HTTP method '{}'", req.method)))?;
    let url = check_url(&req.url, req)?;
    let mut headers = HeaderMap::new();
    for (name, value) in &req.headers {
        let n = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| HttpError::Invalid(format!("Invalid header name '{name}'")))?;
        let v = HeaderValue::from_str(value)
            .map_err(|_| HttpError::Invalid(format!("Invalid value for header '{name}'")))?;
        headers.append(n, v);
    }
    let body: Option<Vec<u8>> = match &req.body {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(s.clone().into_bytes()),
        Some(other) => {
            if !headers.contains_key(reqwest::header::CONTENT_TYPE) {
                headers.insert(
                    reqwest::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
            }
            Some(other.to_string().into_bytes())
        }
    };
    let timeout = req.timeout;
    match tokio::time::timeout(
        timeout,
        send_following(client, req, method, url, headers, body),
    )
    .await
    {
        Ok(r) => r,
        Err(_) => Err(HttpError::Timeout {
            url: req.url.clone(),
            secs: format_secs(timeout),
        }),
    }
}

fn format_secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{}", s as u64)
    } else {
        format!("{s}")
    }
}

async fn send_following(
    client: &reqwest::Client,
    req: &HttpRequest,
    mut method: Method,
    mut url: Url,
    mut headers: HeaderMap,
    mut body: Option<Vec<u8>>,
) -> Result<Value, HttpError> {
    let mut hops = 0;
    loop {
        let mut builder = client
            .request(method.clone(), url.clone())
            .headers(headers.clone());
        if let Some(b) = &body {
            builder = builder.body(b.clone());
        }
        let resp = builder
            .send()
            .await
            .map_err(|e| transport_error(&req.url, &e))?;
        let status = resp.status();
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        if let (true, Some(location)) = (status.is_redirection(), location) {
            hops += 1;
            if hops > MAX_REDIRECTS {
                return Err(HttpError::Connection {
                    url: req.url.clone(),
                    cause: format!("more than {MAX_REDIRECTS} redirects"),
                });
            }
            let next = url.join(&location).map_err(|e| HttpError::Connection {
                url: req.url.clone(),
                cause: format!("bad redirect location: {e}"),
            })?;
            let next = check_url(next.as_str(), req)?;
            if next.host_str() != url.host_str()
                || next.port_or_known_default() != url.port_or_known_default()
            {
                for h in [
                    reqwest::header::AUTHORIZATION,
                    reqwest::header::COOKIE,
                    reqwest::header::PROXY_AUTHORIZATION,
                ] {
                    headers.remove(h);
                }
            }
            let keeps_method = matches!(
                status,
                StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT
            );
            if !keeps_method && method != Method::HEAD {
                method = Method::GET;
                body = None;
                headers.remove(reqwest::header::CONTENT_TYPE);
                headers.remove(reqwest::header::CONTENT_LENGTH);
            }
            url = next;
            continue;
        }
        return read_response(resp, &req.url).await;
    }
}

fn transport_error(url: &str, e: &reqwest::Error) -> HttpError {
    // Drop reqwest's own "error sending request for url (…)" wrapper: we name the URL ourselves.
    let cause = match std::error::Error::source(e) {
        Some(src) => cause_chain(src),
        None => e.to_string(),
    };
    HttpError::Connection {
        url: url.to_string(),
        cause,
    }
}

async fn read_response(mut resp: reqwest::Response, url: &str) -> Result<Value, HttpError> {
    let status = resp.status().as_u16();
    let mut headers = Map::new();
    for (name, value) in resp.headers() {
        let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match headers.get_mut(name.as_str()) {
            Some(Value::String(prev)) => {
                prev.push_str(", ");
                prev.push_str(&v);
            }
            _ => {
                headers.insert(name.as_str().to_string(), Value::String(v));
            }
        }
    }
    let mut bytes: Vec<u8> = Vec::new();
    let mut truncated = false;
    while let Some(chunk) = resp.chunk().await.map_err(|e| transport_error(url, &e))? {
        let room = MAX_BODY_BYTES - bytes.len();
        if chunk.len() > room {
            bytes.extend_from_slice(&chunk[..room]);
            truncated = true;
            break;
        }
        bytes.extend_from_slice(&chunk);
    }
    let body = if bytes.is_empty() {
        Value::String(String::new())
    } else if truncated {
        Value::String(String::from_utf8_lossy(&bytes).into_owned())
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    let mut out = json!({"status_code": status, "headers": headers, "body": body});
    if truncated {
        out["truncated"] = Value::Bool(true);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn host_patterns() {
        assert!(host_matches("api.example.com", "api.example.com"));
        assert!(host_matches("API.Example.com.", "api.example.com"));
        assert!(!host_matches("api.example.com", "example.com"));
        assert!(host_matches("api.example.com", "*.example.com"));
        assert!(host_matches("a.b.example.com", "*.example.com"));
        assert!(!host_matches("example.com", "*.example.com"));
        assert!(!host_matches("badexample.com", "*.example.com"));
        assert!(host_matches("anything.org", "*"));
        assert!(host_matches("[::1]", "::1"));
        assert!(!host_matches("example.com", ""));
        assert!(!host_matches("example.com", "*."));
    }

    #[test]
    fn allow_and_deny_lists() {
        assert!(host_allowed("x.org", &[], &[]));
        assert!(host_allowed(
            "a.example.com",
            &list(&["*.example.com"]),
            &[]
        ));
        assert!(!host_allowed(
            "x.org",
            &list(&["*.example.com", "y.org"]),
            &[]
        ));
        assert!(!host_allowed(
            "a.example.com",
            &list(&["*.example.com"]),
            &list(&["a.example.com"])
        ));
        assert!(!host_allowed("x.org", &[], &list(&["*"])));
        assert!(host_allowed(
            "y.org",
            &list(&["y.org"]),
            &list(&["*.y.org"])
        ));
    }

    #[test]
    fn config_is_read() {
        let cfg = json!({
            "url": " http://h/x ", "method": "post", "headers": {"X-A": "1", "X-N": 2},
            "body": {"k": 1}, "timeout": 500, "allow_hosts": "a.org, *.b.org", "deny_hosts": ["c.org"]
        });
        let req = HttpRequest::from_config(cfg.as_object().expect("object")).expect("valid");
        assert_eq!(req.method, "POST");
        assert_eq!(req.url, "http://h/x");
        assert_eq!(
            req.headers,
            vec![
                ("X-A".to_string(), "1".to_string()),
                ("X-N".to_string(), "2".to_string())
            ]
        );
        assert_eq!(req.body, Some(json!({"k": 1})));
        assert_eq!(req.timeout, Duration::from_secs(300));
        assert_eq!(req.allow_hosts, list(&["a.org", "*.b.org"]));
        assert_eq!(req.deny_hosts, list(&["c.org"]));
        let empty = HttpRequest::from_config(&Map::new());
        assert_eq!(empty, Err(HttpError::Invalid("No URL provided".into())));
        assert_eq!(timeout_from(None), Duration::from_secs(30));
        assert_eq!(
            timeout_from(Some(&json!("2.5"))),
            Duration::from_millis(2500)
        );
    }

    #[test]
    fn urls_are_checked() {
        let req = HttpRequest {
            deny_hosts: list(&["*.internal"]),
            ..HttpRequest::new("")
        };
        assert!(matches!(
            check_url("ftp://x.org/f", &req),
            Err(HttpError::Invalid(_))
        ));
        assert!(matches!(
            check_url("not a url", &req),
            Err(HttpError::Invalid(_))
        ));
        assert_eq!(
            check_url("https://db.internal/x", &req).map(|u| u.to_string()),
            Err(HttpError::HostNotAllowed("db.internal".into()))
        );
        assert!(check_url("https://x.org/a?b=1", &req).is_ok());
    }
}
