//! One module per node type; [`run`] dispatches on `component_type`.

pub mod code;
pub mod http_request;

use crate::node::{NodeCtx, NodeError, NodeResult};

/// Runs one node.
pub async fn run(ctx: NodeCtx<'_>) -> NodeResult {
    match ctx.node.component_type.as_str() {
        "code" => code::run(ctx).await,
        "http_request" => http_request::run(ctx).await,
        other => Err(NodeError::fatal("unsupported_node", format!("Node type '{other}' cannot run yet"))),
    }
}
