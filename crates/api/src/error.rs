//! Errors as JSON `{"error": "...", "hint": "..."}` with a status code that says whose fault it is.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ferry_source::webhook::WebhookError;

use crate::dto::ErrorBody;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("application {namespace}/{name} not found")]
    NotFound { namespace: String, name: String },
    #[error("applicationset {namespace}/{name} not found")]
    SetNotFound { namespace: String, name: String },
    #[error("{message}")]
    BadRequest { message: String, hint: String },
    /// A managed object the app does not declare (404).
    #[error("{message}")]
    NotDeclared { message: String, hint: String },
    #[error("{message}")]
    Conflict { message: String, hint: String },
    #[error("{message}")]
    Unauthenticated { message: String, hint: String },
    #[error("{user} may not {action} {resource} {object}{}", undefined.as_ref().map(|r| format!(" (its role {r} is not defined in the policy)")).unwrap_or_default())]
    Forbidden {
        user: String,
        resource: String,
        action: String,
        object: String,
        /// A role the caller's credential names that no policy line defines (a typo, or a role
        /// removed from ferry-rbac-cm).
        undefined: Option<String>,
    },
    #[error(
        "a request from the web page at {origin} may not change anything here (cross-site request refused)"
    )]
    CrossOrigin { origin: String },
    #[error("a request that changes something must be JSON (Content-Type: application/json), not {}", content_type.as_deref().unwrap_or("a body without a content type"))]
    NotJson { content_type: Option<String> },
    #[error(
        "this server listens on loopback and answers only to the names 127.0.0.1, localhost or [::1], not Host {host:?}"
    )]
    WrongHost { host: String },
    #[error("{0}")]
    Webhook(#[source] WebhookError),
    #[error("webhook body is over the limit of {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("cannot read the request body: {0}")]
    Body(String),
    #[error("cannot {action} application {namespace}/{name}: {source}")]
    Kube {
        action: &'static str,
        namespace: String,
        name: String,
        #[source]
        source: Box<kube::Error>,
    },
    #[error("{0}")]
    Plan(#[source] Box<ferry_engine::plan::PlanError>),
    #[error("cannot list events of {namespace}/{name}: {source}")]
    Events {
        namespace: String,
        name: String,
        #[source]
        source: Box<kube::Error>,
    },
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::NotFound { .. }
            | ApiError::SetNotFound { .. }
            | ApiError::NotDeclared { .. } => StatusCode::NOT_FOUND,
            ApiError::BadRequest { .. } | ApiError::Body(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. }
            | ApiError::CrossOrigin { .. }
            | ApiError::WrongHost { .. } => StatusCode::FORBIDDEN,
            ApiError::NotJson { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Plan(e) => match e.as_ref() {
                ferry_engine::plan::PlanError::Url { .. } => StatusCode::BAD_REQUEST,
                ferry_engine::plan::PlanError::Fetch { .. } => StatusCode::UNPROCESSABLE_ENTITY,
                _ => StatusCode::BAD_GATEWAY,
            },
            ApiError::Webhook(e) => match e {
                WebhookError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                WebhookError::UnknownProvider | WebhookError::Malformed { .. } => {
                    StatusCode::BAD_REQUEST
                }
                WebhookError::MissingSignature { .. } | WebhookError::BadSignature { .. } => {
                    StatusCode::UNAUTHORIZED
                }
                WebhookError::NotConfigured { .. } => StatusCode::FORBIDDEN,
                WebhookError::Duplicate { .. } => StatusCode::OK,
            },
            ApiError::Kube { source, .. } | ApiError::Events { source, .. } => {
                match source.as_ref() {
                    kube::Error::Api(s) if s.code == 404 => StatusCode::NOT_FOUND,
                    kube::Error::Api(s) if s.code == 409 => StatusCode::CONFLICT,
                    kube::Error::Api(s) if s.code == 422 || s.code == 400 => {
                        StatusCode::BAD_REQUEST
                    }
                    _ => StatusCode::BAD_GATEWAY,
                }
            }
        }
    }

    /// What to do next, in plain words.
    pub fn hint(&self) -> String {
        match self {
            ApiError::NotFound { namespace, .. } => format!(
                "GET /api/v1/applications lists the applications; check the name and the namespace ({namespace})"
            ),
            ApiError::SetNotFound { namespace, .. } => format!(
                "GET /api/v1/applicationsets lists the ApplicationSets; check the name and the namespace ({namespace})"
            ),
            ApiError::BadRequest { hint, .. }
            | ApiError::Conflict { hint, .. }
            | ApiError::NotDeclared { hint, .. } => hint.clone(),
            ApiError::Unauthenticated { hint, .. } => hint.clone(),
            ApiError::Forbidden { resource, action, object, .. } => format!(
                "ask an admin for a role with `p, ROLE, {resource}, {action}, {object}, allow` in ConfigMap ferry-rbac-cm (`ferry auth can-i {action} {resource} {object}` checks)"
            ),
            ApiError::CrossOrigin { .. } => "use the Ferry UI served by this server, the CLI, or send a bearer token without an Origin header".into(),
            ApiError::NotJson { .. } => "send Content-Type: application/json (an empty body is fine), or a bearer token".into(),
            ApiError::WrongHost { .. } => "open it as http://127.0.0.1:PORT/ or http://localhost:PORT/ (another name that resolves to loopback is refused: DNS rebinding)".into(),
            ApiError::Webhook(e) => match e {
                WebhookError::TooLarge { .. } => "the provider sent more than Ferry accepts; push fewer commits at once".into(),
                WebhookError::UnknownProvider => "send the provider's event header (e.g. X-GitHub-Event) or sign with X-Ferry-Signature".into(),
                WebhookError::NotConfigured { .. } => "put a secret under this provider's key (github, gitlab, gitea, bitbucket or generic) of the Secret ferry-webhook in Ferry's namespace, and the same secret in the provider's webhook settings".into(),
                WebhookError::MissingSignature { .. } | WebhookError::BadSignature { .. } => "the secret in the provider's webhook settings must equal the one Ferry is configured with".into(),
                WebhookError::Malformed { .. } => "send the provider's push event with content type application/json".into(),
                WebhookError::Duplicate { .. } => "nothing to do: this delivery was handled before".into(),
            },
            ApiError::BodyTooLarge { .. } => "the provider sent more than Ferry accepts; push fewer commits at once".into(),
            ApiError::Body(_) => "send the complete request body".into(),
            ApiError::Plan(e) => e.hint().into(),
            ApiError::Kube { .. } | ApiError::Events { .. } => {
                "check that the cluster is reachable (GET /readyz) and retry".into()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(error = %self, "API request failed");
        }
        let body = ErrorBody { error: self.to_string(), hint: self.hint() };
        let mut response = match &self {
            ApiError::Forbidden { user, resource, action, object, .. } => {
                let denied = crate::dto::DeniedBody {
                    error: body.error,
                    hint: body.hint,
                    user: user.clone(),
                    resource: resource.clone(),
                    action: action.clone(),
                    object: object.clone(),
                };
                (status, Json(denied)).into_response()
            }
            _ => (status, Json(body)).into_response(),
        };
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"ferry\""),
            );
        }
        response
    }
}
