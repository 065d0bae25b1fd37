//! Workflow graph rules: edge kinds, create-time edge checks (api.md §5) and whole-graph
//! validation (engine.md §9). Pure: callers hand in the nodes and edges they loaded.

use crate::node_types::{self, NodeTypeSpec};
use serde::{Deserialize, Serialize};

/// The end marker a target may name instead of a node.
pub const END: &str = "__end__";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EdgeType {
    Direct,
    Conditional,
}

impl EdgeType {
    pub fn as_str(self) -> &'static str {
        match self {
            EdgeType::Direct => "direct",
            EdgeType::Conditional => "conditional",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "direct" => Some(EdgeType::Direct),
            "conditional" => Some(EdgeType::Conditional),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum EdgeLabel {
    #[serde(rename = "")]
    Data,
    #[serde(rename = "llm")]
    Llm,
    #[serde(rename = "tool")]
    Tool,
    #[serde(rename = "output_parser")]
    OutputParser,
    #[serde(rename = "loop_body")]
    LoopBody,
    #[serde(rename = "loop_return")]
    LoopReturn,
    #[serde(rename = "skill")]
    Skill,
}

impl EdgeLabel {
    pub fn as_str(self) -> &'static str {
        match self {
            EdgeLabel::Data => "",
            EdgeLabel::Llm => "llm",
            EdgeLabel::Tool => "tool",
            EdgeLabel::OutputParser => "output_parser",
            EdgeLabel::LoopBody => "loop_body",
            EdgeLabel::LoopReturn => "loop_return",
            EdgeLabel::Skill => "skill",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "" => EdgeLabel::Data,
            "llm" => EdgeLabel::Llm,
            "tool" => EdgeLabel::Tool,
            "output_parser" => EdgeLabel::OutputParser,
            "loop_body" => EdgeLabel::LoopBody,
            "loop_return" => EdgeLabel::LoopReturn,
            "skill" => EdgeLabel::Skill,
            _ => return None,
        })
    }
    /// Edges that carry execution flow (engine.md §4.3).
    pub fn is_flow(self) -> bool {
        matches!(
            self,
            EdgeLabel::Data | EdgeLabel::LoopBody | EdgeLabel::LoopReturn
        )
    }
}

/// A node as the rules see it.
#[derive(Debug, Clone, Copy)]
pub struct NodeRef<'a> {
    pub node_id: &'a str,
    pub component_type: &'a str,
}

/// An edge as the rules see it.
#[derive(Debug, Clone, Copy)]
pub struct EdgeRef<'a> {
    pub source: &'a str,
    pub target: &'a str,
    pub edge_type: EdgeType,
    pub label: EdgeLabel,
    pub condition_value: &'a str,
}

/// Why a new or changed edge is refused (api.md §5); the server maps `Detail` to
/// `422 {"detail": text}` and `ValidationErrors` to `422 {"detail": {"validation_errors": […]}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EdgeProblem {
    Detail(String),
    ValidationErrors(Vec<String>),
}

/// Can this node type be the source of a `tool` edge?
pub fn can_be_tool(spec: &NodeTypeSpec) -> bool {
    spec.is_tool() || spec.component_type == "http_request"
}

fn is_end(target: &str) -> bool {
    target.is_empty() || target == END
}

/// Port types compatible for a data edge (engine.md §9).
pub fn types_compatible(out: &str, inp: &str) -> bool {
    out == inp
        || out == "any"
        || inp == "any"
        || (out == "message" && inp == "messages")
        || (out == "string" && (inp == "message" || inp == "messages"))
}

/// The handle an edge label plugs into, and whether the target type accepts it.
fn accepts_label(target: &NodeTypeSpec, label: EdgeLabel) -> Option<bool> {
    match label {
        EdgeLabel::Llm => Some(target.requires_model),
        EdgeLabel::Tool => Some(target.requires_tools),
        EdgeLabel::OutputParser => Some(target.requires_output_parser),
        EdgeLabel::Skill => Some(target.requires_skills),
        _ => None,
    }
}

/// Type checks for one edge whose ends exist: label acceptance, tool sources, port types.
/// Messages come without the `Edge {src} → {tgt}: ` prefix.
fn type_problems(src_type: &str, tgt_type: &str, edge: &EdgeRef<'_>) -> Vec<String> {
    let mut problems = vec![];
    let (Some(src), Some(tgt)) = (node_types::get(src_type), node_types::get(tgt_type)) else {
        return problems; // unknown node types are allowed here
    };
    if matches!(edge.label, EdgeLabel::LoopBody | EdgeLabel::LoopReturn) {
        return problems;
    }
    if edge.label == EdgeLabel::Tool && !can_be_tool(src) {
        problems.push(format!("Node type '{}' is not a tool", src.component_type));
    }
    if let Some(accepted) = accepts_label(tgt, edge.label) {
        if !accepted {
            problems.push(format!(
                "Node type '{}' does not accept '{}' connections",
                tgt.component_type,
                edge.label.as_str()
            ));
        }
        return problems;
    }
    if src.is_trigger() {
        return problems; // agentry: edges leaving a trigger are not type-checked
    }
    if let (Some(a), Some(b)) = (src.first_output_type(), tgt.first_input_type())
        && !types_compatible(a, b)
    {
        problems.push(format!(
            "Type mismatch: {} outputs '{a}' but {} expects '{b}'",
            src.component_type, tgt.component_type
        ));
    }
    problems
}

/// Create/PATCH-time checks for an edge (api.md §5). `type_of` maps a node id of the
/// workflow to its component type.
pub fn check_edge<'a>(
    type_of: impl Fn(&str) -> Option<&'a str>,
    edge: &EdgeRef<'_>,
) -> Result<(), EdgeProblem> {
    let Some(src_type) = type_of(edge.source) else {
        return Err(EdgeProblem::Detail(format!(
            "Edge references unknown source node '{}'",
            edge.source
        )));
    };
    let tgt_type = if is_end(edge.target) {
        None
    } else {
        match type_of(edge.target) {
            Some(t) => Some(t),
            None => {
                return Err(EdgeProblem::Detail(format!(
                    "Edge references unknown target node '{}'",
                    edge.target
                )));
            }
        }
    };
    if edge.edge_type == EdgeType::Conditional {
        if edge.condition_value.is_empty() {
            return Err(EdgeProblem::Detail(
                "Conditional edges require a non-empty condition_value".into(),
            ));
        }
        if edge.target.is_empty() {
            return Err(EdgeProblem::Detail(
                "Conditional edges require a non-empty target_node_id".into(),
            ));
        }
        if src_type != "switch" {
            return Err(EdgeProblem::Detail(
                "Conditional edges can only originate from 'switch' nodes".into(),
            ));
        }
    }
    if let Some(tgt_type) = tgt_type {
        let problems = type_problems(src_type, tgt_type, edge);
        if !problems.is_empty() {
            return Err(EdgeProblem::ValidationErrors(problems));
        }
    } else if edge.label == EdgeLabel::Tool {
        // A tool edge must join a tool to an agent; an open end cannot be an agent.
        return Err(EdgeProblem::Detail(
            "Tool edges require a target agent node".into(),
        ));
    }
    Ok(())
}

/// Whole-graph validation (engine.md §9): every problem found, in edge order then node order.
pub fn validate(nodes: &[NodeRef<'_>], edges: &[EdgeRef<'_>]) -> Vec<String> {
    let type_of = |id: &str| {
        nodes
            .iter()
            .find(|n| n.node_id == id)
            .map(|n| n.component_type)
    };
    let mut errors = vec![];
    for e in edges {
        let src_type = type_of(e.source);
        if src_type.is_none() {
            errors.push(format!(
                "Edge references unknown source node '{}'",
                e.source
            ));
        }
        if e.edge_type == EdgeType::Conditional {
            if e.condition_value.is_empty() {
                errors.push(format!(
                    "Conditional edge from '{}' is missing condition_value",
                    e.source
                ));
            }
            if e.target.is_empty() {
                errors.push(format!(
                    "Conditional edge from '{}' is missing target_node_id",
                    e.source
                ));
            } else if e.target != END && type_of(e.target).is_none() {
                errors.push(format!(
                    "Conditional edge from '{}' targets unknown node '{}'",
                    e.source, e.target
                ));
            }
            if let Some(t) = src_type
                && t != "switch"
            {
                errors.push(format!(
                    "Conditional edge from '{}' ({t}): only 'switch' nodes can have conditional edges",
                    e.source
                ));
            }
            continue;
        }
        if is_end(e.target) {
            continue;
        }
        let Some(tgt_type) = type_of(e.target) else {
            errors.push(format!(
                "Edge references unknown target node '{}'",
                e.target
            ));
            continue;
        };
        if let Some(src_type) = src_type {
            for p in type_problems(src_type, tgt_type, e) {
                errors.push(format!("Edge {} → {}: {p}", e.source, e.target));
            }
        }
    }
    for n in nodes {
        let Some(spec) = node_types::get(n.component_type) else {
            continue;
        };
        if spec.requires_model
            && !edges
                .iter()
                .any(|e| e.label == EdgeLabel::Llm && e.target == n.node_id)
        {
            errors.push(format!(
                "Node '{}' ({}) requires a model connection",
                n.node_id, n.component_type
            ));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n<'a>(id: &'a str, ct: &'a str) -> NodeRef<'a> {
        NodeRef {
            node_id: id,
            component_type: ct,
        }
    }
    fn e<'a>(s: &'a str, t: &'a str, label: EdgeLabel) -> EdgeRef<'a> {
        EdgeRef {
            source: s,
            target: t,
            edge_type: EdgeType::Direct,
            label,
            condition_value: "",
        }
    }
    fn cond<'a>(s: &'a str, t: &'a str, v: &'a str) -> EdgeRef<'a> {
        EdgeRef {
            source: s,
            target: t,
            edge_type: EdgeType::Conditional,
            label: EdgeLabel::Data,
            condition_value: v,
        }
    }

    #[test]
    fn a_wired_agent_is_valid() {
        let nodes = [
            n("t", "trigger_chat"),
            n("m", "ai_model"),
            n("a", "agent"),
            n("w", "whoami"),
            n("r", "reply_chat"),
        ];
        let edges = [
            e("t", "a", EdgeLabel::Data),
            e("m", "a", EdgeLabel::Llm),
            e("w", "a", EdgeLabel::Tool),
            e("a", "r", EdgeLabel::Data),
        ];
        assert_eq!(validate(&nodes, &edges), Vec::<String>::new());
    }

    #[test]
    fn reports_every_problem() {
        let nodes = [
            n("t", "trigger_manual"),
            n("a", "agent"),
            n("c", "code"),
            n("h", "human_confirmation"),
            n("s", "switch"),
        ];
        let edges = [
            e("ghost", "a", EdgeLabel::Data),
            e("t", "nowhere", EdgeLabel::Data),
            cond("c", "a", "x"),
            cond("s", "", ""),
            e("c", "a", EdgeLabel::Tool),
            e("h", "a", EdgeLabel::Data),
            e("a", "c", EdgeLabel::Llm),
        ];
        let errs = validate(&nodes, &edges);
        assert_eq!(
            errs,
            vec![
                "Edge references unknown source node 'ghost'",
                "Edge references unknown target node 'nowhere'",
                "Conditional edge from 'c' (code): only 'switch' nodes can have conditional edges",
                "Conditional edge from 's' is missing condition_value",
                "Conditional edge from 's' is missing target_node_id",
                "Edge c → a: Node type 'code' is not a tool",
                "Edge h → a: Type mismatch: human_confirmation outputs 'boolean' but agent expects 'messages'",
                "Edge a → c: Node type 'code' does not accept 'llm' connections",
                "Node 'a' (agent) requires a model connection",
            ]
        );
    }

    #[test]
    fn create_time_checks() {
        let types = |id: &str| match id {
            "s" => Some("switch"),
            "c" => Some("code"),
            "a" => Some("agent"),
            "w" => Some("whoami"),
            "t" => Some("trigger_manual"),
            _ => None,
        };
        assert_eq!(
            check_edge(types, &e("x", "a", EdgeLabel::Data)),
            Err(EdgeProblem::Detail(
                "Edge references unknown source node 'x'".into()
            ))
        );
        assert_eq!(
            check_edge(types, &e("c", "x", EdgeLabel::Data)),
            Err(EdgeProblem::Detail(
                "Edge references unknown target node 'x'".into()
            ))
        );
        assert!(check_edge(types, &e("c", END, EdgeLabel::Data)).is_ok());
        assert!(
            check_edge(types, &e("t", "a", EdgeLabel::Data)).is_ok(),
            "trigger edges skip type checks"
        );
        assert_eq!(
            check_edge(types, &cond("c", "a", "x")),
            Err(EdgeProblem::Detail(
                "Conditional edges can only originate from 'switch' nodes".into()
            ))
        );
        assert_eq!(
            check_edge(types, &cond("s", "a", "")),
            Err(EdgeProblem::Detail(
                "Conditional edges require a non-empty condition_value".into()
            ))
        );
        assert_eq!(
            check_edge(types, &cond("s", "", "x")),
            Err(EdgeProblem::Detail(
                "Conditional edges require a non-empty target_node_id".into()
            ))
        );
        assert!(check_edge(types, &cond("s", "a", "yes")).is_ok());
        assert_eq!(
            check_edge(types, &e("c", "a", EdgeLabel::Tool)),
            Err(EdgeProblem::ValidationErrors(vec![
                "Node type 'code' is not a tool".into()
            ]))
        );
        assert!(check_edge(types, &e("w", "a", EdgeLabel::Tool)).is_ok());
        assert!(check_edge(types, &e("c", "c", EdgeLabel::LoopBody)).is_ok());
    }

    #[test]
    fn compatibility_table() {
        assert!(types_compatible("string", "messages"));
        assert!(types_compatible("message", "messages"));
        assert!(types_compatible("any", "array"));
        assert!(!types_compatible("messages", "string"));
        assert!(!types_compatible("boolean", "messages"));
    }
}
