//! Actions: each is one merge patch of the Application (an annotation or `spec.suspend`) with
//! field manager [`FIELD_MANAGER`]; the engine notices through its watch and acts. Nothing here
//! syncs by itself, so the API, the CLI and `kubectl annotate` behave the same.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use ferry_engine::Application;
use ferry_engine::application::{
    ANNOTATION_REFRESH, ANNOTATION_ROLLBACK, ANNOTATION_SYNC_REQUEST, ANNOTATION_TERMINATE,
    ANNOTATION_UNPIN, FINALIZER_CASCADE, FINALIZER_CASCADE_ARGO, RefreshRequest, RollbackRequest,
    SyncRequest,
};
use ferry_engine::approval::{ANNOTATION_APPROVE, ApprovalRequest};
use ferry_source::short_revision as short;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::FIELD_MANAGER;
use crate::access::Caller;
use crate::dto::{Accepted, ApproveBody, RollbackBody, SyncBody};
use crate::error::ApiError;
use crate::read::find;
use crate::state::ApiState;

type Answer = Result<(StatusCode, Json<Accepted>), ApiError>;

pub(crate) async fn sync(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((namespace, name)): Path<(String, String)>,
    body: Bytes,
) -> Answer {
    find(&state, &namespace, &name)?;
    let body: SyncBody = parse_body(&body, "{\"prune\": false, \"dryRun\": false}")?;
    if let Some(bad) = body.resources.iter().find(|r| r.kind.is_empty() || r.name.is_empty()) {
        return Err(ApiError::BadRequest {
            message: format!("resources: {bad:?} names no kind or no name"),
            hint: "each entry is {\"group\": \"apps\", \"kind\": \"Deployment\", \"namespace\": \"web\", \"name\": \"web\"} (group empty for core kinds); GET …/resources lists them".into(),
        });
    }
    let selected = body.resources.len();
    let request = SyncRequest {
        at: now(),
        prune: body.prune,
        dry_run: body.dry_run,
        by: Some(caller.user),
        resources: body.resources,
        force: body.force,
    };
    let value = serde_json::to_string(&request).expect("a SyncRequest serializes");
    patch(
        &state,
        &namespace,
        &name,
        "request a sync of",
        annotation(ANNOTATION_SYNC_REQUEST, &value),
    )
    .await?;
    let what = match (body.dry_run, body.prune) {
        (true, _) => "a dry-run sync",
        (false, true) => "a sync with prune",
        (false, false) => "a sync",
    };
    let of = match selected {
        0 => String::new(),
        1 => " of 1 selected object".to_owned(),
        n => format!(" of {n} selected objects"),
    };
    let force = if body.force { " with force" } else { "" };
    accepted(
        &namespace,
        &name,
        "sync",
        format!("{what}{of}{force} was requested; the engine starts it within seconds"),
    )
    .polled(value, "sync")
}

pub(crate) async fn rollback(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((namespace, name)): Path<(String, String)>,
    body: Bytes,
) -> Answer {
    let app = find(&state, &namespace, &name)?;
    let body: RollbackBody = parse_body(&body, "{\"id\": 3} or {\"revision\": \"1a2b3c4\"}")?;
    let wanted = match (&body.id, body.revision.as_deref().map(str::trim)) {
        (Some(id), None) => id.to_string(),
        (None, Some(rev)) if !rev.is_empty() => rev.to_owned(),
        _ => {
            return Err(ApiError::BadRequest {
                message: "a rollback needs exactly one of `id` (a history id) or `revision`".into(),
                hint: format!(
                    "GET /api/v1/applications/{namespace}/{name}/history lists them; send {{\"id\": N}}"
                ),
            });
        }
    };
    let history = app.status.as_ref().map(|s| s.history.as_slice()).unwrap_or_default();
    let Some(entry) = ferry_engine::status::find_history(history, &wanted) else {
        return Err(ApiError::BadRequest {
            message: format!(
                "application {namespace}/{name} has no history entry or revision {wanted:?}"
            ),
            hint: format!(
                "GET /api/v1/applications/{namespace}/{name}/history lists the entries to roll back to"
            ),
        });
    };
    let message = format!(
        "a rollback to history entry {} (revision {}) was requested; the app stays there until a new commit or an unpin",
        entry.id,
        short(&entry.revision)
    );
    let value = RollbackRequest::new(entry.id.to_string()).by(Some(caller.user)).annotation_value();
    patch(
        &state,
        &namespace,
        &name,
        "request a rollback of",
        annotation(ANNOTATION_ROLLBACK, &value),
    )
    .await?;
    accepted(&namespace, &name, "rollback", message).polled(value, "rollback")
}

pub(crate) async fn unpin(
    State(state): State<ApiState>,
    Path((namespace, name)): Path<(String, String)>,
) -> Answer {
    find(&state, &namespace, &name)?;
    let value = now();
    patch(&state, &namespace, &name, "unpin", annotation(ANNOTATION_UNPIN, &value)).await?;
    accepted(&namespace, &name, "unpin", "the app follows its targetRevision again".into())
        .polled(value, "unpin")
}

pub(crate) async fn suspend(
    State(state): State<ApiState>,
    Path((namespace, name)): Path<(String, String)>,
) -> Answer {
    set_suspend(state, namespace, name, true).await
}

pub(crate) async fn resume(
    State(state): State<ApiState>,
    Path((namespace, name)): Path<(String, String)>,
) -> Answer {
    set_suspend(state, namespace, name, false).await
}

async fn set_suspend(state: ApiState, namespace: String, name: String, suspend: bool) -> Answer {
    find(&state, &namespace, &name)?;
    let action = if suspend { "suspend" } else { "resume" };
    patch(&state, &namespace, &name, action, json!({"spec": {"suspend": suspend}})).await?;
    let message = if suspend {
        "syncing and healing stop; status stays fresh"
    } else {
        "syncing and healing resume per the sync policy"
    };
    accepted(&namespace, &name, action, message.into())
}

pub(crate) async fn refresh(
    State(state): State<ApiState>,
    Path((namespace, name)): Path<(String, String)>,
) -> Answer {
    find(&state, &namespace, &name)?;
    let value = RefreshRequest::new(false).annotation_value();
    patch(&state, &namespace, &name, "refresh", annotation(ANNOTATION_REFRESH, &value)).await?;
    state.engine.refresh(&namespace, &name);
    accepted(
        &namespace,
        &name,
        "refresh",
        "the app is compared with a fresh look at its source now".into(),
    )
    .polled(value, "refresh")
}

/// Approves the revision awaiting approval (or `revision`) as the request's user, through
/// [`ANNOTATION_APPROVE`]; the engine checks the revision and self-approval. 409 when nothing
/// awaits approval. Whether this caller may approve at all is the access guard's (`approve` on
/// `applications`, object `project/namespace/name`), checked before this handler runs.
pub(crate) async fn approve(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((namespace, name)): Path<(String, String)>,
    body: Bytes,
) -> Answer {
    let app = find(&state, &namespace, &name)?;
    let body: ApproveBody = parse_body(&body, "{\"revision\": \"<commit SHA>\"}")?;
    // A revision awaiting approval, else deletions held by the prune guard.
    let awaiting = app.status.as_ref().and_then(|s| {
        [s.approval.as_ref(), s.prune_approval.as_ref()]
            .into_iter()
            .flatten()
            .find(|a| a.phase == ferry_engine::approval::ApprovalPhase::AwaitingApproval)
    });
    let Some(revision) = body.revision.or(awaiting.map(|a| a.revision.clone())) else {
        return Err(ApiError::Conflict {
            message: format!("no revision of application {namespace}/{name} awaits approval"),
            hint: format!(
                "GET /api/v1/applications/{namespace}/{name} shows status.approval and status.pruneApproval"
            ),
        });
    };
    let approver = caller.user;
    let value = ApprovalRequest::new(&revision, &approver).annotation_value();
    patch(
        &state,
        &namespace,
        &name,
        "approve a revision of",
        annotation(ANNOTATION_APPROVE, &value),
    )
    .await?;
    let message = format!("approval of {} by {approver} was requested", short(&revision));
    accepted(&namespace, &name, "approve", message).polled(value, "approve")
}

/// Stops the sync operation in progress through [`ANNOTATION_TERMINATE`]; refused with 409 when
/// none runs, so a client does not mistake "nothing to stop" for "stopped".
pub(crate) async fn terminate(
    State(state): State<ApiState>,
    Path((namespace, name)): Path<(String, String)>,
) -> Answer {
    let app = find(&state, &namespace, &name)?;
    let running = app
        .status
        .as_ref()
        .and_then(|s| s.operation_state.as_ref())
        .is_some_and(|o| o.phase == ferry_engine::application::OperationPhase::Running);
    if !running {
        return Err(ApiError::Conflict {
            message: format!("application {namespace}/{name} has no operation in progress"),
            hint: format!("GET /api/v1/applications/{namespace}/{name} shows its last operation"),
        });
    }
    let value = now();
    patch(
        &state,
        &namespace,
        &name,
        "terminate the operation of",
        annotation(ANNOTATION_TERMINATE, &value),
    )
    .await?;
    accepted(
        &namespace,
        &name,
        "terminate-op",
        "termination of the running sync was requested".into(),
    )
    .polled(value, "terminate")
}

/// `DELETE .../{name}?cascade=true|false`: deletes the Application. With `cascade=true` the
/// cascade finalizer is added first, so the engine deletes the app's objects before the
/// Application goes (as `ferry app delete --cascade`); without, the objects stay.
pub(crate) async fn delete(
    State(state): State<ApiState>,
    Path((namespace, name)): Path<(String, String)>,
    Query(query): Query<DeleteQuery>,
) -> Answer {
    let app = find(&state, &namespace, &name)?;
    let cascade = query.cascade.unwrap_or(false);
    let mut finalizers = app.metadata.finalizers.clone().unwrap_or_default();
    let cascades = finalizers.iter().any(|f| f == FINALIZER_CASCADE || f == FINALIZER_CASCADE_ARGO);
    if cascade && !cascades {
        finalizers.push(FINALIZER_CASCADE.to_owned());
        // resourceVersion makes this a compare-and-swap: a merge patch replaces the list whole.
        let value = json!({"metadata": {
            "finalizers": finalizers,
            "resourceVersion": app.metadata.resource_version,
        }});
        patch(&state, &namespace, &name, "add the cascade finalizer to", value).await?;
    }
    let api: Api<Application> = Api::namespaced(state.engine.client().clone(), &namespace);
    api.delete(&name, &DeleteParams::default()).await.map_err(|source| ApiError::Kube {
        action: "delete",
        namespace: namespace.clone(),
        name: name.clone(),
        source: Box::new(source),
    })?;
    let message = if cascade || cascades {
        "the application and its objects are being deleted"
    } else {
        "the application is being deleted; its objects stay in the cluster (cascade=true deletes them too)"
    };
    accepted(&namespace, &name, "delete", message.into())
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeleteQuery {
    cascade: Option<bool>,
}

fn annotation(key: &str, value: &str) -> Value {
    json!({"metadata": {"annotations": {key: value}}})
}

async fn patch(
    state: &ApiState,
    namespace: &str,
    name: &str,
    action: &'static str,
    patch: Value,
) -> Result<(), ApiError> {
    let api: Api<Application> = Api::namespaced(state.engine.client().clone(), namespace);
    let params = PatchParams { field_manager: Some(FIELD_MANAGER.into()), ..Default::default() };
    api.patch(name, &params, &Patch::Merge(&patch)).await.map_err(|source| ApiError::Kube {
        action,
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        source: Box::new(source),
    })?;
    Ok(())
}

/// An empty body means the defaults; anything else must be the JSON object the endpoint
/// documents. serde would also read a struct from an array (`[1]` as `{"id": 1}`), so the
/// object shape is checked first.
fn parse_body<T: DeserializeOwned + Default>(body: &[u8], example: &str) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let invalid = |why: String| ApiError::BadRequest {
        message: format!("the request body is not valid: {why}"),
        hint: format!("send JSON like {example}"),
    };
    let value: Value = serde_json::from_slice(body).map_err(|e| invalid(e.to_string()))?;
    if !value.is_object() {
        return Err(invalid(format!("expected a JSON object, got {value}")));
    }
    serde_json::from_value(value).map_err(|e| invalid(e.to_string()))
}

fn accepted(namespace: &str, name: &str, action: &str, message: String) -> Answer {
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            action: action.to_owned(),
            message,
            request_id: None,
            poll: None,
        }),
    ))
}

/// Adds the request id and the status field to poll for it to an accepted answer.
trait Polled {
    fn polled(self, request_id: String, handled: &str) -> Self;
}

impl Polled for Answer {
    fn polled(self, request_id: String, handled: &str) -> Self {
        self.map(|(code, Json(mut a))| {
            a.request_id = Some(request_id);
            a.poll = Some(format!("status.handledRequests.{handled}"));
            (code, Json(a))
        })
    }
}

fn now() -> String {
    jiff::Timestamp::now().to_string()
}
