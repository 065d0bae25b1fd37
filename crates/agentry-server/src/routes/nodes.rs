//! `/workflows/{slug}/nodes/` (api.md §5).

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Auth, Body};
use agentry_service::dto::{NodeIn, NodeOut, NodePatch};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_nodes, create_node))
        .routes(routes!(patch_node, delete_node))
}

/// The workflow's nodes.
#[utoipa::path(get, path = "/workflows/{slug}/nodes/", tag = "nodes", params(("slug" = String, Path)),
    responses((status = 200, body = Vec<NodeOut>), (status = 404)))]
async fn list_nodes(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(slug): Path<String>,
) -> ApiResult<Json<Vec<NodeOut>>> {
    Ok(Json(s.services.list_nodes(&caller, &slug).await?))
}

/// Adds a node; `node_id` defaults to `{component_type}_{8 hex}`.
#[utoipa::path(post, path = "/workflows/{slug}/nodes/", tag = "nodes", params(("slug" = String, Path)), request_body = NodeIn,
    responses((status = 201, body = NodeOut), (status = 404), (status = 409), (status = 422)))]
async fn create_node(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(slug): Path<String>,
    Body(input): Body<NodeIn>,
) -> ApiResult<(StatusCode, Json<NodeOut>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.services.create_node(&caller, &slug, input).await?),
    ))
}

/// Changes the fields (and config keys) present in the body.
#[utoipa::path(patch, path = "/workflows/{slug}/nodes/{node_id}/", tag = "nodes",
    params(("slug" = String, Path), ("node_id" = String, Path)), request_body = NodePatch,
    responses((status = 200, body = NodeOut), (status = 404, description = "Node not found."), (status = 409), (status = 422)))]
async fn patch_node(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path((slug, node_id)): Path<(String, String)>,
    Body(patch): Body<NodePatch>,
) -> ApiResult<Json<NodeOut>> {
    Ok(Json(
        s.services
            .patch_node(&caller, &slug, &node_id, patch)
            .await?,
    ))
}

/// Deletes a node and every edge touching it.
#[utoipa::path(delete, path = "/workflows/{slug}/nodes/{node_id}/", tag = "nodes",
    params(("slug" = String, Path), ("node_id" = String, Path)), responses((status = 204), (status = 404)))]
async fn delete_node(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path((slug, node_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    s.services.delete_node(&caller, &slug, &node_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
