//! `ferry appset`: list, get, create, delete and approve ApplicationSets, and `preview` — the
//! Applications a set file would generate, computed here (the repositories fetched with the
//! engine's credentials when a cluster is reachable, anonymously when not), nothing written.

mod preview;
mod show;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use ferry_engine::appset::{ANNOTATION_APPROVE_DELETION, ApplicationSet};
use kube::api::{Api, DeleteParams, Patch, PatchParams};

use crate::app::{ClusterArgs, Format, connect};

#[derive(clap::Args, Debug)]
pub struct AppSetArgs {
    /// The namespace of the ApplicationSets (and of the Applications they generate).
    #[arg(long, short = 'n', global = true, default_value = ferry_engine::DEFAULT_HOME_NAMESPACE)]
    pub namespace: String,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    #[command(subcommand)]
    pub command: AppSetCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum AppSetCommand {
    /// List the ApplicationSets: generated apps, errors, deletions waiting.
    List {
        #[arg(short = 'o', long, value_enum, default_value_t)]
        output: Format,
    },
    /// Show a set: conditions, generated apps with sync and health, the RollingSync.
    Get {
        name: String,
        #[arg(short = 'o', long, value_enum, default_value_t)]
        output: Format,
    },
    /// Create or update an ApplicationSet from a YAML file.
    Create {
        #[arg(short = 'f', long)]
        file: PathBuf,
    },
    /// Delete a set; its apps go with it (their resources too, unless the set says
    /// preserveResourcesOnDeletion).
    Delete { name: String },
    /// Approve the deletions the set holds (condition PruneApproval): exactly that list.
    Approve { name: String },
    /// Print the Applications a set file would generate; writes nothing, needs no engine.
    Preview {
        file: PathBuf,
        #[arg(short = 'o', long, value_enum, default_value_t)]
        output: Format,
    },
}

pub async fn run(args: AppSetArgs) -> anyhow::Result<ExitCode> {
    if let AppSetCommand::Preview { file, output } = &args.command {
        return preview::run(&args.cluster, &args.namespace, file, *output).await;
    }
    let conn = connect(&args.cluster).await?;
    let api: Api<ApplicationSet> = Api::namespaced(conn.client.clone(), &args.namespace);
    match args.command {
        AppSetCommand::List { output } => show::list(&api, output).await,
        AppSetCommand::Get { name, output } => show::get(&api, &name, output).await,
        AppSetCommand::Create { file } => {
            crate::app::ensure_namespace(&conn, &args.namespace).await?;
            create(&api, &args.namespace, &file).await
        }
        AppSetCommand::Delete { name } => {
            api.delete(&name, &DeleteParams::default()).await.map_err(|e| {
                crate::app::CliError::api(e, format!("deleting ApplicationSet {name}"))
            })?;
            eprintln!("applicationset {name} deleted");
            Ok(ExitCode::SUCCESS)
        }
        AppSetCommand::Approve { name } => approve(&api, &name).await,
        AppSetCommand::Preview { .. } => unreachable!("handled above"),
    }
}

/// Reads a set manifest (YAML or JSON).
pub fn read_file(path: &PathBuf) -> anyhow::Result<ApplicationSet> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_saphyr::from_str(&text)
        .with_context(|| format!("{}: not an ApplicationSet manifest", path.display()))
}

async fn create(
    api: &Api<ApplicationSet>,
    namespace: &str,
    file: &PathBuf,
) -> anyhow::Result<ExitCode> {
    let mut set = read_file(file)?;
    let Some(name) = set.metadata.name.clone() else {
        bail!("{}: metadata.name is missing", file.display());
    };
    set.metadata.namespace = Some(namespace.to_owned());
    let mut body = serde_json::to_value(&set)?;
    body["apiVersion"] = "ferry.dev/v1alpha1".into();
    body["kind"] = "ApplicationSet".into();
    if let Some(m) = body.as_object_mut() {
        m.remove("status");
    }
    let params = PatchParams::apply(ferry_apply::FIELD_MANAGER).force();
    api.patch(&name, &params, &Patch::Apply(&body)).await.map_err(|e| {
        crate::app::CliError::api(
            e,
            format!("writing ApplicationSet {name} in namespace {namespace}"),
        )
    })?;
    eprintln!("applicationset {name} written in namespace {namespace}");
    crate::app::hint(&format!("ferry appset get {name}"));
    Ok(ExitCode::SUCCESS)
}

async fn approve(api: &Api<ApplicationSet>, name: &str) -> anyhow::Result<ExitCode> {
    let set = api
        .get(name)
        .await
        .map_err(|e| crate::app::CliError::api(e, format!("reading ApplicationSet {name}")))?;
    let Some(pending) = set.status.and_then(|s| s.pending_deletion) else {
        bail!(
            "ApplicationSet {name} holds no deletion for approval; `ferry appset get {name}` shows its conditions"
        );
    };
    let patch = serde_json::json!({"metadata": {"annotations": {ANNOTATION_APPROVE_DELETION: pending.hash}}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await.map_err(|e| {
        crate::app::CliError::api(e, format!("approving the deletions of ApplicationSet {name}"))
    })?;
    eprintln!(
        "approved deleting {} Applications: {}",
        pending.applications.len(),
        pending.applications.join(", ")
    );
    crate::app::hint("a later, different deletion needs a new approval");
    Ok(ExitCode::SUCCESS)
}
