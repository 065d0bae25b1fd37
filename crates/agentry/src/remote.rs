//! `apply` and `export`: the DSL through a running server's API (engine.md §12), so ownership,
//! the one-transaction apply and the events are the server's. Errors are printed one per line
//! as `FILE:LINE:COLUMN: message` (compiler style) when the document has a position for them.

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

fn client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .context("cannot build the HTTP client")
}

fn url(server: &str, path: &str) -> String {
    format!("{}/api/v1{path}", server.trim_end_matches('/'))
}

/// Sends a request; answers `(status, JSON body)`.
async fn send(req: reqwest::RequestBuilder, server: &str) -> Result<(u16, Value)> {
    let resp = req
        .send()
        .await
        .with_context(|| format!("cannot reach the agentry server at {server}"))?;
    let status = resp.status().as_u16();
    let text = resp.text().await.context("cannot read the answer")?;
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok((status, body))
}

fn detail(body: &Value) -> String {
    match &body["detail"] {
        Value::String(s) => s.clone(),
        Value::Null => body.to_string(),
        other => other.to_string(),
    }
}

/// `FILE:LINE:COLUMN: message` for each error of a rejected document.
pub fn error_lines(file: &str, body: &Value) -> Vec<String> {
    let Some(details) = body["error_details"].as_array().filter(|d| !d.is_empty()) else {
        return vec![format!("{file}: {}", detail(body))];
    };
    details
        .iter()
        .map(|d| {
            let message = d["message"].as_str().unwrap_or("invalid document");
            match (d["line"].as_u64(), d["column"].as_u64()) {
                (Some(l), Some(c)) => format!("{file}:{l}:{c}: {message}"),
                (Some(l), None) => format!("{file}:{l}: {message}"),
                _ => format!("{file}: {message}"),
            }
        })
        .collect()
}

pub async fn apply(file: &Path, server: &str, api_key: &str) -> Result<()> {
    let example = file
        .to_str()
        .and_then(|f| f.strip_prefix("example:"))
        .map(|n| {
            agentry_service::dsl::example(n)
                .with_context(|| format!("no example '{n}' (see `agentry examples`)"))
        })
        .transpose()?;
    let (name, text) = if let Some(e) = example {
        (format!("example:{}", e.name), e.yaml_str.to_string())
    } else if file.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read standard input")?;
        ("<stdin>".to_string(), text)
    } else {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        (file.display().to_string(), text)
    };
    let req = client()?
        .post(url(server, "/workflows/dsl/"))
        .bearer_auth(api_key)
        .json(&json!({ "yaml_str": text }));
    let (status, body) = send(req, server).await?;
    match status {
        201 => {
            println!("{}", serde_json::to_string_pretty(&body)?);
            Ok(())
        }
        422 if body.get("errors").is_some() => {
            let lines = error_lines(&name, &body);
            for line in &lines {
                eprintln!("{line}");
            }
            bail!(
                "{name}: not applied ({} error{}); nothing was created",
                lines.len(),
                if lines.len() == 1 { "" } else { "s" }
            )
        }
        _ => bail!("HTTP {status}: {}", detail(&body)),
    }
}

/// `agentry examples [NAME]`: the list, or one document on standard output.
pub fn examples(name: Option<&str>) -> Result<()> {
    use agentry_service::dsl::{EXAMPLES, example};
    let mut out = std::io::stdout().lock();
    match name {
        None => {
            for e in EXAMPLES {
                writeln!(out, "{:<14} {}", e.name, e.description)?;
            }
            writeln!(
                out,
                "\nPrint one with `agentry examples NAME`; apply one with `agentry apply example:NAME`."
            )?;
        }
        Some(n) => {
            let e =
                example(n).with_context(|| format!("no example '{n}' (see `agentry examples`)"))?;
            out.write_all(e.yaml_str.as_bytes())?;
        }
    }
    out.flush()?;
    Ok(())
}

pub async fn export(slug: &str, output: Option<&Path>, server: &str, api_key: &str) -> Result<()> {
    let req = client()?
        .get(url(server, &format!("/workflows/{slug}/dsl/")))
        .bearer_auth(api_key);
    let (status, body) = send(req, server).await?;
    if status != 200 {
        bail!("HTTP {status}: {}", detail(&body));
    }
    let yaml = body["yaml_str"]
        .as_str()
        .context("the server answered without `yaml_str`")?;
    match output {
        Some(path) => std::fs::write(path, yaml)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(yaml.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_printed_with_their_position() {
        let body = json!({"detail": "x", "errors": ["a", "b"], "error_details": [
            {"message": "Duplicate step ID 'a' in step 1", "line": 4, "column": 10},
            {"message": "No position"}]});
        assert_eq!(
            error_lines("f.yaml", &body),
            [
                "f.yaml:4:10: Duplicate step ID 'a' in step 1",
                "f.yaml: No position"
            ]
        );
        assert_eq!(
            error_lines("f.yaml", &json!({"detail": "d", "errors": []})),
            ["f.yaml: d"]
        );
    }
}
