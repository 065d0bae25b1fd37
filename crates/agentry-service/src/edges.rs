//! Edges (api.md §5): both ends must exist, conditional edges only from switches, tool edges
//! only from tools to agents, port types compatible, no duplicates.

use crate::dto::{EdgeIn, EdgeOut, EdgePatch};
use crate::nodes::to_json;
use crate::workflows::channel;
use crate::{Caller, ServiceError, ServiceResult, Services};
use agentry_core::Patch;
use agentry_core::graph::{self, EdgeLabel, EdgeProblem, EdgeRef, EdgeType};
use agentry_store::edges::{self, EdgeFields};
use agentry_store::{NewEvent, Tx, nodes, now_ms, workflows};
use serde_json::json;

pub const NOT_FOUND: &str = "Edge not found.";

fn parse_type(text: &str) -> ServiceResult<EdgeType> {
    EdgeType::parse(text)
        .ok_or_else(|| ServiceError::invalid("edge_type", "must be 'direct' or 'conditional'"))
}

fn parse_label(text: &str) -> ServiceResult<EdgeLabel> {
    EdgeLabel::parse(text).ok_or_else(|| {
        ServiceError::invalid(
            "edge_label",
            "must be one of '', 'llm', 'tool', 'output_parser', 'loop_body', 'loop_return', 'skill'",
        )
    })
}

/// Checks an edge against the workflow's nodes (inside the transaction that writes it).
async fn check(tx: &mut Tx, workflow_id: i64, f: &EdgeFields) -> ServiceResult<()> {
    let edge_type = parse_type(&f.edge_type)?;
    let label = parse_label(&f.edge_label)?;
    if f.condition_value.chars().count() > 100 {
        return Err(ServiceError::invalid(
            "condition_value",
            "must be at most 100 characters",
        ));
    }
    let node_rows = nodes::list_in(tx, workflow_id).await?;
    let type_of = |id: &str| {
        node_rows
            .iter()
            .find(|n| n.node_id == id)
            .map(|n| n.component_type.as_str())
    };
    let edge = EdgeRef {
        source: &f.source_node_id,
        target: &f.target_node_id,
        edge_type,
        label,
        condition_value: &f.condition_value,
    };
    graph::check_edge(type_of, &edge).map_err(|p| match p {
        EdgeProblem::Detail(text) => ServiceError::Invalid(text),
        EdgeProblem::ValidationErrors(list) => ServiceError::ValidationErrors(list),
    })
}

fn edge_id(text: &str) -> ServiceResult<i64> {
    text.parse()
        .map_err(|_| ServiceError::NotFound(NOT_FOUND.into()))
}

impl Services {
    pub async fn list_edges(&self, caller: &Caller, slug: &str) -> ServiceResult<Vec<EdgeOut>> {
        let w = self.readable_workflow(caller, slug).await?;
        Ok(edges::list(&self.db, w.id)
            .await?
            .iter()
            .map(EdgeOut::from)
            .collect())
    }

    pub async fn create_edge(
        &self,
        caller: &Caller,
        slug: &str,
        input: EdgeIn,
    ) -> ServiceResult<EdgeOut> {
        let f = EdgeFields {
            source_node_id: input.source_node_id,
            target_node_id: input.target_node_id,
            edge_type: input.edge_type,
            edge_label: input.edge_label,
            condition_mapping: input.condition_mapping,
            condition_value: input.condition_value,
            priority: input.priority,
        };
        let mut tx = self.db.begin().await?;
        let w = self.owned_workflow_in(&mut tx, caller, slug).await?;
        check(&mut tx, w.id, &f).await?;
        let row = edges::insert(&mut tx, w.id, &f)
            .await?
            .ok_or_else(|| ServiceError::Conflict("Edge already exists.".into()))?;
        workflows::touch(&mut tx, w.id, now_ms()).await?;
        let out = EdgeOut::from(&row);
        tx.emit(NewEvent::new(
            channel(&w.slug),
            "edge_created",
            to_json(&out)?,
        ));
        self.commit(tx).await?;
        Ok(out)
    }

    pub async fn patch_edge(
        &self,
        caller: &Caller,
        slug: &str,
        id: &str,
        patch: EdgePatch,
    ) -> ServiceResult<EdgeOut> {
        let id = edge_id(id)?;
        let mut tx = self.db.begin().await?;
        let w = self.owned_workflow_in(&mut tx, caller, slug).await?;
        let current = edges::get_in(&mut tx, w.id, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(NOT_FOUND.into()))?;
        let mut f = EdgeFields::from_row(&current);
        if let Patch::Value(v) = patch.source_node_id {
            f.source_node_id = v;
        }
        if let Some(v) = patch.target_node_id.into_option() {
            f.target_node_id = v.unwrap_or_default();
        }
        if let Patch::Value(v) = patch.edge_type {
            f.edge_type = v;
        }
        if let Some(v) = patch.edge_label.into_option() {
            f.edge_label = v.unwrap_or_default();
        }
        if let Some(v) = patch.condition_mapping.into_option() {
            f.condition_mapping = v;
        }
        if let Some(v) = patch.condition_value.into_option() {
            f.condition_value = v.unwrap_or_default();
        }
        if let Patch::Value(v) = patch.priority {
            f.priority = v;
        }
        check(&mut tx, w.id, &f).await?;
        // `None`: a duplicate was seen; a unique violation: one was written concurrently.
        let row = edges::update(&mut tx, id, &f)
            .await
            .map_err(|e| ServiceError::conflict_on_unique(e, "Edge already exists."))?
            .ok_or_else(|| ServiceError::Conflict("Edge already exists.".into()))?;
        workflows::touch(&mut tx, w.id, now_ms()).await?;
        let out = EdgeOut::from(&row);
        tx.emit(NewEvent::new(
            channel(&w.slug),
            "edge_updated",
            to_json(&out)?,
        ));
        self.commit(tx).await?;
        Ok(out)
    }

    pub async fn delete_edge(&self, caller: &Caller, slug: &str, id: &str) -> ServiceResult<()> {
        let id = edge_id(id)?;
        let mut tx = self.db.begin().await?;
        let w = self.owned_workflow_in(&mut tx, caller, slug).await?;
        if !edges::delete(&mut tx, w.id, id).await? {
            return Err(ServiceError::NotFound(NOT_FOUND.into()));
        }
        workflows::touch(&mut tx, w.id, now_ms()).await?;
        tx.emit(NewEvent::new(
            channel(&w.slug),
            "edge_deleted",
            json!({"id": id}),
        ));
        self.commit(tx).await
    }
}
