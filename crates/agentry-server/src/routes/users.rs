//! `/users/` (admin only, api.md §11).

use super::PageQuery;
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Auth, Body, Q};
use agentry_core::page::Page;
use agentry_service::dto::{UserIn, UserOut};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_user, list_users))
        .routes(routes!(delete_user))
}

/// Creates a user (admin).
#[utoipa::path(post, path = "/users/", tag = "users", request_body = UserIn,
    responses((status = 201, body = UserOut), (status = 403), (status = 409, description = "Username already exists.")))]
async fn create_user(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Body(input): Body<UserIn>,
) -> ApiResult<(StatusCode, Json<UserOut>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.services.admin_create_user(&caller, input).await?),
    ))
}

/// Lists users (admin).
#[utoipa::path(get, path = "/users/", tag = "users", params(PageQuery), responses((status = 200, body = Page<UserOut>), (status = 403)))]
async fn list_users(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Q(q): Q<PageQuery>,
) -> ApiResult<Json<Page<UserOut>>> {
    Ok(Json(s.services.list_users(&caller, q.page()?).await?))
}

/// Deactivates a user: keys revoked, login refused, rows kept (admin).
#[utoipa::path(delete, path = "/users/{id}/", tag = "users", params(("id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404), (status = 409)))]
async fn delete_user(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.services.delete_user(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
