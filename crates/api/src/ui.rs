//! The web UI: the bundle built from the TypeScript sources in `crates/api/ui` (esbuild, see its
//! `package.json`) into `ui/dist`, committed and compiled into the binary, so `cargo build` and
//! `ferry up` need no Node. It talks to the REST API and its event stream. No external network:
//! no CDNs, fonts or images from elsewhere.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

const INDEX: &str = include_str!("ui/dist/index.html");
const SCRIPT: &str = include_str!("ui/dist/app.js");
const STYLE: &str = include_str!("ui/dist/style.css");

/// Everything the page loads comes from this server; inline scripts are not allowed.
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";

pub(crate) async fn index() -> Response {
    with_type(INDEX, "text/html; charset=utf-8")
}

pub(crate) async fn asset(Path(file): Path<String>) -> Response {
    match file.as_str() {
        "app.js" => with_type(SCRIPT, "text/javascript; charset=utf-8"),
        "style.css" => with_type(STYLE, "text/css; charset=utf-8"),
        _ => (StatusCode::NOT_FOUND, "no such file\n").into_response(),
    }
}

fn with_type(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
