//! Image automation: edit image references in place, registry scanning, write-back to Git.
//!
//! `ferry image set` is [`parse_updates`] → [`plan_set`] (pure planning over files read into
//! memory) → [`PlannedSet::write`] → optionally [`git::set_commit_push`].
//!
//! Registry automation building blocks: [`registry::RegistryClient`] lists tags over the OCI
//! distribution API (token/basic auth, pagination, bounded responses) and [`policy`] chooses
//! one (semver range, regex filter with extraction, alphabetical/numerical order, newest by
//! creation time; optionally pinned by digest).
//!
//! [`automation`]: the `ImageRepository`/`ImagePolicy`/`ImageUpdateAutomation` custom resources
//! and their controller ([`automation::start`]).
//!
//! Architecture Invariant: edits change only the bytes of the image scalars they target
//! (comments, key order, quoting and indentation are kept); planning never writes.

pub mod automation;
pub mod cli;
pub mod git;
pub mod message;
mod plan;
pub mod policy;
pub mod reference;
pub mod registry;
mod set;
mod sites;
mod update;
mod yaml;

pub use plan::PlanError;
pub use reference::{ImageRef, ReferenceError};
pub use set::{
    Change, MAX_FILE_BYTES, MAX_FILES, Note, PlannedSet, SetError, SetReport, plan_set, set_images,
};
pub use sites::SiteError;
pub use update::{ImageUpdate, UpdateError, parse_updates};
pub use yaml::YamlError;
