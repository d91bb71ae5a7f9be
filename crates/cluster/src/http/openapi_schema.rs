//! OpenAPI v3 component schemas of the built-in kinds, from k8s-openapi's JSON schemas, with
//! the extensions kubectl reads: `x-kubernetes-group-version-kind` (for `explain` and to find a
//! kind's schema) and the patch and list markers (for client-side apply's strategic merge
//! patches), taken from the same list semantics the server merges with (`ferry_diff::Schema`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use ferry_diff::schema::{List, ListKind, Node, PatchStrategy};
use k8s_openapi::api;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};

/// The component schema of one built-in kind, registering what it references in `generator`.
macro_rules! kinds {
    ($( ($group:literal, $version:literal, $kind:literal, $ty:ty) ),* $(,)?) => {
        fn component_of(group: &str, version: &str, kind: &str, generator: &mut SchemaGenerator) -> Option<String> {
            match (group, version, kind) {
                $( ($group, $version, $kind) => {
                    generator.subschema_for::<$ty>();
                    Some(<$ty as schemars::JsonSchema>::schema_name().into_owned())
                } )*
                _ => None,
            }
        }
    };
}

kinds![
    ("", "v1", "Namespace", api::core::v1::Namespace),
    ("", "v1", "ConfigMap", api::core::v1::ConfigMap),
    ("", "v1", "Secret", api::core::v1::Secret),
    ("", "v1", "Service", api::core::v1::Service),
    ("", "v1", "ServiceAccount", api::core::v1::ServiceAccount),
    ("", "v1", "Pod", api::core::v1::Pod),
    ("", "v1", "PersistentVolumeClaim", api::core::v1::PersistentVolumeClaim),
    ("", "v1", "PersistentVolume", api::core::v1::PersistentVolume),
    ("", "v1", "Endpoints", api::core::v1::Endpoints),
    ("", "v1", "Event", api::core::v1::Event),
    ("", "v1", "LimitRange", api::core::v1::LimitRange),
    ("", "v1", "ResourceQuota", api::core::v1::ResourceQuota),
    ("", "v1", "Node", api::core::v1::Node),
    ("", "v1", "ReplicationController", api::core::v1::ReplicationController),
    ("apps", "v1", "Deployment", api::apps::v1::Deployment),
    ("apps", "v1", "ReplicaSet", api::apps::v1::ReplicaSet),
    ("apps", "v1", "StatefulSet", api::apps::v1::StatefulSet),
    ("apps", "v1", "DaemonSet", api::apps::v1::DaemonSet),
    ("apps", "v1", "ControllerRevision", api::apps::v1::ControllerRevision),
    ("batch", "v1", "Job", api::batch::v1::Job),
    ("batch", "v1", "CronJob", api::batch::v1::CronJob),
    ("networking.k8s.io", "v1", "Ingress", api::networking::v1::Ingress),
    ("networking.k8s.io", "v1", "IngressClass", api::networking::v1::IngressClass),
    ("networking.k8s.io", "v1", "NetworkPolicy", api::networking::v1::NetworkPolicy),
    ("rbac.authorization.k8s.io", "v1", "Role", api::rbac::v1::Role),
    ("rbac.authorization.k8s.io", "v1", "RoleBinding", api::rbac::v1::RoleBinding),
    ("rbac.authorization.k8s.io", "v1", "ClusterRole", api::rbac::v1::ClusterRole),
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", api::rbac::v1::ClusterRoleBinding),
    ("policy", "v1", "PodDisruptionBudget", api::policy::v1::PodDisruptionBudget),
    ("autoscaling", "v2", "HorizontalPodAutoscaler", api::autoscaling::v2::HorizontalPodAutoscaler),
    ("autoscaling", "v1", "HorizontalPodAutoscaler", api::autoscaling::v1::HorizontalPodAutoscaler),
    ("coordination.k8s.io", "v1", "Lease", api::coordination::v1::Lease),
    (
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingWebhookConfiguration",
        api::admissionregistration::v1::ValidatingWebhookConfiguration
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "MutatingWebhookConfiguration",
        api::admissionregistration::v1::MutatingWebhookConfiguration
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingAdmissionPolicy",
        api::admissionregistration::v1::ValidatingAdmissionPolicy
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingAdmissionPolicyBinding",
        api::admissionregistration::v1::ValidatingAdmissionPolicyBinding
    ),
    ("storage.k8s.io", "v1", "StorageClass", api::storage::v1::StorageClass),
    ("storage.k8s.io", "v1", "CSIDriver", api::storage::v1::CSIDriver),
    ("storage.k8s.io", "v1", "VolumeAttachment", api::storage::v1::VolumeAttachment),
    (
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition
    ),
    ("events.k8s.io", "v1", "Event", api::events::v1::Event),
    ("discovery.k8s.io", "v1", "EndpointSlice", api::discovery::v1::EndpointSlice),
    ("scheduling.k8s.io", "v1", "PriorityClass", api::scheduling::v1::PriorityClass),
    (
        "apiregistration.k8s.io",
        "v1",
        "APIService",
        k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService
    ),
];

/// Component name of a `$ref` (directly or as the only `allOf` entry).
fn ref_name(schema: &Value) -> Option<&str> {
    let r = schema.get("$ref").or_else(|| schema.pointer("/allOf/0/$ref"))?;
    r.as_str()?.strip_prefix("#/components/schemas/")
}

fn annotate_list(prop: &mut Map<String, Value>, list: &List) {
    match &list.patch {
        PatchStrategy::MergeKey(key) => {
            prop.insert("x-kubernetes-patch-strategy".into(), json!("merge"));
            prop.insert("x-kubernetes-patch-merge-key".into(), json!(key));
        }
        PatchStrategy::MergePrimitives => {
            prop.insert("x-kubernetes-patch-strategy".into(), json!("merge"));
        }
        PatchStrategy::Replace => {}
    }
    match &list.kind {
        ListKind::Atomic => {
            prop.insert("x-kubernetes-list-type".into(), json!("atomic"));
        }
        ListKind::Set => {
            prop.insert("x-kubernetes-list-type".into(), json!("set"));
        }
        ListKind::Map(keys) => {
            let names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
            prop.insert("x-kubernetes-list-type".into(), json!("map"));
            prop.insert("x-kubernetes-list-map-keys".into(), json!(names));
        }
    }
}

/// Walks component `name` along `node`, marking the lists `node` describes.
fn annotate(components: &mut Map<String, Value>, name: &str, node: &Node, depth: usize) {
    let Node::Struct(s) = node else { return };
    if depth > 32 {
        return;
    }
    let mut next: Vec<(String, &Node)> = Vec::new();
    if let Some(props) = components
        .get_mut(name)
        .and_then(|c| c.get_mut("properties"))
        .and_then(Value::as_object_mut)
    {
        for (field, child) in &s.fields {
            let Some(prop) = props.get_mut(field).and_then(Value::as_object_mut) else { continue };
            match child {
                Node::List(list) => {
                    annotate_list(prop, list);
                    if let Some(item) = prop.get("items").and_then(ref_name) {
                        next.push((item.to_string(), &list.elem));
                    }
                }
                Node::Struct(_) => {
                    if let Some(r) = ref_name(&Value::Object(prop.clone())) {
                        next.push((r.to_string(), child));
                    }
                }
                _ => {}
            }
        }
    }
    for (component, child) in next {
        annotate(components, &component, child, depth + 1);
    }
}

/// Component schemas by name.
pub type Components = Arc<Map<String, Value>>;

/// Component schemas of every built-in kind of `group`/`version` (empty when it has none).
pub fn components(group: &str, version: &str, kinds: &[&str]) -> Components {
    static CACHE: OnceLock<Mutex<HashMap<String, Components>>> = OnceLock::new();
    let cache_key = format!("{group}/{version}:{}", kinds.join(","));
    let cache = CACHE.get_or_init(Default::default);
    if let Some(hit) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&cache_key) {
        return hit.clone();
    }
    let mut generator = SchemaSettings::openapi3().into_generator();
    let mut roots = Vec::new();
    for kind in kinds {
        if let Some(name) = component_of(group, version, kind, &mut generator) {
            roots.push((name, *kind));
        }
    }
    let mut components = generator.take_definitions(true);
    let schema = ferry_diff::Schema::builtin();
    let api_version =
        if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    for (name, kind) in &roots {
        if let Some(c) = components.get_mut(name).and_then(Value::as_object_mut) {
            c.insert(
                "x-kubernetes-group-version-kind".into(),
                json!([{"group": group, "version": version, "kind": kind}]),
            );
        }
        let root = schema.object_type(&api_version, kind).root.clone();
        annotate(&mut components, name, &root, 0);
    }
    let out = Arc::new(components);
    cache.lock().unwrap_or_else(|e| e.into_inner()).insert(cache_key, out.clone());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_schemas_carry_their_kind_and_the_container_merge_key() {
        let c = components("apps", "v1", &["Deployment"]);
        let d = &c["io.k8s.api.apps.v1.Deployment"];
        assert_eq!(d["x-kubernetes-group-version-kind"][0]["kind"], "Deployment");
        let containers = &c["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
        assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
        assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
        assert!(
            c["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["replicas"]["description"]
                .as_str()
                .is_some_and(|d| d.contains("desired pods"))
        );
    }
}
