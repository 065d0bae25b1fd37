//! Model specs (dsl.md §7) and `inherit` tool options (§4), left unresolved by compile.
//!
//! Resolving needs the caller's credentials, their model lists (network) and the calling agent,
//! so the service does it. The crate records *what* must be resolved ([`ModelBinding`],
//! [`ToolInherit`]); the service resolves each [`ModelRef`] and hands the answers to
//! [`finalize`], which fills the nodes in, drops the `ai_model` nodes that resolved to no
//! credential (§6: a model node exists only for a non-null credential) and substitutes the
//! inherited tool options.

use crate::error::DslError;
use crate::graph::GraphSnapshot;
use crate::parse::scalar_text;
use crate::yaml::{Located, Yaml};
use serde::Serialize;
use serde_json::{Map, Value};

/// One model spec (§7), precedence already applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "strategy", rename_all = "snake_case")]
pub enum ModelRef {
    /// Empty spec (or `model: none`): `(null, null, null)`.
    None,
    /// `inherit: true`: the calling agent's model when there is a parent, else `otherwise`
    /// (the rest of the same spec).
    Inherit { otherwise: Box<ModelRef> },
    /// `discover: true`: best-scoring model of the owner's LLM credentials.
    Discover {
        preference: String,
        temperature: Option<f64>,
    },
    /// `capability: text`.
    Capability {
        text: String,
        temperature: Option<f64>,
    },
    /// `credential_id: N`, passed through unchecked.
    Explicit {
        credential_id: i64,
        model_name: String,
        temperature: Option<f64>,
    },
}

/// A resolved model: `(credential_id, model_name, temperature)`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ResolvedModel {
    pub credential_id: Option<i64>,
    pub model_name: Option<String>,
    pub temperature: Option<f64>,
}

/// Where an AI node's model comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelSource {
    /// The step's own (non-empty) `model`, or an `update_model` patch.
    Spec(ModelRef),
    /// No step-level model: the workflow-level result if its credential is non-null, else an
    /// implicit `{inherit: true}` (which gives nothing without a parent).
    WorkflowDefault,
}

/// One AI node whose model the service must resolve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelBinding {
    /// The AI node; it stores the model fields in its own config too (§6).
    pub node_id: String,
    /// Its `ai_model` node (wired by an `llm` edge), when it has one.
    pub model_node_id: Option<String>,
    pub source: ModelSource,
    /// Remove `model_node_id` (and its edges) when the credential resolves to null (§6);
    /// false for `update_model`, which always keeps the node it names.
    pub drop_model_node_if_unresolved: bool,
}

/// `extra_config` keys of a node whose value is the string `"inherit"` (§4).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolInherit {
    pub node_id: String,
    /// The parent agent's tool type to copy from (the step's type; for inline tools, the
    /// tool's own type).
    pub match_type: String,
    pub keys: Vec<String>,
}

/// The calling agent, for `inherit` tool options: its node id and its `tool`-connected nodes
/// in edge order as `(component_type, extra_config)`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParentTools {
    pub node_id: String,
    pub tools: Vec<(String, Map<String, Value>)>,
}

fn temperature(spec: &Located) -> Option<f64> {
    match spec.get("temperature").map(|t| &t.value) {
        Some(Yaml::Int(i)) => Some(*i as f64),
        Some(Yaml::Float(f)) => Some(*f),
        Some(Yaml::Str(s)) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Reads a model spec (§7). A mapping is the spec's form; agentry also takes the strings
/// `none` (§12: no model, no implicit inherit), `inherit` and any other text as a capability.
/// `Ok(None)` = "no step-level model" (absent, null, empty mapping).
pub fn parse_model_spec(spec: &Located) -> Result<Option<ModelRef>, DslError> {
    match &spec.value {
        Yaml::Null => Ok(None),
        Yaml::Str(s) if s.trim().is_empty() => Ok(None),
        Yaml::Str(s) if s == "none" => Ok(Some(ModelRef::None)),
        Yaml::Str(s) if s == "inherit" => Ok(Some(ModelRef::Inherit {
            otherwise: Box::new(ModelRef::None),
        })),
        Yaml::Str(s) => Ok(Some(ModelRef::Capability {
            text: s.clone(),
            temperature: None,
        })),
        Yaml::Map(entries) if entries.is_empty() => Ok(None),
        Yaml::Map(_) => model_from_map(spec).map(Some),
        _ => Err(DslError::build(format!(
            "Model spec must be a mapping, got {}",
            spec.python_type_name()
        ))
        .key("model")
        .at(spec.pos)),
    }
}

fn model_from_map(spec: &Located) -> Result<ModelRef, DslError> {
    let truthy = |k: &str| spec.get(k).is_some_and(Located::is_truthy);
    let rest = if truthy("discover") {
        ModelRef::Discover {
            preference: spec
                .get("preference")
                .and_then(scalar_text)
                .unwrap_or_else(|| "cheapest".into()),
            temperature: temperature(spec),
        }
    } else if let Some(text) = spec
        .get("capability")
        .and_then(scalar_text)
        .filter(|t| !t.is_empty())
    {
        ModelRef::Capability {
            text,
            temperature: temperature(spec),
        }
    } else if let Some(c) = spec.get("credential_id").filter(|c| !c.is_null()) {
        let credential_id = match &c.value {
            Yaml::Int(i) => *i,
            Yaml::Str(s) => s.trim().parse().map_err(|_| bad_credential(c))?,
            _ => return Err(bad_credential(c)),
        };
        ModelRef::Explicit {
            credential_id,
            model_name: spec
                .get("model_name")
                .and_then(scalar_text)
                .unwrap_or_default(),
            temperature: temperature(spec),
        }
    } else {
        ModelRef::None
    };
    if truthy("inherit") {
        Ok(ModelRef::Inherit {
            otherwise: Box::new(rest),
        })
    } else {
        Ok(rest)
    }
}

fn bad_credential(c: &Located) -> DslError {
    DslError::build("`credential_id` must be an integer")
        .key("model.credential_id")
        .at(c.pos)
}

/// The answers for [`finalize`]: one resolution per model spec. `resolve` is called once for
/// the workflow-level spec (when there is one) and once per binding; an `Err` is a §7 failure
/// text (`No LLM credentials available for model discovery`, …).
pub trait ModelResolver {
    fn resolve(&mut self, spec: &ModelRef) -> Result<ResolvedModel, String>;
}

impl<F: FnMut(&ModelRef) -> Result<ResolvedModel, String>> ModelResolver for F {
    fn resolve(&mut self, spec: &ModelRef) -> Result<ResolvedModel, String> {
        self(spec)
    }
}

/// Fills in models and inherited tool options (see the module doc). Every problem is
/// returned (model errors as [`crate::ErrorKind::Model`]); on error the graph is still
/// complete with the failed models left empty, so a dry run can show it.
pub fn finalize(
    graph: &GraphSnapshot,
    workflow_model: Option<&ModelRef>,
    bindings: &[ModelBinding],
    tool_inherits: &[ToolInherit],
    resolver: &mut dyn ModelResolver,
    parent: Option<&ParentTools>,
) -> (GraphSnapshot, Vec<DslError>) {
    let mut g = graph.clone();
    let mut errors = vec![];
    let workflow_result = match workflow_model {
        Some(spec) => match resolver.resolve(spec) {
            Ok(r) => Some(r),
            Err(e) => {
                errors.push(DslError::model(e).key("model"));
                None
            }
        },
        None => None,
    };
    let implicit = ModelRef::Inherit {
        otherwise: Box::new(ModelRef::None),
    };
    for b in bindings {
        let resolved = match &b.source {
            ModelSource::Spec(spec) => resolver.resolve(spec),
            ModelSource::WorkflowDefault => match &workflow_result {
                Some(r) if r.credential_id.is_some() => Ok(r.clone()),
                _ => resolver.resolve(&implicit),
            },
        };
        let resolved = match resolved {
            Ok(r) => r,
            Err(e) => {
                errors.push(DslError::model(e).step(&b.node_id).key("model"));
                ResolvedModel::default()
            }
        };
        let mut targets = vec![b.node_id.as_str()];
        if resolved.credential_id.is_none() && b.drop_model_node_if_unresolved {
            if let Some(m) = &b.model_node_id {
                g.nodes.retain(|n| &n.node_id != m);
                g.edges.retain(|e| &e.source != m && &e.target != m);
            }
        } else if let Some(m) = &b.model_node_id {
            targets.push(m);
        }
        for id in targets {
            if let Some(n) = g.node_mut(id) {
                n.config.llm_credential_id = resolved.credential_id;
                n.config.model_name = resolved.model_name.clone().unwrap_or_default();
                n.config.temperature = resolved.temperature;
            }
        }
    }
    for inherit in tool_inherits {
        match inherited_values(inherit, parent) {
            Ok(values) => {
                if let Some(n) = g.node_mut(&inherit.node_id) {
                    n.config.extra_config.extend(values);
                }
            }
            Err(e) => errors.push(e.step(&inherit.node_id)),
        }
    }
    (g, errors)
}

/// §4's `inherit` rule and error texts.
fn inherited_values(
    inherit: &ToolInherit,
    parent: Option<&ParentTools>,
) -> Result<Map<String, Value>, DslError> {
    let Some(parent) = parent else {
        return Err(DslError::build(
            "Cannot inherit tool config: no parent node",
        ));
    };
    let Some((_, source)) = parent.tools.iter().find(|(t, _)| *t == inherit.match_type) else {
        return Err(DslError::build(format!(
            "No matching tool '{}' found on parent node '{}'",
            inherit.match_type, parent.node_id
        )));
    };
    let mut out = Map::new();
    for key in &inherit.keys {
        match source.get(key) {
            Some(v) => {
                out.insert(key.clone(), v.clone());
            }
            None => {
                return Err(DslError::build(format!(
                    "Parent tool '{}' has no key '{key}' in extra_config",
                    inherit.match_type
                ))
                .key(key.clone()));
            }
        }
    }
    Ok(out)
}

/// The `extra_config` keys holding exactly `"inherit"`.
pub(crate) fn inherit_keys(extra: &Map<String, Value>) -> Vec<String> {
    extra
        .iter()
        .filter(|(_, v)| v.as_str() == Some("inherit"))
        .map(|(k, _)| k.clone())
        .collect()
}

/// Whether resolving needs the credentials' model lists (a `discover` or `capability` spec),
/// so the service fetches them only then.
pub fn needs_model_lists(models: &[ModelBinding], workflow_model: Option<&ModelRef>) -> bool {
    fn needs(r: &ModelRef) -> bool {
        match r {
            ModelRef::Discover { .. } | ModelRef::Capability { .. } => true,
            ModelRef::Inherit { otherwise } => needs(otherwise),
            _ => false,
        }
    }
    workflow_model.is_some_and(needs)
        || models
            .iter()
            .any(|b| matches!(&b.source, ModelSource::Spec(r) if needs(r)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::load;

    fn spec(text: &str) -> Option<ModelRef> {
        parse_model_spec(&load(text).unwrap()).unwrap()
    }

    #[test]
    fn precedence_inside_one_spec() {
        assert_eq!(
            spec("{credential_id: 7, model_name: gpt-4o, temperature: 0.2}"),
            Some(ModelRef::Explicit {
                credential_id: 7,
                model_name: "gpt-4o".into(),
                temperature: Some(0.2)
            })
        );
        assert_eq!(
            spec("{discover: true, capability: gpt, credential_id: 1}"),
            Some(ModelRef::Discover {
                preference: "cheapest".into(),
                temperature: None
            })
        );
        assert_eq!(
            spec("{capability: Claude, credential_id: 1, temperature: 1}"),
            Some(ModelRef::Capability {
                text: "Claude".into(),
                temperature: Some(1.0)
            })
        );
        assert_eq!(
            spec("{inherit: true, discover: true, preference: fastest}"),
            Some(ModelRef::Inherit {
                otherwise: Box::new(ModelRef::Discover {
                    preference: "fastest".into(),
                    temperature: None
                })
            })
        );
        assert_eq!(spec("{temperature: 0.5}"), Some(ModelRef::None));
        assert_eq!(spec("{}"), None);
        assert_eq!(spec("null"), None);
        assert_eq!(spec("none"), Some(ModelRef::None));
        assert_eq!(
            spec("gpt-4o"),
            Some(ModelRef::Capability {
                text: "gpt-4o".into(),
                temperature: None
            })
        );
        let err = parse_model_spec(&load("{credential_id: [1]}").unwrap()).unwrap_err();
        assert_eq!(err.message, "`credential_id` must be an integer");
        let err = parse_model_spec(&load("[1]").unwrap()).unwrap_err();
        assert_eq!(err.message, "Model spec must be a mapping, got list");
    }
}
