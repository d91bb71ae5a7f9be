//! The cluster a planned app's destination names, with a client and discovery to read its live
//! objects: the engine's connections inside the engine, the cluster Secrets read once in the
//! CLI.

use std::future::Future;
use std::sync::Arc;

use ferry_apply::discovery::Discovery;
use k8s_openapi::api::core::v1::Secret;
use kube::api::ListParams;
use kube::{Api, Client};

use crate::application::{Destination, IN_CLUSTER_NAME, IN_CLUSTER_SERVER};
use crate::clusters::select::{Selected, select};
use crate::clusters::{Clusters, secret};
use crate::project::rules::Cluster;
use crate::settings::{LABEL_ARGOCD, LABEL_FERRY};

/// A cluster to read live objects from.
pub struct Target {
    pub client: Client,
    pub discovery: Arc<Discovery>,
    /// The cluster as projects match it.
    pub cluster: Cluster,
}

/// Finds the cluster a destination names; the error says why it cannot be read.
pub trait Destinations: Sync {
    fn connect(&self, dest: &Destination) -> impl Future<Output = Result<Target, String>> + Send;
}

impl Destinations for Clusters {
    async fn connect(&self, dest: &Destination) -> Result<Target, String> {
        let conn = Clusters::connect(self, dest).await.map_err(|e| e.to_string())?;
        let cluster = match &conn.spec {
            Some(spec) => Cluster { server: spec.server.clone(), name: spec.name.clone() },
            None => local(),
        };
        Ok(Target { client: conn.client.clone(), discovery: conn.discovery.clone(), cluster })
    }
}

fn local() -> Cluster {
    Cluster { server: IN_CLUSTER_SERVER.into(), name: IN_CLUSTER_NAME.into() }
}

/// Clusters as a one-off reader finds them: the cluster of `client`, and the cluster Secrets
/// of Ferry's namespace (Argo CD's label or Ferry's), listed once.
pub struct SecretDestinations {
    client: Client,
    discovery: Arc<Discovery>,
    namespace: String,
    secrets: Vec<Arc<Secret>>,
}

impl SecretDestinations {
    /// Lists the cluster Secrets of `namespace`. Not being allowed to read them is not an error
    /// here: apps in the local cluster still plan, remote ones then say why they cannot.
    pub async fn load(client: Client, namespace: &str) -> Self {
        let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
        let mut secrets = Vec::new();
        for label in [LABEL_FERRY, LABEL_ARGOCD] {
            let params = ListParams::default().labels(&format!("{label}=cluster"));
            if let Ok(list) = api.list(&params).await {
                secrets.extend(list.items.into_iter().map(Arc::new));
            }
        }
        Self {
            client,
            discovery: Arc::new(Discovery::new()),
            namespace: namespace.to_owned(),
            secrets,
        }
    }
}

impl Destinations for SecretDestinations {
    async fn connect(&self, dest: &Destination) -> Result<Target, String> {
        let spec = match select(dest, &self.secrets, &self.namespace).map_err(|e| e.to_string())? {
            Selected::InCluster => {
                return Ok(Target {
                    client: self.client.clone(),
                    discovery: self.discovery.clone(),
                    cluster: local(),
                });
            }
            Selected::Remote(spec, _) => *spec,
        };
        let kubeconfig = secret::kubeconfig(&spec).map_err(|e| e.to_string())?;
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .map_err(|e| format!("cluster {}: {e}", spec.name))?;
        let client = Client::try_from(config).map_err(|e| format!("cluster {}: {e}", spec.name))?;
        Ok(Target {
            client,
            discovery: Arc::new(Discovery::new()),
            cluster: Cluster { server: spec.server.clone(), name: spec.name.clone() },
        })
    }
}
