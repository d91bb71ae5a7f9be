//! Git source stage: fetch, resolve revisions, read trees, change sets, polling, webhooks.
//!
//! Architecture Invariant: this crate knows nothing about Kubernetes.
//!
//! Transport verbs (ls-remote, fetch) and signature verification run the `git` CLI (see
//! [`git`] for why); reading commits, trees and blobs and diffing trees use gix directly.
//!
//! # Code map
//! - [`url`]: [`RepoUrl`] parsed once, normalised ([`RepoUrl::key`]), displayed without secrets.
//! - [`duration`]: the one Go-duration parser (Argo CD backoff, Flux intervals, CLI flags).
//! - [`credentials`]: [`Credentials`], [`Access`] (credentials plus `insecure` and `proxy`) and
//!   [`Secret`] (redacting `Debug`).
//! - [`process`]: the one runner for external programs (isolated environment, capped output,
//!   timeout, process-group kill) and the git credential helper that reads the environment.
//! - [`git`]: the isolated, time- and size-capped `git` runner; credentials via environment only.
//! - [`cache`]: [`RepoCache`] — `fetch` (ls-remote, then a shallow/incremental fetch only when
//!   the commit is missing), `tree`, `changed_paths`, `resolve_local`, `resolve_remote`,
//!   `ls_remote`; [`Limits`].
//! - [`resolve`] + [`constraint`]: revision → ref or commit, Masterminds semver constraints. Pure.
//! - [`git_tree`]: [`GitTree`], a commit's tree as a [`Tree`].
//! - [`changes`]: tree diff that skips equal subtrees, and [`affected`] watchers by glob.
//! - [`poll`]: [`Poller`] (interval, jitter, backoff) and [`moved_refs`]. Pure.
//! - [`webhook`]: provider deliveries → verified [`webhook::WebhookEvent`]; [`webhook::Dedupe`].
//! - [`verify`]: commit signatures (SSH allowed signers, OpenPGP keys) via `git verify-commit`.
//! - [`check`]: `ferry repo check`.
//!
//! Architecture Invariant: a failed fetch is an error, never an empty tree.
//! Architecture Invariant: credentials never reach a command line, an error, a log or `Debug`.

pub mod cache;
pub mod changes;
pub mod check;
pub mod commit_info;
pub mod constraint;
pub mod credentials;
pub mod duration;
pub mod git;
pub mod git_tree;
pub mod poll;
pub mod process;
pub mod resolve;
pub mod tree;
pub mod url;
pub mod verify;
pub mod webhook;

pub use cache::{Author, CacheError, FetchOutcome, Limits, RepoCache, ls_remote};
pub use changes::{ChangeError, affected};
pub use check::{CheckArgs, CheckError, check};
pub use commit_info::CommitInfo;
pub use constraint::{Constraint, ConstraintError};
pub use credentials::{Access, Credentials, Secret};
pub use git::{FailureKind, GitError};
pub use git_tree::GitTree;
pub use poll::{PollConfig, PollOutcome, Poller, moved_refs};
pub use resolve::{CommitId, RemoteRefs, Resolution, ResolveError, short_revision};
pub use tree::{EntryKind, FsTree, RepoPath, Tree, TreeEntry, TreeError};
pub use url::{RepoUrl, Scheme, UrlError};
pub use verify::{Signer, TrustPolicy, VerifyError};
