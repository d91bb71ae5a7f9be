//! REST API, webhooks, metrics and web UI as an axum [`Router`](axum::Router).
//!
//! [`router`] is the whole HTTP surface of Ferry as one function of an [`ApiState`]; `ferry up`
//! and `ferry controller` serve it with [`serve`]. Handlers read the engine's caches (no API
//! calls for lists) and write only through annotations and `spec.suspend`, with field manager
//! [`FIELD_MANAGER`], so the CLI, `kubectl` and the API all ask the engine the same way.
//!
//! # Guarantees
//! - Every `/api` route except the webhook (which has its own signatures) authenticates the
//!   caller and checks the route's RBAC permission ([`access`]); writes are JSON or carry a
//!   token and come from no other site's page; a loopback server checks `Host`.
//! - Every write and every refusal is recorded in the audit trail.
//! - Webhook bodies are capped before they are read.
//! - Responses are DTOs ([`dto`]), never the engine's internal types, except `GET
//!   /api/v1/applications/{ns}/{name}` which is the Application object itself (as `kubectl get -o json`).
//! - Secret values never appear: diffs come masked from the engine.

pub mod access;
mod account;
mod actions;
mod appsets;
pub mod dto;
mod error;
mod events;
pub mod exposition;
mod metrics;
mod openapi;
mod plan;
mod pull_plan;
pub mod query;
mod read;
mod routes;
mod state;
mod stream;
pub mod tree;
mod ui;
mod webhook;
mod webhook_secret;

pub use access::{Access, Caller, OidcConfig, Policy};
pub use error::ApiError;
pub use ferry_source::webhook::WebhookConfig;
pub use metrics::ApiMetrics;
pub use openapi::openapi;
pub use routes::{router, serve};
pub use state::{ApiState, ApiStateBuilder, DEFAULT_WEBHOOK_BODY_LIMIT};
pub use webhook_secret::{WEBHOOK_SECRET_KEYS, WEBHOOK_SECRET_NAME, config_from_secret};

/// The field manager of every write the API makes.
pub const FIELD_MANAGER: &str = "ferry-api";
