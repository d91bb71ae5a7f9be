//! `ferry controller`: the engine alone against any cluster, with leader election.

use std::path::PathBuf;

use anyhow::Context;
use ferry_engine::leader::{LeaseConfig, acquire};
use ferry_engine::{Engine, EngineConfig};
use prometheus_client::registry::Registry;

use crate::health::{Health, Phase};

#[derive(clap::Args)]
pub struct ControllerArgs {
    /// Kubeconfig to use (default: in-cluster config, then KUBECONFIG, then ~/.kube/config).
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Context in the kubeconfig.
    #[arg(long)]
    pub context: Option<String>,
    /// Ferry's namespace: the leader-election Lease, repository, cluster and webhook Secrets
    /// (and, with --watch-namespace, the Applications).
    #[arg(long, env = "FERRY_NAMESPACE", default_value = "ferry")]
    pub namespace: String,
    /// Watch Applications only in --namespace (default: all namespaces).
    #[arg(long)]
    pub watch_namespace_only: bool,
    /// Where repositories are cached.
    #[arg(long, env = "FERRY_DATA_DIR", default_value = "/tmp/ferry")]
    pub data_dir: PathBuf,
    /// Address of the API, metrics and web UI.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    #[command(flatten)]
    pub access: crate::serve_access::AccessArgs,
    /// How often Git repositories are checked for new commits.
    #[arg(long, default_value = "10s", value_parser = crate::up::parse_duration)]
    pub poll_interval: std::time::Duration,
    /// Argo CD's Applications (argoproj.io): `own-crd` reconciles them only when Ferry installed
    /// their CRD (never beside a running Argo CD), `install` installs it when absent, `watch`
    /// takes over whatever CRD exists (Argo CD's controller stopped), `off` never.
    #[arg(long, default_value = "own-crd")]
    pub argo_applications: ferry_engine::argo::ArgoApplications,
    /// Skip leader election (a single replica).
    #[arg(long)]
    pub no_leader_election: bool,
    /// Address of `/healthz` and `/readyz`, served from the start (a standby replica too).
    #[arg(long)]
    pub health_listen: Option<std::net::SocketAddr>,
}

pub async fn run(args: ControllerArgs) -> anyhow::Result<()> {
    let health = Health::default();
    if let Some(addr) = args.health_listen {
        crate::health::serve(addr, health.clone()).await?;
    }
    let client = crate::kube_client(args.kubeconfig.as_deref(), args.context.as_deref()).await?;
    let _leadership = if args.no_leader_election {
        None
    } else {
        let identity = std::env::var("POD_NAME")
            .or_else(|_| std::env::var("HOSTNAME"))
            .unwrap_or_else(|_| format!("ferry-{}", std::process::id()));
        // A restarted container keeps its pod's labels: say "standby" before waiting.
        crate::health::label_pod(&client, "standby").await;
        health.set(Phase::Standby);
        let leadership =
            acquire(client.clone(), LeaseConfig::new(&args.namespace, identity)).await?;
        health.set(Phase::Starting);
        Some(leadership)
    };
    let mut config = crate::up::with_helm_from_env(
        EngineConfig::new(&args.data_dir)
            .poll_interval(args.poll_interval)
            .argo_applications(args.argo_applications)
            .home_namespace(&args.namespace)
            .audit(args.access.audit_trail()?),
    );
    let mut automation_config =
        ferry_image::automation::AutomationConfig::new(args.data_dir.join("image-automation"));
    if args.watch_namespace_only {
        config = config.namespace(&args.namespace);
        automation_config = automation_config.namespace(&args.namespace);
    }
    let mut registry = Registry::default();
    let engine = Engine::start(client.clone(), config, &mut registry).await?;
    let automation = ferry_image::automation::start(client, automation_config).await.context(
        "starting image automation (ImageRepository, ImagePolicy, ImageUpdateAutomation)",
    )?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    // The bound address, not the requested one: with port 0 only this says where the API is.
    let bound = listener.local_addr().context("reading the API listener's address")?;
    let builder = ferry_api::ApiState::builder(engine.clone(), registry);
    let state = args.access.apply(builder, bound)?.build();
    health.set(Phase::Leading);
    crate::health::label_pod(engine.client(), "leader").await;
    tracing::info!(api = %bound, access = %crate::serve_access::describe(&state), "controller running");
    let webhook_secrets = state.watch_webhook_secret(engine.client().clone(), &args.namespace);
    let access = state.watch_access(engine.client().clone(), &args.namespace);
    let mut leadership = _leadership;
    tokio::select! {
        r = ferry_api::serve(listener, state, std::future::pending::<()>()) => r?,
        _ = webhook_secrets => {}
        _ = access => {}
        _ = async { match leadership.as_mut() { Some(l) => l.lost().await, None => std::future::pending().await } } => {
            anyhow::bail!("lost the controller lease to another replica; exiting so that only one replica acts");
        }
        _ = tokio::signal::ctrl_c() => {}
    }
    automation.shutdown().await;
    engine.shutdown().await;
    Ok(())
}
