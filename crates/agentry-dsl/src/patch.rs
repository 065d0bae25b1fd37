//! Fork and patch (dsl.md §10): patches applied in order to a copy of the source graph; the
//! first error aborts; the source is never touched (it is only borrowed).

use crate::compile::CompiledWorkflow;
use crate::document::{ForkDoc, Patch, StepType};
use crate::error::DslError;
use crate::graph::{EdgeSpec, GraphSnapshot, NodeSpec, WorkflowFields, check_graph};
use crate::model::{self, ModelBinding, ModelSource, ToolInherit};
use crate::parse::{scalar_text, trigger_spec};
use crate::steps::{self, ToolEntryError};
use crate::yaml::Located;
use agentry_core::graph::EdgeLabel;
use serde_json::Value;

/// Fork mode: the workflow fields of §1 (defaults from the source), then the patches.
pub fn fork(base: &GraphSnapshot, doc: &ForkDoc) -> Result<CompiledWorkflow, Vec<DslError>> {
    let name = doc
        .name
        .clone()
        .unwrap_or_else(|| format!("{} (fork)", base.workflow.name));
    let mut out = apply_patches(base, &doc.patches)?;
    out.graph.workflow = WorkflowFields {
        slug: agentry_core::ids::slugify(&name),
        name,
        description: doc
            .description
            .clone()
            .unwrap_or_else(|| base.workflow.description.clone()),
        tags: doc
            .tags
            .clone()
            .unwrap_or_else(|| base.workflow.tags.clone()),
    };
    Ok(out)
}

/// Applies `patches` in order to a copy of `base`, then §0's graph checks. `update_model`
/// and `inherit` tool options come back unresolved in the result, as from compile.
pub fn apply_patches(
    base: &GraphSnapshot,
    patches: &[Patch],
) -> Result<CompiledWorkflow, Vec<DslError>> {
    let mut p = Patcher {
        g: base.clone(),
        models: vec![],
        inherits: vec![],
    };
    for patch in patches {
        p.apply(&patch.0).map_err(|e| vec![e.at(patch.0.pos)])?;
    }
    let errors = check_graph(&p.g);
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(CompiledWorkflow {
        graph: p.g,
        workflow_model: None,
        models: p.models,
        tool_inherits: p.inherits,
    })
}

struct Patcher {
    g: GraphSnapshot,
    models: Vec<ModelBinding>,
    inherits: Vec<ToolInherit>,
}

fn text(p: &Located, key: &str) -> Option<String> {
    p.get(key).and_then(scalar_text).filter(|s| !s.is_empty())
}

fn err(message: impl Into<String>) -> DslError {
    DslError::build(message)
}

impl Patcher {
    fn apply(&mut self, p: &Located) -> Result<(), DslError> {
        if p.as_map().is_none() {
            return Err(err("Each patch must be a mapping"));
        }
        let Some(action) = p.get("action").filter(|a| !a.is_null()) else {
            return Err(err("Patch missing `action` field").key("action"));
        };
        let action = scalar_text(action).unwrap_or_default();
        match action.as_str() {
            "update_prompt" => self.update_prompt(p),
            "add_step" => self.add_step(p),
            "remove_step" => self.remove_step(p),
            "add_tool" => self.add_tool(p),
            "remove_tool" => self.remove_tool(p),
            "update_config" => self.update_config(p),
            "update_trigger" => self.update_trigger(p),
            "update_model" => self.update_model(p),
            other => Err(err(format!("Unknown patch action: '{other}'")).key("action")),
        }
    }

    fn find(&mut self, id: &str, action: &str) -> Result<&mut NodeSpec, DslError> {
        self.g
            .node_mut(id)
            .ok_or_else(|| err(format!("Step '{id}' not found for {action}")).step(id))
    }

    fn update_prompt(&mut self, p: &Located) -> Result<(), DslError> {
        let id = text(p, "step_id")
            .ok_or_else(|| err("update_prompt patch requires `step_id`").key("step_id"))?;
        let node = self.find(&id, "update_prompt")?;
        if let Some(prompt) = p.get("prompt").and_then(scalar_text) {
            node.config.system_prompt = prompt;
        }
        let snippet = steps::snippet(p);
        if !snippet.is_empty() {
            node.config
                .extra_config
                .insert("code".into(), Value::String(snippet));
        }
        Ok(())
    }

    fn add_step(&mut self, p: &Located) -> Result<(), DslError> {
        let Some(step) = p.get("step").filter(|s| s.as_map().is_some()) else {
            return Err(err("add_step patch requires a `step` mapping").key("step"));
        };
        let type_name = step
            .get("type")
            .and_then(scalar_text)
            .unwrap_or_else(|| "None".into());
        let ty = StepType::parse(&type_name).ok_or_else(|| {
            err(format!("Invalid step type in add_step: '{type_name}'")).key("step.type")
        })?;
        let id = text(step, "id").unwrap_or_else(|| format!("{}_added", ty.component_type()));
        let mut node = NodeSpec::new(&id, ty.component_type()).at(400, 200);
        // §10: config only for these types; the others start empty.
        match ty {
            StepType::Code
            | StepType::ReplyChat
            | StepType::Merge
            | StepType::Wait
            | StepType::Transform => {
                let built = steps::build_step_config(ty, step, &id).map_err(first)?;
                node.config = built.config;
            }
            t if t.is_ai() => {
                node.config.system_prompt = step
                    .get("prompt")
                    .or_else(|| step.get("system_prompt"))
                    .and_then(scalar_text)
                    .unwrap_or_default();
            }
            StepType::Human => node.interrupt_before = true,
            _ => {}
        }
        if self.g.node(&id).is_some() {
            return Err(err(format!("Duplicate node id '{id}'")).step(&id));
        }
        self.g.nodes.push(node);
        let Some(after) = text(p, "after") else {
            return Ok(());
        };
        let leaving: Vec<usize> = (0..self.g.edges.len())
            .filter(|&i| {
                self.g.edges[i].source == after && self.g.edges[i].edge_label == EdgeLabel::Data
            })
            .collect();
        if leaving.is_empty() {
            self.g
                .push_edge(EdgeSpec::direct(&after, &id, EdgeLabel::Data));
            return Ok(());
        }
        let mut old_targets = vec![];
        for i in leaving {
            old_targets.push(std::mem::replace(&mut self.g.edges[i].target, id.clone()));
        }
        dedup_edges(&mut self.g.edges);
        for t in old_targets {
            self.g.push_edge(EdgeSpec::direct(&id, &t, EdgeLabel::Data));
        }
        Ok(())
    }

    fn remove_step(&mut self, p: &Located) -> Result<(), DslError> {
        let id = text(p, "step_id")
            .ok_or_else(|| err("remove_step patch requires `step_id`").key("step_id"))?;
        self.find(&id, "remove_step")?;
        let flow = |e: &&EdgeSpec| e.edge_label == EdgeLabel::Data;
        let sources: Vec<String> = self
            .g
            .edges
            .iter()
            .filter(flow)
            .filter(|e| e.target == id && e.source != id)
            .map(|e| e.source.clone())
            .collect();
        let targets: Vec<String> = self
            .g
            .edges
            .iter()
            .filter(flow)
            .filter(|e| e.source == id && e.target != id)
            .map(|e| e.target.clone())
            .collect();
        self.g.edges.retain(|e| e.source != id && e.target != id);
        self.g.nodes.retain(|n| n.node_id != id);
        for s in &sources {
            for t in &targets {
                self.g.push_edge(EdgeSpec::direct(s, t, EdgeLabel::Data));
            }
        }
        Ok(())
    }

    fn add_tool(&mut self, p: &Located) -> Result<(), DslError> {
        let step_id = text(p, "step_id").or_else(|| text(p, "agent_id"));
        let (Some(step_id), Some(tool)) = (step_id, p.get("tool").filter(|t| !t.is_null())) else {
            return Err(err("add_tool patch requires `step_id` and `tool`"));
        };
        let entry = steps::tool_entry(tool).map_err(|e| match e {
            ToolEntryError::Unknown(t) => err(format!("Unknown tool type '{t}'")).key("tool"),
            ToolEntryError::Shape(t) => err(format!("Unknown tool type '{t}'")).key("tool"),
        })?;
        let id = entry
            .id
            .clone()
            .unwrap_or_else(|| format!("{}_{step_id}_patched", entry.component_type));
        if self.g.node(&id).is_some() {
            return Err(err(format!("Duplicate node id '{id}'")).step(&id));
        }
        let keys = model::inherit_keys(&entry.extra_config);
        if !keys.is_empty() {
            self.inherits.push(ToolInherit {
                node_id: id.clone(),
                match_type: entry.component_type.to_string(),
                keys,
            });
        }
        let mut node = NodeSpec::new(&id, entry.component_type).at(400, 400);
        node.config.extra_config = entry.extra_config;
        self.g.nodes.push(node);
        self.g
            .push_edge(EdgeSpec::direct(&id, &step_id, EdgeLabel::Tool));
        Ok(())
    }

    fn remove_node(&mut self, id: &str) {
        self.g.nodes.retain(|n| n.node_id != id);
        self.g.edges.retain(|e| e.source != id && e.target != id);
    }

    fn remove_tool(&mut self, p: &Located) -> Result<(), DslError> {
        if let Some(id) = text(p, "tool_node_id") {
            if self.g.node(&id).is_none() {
                return Err(err(format!("Tool node '{id}' not found for remove_tool")).step(&id));
            }
            self.remove_node(&id);
            return Ok(());
        }
        let (Some(agent), Some(tool_type)) = (text(p, "agent_id"), text(p, "tool_type")) else {
            return Err(err("remove_tool patch requires `tool_node_id`").key("tool_node_id"));
        };
        let component = steps::tool_component(&tool_type)
            .unwrap_or(tool_type.as_str())
            .to_string();
        let doomed: Vec<String> = self
            .g
            .edges
            .iter()
            .filter(|e| e.edge_label == EdgeLabel::Tool && e.target == agent)
            .filter(|e| {
                self.g
                    .node(&e.source)
                    .is_some_and(|n| n.component_type == component)
            })
            .map(|e| e.source.clone())
            .collect();
        if doomed.is_empty() {
            return Err(err(format!("No '{tool_type}' tool on step '{agent}'")).step(&agent));
        }
        for id in doomed {
            self.remove_node(&id);
        }
        Ok(())
    }

    fn update_config(&mut self, p: &Located) -> Result<(), DslError> {
        let id = text(p, "step_id");
        let config = p.get("config").map(Located::to_json);
        let (Some(id), Some(Value::Object(config))) = (id, config) else {
            return Err(err("update_config patch requires `step_id` and `config`"));
        };
        let node = self.find(&id, "update_config")?;
        node.config.extra_config.extend(config);
        Ok(())
    }

    fn update_trigger(&mut self, p: &Located) -> Result<(), DslError> {
        let Some(t) = p.get("trigger").filter(|t| !t.is_null()) else {
            return Err(err("update_trigger patch requires `trigger`").key("trigger"));
        };
        let spec = trigger_spec(Some(t)).map_err(|e| DslError {
            kind: crate::ErrorKind::Build,
            ..e
        })?;
        let trigger_config = match p
            .get("trigger_config")
            .or_else(|| t.get("trigger_config"))
            .map(Located::to_json)
        {
            Some(Value::Object(m)) => m,
            _ => Default::default(),
        };
        let ct = spec.kind.component_type();
        let existing = self
            .g
            .nodes
            .iter_mut()
            .find(|n| n.component_type.starts_with("trigger_"));
        if let Some(node) = existing {
            node.component_type = ct.to_string();
            node.config.trigger_config = trigger_config;
            return Ok(());
        }
        let id = spec.node_id();
        if self.g.node(&id).is_some() {
            return Err(err(format!("Duplicate node id '{id}'")).step(&id));
        }
        let mut node = NodeSpec::new(&id, ct).at(0, 200);
        node.config.trigger_config = trigger_config;
        self.g.nodes.insert(0, node);
        if let Some(entry) = self
            .g
            .nodes
            .iter()
            .find(|n| n.is_entry_point)
            .map(|n| n.node_id.clone())
        {
            self.g
                .push_edge(EdgeSpec::direct(&id, &entry, EdgeLabel::Data));
        }
        Ok(())
    }

    fn update_model(&mut self, p: &Located) -> Result<(), DslError> {
        let spec = match p.get("model").map(model::parse_model_spec).transpose()? {
            Some(Some(spec)) => Some(spec),
            _ => None,
        };
        let (Some(id), Some(spec)) = (text(p, "step_id"), spec) else {
            return Err(err("update_model patch requires `step_id` and `model`"));
        };
        let step = self.find(&id, "update_model")?;
        let (x, y) = (step.position_x, step.position_y);
        let wired = self
            .g
            .edges
            .iter()
            .filter(|e| e.edge_label == EdgeLabel::Llm && e.target == id)
            .find(|e| {
                self.g
                    .node(&e.source)
                    .is_some_and(|n| n.component_type == "ai_model")
            })
            .map(|e| e.source.clone());
        let model_id = match wired {
            Some(m) => m,
            None => {
                let m = format!("ai_model_{id}");
                if self.g.node(&m).is_some() {
                    return Err(err(format!("Duplicate node id '{m}'")).step(&m));
                }
                self.g
                    .nodes
                    .push(NodeSpec::new(&m, "ai_model").at(x - 50, y + 150));
                self.g.push_edge(EdgeSpec::direct(&m, &id, EdgeLabel::Llm));
                m
            }
        };
        self.models.retain(|b| b.node_id != id);
        self.models.push(ModelBinding {
            node_id: id,
            model_node_id: Some(model_id),
            source: ModelSource::Spec(spec),
            drop_model_node_if_unresolved: false,
        });
        Ok(())
    }
}

fn first(mut errors: Vec<DslError>) -> DslError {
    if errors.is_empty() {
        err("add_step: invalid step")
    } else {
        errors.swap_remove(0)
    }
}

/// Removes later duplicates (the API refuses the same edge twice).
fn dedup_edges(edges: &mut Vec<EdgeSpec>) {
    let mut kept: Vec<EdgeSpec> = Vec::with_capacity(edges.len());
    for e in edges.drain(..) {
        if !kept.iter().any(|k| k.same_as(&e)) {
            kept.push(e);
        }
    }
    *edges = kept;
}
