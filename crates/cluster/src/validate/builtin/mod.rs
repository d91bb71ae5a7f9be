//! The built-in kinds' own rules, as `k8s.io/kubernetes/pkg/apis/core/validation` (and `apps`,
//! `batch`) word them: label and annotation syntax, ConfigMap and Secret keys and values, the
//! required parts of pods and workloads, Service ports.
//!
//! Two steps: [`decode`] refuses what a real server cannot even decode into the kind's type
//! (400, before defaults could hide it: a scalar `stringData` would be dropped), and [`check`]
//! refuses invalid objects (422).

mod data;
mod meta;
mod workload;

use serde_json::Value;

use super::field::{FieldError, invalid};
use crate::error::ApiError;
use crate::resources::ResourceType;

/// The 400 a real server answers when a body cannot be decoded into the kind's Go type.
fn undecodable(rt: &ResourceType, why: &str) -> ApiError {
    ApiError::bad_request(format!(
        "{kind} in version {version:?} cannot be handled as a {kind}: {why}",
        kind = rt.kind,
        version = rt.version
    ))
}

/// Refuses a body whose fields do not have the kind's Go types.
pub fn decode(rt: &ResourceType, obj: &Value) -> Result<(), ApiError> {
    if rt.crd.is_some() {
        return Ok(());
    }
    if let Some(why) = meta::decode(obj) {
        return Err(undecodable(rt, &why));
    }
    let why = match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "ConfigMap") => data::decode_config_map(obj),
        ("", "Secret") => data::decode_secret(obj),
        _ => None,
    };
    match why {
        Some(why) => Err(undecodable(rt, &why)),
        None => Ok(()),
    }
}

/// Refuses an invalid object of a built-in kind (after defaults), naming every bad field.
pub fn check(rt: &ResourceType, obj: &Value) -> Result<(), ApiError> {
    if rt.crd.is_some() {
        return Ok(());
    }
    let mut errs: Vec<FieldError> = Vec::new();
    meta::check(obj, &mut errs);
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "ConfigMap") => data::check_config_map(obj, &mut errs),
        ("", "Secret") => data::check_secret(obj, &mut errs),
        ("", "Pod") => workload::check_pod(obj, &mut errs),
        ("", "Service") => workload::check_service(obj, &mut errs),
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet") => {
            workload::check_workload(&rt.kind, obj, &mut errs)
        }
        ("batch", "Job") => workload::check_job(obj, &mut errs),
        ("batch", "CronJob") => workload::check_cron_job(obj, &mut errs),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => check_crd(obj, &mut errs),
        _ => {}
    }
    if errs.is_empty() {
        return Ok(());
    }
    let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    Err(invalid(&rt.group, &rt.kind, name, &errs))
}

/// A CRD whose schema patterns or CEL rules do not compile is refused (no custom resource of
/// it could ever be validated).
fn check_crd(obj: &Value, errs: &mut Vec<FieldError>) {
    if let Err(e) = super::compile_crd(obj) {
        let value = match &e {
            super::SchemaError::Pattern { .. } => Value::String("pattern".into()),
            super::SchemaError::Rule { rule, .. } => Value::String(rule.clone()),
        };
        let detail = match &e {
            super::SchemaError::Pattern { source, .. } => {
                format!("the pattern does not compile: {source}")
            }
            super::SchemaError::Rule { message, .. } => format!("compilation failed: {message}"),
        };
        errs.push(FieldError::invalid(e.path(), &value, detail));
    }
}
