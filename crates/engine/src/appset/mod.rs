//! The `ApplicationSet` custom resource (Argo CD's field names): generators produce parameter
//! sets, a template turns each into an Application, and the controller keeps the generated
//! Applications equal to what the generators say (`applicationsSync`), never deleting on a
//! generator error and asking for an approval before deleting more than `maxDeletions` apps.
//! `strategy.type: RollingSync` syncs the generated apps step by step.
//!
//! The pure parts, each table-tested: [`params`] (what each generator yields), [`select`]
//! (label selectors), [`template`] (fasttemplate and Go-template rendering into Applications),
//! [`plan`] (generated vs existing: creates, updates, deletes, the deletion guard) and
//! [`rollout`] (which apps a RollingSync syncs now). [`generate`] reads git and the cluster
//! Secrets; `controller` is the watch and reconcile loop.
//!
//! Not supported (yet): `templatePatch`, the `scmProvider`, `pullRequest`, `clusterDecisionResource`
//! and `plugin` generators, per-generator `template` overrides, a matrix child reading the
//! other child's parameters, and templated `values` (they are passed as written).

pub(crate) mod controller;
pub mod generate;
pub mod gotmpl;
pub mod params;
pub mod plan;
mod report;
pub mod rollout;
pub mod select;
pub mod template;

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::application::Condition;

/// The label every generated Application carries: the name of its ApplicationSet.
pub const LABEL_APPLICATION_SET: &str = "ferry.dev/application-set";
/// Annotation approving a pending deletion: its value is the `hash` in
/// `status.pendingDeletion`, so an approval covers exactly that list of apps.
pub const ANNOTATION_APPROVE_DELETION: &str = "ferry.dev/approve-deletion";
/// The most Applications one set may generate.
pub const MAX_GENERATED: usize = 10_000;
/// Deletions one reconcile makes without an approval, unless `spec.syncPolicy.maxDeletions`
/// says otherwise.
pub const DEFAULT_MAX_DELETIONS: usize = 1;

/// Generators, a template, and how generated apps are kept.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "ferry.dev",
    version = "v1alpha1",
    kind = "ApplicationSet",
    namespaced,
    status = "ApplicationSetStatus",
    shortname = "fappset",
    category = "ferry",
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSetSpec {
    /// Go-template syntax (`{{ .path.basename }}`) instead of fasttemplate (`{{path.basename}}`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub go_template: bool,
    /// Go template options; `missingkey=error` makes an unknown key an error.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub go_template_options: Vec<String>,
    pub generators: Vec<Generator>,
    pub template: AppTemplate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_policy: Option<SetSyncPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,
}

/// One generator; exactly one field is set. Unknown generators are kept as JSON so that the
/// set reports them by name instead of failing to load.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Generator {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<ListGenerator>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clusters: Option<ClustersGenerator>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitGenerator>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix: Option<Combine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge: Option<Combine>,
    /// Any other key (`scmProvider`, `pullRequest`, …): refused with its name.
    #[serde(flatten)]
    #[schemars(skip)]
    pub other: BTreeMap<String, Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListGenerator {
    /// Each element is one parameter set (its keys are the parameters).
    #[serde(default)]
    pub elements: Vec<Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClustersGenerator {
    /// Which clusters (by their Secret's labels); empty: all, the local one included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// Extra parameters, `values.<key>`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelectorRequirement {
    pub key: String,
    /// `In`, `NotIn`, `Exists`, `DoesNotExist`.
    pub operator: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitGenerator {
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    /// Branch, tag or commit; empty: `HEAD`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub revision: String,
    /// Directories matching a glob are parameter sets; `exclude: true` entries remove matches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub directories: Vec<GitPath>,
    /// JSON or YAML files matching a glob; each file (or each element of a file holding a list)
    /// is a parameter set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<GitPath>,
    /// Extra parameters, `values.<key>`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitPath {
    pub path: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exclude: bool,
}

/// `matrix` (the cartesian product of two generators) or `merge` (the first generator's sets,
/// overridden by the others' sets with the same `mergeKeys` values).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Combine {
    #[schemars(with = "Vec<Value>")]
    pub generators: Vec<Generator>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merge_keys: Vec<String>,
}

/// An Application template: metadata and a spec whose strings may hold parameters. The spec is
/// kept as JSON because it is a template (a parameter may stand where a number goes).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppTemplate {
    #[serde(default)]
    pub metadata: TemplateMeta,
    #[schemars(with = "Value")]
    pub spec: Value,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateMeta {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finalizers: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SetSyncPolicy {
    /// Delete generated apps without their resources (the cascade finalizer is never set).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub preserve_resources_on_deletion: bool,
    /// `create-only`, `create-update`, `create-delete` or `sync` (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applications_sync: Option<String>,
    /// Deletions one reconcile makes without `ferry appset approve` (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_deletions: Option<u32>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Strategy {
    /// `AllAtOnce` (the default) or `RollingSync`.
    #[serde(rename = "type")]
    pub type_: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling_sync: Option<RollingSync>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RollingSync {
    pub steps: Vec<RolloutStep>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutStep {
    #[serde(default)]
    pub match_expressions: Vec<LabelSelectorRequirement>,
    /// How many of the step's apps sync at once: a number or a percentage (`"25%"`); default all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "int_or_string")]
    pub max_update: Option<Value>,
}

fn int_or_string(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"x-kubernetes-int-or-string": true})
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSetStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The generated apps and how they are.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceStatus>,
    /// Each generated app's place in a RollingSync.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub application_status: Vec<AppRolloutStatus>,
    /// Deletions waiting for `ferry appset approve`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_deletion: Option<PendingDeletion>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceStatus {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// `Synced`, `OutOfSync`, `Unknown`.
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub health: ResourceHealth,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ResourceHealth {
    #[serde(default)]
    pub status: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppRolloutStatus {
    pub application: String,
    /// `Waiting`, `Pending`, `Progressing` or `Healthy` (Argo CD's words).
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// The step (1-based) the app belongs to; empty when no step selects it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub step: String,
    /// The revision the app was asked to sync to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target_revisions: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingDeletion {
    pub applications: Vec<String>,
    /// What `ferry.dev/approve-deletion` must say to approve exactly these deletions.
    pub hash: String,
}

impl ApplicationSetSpec {
    /// `applicationsSync`, checked.
    pub fn policy(&self) -> Result<plan::Policy, plan::PlanError> {
        let raw = self.sync_policy.as_ref().and_then(|p| p.applications_sync.as_deref());
        plan::Policy::parse(raw)
    }

    pub fn preserve_resources(&self) -> bool {
        self.sync_policy.as_ref().is_some_and(|p| p.preserve_resources_on_deletion)
    }

    pub fn max_deletions(&self) -> usize {
        let set = self.sync_policy.as_ref().and_then(|p| p.max_deletions);
        set.map_or(DEFAULT_MAX_DELETIONS, |n| n as usize)
    }

    /// The RollingSync steps, when the strategy is RollingSync.
    pub fn rolling_steps(&self) -> Option<&[RolloutStep]> {
        let s = self.strategy.as_ref().filter(|s| s.type_ == "RollingSync")?;
        Some(s.rolling_sync.as_ref().map(|r| r.steps.as_slice()).unwrap_or_default())
    }
}

/// The CRD, structural as a real API server requires.
pub fn crd()
-> k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition {
    use kube::CustomResourceExt;
    crate::crd_schema::structural(ApplicationSet::crd())
}
