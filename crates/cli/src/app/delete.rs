//! `ferry app delete`: with `--cascade`, adds the cascade finalizer first so the engine deletes
//! the app's objects before the Application goes; then waits until it is gone.

use std::process::ExitCode;
use std::time::Duration;

use ferry_engine::application::{FINALIZER_CASCADE, FINALIZER_CASCADE_ARGO};
use kube::api::{DeleteParams, Patch, PatchParams};

use super::connect::Connection;
use super::error::CliError;
use super::output::spinner;
use super::wait::{human, parse_timeout};

#[derive(clap::Args, Debug, Clone)]
pub struct DeleteArgs {
    #[arg(add = super::complete::app_names())]
    pub name: String,
    /// Delete the app's objects too (adds ferry.dev/resources-finalizer before deleting).
    #[arg(long)]
    pub cascade: bool,
    /// Give up waiting for the Application to disappear after this long (exit 1).
    #[arg(long, default_value = "5m", value_parser = parse_timeout)]
    pub timeout: Duration,
}

/// With `--cascade`, adds the cascade finalizer unless one is there; returns whether the app
/// cascades. The patch is a compare-and-swap on resourceVersion (finalizers are a list, and a
/// merge patch replaces it whole, so a concurrent change must not be overwritten silently); the
/// engine writes status meanwhile, so a conflict is read again and retried a few times.
async fn add_cascade(
    api: &kube::Api<ferry_engine::Application>,
    ns: &str,
    args: &DeleteArgs,
) -> Result<bool, CliError> {
    let mut attempt = 0;
    loop {
        let app = super::fetch(api, ns, &args.name).await?;
        let mut finalizers = app.metadata.finalizers.clone().unwrap_or_default();
        let cascades =
            finalizers.iter().any(|f| f == FINALIZER_CASCADE || f == FINALIZER_CASCADE_ARGO);
        if !args.cascade || cascades {
            return Ok(cascades);
        }
        finalizers.push(FINALIZER_CASCADE.to_owned());
        let patch = serde_json::json!({"metadata": {
            "finalizers": finalizers,
            "resourceVersion": app.metadata.resource_version,
        }});
        match api.patch(&args.name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(_) => return Ok(false),
            Err(kube::Error::Api(status)) if status.code == 409 && attempt < 5 => attempt += 1,
            Err(e) => {
                return Err(CliError::on_app(e, &args.name, ns, "adding the cascade finalizer"));
            }
        }
    }
}

pub async fn run(conn: &Connection, ns: &str, args: DeleteArgs) -> Result<ExitCode, CliError> {
    let api = super::apps(conn, ns);
    let cascades = add_cascade(&api, ns, &args).await?;
    api.delete(&args.name, &DeleteParams::default())
        .await
        .map_err(|e| CliError::on_app(e, &args.name, ns, "deleting"))?;
    if args.cascade || cascades {
        eprintln!("deleting {ns}/{} and its objects", args.name);
    } else {
        eprintln!(
            "deleting {ns}/{}; its objects stay in the cluster (use --cascade to delete them too)",
            args.name
        );
    }
    let bar = spinner(&format!("waiting for {} to be gone", args.name));
    let deadline = std::time::Instant::now() + args.timeout;
    loop {
        let found = api
            .get_opt(&args.name)
            .await
            .map_err(|e| CliError::api(e, format!("reading application {:?}", args.name)))?;
        let Some(app) = found else {
            bar.finish_and_clear();
            eprintln!("application {ns}/{} deleted", args.name);
            return Ok(ExitCode::SUCCESS);
        };
        if std::time::Instant::now() >= deadline {
            bar.finish_and_clear();
            let left = app.metadata.finalizers.clone().unwrap_or_default().join(", ");
            eprintln!(
                "error: timed out after {} waiting for {} to be gone; it still has finalizers [{left}]: {}",
                human(args.timeout),
                args.name,
                super::wait::seen(&app, None)
            );
            return Ok(ExitCode::from(1));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
