//! # agentry-server
//!
//! The HTTP face of agentry, on axum: one module per resource under [`routes`], the bearer-key
//! extractor, the single [`ServiceError`](agentry_service::ServiceError) → HTTP mapping
//! ([`error`]), the WebSocket hub ([`ws`]), the OpenAPI document generated from the route
//! annotations, and the embedded web UI ([`ui`]).
//!
//! The server never runs workflow work itself: it calls `agentry-service`, which records what
//! should happen; workers (in the same process or others) do it.

pub mod error;
pub mod extract;
pub mod routes;
pub mod ui;
pub mod ws;

use agentry_service::Services;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use std::net::SocketAddr;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

/// Request bodies larger than this answer 413 (api.md §1).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// State shared by every route.
#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    pub version: &'static str,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "agentry", description = "Self-hosted platform for LLM agents that delegate work. v1 API."),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The whole application: API, WebSocket, health, OpenAPI and UI.
pub fn app(state: AppState) -> Router {
    let (api, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", routes::api_routes())
        .merge(routes::health::routes())
        .split_for_parts();
    openapi.info.version = state.version.to_string();
    let openapi = std::sync::Arc::new(openapi);
    let doc = {
        let openapi = openapi.clone();
        move || {
            let openapi = openapi.clone();
            async move { axum::Json(openapi.as_ref().clone()) }
        }
    };
    let inner = api
        .route("/api/v1/openapi.json", axum::routing::get(doc.clone()))
        .route("/openapi.json", axum::routing::get(doc))
        .route("/ws/", axum::routing::get(ws::global_socket))
        .route(
            "/ws/executions/{id}/",
            axum::routing::get(ws::execution_socket),
        )
        .fallback(ui::serve)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(TraceLayer::new_for_http())
        .with_state(state);
    // The slash rule must act before routing, so it wraps the routed app from outside.
    Router::new()
        .fallback_service(inner)
        .layer(middleware::from_fn(add_trailing_slash))
}

/// Routes registered without the trailing slash.
const NO_SLASH_ROUTES: &[&str] = &["/health", "/openapi.json", "/api/v1/openapi.json"];

/// api.md §1: a path differing only by the trailing slash reaches the same route (no redirect).
/// Routes are registered with the slash; requests without one get it added. The few routes
/// registered without it ([`NO_SLASH_ROUTES`]) have it removed instead.
async fn add_trailing_slash(mut req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let new_path = if let Some(bare) = path
        .strip_suffix('/')
        .filter(|bare| NO_SLASH_ROUTES.contains(bare))
    {
        Some(bare.to_string())
    } else if (path.starts_with("/api/") || path == "/ws" || path.starts_with("/ws/"))
        && !path.ends_with('/')
        && !NO_SLASH_ROUTES.contains(&path)
    {
        Some(format!("{path}/"))
    } else {
        None
    };
    if let Some(new_path) = new_path {
        let mut parts = req.uri().clone().into_parts();
        let new_pq = match req.uri().query() {
            Some(q) => format!("{new_path}?{q}"),
            None => new_path,
        };
        if let Ok(pq) = new_pq.parse() {
            parts.path_and_query = Some(pq);
            if let Ok(uri) = axum::http::Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
    }
    next.run(req).await
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
