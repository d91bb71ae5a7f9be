//! `ferry up`: the embedded cluster, the engine and the API/UI in one process, plus a demo app on
//! first run. Ctrl-C stops everything; running it again resumes from the data directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use ferry_cluster::{Cluster, ClusterConfig};
use ferry_engine::{Application, Engine, EngineConfig};
use kube::api::{Api, Patch, PatchParams};
use prometheus_client::registry::Registry;

use crate::demo;
use crate::progress::Progress;

#[derive(clap::Args)]
pub struct UpArgs {
    /// Where the cluster state, repositories, kubeconfig and demo repository live.
    #[arg(long, env = "FERRY_DATA_DIR", default_value = ".ferry")]
    pub data_dir: PathBuf,
    /// Address of the API and web UI (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Address of the embedded Kubernetes API server (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:6443")]
    pub cluster_listen: SocketAddr,
    /// How long the embedded cluster keeps Events after their last write (kube-apiserver's
    /// --event-ttl).
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    pub event_ttl: Duration,
    /// Do not create the demo repository and Application.
    #[arg(long)]
    pub no_demo: bool,
    /// How often Git repositories are checked for new commits.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub poll_interval: Duration,
    #[command(flatten)]
    pub access: crate::serve_access::AccessArgs,
    /// Argo CD's Applications (argoproj.io): `install` installs an Argo CD-compatible CRD when
    /// none exists and reconciles them (no Argo CD runs beside `ferry up`); `own-crd` only when
    /// Ferry installed the CRD; `watch` whatever CRD exists; `off` never.
    #[arg(long, default_value = "install")]
    pub argo_applications: ferry_engine::argo::ArgoApplications,
}

/// A duration flag: a Go duration (`500ms`, `10s`, `2m`, `1h30m`) or whole seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    ferry_source::duration::parse_seconds_or_go_duration(s).map_err(|e| e.to_string())
}

pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    let progress = Progress::new();
    // It holds the cluster's keys and stored Secrets: readable by this user only.
    ferry_cluster::private::create_dir(&args.data_dir)
        .with_context(|| format!("creating the data directory {}", args.data_dir.display()))?;
    let data_dir = args.data_dir.canonicalize()?;
    let kubeconfig = data_dir.join("kubeconfig");

    progress.step("starting the embedded cluster");
    let cluster = Cluster::start(
        ClusterConfig::default().data_dir(data_dir.join("cluster")).listen(args.cluster_listen).kubeconfig_path(&kubeconfig).event_ttl(args.event_ttl),
    )
    .await
    .with_context(|| format!("starting the embedded cluster on {} (is the port taken? try --cluster-listen 127.0.0.1:0)", args.cluster_listen))?;
    let client = cluster.client().await?;

    let home = ferry_engine::DEFAULT_HOME_NAMESPACE;
    ensure_namespace(&client, home).await?;
    crate::webhook::ensure_secret(&client, home).await?;

    progress.step("starting the engine");
    let mut registry = Registry::default();
    let engine_config = EngineConfig::new(data_dir.join("engine"))
        .poll_interval(args.poll_interval)
        .argo_applications(args.argo_applications)
        .audit(args.access.audit_trail()?);
    let engine_config = with_helm_from_env(engine_config);
    let engine = Engine::start(client.clone(), engine_config, &mut registry).await?;
    let automation = ferry_image::automation::start(
        client.clone(),
        ferry_image::automation::AutomationConfig::new(data_dir.join("image-automation")),
    )
    .await
    .context("starting image automation (ImageRepository, ImagePolicy, ImageUpdateAutomation)")?;

    progress.step("starting the API and web UI");
    let listener = tokio::net::TcpListener::bind(args.listen).await.with_context(|| {
        format!("listening on {} (is the port taken? try --listen 127.0.0.1:0)", args.listen)
    })?;
    let api_addr = listener.local_addr()?;
    let builder = ferry_api::ApiState::builder(engine.clone(), registry);
    let state = args.access.apply(builder, api_addr)?.build();
    let access = crate::serve_access::describe(&state);
    let webhook_secrets = tokio::spawn(state.watch_webhook_secret(client.clone(), home));
    let access_watch = tokio::spawn(state.watch_access(client.clone(), home));
    let (stop_api, api_stopped) = tokio::sync::oneshot::channel::<()>();
    let api = tokio::spawn(ferry_api::serve(listener, state, async move {
        let _ = api_stopped.await;
    }));

    let mut demo_repo = None;
    if !args.no_demo {
        progress.step("preparing the demo repository");
        let url = demo::ensure_repo(&data_dir)?;
        ensure_namespace(&client, demo::APP_NAMESPACE).await?;
        let apps: Api<Application> = Api::namespaced(client.clone(), demo::APP_NAMESPACE);
        if apps.get_opt(demo::APP_NAME).await?.is_none() {
            let params = PatchParams::apply("ferry-up").force();
            apps.patch(demo::APP_NAME, &params, &Patch::Apply(demo::application(&url)))
                .await
                .context("creating the demo Application")?;
        }
        wait_demo(&apps, &progress).await;
        demo_repo = Some(demo::repo_dir(&data_dir));
    }
    progress.finish();
    print_next_steps(cluster.url(), &kubeconfig, (api_addr, &access), demo_repo.as_deref());

    shutdown_signal().await;
    eprintln!("stopping…");
    let _ = stop_api.send(());
    webhook_secrets.abort();
    access_watch.abort();
    automation.shutdown().await;
    engine.shutdown().await;
    let _ = api.await;
    cluster.shutdown().await?;
    eprintln!("stopped; `ferry up` again resumes where this left off");
    Ok(())
}

async fn ensure_namespace(client: &kube::Client, name: &str) -> anyhow::Result<()> {
    let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let ns =
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    api.patch(name, &PatchParams::apply("ferry-up"), &Patch::Apply(ns))
        .await
        .with_context(|| format!("creating namespace {name}"))?;
    Ok(())
}

/// Follows the demo app until it is Synced and Healthy (or a minute passed), narrating.
async fn wait_demo(apps: &Api<Application>, progress: &Progress) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let status = apps.get_opt(demo::APP_NAME).await.ok().flatten().and_then(|a| a.status);
        let (sync, health) = status
            .as_ref()
            .map(|s| (s.sync.status.to_string(), s.health.status.to_string()))
            .unwrap_or_else(|| ("Unknown".into(), "Unknown".into()));
        progress.step(&format!("demo app: {sync}, {health}"));
        if sync == "Synced" && health == "Healthy" {
            return;
        }
        if Instant::now() > deadline {
            let why = status
                .and_then(|s| {
                    s.conditions
                        .into_iter()
                        .find(|c| c.status == "False" || c.type_ == "SyncFailed")
                })
                .map(|c| format!("{}: {}", c.type_, c.message))
                .unwrap_or_default();
            progress.warn(&format!("the demo app is {sync}/{health} after 90s; it keeps converging in the background. {why}"));
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn print_next_steps(
    cluster_url: &str,
    kubeconfig: &Path,
    (api, access): (SocketAddr, &str),
    demo_repo: Option<&Path>,
) {
    println!("Ferry is up.");
    println!("  Kubernetes API  {cluster_url}  (kubeconfig: {})", kubeconfig.display());
    println!("  Web UI and API  http://{api}");
    println!("  API access      {access}");
    println!(
        "  Webhooks        http://{api}/api/webhook  (secrets: Secret {}/{}; `ferry webhook test`)",
        ferry_engine::DEFAULT_HOME_NAMESPACE,
        ferry_api::WEBHOOK_SECRET_NAME
    );
    if let Some(repo) = demo_repo {
        println!("  Demo app        ferry/demo ← {}/apps/demo (branch main)", repo.display());
        println!();
        println!("Try:");
        println!("  export KUBECONFIG={}", kubeconfig.display());
        println!("  kubectl get deploy,svc,cm -n demo");
        println!("  # change the app in Git; Ferry applies the commit within seconds:");
        println!(
            "  cd {} && sed -i 's/replicas: 2/replicas: 3/' apps/demo/deployment.yaml && git commit -qam 'scale to 3'",
            repo.display()
        );
        println!("  # drift is healed: scale it by hand and watch it come back");
        println!(
            "  kubectl scale deploy/demo -n demo --replicas=5 && kubectl get deploy demo -n demo -w"
        );
        println!(
            "  ferry app list        # status; ferry app history demo, ferry app rollback demo"
        );
    }
    println!();
    println!("Press Ctrl-C to stop; `ferry up` again resumes with the same state.");
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// `FERRY_HELM` names the `helm` to run (as for `ferry render`), e.g. the shim written by
/// `ferry helm-shim install`; unset, `helm` is looked up on the PATH.
pub fn with_helm_from_env(mut config: EngineConfig) -> EngineConfig {
    if let Some(helm) = std::env::var_os("FERRY_HELM").filter(|v| !v.is_empty()) {
        config.render = config.render.with_helm(helm);
    }
    config
}
