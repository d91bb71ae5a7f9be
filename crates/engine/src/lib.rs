//! The controller: Application CRD, reconcile loop, drift, heal, history, rollback.
//!
//! [`Engine::start`] runs the controller against a cluster. Each Application is reconciled by
//! [`reconcile`](crate::reconcile): source → render → compare → sync → health → status. Live objects come from
//! label-selected watches ([`live::LiveCache`]), so a reconcile in which nothing changed makes no
//! API calls.

pub mod application;
pub mod approval;
pub mod appset;
pub mod argo;
pub mod audit;
mod claims;
pub mod clusters;
pub mod compare;
pub mod controller;
mod crd_schema;
pub mod decryption;
pub mod depends;
mod finalize;
pub mod leader;
pub mod live;
pub mod metrics;
pub mod notifications;
pub mod plan;
mod poll;
pub mod prepare;
pub mod project;
pub mod prune_guard;
pub mod queue;
pub mod reconcile;
pub mod records;
pub mod repos;
mod rollback;
pub mod settings;
pub mod shard;
pub mod sources;
pub mod status;
mod sync;
mod sync_audit;
mod sync_select;

pub use application::{Application, ApplicationSpec, ApplicationStatus, crd};
pub use controller::{
    DEFAULT_HOME_NAMESPACE, Engine, EngineConfig, EngineError, install_crd, random_hex,
    random_mask_key,
};
