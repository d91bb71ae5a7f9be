//! What can go wrong in the Application commands, each with the one line a person needs and, where
//! there is an obvious next step, a hint.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("no kubeconfig found: {detail}")]
    NoKubeconfig { detail: String },
    #[error("cannot read kubeconfig {path}: {message}")]
    BadKubeconfig { path: PathBuf, message: String },
    #[error("cannot reach the cluster at {server}: {message}")]
    Unreachable { server: String, message: String },
    #[error("application {name:?} not found in namespace {namespace:?}")]
    AppNotFound { name: String, namespace: String },
    #[error(
        "the cluster does not serve ferry.dev/v1alpha1 Applications (the CRD is not installed)"
    )]
    CrdMissing,
    #[error("application {name:?} already exists in namespace {namespace:?} with a different spec")]
    AppExists { name: String, namespace: String },
    #[error("{what}: {}", describe_kube(source))]
    Api {
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error("{what}: the cluster refused it: {message}")]
    Rejected { what: String, message: String },
    #[error("application {name:?}: {message}")]
    Invalid { name: String, message: String },
    #[error("application {name:?} was changed by someone else while {what}")]
    Conflict { name: String, what: String },
    #[error("{0}")]
    Failed(String),
    #[error("cannot plan: {0}")]
    Plan(Box<ferry_engine::plan::PlanError>),
    /// stdout was closed (`ferry … | head`): not a failure of the command.
    #[error("stdout was closed")]
    BrokenPipe,
    #[error("invalid {flag}: {message}")]
    Usage { flag: String, message: String },
    #[error("{0}")]
    Rollback(String),
    #[error("fetching the source of {app}: {message}")]
    Source { app: String, message: String },
    #[error("rendering {app}: {message}")]
    Render { app: String, message: String },
    #[error("writing output: {0}")]
    Output(String),
    #[error("{0}")]
    Io(String),
}

impl CliError {
    /// The next step to suggest, printed as `hint: …` after the error.
    pub fn hint(&self) -> Option<String> {
        match self {
            CliError::NoKubeconfig { .. } | CliError::BadKubeconfig { .. } => Some(
                "pass --kubeconfig PATH or set KUBECONFIG (`ferry up` writes .ferry/kubeconfig)"
                    .into(),
            ),
            CliError::Unreachable { .. } => Some(
                "is the cluster running? (`ferry up` starts one); check --kubeconfig and --context"
                    .into(),
            ),
            CliError::AppNotFound { .. } => Some("ferry app list".into()),
            CliError::Plan(e) => Some(e.hint().into()),
            CliError::CrdMissing => Some("ferry install (or run `ferry up`)".into()),
            CliError::AppExists { name, .. } => {
                Some(format!("add --upsert to replace it, or `ferry app get {name}` to see it"))
            }
            CliError::Source { .. } => Some(
                "check spec.source.repoURL and targetRevision with `ferry repo check URL`".into(),
            ),
            CliError::Conflict { name, .. } => {
                Some(format!("run the command again; `ferry app get {name}` shows the new state"))
            }
            _ => None,
        }
    }

    /// Turns an API error on one Application into the precise complaint.
    pub fn on_app(source: kube::Error, name: &str, namespace: &str, what: &str) -> Self {
        match &source {
            kube::Error::Api(status) if status.code == 404 && !missing_type(&status.message) => {
                CliError::AppNotFound { name: name.to_owned(), namespace: namespace.to_owned() }
            }
            _ => Self::api(source, what),
        }
    }

    pub fn api(source: kube::Error, what: impl Into<String>) -> Self {
        match &source {
            kube::Error::Api(status) if status.code == 404 && missing_type(&status.message) => {
                CliError::CrdMissing
            }
            // 400 Bad Request and 422 Invalid: the server's message names the field and the rule
            // (an invalid name, a schema violation); it is all a person needs.
            kube::Error::Api(status) if matches!(status.code, 400 | 422) => {
                CliError::Rejected { what: what.into(), message: status.message.clone() }
            }
            _ => CliError::Api { what: what.into(), source },
        }
    }
}

/// A kube error in one line: an API status by its message and code, never its debug dump.
fn describe_kube(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) if status.reason.is_empty() => {
            format!("{} (HTTP {})", status.message, status.code)
        }
        kube::Error::Api(status) => {
            format!("{} ({}, HTTP {})", status.message, status.reason, status.code)
        }
        other => root_cause(other),
    }
}

/// A 404 for a resource type the server does not serve (as opposed to a missing object).
fn missing_type(message: &str) -> bool {
    message.contains("could not find the requested resource")
}

/// The innermost message of an error chain ("connection refused"), which is what a person acts on.
pub fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = err;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}
