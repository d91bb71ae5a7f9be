//! `ferry cluster add | list | remove`: the destination clusters, kept as Argo CD cluster
//! Secrets (label `argocd.argoproj.io/secret-type: cluster`) in Ferry's namespace of the control
//! cluster — the cluster where Ferry runs and its Applications live. Two kubeconfigs are in
//! play: `--kubeconfig`/`--context` name the cluster being added (as in `argocd cluster add`),
//! `--ferry-kubeconfig`/`--ferry-context` (or `FERRY_KUBECONFIG`/`FERRY_CONTEXT`) the control
//! cluster; without them the control cluster is found as the `ferry app` commands find it.

mod add;
mod list;
mod remove;
mod target;

use std::path::PathBuf;
use std::sync::Arc;

use ferry_engine::Application;
use ferry_engine::clusters::select;
use ferry_engine::settings::{LABEL_ARGOCD, LABEL_FERRY, SecretType};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};

use crate::app::connect::{ClusterArgs, Connection, connect};
use crate::app::error::CliError;

pub use add::AddArgs;
pub use list::ListArgs;
pub use remove::RemoveArgs;

/// Runs `ferry cluster add`.
pub fn add(args: AddArgs) -> std::process::ExitCode {
    crate::app::block_on(add::run(args))
}

/// Runs `ferry cluster list`.
pub fn list(args: ListArgs) -> std::process::ExitCode {
    crate::app::block_on(list::run(args))
}

/// Runs `ferry cluster remove`.
pub fn remove(args: RemoveArgs) -> std::process::ExitCode {
    crate::app::block_on(remove::run(args))
}

/// How to reach Ferry's control cluster (where the cluster Secrets and Applications live).
#[derive(clap::Args, Clone, Debug)]
pub struct FerryArgs {
    /// Kubeconfig of the cluster Ferry runs in, where the cluster Secret is written (default:
    /// $KUBECONFIG, then ~/.kube/config, as `ferry app`).
    #[arg(long, env = "FERRY_KUBECONFIG")]
    pub ferry_kubeconfig: Option<PathBuf>,
    /// Context in that kubeconfig (default: its current context).
    #[arg(long, env = "FERRY_CONTEXT")]
    pub ferry_context: Option<String>,
    /// Ferry's namespace (where its settings Secrets live; `ferry controller --namespace`).
    #[arg(long, env = "FERRY_NAMESPACE", default_value = ferry_engine::DEFAULT_HOME_NAMESPACE)]
    pub ferry_namespace: String,
}

impl FerryArgs {
    async fn connect(&self) -> Result<Connection, CliError> {
        let args = ClusterArgs {
            kubeconfig: self.ferry_kubeconfig.clone(),
            context: self.ferry_context.clone(),
        };
        connect(&args).await
    }
}

/// The cluster Secrets of Ferry's namespace (either label), each once, by name.
pub(crate) async fn cluster_secrets(
    conn: &Connection,
    namespace: &str,
) -> Result<Vec<Arc<Secret>>, CliError> {
    let api: Api<Secret> = Api::namespaced(conn.client.clone(), namespace);
    let mut all = Vec::new();
    for label in [LABEL_FERRY, LABEL_ARGOCD] {
        let selector = format!("{label}={}", SecretType::Cluster.label_value());
        let list = api.list(&ListParams::default().labels(&selector)).await.map_err(|e| {
            CliError::api(e, format!("listing the cluster Secrets in namespace {namespace}"))
        })?;
        all.extend(
            list.items.into_iter().filter(|s| SecretType::of(s) == Some(SecretType::Cluster)),
        );
    }
    all.sort_by_key(|s| s.metadata.name.clone());
    all.dedup_by_key(|s| s.metadata.name.clone());
    Ok(all.into_iter().map(Arc::new).collect())
}

/// The Secret of the cluster called `name` (its `name` key, or its server URL).
fn find<'a>(secrets: &'a [Arc<Secret>], name: &str) -> Option<&'a Arc<Secret>> {
    let server = name.trim_end_matches('/');
    secrets.iter().find(|s| {
        select::raw(s, "name").as_deref() == Some(name)
            || select::raw(s, "server").map(|v| v.trim_end_matches('/').to_owned()).as_deref()
                == Some(server)
    })
}

/// Every Application (all namespaces), for "which apps target this cluster".
async fn applications(conn: &Connection) -> Result<Vec<Application>, CliError> {
    let api: Api<Application> = Api::all(conn.client.clone());
    match api.list(&ListParams::default()).await {
        Ok(list) => Ok(list.items),
        Err(e) => Err(CliError::api(e, "listing Applications")),
    }
}

/// The apps whose destination is `server`, as `namespace/name`.
fn apps_on(apps: &[Application], secrets: &[Arc<Secret>], server: &str) -> Vec<String> {
    apps.iter()
        .filter(|a| select::server_of(&a.spec.destination, secrets).as_deref() == Some(server))
        .map(|a| {
            format!(
                "{}/{}",
                a.metadata.namespace.as_deref().unwrap_or_default(),
                a.metadata.name.as_deref().unwrap_or_default()
            )
        })
        .collect()
}
