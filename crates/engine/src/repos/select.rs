//! Which Secret's credentials a repository URL gets, by Argo CD's rules: a `repository` Secret
//! whose `url` is the same repository wins; else the `repo-creds` template with the longest
//! `url` prefix. A `repository` Secret without credentials of its own takes them from the
//! matching template (its `insecure` and `proxy` stay its own). Pure.

use super::secret::{Auth, Kind, RepoSecret, SecretError};

/// A URL in the form matching compares: scheme and host in lower case, no trailing `/` or `.git`.
pub fn normalize(url: &str) -> String {
    let url = url.trim();
    let url = url.trim_end_matches('/');
    let url = url.strip_suffix(".git").unwrap_or(url);
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let (user, host) = match authority.rsplit_once('@') {
                Some((user, host)) => (format!("{user}@"), host),
                None => (String::new(), authority),
            };
            format!("{}://{user}{}{path}", scheme.to_ascii_lowercase(), host.to_ascii_lowercase())
        }
        // scp-like `user@host:path`: the host is what comes before the first `:`.
        None => match url.split_once(':') {
            Some((left, path)) if !left.contains('/') => {
                let (user, host) = match left.rsplit_once('@') {
                    Some((user, host)) => (format!("{user}@"), host),
                    None => (String::new(), left),
                };
                format!("{user}{}:{path}", host.to_ascii_lowercase())
            }
            _ => url.to_owned(),
        },
    }
}

/// Whether two URLs name the same repository.
pub fn same_repository(a: &str, b: &str) -> bool {
    normalize(a) == normalize(b)
}

/// What applies to one repository URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chosen {
    pub auth: Auth,
    /// The Secret whose credentials are used (`namespace/name`), when any.
    pub credentials_from: Option<String>,
    pub insecure: bool,
    pub proxy: Option<ferry_source::Secret>,
}

/// A Secret as read: valid, or broken with the URL it declares (when readable).
pub type Read = Result<RepoSecret, (Option<String>, SecretError)>;

fn matches(kind: Kind, secret_url: &str, url: &str) -> bool {
    match kind {
        Kind::Repository => same_repository(secret_url, url),
        Kind::Template => normalize(url).starts_with(&normalize(secret_url)),
    }
}

/// The best valid Secret of `kind` for `url`, or the error of a broken one that would match.
/// Secrets come ordered by name, so a tie goes to the first name.
fn best<'a>(
    secrets: &'a [(Kind, Read)],
    kind: Kind,
    url: &str,
) -> Result<Option<&'a RepoSecret>, SecretError> {
    let mut found: Option<&RepoSecret> = None;
    for (k, read) in secrets.iter().filter(|(k, _)| *k == kind) {
        match read {
            Ok(s) if matches(*k, &s.url, url) => {
                let longer =
                    found.is_none_or(|f| normalize(&s.url).len() > normalize(&f.url).len());
                if longer {
                    found = Some(s);
                }
            }
            // A broken Secret for this URL stops it: guessing around it could use the wrong
            // credentials. A broken Secret for another URL does not concern this one.
            Err((Some(declared), e)) if matches(*k, declared, url) => return Err(e.clone()),
            _ => {}
        }
    }
    Ok(found)
}

/// The credentials and options `url` gets, `None` when no Secret concerns it.
pub fn choose(secrets: &[(Kind, Read)], url: &str) -> Result<Option<Chosen>, SecretError> {
    let repository = best(secrets, Kind::Repository, url)?;
    let template = match repository {
        Some(r) if r.auth != Auth::None => None,
        _ => best(secrets, Kind::Template, url)?,
    };
    let chosen = match (repository, template) {
        (Some(r), Some(t)) => Chosen {
            auth: t.auth.clone(),
            credentials_from: Some(t.name.clone()),
            insecure: r.insecure,
            proxy: r.proxy.clone().or_else(|| t.proxy.clone()),
        },
        (Some(s), None) | (None, Some(s)) => Chosen {
            credentials_from: (s.auth != Auth::None).then(|| s.name.clone()),
            auth: s.auth.clone(),
            insecure: s.insecure,
            proxy: s.proxy.clone(),
        },
        (None, None) => return Ok(None),
    };
    Ok(Some(chosen))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_source::Secret as Hidden;

    fn secret(name: &str, kind: Kind, url: &str, password: Option<&str>) -> (Kind, Read) {
        let auth = match password {
            Some(p) => Auth::Basic { username: Some("u".into()), password: Hidden::new(p) },
            None => Auth::None,
        };
        let s = RepoSecret {
            name: format!("ferry/{name}"),
            kind,
            url: url.into(),
            auth,
            insecure: false,
            proxy: None,
        };
        (kind, Ok(s))
    }

    #[test]
    fn urls_compare_without_case_of_scheme_and_host_trailing_slash_or_dot_git() {
        assert!(same_repository("HTTPS://GitHub.com/org/repo.git", "https://github.com/org/repo/"));
        assert!(same_repository("git@GitHub.com:org/repo.git", "git@github.com:org/repo"));
        assert!(!same_repository("https://github.com/Org/repo", "https://github.com/org/repo"));
        assert!(!same_repository("https://github.com/org/repo", "https://github.com/org/repo2"));
    }

    #[test]
    fn a_repository_secret_wins_over_any_template() {
        let secrets = [
            secret("creds", Kind::Template, "https://git.example.com/org", Some("t")),
            secret("repo", Kind::Repository, "https://git.example.com/org/app.git", Some("r")),
        ];
        let chosen = choose(&secrets, "https://git.example.com/org/app").unwrap().unwrap();
        assert_eq!(chosen.credentials_from.as_deref(), Some("ferry/repo"));
    }

    #[test]
    fn the_longest_template_prefix_wins() {
        let secrets = [
            secret("a-org", Kind::Template, "https://git.example.com/org", Some("1")),
            secret("b-team", Kind::Template, "https://git.example.com/org/team", Some("2")),
            secret("c-host", Kind::Template, "https://git.example.com", Some("3")),
        ];
        let chosen = choose(&secrets, "https://git.example.com/org/team/app").unwrap().unwrap();
        assert_eq!(chosen.credentials_from.as_deref(), Some("ferry/b-team"));
        assert_eq!(choose(&secrets, "https://other.example.com/x").unwrap(), None);
    }

    #[test]
    fn a_repository_secret_without_credentials_takes_the_templates() {
        let secrets = [
            secret("creds", Kind::Template, "https://git.example.com/", Some("t")),
            secret("repo", Kind::Repository, "https://git.example.com/org/app", None),
        ];
        let chosen = choose(&secrets, "https://git.example.com/org/app").unwrap().unwrap();
        assert_eq!(chosen.credentials_from.as_deref(), Some("ferry/creds"));
    }

    #[test]
    fn a_broken_secret_stops_only_the_repositories_it_declares() {
        let broken = SecretError::MissingUrl { secret: "ferry/bad".into() };
        let secrets = [
            (Kind::Repository, Err((Some("https://h/bad".into()), broken.clone()))),
            (Kind::Repository, Err((None, broken.clone()))),
            secret("good", Kind::Repository, "https://h/good", Some("p")),
        ];
        assert_eq!(choose(&secrets, "https://h/bad.git"), Err(broken));
        let good = choose(&secrets, "https://h/good").unwrap().unwrap();
        assert_eq!(good.credentials_from.as_deref(), Some("ferry/good"));
    }
}
