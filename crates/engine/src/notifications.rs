//! The engine's side of notifications: after a status write (and when a sync marks itself
//! Running) an app with subscription annotations is handed to the notifier as an
//! [`AppEvent`] — the Application with the status just written, the sync kind, the commit's
//! author and message, the change set in a few words. Handing over never waits (the notifier's
//! queue is bounded and drops when full), so a slow or failing sink never holds a reconcile.
//!
//! [`watch`] keeps the notifier's config equal to the ConfigMap `ferry-notifications` and the
//! Secret `ferry-notifications-secret` in Ferry's namespace: a change takes effect at once.

use std::collections::BTreeMap;
use std::sync::Arc;

use ferry_notify::event::Commit;
use ferry_notify::{AppEvent, Config};
use ferry_source::CommitId;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde_json::Value;

use crate::controller::Inner;
use crate::reconcile::{Cycle, SyncKind};
use crate::sources::Sources;

/// Reports the app's state to the notifier when it subscribes to anything.
pub(crate) fn emit(cy: &mut Cycle<'_>) {
    if !ferry_notify::subscribe::any(cy.app.annotations()) {
        return;
    }
    let mut app = serde_json::to_value(cy.app).unwrap_or(Value::Null);
    if let Some(object) = app.as_object_mut() {
        object.insert("status".into(), serde_json::to_value(&cy.status).unwrap_or(Value::Null));
    }
    let op = cy.status.operation_state.as_ref();
    // A running sync is about its revision; otherwise the app is at the sync status's (a commit
    // that changed no object moves it without an operation).
    let running = op.filter(|o| o.phase == crate::application::OperationPhase::Running);
    let revision = match running {
        Some(o) => o.revision.clone(),
        None if !cy.status.sync.revision.is_empty() => cy.status.sync.revision.clone(),
        None => op.map(|o| o.revision.clone()).unwrap_or_default(),
    };
    let changes =
        op.filter(|o| o.revision == revision).map(|o| changes(&o.change_set)).unwrap_or_default();
    let sync_kind = match cy.synced {
        Some(SyncKind::Auto) => "auto",
        Some(SyncKind::Manual { .. }) => "manual",
        Some(SyncKind::Heal) => "heal",
        None => "",
    };
    let event = AppEvent {
        namespace: cy.id.namespace.clone(),
        name: cy.id.name.clone(),
        app,
        sync_kind: sync_kind.into(),
        commit: commit(cy, &revision),
        changes,
        deleted: false,
    };
    cy.inner.notifier.observe(event);
}

/// The commit's author and message, read once per revision (from the local cache: no fetch).
fn commit(cy: &mut Cycle<'_>, revision: &str) -> Commit {
    if let Some(known) = cy.mem.commit.as_ref().filter(|c| c.revision == revision) {
        return known.clone();
    }
    let info = Sources::parse_url(&cy.app.spec.source.repo_url).ok().and_then(|url| {
        let id = CommitId::parse(revision).ok()?;
        cy.inner.sources.commit_info(&url, &id).ok()
    });
    let commit = Commit {
        revision: revision.to_owned(),
        author: info.as_ref().map(|i| i.author.clone()).unwrap_or_default(),
        message: info.map(|i| i.message).unwrap_or_default(),
    };
    cy.mem.commit = Some(commit.clone());
    commit
}

/// `2 created, 1 configured`: the change set's actions counted.
fn changes(items: &[crate::application::ChangeSetItem]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for item in items {
        *counts.entry(item.action.as_str()).or_default() += 1;
    }
    counts.iter().map(|(action, n)| format!("{n} {action}")).collect::<Vec<_>>().join(", ")
}

/// What the watches saw last.
#[derive(Default)]
struct Seen {
    data: BTreeMap<String, String>,
    secret: BTreeMap<String, String>,
}

/// Watches the ConfigMap and the Secret and hands each new config to the notifier.
pub(crate) async fn watch(inner: Arc<Inner>) {
    let namespace = inner.config.home_namespace.clone();
    let by_name = |name: &str| watcher::Config::default().fields(&format!("metadata.name={name}"));
    let maps: Api<ConfigMap> = Api::namespaced(inner.client.clone(), &namespace);
    let secrets: Api<Secret> = Api::namespaced(inner.client.clone(), &namespace);
    let maps = watcher::watcher(maps, by_name(ferry_notify::CONFIGMAP)).default_backoff();
    let secrets = watcher::watcher(secrets, by_name(ferry_notify::SECRET)).default_backoff();
    let maps = maps.map(|e| e.map(|e| data_of(e, |m: ConfigMap| m.data.unwrap_or_default())));
    let secrets = secrets.map(|e| e.map(|e| data_of(e, |s: Secret| secret_data(&s))));
    let mut maps = std::pin::pin!(maps);
    let mut secrets = std::pin::pin!(secrets);
    let mut seen = Seen::default();
    loop {
        let (event, is_map) = tokio::select! {
            Some(e) = maps.next() => (e, true),
            Some(e) = secrets.next() => (e, false),
            else => return,
        };
        let data = match event {
            Ok(Event::Apply(d) | Event::InitApply(d)) => d,
            Ok(Event::Delete(_)) => BTreeMap::new(),
            Ok(Event::Init | Event::InitDone) => continue,
            Err(e) => {
                tracing::warn!(%namespace, error = %e, "watch on the notifications ConfigMap or Secret failed; retrying (the config read last stays)");
                continue;
            }
        };
        if is_map {
            seen.data = data
        } else {
            seen.secret = data
        }
        inner.notifier.set_config(Config::parse(&seen.data, &seen.secret));
    }
}

/// A watch event with the object's data only.
fn data_of<K>(
    event: Event<K>,
    data: impl Fn(K) -> BTreeMap<String, String>,
) -> Event<BTreeMap<String, String>> {
    match event {
        Event::Apply(k) => Event::Apply(data(k)),
        Event::InitApply(k) => Event::InitApply(data(k)),
        Event::Delete(k) => Event::Delete(data(k)),
        Event::Init => Event::Init,
        Event::InitDone => Event::InitDone,
    }
}

fn secret_data(secret: &Secret) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = secret.string_data.clone().unwrap_or_default();
    for (key, bytes) in secret.data.iter().flatten() {
        if let Ok(value) = String::from_utf8(bytes.0.clone()) {
            out.insert(key.clone(), value.trim_end_matches(['\n', '\r']).to_owned());
        }
    }
    out
}
