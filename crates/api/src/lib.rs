//! REST API, webhooks, metrics and web UI as an axum Router.
