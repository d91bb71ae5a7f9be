//! Admission webhooks: `admissionregistration.k8s.io/v1` Mutating- and
//! ValidatingWebhookConfigurations honoured on create, update, patch and apply (and delete, for
//! validating webhooks), called over HTTPS with AdmissionReview v1.
//!
//! How a write goes (see `http::admitted`): the write is computed as a dry run; the matching
//! mutating webhooks are called in turn, each seeing the previous one's patch applied; the
//! validating webhooks see the result; then the write is made for real with the patches applied
//! after server-side apply's field tracking (so what a webhook adds is owned by no manager, as
//! on a real server) and validated again.
//!
//! # Guarantees
//! - A webhook that cannot be called, times out or answers garbage fails the request (500,
//!   naming the webhook) unless its `failurePolicy` is `Ignore`; nothing is stored.
//! - A patch may not change `metadata.uid`, `name` or `namespace` (or `apiVersion`/`kind`).
//! - Webhook configurations themselves are never sent to webhooks.
//! # Caveats
//! - Only `clientConfig.url` is callable: no Service routing exists in the embedded cluster.
//! - The review's `userInfo` is the authenticated user of the request (`crate::auth::UserInfo`).
//! - `reinvocationPolicy` and `matchPolicy: Equivalent` are not implemented; `matchConditions`
//!   are ignored.

mod call;
mod config;
mod matching;
mod review;

use serde_json::Value;

pub use matching::Attributes;

use crate::error::ApiError;
use crate::http::Shared;
use crate::resources::ResourceType;
use crate::store::Key;
use crate::validate;
use config::{Phase, Webhook};
use review::Verdict;

/// The patches of the mutating webhooks, in order, and the resourceVersion they were computed on.
#[derive(Debug, Clone, Default)]
pub struct Mutation {
    pub patches: Vec<Value>,
    pub base_rv: Option<String>,
}

/// The answer when the stored object changed while the webhooks ran (the write is retried).
pub const STALE: &str = "the object changed while admission webhooks ran";

/// Whether any webhook configuration exists (two bucket lookups).
pub fn any(st: &Shared) -> bool {
    !config::all(&st.store).is_empty()
}

fn failed(hook: &Webhook, why: impl std::fmt::Display) -> ApiError {
    ApiError::internal(format!(
        "Internal error occurred: failed calling webhook {:?}: {why}",
        hook.name
    ))
}

/// Calls one webhook: its verdict, or the error to answer (failure policy applied by the caller).
async fn call(
    hook: &Webhook,
    a: &Attributes<'_>,
    object: Option<&Value>,
    old: Option<&Value>,
) -> Result<Verdict, ApiError> {
    let Some(url) = &hook.url else {
        let svc = hook.service.as_deref().unwrap_or("?");
        return Err(failed(
            hook,
            format!(
                "failed to call webhook: the Service {svc} cannot be reached from the embedded cluster; set clientConfig.url"
            ),
        ));
    };
    let uid = uuid::Uuid::new_v4().to_string();
    let body = review::request(a, &uid, a.user, object, old).to_string();
    let bytes = call::post(url, hook.ca_pem.as_deref(), body.into_bytes(), hook.timeout)
        .await
        .map_err(|e| failed(hook, format!("failed to call webhook: {e}")))?;
    review::answer(&bytes, &uid)
        .map_err(|e| failed(hook, format!("received invalid webhook response: {e}")))
}

fn denied(hook: &Webhook, code: u16, message: &str) -> ApiError {
    let reason = match code {
        403 => "Forbidden",
        409 => "Conflict",
        422 => "Invalid",
        c if c >= 500 => "InternalError",
        _ => "BadRequest",
    };
    let text = if message.is_empty() {
        format!("admission webhook {:?} denied the request without explanation", hook.name)
    } else {
        format!("admission webhook {:?} denied the request: {message}", hook.name)
    };
    ApiError::new(code, reason, text)
}

/// The Namespace object of a namespaced request (for `namespaceSelector`).
fn namespace_of(st: &Shared, a: &Attributes<'_>) -> Option<std::sync::Arc<Value>> {
    let ns = a.namespace.filter(|_| a.rt.namespaced)?;
    st.store.get(&Key { storage: "/namespaces".into(), namespace: String::new(), name: ns.into() })
}

/// Runs the webhooks matching a write of `object` (over `old`): the mutating webhooks' patches,
/// or the error that refuses the write.
pub async fn review(
    st: &Shared,
    a: &Attributes<'_>,
    object: Option<Value>,
    old: Option<&Value>,
) -> Result<Mutation, ApiError> {
    let hooks = config::all(&st.store);
    let ns = namespace_of(st, a);
    let mut object = object;
    let mut mutation = Mutation {
        base_rv: old
            .and_then(|o| o.pointer("/metadata/resourceVersion"))
            .and_then(Value::as_str)
            .map(str::to_string),
        ..Mutation::default()
    };
    for hook in &hooks {
        // Mutating webhooks run first (the list is in that order), each on the last result.
        if hook.phase == Phase::Mutating && a.operation == "DELETE" {
            continue;
        }
        if !matching::matches(hook, a, ns.as_deref(), object.as_ref(), old) {
            continue;
        }
        if a.dry_run && !hook.dry_run_safe {
            return Err(ApiError::bad_request(format!(
                "admission webhook {:?} does not support dry run (its sideEffects are not None or NoneOnDryRun)",
                hook.name
            )));
        }
        let verdict = match call(hook, a, object.as_ref(), old).await {
            Ok(v) => v,
            Err(e) if hook.fail_open => {
                tracing::warn!(webhook = %hook.name, error = %e.message, "webhook failed; failurePolicy Ignore lets the request through");
                continue;
            }
            Err(e) => return Err(e),
        };
        match verdict {
            Verdict::Denied { code, message } => return Err(denied(hook, code, &message)),
            Verdict::Allowed { patch: None } => {}
            Verdict::Allowed { patch: Some(p) } if hook.phase == Phase::Mutating => {
                if let Some(obj) = object.take() {
                    object = Some(patched(&hook.name, obj, &p)?);
                }
                mutation.patches.push(json_named(&hook.name, p));
            }
            // A validating webhook's patch is ignored, as on a real server.
            Verdict::Allowed { patch: Some(_) } => {}
        }
    }
    Ok(mutation)
}

/// A patch remembered with the webhook that sent it (for error messages inside the write).
fn json_named(name: &str, patch: Value) -> Value {
    serde_json::json!({"webhook": name, "patch": patch})
}

/// Identity fields a webhook may not change.
const FIXED: [&str; 5] =
    ["/metadata/uid", "/metadata/name", "/metadata/namespace", "/apiVersion", "/kind"];

/// `obj` with webhook `name`'s JSON patch applied, refusing changes to its identity.
fn patched(name: &str, obj: Value, patch: &Value) -> Result<Value, ApiError> {
    let next = ferry_diff::json_patch(&obj, patch).map_err(|e| {
        ApiError::internal(format!("Internal error occurred: the JSON patch of admission webhook {name:?} cannot be applied: {e}"))
    })?;
    for ptr in FIXED {
        if obj.pointer(ptr) != next.pointer(ptr) {
            let field = ptr.trim_start_matches('/').replace('/', ".");
            return Err(ApiError::internal(format!(
                "Internal error occurred: admission webhook {name:?} attempted to modify {field}, which is not allowed"
            )));
        }
    }
    Ok(next)
}

/// Applies `m`'s patches to the object about to be stored and validates the result again;
/// `current_rv` is the stored object's resourceVersion now.
pub fn mutate(
    m: &Mutation,
    current_rv: Option<&str>,
    rt: &ResourceType,
    schema: Option<&validate::Node>,
    old: Option<&Value>,
    obj: Value,
) -> Result<Value, ApiError> {
    if m.base_rv.as_deref() != current_rv {
        return Err(ApiError::new(409, "Conflict", STALE));
    }
    let mut obj = obj;
    for entry in &m.patches {
        let name = entry["webhook"].as_str().unwrap_or_default();
        obj = patched(name, obj, &entry["patch"])?;
    }
    if m.patches.is_empty() {
        return Ok(obj);
    }
    validate::builtin::decode(rt, &obj)?;
    validate::builtin::check(rt, &obj)?;
    validate::custom_resource(schema, rt, old, obj)
}
