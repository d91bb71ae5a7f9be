//! The resource types the server knows: the built-in kinds and the kinds CRDs define at runtime.

use std::collections::BTreeMap;

use serde_json::Value;

/// One served group/version/resource and what it supports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceType {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub status: bool,
    pub scale: bool,
    /// Whether this version is the preferred (storage) one of its group.
    pub preferred: bool,
    /// CRD printer columns, kept raw for table output.
    pub printer_columns: Vec<Value>,
    /// Name of the CRD that defines it, when not built in.
    pub crd: Option<String>,
}

impl ResourceType {
    /// `group/version`, or `version` for the legacy core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Key of the storage bucket: all versions of a group/resource share one, and
    /// `events.k8s.io` Events live with the core ones (see `convert`).
    pub fn storage_key(&self) -> String {
        if crate::convert::is_events_api(self) {
            return "/events".to_string();
        }
        format!("{}/{}", self.group, self.plural)
    }

    pub fn verbs(&self) -> Vec<&'static str> {
        if self.is_review() {
            return vec!["create"];
        }
        vec!["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
    }

    /// The authentication and authorization review kinds: create-only, never stored (their
    /// endpoints are in `http/reviews.rs`).
    pub fn is_review(&self) -> bool {
        matches!(self.group.as_str(), "authorization.k8s.io" | "authentication.k8s.io")
    }
}

type Builtin = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
    &'static [&'static str],
    bool,
    bool,
);

// (group, version, kind, plural, namespaced, short names, status subresource, scale subresource)
const BUILTINS: &[Builtin] = &[
    ("", "v1", "Namespace", "namespaces", false, &["ns"], true, false),
    ("", "v1", "ConfigMap", "configmaps", true, &["cm"], false, false),
    ("", "v1", "Secret", "secrets", true, &[], false, false),
    ("", "v1", "Service", "services", true, &["svc"], true, false),
    ("", "v1", "ServiceAccount", "serviceaccounts", true, &["sa"], false, false),
    ("", "v1", "Pod", "pods", true, &["po"], true, false),
    ("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", true, &["pvc"], true, false),
    ("", "v1", "PersistentVolume", "persistentvolumes", false, &["pv"], true, false),
    ("", "v1", "Endpoints", "endpoints", true, &["ep"], false, false),
    ("", "v1", "Event", "events", true, &["ev"], false, false),
    ("", "v1", "LimitRange", "limitranges", true, &["limits"], false, false),
    ("", "v1", "ResourceQuota", "resourcequotas", true, &["quota"], true, false),
    ("", "v1", "Node", "nodes", false, &["no"], true, false),
    ("", "v1", "ReplicationController", "replicationcontrollers", true, &["rc"], true, true),
    ("apps", "v1", "Deployment", "deployments", true, &["deploy"], true, true),
    ("apps", "v1", "ReplicaSet", "replicasets", true, &["rs"], true, true),
    ("apps", "v1", "StatefulSet", "statefulsets", true, &["sts"], true, true),
    ("apps", "v1", "DaemonSet", "daemonsets", true, &["ds"], true, false),
    ("apps", "v1", "ControllerRevision", "controllerrevisions", true, &[], false, false),
    ("batch", "v1", "Job", "jobs", true, &[], true, false),
    ("batch", "v1", "CronJob", "cronjobs", true, &["cj"], true, false),
    ("networking.k8s.io", "v1", "Ingress", "ingresses", true, &["ing"], true, false),
    ("networking.k8s.io", "v1", "IngressClass", "ingressclasses", false, &[], false, false),
    (
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        true,
        &["netpol"],
        false,
        false,
    ),
    ("rbac.authorization.k8s.io", "v1", "Role", "roles", true, &[], false, false),
    ("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", true, &[], false, false),
    ("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false, &[], false, false),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        false,
        &[],
        false,
        false,
    ),
    ("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", true, &["pdb"], true, false),
    (
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        true,
        &["hpa"],
        true,
        false,
    ),
    (
        "autoscaling",
        "v1",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        true,
        &["hpa"],
        true,
        false,
    ),
    ("coordination.k8s.io", "v1", "Lease", "leases", true, &[], false, false),
    (
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        false,
        &[],
        false,
        false,
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        false,
        &[],
        false,
        false,
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingAdmissionPolicy",
        "validatingadmissionpolicies",
        false,
        &[],
        true,
        false,
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingAdmissionPolicyBinding",
        "validatingadmissionpolicybindings",
        false,
        &[],
        false,
        false,
    ),
    ("storage.k8s.io", "v1", "StorageClass", "storageclasses", false, &["sc"], false, false),
    ("storage.k8s.io", "v1", "CSIDriver", "csidrivers", false, &[], false, false),
    ("storage.k8s.io", "v1", "VolumeAttachment", "volumeattachments", false, &[], true, false),
    (
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        false,
        &["crd", "crds"],
        true,
        false,
    ),
    ("events.k8s.io", "v1", "Event", "events", true, &["ev"], false, false),
    ("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", true, &[], false, false),
    ("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", false, &["pc"], false, false),
    ("apiregistration.k8s.io", "v1", "APIService", "apiservices", false, &[], true, false),
    (
        "authentication.k8s.io",
        "v1",
        "SelfSubjectReview",
        "selfsubjectreviews",
        false,
        &[],
        false,
        false,
    ),
    (
        "authorization.k8s.io",
        "v1",
        "LocalSubjectAccessReview",
        "localsubjectaccessreviews",
        true,
        &[],
        false,
        false,
    ),
    (
        "authorization.k8s.io",
        "v1",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
        false,
        &[],
        false,
        false,
    ),
    (
        "authorization.k8s.io",
        "v1",
        "SelfSubjectRulesReview",
        "selfsubjectrulesreviews",
        false,
        &[],
        false,
        false,
    ),
    (
        "authorization.k8s.io",
        "v1",
        "SubjectAccessReview",
        "subjectaccessreviews",
        false,
        &[],
        false,
        false,
    ),
];

/// Every type the server serves, in discovery order.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    types: Vec<ResourceType>,
}

impl Registry {
    pub fn builtin() -> Self {
        let mut types = Vec::new();
        for (group, version, kind, plural, namespaced, short, status, scale) in BUILTINS {
            let categories = match *plural {
                "pods"
                | "services"
                | "deployments"
                | "replicasets"
                | "statefulsets"
                | "daemonsets"
                | "jobs"
                | "cronjobs"
                | "replicationcontrollers"
                | "horizontalpodautoscalers" => vec!["all".to_string()],
                _ => vec![],
            };
            // The first listed version of a group is the preferred one (autoscaling v2 before v1).
            let preferred =
                !types.iter().any(|t: &ResourceType| t.group == *group && t.version != *version);
            types.push(ResourceType {
                group: group.to_string(),
                version: version.to_string(),
                kind: kind.to_string(),
                plural: plural.to_string(),
                singular: kind.to_lowercase(),
                namespaced: *namespaced,
                short_names: short.iter().map(|s| s.to_string()).collect(),
                categories,
                status: *status,
                scale: *scale,
                preferred,
                printer_columns: vec![],
                crd: None,
            });
        }
        Registry { types }
    }

    pub fn types(&self) -> &[ResourceType] {
        &self.types
    }

    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceType> {
        self.types.iter().find(|t| t.group == group && t.version == version && t.plural == plural)
    }

    pub fn find_kind(&self, group: &str, version: &str, kind: &str) -> Option<&ResourceType> {
        self.types.iter().find(|t| t.group == group && t.version == version && t.kind == kind)
    }

    /// Any served version of a group/resource (used to resolve owner references and storage).
    pub fn find_any_version(&self, group: &str, plural: &str) -> Option<&ResourceType> {
        self.types.iter().find(|t| t.group == group && t.plural == plural)
    }

    pub fn group_versions(&self) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for t in &self.types {
            let versions = out.entry(t.group.clone()).or_default();
            if !versions.contains(&t.version) {
                versions.push(t.version.clone());
            }
        }
        out
    }

    /// Groups in a stable order: built-ins first in table order, then CRD groups.
    pub fn groups_in_order(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for t in &self.types {
            if !out.contains(&t.group) {
                out.push(t.group.clone());
            }
        }
        out
    }

    /// Replaces the types defined by CRD `crd_name` with `types`.
    pub fn set_crd_types(&mut self, crd_name: &str, types: Vec<ResourceType>) {
        self.types.retain(|t| t.crd.as_deref() != Some(crd_name));
        self.types.extend(types);
    }

    pub fn remove_crd(&mut self, crd_name: &str) {
        self.types.retain(|t| t.crd.as_deref() != Some(crd_name));
    }
}

/// The types a CRD object defines, one per served version.
pub fn types_from_crd(crd: &Value) -> Vec<ResourceType> {
    let Some(name) = crd.pointer("/metadata/name").and_then(Value::as_str) else { return vec![] };
    let spec = &crd["spec"];
    let group = spec["group"].as_str().unwrap_or_default().to_string();
    let names = &spec["names"];
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    };
    let kind = names["kind"].as_str().unwrap_or_default().to_string();
    let plural = names["plural"].as_str().unwrap_or_default().to_string();
    let singular =
        names["singular"].as_str().map(str::to_string).unwrap_or_else(|| kind.to_lowercase());
    let namespaced = spec["scope"].as_str() != Some("Cluster");
    let mut out = Vec::new();
    let versions = spec["versions"].as_array().cloned().unwrap_or_default();
    let storage_version = versions
        .iter()
        .find(|v| v["storage"].as_bool() == Some(true))
        .and_then(|v| v["name"].as_str());
    for v in &versions {
        if v["served"].as_bool() == Some(false) {
            continue;
        }
        let Some(version) = v["name"].as_str() else { continue };
        out.push(ResourceType {
            group: group.clone(),
            version: version.to_string(),
            kind: kind.clone(),
            plural: plural.clone(),
            singular: singular.clone(),
            namespaced,
            short_names: strings(&names["shortNames"]),
            categories: strings(&names["categories"]),
            status: v.pointer("/subresources/status").is_some(),
            scale: v.pointer("/subresources/scale").is_some(),
            preferred: storage_version == Some(version),
            printer_columns: v["additionalPrinterColumns"].as_array().cloned().unwrap_or_default(),
            crd: Some(name.to_string()),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crd_defines_one_type_per_served_version() {
        let crd = serde_json::json!({
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                "names": {"kind": "Widget", "plural": "widgets", "shortNames": ["wg"]},
                "versions": [
                    {"name": "v1", "served": true, "storage": true, "subresources": {"status": {}}},
                    {"name": "v0", "served": false, "storage": false}
                ]}
        });
        let types = types_from_crd(&crd);
        assert_eq!(types.len(), 1);
        assert_eq!(types[0].api_version(), "example.com/v1");
        assert!(types[0].status && types[0].namespaced && types[0].preferred);
        assert_eq!(types[0].short_names, vec!["wg"]);
    }

    #[test]
    fn the_preferred_autoscaling_version_is_v2() {
        let reg = Registry::builtin();
        assert!(
            reg.find("autoscaling", "v2", "horizontalpodautoscalers").is_some_and(|t| t.preferred)
        );
        assert!(
            reg.find("autoscaling", "v1", "horizontalpodautoscalers").is_some_and(|t| !t.preferred)
        );
    }
}
