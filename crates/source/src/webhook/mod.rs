//! Webhooks as library functions: headers and a body in, a verified event out.
//!
//! # Guarantees
//! - The body size is checked before anything else looks at it (the HTTP layer must also stop
//!   reading at [`WebhookConfig::max_body_bytes`]).
//! - The signature or token is verified, in constant time, before the body is parsed; a provider
//!   without a configured secret is refused (fail closed).
//! - Malformed payloads are an error naming the field, never a panic.
//!
//! The HTTP endpoint lives in the API crate; it calls [`parse`] and then [`Dedupe::record`].

mod dedupe;
mod payload;
mod pull;
mod sample;
mod verify;

use std::collections::BTreeSet;

pub use dedupe::Dedupe;
pub use pull::{PullAction, PullRequest};
pub use sample::{Delivery, sample_delivery};
pub use verify::sign;

use crate::credentials::Secret;
use crate::tree::RepoPath;
use crate::url::RepoUrl;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Provider {
    GitHub,
    GitLab,
    Gitea,
    Gogs,
    BitbucketCloud,
    BitbucketServer,
    /// Ferry's own form: `X-Ferry-Signature: sha256=<hmac>` over a small JSON body.
    Generic,
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Provider::GitHub => "GitHub",
            Provider::GitLab => "GitLab",
            Provider::Gitea => "Gitea",
            Provider::Gogs => "Gogs",
            Provider::BitbucketCloud => "Bitbucket Cloud",
            Provider::BitbucketServer => "Bitbucket Server",
            Provider::Generic => "generic",
        };
        f.write_str(name)
    }
}

/// Secrets per provider and the body cap. A provider with no secret is refused.
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    pub github_secret: Option<Secret>,
    pub gitlab_token: Option<Secret>,
    /// Used for both Gitea and Gogs.
    pub gitea_secret: Option<Secret>,
    /// Used for both Bitbucket Cloud and Bitbucket Server (`X-Hub-Signature`).
    pub bitbucket_secret: Option<Secret>,
    pub generic_secret: Option<Secret>,
    pub max_body_bytes: usize,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            github_secret: None,
            gitlab_token: None,
            gitea_secret: None,
            bitbucket_secret: None,
            generic_secret: None,
            // GitHub caps payloads at 25 MB; real pushes are far smaller and 4 MiB keeps a flood
            // of bodies from exhausting memory.
            max_body_bytes: 4 << 20,
        }
    }
}

/// One ref that moved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefUpdate {
    /// Full ref name: `refs/heads/main`, `refs/tags/v1.2.0`.
    pub name: String,
    /// The new commit, `None` when the ref was deleted or the payload does not say.
    pub after: Option<String>,
}

/// A verified push.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Push {
    /// Normalised keys ([`RepoUrl::key`]) of every URL the payload names for the repository.
    pub repo_keys: Vec<String>,
    pub refs: Vec<RefUpdate>,
    /// Files touched, when the payload lists all of them; `None` means "unknown, assume any".
    pub changed_paths: Option<BTreeSet<RepoPath>>,
}

impl Push {
    /// Whether this push is about the repository at `url`.
    pub fn is_for(&self, url: &RepoUrl) -> bool {
        let key = url.key();
        self.repo_keys.contains(&key)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WebhookKind {
    /// The provider checking that the hook works.
    Ping,
    Push(Push),
    /// A pull request (merge request) opened, updated or otherwise changed: a plan is due.
    PullRequest(PullRequest),
    /// A verified event Ferry does not act on (issues, comments, ...).
    Ignored {
        event: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookEvent {
    pub provider: Provider,
    /// The provider's delivery id, used to drop redeliveries.
    pub delivery: Option<String>,
    pub kind: WebhookKind,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WebhookError {
    #[error("webhook body is {size} bytes, over the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error(
        "webhook: no known provider headers (X-GitHub-Event, X-Gitlab-Event, X-Gitea-Event, X-Gogs-Event, X-Event-Key or X-Ferry-Signature)"
    )]
    UnknownProvider,
    #[error("{provider} webhook: no secret is configured for this provider, refusing")]
    NotConfigured { provider: Provider },
    #[error("{provider} webhook: missing header {header}")]
    MissingSignature { provider: Provider, header: &'static str },
    #[error("{provider} webhook: signature does not match")]
    BadSignature { provider: Provider },
    #[error("{provider} webhook: malformed payload: {message}")]
    Malformed { provider: Provider, message: String },
    #[error("{provider} webhook: delivery {delivery} was already processed")]
    Duplicate { provider: Provider, delivery: String },
}

/// Header lookup, case-insensitive, over whatever header representation the caller has.
pub struct Headers<'a> {
    pairs: Vec<(String, &'a str)>,
}

impl<'a> Headers<'a> {
    pub fn new(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self { pairs: pairs.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect() }
    }

    pub fn get(&self, name: &str) -> Option<&'a str> {
        let name = name.to_ascii_lowercase();
        self.pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.trim())
    }
}

fn detect(headers: &Headers<'_>) -> Result<Provider, WebhookError> {
    // Gitea also sends X-Gogs-* and X-GitHub-* headers for compatibility: check it first.
    Ok(if headers.get("x-gitea-event").is_some() {
        Provider::Gitea
    } else if headers.get("x-gogs-event").is_some() {
        Provider::Gogs
    } else if headers.get("x-github-event").is_some() {
        Provider::GitHub
    } else if headers.get("x-gitlab-event").is_some() {
        Provider::GitLab
    } else if let Some(key) = headers.get("x-event-key") {
        if key.starts_with("repo:refs_changed")
            || key.starts_with("diagnostics:")
            || headers.get("x-request-id").is_some()
        {
            Provider::BitbucketServer
        } else {
            Provider::BitbucketCloud
        }
    } else if headers.get("x-ferry-signature").is_some() {
        Provider::Generic
    } else {
        return Err(WebhookError::UnknownProvider);
    })
}

/// Verifies and parses one webhook delivery.
pub fn parse(
    headers: &Headers<'_>,
    body: &[u8],
    config: &WebhookConfig,
) -> Result<WebhookEvent, WebhookError> {
    if body.len() > config.max_body_bytes {
        return Err(WebhookError::TooLarge { size: body.len(), limit: config.max_body_bytes });
    }
    let provider = detect(headers)?;
    verify::authenticate(provider, headers, body, config)?;
    let delivery = match provider {
        Provider::GitHub => headers.get("x-github-delivery"),
        Provider::GitLab => {
            headers.get("x-gitlab-event-uuid").or_else(|| headers.get("idempotency-key"))
        }
        Provider::Gitea => headers.get("x-gitea-delivery"),
        Provider::Gogs => headers.get("x-gogs-delivery"),
        Provider::BitbucketCloud => {
            headers.get("x-request-uuid").or_else(|| headers.get("x-hook-uuid"))
        }
        Provider::BitbucketServer => headers.get("x-request-id"),
        Provider::Generic => headers.get("x-ferry-delivery"),
    }
    .filter(|d| !d.is_empty())
    .map(str::to_owned);
    let kind = payload::interpret(provider, headers, body)?;
    Ok(WebhookEvent { provider, delivery, kind })
}
