//! Helpers shared by the integration tests.

use agentry_core::flow::SnapNode;
use agentry_engine::node::{NodeCtx, NodeEnv, NodeResult, State};
use serde_json::{Value, json};

/// A snapshot node of `component_type` with `extra_config`.
pub fn node(component_type: &str, extra_config: Value) -> SnapNode {
    serde_json::from_value(json!({
        "node_id": format!("{component_type}_1"),
        "component_type": component_type,
        "config": {"extra_config": extra_config},
    }))
    .expect("snapshot node")
}

/// Runs one node through the dispatcher.
pub async fn run_node(env: &NodeEnv, node: &SnapNode, state: &State) -> NodeResult {
    agentry_engine::nodes::run(NodeCtx {
        env,
        execution_id: "exec-1",
        node,
        state,
        resume: None,
    })
    .await
}
