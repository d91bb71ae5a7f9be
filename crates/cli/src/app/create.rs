//! `ferry app create`: builds the Application from Argo CD-named flags and applies it server-side
//! (field manager `ferry-cli`), so a later `--upsert` changes only what the CLI owns.

use std::process::ExitCode;

use ferry_engine::application::{Automated, Destination, FINALIZER_CASCADE, Source, SyncPolicy};
use ferry_engine::approval::ApprovalPolicy;
use ferry_engine::{Application, ApplicationSpec};
use ferry_render::{DirectoryOptions, HelmOptions, HelmParameter};
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::{ObjectMeta, Patch, PatchParams};

use super::connect::Connection;
use super::error::CliError;
use super::output::{hint, short};

pub const FIELD_MANAGER: &str = "ferry-cli";

#[derive(clap::Args, Debug, Clone)]
pub struct CreateArgs {
    pub name: String,
    /// Repository URL.
    #[arg(long)]
    pub repo: String,
    /// The app's directory inside the repository.
    #[arg(long)]
    pub path: String,
    /// Branch, tag, commit SHA, HEAD or a semver constraint over tags.
    #[arg(long, default_value = "HEAD")]
    pub revision: String,
    /// API server URL of the destination (https://kubernetes.default.svc: the cluster Ferry runs in).
    #[arg(long, conflicts_with = "dest_name")]
    pub dest_server: Option<String>,
    /// Cluster name of the destination (in-cluster: the cluster Ferry runs in).
    #[arg(long)]
    pub dest_name: Option<String>,
    /// Namespace for namespaced objects that name none.
    #[arg(long)]
    pub dest_namespace: String,
    /// `automated`: sync every new commit; `none`: sync only on request.
    #[arg(long, value_parser = ["automated", "none", "manual"])]
    pub sync_policy: Option<String>,
    /// Delete objects Git no longer declares (automated sync).
    #[arg(long)]
    pub auto_prune: bool,
    /// Re-apply when the live state drifts from Git (automated sync).
    #[arg(long)]
    pub self_heal: bool,
    /// Allow an automated sync that leaves the app with no objects.
    #[arg(long)]
    pub allow_empty: bool,
    /// A sync option such as CreateNamespace=true (repeatable).
    #[arg(long = "sync-option")]
    pub sync_options: Vec<String>,
    /// A Helm parameter k=v (repeatable).
    #[arg(long = "helm-set")]
    pub helm_set: Vec<String>,
    /// A Helm values file inside the repository (repeatable).
    #[arg(long = "values")]
    pub values: Vec<String>,
    /// The Helm release name (default: the app's name).
    #[arg(long)]
    pub release_name: Option<String>,
    /// Read YAML files in subdirectories of the path too.
    #[arg(long)]
    pub directory_recurse: bool,
    /// The project whose rules the app deploys under (`ferry project list`; default: `default`).
    #[arg(long)]
    pub project: Option<String>,
    #[command(flatten)]
    pub approval: ApprovalFlags,
    /// Replace the spec of an existing Application of the same name.
    #[arg(long)]
    pub upsert: bool,
    /// Deleting the Application deletes its objects too (adds ferry.dev/resources-finalizer).
    #[arg(long)]
    pub cascade_finalizer: bool,
    /// Check first that the revision resolves, the path exists and the destination is known;
    /// `--validate=false` skips the checks (as `argocd app create --validate=false`).
    #[arg(
        long,
        default_value_t = true,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        default_missing_value = "true",
        require_equals = true
    )]
    pub validate: bool,
}

/// `--require-approval` and `--allow-self-approval`, for apps and projects alike.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ApprovalFlags {
    /// A new revision waits for `ferry app approve` before it is applied.
    #[arg(long)]
    pub require_approval: bool,
    /// With --require-approval: the author of a commit may approve it.
    #[arg(long, requires = "require_approval")]
    pub allow_self_approval: bool,
}

impl ApprovalFlags {
    pub fn policy(&self) -> Option<ApprovalPolicy> {
        self.require_approval.then_some(ApprovalPolicy {
            required: true,
            allow_self_approval: self.allow_self_approval,
        })
    }
}

/// The Application the flags describe (pure; the flags are the only input).
pub fn build(args: &CreateArgs, namespace: &str) -> Result<Application, CliError> {
    let mut parameters = Vec::new();
    for kv in &args.helm_set {
        let (k, v) = kv.split_once('=').ok_or_else(|| CliError::Usage {
            flag: "--helm-set".into(),
            message: format!("{kv:?} is not key=value"),
        })?;
        parameters.push(HelmParameter {
            name: k.to_owned(),
            value: v.to_owned(),
            ..Default::default()
        });
    }
    let mut source = Source {
        repo_url: args.repo.clone(),
        target_revision: args.revision.clone(),
        path: args.path.clone(),
        ..Default::default()
    };
    if !parameters.is_empty() || !args.values.is_empty() || args.release_name.is_some() {
        source.render.helm = Some(HelmOptions {
            release_name: args.release_name.clone(),
            value_files: args.values.clone(),
            parameters,
            ..Default::default()
        });
    }
    if args.directory_recurse {
        source.render.directory = Some(DirectoryOptions { recurse: true, ..Default::default() });
    }
    let automated = args.sync_policy.as_deref() == Some("automated");
    if !automated && (args.auto_prune || args.self_heal || args.allow_empty) {
        return Err(CliError::Usage {
            flag: "--auto-prune/--self-heal/--allow-empty".into(),
            message: "they apply to automated sync only; add --sync-policy automated".into(),
        });
    }
    let approval = args.approval.policy();
    let wanted = automated || !args.sync_options.is_empty() || approval.is_some();
    let sync_policy = wanted.then(|| SyncPolicy {
        automated: automated.then_some(Automated {
            prune: args.auto_prune,
            self_heal: args.self_heal,
            allow_empty: args.allow_empty,
            rollback: None,
        }),
        sync_options: args.sync_options.clone(),
        retry: None,
        approval,
        prune_guard: None,
    });
    let destination = Destination {
        server: match (&args.dest_server, &args.dest_name) {
            (None, None) => Some(ferry_engine::application::IN_CLUSTER_SERVER.to_owned()),
            (s, _) => s.clone(),
        },
        name: args.dest_name.clone(),
        namespace: args.dest_namespace.clone(),
    };
    let project = args.project.clone().unwrap_or_default();
    let spec = ApplicationSpec { project, source, destination, sync_policy, ..Default::default() };
    let mut app = Application::new(&args.name, spec);
    app.metadata = ObjectMeta {
        name: Some(args.name.clone()),
        namespace: Some(namespace.to_owned()),
        finalizers: args.cascade_finalizer.then(|| vec![FINALIZER_CASCADE.to_owned()]),
        ..Default::default()
    };
    Ok(app)
}

pub async fn run(conn: &Connection, ns: &str, args: CreateArgs) -> Result<ExitCode, CliError> {
    let app = build(&args, ns)?;
    if args.validate {
        validate(conn, &app).await?;
    }
    let api = super::apps(conn, ns);
    let existed = match api.get_opt(&args.name).await {
        Ok(found) => found,
        Err(e) => return Err(CliError::api(e, format!("reading application {:?}", args.name))),
    };
    if let Some(old) = &existed {
        if old.spec != app.spec && !args.upsert {
            return Err(CliError::AppExists { name: args.name, namespace: ns.to_owned() });
        }
    } else {
        ensure_namespace(conn, ns).await?;
    }
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut body = serde_json::to_value(&app).map_err(|e| CliError::Output(e.to_string()))?;
    if let Some(meta) = body.get_mut("metadata").and_then(serde_json::Value::as_object_mut) {
        // Server-side apply must not claim status; it belongs to the engine.
        meta.remove("creationTimestamp");
    }
    if let Some(obj) = body.as_object_mut() {
        obj.remove("status");
    }
    api.patch(&args.name, &params, &Patch::Apply(&body))
        .await
        .map_err(|e| CliError::api(e, format!("applying application {:?}", args.name)))?;
    let verb = match &existed {
        None => "created",
        Some(old) if old.spec == app.spec => "unchanged",
        Some(_) => "updated",
    };
    eprintln!("application {ns}/{} {verb}", args.name);
    hint(&format!("ferry app wait {} --health", args.name));
    Ok(ExitCode::SUCCESS)
}

/// What the engine would trip over first, checked before anything is written: an unknown
/// destination, a repository or revision that cannot be fetched, a path that is not there.
pub async fn validate(conn: &Connection, app: &Application) -> Result<(), CliError> {
    let name = app.metadata.name.clone().unwrap_or_default();
    let skip = "or pass --validate=false to create it anyway";
    let d = &app.spec.destination;
    if !d.is_in_cluster() || (d.name.is_some() && d.server.is_some()) {
        // Ferry's namespace, where the cluster Secrets live (as `ferry cluster` finds it).
        let home = std::env::var("FERRY_NAMESPACE")
            .unwrap_or_else(|_| ferry_engine::DEFAULT_HOME_NAMESPACE.to_owned());
        let secrets = crate::cluster::cluster_secrets(conn, &home).await?;
        if let Err(e) = ferry_engine::clusters::select::select(d, &secrets, &home) {
            return Err(CliError::Invalid {
                name,
                message: format!(
                    "{e}: add the cluster with `ferry cluster add NAME --kubeconfig FILE`, or deploy \
                     into the cluster Ferry runs in (--dest-server {} or --dest-name {}); {skip}",
                    ferry_engine::application::IN_CLUSTER_SERVER,
                    ferry_engine::application::IN_CLUSTER_NAME
                ),
            });
        }
    }
    let source = &app.spec.source;
    let checkout = super::source::checkout(conn, &name, source, &source.target_revision)
        .await
        .map_err(|e| match e {
            CliError::Source { app, message } => CliError::Invalid {
                name: app,
                message: format!(
                    "the repository cannot be read: {message}; check --repo and --revision \
                     (`ferry repo check URL --revision REV`), {skip}"
                ),
            },
            other => other,
        })?;
    let kind =
        ferry_render::detect_kind(&checkout.tree, &checkout.path, &source.render).map_err(|e| {
            CliError::Invalid {
                name: name.clone(),
                message: format!(
                    "at revision {} ({}): {e}; fix --path, {skip}",
                    source.target_revision,
                    short(&checkout.commit)
                ),
            }
        })?;
    eprintln!(
        "validated: {} resolves to {}, path {:?} is a {kind} app",
        source.target_revision,
        short(&checkout.commit),
        source.path
    );
    Ok(())
}

/// The namespace the Application lives in, created when missing (a fresh cluster has no `ferry`).
pub async fn ensure_namespace(conn: &Connection, ns: &str) -> Result<(), CliError> {
    let api: Api<Namespace> = Api::all(conn.client.clone());
    let body =
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
    if api
        .get_opt(ns)
        .await
        .map_err(|e| CliError::api(e, format!("reading namespace {ns:?}")))?
        .is_some()
    {
        return Ok(());
    }
    api.patch(ns, &PatchParams::apply(FIELD_MANAGER), &Patch::Apply(&body))
        .await
        .map_err(|e| CliError::api(e, format!("creating namespace {ns:?}")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        args: CreateArgs,
    }

    fn parse(extra: &[&str]) -> CreateArgs {
        let mut argv = vec![
            "x",
            "web",
            "--repo",
            "git://h/r.git",
            "--path",
            "app",
            "--dest-namespace",
            "demo",
        ];
        argv.extend_from_slice(extra);
        Wrap::parse_from(argv).args
    }

    #[test]
    fn argo_named_flags_become_the_argo_named_fields() {
        let args = parse(&[
            "--revision",
            "main",
            "--sync-policy",
            "automated",
            "--auto-prune",
            "--self-heal",
            "--sync-option",
            "CreateNamespace=true",
            "--helm-set",
            "image.tag=v2",
            "--values",
            "prod.yaml",
        ]);
        let app = serde_json::to_value(build(&args, "ferry").expect("valid flags")).expect("json");
        assert_eq!(app["metadata"]["namespace"], "ferry");
        assert_eq!(app["spec"]["source"]["repoURL"], "git://h/r.git");
        assert_eq!(app["spec"]["source"]["targetRevision"], "main");
        assert_eq!(app["spec"]["destination"]["server"], "https://kubernetes.default.svc");
        assert_eq!(app["spec"]["syncPolicy"]["automated"]["prune"], true);
        assert_eq!(app["spec"]["syncPolicy"]["automated"]["selfHeal"], true);
        assert_eq!(app["spec"]["syncPolicy"]["syncOptions"][0], "CreateNamespace=true");
        assert_eq!(app["spec"]["source"]["helm"]["parameters"][0]["name"], "image.tag");
        assert_eq!(app["spec"]["source"]["helm"]["valueFiles"][0], "prod.yaml");
    }

    #[test]
    fn self_heal_without_automated_sync_is_a_usage_error_naming_the_fix() {
        let err = build(&parse(&["--self-heal"]), "ferry").expect_err("refused");
        assert!(err.to_string().contains("--sync-policy automated"), "{err}");
    }

    #[test]
    fn a_helm_set_without_equals_is_refused() {
        let err = build(&parse(&["--helm-set", "novalue"]), "ferry").expect_err("refused");
        assert!(err.to_string().contains("\"novalue\" is not key=value"), "{err}");
    }
}
