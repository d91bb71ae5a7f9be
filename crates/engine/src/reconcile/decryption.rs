//! The keys that open an app's SOPS files: the Secret `spec.decryption.secretRef` names, in the
//! Application's namespace (as Flux's kustomize-controller reads it), plus Ferry's default key
//! Secret [`DEFAULT_KEYS_SECRET`] in its home namespace when one exists. Keys live only in memory,
//! in a [`Keyring`] handed to render; a message names Secrets and keys, never a value.
//!
//! The Secrets are read when the app renders (Flux reads them at every reconcile too); the
//! ring's public digest is part of what decides whether to render again, so a changed key Secret
//! re-renders its apps at their next reconcile.

use std::sync::Arc;
use std::time::Duration;

use ferry_render::Keyring;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;

use super::cycle::Cycle;
use super::stop::{Stage, Stop};

/// Ferry's own default key Secret, in its home namespace: its keys open every app's SOPS files.
pub const DEFAULT_KEYS_SECRET: &str = "ferry-sops-keys";

/// The key ring of the app: its own Secret's keys, then the default Secret's.
pub(crate) async fn keyring(cy: &Cycle<'_>) -> Result<Arc<Keyring>, Stop> {
    let mut ring = Keyring::new();
    if let Some(decryption) = &cy.app.spec.decryption {
        if decryption.provider != "sops" {
            return Err(Stop::new(
                Stage::Render,
                "DecryptionInvalid",
                format!(
                    "spec.decryption.provider is {:?}; the only provider is \"sops\"",
                    decryption.provider
                ),
            )
            .hint("Set spec.decryption.provider: sops"));
        }
        if let Some(secret_ref) = &decryption.secret_ref {
            let secret = get(cy, &cy.id.namespace, &secret_ref.name).await?.ok_or_else(|| {
                Stop::new(
                    Stage::Render,
                    "DecryptionSecretMissing",
                    format!(
                        "spec.decryption.secretRef: Secret {}/{} does not exist",
                        cy.id.namespace, secret_ref.name
                    ),
                )
                .hint("Create it with the age identity in a key ending .agekey (or an OpenPGP key ending .asc)")
                .backoff(Duration::from_secs(10))
            })?;
            add_keys(&mut ring, &secret, &cy.id.namespace, &secret_ref.name)?;
        }
    }
    let home = cy.inner.config.home_namespace.clone();
    if let Some(secret) = get(cy, &home, DEFAULT_KEYS_SECRET).await? {
        add_keys(&mut ring, &secret, &home, DEFAULT_KEYS_SECRET)?;
    }
    Ok(Arc::new(ring))
}

async fn get(cy: &Cycle<'_>, namespace: &str, name: &str) -> Result<Option<Secret>, Stop> {
    let api: Api<Secret> = Api::namespaced(cy.inner.client.clone(), namespace);
    api.get_opt(name).await.map_err(|e| {
        Stop::new(
            Stage::Render,
            "DecryptionSecretUnreadable",
            format!("reading the decryption Secret {namespace}/{name}: {e}"),
        )
        .backoff(Duration::from_secs(5))
    })
}

/// Adds the `.agekey` and `.asc` values of a Secret, in key order.
fn add_keys(ring: &mut Keyring, secret: &Secret, namespace: &str, name: &str) -> Result<(), Stop> {
    let mut found = 0;
    for (key, value) in secret.data.iter().flatten() {
        let source = format!("Secret {namespace}/{name} key {key}");
        let text = String::from_utf8_lossy(&value.0);
        let added = if key.ends_with(".agekey") {
            ring.add_age(&text, &source)
        } else if key.ends_with(".asc") {
            ring.add_pgp(&text, &source)
        } else {
            continue;
        };
        added.map_err(|e| {
            Stop::new(Stage::Render, "DecryptionKeyInvalid", e.to_string())
                .hint("Fix the key in the Secret")
                .backoff(Duration::from_secs(10))
        })?;
        found += 1;
    }
    if found == 0 {
        return Err(Stop::new(
            Stage::Render,
            "DecryptionKeyInvalid",
            format!("Secret {namespace}/{name} has no key ending .agekey or .asc"),
        )
        .hint("Put the age identity under a key such as age.agekey")
        .backoff(Duration::from_secs(10)));
    }
    Ok(())
}
