//! Which repository on which forge an app's `repoURL` names: scheme and host (for a
//! self-hosted API's default base URL) and the path (`owner/repo`, GitLab's subgroups kept).

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RepoError {
    #[error(
        "repoURL `{url}` names no owner/repository: a commit status needs https://host/owner/repo or git@host:owner/repo"
    )]
    NoPath { url: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoRef {
    /// `https://host[:port]` (an SSH URL's host is taken as https).
    pub web_base: String,
    /// `owner/repo` (GitLab: `group/subgroup/repo`), without `.git`.
    pub path: String,
}

impl RepoRef {
    pub fn parse(url: &str) -> Result<Self, RepoError> {
        let no_path = || RepoError::NoPath { url: crate_mask(url) };
        let trimmed = url.trim();
        let (scheme, rest) = match trimmed.split_once("://") {
            Some((scheme, rest)) => (scheme, rest),
            // scp-like: git@host:owner/repo.git
            None => {
                let (host, path) = trimmed.split_once(':').ok_or_else(no_path)?;
                let host = host.rsplit('@').next().unwrap_or(host);
                return Self::build("https", host, path).ok_or_else(no_path);
            }
        };
        let (authority, path) = rest.split_once('/').ok_or_else(no_path)?;
        let host = authority.rsplit('@').next().unwrap_or(authority);
        let scheme = if scheme == "http" { "http" } else { "https" };
        // An SSH URL's port is SSH's, not the web's.
        let host = if trimmed.starts_with("ssh://") {
            host.split(':').next().unwrap_or(host)
        } else {
            host
        };
        Self::build(scheme, host, path).ok_or_else(no_path)
    }

    fn build(scheme: &str, host: &str, path: &str) -> Option<Self> {
        let path = path.trim_matches('/');
        let path = path.strip_suffix(".git").unwrap_or(path);
        if host.is_empty() || path.split('/').filter(|s| !s.is_empty()).count() < 2 {
            return None;
        }
        Some(Self { web_base: format!("{scheme}://{host}"), path: path.to_owned() })
    }

    /// The owner (GitLab: the namespace, subgroups included).
    pub fn owner(&self) -> &str {
        self.path.rsplit_once('/').map_or("", |(owner, _)| owner)
    }

    /// The repository's own name.
    pub fn name(&self) -> &str {
        self.path.rsplit_once('/').map_or(self.path.as_str(), |(_, name)| name)
    }
}

/// A URL with its user info dropped, for messages (a token may sit there).
fn crate_mask(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((_, host)) if !rest.split('/').next().unwrap_or("").is_empty() => {
                format!("{scheme}://***@{host}")
            }
            _ => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_ssh_and_scp_like_urls_name_the_same_repository() {
        for url in [
            "https://github.com/acme/guestbook.git",
            "https://user:tok@github.com/acme/guestbook",
            "ssh://git@github.com:22/acme/guestbook.git",
            "git@github.com:acme/guestbook.git",
        ] {
            let repo = RepoRef::parse(url).expect(url);
            assert_eq!(
                (repo.web_base.as_str(), repo.owner(), repo.name()),
                ("https://github.com", "acme", "guestbook"),
                "{url}"
            );
        }
    }

    #[test]
    fn gitlab_subgroups_stay_in_the_path() {
        let repo = RepoRef::parse("http://127.0.0.1:8080/group/sub/app.git").expect("parses");
        assert_eq!(repo.web_base, "http://127.0.0.1:8080");
        assert_eq!(repo.path, "group/sub/app");
        assert_eq!(repo.owner(), "group/sub");
    }

    #[test]
    fn a_url_without_owner_and_repository_is_refused_without_its_credentials() {
        let err = RepoRef::parse("https://me:secret@host/onlyone").expect_err("no owner");
        assert!(!err.to_string().contains("secret"), "{err}");
    }
}
