//! Private repositories (issue 16): Argo CD's repository and repo-creds Secrets give the engine
//! credentials for real servers (`git http-backend` behind basic auth, `sshd` with a key, a
//! GitHub App token exchange); before them, or with wrong ones, the app says whose credentials
//! failed, never what they are, and nothing is pruned.
#![allow(clippy::unwrap_used)] // tests may unwrap: a failure is the test failing

mod support;

use std::collections::BTreeMap;

use ferry_testkit::Sshd;
use ferry_testkit::http_git::HttpGit;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::Value;
use support::{World, automated_spec, guestbook_spec};

const PASSWORD: &str = "correct-horse-battery-staple";

/// The message of the app's failing SourceReady condition, if it has one.
fn source_failure(app: &Value) -> Option<String> {
    let conditions = app["status"]["conditions"].as_array()?;
    let c = conditions.iter().find(|c| c["type"] == "SourceReady" && c["status"] == "False")?;
    Some(c["message"].as_str().unwrap_or_default().to_owned())
}

async fn wait_source_failure(world: &World, app: &str, wanted: &str) -> String {
    let want = wanted.to_owned();
    let app_json = world
        .wait_for(app, &format!("failing with {wanted:?}"), move |a| {
            source_failure(a).is_some_and(|m| m.contains(&want))
        })
        .await;
    source_failure(&app_json).unwrap()
}

/// Creates (or replaces) a Secret in Ferry's namespace with Argo CD's type label.
async fn put_secret(world: &World, name: &str, ty: &str, data: &[(&str, &str)]) {
    world.create_namespace("ferry").await;
    let api: Api<Secret> = Api::namespaced(world.client.clone(), "ferry");
    let mut secret = Secret::default();
    secret.metadata.name = Some(name.into());
    secret.metadata.labels =
        Some(BTreeMap::from([("argocd.argoproj.io/secret-type".to_string(), ty.to_string())]));
    secret.string_data = Some(data.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
    let _ = api.delete(name, &DeleteParams::default()).await;
    api.create(&PostParams::default(), &secret).await.unwrap();
}

async fn guestbook_exists(world: &World, namespace: &str) -> bool {
    let api: Api<Deployment> = Api::namespaced(world.client.clone(), namespace);
    api.get_opt("guestbook-ui").await.unwrap().is_some()
}

#[tokio::test]
async fn a_private_http_repository_syncs_once_a_repository_secret_names_it_and_fails_clearly_otherwise()
 {
    let world = World::guestbook().await;
    let server = HttpGit::start(&world.tmp.path().join("git"), "alice", PASSWORD);
    let url = server.url("config.git");
    // Another host name for the public copy: the engine shares fetched objects between URLs of
    // one repository (same host and path), which these two would otherwise be.
    let public_url = world.repo_url().replace("127.0.0.1", "localhost");
    world.create_app("public", automated_spec(&public_url, "guestbook", "public")).await;
    world.create_app("private", guestbook_spec(&url)).await;

    let message = wait_source_failure(&world, "private", "authentication failed for").await;
    assert!(
        message.starts_with(&format!(
            "authentication failed for {url} (no credentials configured: add them with `ferry repo add`)"
        )),
        "{message}"
    );
    let head = world.head();
    world.wait_synced_healthy("public", &head).await;

    put_secret(
        &world,
        "private-repo",
        "repository",
        &[
            // Argo CD compares URLs without case of scheme and host and without a trailing `/`.
            ("url", &format!("{}/", url.replacen("http://", "HTTP://", 1))),
            ("username", "alice"),
            ("password", PASSWORD),
        ],
    )
    .await;
    world.wait_synced_healthy("private", &head).await;

    put_secret(
        &world,
        "private-repo",
        "repository",
        &[("url", &url), ("username", "alice"), ("password", "not-the-password")],
    )
    .await;
    let message = wait_source_failure(&world, "private", "credentials from Secret").await;
    assert!(
        message.starts_with(&format!(
            "authentication failed for {url} (credentials from Secret ferry/private-repo)"
        )),
        "{message}"
    );
    assert!(!message.contains("not-the-password") && !message.contains(PASSWORD), "{message}");

    let secrets: Api<Secret> = Api::namespaced(world.client.clone(), "ferry");
    secrets.delete("private-repo", &DeleteParams::default()).await.unwrap();
    wait_source_failure(&world, "private", "no credentials configured").await;
    assert!(guestbook_exists(&world, "guestbook").await, "a fetch error prunes nothing");
    let public = world.wait_synced_healthy("public", &head).await;
    assert!(source_failure(&public).is_none(), "the public app is untouched");
}

#[tokio::test]
async fn an_ssh_repository_syncs_with_a_repo_creds_key_once_its_host_key_is_known() {
    let world = World::guestbook().await;
    let sshd = Sshd::start(&world.tmp.path().join("sshd"));
    let url = sshd.url(&world.tmp.path().join("git/config.git"));
    world.create_app("over-ssh", guestbook_spec(&url)).await;
    let message = wait_source_failure(&world, "over-ssh", "no credentials configured").await;
    assert!(message.contains(&url), "{message}");

    let key = std::fs::read_to_string(&sshd.client_key).unwrap();
    let prefix = format!("ssh://{}@127.0.0.1:{}/", sshd.user, sshd.port);
    put_secret(&world, "ssh-creds", "repo-creds", &[("url", &prefix), ("sshPrivateKey", &key)])
        .await;
    let message = wait_source_failure(&world, "over-ssh", "SSH host key").await;
    assert!(message.contains("ConfigMap ferry/ferry-ssh-known-hosts"), "{message}");
    assert!(!message.contains("PRIVATE KEY"), "{message}");

    let maps: Api<ConfigMap> = Api::namespaced(world.client.clone(), "ferry");
    let mut known = ConfigMap::default();
    known.metadata.name = Some("ferry-ssh-known-hosts".into());
    known.data =
        Some(BTreeMap::from([("ssh_known_hosts".to_string(), sshd.known_hosts_line.clone())]));
    maps.create(&PostParams::default(), &known).await.unwrap();
    world.wait_synced_healthy("over-ssh", &world.head()).await;
    let keys: Vec<_> = std::fs::read_dir(world.tmp.path().join("engine/repo-keys"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().starts_with("key-"))
        .collect();
    assert_eq!(keys.len(), 1, "one key file");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(keys[0].metadata().unwrap().permissions().mode() & 0o777, 0o600);
}

#[tokio::test]
async fn a_github_app_installation_token_is_exchanged_once_and_used_as_the_password() {
    let world = World::guestbook().await;
    let dir = world.tmp.path().join("github-app");
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("app.pem");
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl").args(args).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    openssl(&["genrsa", "-out", key.to_str().unwrap(), "2048"]);
    let public = dir.join("app.pub");
    openssl(&["rsa", "-in", key.to_str().unwrap(), "-pubout", "-out", public.to_str().unwrap()]);
    let github = github::FakeGithub::start(&std::fs::read(&public).unwrap(), 7, 42, PASSWORD).await;

    let server = HttpGit::start(&world.tmp.path().join("git"), "x-access-token", PASSWORD);
    let url = server.url("config.git");
    put_secret(
        &world,
        "github-app",
        "repository",
        &[
            ("url", &url),
            ("githubAppID", "7"),
            ("githubAppInstallationID", "42"),
            ("githubAppPrivateKey", &std::fs::read_to_string(&key).unwrap()),
            ("githubAppEnterpriseBaseUrl", &github.base_url()),
        ],
    )
    .await;
    world.create_app("via-app", guestbook_spec(&url)).await;
    let head = world.head();
    world.wait_synced_healthy("via-app", &head).await;
    world.repo.commit_file("README.md", "private\n", "second").unwrap();
    let second = world.head();
    world.request_sync("via-app").await;
    world.wait_synced_healthy("via-app", &second).await;
    assert_eq!(github.exchanges(), 1, "the token is reused until shortly before it expires");
    assert_eq!(github.rejected(), 0, "every JWT carried a valid RS256 signature");
}

mod github {
    //! A GitHub API stand-in: checks the app JWT against the app's public key and hands out an
    //! installation token.
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::extract::{Path, State};
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;

    #[derive(Clone)]
    struct Fake {
        key: Arc<jsonwebtoken::DecodingKey>,
        app: u64,
        installation: u64,
        token: String,
        exchanges: Arc<AtomicUsize>,
        rejected: Arc<AtomicUsize>,
    }

    pub struct FakeGithub {
        addr: std::net::SocketAddr,
        fake: Fake,
        _server: tokio::task::JoinHandle<()>,
    }

    #[derive(serde::Deserialize)]
    struct Claims {
        iss: String,
    }

    async fn access_tokens(
        State(f): State<Fake>,
        Path(id): Path<u64>,
        headers: HeaderMap,
    ) -> axum::response::Response {
        let jwt = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        let validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        let claims = jsonwebtoken::decode::<Claims>(jwt, &f.key, &validation);
        if claims.is_err()
            || id != f.installation
            || claims.unwrap().claims.iss != f.app.to_string()
        {
            f.rejected.fetch_add(1, Ordering::SeqCst);
            let body = serde_json::json!({"message": "A JSON web token could not be decoded"});
            return (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
        }
        f.exchanges.fetch_add(1, Ordering::SeqCst);
        let expires = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1);
        let body = serde_json::json!({"token": f.token, "expires_at": expires.to_string()});
        (StatusCode::CREATED, axum::Json(body)).into_response()
    }

    impl FakeGithub {
        pub async fn start(public_pem: &[u8], app: u64, installation: u64, token: &str) -> Self {
            let fake = Fake {
                key: Arc::new(jsonwebtoken::DecodingKey::from_rsa_pem(public_pem).unwrap()),
                app,
                installation,
                token: token.into(),
                exchanges: Arc::default(),
                rejected: Arc::default(),
            };
            let router = axum::Router::new()
                .route(
                    "/api/v3/app/installations/{id}/access_tokens",
                    axum::routing::post(access_tokens),
                )
                .with_state(fake.clone());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = tokio::spawn(async move {
                axum::serve(listener, router).await.unwrap();
            });
            Self { addr, fake, _server: server }
        }

        pub fn base_url(&self) -> String {
            format!("http://{}/api/v3", self.addr)
        }

        pub fn exchanges(&self) -> usize {
            self.fake.exchanges.load(Ordering::SeqCst)
        }

        pub fn rejected(&self) -> usize {
            self.fake.rejected.load(Ordering::SeqCst)
        }
    }
}
