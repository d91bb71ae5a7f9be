//! Subscriptions: annotations on the Application, Ferry's or Argo CD's —
//! `notifications.ferry.dev/subscribe.<trigger>.<service>: "<recipient>;<recipient>"` and
//! `notifications.argoproj.io/subscribe.<trigger>.<service>`. Recipients are what the service
//! needs (email addresses, a Slack channel, a Teams recipient key) and may be empty (webhooks,
//! commit statuses). Argo CD's `notifications.argoproj.io/subscriptions` YAML form is not read.

use std::collections::BTreeMap;

pub const FERRY_PREFIX: &str = "notifications.ferry.dev/subscribe.";
pub const ARGO_PREFIX: &str = "notifications.argoproj.io/subscribe.";

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Subscription {
    pub trigger: String,
    pub service: String,
    /// At least one: `""` when the annotation names none.
    pub recipients: Vec<String>,
}

/// Whether any annotation subscribes (cheap: the engine asks before building an event).
pub fn any(annotations: &BTreeMap<String, String>) -> bool {
    annotations.keys().any(|k| k.starts_with(FERRY_PREFIX) || k.starts_with(ARGO_PREFIX))
}

/// The subscriptions the annotations declare, each `(trigger, service)` once (Ferry's
/// annotation wins over Argo CD's for the same pair).
pub fn parse(annotations: &BTreeMap<String, String>) -> Vec<Subscription> {
    let mut found: BTreeMap<(String, String), (bool, Vec<String>)> = BTreeMap::new();
    for (key, value) in annotations {
        let (rest, ferry) = match (key.strip_prefix(FERRY_PREFIX), key.strip_prefix(ARGO_PREFIX)) {
            (Some(rest), _) => (rest, true),
            (_, Some(rest)) => (rest, false),
            _ => continue,
        };
        let Some((trigger, service)) = rest.split_once('.') else { continue };
        if trigger.is_empty() || service.is_empty() {
            continue;
        }
        let mut recipients: Vec<String> = value
            .split([';', ','])
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
            .collect();
        if recipients.is_empty() {
            recipients.push(String::new());
        }
        let entry = found.entry((trigger.to_owned(), service.to_owned()));
        let slot = entry.or_insert((ferry, recipients.clone()));
        if ferry && !slot.0 {
            *slot = (true, recipients);
        }
    }
    found
        .into_iter()
        .map(|((trigger, service), (_, recipients))| Subscription { trigger, service, recipients })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ferry_and_argo_cd_annotations_both_subscribe_with_semicolon_separated_recipients() {
        let annotations: BTreeMap<String, String> = [
            ("notifications.ferry.dev/subscribe.on-deployed.email", "a@x.io; b@x.io"),
            ("notifications.argoproj.io/subscribe.on-sync-failed.slack", "#alerts"),
            ("notifications.argoproj.io/subscribe.on-deployed.github", ""),
            ("unrelated", "x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert!(any(&annotations));
        assert_eq!(
            parse(&annotations),
            vec![
                Subscription {
                    trigger: "on-deployed".into(),
                    service: "email".into(),
                    recipients: vec!["a@x.io".into(), "b@x.io".into()]
                },
                Subscription {
                    trigger: "on-deployed".into(),
                    service: "github".into(),
                    recipients: vec![String::new()]
                },
                Subscription {
                    trigger: "on-sync-failed".into(),
                    service: "slack".into(),
                    recipients: vec!["#alerts".into()]
                },
            ]
        );
    }
}
