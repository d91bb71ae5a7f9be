//! Authenticating deliveries: HMAC-SHA256 signatures or a shared token, compared in constant time.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{Headers, Provider, WebhookConfig, WebhookError};
use crate::credentials::Secret;

pub(super) fn authenticate(
    provider: Provider,
    headers: &Headers<'_>,
    body: &[u8],
    config: &WebhookConfig,
) -> Result<(), WebhookError> {
    let secret = match provider {
        Provider::GitHub => &config.github_secret,
        Provider::GitLab => &config.gitlab_token,
        Provider::Gitea | Provider::Gogs => &config.gitea_secret,
        Provider::BitbucketCloud | Provider::BitbucketServer => &config.bitbucket_secret,
        Provider::Generic => &config.generic_secret,
    };
    let secret = secret.as_ref().ok_or(WebhookError::NotConfigured { provider })?;
    let (header, prefixed) = match provider {
        Provider::GitHub => ("x-hub-signature-256", true),
        Provider::GitLab => return token(provider, headers, secret),
        Provider::Gitea => ("x-gitea-signature", false),
        Provider::Gogs => ("x-gogs-signature", false),
        Provider::BitbucketCloud | Provider::BitbucketServer => ("x-hub-signature", true),
        Provider::Generic => ("x-ferry-signature", true),
    };
    let value = headers.get(header).ok_or(WebhookError::MissingSignature { provider, header })?;
    let hex_sig = if prefixed {
        value.strip_prefix("sha256=").ok_or(WebhookError::BadSignature { provider })?
    } else {
        value
    };
    let signature = hex::decode(hex_sig).map_err(|_| WebhookError::BadSignature { provider })?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&signature).map_err(|_| WebhookError::BadSignature { provider })
}

/// GitLab sends the shared token itself. Hashing both sides first makes the comparison constant
/// time regardless of length.
fn token(provider: Provider, headers: &Headers<'_>, secret: &Secret) -> Result<(), WebhookError> {
    let header = "x-gitlab-token";
    let given = headers.get(header).ok_or(WebhookError::MissingSignature { provider, header })?;
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(secret.expose().as_bytes());
    if bool::from(a.ct_eq(&b)) { Ok(()) } else { Err(WebhookError::BadSignature { provider }) }
}

/// `sha256=<hex>` HMAC of `body` (for tests and for senders of the generic form).
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}
