//! The live state of managed objects, kept by watches: one label-selected watch per kind (never
//! a scan per app), started when an app first declares or records that kind. Reconciles read from
//! here, so a cycle in which nothing changed makes no API calls.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use ferry_apply::discovery::{Discovery, DiscoveryError, gvk_of};
use ferry_apply::object::{ObjKey, label};
use ferry_apply::tracking::LABEL_APP;
use futures::StreamExt;
use kube::Client;
use kube::api::{Api, DynamicObject};
use kube::discovery::ApiResource;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde_json::Value;
use tokio::sync::{mpsc, watch};

use crate::compare::resource_version;

/// Which cluster a cache watches: its API server URL (`https://kubernetes.default.svc` for the
/// cluster Ferry runs in). Objects of two clusters are never keyed alike: each cluster has its
/// own cache, and everything keyed across clusters pairs the key with this.
pub type ClusterId = Arc<str>;

/// What the watches of one cluster report.
#[derive(Clone, Debug)]
pub enum LiveEvent {
    /// A change seen on a managed object.
    Object {
        cluster: ClusterId,
        /// The value of the object's `ferry.dev/app` label (which app it belongs to).
        app_label: String,
        key: ObjKey,
    },
    /// A watch failed (the cluster may be down); it retries with backoff.
    Trouble { cluster: ClusterId },
    /// A watch listed its kind (again): the cluster answers.
    Listed { cluster: ClusterId },
}

/// (group, kind): one watch each, whatever versions the apps use.
type KindKey = (String, String);

/// One live object, kept as the compact JSON it was served as: a parsed `Value` costs about ten
/// times its JSON (each map is a B-tree node of eleven slots), and the cache holds every managed
/// object of a cluster, while a reconcile reads only its own app's objects (parsed on [`LiveCache::get`]).
struct Entry {
    resource_version: u64,
    app_label: Box<str>,
    json: Box<[u8]>,
}

impl Entry {
    fn of(value: &Value) -> Option<Self> {
        Some(Self {
            resource_version: resource_version(value),
            app_label: label(value, LABEL_APP).unwrap_or_default().into(),
            json: serde_json::to_vec(value).ok()?.into_boxed_slice(),
        })
    }

    fn value(&self) -> Option<Value> {
        serde_json::from_slice(&self.json).ok()
    }
}

pub struct LiveCache {
    cluster: ClusterId,
    client: Client,
    discovery: Arc<Discovery>,
    objects: RwLock<HashMap<ObjKey, Entry>>,
    /// One watch per kind, or per kind and namespace where the cluster's Secret limits Ferry
    /// to some namespaces (its credentials may not list cluster-wide); each says when listed.
    watches: Mutex<HashMap<KindKey, Vec<watch::Receiver<bool>>>>,
    /// The namespaces namespaced kinds are watched in (empty: cluster-wide).
    namespaces: Vec<String>,
    events: mpsc::UnboundedSender<LiveEvent>,
    /// The watch tasks, stopped by [`LiveCache::stop`].
    tasks: Mutex<tokio::task::JoinSet<()>>,
}

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    #[error(
        "the watch on {kind} did not list its objects within {seconds}s; the cluster may be slow or unreachable"
    )]
    NotReady { kind: String, seconds: u64 },
}

impl LiveCache {
    /// A cache of `cluster`'s managed objects, reporting on `events` (shared by all clusters);
    /// namespaced kinds are watched in `namespaces` only when it is not empty.
    pub fn new(
        cluster: ClusterId,
        client: Client,
        discovery: Arc<Discovery>,
        events: mpsc::UnboundedSender<LiveEvent>,
        namespaces: Vec<String>,
    ) -> Arc<Self> {
        Arc::new(Self {
            namespaces,
            cluster,
            client,
            discovery,
            objects: RwLock::default(),
            watches: Mutex::default(),
            events,
            tasks: Mutex::default(),
        })
    }

    fn send(&self, app_label: String, key: ObjKey) {
        let _ =
            self.events.send(LiveEvent::Object { cluster: self.cluster.clone(), app_label, key });
    }

    /// The object as last seen (parsed anew at each call: keep it while it is needed).
    pub fn get(&self, key: &ObjKey) -> Option<Arc<Value>> {
        let objects = self.objects.read().unwrap_or_else(|p| p.into_inner());
        objects.get(key).and_then(Entry::value).map(Arc::new)
    }

    /// The resourceVersion of the object as last seen, without parsing it.
    pub fn version(&self, key: &ObjKey) -> Option<u64> {
        let objects = self.objects.read().unwrap_or_else(|p| p.into_inner());
        objects.get(key).map(|e| e.resource_version)
    }

    /// Records what the server returned from an apply, before the watch reports it, so the next
    /// comparison sees it at once. A newer version from the watch is never replaced by an older one.
    pub fn observe(&self, key: ObjKey, obj: Value) {
        let Some(entry) = Entry::of(&obj) else { return };
        let mut objects = self.objects.write().unwrap_or_else(|p| p.into_inner());
        let newer = match objects.get(&key) {
            Some(old) => entry.resource_version >= old.resource_version,
            None => true,
        };
        if newer {
            objects.insert(key, entry);
        }
    }

    pub fn forget(&self, key: &ObjKey) {
        self.objects.write().unwrap_or_else(|p| p.into_inner()).remove(key);
    }

    pub fn len(&self) -> usize {
        self.objects.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stops every watch (the engine is shutting down).
    pub fn stop(&self) {
        self.tasks.lock().unwrap_or_else(|p| p.into_inner()).abort_all();
        self.watches.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Number of kinds watched.
    pub fn watched_kinds(&self) -> usize {
        self.watches.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Makes sure every kind in `kinds` (apiVersion, kind) is watched and listed.
    pub async fn ensure_watched(
        self: &Arc<Self>,
        kinds: &HashSet<(String, String)>,
        timeout: Duration,
    ) -> Result<(), LiveError> {
        let mut waits = Vec::new();
        for (api_version, kind) in kinds {
            let gvk = gvk_of(api_version, kind);
            let key: KindKey = (gvk.group.clone(), gvk.kind.clone());
            let existing =
                self.watches.lock().unwrap_or_else(|p| p.into_inner()).get(&key).cloned();
            let ready = match existing {
                Some(rx) => rx,
                None => {
                    let resolved = self.discovery.resolve(&self.client, &gvk).await?;
                    let scopes: Vec<String> = if resolved.namespaced && !self.namespaces.is_empty()
                    {
                        self.namespaces.clone()
                    } else {
                        vec![String::new()]
                    };
                    let mut watches = self.watches.lock().unwrap_or_else(|p| p.into_inner());
                    match watches.get(&key) {
                        Some(rx) => rx.clone(),
                        None => {
                            let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
                            let mut all = Vec::new();
                            for scope in scopes {
                                let (tx, rx) = watch::channel(false);
                                all.push(rx);
                                let watch = Arc::clone(self).run_watch(
                                    resolved.resource.clone(),
                                    scope,
                                    tx,
                                );
                                tasks.spawn(watch);
                            }
                            watches.insert(key.clone(), all.clone());
                            all
                        }
                    }
                }
            };
            waits.extend(ready.into_iter().map(|r| (format!("{api_version}/{kind}"), r)));
        }
        for (kind, mut ready) in waits {
            let done = tokio::time::timeout(timeout, ready.wait_for(|r| *r)).await;
            if !matches!(done, Ok(Ok(_))) {
                return Err(LiveError::NotReady { kind, seconds: timeout.as_secs() });
            }
        }
        Ok(())
    }

    /// Watches one kind in namespace `scope` (empty: all namespaces).
    async fn run_watch(
        self: Arc<Self>,
        resource: ApiResource,
        scope: String,
        ready: watch::Sender<bool>,
    ) {
        let api: Api<DynamicObject> = if scope.is_empty() {
            Api::all_with(self.client.clone(), &resource)
        } else {
            Api::namespaced_with(self.client.clone(), &scope, &resource)
        };
        let config = watcher::Config::default().labels(LABEL_APP);
        let mut stream = watcher::watcher(api, config).default_backoff().boxed();
        let mut relist: Option<HashMap<ObjKey, Entry>> = None;
        while let Some(event) = stream.next().await {
            match event {
                Ok(Event::Init) => relist = Some(HashMap::new()),
                Ok(Event::InitApply(obj)) => {
                    if let Some((key, entry)) = to_entry(obj, &resource) {
                        relist.get_or_insert_with(HashMap::new).insert(key, entry);
                    }
                }
                Ok(Event::InitDone) => {
                    let fresh = relist.take().unwrap_or_default();
                    self.replace_kind(&resource, &scope, fresh);
                    let _ = ready.send(true);
                    let _ = self.events.send(LiveEvent::Listed { cluster: self.cluster.clone() });
                }
                Ok(Event::Apply(obj)) => {
                    if let Some((key, entry)) = to_entry(obj, &resource) {
                        let app_label = entry.app_label.to_string();
                        self.objects
                            .write()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(key.clone(), entry);
                        self.send(app_label, key);
                    }
                }
                Ok(Event::Delete(obj)) => {
                    if let Some((key, entry)) = to_entry(obj, &resource) {
                        self.objects.write().unwrap_or_else(|p| p.into_inner()).remove(&key);
                        self.send(entry.app_label.to_string(), key);
                    }
                }
                Err(e) => {
                    tracing::warn!(cluster = %self.cluster, kind = %resource.kind, error = %e, "watch failed; retrying with backoff");
                    let _ = self.events.send(LiveEvent::Trouble { cluster: self.cluster.clone() });
                }
            }
        }
    }

    /// Swaps in a fresh listing of one kind (in namespace `scope`, or all when empty), reporting
    /// what changed meanwhile.
    fn replace_kind(&self, resource: &ApiResource, scope: &str, fresh: HashMap<ObjKey, Entry>) {
        let mut changed = Vec::new();
        {
            let mut objects = self.objects.write().unwrap_or_else(|p| p.into_inner());
            let stale: Vec<ObjKey> = objects
                .keys()
                .filter(|k| {
                    k.group == resource.group
                        && k.kind == resource.kind
                        && (scope.is_empty() || k.namespace == scope)
                        && !fresh.contains_key(*k)
                })
                .cloned()
                .collect();
            for key in stale {
                if let Some(old) = objects.remove(&key) {
                    changed.push((old.app_label.to_string(), key));
                }
            }
            for (key, entry) in fresh {
                let same = objects
                    .get(&key)
                    .is_some_and(|old| old.resource_version == entry.resource_version);
                if !same {
                    changed.push((entry.app_label.to_string(), key.clone()));
                    objects.insert(key, entry);
                }
            }
        }
        for (app_label, key) in changed {
            self.send(app_label, key);
        }
    }
}

fn to_entry(obj: DynamicObject, resource: &ApiResource) -> Option<(ObjKey, Entry)> {
    let mut value = serde_json::to_value(obj).ok()?;
    // Items of a list carry no apiVersion/kind on a real server.
    if value.get("kind").and_then(Value::as_str).is_none_or(str::is_empty) {
        value["kind"] = Value::String(resource.kind.clone());
    }
    if value.get("apiVersion").and_then(Value::as_str).is_none_or(str::is_empty) {
        value["apiVersion"] = Value::String(resource.api_version.clone());
    }
    let key = ObjKey::of(&value).ok()?;
    Some((key, Entry::of(&value)?))
}
