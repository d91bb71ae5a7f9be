//! The controller's health port: `/healthz` (the process answers) and `/readyz` (it stands by
//! for the lease or leads with its engine running), served from the start — a standby replica
//! holds no API, yet the kubelet must see it alive and ready to take over. The leading replica
//! also labels its pod `ferry.dev/role=leader` so that the Service reaches it alone.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams};

use crate::app::install::manifests::ROLE_LABEL;

/// Where the replica is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    /// Connecting to the cluster, or the engine starting after the lease was won.
    Starting = 0,
    /// Waiting for the lease.
    Standby = 1,
    /// Leading, the engine and API running.
    Leading = 2,
}

/// The phase, shared between the controller and the health server.
#[derive(Clone, Default)]
pub struct Health(Arc<AtomicU8>);

impl Health {
    pub fn set(&self, phase: Phase) {
        self.0.store(phase as u8, Ordering::Relaxed);
    }

    fn ready(&self) -> bool {
        self.0.load(Ordering::Relaxed) != Phase::Starting as u8
    }
}

async fn readyz(State(health): State<Health>) -> (StatusCode, &'static str) {
    if health.ready() {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting")
    }
}

pub fn router(health: Health) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(health)
}

/// Serves the health port in the background.
pub async fn serve(addr: std::net::SocketAddr, health: Health) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("listening on {addr} for health probes: {e}"))?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router(health)).await {
            tracing::error!(error = %e, "the health port stopped");
        }
    });
    Ok(())
}

/// Labels this replica's pod with its role (`leader` / `standby`), when it runs in a pod
/// (`POD_NAME` and `POD_NAMESPACE` set by the Deployment). A failure is logged, not fatal: the
/// Service then misses the leader, but reconciling goes on.
pub async fn label_pod(client: &kube::Client, role: &str) {
    let (Ok(name), Ok(namespace)) = (std::env::var("POD_NAME"), std::env::var("POD_NAMESPACE"))
    else {
        return;
    };
    let api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let patch = serde_json::json!({"metadata": {"labels": {ROLE_LABEL: role}}});
    if let Err(e) = api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
        tracing::warn!(pod = %name, role, error = %e,
            "could not label this pod with its role; the Service will not route to it until it can");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn status(health: &Health, path: &str) -> StatusCode {
        let req = Request::get(path).body(Body::empty()).expect("request");
        router(health.clone()).oneshot(req).await.expect("response").status()
    }

    #[tokio::test]
    async fn a_standby_replica_is_alive_and_ready_and_a_starting_one_is_not_ready() {
        let health = Health::default();
        assert_eq!(status(&health, "/healthz").await, StatusCode::OK);
        assert_eq!(status(&health, "/readyz").await, StatusCode::SERVICE_UNAVAILABLE);
        health.set(Phase::Standby);
        assert_eq!(status(&health, "/readyz").await, StatusCode::OK);
        health.set(Phase::Leading);
        assert_eq!(status(&health, "/readyz").await, StatusCode::OK);
    }
}
