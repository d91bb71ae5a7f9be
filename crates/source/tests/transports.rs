//! Authenticated transports (smart HTTP with basic auth, SSH with a pinned host key) and the
//! `ferry repo check` function, against real servers.
#![allow(clippy::unwrap_used)] // tests may unwrap: a failure is the test failing

mod common;

use common::Sandbox;
use common::{HttpGit, Sshd};
use ferry_source::{
    CacheError, CheckArgs, Credentials, FailureKind, Limits, RepoCache, RepoUrl, Secret, check,
};

const PASSWORD: &str = "correct-horse-battery";

fn published(sandbox: &Sandbox) -> std::path::PathBuf {
    let work = sandbox.work_repo("podinfo", "podinfo/kustomize");
    sandbox.git(&work, &["tag", "-a", "v6.0.0", "-m", "six"]);
    sandbox.commit_file(&work, "apps/patch.yaml", "kind: ConfigMap\n", "patch");
    sandbox.git(&work, &["tag", "v6.1.0"]);
    sandbox.publish(&work, "podinfo");
    work
}

#[tokio::test]
async fn repo_check_against_git_daemon_matches_git_rev_parse() {
    let sandbox = Sandbox::new();
    let work = published(&sandbox);
    let daemon = common::daemon(&sandbox);
    let head = sandbox.git(&work, &["rev-parse", "HEAD"]);
    let first = sandbox.git(&work, &["rev-parse", "v6.0.0^{commit}"]);
    for (revision, expected) in [
        (None, head.clone()),
        (Some("main"), head.clone()),
        (Some("v6.0.0"), first.clone()),
        (Some(&first[..7]), first.clone()),
        (Some(">=6.0 <6.1"), first.clone()),
        (Some("~6"), head.clone()),
    ] {
        let args = CheckArgs {
            url: daemon.url("podinfo.git"),
            revision: revision.map(str::to_owned),
            ..Default::default()
        };
        let commit = check(&args).await.unwrap_or_else(|e| panic!("{revision:?}: {e}"));
        assert_eq!(commit.as_str(), expected, "revision {revision:?}");
    }
}

#[tokio::test]
async fn smart_http_with_basic_auth_fetches_with_the_right_password() {
    let sandbox = Sandbox::new();
    let work = published(&sandbox);
    let server = HttpGit::start(&sandbox.served(), "alice", PASSWORD);
    let url = RepoUrl::parse(&server.url("podinfo.git")).unwrap();
    let cache = RepoCache::new(sandbox.path().join("cache"), Limits::default()).unwrap();
    let creds = Credentials::Basic { username: "alice".into(), password: Secret::new(PASSWORD) };
    let outcome = cache.fetch(&url, &creds, "main").await.unwrap();
    assert_eq!(outcome.commit.as_str(), sandbox.git(&work, &["rev-parse", "HEAD"]));

    let password_file = sandbox.path().join("password");
    std::fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
    let args = CheckArgs {
        url: server.url("podinfo.git"),
        revision: Some("v6.0.0".into()),
        username: Some("alice".into()),
        password_file: Some(password_file),
        ..Default::default()
    };
    assert_eq!(
        check(&args).await.unwrap().as_str(),
        sandbox.git(&work, &["rev-parse", "v6.0.0^{commit}"])
    );
}

#[tokio::test]
async fn a_wrong_password_fails_readably_without_showing_any_secret() {
    let sandbox = Sandbox::new();
    published(&sandbox);
    let server = HttpGit::start(&sandbox.served(), "alice", PASSWORD);
    let cache = RepoCache::new(sandbox.path().join("cache"), Limits::default()).unwrap();
    let wrong = "wrong-but-secret-password";
    let creds = Credentials::Basic { username: "alice".into(), password: Secret::new(wrong) };
    let url = RepoUrl::parse(&server.url("podinfo.git")).unwrap();
    let err = cache.fetch(&url, &creds, "main").await.unwrap_err();
    let text = format!("{err} {err:?}");
    eprintln!("wrong password: {err}");
    assert!(!text.contains(wrong), "{text}");
    assert!(matches!(&err, CacheError::Git(g) if g.kind() == Some(FailureKind::Auth)), "{text}");
    assert!(!err.is_retryable());
    // The same with the password embedded in the URL.
    let embedded = server.url("podinfo.git").replace("http://", &format!("http://alice:{wrong}@"));
    let err = check(&CheckArgs { url: embedded, ..Default::default() }).await.unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(text.contains("Auth"), "{text}");
    assert!(!text.contains(wrong), "{text}");
    // No credentials at all: a clear failure, not a prompt.
    let err = cache.fetch(&url, &Credentials::None, "main").await.unwrap_err();
    assert!(matches!(&err, CacheError::Git(g) if g.kind() == Some(FailureKind::Auth)), "{err}");
}

#[tokio::test]
async fn ssh_with_a_pinned_host_key_fetches_and_an_unknown_host_key_fails_closed() {
    let sandbox = Sandbox::new();
    let work = published(&sandbox);
    let sshd = Sshd::start(&sandbox.path().join("sshd"));
    let bare = sandbox.served().join("podinfo.git");
    let url = RepoUrl::parse(&sshd.url(&bare)).unwrap();
    let known_hosts = sandbox.path().join("known_hosts");
    std::fs::write(&known_hosts, &sshd.known_hosts_line).unwrap();
    let creds = Credentials::SshKey {
        private_key_path: sshd.client_key.clone(),
        known_hosts_path: known_hosts.clone(),
    };
    let cache = RepoCache::new(sandbox.path().join("cache"), Limits::default()).unwrap();
    let outcome = cache.fetch(&url, &creds, "v6.1.0").await.unwrap();
    assert_eq!(outcome.commit.as_str(), sandbox.git(&work, &["rev-parse", "v6.1.0^{commit}"]));

    // A known_hosts that pins another key for this host: the connection is refused.
    let other_dir = sandbox.path().join("other-key");
    std::fs::create_dir_all(&other_dir).unwrap();
    let other = other_dir.join("k");
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other)
        .status()
        .unwrap();
    assert!(status.success());
    let other_pub = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    let mut parts = other_pub.split_whitespace();
    let wrong_known = sandbox.path().join("wrong_known_hosts");
    std::fs::write(
        &wrong_known,
        format!("[127.0.0.1]:{} {} {}\n", sshd.port, parts.next().unwrap(), parts.next().unwrap()),
    )
    .unwrap();
    let args = CheckArgs {
        url: sshd.url(&bare),
        ssh_key_file: Some(sshd.client_key.clone()),
        known_hosts_file: Some(wrong_known),
        ..Default::default()
    };
    let err = check(&args).await.unwrap_err();
    eprintln!("changed host key: {err}");
    assert!(err.to_string().contains("HostKey"), "{err}");

    // An empty known_hosts: unknown host, also refused (no trust on first use).
    let empty = sandbox.path().join("empty_known_hosts");
    std::fs::write(&empty, "").unwrap();
    let creds =
        Credentials::SshKey { private_key_path: sshd.client_key.clone(), known_hosts_path: empty };
    let fresh = RepoCache::new(sandbox.path().join("cache2"), Limits::default()).unwrap();
    let err = fresh.fetch(&url, &creds, "main").await.unwrap_err();
    assert!(matches!(&err, CacheError::Git(g) if g.kind() == Some(FailureKind::HostKey)), "{err}");
    let key_text = std::fs::read_to_string(&sshd.client_key).unwrap();
    assert!(!err.to_string().contains(key_text.lines().nth(1).unwrap()));
}

#[tokio::test]
async fn an_ssh_url_without_a_key_and_known_hosts_is_refused_before_connecting() {
    let args = CheckArgs { url: "git@127.0.0.1:org/repo.git".into(), ..Default::default() };
    let err = check(&args).await.unwrap_err();
    assert!(err.to_string().contains("known_hosts"), "{err}");
}

#[tokio::test]
async fn a_fetch_over_the_byte_cap_is_stopped() {
    let sandbox = Sandbox::new();
    let work = sandbox.work_repo("big", "argo-cd-install");
    sandbox.publish(&work, "big");
    let daemon = common::daemon(&sandbox);
    let cache =
        RepoCache::new(sandbox.path().join("cache"), Limits::default().max_fetch_bytes(10_000))
            .unwrap();
    let url = RepoUrl::parse(&daemon.url("big.git")).unwrap();
    let err = cache.fetch(&url, &Credentials::None, "main").await.unwrap_err();
    assert!(
        matches!(&err, CacheError::Git(ferry_source::GitError::TooLarge { limit: 10_000, .. })),
        "{err}"
    );
    // Nothing of the refused fetch stays behind: a retry is refused again, not served from cache.
    assert!(cache.resolve_local(&url, "main").await.is_err());
    let again = cache.fetch(&url, &Credentials::None, "main").await.unwrap_err();
    assert!(matches!(&again, CacheError::Git(ferry_source::GitError::TooLarge { .. })), "{again}");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_as_a_retryable_error() {
    // The kernel completes the TCP handshake for a listener that never accepts: git connects
    // and then waits forever for the ref advertisement.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let sandbox = Sandbox::new();
    let limits = Limits::default().ls_remote_timeout(std::time::Duration::from_millis(700));
    let cache = RepoCache::new(sandbox.path().join("cache"), limits).unwrap();
    let url = RepoUrl::parse(&format!("git://127.0.0.1:{port}/silent.git")).unwrap();
    let started = std::time::Instant::now();
    let err = cache.fetch(&url, &Credentials::None, "main").await.unwrap_err();
    assert!(matches!(&err, CacheError::Git(ferry_source::GitError::TimedOut { .. })), "{err}");
    assert!(err.is_retryable());
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    drop(silent);
}
