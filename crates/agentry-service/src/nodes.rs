//! Nodes (api.md §5): typed config with the persistence rule, checked against the node-type
//! registry, unique `node_id` per workflow, renames followed by the edges.

use crate::dto::{ConfigIn, ConfigOut, NodeIn, NodeOut, NodePatch};
use crate::workflows::channel;
use crate::{Caller, ServiceError, ServiceResult, Services};
use agentry_core::node_types::{self, NodeTypeSpec};
use agentry_core::{Patch, ids};
use agentry_store::nodes::{self, NodeFields, NodeRow};
use agentry_store::{NewEvent, Tx, edges, now_ms, workflows};
use rand::RngCore;
use serde_json::{Map, Value, json};

pub const NOT_FOUND: &str = "Node not found.";

fn spec_of(component_type: &str) -> ServiceResult<&'static NodeTypeSpec> {
    node_types::get(component_type).ok_or_else(|| {
        ServiceError::invalid(
            "component_type",
            format!("unknown component type '{component_type}'"),
        )
    })
}

/// Which groups of config keys a type keeps (the persistence rule of api.md §5).
fn keeps_prompt(ct: &str) -> bool {
    node_types::get(ct).is_some_and(|s| s.requires_model)
}
fn keeps_model(ct: &str) -> bool {
    ct == "ai_model" || keeps_prompt(ct)
}
fn keeps_trigger(ct: &str) -> bool {
    ct.starts_with("trigger_")
}

/// Normalizes a request config for `component_type`: fields that do not apply are dropped, so
/// the stored config holds only what the type uses.
pub fn normalize_config(ct: &str, c: ConfigIn) -> ConfigOut {
    let mut extra = c.extra_config.unwrap_or_default();
    if let Some(t) = c.input_template {
        extra.insert("input_template".into(), Value::String(t));
    }
    let model = keeps_model(ct);
    let trigger = keeps_trigger(ct);
    ConfigOut {
        system_prompt: if keeps_prompt(ct) {
            c.system_prompt.unwrap_or_default()
        } else {
            String::new()
        },
        extra_config: extra,
        llm_credential_id: c.llm_credential_id.filter(|_| model),
        model_name: if model {
            c.model_name.unwrap_or_default()
        } else {
            String::new()
        },
        temperature: c.temperature.filter(|_| model),
        max_tokens: c.max_tokens.filter(|_| model),
        frequency_penalty: c.frequency_penalty.filter(|_| model),
        presence_penalty: c.presence_penalty.filter(|_| model),
        top_p: c.top_p.filter(|_| model),
        timeout: c.timeout.filter(|_| model),
        max_retries: c.max_retries.filter(|_| model),
        response_format: c.response_format.filter(|_| model),
        llm_model_config_id: c.llm_model_config_id.filter(|_| model),
        credential_id: c.credential_id.filter(|_| trigger),
        is_active: if trigger {
            c.is_active.unwrap_or(true)
        } else {
            true
        },
        priority: if trigger { c.priority.unwrap_or(0) } else { 0 },
        trigger_config: if trigger {
            c.trigger_config.unwrap_or_default()
        } else {
            Map::new()
        },
    }
}

/// Reads a stored config back (tolerating older or partial JSON).
pub fn config_out(ct: &str, stored: &Value) -> ConfigOut {
    let c: ConfigIn = serde_json::from_value(stored.clone()).unwrap_or_default();
    normalize_config(ct, c)
}

fn config_json(c: &ConfigOut) -> ServiceResult<Value> {
    serde_json::to_value(c).map_err(|e| ServiceError::Internal(e.to_string()))
}

fn check_config(spec: &NodeTypeSpec, c: &ConfigOut) -> ServiceResult<()> {
    let problems = node_types::check_extra_config(spec, &c.extra_config);
    if !problems.is_empty() {
        return Err(ServiceError::Invalid(problems.join("; ")));
    }
    if let Some(t) = c.temperature
        && !(0.0..=2.0).contains(&t)
    {
        return Err(ServiceError::invalid(
            "config.temperature",
            "must be between 0 and 2",
        ));
    }
    Ok(())
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

fn check_label(label: &str) -> ServiceResult<()> {
    if label.chars().count() > 200 {
        return Err(ServiceError::invalid(
            "label",
            "must be at most 200 characters",
        ));
    }
    Ok(())
}

impl Services {
    async fn check_subworkflow(
        &self,
        caller: &Caller,
        tx: &mut Tx,
        id: Option<i64>,
    ) -> ServiceResult<()> {
        let Some(id) = id else { return Ok(()) };
        match workflows::get_in(tx, id).await? {
            Some(w) if crate::workflows::can_read(caller, &w) => Ok(()),
            _ => Err(ServiceError::invalid(
                "subworkflow_id",
                format!("workflow {id} not found"),
            )),
        }
    }

    pub async fn list_nodes(&self, caller: &Caller, slug: &str) -> ServiceResult<Vec<NodeOut>> {
        let w = self.readable_workflow(caller, slug).await?;
        Ok(nodes::list(&self.db, w.id)
            .await?
            .iter()
            .map(NodeOut::from_row)
            .collect())
    }

    pub async fn create_node(
        &self,
        caller: &Caller,
        slug: &str,
        input: NodeIn,
    ) -> ServiceResult<NodeOut> {
        let spec = spec_of(&input.component_type)?;
        let config = normalize_config(spec.component_type, input.config);
        check_config(spec, &config)?;
        let label = input.label.unwrap_or_default();
        check_label(&label)?;
        if let Some(id) = &input.node_id {
            ids::check_node_id(id).map_err(|e| ServiceError::invalid("node_id", e))?;
        }
        let mut tx = self.db.begin().await?;
        let w = self.owned_workflow_in(&mut tx, caller, slug).await?;
        self.check_subworkflow(caller, &mut tx, input.subworkflow_id)
            .await?;
        let mut fields = NodeFields {
            node_id: String::new(),
            label,
            component_type: spec.component_type.to_string(),
            is_entry_point: input.is_entry_point,
            interrupt_before: input.interrupt_before || spec.component_type == "human_confirmation",
            interrupt_after: input.interrupt_after,
            position_x: input.position_x,
            position_y: input.position_y,
            config: config_json(&config)?,
            subworkflow_id: input.subworkflow_id,
            code_block_id: input.code_block_id,
        };
        let now = now_ms();
        let row = match input.node_id {
            Some(id) => {
                fields.node_id = id.clone();
                nodes::insert(&mut tx, w.id, &fields, now)
                    .await?
                    .ok_or_else(|| {
                        ServiceError::Conflict(format!("Node with id '{id}' already exists."))
                    })?
            }
            None => {
                // `{type}_{8 hex}`; on a collision, once more with 16 hex.
                fields.node_id = ids::auto_node_id(spec.component_type, &random_hex(4));
                match nodes::insert(&mut tx, w.id, &fields, now).await? {
                    Some(row) => row,
                    None => {
                        fields.node_id = ids::auto_node_id(spec.component_type, &random_hex(8));
                        nodes::insert(&mut tx, w.id, &fields, now)
                            .await?
                            .ok_or_else(|| {
                                ServiceError::Conflict(format!(
                                    "Node with id '{}' already exists.",
                                    fields.node_id
                                ))
                            })?
                    }
                }
            }
        };
        workflows::touch(&mut tx, w.id, now).await?;
        crate::schedules::arm_in(&mut tx, w.id, &row).await?;
        let out = NodeOut::from_row(&row);
        tx.emit(NewEvent::new(
            channel(&w.slug),
            "node_created",
            to_json(&out)?,
        ));
        self.commit(tx).await?;
        Ok(out)
    }

    pub async fn patch_node(
        &self,
        caller: &Caller,
        slug: &str,
        node_id: &str,
        patch: NodePatch,
    ) -> ServiceResult<NodeOut> {
        let mut tx = self.db.begin().await?;
        let w = self.owned_workflow_in(&mut tx, caller, slug).await?;
        let current: NodeRow = nodes::get_in(&mut tx, w.id, node_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(NOT_FOUND.into()))?;
        let mut f = NodeFields::from_row(&current);
        if let Patch::Value(ct) = &patch.component_type {
            f.component_type = spec_of(ct)?.component_type.to_string();
        } else if patch.component_type == Patch::Null {
            return Err(ServiceError::invalid("component_type", "must not be null"));
        }
        let spec = spec_of(&f.component_type)?;
        if let Patch::Value(id) = &patch.node_id {
            ids::check_node_id(id).map_err(|e| ServiceError::invalid("node_id", e))?;
            f.node_id = id.clone();
        }
        if let Some(v) = patch.label.into_option() {
            let v = v.unwrap_or_default();
            check_label(&v)?;
            f.label = v;
        }
        if let Patch::Value(v) = patch.is_entry_point {
            f.is_entry_point = v;
        }
        if let Patch::Value(v) = patch.interrupt_before {
            f.interrupt_before = v;
        }
        if spec.component_type == "human_confirmation" {
            f.interrupt_before = true;
        }
        if let Patch::Value(v) = patch.interrupt_after {
            f.interrupt_after = v;
        }
        if let Patch::Value(v) = patch.position_x {
            f.position_x = v;
        }
        if let Patch::Value(v) = patch.position_y {
            f.position_y = v;
        }
        // Config: the keys present replace the stored ones; then the type's rule applies.
        let mut merged = match config_json(&config_out(&current.component_type, &current.config.0))?
        {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        if let Patch::Value(keys) = patch.config {
            for (k, v) in keys {
                merged.insert(k, v);
            }
        }
        let config_in: ConfigIn = serde_json::from_value(Value::Object(merged))
            .map_err(|e| ServiceError::invalid("config", e))?;
        let config = normalize_config(spec.component_type, config_in);
        check_config(spec, &config)?;
        f.config = config_json(&config)?;
        if let Some(v) = patch.subworkflow_id.into_option() {
            self.check_subworkflow(caller, &mut tx, v).await?;
            f.subworkflow_id = v;
        }
        if let Some(v) = patch.code_block_id.into_option() {
            f.code_block_id = v;
        }
        let taken = || format!("Node with id '{}' already exists.", f.node_id);
        if f.node_id != current.node_id {
            if nodes::get_in(&mut tx, w.id, &f.node_id).await?.is_some() {
                return Err(ServiceError::Conflict(taken()));
            }
            // A concurrent rename to the same id shows up as a unique violation here or below.
            edges::rename_node(&mut tx, w.id, &current.node_id, &f.node_id)
                .await
                .map_err(|e| ServiceError::conflict_on_unique(e, taken()))?;
        }
        let now = now_ms();
        let row = nodes::update(&mut tx, current.id, &f, now)
            .await
            .map_err(|e| ServiceError::conflict_on_unique(e, taken()))?;
        workflows::touch(&mut tx, w.id, now).await?;
        crate::schedules::arm_in(&mut tx, w.id, &row).await?;
        let out = NodeOut::from_row(&row);
        tx.emit(NewEvent::new(
            channel(&w.slug),
            "node_updated",
            to_json(&out)?,
        ));
        self.commit(tx).await?;
        Ok(out)
    }

    pub async fn delete_node(
        &self,
        caller: &Caller,
        slug: &str,
        node_id: &str,
    ) -> ServiceResult<()> {
        let mut tx = self.db.begin().await?;
        let w = self.owned_workflow_in(&mut tx, caller, slug).await?;
        let edge_ids = edges::delete_touching(&mut tx, w.id, node_id).await?;
        if !nodes::delete(&mut tx, w.id, node_id).await? {
            return Err(ServiceError::NotFound(NOT_FOUND.into()));
        }
        workflows::touch(&mut tx, w.id, now_ms()).await?;
        for id in edge_ids {
            tx.emit(NewEvent::new(
                channel(&w.slug),
                "edge_deleted",
                json!({"id": id}),
            ));
        }
        tx.emit(NewEvent::new(
            channel(&w.slug),
            "node_deleted",
            json!({"node_id": node_id}),
        ));
        self.commit(tx).await
    }
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> ServiceResult<Value> {
    serde_json::to_value(v).map_err(|e| ServiceError::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persistence_rule_keeps_only_what_applies() {
        let c = ConfigIn {
            system_prompt: Some("hi".into()),
            model_name: Some("gpt-4o".into()),
            trigger_config: Some(Map::from_iter([("secret".to_string(), json!("s"))])),
            input_template: Some("{{ trigger.text }}".into()),
            ..Default::default()
        };
        let code = normalize_config("code", c.clone());
        assert_eq!(code.system_prompt, "");
        assert_eq!(code.model_name, "");
        assert!(code.trigger_config.is_empty());
        assert_eq!(
            code.extra_config.get("input_template"),
            Some(&json!("{{ trigger.text }}"))
        );
        let agent = normalize_config("agent", c.clone());
        assert_eq!(agent.system_prompt, "hi");
        assert_eq!(agent.model_name, "gpt-4o");
        let trig = normalize_config("trigger_webhook", c);
        assert_eq!(trig.trigger_config.get("secret"), Some(&json!("s")));
        assert!(trig.is_active);
    }
}
