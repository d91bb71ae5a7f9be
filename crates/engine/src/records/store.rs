//! The engine's repository records: verified apps kept in memory, written to their ConfigMaps
//! in batches (one write per repository once a burst of reconciles has passed), loaded at start.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_apply::tracking::AppId;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, Client};

use super::{RECORD_LABEL, RepoRecord, VERIFIED_KEY, Verified};
use crate::controller::Inner;

/// A record is written once no app was verified for this long and no reconcile is queued…
const QUIET: Duration = Duration::from_millis(200);
/// …or at the latest this long after its first unwritten change.
const AT_MOST: Duration = Duration::from_secs(2);
/// Apps per record: grouped, an entry is its `namespace/name` plus about 25 bytes, so 15,000
/// apps with names of up to 30 characters stay below a ConfigMap's 1 MiB. An app past it gets
/// its own status write instead.
const MAX_APPS: usize = 15_000;

#[derive(Default)]
pub(crate) struct Records {
    state: Mutex<State>,
    changed: tokio::sync::Notify,
}

#[derive(Default)]
struct State {
    records: HashMap<String, Arc<RepoRecord>>,
    dirty: BTreeSet<String>,
}

impl Records {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records `app` as verified: `Some(true)` when that is news, `Some(false)` when the entry
    /// is already there, `None` when the record is full (the caller writes the app's status).
    pub(crate) fn verify(
        &self,
        name: &str,
        url: &str,
        app: &str,
        verified: Verified,
    ) -> Option<bool> {
        let mut state = self.lock();
        let record = state.records.entry(name.to_owned()).or_insert_with(|| {
            Arc::new(RepoRecord {
                name: name.to_owned(),
                url: ferry_source::url::mask_credentials(url),
                ..RepoRecord::default()
            })
        });
        if record.apps.get(app) == Some(&verified) {
            return Some(false);
        }
        if record.apps.len() >= MAX_APPS && !record.apps.contains_key(app) {
            return None;
        }
        Arc::make_mut(record).apps.insert(app.to_owned(), verified);
        state.dirty.insert(name.to_owned());
        drop(state);
        self.changed.notify_one();
        Some(true)
    }

    /// The app wrote its own status: its entries no longer apply (their checkpoint or revision
    /// differs). Dropped from memory, written with the record's next change.
    pub(crate) fn forget(&self, app: &str) {
        let mut state = self.lock();
        for record in state.records.values_mut() {
            if record.apps.contains_key(app) {
                Arc::make_mut(record).apps.remove(app);
            }
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<Arc<RepoRecord>> {
        self.lock().records.get(name).cloned()
    }

    pub(crate) fn snapshot(&self) -> HashMap<String, Arc<RepoRecord>> {
        self.lock().records.clone()
    }

    /// Reads the records in `namespace` (at start, before the first reconcile). A record that
    /// cannot be read is logged and left out: its apps write their own status again.
    pub(crate) async fn load(&self, client: &Client, namespace: &str) {
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
        let list = match api
            .list(&ListParams::default().labels(&format!("{RECORD_LABEL}=true")))
            .await
        {
            Ok(list) => list,
            Err(e) => {
                tracing::warn!(%namespace, error = %e, "could not list the repository records; apps verified before this start write their own status again");
                return;
            }
        };
        let mut state = self.lock();
        for cm in &list.items {
            match RepoRecord::from_config_map(cm) {
                Ok(r) => {
                    state.records.insert(r.name.clone(), Arc::new(r));
                }
                Err(e) => tracing::warn!(error = %e, "repository record left out"),
            }
        }
    }

    fn take_dirty(&self) -> Vec<Arc<RepoRecord>> {
        let mut state = self.lock();
        let names = std::mem::take(&mut state.dirty);
        names.iter().filter_map(|n| state.records.get(n).cloned()).collect()
    }

    fn mark_dirty(&self, name: &str) {
        self.lock().dirty.insert(name.to_owned());
    }
}

/// Writes changed records: once a burst of verifications has been quiet for [`QUIET`] with no
/// reconcile waiting (a push queues every app of the repository), or [`AT_MOST`] after it began,
/// one server-side apply per record.
pub(crate) async fn flush(inner: Arc<Inner>) {
    let records = &inner.records;
    loop {
        records.changed.notified().await;
        let started = tokio::time::Instant::now();
        while started.elapsed() < AT_MOST {
            let quiet = tokio::time::timeout(QUIET, records.changed.notified()).await.is_err();
            if quiet && inner.queue.is_empty() {
                break;
            }
        }
        for record in records.take_dirty() {
            if let Err(e) = write(&inner, &record).await {
                tracing::warn!(record = %record.name, error = %e, "could not write the repository record; retrying in 1 s (apps show their own older revision meanwhile)");
                records.mark_dirty(&record.name);
                tokio::time::sleep(Duration::from_secs(1)).await;
                records.changed.notify_one();
            }
        }
    }
}

/// One apply of the record. With sharded replicas each writes the `verified.shard-N` keys of
/// the shards it holds, under its own field manager, so replicas never remove each other's.
async fn write(inner: &Inner, record: &RepoRecord) -> Result<(), kube::Error> {
    let mut data = BTreeMap::new();
    data.insert("url".to_owned(), record.url.clone());
    data.insert("updatedAt".to_owned(), crate::reconcile::stamp(jiff::Timestamp::now()));
    data.insert("summary".to_owned(), record.summary());
    let manager = match inner.shards.config() {
        None => {
            data.insert(VERIFIED_KEY.to_owned(), record.verified_json(|_| true));
            "ferry-records".to_owned()
        }
        Some(config) => {
            let shard = |app: &str| {
                let (ns, name) = app.split_once('/').unwrap_or(("", app));
                inner.shards.shard_of(&inner.apps, &AppId::new(ns, name))
            };
            for n in inner.shards.held() {
                let json = record.verified_json(|app| shard(app) == n);
                data.insert(format!("{VERIFIED_KEY}.shard-{n}"), json);
            }
            format!("ferry-records-{}", config.identity)
        }
    };
    let cm = serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": record.name,
            "labels": {RECORD_LABEL: "true", "app.kubernetes.io/managed-by": "ferry"},
            "annotations": {"ferry.dev/description": "Apps of this repository the engine verified unchanged at a later commit than their own status says; read by ferry app get/list/wait and the API"},
        },
        "data": data,
    });
    let api: Api<ConfigMap> = Api::namespaced(inner.client.clone(), &inner.config.home_namespace);
    api.patch(&record.name, &PatchParams::apply(&manager).force(), &Patch::Apply(&cm)).await?;
    inner.metrics.record_writes.inc();
    Ok(())
}
