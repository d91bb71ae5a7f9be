//! Image automation end to end: a real registry (`docker-registry`), a real `git daemon`, the
//! embedded cluster, the engine and the automation controller. A new tag pushed to the
//! registry ends up, through one commit in Git, in the Deployment in the cluster.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use ferry_engine::{Engine, EngineConfig};
use ferry_image::automation::{
    self, AutomationConfig, AutomationHandle, ImagePolicy, ImageRepository, ImageUpdateAutomation,
};
use ferry_image::registry::RegistryConfig;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, PostParams};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use support::registry::*;
use support::*;

/// The Deployment the engine deploys and the automation updates, with a Flux setter marker.
fn deployment(image: &str) -> String {
    format!(
        "# The app; its image is kept up to date by image automation.\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\n  namespace: demo\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {{app: app}}\n  template:\n    metadata:\n      labels: {{app: app}}\n    spec:\n      containers:\n        - name: app\n          image: \"{image}\" # {{\"$imagepolicy\": \"apps:app\"}}\n          ports:\n            - containerPort: 8080\n"
    )
}

async fn create<K>(client: &Client, namespace: &str, object: Value)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + serde::Serialize + std::fmt::Debug,
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let object: K = serde_json::from_value(object).expect("a valid object");
    api.create(&PostParams::default(), &object).await.expect("created");
}

async fn create_namespace(client: &Client, name: &str) {
    let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let namespace = serde_json::from_value(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
    )
    .expect("a namespace");
    let _ = api.create(&PostParams::default(), &namespace).await;
}

/// Polls `read` until `check` holds; fails with the last value seen.
async fn wait_for<T: std::fmt::Debug>(
    what: &str,
    mut read: impl AsyncFnMut() -> Option<T>,
    check: impl Fn(&T) -> bool,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = None;
    while Instant::now() < deadline {
        if let Some(value) = read().await {
            if check(&value) {
                return value;
            }
            last = Some(value);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}; last seen: {last:#?}");
}

async fn status_of<K>(client: &Client, namespace: &str, name: &str) -> Option<Value>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let object = api.get_opt(name).await.ok()??;
    Some(serde_json::to_value(object).expect("json")["status"].clone())
}

fn log(bare: &Path) -> Vec<String> {
    git(bare, &["log", "--format=%H %s", "main"]).lines().map(str::to_string).collect()
}

async fn start_automation(client: &Client, data: &Path) -> AutomationHandle {
    start_automation_with(client, data, RegistryConfig::default()).await
}

async fn start_automation_with(
    client: &Client,
    data: &Path,
    registry: RegistryConfig,
) -> AutomationHandle {
    let config = AutomationConfig::new(data)
        .tick(Duration::from_millis(200))
        .min_interval(Duration::from_millis(500))
        .registry(registry);
    automation::start(client.clone(), config).await.expect("automation starts")
}

/// An ImageRepository `app` in `namespace`.
async fn declare_repository(client: &Client, namespace: &str, image: &str) {
    create_namespace(client, namespace).await;
    create::<ImageRepository>(
        client,
        namespace,
        json!({
            "apiVersion": "image.ferry.dev/v1alpha1", "kind": "ImageRepository",
            "metadata": {"name": "app", "namespace": namespace},
            "spec": {"image": image, "interval": "1s", "insecure": true}
        }),
    )
    .await;
}

/// An ImageRepository, a semver ImagePolicy and an ImageUpdateAutomation in `namespace`.
async fn declare_automation(
    client: &Client,
    namespace: &str,
    image: &str,
    repo_url: &str,
    path: &str,
) {
    declare_repository(client, namespace, image).await;
    create::<ImagePolicy>(client, namespace, json!({
        "apiVersion": "image.ferry.dev/v1alpha1", "kind": "ImagePolicy",
        "metadata": {"name": "app", "namespace": namespace},
        "spec": {"imageRepositoryRef": {"name": "app"}, "policy": {"semver": {"range": ">=1.0.0 <2.0.0"}}}
    }))
    .await;
    create::<ImageUpdateAutomation>(client, namespace, json!({
        "apiVersion": "image.ferry.dev/v1alpha1", "kind": "ImageUpdateAutomation",
        "metadata": {"name": "config", "namespace": namespace},
        "spec": {
            "interval": "1s",
            "git": {
                "repoURL": repo_url,
                "checkout": {"branch": "main"},
                "commit": {"author": {"name": "Ferry Bot", "email": "bot@example.invalid"}, "messageTemplate": "chore(image): {images}\n\n{changes}"}
            },
            "update": {"path": path}
        }
    }))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_tag_in_the_registry_is_committed_once_and_synced_into_the_cluster() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let registry = start_registry();
    let image = format!("{}/app", registry.host);
    push_image(&registry.host, "app", "1.1.0").await;

    let base = tmp.path().join("git");
    std::fs::create_dir_all(&base).expect("git base");
    let deployment_text = deployment(&format!("{image}:1.1.0"));
    let bare = bare_repo_with(&base, "config.git", &[("apps/app.yaml", deployment_text.as_str())]);
    let daemon = daemon(&base);
    let repo_url = daemon.url("config.git");

    let cluster = ferry_cluster::testing::start().await;
    let client = cluster.client().await.expect("client");
    let mut metrics = prometheus_client::registry::Registry::default();
    let engine_config =
        EngineConfig::new(tmp.path().join("engine")).poll_interval(Duration::from_millis(300));
    let engine =
        Engine::start(client.clone(), engine_config, &mut metrics).await.expect("engine starts");
    create_namespace(&client, "ferry").await;
    create::<ferry_engine::Application>(&client, "ferry", json!({
        "apiVersion": "ferry.dev/v1alpha1", "kind": "Application",
        "metadata": {"name": "app", "namespace": "ferry"},
        "spec": {
            "source": {"repoURL": repo_url, "targetRevision": "main", "path": "apps"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "demo"},
            "syncPolicy": {"automated": {"prune": true, "selfHeal": true}, "syncOptions": ["CreateNamespace=true"]}
        }
    }))
    .await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "demo");
    let live_image = async || {
        let live = deployments.get_opt("app").await.ok()??;
        live.spec?.template.spec?.containers.first().and_then(|c| c.image.clone())
    };
    wait_for("the engine to deploy 1.1.0", live_image, |i| *i == format!("{image}:1.1.0")).await;

    let automation = start_automation(&client, &tmp.path().join("automation")).await;
    declare_automation(&client, "apps", &image, &repo_url, "apps").await;

    // Git already has what the policy chooses: the automation runs and commits nothing.
    wait_for(
        "the policy to choose 1.1.0",
        async || status_of::<ImagePolicy>(&client, "apps", "app").await,
        |s| s["latestImage"] == format!("{image}:1.1.0").as_str(),
    )
    .await;
    wait_for(
        "a write-back run",
        async || status_of::<ImageUpdateAutomation>(&client, "apps", "config").await,
        |s| s["lastRunTime"].is_string(),
    )
    .await;
    assert_eq!(log(&bare).len(), 1, "nothing to change must not commit: {:?}", log(&bare));
    let repository = status_of::<ImageRepository>(&client, "apps", "app").await.expect("status");
    assert_eq!(repository["tagCount"], 1, "{repository}");
    assert!(repository["lastScanTime"].is_string(), "{repository}");

    // A new release: one commit in Git, then the cluster runs it.
    let released = Instant::now();
    push_image(&registry.host, "app", "1.2.0").await;
    push_image(&registry.host, "app", "2.0.0").await; // outside the range
    wait_for("the engine to deploy 1.2.0", live_image, |i| *i == format!("{image}:1.2.0")).await;
    // Reported, not asserted: intervals of 1 s (automation) and 300 ms (engine poll).
    eprintln!("registry push → Deployment updated in {:?}", released.elapsed());

    let commits = log(&bare);
    assert_eq!(commits.len(), 2, "{commits:?}");
    assert!(commits[0].ends_with(&format!("chore(image): {image}:1.2.0")), "{commits:?}");
    let diff = git(&bare, &["diff", "-U0", "main~1", "main"]);
    let changed: Vec<&str> = diff
        .lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
        })
        .collect();
    assert_eq!(
        changed,
        [
            format!("-          image: \"{image}:1.1.0\" # {{\"$imagepolicy\": \"apps:app\"}}"),
            format!("+          image: \"{image}:1.2.0\" # {{\"$imagepolicy\": \"apps:app\"}}"),
        ]
    );
    let author = git(&bare, &["log", "-1", "--format=%an <%ae>", "main"]);
    assert_eq!(author.trim(), "Ferry Bot <bot@example.invalid>");
    let status = wait_for(
        "the push in status",
        async || status_of::<ImageUpdateAutomation>(&client, "apps", "config").await,
        |s| s["lastPushCommit"].is_string(),
    )
    .await;
    let head = git(&bare, &["rev-parse", "main"]);
    assert_eq!(status["lastPushCommit"], head.trim(), "{status}");
    assert_eq!(status["lastPushBranch"], "main", "{status}");
    assert!(
        status["lastPushChanges"][0].as_str().is_some_and(|c| c.starts_with("apps/app.yaml:17 ")),
        "{status}"
    );

    // The push is an Event on the automation, for `kubectl describe` and `kubectl get events`.
    let events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client.clone(), "apps");
    let pushed = wait_for(
        "a Pushed event on the automation",
        async || {
            let list = events.list(&Default::default()).await.ok()?;
            list.items.into_iter().find(|e| {
                e.reason.as_deref() == Some("Pushed")
                    && e.involved_object.name.as_deref() == Some("config")
            })
        },
        |_| true,
    )
    .await;
    let note = pushed.message.unwrap_or_default();
    assert!(note.contains(&head.trim()[..12]) && note.contains("branch main"), "{note}");

    // Its own commit does not make it commit again (several intervals pass).
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(log(&bare).len(), 2, "the automation committed again: {:?}", log(&bare));

    automation.shutdown().await;
    engine.shutdown().await;
}

async fn wait_for_error<K>(client: &Client, namespace: &str, name: &str, needle: &str) -> String
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
{
    let what =
        format!("{} {namespace}/{name} to report an error containing {needle:?}", K::kind(&()));
    let status = wait_for(
        &what,
        async || status_of::<K>(client, namespace, name).await,
        |s| s["lastError"].as_str().is_some_and(|e| e.contains(needle)),
    )
    .await;
    status["lastError"].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_is_reported_in_status_and_changes_nothing_in_git() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let registry = start_registry();
    let image = format!("{}/app", registry.host);
    for tag in ["1.0.0", "1.1.0"] {
        push_image(&registry.host, "app", tag).await;
    }
    for tag in ["1", "2", "3", "4", "5"] {
        push_image(&registry.host, "many", tag).await;
    }
    let garbage = garbage_server(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot json!");

    let base = tmp.path().join("git");
    std::fs::create_dir_all(&base).expect("git base");
    let good = deployment(&format!("{image}:1.0.0"));
    // Mentions the image (so it is parsed) and breaks on line 3.
    let broken = format!("image: {image}:1.0.0\nlist:\n  - [unclosed\n");
    let broken_repo = bare_repo_with(
        &base,
        "broken.git",
        &[("apps/app.yaml", good.as_str()), ("apps/broken.yaml", broken.as_str())],
    );
    let locked_repo = bare_repo_with(&base, "locked.git", &[("apps/app.yaml", good.as_str())]);
    let hook = locked_repo.join("hooks/pre-receive");
    std::fs::write(
        &hook,
        "#!/bin/sh\necho 'permission denied: bot may not push to main' >&2\nexit 1\n",
    )
    .expect("hook");
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let daemon = daemon(&base);
    let before = |repo: &Path| git(repo, &["rev-parse", "main"]);
    let (broken_head, locked_head) = (before(&broken_repo), before(&locked_repo));

    let cluster = ferry_cluster::testing::start().await;
    let client = cluster.client().await.expect("client");
    let data = tmp.path().join("automation");
    let automation = start_automation_with(
        &client,
        &data,
        RegistryConfig { max_tags: 4, ..RegistryConfig::default() },
    )
    .await;

    // Not an image reference: named in the status, no scan.
    declare_repository(&client, "bad-ref", "Not A Valid/Ref!").await;
    let error = wait_for_error::<ImageRepository>(&client, "bad-ref", "app", "spec.image").await;
    assert!(error.starts_with("spec.image \"Not A Valid/Ref!\""), "{error}");

    // A registry answering garbage, and one with more tags than allowed: errors, not lists.
    declare_automation(
        &client,
        "garbage",
        &format!("{garbage}/app"),
        &daemon.url("broken.git"),
        "apps",
    )
    .await;
    let error =
        wait_for_error::<ImageRepository>(&client, "garbage", "app", "not a tag list").await;
    assert!(error.contains(&format!("http://{garbage}/v2/app/tags/list")), "{error}");
    wait_for_error::<ImagePolicy>(&client, "garbage", "app", "the last scan of").await;
    declare_repository(&client, "huge", &format!("{}/many", registry.host)).await;
    wait_for_error::<ImageRepository>(&client, "huge", "app", "more than 4 tags").await;

    // Malformed YAML in the target path: refused naming file and line; Git unchanged.
    declare_automation(&client, "broken", &image, &daemon.url("broken.git"), "apps").await;
    let error =
        wait_for_error::<ImageUpdateAutomation>(&client, "broken", "config", "broken.yaml").await;
    assert!(error.contains("line 3"), "{error}");
    assert!(error.contains("nothing was changed"), "{error}");
    assert_eq!(before(&broken_repo), broken_head);

    // A push the server refuses: a clear error, the work tree back where it started.
    declare_automation(&client, "locked", &image, &daemon.url("locked.git"), "apps").await;
    let error =
        wait_for_error::<ImageUpdateAutomation>(&client, "locked", "config", "rejected").await;
    assert!(error.contains("permission denied: bot may not push to main"), "{error}");
    assert_eq!(before(&locked_repo), locked_head);
    let work = data.join("automation/locked/config");
    assert_eq!(git(&work, &["status", "--porcelain"]), "", "the work tree was left dirty");
    assert_eq!(git(&work, &["rev-parse", "HEAD"]), locked_head, "our commit was left behind");

    // Nothing of the above was written to the garbage namespace's repository either.
    assert_eq!(before(&broken_repo), broken_head);
    automation.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_registry_account_from_a_secret_newest_pinned_by_digest_goes_to_a_pull_request_branch() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let registry = start_registry_with_account("bot", "s3cret-pw");
    let account = basic("bot", "s3cret-pw");
    let account = Some(account.as_str());
    let image = format!("{}/app", registry.host);
    push_image_as(&registry.host, account, "app", "1.0.0", "2026-01-01T00:00:00Z").await;
    // A lower version, built later: `newest` goes by build time.
    let newest =
        push_image_as(&registry.host, account, "app", "0.9.1-hotfix", "2026-03-01T00:00:00Z").await;

    let base = tmp.path().join("git");
    std::fs::create_dir_all(&base).expect("git base");
    let text = deployment(&format!("{image}:1.0.0"));
    let bare = bare_repo_with(&base, "config.git", &[("apps/app.yaml", text.as_str())]);
    let main_before = git(&bare, &["rev-parse", "main"]);
    let daemon = daemon(&base);

    let cluster = ferry_cluster::testing::start().await;
    let client = cluster.client().await.expect("client");
    let automation = start_automation(&client, &tmp.path().join("automation")).await;
    create_namespace(&client, "pr").await;
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode("bot:s3cret-pw");
    let docker_config = json!({"auths": {registry.host.clone(): {"auth": auth}}}).to_string();
    create::<k8s_openapi::api::core::v1::Secret>(
        &client,
        "pr",
        json!({
            "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
            "metadata": {"name": "regcred", "namespace": "pr"},
            "stringData": {".dockerconfigjson": docker_config}
        }),
    )
    .await;
    for (name, secret) in [("app", Some("regcred")), ("anonymous", None)] {
        let mut spec = json!({"image": image, "interval": "1s", "insecure": true});
        if let Some(secret) = secret {
            spec["secretRef"] = json!({"name": secret});
        }
        create::<ImageRepository>(
            &client,
            "pr",
            json!({
                "apiVersion": "image.ferry.dev/v1alpha1", "kind": "ImageRepository",
                "metadata": {"name": name, "namespace": "pr"}, "spec": spec
            }),
        )
        .await;
    }
    create::<ImagePolicy>(&client, "pr", json!({
        "apiVersion": "image.ferry.dev/v1alpha1", "kind": "ImagePolicy",
        "metadata": {"name": "app", "namespace": "pr"},
        "spec": {"imageRepositoryRef": {"name": "app"}, "policy": {"newest": {}}, "digestPinning": true}
    }))
    .await;
    create::<ImageUpdateAutomation>(
        &client,
        "pr",
        json!({
            "apiVersion": "image.ferry.dev/v1alpha1", "kind": "ImageUpdateAutomation",
            "metadata": {"name": "config", "namespace": "pr"},
            "spec": {
                "interval": "1s",
                "git": {"repoURL": daemon.url("config.git"), "push": {"branch": "image-updates"}},
                "update": {"path": "apps"}
            }
        }),
    )
    .await;

    // Without the account the registry refuses; the error says so.
    let error = wait_for_error::<ImageRepository>(&client, "pr", "anonymous", "401").await;
    assert!(error.contains(&format!("http://{}/v2/app/tags/list", registry.host)), "{error}");

    let status = wait_for(
        "the push to the pull-request branch",
        async || status_of::<ImageUpdateAutomation>(&client, "pr", "config").await,
        |s| s["lastPushBranch"] == "image-updates",
    )
    .await;
    let pinned = format!("{image}:0.9.1-hotfix@{newest}");
    let policy = status_of::<ImagePolicy>(&client, "pr", "app").await.expect("policy status");
    assert_eq!(policy["latestImage"], pinned.as_str(), "{policy}");
    assert_eq!(policy["latestRef"]["digest"], newest.as_str(), "{policy}");

    assert_eq!(git(&bare, &["rev-parse", "main"]), main_before, "main must stay for review");
    let branch_head = git(&bare, &["rev-parse", "image-updates"]);
    assert_eq!(status["lastPushCommit"], branch_head.trim(), "{status}");
    let on_branch = git(&bare, &["show", "image-updates:apps/app.yaml"]);
    assert!(
        on_branch.contains(&format!("image: \"{pinned}\" # {{\"$imagepolicy\": \"apps:app\"}}")),
        "{on_branch}"
    );
    assert_eq!(git(&bare, &["rev-list", "--count", "main..image-updates"]).trim(), "1");

    // The password is in no status.
    for kind in [
        status_of::<ImageRepository>(&client, "pr", "app").await,
        status_of::<ImageUpdateAutomation>(&client, "pr", "config").await,
        Some(policy),
    ] {
        assert!(!kind.unwrap_or_default().to_string().contains("s3cret-pw"));
    }

    // The branch existing now, later runs build on it and, with nothing new, commit nothing.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(git(&bare, &["rev-parse", "image-updates"]), branch_head);
    automation.shutdown().await;
}
