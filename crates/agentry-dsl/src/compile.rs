//! [`CreateDoc`] → nodes and edges (dsl.md §3–6, §12), then the graph checks of §0.

use crate::document::{CreateDoc, Step, StepKind, StepType};
use crate::error::DslError;
use crate::graph::{EdgeSpec, GraphSnapshot, NodeConfig, NodeSpec, WorkflowFields, check_graph};
use crate::model::{
    self, ModelBinding, ModelRef, ModelResolver, ModelSource, ParentTools, ToolInherit,
};
use crate::parse::scalar_text;
use crate::steps::{self, ToolEntryError};
use crate::yaml::{Located, Yaml};
use agentry_core::graph::{EdgeLabel, EdgeType};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// A compiled document: the graph with models and `inherit` options still unresolved.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledWorkflow {
    pub graph: GraphSnapshot,
    /// The workflow-level `model` (§7), if any.
    pub workflow_model: Option<ModelRef>,
    /// AI nodes whose model the service resolves, in node order.
    pub models: Vec<ModelBinding>,
    /// Nodes with `"inherit"` option values.
    pub tool_inherits: Vec<ToolInherit>,
}

impl CompiledWorkflow {
    /// Whether resolving needs the credentials' model lists ([`model::needs_model_lists`]).
    pub fn needs_model_lists(&self) -> bool {
        model::needs_model_lists(&self.models, self.workflow_model.as_ref())
    }

    /// Resolves models through `resolver` and inherited options from `parent`
    /// ([`model::finalize`]). Returns the graph to persist and every problem.
    pub fn finalize(
        &self,
        resolver: &mut dyn ModelResolver,
        parent: Option<&ParentTools>,
    ) -> (GraphSnapshot, Vec<DslError>) {
        model::finalize(
            &self.graph,
            self.workflow_model.as_ref(),
            &self.models,
            &self.tool_inherits,
            resolver,
            parent,
        )
    }
}

struct Builder {
    g: GraphSnapshot,
    models: Vec<ModelBinding>,
    inherits: Vec<ToolInherit>,
    errors: Vec<DslError>,
}

impl Builder {
    fn node(&mut self, n: NodeSpec) {
        self.g.nodes.push(n);
    }
    fn edge(&mut self, e: EdgeSpec) {
        self.g.edges.push(e);
    }
    fn inherit(&mut self, node_id: &str, match_type: &str, extra: &Map<String, Value>) {
        let keys = model::inherit_keys(extra);
        if !keys.is_empty() {
            self.inherits.push(ToolInherit {
                node_id: node_id.to_string(),
                match_type: match_type.to_string(),
                keys,
            });
        }
    }

    /// A step's own node (§4 + §12 keys), not yet pushed. `x`, `y` are its default position.
    fn step_node(
        &mut self,
        id: &str,
        kind: &StepKind,
        body: &Located,
        x: i64,
        y: i64,
    ) -> (NodeSpec, Option<bool>) {
        let mut node = NodeSpec::new(id, kind.component_type()).at(x, y);
        match kind {
            StepKind::Dsl(ty) => match steps::build_step_config(*ty, body, id) {
                Ok(built) => {
                    node.config = built.config;
                    node.interrupt_before = built.interrupt_before;
                    node.subworkflow_slug = built.subworkflow_slug;
                }
                Err(mut e) => self.errors.append(&mut e),
            },
            StepKind::Component(ct) => {
                if let Some(c) = body.get("config").filter(|c| !c.is_null()) {
                    match serde_json::from_value::<NodeConfig>(c.to_json()) {
                        Ok(cfg) => node.config = cfg,
                        Err(e) => self.errors.push(
                            DslError::build(format!("Step '{id}': invalid config: {e}"))
                                .step(id)
                                .key("config")
                                .at(c.pos),
                        ),
                    }
                }
                // The API always sets it for this type (api.md §5).
                node.interrupt_before = ct == "human_confirmation";
            }
        }
        let entry = steps::apply_common_keys(&mut node, body, &mut self.errors);
        if let StepKind::Dsl(_) = kind {
            let extra = node.config.extra_config.clone();
            self.inherit(id, kind.component_type(), &extra);
        }
        (node, entry)
    }

    /// Model, tools, memory tools and skills of an AI step (§6).
    fn sub_components(&mut self, step_id: &str, ty: StepType, body: &Located, x: i64) {
        // Model.
        let spec = match body.get("model") {
            Some(m) => match model::parse_model_spec(m) {
                Ok(s) => s,
                Err(e) => {
                    self.errors.push(e.step(step_id));
                    Some(ModelRef::None)
                }
            },
            None => None,
        };
        let source = match spec {
            Some(ModelRef::None) => None,
            Some(spec) => Some(ModelSource::Spec(spec)),
            None => Some(ModelSource::WorkflowDefault),
        };
        if let Some(source) = source {
            let model_id = body
                .get("model")
                .and_then(|m| m.get("id"))
                .and_then(scalar_text)
                .unwrap_or_else(|| format!("ai_model_{step_id}"));
            self.node(NodeSpec::new(&model_id, "ai_model").at(x - 50, 350));
            self.edge(EdgeSpec::direct(&model_id, step_id, EdgeLabel::Llm));
            self.models.push(ModelBinding {
                node_id: step_id.to_string(),
                model_node_id: Some(model_id),
                source,
                drop_model_node_if_unresolved: true,
            });
        }
        if !ty.takes_tools() {
            return;
        }
        // Tools, then the memory tools of `memory: true` (§0), numbered on.
        let mut listed: Vec<&'static str> = vec![];
        let mut j = 0usize;
        if let Some(tools) = body.get("tools").filter(|t| !t.is_null()) {
            let items = match tools.as_seq() {
                Some(items) => items,
                None => {
                    self.errors.push(
                        DslError::build(format!("`tools` of step '{step_id}' must be a list"))
                            .step(step_id)
                            .key("tools")
                            .at(tools.pos),
                    );
                    &[]
                }
            };
            for (idx, entry) in items.iter().enumerate() {
                match steps::tool_entry(entry) {
                    Ok(t) => {
                        j += 1;
                        let id =
                            t.id.clone()
                                .unwrap_or_else(|| format!("{}_{step_id}_{j}", t.component_type));
                        let mut n = NodeSpec::new(&id, t.component_type)
                            .at(x + 50, 350 + 80 * (j as i64 - 1));
                        self.inherit(&id, t.component_type, &t.extra_config);
                        n.config.extra_config = t.extra_config;
                        self.node(n);
                        self.edge(EdgeSpec::direct(&id, step_id, EdgeLabel::Tool));
                        listed.push(t.component_type);
                    }
                    Err(ToolEntryError::Shape(name)) => self.errors.push(
                        DslError::build(format!(
                            "Tool {idx} in step '{step_id}' must be a string or mapping, got {name}"
                        ))
                        .step(step_id)
                        .key("tools")
                        .at(entry.pos),
                    ),
                    Err(ToolEntryError::Unknown(name)) => self.errors.push(
                        DslError::build(format!(
                            "Unknown inline tool type '{name}'. Valid: {}",
                            steps::inline_tool_names()
                        ))
                        .step(step_id)
                        .key("tools")
                        .at(entry.pos),
                    ),
                }
            }
        }
        if body.get("memory").is_some_and(Located::is_truthy) {
            for ct in ["memory_read", "memory_write"] {
                if listed.contains(&ct) {
                    continue;
                }
                j += 1;
                let id = format!("{ct}_{step_id}_{j}");
                self.node(NodeSpec::new(&id, ct).at(x + 50, 350 + 80 * (j as i64 - 1)));
                self.edge(EdgeSpec::direct(&id, step_id, EdgeLabel::Tool));
            }
        }
        // Skills.
        if let Some(skills) = body.get("skills").filter(|s| !s.is_null()) {
            let items = skills.as_seq().unwrap_or_default();
            if skills.as_seq().is_none() {
                self.errors.push(
                    DslError::build(format!("`skills` of step '{step_id}' must be a list"))
                        .step(step_id)
                        .key("skills")
                        .at(skills.pos),
                );
            }
            for (k, entry) in items.iter().enumerate() {
                match steps::skill_entry(entry) {
                    Ok((extra, id)) => {
                        let id = id.unwrap_or_else(|| format!("skill_{step_id}_{}", k + 1));
                        let mut n = NodeSpec::new(&id, "skill").at(x + 150, 350 + 80 * k as i64);
                        n.config.extra_config = extra;
                        self.node(n);
                        self.edge(EdgeSpec::direct(&id, step_id, EdgeLabel::Skill));
                    }
                    Err(name) => self.errors.push(
                        DslError::build(format!(
                            "Skill {k} in step '{step_id}' must be a string or mapping, got {name}"
                        ))
                        .step(step_id)
                        .key("skills")
                        .at(entry.pos),
                    ),
                }
            }
        }
    }

    /// An AI node without a model node (loop bodies, explicit form): its own model fields
    /// still follow its `model` (§4 "config as §4"), resolved by the service.
    fn bare_model(&mut self, node_id: &str, body: &Located, implicit: bool) {
        let source = match body.get("model").map(model::parse_model_spec) {
            Some(Ok(Some(ModelRef::None))) => None,
            Some(Ok(Some(spec))) => Some(ModelSource::Spec(spec)),
            Some(Err(e)) => {
                self.errors.push(e.step(node_id));
                None
            }
            Some(Ok(None)) | None => implicit.then_some(ModelSource::WorkflowDefault),
        };
        if let Some(source) = source {
            self.models.push(ModelBinding {
                node_id: node_id.to_string(),
                model_node_id: None,
                source,
                drop_model_node_if_unresolved: true,
            });
        }
    }

    /// A loop's body (§5.4): nodes at (x + 200·b, y), `loop_body` / direct / `loop_return`
    /// edges. Nested loops expand the same way one row lower.
    fn loop_body(&mut self, loop_id: &str, body: &Located, x: i64, y: i64) {
        let items = body
            .get("body")
            .and_then(Located::as_seq)
            .unwrap_or_default();
        if items.is_empty() {
            self.errors.push(
                DslError::build(format!(
                    "Loop step '{loop_id}' requires a non-empty `body` list"
                ))
                .step(loop_id)
                .key("body")
                .at(body.get("body").map_or(body.pos, |b| b.pos)),
            );
            return;
        }
        let mut prev: Option<String> = None;
        for (b, item) in items.iter().enumerate() {
            if item.as_map().is_none() {
                self.errors.push(
                    DslError::build(format!(
                        "Loop step '{loop_id}' body item {b} must be a mapping"
                    ))
                    .step(loop_id)
                    .key("body")
                    .at(item.pos),
                );
                continue;
            }
            let kind = match body_kind(item) {
                Ok(k) => k,
                Err(name) => {
                    self.errors.push(
                        DslError::build(format!(
                            "Unknown step type '{name}' in loop '{loop_id}' body item {b}. Valid: {}",
                            StepType::NAMES.join(", ")
                        ))
                        .step(loop_id)
                        .key("type")
                        .at(item.pos),
                    );
                    continue;
                }
            };
            let id = item
                .get("id")
                .and_then(scalar_text)
                .unwrap_or_else(|| format!("{loop_id}_body_{}", b + 1));
            let bx = x + 200 * b as i64;
            let (node, entry) = self.step_node(&id, &kind, item, bx, y);
            let mut node = node;
            node.is_entry_point = entry.unwrap_or(false);
            self.node(node);
            if let StepKind::Dsl(t) = kind
                && t.is_ai()
            {
                self.bare_model(&id, item, true);
            }
            match &prev {
                None => self.edge(EdgeSpec::direct(loop_id, &id, EdgeLabel::LoopBody)),
                Some(p) => self.edge(EdgeSpec::direct(p, &id, EdgeLabel::Data)),
            }
            if kind == StepKind::Dsl(StepType::Loop) {
                self.loop_body(&id, item, bx, y + 150);
            }
            prev = Some(id);
        }
        if let Some(last) = prev {
            self.edge(EdgeSpec::direct(&last, loop_id, EdgeLabel::LoopReturn));
        }
    }
}

/// A body item's kind: `type` defaults to `code` (§5.4); `component` as in §12.
fn body_kind(item: &Located) -> Result<StepKind, String> {
    if let Some(c) = item.get("component").and_then(scalar_text) {
        return match agentry_core::node_types::get(&c) {
            Some(_) => Ok(StepKind::Component(c)),
            None => Err(c),
        };
    }
    let name = item
        .get("type")
        .filter(|t| !t.is_null())
        .map_or(Some("code".to_string()), scalar_text)
        .unwrap_or_default();
    StepType::parse(&name).map(StepKind::Dsl).ok_or(name)
}

/// The ids every switch step routes to (§5.1), with their switch, in declaration order.
fn switch_targets(steps: &[Step]) -> Vec<(String, String, Option<Located>)> {
    let mut out = vec![];
    for s in steps {
        if s.kind != StepKind::Dsl(StepType::Switch) {
            continue;
        }
        for rule in s
            .body
            .get("rules")
            .and_then(Located::as_seq)
            .unwrap_or_default()
        {
            if let Some(r) = rule
                .get("route")
                .and_then(scalar_text)
                .filter(|r| !r.is_empty())
            {
                out.push((s.id.clone(), r, rule.get("route").cloned()));
            }
        }
        if let Some(d) = s
            .body
            .get("default")
            .and_then(scalar_text)
            .filter(|d| !d.is_empty())
        {
            out.push((s.id.clone(), d, s.body.get("default").cloned()));
        }
    }
    out
}

/// Compiles a create-mode document. Every error found is returned together.
pub fn compile(doc: &CreateDoc) -> Result<CompiledWorkflow, Vec<DslError>> {
    let mut b = Builder {
        g: GraphSnapshot {
            workflow: WorkflowFields {
                name: doc.name.clone(),
                slug: agentry_core::ids::slugify(&doc.name),
                description: doc.description.clone(),
                tags: doc.tags.clone(),
            },
            nodes: vec![],
            edges: vec![],
        },
        models: vec![],
        inherits: vec![],
        errors: vec![],
    };
    let mut workflow_model = None;
    if doc.edges.is_some() {
        compile_explicit(doc, &mut b);
    } else {
        if let Some(m) = &doc.model {
            match model::parse_model_spec(m) {
                Ok(spec) => workflow_model = spec,
                Err(e) => b.errors.push(e),
            }
        }
        compile_steps(doc, &mut b);
    }
    if b.errors.is_empty() {
        b.errors = check_graph(&b.g);
    }
    if b.errors.is_empty() {
        Ok(CompiledWorkflow {
            graph: b.g,
            workflow_model,
            models: b.models,
            tool_inherits: b.inherits,
        })
    } else {
        Err(b.errors)
    }
}

/// The step form (§3–6).
fn compile_steps(doc: &CreateDoc, b: &mut Builder) {
    let trigger_id = doc.trigger.node_id();
    let mut trigger = NodeSpec::new(&trigger_id, doc.trigger.kind.component_type()).at(0, 200);
    trigger.config.trigger_config = doc.trigger_config.clone();
    b.node(trigger);

    let targets = switch_targets(&doc.steps);
    let claimed: BTreeSet<&str> = targets.iter().map(|(_, t, _)| t.as_str()).collect();
    let mut prev = Some(trigger_id);
    for step in &doc.steps {
        let x = 300 * (step.index as i64 + 1);
        let (mut node, entry) = b.step_node(&step.id, &step.kind, &step.body, x, 200);
        node.is_entry_point = entry.unwrap_or(step.index == 0);
        b.node(node);
        if let Some(p) = &prev
            && !claimed.contains(step.id.as_str())
        {
            b.edge(EdgeSpec::direct(p, &step.id, EdgeLabel::Data));
        }
        if let StepKind::Dsl(ty) = step.kind
            && ty.is_ai()
        {
            b.sub_components(&step.id, ty, &step.body, x);
        }
        prev = Some(step.id.clone());
        match step.kind {
            StepKind::Dsl(StepType::Switch) => {
                switch_edges(b, step);
                prev = None;
            }
            StepKind::Dsl(StepType::Loop) => b.loop_body(&step.id, &step.body, x, 350),
            _ => {}
        }
    }
    // agentry: a switch may only route to a step of this document (§5).
    let ids: BTreeSet<&str> = b.g.nodes.iter().map(|n| n.node_id.as_str()).collect();
    let mut unknown = vec![];
    for (switch, target, at) in &targets {
        if !ids.contains(target.as_str()) {
            unknown.push(
                DslError::build(format!(
                    "Switch step '{switch}' routes to unknown step '{target}'"
                ))
                .step(switch)
                .at(at.as_ref().map(|l| l.pos).unwrap_or_default()),
            );
        }
    }
    b.errors.extend(unknown);
}

/// §5.3: one conditional edge per rule with a route, then `default` → `__other__`.
fn switch_edges(b: &mut Builder, step: &Step) {
    for rule in step
        .body
        .get("rules")
        .and_then(Located::as_seq)
        .unwrap_or_default()
    {
        if let Some(r) = rule
            .get("route")
            .and_then(scalar_text)
            .filter(|r| !r.is_empty())
        {
            b.edge(EdgeSpec::conditional(&step.id, &r, &r));
        }
    }
    if let Some(d) = step
        .body
        .get("default")
        .and_then(scalar_text)
        .filter(|d| !d.is_empty())
    {
        b.edge(EdgeSpec::conditional(&step.id, &d, "__other__"));
    }
}

/// The explicit form (§12): steps are nodes, `edges` are the edges, nothing implicit.
fn compile_explicit(doc: &CreateDoc, b: &mut Builder) {
    for step in &doc.steps {
        let x = 300 * (step.index as i64 + 1);
        let (mut node, entry) = b.step_node(&step.id, &step.kind, &step.body, x, 200);
        node.is_entry_point = entry.unwrap_or(false);
        b.node(node);
        if let StepKind::Dsl(t) = step.kind
            && t.is_ai()
        {
            b.bare_model(&step.id, &step.body, false);
        }
    }
    let ids: BTreeSet<String> = b.g.nodes.iter().map(|n| n.node_id.clone()).collect();
    for (k, e) in doc.edges.iter().flatten().enumerate() {
        match explicit_edge(k, e, &ids) {
            Ok(edge) => b.edge(edge),
            Err(mut errs) => b.errors.append(&mut errs),
        }
    }
}

fn explicit_edge(k: usize, e: &Located, ids: &BTreeSet<String>) -> Result<EdgeSpec, Vec<DslError>> {
    if e.as_map().is_none() {
        return Err(vec![
            DslError::build(format!("Edge {k} must be a mapping"))
                .key("edges")
                .at(e.pos),
        ]);
    }
    let mut errors = vec![];
    let text = |key: &str| e.get(key).and_then(scalar_text).unwrap_or_default();
    let (from, to) = (text("from"), text("to"));
    for (key, id) in [("from", &from), ("to", &to)] {
        let is_end = key == "to" && (id.is_empty() || id == agentry_core::graph::END);
        if !is_end && !ids.contains(id.as_str()) {
            errors.push(
                DslError::build(format!("Edge references unknown node '{id}'"))
                    .key(key)
                    .at(e.get(key).map_or(e.pos, |v| v.pos)),
            );
        }
    }
    let ty = e
        .get("type")
        .and_then(scalar_text)
        .unwrap_or_else(|| "direct".into());
    let edge_type = EdgeType::parse(&ty).unwrap_or_else(|| {
        errors.push(
            DslError::build(format!(
                "Edge {k}: unknown edge type '{ty}' (direct, conditional)"
            ))
            .key("type")
            .at(e.pos),
        );
        EdgeType::Direct
    });
    let label = text("label");
    let edge_label = EdgeLabel::parse(&label).unwrap_or_else(|| {
        errors.push(
            DslError::build(format!(
                "Edge {k}: unknown edge label '{label}' (\"\", llm, tool, output_parser, loop_body, loop_return, skill)"
            ))
            .key("label")
            .at(e.pos),
        );
        EdgeLabel::Data
    });
    let priority = match e.get("priority").map(|p| &p.value) {
        None | Some(Yaml::Null) => 0,
        Some(Yaml::Int(i)) => *i,
        Some(_) => {
            errors.push(
                DslError::build(format!("Edge {k}: `priority` must be an integer"))
                    .key("priority")
                    .at(e.pos),
            );
            0
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(EdgeSpec {
        source: from,
        target: to,
        edge_type,
        edge_label,
        condition_value: text("value"),
        priority,
    })
}
