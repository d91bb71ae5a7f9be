//! The triggers and templates that need no config. A ConfigMap key of the same name
//! (`trigger.on-deployed`, `template.on-deployed`) replaces one.

use crate::status::Provider;
use crate::template::NotificationTemplate;
use crate::trigger::{ConditionSpec, Trigger};

/// `(name, when, oncePer, status state, colour, title)`.
type Builtin = (&'static str, &'static str, &'static str, &'static str, &'static str, &'static str);

/// One operation: a new sync is a new start time (and revision).
const PER_OPERATION: &str =
    "app.status.operationState.startedAt + '@' + app.status.operationState.revision";

const BUILTINS: &[Builtin] = &[
    (
        "on-sync-running",
        "app.status.operationState.phase == 'Running' && !app.status.operationState.dryRun",
        PER_OPERATION,
        "pending",
        "#0dadea",
        "{{.app.metadata.name}}: syncing {{.commit.short}}",
    ),
    (
        "on-sync-succeeded",
        "app.status.operationState.phase == 'Succeeded' && !app.status.operationState.dryRun",
        PER_OPERATION,
        "success",
        "#18be52",
        "{{.app.metadata.name}}: synced {{.commit.short}}",
    ),
    (
        "on-sync-failed",
        "app.status.operationState.phase == 'Failed' && !app.status.operationState.dryRun",
        "app.status.operationState.revision",
        "failure",
        "#e96d76",
        "{{.app.metadata.name}}: sync of {{.commit.short}} failed",
    ),
    (
        "on-health-degraded",
        "app.status.health.status == 'Degraded'",
        "",
        "failure",
        "#f4c030",
        "{{.app.metadata.name}}: degraded",
    ),
    (
        "on-deployed",
        // Synced and Healthy at a revision: after a sync, or a commit that changed no object
        // (Ferry then moves the revision without an operation, where Argo CD would sync).
        "app.status.sync.status == 'Synced' && app.status.health.status == 'Healthy' && app.status.sync.revision != ''",
        "app.status.sync.revision",
        "success",
        "#18be52",
        "{{.app.metadata.name}}: deployed {{.commit.short}}",
    ),
    (
        "on-drift-healed",
        "event.syncKind == 'heal' && app.status.operationState.phase == 'Succeeded'",
        PER_OPERATION,
        "success",
        "#0dadea",
        "{{.app.metadata.name}}: drift healed",
    ),
    (
        "on-approval-required",
        "app.status.approval.phase == 'AwaitingApproval'",
        "app.status.approval.revision",
        "pending",
        "#f4c030",
        "{{.app.metadata.name}}: {{.commit.short}} awaits approval",
    ),
];

/// The built-in trigger names.
pub fn trigger_names() -> impl Iterator<Item = &'static str> {
    BUILTINS.iter().map(|b| b.0)
}

/// The built-in triggers, each sending the template of its own name.
pub fn triggers() -> Vec<Trigger> {
    BUILTINS
        .iter()
        .filter_map(|&(name, when, once_per, ..)| {
            let spec = ConditionSpec {
                when: when.into(),
                send: vec![name.into()],
                once_per: (!once_per.is_empty()).then(|| once_per.into()),
                description: None,
            };
            // The built-ins are tested to compile (see the tests below).
            Trigger::new(name, vec![spec]).ok()
        })
        .collect()
}

const MESSAGE: &str = "{{.app.metadata.name}} ({{.app.metadata.namespace}}): {{.trigger}}\nRevision: {{.commit.short}}{{if .commit.author}} by {{.commit.author}}{{end}}\n{{if .commit.message}}Message: {{.commit.message}}\n{{end}}{{if .changes}}Changes: {{.changes}}\n{{end}}Sync: {{.app.status.sync.status}}, health: {{.app.status.health.status}}{{if .app.status.operationState.message}}\nOperation: {{.app.status.operationState.message}}{{end}}\n{{.url}}";

/// The built-in templates: title, message, email subject, link, colour, commit status.
pub fn templates() -> Vec<NotificationTemplate> {
    BUILTINS
        .iter()
        .filter_map(|&(name, _, _, state, color, title)| {
            let mut fields = vec![
                ("title".to_owned(), title.to_owned()),
                ("message".to_owned(), MESSAGE.to_owned()),
                ("email.subject".to_owned(), format!("[ferry] {title}")),
                ("url".to_owned(), "{{.url}}".to_owned()),
                ("color".to_owned(), color.to_owned()),
            ];
            for p in [Provider::GitHub, Provider::GitLab, Provider::Gitea, Provider::Bitbucket] {
                let p = p.as_str();
                fields.push((format!("{p}.status.state"), state.to_owned()));
                fields.push((format!("{p}.status.targetURL"), "{{.url}}".to_owned()));
                fields.push((format!("{p}.status.description"), title.to_owned()));
            }
            NotificationTemplate::from_fields(name, fields).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trigger::Vars;
    use serde_json::json;

    #[test]
    fn every_builtin_trigger_and_template_compiles() {
        assert_eq!(triggers().len(), BUILTINS.len());
        assert_eq!(templates().len(), BUILTINS.len());
    }

    #[test]
    fn on_deployed_holds_once_synced_and_healthy_and_names_the_revision() {
        let trigger = triggers().into_iter().find(|t| t.name == "on-deployed").expect("builtin");
        let mut app = json!({"metadata": {"name": "a"}, "status": {
            "sync": {"status": "Synced", "revision": "r1"}, "health": {"status": "Progressing"},
            "operationState": {"phase": "Succeeded", "revision": "r1", "dryRun": false, "startedAt": "t"}}});
        assert!(trigger.evaluate(&Vars::new(&app, &json!({}))).is_empty());
        app["status"]["health"]["status"] = json!("Healthy");
        let fired = trigger.evaluate(&Vars::new(&app, &json!({})));
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].once_per.as_deref(), Some("r1"));
    }

    #[test]
    fn the_default_message_names_revision_author_message_changes_and_link() {
        let template = templates().into_iter().find(|t| t.name == "on-deployed").expect("builtin");
        let data = json!({"app": {"metadata": {"name": "guestbook", "namespace": "apps"},
                                  "status": {"sync": {"status": "Synced"}, "health": {"status": "Healthy"}}},
                          "trigger": "on-deployed", "url": "https://cd/applications/apps/guestbook", "changes": "1 configured",
                          "commit": {"short": "abc1234", "author": "Ada <ada@example.com>", "message": "bump"}});
        let r = template.render(&data).expect("renders");
        assert_eq!(r.title, "guestbook: deployed abc1234");
        assert_eq!(
            r.message,
            "guestbook (apps): on-deployed\nRevision: abc1234 by Ada <ada@example.com>\nMessage: bump\nChanges: 1 configured\nSync: Synced, health: Healthy\nhttps://cd/applications/apps/guestbook"
        );
        assert_eq!(r.status["gitlab"].state, "success");
    }
}
