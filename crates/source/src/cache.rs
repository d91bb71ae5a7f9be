//! The per-repository cache: one bare repository per remote, fetched shallow first and
//! incrementally afterwards, one fetch per repository at a time and many repositories in parallel.

use std::collections::{BTreeSet, HashMap};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gix::ObjectId;
use sha2::Digest;

use crate::changes::{ChangeError, diff_trees};
use crate::credentials::Access;
use crate::git::{GitError, GitRun, TransportEnv, ensure_askpass, pack_bytes, transport_env};
use crate::git_tree::GitTree;
use crate::resolve::{CommitId, RemoteRefs, Resolution, ResolveError, parse_ls_remote, resolve};
use crate::tree::{RepoPath, TreeError};
use crate::url::RepoUrl;

/// Timeouts, caps and parallelism for fetching.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Whole `git fetch` duration.
    pub fetch_timeout: Duration,
    /// Whole `git ls-remote` duration (the poll).
    pub ls_remote_timeout: Duration,
    /// Bytes one fetch may receive before it is killed.
    pub max_fetch_bytes: u64,
    /// Bytes of ref advertisement accepted from `ls-remote`.
    pub max_refs_bytes: u64,
    /// Fetches running at once across all repositories.
    pub max_parallel_fetches: usize,
    /// History depth of fetches; 0 means full history.
    pub depth: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            fetch_timeout: Duration::from_secs(300),
            ls_remote_timeout: Duration::from_secs(30),
            max_fetch_bytes: 2 << 30,
            max_refs_bytes: 64 << 20,
            max_parallel_fetches: 4,
            depth: 1,
        }
    }
}

impl Limits {
    pub fn fetch_timeout(mut self, t: Duration) -> Self {
        self.fetch_timeout = t;
        self
    }
    pub fn ls_remote_timeout(mut self, t: Duration) -> Self {
        self.ls_remote_timeout = t;
        self
    }
    pub fn max_fetch_bytes(mut self, n: u64) -> Self {
        self.max_fetch_bytes = n;
        self
    }
    pub fn max_parallel_fetches(mut self, n: usize) -> Self {
        self.max_parallel_fetches = n.max(1);
        self
    }
    pub fn depth(mut self, depth: u32) -> Self {
        self.depth = depth;
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("{url}: {source}")]
    Resolve {
        url: String,
        #[source]
        source: ResolveError,
    },
    #[error("{url}: revision {revision:?} is not a commit in the repository")]
    CommitNotFound { url: String, revision: String },
    #[error("{url}: commit {commit} has not been fetched")]
    NotFetched { url: String, commit: CommitId },
    #[error("{url}: opening the cached repository {path}: {message}")]
    Open { url: String, path: PathBuf, message: String },
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{url}: {source}")]
    Tree {
        url: String,
        #[source]
        source: TreeError,
    },
    #[error("{url}: {source}")]
    Changes {
        url: String,
        #[source]
        source: ChangeError,
    },
}

impl CacheError {
    /// Whether retrying later may help (network trouble) rather than needing a config change.
    pub fn is_retryable(&self) -> bool {
        match self {
            CacheError::Git(e) => e.is_retryable(),
            CacheError::Io { .. } => true,
            _ => false,
        }
    }
}

/// A commit's author, as git records it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Author {
    pub name: String,
    pub email: String,
}

/// What a fetch did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchOutcome {
    /// The commit the revision resolved to; present in the cache.
    pub commit: CommitId,
    /// The remote ref it came from (`refs/heads/main`, `HEAD`), `None` for a commit id.
    pub reference: Option<String>,
    /// What the cache's copy of that ref pointed at before this fetch.
    pub previous: Option<CommitId>,
    /// Bytes of pack data received (0 when the commit was already cached).
    pub bytes: u64,
}

impl FetchOutcome {
    /// Whether the revision now points somewhere else than after the previous fetch.
    pub fn changed(&self) -> bool {
        self.previous.as_ref() != Some(&self.commit)
    }
}

/// A directory of bare repositories, one per remote.
pub struct RepoCache {
    dir: PathBuf,
    limits: Limits,
    locks: Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>,
    repos: Mutex<HashMap<PathBuf, gix::ThreadSafeRepository>>,
    fetch_slots: tokio::sync::Semaphore,
}

impl std::fmt::Debug for RepoCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepoCache").field("dir", &self.dir).field("limits", &self.limits).finish()
    }
}

/// Where the cache keeps the last fetched commit of a remote ref.
fn local_ref(remote: &str) -> String {
    if remote == "HEAD" { "refs/ferry/HEAD".to_owned() } else { remote.to_owned() }
}

fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

impl RepoCache {
    pub fn new(dir: impl Into<PathBuf>, limits: Limits) -> Result<Self, CacheError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|source| CacheError::Io {
            what: "creating cache",
            path: dir.clone(),
            source,
        })?;
        Ok(Self {
            fetch_slots: tokio::sync::Semaphore::new(limits.max_parallel_fetches.max(1)),
            dir,
            limits,
            locks: Mutex::default(),
            repos: Mutex::default(),
        })
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The bare repository that caches `url`.
    pub fn repo_dir(&self, url: &RepoUrl) -> PathBuf {
        let digest = sha2::Sha256::digest(url.key().as_bytes());
        let name: String = url
            .key()
            .rsplit('/')
            .next()
            .unwrap_or("repo")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .take(40)
            .collect();
        self.dir.join(format!("{}-{name}.git", &hex::encode(digest)[..16]))
    }

    fn lock_for(&self, dir: &Path) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(dir.to_owned()).or_default().clone()
    }

    fn transport(&self, url: &RepoUrl, access: &Access) -> Result<TransportEnv, CacheError> {
        let askpass = ensure_askpass(&self.dir)?;
        Ok(transport_env(url, access, &askpass, self.limits.ls_remote_timeout)?)
    }

    /// The refs the remote advertises (tags peeled). Transfers no objects: this is the poll.
    pub async fn ls_remote(
        &self,
        url: &RepoUrl,
        creds: impl Into<Access>,
    ) -> Result<RemoteRefs, CacheError> {
        let env = self.transport(url, &creds.into())?;
        ls_remote_with(url, &env, &self.limits).await
    }

    /// Resolves `revision` against the remote's refs without fetching. Commit ids are returned
    /// as [`Resolution::Commit`].
    pub async fn resolve_remote(
        &self,
        url: &RepoUrl,
        creds: impl Into<Access>,
        revision: &str,
    ) -> Result<Resolution, CacheError> {
        let refs = self.ls_remote(url, creds).await?;
        resolve(&refs, revision)
            .map_err(|source| CacheError::Resolve { url: url.to_string(), source })
    }

    /// Makes the commit `revision` names present in the cache and returns it.
    ///
    /// # Guarantees
    /// A failed fetch is an error; `Ok` means the commit and its whole tree are in the cache.
    /// Refs are listed first, so nothing is transferred when the commit is already cached.
    pub async fn fetch(
        &self,
        url: &RepoUrl,
        creds: impl Into<Access>,
        revision: &str,
    ) -> Result<FetchOutcome, CacheError> {
        let started = std::time::Instant::now();
        let result = self.fetch_inner(url, &creds.into(), revision).await;
        // `url` displays without secrets; errors are already scrubbed.
        match &result {
            Ok(o) => tracing::debug!(
                %url,
                revision,
                commit = %o.commit,
                bytes = o.bytes,
                changed = o.changed(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "fetched"
            ),
            Err(e) => tracing::warn!(%url, revision, error = %e, "fetch failed"),
        }
        result
    }

    async fn fetch_inner(
        &self,
        url: &RepoUrl,
        creds: &Access,
        revision: &str,
    ) -> Result<FetchOutcome, CacheError> {
        let dir = self.repo_dir(url);
        let lock = self.lock_for(&dir);
        let _one_fetch_per_repo = lock.lock().await;
        self.ensure_repo(url, &dir).await?;
        let env = self.transport(url, creds)?;
        let refs = ls_remote_with(url, &env, &self.limits).await?;
        let resolution = resolve(&refs, revision)
            .map_err(|source| CacheError::Resolve { url: url.to_string(), source })?;
        match resolution {
            Resolution::Ref { name, commit } => {
                let local = local_ref(&name);
                let previous = self.local_commit(url, &dir, &local).await?;
                let mut bytes = 0;
                let commit = if self.has_commit(url, &dir, &commit)? {
                    self.update_ref(url, &dir, &local, &commit).await?;
                    commit
                } else {
                    bytes = self
                        .fetch_refspecs(url, &env, &dir, &[format!("+{name}:{local}")], false)
                        .await?;
                    // The ref may have moved between listing and fetching; report what arrived.
                    self.local_commit(url, &dir, &local).await?.ok_or_else(|| {
                        CacheError::CommitNotFound {
                            url: url.to_string(),
                            revision: revision.to_owned(),
                        }
                    })?
                };
                Ok(FetchOutcome { commit, reference: Some(name), previous, bytes })
            }
            Resolution::Commit { prefix } => {
                if let Some(commit) = self.local_commit(url, &dir, &prefix).await? {
                    return Ok(FetchOutcome {
                        previous: Some(commit.clone()),
                        commit,
                        reference: None,
                        bytes: 0,
                    });
                }
                let mut bytes = 0;
                if prefix.len() == 40 || prefix.len() == 64 {
                    // Servers speaking protocol v2 usually serve any reachable commit by id.
                    bytes += self
                        .fetch_refspecs(
                            url,
                            &env,
                            &dir,
                            &[format!("+{prefix}:refs/ferry/commits/{prefix}")],
                            false,
                        )
                        .await
                        .unwrap_or(0);
                }
                if self.local_commit(url, &dir, &prefix).await?.is_none() {
                    // An abbreviation can only be found in history: fetch all of it.
                    let specs = [
                        "+refs/heads/*:refs/heads/*".to_owned(),
                        "+refs/tags/*:refs/tags/*".to_owned(),
                    ];
                    bytes += self.fetch_refspecs(url, &env, &dir, &specs, true).await?;
                }
                let commit = self.local_commit(url, &dir, &prefix).await?.ok_or_else(|| {
                    CacheError::CommitNotFound {
                        url: url.to_string(),
                        revision: revision.to_owned(),
                    }
                })?;
                Ok(FetchOutcome { commit, reference: None, previous: None, bytes })
            }
        }
    }

    /// The tree of `commit`, which must have been fetched.
    pub fn tree(&self, url: &RepoUrl, commit: &CommitId) -> Result<GitTree, CacheError> {
        let repo = self.open(url)?;
        if !repo.to_thread_local().has_object(oid(commit)) {
            return Err(CacheError::NotFetched { url: url.to_string(), commit: commit.clone() });
        }
        GitTree::open(repo, commit)
            .map_err(|source| CacheError::Tree { url: url.to_string(), source })
    }

    /// Who wrote `commit` (which must have been fetched): its author's name and email, as git
    /// records them (for approvals that refuse an author approving their own commit).
    pub fn commit_author(&self, url: &RepoUrl, commit: &CommitId) -> Result<Author, CacheError> {
        let repo = self.open(url)?.to_thread_local();
        let not_fetched =
            || CacheError::NotFetched { url: url.to_string(), commit: commit.clone() };
        let found = repo.find_commit(oid(commit)).map_err(|_| not_fetched())?;
        let author = found.author().map_err(|e| CacheError::Open {
            url: url.to_string(),
            path: self.repo_dir(url),
            message: format!("commit {commit}: author does not parse: {e}"),
        })?;
        Ok(Author { name: author.name.to_string(), email: author.email.to_string() })
    }

    /// The file paths that differ between two fetched commits.
    pub fn changed_paths(
        &self,
        url: &RepoUrl,
        from: &CommitId,
        to: &CommitId,
    ) -> Result<BTreeSet<RepoPath>, CacheError> {
        let repo = self.open(url)?.to_thread_local();
        let tree_of = |c: &CommitId| -> Result<ObjectId, CacheError> {
            let commit = repo
                .find_commit(oid(c))
                .map_err(|_| CacheError::NotFetched { url: url.to_string(), commit: c.clone() })?;
            commit.tree_id().map(|id| id.detach()).map_err(|e| CacheError::Open {
                url: url.to_string(),
                path: self.repo_dir(url),
                message: e.to_string(),
            })
        };
        let (a, b) = (tree_of(from)?, tree_of(to)?);
        diff_trees(&repo, a, b)
            .map_err(|source| CacheError::Changes { url: url.to_string(), source })
    }

    /// Resolves `revision` against what the cache already holds (no network): refs the cache
    /// mirrored by earlier fetches, or a commit id / prefix.
    pub async fn resolve_local(
        &self,
        url: &RepoUrl,
        revision: &str,
    ) -> Result<CommitId, CacheError> {
        let dir = self.repo_dir(url);
        let not_found =
            || CacheError::CommitNotFound { url: url.to_string(), revision: revision.to_owned() };
        if !dir.exists() {
            return Err(not_found());
        }
        let revision = revision.trim();
        let candidates: Vec<String> = if revision.is_empty() || revision == "HEAD" {
            vec!["refs/ferry/HEAD".into()]
        } else if revision.starts_with("refs/") {
            vec![revision.to_owned()]
        } else {
            vec![
                format!("refs/tags/{revision}"),
                format!("refs/heads/{revision}"),
                revision.to_owned(),
            ]
        };
        for candidate in candidates {
            if let Some(c) = self.local_commit(url, &dir, &candidate).await? {
                return Ok(c);
            }
        }
        Err(not_found())
    }

    pub(crate) fn open(&self, url: &RepoUrl) -> Result<gix::ThreadSafeRepository, CacheError> {
        let dir = self.repo_dir(url);
        let mut repos = self.repos.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(repo) = repos.get(&dir) {
            return Ok(repo.clone());
        }
        if !dir.exists() {
            return Err(CacheError::Open {
                url: url.to_string(),
                path: dir,
                message: "nothing fetched yet".into(),
            });
        }
        let repo = gix::open_opts(&dir, gix::open::Options::isolated())
            .map_err(|e| CacheError::Open {
                url: url.to_string(),
                path: dir.clone(),
                message: e.to_string(),
            })?
            .into_sync();
        repos.insert(dir, repo.clone());
        Ok(repo)
    }

    fn has_commit(
        &self,
        url: &RepoUrl,
        _dir: &Path,
        commit: &CommitId,
    ) -> Result<bool, CacheError> {
        let repo = self.open(url)?.to_thread_local();
        let id = oid(commit);
        Ok(repo.has_object(id) && repo.find_commit(id).is_ok())
    }

    async fn ensure_repo(&self, url: &RepoUrl, dir: &Path) -> Result<(), CacheError> {
        if dir.join("HEAD").exists() {
            return Ok(());
        }
        // Initialise under a temporary name and rename, so a crash never leaves a half repo.
        let tmp = dir.with_extension(format!("init-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        GitRun {
            action: "init",
            url,
            args: vec!["init".into(), "--bare".into(), "-q".into(), tmp.clone().into()],
            git_dir: None,
            env: vec![],
            secrets: vec![],
            timeout: Duration::from_secs(30),
            max_stdout: 1 << 20,
            pack_cap: None,
        }
        .run()
        .await?;
        std::fs::rename(&tmp, dir).map_err(|source| CacheError::Io {
            what: "creating cache repository",
            path: dir.to_owned(),
            source,
        })?;
        Ok(())
    }

    async fn local_commit(
        &self,
        url: &RepoUrl,
        dir: &Path,
        rev: &str,
    ) -> Result<Option<CommitId>, CacheError> {
        let run = GitRun {
            action: "rev-parse",
            url,
            args: vec![
                "rev-parse".into(),
                "--verify".into(),
                "-q".into(),
                format!("{rev}^{{commit}}").into(),
            ],
            git_dir: Some(dir),
            env: vec![],
            secrets: vec![],
            timeout: Duration::from_secs(30),
            max_stdout: 4096,
            pack_cap: None,
        };
        match run.run().await {
            Ok(out) => {
                let text = String::from_utf8_lossy(&out.stdout);
                Ok(CommitId::parse(text.trim()).ok())
            }
            // `-q` prints nothing when the name is unknown; anything printed is a real problem
            // (an ambiguous abbreviation, a broken repository).
            Err(GitError::Failed { stderr, .. }) if stderr.is_empty() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn update_ref(
        &self,
        url: &RepoUrl,
        dir: &Path,
        name: &str,
        commit: &CommitId,
    ) -> Result<(), CacheError> {
        GitRun {
            action: "update-ref",
            url,
            args: os(&["update-ref", name, commit.as_str()]),
            git_dir: Some(dir),
            env: vec![],
            secrets: vec![],
            timeout: Duration::from_secs(30),
            max_stdout: 4096,
            pack_cap: None,
        }
        .run()
        .await?;
        Ok(())
    }

    /// Runs one `git fetch` and returns the pack bytes it added.
    async fn fetch_refspecs(
        &self,
        url: &RepoUrl,
        env: &TransportEnv,
        dir: &Path,
        refspecs: &[String],
        full_history: bool,
    ) -> Result<u64, CacheError> {
        let _slot = self.fetch_slots.acquire().await.expect("the semaphore is never closed");
        let snapshot = Snapshot::take(self, url, dir).await?;
        let mut args = os(&[
            "fetch",
            "--quiet",
            "--no-tags",
            "--no-write-fetch-head",
            "--no-auto-gc",
            "--no-recurse-submodules",
        ]);
        let shallow = dir.join("shallow").exists();
        if full_history || self.limits.depth == 0 {
            if shallow {
                args.push("--unshallow".into());
            }
        } else {
            args.push(format!("--depth={}", self.limits.depth).into());
        }
        args.push("--".into());
        args.push(url.for_git().into());
        args.extend(refspecs.iter().map(OsString::from));
        let cap = self.limits.max_fetch_bytes;
        let result = GitRun {
            action: "fetch",
            url,
            args,
            git_dir: Some(dir),
            env: env.vars.clone(),
            secrets: env.secrets.clone(),
            timeout: self.limits.fetch_timeout,
            max_stdout: 1 << 20,
            pack_cap: Some((dir.to_owned(), cap)),
        }
        .run()
        .await;
        let received = pack_bytes(dir).saturating_sub(snapshot.pack_bytes);
        // The packs changed: a repository opened before does not see new packs once its object
        // store's slots (sized when it was opened) are used up, so it is opened again.
        self.forget_open(dir);
        match result {
            // The size watcher polls, so a fast transfer can finish over the cap: undo it.
            Ok(_) if received > cap => {
                snapshot.restore(self, url, dir).await?;
                Err(GitError::TooLarge { action: "fetch", url: url.to_string(), limit: cap }.into())
            }
            Ok(_) => {
                self.consolidate_packs(url, dir).await?;
                Ok(received)
            }
            Err(e) => {
                snapshot.restore(self, url, dir).await?;
                Err(e.into())
            }
        }
    }

    fn forget_open(&self, dir: &Path) {
        self.repos.lock().unwrap_or_else(|p| p.into_inner()).remove(dir);
    }

    /// Each fetch keeps what it received as a pack of its own (`fetch.unpackLimit=1`, so bytes
    /// fetched can be measured and capped) and automatic gc is off (it would race other readers),
    /// so packs are merged here, under the repository's fetch lock, once there are
    /// [`MAX_PACKS`]. Unreachable objects are kept: a pinned or rolled-back commit stays readable.
    async fn consolidate_packs(&self, url: &RepoUrl, dir: &Path) -> Result<(), CacheError> {
        let packs =
            pack_files(dir).iter().filter(|name| name.to_string_lossy().ends_with(".pack")).count();
        if packs < MAX_PACKS {
            return Ok(());
        }
        self.git_local(url, dir, "repack", os(&["repack", "-a", "-d", "-q", "--keep-unreachable"]))
            .await?;
        self.forget_open(dir);
        Ok(())
    }

    async fn git_local(
        &self,
        url: &RepoUrl,
        dir: &Path,
        action: &'static str,
        args: Vec<OsString>,
    ) -> Result<Vec<u8>, CacheError> {
        let out = GitRun {
            action,
            url,
            args,
            git_dir: Some(dir),
            env: vec![],
            secrets: vec![],
            timeout: Duration::from_secs(60),
            max_stdout: 64 << 20,
            pack_cap: None,
        }
        .run()
        .await?;
        Ok(out.stdout)
    }
}

/// Packs in one cached repository before they are merged into one.
const MAX_PACKS: usize = 16;

/// What a fetch may change in the cache, so a refused fetch leaves no trace: refs, the shallow
/// boundary and the set of packs.
struct Snapshot {
    refs: String,
    shallow: Option<Vec<u8>>,
    packs: BTreeSet<std::ffi::OsString>,
    pack_bytes: u64,
}

fn pack_files(dir: &Path) -> BTreeSet<std::ffi::OsString> {
    std::fs::read_dir(dir.join("objects/pack"))
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default()
}

impl Snapshot {
    async fn take(cache: &RepoCache, url: &RepoUrl, dir: &Path) -> Result<Self, CacheError> {
        let refs = cache
            .git_local(
                url,
                dir,
                "for-each-ref",
                os(&["for-each-ref", "--format=%(objectname) %(refname)"]),
            )
            .await?;
        Ok(Self {
            refs: String::from_utf8_lossy(&refs).into_owned(),
            shallow: std::fs::read(dir.join("shallow")).ok(),
            packs: pack_files(dir),
            pack_bytes: pack_bytes(dir),
        })
    }

    async fn restore(
        &self,
        cache: &RepoCache,
        url: &RepoUrl,
        dir: &Path,
    ) -> Result<(), CacheError> {
        let io = |path: PathBuf| {
            move |source| CacheError::Io { what: "rolling back fetch in", path, source }
        };
        crate::git::remove_stale_locks(dir);
        // Refs first, while the objects they may point to still exist.
        let now = cache
            .git_local(
                url,
                dir,
                "for-each-ref",
                os(&["for-each-ref", "--format=%(objectname) %(refname)"]),
            )
            .await?;
        let parse = |text: &str| -> HashMap<String, String> {
            text.lines()
                .filter_map(|l| l.split_once(' '))
                .map(|(id, name)| (name.to_owned(), id.to_owned()))
                .collect()
        };
        let (before, after) = (parse(&self.refs), parse(&String::from_utf8_lossy(&now)));
        for (name, id) in &after {
            let args = match before.get(name) {
                None => os(&["update-ref", "-d", name]),
                Some(old) if old != id => os(&["update-ref", name, old]),
                Some(_) => continue,
            };
            cache.git_local(url, dir, "update-ref", args).await?;
        }
        let shallow = dir.join("shallow");
        match &self.shallow {
            Some(bytes) => std::fs::write(&shallow, bytes).map_err(io(shallow.clone()))?,
            None if shallow.exists() => {
                std::fs::remove_file(&shallow).map_err(io(shallow.clone()))?
            }
            None => {}
        }
        let pack_dir = dir.join("objects/pack");
        for name in pack_files(dir).difference(&self.packs) {
            let path = pack_dir.join(name);
            std::fs::remove_file(&path).map_err(io(path.clone()))?;
        }
        Ok(())
    }
}

pub(crate) async fn ls_remote_with(
    url: &RepoUrl,
    env: &TransportEnv,
    limits: &Limits,
) -> Result<RemoteRefs, CacheError> {
    let out = GitRun {
        action: "ls-remote",
        url,
        args: vec!["ls-remote".into(), "--".into(), url.for_git().into()],
        git_dir: None,
        env: env.vars.clone(),
        secrets: env.secrets.clone(),
        timeout: limits.ls_remote_timeout,
        max_stdout: limits.max_refs_bytes,
        pack_cap: None,
    }
    .run()
    .await?;
    parse_ls_remote(&String::from_utf8_lossy(&out.stdout))
        .map_err(|source| CacheError::Resolve { url: url.to_string(), source })
}

/// Lists a remote's refs without a cache (for `ferry repo check` and one-off polls).
pub async fn ls_remote(
    url: &RepoUrl,
    creds: impl Into<Access>,
    limits: &Limits,
) -> Result<RemoteRefs, CacheError> {
    let helper_dir = tempfile::tempdir().map_err(|source| CacheError::Io {
        what: "creating",
        path: std::env::temp_dir(),
        source,
    })?;
    let askpass = ensure_askpass(helper_dir.path())?;
    let env = transport_env(url, &creds.into(), &askpass, limits.ls_remote_timeout)?;
    ls_remote_with(url, &env, limits).await
}

fn oid(commit: &CommitId) -> ObjectId {
    ObjectId::from_hex(commit.as_str().as_bytes()).expect("CommitId holds validated hex")
}
