//! The HTTP surface: routing, authentication, request counting and the TLS accept loop.

mod admitted;
mod body;
mod discovery;
mod field_validation;
mod logs;
mod openapi;
mod openapi_schema;
pub(crate) mod path;
mod read;
mod reviews;
mod table;
mod watch_list;
mod write;

use std::sync::{Arc, Mutex, RwLock};

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::config::ClusterConfig;
use crate::error::ApiError;
use crate::faults::Faults;
use crate::resources::Registry;
use crate::stats::Stats;
use crate::store::Store;

/// Largest request body accepted, like kube-apiserver's 3 MiB limit.
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// Everything a request handler can reach.
pub struct AppState {
    pub store: Store,
    pub registry: RwLock<Registry>,
    pub stats: Stats,
    pub token: String,
    pub auth: crate::auth::Auth,
    pub config: ClusterConfig,
    pub faults: Mutex<Faults>,
    /// List semantics for apply and patches: built-ins plus the CRDs created so far.
    pub schema: RwLock<Arc<ferry_diff::Schema>>,
    /// Compiled CRD schemas for validating custom resources (see `validate`).
    pub crd_schemas: crate::validate::CrdSchemas,
}

pub type Shared = Arc<AppState>;

impl AppState {
    pub fn registry(&self) -> std::sync::RwLockReadGuard<'_, Registry> {
        self.registry.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn schema(&self) -> Arc<ferry_diff::Schema> {
        self.schema.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn add_crd_schema(&self, crd: &serde_json::Value) {
        let mut guard = self.schema.write().unwrap_or_else(|e| e.into_inner());
        let mut next = (**guard).clone();
        if let Err(e) = next.add_crd(crd) {
            tracing::warn!(error = %e, "a CRD schema cannot be used for apply; its lists are treated as atomic");
        }
        *guard = Arc::new(next);
    }

    pub fn remove_crd_schema(&self, crd: &serde_json::Value) {
        let group =
            crd.pointer("/spec/group").and_then(serde_json::Value::as_str).unwrap_or_default();
        let kind =
            crd.pointer("/spec/names/kind").and_then(serde_json::Value::as_str).unwrap_or_default();
        let mut guard = self.schema.write().unwrap_or_else(|e| e.into_inner());
        let mut next = (**guard).clone();
        next.remove_crd(group, kind);
        *guard = Arc::new(next);
    }

    pub fn registry_mut(&self) -> std::sync::RwLockWriteGuard<'_, Registry> {
        self.registry.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// What the counters record for a request: set by the handler, read by the counting layer.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    pub verb: &'static str,
    pub resource: String,
}

pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/version", get(discovery::version))
        .route("/healthz", get(ok))
        .route("/livez", get(ok))
        .route("/readyz", get(ok))
        .route("/api", get(discovery::legacy_versions))
        .route("/api/v1", get(discovery::core_resources))
        .route("/apis", get(discovery::groups))
        .route("/apis/{group}", get(discovery::group))
        .route("/apis/{group}/{version}", get(discovery::group_version_resources))
        .route("/openapi/v2", get(openapi::v2))
        .route("/openapi/v3", get(openapi::v3_index))
        .route("/openapi/v3/{*path}", get(openapi::v3_group_version))
        .route("/metrics", get(metrics))
        .route("/ferry/faults", post(crate::faults::set).get(crate::faults::get))
        .route("/api/v1/namespaces/{ns}/pods/{name}/log", get(logs::get))
        .route("/api/v1/namespaces/{ns}/serviceaccounts/{name}/token", post(reviews::token))
        .route(
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            post(reviews::self_subject_access_review),
        )
        .route(
            "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
            post(reviews::self_subject_rules_review),
        )
        .route(
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            post(reviews::subject_access_review),
        )
        .route(
            "/apis/authorization.k8s.io/v1/namespaces/{ns}/localsubjectaccessreviews",
            post(reviews::local_subject_access_review),
        )
        .route(
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            post(reviews::self_subject_review),
        )
        .fallback(resource)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

async fn ok() -> &'static str {
    "ok"
}

async fn metrics(State(st): State<Shared>) -> Response {
    let body = st.stats.render(st.store.count());
    ([("content-type", "text/plain; version=0.0.4")], body).into_response()
}

/// Authenticates (client certificate, bearer token or anonymous), applies impersonation,
/// authorizes with RBAC, then counts the request. The user rides on in the request's
/// extensions as [`crate::auth::UserInfo`].
async fn guard(State(st): State<Shared>, mut req: Request, next: Next) -> Response {
    let user = match authenticate(&st, &req) {
        Ok(u) => u,
        Err(e) => {
            st.stats.record("UNKNOWN", "", e.code);
            return e.into_response();
        }
    };
    req.extensions_mut().insert(user);
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let resp = next.run(req).await;
    let code = resp.status().as_u16();
    match resp.extensions().get::<RequestInfo>() {
        Some(info) => st.stats.record(info.verb, &info.resource, code),
        None => st.stats.record(method.as_str(), &nonresource(&path), code),
    }
    resp
}

/// The user a request acts as, or the 401/403 that ends it.
fn authenticate(st: &Shared, req: &Request) -> Result<crate::auth::UserInfo, ApiError> {
    use crate::auth::token_controller::{secret_uid, service_account_uid};
    use crate::auth::{Attributes, authn::PeerIdentity, impersonate, rbac};
    let sa_uid = |plural: &str, ns: &str, name: &str| match plural {
        "secrets" => secret_uid(st, ns, name),
        _ => service_account_uid(st, ns, name),
    };
    let peer = req.extensions().get::<PeerIdentity>();
    let user = st
        .auth
        .authn
        .authenticate(req.headers(), peer, &sa_uid)
        .map_err(|why| ApiError::new(401, "Unauthorized", format!("Unauthorized: {why}")))?;
    let user = impersonate::apply(&st.auth.authz, user, req.headers())?;
    let attrs = Attributes::of_request(req.method(), req.uri().path(), req.uri().query());
    let decision = st.auth.authz.authorize(&user, &attrs);
    if !decision.allowed {
        return Err(rbac::forbidden(&user, &attrs, &decision.reason));
    }
    Ok(user)
}

fn nonresource(path: &str) -> String {
    if path.starts_with("/openapi") {
        "openapi".into()
    } else {
        path.trim_start_matches('/').split('/').next().unwrap_or("").to_string()
    }
}

/// Every `/api/v1/…` and `/apis/G/V/…` resource request.
async fn resource(
    State(st): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    user: Option<axum::Extension<crate::auth::UserInfo>>,
    body: Body,
) -> Response {
    let body = match body::read(body).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let target = {
        let reg = st.registry();
        path::parse(uri.path(), &reg)
    };
    let mut target = match target {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    if let Some(axum::Extension(user)) = user {
        target.user = user;
    }
    if target.rt.is_review() {
        return ApiError::method_not_allowed(format!(
            "{} only supports create (POST to its collection)",
            target.rt.kind
        ))
        .into_response();
    }
    if let Some(d) = st.faults().latency() {
        tokio::time::sleep(d).await;
    }
    let params = path::Params::from_uri(&uri);
    let verb = path::verb(&method, &target, &params, &headers);
    let info = RequestInfo { verb, resource: target.resource_label() };
    let result = match verb {
        "GET" => read::get(&st, &target, &params, &headers),
        "LIST" => read::list(&st, &target, &params, &headers),
        "WATCH" => read::watch(st.clone(), &target, &params, &headers),
        "POST" => write::create(&st, &target, &params, &headers, &body).await,
        "PUT" => write::update(&st, &target, &params, &headers, &body).await,
        "PATCH" | "APPLY" => write::patch(&st, &target, &params, &headers, &body).await,
        "DELETE" => write::delete(&st, &target, &params, &headers, &body).await,
        "DELETECOLLECTION" => {
            write::delete_collection(&st, &target, &params, &headers, &body).await
        }
        _ => Err(ApiError::method_not_allowed(format!(
            "method {method} is not supported on {}",
            uri.path()
        ))),
    };
    let mut resp = match result {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    resp.extensions_mut().insert(info);
    resp
}

pub fn json_response(code: u16, body: &serde_json::Value) -> Response {
    let code = axum::http::StatusCode::from_u16(code).unwrap_or(axum::http::StatusCode::OK);
    (code, [("content-type", "application/json")], body.to_string()).into_response()
}

/// Serves `router` over TLS on `listener` until `shutdown` flips.
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: Router,
    ca: crate::auth::cert::ClientCa,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => break,
        };
        let Ok((tcp, _)) = accepted else { continue };
        let acceptor = acceptor.clone();
        let app = app.clone();
        let mut stop = shutdown.clone();
        let ca = ca.clone();
        conns.spawn(async move {
            let Ok(stream) = acceptor.accept(tcp).await else { return };
            // The client certificate is judged once per connection, not per request.
            let peer =
                stream.get_ref().1.peer_certificates().and_then(|c| c.first()).map(|c| {
                    crate::auth::authn::PeerIdentity(Arc::new(ca.authenticate(c.as_ref())))
                });
            let svc =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let app = app.clone();
                    let mut req = req.map(Body::new);
                    if let Some(p) = &peer {
                        req.extensions_mut().insert(p.clone());
                    }
                    async move {
                        use tower::ServiceExt;
                        app.oneshot(req).await
                    }
                });
            let builder =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            let conn =
                builder.serve_connection_with_upgrades(hyper_util::rt::TokioIo::new(stream), svc);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop.changed() => {}
            }
        });
        while conns.try_join_next().is_some() {}
    }
    conns.abort_all();
}

impl AppState {
    pub fn faults(&self) -> Faults {
        self.faults.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set_faults(&self, f: Faults) {
        *self.faults.lock().unwrap_or_else(|e| e.into_inner()) = f;
    }

    pub fn faults_drop_after(&self) -> Option<std::time::Duration> {
        self.faults().drop_watches_after_ms.map(std::time::Duration::from_millis)
    }
}
