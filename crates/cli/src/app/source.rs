//! The app's source as the engine sees it: the repository fetched into the local cache at a
//! revision, and the app's path in that commit. Used by `diff`, `manifests --source git` and
//! the validation of `create`. Credentials come from the repository Secrets in Ferry's
//! namespace, chosen by the same rules the engine uses (`ferry_engine::repos`).

use std::path::PathBuf;

use ferry_engine::application::Source;
use ferry_engine::repos::{self, RepoAccess, Resolver};
use ferry_render::RepoPath;
use ferry_source::{GitTree, Limits, RepoCache, RepoUrl};

use super::connect::Connection;

use super::error::CliError;

/// A fetched commit of the app's repository.
pub struct Checkout {
    pub tree: GitTree,
    pub path: RepoPath,
    pub commit: String,
}

/// Fetches `source.repoURL` at `revision` (a branch, tag, SHA or semver constraint) and finds the
/// app's path in it. `app` names the Application in errors.
pub async fn checkout(
    conn: &Connection,
    app: &str,
    source: &Source,
    revision: &str,
) -> Result<Checkout, CliError> {
    let url = RepoUrl::parse(&source.repo_url).map_err(|e| CliError::Source {
        app: app.to_owned(),
        message: format!("spec.source.repoURL {:?}: {e}", source.repo_url),
    })?;
    let dir = cache_dir().join("repos");
    let cache = RepoCache::new(&dir, Limits::default()).map_err(|e| {
        CliError::Io(format!("cannot use the repository cache {}: {e}", dir.display()))
    })?;
    let keys = tempfile::tempdir()
        .map_err(|e| CliError::Io(format!("cannot create a temporary directory: {e}")))?;
    let repo = access(conn, &source.repo_url, keys.path()).await?;
    let fetched = cache.fetch(&url, &repo.access, revision).await.map_err(|e| {
        let text = e.to_string();
        let git = match &e {
            ferry_source::CacheError::Git(g) => g.kind(),
            _ => None,
        };
        let message = repo
            .explain(&url, git, ferry_engine::DEFAULT_HOME_NAMESPACE)
            .unwrap_or_else(|| format!("{url} at {revision:?}: {text}"));
        CliError::Source { app: app.to_owned(), message }
    })?;
    let tree = cache
        .tree(&url, &fetched.commit)
        .map_err(|e| CliError::Source { app: app.to_owned(), message: e.to_string() })?;
    let path = RepoPath::new(&source.path).map_err(|e| CliError::Render {
        app: app.to_owned(),
        message: format!("spec.source.path: {e}"),
    })?;
    Ok(Checkout { tree, path, commit: fetched.commit.as_str().to_owned() })
}

/// The credentials the engine would use for `url`, from the Secrets in Ferry's namespace. A
/// user who may not read Secrets fetches anonymously (and a private repository then says so).
pub async fn access(
    conn: &Connection,
    url: &str,
    keys: &std::path::Path,
) -> Result<RepoAccess, CliError> {
    let namespace = ferry_engine::DEFAULT_HOME_NAMESPACE;
    let snapshot = match repos::load(&conn.client, namespace).await {
        Ok(s) => s,
        Err(kube::Error::Api(e)) if e.code == 403 => {
            eprintln!(
                "warning: not allowed to read the repository Secrets in namespace {namespace}; fetching {url} without credentials"
            );
            return Ok(RepoAccess::default());
        }
        Err(source) => {
            return Err(CliError::Api {
                what: format!("reading the repository Secrets in namespace {namespace}"),
                source,
            });
        }
    };
    Resolver::new(keys).access(url, &snapshot).await.map_err(|e| CliError::Failed(e.to_string()))
}

/// `$XDG_CACHE_HOME/ferry`, else `~/.cache/ferry`, else a directory under the system temp dir.
pub(crate) fn cache_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("ferry");
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(h) => PathBuf::from(h).join(".cache/ferry"),
        None => std::env::temp_dir().join("ferry-cache"),
    }
}
