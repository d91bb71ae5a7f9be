//! What `ferry install` puts into a cluster, as data (pure): the namespace, the CRDs, RBAC and an
//! HA controller — 2+ replicas behind a PodDisruptionBudget, spread over nodes, with probes,
//! resource requests, a NetworkPolicy, a non-root read-only container, and a Service in front of
//! the replica that leads. The Helm chart in `deploy/chart/ferry` renders the same objects (a
//! test compares them).

use serde_json::{Value, json};

use super::super::error::CliError;

/// The controller's name (Deployment, ServiceAccount, ClusterRole, Lease).
pub const NAME: &str = "ferry-controller";
/// The API, webhooks, metrics and web UI.
pub const API_PORT: u16 = 8080;
/// `/healthz` and `/readyz`, served from start (a standby replica answers too).
pub const HEALTH_PORT: u16 = 8081;
/// The label the leading replica puts on its pod; the Service selects it.
pub const ROLE_LABEL: &str = "ferry.dev/role";
/// Where repositories are cached (an emptyDir: the root filesystem is read-only).
const DATA_DIR: &str = "/var/lib/ferry";

/// How to install: where, which image, how many replicas (the flags `ferry install` and
/// `ferry bootstrap` share).
#[derive(clap::Args, Clone, Debug)]
pub struct InstallOptions {
    /// Namespace for the controller (and where Applications live by default).
    #[arg(long, default_value = "ferry")]
    pub namespace: String,
    /// The controller image.
    #[arg(long, default_value = concat!("ferry:", env!("CARGO_PKG_VERSION")))]
    pub image: String,
    /// Controller replicas: each reconciles its share of the apps (shards); one also runs image
    /// automation and serves the API.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    pub replicas: u32,
}

#[cfg(test)]
impl InstallOptions {
    pub fn new(namespace: &str, image: &str) -> Self {
        Self { namespace: namespace.into(), image: image.into(), replicas: 2 }
    }
}

/// The controller container's arguments, in one place (sharding flags belong here).
pub fn controller_args() -> Vec<String> {
    vec![
        "controller".to_string(),
        format!("--listen=0.0.0.0:{API_PORT}"),
        format!("--health-listen=0.0.0.0:{HEALTH_PORT}"),
    ]
}

fn labels() -> Value {
    json!({"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "ferry"})
}

fn selector() -> Value {
    json!({"app.kubernetes.io/name": NAME})
}

/// The manifests, in the order they must be applied.
pub fn manifests(options: &InstallOptions) -> Result<Vec<Value>, CliError> {
    let ns = options.namespace.as_str();
    let mut objects =
        vec![json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})];
    objects.extend(crds()?);
    objects.extend([
        json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": NAME, "namespace": ns, "labels": labels()}}),
        cluster_role(),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": NAME, "labels": labels()},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": NAME},
            "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": ns}]}),
        service(ns),
        deployment(options),
        pod_disruption_budget(ns),
        network_policy(ns),
    ]);
    Ok(objects)
}

/// Application, Project and ApplicationSet; image automation: ImageRepository, ImagePolicy,
/// ImageUpdateAutomation.
pub fn crds() -> Result<Vec<Value>, CliError> {
    let engine_crds =
        [ferry_engine::crd(), ferry_engine::project::crd(), ferry_engine::appset::crd()];
    let mut out = Vec::new();
    for crd in engine_crds.into_iter().chain(ferry_image::automation::crds()) {
        let mut crd = serde_json::to_value(crd).map_err(|e| CliError::Output(e.to_string()))?;
        crd["apiVersion"] = "apiextensions.k8s.io/v1".into();
        crd["kind"] = "CustomResourceDefinition".into();
        out.push(crd);
    }
    Ok(out)
}

fn cluster_role() -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
    "metadata": {"name": NAME, "labels": labels()},
    "rules": [
        // Like Argo CD's application-controller: an app may declare any kind, so the
        // controller must read, apply and prune any kind.
        {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
        {"nonResourceURLs": ["*"], "verbs": ["get"]},
        // Named for the reader; covered by the rule above.
        {"apiGroups": ["ferry.dev"], "resources": ["applications", "applications/status"],
            "verbs": ["get", "list", "watch", "patch", "update"]},
        {"apiGroups": ["ferry.dev"], "resources": ["projects"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["image.ferry.dev"], "resources": ["*"],
            "verbs": ["get", "list", "watch", "patch", "update"]},
        // Settings, API tokens (Secrets) and the RBAC policy `ferry-rbac-cm` (a ConfigMap).
        {"apiGroups": [""], "resources": ["secrets", "configmaps"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
            "verbs": ["get", "list", "watch", "create", "update", "patch"]},
        // The leading replica labels its own pod, so that the Service reaches it alone.
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "patch"]}
    ]})
}

/// The API, webhooks, metrics and UI of the replica that leads (a standby serves no API).
fn service(ns: &str) -> Value {
    let mut selector = selector();
    selector[ROLE_LABEL] = "leader".into();
    json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": NAME, "namespace": ns, "labels": labels()},
        "spec": {"selector": selector,
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]}})
}

fn container(image: &str) -> Value {
    let probe = |path: &str, period: u32| {
        json!({"httpGet": {"path": path, "port": "health"}, "periodSeconds": period,
            "timeoutSeconds": 5, "failureThreshold": 3})
    };
    json!({
        "name": "controller",
        "image": image,
        "args": controller_args(),
        "ports": [{"name": "http", "containerPort": API_PORT, "protocol": "TCP"},
            {"name": "health", "containerPort": HEALTH_PORT, "protocol": "TCP"}],
        "env": [
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "FERRY_DATA_DIR", "value": DATA_DIR},
            {"name": "HOME", "value": DATA_DIR},
            {"name": "TMPDIR", "value": "/tmp"}
        ],
        "livenessProbe": probe("/healthz", 10),
        "readinessProbe": probe("/readyz", 5),
        "volumeMounts": [{"name": "data", "mountPath": DATA_DIR}, {"name": "tmp", "mountPath": "/tmp"}],
        "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
            "runAsNonRoot": true, "capabilities": {"drop": ["ALL"]}},
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}}
    })
}

fn deployment(options: &InstallOptions) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": NAME, "namespace": options.namespace, "labels": labels()},
    "spec": {
        "replicas": options.replicas,
        "selector": {"matchLabels": selector()},
        "template": {
            "metadata": {"labels": labels()},
            "spec": {
                "serviceAccountName": NAME,
                "securityContext": {"runAsNonRoot": true, "runAsUser": 65532, "runAsGroup": 65532,
                    "fsGroup": 65532, "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [container(&options.image)],
                // One replica per node where possible: a node lost takes one replica, not both.
                "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                    "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": selector()}}],
                // Repositories are a cache: an emptyDir is enough, a restart re-fetches.
                "volumes": [{"name": "data", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}]
            }
        }
    }})
}

/// A drain takes one replica at a time: the other keeps (or takes over) the lease.
fn pod_disruption_budget(ns: &str) -> Value {
    json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": NAME, "namespace": ns, "labels": labels()},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector()}}})
}

/// In: the API port (webhooks from Git providers, the UI, metrics) and the health port (kubelet);
/// nothing else. Out stays open: Git servers, registries and destination clusters are anywhere.
fn network_policy(ns: &str) -> Value {
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": NAME, "namespace": ns, "labels": labels()},
        "spec": {"podSelector": {"matchLabels": selector()}, "policyTypes": ["Ingress"],
            "ingress": [{"ports": [{"port": API_PORT, "protocol": "TCP"},
                {"port": HEALTH_PORT, "protocol": "TCP"}]}]}})
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_apply::object::str_at;

    fn kinds(objs: &[Value]) -> Vec<&str> {
        objs.iter().map(|o| str_at(o, &["kind"]).unwrap_or_default()).collect()
    }

    #[test]
    fn the_manifests_bind_the_role_to_the_account_the_deployment_runs_as() {
        let objs = manifests(&InstallOptions::new("ops", "ferry:test")).expect("manifests");
        let mut expected = vec!["Namespace"];
        expected.extend(["CustomResourceDefinition"; 6]);
        expected.extend([
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Service",
            "Deployment",
            "PodDisruptionBudget",
            "NetworkPolicy",
        ]);
        assert_eq!(kinds(&objs), expected);
        let of = |kind: &str| objs.iter().find(|o| o["kind"] == kind).expect(kind);
        assert_eq!(of("ClusterRoleBinding")["subjects"][0]["namespace"], "ops");
        let pod = &of("Deployment")["spec"]["template"]["spec"];
        assert_eq!(pod["serviceAccountName"], of("ServiceAccount")["metadata"]["name"]);
        assert_eq!(pod["containers"][0]["args"][0], "controller");
        assert_eq!(pod["containers"][0]["image"], "ferry:test");
    }

    #[test]
    fn the_controller_is_highly_available_and_locked_down() {
        let mut options = InstallOptions::new("ferry", "ferry:test");
        options.replicas = 3;
        let objs = manifests(&options).expect("manifests");
        let of = |kind: &str| objs.iter().find(|o| o["kind"] == kind).expect(kind);
        let deployment = of("Deployment");
        assert_eq!(deployment["spec"]["replicas"], 3);
        let pod = &deployment["spec"]["template"]["spec"];
        let c = &pod["containers"][0];
        assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
        assert_eq!(c["securityContext"]["capabilities"]["drop"], json!(["ALL"]));
        assert_eq!(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
        assert_eq!(c["livenessProbe"]["httpGet"]["port"], "health");
        assert!(c["resources"]["requests"]["memory"].is_string());
        // Every selector picks the controller's pods, and the pods carry those labels.
        let pod_labels = &deployment["spec"]["template"]["metadata"]["labels"];
        for sel in [
            &of("PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
            &of("NetworkPolicy")["spec"]["podSelector"]["matchLabels"],
        ] {
            for (k, v) in sel.as_object().expect("labels") {
                assert_eq!(&pod_labels[k], v, "{k}");
            }
        }
        assert_eq!(of("Service")["spec"]["selector"][ROLE_LABEL], "leader");
    }
}
