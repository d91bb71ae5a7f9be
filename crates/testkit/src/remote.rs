//! An extra embedded cluster to deploy into, as `ferry cluster serve` runs one: its own data
//! directory, CA and authentication, a port that stays the same across [`RemoteCluster::stop`]
//! and [`RemoteCluster::restart`] (an outage and a return), and the Argo CD cluster Secret that
//! points Ferry at it (test only).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use ferry_cluster::RunningCluster;
use kube::Client;
use serde_json::{Value, json};

/// A served cluster that can go down and come back on the same address with the same state.
pub struct RemoteCluster {
    pub name: String,
    dir: PathBuf,
    addr: SocketAddr,
    url: String,
    ca_pem: String,
    token: String,
    running: Option<RunningCluster>,
}

impl RemoteCluster {
    /// Starts a cluster keeping its state in `dir`, on a free loopback port.
    pub async fn start(name: &str, dir: &Path) -> Self {
        let running = serve(dir, SocketAddr::from(([127, 0, 0, 1], 0))).await;
        Self {
            name: name.to_owned(),
            dir: dir.to_owned(),
            addr: running.addr(),
            url: running.url().to_owned(),
            ca_pem: running.ca_pem().to_owned(),
            token: running.token().to_owned(),
            running: Some(running),
        }
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The cluster's CA certificate (PEM).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The static admin token.
    pub fn token(&self) -> &str {
        &self.token
    }

    pub fn kubeconfig_path(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }

    /// An admin client (the kubeconfig's client certificate).
    pub async fn client(&self) -> Client {
        self.running.as_ref().expect("the cluster runs").client().await.expect("a client")
    }

    /// Stops serving (connections drop, as when the process is killed); the state is kept.
    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await.expect("the cluster stops and keeps its state");
        }
    }

    /// Serves again on the same address from the same state.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.running = Some(serve(&self.dir, self.addr).await);
    }

    /// The Argo CD cluster Secret for this cluster: `name`, `server` and a `config` with the
    /// admin token and `ca_pem` as the CA (pass another cluster's to get a foreign CA).
    pub fn secret(&self, secret_name: &str, ca_pem: &str) -> Value {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let config = json!({"bearerToken": self.token, "tlsClientConfig": {"caData": b64(ca_pem)}});
        cluster_secret(
            secret_name,
            &[("name", &self.name), ("server", &self.url), ("config", &config.to_string())],
        )
    }
}

/// A Secret labelled as an Argo CD cluster Secret with these keys (`stringData`).
pub fn cluster_secret(secret_name: &str, pairs: &[(&str, &str)]) -> Value {
    let data: serde_json::Map<String, Value> =
        pairs.iter().map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned()))).collect();
    json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": secret_name, "labels": {"argocd.argoproj.io/secret-type": "cluster"}},
        "stringData": data,
    })
}

async fn serve(dir: &Path, listen: SocketAddr) -> RunningCluster {
    let config = ferry_cluster::testing::fast_config().data_dir(dir).listen(listen);
    ferry_cluster::testing::try_start(config).await.expect("the remote cluster starts")
}
