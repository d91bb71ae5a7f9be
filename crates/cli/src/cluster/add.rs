//! `ferry cluster add NAME --kubeconfig F [--context C]`: as `argocd cluster add`, creates in
//! the target a ServiceAccount `ferry-manager` (kube-system) bound to the ClusterRole
//! `ferry-manager-role` (every verb on every resource) with a long-lived token from a
//! `kubernetes.io/service-account-token` Secret, then writes the cluster Secret (Argo CD's
//! format) into Ferry's namespace. `--use-kubeconfig-credentials` stores the kubeconfig's own
//! credentials instead. Nothing secret is printed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use base64::Engine as _;
use k8s_openapi::api::core::v1::{Namespace, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::target::{self, Target};
use super::{FerryArgs, cluster_secrets, find};
use crate::app::error::CliError;
use crate::app::output;

pub const SERVICE_ACCOUNT: &str = "ferry-manager";
pub const CLUSTER_ROLE: &str = "ferry-manager-role";
pub const BINDING: &str = "ferry-manager-role-binding";
pub const TOKEN_SECRET: &str = "ferry-manager-long-lived-token";
const SYSTEM_NAMESPACE: &str = "kube-system";

#[derive(clap::Args, Debug)]
pub struct AddArgs {
    /// The name apps use in `destination.name`.
    pub name: String,
    /// Kubeconfig of the cluster to add (its server, CA and admin credentials are read here).
    #[arg(long)]
    pub kubeconfig: PathBuf,
    /// Context of that kubeconfig (default: its current context).
    #[arg(long)]
    pub context: Option<String>,
    /// Store the kubeconfig's own credentials instead of creating the `ferry-manager`
    /// ServiceAccount and its token in the cluster.
    #[arg(long)]
    pub use_kubeconfig_credentials: bool,
    /// Replace the cluster Secret if the name or server is already registered.
    #[arg(long)]
    pub upsert: bool,
    #[command(flatten)]
    pub ferry: FerryArgs,
}

pub async fn run(args: AddArgs) -> Result<ExitCode, CliError> {
    let target = target::read(&args.kubeconfig, args.context.as_deref()).await?;
    let control = args.ferry.connect().await?;
    let ns = args.ferry.ferry_namespace.as_str();
    let secrets = cluster_secrets(&control, ns).await?;
    let existing = find(&secrets, &args.name).or_else(|| find(&secrets, &target.server));
    if let (Some(found), false) = (existing, args.upsert) {
        return Err(CliError::Failed(format!(
            "cluster {:?} ({}) is already registered in Secret {ns}/{}; pass --upsert to replace it",
            args.name,
            target.server,
            found.metadata.name.as_deref().unwrap_or_default()
        )));
    }
    let (config, how) = if args.use_kubeconfig_credentials {
        (merge(&target.tls, &target.credentials), "the kubeconfig's credentials".to_owned())
    } else {
        let token = service_account_token(&target).await?;
        let config = merge(&target.tls, &json!({"bearerToken": token}));
        (config, format!("a token of ServiceAccount {SYSTEM_NAMESPACE}/{SERVICE_ACCOUNT}"))
    };
    let secret_name = existing
        .and_then(|s| s.metadata.name.clone())
        .unwrap_or_else(|| secret_name(&target.server));
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": secret_name, "namespace": ns, "labels": {
            ferry_engine::settings::LABEL_ARGOCD: "cluster",
            "app.kubernetes.io/managed-by": "ferry"}},
        "type": "Opaque",
        "data": {"name": b64(&args.name), "server": b64(&target.server), "config": b64(&config.to_string())},
    });
    ensure_namespace(&control.client, ns).await?;
    let api: Api<Secret> = Api::namespaced(control.client.clone(), ns);
    let what = format!("writing Secret {ns}/{secret_name}");
    let mut secret: Secret = from_json(&secret)?;
    let written = match existing {
        // The whole content is replaced: keys of the old registration do not linger.
        Some(old) => {
            secret.metadata.resource_version = old.metadata.resource_version.clone();
            api.replace(&secret_name, &PostParams::default(), &secret).await
        }
        None => api.create(&PostParams::default(), &secret).await,
    };
    written.map_err(|e| CliError::api(e, what))?;
    output::print(&format!(
        "cluster {:?} ({}) added: Secret {ns}/{secret_name}, authenticating with {how}\n",
        args.name, target.server
    ))?;
    output::hint(&format!(
        "apps deploy there with destination.name: {}; `ferry cluster list` shows whether Ferry reaches it",
        args.name
    ));
    Ok(ExitCode::SUCCESS)
}

/// `tlsClientConfig` from the kubeconfig with the credentials' TLS keys, and the other keys.
fn merge(tls: &Value, credentials: &Value) -> Value {
    let mut config = credentials.clone();
    let mut tls = tls.clone();
    if let Some(client) = credentials.get("tlsClientConfig").and_then(Value::as_object) {
        for (k, v) in client {
            tls[k] = v.clone();
        }
    }
    config["tlsClientConfig"] = tls;
    config
}

/// Argo CD's naming: `cluster-<host>-<hash of the server URL>`.
fn secret_name(server: &str) -> String {
    let host = server.split("://").nth(1).unwrap_or(server).split(['/', ':']).next().unwrap_or("");
    let host: String = host
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' { c.to_ascii_lowercase() } else { '-' })
        .collect();
    // FNV-1a: a stable short suffix telling two ports of one host apart.
    let hash =
        server.bytes().fold(0x811c9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x01000193));
    format!("cluster-{}-{hash}", host.trim_matches(['-', '.']))
}

/// The ServiceAccount, its ClusterRole and binding, and the token its Secret holds.
async fn service_account_token(target: &Target) -> Result<String, CliError> {
    let client = &target.conn.client;
    let what = |s: &str| format!("creating {s} in the cluster at {}", target.server);
    let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": SERVICE_ACCOUNT, "namespace": SYSTEM_NAMESPACE}});
    let api: Api<ServiceAccount> = Api::namespaced(client.clone(), SYSTEM_NAMESPACE);
    apply(&api, SERVICE_ACCOUNT, &sa, &what("ServiceAccount kube-system/ferry-manager")).await?;
    let role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": CLUSTER_ROLE},
        "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                  {"nonResourceURLs": ["*"], "verbs": ["*"]}]});
    let api: Api<ClusterRole> = Api::all(client.clone());
    apply(&api, CLUSTER_ROLE, &role, &what("ClusterRole ferry-manager-role")).await?;
    let binding = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": BINDING},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": CLUSTER_ROLE},
        "subjects": [{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": SYSTEM_NAMESPACE}]});
    let api: Api<ClusterRoleBinding> = Api::all(client.clone());
    apply(&api, BINDING, &binding, &what("ClusterRoleBinding ferry-manager-role-binding")).await?;
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
        "metadata": {"name": TOKEN_SECRET, "namespace": SYSTEM_NAMESPACE,
            "annotations": {"kubernetes.io/service-account.name": SERVICE_ACCOUNT}}});
    let api: Api<Secret> = Api::namespaced(client.clone(), SYSTEM_NAMESPACE);
    match api.create(&PostParams::default(), &from_json(&secret)?).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => {
            return Err(CliError::api(
                e,
                what("Secret kube-system/ferry-manager-long-lived-token"),
            ));
        }
    }
    wait_for_token(&api, &target.server).await
}

/// The token the cluster's token controller puts into the Secret.
async fn wait_for_token(api: &Api<Secret>, server: &str) -> Result<String, CliError> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let secret = api.get(TOKEN_SECRET).await.map_err(|e| {
            CliError::api(
                e,
                format!("reading Secret kube-system/{TOKEN_SECRET} in the cluster at {server}"),
            )
        })?;
        let token = secret.data.as_ref().and_then(|d| d.get("token")).map(|t| t.0.clone());
        if let Some(token) = token.and_then(|t| String::from_utf8(t).ok()).filter(|t| !t.is_empty())
        {
            return Ok(token);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(CliError::Failed(format!(
        "the cluster at {server} did not fill Secret kube-system/{TOKEN_SECRET} with a token within 30s (its token controller may be off); pass --use-kubeconfig-credentials to store the kubeconfig's credentials instead"
    )))
}

async fn ensure_namespace(client: &Client, ns: &str) -> Result<(), CliError> {
    let api: Api<Namespace> = Api::all(client.clone());
    let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
    match api.create(&PostParams::default(), &from_json(&obj)?).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 || s.code == 403 => Ok(()),
        Err(e) => Err(CliError::api(e, format!("creating Ferry's namespace {ns}"))),
    }
}

/// Server-side apply with field manager `ferry` (creates or takes over the object).
async fn apply<K>(api: &Api<K>, name: &str, obj: &Value, what: &str) -> Result<(), CliError>
where
    K: Resource + Clone + DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let pp = PatchParams::apply(ferry_apply::FIELD_MANAGER).force();
    api.patch(name, &pp, &Patch::Apply(obj)).await.map(|_| ()).map_err(|e| CliError::api(e, what))
}

fn from_json<K: DeserializeOwned>(v: &Value) -> Result<K, CliError> {
    serde_json::from_value(v.clone()).map_err(|e| CliError::Failed(format!("internal: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_named_after_the_host_and_a_hash_of_the_server() {
        let a = secret_name("https://127.0.0.1:6443");
        let b = secret_name("https://127.0.0.1:7443");
        assert!(a.starts_with("cluster-127.0.0.1-"), "{a}");
        assert_ne!(a, b);
        assert_eq!(a, secret_name("https://127.0.0.1:6443"));
    }
}
