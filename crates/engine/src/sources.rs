//! The engine's view of Git: remote refs remembered between polls (so a drift-triggered reconcile
//! asks no server anything) and commits fetched once per repository, whatever the number of apps.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ferry_source::resolve::{RemoteRefs, Resolution, resolve};
use ferry_source::{
    Access, CacheError, CommitId, FailureKind, GitError, GitTree, RepoCache, RepoUrl, ResolveError,
    UrlError,
};

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("repoURL {url:?} is not a repository URL Ferry can fetch: {source}")]
    Url {
        url: String,
        #[source]
        source: UrlError,
    },
    #[error("{0}")]
    Cache(#[from] CacheError),
    #[error("revision {revision:?} of {url}: {source}")]
    Resolve {
        url: String,
        revision: String,
        #[source]
        source: ResolveError,
    },
}

impl SourceError {
    /// Whether trying again later can help (a network blip), as opposed to a wrong URL or revision.
    pub fn is_retryable(&self) -> bool {
        match self {
            SourceError::Cache(e) => e.is_retryable(),
            _ => false,
        }
    }

    /// How git failed, when it did; a ssh URL without a key is an authentication problem.
    pub fn failure_kind(&self) -> Option<FailureKind> {
        match self {
            SourceError::Cache(CacheError::Git(GitError::SshNeedsKey { .. })) => {
                Some(FailureKind::Auth)
            }
            SourceError::Cache(CacheError::Git(e)) => e.kind(),
            _ => None,
        }
    }
}

#[derive(Default)]
struct RefMemory {
    refs: HashMap<String, (RemoteRefs, Instant)>,
    /// Bumped by each invalidation, so a ref check that started before a push notification cannot
    /// store what it saw after the notification cleared it (it may predate the push).
    epochs: HashMap<String, u64>,
}

pub struct Sources {
    cache: RepoCache,
    memory: Mutex<RefMemory>,
}

impl Sources {
    pub fn new(cache: RepoCache) -> Self {
        Self { cache, memory: Mutex::default() }
    }

    /// The repository cache (for a plan, which fetches refs of its own).
    pub fn cache(&self) -> &RepoCache {
        &self.cache
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, RefMemory> {
        self.memory.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn parse_url(raw: &str) -> Result<RepoUrl, SourceError> {
        RepoUrl::parse(raw).map_err(|source| SourceError::Url { url: raw.to_owned(), source })
    }

    /// The refs of `url`, from memory when younger than `max_age`.
    pub async fn refs(
        &self,
        url: &RepoUrl,
        creds: &Access,
        max_age: Duration,
    ) -> Result<RemoteRefs, SourceError> {
        let key = url.key();
        let epoch = {
            let memory = self.memory();
            if let Some((refs, at)) = memory.refs.get(&key)
                && at.elapsed() < max_age
            {
                return Ok(refs.clone());
            }
            memory.epochs.get(&key).copied().unwrap_or(0)
        };
        let refs = self.cache.ls_remote(url, creds).await?;
        let mut memory = self.memory();
        if memory.epochs.get(&key).copied().unwrap_or(0) == epoch {
            memory.refs.insert(key, (refs.clone(), Instant::now()));
        }
        Ok(refs)
    }

    /// Forgets the remembered refs of `url` (a webhook said it moved), including what a ref check
    /// already under way will see.
    pub fn invalidate(&self, url: &RepoUrl) {
        let key = url.key();
        let mut memory = self.memory();
        memory.refs.remove(&key);
        *memory.epochs.entry(key).or_default() += 1;
    }

    /// What `revision` resolves to with the refs at hand (no network).
    pub fn resolve_with(
        refs: &RemoteRefs,
        url: &RepoUrl,
        revision: &str,
    ) -> Result<Resolution, SourceError> {
        resolve(refs, revision).map_err(|source| SourceError::Resolve {
            url: url.to_string(),
            revision: revision.to_owned(),
            source,
        })
    }

    /// Resolves `revision` and makes its commit present locally. Refs younger than `max_age` are
    /// reused; a commit already in the cache is not fetched again.
    pub async fn commit(
        &self,
        url: &RepoUrl,
        creds: &Access,
        revision: &str,
        max_age: Duration,
    ) -> Result<CommitId, SourceError> {
        let refs = self.refs(url, creds, max_age).await?;
        match Self::resolve_with(&refs, url, revision)? {
            Resolution::Ref { name, commit } => {
                if self.cache.tree(url, &commit).is_ok() {
                    return Ok(commit);
                }
                Ok(self.cache.fetch(url, creds, &name).await?.commit)
            }
            Resolution::Commit { prefix } => {
                Ok(self.cache.fetch(url, creds, &prefix).await?.commit)
            }
        }
    }

    /// The author of a fetched commit.
    pub fn author(
        &self,
        url: &RepoUrl,
        commit: &CommitId,
    ) -> Result<ferry_source::Author, SourceError> {
        Ok(self.cache.commit_author(url, commit)?)
    }

    pub fn tree(&self, url: &RepoUrl, commit: &CommitId) -> Result<GitTree, SourceError> {
        Ok(self.cache.tree(url, commit)?)
    }

    /// Author, committer and message of a fetched commit.
    pub fn commit_info(
        &self,
        url: &RepoUrl,
        commit: &CommitId,
    ) -> Result<ferry_source::CommitInfo, SourceError> {
        Ok(self.cache.commit_info(url, commit)?)
    }
}
