//! The authentication and authorization APIs that answer questions instead of storing
//! objects: TokenRequest (`kubectl create token`), SelfSubjectAccessReview (`kubectl auth
//! can-i`), SubjectAccessReview, LocalSubjectAccessReview and SelfSubjectReview (`kubectl auth
//! whoami`). Bodies in, bodies out; the HTTP layer parses and answers.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::jwt::{self, KubernetesClaims, ObjectRef};
use super::{Attributes, UserInfo};
use crate::error::ApiError;
use crate::http::Shared;
use crate::store::Key;

fn invalid(kind: &str, field: &str, why: &str) -> ApiError {
    invalid_named(kind, "", field, why)
}

fn invalid_named(kind: &str, name: &str, field: &str, why: &str) -> ApiError {
    ApiError::invalid(kind, name, vec![(field.to_string(), why.to_string())])
}

/// `POST …/serviceaccounts/NAME/token`: a signed token for that ServiceAccount.
pub fn token_request(st: &Shared, ns: &str, name: &str, body: &Value) -> Result<Value, ApiError> {
    let key = Key { storage: "/serviceaccounts".into(), namespace: ns.into(), name: name.into() };
    let sa = st.store.get(&key).ok_or_else(|| ApiError::not_found("", "serviceaccounts", name))?;
    let spec = body.get("spec").cloned().unwrap_or(json!({}));
    let ttl =
        spec.get("expirationSeconds").and_then(Value::as_i64).unwrap_or(jwt::DEFAULT_TTL_SECONDS);
    if ttl < jwt::MIN_TTL_SECONDS {
        return Err(invalid_named(
            "TokenRequest.authentication.k8s.io",
            name,
            "spec.expirationSeconds",
            &format!("Invalid value: {ttl}: may not specify a duration less than 10 minutes"),
        ));
    }
    if ttl > 1 << 32 {
        return Err(invalid_named(
            "TokenRequest.authentication.k8s.io",
            name,
            "spec.expirationSeconds",
            &format!("Invalid value: {ttl}: may not specify a duration larger than 2^32 seconds"),
        ));
    }
    let mut audiences: Vec<String> = spec
        .get("audiences")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    if audiences.is_empty() {
        audiences.push(jwt::API_AUDIENCE.to_string());
    }
    let uid = sa.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default();
    let claims = KubernetesClaims {
        namespace: ns.to_string(),
        serviceaccount: ObjectRef { name: name.to_string(), uid: uid.to_string() },
        pod: None,
        secret: None,
    };
    let (token, issued) = st
        .auth
        .authn
        .service_accounts
        .issue(claims, audiences.clone(), ttl)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let expires = jiff::Timestamp::from_second(issued.exp)
        .map(|t| t.to_string())
        .map_err(|e| ApiError::internal(format!("the token expiry is out of range: {e}")))?;
    Ok(json!({
        "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": name, "namespace": ns, "creationTimestamp": null},
        "spec": {"audiences": audiences, "expirationSeconds": ttl, "boundObjectRef": spec.get("boundObjectRef")},
        "status": {"token": token, "expirationTimestamp": expires},
    }))
}

/// The attributes a review's spec asks about.
fn review_attributes(kind: &str, spec: &Value) -> Result<Attributes, ApiError> {
    let text = |v: &Value, f: &str| v.get(f).and_then(Value::as_str).unwrap_or("").to_string();
    match (spec.get("resourceAttributes"), spec.get("nonResourceAttributes")) {
        (Some(r), None) if r.is_object() => Ok(Attributes {
            verb: text(r, "verb"),
            resource_request: true,
            api_group: text(r, "group"),
            api_version: text(r, "version"),
            namespace: text(r, "namespace"),
            resource: text(r, "resource"),
            subresource: text(r, "subresource"),
            name: text(r, "name"),
            path: String::new(),
        }),
        (None, Some(n)) if n.is_object() => {
            Ok(Attributes::non_resource(&text(n, "verb"), &text(n, "path")))
        }
        _ => Err(invalid(
            kind,
            "spec.resourceAttributes",
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )),
    }
}

fn answer(kind: &str, body: &Value, st: &Shared, user: &UserInfo, a: &Attributes) -> Value {
    let d = st.auth.authz.authorize(user, a);
    let mut status = json!({"allowed": d.allowed});
    if !d.reason.is_empty() {
        status["reason"] = json!(d.reason);
    }
    json!({
        "kind": kind, "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": null},
        "spec": body.get("spec").cloned().unwrap_or(json!({})),
        "status": status,
    })
}

/// `SelfSubjectAccessReview`: may the requesting user do this?
pub fn self_subject_access_review(
    st: &Shared,
    user: &UserInfo,
    body: &Value,
) -> Result<Value, ApiError> {
    let spec = body.get("spec").cloned().unwrap_or(json!({}));
    let a = review_attributes("SelfSubjectAccessReview", &spec)?;
    Ok(answer("SelfSubjectAccessReview", body, st, user, &a))
}

/// `SubjectAccessReview` (and the namespaced `LocalSubjectAccessReview` when `ns` is set):
/// may the user in the spec do this?
pub fn subject_access_review(
    st: &Shared,
    ns: Option<&str>,
    body: &Value,
) -> Result<Value, ApiError> {
    let kind = if ns.is_some() { "LocalSubjectAccessReview" } else { "SubjectAccessReview" };
    let spec = body.get("spec").cloned().unwrap_or(json!({}));
    let mut a = review_attributes(kind, &spec)?;
    if let Some(ns) = ns {
        if !a.namespace.is_empty() && a.namespace != ns {
            return Err(invalid(
                kind,
                "spec.resourceAttributes.namespace",
                &format!("Invalid value: {:?}: must match metadata.namespace", a.namespace),
            ));
        }
        a.namespace = ns.to_string();
    }
    let strings = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default()
    };
    let extra: BTreeMap<String, Vec<String>> = spec
        .get("extra")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), strings(Some(v)))).collect())
        .unwrap_or_default();
    let user = UserInfo {
        username: spec.get("user").and_then(Value::as_str).unwrap_or("").to_string(),
        uid: spec.get("uid").and_then(Value::as_str).unwrap_or("").to_string(),
        groups: strings(spec.get("groups")),
        extra,
    };
    if user.username.is_empty() && user.groups.is_empty() {
        return Err(invalid(kind, "spec.user", "at least one of user or group must be specified"));
    }
    let mut out = answer(kind, body, st, &user, &a);
    if let Some(ns) = ns {
        out["metadata"]["namespace"] = json!(ns);
    }
    Ok(out)
}

/// `SelfSubjectReview`: who the server thinks the requester is.
pub fn self_subject_review(user: &UserInfo) -> Value {
    json!({
        "kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": null},
        "status": {"userInfo": user.to_json()},
    })
}

/// `SelfSubjectRulesReview` (`kubectl auth can-i --list`): what the requester may do in a namespace.
pub fn self_subject_rules_review(
    st: &Shared,
    user: &UserInfo,
    body: &Value,
) -> Result<Value, ApiError> {
    let ns = body.pointer("/spec/namespace").and_then(Value::as_str).unwrap_or_default();
    let (rules, errors) = st.auth.authz.rules_for(user, ns);
    let mut resource_rules = Vec::new();
    let mut non_resource_rules = Vec::new();
    for r in rules {
        if !r.non_resource_urls.is_empty() {
            non_resource_rules
                .push(json!({"verbs": r.verbs, "nonResourceURLs": r.non_resource_urls}));
        } else {
            let mut rule =
                json!({"verbs": r.verbs, "apiGroups": r.api_groups, "resources": r.resources});
            if !r.resource_names.is_empty() {
                rule["resourceNames"] = json!(r.resource_names);
            }
            resource_rules.push(rule);
        }
    }
    let mut status = json!({"resourceRules": resource_rules, "nonResourceRules": non_resource_rules, "incomplete": !errors.is_empty()});
    if !errors.is_empty() {
        status["evaluationError"] = json!(errors.join(", "));
    }
    Ok(json!({
        "kind": "SelfSubjectRulesReview", "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": null},
        "spec": {"namespace": ns},
        "status": status,
    }))
}
