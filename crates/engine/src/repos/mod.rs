//! Repository credentials from Argo CD's declarative Secrets: which Secret serves a URL
//! ([`select`], pure), what a Secret says ([`secret`], pure), the key files `ssh` reads
//! ([`files`]), GitHub App tokens ([`github`]), and the engine's live view ([`Repos`], over
//! [`crate::settings::Settings`] and the known hosts ConfigMap) with the task that reconciles
//! the apps whose credentials changed ([`follow`]).
//!
//! # Guarantees
//! - A URL gets the credentials of the `repository` Secret for it, else of the longest matching
//!   `repo-creds` template, else none; a broken Secret for the URL is an error naming the Secret
//!   and the key, never a guess and never a value.
//! - SSH host keys are checked against the known hosts ConfigMap unless the Secret says
//!   `insecure: "true"`.

pub mod files;
mod follow;
pub mod github;
pub mod secret;
pub mod select;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use ferry_source::{Access, Credentials, FailureKind, RepoUrl, Secret as Hidden};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Client;
use kube::api::{Api, ListParams};
use kube::runtime::reflector::{self, Store};

use files::{FileError, KeyFiles};
pub(crate) use follow::follow;
use github::{GithubError, GithubTokens};
use secret::{Auth, Kind, RepoSecret, SecretError};
use select::Read;

use crate::settings::{LABEL_ARGOCD, LABEL_FERRY, SecretType, Settings};

/// The ConfigMap of SSH known hosts in Ferry's namespace (key [`KNOWN_HOSTS_KEY`]).
pub const KNOWN_HOSTS_CONFIGMAP: &str = "ferry-ssh-known-hosts";
/// Argo CD's, read too so an Argo CD user's ConfigMap works unchanged.
pub const KNOWN_HOSTS_CONFIGMAP_ARGOCD: &str = "argocd-ssh-known-hosts-cm";
pub const KNOWN_HOSTS_KEY: &str = "ssh_known_hosts";

#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Github(#[from] GithubError),
    #[error(transparent)]
    File(#[from] FileError),
}

/// The Secrets and known hosts credentials are chosen from.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub secrets: Vec<(Kind, Read)>,
    pub known_hosts: String,
}

impl Snapshot {
    /// Reads `repository` and `repo-creds` Secrets (others are skipped).
    pub fn read<'a>(secrets: impl IntoIterator<Item = &'a Secret>, known_hosts: String) -> Self {
        let secrets = secrets
            .into_iter()
            .filter_map(|s| {
                let read = RepoSecret::parse(s)?;
                let kind = match SecretType::of(s) {
                    Some(SecretType::RepoCreds) => Kind::Template,
                    _ => Kind::Repository,
                };
                Some((kind, read.map_err(|e| (secret::declared_url(s), e))))
            })
            .collect();
        Self { secrets, known_hosts }
    }

    /// The Secrets that could not be read, with what is wrong.
    pub fn broken(&self) -> impl Iterator<Item = &SecretError> {
        self.secrets.iter().filter_map(|(_, r)| r.as_ref().err().map(|(_, e)| e))
    }
}

/// What one repository URL is fetched with, and where it came from.
#[derive(Clone, Debug, Default)]
pub struct RepoAccess {
    pub access: Access,
    /// The Secret (`namespace/name`) whose credentials are used; `None`: anonymous.
    pub credentials_from: Option<String>,
}

impl RepoAccess {
    /// The condition message for a failed fetch, when the failure is about access: names the
    /// URL and the Secret (or says none is configured) and never carries a secret value.
    pub fn explain(
        &self,
        url: &RepoUrl,
        kind: Option<FailureKind>,
        namespace: &str,
    ) -> Option<String> {
        match kind? {
            FailureKind::Auth => Some(match &self.credentials_from {
                Some(name) => {
                    format!("authentication failed for {url} (credentials from Secret {name})")
                }
                None => format!(
                    "authentication failed for {url} (no credentials configured: add them with `ferry repo add`)"
                ),
            }),
            FailureKind::HostKey => Some(format!(
                "the SSH host key of {} is not known or has changed, fetching {url}: add the host's key to ConfigMap {namespace}/{KNOWN_HOSTS_CONFIGMAP} (key {KNOWN_HOSTS_KEY}), or set insecure: \"true\" in its repository Secret to skip the check",
                url.host().unwrap_or("the server")
            )),
            _ => None,
        }
    }
}

/// Turns chosen Secrets into what git runs with: key files on disk, GitHub tokens exchanged.
pub struct Resolver {
    files: KeyFiles,
    github: GithubTokens,
}

impl Resolver {
    /// Key files go under `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { files: KeyFiles::new(dir), github: GithubTokens::default() }
    }

    /// The access `raw_url` gets from `snapshot`.
    pub async fn access(
        &self,
        raw_url: &str,
        snapshot: &Snapshot,
    ) -> Result<RepoAccess, RepoError> {
        let Some(chosen) = select::choose(&snapshot.secrets, raw_url)? else {
            return Ok(RepoAccess::default());
        };
        let from = chosen.credentials_from.clone().unwrap_or_default();
        let credentials = match &chosen.auth {
            Auth::None => Credentials::None,
            Auth::Basic { username: Some(u), password } => {
                Credentials::Basic { username: u.clone(), password: password.clone() }
            }
            Auth::Basic { username: None, password } => Credentials::Token(password.clone()),
            Auth::Ssh { private_key } => Credentials::SshKey {
                private_key_path: self.files.ssh_key(private_key.expose())?,
                known_hosts_path: self.files.known_hosts(&snapshot.known_hosts)?,
            },
            Auth::GithubApp(app) => Credentials::Basic {
                username: "x-access-token".into(),
                password: self.github.token(&from, app).await?,
            },
        };
        let access = Access { credentials, insecure: chosen.insecure, proxy: chosen.proxy };
        Ok(RepoAccess { access, credentials_from: chosen.credentials_from })
    }

    /// Removes key files the Secrets of `snapshot` no longer name.
    pub fn sweep(&self, snapshot: &Snapshot) {
        let mut keep = HashSet::new();
        for (_, read) in &snapshot.secrets {
            if let Ok(RepoSecret { auth: Auth::Ssh { private_key }, .. }) = read
                && let Ok(path) = self.files.ssh_key(private_key.expose())
            {
                keep.insert(path);
            }
        }
        if let Ok(path) = self.files.known_hosts(&snapshot.known_hosts) {
            keep.insert(path);
        }
        self.files.sweep(&keep);
    }
}

/// The name Argo CD gives a repository Secret it creates: `repo-` and the FNV-1a (32 bit) hash of
/// the URL in decimal, so `ferry repo add` and `argocd repo add` name a repository alike.
pub fn secret_name(url: &str) -> String {
    let hash = url
        .trim()
        .bytes()
        .fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    format!("repo-{hash}")
}

/// The known hosts of the ConfigMaps, Ferry's first.
fn known_hosts_of<'a>(maps: impl IntoIterator<Item = &'a ConfigMap>) -> String {
    let mut text = String::new();
    for map in maps {
        if let Some(hosts) = map.data.as_ref().and_then(|d| d.get(KNOWN_HOSTS_KEY)) {
            text.push_str(hosts.trim_end());
            text.push('\n');
        }
    }
    text
}

/// Reads the repository Secrets and known hosts of `namespace` once (for the CLI).
pub async fn load(client: &Client, namespace: &str) -> Result<Snapshot, kube::Error> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let mut all: Vec<Secret> = Vec::new();
    for label in [LABEL_FERRY, LABEL_ARGOCD] {
        for s in secrets.list(&ListParams::default().labels(label)).await?.items {
            if !all.iter().any(|a| a.metadata.name == s.metadata.name) {
                all.push(s);
            }
        }
    }
    all.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let mut found = Vec::new();
    for name in [KNOWN_HOSTS_CONFIGMAP, KNOWN_HOSTS_CONFIGMAP_ARGOCD] {
        found.extend(maps.get_opt(name).await?);
    }
    Ok(Snapshot::read(&all, known_hosts_of(&found)))
}

/// The engine's view: the settings Secrets plus the known hosts ConfigMaps, watched.
pub struct Repos {
    settings: Arc<Settings>,
    known_hosts: Store<ConfigMap>,
    resolver: Resolver,
    changed: tokio::sync::watch::Sender<u64>,
}

impl Repos {
    /// Starts the watch on the known hosts ConfigMaps; key files live under `dir`.
    pub(crate) fn start(
        client: &Client,
        settings: Arc<Settings>,
        dir: PathBuf,
        tasks: &mut tokio::task::JoinSet<()>,
    ) -> Arc<Self> {
        let (store, writer) = reflector::store();
        let repos = Arc::new(Self {
            settings,
            known_hosts: store,
            resolver: Resolver::new(dir),
            changed: tokio::sync::watch::Sender::new(0),
        });
        tasks.spawn(follow::watch_known_hosts(client.clone(), repos.clone(), writer));
        repos
    }

    pub fn namespace(&self) -> &str {
        self.settings.namespace()
    }

    /// The Secrets and known hosts now.
    pub fn snapshot(&self) -> Snapshot {
        let mut maps = self.known_hosts.state();
        maps.sort_by_key(|m| m.metadata.name.as_deref() != Some(KNOWN_HOSTS_CONFIGMAP));
        let secrets: Vec<Arc<Secret>> = [SecretType::Repository, SecretType::RepoCreds]
            .into_iter()
            .flat_map(|t| self.settings.secrets(t))
            .collect();
        Snapshot::read(
            secrets.iter().map(|s| s.as_ref()),
            known_hosts_of(maps.iter().map(|m| m.as_ref())),
        )
    }

    /// The access `url` gets now.
    pub async fn access(&self, url: &str) -> Result<RepoAccess, RepoError> {
        self.resolver.access(url, &self.snapshot()).await
    }
}

/// A digest of what `url` would be fetched with (secret values hashed, never kept), to tell
/// whose credentials changed.
fn fingerprint(snapshot: &Snapshot, url: &str) -> String {
    use sha2::Digest;
    let mut hash = sha2::Sha256::new();
    match select::choose(&snapshot.secrets, url) {
        Ok(None) => hash.update(b"none"),
        Err(e) => hash.update(e.to_string().as_bytes()),
        Ok(Some(c)) => {
            let auth = match &c.auth {
                Auth::None => String::new(),
                Auth::Basic { username, password } => {
                    format!("{username:?}\0{}", password.expose())
                }
                Auth::Ssh { private_key } => {
                    format!("{}\0{}", private_key.expose(), snapshot.known_hosts)
                }
                Auth::GithubApp(a) => format!(
                    "{}\0{}\0{}\0{}",
                    a.app_id,
                    a.installation_id,
                    a.base_url,
                    a.private_key.expose()
                ),
            };
            let proxy = c.proxy.as_ref().map(Hidden::expose).unwrap_or_default();
            let line = format!("{:?}\0{auth}\0{}\0{proxy}", c.credentials_from, c.insecure);
            hash.update(line.as_bytes());
        }
    }
    hex::encode(hash.finalize())
}

#[cfg(test)]
mod tests {
    #[test]
    fn secret_names_follow_argo_cds_fnv_hash_of_the_url() {
        // FNV-1a of "a" is 0xe40c292c (the published test vector).
        assert_eq!(super::secret_name("a"), format!("repo-{}", 0xe40c_292c_u32));
        assert_ne!(super::secret_name("https://h/a"), super::secret_name("https://h/b"));
    }
}
