//! The order kinds are applied in within one wave: what others depend on first (namespaces, CRDs,
//! RBAC, config), workloads next, admission webhooks last so they cannot block the rest of the sync.

/// Position of `kind` in the apply order; unknown kinds (custom resources) go after the known
/// ones but before webhooks and API services, since their CRDs were applied earlier.
pub fn kind_rank(group: &str, kind: &str) -> usize {
    const ORDER: &[&str] = &[
        "Namespace",
        "NetworkPolicy",
        "ResourceQuota",
        "LimitRange",
        "PodSecurityPolicy",
        "PodDisruptionBudget",
        "ServiceAccount",
        "Secret",
        "SecretList",
        "ConfigMap",
        "StorageClass",
        "PersistentVolume",
        "PersistentVolumeClaim",
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleList",
        "ClusterRoleBinding",
        "ClusterRoleBindingList",
        "Role",
        "RoleList",
        "RoleBinding",
        "RoleBindingList",
        "Service",
        "DaemonSet",
        "Pod",
        "ReplicationController",
        "ReplicaSet",
        "Deployment",
        "HorizontalPodAutoscaler",
        "StatefulSet",
        "Job",
        "CronJob",
        "IngressClass",
        "Ingress",
    ];
    const LAST: &[&str] =
        &["APIService", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"];
    // A kind name alone can collide with a custom resource of the same name in another group; only
    // built-in groups get the built-in rank.
    let builtin = is_builtin_group(group);
    if builtin {
        if let Some(i) = ORDER.iter().position(|k| *k == kind) {
            return i;
        }
        if let Some(i) = LAST.iter().position(|k| *k == kind) {
            return ORDER.len() + 1 + i;
        }
    }
    ORDER.len()
}

/// Groups served by kube-apiserver itself (no CRD defines them).
pub fn is_builtin_group(group: &str) -> bool {
    group.is_empty() || !group.contains('.') || group.ends_with(".k8s.io")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_and_crds_come_before_workloads_and_webhooks_come_last() {
        let ns = kind_rank("", "Namespace");
        let crd = kind_rank("apiextensions.k8s.io", "CustomResourceDefinition");
        let deploy = kind_rank("apps", "Deployment");
        let custom = kind_rank("argoproj.io", "Application");
        let webhook = kind_rank("admissionregistration.k8s.io", "ValidatingWebhookConfiguration");
        assert!(ns < crd && crd < deploy && deploy < custom && custom < webhook);
    }

    #[test]
    fn a_custom_kind_named_like_a_builtin_is_not_ranked_as_one() {
        assert_eq!(kind_rank("example.com", "Namespace"), kind_rank("example.com", "Widget"));
    }
}
