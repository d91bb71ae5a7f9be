//! From an app event to the deliveries it calls for, pure: subscriptions × triggers that hold
//! (deduplicated by the [`Ledger`]) × templates, each rendered and shaped for its service. A
//! delivery that cannot be built is a [`PlanError`] for the delivery log, never a panic.

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use serde_json::{Value, json};

use crate::config::Config;
use crate::event::AppEvent;
use crate::ledger::{Ledger, Target};
use crate::payload::{self, HttpRequest, PayloadError};
use crate::repo::{RepoError, RepoRef};
use crate::service::{Email, Service, ServiceKind, StatusService};
use crate::status::{self, CommitStatus, State};
use crate::subscribe;
use crate::template::{NotificationTemplate, Rendered, TemplateConfigError};
use crate::trigger::{Fired, Vars};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "the subscription names trigger `{trigger}`, which is neither built in nor in ConfigMap ferry-notifications: add trigger.{trigger} or fix the annotation"
    )]
    UnknownTrigger { trigger: String },
    #[error(
        "the subscription names service `{service}`, which ConfigMap ferry-notifications does not declare: add service.<type>.{service} (or service.{service})"
    )]
    UnknownService { service: String },
    #[error(
        "trigger.{trigger} sends template `{template}`, which does not exist: add template.{template}"
    )]
    UnknownTemplate { trigger: String, template: String },
    #[error(transparent)]
    Template(#[from] TemplateConfigError),
    #[error("service {service}: {source}")]
    Payload {
        service: String,
        #[source]
        source: PayloadError,
    },
    #[error("service {service}: {source}")]
    Repo {
        service: String,
        #[source]
        source: RepoError,
    },
    #[error("service {service}: the app has no revision yet to set a commit status on")]
    NoRevision { service: String },
    #[error(
        "template.{template}: {provider}.status.state `{state}` is not pending, success, failure or error"
    )]
    State { template: String, provider: &'static str, state: String },
}

/// What a delivery is about (the delivery log's columns).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Meta {
    pub app: String,
    pub trigger: String,
    pub service: String,
    pub service_type: String,
    pub recipient: String,
    pub revision: String,
}

#[derive(Clone, Debug)]
pub enum Outgoing {
    Http(HttpRequest),
    Email { service: Box<Email>, to: Vec<String>, subject: String, body: String },
}

#[derive(Clone, Debug)]
pub struct Job {
    pub meta: Meta,
    pub outgoing: Outgoing,
    pub queued: Instant,
}

pub struct Planned {
    pub meta: Meta,
    pub result: Result<Outgoing, PlanError>,
}

/// The deliveries `event` calls for, recording them in `ledger`.
pub fn plan(config: &Config, ledger: &mut Ledger, event: &AppEvent) -> Vec<Planned> {
    let app = event.key();
    if event.deleted {
        ledger.forget(&app);
        return Vec::new();
    }
    let subscriptions = subscribe::parse(&event.annotations());
    let vars = Vars::new(&event.app, &event.cel_event());
    let mut fired: BTreeMap<&str, Option<Vec<Fired>>> = BTreeMap::new();
    for s in &subscriptions {
        fired
            .entry(&s.trigger)
            .or_insert_with(|| config.triggers.get(&s.trigger).map(|t| t.evaluate(&vars)));
    }
    let holding: HashSet<(String, usize)> =
        fired.values().flatten().flatten().map(|f| (f.trigger.clone(), f.condition)).collect();
    let mut planned = Vec::new();
    for s in &subscriptions {
        for recipient in &s.recipients {
            let meta = meta(event, &s.trigger, &s.service, config, recipient);
            let Some(Some(conditions)) = fired.get(s.trigger.as_str()) else {
                // An unknown trigger is reported once per subscription, not per reconcile.
                let target = target(&s.trigger, usize::MAX, &s.service, recipient);
                if ledger.claim(&app, &target, Some("unknown")) {
                    let trigger = s.trigger.clone();
                    planned
                        .push(Planned { meta, result: Err(PlanError::UnknownTrigger { trigger }) });
                }
                continue;
            };
            for f in conditions {
                let target = target(&s.trigger, f.condition, &s.service, recipient);
                if !ledger.claim(&app, &target, f.once_per.as_deref()) {
                    continue;
                }
                for template in &f.templates {
                    let result = build(config, event, &s.service, recipient, &s.trigger, template);
                    planned.push(Planned { meta: meta.clone(), result });
                }
            }
        }
    }
    ledger.rearm(&app, &holding);
    planned
}

fn target(trigger: &str, condition: usize, service: &str, recipient: &str) -> Target {
    Target {
        trigger: trigger.to_owned(),
        condition,
        service: service.to_owned(),
        recipient: recipient.to_owned(),
    }
}

pub fn meta(
    event: &AppEvent,
    trigger: &str,
    service: &str,
    config: &Config,
    recipient: &str,
) -> Meta {
    Meta {
        app: event.key(),
        trigger: trigger.to_owned(),
        service: service.to_owned(),
        service_type: config
            .services
            .get(service)
            .map_or("unknown", |s| s.kind.type_name())
            .to_owned(),
        recipient: recipient.to_owned(),
        revision: event.revision(),
    }
}

/// One delivery of `template` for `trigger` to `service`'s `recipient`.
pub fn build(
    config: &Config,
    event: &AppEvent,
    service: &str,
    recipient: &str,
    trigger: &str,
    template: &str,
) -> Result<Outgoing, PlanError> {
    let service = config
        .services
        .get(service)
        .ok_or_else(|| PlanError::UnknownService { service: service.to_owned() })?;
    let tmpl = config.templates.get(template).ok_or_else(|| PlanError::UnknownTemplate {
        trigger: trigger.to_owned(),
        template: template.to_owned(),
    })?;
    let url = config.app_url(&event.namespace, &event.name);
    let data =
        event.template_data(&config.context, &url, trigger, service.kind.type_name(), recipient);
    let mut rendered = tmpl.render(&data)?;
    if rendered.url.is_empty() {
        rendered.url = url;
    }
    shape(service, event, recipient, trigger, tmpl, &rendered)
}

fn shape(
    service: &Service,
    event: &AppEvent,
    recipient: &str,
    trigger: &str,
    tmpl: &NotificationTemplate,
    rendered: &Rendered,
) -> Result<Outgoing, PlanError> {
    let payload_err = |source| PlanError::Payload { service: service.name.clone(), source };
    let request = match &service.kind {
        ServiceKind::Webhook(w) => {
            let body = default_body(event, trigger, rendered);
            payload::webhook(w, &service.name, rendered, &body).map_err(payload_err)?
        }
        ServiceKind::Slack(s) => payload::slack(s, recipient, rendered).map_err(payload_err)?,
        ServiceKind::Teams(t) => payload::teams(t, recipient, rendered).map_err(payload_err)?,
        ServiceKind::Email(e) => {
            let subject = if rendered.email_subject.is_empty() {
                &rendered.title
            } else {
                &rendered.email_subject
            };
            return Ok(Outgoing::Email {
                service: Box::new(e.clone()),
                to: vec![recipient.to_owned()],
                subject: subject.clone(),
                body: rendered.message.clone(),
            });
        }
        ServiceKind::Status(s) => commit_status(service, s, event, tmpl, rendered)?,
    };
    Ok(Outgoing::Http(request))
}

/// Ferry's webhook body when the template has no `webhook.<service>` entry.
fn default_body(event: &AppEvent, trigger: &str, rendered: &Rendered) -> Value {
    let at = |p: &str| event.app.pointer(p).cloned().unwrap_or(Value::Null);
    json!({
        "app": event.name,
        "namespace": event.namespace,
        "trigger": trigger,
        "revision": event.revision(),
        "author": event.commit.author,
        "commitMessage": event.commit.message,
        "changes": event.changes,
        "sync": at("/status/sync/status"),
        "health": at("/status/health/status"),
        "title": rendered.title,
        "message": rendered.message,
        "url": rendered.url,
    })
}

fn commit_status(
    service: &Service,
    s: &StatusService,
    event: &AppEvent,
    tmpl: &NotificationTemplate,
    rendered: &Rendered,
) -> Result<HttpRequest, PlanError> {
    let provider = s.provider.as_str();
    let given = rendered.status.get(provider).cloned().unwrap_or_default();
    let state = match given.state.trim() {
        "" => state_of(&event.app),
        word => State::parse(word).ok_or_else(|| PlanError::State {
            template: tmpl.name.clone(),
            provider,
            state: word.to_owned(),
        })?,
    };
    let or = |a: String, b: String| if a.is_empty() { b } else { a };
    let status = CommitStatus {
        state,
        context: or(
            given.label,
            s.context.clone().unwrap_or_else(|| format!("ferry/{}", event.name)),
        ),
        description: or(given.description, rendered.title.clone()),
        target_url: or(given.target_url, rendered.url.clone()),
    };
    let revision = event.revision();
    if revision.is_empty() {
        return Err(PlanError::NoRevision { service: service.name.clone() });
    }
    let repo_url = event.app.pointer("/spec/source/repoURL").and_then(Value::as_str).unwrap_or("");
    let repo = RepoRef::parse(repo_url)
        .map_err(|source| PlanError::Repo { service: service.name.clone(), source })?;
    let base = s.base_url.clone().unwrap_or_else(|| s.provider.default_base(&repo));
    Ok(status::request(s.provider, &base, &s.auth, &repo, &revision, &status))
}

/// A status from the app when the template sets none: its operation's phase.
fn state_of(app: &Value) -> State {
    match app.pointer("/status/operationState/phase").and_then(Value::as_str) {
        Some("Succeeded") => State::Success,
        Some("Failed") => State::Failure,
        _ => State::Pending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Commit;

    fn config(data: &[(&str, &str)]) -> Config {
        let data = data.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Config::parse(&data, &Default::default())
    }

    fn event(phase: &str, revision: &str, annotations: Value) -> AppEvent {
        AppEvent {
            namespace: "apps".into(),
            name: "web".into(),
            app: json!({"metadata": {"name": "web", "annotations": annotations},
                        "spec": {"source": {"repoURL": "https://github.com/acme/web"}},
                        "status": {"sync": {"status": "Synced", "revision": revision}, "health": {"status": "Healthy"},
                                   "operationState": {"phase": phase, "revision": revision, "dryRun": false, "startedAt": revision}}}),
            commit: Commit { revision: revision.into(), ..Default::default() },
            ..Default::default()
        }
    }

    fn outcomes(planned: &[Planned]) -> Vec<Result<&str, String>> {
        planned
            .iter()
            .map(|p| match &p.result {
                Ok(Outgoing::Http(r)) => Ok(r.url.as_str()),
                Ok(Outgoing::Email { .. }) => Ok("email"),
                Err(e) => Err(e.to_string()),
            })
            .collect()
    }

    #[test]
    fn the_same_state_plans_once_and_a_new_revision_plans_again() {
        let config = config(&[("service.webhook.hook", "url: http://h/x\n")]);
        let subscribe = json!({"notifications.ferry.dev/subscribe.on-deployed.hook": ""});
        let mut ledger = Ledger::default();
        assert_eq!(
            outcomes(&plan(&config, &mut ledger, &event("Succeeded", "r1", subscribe.clone()))),
            vec![Ok("http://h/x")]
        );
        assert!(
            plan(&config, &mut ledger, &event("Succeeded", "r1", subscribe.clone())).is_empty()
        );
        assert_eq!(plan(&config, &mut ledger, &event("Succeeded", "r2", subscribe)).len(), 1);
    }

    #[test]
    fn a_running_sync_posts_a_pending_commit_status_then_success() {
        let config = config(&[("service.github", "token: t\nbaseURL: http://api\n")]);
        let subscribe = json!({"notifications.ferry.dev/subscribe.on-sync-running.github": "",
                               "notifications.ferry.dev/subscribe.on-sync-succeeded.github": ""});
        let mut ledger = Ledger::default();
        let state = |planned: Vec<Planned>| -> Vec<String> {
            planned
                .into_iter()
                .filter_map(|p| match p.result {
                    Ok(Outgoing::Http(r)) => serde_json::from_slice::<Value>(&r.body).ok(),
                    _ => None,
                })
                .map(|b| b["state"].as_str().unwrap_or("").to_owned())
                .collect()
        };
        assert_eq!(
            state(plan(&config, &mut ledger, &event("Running", "r1", subscribe.clone()))),
            ["pending"]
        );
        assert_eq!(
            state(plan(&config, &mut ledger, &event("Succeeded", "r1", subscribe))),
            ["success"]
        );
    }

    #[test]
    fn an_unknown_trigger_or_service_is_an_error_that_says_what_to_add_once() {
        let config = config(&[]);
        let subscribe = json!({"notifications.ferry.dev/subscribe.on-nothing.hook": "",
                               "notifications.ferry.dev/subscribe.on-deployed.nowhere": ""});
        let mut ledger = Ledger::default();
        let planned = plan(&config, &mut ledger, &event("Succeeded", "r1", subscribe.clone()));
        let errors: Vec<String> = outcomes(&planned).into_iter().filter_map(Result::err).collect();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors.iter().any(|e| e.contains("add service.<type>.nowhere")), "{errors:?}");
        assert!(errors.iter().any(|e| e.contains("add trigger.on-nothing")), "{errors:?}");
        assert!(
            plan(&config, &mut ledger, &event("Succeeded", "r1", subscribe)).is_empty(),
            "reported once"
        );
    }
}
