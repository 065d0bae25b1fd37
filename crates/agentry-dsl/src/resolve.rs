//! The pure half of model resolution (dsl.md §7): given the owner's LLM credentials with their
//! model ids and the calling agent's model, pick `(credential, model, temperature)`. The
//! service gathers that data (listing models is an HTTP call) and passes
//! [`ResolveContext::resolve`] as the [`crate::ModelResolver`] to `finalize`.

use crate::model::{ModelRef, ResolvedModel};

/// The fixed model list of an Anthropic credential (§7; others list `GET {base}/models`).
pub const ANTHROPIC_MODELS: &[&str] = &[
    "claude-sonnet-4-20250514",
    "claude-opus-4-0-20250514",
    "claude-haiku-3-5-20241022",
    "claude-3-5-sonnet-20241022",
];

/// One LLM credential of the owner, in id order, with the model ids it offers (empty when
/// listing failed).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CredentialModels {
    pub id: i64,
    pub provider_type: String,
    pub model_ids: Vec<String>,
}

/// The calling agent's model: the first `ai_model` wired to it by an `llm` edge, else its own
/// config fields (`None` = it has no config).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParentModel {
    pub wired: Option<ResolvedModel>,
    pub own: Option<ResolvedModel>,
}

/// What resolution may look at.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResolveContext {
    /// `Some` when the document is compiled by an agent (the `workflow_create` tool).
    pub parent: Option<ParentModel>,
    pub credentials: Vec<CredentialModels>,
}

/// `(key, cost, speed, capability)` of §7's table.
const TABLE: &[(&str, i64, i64, i64)] = &[
    ("gpt-4o-mini", 20, 90, 60),
    ("gpt-4o", 50, 70, 85),
    ("gpt-4-turbo", 60, 60, 82),
    ("gpt-4", 70, 50, 80),
    ("o1-mini", 30, 80, 75),
    ("o1", 80, 40, 90),
    ("o3-mini", 35, 85, 80),
    ("claude-3-haiku", 15, 95, 55),
    ("claude-haiku-3-5", 18, 90, 60),
    ("claude-3-5-sonnet", 40, 70, 85),
    ("claude-sonnet-4", 45, 65, 88),
    ("claude-opus-4", 90, 30, 95),
    ("llama-3.1-8b", 5, 95, 45),
    ("llama-3.1-70b", 25, 60, 70),
    ("llama-3.1-405b", 50, 40, 80),
    ("mixtral-8x7b", 15, 80, 55),
    ("mixtral-8x22b", 30, 60, 65),
    ("mistral-large", 35, 55, 70),
    ("mistral-small", 10, 90, 45),
    ("qwen-2.5-72b", 25, 60, 70),
    ("deepseek-v3", 15, 75, 72),
    ("deepseek-r1", 20, 50, 78),
    ("gemma-2-27b", 15, 70, 58),
];

/// A model id's score for a preference: the best over table keys contained in it
/// (case-insensitive); none → 0. Unknown preferences score as `cheapest`.
pub fn score(model_id: &str, preference: &str) -> i64 {
    let id = model_id.to_lowercase();
    TABLE
        .iter()
        .filter(|(key, ..)| id.contains(key))
        .map(|&(_, cost, speed, capability)| match preference {
            "fastest" => speed,
            "most_capable" => capability,
            _ => 100 - cost,
        })
        .max()
        .unwrap_or(0)
}

impl ResolveContext {
    /// Resolves one spec (§7's table, agentry's rules).
    pub fn resolve(&self, spec: &ModelRef) -> Result<ResolvedModel, String> {
        match spec {
            ModelRef::None => Ok(ResolvedModel::default()),
            ModelRef::Inherit { otherwise } => match &self.parent {
                None => self.resolve(otherwise),
                Some(parent) => parent
                    .wired
                    .clone()
                    .or_else(|| parent.own.clone())
                    .ok_or_else(|| "Cannot inherit model: parent node has no config".to_string()),
            },
            ModelRef::Discover {
                preference,
                temperature,
            } => {
                if self.credentials.is_empty() {
                    return Err("No LLM credentials available for model discovery".into());
                }
                let mut best: Option<(i64, i64, &str)> = None;
                for c in &self.credentials {
                    for m in &c.model_ids {
                        let s = score(m, preference);
                        // Ties keep the first seen.
                        if best.is_none_or(|(b, ..)| s > b) {
                            best = Some((s, c.id, m));
                        }
                    }
                }
                let (_, id, model) = best.ok_or_else(|| {
                    "No scoreable models found across available credentials".to_string()
                })?;
                Ok(ResolvedModel {
                    credential_id: Some(id),
                    model_name: Some(model.to_string()),
                    temperature: *temperature,
                })
            }
            ModelRef::Capability { text, temperature } => {
                let needle = text.to_lowercase();
                let by_model = self.credentials.iter().find(|c| {
                    c.model_ids
                        .iter()
                        .any(|m| m.to_lowercase().contains(&needle))
                });
                let by_provider = || {
                    self.credentials
                        .iter()
                        .find(|c| c.provider_type.to_lowercase().contains(&needle))
                };
                let chosen = by_model
                    .or_else(by_provider)
                    .or_else(|| self.credentials.first())
                    .ok_or_else(|| format!("No LLM credential found for capability '{text}'"))?;
                Ok(ResolvedModel {
                    credential_id: Some(chosen.id),
                    model_name: Some(text.clone()),
                    temperature: *temperature,
                })
            }
            ModelRef::Explicit {
                credential_id,
                model_name,
                temperature,
            } => Ok(ResolvedModel {
                credential_id: Some(*credential_id),
                model_name: Some(model_name.clone()),
                temperature: *temperature,
            }),
        }
    }
}

impl crate::model::ModelResolver for ResolveContext {
    fn resolve(&mut self, spec: &ModelRef) -> Result<ResolvedModel, String> {
        ResolveContext::resolve(self, spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cred(id: i64, provider: &str, models: &[&str]) -> CredentialModels {
        CredentialModels {
            id,
            provider_type: provider.into(),
            model_ids: models.iter().map(|m| m.to_string()).collect(),
        }
    }

    fn rm(id: i64, model: &str, t: Option<f64>) -> ResolvedModel {
        ResolvedModel {
            credential_id: Some(id),
            model_name: Some(model.into()),
            temperature: t,
        }
    }

    #[test]
    fn scores() {
        assert_eq!(score("gpt-4o-mini-2024", "cheapest"), 80);
        // Both `gpt-4o` and `gpt-4` match; the best counts.
        assert_eq!(score("GPT-4o", "most_capable"), 85);
        assert_eq!(score("gpt-4o", "fastest"), 70);
        assert_eq!(score("mystery", "fastest"), 0);
        assert_eq!(score("llama-3.1-8b", "whatever"), 95);
    }

    #[test]
    fn discover_picks_the_best_first_seen() {
        let ctx = ResolveContext {
            parent: None,
            credentials: vec![
                cred(1, "openai", &["gpt-4o", "gpt-4o-mini"]),
                cred(2, "anthropic", ANTHROPIC_MODELS),
                cred(3, "groq", &["llama-3.1-8b-instant"]),
            ],
        };
        let d = |p: &str| {
            ctx.resolve(&ModelRef::Discover {
                preference: p.into(),
                temperature: Some(0.1),
            })
        };
        assert_eq!(d("cheapest"), Ok(rm(3, "llama-3.1-8b-instant", Some(0.1))));
        assert_eq!(
            d("most_capable"),
            Ok(rm(2, "claude-opus-4-0-20250514", Some(0.1)))
        );
        assert_eq!(d("fastest"), Ok(rm(3, "llama-3.1-8b-instant", Some(0.1))));
        let tie = ResolveContext {
            parent: None,
            credentials: vec![cred(5, "x", &["a", "b"]), cred(6, "y", &["c"])],
        };
        assert_eq!(
            tie.resolve(&ModelRef::Discover {
                preference: "cheapest".into(),
                temperature: None
            }),
            Ok(rm(5, "a", None))
        );
        let empty = ResolveContext::default();
        let spec = ModelRef::Discover {
            preference: "cheapest".into(),
            temperature: None,
        };
        assert_eq!(
            empty.resolve(&spec),
            Err("No LLM credentials available for model discovery".into())
        );
        let no_models = ResolveContext {
            parent: None,
            credentials: vec![cred(1, "openai", &[])],
        };
        assert_eq!(
            no_models.resolve(&spec),
            Err("No scoreable models found across available credentials".into())
        );
    }

    #[test]
    fn capability_by_model_then_provider_then_first() {
        let ctx = ResolveContext {
            parent: None,
            credentials: vec![
                cred(1, "openai", &["gpt-4o"]),
                cred(2, "anthropic", &["claude-3-5-sonnet"]),
            ],
        };
        let c = |t: &str| {
            ctx.resolve(&ModelRef::Capability {
                text: t.into(),
                temperature: None,
            })
        };
        assert_eq!(c("Sonnet"), Ok(rm(2, "Sonnet", None)));
        assert_eq!(c("anthropic"), Ok(rm(2, "anthropic", None)));
        assert_eq!(c("mistral"), Ok(rm(1, "mistral", None)));
        assert_eq!(
            ResolveContext::default().resolve(&ModelRef::Capability {
                text: "x".into(),
                temperature: None
            }),
            Err("No LLM credential found for capability 'x'".into())
        );
    }

    #[test]
    fn inherit_uses_the_parent_or_falls_through() {
        let spec = ModelRef::Inherit {
            otherwise: Box::new(ModelRef::Explicit {
                credential_id: 4,
                model_name: "m".into(),
                temperature: None,
            }),
        };
        assert_eq!(
            ResolveContext::default().resolve(&spec),
            Ok(rm(4, "m", None))
        );
        let with = |parent: ParentModel| ResolveContext {
            parent: Some(parent),
            credentials: vec![],
        };
        let wired = with(ParentModel {
            wired: Some(rm(7, "w", Some(0.3))),
            own: Some(rm(8, "o", None)),
        });
        assert_eq!(wired.resolve(&spec), Ok(rm(7, "w", Some(0.3))));
        let own = with(ParentModel {
            wired: None,
            own: Some(rm(8, "o", None)),
        });
        assert_eq!(own.resolve(&spec), Ok(rm(8, "o", None)));
        assert_eq!(
            with(ParentModel::default()).resolve(&spec),
            Err("Cannot inherit model: parent node has no config".into())
        );
    }
}
