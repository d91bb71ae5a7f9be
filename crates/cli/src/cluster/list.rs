//! `ferry cluster list`: every destination cluster with what Ferry sees of it now — the
//! version its API server reports to the Secret's credentials (probed now, time-bound), the
//! apps that target it and their objects (from the Applications' status), the last error.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use ferry_engine::Application;
use ferry_engine::application::{IN_CLUSTER_NAME, IN_CLUSTER_SERVER};
use ferry_engine::clusters::{describe_error, secret, select};
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use serde::Serialize;

use super::{FerryArgs, applications, apps_on, cluster_secrets};
use crate::app::error::CliError;
use crate::app::output::{self, Format, or_dash, table};

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    #[arg(short = 'o', long, value_enum, default_value_t)]
    pub output: Format,
    #[command(flatten)]
    pub ferry: FerryArgs,
}

/// One row of the list.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct ClusterRow {
    pub name: String,
    pub server: String,
    /// The Secret it comes from (none for the cluster Ferry runs in).
    pub secret: Option<String>,
    pub version: String,
    /// `Successful`, `Failed` (no answer) or `Invalid` (the Secret cannot be used).
    pub status: String,
    pub apps: usize,
    pub objects: usize,
    pub last_error: String,
}

pub async fn run(args: ListArgs) -> Result<ExitCode, CliError> {
    let control = args.ferry.connect().await?;
    let ns = args.ferry.ferry_namespace.as_str();
    let secrets = cluster_secrets(&control, ns).await?;
    let apps = applications(&control).await?;
    let mut rows =
        vec![row_of(IN_CLUSTER_NAME, IN_CLUSTER_SERVER, None, probe(&control.client).await)];
    let probes = secrets.iter().map(|s| probe_secret(s.clone()));
    for (s, (name, server, outcome)) in secrets.iter().zip(futures::future::join_all(probes).await)
    {
        rows.push(row_of(&name, &server, s.metadata.name.clone(), outcome));
    }
    rows[1..].sort_by(|a, b| a.name.cmp(&b.name));
    for row in &mut rows {
        let on = apps_on(&apps, &secrets, &row.server);
        row.apps = on.len();
        row.objects = apps
            .iter()
            .filter(|a| {
                select::server_of(&a.spec.destination, &secrets).as_deref() == Some(&row.server)
            })
            .map(objects_of)
            .sum();
    }
    if args.output.is_data() {
        return output::write_data(&mut std::io::stdout().lock(), args.output, &rows)
            .map(|()| ExitCode::SUCCESS);
    }
    let header = ["NAME", "SERVER", "VERSION", "STATUS", "APPS", "OBJECTS", "LAST ERROR"];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                r.server.clone(),
                or_dash(&r.version),
                r.status.clone(),
                r.apps.to_string(),
                r.objects.to_string(),
                or_dash(&r.last_error),
            ]
        })
        .collect();
    output::print(&table(&header, &cells))?;
    Ok(ExitCode::SUCCESS)
}

fn objects_of(app: &Application) -> usize {
    app.status.as_ref().map_or(0, |s| s.resources.len())
}

/// What probing a cluster gave: its version, or the status and error.
type Outcome = Result<String, (&'static str, String)>;

fn row_of(name: &str, server: &str, secret: Option<String>, outcome: Outcome) -> ClusterRow {
    let (version, status, last_error) = match outcome {
        Ok(v) => (v, "Successful".to_owned(), String::new()),
        Err((status, e)) => (String::new(), status.to_owned(), e),
    };
    ClusterRow {
        name: name.to_owned(),
        server: server.to_owned(),
        secret,
        version,
        status,
        apps: 0,
        objects: 0,
        last_error,
    }
}

/// Name, server and probe outcome of one cluster Secret.
async fn probe_secret(s: Arc<Secret>) -> (String, String, Outcome) {
    let name = select::raw(&s, "name").or_else(|| select::raw(&s, "server")).unwrap_or_default();
    let server = select::raw(&s, "server").unwrap_or_default().trim_end_matches('/').to_owned();
    let outcome = match client_of(&s).await {
        Ok(client) => probe(&client).await,
        Err(e) => Err(("Invalid", e)),
    };
    (name, server, outcome)
}

async fn client_of(s: &Secret) -> Result<Client, String> {
    let spec = secret::parse(s).map_err(|e| e.to_string())?;
    let kubeconfig = secret::kubeconfig(&spec).map_err(|e| e.to_string())?;
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .map_err(|e| {
            format!(
                "cannot build a client from Secret {}: {}",
                spec.secret,
                crate::app::error::root_cause(&e)
            )
        })?;
    config.connect_timeout = Some(Duration::from_secs(5));
    Client::try_from(config).map_err(|e| crate::app::error::root_cause(&e))
}

async fn probe(client: &Client) -> Outcome {
    match tokio::time::timeout(Duration::from_secs(10), client.apiserver_version()).await {
        Ok(Ok(v)) => Ok(v.git_version),
        Ok(Err(e)) => Err(("Failed", describe_error(&e))),
        Err(_) => Err(("Failed", "no answer within 10s".into())),
    }
}
