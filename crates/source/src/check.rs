//! `ferry repo check`: can we reach this repository, and what commit does a revision name?

use std::path::PathBuf;

use crate::cache::{CacheError, Limits, RepoCache};
use crate::credentials::{Credentials, Secret};
use crate::resolve::{CommitId, Resolution};
use crate::url::{RepoUrl, UrlError};

/// Arguments of `ferry repo check`, as the CLI parsed them.
#[derive(Clone, Debug, Default)]
pub struct CheckArgs {
    pub url: String,
    /// Defaults to `HEAD`.
    pub revision: Option<String>,
    pub username: Option<String>,
    pub password_file: Option<PathBuf>,
    pub ssh_key_file: Option<PathBuf>,
    pub known_hosts_file: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error("reading password file {path}: {source}")]
    PasswordFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Arguments(&'static str),
    #[error(transparent)]
    Cache(#[from] CacheError),
}

impl CheckArgs {
    pub fn credentials(&self) -> Result<Credentials, CheckError> {
        match (&self.username, &self.password_file, &self.ssh_key_file, &self.known_hosts_file) {
            (None, None, None, None) => Ok(Credentials::None),
            (username, Some(path), None, None) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| CheckError::PasswordFile { path: path.clone(), source })?;
                // Files written by editors or `echo` end with a newline that is not part of it.
                let password = Secret::new(text.trim_end_matches(['\n', '\r']));
                Ok(match username {
                    Some(u) => Credentials::Basic { username: u.clone(), password },
                    None => Credentials::Token(password),
                })
            }
            (Some(_), None, None, None) => {
                Err(CheckError::Arguments("--username needs --password-file"))
            }
            (None, None, Some(key), Some(known)) => Ok(Credentials::SshKey {
                private_key_path: key.clone(),
                known_hosts_path: known.clone(),
            }),
            (None, None, Some(_), None) | (None, None, None, Some(_)) => {
                Err(CheckError::Arguments("--ssh-key-file and --known-hosts-file go together"))
            }
            _ => Err(CheckError::Arguments(
                "use either --username/--password-file or --ssh-key-file/--known-hosts-file",
            )),
        }
    }
}

/// Resolves the revision (default `HEAD`) and returns its commit. Branches, tags and semver
/// constraints need only the remote's ref list; a commit id or abbreviation is fetched into a
/// temporary cache to prove it exists.
pub async fn check(args: &CheckArgs) -> Result<CommitId, CheckError> {
    let url = RepoUrl::parse(&args.url)?;
    let creds = args.credentials()?;
    let revision = args.revision.as_deref().unwrap_or("HEAD");
    let tmp = tempfile::Builder::new().prefix("ferry-repo-check-").tempdir().map_err(|source| {
        CacheError::Io { what: "creating", path: std::env::temp_dir(), source }
    })?;
    let cache = RepoCache::new(tmp.path(), Limits::default())?;
    match cache.resolve_remote(&url, &creds, revision).await? {
        Resolution::Ref { commit, .. } => Ok(commit),
        Resolution::Commit { .. } => Ok(cache.fetch(&url, &creds, revision).await?.commit),
    }
}
