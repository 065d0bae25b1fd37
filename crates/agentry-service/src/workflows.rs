//! Workflows (api.md §4): create with unique slugs, read, list, patch, delete, validate.

use crate::dto::{
    EdgeOut, NodeOut, ValidationOut, WorkflowDetailOut, WorkflowIn, WorkflowOut, WorkflowPatch,
};
use crate::{Caller, ServiceError, ServiceResult, Services};
use agentry_core::Patch;
use agentry_core::graph::{self, EdgeLabel, EdgeRef, EdgeType, NodeRef};
use agentry_core::ids;
use agentry_core::page::{Page, PageRequest};
use agentry_store::workflows::{self, WorkflowFields, WorkflowFilter, WorkflowRow};
use agentry_store::{NewEvent, Tx, edges, nodes, now_ms};
use serde_json::json;

pub const NOT_FOUND: &str = "Workflow not found.";

fn not_found() -> ServiceError {
    ServiceError::NotFound(NOT_FOUND.into())
}

/// Readable: owned, public, or the caller is an admin.
pub fn can_read(caller: &Caller, w: &WorkflowRow) -> bool {
    caller.owns(w.owner_id) || w.is_public
}

pub fn channel(slug: &str) -> String {
    format!("workflow:{slug}")
}

fn check_name(name: &str) -> ServiceResult<()> {
    if name.trim().is_empty() {
        return Err(ServiceError::invalid("name", "must not be empty"));
    }
    if name.chars().count() > 200 {
        return Err(ServiceError::invalid(
            "name",
            "must be at most 200 characters",
        ));
    }
    Ok(())
}

fn check_tags(tags: &Option<Vec<String>>) -> ServiceResult<()> {
    let Some(tags) = tags else { return Ok(()) };
    if tags.len() > 50 {
        return Err(ServiceError::invalid("tags", "at most 50 tags"));
    }
    for t in tags {
        if t.trim().is_empty() || t.chars().count() > 100 {
            return Err(ServiceError::invalid(
                "tags",
                "each tag must be 1 to 100 characters",
            ));
        }
    }
    Ok(())
}

fn check_max_seconds(n: i64) -> ServiceResult<()> {
    if n <= 0 {
        return Err(ServiceError::invalid(
            "max_execution_seconds",
            "must be greater than 0",
        ));
    }
    Ok(())
}

impl Services {
    /// Loads a workflow the caller may read.
    pub async fn readable_workflow(
        &self,
        caller: &Caller,
        slug: &str,
    ) -> ServiceResult<WorkflowRow> {
        let w = workflows::get_by_slug(&self.db, slug)
            .await?
            .ok_or_else(not_found)?;
        if can_read(caller, &w) {
            Ok(w)
        } else {
            Err(not_found())
        }
    }

    /// Loads, inside `tx`, a workflow the caller may change.
    pub(crate) async fn owned_workflow_in(
        &self,
        tx: &mut Tx,
        caller: &Caller,
        slug: &str,
    ) -> ServiceResult<WorkflowRow> {
        let w = workflows::get_by_slug_in(tx, slug)
            .await?
            .ok_or_else(not_found)?;
        if caller.owns(w.owner_id) {
            Ok(w)
        } else {
            Err(not_found())
        }
    }

    async fn check_error_handler(&self, caller: &Caller, id: Option<i64>) -> ServiceResult<()> {
        let Some(id) = id else { return Ok(()) };
        match workflows::get(&self.db, id).await? {
            Some(w) if can_read(caller, &w) => Ok(()),
            _ => Err(ServiceError::invalid(
                "error_handler_workflow_id",
                format!("workflow {id} not found"),
            )),
        }
    }

    pub async fn create_workflow(
        &self,
        caller: &Caller,
        input: WorkflowIn,
    ) -> ServiceResult<WorkflowOut> {
        check_name(&input.name)?;
        check_tags(&input.tags)?;
        check_max_seconds(input.max_execution_seconds)?;
        let base = match &input.slug {
            Some(s) if !s.is_empty() => {
                ids::check_slug(s).map_err(|e| ServiceError::invalid("slug", e))?;
                s.clone()
            }
            _ => ids::slugify(&input.name),
        };
        self.check_error_handler(caller, input.error_handler_workflow_id)
            .await?;
        let fields = WorkflowFields {
            name: input.name,
            description: input.description,
            is_active: input.is_active,
            is_public: input.is_public,
            is_default: input.is_default,
            is_callable: true,
            tags: input.tags,
            error_handler_workflow_id: input.error_handler_workflow_id,
            forked_from_id: None,
            max_execution_seconds: input.max_execution_seconds,
            input_schema: input.input_schema,
            output_schema: input.output_schema,
        };
        let mut tx = self.db.begin().await?;
        let row =
            workflows::insert_unique_slug(&mut tx, caller.user_id, &base, 1, &fields, now_ms())
                .await?;
        tx.emit(NewEvent::new(
            channel(&row.slug),
            "workflow_created",
            json!({"slug": row.slug, "name": row.name}),
        ));
        self.commit(tx).await?;
        Ok(WorkflowOut::from(&row))
    }

    pub async fn get_workflow(
        &self,
        caller: &Caller,
        slug: &str,
    ) -> ServiceResult<WorkflowDetailOut> {
        let w = self.readable_workflow(caller, slug).await?;
        let (node_rows, edge_rows) =
            tokio::try_join!(nodes::list(&self.db, w.id), edges::list(&self.db, w.id))?;
        Ok(WorkflowDetailOut {
            workflow: WorkflowOut::from(&w),
            nodes: node_rows.iter().map(NodeOut::from_row).collect(),
            edges: edge_rows.iter().map(EdgeOut::from).collect(),
        })
    }

    pub async fn list_workflows(
        &self,
        caller: &Caller,
        tags: Option<Vec<String>>,
        page: PageRequest,
    ) -> ServiceResult<Page<WorkflowOut>> {
        let filter = WorkflowFilter {
            owner_id: caller.owner_filter(),
            tags,
        };
        let (rows, total) = workflows::list(&self.db, &filter, page).await?;
        Ok(Page {
            items: rows.iter().map(WorkflowOut::from).collect(),
            total,
        })
    }

    pub async fn patch_workflow(
        &self,
        caller: &Caller,
        slug: &str,
        patch: WorkflowPatch,
    ) -> ServiceResult<WorkflowOut> {
        let mut tx = self.db.begin().await?;
        let current = self.owned_workflow_in(&mut tx, caller, slug).await?;
        let mut f = WorkflowFields::from_row(&current);
        let mut new_slug = current.slug.clone();
        if let Patch::Value(name) = patch.name {
            check_name(&name)?;
            f.name = name;
        } else if patch.name == Patch::Null {
            return Err(ServiceError::invalid("name", "must not be null"));
        }
        if let Patch::Value(s) = patch.slug {
            ids::check_slug(&s).map_err(|e| ServiceError::invalid("slug", e))?;
            if s != current.slug {
                if ids::is_reserved_slug(&s)
                    || workflows::slug_taken(&mut tx, &s, current.id).await?
                {
                    return Err(ServiceError::Conflict(
                        "Workflow slug already exists.".into(),
                    ));
                }
                new_slug = s;
            }
        }
        if let Some(v) = patch.description.into_option() {
            f.description = v.unwrap_or_default();
        }
        if let Patch::Value(v) = patch.is_active {
            f.is_active = v;
        }
        if let Patch::Value(v) = patch.is_public {
            f.is_public = v;
        }
        if let Patch::Value(v) = patch.is_default {
            f.is_default = v;
        }
        if let Some(v) = patch.tags.into_option() {
            check_tags(&v)?;
            f.tags = v;
        }
        if let Some(v) = patch.error_handler_workflow_id.into_option() {
            self.check_error_handler(caller, v).await?;
            f.error_handler_workflow_id = v;
        }
        if let Patch::Value(v) = patch.max_execution_seconds {
            check_max_seconds(v)?;
            f.max_execution_seconds = v;
        }
        if let Some(v) = patch.input_schema.into_option() {
            f.input_schema = v;
        }
        if let Some(v) = patch.output_schema.into_option() {
            f.output_schema = v;
        }
        let row = match workflows::update(&mut tx, current.id, &new_slug, &f, now_ms()).await {
            Ok(Some(row)) => row,
            Ok(None) => return Err(not_found()),
            Err(e) if e.is_unique_violation() => {
                return Err(ServiceError::Conflict(
                    "Workflow slug already exists.".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        };
        let out = WorkflowOut::from(&row);
        let data = serde_json::to_value(&out).map_err(|e| ServiceError::Internal(e.to_string()))?;
        if new_slug != current.slug {
            tx.emit(NewEvent::new(
                channel(&current.slug),
                "workflow_updated",
                data.clone(),
            ));
        }
        tx.emit(NewEvent::new(channel(&new_slug), "workflow_updated", data));
        self.commit(tx).await?;
        Ok(out)
    }

    pub async fn delete_workflow(&self, caller: &Caller, slug: &str) -> ServiceResult<()> {
        let mut tx = self.db.begin().await?;
        let w = self.owned_workflow_in(&mut tx, caller, slug).await?;
        workflows::delete(&mut tx, w.id).await?;
        tx.emit(NewEvent::new(
            channel(&w.slug),
            "workflow_deleted",
            json!({"slug": w.slug}),
        ));
        self.commit(tx).await
    }

    /// Deletes the named workflows the caller owns; others and unknown slugs are skipped.
    pub async fn batch_delete_workflows(
        &self,
        caller: &Caller,
        slugs: &[String],
    ) -> ServiceResult<()> {
        if slugs.is_empty() {
            return Ok(());
        }
        if slugs.len() > 1000 {
            return Err(ServiceError::invalid("slugs", "at most 1000 per request"));
        }
        let mut tx = self.db.begin().await?;
        let deleted = workflows::delete_many(&mut tx, slugs, caller.owner_filter()).await?;
        for slug in deleted {
            tx.emit(NewEvent::new(
                channel(&slug),
                "workflow_deleted",
                json!({"slug": slug}),
            ));
        }
        self.commit(tx).await
    }

    /// Whole-graph validation (engine.md §9).
    pub async fn validate_workflow(
        &self,
        caller: &Caller,
        slug: &str,
    ) -> ServiceResult<ValidationOut> {
        let w = self.readable_workflow(caller, slug).await?;
        let (node_rows, edge_rows) =
            tokio::try_join!(nodes::list(&self.db, w.id), edges::list(&self.db, w.id))?;
        let node_refs: Vec<NodeRef<'_>> = node_rows
            .iter()
            .map(|n| NodeRef {
                node_id: &n.node_id,
                component_type: &n.component_type,
            })
            .collect();
        let edge_refs: Vec<EdgeRef<'_>> = edge_rows
            .iter()
            .map(|e| EdgeRef {
                source: &e.source_node_id,
                target: &e.target_node_id,
                edge_type: EdgeType::parse(&e.edge_type).unwrap_or(EdgeType::Direct),
                label: EdgeLabel::parse(&e.edge_label).unwrap_or(EdgeLabel::Data),
                condition_value: &e.condition_value,
            })
            .collect();
        let errors = graph::validate(&node_refs, &edge_refs);
        Ok(ValidationOut {
            valid: errors.is_empty(),
            errors,
        })
    }
}
