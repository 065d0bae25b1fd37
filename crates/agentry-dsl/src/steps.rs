//! One step's node (dsl.md §4, §12's extra keys) and the inline tool / skill entries of §6.
//! Shared by compile (every step) and patch (`add_step`, `add_tool`).

use crate::document::StepType;
use crate::error::DslError;
use crate::graph::{NodeConfig, NodeSpec};
use crate::parse::scalar_text;
use crate::yaml::{Located, Yaml};
use serde_json::{Map, Value, json};

/// Inline tool names (§6 + §0's additions) → component type, in the error text's order.
pub const INLINE_TOOLS: &[(&str, &str)] = &[
    ("run_command", "run_command"),
    ("platform_api", "platform_api"),
    ("whoami", "whoami"),
    ("epic_tools", "epic_tools"),
    ("task_tools", "task_tools"),
    ("spawn_and_await", "spawn_and_await"),
    ("workflow_create", "workflow_create"),
    ("workflow_discover", "workflow_discover"),
    ("scheduler_tools", "scheduler_tools"),
    ("system_health", "system_health"),
    ("get_totp_code", "get_totp_code"),
    ("memory_read", "memory_read"),
    ("memory_write", "memory_write"),
    ("epic_create", "epic_create"),
    ("epic_status", "epic_status"),
    ("epic_update", "epic_update"),
    ("epic_search", "epic_search"),
    ("task_create", "task_create"),
    ("task_list", "task_list"),
    ("task_update", "task_update"),
    ("task_cancel", "task_cancel"),
    ("code", "code_execute"),
    ("http_request", "http_request"),
    ("calculator", "calculator"),
    ("web_search", "web_search"),
    ("datetime", "datetime"),
    ("ask_human", "ask_human"),
];

/// The component type of an inline tool name (`code_execute` is taken as itself too).
pub fn tool_component(name: &str) -> Option<&'static str> {
    if name == "code_execute" {
        return Some("code_execute");
    }
    INLINE_TOOLS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, ct)| *ct)
}

pub fn inline_tool_names() -> String {
    INLINE_TOOLS
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// An inline tool entry, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolEntry {
    pub component_type: &'static str,
    pub extra_config: Map<String, Value>,
    /// `id` in the mapping names the node (§12).
    pub id: Option<String>,
}

/// Why an entry is not a tool: wrong shape, or an unknown type name.
pub enum ToolEntryError {
    Shape(&'static str),
    Unknown(String),
}

/// A tool entry (§6): a type name, or a mapping with `type` whose other keys are the node's
/// `extra_config` (agentry: a `config:` mapping is unwrapped into it, §0; `id` names the node).
pub fn tool_entry(entry: &Located) -> Result<ToolEntry, ToolEntryError> {
    let (name, extra, id) = match &entry.value {
        Yaml::Str(s) => (s.clone(), Map::new(), None),
        Yaml::Map(entries) => {
            let name = entry
                .get("type")
                .map_or(Some("None".to_string()), scalar_text)
                .unwrap_or_default();
            let mut extra = Map::new();
            for (k, v) in entries {
                match k.as_str() {
                    "type" | "id" => {}
                    "config" if v.as_map().is_some() => {
                        if let Value::Object(inner) = v.to_json() {
                            extra.extend(inner);
                        }
                    }
                    _ => {
                        extra.insert(k.clone(), v.to_json());
                    }
                }
            }
            (name, extra, entry.get("id").and_then(scalar_text))
        }
        _ => return Err(ToolEntryError::Shape(entry.python_type_name())),
    };
    match tool_component(&name) {
        Some(ct) => Ok(ToolEntry {
            component_type: ct,
            extra_config: extra,
            id,
        }),
        None => Err(ToolEntryError::Unknown(name)),
    }
}

/// A skill entry (§6): a path, or `{path, source = "filesystem", id?}`.
pub fn skill_entry(entry: &Located) -> Result<(Map<String, Value>, Option<String>), &'static str> {
    let (path, source, id) = match &entry.value {
        Yaml::Str(s) => (s.clone(), "filesystem".to_string(), None),
        Yaml::Map(_) => (
            entry.get("path").and_then(scalar_text).unwrap_or_default(),
            entry
                .get("source")
                .and_then(scalar_text)
                .unwrap_or_else(|| "filesystem".into()),
            entry.get("id").and_then(scalar_text),
        ),
        _ => return Err(entry.python_type_name()),
    };
    let mut extra = Map::new();
    extra.insert("skill_path".into(), Value::String(path));
    extra.insert("skill_source".into(), Value::String(source));
    Ok((extra, id))
}

/// Strips a surrounding Markdown code fence (with an optional language tag) from a snippet.
pub fn strip_fence(code: &str) -> String {
    let t = code.trim();
    if let Some(rest) = t.strip_prefix("```")
        && let Some(inner) = rest.strip_suffix("```")
    {
        // The first line is the (possibly empty) language tag.
        let body = match inner.find('\n') {
            Some(nl) if !inner[..nl].trim().contains(' ') => &inner[nl + 1..],
            Some(_) => inner,
            None => "",
        };
        return body.strip_suffix('\n').unwrap_or(body).to_string();
    }
    code.to_string()
}

fn text(body: &Located, key: &str) -> Option<String> {
    body.get(key).and_then(scalar_text)
}

fn json(body: &Located, key: &str) -> Option<Value> {
    body.get(key).map(Located::to_json)
}

/// First non-empty of `snippet`, `code`, `config.code`, fence-stripped.
pub fn snippet(body: &Located) -> String {
    let from_config = body.get("config").and_then(|c| c.get("code"));
    [body.get("snippet"), body.get("code"), from_config]
        .into_iter()
        .flatten()
        .filter_map(scalar_text)
        .find(|s| !s.is_empty())
        .map(|s| strip_fence(&s))
        .unwrap_or_default()
}

/// The node config a DSL step type builds (§4), plus `interrupt_before` for human steps and
/// the target slug of a workflow step. `extra_config`/`label`/… are applied by the caller.
pub struct Built {
    pub config: NodeConfig,
    pub interrupt_before: bool,
    pub subworkflow_slug: Option<String>,
}

/// Builds §4's config for `ty` from the step mapping. `id` is for error texts.
pub fn build_step_config(ty: StepType, body: &Located, id: &str) -> Result<Built, Vec<DslError>> {
    let mut config = NodeConfig::default();
    let mut extra = Map::new();
    let mut interrupt_before = false;
    let mut subworkflow_slug = None;
    let mut errors = vec![];
    let prompt = || text(body, "prompt").or_else(|| text(body, "system_prompt"));
    match ty {
        StepType::Code => {
            extra.insert("code".into(), Value::String(snippet(body)));
            let language = text(body, "language")
                .or_else(|| {
                    body.get("config")
                        .and_then(|c| c.get("language"))
                        .and_then(scalar_text)
                })
                .unwrap_or_else(|| "python".into());
            extra.insert("language".into(), Value::String(language));
        }
        StepType::Agent | StepType::DeepAgent => {
            config.system_prompt = prompt().unwrap_or_default();
            if body.get("memory").is_some_and(Located::is_truthy) {
                extra.insert("conversation_memory".into(), Value::Bool(true));
            }
            if ty == StepType::DeepAgent {
                for key in [
                    "enable_filesystem",
                    "filesystem_backend",
                    "filesystem_root_dir",
                    "enable_todos",
                    "subagents",
                ] {
                    if let Some(v) = body.get(key).filter(|v| v.is_truthy()) {
                        extra.insert(key.into(), v.to_json());
                    }
                }
            }
        }
        StepType::Categorizer => {
            config.system_prompt = prompt().unwrap_or_default();
            if let Some(c) = json(body, "categories") {
                extra.insert("categories".into(), c);
            }
        }
        StepType::Router => config.system_prompt = prompt().unwrap_or_default(),
        StepType::Extractor => {
            config.system_prompt = prompt().unwrap_or_default();
            if let Some(s) = json(body, "schema") {
                extra.insert("extraction_schema".into(), s);
            }
        }
        StepType::Switch => {
            let mut rules = vec![];
            for rule in body
                .get("rules")
                .and_then(Located::as_seq)
                .unwrap_or_default()
            {
                let get = |k: &str| rule.get(k);
                rules.push(json!({
                    "id": get("route").and_then(scalar_text).unwrap_or_default(),
                    "field": get("field").and_then(scalar_text).unwrap_or_default(),
                    "operator": get("operator").and_then(scalar_text).unwrap_or_else(|| "equals".into()),
                    "value": get("value").map_or(Value::String(String::new()), Located::to_json),
                }));
            }
            extra.insert("rules".into(), Value::Array(rules));
            let fallback = text(body, "default").is_some_and(|d| !d.is_empty());
            extra.insert("enable_fallback".into(), Value::Bool(fallback));
        }
        StepType::Loop => {
            let over = match body.get("over") {
                None => String::new(),
                Some(v) => match scalar_text(v) {
                    Some(s) => s,
                    None if v.is_null() => String::new(),
                    None => {
                        errors.push(
                            DslError::build(format!("Loop step '{id}': `over` must be a string"))
                                .step(id)
                                .key("over")
                                .at(v.pos),
                        );
                        String::new()
                    }
                },
            };
            let (source, field) = split_over(&over);
            extra.insert("source_node".into(), Value::String(source));
            extra.insert("field".into(), Value::String(field));
            let max = body
                .get("max_iterations")
                .map_or(json!(100), Located::to_json);
            extra.insert("max_iterations".into(), max);
        }
        StepType::Workflow => {
            let target = text(body, "workflow").or_else(|| text(body, "slug"));
            match target.filter(|t| !t.is_empty()) {
                Some(t) => {
                    extra.insert("target_workflow".into(), Value::String(t.clone()));
                    subworkflow_slug = Some(t);
                }
                None => errors.push(
                    DslError::build(format!(
                        "Workflow step '{id}' requires `workflow` (the target slug)"
                    ))
                    .step(id)
                    .key("workflow")
                    .at(body.pos),
                ),
            }
            extra.insert("trigger_mode".into(), json!("implicit"));
            if let Some(p) = body.get("payload").filter(|p| !p.is_null()) {
                if p.as_map().is_some() {
                    extra.insert("input_mapping".into(), p.to_json());
                } else {
                    errors.push(
                        DslError::build(format!(
                            "Workflow step '{id}': `payload` must be a mapping"
                        ))
                        .step(id)
                        .key("payload")
                        .at(p.pos),
                    );
                }
            }
        }
        StepType::Human => {
            if let Some(m) = text(body, "message") {
                extra.insert("prompt".into(), Value::String(m));
            }
            interrupt_before = true;
        }
        StepType::Transform => {
            extra.insert(
                "template".into(),
                Value::String(text(body, "template").unwrap_or_default()),
            );
        }
        StepType::ReplyChat => {
            let m = text(body, "message").or_else(|| text(body, "template"));
            extra.insert("message".into(), Value::String(m.unwrap_or_default()));
        }
        StepType::Filter => {
            for key in ["rules", "source_node", "field"] {
                if let Some(v) = json(body, key) {
                    extra.insert(key.into(), v);
                }
            }
        }
        StepType::Merge => {}
        StepType::Wait => {
            let duration = body
                .get("duration")
                .or_else(|| body.get("delay"))
                .map_or(json!(0), Located::to_json);
            let unit = text(body, "unit")
                .or_else(|| text(body, "delay_unit"))
                .unwrap_or_else(|| "seconds".into());
            extra.insert("duration".into(), duration);
            extra.insert("unit".into(), Value::String(unit));
        }
        StepType::IdentifyUser => {
            extra.insert(
                "channel".into(),
                Value::String(text(body, "channel").unwrap_or_default()),
            );
        }
        StepType::Http => {
            match text(body, "url").filter(|u| !u.is_empty()) {
                Some(u) => {
                    extra.insert("url".into(), Value::String(u));
                }
                None => errors.push(
                    DslError::build(format!("Step '{id}' (http) requires `url`"))
                        .step(id)
                        .key("url")
                        .at(body.pos),
                ),
            }
            extra.insert(
                "method".into(),
                Value::String(text(body, "method").unwrap_or_else(|| "GET".into())),
            );
            for key in ["headers", "body", "timeout"] {
                if let Some(v) = json(body, key) {
                    extra.insert(key.into(), v);
                }
            }
        }
    }
    config.extra_config = extra;
    if errors.is_empty() {
        Ok(Built {
            config,
            interrupt_before,
            subworkflow_slug,
        })
    } else {
        Err(errors)
    }
}

/// `over` (§5): surrounding `{{ }}` and spaces removed, split at the first `.`; no dot →
/// field `output`; empty → `("", "")`.
pub fn split_over(over: &str) -> (String, String) {
    let mut s = over.trim();
    s = s.strip_prefix("{{").unwrap_or(s);
    s = s.strip_suffix("}}").unwrap_or(s);
    let s = s.trim();
    if s.is_empty() {
        return (String::new(), String::new());
    }
    match s.split_once('.') {
        Some((a, b)) => (a.trim().to_string(), b.trim().to_string()),
        None => (s.to_string(), "output".to_string()),
    }
}

/// Applies the keys any step may carry (§12): `label`, `entry`, `interrupt_before`,
/// `interrupt_after`, `extra_config` (merged over what the type built), `position`,
/// `subworkflow` / `subworkflow_id`. `entry` returns the override, if any.
pub fn apply_common_keys(
    node: &mut NodeSpec,
    body: &Located,
    errors: &mut Vec<DslError>,
) -> Option<bool> {
    let flag = |k: &str| body.get(k).map(Located::is_truthy);
    if let Some(l) = text(body, "label") {
        node.label = l;
    }
    if let Some(b) = flag("interrupt_before") {
        node.interrupt_before = b;
    }
    if let Some(b) = flag("interrupt_after") {
        node.interrupt_after = b;
    }
    if let Some(e) = body.get("extra_config").filter(|e| !e.is_null()) {
        match e.to_json() {
            Value::Object(m) => node.config.extra_config.extend(m),
            _ => errors.push(
                DslError::build(format!(
                    "Step '{}': `extra_config` must be a mapping",
                    node.node_id
                ))
                .step(&node.node_id)
                .key("extra_config")
                .at(e.pos),
            ),
        }
    }
    if let Some(p) = body.get("position") {
        let xy: Vec<i64> = match &p.value {
            Yaml::Seq(items) => items.iter().filter_map(|v| v.to_json().as_i64()).collect(),
            Yaml::Map(_) => ["x", "y"]
                .iter()
                .filter_map(|k| p.get(k).and_then(|v| v.to_json().as_i64()))
                .collect(),
            _ => vec![],
        };
        if let [x, y] = xy[..] {
            node.position_x = x;
            node.position_y = y;
        }
    }
    if let Some(s) = text(body, "subworkflow") {
        node.subworkflow_slug = Some(s);
    }
    if let Some(i) = body
        .get("subworkflow_id")
        .and_then(|v| v.to_json().as_i64())
    {
        node.subworkflow_id = Some(i);
    }
    flag("entry")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_are_stripped() {
        assert_eq!(strip_fence("```python\nreturn 1\n```"), "return 1");
        assert_eq!(strip_fence("```\nx = 1\ny = 2\n```\n"), "x = 1\ny = 2");
        assert_eq!(strip_fence("return 1"), "return 1");
        assert_eq!(strip_fence("  keep  "), "  keep  ");
    }

    #[test]
    fn over_is_split() {
        assert_eq!(
            split_over("{{ fetch.output }}"),
            ("fetch".into(), "output".into())
        );
        assert_eq!(
            split_over("fetch.result.items"),
            ("fetch".into(), "result.items".into())
        );
        assert_eq!(split_over("{{fetch}}"), ("fetch".into(), "output".into()));
        assert_eq!(split_over(" {{ }} "), (String::new(), String::new()));
    }
}
