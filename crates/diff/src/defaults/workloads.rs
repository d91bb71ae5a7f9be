//! Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs, CronJobs.

use serde_json::{Value, json};

use super::pod::apply_pod_spec_defaults;
use super::{default, items_mut, object_at};

fn template(spec: &mut Value) {
    if let Some(ps) = spec.pointer_mut("/template/spec") {
        apply_pod_spec_defaults(ps);
    }
}

pub(super) fn deployment(obj: &mut Value) {
    let Some(spec) = object_at(obj, "spec") else { return };
    default(spec, "replicas", json!(1));
    if let Some(strategy) = object_at(spec, "strategy") {
        default(strategy, "type", json!("RollingUpdate"));
        if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate")
            && let Some(ru) = object_at(strategy, "rollingUpdate")
        {
            default(ru, "maxUnavailable", json!("25%"));
            default(ru, "maxSurge", json!("25%"));
        }
    }
    default(spec, "revisionHistoryLimit", json!(10));
    default(spec, "progressDeadlineSeconds", json!(600));
    template(spec);
}

pub(super) fn stateful_set(obj: &mut Value) {
    let Some(spec) = object_at(obj, "spec") else { return };
    default(spec, "replicas", json!(1));
    default(spec, "podManagementPolicy", json!("OrderedReady"));
    if let Some(us) = object_at(spec, "updateStrategy") {
        default(us, "type", json!("RollingUpdate"));
        if us.get("type").and_then(Value::as_str) == Some("RollingUpdate")
            && let Some(ru) = object_at(us, "rollingUpdate")
        {
            default(ru, "partition", json!(0));
        }
    }
    default(spec, "revisionHistoryLimit", json!(10));
    if let Some(p) = object_at(spec, "persistentVolumeClaimRetentionPolicy") {
        default(p, "whenDeleted", json!("Retain"));
        default(p, "whenScaled", json!("Retain"));
    }
    // The API server stores claim templates as full PersistentVolumeClaims.
    for vct in items_mut(spec, "volumeClaimTemplates") {
        default(vct, "apiVersion", json!("v1"));
        default(vct, "kind", json!("PersistentVolumeClaim"));
        if let Some(s) = vct.get_mut("spec") {
            default(s, "volumeMode", json!("Filesystem"));
        }
        default(vct, "status", json!({"phase": "Pending"}));
    }
    template(spec);
}

pub(super) fn daemon_set(obj: &mut Value) {
    let Some(spec) = object_at(obj, "spec") else { return };
    if let Some(us) = object_at(spec, "updateStrategy") {
        default(us, "type", json!("RollingUpdate"));
        if us.get("type").and_then(Value::as_str) == Some("RollingUpdate")
            && let Some(ru) = object_at(us, "rollingUpdate")
        {
            default(ru, "maxUnavailable", json!(1));
            default(ru, "maxSurge", json!(0));
        }
    }
    default(spec, "revisionHistoryLimit", json!(10));
    template(spec);
}

pub(super) fn replica_set(obj: &mut Value) {
    let Some(spec) = object_at(obj, "spec") else { return };
    default(spec, "replicas", json!(1));
    template(spec);
}

pub(super) fn replication_controller(obj: &mut Value) {
    let labels = obj.pointer("/spec/template/metadata/labels").cloned();
    let Some(spec) = object_at(obj, "spec") else { return };
    default(spec, "replicas", json!(1));
    if let Some(l) = &labels {
        default(spec, "selector", l.clone());
    }
    template(spec);
    if let Some(l) = labels
        && let Some(meta) = object_at(obj, "metadata")
    {
        default(meta, "labels", l);
    }
}

fn job_spec(spec: &mut Value) {
    if spec.get("completions").is_none_or(Value::is_null)
        && spec.get("parallelism").is_none_or(Value::is_null)
    {
        default(spec, "completions", json!(1));
    }
    default(spec, "parallelism", json!(1));
    let per_index = spec.get("backoffLimitPerIndex").is_some_and(|v| !v.is_null());
    default(spec, "backoffLimit", json!(if per_index { i32::MAX as i64 } else { 6 }));
    default(spec, "completionMode", json!("NonIndexed"));
    default(spec, "suspend", json!(false));
    let has_failure_policy = spec.get("podFailurePolicy").is_some_and(|v| !v.is_null());
    default(
        spec,
        "podReplacementPolicy",
        json!(if has_failure_policy { "Failed" } else { "TerminatingOrFailed" }),
    );
    if let Some(pfp) = spec.get_mut("podFailurePolicy") {
        for rule in items_mut(pfp, "rules") {
            for c in items_mut(rule, "onPodConditions") {
                default(c, "status", json!("True"));
            }
        }
    }
    template(spec);
}

pub(super) fn job(obj: &mut Value) {
    if let Some(spec) = object_at(obj, "spec") {
        job_spec(spec);
    }
}

pub(super) fn cron_job(obj: &mut Value) {
    let Some(spec) = object_at(obj, "spec") else { return };
    default(spec, "concurrencyPolicy", json!("Allow"));
    default(spec, "suspend", json!(false));
    default(spec, "successfulJobsHistoryLimit", json!(3));
    default(spec, "failedJobsHistoryLimit", json!(1));
    // The job template only gets pod-template defaults; Job defaults apply when a Job is made.
    if let Some(js) = spec.pointer_mut("/jobTemplate/spec") {
        template(js);
    }
}
