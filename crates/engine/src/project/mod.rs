//! The `Project` custom resource (Argo CD's `AppProject`, same field names): which repositories
//! an app of the project may deploy from, into which destinations, which kinds, from which
//! namespaces, when (sync windows), with whose rights (`destinationServiceAccounts`) and under
//! which approval rule. Projects live in Ferry's home namespace; an app names its project in
//! `spec.project`. When no Project `default` exists, the built-in [`Project::builtin_default`]
//! allows everything (what Ferry allowed before projects existed).

pub mod rules;
pub(crate) mod watch;
pub mod windows;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use rules::{Violation, check_objects, check_spec, service_account};
pub use windows::{SyncWindow, WindowVerdict};

/// The project an app without `spec.project` belongs to.
pub const DEFAULT_PROJECT: &str = "default";

/// Who may deploy what, where and when.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "ferry.dev",
    version = "v1alpha1",
    kind = "Project",
    namespaced,
    shortname = "fproj",
    category = "ferry",
    printcolumn = r#"{"name":"Description","type":"string","jsonPath":".spec.description"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ProjectSpec {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Repository URL globs apps may deploy from; `!` before a glob refuses what it matches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_repos: Vec<String>,
    /// Where apps may deploy: cluster (server or name glob) and namespace glob; `!` refuses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destinations: Vec<ProjectDestination>,
    /// Cluster-scoped kinds allowed (empty: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cluster_resource_whitelist: Vec<GroupKind>,
    /// Cluster-scoped kinds refused (beats the whitelist).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cluster_resource_blacklist: Vec<GroupKind>,
    /// Namespaced kinds allowed (empty: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespace_resource_whitelist: Vec<GroupKind>,
    /// Namespaced kinds refused (beats the whitelist).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespace_resource_blacklist: Vec<GroupKind>,
    /// Namespaces (globs) besides Ferry's own whose Applications may use this project.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_namespaces: Vec<String>,
    /// When syncs may run (Argo CD's sync windows).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sync_windows: Vec<SyncWindow>,
    /// Roles for the API's authorization (kept for it; the engine does not read them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<ProjectRole>,
    /// The ServiceAccount an app's objects are applied as, per destination.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destination_service_accounts: Vec<DestinationServiceAccount>,
    /// Approval before a new revision of the project's apps is applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ProjectApproval>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectDestination {
    /// API server URL glob.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// Cluster name glob.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Namespace glob.
    #[serde(default)]
    pub namespace: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupKind {
    /// API group glob (empty: the core group).
    #[serde(default)]
    pub group: String,
    /// Kind glob.
    pub kind: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectRole {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Casbin-style policy lines, as in Argo CD.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DestinationServiceAccount {
    /// API server URL glob.
    #[serde(default)]
    pub server: String,
    /// Namespace glob.
    #[serde(default)]
    pub namespace: String,
    /// `NAME` (in the destination namespace) or `NAMESPACE:NAME`.
    pub default_service_account: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectApproval {
    #[serde(default)]
    pub required: bool,
    /// Whether the author of a commit may approve it.
    #[serde(default)]
    pub allow_self_approval: bool,
    /// The destinations that need approval (empty: all of the project's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destinations: Vec<ProjectDestination>,
}

impl Project {
    /// The project used when no Project `default` exists: everything allowed, as before
    /// projects existed.
    pub fn builtin_default() -> Self {
        let any = || GroupKind { group: "*".into(), kind: "*".into() };
        Project::new(
            DEFAULT_PROJECT,
            ProjectSpec {
                description: "built-in: allows every repository, destination and kind".into(),
                source_repos: vec!["*".into()],
                destinations: vec![ProjectDestination {
                    server: Some("*".into()),
                    name: Some("*".into()),
                    namespace: "*".into(),
                }],
                cluster_resource_whitelist: vec![any()],
                source_namespaces: vec!["*".into()],
                ..Default::default()
            },
        )
    }
}

/// The CRD, structural as a real API server requires.
pub fn crd()
-> k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition {
    use kube::CustomResourceExt;
    crate::crd_schema::structural(Project::crd())
}
