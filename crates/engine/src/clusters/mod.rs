//! The clusters apps deploy into: the cluster Ferry runs in (the engine's own client) and the
//! remote clusters of the cluster Secrets ([`crate::settings`]). Each has one [`Connection`]:
//! client, discovery, watch cache and executor, created on first use, rebuilt when its Secret
//! changes, dropped when no app targets it any more or its Secret is gone.
//!
//! # Guarantees
//! - Objects of two clusters are never confused: each connection has its own watch cache, and
//!   what is keyed across clusters (claims, live events) carries the [`ClusterId`].
//! - A remote cluster is probed (`/version`, time-bound) before a reconcile uses it, unless it
//!   answered moments ago: a cluster that is down stops its apps' reconciles in seconds and
//!   never holds a worker for long.
//! - A failed watch marks the cluster suspect (its apps are reconciled and probe it); a watch
//!   that lists again after a failed probe marks it back (its apps are reconciled at once).

mod cause;
pub mod impersonate;
pub mod scope;
pub mod secret;
pub mod select;
pub(crate) mod watch;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferry_apply::discovery::Discovery;
use ferry_apply::executor::{Executor, ExecutorConfig};
use kube::Client;
use tokio::sync::mpsc;

use crate::application::{Destination, IN_CLUSTER_NAME, IN_CLUSTER_SERVER};
use crate::live::{ClusterId, LiveCache, LiveEvent};
use crate::settings::{SecretType, Settings};

pub use cause::describe as describe_error;
pub use secret::{ClusterSecretError, ClusterSpec};
pub use select::{SelectError, Selected};

/// How long a `/version` probe may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a successful probe is trusted.
const PROBE_FRESH: Duration = Duration::from_secs(15);
/// How long a failed probe is trusted: the apps of a cluster that drops packets do not each
/// wait out their own probe (one probe runs at a time; the others read its answer).
const FAILURE_FRESH: Duration = Duration::from_secs(5);

/// Why an app cannot use its destination cluster now.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(transparent)]
    Select(#[from] SelectError),
    #[error("cannot build a client for cluster {cluster} ({server}) from Secret {secret}: {why}")]
    Client { cluster: String, server: String, secret: String, why: String },
    #[error("cluster {cluster} ({server}) is unreachable: {cause}")]
    Unreachable { cluster: String, server: String, cause: String },
}

/// Whether a cluster answered lately.
#[derive(Debug, Default)]
struct Probe {
    fresh_until: Option<Instant>,
    down: bool,
    /// The last failure: when, and its cause.
    failed: Option<(Instant, String)>,
}

/// Everything Ferry holds for one cluster.
pub struct Connection {
    pub id: ClusterId,
    pub name: String,
    /// The Secret's parsed content (`None`: the cluster Ferry runs in).
    pub spec: Option<ClusterSpec>,
    pub client: Client,
    pub discovery: Arc<Discovery>,
    pub live: Arc<LiveCache>,
    pub executor: Executor,
    /// The Secret's resourceVersion it was built from.
    version: Option<String>,
    probe: Mutex<Probe>,
    /// Held while a probe runs.
    probing: tokio::sync::Mutex<()>,
}

impl Connection {
    fn new(
        id: ClusterId,
        name: String,
        spec: Option<ClusterSpec>,
        client: Client,
        config: &ExecutorConfig,
        events: mpsc::UnboundedSender<LiveEvent>,
        version: Option<String>,
    ) -> Self {
        let discovery = Arc::new(Discovery::new());
        let namespaces = spec.as_ref().map(|s| s.namespaces.clone()).unwrap_or_default();
        let live =
            LiveCache::new(id.clone(), client.clone(), discovery.clone(), events, namespaces);
        Self {
            executor: Executor::new(client.clone(), discovery.clone(), config.clone()),
            id,
            name,
            spec,
            client,
            discovery,
            live,
            version,
            probe: Mutex::default(),
            probing: tokio::sync::Mutex::new(()),
        }
    }

    pub fn is_local(&self) -> bool {
        self.spec.is_none()
    }

    /// Whether the cluster answers: a recent answer (or failure) is trusted for a while, else
    /// the cluster is asked now, by one caller at a time.
    pub async fn check(&self) -> Result<(), ConnectError> {
        if self.is_local() {
            return Ok(());
        }
        if let Some(known) = self.known() {
            return known;
        }
        let _probing = self.probing.lock().await;
        if let Some(known) = self.known() {
            return known;
        }
        let answer = tokio::time::timeout(PROBE_TIMEOUT, self.client.apiserver_version()).await;
        let cause = match answer {
            Ok(Ok(_)) => {
                let fresh_until = Some(Instant::now() + PROBE_FRESH);
                *self.probe() = Probe { fresh_until, down: false, failed: None };
                return Ok(());
            }
            Ok(Err(e)) => cause::describe(&e),
            Err(_) => format!(
                "no answer within {}s (the cluster is down, overloaded or unreachable from here)",
                PROBE_TIMEOUT.as_secs()
            ),
        };
        let failed = Some((Instant::now(), cause.clone()));
        *self.probe() = Probe { fresh_until: None, down: true, failed };
        Err(self.unreachable(cause))
    }

    /// The answer of a recent probe, if one is still trusted.
    fn known(&self) -> Option<Result<(), ConnectError>> {
        let probe = self.probe();
        let now = Instant::now();
        if probe.fresh_until.is_some_and(|t| t > now) {
            return Some(Ok(()));
        }
        let (at, cause) = probe.failed.as_ref()?;
        (now.duration_since(*at) < FAILURE_FRESH).then(|| Err(self.unreachable(cause.clone())))
    }

    fn unreachable(&self, cause: String) -> ConnectError {
        ConnectError::Unreachable { cluster: self.name.clone(), server: self.id.to_string(), cause }
    }

    /// A watch failed: the next reconcile probes again. Returns whether this is news.
    pub fn suspect(&self) -> bool {
        let mut probe = self.probe();
        let news = probe.fresh_until.is_some();
        probe.fresh_until = None;
        news
    }

    /// A watch listed again: returns whether the cluster was known to be down (its apps should
    /// be reconciled now rather than at their next retry).
    pub fn listed(&self) -> bool {
        let mut probe = self.probe();
        probe.failed = None;
        std::mem::take(&mut probe.down)
    }

    fn probe(&self) -> std::sync::MutexGuard<'_, Probe> {
        self.probe.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The connections, by cluster.
pub struct Clusters {
    local: Arc<Connection>,
    remote: Mutex<HashMap<ClusterId, Arc<Connection>>>,
    settings: Arc<Settings>,
    executor: ExecutorConfig,
    events: mpsc::UnboundedSender<LiveEvent>,
}

impl Clusters {
    pub fn new(
        client: Client,
        settings: Arc<Settings>,
        executor: ExecutorConfig,
        events: mpsc::UnboundedSender<LiveEvent>,
    ) -> Self {
        let local = Arc::new(Connection::new(
            ClusterId::from(IN_CLUSTER_SERVER),
            IN_CLUSTER_NAME.to_owned(),
            None,
            client,
            &executor,
            events.clone(),
            None,
        ));
        Self { local, remote: Mutex::default(), settings, executor, events }
    }

    /// The cluster Ferry runs in.
    pub fn local(&self) -> &Arc<Connection> {
        &self.local
    }

    /// The connection for `dest`, built on first use (or after its Secret changed), checked to
    /// answer.
    pub async fn connect(&self, dest: &Destination) -> Result<Arc<Connection>, ConnectError> {
        let secrets = self.settings.secrets(SecretType::Cluster);
        let (spec, secret) = match select::select(dest, &secrets, self.settings.namespace())? {
            Selected::InCluster => return Ok(self.local.clone()),
            Selected::Remote(spec, secret) => (*spec, secret),
        };
        let version = secret.metadata.resource_version.clone();
        let id = ClusterId::from(spec.server.as_str());
        let existing = self.lock().get(&id).cloned();
        let conn = match existing {
            Some(c) if c.version == version && c.spec.as_ref() == Some(&spec) => c,
            _ => {
                let built = Arc::new(self.build(spec.clone(), version.clone()).await?);
                let mut remote = self.lock();
                // Another reconcile may have built the same connection meanwhile: keep one.
                match remote.get(&id) {
                    Some(c) if c.version == version && c.spec.as_ref() == Some(&spec) => c.clone(),
                    _ => {
                        if let Some(old) = remote.insert(id, built.clone()) {
                            old.live.stop();
                        }
                        built
                    }
                }
            }
        };
        conn.check().await?;
        Ok(conn)
    }

    async fn build(
        &self,
        spec: ClusterSpec,
        version: Option<String>,
    ) -> Result<Connection, ConnectError> {
        let failed = |why: String| ConnectError::Client {
            cluster: spec.name.clone(),
            server: spec.server.clone(),
            secret: spec.secret.clone(),
            why,
        };
        let kubeconfig = secret::kubeconfig(&spec).map_err(|e| failed(e.to_string()))?;
        let options = kube::config::KubeConfigOptions::default();
        let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| failed(cause::chain(&e)))?;
        // Time-bound: a cluster that does not answer must not hold a worker for minutes.
        config.connect_timeout = Some(PROBE_TIMEOUT);
        let client = Client::try_from(config).map_err(|e| failed(cause::chain(&e)))?;
        tracing::info!(cluster = %spec.name, server = %spec.server, secret = %spec.secret, "connecting to a cluster");
        Ok(Connection::new(
            ClusterId::from(spec.server.as_str()),
            spec.name.clone(),
            Some(spec),
            client,
            &self.executor,
            self.events.clone(),
            version,
        ))
    }

    /// The connection of `cluster` if Ferry holds one.
    pub fn get(&self, cluster: &str) -> Option<Arc<Connection>> {
        if cluster == &*self.local.id {
            return Some(self.local.clone());
        }
        self.lock().get(cluster).cloned()
    }

    /// The server `dest` names, without connecting (`None`: no such cluster).
    pub fn server_of(&self, dest: &Destination) -> Option<String> {
        select::server_of(dest, &self.settings.secrets(SecretType::Cluster))
    }

    /// Drops the remote connections no app targets (`used` says which servers are), and those
    /// whose Secret is gone. Returns how many were dropped.
    pub fn retain(&self, used: impl Fn(&str) -> bool) -> usize {
        let secrets = self.settings.secrets(SecretType::Cluster);
        let mut remote = self.lock();
        let before = remote.len();
        remote.retain(|id, conn| {
            let secret_exists =
                conn.spec.as_ref().is_some_and(|s| secrets.iter().any(|x| select::secret_name(x) == s.secret));
            let keep = secret_exists && used(id);
            if !keep {
                tracing::info!(cluster = %conn.name, server = %id, "dropping the connection: no app targets the cluster or its Secret is gone");
                conn.live.stop();
            }
            keep
        });
        before - remote.len()
    }

    /// Remote clusters connected now.
    pub fn connected(&self) -> usize {
        self.lock().len()
    }

    /// Live objects in every cluster's watch cache.
    pub fn live_objects(&self) -> usize {
        self.local.live.len() + self.lock().values().map(|c| c.live.len()).sum::<usize>()
    }

    /// Stops every watch (the engine is shutting down).
    pub fn stop(&self) {
        self.local.live.stop();
        for conn in self.lock().drain().map(|(_, c)| c) {
            conn.live.stop();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ClusterId, Arc<Connection>>> {
        self.remote.lock().unwrap_or_else(|p| p.into_inner())
    }
}
