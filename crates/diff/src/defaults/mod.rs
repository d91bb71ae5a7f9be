//! What kube-apiserver 1.32 defaults for built-in kinds (the `SetDefaults_*` functions, plus
//! the Service IP-family fields its REST storage fills in).
//!
//! # Guarantees
//! Only absent (or `null`) fields are filled; a value the object sets is never changed, so
//! defaulting is idempotent and safe on live objects.
//!
//! # Caveats
//! Admission plugins (service account token volumes, default tolerations, priority, storage
//! class) and allocations (cluster IPs, node ports, Job selectors) are the server's business
//! and are not modelled here.

mod pod;
mod service;
mod workloads;

use serde_json::{Map, Value, json};

pub use pod::{apply_pod_spec_defaults, image_pull_policy};

/// Fills in the fields kube-apiserver would default on this object.
pub fn apply_defaults(obj: &mut Value) {
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("").to_string();
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("").to_string();
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    match (group, kind.as_str()) {
        ("apps", "Deployment") => workloads::deployment(obj),
        ("apps", "StatefulSet") => workloads::stateful_set(obj),
        ("apps", "DaemonSet") => workloads::daemon_set(obj),
        ("apps", "ReplicaSet") => workloads::replica_set(obj),
        ("batch", "Job") => workloads::job(obj),
        ("batch", "CronJob") => workloads::cron_job(obj),
        ("", "ReplicationController") => workloads::replication_controller(obj),
        ("", "PodTemplate") => {
            if let Some(spec) = obj.pointer_mut("/template/spec") {
                apply_pod_spec_defaults(spec);
            }
        }
        ("", "Pod") => pod::pod(obj),
        ("", "Service") => service::service(obj),
        ("", "Secret") => {
            service::secret(obj);
        }
        ("", "Namespace") => service::namespace(obj),
        ("", "PersistentVolumeClaim") => service::pvc_spec(obj.get_mut("spec")),
        ("", "PersistentVolume") => service::pv(obj),
        ("networking.k8s.io", "NetworkPolicy") => service::network_policy(obj),
        ("autoscaling", "HorizontalPodAutoscaler") => service::hpa(obj, &api_version),
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => {
            service::role_binding(obj)
        }
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration") => {
            service::webhooks(obj, true)
        }
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration") => {
            service::webhooks(obj, false)
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
                let conv = spec.entry("conversion").or_insert_with(|| json!({}));
                default(conv, "strategy", json!("None"));
            }
        }
        _ => {}
    }
}

/// Sets `key` when it is absent or null.
pub(crate) fn default(obj: &mut Value, key: &str, value: Value) {
    if let Some(m) = obj.as_object_mut() {
        let slot = m.entry(key).or_insert(Value::Null);
        if slot.is_null() {
            *slot = value;
        }
    }
}

/// The object at `key`, created empty when absent; `None` when something else is there.
pub(crate) fn object_at<'a>(obj: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    let m = obj.as_object_mut()?;
    let slot = m.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if slot.is_null() {
        *slot = Value::Object(Map::new());
    }
    slot.is_object().then_some(slot)
}

/// Each item of the list at `key`, if there is one.
pub(crate) fn items_mut<'a>(obj: &'a mut Value, key: &str) -> impl Iterator<Item = &'a mut Value> {
    obj.get_mut(key).and_then(Value::as_array_mut).into_iter().flatten()
}
