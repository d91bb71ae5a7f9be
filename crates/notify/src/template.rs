//! `template.<name>`: Argo CD Notifications' template fields, each a [`gotmpl`] template,
//! parsed once with the config and rendered per notification into [`Rendered`]. Pure.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::gotmpl::{Template as Tmpl, TemplateError};
use crate::status::Provider;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateConfigError {
    #[error("template.{template}: not valid YAML: {message}")]
    Yaml { template: String, message: String },
    #[error("template.{template}: `{field}`: {source}; fix it in ConfigMap ferry-notifications")]
    Field {
        template: String,
        field: String,
        #[source]
        source: TemplateError,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    email: Option<RawEmail>,
    #[serde(default)]
    slack: Option<RawSlack>,
    #[serde(default)]
    teams: Option<RawTeams>,
    #[serde(default)]
    webhook: BTreeMap<String, RawWebhook>,
    #[serde(default)]
    github: Option<RawForge>,
    #[serde(default)]
    gitlab: Option<RawForge>,
    #[serde(default)]
    gitea: Option<RawForge>,
    #[serde(default)]
    bitbucket: Option<RawForge>,
}

#[derive(Debug, Default, Deserialize)]
struct RawEmail {
    #[serde(default)]
    subject: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct RawSlack {
    #[serde(default)]
    attachments: Option<String>,
    #[serde(default)]
    blocks: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTeams {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    theme_color: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct RawWebhook {
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    body: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct RawForge {
    #[serde(default)]
    status: Option<RawStatus>,
}

#[derive(Debug, Default, Deserialize)]
struct RawStatus {
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    label: Option<String>,
    #[serde(default, rename = "targetURL")]
    target_url: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

/// A parsed template: each field is `(name, template)`.
#[derive(Clone, Debug, Default)]
pub struct NotificationTemplate {
    pub name: String,
    fields: BTreeMap<String, Tmpl>,
}

/// A rendered template. Fields the template does not set stay empty (or `None`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rendered {
    pub title: String,
    pub message: String,
    pub email_subject: String,
    pub url: String,
    /// `#rrggbb`, for chat cards.
    pub color: String,
    pub slack_attachments: Option<String>,
    pub slack_blocks: Option<String>,
    pub teams_title: Option<String>,
    pub webhook: BTreeMap<String, RenderedWebhook>,
    pub status: BTreeMap<&'static str, RenderedStatus>,
}

impl Rendered {
    /// Title and message as one text (chat).
    pub fn text(&self) -> String {
        match (self.title.is_empty(), self.message.is_empty()) {
            (false, false) => format!("{}\n{}", self.title, self.message),
            (false, true) => self.title.clone(),
            _ => self.message.clone(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RenderedWebhook {
    pub method: String,
    pub path: String,
    pub body: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RenderedStatus {
    pub state: String,
    pub label: String,
    pub target_url: String,
    pub description: String,
}

impl NotificationTemplate {
    /// Parses `template.<name>`'s YAML, every string field as a template.
    pub fn parse(name: &str, yaml: &str) -> Result<Self, TemplateConfigError> {
        let raw: Raw = serde_saphyr::from_str(yaml).map_err(|e| TemplateConfigError::Yaml {
            template: name.to_owned(),
            message: e.to_string(),
        })?;
        Self::from_fields(name, flatten(raw))
    }

    /// A template from `(field, source)` pairs, field names as [`flatten`] writes them.
    pub fn from_fields(
        name: &str,
        fields: Vec<(String, String)>,
    ) -> Result<Self, TemplateConfigError> {
        let mut parsed = BTreeMap::new();
        for (field, source) in fields {
            let tmpl = Tmpl::parse(&source).map_err(|source| TemplateConfigError::Field {
                template: name.to_owned(),
                field: field.clone(),
                source,
            })?;
            parsed.insert(field, tmpl);
        }
        Ok(Self { name: name.to_owned(), fields: parsed })
    }

    /// Renders every field with `data` (`.app`, `.context`, `.commit`, …).
    pub fn render(&self, data: &Value) -> Result<Rendered, TemplateConfigError> {
        let mut out = Rendered::default();
        for (field, tmpl) in &self.fields {
            let text = tmpl.render(data).map_err(|source| TemplateConfigError::Field {
                template: self.name.clone(),
                field: field.clone(),
                source,
            })?;
            place(&mut out, field, text);
        }
        Ok(out)
    }
}

fn flatten(raw: Raw) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    let mut put = |name: String, value: Option<String>| {
        if let Some(v) = value {
            fields.push((name, v));
        }
    };
    put("title".into(), raw.title);
    put("message".into(), raw.message);
    put("email.subject".into(), raw.email.and_then(|e| e.subject));
    if let Some(slack) = raw.slack {
        put("slack.attachments".into(), slack.attachments);
        put("slack.blocks".into(), slack.blocks);
    }
    if let Some(teams) = raw.teams {
        put("teams.title".into(), teams.title);
        put("color".into(), teams.theme_color);
    }
    for (service, w) in raw.webhook {
        put(format!("webhook.{service}.method"), Some(w.method.unwrap_or_else(|| "POST".into())));
        put(format!("webhook.{service}.path"), Some(w.path.unwrap_or_default()));
        put(format!("webhook.{service}.body"), Some(w.body.unwrap_or_default()));
    }
    let forges = [
        (Provider::GitHub, raw.github),
        (Provider::GitLab, raw.gitlab),
        (Provider::Gitea, raw.gitea),
        (Provider::Bitbucket, raw.bitbucket),
    ];
    for (provider, forge) in forges {
        if let Some(status) = forge.and_then(|f| f.status) {
            let p = provider.as_str();
            put(format!("{p}.status.state"), status.state);
            put(format!("{p}.status.label"), status.label);
            put(format!("{p}.status.targetURL"), status.target_url);
            put(format!("{p}.status.description"), status.description);
        }
    }
    fields
}

fn place(out: &mut Rendered, field: &str, text: String) {
    match field {
        "title" => out.title = text,
        "message" => out.message = text,
        "email.subject" => out.email_subject = text,
        "url" => out.url = text,
        "color" => out.color = text,
        "slack.attachments" => out.slack_attachments = Some(text),
        "slack.blocks" => out.slack_blocks = Some(text),
        "teams.title" => out.teams_title = Some(text),
        other => place_nested(out, other, text),
    }
}

fn place_nested(out: &mut Rendered, field: &str, text: String) {
    let parts: Vec<&str> = field.split('.').collect();
    match parts.as_slice() {
        ["webhook", service, part] => {
            let w = out.webhook.entry((*service).to_owned()).or_default();
            match *part {
                "method" => w.method = text,
                "path" => w.path = text,
                _ => w.body = text,
            }
        }
        [provider, "status", part] => {
            let Some(provider) = Provider::parse(provider) else { return };
            let s = out.status.entry(provider.as_str()).or_default();
            match *part {
                "state" => s.state = text,
                "label" => s.label = text,
                "targetURL" => s.target_url = text,
                _ => s.description = text,
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_argo_cd_template_renders_its_message_webhook_and_github_status() {
        let yaml = r#"
message: "Application {{.app.metadata.name}} is now running new version."
email:
  subject: "New version of {{.app.metadata.name}}"
webhook:
  github:
    method: POST
    path: /repos/{{.app.metadata.name}}/statuses
    body: |
      {"state": "success"}
github:
  status:
    state: success
    label: "continuous-delivery/{{.app.metadata.name}}"
    targetURL: "{{.context.argocdUrl}}/applications/{{.app.metadata.name}}"
"#;
        let template = NotificationTemplate::parse("app-deployed", yaml).expect("parses");
        let data = json!({"app": {"metadata": {"name": "guestbook"}}, "context": {"argocdUrl": "https://cd"}});
        let r = template.render(&data).expect("renders");
        assert_eq!(r.message, "Application guestbook is now running new version.");
        assert_eq!(r.email_subject, "New version of guestbook");
        assert_eq!(r.webhook["github"].path, "/repos/guestbook/statuses");
        assert_eq!(r.webhook["github"].body.trim(), "{\"state\": \"success\"}");
        assert_eq!(r.status["github"].label, "continuous-delivery/guestbook");
        assert_eq!(r.status["github"].target_url, "https://cd/applications/guestbook");
    }

    #[test]
    fn a_broken_field_is_named_with_its_template() {
        let err = NotificationTemplate::parse("t", "message: \"{{ .a \"\n").expect_err("unclosed");
        assert!(err.to_string().starts_with("template.t: `message`:"), "{err}");
    }
}
