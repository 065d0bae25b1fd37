//! Tools that talk HTTP: `http_request` (tools.md §7), `web_search` (SearXNG, §6) and
//! `platform_api` (agentry's own API, §6).

use super::{Tool, ToolCtx, arg};
use crate::nodes::http_request::{HttpRequest, perform, shared_client};
use serde_json::{Value, json};
use std::time::Duration;

pub(super) async fn http_tool(tool: &Tool, args: &Value) -> String {
    let mut config = tool.node.extra().clone();
    config.insert("url".into(), json!(arg(args, "url")));
    let method = arg(args, "method").to_uppercase();
    if !method.is_empty() {
        config.insert("method".into(), json!(method));
    }
    if !arg(args, "body").is_empty() {
        config.insert("body".into(), json!(arg(args, "body")));
    }
    let request = match HttpRequest::from_config(&config) {
        Ok(r) => r,
        Err(e) => return format!("Error: {e}"),
    };
    let client = match shared_client() {
        Ok(c) => c,
        Err(e) => return format!("Error: {e}"),
    };
    match perform(client, &request).await {
        Ok(out) => {
            let status = out.get("status_code").and_then(Value::as_i64).unwrap_or(0);
            let body = match out.get("body") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            format!(
                "HTTP {status}\n{}",
                body.chars().take(4000).collect::<String>()
            )
        }
        Err(e) => format!("Error: {e}"),
    }
}

pub const SEARCH_UNAVAILABLE: &str = "Web search unavailable. Try answering from your knowledge.";

/// SearXNG's JSON API at the tool's `url`: the top results as `**title**\ncontent\nURL: url`
/// blocks separated by blank lines.
pub(super) async fn web_search(tool: &Tool, query: &str) -> String {
    if query.trim().is_empty() {
        return "Error: query is required".into();
    }
    let extra = tool.node.extra();
    let Some(base) = extra
        .get("url")
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty())
    else {
        return SEARCH_UNAVAILABLE.into();
    };
    let max = extra
        .get("max_results")
        .and_then(Value::as_u64)
        .unwrap_or(5)
        .clamp(1, 20) as usize;
    let Ok(client) = shared_client() else {
        return SEARCH_UNAVAILABLE.into();
    };
    let Ok(url) = reqwest::Url::parse_with_params(
        &format!("{}/search", base.trim_end_matches('/')),
        &[("q", query), ("format", "json")],
    ) else {
        return SEARCH_UNAVAILABLE.into();
    };
    let resp = client
        .get(url)
        .timeout(Duration::from_secs(15))
        .send()
        .await;
    let body: Value = match resp {
        Ok(r) if r.status().is_success() => match r.json().await {
            Ok(v) => v,
            Err(_) => return SEARCH_UNAVAILABLE.into(),
        },
        _ => return SEARCH_UNAVAILABLE.into(),
    };
    let blocks: Vec<String> = body
        .get("results")
        .and_then(Value::as_array)
        .map(|rs| {
            rs.iter()
                .take(max)
                .map(|r| {
                    let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").trim();
                    format!("**{}**\n{}\nURL: {}", s("title"), s("content"), s("url"))
                })
                .collect()
        })
        .unwrap_or_default();
    if blocks.is_empty() {
        return "No results found.".into();
    }
    blocks.join("\n\n")
}

/// Calls `{public url}{path}`. The base URL is the server's (never the model's), and `path`
/// must be a path, so the key can only ever reach this platform.
pub(super) async fn platform_api(args: &Value, ctx: &ToolCtx) -> String {
    let method = match arg(args, "method").trim().to_uppercase().as_str() {
        "" => "GET".to_string(),
        m => m.to_string(),
    };
    if !matches!(method.as_str(), "GET" | "POST" | "PATCH" | "DELETE") {
        return json!({"error": format!("Unsupported method: {method}")}).to_string();
    }
    let path = match arg(args, "path").trim() {
        "" => "/openapi.json".to_string(),
        p => p.to_string(),
    };
    if !path.starts_with('/') || path.starts_with("//") || path.contains('\\') {
        return json!({"error": "path must be a path on this platform, starting with '/'", "success": false}).to_string();
    }
    let Some(base) = ctx.env.public_url.as_deref() else {
        return json!({"error": "platform_api is not available: the server has no public URL (--public-url)", "success": false}).to_string();
    };
    let key = match arg(args, "api_key").trim() {
        "" => match ctx.owner_id {
            Some(owner) => match ctx
                .services
                .mint_execution_key(owner, &ctx.execution_id)
                .await
            {
                Ok(k) => k,
                Err(e) => {
                    return json!({"error": format!("cannot issue a key: {e}"), "success": false})
                        .to_string();
                }
            },
            None => String::new(),
        },
        k => k.to_string(),
    };
    let Ok(client) = shared_client() else {
        return json!({"error": "HTTP client unavailable", "success": false}).to_string();
    };
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
    let mut req = client.request(m, &url).timeout(Duration::from_secs(30));
    if !key.is_empty() {
        req = req.bearer_auth(&key);
    }
    if matches!(method.as_str(), "POST" | "PATCH") {
        let body = match arg(args, "body") {
            b if b.trim().is_empty() => "{}".to_string(),
            b => b,
        };
        req = req
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
    }
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) if e.is_timeout() => {
            return json!({"error": "Request timed out", "success": false}).to_string();
        }
        Err(e) => {
            return json!({"error": format!("Request failed: {e}"), "success": false}).to_string();
        }
    };
    let status = resp.status().as_u16();
    let text = match resp.text().await {
        Ok(t) => t,
        Err(e) if e.is_timeout() => {
            return json!({"error": "Request timed out", "success": false}).to_string();
        }
        Err(e) => {
            return json!({"error": format!("Request failed: {e}"), "success": false}).to_string();
        }
    };
    let data = serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text));
    let mut out =
        json!({"status_code": status, "success": (200..300).contains(&status), "data": data});
    if status >= 400 {
        out["error"] = json!(format!("HTTP {status}"));
    }
    out.to_string()
}
