//! Diff stage: desired vs live under server-side apply ownership, secrets masked (pure).
//!
//! Two users: the embedded API server (`ferry-cluster`) runs its writes through the model of
//! server-side apply here, and the engine asks [`diff_object`] whether what Ferry declares
//! matches the cluster.
//!
//! - [`fieldset`]: sets of field paths and the `fieldsV1` encoding of managedFields.
//! - [`schema`]: which lists are maps, sets or atomic, for built-in kinds and CRDs.
//! - [`defaults`]: what kube-apiserver fills in for built-in kinds.
//! - [`ssa`]: server-side apply ([`apply`]) and update ownership ([`update`]), conflicts.
//! - [`patch`]: strategic merge patch, JSON merge patch, JSON patch.
//! - [`diff`]: desired vs live for the engine ([`diff_object`], [`render_unified`]), secrets
//!   masked ([`mask_secret`]).
//!
//! # For the API server
//! ```text
//! PATCH apply-patch+yaml   ssa::apply_with(live, body, &Params::new(mgr, now).force(f), &schema)
//! POST / PUT               ssa::update_with(old, new, &Params::new(mgr, now), Operation::Update, &schema)
//! PATCH merge/json/smp     merge_patch / json_patch / strategic_merge, then update_with
//! /status, /scale          the same with Params::subresource("status" | "scale")
//! CRD created              schema.add_crd(&crd)
//! ```
//! Both `apply_with` and `update_with` default the object ([`apply_defaults`]) as the server
//! does before storing, and return it with `metadata.managedFields` written.
//!
//! Architecture Invariant: this crate performs no I/O and holds no Kubernetes client.

pub mod defaults;
pub mod diff;
pub mod fieldset;
pub mod patch;
pub mod path;
pub mod schema;
pub mod ssa;
pub mod walk;

pub use defaults::apply_defaults;
pub use diff::{
    ChangedBy, DiffError, DiffOptions, FieldChange, IgnoredChange, ObjectDiff, diff_object,
    mask_secret, mask_value, render_unified,
};
pub use fieldset::{FieldSet, FieldSetError};
pub use patch::{PatchError, json_patch, merge_patch, strategic_merge};
pub use path::{Path, PathElement};
pub use schema::{Schema, SchemaError};
pub use ssa::{Applied, ApplyError, Conflict, Operation, Params, apply, update};
