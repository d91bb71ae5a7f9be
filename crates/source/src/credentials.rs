//! Credentials for reaching a repository. They are handed to `git` through the environment
//! (an askpass helper reads them) or through `GIT_SSH_COMMAND` options, never on a command line,
//! and every `Debug` here prints `***`.

use std::path::PathBuf;

/// A secret string. `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; call only where it is handed to the transport.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// How to authenticate to a repository.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Credentials {
    /// Anonymous access (or a password embedded in the URL).
    #[default]
    None,
    /// HTTP basic auth.
    Basic { username: String, password: Secret },
    /// An HTTP bearer-style token, sent as the basic-auth password (what GitHub, GitLab, Gitea
    /// and Bitbucket all accept).
    Token(Secret),
    /// An SSH private key. Host keys are accepted only from `known_hosts_path`: an unknown or
    /// changed host key fails closed.
    SshKey { private_key_path: PathBuf, known_hosts_path: PathBuf },
}

/// Everything a transport needs for one repository: the credentials, and the connection options
/// of Argo CD's repository Secrets.
///
/// # Guarantees
/// `insecure` is the only way host key checks (SSH) and certificate verification (HTTPS) are
/// skipped. The proxy reaches git through its environment (`http.proxy`), never its argv, and is
/// masked in errors (it may carry a user and password).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Access {
    pub credentials: Credentials,
    /// Skip SSH host key checks and TLS certificate verification (Argo CD's `insecure`).
    pub insecure: bool,
    /// An HTTP(S) proxy for this repository (Argo CD's `proxy`).
    pub proxy: Option<Secret>,
}

impl Access {
    pub fn new(credentials: Credentials) -> Self {
        Self { credentials, ..Self::default() }
    }
}

impl From<Credentials> for Access {
    fn from(credentials: Credentials) -> Self {
        Self::new(credentials)
    }
}

impl From<&Credentials> for Access {
    fn from(credentials: &Credentials) -> Self {
        Self::new(credentials.clone())
    }
}

impl From<&Access> for Access {
    fn from(access: &Access) -> Self {
        access.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_a_password_or_token() {
        let basic =
            Credentials::Basic { username: "alice".into(), password: Secret::new("hunter2") };
        let token = Credentials::Token(Secret::new("ghp_abcdef"));
        let shown = format!("{basic:?} {token:?} {basic:#?}");
        assert!(!shown.contains("hunter2") && !shown.contains("ghp_abcdef"), "{shown}");
        assert!(shown.contains("alice"));
    }
}
