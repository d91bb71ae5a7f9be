//! Ferry's settings Secrets, watched in its own namespace: the `repository`, `repo-creds` and
//! `cluster` Secrets of Argo CD's declarative setup (label `argocd.argoproj.io/secret-type`), or
//! the same with Ferry's label `ferry.dev/secret-type`, so an Argo CD user's Secrets work
//! unchanged. A label selector cannot say "this key or that one", so there is one watch per label;
//! a Secret carrying both is seen once.
//!
//! Readers take a snapshot ([`Settings::secrets`]) when they need one; [`Settings::changes`]
//! tells them when to look again.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher::{self, Event};
use kube::runtime::{WatchStreamExt, reflector::store::Writer};
use kube::{Client, ResourceExt};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Argo CD's label naming what a settings Secret holds.
pub const LABEL_ARGOCD: &str = "argocd.argoproj.io/secret-type";
/// Ferry's own label, with the same values.
pub const LABEL_FERRY: &str = "ferry.dev/secret-type";

/// What a settings Secret holds (the value of its type label).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SecretType {
    /// One repository's URL and credentials.
    Repository,
    /// A credential template for every repository whose URL starts with its `url`.
    RepoCreds,
    /// A destination cluster.
    Cluster,
}

impl SecretType {
    pub fn label_value(self) -> &'static str {
        match self {
            SecretType::Repository => "repository",
            SecretType::RepoCreds => "repo-creds",
            SecretType::Cluster => "cluster",
        }
    }

    /// The type a Secret declares through either label (Ferry's wins when both are set).
    pub fn of(secret: &Secret) -> Option<Self> {
        let labels = secret.labels();
        let value = labels.get(LABEL_FERRY).or_else(|| labels.get(LABEL_ARGOCD))?;
        [SecretType::Repository, SecretType::RepoCreds, SecretType::Cluster]
            .into_iter()
            .find(|t| t.label_value() == value)
    }
}

/// The watched settings Secrets of one namespace.
pub struct Settings {
    namespace: String,
    argocd: Store<Secret>,
    ferry: Store<Secret>,
    changed: watch::Sender<u64>,
}

impl Settings {
    /// Starts the two watches in `namespace` on `tasks`.
    pub fn start(client: &Client, namespace: &str, tasks: &mut JoinSet<()>) -> Arc<Self> {
        let (argocd, argocd_writer) = reflector::store();
        let (ferry, ferry_writer) = reflector::store();
        let settings = Arc::new(Self {
            namespace: namespace.to_owned(),
            argocd,
            ferry,
            changed: watch::Sender::new(0),
        });
        let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
        for (label, writer) in [(LABEL_ARGOCD, argocd_writer), (LABEL_FERRY, ferry_writer)] {
            tasks.spawn(watch_label(settings.clone(), api.clone(), label, writer));
        }
        settings
    }

    /// The namespace the Secrets are read from.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The Secrets of type `ty`, each once, ordered by name.
    pub fn secrets(&self, ty: SecretType) -> Vec<Arc<Secret>> {
        let mut all: Vec<Arc<Secret>> = self
            .ferry
            .state()
            .into_iter()
            .chain(self.argocd.state())
            .filter(|s| SecretType::of(s) == Some(ty))
            .collect();
        all.sort_by_key(|a| a.name_any());
        all.dedup_by(|a, b| a.name_any() == b.name_any());
        all
    }

    /// A counter bumped on every change to a settings Secret.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Waits (at most `timeout`) until both watches have listed once, so that the first
    /// reconciles see the Secrets that exist at start. Returns whether they had.
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        let ready = async {
            let _ = self.argocd.wait_until_ready().await;
            let _ = self.ferry.wait_until_ready().await;
        };
        tokio::time::timeout(timeout, ready).await.is_ok()
    }
}

async fn watch_label(
    settings: Arc<Settings>,
    api: Api<Secret>,
    label: &'static str,
    writer: Writer<Secret>,
) {
    let config = watcher::Config::default().labels(label);
    let stream = watcher::watcher(api, config).default_backoff().reflect(writer);
    let mut stream = std::pin::pin!(stream);
    while let Some(event) = stream.next().await {
        match event {
            Ok(Event::Apply(_) | Event::Delete(_) | Event::InitDone) => {
                settings.changed.send_modify(|n| *n += 1);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(
                namespace = %settings.namespace, %label, error = %e,
                "watch on settings Secrets failed; retrying (Ferry needs get, list and watch on Secrets in its namespace)"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labelled(pairs: &[(&str, &str)]) -> Secret {
        let mut s = Secret::default();
        s.metadata.labels =
            Some(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        s
    }

    #[test]
    fn argo_cd_and_ferry_labels_name_the_same_types() {
        let argo = labelled(&[(LABEL_ARGOCD, "repo-creds")]);
        let ferry = labelled(&[(LABEL_FERRY, "cluster")]);
        assert_eq!(SecretType::of(&argo), Some(SecretType::RepoCreds));
        assert_eq!(SecretType::of(&ferry), Some(SecretType::Cluster));
    }

    #[test]
    fn ferry_label_wins_over_argo_cds_and_unknown_values_are_ignored() {
        let both = labelled(&[(LABEL_ARGOCD, "repository"), (LABEL_FERRY, "cluster")]);
        assert_eq!(SecretType::of(&both), Some(SecretType::Cluster));
        assert_eq!(SecretType::of(&labelled(&[(LABEL_ARGOCD, "other")])), None);
        assert_eq!(SecretType::of(&Secret::default()), None);
    }
}
