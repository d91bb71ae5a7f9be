//! The layers in front of the API: `Host` on loopback (DNS rebinding), cross-site requests
//! (CSRF), authentication, the RBAC check of the route, and the audit record of the request.
//!
//! A browser page from another site can send a POST with `Content-Type: text/plain` and no
//! preflight, and a rebound DNS name can make a page "same origin" with a loopback server. So a
//! state-changing request must carry a bearer token or be JSON, an `Origin` must be this server,
//! and a loopback server answers only to `127.0.0.1:PORT`, `localhost:PORT` and `[::1]:PORT`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ferry_engine::audit::{AppRef, AuditRecord, Outcome, RecordKind, RequestDetails};

use super::Caller;
use crate::error::ApiError;
use crate::state::ApiState;

/// What a route needs of its caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Need {
    /// Any authenticated caller (lists filter by permission; OpenAPI; metrics; account).
    Authenticated,
    /// `action` on the Application of the path (`project/namespace/name`).
    App { action: &'static str },
    /// `action` on `resource`, any object.
    Global { resource: &'static str, action: &'static str },
}

/// The permission each route needs, by method and matched path. Argo CD's choices where it
/// has the same call: refresh is `get`, rollback and terminate are `sync`, suspend is `update`.
pub fn need(method: &Method, path: &str) -> Need {
    let verb = path.rsplit('/').next().unwrap_or_default();
    let app_route = path.starts_with("/api/v1/applications/{namespace}/{name}");
    match (method, verb) {
        _ if path == "/api/v1/audit" => Need::Global { resource: "audit", action: "get" },
        // A plan shows the diffs of any app of the repository: reading every app.
        _ if path == "/api/v1/plan" => Need::Global { resource: "applications", action: "get" },
        _ if path == "/api/v1/notifications/log" => {
            Need::Global { resource: "notifications", action: "get" }
        }
        _ if !app_route => Need::Authenticated,
        (&Method::DELETE, _) => Need::App { action: "delete" },
        (&Method::POST, "sync" | "rollback" | "unpin" | "terminate-op") => {
            Need::App { action: "sync" }
        }
        (&Method::POST, "suspend" | "resume") => Need::App { action: "update" },
        (&Method::POST, "approve") => Need::App { action: "approve" },
        _ => Need::App { action: "get" },
    }
}

/// Refuses a loopback server's requests whose `Host` is not a loopback name (DNS rebinding:
/// a page of `evil.example`, rebound to 127.0.0.1, sends `Host: evil.example`). The port is not
/// checked: `kubectl port-forward` and SSH tunnels reach the server under another port.
pub(crate) async fn check_host(
    State(state): State<ApiState>,
    request: Request,
    next: Next,
) -> Response {
    if !state.access.inner.listen.is_some_and(|a| a.ip().is_loopback()) {
        return next.run(request).await;
    }
    // HTTP/2 carries the authority in the URI rather than a Host header.
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.to_string()))
        .unwrap_or_default();
    if loopback_host_ok(&host) {
        next.run(request).await
    } else {
        ApiError::WrongHost { host }.into_response()
    }
}

/// `127.0.0.1`, `localhost` or `[::1]`, with or without a port.
pub(crate) fn loopback_host_ok(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().map(|h| format!("[{h}]")).unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h).to_owned(),
    };
    ["127.0.0.1", "localhost", "[::1]"].iter().any(|ok| name.eq_ignore_ascii_case(ok))
}

/// What the audit record of a request needs to know of it.
struct Asked {
    address: Option<SocketAddr>,
    method: Method,
    path: String,
}

/// Authenticates, refuses cross-site writes, checks the route's permission, and records the
/// request in the audit trail (every write, and every refusal).
pub(crate) async fn guard(
    State(state): State<ApiState>,
    mut request: Request,
    next: Next,
) -> Response {
    let asked = Asked {
        address: request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0),
        method: request.method().clone(),
        path: request.uri().path().to_owned(),
    };
    let route = request.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned());
    let bearer = bearer(request.headers()).map(str::to_owned);
    let caller = match state.access.authenticate(bearer.as_deref()).await {
        Ok(caller) => caller,
        Err(e) => {
            let nobody = Caller {
                user: "unauthenticated".into(),
                groups: Vec::new(),
                roles: Vec::new(),
                via: "none",
            };
            let err = ApiError::Unauthenticated { message: e.to_string(), hint: e.hint() };
            return audited(&state, &nobody, &asked, None, None, err.into_response()).await;
        }
    };
    let writes = !matches!(asked.method, Method::GET | Method::HEAD | Method::OPTIONS);
    if writes && let Err(e) = cross_site(request.headers(), bearer.is_some()) {
        return audited(&state, &caller, &asked, None, None, e.into_response()).await;
    }
    let need = route.as_deref().map_or(Need::Authenticated, |r| need(&asked.method, r));
    let (app, permission) = match permission(&state, &need, &asked.path) {
        Some((app, resource, action, object)) => {
            let described = Some(format!("{resource} {action} {object}"));
            if !state.access.allows(&caller, resource, action, &object) {
                let policy = state.access.policy();
                let undefined = caller.roles.iter().find(|r| !policy.defines(r)).cloned();
                let err = ApiError::Forbidden {
                    user: caller.user.clone(),
                    resource: resource.to_owned(),
                    action: action.to_owned(),
                    object,
                    undefined,
                };
                return audited(&state, &caller, &asked, app, described, err.into_response()).await;
            }
            (app, described)
        }
        None => (None, None),
    };
    request.extensions_mut().insert(caller.clone());
    let response = next.run(request).await;
    if writes {
        return audited(&state, &caller, &asked, app, permission, response).await;
    }
    response
}

/// The app, resource, action and object a need checks (none for [`Need::Authenticated`]).
fn permission(
    state: &ApiState,
    need: &Need,
    path: &str,
) -> Option<(Option<AppRef>, &'static str, &'static str, String)> {
    match need {
        Need::Authenticated => None,
        Need::Global { resource, action } => Some((None, *resource, *action, "*".to_owned())),
        Need::App { action } => {
            let mut parts = path.trim_start_matches("/api/v1/applications/").split('/');
            let namespace = parts.next().unwrap_or_default().to_owned();
            let name = parts.next().unwrap_or_default().to_owned();
            // A missing app is checked as the `default` project's: the handler then says 404
            // to callers who could see it, and others learn nothing.
            let project = crate::read::find(state, &namespace, &name)
                .map(|a| a.project().to_owned())
                .unwrap_or_else(|_| ferry_engine::application::DEFAULT_PROJECT.to_owned());
            let object = format!("{project}/{namespace}/{name}");
            Some((Some(AppRef { namespace, name, project }), "applications", *action, object))
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
}

/// A write from a browser page of another site is refused: its `Origin` must be this server's
/// (`Host`), and without a bearer token (which a cross-site form cannot send) it must be JSON
/// (which a cross-site page cannot send without a CORS preflight Ferry never grants).
fn cross_site(headers: &HeaderMap, has_token: bool) -> Result<(), ApiError> {
    let text = |h| headers.get(h).and_then(|v: &axum::http::HeaderValue| v.to_str().ok());
    if let Some(origin) = text(header::ORIGIN) {
        let host = text(header::HOST).unwrap_or_default();
        let same = origin.split_once("://").is_some_and(|(scheme, rest)| {
            matches!(scheme, "http" | "https") && rest.eq_ignore_ascii_case(host)
        });
        if !same {
            return Err(ApiError::CrossOrigin { origin: origin.to_owned() });
        }
    }
    let json = text(header::CONTENT_TYPE).is_some_and(|t| {
        t.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
    });
    if !has_token && !json {
        return Err(ApiError::NotJson {
            content_type: text(header::CONTENT_TYPE).map(str::to_owned),
        });
    }
    Ok(())
}

async fn audited(
    state: &ApiState,
    caller: &Caller,
    asked: &Asked,
    app: Option<AppRef>,
    permission: Option<String>,
    response: Response,
) -> Response {
    let status = response.status();
    let outcome = match status.as_u16() {
        401 | 403 => Outcome::Denied,
        s if s >= 400 => Outcome::Failed,
        _ => Outcome::Allowed,
    };
    let action = match asked.method {
        Method::GET | Method::HEAD => "get",
        _ => asked.path.rsplit('/').next().unwrap_or_default(),
    };
    let mut record =
        AuditRecord::new(RecordKind::Api, action, caller.actor(asked.address), outcome);
    record.app = app;
    record.message = format!("{} {} answered {}", asked.method, asked.path, status.as_u16());
    record.request = Some(RequestDetails {
        method: asked.method.to_string(),
        path: asked.path.clone(),
        status: status.as_u16(),
        permission,
    });
    state.engine.record_audit(record).await;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_route_needs_argo_cd_s_action() {
        let app = "/api/v1/applications/{namespace}/{name}";
        assert_eq!(need(&Method::POST, &format!("{app}/sync")), Need::App { action: "sync" });
        assert_eq!(need(&Method::POST, &format!("{app}/rollback")), Need::App { action: "sync" });
        assert_eq!(need(&Method::POST, &format!("{app}/suspend")), Need::App { action: "update" });
        assert_eq!(need(&Method::POST, &format!("{app}/refresh")), Need::App { action: "get" });
        assert_eq!(need(&Method::GET, &format!("{app}/diff")), Need::App { action: "get" });
        assert_eq!(need(&Method::GET, app), Need::App { action: "get" });
        assert_eq!(need(&Method::DELETE, app), Need::App { action: "delete" });
        assert_eq!(need(&Method::GET, &format!("{app}/tree")), Need::App { action: "get" });
        assert_eq!(need(&Method::GET, &format!("{app}/object")), Need::App { action: "get" });
        assert_eq!(need(&Method::GET, "/api/v1/applications"), Need::Authenticated);
        // The stream filters by `get` per app, as the list does.
        assert_eq!(need(&Method::GET, "/api/v1/stream/applications"), Need::Authenticated);
        assert_eq!(
            need(&Method::GET, "/api/v1/audit"),
            Need::Global { resource: "audit", action: "get" }
        );
        assert_eq!(
            need(&Method::POST, "/api/v1/plan"),
            Need::Global { resource: "applications", action: "get" }
        );
        assert_eq!(
            need(&Method::GET, "/api/v1/notifications/log"),
            Need::Global { resource: "notifications", action: "get" }
        );
    }

    #[test]
    fn a_loopback_server_answers_only_to_loopback_names() {
        for ok in ["127.0.0.1:8080", "LOCALHOST:9090", "[::1]:8080", "localhost", "[::1]"] {
            assert!(loopback_host_ok(ok), "{ok}");
        }
        for bad in
            ["evil.example:8080", "127.0.0.1.evil.example", "localhost.evil:80", "", "[::2]:80"]
        {
            assert!(!loopback_host_ok(bad), "{bad}");
        }
    }
}
