//! Leader election through a `coordination.k8s.io/v1` Lease, so two controller replicas never
//! both act. The holder renews the lease; a replica takes it over only once it expired.
//!
//! # Guarantees
//! [`Leadership::lost`] resolves as soon as a renewal fails for longer than the lease lasts, and
//! the caller must stop acting then (the `ferry controller` command exits, and its Deployment
//! restarts it as a follower).

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use tokio::sync::watch;

#[derive(Clone, Debug)]
pub struct LeaseConfig {
    pub namespace: String,
    pub name: String,
    pub identity: String,
    pub duration: Duration,
    pub renew_every: Duration,
}

impl LeaseConfig {
    pub fn new(namespace: impl Into<String>, identity: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: "ferry-controller".into(),
            identity: identity.into(),
            duration: Duration::from_secs(15),
            renew_every: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    #[error(
        "cannot read or write Lease {namespace}/{name}: {source}; the controller needs get/create/update on leases"
    )]
    Api {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
}

/// Held leadership; renews in the background until dropped.
pub struct Leadership {
    lost: watch::Receiver<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Leadership {
    /// Resolves when leadership is lost.
    pub async fn lost(&mut self) {
        let _ = self.lost.wait_for(|l| *l).await;
    }
}

impl Drop for Leadership {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Waits until this replica holds the lease, then keeps renewing it.
pub async fn acquire(client: Client, config: LeaseConfig) -> Result<Leadership, LeaderError> {
    let api: Api<Lease> = Api::namespaced(client, &config.namespace);
    let err = |source| LeaderError::Api {
        namespace: config.namespace.clone(),
        name: config.name.clone(),
        source,
    };
    loop {
        if try_acquire(&api, &config).await.map_err(err)? {
            break;
        }
        tracing::info!(lease = %config.name, "another replica leads; waiting");
        tokio::time::sleep(config.renew_every).await;
    }
    tracing::info!(lease = %config.name, identity = %config.identity, "became leader");
    let (tx, rx) = watch::channel(false);
    let task = tokio::spawn(async move {
        let mut last_ok = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(config.renew_every).await;
            match try_acquire(&api, &config).await {
                Ok(true) => last_ok = tokio::time::Instant::now(),
                Ok(false) => {
                    let _ = tx.send(true);
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "lease renewal failed");
                    if last_ok.elapsed() > config.duration {
                        let _ = tx.send(true);
                        return;
                    }
                }
            }
        }
    });
    Ok(Leadership { lost: rx, task })
}

/// Takes or renews the lease; `false` when another holder's lease is still valid.
async fn try_acquire(api: &Api<Lease>, config: &LeaseConfig) -> Result<bool, kube::Error> {
    let now = jiff::Timestamp::now();
    let micro = MicroTime(now);
    match api.get_opt(&config.name).await? {
        None => {
            let lease: Lease = serde_json::from_value(json!({
                "metadata": {"name": config.name, "namespace": config.namespace},
                "spec": {"holderIdentity": config.identity, "leaseDurationSeconds": config.duration.as_secs(),
                          "acquireTime": micro, "renewTime": micro, "leaseTransitions": 0}
            }))
            .expect("a Lease literal is valid");
            match api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
                Err(e) => Err(e),
            }
        }
        Some(lease) => {
            let spec = lease.spec.unwrap_or_default();
            let holder = spec.holder_identity.unwrap_or_default();
            let duration = spec.lease_duration_seconds.unwrap_or(15).max(1) as i64;
            let expired = spec
                .renew_time
                .map(|t| now.as_second() - t.0.as_second() > duration)
                .unwrap_or(true);
            if holder != config.identity && !expired {
                return Ok(false);
            }
            let transitions =
                spec.lease_transitions.unwrap_or(0) + i32::from(holder != config.identity);
            let mut patch = json!({
                "metadata": {"resourceVersion": lease.metadata.resource_version},
                "spec": {"holderIdentity": config.identity, "leaseDurationSeconds": config.duration.as_secs(),
                         "renewTime": micro, "leaseTransitions": transitions}
            });
            if holder != config.identity {
                patch["spec"]["acquireTime"] = serde_json::to_value(&micro).unwrap_or_default();
            }
            // The resourceVersion makes two replicas racing for an expired lease conflict instead
            // of both winning.
            match api.patch(&config.name, &PatchParams::default(), &Patch::Merge(&patch)).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
                Err(e) => Err(e),
            }
        }
    }
}
