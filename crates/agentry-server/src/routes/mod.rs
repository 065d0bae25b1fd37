//! One module per resource; each returns its routes with their OpenAPI annotations.

pub mod auth;
pub mod credentials;
pub mod discover;
pub mod dsl;
pub mod edges;
pub mod epics;
pub mod executions;
pub mod health;
pub mod nodes;
pub mod tasks;
pub mod users;
pub mod workflows;

use crate::AppState;
use agentry_core::page::PageRequest;
use agentry_service::ServiceError;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;

/// Every `/api/v1` route.
pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(auth::routes())
        .merge(users::routes())
        .merge(workflows::routes())
        .merge(discover::routes())
        .merge(dsl::routes())
        .merge(nodes::routes())
        .merge(edges::routes())
        .merge(executions::routes())
        .merge(credentials::routes())
        .merge(epics::routes())
        .merge(tasks::routes())
}

/// `limit` / `offset` query parameters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct PageQuery {
    /// Default 50; above 500 acts as 500.
    pub limit: Option<i64>,
    /// Default 0.
    pub offset: Option<i64>,
}

impl PageQuery {
    pub fn page(&self) -> Result<PageRequest, ServiceError> {
        PageRequest::new(self.limit, self.offset).map_err(|e| ServiceError::Invalid(e.to_string()))
    }
}

/// Splits a comma-separated list, trimming and dropping empties; `None` when nothing is left.
pub fn split_list(text: Option<&str>) -> Option<Vec<String>> {
    let items: Vec<String> = text?
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    if items.is_empty() { None } else { Some(items) }
}
