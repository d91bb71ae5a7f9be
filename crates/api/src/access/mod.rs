//! Authentication and authorization of API requests.
//!
//! A request names its caller with `Authorization: Bearer TOKEN`, where the token is the
//! server's `--api-token` (the `admin` user, `role:admin`), a token made by `ferry token create`
//! (`token:NAME`, its role), or an OIDC ID token from the configured issuer (its `sub`, its
//! groups). [`Policy`] then says what the caller may do. Without a token the caller is
//! `anonymous`, which is `role:admin` on an open server (loopback `ferry up` without
//! `--api-token`) and refused (401) on any other.
//!
//! # Guarantees
//! - A token that is presented and not valid is 401 even on an open server: a wrong or expired
//!   token never falls back to a default that grants more.
//! - A policy that does not parse never replaces the one in force (see [`watch`]).

pub mod guard;
pub mod oidc;
pub mod policy;
pub mod tokens;
pub mod watch;

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use ferry_engine::audit::Actor;

pub use oidc::{Oidc, OidcConfig, OidcError};
pub use policy::{Policy, PolicyError, ROLE_ADMIN, ROLE_READONLY};
use tokens::TokenIndex;

/// Who is asking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// `admin`, `token:NAME`, an OIDC email or subject, or `anonymous`.
    pub user: String,
    /// Subjects other than the user that `g` lines may name: OIDC groups (and the OIDC `sub`
    /// when the user shown is the email).
    pub groups: Vec<String>,
    /// Roles the credential itself carries (the token's role, `role:admin` for the API token).
    pub roles: Vec<String>,
    /// `api-token`, `token`, `oidc` or `open`.
    pub via: &'static str,
}

impl Caller {
    /// Every subject the policy is asked about.
    pub fn subjects(&self) -> Vec<String> {
        let mut all = vec![self.user.clone()];
        all.extend(self.groups.iter().cloned());
        all.extend(self.roles.iter().cloned());
        all
    }

    /// The caller as the audit trail records it.
    pub fn actor(&self, address: Option<SocketAddr>) -> Actor {
        Actor {
            user: self.user.clone(),
            groups: self.groups.clone(),
            via: self.via.to_owned(),
            address: address.map(|a| a.ip().to_string()),
        }
    }
}

/// Why a request could not be authenticated (always 401).
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("this API requires authentication and the request carries no bearer token")]
    Missing,
    #[error(
        "the bearer token is not known (not the API token, not a token from `ferry token create`{oidc})"
    )]
    Unknown { oidc: &'static str },
    #[error("token {name} expired at {at}")]
    Expired { name: String, at: String },
    #[error("the OIDC token was refused: {0}")]
    Oidc(#[source] OidcError),
}

impl AuthError {
    pub fn hint(&self) -> String {
        match self {
            AuthError::Missing | AuthError::Unknown { .. } => "send `Authorization: Bearer <token>`: `ferry token create NAME --role ROLE` makes one, `ferry login URL --token-stdin` stores it for the CLI".into(),
            AuthError::Expired { name, .. } => format!("make a new token (`ferry token revoke {name}` then `ferry token create {name} --role ROLE`)"),
            AuthError::Oidc(_) => "log in again with your identity provider; the token must be for this server's audience and not expired".into(),
        }
    }
}

/// The authentication and authorization state. Cheap to clone.
#[derive(Clone)]
pub struct Access {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    /// Whether a request without a token is refused.
    pub required: bool,
    pub api_token: Option<Arc<str>>,
    pub tokens: RwLock<TokenIndex>,
    pub policy: RwLock<Arc<Policy>>,
    /// Why the last policy read was refused (the one in force is older), until one loads.
    pub policy_problem: RwLock<Option<String>>,
    pub oidc: Option<Oidc>,
    /// The address the server is bound to: on loopback, `Host` must name it.
    pub listen: Option<SocketAddr>,
}

impl Access {
    pub(crate) fn new(
        required: bool,
        api_token: Option<Arc<str>>,
        oidc: Option<OidcConfig>,
        listen: Option<SocketAddr>,
    ) -> Self {
        let inner = Inner {
            required,
            api_token,
            tokens: RwLock::default(),
            policy: RwLock::new(Arc::new(Policy::default())),
            policy_problem: RwLock::default(),
            oidc: oidc.map(Oidc::new),
            listen,
        };
        Self { inner: Arc::new(inner) }
    }

    /// Whether requests without a token are refused.
    pub fn required(&self) -> bool {
        self.inner.required
    }

    /// The policy in force.
    pub fn policy(&self) -> Arc<Policy> {
        self.inner.policy.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replaces the policy (the watch of `ferry-rbac-cm` calls this with parsed policies only).
    pub fn set_policy(&self, policy: Policy) {
        *self.inner.policy.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(policy);
        *self.inner.policy_problem.write().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Records why a policy was refused; the one in force stays.
    pub fn refuse_policy(&self, problem: String) {
        *self.inner.policy_problem.write().unwrap_or_else(|p| p.into_inner()) = Some(problem);
    }

    /// Why the latest policy in `ferry-rbac-cm` is not in force, if it is not.
    pub fn policy_problem(&self) -> Option<String> {
        self.inner.policy_problem.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replaces the known tokens.
    pub fn set_tokens(&self, tokens: TokenIndex) {
        *self.inner.tokens.write().unwrap_or_else(|p| p.into_inner()) = tokens;
    }

    /// Whether `caller` may do `action` on `resource` `object` under the policy in force.
    pub fn allows(&self, caller: &Caller, resource: &str, action: &str, object: &str) -> bool {
        self.policy().allows(&caller.subjects(), resource, action, object)
    }

    /// The caller a bearer token (or its absence) stands for.
    pub async fn authenticate(&self, bearer: Option<&str>) -> Result<Caller, AuthError> {
        let Some(token) = bearer.filter(|t| !t.is_empty()) else {
            if self.inner.required {
                return Err(AuthError::Missing);
            }
            return Ok(Caller {
                user: "anonymous".into(),
                groups: Vec::new(),
                roles: vec![ROLE_ADMIN.into()],
                via: "open",
            });
        };
        if let Some(expected) = &self.inner.api_token
            && token_matches(token, expected)
        {
            let roles = vec![ROLE_ADMIN.into()];
            return Ok(Caller {
                user: "admin".into(),
                groups: Vec::new(),
                roles,
                via: "api-token",
            });
        }
        if let Some(caller) = self.stored_token(token)? {
            return Ok(caller);
        }
        match &self.inner.oidc {
            Some(oidc) if looks_like_jwt(token) => {
                let policy = self.policy();
                let id = oidc.verify(token, policy.scopes()).await.map_err(AuthError::Oidc)?;
                let mut groups = id.groups;
                if id.display != id.subject {
                    groups.insert(0, id.subject);
                }
                Ok(Caller { user: id.display, groups, roles: Vec::new(), via: "oidc" })
            }
            Some(_) => Err(AuthError::Unknown { oidc: ", not an OIDC token" }),
            None => Err(AuthError::Unknown { oidc: "" }),
        }
    }

    fn stored_token(&self, token: &str) -> Result<Option<Caller>, AuthError> {
        let hash = tokens::hash(token);
        let index = self.inner.tokens.read().unwrap_or_else(|p| p.into_inner());
        let Some(found) = index.get(&hash) else { return Ok(None) };
        if found.expired(jiff::Timestamp::now()) {
            let at = found.expires_at.map(|t| t.to_string()).unwrap_or_default();
            return Err(AuthError::Expired { name: found.name.clone(), at });
        }
        Ok(Some(Caller {
            user: format!("token:{}", found.name),
            groups: Vec::new(),
            roles: vec![found.role.clone()],
            via: "token",
        }))
    }
}

fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3
}

/// Hashing both sides first makes the comparison constant time whatever the lengths.
pub(crate) fn token_matches(given: &str, expected: &str) -> bool {
    use sha2::{Digest, Sha256};
    use subtle::ConstantTimeEq;
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    bool::from(a.ct_eq(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_matches() {
        assert!(token_matches("s3cret", "s3cret"));
        assert!(!token_matches("s3cre", "s3cret"));
        assert!(!token_matches("s3cretX", "s3cret"));
        assert!(!token_matches("", "s3cret"));
    }

    #[tokio::test]
    async fn a_wrong_token_is_refused_even_on_an_open_server() {
        let open = Access::new(false, Some("right".into()), None, None);
        assert_eq!(open.authenticate(None).await.unwrap().user, "anonymous");
        assert!(matches!(open.authenticate(Some("wrong")).await, Err(AuthError::Unknown { .. })));
        assert_eq!(open.authenticate(Some("right")).await.unwrap().user, "admin");
        let closed = Access::new(true, None, None, None);
        assert!(matches!(closed.authenticate(None).await, Err(AuthError::Missing)));
    }
}
