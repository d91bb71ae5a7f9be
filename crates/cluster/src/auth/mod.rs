//! Who is asking and what they may do, as kube-apiserver 1.32 decides it.
//!
//! - [`authn`]: client certificates signed by the cluster CA (CN = user, O = groups), bearer
//!   tokens (the static token file, ServiceAccount JWTs from the TokenRequest API), anonymous
//!   requests as `system:anonymous`; [`impersonate`] then applies `Impersonate-*` headers.
//! - [`rbac`]: Role/ClusterRole/RoleBinding/ClusterRoleBinding evaluation over an index kept
//!   up to date by the store (no scan per request), the bootstrap roles and the aggregation of
//!   `aggregationRule` ClusterRoles.
//! - [`attributes`]: what a request does in RBAC terms (verb, group, resource, namespace …).
//! - [`reviews`]: TokenRequest, SelfSubjectAccessReview, SubjectAccessReview,
//!   SelfSubjectReview.
//!
//! The authenticated [`UserInfo`] travels in the request's extensions (after impersonation),
//! so later stages (admission webhooks) read it with `Extension<UserInfo>`.

pub mod attributes;
pub mod authn;
pub mod cert;
pub mod impersonate;
pub mod jwt;
pub mod namespace_defaults;
pub mod rbac;
pub mod reviews;
pub mod static_tokens;
pub mod token_controller;

use std::collections::BTreeMap;
use std::path::Path;

pub use attributes::Attributes;
pub use authn::Authenticator;
pub use rbac::Authorizer;

/// `system:masters`: every request allowed without consulting RBAC, as on a real cluster.
pub const MASTERS: &str = "system:masters";
pub const AUTHENTICATED: &str = "system:authenticated";
pub const UNAUTHENTICATED: &str = "system:unauthenticated";
pub const ANONYMOUS: &str = "system:anonymous";
/// The user of the admin client certificate and of the static admin token.
pub const ADMIN_USER: &str = "kubernetes-admin";

/// The authenticated identity of a request (`authentication.k8s.io/v1 UserInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserInfo {
    pub username: String,
    pub uid: String,
    pub groups: Vec<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    pub fn anonymous() -> UserInfo {
        UserInfo {
            username: ANONYMOUS.to_string(),
            groups: vec![UNAUTHENTICATED.to_string()],
            ..UserInfo::default()
        }
    }

    /// The user a ServiceAccount authenticates as, with the groups the real server gives it.
    pub fn service_account(namespace: &str, name: &str, uid: &str) -> UserInfo {
        UserInfo {
            username: format!("system:serviceaccount:{namespace}:{name}"),
            uid: uid.to_string(),
            groups: vec![
                "system:serviceaccounts".to_string(),
                format!("system:serviceaccounts:{namespace}"),
                AUTHENTICATED.to_string(),
            ],
            extra: BTreeMap::new(),
        }
    }

    /// `(namespace, name)` when the username is a ServiceAccount's.
    pub fn service_account_parts(username: &str) -> Option<(&str, &str)> {
        let rest = username.strip_prefix("system:serviceaccount:")?;
        let (ns, name) = rest.split_once(':')?;
        (!ns.is_empty() && !name.is_empty() && !name.contains(':')).then_some((ns, name))
    }

    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }

    /// Adds `system:authenticated` unless present (every authenticated user has it).
    pub fn with_authenticated(mut self) -> UserInfo {
        if !self.in_group(AUTHENTICATED) {
            self.groups.push(AUTHENTICATED.to_string());
        }
        self
    }

    /// The `authentication.k8s.io/v1 UserInfo` JSON form.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({"username": self.username, "groups": self.groups});
        if !self.uid.is_empty() {
            v["uid"] = serde_json::json!(self.uid);
        }
        if !self.extra.is_empty() {
            v["extra"] = serde_json::json!(self.extra);
        }
        v
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthSetupError {
    #[error("cannot read or write {path}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the ServiceAccount signing key {path} is not usable: {why}")]
    Key { path: std::path::PathBuf, why: String },
    #[error("cannot generate the ServiceAccount signing key")]
    Generate(#[source] rcgen::Error),
    #[error("the token file {path} is invalid at line {line}: {why}")]
    TokenFile { path: std::path::PathBuf, line: usize, why: String },
    #[error("the cluster CA certificate is not usable: {0}")]
    Ca(String),
}

/// Reads `path` or creates it with `make()` (keys and files kept in the data directory).
pub(crate) fn read_or_create(
    path: &Path,
    make: impl FnOnce() -> Result<String, AuthSetupError>,
) -> Result<String, AuthSetupError> {
    let io = |source| AuthSetupError::Io { path: path.to_path_buf(), source };
    if let Ok(text) = std::fs::read_to_string(path)
        && !text.trim().is_empty()
    {
        crate::private::narrow_file(path).map_err(io)?;
        return Ok(text);
    }
    let text = make()?;
    crate::private::write(path, &text).map_err(io)?;
    Ok(text)
}

/// The authentication and authorization state of a running cluster.
#[derive(Debug)]
pub struct Auth {
    pub authn: Authenticator,
    pub authz: std::sync::Arc<Authorizer>,
    /// The cluster CA (PEM), published in every namespace's `kube-root-ca.crt` ConfigMap.
    pub ca_pem: String,
}
