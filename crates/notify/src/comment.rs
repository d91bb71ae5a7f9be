//! Pull-request comments on GitHub, GitLab (merge-request notes), Gitea/Forgejo and Bitbucket
//! Cloud, each provider's requests as data, pure: list the comments, create one, update one.
//! A comment Ferry owns carries a hidden marker, so a new plan updates its comment in place
//! instead of adding another ([`CommentClient::upsert`]).

use serde_json::{Value, json};

use crate::payload::HttpRequest;
use crate::repo::RepoRef;
use crate::status::{Auth, Provider, auth_headers, seg};

/// The largest comment body the providers take (GitHub: 65,536 characters); longer plans are
/// cut with a note.
pub const MAX_COMMENT: usize = 60_000;

/// Where the comments of one pull request live.
#[derive(Clone, Debug)]
pub struct PullRef<'a> {
    pub base: &'a str,
    pub repo: &'a RepoRef,
    pub number: u64,
}

fn with_auth(provider: Provider, auth: &Auth, mut request: HttpRequest) -> HttpRequest {
    request.headers.extend(auth_headers(provider, auth));
    if provider == Provider::GitHub {
        request.header("Accept", "application/vnd.github+json");
        request.header("X-GitHub-Api-Version", "2022-11-28");
    }
    request
}

fn collection(provider: Provider, pr: &PullRef<'_>) -> String {
    let base = pr.base.trim_end_matches('/');
    let (owner, name, n) = (seg(pr.repo.owner()), seg(pr.repo.name()), pr.number);
    match provider {
        Provider::GitHub => format!("{base}/repos/{owner}/{name}/issues/{n}/comments"),
        Provider::Gitea => format!("{base}/api/v1/repos/{owner}/{name}/issues/{n}/comments"),
        Provider::GitLab => {
            format!("{base}/api/v4/projects/{}/merge_requests/{n}/notes", seg(&pr.repo.path))
        }
        Provider::Bitbucket => {
            format!("{base}/2.0/repositories/{owner}/{name}/pullrequests/{n}/comments")
        }
    }
}

fn item(provider: Provider, pr: &PullRef<'_>, id: &str) -> String {
    let base = pr.base.trim_end_matches('/');
    let (owner, name, id) = (seg(pr.repo.owner()), seg(pr.repo.name()), seg(id));
    match provider {
        Provider::GitHub => format!("{base}/repos/{owner}/{name}/issues/comments/{id}"),
        Provider::Gitea => format!("{base}/api/v1/repos/{owner}/{name}/issues/comments/{id}"),
        Provider::GitLab | Provider::Bitbucket => format!("{}/{id}", collection(provider, pr)),
    }
}

fn body_json(provider: Provider, text: &str) -> Value {
    match provider {
        Provider::Bitbucket => json!({"content": {"raw": text}}),
        _ => json!({"body": text}),
    }
}

/// GET the pull request's comments (the first 100: Ferry's comment is found among them).
pub fn list(provider: Provider, auth: &Auth, pr: &PullRef<'_>) -> HttpRequest {
    let page = match provider {
        Provider::Bitbucket => "pagelen=100",
        Provider::GitLab => "per_page=100&sort=asc",
        Provider::Gitea => "limit=50",
        Provider::GitHub => "per_page=100",
    };
    let request = HttpRequest {
        method: "GET".into(),
        url: format!("{}?{page}", collection(provider, pr)),
        headers: vec![],
        body: vec![],
    };
    with_auth(provider, auth, request)
}

/// POST a new comment.
pub fn create(provider: Provider, auth: &Auth, pr: &PullRef<'_>, text: &str) -> HttpRequest {
    let request = HttpRequest::post_json(collection(provider, pr), &body_json(provider, text));
    with_auth(provider, auth, request)
}

/// Replace comment `id`'s text (GitHub and Gitea PATCH, GitLab and Bitbucket PUT).
pub fn update(
    provider: Provider,
    auth: &Auth,
    pr: &PullRef<'_>,
    id: &str,
    text: &str,
) -> HttpRequest {
    let mut request = HttpRequest::post_json(item(provider, pr, id), &body_json(provider, text));
    request.method = match provider {
        Provider::GitHub | Provider::Gitea => "PATCH",
        Provider::GitLab | Provider::Bitbucket => "PUT",
    }
    .into();
    with_auth(provider, auth, request)
}

/// The id of the first comment in a list answer whose text holds `marker`.
pub fn find(provider: Provider, answer: &Value, marker: &str) -> Option<String> {
    let items = match provider {
        Provider::Bitbucket => answer.get("values")?.as_array()?,
        _ => answer.as_array()?,
    };
    items.iter().find_map(|c| {
        let text = match provider {
            Provider::Bitbucket => c.pointer("/content/raw"),
            _ => c.get("body"),
        }?
        .as_str()?;
        if !text.contains(marker) {
            return None;
        }
        match c.get("id")? {
            Value::Number(n) => Some(n.to_string()),
            Value::String(s) => Some(s.clone()),
            _ => None,
        }
    })
}

/// `text` cut to [`MAX_COMMENT`] on a character boundary, with a note when cut.
pub fn fit(text: &str) -> String {
    if text.len() <= MAX_COMMENT {
        return text.to_owned();
    }
    let mut end = MAX_COMMENT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n\n_(cut: the full plan is `ferry plan` or `POST /api/v1/plan`)_\n", &text[..end])
}

/// A provider's API with its credentials, for one repository's pull-request comments.
#[derive(Clone, Debug)]
pub struct CommentClient {
    pub provider: Provider,
    pub base_url: Option<String>,
    pub auth: Auth,
    http: reqwest::Client,
}

impl CommentClient {
    pub fn new(http: reqwest::Client, service: &crate::service::StatusService) -> Self {
        Self {
            provider: service.provider,
            base_url: service.base_url.clone(),
            auth: service.auth.clone(),
            http,
        }
    }

    /// Creates the pull request's comment holding `marker`, or replaces the one that has it.
    /// Returns whether an existing comment was updated.
    pub async fn upsert(
        &self,
        repo: &RepoRef,
        number: u64,
        marker: &str,
        text: &str,
    ) -> Result<bool, crate::send::SendError> {
        let base = self.base_url.clone().unwrap_or_else(|| self.provider.default_base(repo));
        let pr = PullRef { base: &base, repo, number };
        let text = fit(&format!("{marker}\n{text}"));
        let listed =
            crate::send::http_json(&self.http, &list(self.provider, &self.auth, &pr)).await?;
        match find(self.provider, &listed, marker) {
            Some(id) => {
                let request = update(self.provider, &self.auth, &pr, &id, &text);
                crate::send::http(&self.http, &request).await.map(|_| true)
            }
            None => {
                let request = create(self.provider, &self.auth, &pr, &text);
                crate::send::http(&self.http, &request).await.map(|_| false)
            }
        }
    }

    /// Sets `status` on commit `sha` of `repo` (the plan's `ferry/plan`).
    pub async fn status(
        &self,
        repo: &RepoRef,
        sha: &str,
        status: &crate::status::CommitStatus,
    ) -> Result<crate::send::Sent, crate::send::SendError> {
        let base = self.base_url.clone().unwrap_or_else(|| self.provider.default_base(repo));
        let request = crate::status::request(self.provider, &base, &self.auth, repo, sha, status);
        crate::send::http(&self.http, &request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> RepoRef {
        RepoRef::parse("https://git.example/acme/config.git").expect("parses")
    }

    fn token() -> Auth {
        Auth::Token("t0k".into())
    }

    #[test]
    fn each_provider_lists_and_creates_comments_at_its_own_path() {
        let repo = repo();
        let pr = PullRef { base: "http://h", repo: &repo, number: 7 };
        let cases = [
            (Provider::GitHub, "http://h/repos/acme/config/issues/7/comments"),
            (Provider::Gitea, "http://h/api/v1/repos/acme/config/issues/7/comments"),
            (Provider::GitLab, "http://h/api/v4/projects/acme%2Fconfig/merge_requests/7/notes"),
            (Provider::Bitbucket, "http://h/2.0/repositories/acme/config/pullrequests/7/comments"),
        ];
        for (provider, path) in cases {
            let made = create(provider, &token(), &pr, "hello");
            assert_eq!((made.method.as_str(), made.url.as_str()), ("POST", path), "{provider:?}");
            assert!(list(provider, &token(), &pr).url.starts_with(&format!("{path}?")));
        }
        let bitbucket = create(Provider::Bitbucket, &token(), &pr, "hello");
        assert_eq!(bitbucket.body, br#"{"content":{"raw":"hello"}}"#.to_vec());
        let gitlab = create(Provider::GitLab, &token(), &pr, "hello");
        assert!(gitlab.headers.contains(&("PRIVATE-TOKEN".into(), "t0k".into())));
    }

    #[test]
    fn an_update_replaces_the_comment_by_id_with_each_providers_verb() {
        let repo = repo();
        let pr = PullRef { base: "http://h", repo: &repo, number: 7 };
        let github = update(Provider::GitHub, &token(), &pr, "99", "new");
        assert_eq!(
            (github.method.as_str(), github.url.as_str()),
            ("PATCH", "http://h/repos/acme/config/issues/comments/99")
        );
        let gitlab = update(Provider::GitLab, &token(), &pr, "99", "new");
        assert_eq!(
            (gitlab.method.as_str(), gitlab.url.as_str()),
            ("PUT", "http://h/api/v4/projects/acme%2Fconfig/merge_requests/7/notes/99")
        );
    }

    #[test]
    fn ferrys_comment_is_found_by_its_marker() {
        let github = serde_json::json!([
            {"id": 1, "body": "looks good"},
            {"id": 2, "body": "<!-- ferry-plan -->\n### Ferry plan"}
        ]);
        assert_eq!(find(Provider::GitHub, &github, "<!-- ferry-plan -->"), Some("2".into()));
        let bitbucket =
            serde_json::json!({"values": [{"id": 5, "content": {"raw": "<!-- ferry-plan -->"}}]});
        assert_eq!(find(Provider::Bitbucket, &bitbucket, "<!-- ferry-plan -->"), Some("5".into()));
        assert_eq!(find(Provider::GitHub, &serde_json::json!([]), "<!-- ferry-plan -->"), None);
    }

    #[test]
    fn a_long_comment_is_cut_on_a_character_boundary_with_a_note() {
        let long = "é".repeat(MAX_COMMENT);
        let cut = fit(&long);
        assert!(cut.len() < long.len() && cut.contains("(cut:"));
    }
}
