//! The render stage's key ring: [`crate::decryption::keyring`] for the app, a failure turned
//! into a stop with its reason and hint (retried soon: a key Secret is fixed outside Git).
//!
//! The Secrets are read at every reconcile of an app with `spec.decryption` (as Flux does); the
//! ring's public digest is part of what decides whether to render again, and
//! [`crate::decryption::follow`] reconciles the apps of a key Secret as soon as it changes.

use std::sync::Arc;
use std::time::Duration;

use ferry_render::Keyring;

use super::cycle::Cycle;
use super::stop::{Stage, Stop};

pub(crate) async fn keyring(cy: &Cycle<'_>) -> Result<Arc<Keyring>, Stop> {
    let home = &cy.inner.config.home_namespace;
    crate::decryption::keyring(
        &cy.inner.client,
        &cy.id.namespace,
        cy.app.spec.decryption.as_ref(),
        home,
    )
    .await
    .map(Arc::new)
    .map_err(|e| {
        Stop::new(Stage::Render, e.reason(), e.to_string())
            .hint(e.hint())
            .backoff(Duration::from_secs(10))
    })
}
