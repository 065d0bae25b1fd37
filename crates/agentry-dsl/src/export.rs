//! Graph → DSL text (dsl.md §12). Always the explicit form: it states every node and edge, so
//! compiling it reproduces the graph exactly (positions included), whatever the graph is.

use crate::graph::{GraphSnapshot, NodeSpec};
use agentry_core::graph::EdgeType;
use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Serialize)]
struct Doc<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    description: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    tags: &'a [String],
    steps: Vec<StepOut<'a>>,
    edges: Vec<EdgeOut<'a>>,
}

#[derive(Serialize)]
struct StepOut<'a> {
    id: &'a str,
    component: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    label: &'a str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    entry: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    interrupt_before: Option<bool>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    interrupt_after: bool,
    position: [i64; 2],
    #[serde(skip_serializing_if = "Option::is_none")]
    subworkflow: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subworkflow_id: Option<i64>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    config: Map<String, Value>,
}

#[derive(Serialize)]
struct EdgeOut<'a> {
    from: &'a str,
    to: &'a str,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    edge_type: Option<&'static str>,
    #[serde(skip_serializing_if = "str::is_empty")]
    label: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    value: &'a str,
    #[serde(skip_serializing_if = "is_zero")]
    priority: i64,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

fn step(n: &NodeSpec) -> StepOut<'_> {
    // Compile sets `interrupt_before` for human_confirmation; state it only when it differs.
    let default_ib = n.component_type == "human_confirmation";
    StepOut {
        id: &n.node_id,
        component: &n.component_type,
        label: &n.label,
        entry: n.is_entry_point,
        interrupt_before: (n.interrupt_before != default_ib).then_some(n.interrupt_before),
        interrupt_after: n.interrupt_after,
        position: [n.position_x, n.position_y],
        subworkflow: n.subworkflow_slug.as_deref(),
        subworkflow_id: n.subworkflow_id,
        config: n.config.to_sparse_json(),
    }
}

/// The graph as a DSL document in the explicit form. `compile(parse(export(g)))` gives `g`'s
/// nodes and edges back (the slug is derived again from the name).
pub fn export(g: &GraphSnapshot) -> String {
    let doc = Doc {
        name: &g.workflow.name,
        description: &g.workflow.description,
        tags: &g.workflow.tags,
        steps: g.nodes.iter().map(step).collect(),
        edges: g
            .edges
            .iter()
            .map(|e| EdgeOut {
                from: &e.source,
                to: &e.target,
                edge_type: (e.edge_type != EdgeType::Direct).then_some(e.edge_type.as_str()),
                label: e.edge_label.as_str(),
                value: &e.condition_value,
                priority: e.priority,
            })
            .collect(),
    };
    // Serializing plain structs, maps and JSON values cannot fail; an empty text would then
    // fail loudly at compile rather than here.
    serde_saphyr::to_string(&doc).unwrap_or_default()
}
