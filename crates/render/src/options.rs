//! What an Application says about how to render its path: Argo CD's `spec.source` option blocks with
//! Argo CD's field names (so existing Applications carry over), plus Flux-style `postBuild`
//! substitution. These types are embedded in the engine's `Application` CRD, hence `JsonSchema`.
//!
//! Tool locations, time limits and size caps are operator configuration, not app configuration:
//! they live in [`crate::RenderConfig`], never in the CRD.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How to render an app's path. All blocks are optional; the kind is detected from the files when
/// [`RenderOptions::kind`] is not set.
///
/// Unknown fields are allowed here (not in the blocks) so the engine can `#[serde(flatten)]` this
/// into its Application source next to `repoURL`, `path` and `targetRevision`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RenderOptions {
    /// Forces a render kind instead of detecting it from the files at the path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<SourceKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<DirectoryOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kustomize: Option<KustomizeOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helm: Option<HelmOptions>,
    /// `${var}` substitution applied to every rendered object (Flux `postBuild.substitute`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub substitute: Option<Substitute>,
}

/// The render kinds Ferry knows.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum SourceKind {
    Directory,
    Kustomize,
    Helm,
    Jsonnet,
}

impl std::fmt::Display for SourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Directory => "directory",
            Self::Kustomize => "kustomize",
            Self::Helm => "helm",
            Self::Jsonnet => "jsonnet",
        })
    }
}

impl std::str::FromStr for SourceKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "directory" | "dir" | "yaml" => Ok(Self::Directory),
            "kustomize" => Ok(Self::Kustomize),
            "helm" => Ok(Self::Helm),
            "jsonnet" => Ok(Self::Jsonnet),
            other => Err(format!(
                "unknown render kind {other:?}: expected directory, kustomize, helm or jsonnet"
            )),
        }
    }
}

/// Argo CD `spec.source.directory`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DirectoryOptions {
    /// Also read manifests in subdirectories.
    #[serde(default)]
    pub recurse: bool,
    /// Glob of files to read (Argo CD syntax: a glob, or `{a.yaml,b.yaml}`), matched against the
    /// path relative to the app path. Empty: all manifests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<String>,
    /// Glob of files to skip, same syntax as `include`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jsonnet: Option<JsonnetOptions>,
}

/// Argo CD `spec.source.directory.jsonnet`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JsonnetOptions {
    /// Top-level arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tlas: Vec<JsonnetVar>,
    /// External variables (`std.extVar`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ext_vars: Vec<JsonnetVar>,
    /// Library search paths, repository-relative (Argo CD: relative to the repository root).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub libs: Vec<String>,
}

/// One Jsonnet TLA or ext var: a string, or Jsonnet code when `code` is true.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JsonnetVar {
    pub name: String,
    pub value: String,
    #[serde(default)]
    pub code: bool,
}

/// Argo CD `spec.source.kustomize` (the parts that map onto a kustomization edit).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KustomizeOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_suffix: Option<String>,
    /// Image overrides in `kustomize edit set image` syntax: `name=new:tag`, `name:tag`,
    /// `name@digest`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub common_labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub common_annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Allow remote bases (`https://…`, `github.com/…`). Off by default: a render must not reach
    /// the network behind the operator's back.
    #[serde(default)]
    pub allow_remote_bases: bool,
}

impl KustomizeOptions {
    /// Whether any option requires an overlay kustomization around the app's own.
    pub fn edits_anything(&self) -> bool {
        self.name_prefix.is_some()
            || self.name_suffix.is_some()
            || !self.images.is_empty()
            || !self.common_labels.is_empty()
            || !self.common_annotations.is_empty()
            || self.namespace.is_some()
    }
}

/// Argo CD `spec.source.helm`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HelmOptions {
    /// Release name; defaults to the app name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_name: Option<String>,
    /// Values files, relative to the chart directory; they must stay inside the repository.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub value_files: Vec<String>,
    /// Inline values as a YAML string (applied after `valueFiles`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<String>,
    /// Inline values as an object (applied after `values`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<BTreeMap<String, serde_json::Value>>")]
    pub values_object: Option<serde_json::Value>,
    /// `--set` / `--set-string` parameters (applied last).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<HelmParameter>,
    /// Leave out the chart's `crds/` directory.
    #[serde(default)]
    pub skip_crds: bool,
    /// `--kube-version` (what `.Capabilities.KubeVersion` reports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_version: Option<String>,
    /// `--api-versions` (what `.Capabilities.APIVersions.Has` finds).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub api_versions: Vec<String>,
    /// Release namespace; defaults to the app's destination namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// One `--set name=value` (or `--set-string` when `forceString`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HelmParameter {
    pub name: String,
    pub value: String,
    #[serde(default)]
    pub force_string: bool,
}

/// Flux `postBuild.substitute`: `${var}`, `${var:=default}`, `$${var}` for a literal.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Substitute {
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// Fail on a `${var}` with no value and no default (instead of leaving it empty).
    #[serde(default)]
    pub strict: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_argo_cd_source_block_deserializes_with_argo_field_names() {
        let yaml = "
repoURL: https://example.invalid/repo.git
path: apps/web
helm:
  releaseName: gb
  valueFiles: [values-production.yaml]
  parameters: [{name: image.tag, value: v2, forceString: true}]
  skipCrds: true
  valuesObject: {replicaCount: 2}
directory:
  recurse: true
  exclude: '*.md'
  jsonnet:
    tlas: [{name: a, value: b}]
    extVars: [{name: e, value: '1', code: true}]
    libs: [vendor]
kustomize:
  namePrefix: p-
  images: ['nginx:1.2']
  commonLabels: {team: web}
substitute:
  vars: {env: prod}
  strict: true
";
        let opts: RenderOptions = serde_saphyr::from_str(yaml).unwrap();
        let helm = opts.helm.unwrap();
        assert_eq!(helm.release_name.as_deref(), Some("gb"));
        assert!(helm.parameters[0].force_string && helm.skip_crds);
        assert_eq!(helm.values_object.unwrap()["replicaCount"], 2);
        let dir = opts.directory.unwrap();
        assert!(dir.recurse);
        assert!(dir.jsonnet.unwrap().ext_vars[0].code);
        assert_eq!(opts.kustomize.unwrap().common_labels["team"], "web");
        assert!(opts.substitute.unwrap().strict);
    }

    #[test]
    fn the_schema_uses_argo_field_names() {
        let schema = serde_json::to_string(&schemars::schema_for!(RenderOptions)).unwrap();
        for field in
            ["valueFiles", "releaseName", "extVars", "namePrefix", "skipCrds", "apiVersions"]
        {
            assert!(schema.contains(field), "{field} missing from the schema");
        }
    }
}
