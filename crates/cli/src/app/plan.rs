//! `ferry plan`: what merging a pull request would do to the live cluster, before it is merged
//! (`ferry_engine::plan`), printed for a terminal, as Markdown for a PR comment, or as JSON.
//! Exit 0: no change; 1: a change; 2: an error or a project violation.

use std::process::ExitCode;

use ferry_engine::plan::{PlanEnv, PlanRequest, SecretDestinations, markdown, plan, text};
use ferry_render::{RenderCache, RenderConfig};
use ferry_source::{Limits, RepoCache};

use super::connect::{ClusterArgs, Connection};
use super::error::CliError;
use super::output::print;

#[derive(clap::Args, Debug)]
pub struct PlanArgs {
    /// The repository the apps take their manifests from (as in their spec.source.repoURL).
    #[arg(long)]
    pub repo: String,
    /// The branch the change merges into (the revision the apps track).
    #[arg(long)]
    pub base: String,
    /// The change: a branch, tag or commit (a PR's head).
    #[arg(long)]
    pub head: String,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    pub output: Format,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Format {
    Text,
    Markdown,
    Json,
}

pub async fn run(conn: &Connection, args: &PlanArgs) -> Result<ExitCode, CliError> {
    let dir = super::source::cache_dir().join("repos");
    let cache = RepoCache::new(&dir, Limits::default()).map_err(|e| {
        CliError::Io(format!("cannot use the repository cache {}: {e}", dir.display()))
    })?;
    let keys = tempfile::tempdir()
        .map_err(|e| CliError::Io(format!("cannot create a temporary directory: {e}")))?;
    let repo = super::source::access(conn, &args.repo, keys.path()).await?;
    let home = std::env::var("FERRY_NAMESPACE")
        .unwrap_or_else(|_| ferry_engine::DEFAULT_HOME_NAMESPACE.to_owned());
    let destinations = SecretDestinations::load(conn.client.clone(), &home).await;
    let env = PlanEnv {
        client: conn.client.clone(),
        home_namespace: home,
        cache: &cache,
        access: repo.access,
        render: RenderConfig::default(),
        renders: &RenderCache::new(),
        destinations: &destinations,
    };
    let req = PlanRequest {
        repo_url: args.repo.clone(),
        base: args.base.clone(),
        head: args.head.clone(),
    };
    let planned = plan(&env, &req).await.map_err(|e| CliError::Plan(Box::new(e)))?;
    match args.output {
        Format::Text => print(&text(&planned))?,
        Format::Markdown => print(&markdown(&planned))?,
        Format::Json => print(
            &(serde_json::to_string_pretty(&planned)
                .map_err(|e| CliError::Output(e.to_string()))?
                + "\n"),
        )?,
    }
    eprintln!("{}", planned.headline());
    Ok(ExitCode::from(planned.exit_code()))
}
