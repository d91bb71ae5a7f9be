//! Operator configuration of the render stage: where the tools are, how long they may run, how
//! much they may read. Not part of any Application.

use std::path::PathBuf;
use std::sync::Arc;

use ferry_secrets::Keyring;
use std::time::Duration;

/// Hard caps. Every one exists because a repository is untrusted input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest single file read from the tree.
    pub max_file_bytes: u64,
    /// Sum of all bytes one render may read or receive from a tool.
    pub max_total_bytes: u64,
    /// Most files one render may read.
    pub max_files: usize,
    /// Most YAML documents in one file.
    pub max_documents_per_file: usize,
    /// Deepest YAML/JSON nesting.
    pub max_depth: usize,
    /// Most YAML events replayed through aliases in one file (billion-laughs guard).
    pub max_alias_events: usize,
    /// Most scalar bytes aliases may add to one file beyond its own size (billion-laughs guard
    /// for long strings). Real files reuse an anchor a few times; kubectl's loader bounds the
    /// expansion by a budget, not by the file's length, and so does this.
    pub max_alias_bytes: usize,
    /// Most objects one render may produce.
    pub max_objects: usize,
    /// Largest object (as compact JSON) one render may produce: etcd's default request limit
    /// (1.5 MiB), past which a real API server refuses to store it.
    pub max_object_bytes: usize,
    /// Wall-clock limit for an external tool (kustomize, helm) and for Jsonnet evaluation.
    pub tool_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_file_bytes: 16 * 1024 * 1024,
            max_total_bytes: 256 * 1024 * 1024,
            max_files: 50_000,
            max_documents_per_file: 20_000,
            max_depth: 100,
            max_alias_events: 100_000,
            max_alias_bytes: 16 * 1024 * 1024,
            max_objects: 100_000,
            max_object_bytes: 1536 * 1024,
            tool_timeout: Duration::from_secs(120),
        }
    }
}

/// Where the external tools are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tools {
    /// `kubectl`, used for `kubectl kustomize` when no `kustomize` binary is configured.
    pub kubectl: PathBuf,
    /// A standalone `kustomize` binary; preferred over `kubectl kustomize` when set.
    pub kustomize: Option<PathBuf>,
    /// A `helm` executable (`helm template` semantics).
    pub helm: PathBuf,
}

impl Default for Tools {
    fn default() -> Self {
        Self { kubectl: "kubectl".into(), kustomize: None, helm: "helm".into() }
    }
}

/// Tools and limits for rendering.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RenderConfig {
    pub tools: Tools,
    pub limits: Limits,
}

impl RenderConfig {
    pub fn with_helm(mut self, helm: impl Into<PathBuf>) -> Self {
        self.tools.helm = helm.into();
        self
    }

    pub fn with_kubectl(mut self, kubectl: impl Into<PathBuf>) -> Self {
        self.tools.kubectl = kubectl.into();
        self
    }

    pub fn with_kustomize(mut self, kustomize: impl Into<PathBuf>) -> Self {
        self.tools.kustomize = Some(kustomize.into());
        self
    }

    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
}

/// Who is rendering: the app's name (Helm's default release name) and destination namespace
/// (Helm's default release namespace), the operator configuration, and the keys that open the
/// app's SOPS files (in memory only; `Debug` shows where they came from, never a key).
#[derive(Clone, Debug, Default)]
pub struct RenderContext {
    pub app_name: String,
    pub namespace: Option<String>,
    pub config: RenderConfig,
    pub decryption: Option<Arc<Keyring>>,
    /// Whose render this is, for the render cache (the engine's app id): the cache keeps one
    /// set of renders per owner, so a changed spec drops the renders of the old one and
    /// [`crate::RenderCache::forget`] drops a deleted app's. Not part of the output.
    pub owner: Option<String>,
}

impl RenderContext {
    pub fn new(app_name: impl Into<String>) -> Self {
        Self { app_name: app_name.into(), ..Self::default() }
    }

    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    pub fn with_config(mut self, config: RenderConfig) -> Self {
        self.config = config;
        self
    }

    /// Who the render cache keeps this render for (see [`RenderContext::owner`]).
    pub fn with_owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = Some(owner.into());
        self
    }

    /// Keys for the app's SOPS-encrypted files.
    pub fn with_decryption(mut self, keys: Arc<Keyring>) -> Self {
        self.decryption = Some(keys);
        self
    }
}
