//! `ferry install`: everything the controller needs in a cluster — the Application CRD, a
//! namespace, a service account with its cluster role and binding, and a one-replica Deployment
//! running `ferry controller` (leader election through a Lease keeps a second replica idle).
//! `--print` writes the YAML instead of applying it.

use std::process::ExitCode;

use ferry_apply::discovery::{Discovery, gvk_of};
use ferry_apply::object::str_at;
use kube::Api;
use kube::api::{DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};

use super::connect::{ClusterArgs, connect};
use super::create::FIELD_MANAGER;
use super::error::CliError;
use super::output::{hint, print};

#[derive(clap::Args, Debug)]
pub struct InstallArgs {
    /// Write the manifests to stdout instead of applying them.
    #[arg(long)]
    pub print: bool,
    /// Namespace for the controller (and where Applications live by default).
    #[arg(long, default_value = "ferry")]
    pub namespace: String,
    /// The controller image.
    #[arg(long, default_value = concat!("ferry:", env!("CARGO_PKG_VERSION")))]
    pub image: String,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

const NAME: &str = "ferry-controller";

/// The manifests, in the order they must be applied.
pub fn manifests(namespace: &str, image: &str) -> Result<Vec<Value>, CliError> {
    let labels = json!({"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "ferry"});
    let mut objects =
        vec![json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})];
    // Application, Project and ApplicationSet; image automation: ImageRepository, ImagePolicy,
    // ImageUpdateAutomation.
    let engine_crds =
        [ferry_engine::crd(), ferry_engine::project::crd(), ferry_engine::appset::crd()];
    for crd in engine_crds.into_iter().chain(ferry_image::automation::crds()) {
        let mut crd = serde_json::to_value(crd).map_err(|e| CliError::Output(e.to_string()))?;
        crd["apiVersion"] = "apiextensions.k8s.io/v1".into();
        crd["kind"] = "CustomResourceDefinition".into();
        objects.push(crd);
    }
    objects.extend([
        json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": NAME, "namespace": namespace, "labels": labels}}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": NAME, "labels": labels},
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
                "verbs": ["get", "list", "watch", "create", "update", "patch"]}
        ]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": NAME, "labels": labels},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": NAME},
            "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": namespace}]}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": NAME, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": NAME}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": NAME,
                    "securityContext": {"runAsNonRoot": true, "runAsUser": 65532, "fsGroup": 65532},
                    "containers": [{
                        "name": "controller",
                        "image": image,
                        "args": ["controller"],
                        "env": [
                            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                            {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                            {"name": "FERRY_DATA_DIR", "value": "/var/lib/ferry"},
                            {"name": "HOME", "value": "/var/lib/ferry"}
                        ],
                        "volumeMounts": [{"name": "data", "mountPath": "/var/lib/ferry"}],
                        "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
                            "capabilities": {"drop": ["ALL"]}},
                        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                            "limits": {"memory": "1Gi"}}
                    }],
                    // Repositories are a cache: an emptyDir is enough, a restart re-fetches.
                    "volumes": [{"name": "data", "emptyDir": {}}]
                }
            }
        }}),
    ]);
    Ok(objects)
}

/// The manifests as one multi-document YAML stream.
pub fn to_yaml(objects: &[Value]) -> Result<String, CliError> {
    let mut out = String::new();
    for o in objects {
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(o).map_err(|e| CliError::Output(e.to_string()))?);
    }
    Ok(out)
}

pub async fn run(args: InstallArgs) -> Result<ExitCode, CliError> {
    let objects = manifests(&args.namespace, &args.image)?;
    if args.print {
        print(&to_yaml(&objects)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let conn = connect(&args.cluster).await?;
    let discovery = Discovery::new();
    let params = PatchParams::apply(FIELD_MANAGER).force();
    for obj in &objects {
        let api_version = str_at(obj, &["apiVersion"]).unwrap_or_default();
        let kind = str_at(obj, &["kind"]).unwrap_or_default();
        let name = str_at(obj, &["metadata", "name"]).unwrap_or_default();
        let what = format!("{kind} {name}");
        let resolved = discovery
            .resolve(&conn.client, &gvk_of(api_version, kind))
            .await
            .map_err(|e| CliError::Io(format!("applying {what}: {e}")))?;
        let api: Api<DynamicObject> = match str_at(obj, &["metadata", "namespace"]) {
            Some(ns) if resolved.namespaced => {
                Api::namespaced_with(conn.client.clone(), ns, &resolved.resource)
            }
            _ => Api::all_with(conn.client.clone(), &resolved.resource),
        };
        api.patch(name, &params, &Patch::Apply(obj))
            .await
            .map_err(|e| CliError::api(e, format!("applying {what}")))?;
        eprintln!("{what} applied");
    }
    eprintln!("ferry is installed in namespace {:?} (image {})", args.namespace, args.image);
    hint(&format!("kubectl -n {} rollout status deployment/{NAME}", args.namespace));
    hint("ferry app create NAME --repo URL --path DIR --dest-namespace NS");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifests_bind_the_role_to_the_account_the_deployment_runs_as() {
        let objs = manifests("ops", "ferry:test").expect("manifests");
        let kinds: Vec<&str> =
            objs.iter().map(|o| str_at(o, &["kind"]).unwrap_or_default()).collect();
        assert_eq!(
            kinds,
            [
                "Namespace",
                "CustomResourceDefinition",
                "CustomResourceDefinition",
                "CustomResourceDefinition",
                "CustomResourceDefinition",
                "CustomResourceDefinition",
                "CustomResourceDefinition",
                "ServiceAccount",
                "ClusterRole",
                "ClusterRoleBinding",
                "Deployment"
            ]
        );
        let of = |kind: &str| objs.iter().find(|o| o["kind"] == kind).expect(kind);
        assert_eq!(of("ClusterRoleBinding")["subjects"][0]["namespace"], "ops");
        let pod = &of("Deployment")["spec"]["template"]["spec"];
        assert_eq!(pod["serviceAccountName"], of("ServiceAccount")["metadata"]["name"]);
        assert_eq!(pod["containers"][0]["args"][0], "controller");
        assert_eq!(pod["containers"][0]["image"], "ferry:test");
    }
}
