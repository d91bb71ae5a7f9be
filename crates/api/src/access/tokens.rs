//! API tokens (`ferry token create NAME --role ROLE`): one Secret per token in Ferry's namespace,
//! labelled `ferry.dev/secret-type: api-token`, holding the token's name, role, expiry and the
//! SHA-256 of the token, never the token itself.
//!
//! SHA-256 rather than a slow password hash: a token is 256 random bits, so there is nothing to
//! guess faster than the key space, and a fast hash lets each request find its token by hash.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use sha2::{Digest, Sha256};

/// The label that marks a token Secret (with value [`TOKEN_SECRET_TYPE`]).
pub const SECRET_TYPE_LABEL: &str = "ferry.dev/secret-type";
pub const TOKEN_SECRET_TYPE: &str = "api-token";
/// Every token starts with this, so a leaked one is easy to recognise (and to scan for).
pub const TOKEN_PREFIX: &str = "ferry_";

const KEY_NAME: &str = "name";
const KEY_ROLE: &str = "role";
const KEY_HASH: &str = "tokenHash";
const KEY_EXPIRES: &str = "expiresAt";
const KEY_CREATED: &str = "createdAt";

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("token Secret {secret}: key {key} is missing or not UTF-8")]
    MissingKey { secret: String, key: &'static str },
    #[error("token Secret {secret}: {key} {value:?} is not an RFC 3339 time")]
    BadTime { secret: String, key: &'static str, value: String },
    #[error(
        "token name {name:?} is not valid: use lower-case letters, digits and '-' (at most 50)"
    )]
    BadName { name: String },
    #[error("cannot draw random bytes for a token: {0}")]
    Random(String),
}

/// One token as its Secret describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiToken {
    pub name: String,
    pub role: String,
    /// Hex SHA-256 of the token.
    pub hash: String,
    pub expires_at: Option<jiff::Timestamp>,
    pub created_at: Option<jiff::Timestamp>,
}

impl ApiToken {
    pub fn expired(&self, now: jiff::Timestamp) -> bool {
        self.expires_at.is_some_and(|t| t <= now)
    }
}

/// The Secret's name for token `name`.
pub fn secret_name(name: &str) -> String {
    format!("ferry-token-{name}")
}

/// Checks a token name: it becomes part of a Secret name.
pub fn check_name(name: &str) -> Result<(), TokenError> {
    let ok = !name.is_empty()
        && name.len() <= 50
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok { Ok(()) } else { Err(TokenError::BadName { name: name.to_owned() }) }
}

/// A new random token.
pub fn generate() -> Result<String, TokenError> {
    let random = ferry_engine::random_hex(32).map_err(|e| TokenError::Random(e.to_string()))?;
    Ok(format!("{TOKEN_PREFIX}{random}"))
}

pub fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The Secret that stores `token` (by hash) in `namespace`.
pub fn to_secret(token: &ApiToken, namespace: &str) -> Secret {
    let mut data = BTreeMap::from([
        (KEY_NAME.to_owned(), token.name.clone()),
        (KEY_ROLE.to_owned(), token.role.clone()),
        (KEY_HASH.to_owned(), token.hash.clone()),
    ]);
    if let Some(t) = token.expires_at {
        data.insert(KEY_EXPIRES.to_owned(), t.to_string());
    }
    if let Some(t) = token.created_at {
        data.insert(KEY_CREATED.to_owned(), t.to_string());
    }
    let mut secret =
        Secret { string_data: Some(data), type_: Some("Opaque".into()), ..Default::default() };
    secret.metadata.name = Some(secret_name(&token.name));
    secret.metadata.namespace = Some(namespace.to_owned());
    secret.metadata.labels =
        Some(BTreeMap::from([(SECRET_TYPE_LABEL.to_owned(), TOKEN_SECRET_TYPE.to_owned())]));
    secret
}

/// Reads a token Secret; errors name the Secret and the key, never a value but a time's.
pub fn from_secret(secret: &Secret) -> Result<ApiToken, TokenError> {
    let name = secret.name_any();
    let text = |key: &'static str| -> Option<String> {
        let data = secret.data.as_ref()?.get(key)?;
        String::from_utf8(data.0.clone()).ok()
    };
    let required = |key: &'static str| {
        text(key)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| TokenError::MissingKey { secret: name.clone(), key })
    };
    let time = |key: &'static str| -> Result<Option<jiff::Timestamp>, TokenError> {
        match text(key).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| TokenError::BadTime {
                secret: name.clone(),
                key,
                value: v,
            }),
        }
    };
    Ok(ApiToken {
        name: required(KEY_NAME)?,
        role: required(KEY_ROLE)?,
        hash: required(KEY_HASH)?.to_ascii_lowercase(),
        expires_at: time(KEY_EXPIRES)?,
        created_at: time(KEY_CREATED)?,
    })
}

/// The tokens by hash, as the watch last saw them.
pub type TokenIndex = HashMap<String, ApiToken>;

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;

    fn stored(secret: Secret) -> Secret {
        // What the API server returns: stringData folded into data.
        let data = secret
            .string_data
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, ByteString(v.into_bytes())))
            .collect();
        Secret { data: Some(data), string_data: None, ..secret }
    }

    #[test]
    fn a_token_secret_holds_the_hash_and_reads_back() {
        let token = generate().unwrap();
        assert!(token.starts_with(TOKEN_PREFIX) && token.len() == TOKEN_PREFIX.len() + 64);
        let t = ApiToken {
            name: "ci".into(),
            role: "role:readonly".into(),
            hash: hash(&token),
            expires_at: Some("2030-01-01T00:00:00Z".parse().unwrap()),
            created_at: None,
        };
        let secret = stored(to_secret(&t, "ferry"));
        let yaml = serde_json::to_string(&secret).unwrap();
        assert!(!yaml.contains(&token), "the Secret must not hold the token");
        assert_eq!(from_secret(&secret).unwrap(), t);
        assert!(t.expired("2031-01-01T00:00:00Z".parse().unwrap()));
    }

    #[test]
    fn a_broken_token_secret_names_the_secret_and_the_key() {
        let mut secret = stored(to_secret(
            &ApiToken {
                name: "ci".into(),
                role: "r".into(),
                hash: "ab".into(),
                expires_at: None,
                created_at: None,
            },
            "ferry",
        ));
        secret.data.as_mut().unwrap().remove(KEY_ROLE);
        let err = from_secret(&secret).unwrap_err().to_string();
        assert!(err.contains("ferry-token-ci") && err.contains("role"), "{err}");
    }

    #[test]
    fn token_names_are_dns_labels() {
        assert!(check_name("ci-deploy-2").is_ok());
        for bad in ["", "CI", "a_b", "-x", "x-", &"a".repeat(51)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
