//! Commit statuses on GitHub, GitLab, Gitea/Forgejo and Bitbucket Cloud: each provider's
//! request as data (method, path, headers, JSON) from one [`CommitStatus`], pure. Sending is
//! [`StatusClient::post`], reusable beyond notifications (a plan posts `ferry/plan` the same way).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::json;

use crate::payload::HttpRequest;
use crate::repo::RepoRef;

/// GitHub and Gitea refuse longer descriptions; the others are kept to the same.
pub const MAX_DESCRIPTION: usize = 140;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Provider {
    GitHub,
    GitLab,
    Gitea,
    Bitbucket,
}

impl Provider {
    pub fn parse(kind: &str) -> Option<Self> {
        match kind {
            "github" => Some(Self::GitHub),
            "gitlab" => Some(Self::GitLab),
            "gitea" | "forgejo" => Some(Self::Gitea),
            "bitbucket" => Some(Self::Bitbucket),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::GitHub => "github",
            Self::GitLab => "gitlab",
            Self::Gitea => "gitea",
            Self::Bitbucket => "bitbucket",
        }
    }

    /// The API base when the service sets none.
    pub fn default_base(self, repo: &RepoRef) -> String {
        match self {
            Self::GitHub if repo.web_base == "https://github.com" => {
                "https://api.github.com".into()
            }
            // GitHub Enterprise Server serves its API under /api/v3.
            Self::GitHub => format!("{}/api/v3", repo.web_base),
            Self::Bitbucket => "https://api.bitbucket.org".into(),
            Self::GitLab | Self::Gitea => repo.web_base.clone(),
        }
    }
}

/// Credentials; `Debug` shows none.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    Token(String),
    Basic { username: String, password: String },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Token(_) => f.write_str("Token(***)"),
            Self::Basic { username, .. } => write!(f, "Basic({username}:***)"),
        }
    }
}

impl Auth {
    pub fn secrets(&self) -> Vec<String> {
        match self {
            Self::Token(t) => vec![t.clone()],
            Self::Basic { password, .. } => vec![password.clone()],
        }
    }
}

/// A status in the common words; each provider maps them to its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Pending,
    Success,
    Failure,
    Error,
}

impl State {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "pending" | "running" | "inprogress" => Some(Self::Pending),
            "success" | "successful" => Some(Self::Success),
            "failure" | "failed" => Some(Self::Failure),
            "error" => Some(Self::Error),
            _ => None,
        }
    }

    fn word(self, provider: Provider) -> &'static str {
        match (provider, self) {
            (Provider::GitLab, Self::Pending) => "running",
            (Provider::GitLab, Self::Success) => "success",
            (Provider::GitLab, _) => "failed",
            (Provider::Bitbucket, Self::Pending) => "INPROGRESS",
            (Provider::Bitbucket, Self::Success) => "SUCCESSFUL",
            (Provider::Bitbucket, _) => "FAILED",
            (_, Self::Pending) => "pending",
            (_, Self::Success) => "success",
            (_, Self::Failure) => "failure",
            (_, Self::Error) => "error",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitStatus {
    pub state: State,
    /// GitHub/Gitea `context`, GitLab `name`, Bitbucket `key`.
    pub context: String,
    pub description: String,
    pub target_url: String,
}

/// Everything but `/` in a path segment, and `/` too for GitLab's `id` (`group%2Frepo`).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

pub(crate) fn seg(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// The request that sets `status` on commit `sha` of `repo`.
pub fn request(
    provider: Provider,
    base: &str,
    auth: &Auth,
    repo: &RepoRef,
    sha: &str,
    status: &CommitStatus,
) -> HttpRequest {
    let base = base.trim_end_matches('/');
    let description: String = status.description.chars().take(MAX_DESCRIPTION).collect();
    let state = status.state.word(provider);
    let (owner, name, sha) = (seg(repo.owner()), seg(repo.name()), seg(sha));
    let (url, body) = match provider {
        Provider::GitHub => (
            format!("{base}/repos/{owner}/{name}/statuses/{sha}"),
            json!({"state": state, "target_url": status.target_url, "description": description, "context": status.context}),
        ),
        Provider::GitLab => (
            format!("{base}/api/v4/projects/{}/statuses/{sha}", seg(&repo.path)),
            json!({"state": state, "name": status.context, "target_url": status.target_url, "description": description}),
        ),
        Provider::Gitea => (
            format!("{base}/api/v1/repos/{owner}/{name}/statuses/{sha}"),
            json!({"state": state, "target_url": status.target_url, "description": description, "context": status.context}),
        ),
        Provider::Bitbucket => (
            format!("{base}/2.0/repositories/{owner}/{name}/commit/{sha}/statuses/build"),
            json!({"key": status.context, "state": state, "url": status.target_url, "description": description, "name": status.context}),
        ),
    };
    let mut request = HttpRequest::post_json(url, &body);
    request.headers.extend(auth_headers(provider, auth));
    if provider == Provider::GitHub {
        request.header("Accept", "application/vnd.github+json");
        request.header("X-GitHub-Api-Version", "2022-11-28");
    }
    request
}

pub(crate) fn auth_headers(provider: Provider, auth: &Auth) -> Vec<(String, String)> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let value = match (provider, auth) {
        (_, Auth::Basic { username, password }) => {
            format!("Basic {}", b64.encode(format!("{username}:{password}").as_bytes()))
        }
        (Provider::GitLab, Auth::Token(t)) => return vec![("PRIVATE-TOKEN".into(), t.clone())],
        (Provider::Gitea, Auth::Token(t)) => format!("token {t}"),
        (Provider::GitHub | Provider::Bitbucket, Auth::Token(t)) => format!("Bearer {t}"),
    };
    vec![("Authorization".into(), value)]
}

/// A provider's API with its credentials: posts statuses (and, later, PR comments).
#[derive(Clone, Debug)]
pub struct StatusClient {
    pub provider: Provider,
    pub base_url: Option<String>,
    pub auth: Auth,
    http: reqwest::Client,
}

impl StatusClient {
    pub fn new(http: reqwest::Client, service: &crate::service::StatusService) -> Self {
        Self {
            provider: service.provider,
            base_url: service.base_url.clone(),
            auth: service.auth.clone(),
            http,
        }
    }

    /// The request for `status` on `sha` of the repository `repo_url` names.
    pub fn request(
        &self,
        repo_url: &str,
        sha: &str,
        status: &CommitStatus,
    ) -> Result<HttpRequest, crate::repo::RepoError> {
        let repo = RepoRef::parse(repo_url)?;
        let base = self.base_url.clone().unwrap_or_else(|| self.provider.default_base(&repo));
        Ok(request(self.provider, &base, &self.auth, &repo, sha, status))
    }

    /// Posts `status` once (no retry: callers that want them go through the notifier's queue).
    pub async fn post(
        &self,
        repo_url: &str,
        sha: &str,
        status: &CommitStatus,
    ) -> Result<crate::send::Sent, crate::send::SendError> {
        let request = self
            .request(repo_url, sha, status)
            .map_err(|e| crate::send::SendError::Build(e.to_string()))?;
        crate::send::http(&self.http, &request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status() -> CommitStatus {
        CommitStatus {
            state: State::Success,
            context: "ferry/guestbook".into(),
            description: "deployed abc1234".into(),
            target_url: "https://ferry.example/applications/guestbook".into(),
        }
    }

    fn repo() -> RepoRef {
        RepoRef::parse("https://git.example/acme/guest book.git").expect("parses")
    }

    #[test]
    fn github_posts_state_target_url_description_and_context_with_a_bearer_token() {
        let r = request(
            Provider::GitHub,
            "http://127.0.0.1:1/",
            &Auth::Token("t0k".into()),
            &repo(),
            "abc",
            &status(),
        );
        assert_eq!(r.url, "http://127.0.0.1:1/repos/acme/guest%20book/statuses/abc");
        assert!(r.headers.contains(&("Authorization".into(), "Bearer t0k".into())));
        let body: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
        assert_eq!(
            body,
            json!({"state": "success", "target_url": "https://ferry.example/applications/guestbook", "description": "deployed abc1234", "context": "ferry/guestbook"})
        );
    }

    #[test]
    fn gitlab_encodes_the_project_path_and_says_running_and_failed() {
        let repo = RepoRef::parse("https://gitlab.example/group/sub/app").expect("parses");
        let mut s = status();
        s.state = State::Pending;
        let r = request(Provider::GitLab, "http://h", &Auth::Token("t".into()), &repo, "abc", &s);
        assert_eq!(r.url, "http://h/api/v4/projects/group%2Fsub%2Fapp/statuses/abc");
        assert!(r.headers.contains(&("PRIVATE-TOKEN".into(), "t".into())));
        let body: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
        assert_eq!(body["state"], "running");
        assert_eq!(State::Failure.word(Provider::GitLab), "failed");
    }

    #[test]
    fn bitbucket_uses_key_and_its_upper_case_states_and_basic_auth_with_an_app_password() {
        let auth = Auth::Basic { username: "me".into(), password: "pw".into() };
        let r = request(Provider::Bitbucket, "http://h", &auth, &repo(), "abc", &status());
        assert_eq!(r.url, "http://h/2.0/repositories/acme/guest%20book/commit/abc/statuses/build");
        assert!(r.headers.contains(&("Authorization".into(), "Basic bWU6cHc=".into())));
        let body: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
        assert_eq!(body["state"], "SUCCESSFUL");
        assert_eq!(body["key"], "ferry/guestbook");
        assert_eq!(format!("{auth:?}"), "Basic(me:***)");
    }

    #[test]
    fn the_default_base_is_the_public_api_or_the_forge_host() {
        let github = RepoRef::parse("https://github.com/a/b").expect("parses");
        assert_eq!(Provider::GitHub.default_base(&github), "https://api.github.com");
        assert_eq!(Provider::GitHub.default_base(&repo()), "https://git.example/api/v3");
        assert_eq!(Provider::Gitea.default_base(&repo()), "https://git.example");
    }
}
