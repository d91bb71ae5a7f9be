//! Helpers for tests in this and other crates: a cluster on a random port with a temporary data dir.

use std::time::Duration;

use crate::{Cluster, ClusterConfig, ClusterError, RunningCluster};

/// Starts a cluster with a temporary data directory, a random port and a fast simulator.
pub async fn start() -> RunningCluster {
    try_start(fast_config()).await.expect("an in-process cluster starts on a random loopback port")
}

/// The configuration `start` uses (to tweak before [`try_start`]).
pub fn fast_config() -> ClusterConfig {
    ClusterConfig::default()
        .simulator_delay(Duration::from_millis(100))
        .bookmark_interval(Duration::from_secs(1))
}

pub async fn try_start(config: ClusterConfig) -> Result<RunningCluster, ClusterError> {
    Cluster::start(config).await
}

/// An HTTPS server on loopback for tests of admission webhooks: its own self-signed CA (for a
/// `caBundle`), a random port, stopped when dropped.
pub struct TestServer {
    url: String,
    ca_pem: String,
    stop: tokio::sync::watch::Sender<bool>,
}

impl TestServer {
    /// Serves `app` over TLS (HTTP/1.1 and HTTP/2) on `127.0.0.1`.
    pub async fn start(app: axum::Router) -> Result<TestServer, ClusterError> {
        let certs = crate::tls::generate()?;
        let tls = crate::tls::server_config(&certs)?;
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ClusterError::Listen { addr, source })?;
        let bound =
            listener.local_addr().map_err(|source| ClusterError::Listen { addr, source })?;
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(crate::http::serve_tls(listener, tls, app, stop_rx));
        Ok(TestServer { url: format!("https://{bound}"), ca_pem: certs.ca_pem, stop })
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The CA certificate, base64-encoded PEM, as `clientConfig.caBundle` takes it.
    pub fn ca_bundle(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(&self.ca_pem)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
