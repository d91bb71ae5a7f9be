//! `ferry project` (alias `proj`): create, get, list and delete Projects (Argo CD's AppProject
//! fields) in Ferry's namespace. The engine watches them: a change re-checks their apps.

mod create;
mod show;

use std::process::ExitCode;

use ferry_engine::project::Project;
use kube::api::{Api, DeleteParams};

use crate::app::{ClusterArgs, Connection, Format, connect};

pub use create::CreateArgs;

#[derive(clap::Args, Debug)]
pub struct ProjectArgs {
    /// Ferry's namespace, where Projects live.
    #[arg(long, short = 'n', global = true, default_value = ferry_engine::DEFAULT_HOME_NAMESPACE)]
    pub namespace: String,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    #[command(subcommand)]
    pub command: ProjectCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum ProjectCommand {
    /// Create (or with --upsert, replace) a Project from flags or a YAML file (-f).
    Create(Box<CreateArgs>),
    /// Show a Project: its rules, its sync windows now, and the apps that use it.
    Get {
        name: String,
        #[arg(short = 'o', long, value_enum, default_value_t)]
        output: Format,
    },
    /// List the Projects.
    List {
        #[arg(short = 'o', long, value_enum, default_value_t)]
        output: Format,
    },
    /// Delete a Project; refused while apps use it.
    Delete { name: String },
}

pub async fn run(args: ProjectArgs) -> anyhow::Result<ExitCode> {
    let conn = connect(&args.cluster).await?;
    let api: Api<Project> = Api::namespaced(conn.client.clone(), &args.namespace);
    match args.command {
        ProjectCommand::Create(c) => {
            crate::app::ensure_namespace(&conn, &args.namespace).await?;
            create::run(&api, &args.namespace, *c).await
        }
        ProjectCommand::Get { name, output } => show::get(&conn, &api, &name, output).await,
        ProjectCommand::List { output } => show::list(&conn, &api, output).await,
        ProjectCommand::Delete { name } => delete(&conn, &api, &name).await,
    }
}

/// The Applications (all namespaces) that name `project`.
async fn apps_of(conn: &Connection, project: &str) -> anyhow::Result<Vec<String>> {
    let apps: Api<ferry_engine::Application> = Api::all(conn.client.clone());
    let listed = apps
        .list(&Default::default())
        .await
        .map_err(|e| crate::app::CliError::api(e, "listing Applications"))?;
    Ok(listed
        .items
        .iter()
        .filter(|a| a.project() == project)
        .map(|a| {
            format!(
                "{}/{}",
                a.metadata.namespace.clone().unwrap_or_default(),
                a.metadata.name.clone().unwrap_or_default()
            )
        })
        .collect())
}

async fn delete(conn: &Connection, api: &Api<Project>, name: &str) -> anyhow::Result<ExitCode> {
    let users = apps_of(conn, name).await?;
    if !users.is_empty() {
        anyhow::bail!(
            "project {name} is used by {}; move those apps to another project (spec.project) or delete them first",
            users.join(", ")
        );
    }
    api.delete(name, &DeleteParams::default())
        .await
        .map_err(|e| crate::app::CliError::api(e, format!("deleting project {name}")))?;
    eprintln!("project {name} deleted");
    Ok(ExitCode::SUCCESS)
}
