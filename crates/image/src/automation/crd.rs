//! The custom resources of image automation, in group `image.ferry.dev/v1alpha1`. Field names
//! follow Flux's image-reflector and image-automation controllers where the concept is the same
//! (`image`, `interval`, `secretRef`, `imageRepositoryRef`, `filterTags`, `policy`,
//! `latestRef`), so a Flux user reads them without a dictionary.
//!
//! ```yaml
//! kind: ImageRepository      # what to scan
//! spec: {image: ghcr.io/org/app, interval: 5m, secretRef: {name: regcred}}
//! ---
//! kind: ImagePolicy          # which tag to deploy
//! spec: {imageRepositoryRef: {name: app}, policy: {semver: {range: ">=1.0.0"}}}
//! ---
//! kind: ImageUpdateAutomation  # where to write it
//! spec:
//!   interval: 5m
//!   git:
//!     repoURL: https://git.example.com/org/config.git
//!     checkout: {branch: main}
//!     push: {branch: image-updates}   # optional: a branch for a pull request
//!     commit: {author: {name: ferry, email: ferry@example.com}, messageTemplate: "…"}
//!   update: {path: ./apps}
//! ```

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps, JSONSchemaPropsOrArray,
};
use kube::{CustomResource, CustomResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::policy;

pub const GROUP: &str = "image.ferry.dev";
pub const VERSION: &str = "v1alpha1";

fn default_interval() -> String {
    "5m".to_string()
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// A Secret in the same namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SecretRef {
    pub name: String,
}

/// An image to scan for tags.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "image.ferry.dev",
    version = "v1alpha1",
    kind = "ImageRepository",
    namespaced,
    status = "ImageRepositoryStatus",
    shortname = "fimgrepo",
    category = "ferry",
    printcolumn = r#"{"name":"Image","type":"string","jsonPath":".spec.image"}"#,
    printcolumn = r#"{"name":"Tags","type":"integer","jsonPath":".status.tagCount"}"#,
    printcolumn = r#"{"name":"Last scan","type":"string","jsonPath":".status.lastScanTime"}"#,
    printcolumn = r#"{"name":"Error","type":"string","jsonPath":".status.lastError"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ImageRepositorySpec {
    /// The image without tag: `ghcr.io/org/app`, `nginx`.
    pub image: String,
    /// How often to scan: `30s`, `5m`, `1h30m`.
    #[serde(default = "default_interval")]
    pub interval: String,
    /// Registry credentials: a Secret of type `kubernetes.io/dockerconfigjson`, or one with
    /// `username` and `password` keys (`kubernetes.io/basic-auth`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretRef>,
    /// Speak plain HTTP to the registry (a registry on a private network or loopback).
    #[serde(default, skip_serializing_if = "is_false")]
    pub insecure: bool,
    /// Stop scanning; the last result stays.
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspend: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageRepositoryStatus {
    /// When the last scan finished (RFC 3339), successful or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_scan_time: Option<String>,
    /// Tags found by the last successful scan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_count: Option<u64>,
    /// The image as scanned (`docker.io/library/nginx`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canonical_image_name: Option<String>,
    /// Why the last scan failed; absent after a successful one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// An ImageRepository, by default in the policy's namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RepositoryRef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Which tag of an ImageRepository to deploy.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "image.ferry.dev",
    version = "v1alpha1",
    kind = "ImagePolicy",
    namespaced,
    status = "ImagePolicyStatus",
    shortname = "fimgpol",
    category = "ferry",
    printcolumn = r#"{"name":"Latest","type":"string","jsonPath":".status.latestImage"}"#,
    printcolumn = r#"{"name":"Error","type":"string","jsonPath":".status.lastError"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ImagePolicySpec {
    pub image_repository_ref: RepositoryRef,
    /// `filterTags` (regex `pattern`, optional `extract`) and `policy` (`semver: {range}`,
    /// `alphabetical: {order}`, `numerical: {order}` or `newest: {}`).
    #[serde(flatten)]
    pub choice: policy::ImagePolicy,
    /// Write `name:tag@digest` rather than `name:tag`, so a moved tag does not change what runs.
    #[serde(default, skip_serializing_if = "is_false")]
    pub digest_pinning: bool,
}

/// The chosen image.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LatestRef {
    pub name: String,
    pub tag: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

impl LatestRef {
    /// `name:tag` or `name:tag@digest`.
    pub fn reference(&self) -> String {
        match &self.digest {
            Some(digest) => format!("{}:{}@{digest}", self.name, self.tag),
            None => format!("{}:{}", self.name, self.tag),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImagePolicyStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_ref: Option<LatestRef>,
    /// `latestRef` as one reference, for `kubectl get`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_image: Option<String>,
    /// Why no tag could be chosen (bad pattern or range, no tag qualifies, scan failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// Writes the tags chosen by the ImagePolicies of its namespace into a Git repository.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "image.ferry.dev",
    version = "v1alpha1",
    kind = "ImageUpdateAutomation",
    namespaced,
    status = "ImageUpdateAutomationStatus",
    shortname = "fimgauto",
    category = "ferry",
    printcolumn = r#"{"name":"Last push","type":"string","jsonPath":".status.lastPushTime"}"#,
    printcolumn = r#"{"name":"Commit","type":"string","jsonPath":".status.lastPushCommit"}"#,
    printcolumn = r#"{"name":"Error","type":"string","jsonPath":".status.lastError"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ImageUpdateAutomationSpec {
    /// How often to check the policies against Git, besides whenever a chosen tag changes.
    #[serde(default = "default_interval")]
    pub interval: String,
    pub git: GitSpec,
    #[serde(default)]
    pub update: UpdateSpec,
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspend: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitSpec {
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    /// Git credentials for an HTTP(S) URL: a Secret with `username` and `password` keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretRef>,
    #[serde(default)]
    pub checkout: CheckoutSpec,
    /// Push to this branch (e.g. for a pull request) instead of the checkout branch. When it
    /// exists, updates are committed on top of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push: Option<PushSpec>,
    #[serde(default)]
    pub commit: CommitSpec,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CheckoutSpec {
    pub branch: String,
}

impl Default for CheckoutSpec {
    fn default() -> Self {
        CheckoutSpec { branch: "main".to_string() }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PushSpec {
    pub branch: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommitSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<Author>,
    /// `{images}`, `{changes}` and `{count}` are replaced; `{{`/`}}` are literal braces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_template: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Author {
    pub name: String,
    pub email: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UpdateSpec {
    /// The directory (or file) inside the repository whose image references are updated.
    pub path: String,
}

impl Default for UpdateSpec {
    fn default() -> Self {
        UpdateSpec { path: ".".to_string() }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageUpdateAutomationStatus {
    /// The last commit pushed (absent until one was).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_push_commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_push_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_push_branch: Option<String>,
    /// The changes of the last push: `file:line old → new`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub last_push_changes: Vec<String>,
    /// When Git was last compared with the policies, pushed or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// The three CRDs, with schemas the API server accepts as structural.
pub fn crds() -> Vec<CustomResourceDefinition> {
    let mut crds = vec![ImageRepository::crd(), ImagePolicy::crd(), ImageUpdateAutomation::crd()];
    for crd in &mut crds {
        for version in &mut crd.spec.versions {
            if let Some(schema) =
                version.schema.as_mut().and_then(|s| s.open_api_v3_schema.as_mut())
            {
                make_structural(schema);
            }
        }
    }
    crds
}

/// A property without a type would make the schema non-structural: mark it as free-form.
fn make_structural(schema: &mut JSONSchemaProps) {
    let untyped = schema.type_.is_none()
        && schema.properties.is_none()
        && schema.items.is_none()
        && schema.any_of.is_none()
        && schema.one_of.is_none()
        && schema.all_of.is_none();
    if untyped {
        schema.x_kubernetes_preserve_unknown_fields = Some(true);
    }
    for property in schema.properties.iter_mut().flat_map(|p| p.values_mut()) {
        make_structural(property);
    }
    if let Some(JSONSchemaPropsOrArray::Schema(items)) = schema.items.as_mut() {
        make_structural(items);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flux_style_policy_reads_into_the_spec() {
        let spec: ImagePolicySpec = serde_json::from_value(serde_json::json!({
            "imageRepositoryRef": {"name": "app"},
            "filterTags": {"pattern": "^v(?P<v>.*)$", "extract": "$v"},
            "policy": {"semver": {"range": "^1"}},
            "digestPinning": true
        }))
        .expect("a valid spec");
        assert_eq!(spec.choice.policy, policy::Policy::Semver { range: "^1".into() });
        assert_eq!(spec.choice.filter_tags.map(|f| f.pattern), Some("^v(?P<v>.*)$".into()));
        assert!(spec.digest_pinning);
    }

    #[test]
    fn every_crd_is_in_the_image_group_with_a_status_subresource() {
        let crds = crds();
        let names: Vec<&str> = crds.iter().filter_map(|c| c.metadata.name.as_deref()).collect();
        assert_eq!(
            names,
            [
                "imagerepositories.image.ferry.dev",
                "imagepolicies.image.ferry.dev",
                "imageupdateautomations.image.ferry.dev"
            ]
        );
        for crd in &crds {
            let version = &crd.spec.versions[0];
            assert!(version.subresources.as_ref().and_then(|s| s.status.as_ref()).is_some());
        }
    }
}
