//! The registry client against a real registry: Debian's `docker-registry` (distribution 2.8)
//! on 127.0.0.1 with a port chosen at runtime, images pushed through the registry HTTP API.

mod support;

use ferry_image::policy::{ImagePolicy, Policy};
use ferry_image::registry::{Credentials, RegistryClient, RegistryConfig, RegistryError};
use support::registry::*;

fn client(host: &str, tune: impl FnOnce(RegistryConfig) -> RegistryConfig) -> RegistryClient {
    RegistryClient::new(tune(RegistryConfig::default().plain_http(host))).expect("client")
}

#[tokio::test]
async fn tags_are_listed_across_pages_and_the_policy_picks_the_newest_in_range() {
    let registry = start_registry();
    let pushed = ["1.0.0", "1.2.0", "1.10.0", "2.0.0-rc.1", "latest"];
    for tag in pushed {
        push_image(&registry.host, "team/app", tag).await;
    }
    let image = format!("{}/team/app", registry.host);

    let tags = client(&registry.host, |config| RegistryConfig { page_size: 2, ..config })
        .list_tags(&image, None)
        .await
        .expect("tags listed");

    let mut sorted = tags.clone();
    sorted.sort();
    let mut expected: Vec<String> = pushed.iter().map(|t| t.to_string()).collect();
    expected.sort();
    assert_eq!(sorted, expected);
    let policy = ImagePolicy { filter_tags: None, policy: Policy::Semver { range: "^1".into() } }
        .compile()
        .expect("valid");
    assert_eq!(policy.choose(&tags), Some("1.10.0"));
}

#[tokio::test]
async fn a_huge_tag_list_is_an_error_not_a_truncated_list() {
    let registry = start_registry();
    for tag in ["a", "b", "c", "d"] {
        push_image(&registry.host, "app", tag).await;
    }
    let image = format!("{}/app", registry.host);
    let error =
        client(&registry.host, |config| RegistryConfig { page_size: 2, max_tags: 3, ..config })
            .list_tags(&image, None)
            .await
            .expect_err("bounded");
    assert!(matches!(error, RegistryError::TooManyTags { max: 3, .. }), "{error}");
}

#[tokio::test]
async fn an_unknown_repository_is_an_error_naming_the_url() {
    let registry = start_registry();
    let image = format!("{}/nobody/here", registry.host);
    let error =
        client(&registry.host, |config| config).list_tags(&image, None).await.expect_err("404");
    let message = error.to_string();
    assert!(matches!(error, RegistryError::Status { status: 404, .. }), "{message}");
    assert!(message.contains("/v2/nobody/here/tags/list"), "{message}");
}

#[tokio::test]
async fn a_registry_that_returns_garbage_or_too_much_is_an_error() {
    let garbage = garbage_server(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot json!");
    let error = client(&garbage, |config| config)
        .list_tags(&format!("{garbage}/app"), None)
        .await
        .expect_err("garbage");
    assert!(matches!(error, RegistryError::Garbage { .. }), "{error}");

    let huge = garbage_server(
        b"HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\nConnection: close\r\n\r\n{\"name\":",
    );
    let error = client(&huge, |config| config)
        .list_tags(&format!("{huge}/app"), None)
        .await
        .expect_err("too large");
    assert!(matches!(error, RegistryError::TooLarge { .. }), "{error}");
}

#[tokio::test]
async fn creation_times_and_digests_come_from_the_registry_for_newest_and_pinning() {
    let registry = start_registry();
    let older = push_image_created(&registry.host, "app", "zzz-old", "2025-05-01T10:00:00Z").await;
    let newer = push_image_created(&registry.host, "app", "aaa-new", "2026-02-01T10:00:00Z").await;
    let client = client(&registry.host, |config| config);
    let mut session = client.session(&format!("{}/app", registry.host), None, false);
    let tags = session.tags().await.expect("tags");
    let policy: ImagePolicy = serde_json::from_value(serde_json::json!({"policy": {"newest": {}}}))
        .expect("a valid policy");
    let compiled = policy.compile().expect("compiles");
    let mut created = Vec::new();
    for tag in compiled.candidates(&tags) {
        created.push((tag, session.created(tag).await.expect("a creation time")));
    }
    // Alphabetically `zzz-old` would win; by build time `aaa-new` does.
    assert_eq!(compiled.choose_newest(&created), Some("aaa-new"));
    assert_eq!(session.digest("aaa-new").await.expect("digest"), newer);
    assert_eq!(session.digest("zzz-old").await.expect("digest"), older);
    assert_ne!(older, newer);
}

#[tokio::test]
async fn the_token_flow_gets_a_token_with_the_account_and_reuses_it_across_requests() {
    let token = start_token_registry("bot", "t0ken-pw");
    let host = token.registry.host.clone();
    let push =
        fetch_token(&token.token_host, &basic("bot", "t0ken-pw"), "repository:app:pull,push").await;
    let bearer = format!("Bearer {push}");
    let digest = push_image_as(&host, Some(&bearer), "app", "1.0.0", "2026-01-01T00:00:00Z").await;
    push_image_as(&host, Some(&bearer), "app", "1.1.0", "2026-01-02T00:00:00Z").await;
    let before = token.issued.load(std::sync::atomic::Ordering::SeqCst);

    let client = client(&host, |config| config);
    let account = Credentials { username: "bot".into(), password: "t0ken-pw".into() };
    let mut session = client.session(&format!("{host}/app"), Some(account), false);
    let mut tags = session.tags().await.expect("tags with a token");
    tags.sort();
    assert_eq!(tags, ["1.0.0", "1.1.0"]);
    assert_eq!(session.digest("1.0.0").await.expect("digest with the same token"), digest);
    let issued = token.issued.load(std::sync::atomic::Ordering::SeqCst) - before;
    assert_eq!(issued, 1, "one token for the session");

    let wrong = Credentials { username: "bot".into(), password: "wrong".into() };
    let error = client
        .list_tags(&format!("{host}/app"), Some(&wrong))
        .await
        .expect_err("a wrong password gets no token")
        .to_string();
    assert!(error.contains(&format!("http://{}/token", token.token_host)), "{error}");
    assert!(error.contains("401"), "{error}");
    assert!(!error.contains("wrong"), "the password leaked: {error}");
}
