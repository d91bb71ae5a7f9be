//! Pull-request (merge-request) events, read into one [`PullRequest`]: GitHub and Gitea
//! `pull_request`, GitLab `Merge Request Hook`, Bitbucket Cloud `pullrequest:*`. A plan is made
//! when one is opened, reopened or gets new commits; other actions (closed, labelled, ...) are
//! kept as [`PullAction::Other`] so the caller can say it did nothing.

use serde_json::Value;

use super::{Provider, WebhookError};
use crate::url::RepoUrl;

/// What happened to the pull request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PullAction {
    Opened,
    /// New commits on its head (GitHub `synchronize`, Gitea `synchronized`, GitLab `update`
    /// with a new last commit, Bitbucket `pullrequest:updated`).
    Updated,
    Reopened,
    /// Anything else, as the provider named it.
    Other(String),
}

impl PullAction {
    /// Whether the head may have changed, so a plan is due.
    pub fn wants_plan(&self) -> bool {
        !matches!(self, PullAction::Other(_))
    }
}

/// A verified pull-request event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PullRequest {
    /// Normalised keys ([`RepoUrl::key`]) of the base repository's URLs.
    pub repo_keys: Vec<String>,
    /// The base repository's clone URL as the payload gives it.
    pub repo_url: String,
    /// `owner/name` (GitHub, Gitea, Bitbucket workspace/slug) or GitLab's `path_with_namespace`.
    pub full_name: String,
    /// The number (GitHub, Gitea), iid (GitLab) or id (Bitbucket).
    pub number: u64,
    pub action: PullAction,
    /// The branch it merges into (`main`).
    pub base_ref: String,
    /// The branch it merges from.
    pub head_ref: String,
    /// The commit at its head (Bitbucket Cloud gives 12 characters).
    pub head_sha: String,
    /// Whether the head branch lives in another repository (a fork): it is then fetched by the
    /// provider's pull ref (`refs/pull/N/head`, `refs/merge-requests/N/head`).
    pub from_fork: bool,
    /// The pull request's web page.
    pub web_url: Option<String>,
}

impl PullRequest {
    /// The ref to fetch the head by: the branch when it lives in the base repository, else the
    /// provider's read-only pull ref.
    pub fn head_fetch_ref(&self, provider: Provider) -> String {
        if !self.from_fork {
            return self.head_ref.clone();
        }
        match provider {
            Provider::GitLab => format!("refs/merge-requests/{}/head", self.number),
            _ => format!("refs/pull/{}/head", self.number),
        }
    }
}

fn malformed(provider: Provider, message: String) -> WebhookError {
    WebhookError::Malformed { provider, message }
}

fn at<'a>(json: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(json, |v, k| v.get(k))
}

fn text<'a>(provider: Provider, json: &'a Value, path: &[&str]) -> Result<&'a str, WebhookError> {
    at(json, path)
        .and_then(Value::as_str)
        .ok_or_else(|| malformed(provider, format!("missing string field {}", path.join("."))))
}

fn number(provider: Provider, json: &Value, path: &[&str]) -> Result<u64, WebhookError> {
    at(json, path)
        .and_then(Value::as_u64)
        .ok_or_else(|| malformed(provider, format!("missing number field {}", path.join("."))))
}

fn keys(provider: Provider, urls: &[Option<&str>]) -> Result<Vec<String>, WebhookError> {
    let mut keys: Vec<String> =
        urls.iter().flatten().filter_map(|u| RepoUrl::parse(u).ok()).map(|u| u.key()).collect();
    keys.sort();
    keys.dedup();
    if keys.is_empty() {
        return Err(malformed(provider, "no repository URL in the pull request".into()));
    }
    Ok(keys)
}

/// GitHub's and Gitea's `pull_request` event.
pub(super) fn github_like(provider: Provider, json: &Value) -> Result<PullRequest, WebhookError> {
    let pr = at(json, &["pull_request"])
        .ok_or_else(|| malformed(provider, "missing field pull_request".into()))?;
    let repo = at(json, &["repository"])
        .ok_or_else(|| malformed(provider, "missing field repository".into()))?;
    let action = match text(provider, json, &["action"])? {
        "opened" => PullAction::Opened,
        "synchronize" | "synchronized" => PullAction::Updated,
        "reopened" => PullAction::Reopened,
        other => PullAction::Other(other.to_owned()),
    };
    let str_of = |v: &Value, p: &[&str]| at(v, p).and_then(Value::as_str).map(str::to_owned);
    let base_repo = str_of(pr, &["base", "repo", "full_name"]);
    let head_repo = str_of(pr, &["head", "repo", "full_name"]);
    Ok(PullRequest {
        repo_keys: keys(
            provider,
            &[
                at(repo, &["clone_url"]).and_then(Value::as_str),
                at(repo, &["ssh_url"]).and_then(Value::as_str),
                at(repo, &["html_url"]).and_then(Value::as_str),
            ],
        )?,
        repo_url: text(provider, repo, &["clone_url"])?.to_owned(),
        full_name: text(provider, repo, &["full_name"])?.to_owned(),
        number: number(provider, json, &["number"])
            .or_else(|_| number(provider, pr, &["number"]))?,
        action,
        base_ref: text(provider, pr, &["base", "ref"])?.to_owned(),
        head_ref: text(provider, pr, &["head", "ref"])?.to_owned(),
        head_sha: text(provider, pr, &["head", "sha"])?.to_owned(),
        from_fork: base_repo.is_some() && head_repo.is_some() && base_repo != head_repo,
        web_url: str_of(pr, &["html_url"]),
    })
}

/// GitLab's `Merge Request Hook`.
pub(super) fn gitlab(json: &Value) -> Result<PullRequest, WebhookError> {
    let provider = Provider::GitLab;
    let mr = at(json, &["object_attributes"])
        .ok_or_else(|| malformed(provider, "missing field object_attributes".into()))?;
    let project = at(json, &["project"])
        .ok_or_else(|| malformed(provider, "missing field project".into()))?;
    let action = match at(mr, &["action"]).and_then(Value::as_str).unwrap_or_default() {
        "open" => PullAction::Opened,
        "reopen" => PullAction::Reopened,
        // An update without `oldrev` changed the title or labels, not the commits.
        "update" if at(mr, &["oldrev"]).is_some() => PullAction::Updated,
        other => PullAction::Other(other.to_owned()),
    };
    let source = at(mr, &["source_project_id"]).and_then(Value::as_u64);
    let target = at(mr, &["target_project_id"]).and_then(Value::as_u64);
    Ok(PullRequest {
        repo_keys: keys(
            provider,
            &[
                at(project, &["git_http_url"]).and_then(Value::as_str),
                at(project, &["git_ssh_url"]).and_then(Value::as_str),
                at(project, &["web_url"]).and_then(Value::as_str),
            ],
        )?,
        repo_url: text(provider, project, &["git_http_url"])?.to_owned(),
        full_name: text(provider, project, &["path_with_namespace"])?.to_owned(),
        number: number(provider, mr, &["iid"])?,
        action,
        base_ref: text(provider, mr, &["target_branch"])?.to_owned(),
        head_ref: text(provider, mr, &["source_branch"])?.to_owned(),
        head_sha: text(provider, mr, &["last_commit", "id"])?.to_owned(),
        from_fork: source.is_some() && target.is_some() && source != target,
        web_url: at(mr, &["url"]).and_then(Value::as_str).map(str::to_owned),
    })
}

/// Bitbucket Cloud's `pullrequest:created` / `pullrequest:updated` (and others, as `Other`).
pub(super) fn bitbucket_cloud(event: &str, json: &Value) -> Result<PullRequest, WebhookError> {
    let provider = Provider::BitbucketCloud;
    let pr = at(json, &["pullrequest"])
        .ok_or_else(|| malformed(provider, "missing field pullrequest".into()))?;
    let repo = at(json, &["repository"])
        .ok_or_else(|| malformed(provider, "missing field repository".into()))?;
    let action = match event {
        "pullrequest:created" => PullAction::Opened,
        "pullrequest:updated" => PullAction::Updated,
        other => PullAction::Other(other.trim_start_matches("pullrequest:").to_owned()),
    };
    let full_name = text(provider, repo, &["full_name"])?.to_owned();
    let page = format!("https://bitbucket.org/{full_name}");
    let base_repo = at(pr, &["destination", "repository", "full_name"]).and_then(Value::as_str);
    let head_repo = at(pr, &["source", "repository", "full_name"]).and_then(Value::as_str);
    Ok(PullRequest {
        repo_keys: keys(
            provider,
            &[at(repo, &["links", "html", "href"]).and_then(Value::as_str), Some(&page)],
        )?,
        repo_url: format!("{page}.git"),
        full_name,
        number: number(provider, pr, &["id"])?,
        action,
        base_ref: text(provider, pr, &["destination", "branch", "name"])?.to_owned(),
        head_ref: text(provider, pr, &["source", "branch", "name"])?.to_owned(),
        head_sha: text(provider, pr, &["source", "commit", "hash"])?.to_owned(),
        from_fork: base_repo.is_some() && head_repo.is_some() && base_repo != head_repo,
        web_url: at(pr, &["links", "html", "href"]).and_then(Value::as_str).map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn github(action: &str, head_repo: &str) -> Value {
        json!({
            "action": action,
            "number": 42,
            "pull_request": {
                "number": 42,
                "html_url": "https://github.com/org/config/pull/42",
                "head": {"ref": "scale-web", "sha": "a".repeat(40), "repo": {"full_name": head_repo}},
                "base": {"ref": "main", "sha": "b".repeat(40), "repo": {"full_name": "org/config"}}
            },
            "repository": {
                "full_name": "org/config",
                "clone_url": "https://github.com/org/config.git",
                "ssh_url": "git@github.com:org/config.git",
                "html_url": "https://github.com/org/config"
            }
        })
    }

    #[test]
    fn a_github_pull_request_names_its_base_head_and_repository() {
        let pr = github_like(Provider::GitHub, &github("opened", "org/config")).unwrap();
        assert_eq!(pr.number, 42);
        assert_eq!(pr.action, PullAction::Opened);
        assert_eq!((pr.base_ref.as_str(), pr.head_ref.as_str()), ("main", "scale-web"));
        assert_eq!(pr.full_name, "org/config");
        assert!(!pr.from_fork);
        assert_eq!(pr.head_fetch_ref(Provider::GitHub), "scale-web");
        assert!(
            pr.repo_keys.contains(&RepoUrl::parse("https://github.com/org/config").unwrap().key())
        );
    }

    #[test]
    fn a_fork_is_fetched_by_the_pull_ref() {
        let pr = github_like(Provider::GitHub, &github("synchronize", "someone/config")).unwrap();
        assert!(pr.from_fork);
        assert_eq!(pr.action, PullAction::Updated);
        assert_eq!(pr.head_fetch_ref(Provider::GitHub), "refs/pull/42/head");
    }

    #[test]
    fn a_closed_or_labelled_pull_request_wants_no_plan() {
        let pr = github_like(Provider::GitHub, &github("closed", "org/config")).unwrap();
        assert!(!pr.action.wants_plan());
        assert_eq!(pr.action, PullAction::Other("closed".into()));
    }

    #[test]
    fn a_gitlab_merge_request_update_plans_only_when_commits_moved() {
        let mut body = json!({
            "object_kind": "merge_request",
            "project": {"path_with_namespace": "org/config", "git_http_url": "https://gitlab.com/org/config.git", "web_url": "https://gitlab.com/org/config"},
            "object_attributes": {
                "iid": 7, "action": "update", "oldrev": "c".repeat(40),
                "source_branch": "scale-web", "target_branch": "main",
                "source_project_id": 1, "target_project_id": 1,
                "last_commit": {"id": "d".repeat(40)}, "url": "https://gitlab.com/org/config/-/merge_requests/7"
            }
        });
        let mr = gitlab(&body).unwrap();
        assert_eq!((mr.number, mr.action.clone()), (7, PullAction::Updated));
        assert_eq!(mr.head_sha, "d".repeat(40));
        body["object_attributes"].as_object_mut().unwrap().remove("oldrev");
        assert!(!gitlab(&body).unwrap().action.wants_plan(), "a title edit is not a new head");
        body["object_attributes"]["source_project_id"] = json!(2);
        assert_eq!(
            gitlab(&body).unwrap().head_fetch_ref(Provider::GitLab),
            "refs/merge-requests/7/head"
        );
    }

    #[test]
    fn a_bitbucket_pull_request_names_its_branches_and_short_hash() {
        let body = json!({
            "repository": {"full_name": "team/config", "links": {"html": {"href": "https://bitbucket.org/team/config"}}},
            "pullrequest": {
                "id": 3,
                "links": {"html": {"href": "https://bitbucket.org/team/config/pull-requests/3"}},
                "source": {"branch": {"name": "scale-web"}, "commit": {"hash": "abcdef012345"}, "repository": {"full_name": "team/config"}},
                "destination": {"branch": {"name": "main"}, "repository": {"full_name": "team/config"}}
            }
        });
        let pr = bitbucket_cloud("pullrequest:created", &body).unwrap();
        assert_eq!((pr.number, pr.head_sha.as_str()), (3, "abcdef012345"));
        assert_eq!(pr.repo_url, "https://bitbucket.org/team/config.git");
    }

    #[test]
    fn a_payload_without_its_branches_is_malformed_and_says_which_field() {
        let mut body = github("opened", "org/config");
        body["pull_request"]["base"].as_object_mut().unwrap().remove("ref");
        let err = github_like(Provider::GitHub, &body).unwrap_err();
        assert!(
            err.to_string().contains("pull_request.base.ref")
                || err.to_string().contains("base.ref"),
            "{err}"
        );
    }
}
