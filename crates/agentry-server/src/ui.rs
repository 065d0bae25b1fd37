//! The embedded web UI: files from `web/dist` (built by `npm run build`), with a single-page
//! app fallback. Without a built UI a placeholder page explains how to build one, so
//! `cargo build` never needs npm.

use axum::http::{StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../../web/dist/"]
#[allow_missing = true]
struct Assets;

const PLACEHOLDER: &str = r#"<!doctype html><html><head><meta charset="utf-8"><title>agentry</title></head>
<body style="font-family: system-ui; max-width: 40rem; margin: 4rem auto">
<h1>agentry</h1><p>The API is running. This binary was built without the web UI.</p>
<p>Build it with <code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code>, then rebuild agentry.</p>
<p>API documentation: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>. Health: <a href="/health">/health</a>.</p>
</body></html>"#;

/// Any GET outside the API: an asset, else `index.html` (client-side routing).
pub async fn serve(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    if path.starts_with("api/") || path.starts_with("ws/") {
        return crate::error::detail(StatusCode::NOT_FOUND, "Not found.");
    }
    if let Some(file) = Assets::get(path).filter(|_| !path.is_empty()) {
        let mime = mime_guess::from_path(path).first_or_octet_stream();
        let cache = if path.starts_with("assets/") {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        return (
            [
                (header::CONTENT_TYPE, mime.as_ref().to_string()),
                (header::CACHE_CONTROL, cache.to_string()),
            ],
            file.data,
        )
            .into_response();
    }
    match Assets::get("index.html") {
        Some(index) => ([(header::CACHE_CONTROL, "no-cache")], Html(index.data)).into_response(),
        None => Html(PLACEHOLDER).into_response(),
    }
}
