//! One repository Secret, read by Argo CD's rules (declarative setup: `repository` and
//! `repo-creds` Secrets). Pure: a `k8s_openapi` Secret in, a validated [`RepoSecret`] or an error
//! naming the Secret and the key out. No error ever carries a value.

use std::collections::BTreeMap;

use ferry_source::Secret as Hidden;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;

use crate::settings::SecretType;

/// Whether a Secret names one repository or is a template for a URL prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `secret-type: repository`: its `url` is one repository.
    Repository,
    /// `secret-type: repo-creds`: its `url` is a prefix of the repositories it serves.
    Template,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Repository => "git",
            Kind::Template => "creds-template",
        }
    }
}

/// A GitHub App installation (`githubAppID`, `githubAppInstallationID`, `githubAppPrivateKey`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GithubApp {
    pub app_id: u64,
    pub installation_id: u64,
    pub private_key: Hidden,
    /// `https://api.github.com`, or `githubAppEnterpriseBaseUrl`.
    pub base_url: String,
}

/// How a Secret authenticates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Auth {
    /// No credentials in this Secret (a matching template may supply them).
    None,
    /// HTTP basic auth; without `username`, the password is a token.
    Basic {
        username: Option<String>,
        password: Hidden,
    },
    /// `sshPrivateKey`.
    Ssh {
        private_key: Hidden,
    },
    GithubApp(GithubApp),
}

/// A validated repository Secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoSecret {
    /// `namespace/name`, how messages name it.
    pub name: String,
    pub kind: Kind,
    pub url: String,
    pub auth: Auth,
    pub insecure: bool,
    pub proxy: Option<Hidden>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error(
        "Secret {secret} has no `url` key, so Ferry cannot tell which repositories it is for; add the repository URL (or URL prefix for repo-creds) under `url`"
    )]
    MissingUrl { secret: String },
    #[error(
        "Secret {secret}: key `{key}` is not valid UTF-8; write it again (e.g. with kubectl create secret --from-literal)"
    )]
    NotText { secret: String, key: &'static str },
    #[error("Secret {secret}: key `{key}` {problem}; fix the Secret")]
    Invalid { secret: String, key: &'static str, problem: &'static str },
    #[error(
        "Secret {secret} sets both `{first}` and `{second}`; keep only one way to authenticate"
    )]
    Conflict { secret: String, first: &'static str, second: &'static str },
}

impl SecretError {
    /// The Secret the error is about.
    pub fn secret(&self) -> &str {
        match self {
            SecretError::MissingUrl { secret }
            | SecretError::NotText { secret, .. }
            | SecretError::Invalid { secret, .. }
            | SecretError::Conflict { secret, .. } => secret,
        }
    }
}

/// The values of a Secret: `data`, with `stringData` (not yet merged by a server) on top.
struct Fields<'a> {
    secret: &'a str,
    data: BTreeMap<&'a str, &'a [u8]>,
}

impl<'a> Fields<'a> {
    fn of(name: &'a str, s: &'a Secret) -> Self {
        let mut data: BTreeMap<&str, &[u8]> = BTreeMap::new();
        for (k, v) in s.data.iter().flatten() {
            data.insert(k, &v.0);
        }
        for (k, v) in s.string_data.iter().flatten() {
            data.insert(k, v.as_bytes());
        }
        Self { secret: name, data }
    }

    /// A key's text, trimmed; empty counts as absent (Argo CD reads it so too).
    fn text(&self, key: &'static str) -> Result<Option<String>, SecretError> {
        let Some(raw) = self.data.get(key) else { return Ok(None) };
        let text = std::str::from_utf8(raw)
            .map_err(|_| SecretError::NotText { secret: self.secret.to_owned(), key })?;
        let text = text.trim();
        Ok((!text.is_empty()).then(|| text.to_owned()))
    }

    fn invalid(&self, key: &'static str, problem: &'static str) -> SecretError {
        SecretError::Invalid { secret: self.secret.to_owned(), key, problem }
    }

    fn flag(&self, key: &'static str) -> Result<bool, SecretError> {
        match self.text(key)?.map(|t| t.to_ascii_lowercase()).as_deref() {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(_) => Err(self.invalid(key, "is neither \"true\" nor \"false\"")),
        }
    }

    fn number(&self, key: &'static str) -> Result<Option<u64>, SecretError> {
        self.text(key)?
            .map(|t| t.parse().map_err(|_| self.invalid(key, "is not a number")))
            .transpose()
    }
}

/// The URL a Secret declares, if it can be read (to tell whom a broken Secret concerns).
pub fn declared_url(s: &Secret) -> Option<String> {
    Fields::of("", s).text("url").ok().flatten()
}

/// `namespace/name` of a Secret.
pub fn qualified_name(s: &Secret) -> String {
    format!("{}/{}", s.namespace().unwrap_or_default(), s.name_any())
}

impl RepoSecret {
    /// Reads a `repository` or `repo-creds` Secret (other types are `None`).
    pub fn parse(s: &Secret) -> Option<Result<Self, SecretError>> {
        let kind = match SecretType::of(s)? {
            SecretType::Repository => Kind::Repository,
            SecretType::RepoCreds => Kind::Template,
            SecretType::Cluster => return None,
        };
        let name = qualified_name(s);
        Some(Self::read(&Fields::of(&name, s), kind))
    }

    fn read(f: &Fields<'_>, kind: Kind) -> Result<Self, SecretError> {
        let url =
            f.text("url")?.ok_or_else(|| SecretError::MissingUrl { secret: f.secret.into() })?;
        Ok(Self {
            name: f.secret.to_owned(),
            kind,
            url,
            auth: auth(f)?,
            insecure: f.flag("insecure")?,
            proxy: f.text("proxy")?.map(Hidden::new),
        })
    }
}

fn auth(f: &Fields<'_>) -> Result<Auth, SecretError> {
    let username = f.text("username")?;
    let password = f.text("password")?;
    let key = f.text("sshPrivateKey")?;
    let app_id = f.number("githubAppID")?;
    let conflict = |first, second| SecretError::Conflict { secret: f.secret.into(), first, second };
    match (&password, &key, app_id) {
        (Some(_), Some(_), _) => return Err(conflict("password", "sshPrivateKey")),
        (Some(_), _, Some(_)) => return Err(conflict("password", "githubAppID")),
        (_, Some(_), Some(_)) => return Err(conflict("sshPrivateKey", "githubAppID")),
        _ => {}
    }
    if let Some(key) = key {
        if !key.contains("PRIVATE KEY") {
            return Err(f.invalid("sshPrivateKey", "is not a PEM or OpenSSH private key"));
        }
        // ssh refuses a key file without its final newline.
        return Ok(Auth::Ssh { private_key: Hidden::new(format!("{key}\n")) });
    }
    if let Some(app_id) = app_id {
        return github_app(f, app_id);
    }
    match (username, password) {
        (username, Some(password)) => Ok(Auth::Basic { username, password: Hidden::new(password) }),
        (Some(_), None) => Err(f.invalid("password", "is missing while `username` is set")),
        (None, None) => Ok(Auth::None),
    }
}

fn github_app(f: &Fields<'_>, app_id: u64) -> Result<Auth, SecretError> {
    let installation_id = f.number("githubAppInstallationID")?.ok_or_else(|| {
        f.invalid("githubAppInstallationID", "is missing while `githubAppID` is set")
    })?;
    let private_key = f
        .text("githubAppPrivateKey")?
        .ok_or_else(|| f.invalid("githubAppPrivateKey", "is missing while `githubAppID` is set"))?;
    if !private_key.contains("PRIVATE KEY") {
        return Err(f.invalid("githubAppPrivateKey", "is not a PEM private key"));
    }
    let base_url = f
        .text("githubAppEnterpriseBaseUrl")?
        .unwrap_or_else(|| "https://api.github.com".to_owned())
        .trim_end_matches('/')
        .to_owned();
    Ok(Auth::GithubApp(GithubApp {
        app_id,
        installation_id,
        private_key: Hidden::new(private_key),
        base_url,
    }))
}

#[cfg(test)]
mod tests;
