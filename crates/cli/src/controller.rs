//! `ferry controller`: the engine alone against any cluster. Replicas share the apps through
//! shard Leases; image automation runs on the one holding the leader Lease.

use std::path::PathBuf;

use anyhow::Context;
use ferry_engine::leader::{LeaseConfig, acquire};
use ferry_engine::shard::{Journal, ShardConfig};
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
    /// Skip leader election and sharding: this replica reconciles every app and runs image
    /// automation (a single replica).
    #[arg(long)]
    pub no_leader_election: bool,
    /// Address of `/healthz` and `/readyz`, served from the start (a standby replica too).
    #[arg(long)]
    pub health_listen: Option<std::net::SocketAddr>,
    #[command(flatten)]
    pub sharding: ShardArgs,
}

/// How the replicas share the apps (see ARCHITECTURE.md, "Sharded replicas").
#[derive(clap::Args)]
pub struct ShardArgs {
    /// Shards the apps fall into (by a hash of namespace/name, or the `ferry.dev/shard` label);
    /// the same on every replica. Each live replica holds about shards/replicas of them, one
    /// Lease `ferry-controller-shard-<n>` each.
    #[arg(long, env = "FERRY_SHARDS", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub shards: u32,
    /// How long a replica's shard Leases last without renewal: a dead replica's apps move to
    /// the others after this.
    #[arg(long, env = "FERRY_SHARD_LEASE_DURATION", default_value = "10s", value_parser = crate::up::parse_duration)]
    pub shard_lease_duration: std::time::Duration,
    /// How often the shard Leases are renewed and the shards rebalanced (at most a quarter of
    /// the lease duration).
    #[arg(long, env = "FERRY_SHARD_RENEW_EVERY", default_value = "2s", value_parser = crate::up::parse_duration)]
    pub shard_renew_every: std::time::Duration,
    /// This replica's name in the Leases (default: $POD_NAME, then $HOSTNAME, then ferry-<pid>).
    #[arg(long, env = "FERRY_IDENTITY")]
    pub identity: Option<String>,
    /// Append one JSON line per reconcile (app, replica, start, end) to this file: the evidence
    /// that no app was reconciled by two replicas at once (`ferry bench shards` reads it).
    #[arg(long, env = "FERRY_RECONCILE_JOURNAL")]
    pub reconcile_journal: Option<PathBuf>,
}

impl ShardArgs {
    fn identity(&self) -> String {
        self.identity
            .clone()
            .or_else(|| std::env::var("POD_NAME").ok())
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| format!("ferry-{}", std::process::id()))
    }

    fn config(&self, namespace: &str) -> anyhow::Result<ShardConfig> {
        let mut config = ShardConfig::new(self.shards, namespace, self.identity())
            .timing(self.shard_lease_duration, self.shard_renew_every);
        if let Some(path) = &self.reconcile_journal {
            let journal = Journal::to_file(path)
                .with_context(|| format!("opening the reconcile journal {}", path.display()))?;
            config = config.journal(journal);
        }
        Ok(config)
    }
}

pub async fn run(args: ControllerArgs) -> anyhow::Result<()> {
    let health = Health::default();
    if let Some(addr) = args.health_listen {
        crate::health::serve(addr, health.clone()).await?;
    }
    let client = crate::kube_client(args.kubeconfig.as_deref(), args.context.as_deref()).await?;
    if !args.no_leader_election {
        // Every replica reconciles its shards at once; the `leader` role (the Service's
        // selector: API, webhooks) goes to the holder of the `ferry-controller` Lease. A
        // restarted container keeps its pod's labels: say "standby" until it holds it.
        crate::health::label_pod(&client, "standby").await;
        health.set(Phase::Standby);
    }
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
    if !args.no_leader_election {
        config = config.sharding(args.sharding.config(&args.namespace)?);
    }
    let mut registry = Registry::default();
    let engine = Engine::start(client.clone(), config, &mut registry).await?;
    let leader = (!args.no_leader_election)
        .then(|| LeaseConfig::new(&args.namespace, args.sharding.identity()));
    let singletons = lead_singletons(client, leader, automation_config, health);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    // The bound address, not the requested one: with port 0 only this says where the API is.
    let bound = listener.local_addr().context("reading the API listener's address")?;
    let builder = ferry_api::ApiState::builder(engine.clone(), registry);
    let state = args.access.apply(builder, bound)?.build();
    tracing::info!(api = %bound, access = %crate::serve_access::describe(&state), "controller running");
    let webhook_secrets = state.watch_webhook_secret(engine.client().clone(), &args.namespace);
    let access = state.watch_access(engine.client().clone(), &args.namespace);
    tokio::select! {
        r = ferry_api::serve(listener, state, std::future::pending::<()>()) => r?,
        _ = webhook_secrets => {}
        _ = access => {}
        r = singletons => r?,
        _ = tokio::signal::ctrl_c() => {}
    }
    engine.shutdown().await;
    Ok(())
}

/// Image automation, on one replica: the holder of the leader Lease `ferry-controller` (every
/// replica waits for it in the background while reconciling its shards), whose pod is labelled
/// `ferry.dev/role=leader` (the Service's selector). Returns an error when the Lease is lost, so
/// that the process exits and two replicas never commit image updates at once.
async fn lead_singletons(
    client: kube::Client,
    leader: Option<LeaseConfig>,
    automation: ferry_image::automation::AutomationConfig,
    health: Health,
) -> anyhow::Result<()> {
    let mut leadership = match leader {
        Some(config) => Some(acquire(client.clone(), config).await?),
        None => None,
    };
    health.set(Phase::Leading);
    crate::health::label_pod(&client, "leader").await;
    let automation = ferry_image::automation::start(client, automation).await.context(
        "starting image automation (ImageRepository, ImagePolicy, ImageUpdateAutomation)",
    )?;
    match leadership.as_mut() {
        Some(l) => l.lost().await,
        None => std::future::pending().await,
    }
    automation.shutdown().await;
    anyhow::bail!(
        "lost the controller lease to another replica; exiting so that only one replica runs image automation (the shards move to the other replicas)"
    )
}
