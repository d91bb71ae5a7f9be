//! What the API sends and accepts. Separate from the engine's types so the wire format changes
//! only on purpose; all camelCase.

use ferry_engine::Application;
use ferry_engine::application::{HistoryChanges, HistoryEntry, OperationState, ResourceStatus};
use kube::ResourceExt;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    pub hint: String,
}

/// A 403: what was refused, to whom, and what to do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeniedBody {
    pub error: String,
    pub hint: String,
    pub user: String,
    pub resource: String,
    pub action: String,
    pub object: String,
}

/// `GET /api/v1/account`: who the server takes the caller for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountInfo {
    pub user: String,
    pub groups: Vec<String>,
    /// The roles the caller has (directly, through `g` lines and the default role).
    pub roles: Vec<String>,
    /// How the caller was authenticated: `api-token`, `token`, `oidc` or `open`.
    pub via: String,
    /// Whether the server refuses requests without a token.
    pub auth_required: bool,
    /// Why the policy in ConfigMap ferry-rbac-cm is not in force (a line that does not parse).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_problem: Option<String>,
}

/// `GET /api/v1/account/can-i`: the policy's answer for the caller.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CanI {
    pub allowed: bool,
    pub user: String,
    pub resource: String,
    pub action: String,
    pub object: String,
}

/// `GET /api/v1/notifications/log`: the latest deliveries, oldest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NotificationLog {
    pub items: Vec<ferry_notify::LogEntry>,
}

/// `GET /api/v1/audit`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditList {
    pub items: Vec<ferry_engine::audit::AuditRecord>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppList {
    /// The page asked for (`offset`, `limit`), or every match when no `limit` was given.
    pub items: Vec<AppSummary>,
    /// How many apps match the filters (all pages).
    #[serde(default)]
    pub total: usize,
    /// Apps by sync and by health status among those matching every filter but `sync` and
    /// `health`, so a UI can show "OutOfSync 12" next to a chip before it is chosen.
    #[serde(default)]
    pub counts: crate::query::Counts,
    /// The values each filter can take among the apps the caller may see.
    #[serde(default)]
    pub facets: crate::query::Facets,
}

/// One line of `ferry app list`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppSummary {
    pub namespace: String,
    pub name: String,
    /// The app's project (`default` when it names none).
    #[serde(default)]
    pub project: String,
    /// The destination cluster: its name, or its server URL (`in-cluster` for Ferry's own).
    #[serde(default)]
    pub cluster: String,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
    pub sync: SyncDto,
    pub health: HealthDto,
    pub source: SourceDto,
    pub destination_namespace: String,
    pub auto_sync: bool,
    pub suspended: bool,
    /// The revision a rollback pinned the app to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_operation: Option<OperationDto>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconciled_at: Option<String>,
    /// Conditions that are a problem (e.g. `SourceReady=False`), for a quick "why".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<ProblemDto>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncDto {
    pub status: String,
    /// The app's revision as every reader shows it (`ferry_engine::records::effective`): its
    /// own status's, or a later commit its repository record verified it unchanged at.
    pub revision: String,
    /// When the revision comes from the repository record: when that record was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthDto {
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceDto {
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    pub path: String,
    pub target_revision: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationDto {
    pub phase: String,
    pub message: String,
    pub revision: String,
    pub started_at: String,
    pub finished_at: String,
    pub dry_run: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProblemDto {
    #[serde(rename = "type")]
    pub type_: String,
    pub reason: String,
    pub message: String,
}

impl From<&OperationState> for OperationDto {
    fn from(o: &OperationState) -> Self {
        Self {
            phase: o.phase.to_string(),
            message: o.message.clone(),
            revision: o.revision.clone(),
            started_at: o.started_at.clone(),
            finished_at: o.finished_at.clone(),
            dry_run: o.dry_run,
        }
    }
}

/// The repository records by name, as the engine holds them (`Engine::repo_records`).
pub type Records =
    std::collections::HashMap<String, std::sync::Arc<ferry_engine::records::RepoRecord>>;

/// Conditions whose `True` is bad news; for the others `False` is.
const BAD_WHEN_TRUE: &[&str] =
    &["SyncFailed", "PruneRefused", "PruneApproval", "RollbackFailed", "Pinned", "ComparisonError"];

impl AppSummary {
    /// The summary of `app`, its revision read through its repository record in `records`.
    pub fn new(app: &Application, records: &Records) -> Self {
        // Borrowed: the list summarises thousands of apps per request, and a status carries its
        // resources and history.
        let empty = ferry_engine::application::ApplicationStatus::default();
        let status = app.status.as_ref().unwrap_or(&empty);
        let problems = status
            .conditions
            .iter()
            .filter(|c| {
                let bad_when_true = BAD_WHEN_TRUE.contains(&c.type_.as_str());
                (c.status == "True") == bad_when_true
            })
            .map(|c| ProblemDto {
                type_: c.type_.clone(),
                reason: c.reason.clone(),
                message: c.message.clone(),
            })
            .collect();
        let destination = &app.spec.destination;
        let cluster = match (&destination.name, &destination.server) {
            (Some(name), _) if !name.is_empty() => name.clone(),
            (_, Some(server)) if server != ferry_engine::application::IN_CLUSTER_SERVER => {
                server.clone()
            }
            _ => "in-cluster".to_owned(),
        };
        Self {
            namespace: app.namespace().unwrap_or_default(),
            name: app.name_any(),
            project: app.project().to_owned(),
            cluster,
            labels: app.labels().clone(),
            sync: {
                let at = ferry_engine::records::effective_in(app, records);
                SyncDto {
                    status: status.sync.status.to_string(),
                    revision: at.revision.to_owned(),
                    checked_at: at.checked_at.map(str::to_owned),
                }
            },
            health: HealthDto {
                status: status.health.status.to_string(),
                message: status.health.message.clone(),
            },
            source: SourceDto {
                repo_url: app.spec.source.repo_url.clone(),
                path: app.spec.source.path.clone(),
                target_revision: app.spec.source.target_revision.clone(),
            },
            destination_namespace: app.spec.destination.namespace.clone(),
            auto_sync: app.automated().is_some(),
            suspended: app.spec.suspend,
            pinned: status.pinned.as_ref().map(|p| p.revision.clone()),
            last_operation: status.operation_state.as_ref().map(OperationDto::from),
            reconciled_at: status.reconciled_at.clone(),
            problems,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceList {
    pub items: Vec<ResourceDto>,
}

/// One object the app manages, as the engine last compared it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceDto {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// `Synced`, `OutOfSync` or `Unknown`.
    pub sync: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthDto>,
    /// One line per drifted field (Secret values masked).
    pub drift: Vec<String>,
}

impl From<&ResourceStatus> for ResourceDto {
    fn from(r: &ResourceStatus) -> Self {
        Self {
            group: r.group.clone(),
            version: r.version.clone(),
            kind: r.kind.clone(),
            namespace: r.namespace.clone(),
            name: r.name.clone(),
            sync: r.status.to_string(),
            health: r
                .health
                .as_ref()
                .map(|h| HealthDto { status: h.status.to_string(), message: h.message.clone() }),
            drift: r.drift.clone(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiffList {
    /// Only objects with differences.
    pub items: Vec<ObjectDiffDto>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectDiffDto {
    pub api_version: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    pub changes: Vec<FieldChangeDto>,
    /// Differences the app's `ignoreDifferences` leaves out, each with its rule (shown greyed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignored: Vec<IgnoredFieldDto>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IgnoredFieldDto {
    #[serde(flatten)]
    pub change: FieldChangeDto,
    /// `jsonPointers /spec/replicas` or `managedFieldsManagers hpa-controller`.
    pub rule: String,
}

fn field_change(c: &ferry_diff::FieldChange) -> FieldChangeDto {
    FieldChangeDto {
        path: c.path.clone(),
        desired: c.desired.clone(),
        live: c.live.clone(),
        changed_by: c.changed_by.as_ref().map(|b| ChangedByDto {
            manager: b.manager.clone(),
            operation: b.operation.as_str().to_owned(),
            time: b.time.clone(),
        }),
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldChangeDto {
    /// The field, e.g. `.spec.replicas`.
    pub path: String,
    /// What Git declares (`null`: Git does not declare it).
    pub desired: Option<serde_json::Value>,
    /// What the cluster holds (`null`: the field is absent).
    pub live: Option<serde_json::Value>,
    /// Who last wrote the live value, from managedFields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_by: Option<ChangedByDto>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangedByDto {
    pub manager: String,
    pub operation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
}

impl From<&ferry_diff::ObjectDiff> for ObjectDiffDto {
    fn from(d: &ferry_diff::ObjectDiff) -> Self {
        Self {
            api_version: d.api_version.clone(),
            kind: d.kind.clone(),
            namespace: d.namespace.clone(),
            name: d.name.clone(),
            changes: d.changes.iter().map(field_change).collect(),
            ignored: d
                .ignored
                .iter()
                .map(|i| IgnoredFieldDto { change: field_change(&i.change), rule: i.rule.clone() })
                .collect(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryList {
    /// Newest first.
    pub items: Vec<HistoryDto>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryDto {
    pub id: i64,
    pub revision: String,
    pub deployed_at: String,
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    pub path: String,
    pub target_revision: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy: Option<bool>,
    /// The commit's author.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub author: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub approved_by: String,
    /// The commit message's first line.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// What the sync did (counts, and the changed objects, capped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<HistoryChanges>,
    /// Whether this is the revision the app is synced to now.
    pub current: bool,
}

impl HistoryDto {
    pub fn new(h: &HistoryEntry, current: bool) -> Self {
        Self {
            id: h.id,
            revision: h.revision.clone(),
            deployed_at: h.deployed_at.clone(),
            repo_url: h.source.repo_url.clone(),
            path: h.source.path.clone(),
            target_revision: h.source.target_revision.clone(),
            healthy: h.healthy,
            author: h.author.clone(),
            approved_by: h.approved_by.clone(),
            message: h.message.clone(),
            changes: h.changes.clone(),
            current,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventList {
    /// Newest first, at most [`crate::events::MAX_EVENTS`].
    pub items: Vec<EventDto>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventDto {
    /// `Normal` or `Warning`.
    #[serde(rename = "type")]
    pub type_: String,
    pub reason: String,
    pub message: String,
    pub count: i32,
    /// RFC 3339; empty when the event carries no time.
    pub last_seen: String,
    pub source: String,
}

/// `POST .../sync`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SyncBody {
    #[serde(default)]
    pub prune: bool,
    #[serde(default)]
    pub dry_run: bool,
    /// Sync only these objects (empty: all); each must be one the app declares or recorded.
    #[serde(default)]
    pub resources: Vec<ferry_engine::application::SyncResourceRef>,
    /// Delete and create again objects whose update an immutable field refuses.
    #[serde(default)]
    pub force: bool,
}

/// `POST .../approve`: the revision to approve (default: the one awaiting approval).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApproveBody {
    #[serde(default)]
    pub revision: Option<String>,
}

/// `POST .../rollback`: a history id or a revision (a commit SHA or a prefix of at least 4).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RollbackBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
}

/// The answer to an action: it was recorded; the engine acts on it asynchronously.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Accepted {
    pub namespace: String,
    pub name: String,
    pub action: String,
    pub message: String,
    /// The request's id: the annotation value written. The engine copies it to `poll` when it
    /// has acted on the request, so a client polls `GET /api/v1/applications/{namespace}/{name}`
    /// until that field equals this id (absent for suspend and resume, which take effect at once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The status field that carries `requestId` once handled, e.g. `status.handledRequests.sync`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookResult {
    pub provider: String,
    /// `push`, `pull_request`, `ping`, `ignored` or `duplicate`.
    pub event: String,
    /// Applications whose repository the push names; each is reconciled now.
    pub triggered: usize,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repositories: Vec<String>,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Readiness {
    pub ready: bool,
    pub message: String,
    pub applications: usize,
}
