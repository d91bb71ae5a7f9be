//! Validation of names and of fields a real server refuses to change.

use serde_json::Value;

use crate::error::ApiError;
use crate::resources::ResourceType;

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// Why `name` is not a valid name for `rt`, if it is not.
pub fn name_problem(rt: &ResourceType, name: &str) -> Option<String> {
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Namespace" | "Service") => (!is_dns_label(name)).then(|| {
            format!("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', start and end with an alphanumeric character, and be at most 63 characters (got {name:?})")
        }),
        // RBAC names are path segments: anything but "/", "%", "." and "..".
        ("rbac.authorization.k8s.io", _) => (name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('%'))
            .then(|| format!("may not contain '/' or '%' and may not be '.' or '..' (got {name:?})")),
        _ => (!is_dns_subdomain(name)).then(|| {
            format!("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character, at most 253 characters (got {name:?})")
        }),
    }
}

/// Fields that cannot change after creation: (JSON pointer, field path for the message).
fn immutable_fields(rt: &ResourceType) -> &'static [(&'static str, &'static str)] {
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("apps", "Deployment" | "ReplicaSet" | "DaemonSet") => {
            &[("/spec/selector", "spec.selector")]
        }
        ("apps", "StatefulSet") => &[
            ("/spec/selector", "spec.selector"),
            ("/spec/volumeClaimTemplates", "spec.volumeClaimTemplates"),
        ],
        ("batch", "Job") => &[
            ("/spec/selector", "spec.selector"),
            ("/spec/template", "spec.template"),
            ("/spec/completionMode", "spec.completionMode"),
        ],
        ("", "Service") => &[("/spec/clusterIP", "spec.clusterIP")],
        ("", "PersistentVolumeClaim") => &[
            ("/spec/accessModes", "spec.accessModes"),
            ("/spec/storageClassName", "spec.storageClassName"),
            ("/spec/volumeName", "spec.volumeName"),
        ],
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => {
            &[("/roleRef", "roleRef")]
        }
        ("storage.k8s.io", "StorageClass") => {
            &[("/provisioner", "provisioner"), ("/parameters", "parameters")]
        }
        _ => &[],
    }
}

pub fn validate(rt: &ResourceType, old: Option<&Value>, obj: &Value) -> Result<(), ApiError> {
    let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    let mut causes = Vec::new();
    if let Some(problem) = name_problem(rt, name) {
        causes.push(("metadata.name".to_string(), problem));
    }
    if let Some(labels) = obj.pointer("/metadata/labels") {
        match labels.as_object() {
            Some(m) => {
                for (k, v) in m {
                    if !v.is_string() {
                        causes.push((
                            format!("metadata.labels[{k}]"),
                            "label values must be strings".into(),
                        ));
                    } else if v.as_str().is_some_and(|s| s.len() > 63) {
                        causes.push((
                            format!("metadata.labels[{k}]"),
                            "must be no more than 63 characters".into(),
                        ));
                    }
                }
            }
            None if labels.is_null() => {}
            None => causes.push(("metadata.labels".into(), "must be a map of strings".into())),
        }
    }
    if let Some(old) = old {
        for (ptr, field) in immutable_fields(rt) {
            let before = old.pointer(ptr);
            let after = obj.pointer(ptr);
            // Service clusterIP may be left unset in an update; the stored one is kept.
            if before.is_some() && before != after {
                causes.push((field.to_string(), "field is immutable".into()));
            }
        }
        let immutable = old.get("immutable").and_then(Value::as_bool) == Some(true);
        if immutable && rt.group.is_empty() && (rt.kind == "ConfigMap" || rt.kind == "Secret") {
            for f in ["data", "binaryData", "stringData"] {
                if old.get(f) != obj.get(f) {
                    causes
                        .push((f.to_string(), "field is immutable when `immutable` is set".into()));
                }
            }
        }
    }
    if causes.is_empty() {
        Ok(())
    } else {
        let group_kind =
            if rt.group.is_empty() { rt.kind.clone() } else { format!("{}.{}", rt.kind, rt.group) };
        Err(ApiError::invalid(&group_kind, name, causes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Registry;
    use serde_json::json;

    #[test]
    fn names_follow_the_rules_of_their_kind() {
        let reg = Registry::builtin();
        let cm = reg.find("", "v1", "configmaps").expect("configmaps are built in");
        let ns = reg.find("", "v1", "namespaces").expect("namespaces are built in");
        let cr = reg
            .find("rbac.authorization.k8s.io", "v1", "clusterroles")
            .expect("clusterroles are built in");
        assert!(name_problem(cm, "app.config-1").is_none());
        assert!(name_problem(cm, "Bad_Name").is_some());
        assert!(name_problem(ns, "a.b").is_some());
        assert!(name_problem(cr, "system:controller:foo").is_none());
    }

    #[test]
    fn a_deployment_selector_cannot_change() {
        let reg = Registry::builtin();
        let rt = reg.find("apps", "v1", "deployments").expect("deployments are built in");
        let old = json!({"metadata": {"name": "web"}, "spec": {"selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web", "v": "2"}}}}});
        let mut new = old.clone();
        new["spec"]["selector"]["matchLabels"]["v"] = json!("2");
        let err = validate(rt, Some(&old), &new).expect_err("selector changes are refused");
        assert_eq!(err.code, 422);
        assert!(err.message.contains("spec.selector: field is immutable"), "{}", err.message);
    }
}
