//! The sinks a `service.<type>[.<name>]` key declares, parsed from its YAML after `$key`
//! references were resolved (see [`crate::config`]).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, from_value};

use crate::status::Provider;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    #[error(
        "{key}: unknown service type `{kind}`: use webhook, slack, teams, email, github, gitlab, gitea or bitbucket"
    )]
    UnknownType { key: String, kind: String },
    #[error("{key}: not valid YAML for a {kind} service: {message}")]
    Yaml { key: String, kind: String, message: String },
    #[error("{key}: `{field}` is required for a {kind} service")]
    Missing { key: String, kind: String, field: &'static str },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    /// What subscriptions name: `<name>`, or `<type>` when the key has no name.
    pub name: String,
    /// The ConfigMap key (`service.webhook.github`), for messages.
    pub key: String,
    pub kind: ServiceKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServiceKind {
    Webhook(Webhook),
    Slack(Slack),
    Teams(Teams),
    Email(Email),
    Status(StatusService),
}

impl ServiceKind {
    /// The service type, as in the key (`webhook`, `github`, …) and `{{.serviceType}}`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Webhook(_) => "webhook",
            Self::Slack(_) => "slack",
            Self::Teams(_) => "teams",
            Self::Email(_) => "email",
            Self::Status(s) => s.provider.as_str(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Header {
    pub name: String,
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    pub url: String,
    #[serde(default)]
    pub headers: Vec<Header>,
    /// Signs the body: `X-Ferry-Signature: sha256=<hex HMAC-SHA256 of the body>`.
    #[serde(default)]
    pub secret: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Slack {
    #[serde(alias = "url")]
    pub webhook_url: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub icon: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Teams {
    #[serde(default)]
    pub recipient_urls: BTreeMap<String, String>,
    #[serde(default)]
    pub webhook_url: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmailTls {
    #[default]
    Starttls,
    Implicit,
    None,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Email {
    pub host: String,
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    pub from: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub tls: EmailTls,
}

fn default_smtp_port() -> u16 {
    587
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawStatus {
    #[serde(default)]
    token: Option<String>,
    #[serde(default, rename = "baseURL", alias = "baseUrl")]
    base_url: Option<String>,
    #[serde(default, rename = "enterpriseBaseURL")]
    enterprise_base_url: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    app_password: Option<String>,
    #[serde(default)]
    context: Option<String>,
}

/// A commit-status service: one provider, its API's base URL and credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusService {
    pub provider: Provider,
    /// `None`: the provider's public API, or (Gitea, GitLab) the repoURL's scheme and host.
    pub base_url: Option<String>,
    pub auth: crate::status::Auth,
    /// The status's name (`context`/`key`); `ferry/<app>` when not set.
    pub context: Option<String>,
}

impl Service {
    /// Parses `service.<type>[.<name>]` from its YAML read as JSON (with `$key` references
    /// already resolved; `null` for an empty value).
    pub fn parse(key: &str, kind: &str, name: &str, value: Value) -> Result<Self, ServiceError> {
        let yaml_err = |e: serde_json::Error| ServiceError::Yaml {
            key: key.to_owned(),
            kind: kind.to_owned(),
            message: e.to_string(),
        };
        let value = if value.is_null() { Value::Object(Default::default()) } else { value };
        let kind = match kind {
            "webhook" => ServiceKind::Webhook(from_value(value).map_err(yaml_err)?),
            "slack" => ServiceKind::Slack(from_value(value).map_err(yaml_err)?),
            "teams" => ServiceKind::Teams(from_value(value).map_err(yaml_err)?),
            "email" => ServiceKind::Email(from_value(value).map_err(yaml_err)?),
            other => match Provider::parse(other) {
                Some(provider) => {
                    let raw: RawStatus = from_value(value).map_err(yaml_err)?;
                    ServiceKind::Status(status_service(key, provider, raw)?)
                }
                None => {
                    return Err(ServiceError::UnknownType {
                        key: key.to_owned(),
                        kind: other.to_owned(),
                    });
                }
            },
        };
        Ok(Self { name: name.to_owned(), key: key.to_owned(), kind })
    }
}

fn status_service(
    key: &str,
    provider: Provider,
    raw: RawStatus,
) -> Result<StatusService, ServiceError> {
    use crate::status::Auth;
    let auth = match (raw.token, raw.username, raw.app_password) {
        (_, Some(username), Some(password)) => Auth::Basic { username, password },
        (Some(token), _, _) => Auth::Token(token),
        _ => {
            return Err(ServiceError::Missing {
                key: key.to_owned(),
                kind: provider.as_str().to_owned(),
                field: "token",
            });
        }
    };
    let base_url =
        raw.base_url.or(raw.enterprise_base_url).map(|u| u.trim_end_matches('/').to_owned());
    Ok(StatusService { provider, base_url, auth, context: raw.context })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_webhook_keeps_its_headers_and_signing_secret() {
        let yaml = "url: https://hooks.example/ferry\nheaders:\n- name: X-Team\n  value: platform\nsecret: hush-hush\n";
        let value = serde_saphyr::from_str(yaml).expect("yaml");
        let service =
            Service::parse("service.webhook.ops", "webhook", "ops", value).expect("parses");
        assert_eq!(
            service.kind,
            ServiceKind::Webhook(Webhook {
                url: "https://hooks.example/ferry".into(),
                headers: vec![Header { name: "X-Team".into(), value: "platform".into() }],
                secret: Some("hush-hush".into()),
            })
        );
    }

    #[test]
    fn a_commit_status_service_without_a_token_says_which_key_needs_one() {
        let err = Service::parse(
            "service.github",
            "github",
            "github",
            serde_json::json!({"baseURL": "http://x"}),
        )
        .expect_err("no token");
        assert_eq!(err.to_string(), "service.github: `token` is required for a github service");
        let err =
            Service::parse("service.pager", "pager", "pager", Value::Null).expect_err("unknown");
        assert!(err.to_string().contains("use webhook, slack"), "{err}");
    }
}
