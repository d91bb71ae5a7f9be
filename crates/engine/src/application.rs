//! The `Application` custom resource. Field names follow Argo CD's wherever the concept is the
//! same, so an Argo CD user reads and writes them without a dictionary.

use std::collections::BTreeMap;

use ferry_apply::prune::InventoryEntry;
use ferry_health::{HealthCheck, HealthStatus};
use ferry_render::RenderOptions;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub const GROUP: &str = "ferry.dev";
pub const VERSION: &str = "v1alpha1";

/// Annotation a user (or `ferry app sync`) sets to ask for a sync now; its value is a JSON
/// [`SyncRequest`] or just a timestamp. Each distinct value triggers one sync.
pub const ANNOTATION_SYNC_REQUEST: &str = "ferry.dev/sync-requested-at";
/// Annotation asking for a rollback to a history entry (its id) or a revision. Its value is a
/// JSON [`RollbackRequest`] (`{"to": "3", "at": "<timestamp>"}`) or just the id or revision. As
/// with sync requests, each distinct value is acted on once: a rollback to the same entry again
/// (after an unpin or a new commit) needs a new `at`.
pub const ANNOTATION_ROLLBACK: &str = "ferry.dev/rollback-to";
/// Annotation asking to leave a rollback pin and follow `targetRevision` again; its value is a
/// timestamp (or any nonce), and each distinct value is acted on once, so writers should use a
/// fresh one (sub-second, e.g. `jiff::Timestamp::now()`) per request.
pub const ANNOTATION_UNPIN: &str = "ferry.dev/unpin-requested-at";
/// Annotation asking the engine to resolve `targetRevision` again now (not from its cache) and
/// compare; its value is a JSON [`RefreshRequest`] or just a timestamp. Each distinct value is
/// acted on once, and its value is copied to `status.handledRequests.refresh` in the same status
/// write that reports the comparison against what the revision resolved to, so a client that
/// sees its value there reads a `status.sync` no older than its request (`ferry app wait`).
pub const ANNOTATION_REFRESH: &str = "ferry.dev/refresh-requested-at";
/// Annotation asking the engine to stop the running sync operation (Argo CD's `app
/// terminate-op`); its value is a timestamp, and each distinct value is acted on once. The engine
/// copies the value to `status.handledRequests.terminate` once the operation has stopped (or
/// when there was none to stop), so `ferry app terminate-op` can wait for it.
pub const ANNOTATION_TERMINATE: &str = "ferry.dev/terminate-requested-at";
/// Finalizer that makes deleting the Application delete its objects (Argo's `resources-finalizer`).
pub const FINALIZER_CASCADE: &str = "ferry.dev/resources-finalizer";
/// Argo CD's finalizer of the same meaning, honoured too.
pub const FINALIZER_CASCADE_ARGO: &str = "resources-finalizer.argocd.argoproj.io";

/// The project of an app that names none.
pub use crate::project::DEFAULT_PROJECT;

/// What to deploy, where, and how.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "ferry.dev",
    version = "v1alpha1",
    kind = "Application",
    namespaced,
    status = "ApplicationStatus",
    shortname = "fapp",
    category = "ferry",
    printcolumn = r#"{"name":"Sync","type":"string","jsonPath":".status.sync.status"}"#,
    printcolumn = r#"{"name":"Health","type":"string","jsonPath":".status.health.status"}"#,
    printcolumn = r#"{"name":"Applied","type":"string","jsonPath":".status.operationState.revision","description":"The commit the last sync applied"}"#,
    printcolumn = r#"{"name":"Status At","type":"string","jsonPath":".status.sync.revision","description":"The commit the app's own status was written for; later commits that left the app unchanged are in its repository record (status.sync.record), shown by ferry app get/list"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSpec {
    /// The project the app belongs to (Argo CD's `spec.project`); empty means `default`. RBAC
    /// objects name apps as `project/namespace/name`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub project: String,
    pub source: Source,
    pub destination: Destination,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_policy: Option<SyncPolicy>,
    /// Differences to ignore, the same way in diff and apply (Argo CD's `ignoreDifferences`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_differences: Vec<IgnoreDifference>,
    /// Custom health rules in CEL per group/kind.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub health_checks: Vec<HealthCheck>,
    /// Stop syncing and healing; status stays fresh.
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspend: bool,
    /// SOPS decryption of the app's files (Flux's `spec.decryption`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decryption: Option<Decryption>,
    /// Apps that must be Synced and Healthy at their current revision before this one syncs
    /// (Flux's `spec.dependsOn`); a namespace left out is the app's own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<crate::depends::DependencyRef>,
}

/// How to decrypt the app's SOPS files (Flux Kustomization's field names): `provider: sops` and
/// a Secret in the Application's namespace whose keys ending `.agekey` hold age identities and
/// ending `.asc` hold armored OpenPGP secret keys.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Decryption {
    /// Only `sops`.
    pub provider: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalSecretRef>,
}

/// A Secret in the Application's own namespace.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LocalSecretRef {
    pub name: String,
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    /// Branch, tag, commit SHA, `HEAD`, or a semver constraint over tags (`~1.2`, `>=1.0 <2.0`).
    #[serde(default = "head", skip_serializing_if = "String::is_empty")]
    pub target_revision: String,
    /// The app's directory inside the repository (`.` or empty for the root).
    #[serde(default)]
    pub path: String,
    /// How to render: `directory`, `kustomize`, `helm` blocks as in Argo CD.
    #[serde(flatten)]
    pub render: RenderOptions,
}

fn head() -> String {
    "HEAD".into()
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Destination {
    /// API server URL; `https://kubernetes.default.svc` is the cluster Ferry runs in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// Cluster name; `in-cluster` is the cluster Ferry runs in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Namespace for namespaced objects that name none.
    #[serde(default)]
    pub namespace: String,
}

pub const IN_CLUSTER_SERVER: &str = "https://kubernetes.default.svc";
pub const IN_CLUSTER_NAME: &str = "in-cluster";

impl Destination {
    /// Whether this names the cluster Ferry runs in.
    pub fn is_in_cluster(&self) -> bool {
        match (&self.server, &self.name) {
            (None, None) => true,
            (Some(s), _) => s.trim_end_matches('/') == IN_CLUSTER_SERVER,
            (None, Some(n)) => n == IN_CLUSTER_NAME,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automated: Option<Automated>,
    /// Argo CD's sync options: `CreateNamespace=true`, `PruneLast=true`, `Replace=true`,
    /// `ServerSideApply=true`, `Validate=false`, `FailOnSharedResource=true` ….
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sync_options: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
    /// A new revision waits for `ferry app approve` before it is applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<crate::approval::ApprovalPolicy>,
    /// How many deletions one sync may make before they wait for `ferry app approve`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune_guard: Option<crate::prune_guard::PruneGuard>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Automated {
    /// Delete objects that Git no longer declares.
    #[serde(default)]
    pub prune: bool,
    /// Re-apply when the live state drifts from Git.
    #[serde(default)]
    pub self_heal: bool,
    /// Allow a sync that leaves the app with no objects (or drops more than half at once).
    #[serde(default)]
    pub allow_empty: bool,
    /// Roll back to the last healthy revision when a new one goes Degraded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<AutoRollback>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AutoRollback {
    #[serde(default)]
    pub enabled: bool,
    /// How long a new revision may stay Degraded before Ferry rolls back (e.g. `2m`); default 0:
    /// roll back as soon as it is Degraded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Retry {
    /// Attempts after the first failure (negative: no limit).
    #[serde(default)]
    pub limit: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<Backoff>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Backoff {
    /// First delay, e.g. `5s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor: Option<i64>,
    /// Cap, e.g. `3m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IgnoreDifference {
    #[serde(default)]
    pub group: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub json_pointers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed_fields_managers: Vec<String>,
}

/// What Ferry observed and did. Small on purpose: no manifests, only names and summaries.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationStatus {
    #[serde(default)]
    pub sync: SyncStatus,
    #[serde(default)]
    pub health: AppHealth,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_state: Option<OperationState>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceStatus>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<HistoryEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inventory: Vec<InventoryEntry>,
    /// Set after a rollback: auto-sync stays on this revision until unpinned or a new commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned: Option<Pin>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconciled_at: Option<String>,
    /// The last sync request (annotation value) acted upon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handled_requests: Option<HandledRequests>,
    /// The revision awaiting approval, or the last one approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<crate::approval::ApprovalStatus>,
    /// The project's sync windows that match the app, and whether syncs may run now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_windows: Option<SyncWindowsStatus>,
    /// Deletions held by the prune guard (`diff`: the objects), or the last set approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune_approval: Option<crate::approval::ApprovalStatus>,
}

/// `status.syncWindows`: the matching windows and what they allow now.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncWindowsStatus {
    /// Automated syncs (and self-heal) may run now.
    pub automated: bool,
    /// Manual syncs may run now.
    pub manual: bool,
    /// Which window keeps syncs out.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub closed_by: String,
    /// When automated syncs may run again.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub next_opening: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<SyncWindowState>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncWindowState {
    /// `deny window "0 22 * * *" for 8h (UTC)`.
    pub window: String,
    pub active: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub active_until: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub next_start: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HandledRequests {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unpin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approve: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum SyncStatusCode {
    Synced,
    OutOfSync,
    #[default]
    Unknown,
}

impl std::fmt::Display for SyncStatusCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SyncStatusCode::Synced => "Synced",
            SyncStatusCode::OutOfSync => "OutOfSync",
            SyncStatusCode::Unknown => "Unknown",
        })
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncStatus {
    pub status: SyncStatusCode,
    /// The commit this status was written for (the app's own status write). A later commit
    /// that renders the same and finds the same is recorded once per repository instead (see
    /// `record`): read the app's revision through `ferry_engine::records::effective`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub revision: String,
    /// The repository record (a ConfigMap in Ferry's namespace) that may say this app was
    /// verified unchanged at a later commit than `revision`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub record: String,
    /// What this status found, apart from its revision and time: a digest of the render and of
    /// the status. A record entry naming it (and `revision`) says "the same at a later commit".
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub checkpoint: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppHealth {
    pub status: HealthStatus,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

impl Default for AppHealth {
    fn default() -> Self {
        Self { status: HealthStatus::Unknown, message: String::new() }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// `Synced`, `Healthy`, `SourceReady`, `RenderReady`, `SyncFailed`, `PruneRefused`, `Pinned` ….
    #[serde(rename = "type")]
    pub type_: String,
    /// `True` or `False`.
    pub status: String,
    pub reason: String,
    /// What happened, why, and what to do next, in plain words.
    pub message: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_transition_time: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OperationState {
    pub phase: OperationPhase,
    #[serde(default)]
    pub message: String,
    pub revision: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub started_at: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub finished_at: String,
    #[serde(default)]
    pub dry_run: bool,
    /// What the sync did, object by object (names and actions only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub change_set: Vec<ChangeSetItem>,
    /// Attempts of this revision so far (for retry with backoff).
    #[serde(default)]
    pub attempts: u32,
    /// Stopped on request (`ferry app terminate-op`): not retried automatically.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub terminated: bool,
    /// The objects the sync was limited to (a selective sync); empty: the whole app.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<SyncResourceRef>,
    /// The sync deleted and created again objects whose immutable fields changed.
    #[serde(default, skip_serializing_if = "is_false")]
    pub force: bool,
}

impl OperationState {
    /// A real (not dry-run) sync of the whole app that finished well. A selective sync is not:
    /// the revision is not applied as a whole, so it is neither a history entry nor "synced".
    pub fn succeeded(&self) -> bool {
        self.phase == OperationPhase::Succeeded && !self.dry_run && self.resources.is_empty()
    }

    /// A real sync of exactly `revision` that finished well.
    pub fn succeeded_at(&self, revision: &str) -> bool {
        self.succeeded() && self.revision == revision
    }
}

/// Where a sync operation stands (Argo CD's `status.operationState.phase` values that Ferry uses).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum OperationPhase {
    /// Started and not finished: an engine that finds this after a restart starts over.
    #[default]
    Running,
    Succeeded,
    Failed,
}

impl OperationPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "Running",
            Self::Succeeded => "Succeeded",
            Self::Failed => "Failed",
        }
    }
}

impl std::fmt::Display for OperationPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangeSetItem {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    pub name: String,
    pub action: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub phase: String,
    #[serde(default)]
    pub wave: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub at: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceStatus {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    pub version: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    pub name: String,
    pub status: SyncStatusCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<AppHealth>,
    /// One line per drifted field: path, and who changed it (values masked for Secrets).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    pub id: i64,
    pub revision: String,
    pub deployed_at: String,
    #[serde(default)]
    pub source: HistorySource,
    /// Whether the app was Healthy after this sync (known once health settles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy: Option<bool>,
    /// The commit's author (`Name <email>`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub author: String,
    /// Who approved the revision, when it needed an approval.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub approved_by: String,
    /// The commit message's first line, at most [`HISTORY_MESSAGE_CHARS`] characters.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// What the sync did: counts by action and the objects it changed (capped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<HistoryChanges>,
}

/// How long a history entry's commit message may be.
pub const HISTORY_MESSAGE_CHARS: usize = 120;
/// How many changed objects a history entry names; the rest are counted in `more`.
pub const HISTORY_OBJECTS: usize = 50;

/// The change set of one sync as history keeps it: small (names and actions, at most
/// [`HISTORY_OBJECTS`] of them), so ten entries stay a few kilobytes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryChanges {
    pub created: u32,
    pub configured: u32,
    pub pruned: u32,
    pub unchanged: u32,
    /// Hooks run, objects skipped (by annotation) and the like.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub other: u32,
    /// The objects created, configured or pruned (unchanged ones are only counted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<ChangedObject>,
    /// Changed objects left out of `objects`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub more: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangedObject {
    /// `created`, `configured` or `pruned`.
    pub action: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    pub name: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistorySource {
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub target_revision: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pin {
    pub revision: String,
    /// Why, in plain words (a manual rollback, or an automated one and the reason).
    pub reason: String,
    /// The commit `targetRevision` resolved to when the pin was set; a new commit there unpins.
    #[serde(default)]
    pub head_at_pin: String,
    pub at: String,
}

/// The parsed value of [`ANNOTATION_SYNC_REQUEST`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncRequest {
    #[serde(default)]
    pub at: String,
    #[serde(default)]
    pub prune: bool,
    #[serde(default)]
    pub dry_run: bool,
    /// Who asked (the API's authenticated user), for the audit trail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// Sync only these objects (Argo CD's `syncOperation.resources`): only they are applied, and
    /// pruned when `prune` is set; hooks do not run. Empty: the whole app. A reference that
    /// matches no object of the app fails the sync before anything is applied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<SyncResourceRef>,
    /// Ferry always applies with server-side apply's force (it takes over fields another manager
    /// holds, as Argo CD and Flux do). `force` adds what `kubectl replace --force` does for an
    /// object whose update the server refuses because an immutable field changed (a Job's
    /// template, a Service's clusterIP): it is deleted and created again.
    #[serde(default, skip_serializing_if = "is_false")]
    pub force: bool,
}

/// One object a sync is limited to: `group` empty for the core group, `namespace` empty to match
/// the name in any namespace (and for cluster-scoped objects).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncResourceRef {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    pub name: String,
}

impl SyncResourceRef {
    /// Whether the object `group`/`kind` `namespace`/`name` is the one referred to.
    pub fn matches(&self, group: &str, kind: &str, namespace: &str, name: &str) -> bool {
        self.group == group
            && self.kind == kind
            && self.name == name
            && (self.namespace.is_empty() || self.namespace == namespace)
    }

    /// Reads `GROUP:KIND:NAME` or `GROUP:KIND:NAMESPACE/NAME` (`argocd app sync --resource`'s
    /// form; the group is empty for the core group: `:Service:web`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.trim().split(':').collect();
        let [group, kind, rest] = parts.as_slice() else {
            return Err(format!(
                "{text:?} is not GROUP:KIND:NAME or GROUP:KIND:NAMESPACE/NAME (the group is empty for core kinds, e.g. :ConfigMap:settings)"
            ));
        };
        let (namespace, name) = rest.split_once('/').unwrap_or(("", rest));
        if kind.is_empty() || name.is_empty() || name.contains('/') {
            return Err(format!("{text:?} names no kind or no name: write GROUP:KIND:NAME"));
        }
        Ok(Self {
            group: group.trim().to_owned(),
            kind: kind.trim().to_owned(),
            namespace: namespace.trim().to_owned(),
            name: name.trim().to_owned(),
        })
    }
}

impl std::fmt::Display for SyncResourceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.namespace.as_str() {
            "" => write!(f, "{}:{}:{}", self.group, self.kind, self.name),
            ns => write!(f, "{}:{}:{ns}/{}", self.group, self.kind, self.name),
        }
    }
}

impl SyncRequest {
    /// Reads the annotation: a JSON object, or any other string (a timestamp) meaning "sync now".
    pub fn parse(raw: &str) -> Self {
        serde_json::from_str(raw)
            .unwrap_or_else(|_| SyncRequest { at: raw.to_owned(), ..Default::default() })
    }
}

/// The parsed value of [`ANNOTATION_REFRESH`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefreshRequest {
    #[serde(default)]
    pub at: String,
    /// Also render again, bypassing the render cache (Argo CD's hard refresh).
    #[serde(default)]
    pub hard: bool,
}

impl RefreshRequest {
    /// A request stamped now.
    pub fn new(hard: bool) -> Self {
        Self { at: jiff::Timestamp::now().to_string(), hard }
    }

    /// Reads the annotation: a JSON object, or any other string (a timestamp) meaning a normal refresh.
    pub fn parse(raw: &str) -> Self {
        serde_json::from_str(raw)
            .unwrap_or_else(|_| RefreshRequest { at: raw.to_owned(), ..Default::default() })
    }

    /// The annotation value to write.
    pub fn annotation_value(&self) -> String {
        serde_json::to_string(self).expect("a string and a bool serialize")
    }
}

/// The parsed value of [`ANNOTATION_ROLLBACK`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollbackRequest {
    /// A history entry id or a revision (a prefix of at least 4 characters).
    pub to: String,
    /// When it was asked for: what makes a repeated request to the same entry a new one.
    #[serde(default)]
    pub at: String,
    /// Who asked, for the audit trail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

impl RollbackRequest {
    /// A request to roll back to `to`, stamped now.
    pub fn new(to: impl Into<String>) -> Self {
        Self { to: to.into(), at: jiff::Timestamp::now().to_string(), by: None }
    }

    /// The same request, naming who asked.
    pub fn by(mut self, user: Option<String>) -> Self {
        self.by = user;
        self
    }

    /// Reads the annotation: a JSON object with `to`, or a bare id or revision.
    pub fn parse(raw: &str) -> Self {
        serde_json::from_str::<RollbackRequest>(raw)
            .ok()
            .filter(|r| !r.to.is_empty())
            .unwrap_or_else(|| RollbackRequest {
                to: raw.trim().to_owned(),
                at: String::new(),
                by: None,
            })
    }

    /// The annotation value to write.
    pub fn annotation_value(&self) -> String {
        serde_json::to_string(self).expect("two strings serialize")
    }
}

impl Application {
    /// `spec.project`, or `default` when it is not set.
    pub fn project(&self) -> &str {
        if self.spec.project.is_empty() { DEFAULT_PROJECT } else { &self.spec.project }
    }

    pub fn automated(&self) -> Option<&Automated> {
        self.spec.sync_policy.as_ref().and_then(|p| p.automated.as_ref())
    }

    /// Whether sync option `name` is set to true in `spec.syncPolicy.syncOptions`.
    pub fn sync_option(&self, name: &str) -> bool {
        let opts =
            self.spec.sync_policy.as_ref().map(|p| p.sync_options.as_slice()).unwrap_or_default();
        opts.iter().any(|o| match o.split_once('=') {
            Some((k, v)) => k.trim() == name && v.trim().eq_ignore_ascii_case("true"),
            None => o.trim() == name,
        })
    }

    pub fn labels_of_interest(&self) -> BTreeMap<String, String> {
        self.metadata.labels.clone().unwrap_or_default()
    }
}

/// The CRD, with untyped fields (Helm `valuesObject`) marked to preserve unknown fields so a real
/// API server accepts the structural schema.
pub fn crd()
-> k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition {
    use kube::CustomResourceExt;
    crate::crd_schema::structural(Application::crd())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rollback_request_is_read_from_json_or_a_bare_target() {
        let stamped = RollbackRequest::new("3");
        assert_eq!(RollbackRequest::parse(&stamped.annotation_value()), stamped);
        assert_eq!(
            RollbackRequest::parse("ab12cd3"),
            RollbackRequest { to: "ab12cd3".into(), at: String::new(), by: None }
        );
        // A JSON value without a target is taken as it is, not as an empty request.
        assert_eq!(RollbackRequest::parse(r#"{"at":"x"}"#).to, r#"{"at":"x"}"#);
    }

    #[test]
    fn a_resource_reference_reads_argo_cds_forms_and_refuses_others() {
        let cm = SyncResourceRef::parse(":ConfigMap:settings").expect("core kind");
        assert_eq!(
            (cm.group.as_str(), cm.kind.as_str(), cm.name.as_str()),
            ("", "ConfigMap", "settings")
        );
        assert!(cm.matches("", "ConfigMap", "any-namespace", "settings"));
        let job = SyncResourceRef::parse("batch:Job:jobs/migrate").expect("namespaced form");
        assert_eq!(job.namespace, "jobs");
        assert!(!job.matches("batch", "Job", "other", "migrate"));
        assert_eq!(job.to_string(), "batch:Job:jobs/migrate");
        for bad in ["settings", "ConfigMap:settings", "apps:Deployment:", "::x", "a:B:c/d/e"] {
            assert!(SyncResourceRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_sync_request_without_new_fields_reads_as_before_and_writes_none_of_them() {
        let old = SyncRequest::parse(r#"{"at":"t","prune":true}"#);
        assert!(old.resources.is_empty() && !old.force);
        let text = serde_json::to_string(&old).expect("serializes");
        assert!(!text.contains("resources") && !text.contains("force"), "{text}");
    }

    #[test]
    fn two_requests_for_the_same_entry_are_distinct_values() {
        let first =
            RollbackRequest { to: "3".into(), at: "2026-01-01T00:00:00.1Z".into(), by: None };
        let again =
            RollbackRequest { to: "3".into(), at: "2026-01-01T00:00:00.2Z".into(), by: None };
        assert_ne!(first.annotation_value(), again.annotation_value());
    }
}
