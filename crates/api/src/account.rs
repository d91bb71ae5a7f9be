//! The caller's own view: who the server takes it for (`GET /api/v1/account`), what it may do
//! (`GET /api/v1/account/can-i`), and the audit trail (`GET /api/v1/audit`).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Extension, Query, State};
use ferry_engine::audit::AuditQuery;

use crate::access::Caller;
use crate::dto::{AccountInfo, AuditList, CanI, NotificationLog};
use crate::error::ApiError;
use crate::state::ApiState;

pub(crate) async fn whoami(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
) -> Json<AccountInfo> {
    let roles = state
        .access
        .policy()
        .expand(&caller.subjects())
        .into_iter()
        .filter(|s| s.starts_with("role:"))
        .collect();
    Json(AccountInfo {
        user: caller.user,
        groups: caller.groups,
        roles,
        via: caller.via.to_owned(),
        auth_required: state.access.required(),
        policy_problem: state.access.policy_problem(),
    })
}

pub(crate) async fn can_i(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Result<Json<CanI>, ApiError> {
    let field = |k: &str| {
        query.get(k).filter(|v| !v.is_empty()).cloned().ok_or_else(|| ApiError::BadRequest {
            message: format!("query parameter {k:?} is missing"),
            hint: "ask as ?action=sync&resource=applications&object=default/NAMESPACE/NAME".into(),
        })
    };
    let (action, resource) = (field("action")?, field("resource")?);
    let object = query.get("object").filter(|v| !v.is_empty()).cloned().unwrap_or("*".into());
    let allowed = state.access.allows(&caller, &resource, &action, &object);
    Ok(Json(CanI { allowed, user: caller.user, resource, action, object }))
}

/// Filters `GET /api/v1/audit` understands; any other is refused rather than ignored.
const AUDIT_FILTERS: &[&str] = &["app", "since", "user", "action", "limit"];

pub(crate) async fn audit(
    State(state): State<ApiState>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Result<Json<AuditList>, ApiError> {
    let bad = |message: String| ApiError::BadRequest {
        message,
        hint: "filters: app=NAME|NAMESPACE/NAME, since=1h|RFC3339, user=, action=, limit=N".into(),
    };
    if let Some(unknown) = query.keys().find(|k| !AUDIT_FILTERS.contains(&k.as_str())) {
        return Err(bad(format!("unknown query parameter {unknown:?}")));
    }
    let mut filter = AuditQuery {
        app: query.get("app").cloned(),
        user: query.get("user").cloned(),
        action: query.get("action").cloned(),
        ..Default::default()
    };
    if let Some(since) = query.get("since") {
        filter.since = Some(parse_since(since).map_err(bad)?);
    }
    if let Some(limit) = query.get("limit") {
        filter.limit =
            limit.parse().map_err(|_| bad(format!("limit {limit:?} is not a number")))?;
    }
    Ok(Json(AuditList { items: state.engine.audit().query(&filter) }))
}

/// `GET /api/v1/notifications/log?app=NAMESPACE/NAME&limit=N`: the delivery log (no secret:
/// the notifier masks errors before they are logged).
pub(crate) async fn notifications_log(
    State(state): State<ApiState>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Result<Json<NotificationLog>, ApiError> {
    let bad = |message: String| ApiError::BadRequest {
        message,
        hint: "filters: app=NAMESPACE/NAME, limit=N (the newest N)".into(),
    };
    if let Some(unknown) = query.keys().find(|k| !matches!(k.as_str(), "app" | "limit")) {
        return Err(bad(format!("unknown query parameter {unknown:?}")));
    }
    let limit = match query.get("limit") {
        Some(l) => l.parse().map_err(|_| bad(format!("limit {l:?} is not a number")))?,
        None => usize::MAX,
    };
    let mut items = state.engine.notifier().log().entries();
    if let Some(app) = query.get("app") {
        items.retain(|e| &e.app == app || e.app.rsplit('/').next() == Some(app.as_str()));
    }
    let skip = items.len().saturating_sub(limit);
    Ok(Json(NotificationLog { items: items.split_off(skip) }))
}

/// `1h`, `30m`, `2h30m` ago, or an RFC 3339 time.
pub fn parse_since(raw: &str) -> Result<jiff::Timestamp, String> {
    if let Ok(t) = raw.parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    let ago = ferry_source::duration::parse_seconds_or_go_duration(raw).map_err(|e| {
        format!("since {raw:?} is neither a duration (1h, 30m) nor an RFC 3339 time: {e}")
    })?;
    let ago = jiff::SignedDuration::try_from(ago).map_err(|e| e.to_string())?;
    jiff::Timestamp::now().checked_sub(ago).map_err(|e| e.to_string())
}
