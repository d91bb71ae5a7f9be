//! `ferry cluster remove NAME [--force]`: deletes the cluster Secret; refused while apps
//! target the cluster (their reconciles would stop with UnknownCluster), unless forced.

use std::process::ExitCode;

use ferry_engine::application::{IN_CLUSTER_NAME, IN_CLUSTER_SERVER};
use ferry_engine::clusters::select;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams};

use super::{FerryArgs, applications, apps_on, cluster_secrets, find};
use crate::app::error::CliError;
use crate::app::output;

#[derive(clap::Args, Debug)]
pub struct RemoveArgs {
    /// The cluster's name (or server URL).
    pub name: String,
    /// Remove it even while apps target it (they then report UnknownCluster and change nothing).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub ferry: FerryArgs,
}

pub async fn run(args: RemoveArgs) -> Result<ExitCode, CliError> {
    if args.name == IN_CLUSTER_NAME || args.name.trim_end_matches('/') == IN_CLUSTER_SERVER {
        return Err(CliError::Failed(
            "the cluster Ferry runs in (in-cluster) cannot be removed".into(),
        ));
    }
    let control = args.ferry.connect().await?;
    let ns = args.ferry.ferry_namespace.as_str();
    let secrets = cluster_secrets(&control, ns).await?;
    let Some(found) = find(&secrets, &args.name).cloned() else {
        return Err(CliError::Failed(format!(
            "no cluster {:?} in namespace {ns} (`ferry cluster list` shows the registered ones)",
            args.name
        )));
    };
    let secret_name = found.metadata.name.clone().unwrap_or_default();
    let server = select::raw(&found, "server").unwrap_or_default().trim_end_matches('/').to_owned();
    let on = apps_on(&applications(&control).await?, &secrets, &server);
    if !on.is_empty() && !args.force {
        return Err(CliError::Failed(format!(
            "cluster {:?} ({server}) is the destination of {} app(s): {}; move or delete them first, or pass --force (they then stop with UnknownCluster and change nothing)",
            args.name,
            on.len(),
            on.join(", ")
        )));
    }
    let api: Api<Secret> = Api::namespaced(control.client.clone(), ns);
    api.delete(&secret_name, &DeleteParams::default())
        .await
        .map_err(|e| CliError::api(e, format!("deleting Secret {ns}/{secret_name}")))?;
    output::print(&format!(
        "cluster {:?} ({server}) removed: Secret {ns}/{secret_name} deleted\n",
        args.name
    ))?;
    if !on.is_empty() {
        output::hint(&format!("{} app(s) still name it: {}", on.len(), on.join(", ")));
    }
    Ok(ExitCode::SUCCESS)
}
