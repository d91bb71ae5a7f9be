//! Authentication in kube-apiserver's order: the client certificate, then the bearer token
//! (static tokens, then ServiceAccount JWTs); no credentials at all is `system:anonymous`.
//! Credentials that are present but wrong are a 401, never anonymous.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;

use super::UserInfo;
use super::cert::ClientCa;
use super::jwt::{self, ServiceAccountKeys};
use super::static_tokens::StaticTokens;

/// The outcome of checking a connection's client certificate, attached to each of its requests.
#[derive(Debug, Clone)]
pub struct PeerIdentity(pub Arc<Result<UserInfo, String>>);

/// Everything requests authenticate against.
pub struct Authenticator {
    pub ca: ClientCa,
    pub tokens: StaticTokens,
    pub service_accounts: ServiceAccountKeys,
    verified: Mutex<HashMap<String, Verified>>,
}

impl std::fmt::Debug for Authenticator {
    /// Without the cache, whose keys are tokens.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("ca", &self.ca)
            .field("tokens", &self.tokens)
            .field("service_accounts", &self.service_accounts)
            .finish_non_exhaustive()
    }
}

/// How long a verified ServiceAccount token is remembered, like kube-apiserver's cached token
/// authenticator: an ECDSA check costs tens of microseconds, more than the rest of a GET.
/// Expiry and the ServiceAccount's existence are still checked on every request.
const VERIFIED_TTL: Duration = Duration::from_secs(10);
/// The cache is dropped whole when it reaches this size (tokens are few in a test bed).
const VERIFIED_MAX: usize = 4096;

#[derive(Debug)]
struct Verified {
    claims: Arc<jwt::Claims>,
    until: Instant,
}

/// Looks up the uid of a `(plural, namespace, name)` object if it exists (`serviceaccounts`, and
/// `secrets` for the tokens of ServiceAccount token Secrets).
pub type SaLookup<'a> = &'a dyn Fn(&str, &str, &str) -> Option<String>;

impl Authenticator {
    pub fn new(
        ca: ClientCa,
        tokens: StaticTokens,
        service_accounts: ServiceAccountKeys,
    ) -> Authenticator {
        Authenticator { ca, tokens, service_accounts, verified: Mutex::default() }
    }

    /// The claims of a ServiceAccount token: remembered, or verified now.
    fn claims(&self, token: &str) -> Result<Arc<jwt::Claims>, String> {
        let now = Instant::now();
        let mut cache = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = cache.get(token)
            && v.until > now
            && v.claims.exp > jiff::Timestamp::now().as_second()
        {
            return Ok(v.claims.clone());
        }
        drop(cache);
        let claims = Arc::new(self.service_accounts.verify(token).map_err(|e| e.to_string())?);
        cache = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= VERIFIED_MAX {
            cache.clear();
        }
        cache.insert(
            token.to_string(),
            Verified { claims: claims.clone(), until: now + VERIFIED_TTL },
        );
        Ok(claims)
    }

    /// The user of a request, or the 401 message naming what is wrong with its credentials.
    pub fn authenticate(
        &self,
        headers: &HeaderMap,
        peer: Option<&PeerIdentity>,
        service_account_uid: SaLookup<'_>,
    ) -> Result<UserInfo, String> {
        let mut errors = Vec::new();
        if let Some(PeerIdentity(result)) = peer {
            match result.as_ref() {
                Ok(user) => return Ok(user.clone()),
                Err(e) => errors.push(e.clone()),
            }
        }
        if let Some(value) = headers.get("authorization") {
            match bearer(value) {
                Some(token) => match self.token_user(token, service_account_uid) {
                    Ok(user) => return Ok(user),
                    Err(e) => errors.push(e),
                },
                None => errors.push(
                    "the Authorization header is not a bearer token (Authorization: Bearer TOKEN)"
                        .to_string(),
                ),
            }
        }
        if errors.is_empty() { Ok(UserInfo::anonymous()) } else { Err(errors.join("; ")) }
    }

    fn token_user(&self, token: &str, sa_uid: SaLookup<'_>) -> Result<UserInfo, String> {
        if let Some(user) = self.tokens.get(token) {
            return Ok(user.clone());
        }
        if !jwt::looks_like_jwt(token) {
            return Err("the bearer token is neither a static token of this cluster nor a ServiceAccount token".into());
        }
        let claims = self.claims(token)?;
        let k = &claims.kubernetes;
        let sa = &k.serviceaccount;
        match sa_uid("serviceaccounts", &k.namespace, &sa.name) {
            Some(uid) if uid == sa.uid => {}
            Some(_) => {
                return Err(format!(
                    "the ServiceAccount {}/{} was recreated since the token was issued (its uid changed); request a new token",
                    k.namespace, sa.name
                ));
            }
            None => {
                return Err(format!(
                    "the ServiceAccount {}/{} the token was issued for no longer exists",
                    k.namespace, sa.name
                ));
            }
        }
        if let Some(secret) = &k.secret
            && sa_uid("secrets", &k.namespace, &secret.name).as_deref() != Some(secret.uid.as_str())
        {
            return Err(format!(
                "the token Secret {}/{} this token came from was deleted; create a new one (or `ferry cluster add --upsert`)",
                k.namespace, secret.name
            ));
        }
        let mut user = UserInfo::service_account(&k.namespace, &sa.name, &sa.uid);
        let mut extra = BTreeMap::new();
        extra.insert(
            "authentication.kubernetes.io/credential-id".to_string(),
            vec![format!("JTI={}", claims.jti)],
        );
        user.extra = extra;
        Ok(user)
    }
}

fn bearer(value: &axum::http::HeaderValue) -> Option<&str> {
    let text = value.to_str().ok()?;
    let (scheme, token) = text.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}
