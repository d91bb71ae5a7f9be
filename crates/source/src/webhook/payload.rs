//! Reading each provider's (already authenticated) payload into a [`WebhookKind`].

use std::collections::BTreeSet;

use serde_json::Value;

use super::{Headers, Provider, Push, RefUpdate, WebhookError, WebhookKind, pull};
use crate::tree::RepoPath;
use crate::url::RepoUrl;

/// GitHub and GitLab include at most 20 commits in a push payload; with that many the list may
/// be truncated and the changed paths are unknown.
const PAYLOAD_COMMIT_CAP: usize = 20;

const ZERO_SHA: &str = "0000000000000000000000000000000000000000";

pub(super) fn interpret(
    provider: Provider,
    headers: &Headers<'_>,
    body: &[u8],
) -> Result<WebhookKind, WebhookError> {
    let event = match provider {
        Provider::GitHub => headers.get("x-github-event"),
        Provider::GitLab => headers.get("x-gitlab-event"),
        Provider::Gitea => headers.get("x-gitea-event"),
        Provider::Gogs => headers.get("x-gogs-event"),
        Provider::BitbucketCloud | Provider::BitbucketServer => headers.get("x-event-key"),
        // Ferry's own form is a push unless it says otherwise (`ferry webhook test` pings).
        Provider::Generic => Some(headers.get("x-ferry-event").unwrap_or("push")),
    }
    .unwrap_or_default();
    match (provider, event) {
        (Provider::GitHub | Provider::Generic, "ping")
        | (Provider::BitbucketServer, "diagnostics:ping") => {
            return Ok(WebhookKind::Ping);
        }
        (Provider::GitHub | Provider::Gitea | Provider::Gogs, "push")
        | (Provider::GitLab, "Push Hook" | "Tag Push Hook")
        | (Provider::BitbucketCloud, "repo:push")
        | (Provider::BitbucketServer, "repo:refs_changed")
        | (Provider::Generic, "push") => {}
        (Provider::GitHub | Provider::Gitea, "pull_request")
        | (Provider::GitLab, "Merge Request Hook") => {
            let json = object(provider, body)?;
            return Ok(WebhookKind::PullRequest(match provider {
                Provider::GitLab => pull::gitlab(&json)?,
                _ => pull::github_like(provider, &json)?,
            }));
        }
        (Provider::BitbucketCloud, key) if key.starts_with("pullrequest:") => {
            let json = object(provider, body)?;
            return Ok(WebhookKind::PullRequest(pull::bitbucket_cloud(key, &json)?));
        }
        (_, other) => return Ok(WebhookKind::Ignored { event: other.to_owned() }),
    }
    let json = object(provider, body)?;
    let push = match provider {
        Provider::GitHub | Provider::Gitea | Provider::Gogs => github_like(provider, &json)?,
        Provider::GitLab => gitlab(&json)?,
        Provider::BitbucketCloud => bitbucket_cloud(&json)?,
        Provider::BitbucketServer => bitbucket_server(&json)?,
        Provider::Generic => generic(&json)?,
    };
    Ok(WebhookKind::Push(push))
}

/// The body as a JSON object, or an error saying why not.
fn object(provider: Provider, body: &[u8]) -> Result<Value, WebhookError> {
    let json: Value =
        serde_json::from_slice(body).map_err(|e| malformed(provider, format!("not JSON: {e}")))?;
    if !json.is_object() {
        return Err(malformed(provider, "the body is not a JSON object".into()));
    }
    Ok(json)
}

fn malformed(provider: Provider, message: String) -> WebhookError {
    WebhookError::Malformed { provider, message }
}

/// `json.a.b.c` as a string, or an error naming the field.
fn str_at<'a>(provider: Provider, json: &'a Value, path: &[&str]) -> Result<&'a str, WebhookError> {
    let mut v = json;
    for key in path {
        v = v
            .get(key)
            .ok_or_else(|| malformed(provider, format!("missing field {}", path.join("."))))?;
    }
    v.as_str()
        .ok_or_else(|| malformed(provider, format!("field {} is not a string", path.join("."))))
}

fn opt_str<'a>(json: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut v = json;
    for key in path {
        v = v.get(key)?;
    }
    v.as_str()
}

/// Keys of the URLs that parse; at least one is required.
fn repo_keys(provider: Provider, urls: &[Option<&str>]) -> Result<Vec<String>, WebhookError> {
    let mut keys: Vec<String> =
        urls.iter().flatten().filter_map(|u| RepoUrl::parse(u).ok()).map(|u| u.key()).collect();
    keys.sort();
    keys.dedup();
    if keys.is_empty() {
        return Err(malformed(provider, "no repository URL in the payload".into()));
    }
    Ok(keys)
}

fn after(sha: Option<&str>) -> Option<String> {
    sha.filter(|s| !s.is_empty() && *s != ZERO_SHA).map(str::to_owned)
}

/// Union of added/modified/removed over `commits`, or `None` when the list may be incomplete.
fn commit_paths(
    provider: Provider,
    commits: Option<&Value>,
    total: Option<u64>,
) -> Result<Option<BTreeSet<RepoPath>>, WebhookError> {
    let Some(commits) = commits else { return Ok(None) };
    let commits = commits
        .as_array()
        .ok_or_else(|| malformed(provider, "field commits is not a list".into()))?;
    if commits.is_empty()
        || commits.len() >= PAYLOAD_COMMIT_CAP
        || total.is_some_and(|t| t as usize > commits.len())
    {
        return Ok(None);
    }
    let mut out = BTreeSet::new();
    for commit in commits {
        for field in ["added", "modified", "removed"] {
            let Some(list) = commit.get(field) else { continue };
            let list = list.as_array().ok_or_else(|| {
                malformed(provider, format!("field commits[].{field} is not a list"))
            })?;
            for p in list {
                let p = p.as_str().ok_or_else(|| {
                    malformed(provider, format!("commits[].{field} holds a non-string"))
                })?;
                let path = RepoPath::new(p)
                    .map_err(|e| malformed(provider, format!("commits[].{field}: {e}")))?;
                out.insert(path);
            }
        }
    }
    Ok(Some(out))
}

fn github_like(provider: Provider, json: &Value) -> Result<Push, WebhookError> {
    let name = str_at(provider, json, &["ref"])?.to_owned();
    let repo = json
        .get("repository")
        .ok_or_else(|| malformed(provider, "missing field repository".into()))?;
    let repo_keys = repo_keys(
        provider,
        &[
            opt_str(repo, &["clone_url"]),
            opt_str(repo, &["ssh_url"]),
            opt_str(repo, &["html_url"]),
            opt_str(repo, &["git_url"]),
        ],
    )?;
    let before = opt_str(json, &["before"]);
    let forced = json.get("forced").and_then(Value::as_bool).unwrap_or(false);
    // A new branch, a deleted one or a force-push: the commit list does not describe the diff.
    let changed_paths = if forced
        || before.is_none_or(|b| b == ZERO_SHA)
        || json.get("deleted").and_then(Value::as_bool) == Some(true)
    {
        None
    } else {
        let total = json.get("total_commits").and_then(Value::as_u64);
        commit_paths(provider, json.get("commits"), total)?
    };
    Ok(Push {
        repo_keys,
        refs: vec![RefUpdate { name, after: after(opt_str(json, &["after"])) }],
        changed_paths,
    })
}

fn gitlab(json: &Value) -> Result<Push, WebhookError> {
    let provider = Provider::GitLab;
    let name = str_at(provider, json, &["ref"])?.to_owned();
    let project = json.get("project").or_else(|| json.get("repository"));
    let project = project.ok_or_else(|| malformed(provider, "missing field project".into()))?;
    let repo_keys = repo_keys(
        provider,
        &[
            opt_str(project, &["git_http_url"]),
            opt_str(project, &["git_ssh_url"]),
            opt_str(project, &["web_url"]),
            opt_str(project, &["homepage"]),
        ],
    )?;
    let before = opt_str(json, &["before"]);
    let changed_paths = if before.is_none_or(|b| b == ZERO_SHA) {
        None
    } else {
        let total = json.get("total_commits_count").and_then(Value::as_u64);
        commit_paths(provider, json.get("commits"), total)?
    };
    let sha = opt_str(json, &["checkout_sha"]).or_else(|| opt_str(json, &["after"]));
    Ok(Push { repo_keys, refs: vec![RefUpdate { name, after: after(sha) }], changed_paths })
}

fn bitbucket_cloud(json: &Value) -> Result<Push, WebhookError> {
    let provider = Provider::BitbucketCloud;
    let repo = json
        .get("repository")
        .ok_or_else(|| malformed(provider, "missing field repository".into()))?;
    let full_name = opt_str(repo, &["full_name"]).map(|n| format!("https://bitbucket.org/{n}"));
    let repo_keys =
        repo_keys(provider, &[opt_str(repo, &["links", "html", "href"]), full_name.as_deref()])?;
    let changes = json
        .get("push")
        .and_then(|p| p.get("changes"))
        .and_then(Value::as_array)
        .ok_or_else(|| malformed(provider, "missing list push.changes".into()))?;
    let mut refs = Vec::new();
    for change in changes {
        // `new` is null when a branch is deleted; then `old` names it.
        let side = change.get("new").filter(|v| !v.is_null()).or_else(|| change.get("old"));
        let Some(side) = side.filter(|v| !v.is_null()) else {
            return Err(malformed(provider, "push.changes[] has neither new nor old".into()));
        };
        let kind = str_at(provider, side, &["type"])?;
        let name = str_at(provider, side, &["name"])?;
        let prefix =
            if kind == "tag" || kind == "annotated_tag" { "refs/tags/" } else { "refs/heads/" };
        let hash = change
            .get("new")
            .filter(|v| !v.is_null())
            .and_then(|n| opt_str(n, &["target", "hash"]));
        refs.push(RefUpdate { name: format!("{prefix}{name}"), after: after(hash) });
    }
    Ok(Push { repo_keys, refs, changed_paths: None })
}

fn bitbucket_server(json: &Value) -> Result<Push, WebhookError> {
    let provider = Provider::BitbucketServer;
    let repo = json
        .get("repository")
        .ok_or_else(|| malformed(provider, "missing field repository".into()))?;
    let clone_links: Vec<Option<&str>> = repo
        .get("links")
        .and_then(|l| l.get("clone"))
        .and_then(Value::as_array)
        .map(|links| links.iter().map(|l| opt_str(l, &["href"])).collect())
        .unwrap_or_default();
    let repo_keys = repo_keys(provider, &clone_links)?;
    let changes = json
        .get("changes")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed(provider, "missing list changes".into()))?;
    let mut refs = Vec::new();
    for change in changes {
        let name = str_at(provider, change, &["ref", "id"])?.to_owned();
        refs.push(RefUpdate { name, after: after(opt_str(change, &["toHash"])) });
    }
    Ok(Push { repo_keys, refs, changed_paths: None })
}

/// `{"repo_url": "...", "ref": "refs/heads/main", "after": "<sha>", "changed_paths": [..]}`.
fn generic(json: &Value) -> Result<Push, WebhookError> {
    let provider = Provider::Generic;
    let url = str_at(provider, json, &["repo_url"])?;
    let url = RepoUrl::parse(url).map_err(|e| malformed(provider, format!("repo_url: {e}")))?;
    let name = str_at(provider, json, &["ref"])?.to_owned();
    let changed_paths = match json.get("changed_paths") {
        None | Some(Value::Null) => None,
        Some(Value::Array(list)) => {
            let mut out = BTreeSet::new();
            for p in list {
                let p = p.as_str().ok_or_else(|| {
                    malformed(provider, "changed_paths holds a non-string".into())
                })?;
                out.insert(
                    RepoPath::new(p)
                        .map_err(|e| malformed(provider, format!("changed_paths: {e}")))?,
                );
            }
            Some(out)
        }
        Some(_) => return Err(malformed(provider, "changed_paths is not a list".into())),
    };
    Ok(Push {
        repo_keys: vec![url.key()],
        refs: vec![RefUpdate { name, after: after(opt_str(json, &["after"])) }],
        changed_paths,
    })
}
