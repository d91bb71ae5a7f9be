//! Repository URLs: parsed once, normalised, and printed without secrets.
//!
//! Accepted forms: `https://` / `http://` (optionally with `user[:password]@`), `ssh://`,
//! scp-like `user@host:path`, `git://`, `file://`, and local paths (absolute or relative).
//! A password embedded in the URL is taken out of the URL at parse time and kept as a
//! [`Secret`]; it is never passed to `git` on a command line and never printed.

use std::path::{Path, PathBuf};

use crate::credentials::Secret;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UrlError {
    #[error("repository URL is empty")]
    Empty,
    #[error(
        "repository URL {url:?}: unsupported scheme {scheme:?} (use https, http, ssh, git or file)"
    )]
    UnsupportedScheme { url: String, scheme: String },
    #[error("repository URL {url:?}: missing or invalid host")]
    MissingHost { url: String },
    #[error("repository URL {url:?}: missing repository path")]
    MissingPath { url: String },
    #[error("repository URL {url:?}: invalid port {port:?}")]
    InvalidPort { url: String, port: String },
    #[error("repository URL {url:?}: contains control characters or whitespace")]
    InvalidCharacters { url: String },
    #[error("repository path {path:?} cannot be made absolute: {message}")]
    LocalPath { path: String, message: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scheme {
    Https,
    Http,
    Ssh,
    Git,
    File,
}

impl Scheme {
    fn as_str(self) -> &'static str {
        match self {
            Scheme::Https => "https",
            Scheme::Http => "http",
            Scheme::Ssh => "ssh",
            Scheme::Git => "git",
            Scheme::File => "file",
        }
    }
}

/// A parsed repository URL.
///
/// # Guarantees
/// `Display` and `Debug` never show a password. [`RepoUrl::key`] is the same for the https, ssh and
/// scp-like spellings of one repository, which is what webhook payloads are matched on.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RepoUrl {
    scheme: Scheme,
    user: Option<String>,
    password: Option<Secret>,
    host: Option<String>,
    port: Option<u16>,
    /// For network schemes: the path after the host, starting with `/` (scp-like relative paths
    /// keep no leading `/`). For files: the absolute path.
    path: String,
    /// Written as `user@host:path`; kept so git sees the path exactly as the user meant it.
    scp_like: bool,
}

impl RepoUrl {
    pub fn parse(raw: &str) -> Result<Self, UrlError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(UrlError::Empty);
        }
        if raw.chars().any(|c| c.is_control() || c == ' ') {
            return Err(UrlError::InvalidCharacters { url: mask_credentials(raw) });
        }
        if let Some((scheme, rest)) = raw.split_once("://") {
            let scheme = match scheme.to_ascii_lowercase().as_str() {
                "https" => Scheme::Https,
                "http" => Scheme::Http,
                "ssh" | "git+ssh" | "ssh+git" => Scheme::Ssh,
                "git" => Scheme::Git,
                "file" => Scheme::File,
                other => {
                    return Err(UrlError::UnsupportedScheme {
                        url: mask_credentials(raw),
                        scheme: other.to_owned(),
                    });
                }
            };
            if scheme == Scheme::File {
                let path = rest.strip_prefix("localhost").unwrap_or(rest);
                return Self::local(Path::new(path));
            }
            return Self::network(raw, scheme, rest);
        }
        // scp-like: `[user@]host:path`, where the part before `:` has no `/` (git's own rule).
        if let Some((before, path)) = raw.split_once(':')
            && !before.contains('/')
            && !before.is_empty()
            && !looks_like_windows_drive(before)
        {
            let (user, host) = match before.rsplit_once('@') {
                Some((u, h)) => (Some(u.to_owned()), h),
                None => (None, before),
            };
            if host.is_empty() || host.starts_with('-') {
                return Err(UrlError::MissingHost { url: mask_credentials(raw) });
            }
            if path.is_empty() {
                return Err(UrlError::MissingPath { url: mask_credentials(raw) });
            }
            return Ok(Self {
                scheme: Scheme::Ssh,
                user,
                password: None,
                host: Some(host.to_ascii_lowercase()),
                port: None,
                path: path.to_owned(),
                scp_like: true,
            });
        }
        Self::local(Path::new(raw))
    }

    fn network(raw: &str, scheme: Scheme, rest: &str) -> Result<Self, UrlError> {
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (user, password) = match userinfo {
            Some(info) => match info.split_once(':') {
                Some((u, p)) => (Some(percent_decode(u)), Some(Secret::new(percent_decode(p)))),
                None => (Some(percent_decode(info)), None),
            },
            None => (None, None),
        };
        let (host, port) = split_host_port(hostport).ok_or_else(|| UrlError::InvalidPort {
            url: mask_credentials(raw),
            port: hostport.rsplit(':').next().unwrap_or_default().to_owned(),
        })?;
        // A host starting with `-` would be read as an option by ssh.
        if host.is_empty() || host.starts_with('-') {
            return Err(UrlError::MissingHost { url: mask_credentials(raw) });
        }
        let path = path.trim_end_matches('/');
        if path.is_empty() {
            return Err(UrlError::MissingPath { url: mask_credentials(raw) });
        }
        Ok(Self {
            scheme,
            user: user.filter(|u| !u.is_empty()),
            password: password.filter(|p| !p.expose().is_empty()),
            host: Some(host.to_ascii_lowercase()),
            port,
            path: path.to_owned(),
            scp_like: false,
        })
    }

    fn local(path: &Path) -> Result<Self, UrlError> {
        let abs = std::path::absolute(path).map_err(|e| UrlError::LocalPath {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let text = abs.to_string_lossy().trim_end_matches('/').to_owned();
        if text.is_empty() {
            return Err(UrlError::MissingPath { url: path.display().to_string() });
        }
        Ok(Self {
            scheme: Scheme::File,
            user: None,
            password: None,
            host: None,
            port: None,
            path: text,
            scp_like: false,
        })
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    pub fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }

    pub fn port(&self) -> Option<u16> {
        self.port
    }

    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// The password that was embedded in the URL, if any.
    pub fn embedded_password(&self) -> Option<&Secret> {
        self.password.as_ref()
    }

    pub fn is_ssh(&self) -> bool {
        self.scheme == Scheme::Ssh
    }

    /// The local directory for `file://` URLs and local paths.
    pub fn local_path(&self) -> Option<PathBuf> {
        (self.scheme == Scheme::File).then(|| PathBuf::from(&self.path))
    }

    /// The URL handed to `git`: user name kept, password removed (passed out of band).
    pub(crate) fn for_git(&self) -> String {
        self.render(false)
    }

    /// An identity for this repository that ignores scheme, user, port defaults, a trailing
    /// `.git` and letter case of the host: `github.com/org/repo`. Local repositories are
    /// `file:/abs/path`.
    pub fn key(&self) -> String {
        let path = self.path.trim_end_matches('/');
        let path = path.strip_suffix(".git").unwrap_or(path);
        match &self.host {
            Some(host) => {
                let path = path.trim_start_matches('/');
                format!("{host}/{path}")
            }
            None => format!("file:{path}"),
        }
    }

    fn render(&self, redact: bool) -> String {
        if self.scp_like {
            let user = self.user.as_deref().map(|u| format!("{u}@")).unwrap_or_default();
            let host = self.host.as_deref().unwrap_or_default();
            return format!("{user}{host}:{}", self.path);
        }
        match &self.host {
            None => format!("file://{}", self.path),
            Some(host) => {
                let mut out = format!("{}://", self.scheme.as_str());
                if let Some(user) = &self.user {
                    out.push_str(&percent_encode_userinfo(user));
                    if self.password.is_some() && redact {
                        out.push_str(":***");
                    }
                    out.push('@');
                }
                out.push_str(host);
                if let Some(port) = self.port {
                    out.push_str(&format!(":{port}"));
                }
                out.push_str(&self.path);
                out
            }
        }
    }
}

impl std::fmt::Display for RepoUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render(true))
    }
}

impl std::fmt::Debug for RepoUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RepoUrl({})", self.render(true))
    }
}

impl std::str::FromStr for RepoUrl {
    type Err = UrlError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

fn looks_like_windows_drive(before: &str) -> bool {
    before.len() == 1 && before.chars().all(|c| c.is_ascii_alphabetic())
}

fn split_host_port(hostport: &str) -> Option<(&str, Option<u16>)> {
    // IPv6 literals keep their brackets: `[::1]:9418`.
    if let Some(end) = hostport.strip_prefix('[').and_then(|r| r.find(']')) {
        let host = &hostport[..end + 2];
        let rest = &hostport[end + 2..];
        return match rest.strip_prefix(':') {
            Some(p) => p.parse().ok().map(|p| (host, Some(p))),
            None if rest.is_empty() => Some((host, None)),
            None => None,
        };
    }
    match hostport.split_once(':') {
        Some((h, "")) => Some((h, None)),
        Some((h, p)) => p.parse().ok().map(|p| (h, Some(p))),
        None => Some((hostport, None)),
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(v) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn percent_encode_userinfo(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Masks the user-info part of every URL in `text`: `https://user:token@host/…` becomes
/// `https://***@host/…`. The one masker for tool output and messages that may quote a URL.
pub fn mask_credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(scheme_end) = rest.find("://") {
        let (before, after) = rest.split_at(scheme_end + 3);
        out.push_str(before);
        let authority_end =
            after.find(|c: char| c == '/' || c.is_whitespace()).unwrap_or(after.len());
        match after[..authority_end].rfind('@') {
            Some(at) => {
                out.push_str("***");
                out.push_str(&after[at..authority_end]);
            }
            None => out.push_str(&after[..authority_end]),
        }
        rest = &after[authority_end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_urls_are_masked_wherever_they_appear_in_text() {
        assert_eq!(
            mask_credentials(
                "fatal: unable to access 'https://bot:s3cret@git.example.com/org/repo.git/': 403"
            ),
            "fatal: unable to access 'https://***@git.example.com/org/repo.git/': 403"
        );
        assert_eq!(mask_credentials("git://127.0.0.1:9418/repo"), "git://127.0.0.1:9418/repo");
        assert_eq!(
            mask_credentials("a https://u:p@h b ssh://git@x/y"),
            "a https://***@h b ssh://***@x/y"
        );
    }

    #[test]
    fn https_ssh_and_scp_spellings_of_one_repository_share_a_key() {
        let a = RepoUrl::parse("https://GitHub.com/org/repo.git").unwrap();
        let b = RepoUrl::parse("git@github.com:org/repo.git").unwrap();
        let c = RepoUrl::parse("ssh://git@github.com/org/repo/").unwrap();
        assert_eq!(a.key(), "github.com/org/repo");
        assert_eq!(b.key(), a.key());
        assert_eq!(c.key(), a.key());
        assert!(b.is_ssh());
        assert_eq!(b.for_git(), "git@github.com:org/repo.git");
    }

    #[test]
    fn a_password_in_the_url_is_never_displayed_nor_passed_to_git() {
        let url = RepoUrl::parse("https://alice:s3cr%3At@git.example.com:8443/team/app").unwrap();
        assert_eq!(url.embedded_password().unwrap().expose(), "s3cr:t");
        assert_eq!(url.to_string(), "https://alice:***@git.example.com:8443/team/app");
        assert!(!format!("{url:?}").contains("s3cr"));
        assert_eq!(url.for_git(), "https://alice@git.example.com:8443/team/app");
    }

    #[test]
    fn local_paths_and_file_urls_become_absolute_file_urls() {
        let url = RepoUrl::parse("/srv/git/app.git").unwrap();
        assert_eq!(url.local_path().unwrap(), PathBuf::from("/srv/git/app.git"));
        assert_eq!(url.to_string(), "file:///srv/git/app.git");
        let url = RepoUrl::parse("file:///srv/git/app.git/").unwrap();
        assert_eq!(url.key(), "file:/srv/git/app");
        assert!(RepoUrl::parse("relative/dir").unwrap().local_path().unwrap().is_absolute());
    }

    #[test]
    fn bad_urls_are_refused_with_the_reason_and_without_the_password() {
        assert_eq!(RepoUrl::parse("  "), Err(UrlError::Empty));
        let err = RepoUrl::parse("ftp://u:hunter2@host/x").unwrap_err();
        assert!(matches!(err, UrlError::UnsupportedScheme { .. }));
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(matches!(RepoUrl::parse("https://host"), Err(UrlError::MissingPath { .. })));
        assert!(matches!(RepoUrl::parse("git://host:99999/x"), Err(UrlError::InvalidPort { .. })));
        assert!(matches!(RepoUrl::parse("https:///x"), Err(UrlError::MissingHost { .. })));
    }

    #[test]
    fn ports_and_ipv6_hosts_are_kept() {
        let url = RepoUrl::parse("git://127.0.0.1:9418/repo.git").unwrap();
        assert_eq!(url.port(), Some(9418));
        assert_eq!(url.to_string(), "git://127.0.0.1:9418/repo.git");
        let url = RepoUrl::parse("ssh://git@[::1]:2222/srv/repo").unwrap();
        assert_eq!(url.host(), Some("[::1]"));
        assert_eq!(url.port(), Some(2222));
    }
}
