//! Helpers for node unit tests.

use crate::node::{NodeCtx, NodeEnv, State};
use agentry_core::flow::SnapNode;
use serde_json::{Value, json};

/// A node of `component_type` whose `config.extra_config` is `extra`.
pub fn node(component_type: &str, extra: Value) -> SnapNode {
    SnapNode {
        node_id: format!("{component_type}_1"),
        component_type: component_type.into(),
        label: String::new(),
        is_entry_point: false,
        interrupt_before: false,
        interrupt_after: false,
        config: json!({ "extra_config": extra }),
        subworkflow_id: None,
    }
}

/// A run context for `node` over `state`.
pub fn ctx_for<'a>(node: &'a SnapNode, state: &'a State) -> NodeCtx<'a> {
    let env: &'static NodeEnv = Box::leak(Box::new(NodeEnv::default()));
    NodeCtx {
        env,
        execution_id: "exec_test",
        node,
        state,
        resume: None,
    }
}
