//! Every way a render fails. Each variant names the file (and line where known) and says what to
//! do about it; none of them is ever turned into "no objects".

use std::path::PathBuf;

use ferry_source::{RepoPath, TreeError};

use crate::object::Origin;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("app path {path} does not exist in the source tree; check spec.source.path")]
    AppPathMissing { path: RepoPath },

    #[error("app path {path} is a file, not a directory; point spec.source.path at its directory")]
    AppPathNotDir { path: RepoPath },

    #[error("reading {path}: {source}")]
    Tree {
        path: RepoPath,
        #[source]
        source: TreeError,
    },

    #[error("{file}: not valid UTF-8 at byte {offset}; manifests must be UTF-8 text")]
    InvalidUtf8 { file: RepoPath, offset: usize },

    #[error("{file}{}: invalid YAML: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Yaml { file: RepoPath, line: Option<usize>, message: String },

    #[error("{file}{}: YAML nests deeper than {limit} levels; flatten the document", line.map(|l| format!(":{l}")).unwrap_or_default())]
    TooDeep { file: RepoPath, line: Option<usize>, limit: usize },

    #[error(
        "{file}{}: YAML aliases expand beyond the budget ({message}); this looks like a \
         billion-laughs document — remove the nested aliases",
        line.map(|l| format!(":{l}")).unwrap_or_default()
    )]
    AliasBudget { file: RepoPath, line: Option<usize>, message: String },

    #[error(
        "{file}: {what} exceeds the limit of {limit}; split the file or raise the render limits"
    )]
    LimitExceeded { file: RepoPath, what: &'static str, limit: u64 },

    #[error("{origin}: {message}")]
    NotAnObject { origin: Origin, message: String },

    #[error(
        "{origin}: {object} is {bytes} bytes, over the {limit} bytes a Kubernetes API server stores \
         in one object (etcd's request limit); nothing is applied or pruned until it is smaller — \
         move the bulk out of the manifest (a volume, an image, several ConfigMaps)"
    )]
    ObjectTooLarge { origin: Origin, object: String, bytes: usize, limit: usize },

    #[error(
        "{key} is defined twice: in {first} and in {second}; remove one or give them different names"
    )]
    Duplicate { key: String, first: Origin, second: Origin },

    #[error("invalid {field} glob {pattern:?}: {source}")]
    Glob {
        field: &'static str,
        pattern: String,
        #[source]
        source: globset::Error,
    },

    #[error(
        "{file}: {reference:?} points outside the repository; only files inside the repository may be used"
    )]
    OutsideTree { file: RepoPath, reference: String },

    #[error(
        "{file}: remote base {url:?} is not allowed; vendor it into the repository or set \
         kustomize.allowRemoteBases"
    )]
    RemoteBase { file: RepoPath, url: String },

    #[error("{file}: {message}")]
    Kustomization { file: RepoPath, message: String },

    #[error("{tool} is not installed or not executable at {path:?}: {source}; {hint}")]
    ToolMissing {
        tool: &'static str,
        path: PathBuf,
        hint: &'static str,
        #[source]
        source: std::io::Error,
    },

    #[error("{tool} failed on {app}: {message}")]
    ToolFailed { tool: &'static str, app: RepoPath, message: String },

    #[error(
        "{tool} on {app} did not finish within {seconds} s; simplify the app or raise the tool timeout"
    )]
    ToolTimeout { tool: &'static str, app: RepoPath, seconds: u64 },

    #[error(
        "{tool} on {app} printed more than {limit} bytes; raise the render limits if this is expected"
    )]
    ToolOutputTooLarge { tool: &'static str, app: RepoPath, limit: u64 },

    #[error("jsonnet {file}: {message}")]
    Jsonnet { file: RepoPath, message: String },

    #[error(
        "{origin}: variable ${{{var}}} is not set and has no default (strict substitution); set it in substitute.vars or write ${{{var}:=default}}"
    )]
    UnsetVariable { origin: Origin, var: String },

    #[error("{origin}: {message}")]
    Substitution { origin: Origin, message: String },

    #[error("{what}: {message}")]
    InvalidOption { what: String, message: String },

    #[error("{file}: cannot decrypt this SOPS file: {source}")]
    Decrypt {
        file: RepoPath,
        #[source]
        source: ferry_secrets::SopsError,
    },

    #[error("preparing a working copy for {app}: {source}")]
    WorkDir {
        app: RepoPath,
        #[source]
        source: std::io::Error,
    },
}

impl RenderError {
    /// Whether the fix is on the machine running Ferry (a missing or broken tool), not in Git:
    /// status and logs should then say how to install the tool, not "fix it in Git and commit".
    pub fn is_installation_problem(&self) -> bool {
        matches!(self, RenderError::ToolMissing { .. })
    }

    pub(crate) fn tree(path: &RepoPath) -> impl FnOnce(TreeError) -> RenderError + '_ {
        move |source| RenderError::Tree { path: path.clone(), source }
    }
}
