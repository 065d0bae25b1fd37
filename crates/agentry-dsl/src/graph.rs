//! The in-memory graph the DSL produces and patches: workflow fields, nodes, edges. Shapes follow
//! the API's `NodeIn` / `EdgeIn` (api.md §5) minus row ids, so the service can persist them as is.

use crate::error::DslError;
use agentry_core::graph::{self, EdgeLabel, EdgeRef, EdgeType, NodeRef};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// The workflow row's DSL-controlled fields (dsl.md §8).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct WorkflowFields {
    pub name: String,
    /// `slugify(name)`; the service appends `-2`, `-3`, … while it is taken.
    pub slug: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: Vec<String>,
}

fn yes() -> bool {
    true
}

/// `ComponentConfigData` (api.md §5) with its defaults. Which keys a type keeps is the
/// service's persistence rule; the DSL only fills what the spec says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeConfig {
    pub system_prompt: String,
    pub extra_config: Map<String, Value>,
    pub llm_credential_id: Option<i64>,
    pub model_name: String,
    pub temperature: Option<f64>,
    pub max_tokens: Option<i64>,
    pub frequency_penalty: Option<f64>,
    pub presence_penalty: Option<f64>,
    pub top_p: Option<f64>,
    pub timeout: Option<f64>,
    pub max_retries: Option<i64>,
    pub response_format: Option<Value>,
    pub llm_model_config_id: Option<i64>,
    pub credential_id: Option<i64>,
    #[serde(default = "yes")]
    pub is_active: bool,
    pub priority: i64,
    pub trigger_config: Map<String, Value>,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            system_prompt: String::new(),
            extra_config: Map::new(),
            llm_credential_id: None,
            model_name: String::new(),
            temperature: None,
            max_tokens: None,
            frequency_penalty: None,
            presence_penalty: None,
            top_p: None,
            timeout: None,
            max_retries: None,
            response_format: None,
            llm_model_config_id: None,
            credential_id: None,
            is_active: true,
            priority: 0,
            trigger_config: Map::new(),
        }
    }
}

impl NodeConfig {
    /// The config as JSON with every key left at its default removed (export writes this).
    pub fn to_sparse_json(&self) -> Map<String, Value> {
        let full = serde_json::to_value(self).unwrap_or(Value::Null);
        let default = serde_json::to_value(NodeConfig::default()).unwrap_or(Value::Null);
        let (Value::Object(full), Value::Object(default)) = (full, default) else {
            return Map::new();
        };
        full.into_iter()
            .filter(|(k, v)| default.get(k) != Some(v))
            .collect()
    }
}

/// A node as the service will create it (`NodeIn` without a row id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeSpec {
    pub node_id: String,
    pub component_type: String,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub is_entry_point: bool,
    #[serde(default)]
    pub interrupt_before: bool,
    #[serde(default)]
    pub interrupt_after: bool,
    #[serde(default)]
    pub position_x: i64,
    #[serde(default)]
    pub position_y: i64,
    #[serde(default)]
    pub config: NodeConfig,
    /// Target workflow by slug (a `workflow` step's target, or `subworkflow:`). The service
    /// sets `subworkflow_id` from it when that workflow exists; a missing one is not an error.
    #[serde(default)]
    pub subworkflow_slug: Option<String>,
    /// Set when the graph came from the database (fork, export).
    #[serde(default)]
    pub subworkflow_id: Option<i64>,
}

impl NodeSpec {
    pub fn new(node_id: impl Into<String>, component_type: impl Into<String>) -> Self {
        NodeSpec {
            node_id: node_id.into(),
            component_type: component_type.into(),
            label: String::new(),
            is_entry_point: false,
            interrupt_before: false,
            interrupt_after: false,
            position_x: 0,
            position_y: 0,
            config: NodeConfig::default(),
            subworkflow_slug: None,
            subworkflow_id: None,
        }
    }
    pub fn at(mut self, x: i64, y: i64) -> Self {
        self.position_x = x;
        self.position_y = y;
        self
    }
}

/// An edge as the service will create it (`EdgeIn`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdgeSpec {
    pub source: String,
    pub target: String,
    pub edge_type: EdgeType,
    pub edge_label: EdgeLabel,
    #[serde(default)]
    pub condition_value: String,
    #[serde(default)]
    pub priority: i64,
}

impl EdgeSpec {
    /// A direct edge with a label (`EdgeLabel::Data` = the `""` flow edge).
    pub fn direct(source: &str, target: &str, label: EdgeLabel) -> Self {
        EdgeSpec {
            source: source.to_string(),
            target: target.to_string(),
            edge_type: EdgeType::Direct,
            edge_label: label,
            condition_value: String::new(),
            priority: 0,
        }
    }
    pub fn conditional(source: &str, target: &str, value: &str) -> Self {
        EdgeSpec {
            source: source.to_string(),
            target: target.to_string(),
            edge_type: EdgeType::Conditional,
            edge_label: EdgeLabel::Data,
            condition_value: value.to_string(),
            priority: 0,
        }
    }
    /// Two edges the API would call the same (its duplicate rule, api.md §5).
    pub fn same_as(&self, other: &EdgeSpec) -> bool {
        self.source == other.source
            && self.target == other.target
            && self.edge_type == other.edge_type
            && self.edge_label == other.edge_label
            && self.condition_value == other.condition_value
    }
}

/// A whole workflow graph in memory: what compile and patch produce and export reads.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GraphSnapshot {
    pub workflow: WorkflowFields,
    pub nodes: Vec<NodeSpec>,
    pub edges: Vec<EdgeSpec>,
}

impl GraphSnapshot {
    pub fn node(&self, id: &str) -> Option<&NodeSpec> {
        self.nodes.iter().find(|n| n.node_id == id)
    }
    pub fn node_mut(&mut self, id: &str) -> Option<&mut NodeSpec> {
        self.nodes.iter_mut().find(|n| n.node_id == id)
    }
    /// Adds an edge unless the same one is already there.
    pub fn push_edge(&mut self, edge: EdgeSpec) {
        if !self.edges.iter().any(|e| e.same_as(&edge)) {
            self.edges.push(edge);
        }
    }
}

/// Whether an engine.md §9 message is the model-connection check, which the DSL skips
/// (dsl.md §0: loop bodies and forks may lack models).
fn is_model_check(message: &str) -> bool {
    message.starts_with("Node '") && message.ends_with("requires a model connection")
}

/// The checks of dsl.md §0 on a finished graph: duplicate node ids, then engine.md §9's edge
/// checks minus the model-connection one. Every problem, as build errors.
pub fn check_graph(g: &GraphSnapshot) -> Vec<DslError> {
    let mut errors = Vec::new();
    let mut seen = BTreeSet::new();
    for n in &g.nodes {
        if !seen.insert(n.node_id.as_str()) {
            errors.push(
                DslError::build(format!("Duplicate node id '{}'", n.node_id)).step(&n.node_id),
            );
        }
    }
    let nodes: Vec<NodeRef<'_>> = g
        .nodes
        .iter()
        .map(|n| NodeRef {
            node_id: &n.node_id,
            component_type: &n.component_type,
        })
        .collect();
    let edges: Vec<EdgeRef<'_>> = g
        .edges
        .iter()
        .map(|e| EdgeRef {
            source: &e.source,
            target: &e.target,
            edge_type: e.edge_type,
            label: e.edge_label,
            condition_value: &e.condition_value,
        })
        .collect();
    for message in graph::validate(&nodes, &edges) {
        if !is_model_check(&message) {
            errors.push(DslError::build(message));
        }
    }
    errors
}
