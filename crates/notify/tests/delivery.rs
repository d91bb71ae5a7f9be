//! The notifier against real servers on loopback: recording HTTP servers for webhooks, chat and
//! commit-status APIs, aiosmtpd for email.

use std::collections::BTreeMap;
use std::time::Duration;

use ferry_notify::event::Commit;
use ferry_notify::payload::sign;
use ferry_notify::retry::RetryPolicy;
use ferry_notify::{AppEvent, Config, LogEntry, Notifier, Options, Outcome};
use ferry_testkit::recorder::{Recorder, Reply, Smtp};
use serde_json::{Value, json};

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const WAIT: Duration = Duration::from_secs(10);

fn options() -> Options {
    Options {
        retry: RetryPolicy {
            attempts: 4,
            base: Duration::from_millis(50),
            max: Duration::from_millis(200),
        },
        timeout: Duration::from_secs(5),
        ..Options::default()
    }
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn notifier(data: &[(&str, &str)], secret: &[(&str, &str)]) -> Notifier {
    let notifier = Notifier::start(options(), Default::default());
    let config = Config::parse(&map(data), &map(secret));
    assert_eq!(config.errors, vec![], "the test's config parses");
    notifier.set_config(config);
    notifier
}

/// A deployed app (synced and healthy at SHA) subscribed as `subscriptions` say.
fn deployed(subscriptions: &[(&str, &str)]) -> AppEvent {
    let annotations: BTreeMap<&str, &str> = subscriptions.iter().copied().collect();
    AppEvent {
        namespace: "apps".into(),
        name: "guestbook".into(),
        app: json!({
            "metadata": {"name": "guestbook", "namespace": "apps", "annotations": annotations},
            "spec": {"source": {"repoURL": "https://git.example/acme/guestbook.git"}},
            "status": {"sync": {"status": "Synced", "revision": SHA}, "health": {"status": "Healthy"},
                       "operationState": {"phase": "Succeeded", "revision": SHA, "dryRun": false, "startedAt": "2026-01-01T00:00:00Z"}},
        }),
        sync_kind: "auto".into(),
        commit: Commit {
            revision: SHA.into(),
            author: "Ada Lovelace <ada@example.com>".into(),
            message: "bump guestbook".into(),
        },
        changes: "1 configured".into(),
        deleted: false,
    }
}

async fn log_settles(notifier: &Notifier, n: usize) -> Vec<LogEntry> {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let entries = notifier.log().entries();
        if entries.len() >= n || std::time::Instant::now() > deadline {
            return entries;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn body(r: &ferry_testkit::recorder::Recorded) -> Value {
    serde_json::from_slice(&r.body).expect("a JSON body")
}

#[tokio::test]
async fn each_commit_status_provider_gets_its_exact_method_path_headers_and_json() {
    let server = Recorder::start().await.expect("a recording server");
    let base = &server.url;
    let notifier = notifier(
        &[
            ("service.github", &format!("token: $gh\nbaseURL: {base}/gh\n")),
            ("service.gitlab", &format!("token: $gl\nbaseURL: {base}/gl\n")),
            ("service.gitea", &format!("token: $gt\nbaseURL: {base}/gt\n")),
            ("service.bitbucket", &format!("token: $bb\nbaseURL: {base}/bb\n")),
            ("context", "ferryUrl: https://ferry.example\n"),
        ],
        &[("gh", "gh-token-1"), ("gl", "gl-token-2"), ("gt", "gt-token-3"), ("bb", "bb-token-4")],
    );
    notifier.observe(deployed(&[
        ("notifications.ferry.dev/subscribe.on-deployed.github", ""),
        ("notifications.ferry.dev/subscribe.on-deployed.gitlab", ""),
        ("notifications.argoproj.io/subscribe.on-deployed.gitea", ""),
        ("notifications.argoproj.io/subscribe.on-deployed.bitbucket", ""),
    ]));
    let mut requests = server.wait_for(4, WAIT).await;
    requests.sort_by(|a, b| a.path.cmp(&b.path));
    assert_eq!(requests.len(), 4);
    let url = "https://ferry.example/applications/apps/guestbook";
    let description = "guestbook: deployed 0123456";

    let bb = &requests[0];
    assert_eq!(
        (bb.method.as_str(), bb.path.as_str()),
        ("POST", &*format!("/bb/2.0/repositories/acme/guestbook/commit/{SHA}/statuses/build"))
    );
    assert_eq!(bb.header("authorization"), Some("Bearer bb-token-4"));
    assert_eq!(
        body(bb),
        json!({"key": "ferry/guestbook", "state": "SUCCESSFUL", "url": url, "description": description, "name": "ferry/guestbook"})
    );

    let gh = &requests[1];
    assert_eq!(
        (gh.method.as_str(), gh.path.as_str()),
        ("POST", &*format!("/gh/repos/acme/guestbook/statuses/{SHA}"))
    );
    assert_eq!(gh.header("authorization"), Some("Bearer gh-token-1"));
    assert_eq!(gh.header("accept"), Some("application/vnd.github+json"));
    assert_eq!(gh.header("content-type"), Some("application/json"));
    assert_eq!(
        body(gh),
        json!({"state": "success", "target_url": url, "description": description, "context": "ferry/guestbook"})
    );

    let gl = &requests[2];
    assert_eq!(
        (gl.method.as_str(), gl.path.as_str()),
        ("POST", &*format!("/gl/api/v4/projects/acme%2Fguestbook/statuses/{SHA}"))
    );
    assert_eq!(gl.header("private-token"), Some("gl-token-2"));
    assert_eq!(
        body(gl),
        json!({"state": "success", "name": "ferry/guestbook", "target_url": url, "description": description})
    );

    let gt = &requests[3];
    assert_eq!(
        (gt.method.as_str(), gt.path.as_str()),
        ("POST", &*format!("/gt/api/v1/repos/acme/guestbook/statuses/{SHA}"))
    );
    assert_eq!(gt.header("authorization"), Some("token gt-token-3"));
    assert_eq!(
        body(gt),
        json!({"state": "success", "target_url": url, "description": description, "context": "ferry/guestbook"})
    );

    let log = log_settles(&notifier, 4).await;
    assert!(
        log.iter().all(|e| e.outcome == Some(Outcome::Delivered) && e.attempts == 1),
        "{log:#?}"
    );
}

#[tokio::test]
async fn a_sink_answering_500_then_200_is_retried_and_delivered_once() {
    let server = Recorder::start().await.expect("a recording server");
    server.reply_next([Reply::status(500)]);
    let notifier =
        notifier(&[("service.webhook.ops", &format!("url: {}/hook\n", server.url))], &[]);
    let event = deployed(&[("notifications.ferry.dev/subscribe.on-deployed.ops", "")]);
    notifier.observe(event.clone());
    notifier.observe(event);
    let requests = server.wait_for(2, WAIT).await;
    let log = log_settles(&notifier, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.requests().len(), 2, "one failed attempt, one delivery, no duplicate");
    assert_eq!(requests[0].body, requests[1].body);
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0].outcome, log[0].attempts, log[0].status_code),
        (Some(Outcome::Delivered), 2, Some(200))
    );
    let sent = body(&requests[1]);
    assert_eq!(sent["trigger"], "on-deployed");
    assert_eq!(sent["revision"], SHA);
    assert_eq!(sent["author"], "Ada Lovelace <ada@example.com>");
}

#[tokio::test]
async fn too_many_requests_waits_as_long_as_retry_after_says() {
    let server = Recorder::start().await.expect("a recording server");
    server.reply_next([Reply::status(429).header("Retry-After", "1")]);
    let notifier =
        notifier(&[("service.webhook.ops", &format!("url: {}/hook\n", server.url))], &[]);
    notifier.observe(deployed(&[("notifications.ferry.dev/subscribe.on-deployed.ops", "")]));
    let requests = server.wait_for(2, WAIT).await;
    assert_eq!(requests.len(), 2);
    let waited = requests[1].at.duration_since(requests[0].at);
    assert!(waited >= Duration::from_secs(1), "retried after {waited:?}, before Retry-After");
    assert_eq!(log_settles(&notifier, 1).await[0].outcome, Some(Outcome::Delivered));
}

#[tokio::test]
async fn a_client_error_is_not_retried_and_its_echoed_token_is_masked() {
    let server = Recorder::start().await.expect("a recording server");
    server.reply_next([Reply::status(401).body("bad credentials: ghp_secret_value")]);
    let notifier = notifier(
        &[("service.github", &format!("token: $gh\nbaseURL: {}\n", server.url))],
        &[("gh", "ghp_secret_value")],
    );
    notifier.observe(deployed(&[("notifications.ferry.dev/subscribe.on-deployed.github", "")]));
    let log = log_settles(&notifier, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.requests().len(), 1);
    assert_eq!(
        (log[0].outcome, log[0].status_code, log[0].attempts),
        (Some(Outcome::Failed), Some(401), 1)
    );
    assert_eq!(log[0].error, "HTTP 401: bad credentials: ***");
    let test = notifier.test("github", "on-deployed", deployed(&[])).await;
    assert_eq!(test.outcome, Some(Outcome::Delivered), "{test:?}");
    assert!(
        !serde_json::to_string(&notifier.log().entries())
            .expect("json")
            .contains("ghp_secret_value")
    );
}

#[tokio::test]
async fn a_template_that_fails_is_a_delivery_error_in_the_log_not_a_crash() {
    let server = Recorder::start().await.expect("a recording server");
    let notifier = notifier(
        &[
            ("service.slack", &format!("webhookUrl: {}/slack\n", server.url)),
            (
                "template.broken",
                "message: hi\nslack:\n  attachments: \"[{{.app.metadata.name}}\"\n",
            ),
            ("trigger.on-broken", "- when: app.status.sync.status == 'Synced'\n  send: [broken]\n"),
        ],
        &[],
    );
    notifier.observe(deployed(&[
        ("notifications.ferry.dev/subscribe.on-broken.slack", "#deploys"),
        ("notifications.ferry.dev/subscribe.on-deployed.slack", "#deploys"),
    ]));
    let requests = server.wait_for(1, WAIT).await;
    let log = log_settles(&notifier, 2).await;
    let broken = log.iter().find(|e| e.trigger == "on-broken").expect("a log entry");
    assert_eq!(broken.outcome, Some(Outcome::Error));
    assert!(broken.error.contains("slack.attachments is not JSON"), "{}", broken.error);
    assert_eq!(requests.len(), 1, "the other trigger is still delivered");
    let slack = body(&requests[0]);
    assert_eq!(slack["channel"], "#deploys");
    assert!(
        slack["text"].as_str().is_some_and(|t| t.starts_with("guestbook: deployed 0123456")),
        "{slack}"
    );
}

#[tokio::test]
async fn a_signed_webhook_carries_an_hmac_the_receiver_verifies() {
    let server = Recorder::start().await.expect("a recording server");
    let notifier = notifier(
        &[(
            "service.webhook.ops",
            &format!(
                "url: {}/hook\nsecret: $hook-key\nheaders:\n- name: X-Team\n  value: platform\n",
                server.url
            ),
        )],
        &[("hook-key", "a-shared-key")],
    );
    notifier.observe(deployed(&[("notifications.ferry.dev/subscribe.on-deployed.ops", "")]));
    let requests = server.wait_for(1, WAIT).await;
    let r = &requests[0];
    assert_eq!(r.header("x-ferry-signature"), Some(sign("a-shared-key", &r.body).as_str()));
    assert_ne!(r.header("x-ferry-signature"), Some(sign("another-key", &r.body).as_str()));
    assert_eq!(r.header("x-team"), Some("platform"));
}

#[tokio::test]
async fn teams_gets_a_message_card_at_the_recipients_url() {
    let server = Recorder::start().await.expect("a recording server");
    let notifier = notifier(
        &[("service.teams", &format!("recipientUrls:\n  ops: {}/teams/ops\n", server.url))],
        &[],
    );
    notifier.observe(deployed(&[("notifications.ferry.dev/subscribe.on-deployed.teams", "ops")]));
    let requests = server.wait_for(1, WAIT).await;
    assert_eq!(requests[0].path, "/teams/ops");
    let card = body(&requests[0]);
    assert_eq!(card["@type"], "MessageCard");
    assert_eq!(card["title"], "guestbook: deployed 0123456");
}

#[tokio::test]
async fn an_email_arrives_at_the_smtp_server_with_subject_and_body() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let smtp = Smtp::start(dir.path()).expect("aiosmtpd (python3 -m pip install aiosmtpd)");
    let notifier = notifier(
        &[(
            "service.email",
            &format!("host: 127.0.0.1\nport: {}\nfrom: ferry@example.com\ntls: none\n", smtp.port),
        )],
        &[],
    );
    notifier.observe(deployed(&[(
        "notifications.ferry.dev/subscribe.on-deployed.email",
        "ops@example.com; dev@example.com",
    )]));
    let messages = smtp.wait_for(2, WAIT).await;
    assert_eq!(messages.len(), 2, "one email per recipient: {:#?}", notifier.log().entries());
    let message =
        messages.iter().find(|m| m.contains("X-RcptTo: ops@example.com")).expect("ops's email");
    assert!(message.contains("Subject: [ferry] guestbook: deployed 0123456"), "{message}");
    assert!(message.contains("Revision: 0123456 by Ada Lovelace <ada@example.com>"), "{message}");
    assert!(message.contains("Message: bump guestbook"), "{message}");
}

#[tokio::test]
async fn a_sink_is_sent_no_faster_than_its_rate_limit() {
    let server = Recorder::start().await.expect("a recording server");
    let notifier =
        Notifier::start(Options { rate_per_sink: 5.0, burst: 1, ..options() }, Default::default());
    let data = map(&[("service.webhook.ops", &format!("url: {}/hook\n", server.url))]);
    notifier.set_config(Config::parse(&data, &BTreeMap::new()));
    for revision in ["r1", "r2", "r3"] {
        let mut event = deployed(&[("notifications.ferry.dev/subscribe.on-deployed.ops", "")]);
        event.app["status"]["operationState"]["revision"] = json!(revision);
        event.app["status"]["sync"]["revision"] = json!(revision);
        event.commit.revision = revision.into();
        notifier.observe(event);
    }
    let requests = server.wait_for(3, WAIT).await;
    assert_eq!(requests.len(), 3, "one per revision");
    let spread = requests[2].at.duration_since(requests[0].at);
    assert!(
        spread >= Duration::from_millis(350),
        "3 sends at 5/s with a burst of 1 took {spread:?}"
    );
}
