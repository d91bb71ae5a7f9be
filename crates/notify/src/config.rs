//! The ConfigMap `ferry-notifications` and the Secret `ferry-notifications-secret`, read once
//! into a [`Config`] that the notifier trusts. A key that does not parse is left out and kept
//! in [`Config::errors`] (naming the key and what to do); the rest still work.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::builtin;
use crate::mask::Masker;
use crate::service::{Service, ServiceError, ServiceKind};
use crate::template::{NotificationTemplate, TemplateConfigError};
use crate::trigger::{Trigger, TriggerError};

pub const CONFIGMAP: &str = "ferry-notifications";
pub const SECRET: &str = "ferry-notifications-secret";

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error(transparent)]
    Template(#[from] TemplateConfigError),
    #[error(transparent)]
    Trigger(#[from] TriggerError),
    #[error(
        "{key}: `${reference}` is not a key of Secret {SECRET}: add it there (or fix the reference)"
    )]
    MissingSecret { key: String, reference: String },
    #[error("{key}: not valid YAML: {message}")]
    Yaml { key: String, message: String },
    #[error(
        "{key}: not a Ferry notifications key: use service.<type>[.<name>], template.<name>, trigger.<name> or context"
    )]
    UnknownKey { key: String },
}

#[derive(Clone, Debug, Default)]
pub struct Config {
    pub services: BTreeMap<String, Service>,
    pub templates: BTreeMap<String, NotificationTemplate>,
    pub triggers: BTreeMap<String, Trigger>,
    /// `{{.context.*}}`: `argocdUrl`, `ferryUrl`, anything else the ConfigMap's `context` says.
    pub context: BTreeMap<String, String>,
    /// Every secret value in use (for masking).
    pub masker: Masker,
    pub errors: Vec<ConfigError>,
}

impl Config {
    /// The built-in triggers and templates, no services.
    pub fn builtin() -> Self {
        let mut config = Self::default();
        for t in builtin::triggers() {
            config.triggers.insert(t.name.clone(), t);
        }
        for t in builtin::templates() {
            config.templates.insert(t.name.clone(), t);
        }
        config
    }

    /// Reads the ConfigMap's `data` with the Secret's (decoded) `data`.
    pub fn parse(data: &BTreeMap<String, String>, secret: &BTreeMap<String, String>) -> Self {
        let mut config = Self::builtin();
        let mut used = Vec::new();
        for (key, value) in data {
            if let Err(e) = config.add(key, value, secret, &mut used) {
                config.errors.push(e);
            }
        }
        for service in config.services.values() {
            used.extend(service_secrets(&service.kind));
        }
        config.masker = Masker::new(used);
        config
    }

    fn add(
        &mut self,
        key: &str,
        value: &str,
        secret: &BTreeMap<String, String>,
        used: &mut Vec<String>,
    ) -> Result<(), ConfigError> {
        if let Some(rest) = key.strip_prefix("service.") {
            let (kind, name) = rest.split_once('.').unwrap_or((rest, rest));
            let mut yaml = yaml_value(key, value)?;
            resolve(key, &mut yaml, secret, used)?;
            let service = Service::parse(key, kind, name, yaml)?;
            self.services.insert(name.to_owned(), service);
        } else if let Some(name) = key.strip_prefix("template.") {
            self.templates.insert(name.to_owned(), NotificationTemplate::parse(name, value)?);
        } else if let Some(name) = key.strip_prefix("trigger.") {
            self.triggers.insert(name.to_owned(), Trigger::parse(name, value)?);
        } else if key == "context" {
            let map: BTreeMap<String, String> = serde_saphyr::from_str(value)
                .map_err(|e| ConfigError::Yaml { key: key.to_owned(), message: e.to_string() })?;
            self.context.extend(map);
        } else if !matches!(key, "subscriptions" | "defaultTriggers") {
            return Err(ConfigError::UnknownKey { key: key.to_owned() });
        }
        Ok(())
    }

    /// The link to an app in Ferry's UI: `context.ferryUrl` (or `argocdUrl`) + the app's path.
    pub fn app_url(&self, namespace: &str, name: &str) -> String {
        let base = self.context.get("ferryUrl").or_else(|| self.context.get("argocdUrl"));
        match base {
            Some(base) => format!("{}/applications/{namespace}/{name}", base.trim_end_matches('/')),
            None => String::new(),
        }
    }
}

fn yaml_value(key: &str, value: &str) -> Result<Value, ConfigError> {
    if value.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_saphyr::from_str(value)
        .map_err(|e| ConfigError::Yaml { key: key.to_owned(), message: e.to_string() })
}

/// Replaces each `$name` in the strings of `value` with the Secret's `name` (as Argo CD does).
fn resolve(
    key: &str,
    value: &mut Value,
    secret: &BTreeMap<String, String>,
    used: &mut Vec<String>,
) -> Result<(), ConfigError> {
    match value {
        Value::String(s) => *s = substitute(key, s, secret, used)?,
        Value::Array(items) => {
            for item in items {
                resolve(key, item, secret, used)?;
            }
        }
        Value::Object(map) => {
            for item in map.values_mut() {
                resolve(key, item, secret, used)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn substitute(
    key: &str,
    text: &str,
    secret: &BTreeMap<String, String>,
    used: &mut Vec<String>,
) -> Result<String, ConfigError> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let len = after.find(|c: char| !is_name(c)).unwrap_or(after.len());
        // A trailing dot ends a sentence, not a name.
        let name = after[..len].trim_end_matches('.');
        if name.is_empty() {
            out.push('$');
            rest = after;
            continue;
        }
        let value = secret.get(name).ok_or_else(|| ConfigError::MissingSecret {
            key: key.to_owned(),
            reference: name.to_owned(),
        })?;
        used.push(value.clone());
        out.push_str(value);
        rest = &after[name.len()..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The values of a service that are secrets whether or not they came from the Secret.
fn service_secrets(kind: &ServiceKind) -> Vec<String> {
    match kind {
        ServiceKind::Webhook(w) => w.secret.iter().cloned().collect(),
        ServiceKind::Slack(s) => vec![s.webhook_url.clone()],
        ServiceKind::Teams(t) => t.recipient_urls.values().chain(&t.webhook_url).cloned().collect(),
        ServiceKind::Email(e) => e.password.iter().cloned().collect(),
        ServiceKind::Status(s) => s.auth.secrets(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn an_argo_cd_configmap_with_secret_references_carries_over() {
        let data = map(&[
            (
                "service.webhook.ops",
                "url: https://hooks.example/x\nheaders:\n- name: Authorization\n  value: Bearer $ops-token\n",
            ),
            ("service.github", "token: $github-token\n"),
            ("template.app-deployed", "message: \"{{.app.metadata.name}} deployed\"\n"),
            (
                "trigger.on-deployed",
                "- when: app.status.operationState.phase in ['Succeeded']\n  send: [app-deployed]\n  oncePer: app.status.sync.revision\n",
            ),
            ("context", "argocdUrl: https://cd.example\n"),
        ]);
        let secret = map(&[("ops-token", "tok-123456"), ("github-token", "ghp_abcdef")]);
        let config = Config::parse(&data, &secret);
        assert_eq!(config.errors, vec![]);
        let ServiceKind::Webhook(ops) = &config.services["ops"].kind else { panic!("a webhook") };
        assert_eq!(ops.headers[0].value, "Bearer tok-123456");
        assert_eq!(config.triggers["on-deployed"].conditions[0].spec.send, vec!["app-deployed"]);
        assert!(config.triggers.contains_key("on-sync-failed"), "built-ins stay");
        assert_eq!(
            config.app_url("apps", "guestbook"),
            "https://cd.example/applications/apps/guestbook"
        );
        assert_eq!(config.masker.mask("Bearer tok-123456 / ghp_abcdef"), "Bearer *** / ***");
    }

    #[test]
    fn a_missing_secret_key_is_an_error_naming_the_service_key_and_the_secret() {
        let data =
            map(&[("service.slack", "webhookUrl: $slack-url\n"), ("template.ok", "message: hi\n")]);
        let config = Config::parse(&data, &BTreeMap::new());
        assert_eq!(
            config.errors[0].to_string(),
            "service.slack: `$slack-url` is not a key of Secret ferry-notifications-secret: add it there (or fix the reference)"
        );
        assert!(config.templates.contains_key("ok"), "other keys still load");
        assert!(!config.services.contains_key("slack"));
    }
}
