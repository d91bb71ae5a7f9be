//! The app's source as the engine sees it: the repository fetched into the local cache at a
//! revision, and the app's path in that commit. Used by `diff`, `manifests --source git` and
//! the validation of `create`.

use std::path::PathBuf;

use ferry_engine::application::Source;
use ferry_render::RepoPath;
use ferry_source::{Credentials, GitTree, Limits, RepoCache, RepoUrl};

use super::error::CliError;

/// A fetched commit of the app's repository.
pub struct Checkout {
    pub tree: GitTree,
    pub path: RepoPath,
    pub commit: String,
}

/// Fetches `source.repoURL` at `revision` (a branch, tag, SHA or semver constraint) and finds the
/// app's path in it. `app` names the Application in errors.
pub async fn checkout(app: &str, source: &Source, revision: &str) -> Result<Checkout, CliError> {
    let url = RepoUrl::parse(&source.repo_url).map_err(|e| CliError::Source {
        app: app.to_owned(),
        message: format!("spec.source.repoURL {:?}: {e}", source.repo_url),
    })?;
    let dir = cache_dir().join("repos");
    let cache = RepoCache::new(&dir, Limits::default()).map_err(|e| {
        CliError::Io(format!("cannot use the repository cache {}: {e}", dir.display()))
    })?;
    let fetched = cache.fetch(&url, &Credentials::None, revision).await.map_err(|e| {
        CliError::Source { app: app.to_owned(), message: format!("{url} at {revision:?}: {e}") }
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

/// `$XDG_CACHE_HOME/ferry`, else `~/.cache/ferry`, else a directory under the system temp dir.
fn cache_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("ferry");
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(h) => PathBuf::from(h).join(".cache/ferry"),
        None => std::env::temp_dir().join("ferry-cache"),
    }
}
