//! The automation controller: one loop that, every tick, scans the ImageRepositories that are
//! due ([`super::scan`]), re-evaluates the ImagePolicies whose inputs changed
//! ([`super::choose`]), and writes back for the ImageUpdateAutomations that are due or whose
//! chosen images changed ([`super::run`]). The three kinds are read
//! from watch-fed caches, so a tick with nothing due makes no API calls.
//!
//! # Guarantees
//! - A failed scan keeps the tags of the last successful one out of the policies: the policy
//!   reports the error instead of choosing from a stale or partial list.
//! - Status is written only when it changes (besides the scan time of a scan).
//! - Registry and Git credentials live in memory only; errors and `Debug` mask them.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use super::crd::{ImagePolicy, ImageRepository, ImageUpdateAutomation, LatestRef, crds};
use crate::registry::{Credentials, RegistryClient, RegistryConfig, RegistryError};
use ferry_source::duration::parse_go_duration;

/// Field manager of the CRD installation.
const FIELD_MANAGER: &str = "ferry-image";

#[derive(Debug, Clone)]
pub struct AutomationConfig {
    /// Where the Git work trees of the write-backs live.
    pub data_dir: PathBuf,
    /// Watch this namespace only (`None`: all namespaces).
    pub namespace: Option<String>,
    /// How often due work is looked for (intervals are rounded up to it).
    pub tick: Duration,
    /// The shortest interval honoured, whatever a spec asks (protects registries).
    pub min_interval: Duration,
    pub registry: RegistryConfig,
    /// Install (server-side apply) the three CRDs at start.
    pub install_crds: bool,
    /// Registry scans running at once.
    pub concurrent_scans: usize,
    /// Most tags a `newest` policy looks up creation times for (two requests each).
    pub max_newest_candidates: usize,
    /// Commit author when a spec names none.
    pub default_author: (String, String),
}

impl AutomationConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        AutomationConfig {
            data_dir: data_dir.into(),
            namespace: None,
            tick: Duration::from_secs(1),
            min_interval: Duration::from_secs(10),
            registry: RegistryConfig::default(),
            install_crds: true,
            concurrent_scans: 4,
            max_newest_candidates: 100,
            default_author: ("ferry".to_string(), "ferry@localhost".to_string()),
        }
    }

    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    pub fn tick(mut self, tick: Duration) -> Self {
        self.tick = tick;
        self
    }

    pub fn min_interval(mut self, min: Duration) -> Self {
        self.min_interval = min;
        self
    }

    pub fn registry(mut self, registry: RegistryConfig) -> Self {
        self.registry = registry;
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AutomationError {
    #[error("cannot install the image automation CRDs: {0}")]
    InstallCrds(#[source] kube::Error),
    #[error("cannot create the data directory {}: {source}", path.display())]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot build the registry client: {0}")]
    Registry(#[source] RegistryError),
}

/// The running controller. [`AutomationHandle::shutdown`] stops it; dropping the handle stops
/// it too, abruptly.
pub struct AutomationHandle {
    stop: watch::Sender<bool>,
    wake: Arc<Notify>,
    /// The loop.
    main: JoinSet<()>,
    /// The watches feeding the caches.
    watches: JoinSet<()>,
}

impl AutomationHandle {
    /// Runs a pass now instead of at the next tick.
    pub fn trigger(&self) {
        self.wake.notify_one();
    }

    /// Stops the loop at its next await point (a Git command already running finishes on its
    /// own thread) and the watches.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        let stopped = tokio::time::timeout(Duration::from_secs(10), self.main.join_next()).await;
        if stopped.is_err() {
            self.main.abort_all();
        }
        self.watches.abort_all();
        while self.watches.join_next().await.is_some() {}
    }
}

/// Server-side applies the three CRDs and waits (up to 10 s) until each is established.
pub async fn install_crds(client: &Client) -> Result<(), kube::Error> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in crds() {
        let name = crd.name_any();
        api.patch(&name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&crd)).await?;
        for _ in 0..100 {
            let established = api.get_opt(&name).await?.and_then(|c| c.status).is_some_and(|s| {
                s.conditions
                    .unwrap_or_default()
                    .iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
            });
            if established {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

/// Starts the controller against `client`.
pub async fn start(
    client: Client,
    config: AutomationConfig,
) -> Result<AutomationHandle, AutomationError> {
    if config.install_crds {
        install_crds(&client).await.map_err(AutomationError::InstallCrds)?;
    }
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|source| AutomationError::DataDir { path: config.data_dir.clone(), source })?;
    let registry =
        RegistryClient::new(config.registry.clone()).map_err(AutomationError::Registry)?;
    let mut watches = JoinSet::new();
    let wake = Arc::new(Notify::new());
    let repositories = reflect::<ImageRepository>(&client, &config, &mut watches, &wake);
    let policies = reflect::<ImagePolicy>(&client, &config, &mut watches, &wake);
    let automations = reflect::<ImageUpdateAutomation>(&client, &config, &mut watches, &wake);
    let (stop, mut stopped) = watch::channel(false);
    let reporter =
        kube::runtime::events::Reporter { controller: "ferry-image".into(), instance: None };
    let recorder = kube::runtime::events::Recorder::new(client.clone(), reporter);
    let context =
        Context { client, recorder, config, registry, repositories, policies, automations };
    let woken = wake.clone();
    let mut main = JoinSet::new();
    main.spawn(async move {
        let mut state = State::default();
        loop {
            tokio::select! {
                _ = context.pass(&mut state) => {}
                _ = stopped.changed() => return,
            }
            tokio::select! {
                _ = tokio::time::sleep(context.config.tick) => {}
                _ = woken.notified() => {}
                _ = stopped.changed() => return,
            }
        }
    });
    Ok(AutomationHandle { stop, wake, main, watches })
}

/// A watch-fed cache of one kind; a change to any object wakes the loop.
fn reflect<K>(
    client: &Client,
    config: &AutomationConfig,
    tasks: &mut JoinSet<()>,
    wake: &Arc<Notify>,
) -> Store<K>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let api: Api<K> = match &config.namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    };
    let (store, writer) = reflector::store();
    let wake = wake.clone();
    tasks.spawn(async move {
        let stream = watcher::watcher(api, watcher::Config::default())
            .default_backoff()
            .reflect(writer)
            .applied_objects();
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            if let Err(error) = event {
                tracing::warn!(%error, kind = %K::kind(&()), "image automation watch failed; retrying");
            }
            wake.notify_one();
        }
    });
    store
}

/// `namespace/name`.
pub(super) type Key = String;

pub(super) fn key_of<K: Resource>(object: &K) -> Key {
    format!(
        "{}/{}",
        object.meta().namespace.as_deref().unwrap_or_default(),
        object.meta().name.as_deref().unwrap_or_default()
    )
}

#[derive(Default)]
pub(super) struct State {
    pub(super) scans: u64,
    pub(super) repositories: HashMap<Key, RepositoryMemo>,
    pub(super) policies: HashMap<Key, PolicyMemo>,
    pub(super) automations: HashMap<Key, AutomationMemo>,
}

pub(super) struct RepositoryMemo {
    pub(super) generation: Option<i64>,
    pub(super) at: Instant,
    /// Increases with every scan, so policies know to look again.
    pub(super) scan: u64,
    pub(super) image: String,
    pub(super) insecure: bool,
    pub(super) credentials: Option<Credentials>,
    pub(super) tags: Result<Arc<Vec<String>>, String>,
}

pub(super) struct PolicyMemo {
    pub(super) generation: Option<i64>,
    pub(super) scan: u64,
    pub(super) latest: Result<LatestRef, String>,
}

pub(super) struct AutomationMemo {
    pub(super) generation: Option<i64>,
    pub(super) at: Instant,
    pub(super) inputs: Vec<String>,
}

pub(super) struct Context {
    pub(super) client: Client,
    pub(super) recorder: kube::runtime::events::Recorder,
    pub(super) config: AutomationConfig,
    pub(super) registry: RegistryClient,
    pub(super) repositories: Store<ImageRepository>,
    pub(super) policies: Store<ImagePolicy>,
    pub(super) automations: Store<ImageUpdateAutomation>,
}

impl Context {
    async fn pass(&self, state: &mut State) {
        self.scan_repositories(state).await;
        self.evaluate_policies(state).await;
        self.write_back(state).await;
    }

    /// Posts a Kubernetes Event on `object` from a task of its own: a slow or missing events API
    /// never delays a pass.
    pub(super) fn publish<K>(&self, object: &K, warning: bool, reason: &str, note: String)
    where
        K: kube::Resource<DynamicType = ()>,
    {
        use kube::runtime::events::{Event, EventType};
        let event = Event {
            type_: if warning { EventType::Warning } else { EventType::Normal },
            reason: reason.into(),
            note: Some(note.chars().take(1000).collect()),
            action: reason.into(),
            secondary: None,
        };
        let recorder = self.recorder.clone();
        let reference = object.object_ref(&());
        tokio::spawn(async move {
            let posted =
                tokio::time::timeout(Duration::from_secs(10), recorder.publish(&event, &reference))
                    .await;
            if !matches!(posted, Ok(Ok(()))) {
                tracing::debug!(reason = %event.reason, "could not post an image automation event");
            }
        });
    }

    pub(super) fn interval(&self, text: &str) -> Result<Duration, String> {
        parse_go_duration(text).map(|d| d.max(self.config.min_interval)).map_err(|e| e.to_string())
    }

    pub(super) async fn secret(&self, namespace: &str, name: &str) -> Result<Secret, String> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        match api.get_opt(name).await {
            Ok(Some(secret)) => Ok(secret),
            Ok(None) => Err(format!("Secret {namespace}/{name} not found")),
            Err(error) => Err(format!("reading Secret {namespace}/{name}: {error}")),
        }
    }

    /// Patches the status subresource when `new` differs from `old`. Fields absent from `new`
    /// are sent as `null`, so a merge patch clears them (an error that went away).
    pub(super) async fn set_status<K, S>(&self, object: &K, old: &Option<S>, new: S)
    where
        K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + std::fmt::Debug,
        S: Serialize + PartialEq + Default,
    {
        if old.as_ref() == Some(&new) {
            return;
        }
        let mut value = serde_json::to_value(&new).unwrap_or_default();
        let old_value = old.as_ref().map(|o| serde_json::to_value(o).unwrap_or_default());
        if let (Some(map), Some(serde_json::Value::Object(old_map))) =
            (value.as_object_mut(), old_value)
        {
            for key in old_map.keys() {
                map.entry(key.clone()).or_insert(serde_json::Value::Null);
            }
        }
        let namespace = object.meta().namespace.clone().unwrap_or_default();
        let name = object.meta().name.clone().unwrap_or_default();
        let api: Api<K> = Api::namespaced(self.client.clone(), &namespace);
        let patch = serde_json::json!({ "status": value });
        if let Err(error) =
            api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch)).await
        {
            tracing::warn!(object = %format!("{}/{namespace}/{name}", K::kind(&())), %error, "writing status failed");
        }
    }
}
