//! Keeps [`Access`] equal to what Ferry's namespace says: the RBAC policy in the ConfigMap
//! `ferry-rbac-cm` (Argo CD's `argocd-rbac-cm` keys: `policy.csv`, `policy.default`, `scopes`)
//! and the token Secrets (label `ferry.dev/secret-type: api-token`).
//!
//! # Guarantees
//! - A policy that does not parse is refused with its line number (logged as a warning) and the
//!   policy in force stays; a deleted ConfigMap leaves the built-in roles only.
//! - A token Secret that does not parse is skipped (logged with its name, never a value);
//!   a deleted Secret's token stops working at once.

use std::collections::BTreeMap;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Client;
use kube::api::Api;
use kube::runtime::watcher::{self, Event};
use kube::runtime::{WatchStreamExt, reflector};

use super::Access;
use super::policy::Policy;
use super::tokens::{self, SECRET_TYPE_LABEL, TOKEN_SECRET_TYPE, TokenIndex};

/// The ConfigMap holding the RBAC policy.
pub const RBAC_CONFIGMAP: &str = "ferry-rbac-cm";

/// The policy a ConfigMap's data describes.
pub fn policy_from(
    data: &BTreeMap<String, String>,
    namespace: &str,
) -> Result<Policy, super::PolicyError> {
    let get = |k: &str| data.get(k).map(String::as_str).unwrap_or_default();
    let source = format!("ConfigMap {namespace}/{RBAC_CONFIGMAP} policy.csv");
    Policy::parse(get("policy.csv"), get("policy.default"), get("scopes"), &source)
}

impl Access {
    /// Watches the policy ConfigMap and the token Secrets in `namespace` until dropped.
    pub async fn watch(self, client: Client, namespace: String) {
        tokio::join!(
            self.clone().watch_policy(client.clone(), namespace.clone()),
            self.watch_tokens(client, namespace)
        );
    }

    async fn watch_policy(self, client: Client, namespace: String) {
        let api: Api<ConfigMap> = Api::namespaced(client, &namespace);
        let config = watcher::Config::default().fields(&format!("metadata.name={RBAC_CONFIGMAP}"));
        let mut stream = std::pin::pin!(watcher::watcher(api, config).default_backoff());
        let mut seen = false;
        while let Some(event) = stream.next().await {
            match event {
                Ok(Event::Init) => seen = false,
                Ok(Event::InitApply(cm) | Event::Apply(cm)) => {
                    seen = true;
                    self.use_policy(&cm.data.unwrap_or_default(), &namespace);
                }
                Ok(Event::InitDone) if !seen => self.set_policy(Policy::default()),
                Ok(Event::Delete(_)) => {
                    tracing::info!(%namespace, "ConfigMap {RBAC_CONFIGMAP} deleted: only the built-in roles remain");
                    self.set_policy(Policy::default());
                }
                Ok(Event::InitDone) => {}
                Err(e) => tracing::warn!(%namespace, error = %e,
                    "watch on ConfigMap {RBAC_CONFIGMAP} failed; retrying (the policy read last stays)"),
            }
        }
    }

    fn use_policy(&self, data: &BTreeMap<String, String>, namespace: &str) {
        match policy_from(data, namespace) {
            Ok(policy) => {
                tracing::info!(%namespace, "RBAC policy loaded from ConfigMap {RBAC_CONFIGMAP}");
                self.set_policy(policy);
            }
            Err(e) => {
                tracing::warn!(error = %e, hint = e.hint(), "RBAC policy refused");
                self.refuse_policy(format!(
                    "{e}; the previous policy stays in force ({})",
                    e.hint()
                ));
            }
        }
    }

    async fn watch_tokens(self, client: Client, namespace: String) {
        let api: Api<Secret> = Api::namespaced(client, &namespace);
        let selector = format!("{SECRET_TYPE_LABEL}={TOKEN_SECRET_TYPE}");
        let config = watcher::Config::default().labels(&selector);
        let (store, writer) = reflector::store();
        let stream = reflector::reflector(writer, watcher::watcher(api, config)).default_backoff();
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(Event::Init | Event::InitApply(_)) => {}
                Ok(_) => self.set_tokens(index(&store.state())),
                Err(e) => tracing::warn!(%namespace, error = %e,
                    "watch on the API token Secrets failed; retrying (the tokens read last stay)"),
            }
        }
    }
}

fn index(secrets: &[std::sync::Arc<Secret>]) -> TokenIndex {
    let mut index = TokenIndex::new();
    for secret in secrets {
        match tokens::from_secret(secret) {
            Ok(token) => {
                index.insert(token.hash.clone(), token);
            }
            Err(e) => tracing::warn!(error = %e, "API token skipped"),
        }
    }
    index
}
