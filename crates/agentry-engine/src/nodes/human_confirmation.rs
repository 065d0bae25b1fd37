//! `human_confirmation` (engine.md §2): the orchestrator parks the execution on a pending
//! confirmation before the node runs; the node then runs once with the answer.

use crate::node::{NodeCtx, NodeError, NodeOutcome, NodeResult};
use agentry_service::executions::is_confirming;
use serde_json::{Value, json};

pub fn run(ctx: &NodeCtx<'_>) -> NodeResult {
    let Some(answer) = ctx.resume.as_ref() else {
        return Err(NodeError::fatal(
            "no_answer",
            "human_confirmation ran without an answer",
        ));
    };
    let text = match answer {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let confirmed = is_confirming(&text);
    let route = if confirmed { "confirmed" } else { "cancelled" };
    Ok(NodeOutcome {
        output: json!({"confirmed": confirmed, "user_response": text}),
        route: Some(route.to_string()),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::{NodeEnv, State};
    use agentry_core::flow::SnapNode;

    fn node() -> SnapNode {
        SnapNode {
            node_id: "h".into(),
            component_type: "human_confirmation".into(),
            label: String::new(),
            is_entry_point: false,
            interrupt_before: true,
            interrupt_after: false,
            config: json!({}),
            subworkflow_id: None,
        }
    }

    #[test]
    fn answers_route_the_flow() {
        let (env, state, n) = (NodeEnv::default(), State::default(), node());
        let ctx = |answer: &str| NodeCtx {
            env: &env,
            execution_id: "e",
            node: &n,
            state: &state,
            resume: Some(json!(answer)),
        };
        let yes = run(&ctx(" Yes ")).expect("ok");
        assert_eq!(
            yes.output,
            json!({"confirmed": true, "user_response": " Yes "})
        );
        assert_eq!(yes.route.as_deref(), Some("confirmed"));
        let no = run(&ctx("nope")).expect("ok");
        assert_eq!(no.output["confirmed"], json!(false));
        assert_eq!(no.route.as_deref(), Some("cancelled"));
    }
}
