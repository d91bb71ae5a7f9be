//! Keeping up with credential changes: the known hosts ConfigMap is watched beside the settings
//! Secrets, and when either changes, every repository whose credentials are now different has
//! its remembered refs forgotten and its apps reconciled: adding credentials makes a failing app
//! sync without waiting for its backoff, removing them makes the next fetch fail.

use std::collections::HashMap;
use std::sync::Arc;

use ferry_apply::tracking::AppId;
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::store::Writer;
use kube::runtime::watcher::{self, Event};
use kube::{Client, ResourceExt};

use super::{KNOWN_HOSTS_CONFIGMAP, KNOWN_HOSTS_CONFIGMAP_ARGOCD, Repos, Snapshot, fingerprint};
use crate::controller::Inner;
use crate::sources::Sources;

/// Watches the ConfigMaps of Ferry's namespace (the known hosts are two of them).
pub(super) async fn watch_known_hosts(
    client: Client,
    repos: Arc<Repos>,
    writer: Writer<ConfigMap>,
) {
    let namespace = repos.namespace().to_owned();
    let api: Api<ConfigMap> = Api::namespaced(client, &namespace);
    let stream =
        watcher::watcher(api, watcher::Config::default()).default_backoff().reflect(writer);
    let mut stream = std::pin::pin!(stream);
    while let Some(event) = stream.next().await {
        match event {
            Ok(Event::Apply(m) | Event::Delete(m)) if is_known_hosts(&m) => {
                repos.changed.send_modify(|n| *n += 1);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(
                %namespace, error = %e,
                "watch on the SSH known hosts ConfigMap failed; retrying (Ferry needs get, list and watch on ConfigMaps in its namespace)"
            ),
        }
    }
}

fn is_known_hosts(m: &ConfigMap) -> bool {
    let name = m.name_any();
    name == KNOWN_HOSTS_CONFIGMAP || name == KNOWN_HOSTS_CONFIGMAP_ARGOCD
}

/// Reconciles the apps of each repository whose credentials changed.
pub(crate) async fn follow(inner: Arc<Inner>) {
    let mut secrets = inner.settings.changes();
    let mut hosts = inner.repos.changed.subscribe();
    let mut before = inner.repos.snapshot();
    loop {
        tokio::select! {
            changed = secrets.changed() => if changed.is_err() { return },
            changed = hosts.changed() => if changed.is_err() { return },
        }
        let now = inner.repos.snapshot();
        for broken in now.broken() {
            tracing::warn!(error = %broken, "a repository Secret cannot be used");
        }
        let n = reconcile_changed(&inner, &before, &now);
        if n > 0 {
            tracing::info!(
                apps = n,
                "repository credentials changed; reconciling the apps that use them"
            );
        }
        inner.repos.resolver.sweep(&now);
        before = now;
    }
}

/// Triggers the apps whose repository is fetched differently in `now` than in `before`, after
/// forgetting that repository's refs; returns how many.
fn reconcile_changed(inner: &Inner, before: &Snapshot, now: &Snapshot) -> usize {
    // By URL as written, not by `RepoUrl::key`: `git://h/r` and `https://h/r` share a key (one
    // repository) but not their credentials.
    let mut verdict: HashMap<String, bool> = HashMap::new();
    let mut n = 0;
    for app in inner.apps.state() {
        let raw = &app.spec.source.repo_url;
        let Ok(url) = Sources::parse_url(raw) else { continue };
        let changed = *verdict.entry(super::select::normalize(raw)).or_insert_with(|| {
            let changed = fingerprint(before, raw) != fingerprint(now, raw);
            if changed {
                inner.sources.invalidate(&url);
            }
            changed
        });
        if changed {
            let id = AppId::new(app.namespace().unwrap_or_default(), app.name_any());
            inner.trigger(&id, |r| r.poll = true);
            n += 1;
        }
    }
    n
}
