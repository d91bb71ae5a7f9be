//! The router: which path goes to which handler, and which layers guard them.

use std::future::Future;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, StatusCode, Uri};
use axum::middleware;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};

use crate::access::guard;
use crate::dto::ErrorBody;
use crate::state::ApiState;

use crate::{account, actions, appsets, events, metrics, plan, read, stream, tree, ui, webhook};

/// Bodies of API actions are a few bytes; webhooks have their own cap in [`webhook`].
const ACTION_BODY_LIMIT: usize = 64 << 10;

/// The whole HTTP surface: REST API, webhooks, `/metrics`, health probes and the web UI.
///
/// `/metrics` and `/api/openapi.json` need an authenticated caller (any role) when the server
/// requires authentication; `/healthz`, `/readyz` and the UI's static files never do (they hold
/// no data: the UI's API calls carry the token).
pub fn router(state: ApiState) -> Router {
    let app = "/api/v1/applications/{namespace}/{name}";
    let guarded = Router::new()
        .route("/api/v1/applications", get(read::list))
        .route(app, get(read::get).delete(actions::delete))
        .route(&format!("{app}/tree"), get(tree::tree))
        .route(&format!("{app}/object"), get(tree::object))
        .route(&format!("{app}/desired"), get(tree::desired))
        .route("/api/v1/stream/applications", get(stream::applications))
        .route(&format!("{app}/resources"), get(read::resources))
        .route(&format!("{app}/diff"), get(read::diff))
        .route(&format!("{app}/history"), get(read::history))
        .route(&format!("{app}/events"), get(events::list))
        .route(&format!("{app}/sync"), post(actions::sync))
        .route(&format!("{app}/rollback"), post(actions::rollback))
        .route(&format!("{app}/unpin"), post(actions::unpin))
        .route(&format!("{app}/suspend"), post(actions::suspend))
        .route(&format!("{app}/resume"), post(actions::resume))
        .route(&format!("{app}/refresh"), post(actions::refresh))
        .route(&format!("{app}/terminate-op"), post(actions::terminate))
        .route(&format!("{app}/approve"), post(actions::approve))
        .route("/api/v1/plan", post(plan::plan))
        .route("/api/v1/applicationsets", get(appsets::list))
        .route("/api/v1/applicationsets/{namespace}/{name}", get(appsets::get))
        .route("/api/v1/audit", get(account::audit))
        .route("/api/v1/notifications/log", get(account::notifications_log))
        .route("/api/v1/account", get(account::whoami))
        .route("/api/v1/account/can-i", get(account::can_i))
        .route("/api/openapi.json", get(openapi))
        .route("/metrics", get(metrics::serve_metrics))
        .layer(DefaultBodyLimit::max(ACTION_BODY_LIMIT))
        .route_layer(middleware::from_fn_with_state(state.clone(), guard::guard));
    let pages = Router::new().route("/", get(ui::index)).route("/ui/{file}", get(ui::asset));
    // DNS rebinding reads data through a name that resolves to 127.0.0.1: the API and the UI
    // answer only to the loopback names. Webhooks (signed, often tunnelled under another name)
    // and probes are left out.
    let host_checked = guarded
        .merge(pages)
        .route_layer(middleware::from_fn_with_state(state.clone(), guard::check_host));
    let open = Router::new()
        .route("/healthz", get(read::healthz))
        .route("/readyz", get(read::readyz))
        // Webhooks authenticate with the provider's signature, which a provider can send and a
        // bearer token it cannot.
        .route("/api/webhook", post(webhook::any))
        .route("/api/webhook/{provider}", post(webhook::named));
    Router::new()
        .merge(host_checked)
        .merge(open)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), metrics::track))
        .with_state(state)
}

/// Serves [`router`] on `listener` until `shutdown` completes, then finishes open requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ApiState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The peer address is what the audit trail records as "from where".
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

async fn openapi() -> Json<serde_json::Value> {
    Json(crate::openapi::openapi())
}

/// 405 with the same `{error, hint}` body as every other error (axum's default has none).
async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    let body = ErrorBody {
        error: format!("method {method} is not allowed on {}", uri.path()),
        hint: "GET /api/openapi.json lists the methods of each path".into(),
    };
    (StatusCode::METHOD_NOT_ALLOWED, Json(body)).into_response()
}

async fn not_found(uri: Uri) -> Response {
    let body = ErrorBody {
        error: format!("no such endpoint: {}", uri.path()),
        hint: "GET /api/openapi.json describes the API".into(),
    };
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}
