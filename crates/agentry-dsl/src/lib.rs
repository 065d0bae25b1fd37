//! # agentry-dsl
//!
//! The workflow YAML DSL (`shared/spec/dsl.md`), pure: no database, no network, no async.
//! Text goes in; a graph of nodes and edges (shaped like the API's `NodeIn` / `EdgeIn`) comes
//! out, plus the list of things only the service can resolve (models, `inherit` options,
//! sub-workflow slugs).
//!
//! ## Pipeline
//!
//! | Step | Function | Spec |
//! |---|---|---|
//! | text → typed document, §2 checks | [`parse`] (YAML or JSON) | §1–2 |
//! | create mode → graph | [`compile`] → [`CompiledWorkflow`] | §3–6, §12 |
//! | fork mode → graph | [`fork`] / [`apply_patches`] on a [`GraphSnapshot`] | §10 |
//! | models, `inherit` options | the service gathers credentials + model lists into a [`ResolveContext`] (pure §7 rules), [`CompiledWorkflow::finalize`] fills them in | §4, §6, §7 |
//! | graph → text | [`export`] (explicit form) | §12 |
//!
//! Every function reports **all** errors it finds as [`DslError`]s carrying the spec's exact
//! text, the step id and key they concern and, for YAML input, the line and column. After
//! compile and after patching, agentry-core's graph validation runs (engine.md §9 minus the
//! model-connection check, dsl.md §0) and its problems come back as errors too.
//!
//! Why models stay unresolved: resolution needs the owner's credentials, their model lists
//! (an HTTP call per credential) and the calling agent, all of which live in the service.
//! Compile emits an `ai_model` node for every AI step that may get a model; `finalize` drops
//! those whose credential resolved to null, exactly as §6 creates them only then.
//!
//! ## Example
//!
//! ```
//! use agentry_dsl::{Document, ModelRef, ResolvedModel, compile, parse};
//!
//! let doc = parse("name: Hello Pipeline\ntrigger: manual\nsteps:\n  - {id: greet, type: code, snippet: 'return 1'}\n").unwrap();
//! let Document::Create(doc) = doc else { unreachable!() };
//! let compiled = compile(&doc).unwrap();
//! let mut no_models = |_: &ModelRef| Ok(ResolvedModel::default());
//! let (graph, errors) = compiled.finalize(&mut no_models, None);
//! assert!(errors.is_empty());
//! assert_eq!(graph.workflow.slug, "hello-pipeline");
//! let ids: Vec<&str> = graph.nodes.iter().map(|n| n.node_id.as_str()).collect();
//! assert_eq!(ids, ["trigger_manual_1", "greet"]);
//! assert_eq!(graph.edges.len(), 1);
//! // And back: the explicit form compiles to the same nodes and edges.
//! let again = agentry_dsl::compile_text(&agentry_dsl::export(&graph)).unwrap();
//! assert_eq!(again.graph.nodes, graph.nodes);
//! ```

// Tests may unwrap (inputs are literals); library code may not (the workspace lint).
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod compile;
pub mod document;
pub mod error;
pub mod export;
pub mod graph;
pub mod model;
pub mod parse;
pub mod patch;
pub mod resolve;
pub mod steps;
pub mod yaml;

pub use compile::{CompiledWorkflow, compile};
pub use document::{CreateDoc, Document, ForkDoc, Patch, Step, StepKind, StepType, TriggerKind};
pub use error::{DslError, ErrorKind};
pub use export::export;
pub use graph::{EdgeSpec, GraphSnapshot, NodeConfig, NodeSpec, WorkflowFields, check_graph};
pub use model::{
    ModelBinding, ModelRef, ModelResolver, ModelSource, ParentTools, ResolvedModel, ToolInherit,
};
pub use parse::{parse, parse_json};
pub use patch::{apply_patches, fork};
pub use resolve::{CredentialModels, ParentModel, ResolveContext};

/// Parses and compiles a create-mode document in one go; a fork document is an error here
/// (it needs its source graph: use [`parse`] then [`fork`]).
pub fn compile_text(text: &str) -> Result<CompiledWorkflow, Vec<DslError>> {
    match parse(text)? {
        Document::Create(doc) => compile(&doc),
        Document::Fork(_) => Err(vec![DslError::parse(
            "A fork document (`based_on`) needs its source workflow",
        )]),
    }
}

#[cfg(test)]
mod tests;
