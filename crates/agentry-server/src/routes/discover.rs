//! Workflow discovery for people and the UI (discovery.md, "agentry additions"):
//! `POST /workflows/discover/`. The static path wins over `/workflows/{slug}/` (the router
//! matches static segments first) and `discover` is a reserved slug, so no workflow is shadowed.

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Auth, Body};
use agentry_service::discovery::{DiscoverIn, DiscoverOut, DiscoverScope};
use agentry_service::registry::Scope;
use axum::Json;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(discover))
}

/// Ranks the workflows the caller may read (own and public; admins: all) against a
/// requirements object: capability match, tag overlap, reliability, text relevance.
#[utoipa::path(post, path = "/workflows/discover/", tag = "workflows", request_body = DiscoverIn,
    responses((status = 200, body = DiscoverOut), (status = 422, description = "A bad field, named in `detail`.")))]
async fn discover(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Body(input): Body<DiscoverIn>,
) -> ApiResult<Json<DiscoverOut>> {
    let exclude = input.exclude_slug.clone();
    let scope = DiscoverScope {
        scope: Scope::of(&caller),
        exclude_id: None,
        exclude_slug: exclude.as_deref(),
    };
    Ok(Json(s.services.discover_workflows(scope, input).await?))
}
