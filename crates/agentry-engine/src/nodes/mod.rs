//! One module per node type; [`run`] dispatches on `component_type`.

pub mod code;
pub mod filter;
pub mod http_request;
pub mod human_confirmation;
pub mod merge;
pub mod reply_chat;
pub mod switch;
#[cfg(test)]
mod testing;
pub mod text_template;
pub mod wait;

use crate::node::{NodeCtx, NodeError, NodeResult};

/// Runs one node.
pub async fn run(ctx: NodeCtx<'_>) -> NodeResult {
    match ctx.node.component_type.as_str() {
        "code" => code::run(ctx).await,
        "http_request" => http_request::run(ctx).await,
        "text_template" => text_template::run(&ctx),
        "switch" => switch::run(&ctx),
        "filter" => filter::run(&ctx),
        "reply_chat" => reply_chat::run(&ctx),
        "wait" => wait::run(&ctx),
        "merge" => merge::run(&ctx),
        "human_confirmation" => human_confirmation::run(&ctx),
        other => Err(NodeError::fatal(
            "unsupported_node",
            format!("Node type '{other}' cannot run yet"),
        )),
    }
}
