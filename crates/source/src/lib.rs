//! Git source stage: fetch, resolve revisions, read trees, change sets, polling, webhooks.
//!
//! Architecture Invariant: this crate knows nothing about Kubernetes.

pub mod tree;

pub use tree::{EntryKind, FsTree, RepoPath, Tree, TreeEntry, TreeError};
