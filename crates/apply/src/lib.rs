//! Apply stage: ordered server-side apply, hooks, waves, prune by inventory.
//!
//! The plan is data, computed by pure functions ([`plan::plan`], [`prune::select`]) and unit-tested
//! without a cluster; [`executor::Executor`] walks it against a kube `Client`, one step at a time as
//! decided by [`step::next_step`], and reports a [`ChangeSet`].

pub mod annotations;
pub mod changeset;
pub mod discovery;
pub mod executor;
pub mod killpoint;
pub mod object;
pub mod order;
pub mod plan;
pub mod prune;
pub mod step;
pub mod tracking;

pub use changeset::{Action, ChangeSet, ChangeSetEntry};
pub use executor::{ApplyError, Executor, SyncRequest};
pub use object::{ObjKey, ObjectError};
pub use plan::{Phase, Plan, PlanError, Task, TaskKind};

/// The field manager Ferry applies with.
pub const FIELD_MANAGER: &str = "ferry";
