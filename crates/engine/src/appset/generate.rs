//! Runs a set's generators: reads git trees (through a [`GitReader`]: the engine's fetch cache
//! and credentials, or the CLI's for `ferry appset preview`) and the known clusters, and hands
//! the listings to the pure [`params`](super::params). A git error is an error, never "no
//! directories": the caller deletes nothing on an error.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use ferry_source::{EntryKind, GitTree, RepoPath, Tree};

use super::params::{self, ClusterInfo, Params, ParamsError};
use super::{Generator, GitGenerator, MAX_GENERATED};

/// Largest parameters file the `files` generator reads.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// Most tree entries one git generator walks.
pub const MAX_TREE_ENTRIES: usize = 200_000;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GenerateError {
    #[error("{at}: {source}")]
    Params {
        at: String,
        #[source]
        source: ParamsError,
    },
    #[error(
        "{at}: cannot read {url} at {revision:?}: {message}; nothing was created or deleted, Ferry retries"
    )]
    Git { at: String, url: String, revision: String, message: String },
    #[error("{at}: unknown generator {name:?} (Ferry knows list, clusters, git, matrix, merge)")]
    Unknown { at: String, name: String },
    #[error("{at}: a generator needs one of list, clusters, git, matrix, merge")]
    Empty { at: String },
    #[error("{at}: a matrix combines exactly two generators, this one has {count}")]
    MatrixArity { at: String, count: usize },
    #[error("{at}: a git generator needs directories or files")]
    GitNothing { at: String },
    #[error("{at}: {what} holds more than {limit} entries; narrow the generator")]
    TooBig { at: String, what: String, limit: usize },
}

impl GenerateError {
    /// Whether waiting may help (git was unreachable), as opposed to a spec or file to fix.
    pub fn is_retryable(&self) -> bool {
        matches!(self, GenerateError::Git { .. })
    }
}

/// A fetched commit.
pub struct Checkout {
    pub tree: GitTree,
    pub commit: String,
}

/// Where git trees come from.
pub trait GitReader: Sync {
    /// `repo_url` fetched at `revision` (empty: `HEAD`); the error says why, in plain words.
    fn checkout(
        &self,
        repo_url: &str,
        revision: &str,
    ) -> impl Future<Output = Result<Checkout, String>> + Send;

    /// Every directory and file of a checkout (`None`: more than [`MAX_TREE_ENTRIES`]). The
    /// engine keeps the last listing of each repository, since a commit's listing never changes.
    fn listing(
        &self,
        _repo_url: &str,
        checkout: &Checkout,
    ) -> Result<Option<Arc<Listing>>, String> {
        Ok(walk(&checkout.tree)?.map(Arc::new))
    }
}

/// What the generators yield.
#[derive(Clone, Debug, Default)]
pub struct Generated {
    pub params: Vec<Params>,
    /// The commit each git generator read, by repository URL.
    pub revisions: BTreeMap<String, String>,
}

/// Runs every generator of a set, in order.
pub async fn generate<G: GitReader>(
    generators: &[Generator],
    git: &G,
    clusters: &[ClusterInfo],
) -> Result<Generated, GenerateError> {
    let mut out = Generated::default();
    for (i, g) in generators.iter().enumerate() {
        let mut sets =
            run(g, format!("spec.generators[{i}]"), git, clusters, &mut out.revisions).await?;
        out.params.append(&mut sets);
        if out.params.len() > MAX_GENERATED {
            return Err(GenerateError::TooBig {
                at: "spec.generators".into(),
                what: "the parameter sets".into(),
                limit: MAX_GENERATED,
            });
        }
    }
    Ok(out)
}

type Boxed<'a> = Pin<Box<dyn Future<Output = Result<Vec<Params>, GenerateError>> + Send + 'a>>;

fn run<'a, G: GitReader>(
    g: &'a Generator,
    at: String,
    git: &'a G,
    clusters: &'a [ClusterInfo],
    revisions: &'a mut BTreeMap<String, String>,
) -> Boxed<'a> {
    Box::pin(async move {
        let p = |source| GenerateError::Params { at: at.clone(), source };
        if let Some(name) = g.other.keys().next() {
            return Err(GenerateError::Unknown { at, name: name.clone() });
        }
        if let Some(l) = &g.list {
            return params::list(&l.elements).map_err(p);
        }
        if let Some(c) = &g.clusters {
            return params::clusters(c, clusters).map_err(p);
        }
        if let Some(gg) = &g.git {
            return git_generator(gg, &at, git, revisions).await;
        }
        if let Some(m) = &g.matrix {
            if m.generators.len() != 2 {
                return Err(GenerateError::MatrixArity { at, count: m.generators.len() });
            }
            let a = run(
                &m.generators[0],
                format!("{at}.matrix.generators[0]"),
                git,
                clusters,
                revisions,
            )
            .await?;
            let b = run(
                &m.generators[1],
                format!("{at}.matrix.generators[1]"),
                git,
                clusters,
                revisions,
            )
            .await?;
            if a.len().saturating_mul(b.len()) > MAX_GENERATED {
                return Err(GenerateError::TooBig {
                    at,
                    what: "the matrix".into(),
                    limit: MAX_GENERATED,
                });
            }
            return Ok(params::matrix(&a, &b));
        }
        if let Some(m) = &g.merge {
            let mut all = Vec::with_capacity(m.generators.len());
            for (i, child) in m.generators.iter().enumerate() {
                all.push(
                    run(child, format!("{at}.merge.generators[{i}]"), git, clusters, revisions)
                        .await?,
                );
            }
            let Some((base, others)) = all.split_first() else { return Ok(Vec::new()) };
            return params::merge(base, others, &m.merge_keys).map_err(p);
        }
        Err(GenerateError::Empty { at })
    })
}

async fn git_generator<G: GitReader>(
    g: &GitGenerator,
    at: &str,
    git: &G,
    revisions: &mut BTreeMap<String, String>,
) -> Result<Vec<Params>, GenerateError> {
    if g.directories.is_empty() && g.files.is_empty() {
        return Err(GenerateError::GitNothing { at: at.to_owned() });
    }
    let checkout =
        git.checkout(&g.repo_url, &g.revision).await.map_err(|message| GenerateError::Git {
            at: at.to_owned(),
            url: g.repo_url.clone(),
            revision: if g.revision.is_empty() { "HEAD".into() } else { g.revision.clone() },
            message,
        })?;
    revisions.insert(g.repo_url.clone(), checkout.commit.clone());
    let git_err = |message: String| GenerateError::Git {
        at: at.to_owned(),
        url: g.repo_url.clone(),
        revision: checkout.commit.clone(),
        message,
    };
    let listing = git.listing(&g.repo_url, &checkout).map_err(git_err)?.ok_or_else(|| {
        GenerateError::TooBig {
            at: at.to_owned(),
            what: format!("{} at {}", g.repo_url, checkout.commit),
            limit: MAX_TREE_ENTRIES,
        }
    })?;
    let p = |source| GenerateError::Params { at: at.to_owned(), source };
    let mut out = params::directories(&listing.dirs, &g.directories).map_err(p)?;
    for path in params::matching_files(&listing.files, &g.files).map_err(p)? {
        let rp = RepoPath::new(path).map_err(|e| git_err(e.to_string()))?;
        let bytes = checkout.tree.read(&rp, MAX_FILE_BYTES).map_err(|e| git_err(e.to_string()))?;
        out.extend(params::file(path, &bytes).map_err(p)?);
    }
    for set in &mut out {
        params::with_values(set, &g.values);
    }
    Ok(out)
}

/// Every directory and file of a tree (paths without slashes at either end), or `None` when
/// there are more than [`MAX_TREE_ENTRIES`].
pub struct Listing {
    pub dirs: Vec<String>,
    pub files: Vec<String>,
}

pub fn walk(tree: &dyn Tree) -> Result<Option<Listing>, String> {
    let mut listing = Listing { dirs: Vec::new(), files: Vec::new() };
    let mut todo = vec![RepoPath::root()];
    let mut seen = 0usize;
    while let Some(dir) = todo.pop() {
        for entry in tree.list(&dir).map_err(|e| e.to_string())? {
            seen += 1;
            if seen > MAX_TREE_ENTRIES {
                return Ok(None);
            }
            let path = entry.path.as_str().trim_matches('/').to_owned();
            match entry.kind {
                EntryKind::Dir => {
                    listing.dirs.push(path);
                    todo.push(entry.path);
                }
                EntryKind::File => listing.files.push(path),
                EntryKind::Symlink { .. } => {}
            }
        }
    }
    Ok(Some(listing))
}
