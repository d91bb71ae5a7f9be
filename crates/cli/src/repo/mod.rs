//! `ferry repo`: repository credentials as Argo CD's declarative Secrets in Ferry's namespace
//! (`add`, `list`, `remove`), and `check` without a cluster. The engine reads the same Secrets
//! by the same rules (`ferry_engine::repos`).

pub mod add;
pub mod list;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use ferry_engine::repos::RepoAccess;
use ferry_source::{CacheError, Limits, RepoUrl};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams};

use crate::app::{ClusterArgs, Connection, connect};

pub use add::AddArgs;
pub use list::ListArgs;

/// Where the repository Secrets live, and how to reach that cluster.
#[derive(clap::Args, Clone, Debug)]
pub struct Target {
    /// Ferry's namespace, where its repository Secrets live.
    #[arg(long, short = 'n', default_value = ferry_engine::DEFAULT_HOME_NAMESPACE)]
    pub namespace: String,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

#[derive(clap::Args, Clone, Debug)]
pub struct RemoveArgs {
    /// The repository URL whose Secret to delete.
    pub url: String,
    #[command(flatten)]
    pub target: Target,
}

async fn client(target: &Target) -> anyhow::Result<Connection> {
    Ok(connect(&target.cluster).await?)
}

/// Lists the remote's refs with `repo`'s access: `Ok` when the repository answers, else what
/// failed, naming the Secret for an access problem and never a secret value.
pub async fn check_connection(
    raw_url: &str,
    repo: &RepoAccess,
    namespace: &str,
    timeout: Duration,
) -> Result<(), String> {
    let url = RepoUrl::parse(raw_url).map_err(|e| e.to_string())?;
    let limits = Limits::default().ls_remote_timeout(timeout);
    match ferry_source::ls_remote(&url, &repo.access, &limits).await {
        Ok(_) => Ok(()),
        Err(e) => {
            let kind = match &e {
                CacheError::Git(g) => g.kind(),
                _ => None,
            };
            let kind =
                kind.or(matches!(&e, CacheError::Git(ferry_source::GitError::SshNeedsKey { .. }))
                    .then_some(ferry_source::FailureKind::Auth));
            Err(repo.explain(&url, kind, namespace).unwrap_or_else(|| e.to_string()))
        }
    }
}

/// `ferry repo remove URL`: deletes the repository Secrets for URL.
pub async fn remove(args: RemoveArgs) -> anyhow::Result<()> {
    let conn = client(&args.target).await?;
    let ns = &args.target.namespace;
    let api: Api<Secret> = Api::namespaced(conn.client.clone(), ns);
    let snapshot = ferry_engine::repos::load(&conn.client, ns)
        .await
        .with_context(|| format!("reading the repository Secrets in namespace {ns}"))?;
    let names: Vec<String> = snapshot
        .secrets
        .iter()
        .filter_map(|(kind, read)| read.as_ref().ok().map(|s| (kind, s)))
        .filter(|(kind, s)| {
            **kind == ferry_engine::repos::secret::Kind::Repository
                && ferry_engine::repos::select::same_repository(&s.url, &args.url)
        })
        .map(|(_, s)| s.name.clone())
        .collect();
    if names.is_empty() {
        anyhow::bail!(
            "no repository Secret for {} in namespace {ns}; `ferry repo list -n {ns}` shows the repositories Ferry has credentials for",
            args.url
        );
    }
    for qualified in names {
        let name = qualified.rsplit('/').next().unwrap_or(&qualified);
        api.delete(name, &DeleteParams::default())
            .await
            .with_context(|| format!("deleting Secret {qualified}"))?;
        eprintln!("repository {} removed (Secret {qualified} deleted)", args.url);
    }
    crate::app::hint(
        "apps on this repository fetch without these credentials from their next reconcile",
    );
    Ok(())
}

/// Reads a password from a file or stdin, without its final newline.
fn read_password(file: Option<&PathBuf>, stdin: bool) -> anyhow::Result<Option<String>> {
    let text = match (file, stdin) {
        (Some(path), _) => std::fs::read_to_string(path)
            .with_context(|| format!("reading the password file {}", path.display()))?,
        (None, true) => {
            std::io::read_to_string(std::io::stdin()).context("reading the password from stdin")?
        }
        (None, false) => return Ok(None),
    };
    let password = text.trim_end_matches(['\n', '\r']).to_owned();
    anyhow::ensure!(!password.is_empty(), "the password given is empty");
    Ok(Some(password))
}
