//! Tools that run code in the bubblewrap sandbox (ARCHITECTURE.md): `code_execute` (a fresh
//! directory per call, tools.md §7) and `run_command` (the workflow's persistent workspace,
//! tools.md §6). No network unless the tool node's `extra_config.allow_network` is true.

use super::{Tool, ToolCtx, arg};
use crate::sandbox::{PythonRun, Sandbox, SandboxOutput};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;

const NO_SANDBOX: &str =
    "Error: No sandbox backend available. run_command requires a workspace with sandbox support.";

/// Output kept by `run_command`: longer output keeps its head and tail.
const OUTPUT_LIMIT: usize = 50_000;

async fn sandbox(ctx: &ToolCtx) -> Result<Arc<Sandbox>, String> {
    match ctx.env.sandbox.clone() {
        Some(s) => Ok(s),
        None => match tokio::task::spawn_blocking(Sandbox::detect).await {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(e.to_string()),
        },
    }
}

fn allow_network(tool: &Tool) -> bool {
    tool.node
        .extra()
        .get("allow_network")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn seconds(tool: &Tool, keys: &[&str], default: u64) -> u64 {
    keys.iter()
        .find_map(|k| tool.node.extra().get(*k).and_then(Value::as_f64))
        .map(|s| s.ceil().max(1.0) as u64)
        .unwrap_or(default)
        .clamp(1, 3600)
}

pub(super) async fn code_tool(tool: &Tool, args: &Value, ctx: &ToolCtx) -> String {
    let code = arg(args, "code");
    if code.trim().is_empty() {
        return "Error: No code provided to execute".into();
    }
    let language = match arg(args, "language").trim().to_lowercase().as_str() {
        "" => tool
            .node
            .extra()
            .get("language")
            .and_then(Value::as_str)
            .unwrap_or("python")
            .to_string(),
        l => l.to_string(),
    };
    if !matches!(language.as_str(), "python" | "bash") {
        return format!("Error: Language '{language}' not supported. Use 'python' or 'bash'.");
    }
    let timeout = seconds(tool, &["timeout_seconds", "timeout"], 30);
    let sandbox = match sandbox(ctx).await {
        Ok(s) => s,
        Err(e) => return format!("Error: {e}"),
    };
    match language.as_str() {
        "python" => {
            let run = PythonRun {
                code,
                timeout_secs: timeout,
                allow_network: allow_network(tool),
                ..Default::default()
            };
            match sandbox.run_python(run).await {
                Ok(out) => {
                    let mut text = format!(
                        "stdout:\n{}\nstderr:\n{}\nexit_code: 0",
                        out.stdout, out.stderr
                    );
                    if out.returned {
                        text.push_str(&format!("\nresult: {}", out.result));
                    }
                    text
                }
                Err(crate::sandbox::SandboxError::TimedOut { secs }) => format!(
                    "stdout:\n\nstderr:\nExecution timed out after {secs} seconds\nexit_code: -1"
                ),
                Err(e) => format!("stdout:\n\nstderr:\n{e}\nexit_code: -1"),
            }
        }
        _ => match sandbox
            .run_script("/bin/bash", &code, None, timeout, allow_network(tool))
            .await
        {
            Ok(out) => bash_report(&out, timeout),
            Err(e) => format!("Error: {e}"),
        },
    }
}

fn bash_report(out: &SandboxOutput, timeout: u64) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let code = if out.timed_out {
        stderr = format!("Execution timed out after {timeout} seconds");
        -1
    } else {
        out.exit_code
    };
    let mut text = format!("stdout:\n{stdout}\nstderr:\n{stderr}\nexit_code: {code}");
    if let Some(last) = stdout.lines().rev().find(|l| !l.trim().is_empty())
        && let Ok(v) = serde_json::from_str::<Value>(last.trim())
    {
        text.push_str(&format!("\nresult: {v}"));
    }
    text
}

/// The persistent `/sandbox` of a workflow: `{workspace root}/workflow-{id}`.
fn workspace(ctx: &ToolCtx) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let root = ctx
        .env
        .workspace_root
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("agentry-workspaces"));
    let dir = root.join(format!("workflow-{}", ctx.workflow_id));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)?;
    // bubblewrap binds absolute paths; the data directory may be given relative.
    dir.canonicalize()
}

pub(super) async fn run_command(tool: &Tool, command: &str, ctx: &ToolCtx) -> String {
    if command.trim().is_empty() {
        return "Error: command is required".into();
    }
    let Ok(sandbox) = sandbox(ctx).await else {
        return NO_SANDBOX.into();
    };
    let dir = match workspace(ctx) {
        Ok(d) => d,
        Err(e) => return format!("Error: cannot prepare the workspace: {e}"),
    };
    let timeout = seconds(tool, &["timeout"], 300);
    match sandbox
        .run_script("/bin/sh", command, Some(&dir), timeout, allow_network(tool))
        .await
    {
        Ok(out) => command_report(&out, timeout),
        Err(crate::sandbox::SandboxError::Unavailable(_)) => NO_SANDBOX.into(),
        Err(e) => format!("Error: {e}"),
    }
}

fn command_report(out: &SandboxOutput, timeout: u64) -> String {
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    if out.timed_out {
        text.push_str(&format!("\n[timed out after {timeout} s]"));
    } else if out.exit_code != 0 {
        text.push_str(&format!("\n[exit code: {}]", out.exit_code));
    }
    if text.trim().is_empty() {
        return "(no output)".into();
    }
    shorten_middle(&text, OUTPUT_LIMIT)
}

/// Keeps the first and last `limit / 2` characters of a longer text.
fn shorten_middle(text: &str, limit: usize) -> String {
    let n = text.chars().count();
    if n <= limit {
        return text.to_string();
    }
    let half = limit / 2;
    let head: String = text.chars().take(half).collect();
    let tail: String = text.chars().skip(n - half).collect();
    format!(
        "{head}\n\n... ({} chars truncated) ...\n\n{tail}",
        n - 2 * half
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_output_keeps_head_and_tail() {
        let text = format!(
            "{}{}{}",
            "a".repeat(30_000),
            "b".repeat(1000),
            "c".repeat(30_000)
        );
        let out = shorten_middle(&text, OUTPUT_LIMIT);
        assert!(out.starts_with(&"a".repeat(25_000)));
        assert!(out.ends_with(&"c".repeat(25_000)));
        assert!(out.contains("\n\n... (11000 chars truncated) ...\n\n"));
        assert_eq!(shorten_middle("short", 10), "short");
    }

    #[test]
    fn command_report_marks_exit_codes_and_empty_output() {
        let out = |code: i32, stdout: &str, stderr: &str| SandboxOutput {
            exit_code: code,
            timed_out: false,
            stdout: stdout.as_bytes().to_vec(),
            stderr: stderr.as_bytes().to_vec(),
            stdout_truncated: false,
            stderr_truncated: false,
            duration: std::time::Duration::ZERO,
        };
        assert_eq!(command_report(&out(0, "", ""), 5), "(no output)");
        assert_eq!(command_report(&out(0, "hi\n", ""), 5), "hi\n");
        assert_eq!(
            command_report(&out(2, "", "boom\n"), 5),
            "boom\n\n[exit code: 2]"
        );
    }
}
