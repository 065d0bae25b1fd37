//! The node-type registry: one table, read by the validator, the API
//! (`GET /workflows/node-types/`), the DSL compiler and the UI (engine.md §1, tools.md §0/§8).

use serde::Serialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::LazyLock;

/// How a node type takes part in a workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Starts executions; never scheduled as a step.
    Trigger,
    /// Scheduled as a step when reached.
    Step,
    /// Attached to an AI node by a labelled edge (`llm`, `output_parser`, `skill`).
    SubComponent,
    /// Contributes tools to an agent through a `tool` edge.
    Tool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Port {
    pub name: &'static str,
    pub data_type: &'static str,
    pub description: &'static str,
    pub required: bool,
    #[schema(value_type = Object)]
    pub default: Value,
    #[schema(value_type = Object)]
    pub port_schema: Value,
}

/// What `GET /workflows/node-types/` answers per component type.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NodeTypeSpec {
    pub component_type: &'static str,
    pub display_name: &'static str,
    pub description: &'static str,
    pub category: &'static str,
    pub kind: Kind,
    pub inputs: Vec<Port>,
    pub outputs: Vec<Port>,
    pub requires_model: bool,
    pub requires_tools: bool,
    pub requires_memory: bool,
    pub requires_output_parser: bool,
    pub requires_skills: bool,
    pub executable: bool,
    /// JSON Schema of the node's `extra_config`.
    #[schema(value_type = Object)]
    pub config_schema: Value,
    /// LLM-facing tool names this node contributes (tool nodes only).
    pub tool_names: Vec<&'static str>,
}

impl NodeTypeSpec {
    pub fn is_trigger(&self) -> bool {
        self.kind == Kind::Trigger
    }
    pub fn is_tool(&self) -> bool {
        self.kind == Kind::Tool
    }
    /// Scheduled as a step (not a trigger, sub-component or tool).
    pub fn is_step(&self) -> bool {
        self.kind == Kind::Step
    }
    /// The AI types: the ones that need a model.
    pub fn is_ai(&self) -> bool {
        self.requires_model
    }
    pub fn first_input_type(&self) -> Option<&'static str> {
        self.inputs.first().map(|p| p.data_type)
    }
    pub fn first_output_type(&self) -> Option<&'static str> {
        self.outputs.first().map(|p| p.data_type)
    }
}

fn port(name: &'static str, data_type: &'static str, required: bool) -> Port {
    Port {
        name,
        data_type,
        description: "",
        required,
        default: Value::Null,
        port_schema: Value::Null,
    }
}

/// Builder: keeps the table below one line per fact.
struct B(NodeTypeSpec);

impl B {
    fn new(
        kind: Kind,
        ct: &'static str,
        display: &'static str,
        category: &'static str,
        desc: &'static str,
    ) -> B {
        B(NodeTypeSpec {
            component_type: ct,
            display_name: display,
            description: desc,
            category,
            kind,
            inputs: vec![],
            outputs: vec![],
            requires_model: false,
            requires_tools: false,
            requires_memory: false,
            requires_output_parser: false,
            requires_skills: false,
            // Tools are "executable" in the catalogue (engine.md §1) but never scheduled.
            executable: matches!(kind, Kind::Step | Kind::Tool),
            config_schema: json!({"type": "object", "properties": {}}),
            tool_names: vec![],
        })
    }
    fn input(mut self, name: &'static str, t: &'static str, required: bool) -> B {
        self.0.inputs.push(port(name, t, required));
        self
    }
    fn output(mut self, name: &'static str, t: &'static str) -> B {
        self.0.outputs.push(port(name, t, false));
        self
    }
    fn ai(mut self) -> B {
        self.0.requires_model = true;
        self
    }
    fn with_tools(mut self) -> B {
        self.0.requires_tools = true;
        self.0.requires_skills = true;
        self
    }
    fn props(mut self, props: Value, required: &[&str]) -> B {
        let mut schema = Map::new();
        schema.insert("type".into(), json!("object"));
        schema.insert("properties".into(), props);
        if !required.is_empty() {
            schema.insert("required".into(), json!(required));
        }
        self.0.config_schema = Value::Object(schema);
        self
    }
    fn tools(mut self, names: &[&'static str]) -> B {
        self.0.tool_names = names.to_vec();
        self
    }
}

fn agent_props() -> Value {
    json!({
        "conversation_memory": {"type": "boolean", "default": false},
        "max_steps": {"type": "integer", "minimum": 1, "default": 25},
        "input_template": {"type": "string"}
    })
}

fn trigger(ct: &'static str, display: &'static str, desc: &'static str) -> B {
    B::new(Kind::Trigger, ct, display, "trigger", desc)
}
fn step(ct: &'static str, display: &'static str, category: &'static str, desc: &'static str) -> B {
    B::new(Kind::Step, ct, display, category, desc)
}
fn tool(ct: &'static str, display: &'static str, desc: &'static str, names: &[&'static str]) -> B {
    B::new(Kind::Tool, ct, display, "tool", desc)
        .output("result", "string")
        .tools(names)
}

fn build() -> Vec<NodeTypeSpec> {
    use Kind::*;
    let rules = json!({"type": "array", "items": {"type": "object"}});
    let v = vec![
        // Triggers
        trigger("trigger_manual", "Manual trigger", "Starts an execution from the API or UI.").output("payload", "object"),
        trigger("trigger_chat", "Chat trigger", "Starts an execution from a chat message.")
            .output("text", "string").output("files", "array").output("payload", "object"),
        trigger("trigger_workflow", "Workflow trigger", "Starts when a parent workflow calls this one.")
            .output("text", "string").output("payload", "object"),
        trigger("trigger_telegram", "Telegram trigger", "Starts from a Telegram message.")
            .output("text", "string").output("payload", "object"),
        trigger("trigger_schedule", "Schedule trigger", "Starts on an interval or cron schedule.")
            .output("timestamp", "string").output("payload", "object"),
        trigger("trigger_error", "Error trigger", "Starts when a workflow that names this one as error handler fails.")
            .output("payload", "object"),
        trigger("trigger_webhook", "Webhook trigger", "Starts from an HTTP POST to the workflow's webhook URL.")
            .output("payload", "object"),
        // AI
        step("agent", "Agent", "ai", "An LLM agent that can call tools.").ai().with_tools()
            .input("messages", "messages", true).output("messages", "messages").output("output", "string")
            .props(agent_props(), &[]),
        step("deep_agent", "Deep agent", "ai", "An agent with planning, a filesystem and sub-agents.").ai().with_tools()
            .input("messages", "messages", true).output("messages", "messages").output("output", "string")
            .props(json!({
                "conversation_memory": {"type": "boolean", "default": false},
                "max_steps": {"type": "integer", "minimum": 1},
                "input_template": {"type": "string"},
                "enable_filesystem": {"type": "boolean"},
                "filesystem_backend": {"type": "string"},
                "filesystem_root_dir": {"type": "string"},
                "enable_todos": {"type": "boolean"},
                "subagents": {"type": "array"}
            }), &[]),
        step("categorizer", "Categorizer", "ai", "Classifies the input into one of a set of categories.").ai()
            .input("messages", "messages", true).output("category", "string")
            .props(json!({"categories": {"type": "array"}, "input_template": {"type": "string"}}), &[]),
        step("router", "Router", "ai", "Lets a model pick the next route.").ai()
            .input("messages", "messages", true).output("route", "string")
            .props(json!({"input_template": {"type": "string"}}), &[]),
        step("extractor", "Extractor", "ai", "Extracts structured data from text.").ai()
            .input("messages", "messages", true).output("output", "object")
            .props(json!({"extraction_schema": {"type": "object"}, "input_template": {"type": "string"}}), &[]),
        // Logic and flow
        step("code", "Code", "logic", "Runs a Python snippet in a sandbox.")
            .input("input", "any", false).output("output", "any")
            .props(json!({
                "code": {"type": "string"},
                "language": {"type": "string", "enum": ["python"], "default": "python"},
                "timeout": {"type": "number", "minimum": 1, "default": 60},
                "allow_network": {"type": "boolean", "default": false}
            }), &[]),
        step("switch", "Switch", "logic", "Routes by rules over the execution context.")
            .input("input", "any", true).output("route", "string")
            .props(json!({
                "rules": rules.clone(),
                "enable_fallback": {"type": "boolean", "default": false},
                "condition_field": {"type": "string"},
                "condition_expression": {"type": "string"}
            }), &[]),
        step("loop", "Loop", "logic", "Runs its body once per item.")
            .input("items", "array", true).output("results", "array")
            .props(json!({
                "source_node": {"type": "string"},
                "field": {"type": "string"},
                "max_iterations": {"type": "integer", "minimum": 1},
                "on_error": {"type": "string", "enum": ["stop", "continue"], "default": "stop"}
            }), &[]),
        step("workflow", "Sub-workflow", "logic", "Runs another workflow and waits for its output.")
            .input("payload", "any", false).output("output", "any")
            .props(json!({
                "target_workflow": {"type": "string"},
                "trigger_mode": {"type": "string", "enum": ["implicit", "explicit"], "default": "implicit"},
                "input_mapping": {"type": "object"}
            }), &["target_workflow"]),
        step("human_confirmation", "Human confirmation", "logic", "Pauses until a person confirms or rejects.")
            .input("prompt", "string", false).output("confirmed", "boolean").output("user_response", "string")
            .props(json!({"prompt": {"type": "string", "default": "Please confirm to proceed."}}), &[]),
        step("merge", "Merge", "logic", "Waits for every incoming branch and merges their outputs.")
            .input("branches", "any", true).output("merged", "any")
            .props(json!({
                "mode": {"type": "string", "enum": ["append", "combine"], "default": "append"},
                "source_nodes": {"type": "array", "items": {"type": "string"}}
            }), &[]),
        step("wait", "Wait", "logic", "Delays its successors.")
            .input("input", "any", false).output("output", "string")
            .props(json!({
                "duration": {"type": "number", "minimum": 0, "default": 0},
                "unit": {"type": "string", "enum": ["seconds", "minutes", "hours"], "default": "seconds"}
            }), &[]),
        step("reply_chat", "Reply", "logic", "Sets the execution's reply.")
            .input("input", "any", false).output("output", "string")
            .props(json!({"message": {"type": "string"}}), &[]),
        step("filter", "Filter", "logic", "Keeps the list items that match every rule.")
            .input("input", "array", true).output("filtered", "array")
            .props(json!({"source_node": {"type": "string"}, "field": {"type": "string"}, "rules": rules}), &[]),
        step("identify_user", "Identify user", "logic", "Resolves the user behind a channel message.")
            .input("input", "any", false).output("output", "object")
            .props(json!({"channel": {"type": "string", "default": ""}}), &[]),
        step("text_template", "Text template", "logic", "Renders a Jinja template over the execution context.")
            .input("input", "any", false).output("output", "string")
            .props(json!({"template": {"type": "string"}}), &["template"]),
        step("http_request", "HTTP request", "integration", "Calls an HTTP endpoint (a tool when wired to an agent).")
            .input("input", "any", false).output("output", "object")
            .props(http_props(), &["url"]).tools(&["http_request"]),
        // Sub-components
        B::new(SubComponent, "ai_model", "AI model", "model", "The model and credential an AI node uses.")
            .output("model", "object"),
        B::new(SubComponent, "output_parser", "Output parser", "model", "Parses an AI node's output.")
            .output("parser", "object"),
        B::new(SubComponent, "skill", "Skill", "model", "Instructions an agent can load.")
            .output("skill", "object")
            .props(json!({"skill_path": {"type": "string"}, "skill_source": {"type": "string"}}), &[]),
        // Tools: registry bundles and single tools (tools.md §0, §8)
        tool("epic_tools", "Epic tools", "create_epic, epic_status, update_epic, search_epics.",
            &["create_epic", "epic_status", "update_epic", "search_epics"]),
        tool("task_tools", "Task tools", "create_task, list_tasks, update_task, cancel_task.",
            &["create_task", "list_tasks", "update_task", "cancel_task"]),
        tool("epic_create", "Create epic", "The create_epic tool.", &["create_epic"]),
        tool("epic_status", "Epic status", "The epic_status tool.", &["epic_status"]),
        tool("epic_update", "Update epic", "The update_epic tool.", &["update_epic"]),
        tool("epic_search", "Search epics", "The search_epics tool.", &["search_epics"]),
        tool("task_create", "Create task", "The create_task tool.", &["create_task"]),
        tool("task_list", "List tasks", "The list_tasks tool.", &["list_tasks"]),
        tool("task_update", "Update task", "The update_task tool.", &["update_task"]),
        tool("task_cancel", "Cancel task", "The cancel_task tool.", &["cancel_task"]),
        tool("spawn_and_await", "Spawn and await", "Runs child workflows in parallel and waits for them.", &["spawn_and_await"]),
        tool("workflow_create", "Create workflow", "Creates a workflow from the YAML DSL.", &["workflow_create"]),
        tool("workflow_discover", "Discover workflows", "Finds reusable workflows by capability.", &["workflow_discover"]),
        tool("memory_read", "Memory read", "Recalls stored facts.", &["recall"])
            .props(json!({"memory_type": {"type": "string", "enum": ["facts", "episodes", "procedures", "all"], "default": "facts"},
                "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
                "min_confidence": {"type": "number", "default": 0.5}}), &[]),
        tool("memory_write", "Memory write", "Stores facts for later.", &["remember"])
            .props(json!({"fact_type": {"type": "string", "enum": ["user_preference", "world_knowledge", "self_knowledge", "correction", "relationship"], "default": "world_knowledge"},
                "overwrite": {"type": "boolean", "default": true}}), &[]),
        tool("whoami", "Who am I", "Tells the agent who it acts for.", &["whoami"]).output("identity", "string"),
        tool("platform_api", "Platform API", "Calls agentry's own API with a scoped key.", &["platform_api"])
            .props(json!({"api_base_url": {"type": "string"}}), &[]),
        tool("run_command", "Run command", "Runs a shell command in the sandbox.", &["run_command"])
            .props(json!({"timeout": {"type": "number", "default": 300}, "allow_network": {"type": "boolean", "default": false}}), &[]),
        tool("get_totp_code", "TOTP code", "Registered for compatibility; contributes no tool.", &[]),
        tool("scheduler_tools", "Scheduler tools", "Registered for compatibility; contributes no tool.", &[]),
        tool("system_health", "System health", "Reports the /health answer.", &["system_health"]),
        tool("calculator", "Calculator", "Evaluates arithmetic expressions.", &["calculator"]),
        tool("code_execute", "Code execute", "Runs Python in the sandbox.", &["code_execute"])
            .props(json!({"timeout_seconds": {"type": "number", "default": 30}, "timeout": {"type": "number"}, "allow_network": {"type": "boolean"}}), &[]),
        tool("web_search", "Web search", "Searches the web through SearXNG.", &["web_search"])
            .props(json!({"url": {"type": "string"}, "max_results": {"type": "integer"}}), &[]),
        tool("datetime", "Date and time", "Tells the current date and time.", &["get_datetime"]),
        tool("ask_human", "Ask a human", "Asks a person and waits for the answer.", &["ask_human"]),
    ];
    v.into_iter().map(|b| b.0).collect()
}

fn http_props() -> Value {
    json!({
        "method": {"type": "string", "enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"], "default": "GET"},
        "url": {"type": "string"},
        "headers": {"type": "object"},
        "body": {},
        "timeout": {"type": "number", "minimum": 0, "maximum": 300, "default": 30},
        "allow_hosts": {"type": "array", "items": {"type": "string"}},
        "deny_hosts": {"type": "array", "items": {"type": "string"}}
    })
}

static REGISTRY: LazyLock<BTreeMap<&'static str, NodeTypeSpec>> =
    LazyLock::new(|| build().into_iter().map(|s| (s.component_type, s)).collect());

/// Every node type, by component type (sorted).
pub fn all() -> &'static BTreeMap<&'static str, NodeTypeSpec> {
    &REGISTRY
}

pub fn get(component_type: &str) -> Option<&'static NodeTypeSpec> {
    REGISTRY.get(component_type)
}

/// Checks `extra_config` against the type's `config_schema`: every declared key that is present
/// must have the declared JSON type (and enum value). Returns one message per problem.
pub fn check_extra_config(spec: &NodeTypeSpec, extra: &Map<String, Value>) -> Vec<String> {
    let Some(props) = spec
        .config_schema
        .get("properties")
        .and_then(Value::as_object)
    else {
        return vec![];
    };
    let mut problems = vec![];
    for (key, schema) in props {
        let Some(value) = extra.get(key) else {
            continue;
        };
        if value.is_null() {
            continue;
        }
        if let Some(want) = schema.get("type").and_then(Value::as_str)
            && !json_type_matches(want, value)
        {
            problems.push(format!(
                "config.extra_config.{key}: expected {want}, got {}",
                json_type_name(value)
            ));
            continue;
        }
        if let Some(options) = schema.get("enum").and_then(Value::as_array)
            && !options.contains(value)
        {
            let list: Vec<String> = options.iter().map(|o| o.to_string()).collect();
            problems.push(format!(
                "config.extra_config.{key}: must be one of {}",
                list.join(", ")
            ));
        }
    }
    problems
}

fn json_type_matches(want: &str, value: &Value) -> bool {
    match want {
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        _ => true,
    }
}

pub fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_has_every_catalogue_type() {
        for ct in [
            "trigger_manual",
            "trigger_chat",
            "trigger_workflow",
            "trigger_telegram",
            "trigger_schedule",
            "trigger_error",
            "trigger_webhook",
            "agent",
            "deep_agent",
            "categorizer",
            "router",
            "extractor",
            "code",
            "switch",
            "loop",
            "workflow",
            "human_confirmation",
            "merge",
            "wait",
            "reply_chat",
            "filter",
            "identify_user",
            "text_template",
            "http_request",
            "ai_model",
            "output_parser",
            "skill",
            "epic_tools",
            "task_tools",
            "spawn_and_await",
            "workflow_create",
            "workflow_discover",
            "memory_read",
            "memory_write",
            "whoami",
            "platform_api",
            "run_command",
            "get_totp_code",
            "scheduler_tools",
            "system_health",
            "epic_create",
            "epic_status",
            "epic_update",
            "epic_search",
            "task_create",
            "task_list",
            "task_update",
            "task_cancel",
            "calculator",
            "code_execute",
            "web_search",
            "datetime",
            "ask_human",
        ] {
            assert!(get(ct).is_some(), "missing {ct}");
        }
        assert!(get("nope").is_none());
    }

    #[test]
    fn kinds_and_flags() {
        let agent = get("agent").expect("agent");
        assert!(agent.is_step() && agent.requires_model && agent.requires_tools);
        assert_eq!(agent.first_input_type(), Some("messages"));
        assert!(get("trigger_chat").expect("t").is_trigger());
        assert!(!get("trigger_chat").expect("t").executable);
        assert!(get("whoami").expect("w").is_tool());
        assert_eq!(get("memory_read").expect("m").tool_names, vec!["recall"]);
        assert!(!get("ai_model").expect("m").executable);
    }

    #[test]
    fn extra_config_types_are_checked() {
        let agent = get("agent").expect("agent");
        let ok = json!({"conversation_memory": true, "unknown": 1});
        assert!(check_extra_config(agent, ok.as_object().expect("obj")).is_empty());
        let bad = json!({"conversation_memory": "yes", "max_steps": 2.5});
        let problems = check_extra_config(agent, bad.as_object().expect("obj"));
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems
                .iter()
                .any(|p| p.contains("conversation_memory") && p.contains("boolean"))
        );
        let wf = get("workflow").expect("wf");
        let bad_enum = json!({"trigger_mode": "sometimes"});
        assert_eq!(
            check_extra_config(wf, bad_enum.as_object().expect("obj")).len(),
            1
        );
    }
}
