//! The dashboard: HTML, JavaScript, CSS and the vendored chart library, embedded in the
//! binary with `include_str!`, so `cargo run` serves it with no build step and no files
//! beside the binary.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// One embedded file.
pub struct Asset {
    /// Its path under `/assets/`, or `""` for the page itself (`/`).
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static str,
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Every embedded file.
pub const ASSETS: &[Asset] = &[
    Asset {
        path: "",
        content_type: HTML,
        body: include_str!("../assets/index.html"),
    },
    Asset {
        path: "app.js",
        content_type: JS,
        body: include_str!("../assets/app.js"),
    },
    Asset {
        path: "style.css",
        content_type: CSS,
        body: include_str!("../assets/style.css"),
    },
    Asset {
        path: "favicon.svg",
        content_type: "image/svg+xml",
        body: include_str!("../assets/favicon.svg"),
    },
    Asset {
        path: "vendor/uplot/uPlot.iife.min.js",
        content_type: JS,
        body: include_str!("../assets/vendor/uplot/uPlot.iife.min.js"),
    },
    Asset {
        path: "vendor/uplot/uPlot.min.css",
        content_type: CSS,
        body: include_str!("../assets/vendor/uplot/uPlot.min.css"),
    },
];

fn serve(asset: &Asset) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, asset.content_type),
            // Small files, embedded: revalidating is cheap and upgrades show at once.
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        asset.body,
    )
        .into_response()
}

/// `GET /`: the dashboard page.
pub async fn index() -> Response {
    serve(&ASSETS[0])
}

/// `GET /assets/{*path}`.
pub async fn asset(axum::extract::Path(path): axum::extract::Path<String>) -> Response {
    match ASSETS.iter().find(|a| !a.path.is_empty() && a.path == path) {
        Some(a) => serve(a),
        None => ApiError::NotFound(format!("no asset {path:?}")).into_response(),
    }
}
