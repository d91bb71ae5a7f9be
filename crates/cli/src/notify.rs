//! `ferry notify log` (the API's delivery log) and `ferry notify test SINK` (one notification
//! sent from here with the cluster's `ferry-notifications` ConfigMap and Secret; prints the
//! outcome and exits 1 when it was not delivered).

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{Context, bail};
use ferry_notify::event::Commit;
use ferry_notify::{AppEvent, Config, LogEntry, Notifier, Outcome};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;
use serde_json::json;

use crate::app::connect::{ClusterArgs, connect};
use crate::remote::{self, ServerArgs};

#[derive(clap::Subcommand)]
pub enum NotifyCommand {
    /// The latest deliveries (from the API): time, app, trigger, service, outcome, attempts, error.
    Log {
        /// Only this app (`NAMESPACE/NAME` or `NAME`).
        #[arg(long)]
        app: Option<String>,
        /// Only the newest N.
        #[arg(long)]
        limit: Option<usize>,
        /// Output format: table or json.
        #[arg(long, short = 'o', default_value = "table")]
        output: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Send a test notification to SINK (a service of ConfigMap ferry-notifications) now.
    Test {
        /// The service's name (`service.<type>.<name>`, or `<type>` when it has no name).
        sink: String,
        /// The trigger whose template to send.
        #[arg(long, default_value = "on-deployed")]
        trigger: String,
        /// The Application to notify about (`NAME` in Ferry's namespace, or `NAMESPACE/NAME`);
        /// a sample app when left out.
        #[arg(long)]
        app: Option<String>,
        /// Ferry's namespace (the ConfigMap and the Secret).
        #[arg(long, short = 'n', default_value = ferry_engine::DEFAULT_HOME_NAMESPACE)]
        namespace: String,
        #[command(flatten)]
        cluster: ClusterArgs,
    },
}

pub async fn run(command: NotifyCommand) -> anyhow::Result<ExitCode> {
    match command {
        NotifyCommand::Log { app, limit, output, server } => {
            if !matches!(output.as_str(), "table" | "json") {
                bail!("-o {output} is not known; use table or json");
            }
            let mut query = Vec::new();
            if let Some(app) = app {
                query.push(("app", app));
            }
            if let Some(limit) = limit {
                query.push(("limit", limit.to_string()));
            }
            let body = remote::get(&server, "/api/v1/notifications/log", &query).await?;
            let items: Vec<LogEntry> = serde_json::from_value(body["items"].clone())
                .context("the server's delivery log is not in the expected shape")?;
            let text = if output == "json" {
                serde_json::to_string_pretty(&items)?
            } else {
                table(&items)
            };
            println!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        NotifyCommand::Test { sink, trigger, app, namespace, cluster } => {
            test(&sink, &trigger, app.as_deref(), &namespace, &cluster).await
        }
    }
}

fn table(items: &[LogEntry]) -> String {
    let mut out = format!(
        "{:<24} {:<24} {:<20} {:<14} {:<9} {:>3} {:>7} ERROR",
        "TIME", "APP", "TRIGGER", "SERVICE", "OUTCOME", "TRY", "MS"
    );
    for e in items {
        let outcome = e.outcome.map_or("-", Outcome::as_str);
        out.push_str(&format!(
            "\n{:<24} {:<24} {:<20} {:<14} {:<9} {:>3} {:>7} {}",
            e.at, e.app, e.trigger, e.service, outcome, e.attempts, e.latency_ms, e.error
        ));
    }
    out
}

async fn test(
    sink: &str,
    trigger: &str,
    app: Option<&str>,
    namespace: &str,
    cluster: &ClusterArgs,
) -> anyhow::Result<ExitCode> {
    let client = connect(cluster).await?.client;
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let data = maps
        .get_opt(ferry_notify::CONFIGMAP)
        .await
        .with_context(|| format!("reading ConfigMap {namespace}/{}", ferry_notify::CONFIGMAP))?
        .and_then(|m| m.data)
        .unwrap_or_default();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret = secrets
        .get_opt(ferry_notify::SECRET)
        .await
        .with_context(|| format!("reading Secret {namespace}/{}", ferry_notify::SECRET))?
        .map(|s| secret_data(&s))
        .unwrap_or_default();
    let config = Config::parse(&data, &secret);
    for error in &config.errors {
        eprintln!("warning: {}", config.masker.mask(&error.to_string()));
    }
    if !config.services.contains_key(sink) {
        let known: Vec<&str> = config.services.keys().map(String::as_str).collect();
        bail!(
            "no service {sink:?} in ConfigMap {namespace}/{}; it declares {known:?}. hint: add `service.<type>.{sink}`",
            ferry_notify::CONFIGMAP
        );
    }
    let event = match app {
        Some(app) => app_event(&client, app, namespace).await?,
        None => sample_event(),
    };
    let notifier = Notifier::start(ferry_notify::Options::default(), Default::default());
    notifier.set_config(config);
    let entry = notifier.test(sink, trigger, event).await;
    println!("{}", describe(&entry));
    Ok(if entry.outcome == Some(Outcome::Delivered) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn describe(e: &LogEntry) -> String {
    let outcome = e.outcome.map_or("-", Outcome::as_str);
    let code = e.status_code.map(|c| format!(" ({c})")).unwrap_or_default();
    let error = if e.error.is_empty() { String::new() } else { format!(": {}", e.error) };
    format!(
        "{outcome}{code} to {} ({}) for {} after {} attempt(s) in {} ms{error}",
        e.service, e.service_type, e.trigger, e.attempts, e.latency_ms
    )
}

async fn app_event(client: &kube::Client, app: &str, home: &str) -> anyhow::Result<AppEvent> {
    let (namespace, name) = app.split_once('/').unwrap_or((home, app));
    let api: Api<ferry_engine::Application> = Api::namespaced(client.clone(), namespace);
    let found =
        api.get(name).await.with_context(|| format!("reading Application {namespace}/{name}"))?;
    let status = found.status.clone().unwrap_or_default();
    let author = status.history.last().map(|h| h.author.clone()).unwrap_or_default();
    let revision = status.sync.revision.clone();
    Ok(AppEvent {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        app: serde_json::to_value(&found)?,
        commit: Commit { revision, author, message: String::new() },
        ..Default::default()
    })
}

fn sample_event() -> AppEvent {
    let revision = "0000000000000000000000000000000000000000";
    AppEvent {
        namespace: "ferry".into(),
        name: "sample".into(),
        app: json!({
            "metadata": {"name": "sample", "namespace": "ferry"},
            "spec": {"source": {"repoURL": "https://github.com/example/sample.git"}},
            "status": {"sync": {"status": "Synced", "revision": revision}, "health": {"status": "Healthy"},
                       "operationState": {"phase": "Succeeded", "revision": revision, "dryRun": false}},
        }),
        sync_kind: "manual".into(),
        commit: Commit {
            revision: revision.into(),
            author: "Ferry <ferry@example.invalid>".into(),
            message: "a test notification from `ferry notify test`".into(),
        },
        changes: String::new(),
        deleted: false,
    }
}

fn secret_data(secret: &Secret) -> BTreeMap<String, String> {
    let mut out = secret.string_data.clone().unwrap_or_default();
    for (key, bytes) in secret.data.iter().flatten() {
        if let Ok(value) = String::from_utf8(bytes.0.clone()) {
            out.insert(key.clone(), value.trim_end_matches(['\n', '\r']).to_owned());
        }
    }
    out
}
