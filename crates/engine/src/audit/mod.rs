//! The audit trail: every API action (who, from where, what, result) and every sync (app,
//! revision, commit author and message, trigger, change set) as one [`AuditRecord`] type, kept
//! in an in-memory ring ([`AuditTrail::query`], what `GET /api/v1/audit` answers), written as JSON
//! lines to a rotated file or stdout, and (by the engine and the API) posted as Kubernetes Events
//! on the Application.
//!
//! # Guarantees
//! - A record never holds a Secret value: requests are recorded by method, path and permission,
//!   syncs by revision, commit metadata and object names.
//! - A failing log write never loses the record from the ring nor stops the act.

pub mod query;
pub mod record;
pub mod trail;

pub use query::AuditQuery;
pub use record::{
    Actor, AppRef, AuditRecord, Changes, MAX_CHANGED, Outcome, RecordKind, RequestDetails,
    SyncDetails, Trigger,
};
pub use trail::{AuditTrail, LogTarget, TrailError};
