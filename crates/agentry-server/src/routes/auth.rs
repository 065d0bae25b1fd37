//! `/auth/*` and `/users/me/keys` (api.md §2).

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Auth, Body};
use agentry_service::dto::{ApiKeyIn, ApiKeyOut, Credentials, MeOut, SetupStatus, TokenOut};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(setup_status))
        .routes(routes!(setup))
        .routes(routes!(token))
        .routes(routes!(me))
        .routes(routes!(create_key, list_keys))
        .routes(routes!(revoke_key))
}

/// Whether first-run setup is still needed (no user exists).
#[utoipa::path(get, path = "/auth/setup-status/", tag = "auth", security(()), responses((status = 200, body = SetupStatus)))]
async fn setup_status(State(s): State<AppState>) -> ApiResult<Json<SetupStatus>> {
    Ok(Json(SetupStatus {
        needs_setup: s.services.needs_setup().await?,
    }))
}

/// First-run setup: creates the first user (admin) and returns its key.
#[utoipa::path(post, path = "/auth/setup/", tag = "auth", security(()), request_body = Credentials,
    responses((status = 200, body = TokenOut), (status = 409, description = "Setup already completed."), (status = 422)))]
async fn setup(State(s): State<AppState>, Body(c): Body<Credentials>) -> ApiResult<Json<TokenOut>> {
    Ok(Json(s.services.setup(&c.username, &c.password).await?))
}

/// Password login: returns a fresh key named `session`.
#[utoipa::path(post, path = "/auth/token/", tag = "auth", security(()), request_body = Credentials,
    responses((status = 200, body = TokenOut), (status = 401, description = "Invalid credentials.")))]
async fn token(State(s): State<AppState>, Body(c): Body<Credentials>) -> ApiResult<Json<TokenOut>> {
    Ok(Json(s.services.login(&c.username, &c.password).await?))
}

/// The caller.
#[utoipa::path(get, path = "/auth/me/", tag = "auth", responses((status = 200, body = MeOut), (status = 401)))]
async fn me(State(s): State<AppState>, Auth(caller): Auth) -> Json<MeOut> {
    Json(s.services.me(&caller))
}

/// Creates a named API key; the full key is in this answer only.
#[utoipa::path(post, path = "/users/me/keys/", tag = "auth", request_body = ApiKeyIn,
    responses((status = 201, body = ApiKeyOut), (status = 400, description = "expires_at must be in the future.")))]
async fn create_key(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Body(input): Body<ApiKeyIn>,
) -> ApiResult<(StatusCode, Json<ApiKeyOut>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.services.create_key(&caller, input).await?),
    ))
}

/// The caller's keys, newest first (never the secrets).
#[utoipa::path(get, path = "/users/me/keys/", tag = "auth", responses((status = 200, body = Vec<ApiKeyOut>)))]
async fn list_keys(
    State(s): State<AppState>,
    Auth(caller): Auth,
) -> ApiResult<Json<Vec<ApiKeyOut>>> {
    Ok(Json(s.services.list_keys(&caller).await?))
}

/// Revokes one of the caller's keys.
#[utoipa::path(delete, path = "/users/me/keys/{key_id}/", tag = "auth", params(("key_id" = String, Path)),
    responses((status = 204), (status = 404, description = "API key not found.")))]
async fn revoke_key(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(key_id): Path<String>,
) -> ApiResult<StatusCode> {
    s.services.revoke_key(&caller, &key_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
