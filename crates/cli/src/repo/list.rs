//! `ferry repo list`: the repositories and credential templates Ferry has Secrets for, each
//! repository's connection checked now (in parallel, with a short timeout), and the last error
//! the apps on it reported.

use std::time::Duration;

use anyhow::Context;
use ferry_engine::Application;
use ferry_engine::repos::secret::Kind;
use ferry_engine::repos::select::{normalize, same_repository};
use ferry_engine::repos::{self, Resolver, Snapshot};
use kube::api::{Api, ListParams};
use serde::Serialize;

use super::{Target, check_connection, client};

#[derive(clap::Args, Clone, Debug)]
pub struct ListArgs {
    /// Output format: text table or json.
    #[arg(long, short = 'o', default_value = "text")]
    pub output: String,
    #[command(flatten)]
    pub target: Target,
}

#[derive(Serialize)]
struct Row {
    url: String,
    #[serde(rename = "type")]
    kind: String,
    name: String,
    connection: String,
    #[serde(rename = "lastError")]
    last_error: String,
}

/// How long one connection check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn run(args: ListArgs) -> anyhow::Result<String> {
    let ns = &args.target.namespace;
    let conn = client(&args.target).await?;
    let snapshot = repos::load(&conn.client, ns)
        .await
        .with_context(|| format!("reading the repository Secrets in namespace {ns}"))?;
    let apps: Api<Application> = Api::all(conn.client.clone());
    // Without the Applications the list still says what it knows; LAST ERROR says why not.
    let apps = apps.list(&ListParams::default()).await.map(|l| l.items);
    let keys = tempfile::tempdir().context("creating a temporary directory for keys")?;
    let resolver = Resolver::new(keys.path());
    let rows = futures::future::join_all(
        snapshot
            .secrets
            .iter()
            .map(|(kind, read)| row(&resolver, &snapshot, ns, *kind, read, &apps)),
    )
    .await;
    if args.output == "json" {
        return Ok(serde_json::to_string_pretty(&rows)?);
    }
    if rows.is_empty() {
        crate::app::hint("no repository Secrets yet; add one with `ferry repo add URL`");
    }
    let table: Vec<Vec<String>> =
        rows.into_iter().map(|r| vec![r.url, r.kind, r.name, r.connection, r.last_error]).collect();
    Ok(crate::app::table(&["URL", "TYPE", "NAME", "CONNECTION", "LAST ERROR"], &table)
        .trim_end()
        .to_owned())
}

async fn row(
    resolver: &Resolver,
    snapshot: &Snapshot,
    ns: &str,
    kind: Kind,
    read: &ferry_engine::repos::select::Read,
    apps: &Result<Vec<Application>, kube::Error>,
) -> Row {
    let (url, name) = match read {
        Ok(s) => (s.url.clone(), s.name.clone()),
        Err((url, e)) => (url.clone().unwrap_or_else(|| "-".into()), e.secret().to_owned()),
    };
    let name = name.rsplit('/').next().unwrap_or(&name).to_owned();
    let (connection, last_error) = match read {
        Err((_, e)) => ("Invalid".to_owned(), e.to_string()),
        Ok(_) => {
            let connection = match kind {
                Kind::Template => "-".to_owned(),
                Kind::Repository => connection(resolver, snapshot, ns, &url).await,
            };
            (connection, last_app_error(kind, &url, apps))
        }
    };
    Row { url, kind: kind.label().to_owned(), name, connection, last_error }
}

async fn connection(resolver: &Resolver, snapshot: &Snapshot, ns: &str, url: &str) -> String {
    let checked = match resolver.access(url, snapshot).await {
        Ok(repo) => check_connection(url, &repo, ns, CHECK_TIMEOUT).await,
        Err(e) => Err(e.to_string()),
    };
    match checked {
        Ok(()) => "Successful".to_owned(),
        Err(why) => format!("Failed: {why}"),
    }
}

/// The SourceReady message of the first app on this repository (or under this template) that
/// reports one failing.
fn last_app_error(kind: Kind, url: &str, apps: &Result<Vec<Application>, kube::Error>) -> String {
    let apps = match apps {
        Ok(apps) => apps,
        Err(e) => return format!("cannot list Applications: {e}"),
    };
    let mut failing = apps.iter().filter(|a| {
        let repo = &a.spec.source.repo_url;
        match kind {
            Kind::Repository => same_repository(repo, url),
            Kind::Template => normalize(repo).starts_with(&normalize(url)),
        }
    });
    failing
        .find_map(|a| {
            let conditions = &a.status.as_ref()?.conditions;
            let c = conditions.iter().find(|c| c.type_ == "SourceReady" && c.status == "False")?;
            let first = c.message.split(". ").next().unwrap_or(&c.message);
            Some(format!("{}: {first}", a.metadata.name.clone().unwrap_or_default()))
        })
        .unwrap_or_else(|| "-".to_owned())
}
