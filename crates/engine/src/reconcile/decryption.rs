//! The render stage's key ring: [`crate::decryption::keyring`] for the app, a failure turned
//! into a stop with its reason and hint (retried soon: a key Secret is fixed outside Git).
//!
//! The Secrets are read when the app's ring is not in [`crate::decryption::KeyCache`] (first
//! reconcile, a key Secret changed, a watch relisting), so a quiet app reads none; the ring's
//! public digest is part of what decides whether to render again, and
//! [`crate::decryption::follow`] reconciles the apps of a key Secret as soon as it changes.

use std::sync::Arc;
use std::time::Duration;

use ferry_render::Keyring;

use super::cycle::Cycle;
use super::stop::{Stage, Stop};

pub(crate) async fn keyring(cy: &Cycle<'_>) -> Result<Arc<Keyring>, Stop> {
    let home = &cy.inner.config.home_namespace;
    let decryption = cy.app.spec.decryption.as_ref();
    let cache = &cy.inner.keys;
    let ticket = cache.ticket([&cy.id.namespace, home]);
    if let Some(ring) = ticket.and_then(|t| cache.get(cy.id, t, decryption)) {
        return Ok(ring);
    }
    let ring = crate::decryption::keyring(&cy.inner.client, &cy.id.namespace, decryption, home)
        .await
        .map(Arc::new)
        .map_err(stop)?;
    if let Some(ticket) = ticket {
        cache.put(cy.id, ticket, decryption, ring.clone());
    }
    Ok(ring)
}

/// A failure as a stop with its reason and hint, retried soon: a key Secret is fixed outside Git.
fn stop(e: crate::decryption::DecryptionError) -> Stop {
    Stop::new(Stage::Render, e.reason(), e.to_string())
        .hint(e.hint())
        .backoff(Duration::from_secs(10))
}
