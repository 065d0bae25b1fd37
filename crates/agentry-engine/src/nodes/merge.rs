//! `merge` (engine.md §2): joins branches; the orchestrator runs it once all incoming edges
//! arrived (§4). Output `{"merged": …}`.
//!
//! * Sources: `extra_config.source_nodes` (a list of node ids, or one id) in the listed order,
//!   skipping those with no output; absent or empty → every output in `node_outputs` (in map
//!   order, except this merge node's own earlier output). The node does not see the graph, so
//!   this default includes the trigger node's payload and every finished upstream node, not
//!   only the merge's direct predecessors (the DSL writes `extra_config = {}`).
//! * `append` (default): a list of the source outputs; an output that is itself a list is
//!   flattened into it.
//! * `combine`: the outputs merged key-wise by node id, as §3 merges parallel branches into
//!   `node_outputs` — `{node_id: output}` (without `source_nodes`: the whole `node_outputs`).
//! * Another mode fails the node (not retried).

use crate::node::{NodeCtx, NodeError, NodeOutcome, NodeResult};
use serde_json::{Map, Value, json};

pub fn run(ctx: &NodeCtx<'_>) -> NodeResult {
    let extra = ctx.node.extra();
    let mode = match extra.get("mode").and_then(Value::as_str).map(str::trim) {
        None | Some("") => "append",
        Some(m) => m,
    };
    let listed: Vec<&str> = match extra.get("source_nodes") {
        Some(Value::Array(ids)) => ids
            .iter()
            .filter_map(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect(),
        Some(Value::String(id)) if !id.trim().is_empty() => vec![id.trim()],
        _ => Vec::new(),
    };
    let outputs = &ctx.state.node_outputs;
    let sources: Vec<(&str, &Value)> = if listed.is_empty() {
        outputs
            .iter()
            .filter(|(id, _)| **id != ctx.node.node_id)
            .map(|(id, v)| (id.as_str(), v))
            .collect()
    } else {
        listed
            .into_iter()
            .filter_map(|id| outputs.get(id).map(|v| (id, v)))
            .collect()
    };
    let merged = match mode.to_lowercase().as_str() {
        "append" => {
            let mut items = Vec::new();
            for (_, output) in sources {
                match output {
                    Value::Array(list) => items.extend(list.iter().cloned()),
                    other => items.push(other.clone()),
                }
            }
            Value::Array(items)
        }
        "combine" => Value::Object(
            sources
                .into_iter()
                .map(|(id, v)| (id.to_string(), v.clone()))
                .collect::<Map<String, Value>>(),
        ),
        _ => {
            return Err(NodeError::fatal(
                "invalid_config",
                format!("Unknown merge mode '{mode}' (expected append or combine)"),
            ));
        }
    };
    Ok(NodeOutcome::output(json!({ "merged": merged })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::State;
    use crate::nodes::testing::{ctx_for, node};

    fn state() -> State {
        State {
            node_outputs: json!({
                "a": {"output": "from a"},
                "b": {"output": "from b"},
                "list": [1, 2],
                "merge_1": {"merged": ["old"]},
            })
            .as_object()
            .cloned()
            .unwrap_or_default(),
            ..State::default()
        }
    }

    fn merged(extra: Value) -> Value {
        let n = node("merge", extra);
        let s = state();
        run(&ctx_for(&n, &s)).expect("merge runs").output["merged"].clone()
    }

    #[test]
    fn append_lists_listed_outputs_in_order() {
        assert_eq!(
            merged(json!({"source_nodes": ["b", "a", "missing"]})),
            json!([{"output": "from b"}, {"output": "from a"}])
        );
        assert_eq!(
            merged(json!({"mode": "append", "source_nodes": ["a", "list"]})),
            json!([{"output": "from a"}, 1, 2]),
            "list outputs are flattened"
        );
        assert_eq!(
            merged(json!({"source_nodes": "a"})),
            json!([{"output": "from a"}])
        );
    }

    #[test]
    fn combine_merges_key_wise_by_node_id() {
        assert_eq!(
            merged(json!({"mode": "combine", "source_nodes": ["a", "b"]})),
            json!({"a": {"output": "from a"}, "b": {"output": "from b"}})
        );
    }

    #[test]
    fn without_sources_everything_but_itself() {
        assert_eq!(
            merged(json!({})),
            json!([{"output": "from a"}, {"output": "from b"}, 1, 2])
        );
        assert_eq!(
            merged(json!({"mode": "combine", "source_nodes": []})),
            json!({"a": {"output": "from a"}, "b": {"output": "from b"}, "list": [1, 2]})
        );
    }

    #[test]
    fn unknown_modes_fail() {
        let n = node("merge", json!({"mode": "zip"}));
        let s = state();
        let err = run(&ctx_for(&n, &s)).expect_err("bad mode");
        assert_eq!(
            err,
            NodeError::fatal(
                "invalid_config",
                "Unknown merge mode 'zip' (expected append or combine)"
            )
        );
    }
}
