//! The `ferry` command: the definition of the CLI interface plus glue. `anyhow` lives only here.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod allocator;
mod app;
mod appset;
mod audit;
mod backup;
mod bench;
mod bootstrap;
mod cluster;
mod controller;
mod demo;
mod health;
mod helm_shim;
mod kubeconfig;
mod logging;
mod notify;
mod progress;
mod project;
mod remote;
mod repo;
mod secret;
mod serve_access;
mod token;
mod up;
mod webhook;

pub(crate) use kubeconfig::kube_client;

/// mimalloc instead of glibc's allocator: the engine, the embedded cluster and their watches
/// allocate and free from many threads for days, and glibc's per-thread arenas keep growing
/// with that churn (RSS that creeps while the live data stays flat); mimalloc returns freed
/// pages and keeps a long-running `ferry` at the size of what it holds. Built with
/// `--features system-allocator`, `ferry` keeps glibc's allocator so that heap profilers which
/// hook `malloc` (heaptrack, valgrind's massif) see every allocation.
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "ferry", version, about = "GitOps continuous delivery for Kubernetes")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = logging::LogFormat::Text)]
    log_format: logging::LogFormat,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole loop on this machine: embedded cluster, engine, API/UI and a demo app.
    Up(up::UpArgs),
    /// Run the engine alone against a cluster (in-cluster config inside a pod), with leader election.
    Controller(controller::ControllerArgs),
    /// Print the version of ferry.
    Version,
    /// Render an app directory (YAML, Kustomize, Helm, Jsonnet) to stdout.
    Render(Box<ferry_render::cli::RenderArgs>),
    /// Repository credentials (Argo CD's repository Secrets): add, list, remove; check access.
    Repo {
        #[command(subcommand)]
        command: RepoCommand,
    },
    /// Destination clusters (add, list, remove) and the embedded Kubernetes-compatible API server (serve).
    Cluster {
        #[command(subcommand)]
        command: ClusterCommand,
    },
    /// Update image references in Git (for CI: set a new tag, commit, push).
    Image {
        #[command(subcommand)]
        command: ferry_image::cli::ImageCommand,
    },
    /// Projects (Argo CD's AppProjects): who may deploy what, where and when; create, get, list, delete.
    #[command(visible_alias = "proj")]
    Project(project::ProjectArgs),
    /// ApplicationSets: list, get, create, delete, approve held deletions, preview a file.
    #[command(name = "appset", visible_alias = "appsets")]
    AppSet(appset::AppSetArgs),
    /// Manage Applications: create, list, get, set, patch, edit, diff, sync, refresh, wait, logs, manifests, resources, history, rollback, delete.
    App(app::AppArgs),
    /// Compare a local directory (a PR checkout) with an Application's live objects; exit 1 on a difference.
    Diff(app::LocalDiffArgs),
    /// What merging a change would do to the live cluster: the apps it concerns, objects to create, update (diff) and prune; exit 1 on a change, 2 on an error.
    Plan(app::plan::PlanArgs),
    /// Install Ferry into a cluster: CRD, RBAC, the controller Deployment (--print writes the YAML).
    Install(app::InstallArgs),
    /// Commit Ferry's install and an Application `ferry` to a Git repository, install Ferry, and let it manage itself from there.
    Bootstrap(bootstrap::BootstrapArgs),
    /// Write Ferry's state (Applications with their history, Projects, ApplicationSets, its
    /// ConfigMaps and Secrets — omitted, or sealed with --age-recipient) to a file, for disaster recovery.
    Export(backup::ExportArgs),
    /// Restore what `ferry export` wrote (server-side apply; running it twice changes nothing).
    Import(backup::ImportArgs),
    /// Print a static shell completion script (commands and flags); `source <(COMPLETE=bash
    /// ferry)` instead also completes Application names from the cluster.
    Completion { shell: clap_complete::Shell },
    /// Install the `helm` shim (real Helm through its Go SDK, for machines without a helm binary).
    HelmShim {
        #[command(subcommand)]
        command: helm_shim::HelmShimCommand,
    },
    /// SOPS files without the sops binary: encrypt (honouring .sops.yaml), decrypt, keygen.
    Secret {
        #[command(subcommand)]
        command: secret::SecretCommand,
    },
    /// Webhooks from Git providers: `ferry webhook test` sends a signed test delivery.
    Webhook {
        #[command(subcommand)]
        command: webhook::WebhookCommand,
    },
    /// API tokens: create (printed once, stored as a hash), list, revoke.
    Token {
        #[command(subcommand)]
        command: token::TokenCommand,
    },
    /// Store a Ferry API URL and token for the commands that call the API (0600 config file).
    Login(remote::LoginArgs),
    /// Ask the API what you may do: `ferry auth can-i sync applications default/NS/NAME`, `ferry auth whoami`.
    Auth {
        #[command(subcommand)]
        command: audit::AuthCommand,
    },
    /// The audit trail: API actions and syncs (who, from where, what, result; commit author, trigger).
    Audit(audit::AuditArgs),
    /// Notifications: `ferry notify log` (the delivery log), `ferry notify test SINK`.
    Notify {
        #[command(subcommand)]
        command: notify::NotifyCommand,
    },
    /// Run a benchmark scenario (synthetic repos, a git daemon, the embedded cluster); see BENCHMARKS.md.
    Bench(bench::BenchArgs),
}

#[derive(Subcommand)]
enum ClusterCommand {
    /// Serve the Kubernetes API over HTTPS until SIGINT/SIGTERM; prints the URL when ready.
    Serve {
        /// Directory holding the cluster state, certificates and (by default) the kubeconfig.
        #[arg(long)]
        data_dir: std::path::PathBuf,
        /// Address to listen on; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: std::net::SocketAddr,
        /// Where to write the kubeconfig (default: DATA_DIR/kubeconfig).
        #[arg(long)]
        kubeconfig: Option<std::path::PathBuf>,
        /// How long Events are kept after their last write (kube-apiserver's --event-ttl).
        #[arg(long, default_value = "1h", value_parser = up::parse_duration)]
        event_ttl: std::time::Duration,
    },
    /// Register a cluster apps can deploy into (as `argocd cluster add`): creates the
    /// ServiceAccount kube-system/ferry-manager with a long-lived token in it, and writes an
    /// Argo CD cluster Secret into Ferry's namespace of the control cluster.
    ///
    /// --kubeconfig/--context name the cluster to add; --ferry-kubeconfig/--ferry-context (or
    /// FERRY_KUBECONFIG/FERRY_CONTEXT) the cluster Ferry runs in, where the Secret is written
    /// (default: KUBECONFIG, then ~/.kube/config, as `ferry app`).
    Add(Box<cluster::AddArgs>),
    /// List the destination clusters: server, version (probed now), status, apps, objects, last error.
    List(cluster::ListArgs),
    /// Remove a cluster's Secret; refused while apps target it, unless --force.
    Remove(cluster::RemoveArgs),
}

#[derive(Subcommand)]
enum RepoCommand {
    /// Check the connection, then store credentials as a repository Secret in Ferry's namespace.
    Add(repo::AddArgs),
    /// The repositories Ferry has credentials for: type, Secret, connection (checked now), last error.
    List(repo::ListArgs),
    /// Delete the repository Secret of a URL.
    Remove(repo::RemoveArgs),
    /// Check access to a repository and print the commit SHA a revision resolves to.
    Check {
        /// Repository URL (https://, ssh://, git@host:path, git://, file:// or a local path).
        url: String,
        /// Branch, tag, commit SHA (full or short), HEAD, or a semver constraint over tags.
        #[arg(long)]
        revision: Option<String>,
        /// User name for HTTP basic auth (with --password-file).
        #[arg(long)]
        username: Option<String>,
        /// File holding the HTTP password or token.
        #[arg(long)]
        password_file: Option<std::path::PathBuf>,
        /// SSH private key (with --known-hosts-file).
        #[arg(long)]
        ssh_key_file: Option<std::path::PathBuf>,
        /// known_hosts file; unknown or changed host keys are refused.
        #[arg(long)]
        known_hosts_file: Option<std::path::PathBuf>,
    },
}

fn main() -> ExitCode {
    allocator::without_huge_pages();
    // `COMPLETE=bash ferry` prints the dynamic completion script, and the shell calls back here
    // on TAB (see app/complete.rs); otherwise this returns at once.
    clap_complete::CompleteEnv::with_factory(<Cli as clap::CommandFactory>::command).complete();
    let cli = Cli::parse();
    if runs_for_days(&cli.command) {
        allocator::return_freed_pages_at_once();
    }
    logging::init(cli.log_format);
    match run(cli) {
        Ok(code) => code,
        // `ferry … | head`: the reader has what it wanted; a closed pipe is not an error.
        Err(err) if broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// The commands that serve until stopped, whose memory over days matters, and the soak that
/// measures it.
fn runs_for_days(command: &Command) -> bool {
    matches!(
        command,
        Command::Up(_)
            | Command::Controller(_)
            | Command::Cluster { command: ClusterCommand::Serve { .. } }
    ) || matches!(command, Command::Bench(args) if args.soaks())
}

/// Whether the error is stdout closing under us, however deep in the chain it sits (an
/// `io::Error`, or a crate's `Output` error that kept only its message).
fn broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || e.to_string().ends_with("Broken pipe (os error 32)")
    })
}

/// Writes a line to stdout, as an error (not a panic, as `println!` does) when it is closed.
fn say(line: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Up(args) => {
            tokio::runtime::Runtime::new()?.block_on(up::run(args))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Controller(args) => {
            tokio::runtime::Runtime::new()?.block_on(controller::run(args))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Version => {
            say(&format!("ferry {}", env!("CARGO_PKG_VERSION")))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Secret { command } => secret::run(command),
        Command::Render(args) => {
            ferry_render::cli::run(&args, &mut std::io::stdout().lock())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Repo {
            command:
                RepoCommand::Check {
                    url,
                    revision,
                    username,
                    password_file,
                    ssh_key_file,
                    known_hosts_file,
                },
        } => {
            let args = ferry_source::CheckArgs {
                url,
                revision,
                username,
                password_file,
                ssh_key_file,
                known_hosts_file,
            };
            let runtime = tokio::runtime::Runtime::new()?;
            let commit = runtime.block_on(ferry_source::check(&args))?;
            say(&commit.to_string())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Repo { command: RepoCommand::Add(args) } => {
            tokio::runtime::Runtime::new()?.block_on(repo::add::run(args))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Repo { command: RepoCommand::List(args) } => {
            let table = tokio::runtime::Runtime::new()?.block_on(repo::list::run(args))?;
            say(&table)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Repo { command: RepoCommand::Remove(args) } => {
            tokio::runtime::Runtime::new()?.block_on(repo::remove(args))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Cluster {
            command: ClusterCommand::Serve { data_dir, listen, kubeconfig, event_ttl },
        } => {
            let runtime = tokio::runtime::Runtime::new()?;
            runtime
                .block_on(ferry_cluster::serve_command(data_dir, listen, kubeconfig, event_ttl))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Project(args) => tokio::runtime::Runtime::new()?.block_on(project::run(args)),
        Command::AppSet(args) => tokio::runtime::Runtime::new()?.block_on(appset::run(args)),
        Command::Cluster { command: ClusterCommand::Add(args) } => Ok(cluster::add(*args)),
        Command::Cluster { command: ClusterCommand::List(args) } => Ok(cluster::list(args)),
        Command::Cluster { command: ClusterCommand::Remove(args) } => Ok(cluster::remove(args)),
        Command::Image { command } => {
            let code = ferry_image::cli::run(
                &command,
                &mut std::io::stdout().lock(),
                &mut std::io::stderr().lock(),
            )?;
            Ok(ExitCode::from(code))
        }
        Command::App(args) => Ok(app::run_app(args)),
        Command::Diff(args) => Ok(app::run_local_diff(args)),
        Command::Plan(args) => Ok(app::run_plan(args)),
        Command::Install(args) => Ok(app::run_install(args)),
        Command::Bootstrap(args) => tokio::runtime::Runtime::new()?.block_on(bootstrap::run(args)),
        Command::Export(args) => tokio::runtime::Runtime::new()?.block_on(backup::export(args)),
        Command::Import(args) => tokio::runtime::Runtime::new()?.block_on(backup::import(args)),
        Command::Bench(args) => bench::run(args),
        Command::Token { command } => {
            say(&tokio::runtime::Runtime::new()?.block_on(token::run(command))?)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Login(args) => {
            say(&tokio::runtime::Runtime::new()?.block_on(remote::login(args))?)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Auth { command } => tokio::runtime::Runtime::new()?.block_on(audit::auth(command)),
        Command::Audit(args) => {
            say(&tokio::runtime::Runtime::new()?.block_on(audit::audit(args))?)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Notify { command } => {
            tokio::runtime::Runtime::new()?.block_on(notify::run(command))
        }
        Command::Webhook { command } => webhook::run(command),
        Command::HelmShim { command } => {
            helm_shim::run(command)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Completion { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command, "ferry", &mut script);
            std::io::Write::write_all(&mut std::io::stdout().lock(), &script)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
