//! OIDC bearer tokens: an ID token (a JWT) signed by the configured issuer, checked against the
//! keys its discovery document points to.
//!
//! # Guarantees
//! - Only asymmetric algorithms are accepted (RS*, PS*, ES*, EdDSA), and the key's own algorithm
//!   must match the token's: an `HS256` token "signed" with a public key, or `none`, is refused.
//! - `iss` must equal the configured issuer, `aud` must contain the configured audience, and
//!   `exp` must be in the future (30 s leeway for clock skew).
//! - Keys are cached; a token whose `kid` is unknown makes one refetch (key rotation), at most
//!   once per `min_refetch` so random kids cannot turn the API into a load on the issuer.

use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Mutex;

/// How an issuer is trusted.
#[derive(Clone, Debug)]
pub struct OidcConfig {
    /// The issuer URL, exactly as tokens carry it in `iss` (`https://dex.example.com`).
    pub issuer: String,
    /// The audience tokens must be for (the client id Ferry's users log in with).
    pub audience: String,
    /// The shortest time between two key fetches caused by unknown key ids.
    pub min_refetch: Duration,
    /// Time allowed for the discovery and key requests.
    pub timeout: Duration,
}

impl OidcConfig {
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into().trim_end_matches('/').to_owned(),
            audience: audience.into(),
            min_refetch: Duration::from_secs(10),
            timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("the token is not a JWT: {0}")]
    Malformed(String),
    #[error("the token's algorithm {0:?} is not accepted (only asymmetric signatures are)")]
    Algorithm(Algorithm),
    #[error("no key of issuer {issuer} has id {kid:?} (not even after fetching its keys again)")]
    UnknownKey { issuer: String, kid: String },
    #[error("the token is not valid: {0}")]
    Invalid(String),
    #[error("cannot fetch {what} from {url}: {message}")]
    Fetch { what: &'static str, url: String, message: String },
}

/// What Ferry reads of a verified token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcIdentity {
    pub subject: String,
    /// `email` when the token has one, else `sub`.
    pub display: String,
    /// Values of the claims named by the policy's `scopes` (e.g. `groups`).
    pub groups: Vec<String>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

struct Keys {
    set: JwkSet,
    fetched: Instant,
}

/// A verifier for one issuer.
pub struct Oidc {
    config: OidcConfig,
    http: reqwest::Client,
    keys: Mutex<Option<Keys>>,
}

impl Oidc {
    pub fn new(config: OidcConfig) -> Self {
        let http = reqwest::Client::builder().timeout(config.timeout).build().unwrap_or_default();
        Self { config, http, keys: Mutex::new(None) }
    }

    /// A verifier that starts with the key set `keys` (as if just fetched): tests and fuzzing
    /// verify tokens without an issuer to ask.
    pub fn with_keys(config: OidcConfig, keys: JwkSet) -> Self {
        let mut oidc = Self::new(config);
        oidc.keys = Mutex::new(Some(Keys { set: keys, fetched: Instant::now() }));
        oidc
    }

    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    /// Verifies `token`; `scopes` names the claims that hold groups.
    pub async fn verify(&self, token: &str, scopes: &[String]) -> Result<OidcIdentity, OidcError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| OidcError::Malformed(e.to_string()))?;
        if matches!(header.alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
            return Err(OidcError::Algorithm(header.alg));
        }
        let jwk = self.key(header.kid.as_deref().unwrap_or_default()).await?;
        if jwk.common.key_algorithm.is_some_and(|a| a.to_string() != format!("{:?}", header.alg)) {
            return Err(OidcError::Invalid(format!(
                "the token says {:?} but key {:?} is for another algorithm",
                header.alg,
                header.kid.unwrap_or_default()
            )));
        }
        let key = DecodingKey::from_jwk(&jwk).map_err(|e| OidcError::Invalid(e.to_string()))?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 30;
        let data = jsonwebtoken::decode::<Value>(token, &key, &validation)
            .map_err(|e| OidcError::Invalid(describe(&e)))?;
        Ok(identity(&data.claims, scopes))
    }

    /// The key with id `kid` (the only key when the token names none), fetching the key set
    /// when it is not known yet or the id is new.
    async fn key(&self, kid: &str) -> Result<Jwk, OidcError> {
        let mut keys = self.keys.lock().await;
        let find = |set: &JwkSet| -> Option<Jwk> {
            // Keys published for encryption never verify a signature.
            let signing: Vec<&Jwk> = set
                .keys
                .iter()
                .filter(|k| {
                    !matches!(
                        k.common.public_key_use,
                        Some(jsonwebtoken::jwk::PublicKeyUse::Encryption)
                    )
                })
                .collect();
            if kid.is_empty() && signing.len() == 1 {
                return signing.first().map(|k| (*k).clone());
            }
            signing.into_iter().find(|k| k.common.key_id.as_deref() == Some(kid)).cloned()
        };
        if let Some(k) = keys.as_ref().and_then(|k| find(&k.set)) {
            return Ok(k);
        }
        let may_fetch =
            keys.as_ref().is_none_or(|k| k.fetched.elapsed() >= self.config.min_refetch);
        if may_fetch {
            let set = self.fetch_keys().await?;
            *keys = Some(Keys { set, fetched: Instant::now() });
        }
        keys.as_ref().and_then(|k| find(&k.set)).ok_or_else(|| OidcError::UnknownKey {
            issuer: self.config.issuer.clone(),
            kid: kid.to_owned(),
        })
    }

    async fn fetch_keys(&self) -> Result<JwkSet, OidcError> {
        let url = format!("{}/.well-known/openid-configuration", self.config.issuer);
        let discovery: Discovery = self.get_json("the discovery document", &url).await?;
        if discovery.issuer.trim_end_matches('/') != self.config.issuer {
            return Err(OidcError::Fetch {
                what: "the discovery document",
                url,
                message: format!(
                    "it names issuer {:?}, not {:?}",
                    discovery.issuer, self.config.issuer
                ),
            });
        }
        self.get_json("the signing keys (JWKS)", &discovery.jwks_uri).await
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        what: &'static str,
        url: &str,
    ) -> Result<T, OidcError> {
        let fail = |message: String| OidcError::Fetch { what, url: url.to_owned(), message };
        let response = self.http.get(url).send().await.map_err(|e| fail(e.to_string()))?;
        if !response.status().is_success() {
            return Err(fail(format!("HTTP {}", response.status())));
        }
        response.json().await.map_err(|e| fail(e.to_string()))
    }
}

fn describe(e: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind as K;
    match e.kind() {
        K::ExpiredSignature => "it has expired".into(),
        K::InvalidAudience => "it is for another audience".into(),
        K::InvalidIssuer => "it is from another issuer".into(),
        K::InvalidSignature => "its signature does not match the issuer's key".into(),
        K::ImmatureSignature => "it is not valid yet (nbf)".into(),
        K::MissingRequiredClaim(c) => format!("it has no {c:?} claim"),
        _ => e.to_string(),
    }
}

fn identity(claims: &Value, scopes: &[String]) -> OidcIdentity {
    let text = |k: &str| claims.get(k).and_then(Value::as_str).map(str::to_owned);
    let subject = text("sub").unwrap_or_default();
    let display = text("email").unwrap_or_else(|| subject.clone());
    let mut groups = Vec::new();
    for scope in scopes {
        match claims.get(scope) {
            Some(Value::String(s)) => groups.push(s.clone()),
            Some(Value::Array(items)) => {
                groups.extend(items.iter().filter_map(Value::as_str).map(str::to_owned))
            }
            _ => {}
        }
    }
    OidcIdentity { subject, display, groups }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_come_from_the_scoped_claims_as_a_string_or_a_list() {
        let claims = serde_json::json!({
            "sub": "u1", "email": "a@example.com", "groups": ["dev", "ops"], "team": "blue"
        });
        let id = identity(&claims, &["groups".into(), "team".into()]);
        assert_eq!(id.display, "a@example.com");
        assert_eq!(id.groups, ["dev", "ops", "blue"]);
    }
}
