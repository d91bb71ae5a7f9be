//! Signed sample deliveries in each provider's own form, for `ferry webhook test`: a ping (or,
//! for providers without one, an event Ferry ignores) when no repository is named, else a push of
//! `reference` in that repository. They pass the same [`super::parse`] a real delivery does.

use serde_json::{Value, json};

use super::Provider;
use super::verify::sign;

/// A delivery: headers and body.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A delivery from `provider` signed with `secret` (`id` is its delivery id).
pub fn sample_delivery(
    provider: Provider,
    secret: &str,
    repo_url: Option<&str>,
    reference: &str,
    id: &str,
) -> Delivery {
    let (event, body) = match repo_url {
        Some(url) => (push_event(provider), push_body(provider, url, reference)),
        None => (ping_event(provider), json!({"zen": "ferry webhook test", "hook_id": 0})),
    };
    let body = body.to_string().into_bytes();
    let signature = sign(secret, &body);
    let bare = signature.trim_start_matches("sha256=").to_owned();
    let pairs: Vec<(&str, String)> = match provider {
        Provider::GitHub => vec![
            ("X-GitHub-Event", event.into()),
            ("X-GitHub-Delivery", id.into()),
            ("X-Hub-Signature-256", signature),
        ],
        Provider::GitLab => vec![
            ("X-Gitlab-Event", event.into()),
            ("X-Gitlab-Event-UUID", id.into()),
            ("X-Gitlab-Token", secret.into()),
        ],
        Provider::Gitea => vec![
            ("X-Gitea-Event", event.into()),
            ("X-Gitea-Delivery", id.into()),
            ("X-Gitea-Signature", bare),
        ],
        Provider::Gogs => vec![
            ("X-Gogs-Event", event.into()),
            ("X-Gogs-Delivery", id.into()),
            ("X-Gogs-Signature", bare),
        ],
        Provider::BitbucketCloud | Provider::BitbucketServer => vec![
            ("X-Event-Key", event.into()),
            ("X-Request-Id", id.into()),
            ("X-Hub-Signature", signature),
        ],
        Provider::Generic => vec![
            ("X-Ferry-Event", event.into()),
            ("X-Ferry-Delivery", id.into()),
            ("X-Ferry-Signature", signature),
        ],
    };
    let mut headers: Vec<(String, String)> =
        pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    headers.push(("Content-Type".into(), "application/json".into()));
    Delivery { headers, body }
}

fn ping_event(provider: Provider) -> &'static str {
    match provider {
        Provider::GitHub | Provider::Generic | Provider::Gitea | Provider::Gogs => "ping",
        Provider::BitbucketCloud | Provider::BitbucketServer => "diagnostics:ping",
        // GitLab has no ping; its "test" button sends a push. A system hook is authenticated
        // and then ignored, which is what a test without a repository needs.
        Provider::GitLab => "System Hook",
    }
}

fn push_event(provider: Provider) -> &'static str {
    match provider {
        Provider::GitHub | Provider::Gitea | Provider::Gogs | Provider::Generic => "push",
        Provider::GitLab => "Push Hook",
        Provider::BitbucketCloud | Provider::BitbucketServer => "repo:refs_changed",
    }
}

fn push_body(provider: Provider, url: &str, reference: &str) -> Value {
    match provider {
        Provider::GitHub | Provider::Gitea | Provider::Gogs => json!({
            "ref": reference,
            "repository": {"clone_url": url},
            "commits": [],
        }),
        Provider::GitLab => json!({
            "object_kind": "push",
            "ref": reference,
            "project": {"git_http_url": url},
            "commits": [],
        }),
        Provider::BitbucketCloud | Provider::BitbucketServer => json!({
            "eventKey": "repo:refs_changed",
            "repository": {"links": {"clone": [{"href": url, "name": "http"}]}},
            "changes": [{"ref": {"id": reference}, "type": "UPDATE"}],
        }),
        Provider::Generic => json!({"repo_url": url, "ref": reference}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::Secret;
    use crate::webhook::{Headers, WebhookConfig, WebhookKind, parse};

    const PROVIDERS: [Provider; 5] = [
        Provider::GitHub,
        Provider::GitLab,
        Provider::Gitea,
        Provider::BitbucketServer,
        Provider::Generic,
    ];

    fn parsed(d: &Delivery, secret: &str) -> Result<WebhookKind, crate::webhook::WebhookError> {
        let s = Some(Secret::new(secret));
        let config = WebhookConfig {
            github_secret: s.clone(),
            gitlab_token: s.clone(),
            gitea_secret: s.clone(),
            bitbucket_secret: s.clone(),
            generic_secret: s,
            ..Default::default()
        };
        let headers = Headers::new(d.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        parse(&headers, &d.body, &config).map(|e| e.kind)
    }

    #[test]
    fn every_sample_push_parses_as_a_push_of_that_repository_and_ref() {
        for provider in PROVIDERS {
            let url = "https://git.example.com/acme/deploy.git";
            let d = sample_delivery(provider, "s3", Some(url), "refs/heads/main", "t-1");
            let Ok(WebhookKind::Push(push)) = parsed(&d, "s3") else {
                panic!("{provider}: {:?}", parsed(&d, "s3"));
            };
            assert_eq!(push.repo_keys, ["git.example.com/acme/deploy"], "{provider}");
            assert_eq!(push.refs[0].name, "refs/heads/main", "{provider}");
        }
    }

    #[test]
    fn every_sample_without_a_repository_is_authenticated_and_triggers_nothing() {
        for provider in PROVIDERS {
            let d = sample_delivery(provider, "s3", None, "refs/heads/main", "t-2");
            let kind = parsed(&d, "s3").unwrap_or_else(|e| panic!("{provider}: {e}"));
            assert!(!matches!(kind, WebhookKind::Push(_)), "{provider}: {kind:?}");
        }
    }

    #[test]
    fn a_sample_signed_with_another_secret_is_refused() {
        for provider in PROVIDERS {
            let d = sample_delivery(provider, "old", None, "refs/heads/main", "t-3");
            assert!(parsed(&d, "new").is_err(), "{provider}");
        }
    }
}
