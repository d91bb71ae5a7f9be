//! Keeping up with key Secrets: the Secrets of every namespace that holds an Application with
//! `spec.decryption` (and of Ferry's home namespace, for the default key Secret) are watched, and
//! a change to a key Secret reconciles the apps that name it (all apps with `spec.decryption`
//! for the default one): a key added makes a failing app render without waiting for its
//! backoff, a key removed or replaced renders the app again with the keys as they are now.
//!
//! Only the Secret's namespace and name are looked at; its values are dropped with the event.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use ferry_apply::tracking::AppId;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::DEFAULT_KEYS_SECRET;
use crate::controller::Inner;

/// How often the set of watched namespaces is brought up to date with the Applications.
const NAMESPACES_EVERY: Duration = Duration::from_secs(5);

/// Runs until the engine stops (the watches die with this task's `JoinSet`).
pub(crate) async fn follow(inner: Arc<Inner>) {
    let (tx, mut rx) = mpsc::channel::<(String, String)>(256);
    let mut watches = JoinSet::new();
    let mut watched = HashSet::new();
    let mut tick = tokio::time::interval(NAMESPACES_EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                for ns in namespaces(&inner) {
                    if watched.insert(ns.clone()) {
                        watches.spawn(watch(inner.clone(), ns, tx.clone()));
                    }
                }
            }
            Some((ns, name)) = rx.recv() => {
                let n = reconcile_users(&inner, &ns, &name);
                if n > 0 {
                    tracing::info!(namespace = %ns, secret = %name, apps = n, "a decryption key Secret changed; reconciling the apps that use it");
                }
            }
        }
    }
}

/// Ferry's home namespace and every namespace with an app that has `spec.decryption`.
fn namespaces(inner: &Inner) -> HashSet<String> {
    let mut set: HashSet<String> = inner
        .apps
        .state()
        .iter()
        .filter(|a| a.spec.decryption.is_some())
        .map(|a| a.namespace().unwrap_or_default())
        .collect();
    set.insert(inner.config.home_namespace.clone());
    set
}

async fn watch(inner: Arc<Inner>, namespace: String, tx: mpsc::Sender<(String, String)>) {
    let api: Api<Secret> = Api::namespaced(inner.client.clone(), &namespace);
    let stream = watcher::watcher(api, watcher::Config::default()).default_backoff();
    let mut stream = std::pin::pin!(stream);
    while let Some(event) = stream.next().await {
        match event {
            Ok(Event::Apply(s) | Event::Delete(s)) => {
                if tx.send((namespace.clone(), s.name_any())).await.is_err() {
                    return;
                }
            }
            // A (re)list: rings read from this namespace are not kept until it is complete.
            Ok(Event::Init) => inner.keys.set_synced(&namespace, false),
            Ok(Event::InitDone) => inner.keys.set_synced(&namespace, true),
            Ok(Event::InitApply(_)) => {}
            Err(e) => {
                // The watch resumes from where it was (or lists again, which unsyncs it above);
                // a change could have slipped in meanwhile.
                inner.keys.invalidate();
                tracing::warn!(
                    %namespace, error = %e,
                    "watch on decryption key Secrets failed; retrying (Ferry needs list and watch on Secrets there)"
                )
            }
        }
    }
}

/// Triggers the apps that read the Secret `namespace/name` as keys; returns how many.
fn reconcile_users(inner: &Inner, namespace: &str, name: &str) -> usize {
    let default = namespace == inner.config.home_namespace && name == DEFAULT_KEYS_SECRET;
    let named = inner.apps.state().iter().any(|app| {
        app.namespace().as_deref() == Some(namespace)
            && app
                .spec
                .decryption
                .as_ref()
                .and_then(|d| d.secret_ref.as_ref())
                .is_some_and(|r| r.name == name)
    });
    if default || named {
        inner.keys.invalidate();
    }
    let mut n = 0;
    for app in inner.apps.state() {
        let Some(decryption) = &app.spec.decryption else { continue };
        let names_it = app.namespace().as_deref() == Some(namespace)
            && decryption.secret_ref.as_ref().is_some_and(|r| r.name == name);
        if default || names_it {
            inner.trigger(&AppId::new(app.namespace().unwrap_or_default(), app.name_any()), |r| {
                r.spec = true
            });
            n += 1;
        }
    }
    n
}
