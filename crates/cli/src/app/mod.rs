//! `ferry app …`, `ferry diff`, `ferry install`: the Application commands. They write specs and
//! annotations and read status; the engine does the work. Each verb is a small module.
//!
//! Exit codes: 0 ok; 1 a difference, a timeout or a failed operation; 2 usage or other errors.

mod approve;
mod complete;
pub(crate) mod connect;
mod create;
mod delete;
mod diff;
mod edit;
pub(crate) mod error;
mod get;
mod history;
pub(crate) mod install;
mod logs;
mod manifests;
pub(crate) mod output;
mod patch;
pub(crate) mod plan;
pub(crate) mod record;
mod refresh;
mod resources;
mod rollback;
mod set;
pub(crate) mod source;
mod suspend;
mod sync;
mod terminate;
mod unset;
mod update;
mod wait;

use std::process::ExitCode;

use ferry_engine::Application;
use kube::Api;

pub use connect::{ClusterArgs, Connection, connect};
pub use create::{ApprovalFlags, ensure_namespace};
pub use diff::LocalDiffArgs;
pub use error::CliError;
pub use install::InstallArgs;
pub use output::Format;
pub use output::{hint, table, write_data};

/// `ferry app`: manage Applications.
#[derive(clap::Args, Debug)]
pub struct AppArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Namespace the Applications live in.
    #[arg(long, global = true, default_value = "ferry", visible_alias = "app-namespace")]
    pub namespace: String,
    #[command(subcommand)]
    pub command: AppCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum AppCommand {
    /// Create (or with --upsert, update) an Application; checks the repo, path and destination.
    Create(Box<create::CreateArgs>),
    /// List Applications with their sync and health.
    List {
        #[arg(short = 'o', long, value_enum, default_value_t)]
        output: Format,
    },
    /// Show one Application: sync, health, revision, conditions, resources.
    Get {
        #[arg(add = complete::app_names())]
        name: String,
        #[arg(short = 'o', long, value_enum, default_value_t)]
        output: Format,
    },
    /// Show the deployment history.
    History {
        #[arg(add = complete::app_names())]
        name: String,
        #[arg(short = 'o', long, value_enum, default_value_t)]
        output: Format,
    },
    /// Change fields of the spec: --revision, --path, --helm-set, --values, --sync-option ….
    Set(Box<set::SetArgs>),
    /// Remove settings: a Helm parameter or values file, a sync option, automated sync ….
    Unset(unset::UnsetArgs),
    /// Apply a JSON patch (default) or a merge patch to the Application.
    Patch(patch::PatchArgs),
    /// Edit the Application in $VISUAL/$EDITOR.
    Edit {
        #[arg(add = complete::app_names())]
        name: String,
    },
    /// Print the app's manifests: rendered from Git (default) or live from the cluster.
    Manifests(manifests::ManifestsArgs),
    /// List the app's objects with their sync and health.
    Resources {
        #[arg(add = complete::app_names())]
        name: String,
        #[arg(short = 'o', long, value_enum, default_value_t)]
        output: Format,
    },
    /// Print the logs of the app's pods (-f follows).
    Logs(logs::LogsArgs),
    /// Resolve targetRevision again now and compare (--hard: render again too).
    Refresh(refresh::RefreshArgs),
    /// Ask the engine to sync now.
    Sync(sync::SyncArgs),
    /// Approve the revision awaiting approval (as your Kubernetes user).
    Approve(approve::ApproveArgs),
    /// Stop the sync operation in progress.
    TerminateOp(terminate::TerminateArgs),
    /// Go back to an earlier history entry (default: the previous one) and stay there.
    Rollback(rollback::RollbackArgs),
    /// Stop syncing and healing (status stays fresh).
    Suspend {
        #[arg(add = complete::app_names())]
        name: String,
    },
    /// Resume syncing and healing after `suspend`.
    Resume {
        #[arg(add = complete::app_names())]
        name: String,
    },
    /// Delete an Application (with --cascade, its objects too).
    Delete(delete::DeleteArgs),
    /// Wait until an Application is Synced (to the revision its target resolves to now) and/or Healthy.
    Wait(wait::WaitArgs),
    /// Show how the cluster differs from Git; exit 1 when it does.
    Diff {
        #[arg(add = complete::app_names())]
        name: String,
    },
}

/// Runs `ferry app …`.
pub fn run_app(args: AppArgs) -> ExitCode {
    block_on(async move {
        let conn = connect::connect(&args.cluster).await?;
        let ns = args.namespace.as_str();
        match args.command {
            AppCommand::Create(c) => create::run(&conn, ns, *c).await,
            AppCommand::List { output } => get::list(&conn, ns, output).await,
            AppCommand::Get { name, output } => get::get(&conn, ns, &name, output).await,
            AppCommand::History { name, output } => history::run(&conn, ns, &name, output).await,
            AppCommand::Set(s) => set::run(&conn, ns, *s).await,
            AppCommand::Unset(u) => unset::run(&conn, ns, u).await,
            AppCommand::Patch(p) => patch::run(&conn, ns, p).await,
            AppCommand::Edit { name } => edit::run(&conn, ns, &name).await,
            AppCommand::Manifests(m) => manifests::run(&conn, ns, m).await,
            AppCommand::Resources { name, output } => {
                resources::run(&conn, ns, &name, output).await
            }
            AppCommand::Logs(l) => logs::run(&conn, ns, l).await,
            AppCommand::Refresh(r) => refresh::run(&conn, ns, r).await,
            AppCommand::Sync(s) => sync::run(&conn, ns, s).await,
            AppCommand::Approve(a) => approve::run(&conn, ns, a).await,
            AppCommand::TerminateOp(t) => terminate::run(&conn, ns, t).await,
            AppCommand::Rollback(r) => rollback::run(&conn, ns, r).await,
            AppCommand::Suspend { name } => suspend::run(&conn, ns, &name, true).await,
            AppCommand::Resume { name } => suspend::run(&conn, ns, &name, false).await,
            AppCommand::Delete(d) => delete::run(&conn, ns, d).await,
            AppCommand::Wait(w) => wait::run(&conn, ns, w).await,
            AppCommand::Diff { name } => diff::app(&conn, ns, &name).await,
        }
    })
}

/// Runs `ferry diff PATH --app NAME`.
pub fn run_local_diff(args: LocalDiffArgs) -> ExitCode {
    block_on(async move {
        let conn = connect::connect(&args.cluster).await?;
        diff::local(&conn, &args).await
    })
}

/// Runs `ferry plan`.
pub fn run_plan(args: plan::PlanArgs) -> ExitCode {
    block_on(async move {
        let conn = connect::connect(&args.cluster).await?;
        plan::run(&conn, &args).await
    })
}

/// Runs `ferry install`.
pub fn run_install(args: InstallArgs) -> ExitCode {
    block_on(install::run(args))
}

pub(crate) fn block_on(
    work: impl std::future::Future<Output = Result<ExitCode, CliError>>,
) -> ExitCode {
    let runtime =
        match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: cannot start the async runtime: {e}");
                return ExitCode::from(2);
            }
        };
    match runtime.block_on(work) {
        Ok(code) => code,
        // The reader went away (`ferry app list | head`): nothing to tell it.
        Err(CliError::BrokenPipe) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            if let Some(h) = e.hint() {
                output::hint(&h);
            }
            ExitCode::from(2)
        }
    }
}

/// The Application, or "not found" naming it and its namespace.
pub(crate) async fn fetch(
    api: &Api<Application>,
    ns: &str,
    name: &str,
) -> Result<Application, CliError> {
    api.get(name)
        .await
        .map_err(|e| CliError::on_app(e, name, ns, &format!("reading application {name:?}")))
}

pub(crate) fn apps(conn: &connect::Connection, ns: &str) -> Api<Application> {
    Api::namespaced(conn.client.clone(), ns)
}

/// RFC 3339 now, as the engine writes times.
pub(crate) fn now() -> String {
    jiff::Timestamp::now().to_string()
}

/// An Application named `ferry/web` with `status`, for the commands' unit tests.
#[cfg(test)]
pub(crate) fn test_app(status: serde_json::Value) -> ferry_engine::Application {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "ferry.dev/v1alpha1", "kind": "Application",
        "metadata": {"name": "web", "namespace": "ferry"},
        "spec": {"source": {"repoURL": "git://h/r"}, "destination": {"namespace": "d"}},
        "status": status,
    }))
    .expect("a valid Application")
}
