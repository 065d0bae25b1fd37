//! `code`: runs a Python snippet as a function body with variables `state` and `node_outputs`
//! in the sandbox (engine.md §2). Output `{"output": result}`; a JSON-serialisable return value
//! stays structured (agentry improves).

use serde_json::{Map, Value, json};

use crate::node::{NodeCtx, NodeError, NodeOutcome, NodeResult};
use crate::sandbox::{DEFAULT_TIMEOUT_SECS, PythonRun, Sandbox, SandboxError};

pub async fn run(ctx: NodeCtx<'_>) -> NodeResult {
    let cfg = ctx.node.extra();
    let code = strip_code_fence(cfg.get("code").and_then(Value::as_str).unwrap_or(""));
    if code.trim().is_empty() {
        return Err(NodeError::fatal("config_error", "No code provided"));
    }
    let language = cfg
        .get("language")
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or("");
    if !(language.is_empty() || language.eq_ignore_ascii_case("python")) {
        return Err(NodeError::fatal(
            "config_error",
            format!("Language '{language}' not yet supported in sandbox mode"),
        ));
    }
    let timeout_secs = timeout_secs(cfg);
    let allow_network = cfg.get("allow_network").is_some_and(truthy);

    let sandbox = match ctx.env.sandbox.clone() {
        Some(s) => s,
        // The first detection makes a trial run: keep it off the async worker threads.
        None => tokio::task::spawn_blocking(Sandbox::detect)
            .await
            .map_err(|e| {
                NodeError::fatal("sandbox_unavailable", format!("Sandbox unavailable: {e}"))
            })?
            .map_err(sandbox_error)?,
    };
    let state = ctx.state.to_json();
    let node_outputs = state
        .get("node_outputs")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let req = PythonRun {
        code,
        stdin_json: json!({"state": state, "node_outputs": node_outputs}),
        timeout_secs,
        allow_network,
        ..Default::default()
    };
    let out = sandbox.run_python(req).await.map_err(sandbox_error)?;
    Ok(NodeOutcome::output(json!({"output": out.result})))
}

/// Maps a sandbox failure to the node error: none of them is retried (the same snippet fails
/// the same way; an unusable sandbox does not repair itself within seconds).
fn sandbox_error(e: SandboxError) -> NodeError {
    let code = match e {
        SandboxError::Unavailable(_) => "sandbox_unavailable",
        SandboxError::TimedOut { .. } => "timeout",
        SandboxError::Failed { .. } => "code_error",
    };
    NodeError::fatal(code, e.to_string())
}

/// `timeout` in whole seconds (a number or numeric string, rounded up), default 60, at least 1.
fn timeout_secs(cfg: &Map<String, Value>) -> u64 {
    let secs = match cfg.get("timeout") {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match secs {
        Some(s) if s.is_finite() && s > 0.0 => (s.ceil() as u64).max(1),
        _ => DEFAULT_TIMEOUT_SECS,
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::String(s) => matches!(s.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes"),
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        _ => false,
    }
}

/// Removes a surrounding Markdown code fence (```` ```python … ``` ````), if any.
pub fn strip_code_fence(code: &str) -> String {
    let t = code.trim();
    if let Some(rest) = t.strip_prefix("```")
        && let Some(inner) = rest.strip_suffix("```")
    {
        // The rest of the opening line is a language tag.
        return match inner.split_once('\n') {
            Some((_tag, body)) => body.trim_end().to_string(),
            None => inner.trim().to_string(),
        };
    }
    code.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_are_stripped() {
        assert_eq!(strip_code_fence("```python\nreturn 1\n```"), "return 1");
        assert_eq!(
            strip_code_fence("  ```\nx = 1\nreturn x\n```  "),
            "x = 1\nreturn x"
        );
        assert_eq!(strip_code_fence("return 1"), "return 1");
        assert_eq!(strip_code_fence("```\n```"), "");
        assert_eq!(strip_code_fence("```return 2```"), "return 2");
    }

    #[test]
    fn timeouts() {
        let cfg = |v: Value| v.as_object().cloned().unwrap_or_default();
        assert_eq!(timeout_secs(&cfg(json!({}))), 60);
        assert_eq!(timeout_secs(&cfg(json!({"timeout": 2}))), 2);
        assert_eq!(timeout_secs(&cfg(json!({"timeout": "1.5"}))), 2);
        assert_eq!(timeout_secs(&cfg(json!({"timeout": 0}))), 60);
    }
}
