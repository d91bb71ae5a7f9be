//! Webhook secrets from the Secret `ferry-webhook` in Ferry's namespace, re-read whenever it
//! changes: one key per provider (`github`, `gitlab`, `gitea`, `bitbucket`, `generic`). The key
//! names of Argo CD's `argocd-secret` (`webhook.github.secret`, ...) are read too, so a copied
//! Secret works.
//!
//! # Guarantees
//! - Fail closed: a provider whose key is missing, empty or not UTF-8 stays refused; when the
//!   Secret is deleted, every provider the API was not given at start is refused again.
//! - Logs name the providers configured and the keys skipped, never a value.

use std::sync::Arc;

use ferry_source::Secret as SecretValue;
use ferry_source::webhook::WebhookConfig;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};

use crate::state::ApiState;

/// The name of the Secret holding the webhook secrets.
pub const WEBHOOK_SECRET_NAME: &str = "ferry-webhook";

/// The provider keys of the Secret, each with Argo CD's name for the same secret.
pub const WEBHOOK_SECRET_KEYS: [(&str, &str); 5] = [
    ("github", "webhook.github.secret"),
    ("gitlab", "webhook.gitlab.secret"),
    ("gitea", "webhook.gogs.secret"),
    ("bitbucket", "webhook.bitbucketserver.secret"),
    ("generic", "webhook.generic.secret"),
];

/// What a Secret configures: `base` (the API's start-up configuration) with every provider the
/// Secret names replaced, the providers it configured, and the keys it had to skip (with why).
pub fn config_from_secret(
    secret: &Secret,
    base: &WebhookConfig,
) -> (WebhookConfig, Vec<&'static str>, Vec<String>) {
    let mut config = base.clone();
    let mut configured = Vec::new();
    let mut skipped = Vec::new();
    for (key, argo_key) in WEBHOOK_SECRET_KEYS {
        let value = match value_of(secret, key).or_else(|| value_of(secret, argo_key)) {
            None => continue,
            Some(Err(why)) => {
                skipped.push(format!("{key}: {why}"));
                continue;
            }
            Some(Ok(v)) => v,
        };
        let slot = match key {
            "github" => &mut config.github_secret,
            "gitlab" => &mut config.gitlab_token,
            "gitea" => &mut config.gitea_secret,
            "bitbucket" => &mut config.bitbucket_secret,
            _ => &mut config.generic_secret,
        };
        *slot = Some(SecretValue::new(value));
        configured.push(key);
    }
    (config, configured, skipped)
}

/// The value under `key` (from `data`, or `stringData` as written), without the trailing newline
/// a `--from-file` Secret often carries.
fn value_of(secret: &Secret, key: &str) -> Option<Result<String, &'static str>> {
    let raw = match secret.data.as_ref().and_then(|d| d.get(key)) {
        Some(bytes) => match String::from_utf8(bytes.0.clone()) {
            Ok(s) => s,
            Err(_) => return Some(Err("the value is not UTF-8 text")),
        },
        None => secret.string_data.as_ref()?.get(key)?.clone(),
    };
    let value = raw.trim_end_matches(['\n', '\r']).to_owned();
    Some(if value.is_empty() { Err("the value is empty") } else { Ok(value) })
}

impl ApiState {
    /// Keeps the webhook secrets equal to the Secret [`WEBHOOK_SECRET_NAME`] in `namespace` until
    /// the returned future is dropped (spawn it next to [`crate::serve`]).
    pub fn watch_webhook_secret(
        &self,
        client: Client,
        namespace: &str,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let state = self.clone();
        let namespace = namespace.to_owned();
        async move {
            let api: Api<Secret> = Api::namespaced(client, &namespace);
            let config =
                watcher::Config::default().fields(&format!("metadata.name={WEBHOOK_SECRET_NAME}"));
            let mut stream = std::pin::pin!(watcher::watcher(api, config).default_backoff());
            let mut seen = false;
            while let Some(event) = stream.next().await {
                match event {
                    Ok(Event::Init) => seen = false,
                    Ok(Event::InitApply(s)) => {
                        seen = true;
                        state.use_webhook_secret(&namespace, Some(&s), false);
                    }
                    Ok(Event::Apply(s)) => state.use_webhook_secret(&namespace, Some(&s), true),
                    Ok(Event::InitDone) if !seen => {
                        state.use_webhook_secret(&namespace, None, false)
                    }
                    Ok(Event::Delete(_)) => state.use_webhook_secret(&namespace, None, true),
                    Ok(Event::InitDone) => {}
                    Err(e) => tracing::warn!(
                        %namespace, error = %e,
                        "watch on Secret {WEBHOOK_SECRET_NAME} failed; retrying (webhooks keep the secrets read last)"
                    ),
                }
            }
        }
    }

    /// Uses what `secret` says (or the start-up configuration when there is none); `changed`:
    /// the Secret changed while watched (logged at INFO), rather than being read at start.
    fn use_webhook_secret(&self, namespace: &str, secret: Option<&Secret>, changed: bool) {
        let base = self.webhook_base.clone();
        let name = format!("{namespace}/{WEBHOOK_SECRET_NAME}");
        let config = match secret {
            Some(secret) => {
                let (config, configured, skipped) = config_from_secret(secret, &base);
                if changed || !skipped.is_empty() {
                    tracing::info!(secret = %name, ?configured, ?skipped, "webhook secrets read");
                } else {
                    tracing::debug!(secret = %name, ?configured, "webhook secrets read");
                }
                config
            }
            None => {
                let message = "no webhook Secret: only providers configured at start are accepted";
                if changed {
                    tracing::info!(secret = %name, "{message}");
                } else {
                    tracing::debug!(secret = %name, "{message}");
                }
                (*base).clone()
            }
        };
        *self.webhook.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(config);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::ByteString;

    use super::*;

    fn secret(pairs: &[(&str, &[u8])]) -> Secret {
        let data: BTreeMap<String, ByteString> =
            pairs.iter().map(|(k, v)| (k.to_string(), ByteString(v.to_vec()))).collect();
        Secret { data: Some(data), ..Default::default() }
    }

    #[test]
    fn each_provider_key_configures_that_provider_only() {
        let s = secret(&[("github", b"gh\n"), ("generic", b"g")]);
        let (config, configured, skipped) = config_from_secret(&s, &WebhookConfig::default());
        assert_eq!(configured, ["github", "generic"]);
        assert!(skipped.is_empty());
        assert_eq!(config.github_secret.as_ref().map(SecretValue::expose), Some("gh"));
        assert_eq!(config.generic_secret.as_ref().map(SecretValue::expose), Some("g"));
        assert!(config.gitlab_token.is_none() && config.gitea_secret.is_none());
    }

    #[test]
    fn argo_cd_key_names_work_and_ferrys_win() {
        let s = secret(&[("webhook.gitlab.secret", b"argo"), ("gitlab", b"ferry")]);
        let (config, _, _) = config_from_secret(&s, &WebhookConfig::default());
        assert_eq!(config.gitlab_token.as_ref().map(SecretValue::expose), Some("ferry"));
        let s = secret(&[("webhook.github.secret", b"argo")]);
        let (config, _, _) = config_from_secret(&s, &WebhookConfig::default());
        assert_eq!(config.github_secret.as_ref().map(SecretValue::expose), Some("argo"));
    }

    #[test]
    fn empty_or_binary_values_stay_refused_and_say_why_without_the_value() {
        let s = secret(&[("github", b"\n"), ("gitea", &[0xff, 0xfe])]);
        let (config, configured, skipped) = config_from_secret(&s, &WebhookConfig::default());
        assert!(configured.is_empty());
        assert!(config.github_secret.is_none() && config.gitea_secret.is_none());
        assert_eq!(skipped, ["github: the value is empty", "gitea: the value is not UTF-8 text"]);
    }

    #[test]
    fn providers_given_at_start_stay_unless_the_secret_names_them() {
        let base = WebhookConfig {
            gitlab_token: Some(SecretValue::new("from-start")),
            ..Default::default()
        };
        let (config, _, _) = config_from_secret(&secret(&[("generic", b"g")]), &base);
        assert_eq!(config.gitlab_token.as_ref().map(SecretValue::expose), Some("from-start"));
    }
}
