//! `ferry install`: everything the controller needs in a cluster (`manifests`: the CRDs, a
//! namespace, RBAC, an HA Deployment running `ferry controller` — leader election through a
//! Lease keeps the other replicas on standby — with its PodDisruptionBudget, Service and
//! NetworkPolicy). `--print` writes the YAML instead of applying it.

pub mod manifests;

use std::process::ExitCode;

use ferry_apply::discovery::{Discovery, gvk_of};
use ferry_apply::object::str_at;
use kube::Api;
use kube::api::{DynamicObject, Patch, PatchParams};
use serde_json::Value;

use manifests::{InstallOptions, NAME};

use super::connect::{ClusterArgs, connect};
use super::create::FIELD_MANAGER;
use super::error::CliError;
use super::output::{hint, print};

#[derive(clap::Args, Debug)]
pub struct InstallArgs {
    /// Write the manifests to stdout instead of applying them.
    #[arg(long)]
    pub print: bool,
    #[command(flatten)]
    pub install: InstallOptions,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// The manifests as one multi-document YAML stream.
pub fn to_yaml(objects: &[Value]) -> Result<String, CliError> {
    let mut out = String::new();
    for o in objects {
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(o).map_err(|e| CliError::Output(e.to_string()))?);
    }
    Ok(out)
}

pub async fn run(args: InstallArgs) -> Result<ExitCode, CliError> {
    let objects = manifests::manifests(&args.install)?;
    if args.print {
        print(&to_yaml(&objects)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let conn = connect(&args.cluster).await?;
    apply_all(&conn.client, &objects, FIELD_MANAGER).await?;
    eprintln!(
        "ferry is installed in namespace {:?} (image {})",
        args.install.namespace, args.install.image
    );
    hint(&format!("kubectl -n {} rollout status deployment/{NAME}", args.install.namespace));
    hint("ferry app create NAME --repo URL --path DIR --dest-namespace NS");
    Ok(ExitCode::SUCCESS)
}

/// Server-side applies `objects` in order as `manager`, taking fields over.
pub async fn apply_all(
    client: &kube::Client,
    objects: &[Value],
    manager: &str,
) -> Result<(), CliError> {
    let discovery = Discovery::new();
    let params = PatchParams::apply(manager).force();
    for obj in objects {
        let api_version = str_at(obj, &["apiVersion"]).unwrap_or_default();
        let kind = str_at(obj, &["kind"]).unwrap_or_default();
        let name = str_at(obj, &["metadata", "name"]).unwrap_or_default();
        let what = format!("{kind} {name}");
        let resolved = discovery
            .resolve(client, &gvk_of(api_version, kind))
            .await
            .map_err(|e| CliError::Io(format!("applying {what}: {e}")))?;
        let api: Api<DynamicObject> = match str_at(obj, &["metadata", "namespace"]) {
            Some(ns) if resolved.namespaced => {
                Api::namespaced_with(client.clone(), ns, &resolved.resource)
            }
            _ => Api::all_with(client.clone(), &resolved.resource),
        };
        api.patch(name, &params, &Patch::Apply(obj))
            .await
            .map_err(|e| CliError::api(e, format!("applying {what}")))?;
        eprintln!("{what} applied");
    }
    Ok(())
}
