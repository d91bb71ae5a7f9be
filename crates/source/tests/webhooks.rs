//! Webhook handlers per provider: valid, bad signature, oversized, malformed, duplicate.
#![allow(clippy::unwrap_used)] // tests may unwrap: a failure is the test failing

use ferry_source::webhook::{
    Dedupe, Headers, Provider, WebhookConfig, WebhookError, WebhookKind, parse, sign,
};
use ferry_source::{RepoPath, RepoUrl, Secret};

const SECRET: &str = "It's a Secret to Everybody";

fn config() -> WebhookConfig {
    WebhookConfig {
        github_secret: Some(Secret::new(SECRET)),
        gitlab_token: Some(Secret::new(SECRET)),
        gitea_secret: Some(Secret::new(SECRET)),
        bitbucket_secret: Some(Secret::new(SECRET)),
        generic_secret: Some(Secret::new(SECRET)),
        max_body_bytes: 64 * 1024,
    }
}

fn github_push() -> String {
    serde_json::json!({
        "ref": "refs/heads/main",
        "before": "1111111111111111111111111111111111111111",
        "after": "2222222222222222222222222222222222222222",
        "forced": false,
        "repository": {
            "clone_url": "https://github.com/acme/deploy.git",
            "ssh_url": "git@github.com:acme/deploy.git",
            "html_url": "https://github.com/acme/deploy"
        },
        "commits": [
            {"id": "a", "added": ["apps/web/new.yaml"], "modified": ["apps/web/deploy.yaml"], "removed": []},
            {"id": "b", "added": [], "modified": [], "removed": ["apps/db/old.yaml"]}
        ]
    })
    .to_string()
}

/// Headers a provider would send with `body`.
fn headers_for(
    provider: Provider,
    event: &str,
    delivery: &str,
    body: &str,
) -> Vec<(String, String)> {
    let sig = sign(SECRET, body.as_bytes());
    let pairs: Vec<(&str, String)> = match provider {
        Provider::GitHub => vec![
            ("X-GitHub-Event", event.into()),
            ("X-GitHub-Delivery", delivery.into()),
            ("X-Hub-Signature-256", sig),
        ],
        Provider::GitLab => vec![
            ("X-Gitlab-Event", event.into()),
            ("X-Gitlab-Event-UUID", delivery.into()),
            ("X-Gitlab-Token", SECRET.into()),
        ],
        Provider::Gitea => vec![
            ("X-Gitea-Event", event.into()),
            ("X-GitHub-Event", event.into()),
            ("X-Gitea-Delivery", delivery.into()),
            ("X-Gitea-Signature", sig.trim_start_matches("sha256=").into()),
        ],
        Provider::Gogs => vec![
            ("X-Gogs-Event", event.into()),
            ("X-Gogs-Delivery", delivery.into()),
            ("X-Gogs-Signature", sig.trim_start_matches("sha256=").into()),
        ],
        Provider::BitbucketCloud => vec![
            ("X-Event-Key", event.into()),
            ("X-Request-UUID", delivery.into()),
            ("X-Hub-Signature", sig),
        ],
        Provider::BitbucketServer => vec![
            ("X-Event-Key", event.into()),
            ("X-Request-Id", delivery.into()),
            ("X-Hub-Signature", sig),
        ],
        Provider::Generic => vec![
            ("X-Ferry-Event", event.into()),
            ("X-Ferry-Delivery", delivery.into()),
            ("X-Ferry-Signature", sig),
        ],
    };
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn run(
    headers: &[(String, String)],
    body: &str,
) -> Result<ferry_source::webhook::WebhookEvent, WebhookError> {
    let h = Headers::new(headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    parse(&h, body.as_bytes(), &config())
}

fn paths(list: &[&str]) -> std::collections::BTreeSet<RepoPath> {
    list.iter().map(|p| RepoPath::new(p).unwrap()).collect()
}

/// A provider, its push event name and a valid push body.
fn cases() -> Vec<(Provider, &'static str, String)> {
    let gitlab = serde_json::json!({
        "object_kind": "push",
        "ref": "refs/heads/main",
        "before": "1111111111111111111111111111111111111111",
        "after": "2222222222222222222222222222222222222222",
        "checkout_sha": "2222222222222222222222222222222222222222",
        "total_commits_count": 1,
        "project": {"git_http_url": "https://gitlab.com/acme/deploy.git", "git_ssh_url": "git@gitlab.com:acme/deploy.git", "web_url": "https://gitlab.com/acme/deploy"},
        "commits": [{"id": "a", "added": [], "modified": ["apps/web/deploy.yaml"], "removed": []}]
    });
    let gitea = serde_json::json!({
        "ref": "refs/heads/main",
        "before": "1111111111111111111111111111111111111111",
        "after": "2222222222222222222222222222222222222222",
        "total_commits": 1,
        "repository": {"clone_url": "https://gitea.example.com/acme/deploy.git", "ssh_url": "git@gitea.example.com:acme/deploy.git", "html_url": "https://gitea.example.com/acme/deploy"},
        "commits": [{"id": "a", "added": ["apps/web/deploy.yaml"], "modified": [], "removed": []}]
    });
    let bb_cloud = serde_json::json!({
        "repository": {"full_name": "acme/deploy", "links": {"html": {"href": "https://bitbucket.org/acme/deploy"}}},
        "push": {"changes": [{"new": {"type": "branch", "name": "main", "target": {"hash": "2222222222222222222222222222222222222222"}}, "old": null}]}
    });
    let bb_server = serde_json::json!({
        "eventKey": "repo:refs_changed",
        "repository": {"slug": "deploy", "project": {"key": "ACME"}, "links": {"clone": [
            {"href": "https://bitbucket.acme.internal/scm/acme/deploy.git", "name": "http"},
            {"href": "ssh://git@bitbucket.acme.internal:7999/acme/deploy.git", "name": "ssh"}
        ]}},
        "changes": [{"ref": {"id": "refs/heads/main", "displayId": "main", "type": "BRANCH"}, "fromHash": "1111111111111111111111111111111111111111", "toHash": "2222222222222222222222222222222222222222", "type": "UPDATE"}]
    });
    let generic = serde_json::json!({"repo_url": "https://git.example.com/acme/deploy.git", "ref": "refs/heads/main", "after": "2222222222222222222222222222222222222222", "changed_paths": ["apps/web/deploy.yaml"]});
    vec![
        (Provider::GitHub, "push", github_push()),
        (Provider::GitLab, "Push Hook", gitlab.to_string()),
        (Provider::Gitea, "push", gitea.to_string()),
        (Provider::Gogs, "push", gitea.to_string()),
        (Provider::BitbucketCloud, "repo:push", bb_cloud.to_string()),
        (Provider::BitbucketServer, "repo:refs_changed", bb_server.to_string()),
        (Provider::Generic, "push", generic.to_string()),
    ]
}

#[test]
fn every_provider_turns_a_signed_push_into_repo_ref_and_commit() {
    for (provider, event, body) in cases() {
        let ev = run(&headers_for(provider, event, "d-1", &body), &body)
            .unwrap_or_else(|e| panic!("{provider}: {e}"));
        assert_eq!(ev.provider, provider);
        assert_eq!(ev.delivery.as_deref(), Some("d-1"), "{provider}");
        let WebhookKind::Push(push) = ev.kind else { panic!("{provider}: not a push") };
        assert_eq!(push.refs[0].name, "refs/heads/main", "{provider}");
        assert_eq!(
            push.refs[0].after.as_deref(),
            Some("2222222222222222222222222222222222222222"),
            "{provider}"
        );
        assert!(!push.repo_keys.is_empty(), "{provider}");
    }
}

#[test]
fn a_github_push_names_the_repository_under_every_spelling_and_lists_changed_files() {
    let body = github_push();
    let ev = run(&headers_for(Provider::GitHub, "push", "d-1", &body), &body).unwrap();
    let WebhookKind::Push(push) = ev.kind else { panic!("not a push") };
    assert!(push.is_for(&RepoUrl::parse("git@github.com:acme/deploy.git").unwrap()));
    assert!(push.is_for(&RepoUrl::parse("https://github.com/acme/deploy").unwrap()));
    assert!(!push.is_for(&RepoUrl::parse("https://github.com/acme/other").unwrap()));
    assert_eq!(
        push.changed_paths,
        Some(paths(&["apps/db/old.yaml", "apps/web/deploy.yaml", "apps/web/new.yaml"]))
    );
}

#[test]
fn a_force_push_or_new_branch_has_unknown_changed_paths() {
    let mut json: serde_json::Value = serde_json::from_str(&github_push()).unwrap();
    json["forced"] = true.into();
    let body = json.to_string();
    let ev = run(&headers_for(Provider::GitHub, "push", "d-1", &body), &body).unwrap();
    let WebhookKind::Push(push) = ev.kind else { panic!("not a push") };
    assert_eq!(push.changed_paths, None);
}

#[test]
fn a_bad_signature_is_refused_for_every_provider() {
    for (provider, event, body) in cases() {
        // GitLab sends a shared token, not a signature over the body: tested below.
        if provider == Provider::GitLab {
            continue;
        }
        let headers = headers_for(provider, event, "d-1", &body);
        let tampered = body.replace("main", "evil");
        let err = run(&headers, &tampered).unwrap_err();
        assert_eq!(err, WebhookError::BadSignature { provider }, "{provider}");
    }
    let body = github_push();
    let mut headers = headers_for(Provider::GitHub, "push", "d-1", &body);
    headers.retain(|(k, _)| k != "X-Hub-Signature-256");
    assert!(matches!(run(&headers, &body), Err(WebhookError::MissingSignature { .. })));
    let mut headers = headers_for(Provider::GitLab, "Push Hook", "d-1", &body);
    headers.retain(|(k, _)| k != "X-Gitlab-Token");
    headers.push(("X-Gitlab-Token".into(), "wrong".into()));
    assert_eq!(
        run(&headers, &body),
        Err(WebhookError::BadSignature { provider: Provider::GitLab })
    );
}

#[test]
fn an_oversized_body_is_refused_before_it_is_parsed_or_verified() {
    for (provider, event, _) in cases() {
        let body = format!("{{\"x\": \"{}\"}}", "a".repeat(70 * 1024));
        let err = run(&headers_for(provider, event, "d-1", &body), &body).unwrap_err();
        assert!(matches!(err, WebhookError::TooLarge { limit: 65536, .. }), "{provider}: {err}");
    }
}

#[test]
fn a_malformed_but_signed_payload_is_an_error_naming_what_is_wrong() {
    for (provider, event, _) in cases() {
        for body in ["{not json", "[1,2,3]", "{}", r#"{"ref": 5, "repository": {}}"#] {
            let err = run(&headers_for(provider, event, "d-1", body), body).unwrap_err();
            assert!(matches!(err, WebhookError::Malformed { .. }), "{provider} {body}: {err}");
        }
    }
    let body = r#"{"ref":"refs/heads/main","before":"1111111111111111111111111111111111111111","repository":{"clone_url":"https://github.com/a/b"},"commits":[{"added":["../../etc/passwd"]}]}"#;
    let err = run(&headers_for(Provider::GitHub, "push", "d-1", body), body).unwrap_err();
    assert!(err.to_string().contains("leaves the repository"), "{err}");
}

#[test]
fn a_redelivered_event_is_reported_as_a_duplicate() {
    for (provider, event, body) in cases() {
        let mut dedupe = Dedupe::default();
        let headers = headers_for(provider, event, "same-id", &body);
        dedupe.record(&run(&headers, &body).unwrap()).unwrap();
        let again = dedupe.record(&run(&headers, &body).unwrap()).unwrap_err();
        assert_eq!(again, WebhookError::Duplicate { provider, delivery: "same-id".into() });
        let other = headers_for(provider, event, "other-id", &body);
        dedupe.record(&run(&other, &body).unwrap()).unwrap();
    }
}

#[test]
fn pings_are_recognised_and_other_events_ignored() {
    let body = r#"{"zen":"Keep it logically awesome.","hook_id":1}"#;
    let ev = run(&headers_for(Provider::GitHub, "ping", "p", body), body).unwrap();
    assert_eq!(ev.kind, WebhookKind::Ping);
    let ev =
        run(&headers_for(Provider::BitbucketServer, "diagnostics:ping", "p", body), body).unwrap();
    assert_eq!(ev.kind, WebhookKind::Ping);
    let ev = run(&headers_for(Provider::Generic, "ping", "p", "{}"), "{}").unwrap();
    assert_eq!(ev.kind, WebhookKind::Ping, "ferry webhook test pings with the generic form");
    let ev = run(&headers_for(Provider::GitLab, "Note Hook", "p", body), body).unwrap();
    assert_eq!(ev.kind, WebhookKind::Ignored { event: "Note Hook".into() });
    let err = run(&headers_for(Provider::GitLab, "Merge Request Hook", "p", body), body)
        .expect_err("a merge request event without one is malformed");
    assert!(err.to_string().contains("object_attributes"), "{err}");
}

#[test]
fn a_provider_without_a_configured_secret_is_refused() {
    let body = github_push();
    let headers = headers_for(Provider::GitHub, "push", "d", &body);
    let h = Headers::new(headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let err = parse(&h, body.as_bytes(), &WebhookConfig::default()).unwrap_err();
    assert_eq!(err, WebhookError::NotConfigured { provider: Provider::GitHub });
    let err =
        parse(&Headers::new([("Content-Type", "application/json")]), b"{}", &config()).unwrap_err();
    assert_eq!(err, WebhookError::UnknownProvider);
}
