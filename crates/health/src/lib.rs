//! Health stage: per-kind health rules and CEL custom checks (pure).
//!
//! [`assess`] judges one live object; [`aggregate`] / [`aggregate_named`] fold many into the
//! worst. Built-in judgements live in one small file per kind (`kinds/`); user rules in CEL
//! ([`Rules`], Flux's `healthCheckExprs`) override them per group/kind.
//!
//! Architecture Invariant: this crate performs no I/O and holds no clients; it reads objects
//! as JSON values.

mod assess;
mod kinds;
mod object;
mod rules;
mod status;

pub use assess::assess;
pub use rules::{HealthCheck, MAX_COMPREHENSION_DEPTH, MAX_EXPRESSION_BYTES, RuleError, Rules};
pub use status::{Health, HealthStatus, aggregate, aggregate_named};
