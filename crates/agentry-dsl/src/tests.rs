//! Whole-pipeline tests: the worked examples of dsl.md §11 exactly, every step and trigger
//! type, tools, models, patches and the export round trip.

use crate::*;
use agentry_core::graph::{EdgeLabel, EdgeType};
use serde_json::{Value, json};

fn compiled(text: &str) -> CompiledWorkflow {
    compile_text(text).unwrap_or_else(|e| panic!("{:?}", error::texts(&e)))
}

fn messages(text: &str) -> Vec<String> {
    match compile_text(text) {
        Ok(c) => panic!("expected errors, got {:?}", c.graph),
        Err(e) => e.iter().map(|e| e.message.clone()).collect(),
    }
}

/// A resolver without credentials: explicit specs pass through, inherit has no parent.
fn resolve(spec: &ModelRef) -> Result<ResolvedModel, String> {
    Ok(match spec {
        ModelRef::None => ResolvedModel::default(),
        ModelRef::Inherit { otherwise } => return resolve(otherwise),
        ModelRef::Explicit {
            credential_id,
            model_name,
            temperature,
        } => ResolvedModel {
            credential_id: Some(*credential_id),
            model_name: Some(model_name.clone()),
            temperature: *temperature,
        },
        ModelRef::Capability { text, temperature } => ResolvedModel {
            credential_id: Some(1),
            model_name: Some(text.clone()),
            temperature: *temperature,
        },
        ModelRef::Discover { .. } => {
            return Err("No LLM credentials available for model discovery".into());
        }
    })
}

fn build(text: &str) -> GraphSnapshot {
    let (g, errors) = compiled(text).finalize(&mut resolve, None);
    assert!(errors.is_empty(), "{:?}", error::texts(&errors));
    g
}

fn ids(g: &GraphSnapshot) -> Vec<&str> {
    g.nodes.iter().map(|n| n.node_id.as_str()).collect()
}

fn edges(g: &GraphSnapshot) -> Vec<String> {
    g.edges
        .iter()
        .map(|e| {
            let mut s = format!("{} -> {}", e.source, e.target);
            if e.edge_type == EdgeType::Conditional {
                s += &format!(" [conditional={}]", e.condition_value);
            } else if e.edge_label != EdgeLabel::Data {
                s += &format!(" [{}]", e.edge_label.as_str());
            }
            s
        })
        .collect()
}

fn node<'a>(g: &'a GraphSnapshot, id: &str) -> &'a NodeSpec {
    g.node(id).unwrap_or_else(|| panic!("no node {id}"))
}

fn extra(n: &NodeSpec) -> Value {
    Value::Object(n.config.extra_config.clone())
}

// ---------- §11 worked examples ----------

const E1: &str = r#"
name: Hello Pipeline
trigger: manual
steps:
  - {id: greet, type: code, snippet: "<code A>"}
"#;

#[test]
fn e1_minimal_linear() {
    let g = build(E1);
    assert_eq!(g.workflow.name, "Hello Pipeline");
    assert_eq!(g.workflow.slug, "hello-pipeline");
    assert_eq!(ids(&g), ["trigger_manual_1", "greet"]);
    assert_eq!(edges(&g), ["trigger_manual_1 -> greet"]);
    let t = node(&g, "trigger_manual_1");
    assert_eq!(
        (t.component_type.as_str(), t.is_entry_point),
        ("trigger_manual", false)
    );
    assert_eq!((t.position_x, t.position_y), (0, 200));
    assert!(t.config.is_active);
    let greet = node(&g, "greet");
    assert_eq!(greet.component_type, "code");
    assert!(greet.is_entry_point);
    assert_eq!((greet.position_x, greet.position_y), (300, 200));
    assert_eq!(
        extra(greet),
        json!({"code": "<code A>", "language": "python"})
    );
}

const E2: &str = r#"
name: Ops Helper
trigger: chat
model: {credential_id: 7, model_name: gpt-4o, temperature: 0.2}
steps:
  - id: helper
    type: agent
    prompt: You operate the platform.
    tools:
      - run_command
      - {type: platform_api, api_base_url: "http://localhost:8000"}
"#;

#[test]
fn e2_agent_with_explicit_model_and_tools() {
    let c = compiled(E2);
    assert_eq!(
        c.workflow_model,
        Some(ModelRef::Explicit {
            credential_id: 7,
            model_name: "gpt-4o".into(),
            temperature: Some(0.2)
        })
    );
    assert_eq!(c.models.len(), 1);
    assert_eq!(c.models[0].source, ModelSource::WorkflowDefault);
    let (g, errors) = c.finalize(&mut resolve, None);
    assert!(errors.is_empty());
    assert_eq!(
        ids(&g),
        [
            "trigger_chat_1",
            "helper",
            "ai_model_helper",
            "run_command_helper_1",
            "platform_api_helper_2"
        ]
    );
    assert_eq!(
        edges(&g),
        [
            "trigger_chat_1 -> helper",
            "ai_model_helper -> helper [llm]",
            "run_command_helper_1 -> helper [tool]",
            "platform_api_helper_2 -> helper [tool]",
        ]
    );
    let helper = node(&g, "helper");
    assert_eq!(helper.component_type, "agent");
    assert!(helper.is_entry_point);
    assert_eq!(helper.config.system_prompt, "You operate the platform.");
    assert_eq!(
        (
            helper.config.llm_credential_id,
            helper.config.model_name.as_str(),
            helper.config.temperature
        ),
        (Some(7), "gpt-4o", Some(0.2))
    );
    assert_eq!(extra(helper), json!({}));
    assert_eq!((helper.position_x, helper.position_y), (300, 200));
    let m = node(&g, "ai_model_helper");
    assert_eq!(m.component_type, "ai_model");
    assert_eq!(
        (
            m.config.llm_credential_id,
            m.config.model_name.as_str(),
            m.config.temperature
        ),
        (Some(7), "gpt-4o", Some(0.2))
    );
    assert_eq!((m.position_x, m.position_y), (250, 350));
    let rc = node(&g, "run_command_helper_1");
    assert_eq!(
        (rc.component_type.as_str(), rc.position_x, rc.position_y),
        ("run_command", 350, 350)
    );
    assert_eq!(extra(rc), json!({}));
    let pa = node(&g, "platform_api_helper_2");
    assert_eq!((pa.position_x, pa.position_y), (350, 430));
    assert_eq!(extra(pa), json!({"api_base_url": "http://localhost:8000"}));
}

const E3: &str = r#"
name: Ticket Router
trigger: chat
steps:
  - {id: normalize, type: code, snippet: "<code A>"}
  - id: route
    type: switch
    rules: [{field: node_outputs.normalize.output, operator: contains, value: refund, route: refunds}]
    default: general
  - {id: refunds, type: code, snippet: "<code B>"}
  - {id: general, type: code, snippet: "<code C>"}
  - {id: wrap_up, type: code, snippet: "<code D>"}
"#;

#[test]
fn e3_switch_with_default_and_dead_end() {
    let g = build(E3);
    assert_eq!(
        ids(&g),
        [
            "trigger_chat_1",
            "normalize",
            "route",
            "refunds",
            "general",
            "wrap_up"
        ]
    );
    assert_eq!(
        edges(&g),
        [
            "trigger_chat_1 -> normalize",
            "normalize -> route",
            "route -> refunds [conditional=refunds]",
            "route -> general [conditional=__other__]",
            "general -> wrap_up",
        ]
    );
    assert_eq!(
        extra(node(&g, "route")),
        json!({
            "rules": [{"id": "refunds", "field": "node_outputs.normalize.output", "operator": "contains", "value": "refund"}],
            "enable_fallback": true
        })
    );
    assert!(
        !g.edges.iter().any(|e| e.source == "refunds"),
        "refunds dead-ends"
    );
}

const E4: &str = r#"
name: Batch Tagger
trigger: manual
steps:
  - {id: fetch, type: code, snippet: "<code returning a list>"}
  - id: each
    type: loop
    over: "{{ fetch.output }}"
    body:
      - {id: tag_one, type: code, snippet: "<code B>"}
      - {snippet: "<code C>"}
  - {id: summarize, type: code, snippet: "<code D>"}
"#;

#[test]
fn e4_loop_with_two_step_body() {
    let g = build(E4);
    assert_eq!(
        ids(&g),
        [
            "trigger_manual_1",
            "fetch",
            "each",
            "tag_one",
            "each_body_2",
            "summarize"
        ]
    );
    assert_eq!(
        edges(&g),
        [
            "trigger_manual_1 -> fetch",
            "fetch -> each",
            "each -> tag_one [loop_body]",
            "tag_one -> each_body_2",
            "each_body_2 -> each [loop_return]",
            "each -> summarize",
        ]
    );
    let pos = |id: &str| (node(&g, id).position_x, node(&g, id).position_y);
    assert_eq!(pos("fetch"), (300, 200));
    assert_eq!(pos("each"), (600, 200));
    assert_eq!(pos("tag_one"), (600, 350));
    assert_eq!(pos("each_body_2"), (800, 350));
    assert_eq!(pos("summarize"), (900, 200));
    assert_eq!(
        extra(node(&g, "each")),
        json!({"source_node": "fetch", "field": "output", "max_iterations": 100})
    );
    let body2 = node(&g, "each_body_2");
    assert_eq!(body2.component_type, "code");
    assert_eq!(
        extra(body2),
        json!({"code": "<code C>", "language": "python"})
    );
    assert!(!body2.is_entry_point && !node(&g, "tag_one").is_entry_point);
}

const E5: &str = r#"
name: Approve And Notify
steps:
  - {type: code, snippet: "<code A>"}
  - {type: human, message: Proceed?}
  - {type: workflow, workflow: notifier, payload: {text: node_outputs.code_1.output}}
  - {type: transform, template: Finished}
"#;

#[test]
fn e5_generated_ids_human_subworkflow_transform() {
    let g = build(E5);
    assert_eq!(
        ids(&g),
        [
            "trigger_workflow_1",
            "code_1",
            "human_confirmation_2",
            "workflow_3",
            "code_4"
        ]
    );
    assert_eq!(
        edges(&g),
        [
            "trigger_workflow_1 -> code_1",
            "code_1 -> human_confirmation_2",
            "human_confirmation_2 -> workflow_3",
            "workflow_3 -> code_4",
        ]
    );
    assert!(node(&g, "code_1").is_entry_point);
    let h = node(&g, "human_confirmation_2");
    assert_eq!(h.component_type, "human_confirmation");
    assert!(h.interrupt_before);
    assert_eq!(extra(h), json!({"prompt": "Proceed?"}));
    let w = node(&g, "workflow_3");
    assert_eq!(w.component_type, "workflow");
    assert_eq!(
        extra(w),
        json!({"target_workflow": "notifier", "trigger_mode": "implicit", "input_mapping": {"text": "node_outputs.code_1.output"}})
    );
    assert_eq!(w.subworkflow_slug.as_deref(), Some("notifier"));
    let t = node(&g, "code_4");
    assert_eq!(t.component_type, "text_template");
    assert_eq!(extra(t), json!({"template": "Finished"}));
}

fn source_flow() -> GraphSnapshot {
    let mut agent = NodeSpec::new("agent_1", "agent").at(300, 200);
    agent.is_entry_point = true;
    agent.config.system_prompt = "Be helpful.".into();
    let mut code = NodeSpec::new("code_1", "code").at(600, 200);
    code.config.extra_config = json!({"code": "return 1", "language": "python"})
        .as_object()
        .cloned()
        .unwrap_or_default();
    GraphSnapshot {
        workflow: WorkflowFields {
            name: "Source Flow".into(),
            slug: "source-flow".into(),
            description: "The source.".into(),
            tags: vec!["demo".into()],
        },
        nodes: vec![
            NodeSpec::new("trigger_chat_1", "trigger_chat").at(0, 200),
            agent,
            code,
        ],
        edges: vec![
            EdgeSpec::direct("trigger_chat_1", "agent_1", EdgeLabel::Data),
            EdgeSpec::direct("agent_1", "code_1", EdgeLabel::Data),
        ],
    }
}

const E6: &str = r#"
based_on: source-flow
name: Source Flow Variant
patches:
  - {action: update_prompt, step_id: agent_1, prompt: Answer tersely.}
  - {action: add_step, after: agent_1, step: {id: audit, type: code, snippet: "<code E>"}}
  - {action: add_tool, step_id: agent_1, tool: whoami}
  - {action: remove_step, step_id: code_1}
"#;

#[test]
fn e6_fork_and_patch() {
    let base = source_flow();
    let before = base.clone();
    let Document::Fork(doc) = parse(E6).unwrap() else {
        panic!("fork")
    };
    assert_eq!(doc.based_on, "source-flow");
    let out = fork(&base, &doc).unwrap();
    let g = &out.graph;
    assert_eq!(base, before, "the source is never modified");
    assert_eq!(
        ids(g),
        [
            "trigger_chat_1",
            "agent_1",
            "audit",
            "whoami_agent_1_patched"
        ]
    );
    assert_eq!(
        edges(g),
        [
            "trigger_chat_1 -> agent_1",
            "agent_1 -> audit",
            "whoami_agent_1_patched -> agent_1 [tool]",
        ]
    );
    assert_eq!(node(g, "agent_1").config.system_prompt, "Answer tersely.");
    assert_eq!(
        extra(node(g, "audit")),
        json!({"code": "<code E>", "language": "python"})
    );
    let w = node(g, "whoami_agent_1_patched");
    assert_eq!((w.position_x, w.position_y), (400, 400));
    assert_eq!(g.workflow.name, "Source Flow Variant");
    assert_eq!(g.workflow.slug, "source-flow-variant");
    assert_eq!(g.workflow.description, "The source.");
    assert_eq!(g.workflow.tags, vec!["demo"]);
}

#[test]
fn fork_defaults_name_to_source_fork() {
    let Document::Fork(doc) = parse("based_on: source-flow\npatches: []").unwrap() else {
        panic!("fork")
    };
    let g = fork(&source_flow(), &doc).unwrap().graph;
    assert_eq!(g.workflow.name, "Source Flow (fork)");
    assert_eq!(g.workflow.slug, "source-flow-fork");
    assert_eq!(g.nodes, source_flow().nodes);
}

// ---------- step types ----------

#[test]
fn every_step_type_builds_its_config() {
    let g = build(
        r#"
name: All
trigger: manual
steps:
  - {id: c, type: code, code: "```python\nreturn 2\n```", language: python}
  - {id: a, type: agent, system_prompt: P, memory: true}
  - {id: d, type: deep_agent, prompt: D, enable_filesystem: true, enable_todos: false, subagents: [x]}
  - {id: cat, type: categorizer, prompt: C, categories: [a, b]}
  - {id: r, type: router, prompt: R}
  - {id: x, type: extractor, prompt: X, schema: {type: object}}
  - {id: m, type: merge}
  - {id: f, type: filter, rules: [{field: k, value: 1}], source_node: c}
  - {id: w, type: wait, delay: 5, delay_unit: minutes}
  - {id: h, type: human}
  - {id: rc, type: reply_chat, template: "Hi {{ x }}"}
  - {id: w2, type: wait, duration: 2, unit: hours}
  - {id: u, type: identify_user, channel: telegram}
  - {id: http, type: http, url: "https://example.com", method: POST, headers: {a: b}, body: {k: 1}, timeout: 5}
  - {id: sub, type: workflow, slug: child}
  - {id: cc, type: code, config: {code: "return 3", language: python}}
"#,
    );
    let e = |id: &str| extra(node(&g, id));
    assert_eq!(e("c"), json!({"code": "return 2", "language": "python"}));
    assert_eq!(e("cc"), json!({"code": "return 3", "language": "python"}));
    assert_eq!(node(&g, "a").config.system_prompt, "P");
    assert_eq!(e("a"), json!({"conversation_memory": true}));
    assert_eq!(
        e("d"),
        json!({"enable_filesystem": true, "subagents": ["x"]})
    );
    assert_eq!(node(&g, "d").component_type, "deep_agent");
    assert_eq!(e("cat"), json!({"categories": ["a", "b"]}));
    assert_eq!(node(&g, "r").config.system_prompt, "R");
    assert_eq!(e("r"), json!({}));
    assert_eq!(e("x"), json!({"extraction_schema": {"type": "object"}}));
    assert_eq!(e("h"), json!({}));
    assert!(node(&g, "h").interrupt_before);
    assert_eq!(e("rc"), json!({"message": "Hi {{ x }}"}));
    assert_eq!(
        e("f"),
        json!({"rules": [{"field": "k", "value": 1}], "source_node": "c"})
    );
    assert_eq!(e("m"), json!({}));
    assert_eq!(e("w"), json!({"duration": 5, "unit": "minutes"}));
    assert_eq!(e("w2"), json!({"duration": 2, "unit": "hours"}));
    assert_eq!(e("u"), json!({"channel": "telegram"}));
    assert_eq!(node(&g, "http").component_type, "http_request");
    assert_eq!(
        e("http"),
        json!({"url": "https://example.com", "method": "POST", "headers": {"a": "b"}, "body": {"k": 1}, "timeout": 5})
    );
    assert_eq!(
        e("sub"),
        json!({"target_workflow": "child", "trigger_mode": "implicit"})
    );
    // Linear flow through every step, entry only on the first.
    let entries: Vec<&str> = g
        .nodes
        .iter()
        .filter(|n| n.is_entry_point)
        .map(|n| n.node_id.as_str())
        .collect();
    assert_eq!(entries, ["c"]);
    assert!(edges(&g).contains(&"w -> h".to_string()));
    assert!(edges(&g).contains(&"sub -> cc".to_string()));
    // `memory: true` adds the memory tools; no credentials → no model nodes.
    assert!(g.node("memory_read_a_1").is_some() && g.node("memory_write_a_2").is_some());
    assert!(g.nodes.iter().all(|n| n.component_type != "ai_model"));
    let defaults = build(
        "name: D\nsteps:\n  - {type: wait}\n  - {type: identify_user}\n  - {type: reply_chat, message: M}\n",
    );
    assert_eq!(
        extra(node(&defaults, "wait_1")),
        json!({"duration": 0, "unit": "seconds"})
    );
    assert_eq!(
        extra(node(&defaults, "identify_user_2")),
        json!({"channel": ""})
    );
    assert_eq!(
        extra(node(&defaults, "reply_chat_3")),
        json!({"message": "M"})
    );
}

#[test]
fn every_trigger_type() {
    for (t, ct) in [
        ("none", "trigger_workflow"),
        ("workflow", "trigger_workflow"),
        ("manual", "trigger_manual"),
        ("chat", "trigger_chat"),
        ("telegram", "trigger_telegram"),
        ("schedule", "trigger_schedule"),
        ("error", "trigger_error"),
        ("webhook", "trigger_webhook"),
    ] {
        let g = build(&format!(
            "name: T\ntrigger: {t}\ntrigger_config: {{interval_seconds: 60}}\nsteps: [{{id: s, type: merge}}]"
        ));
        let n = &g.nodes[0];
        assert_eq!(n.component_type, ct);
        assert_eq!(n.node_id, format!("{ct}_1"));
        assert!(!n.is_entry_point);
        assert_eq!(
            Value::Object(n.config.trigger_config.clone()),
            json!({"interval_seconds": 60})
        );
        assert_eq!(edges(&g), [format!("{ct}_1 -> s")]);
    }
    let g = build("name: T\ntrigger: {type: chat, id: start}\nsteps: [{id: s, type: merge}]");
    assert_eq!(ids(&g), ["start", "s"]);
}

#[test]
fn explicit_keys_label_entry_interrupts_extra_config() {
    let g = build(
        r#"
name: K
steps:
  - {id: a, type: code, label: First, entry: false, interrupt_after: true, extra_config: {timeout: 5, language: python}}
  - {id: b, type: code, entry: true, extra_config: {allow_network: true}}
"#,
    );
    let a = node(&g, "a");
    assert_eq!(a.label, "First");
    assert!(!a.is_entry_point && a.interrupt_after);
    assert_eq!(
        extra(a),
        json!({"code": "", "language": "python", "timeout": 5})
    );
    assert!(node(&g, "b").is_entry_point);
}

// ---------- tools, skills, memory ----------

#[test]
fn inline_tool_forms() {
    let g = compiled(
        r#"
name: Tools
steps:
  - id: ag
    type: agent
    memory: true
    tools:
      - code
      - {type: http_request, config: {allow_hosts: [example.com]}}
      - {type: web_search, id: search, max_results: 3}
      - memory_read
    skills:
      - skills/a.md
      - {path: skills/b.md, source: git, id: sk}
"#,
    )
    .graph;
    assert_eq!(
        ids(&g),
        [
            "trigger_workflow_1",
            "ag",
            "ai_model_ag",
            "code_execute_ag_1",
            "http_request_ag_2",
            "search",
            "memory_read_ag_4",
            "memory_write_ag_5",
            "skill_ag_1",
            "sk",
        ]
    );
    // No credential resolved: the model node is dropped by finalize (§6).
    let (g, _) = compiled("name: Tools\nsteps:\n  - {id: ag, type: agent, tools: [whoami]}\n")
        .finalize(&mut resolve, None);
    assert_eq!(ids(&g), ["trigger_workflow_1", "ag", "whoami_ag_1"]);
    let g = build(
        "name: Tools\nsteps:\n  - id: ag\n    type: agent\n    model: {capability: gpt}\n    tools: [{type: http_request, config: {allow_hosts: [x]}}]\n    skills: [{path: s.md, id: sk}]\n",
    );
    assert_eq!(
        extra(node(&g, "http_request_ag_1")),
        json!({"allow_hosts": ["x"]})
    );
    assert_eq!(
        extra(node(&g, "sk")),
        json!({"skill_path": "s.md", "skill_source": "filesystem"})
    );
    let sk = node(&g, "sk");
    assert_eq!((sk.position_x, sk.position_y), (450, 350));
    assert_eq!(
        edges(&g),
        [
            "trigger_workflow_1 -> ag",
            "ai_model_ag -> ag [llm]",
            "http_request_ag_1 -> ag [tool]",
            "sk -> ag [skill]",
        ]
    );
    assert_eq!(node(&g, "ai_model_ag").config.model_name, "gpt");
}

#[test]
fn tool_and_skill_errors_are_reported_together() {
    let m = messages(
        "name: x\nsteps:\n  - {id: a, type: agent, tools: [5, nope, [1], {type: teleport}], skills: [7]}\n",
    );
    let valid = steps::inline_tool_names();
    assert_eq!(
        m,
        vec![
            "Tool 0 in step 'a' must be a string or mapping, got int".to_string(),
            format!("Unknown inline tool type 'nope'. Valid: {valid}"),
            "Tool 2 in step 'a' must be a string or mapping, got list".to_string(),
            format!("Unknown inline tool type 'teleport'. Valid: {valid}"),
            "Skill 0 in step 'a' must be a string or mapping, got int".to_string(),
        ]
    );
    assert!(valid.starts_with("run_command, platform_api, whoami, epic_tools, task_tools, spawn_and_await, workflow_create, workflow_discover, scheduler_tools, system_health, get_totp_code, memory_read, memory_write"));
}

#[test]
fn build_errors_carry_step_key_and_position() {
    let e = compile_text("name: x\nsteps:\n  - id: a\n    type: agent\n    tools:\n      - nope\n")
        .unwrap_err();
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].step_id.as_deref(), Some("a"));
    assert_eq!(e[0].key.as_deref(), Some("tools"));
    assert_eq!((e[0].line, e[0].column), (Some(6), Some(9)));
    assert_eq!(e[0].kind, ErrorKind::Build);
    assert!(
        e[0].prefixed()
            .starts_with("Graph build error: Unknown inline tool type 'nope'")
    );
}

// ---------- switch, loop and graph errors ----------

#[test]
fn switch_and_loop_errors() {
    assert_eq!(
        messages(
            "name: x\nsteps:\n  - {id: s, type: switch, rules: [{route: ghost}], default: void}\n"
        ),
        vec![
            "Switch step 's' routes to unknown step 'ghost'",
            "Switch step 's' routes to unknown step 'void'"
        ]
    );
    assert_eq!(
        messages(
            "name: x\nsteps:\n  - {id: l, type: loop, over: a.b}\n  - {id: m, type: loop, body: []}\n"
        ),
        vec![
            "Loop step 'l' requires a non-empty `body` list",
            "Loop step 'm' requires a non-empty `body` list"
        ]
    );
    assert_eq!(
        messages(
            "name: x\nsteps:\n  - {id: ai_model_a, type: code}\n  - {id: a, type: agent, model: {credential_id: 1}}\n"
        ),
        vec!["Duplicate node id 'ai_model_a'"]
    );
    assert_eq!(
        messages("name: x\nsteps:\n  - {type: workflow}\n  - {type: http}\n"),
        vec![
            "Workflow step 'workflow_1' requires `workflow` (the target slug)",
            "Step 'http_request_2' (http) requires `url`"
        ]
    );
}

#[test]
fn graph_checks_run_after_compile() {
    // A human gate feeding an agent: boolean → messages is a type mismatch (engine.md §9).
    assert_eq!(
        messages("name: x\nsteps:\n  - {id: h, type: human}\n  - {id: a, type: agent}\n"),
        vec![
            "Edge h → a: Type mismatch: human_confirmation outputs 'boolean' but agent expects 'messages'"
        ]
    );
}

#[test]
fn switch_rule_defaults_and_unclaimed_step_after_switch() {
    let g = build(
        "name: x\nsteps:\n  - {id: s, type: switch, rules: [{route: a, field: f}]}\n  - {id: orphan, type: code}\n  - {id: a, type: code}\n",
    );
    assert_eq!(
        extra(node(&g, "s")),
        json!({"rules": [{"id": "a", "field": "f", "operator": "equals", "value": ""}], "enable_fallback": false})
    );
    assert_eq!(
        edges(&g),
        ["trigger_workflow_1 -> s", "s -> a [conditional=a]"],
        "an unclaimed step right after a switch gets no incoming edge"
    );
}

#[test]
fn a_200_step_document_compiles() {
    let mut text = String::from("name: Big\ntrigger: manual\nsteps:\n");
    for i in 0..200 {
        text += &format!("  - {{id: s{i}, type: code, snippet: 'return {i}'}}\n");
    }
    let g = build(&text);
    assert_eq!((g.nodes.len(), g.edges.len()), (201, 200));
    assert_eq!(edges(&g)[199], "s198 -> s199");
}

// ---------- models ----------

#[test]
fn model_precedence_per_ai_step() {
    let text = r#"
name: M
model: {discover: true}
steps:
  - {id: a, type: agent, model: {credential_id: 3, model_name: m3}}
  - {id: b, type: router}
  - {id: c, type: categorizer, model: none}
  - {id: d, type: extractor, model: {inherit: true, capability: fast, id: d_model}}
"#;
    let c = compiled(text);
    assert_eq!(
        ids(&c.graph),
        [
            "trigger_workflow_1",
            "a",
            "ai_model_a",
            "b",
            "ai_model_b",
            "c",
            "d",
            "d_model"
        ]
    );
    assert!(c.needs_model_lists());
    // The workflow-level discover fails (no credentials): reported, and `b` falls back to an
    // implicit inherit that finds no parent, so its model node goes.
    let (g, errors) = c.finalize(&mut resolve, None);
    assert_eq!(
        error::texts(&errors),
        ["No LLM credentials available for model discovery"]
    );
    assert_eq!(errors[0].kind, ErrorKind::Model);
    assert_eq!(
        ids(&g),
        [
            "trigger_workflow_1",
            "a",
            "ai_model_a",
            "b",
            "c",
            "d",
            "d_model"
        ]
    );
    assert_eq!(node(&g, "a").config.llm_credential_id, Some(3));
    assert_eq!(node(&g, "ai_model_a").config.model_name, "m3");
    assert_eq!(node(&g, "d_model").config.model_name, "fast");
    assert_eq!(node(&g, "c").config.llm_credential_id, None);

    // With a parent, inherit wins over the rest of the spec.
    let mut with_parent = |spec: &ModelRef| -> Result<ResolvedModel, String> {
        match spec {
            ModelRef::Inherit { .. } => Ok(ResolvedModel {
                credential_id: Some(9),
                model_name: Some("parent".into()),
                temperature: None,
            }),
            other => resolve(other),
        }
    };
    let (g, errors) =
        compiled("name: M\nsteps: [{id: a, type: agent}]").finalize(&mut with_parent, None);
    assert!(errors.is_empty());
    assert_eq!(node(&g, "ai_model_a").config.llm_credential_id, Some(9));
}

#[test]
fn tool_config_inherit() {
    let text = "name: I\nsteps:\n  - {id: a, type: agent, tools: [{type: web_search, url: inherit}]}\n  - {id: call, type: http, url: inherit, timeout: inherit}\n";
    let c = compiled(text);
    assert_eq!(
        c.tool_inherits,
        vec![
            ToolInherit {
                node_id: "web_search_a_1".into(),
                match_type: "web_search".into(),
                keys: vec!["url".into()]
            },
            ToolInherit {
                node_id: "call".into(),
                match_type: "http_request".into(),
                keys: vec!["timeout".into(), "url".into()]
            },
        ]
    );
    let parent = ParentTools {
        node_id: "boss".into(),
        tools: vec![
            (
                "http_request".into(),
                json!({"url": "https://api", "timeout": 9})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ),
            (
                "web_search".into(),
                json!({"url": "http://searx"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ),
        ],
    };
    let (g, errors) = c.finalize(&mut resolve, Some(&parent));
    assert!(errors.is_empty());
    assert_eq!(
        extra(node(&g, "call")),
        json!({"url": "https://api", "method": "GET", "timeout": 9})
    );
    assert_eq!(
        extra(node(&g, "web_search_a_1")),
        json!({"url": "http://searx"})
    );

    let (_, errors) = c.finalize(&mut resolve, None);
    assert_eq!(
        error::texts(&errors),
        [
            "Cannot inherit tool config: no parent node",
            "Cannot inherit tool config: no parent node"
        ]
    );
    let thin = ParentTools {
        node_id: "boss".into(),
        tools: vec![(
            "http_request".into(),
            json!({"url": "u"}).as_object().cloned().unwrap_or_default(),
        )],
    };
    let (_, errors) = c.finalize(&mut resolve, Some(&thin));
    assert_eq!(
        error::texts(&errors),
        [
            "No matching tool 'web_search' found on parent node 'boss'",
            "Parent tool 'http_request' has no key 'timeout' in extra_config"
        ]
    );
}

// ---------- patches ----------

fn patch(base: &GraphSnapshot, yaml_patches: &str) -> Result<CompiledWorkflow, Vec<String>> {
    let root = yaml::load(yaml_patches).unwrap();
    let patches: Vec<Patch> = root.as_seq().unwrap().iter().cloned().map(Patch).collect();
    apply_patches(base, &patches).map_err(|e| e.iter().map(|e| e.message.clone()).collect())
}

fn patch_err(yaml_patches: &str) -> String {
    match patch(&source_flow(), yaml_patches) {
        Ok(c) => panic!("expected an error, got {:?}", c.graph),
        Err(e) => e.join(" | "),
    }
}

#[test]
fn patch_errors() {
    for (p, want) in [
        ("[5]", "Each patch must be a mapping"),
        ("[{step_id: a}]", "Patch missing `action` field"),
        ("[{action: explode}]", "Unknown patch action: 'explode'"),
        (
            "[{action: update_prompt}]",
            "update_prompt patch requires `step_id`",
        ),
        (
            "[{action: update_prompt, step_id: zz, prompt: p}]",
            "Step 'zz' not found for update_prompt",
        ),
        (
            "[{action: add_step}]",
            "add_step patch requires a `step` mapping",
        ),
        (
            "[{action: add_step, step: {type: magic}}]",
            "Invalid step type in add_step: 'magic'",
        ),
        (
            "[{action: remove_step}]",
            "remove_step patch requires `step_id`",
        ),
        (
            "[{action: remove_step, step_id: zz}]",
            "Step 'zz' not found for remove_step",
        ),
        (
            "[{action: add_tool, step_id: agent_1}]",
            "add_tool patch requires `step_id` and `tool`",
        ),
        (
            "[{action: add_tool, step_id: agent_1, tool: laser}]",
            "Unknown tool type 'laser'",
        ),
        (
            "[{action: add_tool, step_id: ghost, tool: whoami}]",
            "Edge references unknown target node 'ghost'",
        ),
        (
            "[{action: remove_tool}]",
            "remove_tool patch requires `tool_node_id`",
        ),
        (
            "[{action: remove_tool, agent_id: agent_1, tool_type: whoami}]",
            "No 'whoami' tool on step 'agent_1'",
        ),
        (
            "[{action: update_config, step_id: agent_1}]",
            "update_config patch requires `step_id` and `config`",
        ),
        (
            "[{action: update_config, step_id: zz, config: {a: 1}}]",
            "Step 'zz' not found for update_config",
        ),
        (
            "[{action: update_trigger}]",
            "update_trigger patch requires `trigger`",
        ),
        (
            "[{action: update_trigger, trigger: cron}]",
            "Unknown trigger type 'cron'. Valid: telegram, chat, none, workflow, manual, schedule, error, webhook",
        ),
        (
            "[{action: update_model, step_id: agent_1}]",
            "update_model patch requires `step_id` and `model`",
        ),
        (
            "[{action: update_model, step_id: zz, model: {credential_id: 1}}]",
            "Step 'zz' not found for update_model",
        ),
        // The first error aborts: the later bad patch is never reached.
        (
            "[{action: remove_step, step_id: zz}, {action: explode}]",
            "Step 'zz' not found for remove_step",
        ),
    ] {
        assert_eq!(patch_err(p), want, "{p}");
    }
}

#[test]
fn patch_error_positions() {
    let Document::Fork(doc) =
        parse("based_on: s\npatches:\n  - {action: remove_step, step_id: a}\n  - {action: nope}\n")
            .unwrap()
    else {
        panic!("fork")
    };
    let base = GraphSnapshot {
        nodes: vec![NodeSpec::new("a", "code")],
        ..Default::default()
    };
    let e = fork(&base, &doc).unwrap_err();
    assert_eq!(
        e[0].to_string(),
        "Unknown patch action: 'nope' (line 4, column 5)"
    );
}

#[test]
fn update_prompt_snippet_and_update_config_merge() {
    let g = patch(
        &source_flow(),
        "[{action: update_prompt, step_id: code_1, code: \"```\\nreturn 5\\n```\"}, {action: update_config, step_id: code_1, config: {timeout: 9, language: python, extra_config: {x: 1}}}]",
    )
    .unwrap()
    .graph;
    assert_eq!(
        extra(node(&g, "code_1")),
        json!({"code": "return 5", "language": "python", "timeout": 9, "extra_config": {"x": 1}})
    );
    assert_eq!(node(&g, "code_1").config.system_prompt, "");
}

#[test]
fn add_step_retargets_every_flow_edge_leaving_after() {
    let mut base = build(E3);
    base.workflow.name = "R".into();
    let g = patch(
        &base,
        "[{action: add_step, after: route, step: {type: merge}}]",
    )
    .unwrap()
    .graph;
    let m = node(&g, "merge_added");
    assert_eq!((m.position_x, m.position_y), (400, 200));
    assert_eq!(
        edges(&g),
        [
            "trigger_chat_1 -> normalize",
            "normalize -> route",
            "route -> merge_added [conditional=refunds]",
            "route -> merge_added [conditional=__other__]",
            "general -> wrap_up",
            "merge_added -> refunds",
            "merge_added -> general",
        ]
    );
    // No outgoing flow edge: after → new; no `after`: unconnected.
    let g = patch(
        &source_flow(),
        "[{action: add_step, after: code_1, step: {type: reply_chat, message: Done}}, {action: add_step, step: {type: agent, id: lone, prompt: P}}]",
    )
    .unwrap()
    .graph;
    assert_eq!(edges(&g)[2], "code_1 -> reply_chat_added");
    assert_eq!(
        extra(node(&g, "reply_chat_added")),
        json!({"message": "Done"})
    );
    assert_eq!(node(&g, "lone").config.system_prompt, "P");
    assert!(
        !g.edges
            .iter()
            .any(|e| e.source == "lone" || e.target == "lone")
    );
    assert_eq!(
        patch(
            &source_flow(),
            "[{action: add_step, step: {type: code, id: code_1}}]"
        )
        .unwrap_err(),
        vec!["Duplicate node id 'code_1'"]
    );
}

#[test]
fn remove_step_reconnects_every_pair_and_keeps_sub_components() {
    let base = build(
        "name: R\nsteps:\n  - {id: a, type: code}\n  - {id: b, type: agent, model: {credential_id: 1}, tools: [whoami]}\n  - {id: c, type: code}\n",
    );
    let mut base = base;
    base.edges.push(EdgeSpec::direct("a", "c", EdgeLabel::Data));
    base.nodes.push(NodeSpec::new("d", "code"));
    base.edges.push(EdgeSpec::direct("b", "d", EdgeLabel::Data));
    let g = patch(&base, "[{action: remove_step, step_id: b}]")
        .unwrap()
        .graph;
    assert_eq!(
        ids(&g),
        [
            "trigger_workflow_1",
            "a",
            "ai_model_b",
            "whoami_b_1",
            "c",
            "d"
        ]
    );
    assert_eq!(
        edges(&g),
        ["trigger_workflow_1 -> a", "a -> c", "a -> d"],
        "a → c exists once; a → d is new; llm/tool edges are gone"
    );
}

#[test]
fn tools_patches() {
    let g = patch(
        &source_flow(),
        r#"
- {action: add_tool, agent_id: agent_1, tool: {type: platform_api, api_base_url: "http://x"}}
- {action: add_tool, step_id: agent_1, tool: whoami}
- {action: add_tool, step_id: agent_1, tool: code}
- {action: remove_tool, tool_node_id: whoami_agent_1_patched}
- {action: remove_tool, agent_id: agent_1, tool_type: code}
"#,
    )
    .unwrap()
    .graph;
    assert_eq!(
        ids(&g),
        [
            "trigger_chat_1",
            "agent_1",
            "code_1",
            "platform_api_agent_1_patched"
        ]
    );
    assert_eq!(
        extra(node(&g, "platform_api_agent_1_patched")),
        json!({"api_base_url": "http://x"})
    );
    assert_eq!(
        edges(&g),
        [
            "trigger_chat_1 -> agent_1",
            "agent_1 -> code_1",
            "platform_api_agent_1_patched -> agent_1 [tool]"
        ]
    );
}

#[test]
fn update_trigger_keeps_id_or_adds_one() {
    let g = patch(
        &source_flow(),
        "[{action: update_trigger, trigger: schedule, trigger_config: {cron: '0 * * * *'}}]",
    )
    .unwrap()
    .graph;
    let t = node(&g, "trigger_chat_1");
    assert_eq!(t.component_type, "trigger_schedule");
    assert_eq!(
        Value::Object(t.config.trigger_config.clone()),
        json!({"cron": "0 * * * *"})
    );
    assert_eq!(g.edges, source_flow().edges);

    let mut bare = source_flow();
    bare.nodes.remove(0);
    bare.edges.remove(0);
    let g = patch(
        &bare,
        "[{action: update_trigger, trigger: {type: webhook}}]",
    )
    .unwrap()
    .graph;
    assert_eq!(ids(&g), ["trigger_webhook_1", "agent_1", "code_1"]);
    assert_eq!(
        edges(&g),
        ["agent_1 -> code_1", "trigger_webhook_1 -> agent_1"]
    );
}

#[test]
fn update_model_uses_the_wired_model_or_adds_one() {
    let out = patch(
        &source_flow(),
        "[{action: update_model, step_id: agent_1, model: {credential_id: 4, model_name: m}}]",
    )
    .unwrap();
    assert_eq!(
        ids(&out.graph),
        ["trigger_chat_1", "agent_1", "code_1", "ai_model_agent_1"]
    );
    assert_eq!(edges(&out.graph)[2], "ai_model_agent_1 -> agent_1 [llm]");
    let m = node(&out.graph, "ai_model_agent_1");
    assert_eq!((m.position_x, m.position_y), (250, 350));
    let (g, errors) = out.finalize(&mut resolve, None);
    assert!(errors.is_empty());
    assert_eq!(
        node(&g, "ai_model_agent_1").config.llm_credential_id,
        Some(4)
    );
    assert_eq!(node(&g, "agent_1").config.model_name, "m");

    // A wired model is reused, and kept even when the new spec resolves to nothing.
    let base = build(
        "name: W\nsteps: [{id: a, type: agent, model: {credential_id: 1, model_name: old, id: mine}}]",
    );
    let out = patch(
        &base,
        "[{action: update_model, step_id: a, model: {inherit: true}}]",
    )
    .unwrap();
    assert_eq!(out.models[0].model_node_id.as_deref(), Some("mine"));
    let (g, _) = out.finalize(&mut resolve, None);
    assert_eq!(ids(&g), ["trigger_workflow_1", "a", "mine"]);
    assert_eq!(node(&g, "mine").config.llm_credential_id, None);
}

// ---------- explicit form and export ----------

#[test]
fn explicit_form_is_literal() {
    let g = build(
        r#"
name: Explicit
trigger: chat
model: {credential_id: 1}
steps:
  - {id: t, component: trigger_manual, config: {trigger_config: {a: 1}}}
  - {id: a, type: agent, prompt: P, tools: [whoami], entry: true, position: [10, 20]}
  - {id: m, component: ai_model, config: {llm_credential_id: 2, model_name: x, max_tokens: 50}}
  - {id: s, type: switch, rules: [{route: c}]}
  - {id: c, component: code, subworkflow: other}
edges:
  - {from: t, to: a}
  - {from: m, to: a, label: llm}
  - {from: a, to: s}
  - {from: s, to: c, type: conditional, value: c, priority: 2}
"#,
    );
    assert_eq!(ids(&g), ["t", "a", "m", "s", "c"]);
    assert_eq!(
        edges(&g),
        ["t -> a", "m -> a [llm]", "a -> s", "s -> c [conditional=c]"]
    );
    assert_eq!(g.edges[3].priority, 2);
    let a = node(&g, "a");
    assert!(a.is_entry_point);
    assert_eq!((a.position_x, a.position_y), (10, 20));
    assert!(!node(&g, "s").is_entry_point);
    assert_eq!(node(&g, "m").config.max_tokens, Some(50));
    assert_eq!(node(&g, "c").subworkflow_slug.as_deref(), Some("other"));
    assert_eq!(
        messages(
            "name: E\nsteps: [{id: a, type: code}]\nedges: [{from: a, to: ghost}, {from: a, to: a, type: sideways, label: magic}, 3]"
        ),
        vec![
            "Edge references unknown node 'ghost'",
            "Edge 1: unknown edge type 'sideways' (direct, conditional)",
            "Edge 1: unknown edge label 'magic' (\"\", llm, tool, output_parser, loop_body, loop_return, skill)",
            "Edge 2 must be a mapping",
        ]
    );
}

fn assert_round_trip(g: &GraphSnapshot) {
    let text = export(g);
    let back = compile_text(&text).unwrap_or_else(|e| panic!("{:?}\n{text}", error::texts(&e)));
    assert!(
        back.models.is_empty() && back.tool_inherits.is_empty(),
        "{text}"
    );
    assert_eq!(back.graph.nodes, g.nodes, "{text}");
    assert_eq!(back.graph.edges, g.edges, "{text}");
    assert_eq!(back.graph.workflow.name, g.workflow.name);
    assert_eq!(back.graph.workflow.description, g.workflow.description);
    assert_eq!(back.graph.workflow.tags, g.workflow.tags);
}

#[test]
fn export_round_trips_every_example() {
    for text in [E1, E2, E3, E4, E5] {
        assert_round_trip(&build(text));
    }
    let Document::Fork(doc) = parse(E6).unwrap() else {
        panic!("fork")
    };
    assert_round_trip(&fork(&source_flow(), &doc).unwrap().graph);
    assert_round_trip(&source_flow());
    let mut odd = build(
        "name: 'Odd: \"names\"'\ndescription: \"multi\\nline\"\ntags: ['true', '1', 'null']\nsteps:\n  - {id: 'a b', type: code, snippet: \"x: 1\\n- y\", label: '#hash'}\n  - {id: h, type: human, interrupt_after: true}\n",
    );
    odd.nodes[2].interrupt_before = false;
    odd.nodes[1].config.extra_config.insert(
        "n".into(),
        json!([1.5, -0.25, "0x1F", "", null, {"k": "~"}]),
    );
    odd.nodes[1].subworkflow_id = Some(12);
    odd.edges[0].priority = -3;
    assert_round_trip(&odd);
}

#[test]
fn export_writes_the_explicit_form() {
    let text = export(&build(E1));
    assert_eq!(
        text,
        "name: Hello Pipeline\nsteps:\n- id: trigger_manual_1\n  component: trigger_manual\n  position:\n  - 0\n  - 200\n- id: greet\n  component: code\n  entry: true\n  position:\n  - 300\n  - 200\n  config:\n    extra_config:\n      code: <code A>\n      language: python\nedges:\n- from: trigger_manual_1\n  to: greet\n"
    );
}

mod round_trip {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Map;

    fn scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            (-1e9f64..1e9)
                .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
            "[ -~\\n\\t]{0,24}".prop_map(Value::String),
            "\\PC{0,8}".prop_map(Value::String),
            prop::sample::select(vec![
                "true", "null", "~", "1", "0x1", "1e3", "yes", "- a", "a: b", "'q'", "#c", ""
            ])
            .prop_map(|s| Value::String(s.into())),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        scalar().prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-z_]{1,6}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn extra_config() -> impl Strategy<Value = Map<String, Value>> {
        prop::collection::btree_map("[a-z_ ]{1,8}", value(), 0..4)
            .prop_map(|m| m.into_iter().collect())
    }

    prop_compose! {
        fn code_node(i: usize)(
            label in "[ -~]{0,12}",
            entry in any::<bool>(),
            ia in any::<bool>(),
            ib in any::<bool>(),
            x in -2000i64..2000,
            y in -2000i64..2000,
            extra in extra_config(),
            sub in prop::option::of("[a-z][a-z0-9-]{0,10}"),
        ) -> NodeSpec {
            let mut n = NodeSpec::new(format!("n{i}"), "code").at(x, y);
            n.label = label;
            n.is_entry_point = entry;
            n.interrupt_after = ia;
            n.interrupt_before = ib;
            n.config.extra_config = extra;
            n.subworkflow_slug = sub;
            n
        }
    }

    prop_compose! {
        fn graph()(
            codes in (1usize..6).prop_flat_map(|n| (0..n).map(code_node).collect::<Vec<_>>()),
            flow in prop::collection::vec((0usize..8, 0usize..8, -5i64..5), 0..10),
            routes in prop::collection::vec((0usize..8, "[a-z_]{1,6}"), 0..4),
            trigger in prop::sample::select(vec!["trigger_manual", "trigger_chat", "trigger_webhook"]),
            trigger_config in extra_config(),
            prompt in "\\PC{0,30}",
            temperature in prop::option::of(0.0f64..2.0),
            cred in prop::option::of(1i64..1000),
            name in "[A-Za-z][ -~]{0,20}",
            description in "[ -~\\n]{0,20}",
            tags in prop::collection::vec("[ -~]{0,6}", 0..3),
        ) -> GraphSnapshot {
            let n = codes.len();
            let mut nodes = vec![];
            let mut t = NodeSpec::new("start", trigger).at(0, 200);
            t.config.trigger_config = trigger_config;
            nodes.push(t);
            let mut agent = NodeSpec::new("agent", "agent");
            agent.config.system_prompt = prompt;
            agent.config.temperature = temperature;
            agent.config.llm_credential_id = cred;
            nodes.push(agent.clone());
            let mut model = NodeSpec::new("model", "ai_model");
            model.config.temperature = temperature;
            model.config.llm_credential_id = cred;
            nodes.push(model);
            nodes.push(NodeSpec::new("tool", "whoami"));
            nodes.push(NodeSpec::new("switch", "switch"));
            nodes.extend(codes);
            let code = |k: usize| format!("n{}", k % n);
            let mut edges = vec![
                EdgeSpec::direct("start", "agent", EdgeLabel::Data),
                EdgeSpec::direct("model", "agent", EdgeLabel::Llm),
                EdgeSpec::direct("tool", "agent", EdgeLabel::Tool),
                EdgeSpec::direct("agent", "switch", EdgeLabel::Data),
            ];
            for (a, b, priority) in flow {
                let mut e = EdgeSpec::direct(&code(a), &code(b), EdgeLabel::Data);
                e.priority = priority;
                edges.push(e);
            }
            for (k, value) in routes {
                edges.push(EdgeSpec::conditional("switch", &code(k), &value));
            }
            GraphSnapshot {
                workflow: WorkflowFields { slug: agentry_core::ids::slugify(&name), name, description, tags },
                nodes,
                edges,
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn export_then_compile_is_identity(g in graph()) {
            assert_round_trip(&g);
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
            let _ = compile_text(&text);
        }

        #[test]
        fn arbitrary_documents_never_panic(v in value()) {
            let _ = parse_json(&json!({"name": "x", "steps": [v.clone(), {"type": "loop", "body": [v.clone()]}], "model": v.clone(), "trigger": v}));
        }

        /// The worked examples with YAML-significant text spliced in anywhere: every error
        /// path of the parser and compiler runs, none may panic.
        #[test]
        fn mutated_examples_never_panic(
            which in 0usize..6,
            at in any::<prop::sample::Index>(),
            insert in "[ :\\-\\[\\]{}\"'#\n\t0-9a-z|>&*!%@]{0,16}",
        ) {
            let mut text = [E1, E2, E3, E4, E5, E6][which].to_string();
            let mut pos = at.index(text.len() + 1);
            while !text.is_char_boundary(pos) {
                pos -= 1;
            }
            text.insert_str(pos, &insert);
            let _ = compile_text(&text);
            let _ = parse(&text);
        }
    }
}
