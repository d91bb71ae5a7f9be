//! ServiceAccount tokens as signed JWTs: issued by the TokenRequest API with the claims the
//! real server puts in them (`kubernetes.io` namespace, serviceaccount name and uid), checked
//! for signature, expiry, issuer and audience. The ES256 key lives in the data directory
//! (`sa.key`) so tokens stay valid across restarts.

use std::path::Path;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::AuthSetupError;

/// The issuer and default audience of tokens, as on a real cluster's API server.
pub const ISSUER: &str = "https://kubernetes.default.svc";
pub const API_AUDIENCE: &str = "https://kubernetes.default.svc";
/// TokenRequest's default and minimum lifetimes (kube-apiserver: 1 hour, 10 minutes).
pub const DEFAULT_TTL_SECONDS: i64 = 3600;
pub const MIN_TTL_SECONDS: i64 = 600;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ObjectRef {
    pub name: String,
    pub uid: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KubernetesClaims {
    pub namespace: String,
    pub serviceaccount: ObjectRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<ObjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<ObjectRef>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub aud: Vec<String>,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub iss: String,
    pub jti: String,
    pub sub: String,
    #[serde(rename = "kubernetes.io")]
    pub kubernetes: KubernetesClaims,
}

/// Why a bearer JWT is refused (the 401 message; never contains the token).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the ServiceAccount token has expired; request a new one (kubectl create token)")]
    Expired,
    #[error("the ServiceAccount token is not signed by this cluster's ServiceAccount key")]
    Signature,
    #[error("the token's audiences do not include this API server's audience {API_AUDIENCE}")]
    Audience,
    #[error("the token was issued by another issuer than {ISSUER}")]
    Issuer,
    #[error("the token is signed with another algorithm than ES256")]
    Algorithm,
    #[error("the token is not yet valid")]
    NotYetValid,
    #[error("the bearer token is malformed: {0}")]
    Malformed(String),
    #[error("cannot sign the token: {0}")]
    Sign(String),
}

/// The ServiceAccount signing key.
pub struct ServiceAccountKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    kid: String,
}

impl std::fmt::Debug for ServiceAccountKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ServiceAccountKeys(kid {})", self.kid)
    }
}

impl ServiceAccountKeys {
    /// Loads `sa.key` from `dir`, generating it the first time (in memory without a dir).
    pub fn load_or_generate(dir: Option<&Path>) -> Result<ServiceAccountKeys, AuthSetupError> {
        let generate = || {
            rcgen::KeyPair::generate().map(|k| k.serialize_pem()).map_err(AuthSetupError::Generate)
        };
        let (pem, path) = match dir {
            Some(d) => {
                let path = d.join("sa.key");
                (super::read_or_create(&path, generate)?, path)
            }
            None => (generate()?, "sa.key".into()),
        };
        Self::from_pem(&pem).map_err(|why| AuthSetupError::Key { path, why })
    }

    /// From a PKCS#8 PEM ECDSA P-256 private key.
    pub fn from_pem(pem: &str) -> Result<ServiceAccountKeys, String> {
        let pair = rcgen::KeyPair::from_pem(pem).map_err(|e| e.to_string())?;
        let encoding = EncodingKey::from_ec_pem(pem.as_bytes()).map_err(|e| e.to_string())?;
        let decoding = DecodingKey::from_ec_pem(pair.public_key_pem().as_bytes())
            .map_err(|e| e.to_string())?;
        use base64::Engine;
        let raw = pair.public_key_raw();
        let kid: String = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(raw)
            .chars()
            .skip(2)
            .take(43)
            .collect();
        Ok(ServiceAccountKeys { encoding, decoding, kid })
    }

    /// A signed token for ServiceAccount `namespace/name` (uid `uid`), valid `ttl` seconds.
    pub fn issue(
        &self,
        kubernetes: KubernetesClaims,
        audiences: Vec<String>,
        ttl: i64,
    ) -> Result<(String, Claims), TokenError> {
        let now = jiff::Timestamp::now().as_second();
        let claims = Claims {
            aud: audiences,
            exp: now + ttl,
            iat: now,
            nbf: now,
            iss: ISSUER.to_string(),
            jti: uuid::Uuid::new_v4().to_string(),
            sub: format!(
                "system:serviceaccount:{}:{}",
                kubernetes.namespace, kubernetes.serviceaccount.name
            ),
            kubernetes,
        };
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &self.encoding)
            .map_err(|e| TokenError::Sign(e.to_string()))?;
        Ok((token, claims))
    }

    /// The claims of a token this cluster signed for the API server's audience.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let mut v = Validation::new(Algorithm::ES256);
        v.set_audience(&[API_AUDIENCE]);
        v.set_issuer(&[ISSUER]);
        v.validate_nbf = true;
        v.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &v).map(|d| d.claims).map_err(|e| {
            match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::InvalidSignature | ErrorKind::InvalidEcdsaKey => TokenError::Signature,
                ErrorKind::InvalidAudience => TokenError::Audience,
                ErrorKind::InvalidIssuer => TokenError::Issuer,
                ErrorKind::InvalidAlgorithm => TokenError::Algorithm,
                ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                other => TokenError::Malformed(format!("{other:?}")),
            }
        })
    }
}

/// Whether a bearer token looks like a JWT (three base64url parts).
pub fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3 && token.starts_with("eyJ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims_for(name: &str) -> KubernetesClaims {
        KubernetesClaims {
            namespace: "shop".into(),
            serviceaccount: ObjectRef { name: name.into(), uid: "u1".into() },
            pod: None,
            secret: None,
        }
    }

    #[test]
    fn an_issued_token_verifies_and_names_its_service_account() {
        let keys = ServiceAccountKeys::load_or_generate(None).expect("a key is generated");
        let (token, _) =
            keys.issue(claims_for("ci"), vec![API_AUDIENCE.into()], 600).expect("signed");
        let claims = keys.verify(&token).expect("valid");
        assert_eq!(claims.sub, "system:serviceaccount:shop:ci");
        assert_eq!(claims.kubernetes.serviceaccount.uid, "u1");
    }

    #[test]
    fn expired_foreign_and_other_audience_tokens_are_refused_for_their_reason() {
        let keys = ServiceAccountKeys::load_or_generate(None).expect("key");
        let other = ServiceAccountKeys::load_or_generate(None).expect("another key");
        let aud = vec![API_AUDIENCE.to_string()];
        let (expired, _) = keys.issue(claims_for("ci"), aud.clone(), -3600).expect("signed");
        assert_eq!(keys.verify(&expired).err(), Some(TokenError::Expired));
        let (foreign, _) = other.issue(claims_for("ci"), aud, 600).expect("signed");
        assert_eq!(keys.verify(&foreign).err(), Some(TokenError::Signature));
        let (vault, _) = keys.issue(claims_for("ci"), vec!["vault".into()], 600).expect("signed");
        assert_eq!(keys.verify(&vault).err(), Some(TokenError::Audience));
        assert!(matches!(keys.verify("eyJ.not.jwt"), Err(TokenError::Malformed(_))));
    }
}
