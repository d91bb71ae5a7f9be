//! The keys that open an app's SOPS files: the Secret `spec.decryption.secretRef` names, in the
//! Application's namespace (as Flux's kustomize-controller reads it), plus Ferry's default key
//! Secret [`DEFAULT_KEYS_SECRET`] in its home namespace when one exists. Keys live only in memory,
//! in a [`Keyring`] handed to render; errors name Secrets and keys, never a value. The engine's
//! render stage and the CLI's local renders (`ferry app diff`, `manifests`) share it.

use ferry_render::Keyring;
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::Api;

use crate::application::Decryption;

mod cache;
mod follow;
pub(crate) use cache::KeyCache;
pub(crate) use follow::follow;

/// Ferry's own default key Secret, in its home namespace: its keys open every app's SOPS files.
pub const DEFAULT_KEYS_SECRET: &str = "ferry-sops-keys";

/// Why an app's keys could not be gathered.
#[derive(Debug, thiserror::Error)]
pub enum DecryptionError {
    #[error("spec.decryption.provider is {0:?}; the only provider is \"sops\"")]
    Provider(String),
    #[error("spec.decryption.secretRef: Secret {namespace}/{name} does not exist")]
    SecretMissing { namespace: String, name: String },
    #[error("reading the decryption Secret {namespace}/{name}: {source}")]
    Unreadable {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error(transparent)]
    KeyInvalid(#[from] ferry_secrets::KeyError),
    #[error("Secret {namespace}/{name} has no key ending .agekey or .asc")]
    NoKeys { namespace: String, name: String },
}

impl DecryptionError {
    /// The reason a condition carries.
    pub fn reason(&self) -> &'static str {
        match self {
            DecryptionError::Provider(_) => "DecryptionInvalid",
            DecryptionError::SecretMissing { .. } => "DecryptionSecretMissing",
            DecryptionError::Unreadable { .. } => "DecryptionSecretUnreadable",
            DecryptionError::KeyInvalid(_) | DecryptionError::NoKeys { .. } => {
                "DecryptionKeyInvalid"
            }
        }
    }

    /// What to do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            DecryptionError::Provider(_) => "Set spec.decryption.provider: sops",
            DecryptionError::SecretMissing { .. } => {
                "Create it with the age identity in a key ending .agekey (or an OpenPGP key ending .asc)"
            }
            DecryptionError::Unreadable { .. } => {
                "Check Ferry's access to Secrets in that namespace"
            }
            DecryptionError::KeyInvalid(_) | DecryptionError::NoKeys { .. } => {
                "Put a valid age identity under a key such as age.agekey"
            }
        }
    }
}

/// The key ring of an app in `namespace`: its own Secret's keys, then the default Secret's in
/// `home`.
pub async fn keyring(
    client: &Client,
    namespace: &str,
    decryption: Option<&Decryption>,
    home: &str,
) -> Result<Keyring, DecryptionError> {
    let mut ring = Keyring::new();
    if let Some(decryption) = decryption {
        if decryption.provider != "sops" {
            return Err(DecryptionError::Provider(decryption.provider.clone()));
        }
        if let Some(secret_ref) = &decryption.secret_ref {
            let secret = get(client, namespace, &secret_ref.name).await?.ok_or_else(|| {
                DecryptionError::SecretMissing {
                    namespace: namespace.to_owned(),
                    name: secret_ref.name.clone(),
                }
            })?;
            add_keys(&mut ring, &secret, namespace, &secret_ref.name)?;
        }
    }
    if let Some(secret) = get(client, home, DEFAULT_KEYS_SECRET).await? {
        add_keys(&mut ring, &secret, home, DEFAULT_KEYS_SECRET)?;
    }
    Ok(ring)
}

async fn get(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<Option<Secret>, DecryptionError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    api.get_opt(name).await.map_err(|source| DecryptionError::Unreadable {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        source,
    })
}

/// Adds the `.agekey` and `.asc` values of a Secret, in key order.
fn add_keys(
    ring: &mut Keyring,
    secret: &Secret,
    namespace: &str,
    name: &str,
) -> Result<(), DecryptionError> {
    let mut found = 0;
    for (key, value) in secret.data.iter().flatten() {
        let source = format!("Secret {namespace}/{name} key {key}");
        let text = String::from_utf8_lossy(&value.0);
        if key.ends_with(".agekey") {
            ring.add_age(&text, &source)?;
        } else if key.ends_with(".asc") {
            ring.add_pgp(&text, &source)?;
        } else {
            continue;
        }
        found += 1;
    }
    if found == 0 {
        return Err(DecryptionError::NoKeys {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;

    fn secret(pairs: &[(&str, &str)]) -> Secret {
        let data =
            pairs.iter().map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec()))).collect();
        Secret { data: Some(data), ..Secret::default() }
    }

    #[test]
    fn agekey_entries_join_the_ring_and_other_keys_are_ignored() {
        let (identity, recipient) = ferry_secrets::generate_age();
        let mut ring = Keyring::new();
        let s = secret(&[("age.agekey", &identity), ("README", "not a key")]);
        add_keys(&mut ring, &s, "apps", "keys").expect("one age key");
        assert_eq!(ring.age_recipients(), vec![recipient]);
        assert_eq!(ring.sources(), ["Secret apps/keys key age.agekey"]);
    }

    #[test]
    fn a_secret_without_key_entries_or_with_a_broken_one_is_named_without_its_value() {
        let err = add_keys(&mut Keyring::new(), &secret(&[("token", "x")]), "apps", "keys")
            .expect_err("no keys");
        assert_eq!(err.to_string(), "Secret apps/keys has no key ending .agekey or .asc");
        let err = add_keys(
            &mut Keyring::new(),
            &secret(&[("a.agekey", "AGE-SECRET-KEY-1BROKEN")]),
            "apps",
            "keys",
        )
        .expect_err("broken");
        let text = err.to_string();
        assert!(
            text.contains("Secret apps/keys key a.agekey") && !text.contains("BROKEN"),
            "{text}"
        );
        assert_eq!(err.reason(), "DecryptionKeyInvalid");
    }
}
