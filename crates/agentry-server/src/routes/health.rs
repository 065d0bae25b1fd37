//! `GET /health` (no auth).

use crate::AppState;
use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Serialize, ToSchema)]
pub struct HealthOut {
    /// `ok`, or `degraded` when any check fails.
    pub status: &'static str,
    pub version: &'static str,
    pub database: bool,
    pub queue: bool,
    /// Jobs due and unclaimed.
    pub queue_depth: i64,
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health))
}

/// Health of the server and its database.
#[utoipa::path(get, path = "/health", tag = "health", security(()), responses((status = 200, body = HealthOut)))]
async fn health(State(state): State<AppState>) -> Json<HealthOut> {
    let database = state.services.db.ping().await;
    let depth = agentry_store::jobs::queue_depth(&state.services.db, agentry_store::now_ms()).await;
    let queue = depth.is_ok();
    Json(HealthOut {
        status: if database && queue { "ok" } else { "degraded" },
        version: state.version,
        database,
        queue,
        queue_depth: depth.unwrap_or(0),
    })
}
