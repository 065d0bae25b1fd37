//! Text → [`Document`]: YAML loading and the checks of dsl.md §1–2, every error collected
//! (agentry), first one first in the spec's order.

use crate::document::{
    CreateDoc, Document, ForkDoc, Patch, Step, StepKind, StepType, TriggerKind, TriggerSpec,
};
use crate::error::DslError;
use crate::yaml::{self, Located, Yaml};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// Parses a YAML (or JSON) document.
pub fn parse(text: &str) -> Result<Document, Vec<DslError>> {
    let root = match yaml::load(text) {
        Ok(root) => root,
        Err(e) => {
            return Err(vec![
                DslError::parse(format!("Invalid YAML: {}", e.message)).at(e.pos),
            ]);
        }
    };
    parse_value(&root)
}

/// Parses an already loaded document (e.g. JSON handed over by the service).
pub fn parse_json(value: &Value) -> Result<Document, Vec<DslError>> {
    parse_value(&Located::from_json(value))
}

/// A scalar as text the way the reference's `str()` would show it; `None` for null and
/// collections.
pub(crate) fn scalar_text(v: &Located) -> Option<String> {
    match &v.value {
        Yaml::Str(s) => Some(s.clone()),
        Yaml::Bool(b) => Some(if *b { "True" } else { "False" }.to_string()),
        Yaml::Int(i) => Some(i.to_string()),
        Yaml::Float(f) => Some(f.to_string()),
        _ => None,
    }
}

fn parse_value(root: &Located) -> Result<Document, Vec<DslError>> {
    if root.as_map().is_none() {
        return Err(vec![
            DslError::parse("DSL must be a YAML mapping (dict)").at(root.pos),
        ]);
    }
    if let Some(based_on) = root.get("based_on") {
        return parse_fork(root, based_on).map(Document::Fork);
    }
    parse_create(root).map(Document::Create)
}

fn string_list(v: &Located) -> Vec<String> {
    match v.as_seq() {
        Some(items) => items.iter().filter_map(scalar_text).collect(),
        None => scalar_text(v).into_iter().collect(),
    }
}

fn parse_fork(root: &Located, based_on: &Located) -> Result<ForkDoc, Vec<DslError>> {
    let mut errors = vec![];
    let slug = based_on.as_str().map(str::to_string);
    if slug.is_none() {
        errors.push(
            DslError::parse("`based_on` must be a workflow slug string")
                .key("based_on")
                .at(based_on.pos),
        );
    }
    let mut patches = vec![];
    match root.get("patches") {
        None => errors.push(DslError::parse("Fork mode requires a `patches` list").key("patches")),
        Some(p) => match p.as_seq() {
            Some(items) => patches = items.iter().cloned().map(Patch).collect(),
            None => errors.push(
                DslError::parse("`patches` must be a list")
                    .key("patches")
                    .at(p.pos),
            ),
        },
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(ForkDoc {
        based_on: slug.unwrap_or_default(),
        name: root.get("name").and_then(scalar_text),
        description: root.get("description").and_then(scalar_text),
        tags: root.get("tags").filter(|t| !t.is_null()).map(string_list),
        patches,
    })
}

/// `trigger` (§1): string, or mapping whose `type` is used; null and absent are `none`.
pub(crate) fn trigger_spec(v: Option<&Located>) -> Result<TriggerSpec, DslError> {
    let (name, id) = match v {
        None => ("none".to_string(), None),
        Some(v) if v.is_null() => ("none".to_string(), None),
        Some(v) if v.as_map().is_some() => (
            v.get("type")
                .filter(|t| !t.is_null())
                .map_or(Some("none".to_string()), scalar_text)
                .unwrap_or_default(),
            v.get("id").and_then(scalar_text),
        ),
        Some(v) => (scalar_text(v).unwrap_or_default(), None),
    };
    match TriggerKind::parse(&name) {
        Some(kind) => Ok(TriggerSpec { kind, id }),
        None => Err(DslError::parse(TriggerKind::unknown_error(&name))
            .key("trigger")
            .at(v.map(|v| v.pos).unwrap_or_default())),
    }
}

fn parse_create(root: &Located) -> Result<CreateDoc, Vec<DslError>> {
    let mut errors = vec![];
    let name = root
        .get("name")
        .and_then(scalar_text)
        .filter(|n| !n.is_empty());
    if name.is_none() {
        errors.push(DslError::parse("DSL requires a `name` field").key("name"));
    }
    let steps_node = root.get("steps");
    let mut step_items: &[Located] = &[];
    match steps_node {
        None => errors.push(DslError::parse("DSL requires a `steps` list").key("steps")),
        Some(s) => match s.as_seq() {
            Some(items) if !items.is_empty() => step_items = items,
            _ => errors.push(
                DslError::parse("`steps` must be a non-empty list")
                    .key("steps")
                    .at(s.pos),
            ),
        },
    }
    let trigger = trigger_spec(root.get("trigger"))
        .map_err(|e| errors.push(e))
        .ok();
    let mut trigger_config = Map::new();
    if let Some(tc) = root.get("trigger_config").filter(|t| !t.is_null()) {
        match tc.to_json() {
            Value::Object(m) => trigger_config = m,
            _ => errors.push(
                DslError::parse("`trigger_config` must be a mapping")
                    .key("trigger_config")
                    .at(tc.pos),
            ),
        }
    }
    let edges = match root.get("edges") {
        None => None,
        Some(e) => match e.as_seq() {
            Some(items) => Some(items.to_vec()),
            None => {
                errors.push(
                    DslError::parse("`edges` must be a list")
                        .key("edges")
                        .at(e.pos),
                );
                None
            }
        },
    };
    let explicit = edges.is_some();
    let mut steps = vec![];
    let mut ids = BTreeSet::new();
    for (i, item) in step_items.iter().enumerate() {
        match parse_step(i, item, explicit) {
            Ok(step) => {
                if !ids.insert(step.id.clone()) {
                    errors.push(
                        DslError::parse(format!("Duplicate step ID '{}' in step {i}", step.id))
                            .step(&step.id)
                            .key("id")
                            .at(item.get("id").map_or(item.pos, |v| v.pos)),
                    );
                }
                steps.push(step);
            }
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(CreateDoc {
        name: name.unwrap_or_default(),
        description: root
            .get("description")
            .and_then(scalar_text)
            .unwrap_or_default(),
        tags: root.get("tags").map(string_list).unwrap_or_default(),
        trigger: trigger.unwrap_or(TriggerSpec {
            kind: TriggerKind::None,
            id: None,
        }),
        trigger_config,
        model: root.get("model").filter(|m| !m.is_null()).cloned(),
        steps,
        edges,
    })
}

/// A step's own checks (§2): mapping, `type` (or §12's `component`), known type, id.
fn parse_step(i: usize, item: &Located, explicit: bool) -> Result<Step, DslError> {
    if item.as_map().is_none() {
        return Err(DslError::parse(format!("Step {i} must be a mapping")).at(item.pos));
    }
    let explicit_id = item.get("id").and_then(scalar_text);
    let kind = if let Some(c) = item.get("component").filter(|c| !c.is_null()) {
        let ct = scalar_text(c).unwrap_or_default();
        if agentry_core::node_types::get(&ct).is_none() {
            return Err(
                DslError::parse(format!("Unknown component type '{ct}' in step {i}"))
                    .key("component")
                    .at(c.pos),
            );
        }
        StepKind::Component(ct)
    } else {
        let Some(t) = item.get("type").filter(|t| !t.is_null()) else {
            return Err(DslError::parse(format!("Step {i} missing `type` field"))
                .key("type")
                .at(item.pos));
        };
        let name = scalar_text(t).unwrap_or_default();
        match StepType::parse(&name) {
            Some(st) => StepKind::Dsl(st),
            None => {
                return Err(DslError::parse(StepType::unknown_error(&name, i))
                    .key("type")
                    .at(t.pos));
            }
        }
    };
    let id = match (explicit_id, &kind) {
        (Some(id), _) => id,
        (None, _) if explicit => {
            return Err(DslError::parse(format!(
                "Step {i} requires an `id` in the explicit form (top-level `edges`)"
            ))
            .key("id")
            .at(item.pos));
        }
        (None, StepKind::Dsl(t)) => format!("{}_{}", t.id_prefix(), i + 1),
        (None, StepKind::Component(c)) => format!("{c}_{}", i + 1),
    };
    Ok(Step {
        index: i,
        id,
        kind,
        body: item.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errs(text: &str) -> Vec<String> {
        match parse(text) {
            Ok(d) => panic!("expected errors, got {d:?}"),
            Err(e) => e.iter().map(|e| e.message.clone()).collect(),
        }
    }

    #[test]
    fn every_section_2_text() {
        assert_eq!(errs("a: [1"), vec!["Invalid YAML: unclosed bracket '['"]);
        assert_eq!(
            errs("- 1\n- 2\n"),
            vec!["DSL must be a YAML mapping (dict)"]
        );
        assert_eq!(errs("just text"), vec!["DSL must be a YAML mapping (dict)"]);
        assert_eq!(errs(""), vec!["DSL must be a YAML mapping (dict)"]);
        assert_eq!(
            errs("based_on: 5\npatches: []"),
            vec!["`based_on` must be a workflow slug string"]
        );
        assert_eq!(
            errs("based_on: src"),
            vec!["Fork mode requires a `patches` list"]
        );
        assert_eq!(
            errs("based_on: src\npatches: {a: 1}"),
            vec!["`patches` must be a list"]
        );
        assert_eq!(
            errs("steps: [{type: code}]"),
            vec!["DSL requires a `name` field"]
        );
        assert_eq!(errs("name: x"), vec!["DSL requires a `steps` list"]);
        assert_eq!(
            errs("name: x\nsteps: []"),
            vec!["`steps` must be a non-empty list"]
        );
        assert_eq!(
            errs("name: x\nsteps: {a: 1}"),
            vec!["`steps` must be a non-empty list"]
        );
        assert_eq!(
            errs("name: x\ntrigger: cron\nsteps: [{type: code}]"),
            vec![
                "Unknown trigger type 'cron'. Valid: telegram, chat, none, workflow, manual, schedule, error, webhook"
            ]
        );
        assert_eq!(
            errs("name: x\ntrigger: {type: nope}\nsteps: [{type: code}]"),
            vec![
                "Unknown trigger type 'nope'. Valid: telegram, chat, none, workflow, manual, schedule, error, webhook"
            ]
        );
        assert_eq!(
            errs("name: x\nsteps: [{type: code}, 3]"),
            vec!["Step 1 must be a mapping"]
        );
        assert_eq!(
            errs("name: x\nsteps: [{id: a}]"),
            vec!["Step 0 missing `type` field"]
        );
        assert_eq!(
            errs("name: x\nsteps: [{type: code}, {type: magic}]"),
            vec![
                "Unknown step type 'magic' in step 1. Valid: code, agent, deep_agent, switch, loop, workflow, human, transform, reply_chat, categorizer, router, extractor, filter, merge, wait, identify_user, http"
            ]
        );
        assert_eq!(
            errs("name: x\nsteps: [{id: a, type: code}, {id: a, type: code}]"),
            vec!["Duplicate step ID 'a' in step 1"]
        );
        // A generated id counts too.
        assert_eq!(
            errs("name: x\nsteps: [{type: code}, {id: code_1, type: code}]"),
            vec!["Duplicate step ID 'code_1' in step 1"]
        );
    }

    #[test]
    fn reports_every_error_together_with_positions() {
        let text = "trigger: cron\nsteps:\n  - type: code\n  - 7\n  - id: x\n  - type: nope\n";
        let e = parse(text).unwrap_err();
        let got: Vec<String> = e.iter().map(ToString::to_string).collect();
        assert_eq!(
            got,
            vec![
                "DSL requires a `name` field".to_string(),
                "Unknown trigger type 'cron'. Valid: telegram, chat, none, workflow, manual, schedule, error, webhook (line 1, column 10)".to_string(),
                "Step 1 must be a mapping (line 4, column 5)".to_string(),
                "Step 2 missing `type` field (line 5, column 5)".to_string(),
                "Unknown step type 'nope' in step 3. Valid: code, agent, deep_agent, switch, loop, workflow, human, transform, reply_chat, categorizer, router, extractor, filter, merge, wait, identify_user, http (line 6, column 11)".to_string(),
            ]
        );
        assert_eq!(e[4].key.as_deref(), Some("type"));
    }

    #[test]
    fn yaml_syntax_errors_have_line_and_column() {
        let e = parse("name: x\nsteps:\n  - {id: a\n").unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].message, "Invalid YAML: unclosed bracket '{'");
        assert_eq!((e[0].line, e[0].column), (Some(3), Some(5)));
        assert_eq!(
            e[0].to_string(),
            "Invalid YAML: unclosed bracket '{' (line 3, column 5)"
        );
    }

    #[test]
    fn create_fields_and_defaults() {
        let Document::Create(d) = parse(
            "name: Hello\ntags: [a, b]\ntrigger: {type: chat, id: start, other: 1}\nsteps:\n  - {type: code}\n  - {type: human}\n  - {type: transform}\n  - {type: http, url: x}\n",
        )
        .unwrap() else {
            panic!("create")
        };
        assert_eq!(d.name, "Hello");
        assert_eq!(d.description, "");
        assert_eq!(d.tags, vec!["a", "b"]);
        assert_eq!(d.trigger.kind, TriggerKind::Chat);
        assert_eq!(d.trigger.node_id(), "start");
        let ids: Vec<&str> = d.steps.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(
            ids,
            vec!["code_1", "human_confirmation_2", "code_3", "http_request_4"]
        );
        assert!(d.edges.is_none());
    }

    #[test]
    fn null_and_mapping_without_type_are_none() {
        for t in ["trigger: null\n", "trigger: {id: t}\n", ""] {
            let Document::Create(d) =
                parse(&format!("name: x\n{t}steps: [{{type: code}}]")).unwrap()
            else {
                panic!("create")
            };
            assert_eq!(d.trigger.kind, TriggerKind::None);
        }
    }

    #[test]
    fn fork_fields() {
        let Document::Fork(f) = parse(
            "based_on: src\nname: V\nsteps: nonsense\npatches:\n  - {action: remove_step, step_id: a}\n",
        )
        .unwrap() else {
            panic!("fork")
        };
        assert_eq!(f.based_on, "src");
        assert_eq!(f.name.as_deref(), Some("V"));
        assert_eq!(f.tags, None);
        assert_eq!(f.patches.len(), 1);
    }

    #[test]
    fn explicit_form_requires_ids() {
        assert_eq!(
            errs("name: x\nsteps: [{type: code}]\nedges: []"),
            vec!["Step 0 requires an `id` in the explicit form (top-level `edges`)"]
        );
        assert_eq!(
            errs("name: x\nsteps: [{id: a, component: warp_drive}]\nedges: []"),
            vec!["Unknown component type 'warp_drive' in step 0"]
        );
    }
}
