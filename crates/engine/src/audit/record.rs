//! The audit record: who did what to which app, when, from where, and what came of it. One type
//! for API actions, syncs and approvals, so every sink (log, ring, Events, `ferry audit`) shows
//! them alike.

use ferry_source::CommitInfo;
use serde::{Deserialize, Serialize};

/// What kind of act a record is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordKind {
    /// A request to the API (allowed or refused).
    Api,
    /// A sync the engine carried out (or failed to).
    Sync,
    /// An approval of a revision (`action: approve`, the approver as the actor).
    Approval,
}

/// Who acted. For the engine's own syncs the user is `ferry` (automated) and `trigger` says why.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Actor {
    /// The subject: `admin` (the `--api-token`), `token:NAME`, an OIDC `sub`, `anonymous`, or
    /// `ferry` for the engine.
    pub user: String,
    /// The groups the identity provider named (OIDC), which map to roles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// How the user was authenticated: `api-token`, `token`, `oidc`, `open` (loopback without
    /// authentication), `engine`.
    pub via: String,
    /// The client's address (API requests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// The Application a record is about.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppRef {
    pub namespace: String,
    pub name: String,
    pub project: String,
}

/// What came of the act.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// An API request that was carried out (or handed to the engine).
    Allowed,
    /// Refused by authentication (401) or authorization (403).
    Denied,
    /// Allowed but it failed (a 4xx/5xx from the handler, a failed sync).
    Failed,
    /// A sync that applied its revision.
    Succeeded,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Denied => "denied",
            Outcome::Failed => "failed",
            Outcome::Succeeded => "succeeded",
        }
    }
}

/// Why a sync ran.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Trigger {
    /// `automated` (a new revision), `webhook` (a push delivery), `heal` (drift), `user` (a sync
    /// request), `rollback`.
    pub kind: String,
    /// The user who asked, when a user did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The provider's delivery id of the webhook push that moved the revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<String>,
}

/// Counts of the change set of a sync, and the objects that changed (first ones only).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Changes {
    /// The change set's one-line summary (`2 created, 1 configured, 5 unchanged`).
    pub summary: String,
    /// `action kind namespace/name` of each object that was not unchanged, at most
    /// [`MAX_CHANGED`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<String>,
}

/// A record keeps at most this many changed objects (the summary counts them all).
pub const MAX_CHANGED: usize = 50;

/// What a sync record adds: the revision and who wrote it, and what changed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncDetails {
    pub revision: String,
    /// Author, committer and message of the revision (absent when the commit could not be read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<CommitInfo>,
    /// `not verified` (Ferry does not check signatures for this app), `signed` / `unsigned` as
    /// the commit carries a signature or not.
    pub signature: String,
    pub trigger: Trigger,
    pub changes: Changes,
    pub dry_run: bool,
}

/// The HTTP side of an API record.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestDetails {
    pub method: String,
    pub path: String,
    pub status: u16,
    /// The RBAC check made: `resource action object`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission: Option<String>,
}

/// One entry of the audit trail. Never holds a Secret value: requests are recorded by path and
/// permission (not body), syncs by object names and counts (not content).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    /// RFC 3339 time of the record.
    pub time: String,
    pub kind: RecordKind,
    /// `sync`, `rollback`, `unpin`, `suspend`, `resume`, `refresh`, `terminate`, `get`, `approve`...
    pub action: String,
    pub actor: Actor,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<AppRef>,
    pub outcome: Outcome,
    /// What happened, in words.
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestDetails>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<SyncDetails>,
}

impl AuditRecord {
    /// A record stamped now.
    pub fn new(
        kind: RecordKind,
        action: impl Into<String>,
        actor: Actor,
        outcome: Outcome,
    ) -> Self {
        Self {
            time: jiff::Timestamp::now().to_string(),
            kind,
            action: action.into(),
            actor,
            app: None,
            outcome,
            message: String::new(),
            request: None,
            sync: None,
        }
    }

    /// One line for an Event note or a table: `alice sync default/demo: allowed (…)`.
    pub fn summary(&self) -> String {
        let app = self.app.as_ref().map(|a| format!(" {}/{}", a.namespace, a.name));
        let from = self.actor.address.as_deref().map(|a| format!(" from {a}")).unwrap_or_default();
        format!(
            "{} {}{}{from}: {}{}",
            self.actor.user,
            self.action,
            app.unwrap_or_default(),
            self.outcome.as_str(),
            if self.message.is_empty() { String::new() } else { format!(" ({})", self.message) }
        )
    }
}
