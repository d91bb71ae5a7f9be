//! What the engine reports after a reconcile wrote an app's status: the Application as JSON
//! (with the status just written) and what CEL and templates read beside it.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// The commit the app is at (or being synced to).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Commit {
    pub revision: String,
    pub author: String,
    pub message: String,
}

#[derive(Clone, Debug, Default)]
pub struct AppEvent {
    pub namespace: String,
    pub name: String,
    /// The Application's JSON (`metadata`, `spec`, `status`).
    pub app: Value,
    /// The sync this reconcile ran: `auto`, `manual`, `heal`, or empty.
    pub sync_kind: String,
    pub commit: Commit,
    /// The change set in a few words (`2 created, 1 configured`).
    pub changes: String,
    /// Set on a deleted app: its dedup state is forgotten, nothing is sent.
    pub deleted: bool,
}

impl AppEvent {
    /// `namespace/name`, the app's key in the ledger and the delivery log.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    pub fn annotations(&self) -> BTreeMap<String, String> {
        self.app
            .pointer("/metadata/annotations")
            .and_then(|a| serde_json::from_value(a.clone()).ok())
            .unwrap_or_default()
    }

    /// The revision the app is at: the operation's, else the sync status's.
    pub fn revision(&self) -> String {
        if !self.commit.revision.is_empty() {
            return self.commit.revision.clone();
        }
        let at = |p: &str| self.app.pointer(p).and_then(Value::as_str).unwrap_or("").to_owned();
        let op = at("/status/operationState/revision");
        if op.is_empty() { at("/status/sync/revision") } else { op }
    }

    /// CEL's `event`.
    pub fn cel_event(&self) -> Value {
        json!({"syncKind": self.sync_kind, "author": self.commit.author})
    }

    /// What templates read (`.app`, `.context`, `.commit`, …) for one delivery.
    pub fn template_data(
        &self,
        context: &BTreeMap<String, String>,
        url: &str,
        trigger: &str,
        service_type: &str,
        recipient: &str,
    ) -> Value {
        let revision = self.revision();
        let short: String = revision.chars().take(7).collect();
        json!({
            "app": self.app,
            "context": context,
            "commit": {"revision": revision, "short": short, "author": self.commit.author, "message": self.commit.message},
            "changes": self.changes,
            "trigger": trigger,
            "url": url,
            "serviceType": service_type,
            "recipient": recipient,
        })
    }
}
