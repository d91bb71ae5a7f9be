//! `ferry project create NAME`: a Project from flags (Argo CD's `argocd proj create` spellings:
//! `-s` source repos, `-d server,namespace` destinations) or from a YAML file.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use ferry_engine::project::{
    GroupKind, Project, ProjectApproval, ProjectDestination, ProjectSpec, SyncWindow,
};
use kube::api::{Api, Patch, PatchParams};

#[derive(clap::Args, Debug, Clone, Default)]
pub struct CreateArgs {
    pub name: String,
    /// A Project manifest (YAML) instead of the flags.
    #[arg(short = 'f', long)]
    pub file: Option<PathBuf>,
    #[arg(long)]
    pub description: Option<String>,
    /// A repository URL glob apps may deploy from (`!` refuses); repeat for more.
    #[arg(short = 's', long = "src")]
    pub source_repos: Vec<String>,
    /// A destination `SERVER,NAMESPACE` (globs; `!` refuses); repeat for more.
    #[arg(short = 'd', long = "dest")]
    pub destinations: Vec<String>,
    /// A cluster-scoped kind apps may deploy, `GROUP/KIND` (`/Namespace` for the core group).
    #[arg(long = "allow-cluster-resource")]
    pub cluster_whitelist: Vec<String>,
    /// A cluster-scoped kind refused, `GROUP/KIND`.
    #[arg(long = "deny-cluster-resource")]
    pub cluster_blacklist: Vec<String>,
    /// A namespaced kind refused, `GROUP/KIND`.
    #[arg(long = "deny-namespaced-resource")]
    pub namespaced_blacklist: Vec<String>,
    /// A namespace (glob) besides Ferry's own whose Applications may use the project.
    #[arg(long = "source-namespace")]
    pub source_namespaces: Vec<String>,
    /// A sync window `allow|deny SCHEDULE DURATION`, e.g. `deny "0 22 * * *" 8h` written as
    /// `--window "deny 0 22 * * * 8h"`; repeat for more. Matches every app of the project.
    #[arg(long = "window")]
    pub windows: Vec<String>,
    /// With --window: manual syncs may run while the windows keep automated ones out.
    #[arg(long)]
    pub window_manual_sync: bool,
    /// The schedules' time zone (IANA name; default UTC).
    #[arg(long)]
    pub window_time_zone: Option<String>,
    /// Approval for every app of the project.
    #[command(flatten)]
    pub approval: crate::app::ApprovalFlags,
    /// Replace an existing Project of the same name.
    #[arg(long)]
    pub upsert: bool,
}

pub async fn run(
    api: &Api<Project>,
    namespace: &str,
    args: CreateArgs,
) -> anyhow::Result<ExitCode> {
    let mut project = match &args.file {
        Some(path) => from_file(path)?,
        None => Project::new(&args.name, build(&args)?),
    };
    project.metadata.name = Some(args.name.clone());
    project.metadata.namespace = Some(namespace.to_owned());
    let existing = api
        .get_opt(&args.name)
        .await
        .map_err(|e| crate::app::CliError::api(e, format!("reading project {}", args.name)))?;
    if existing.is_some_and(|e| e.spec != project.spec) && !args.upsert {
        bail!(
            "project {} already exists in namespace {namespace} with other rules; add --upsert to replace them",
            args.name
        );
    }
    let mut body = serde_json::to_value(&project)?;
    body["apiVersion"] = "ferry.dev/v1alpha1".into();
    body["kind"] = "Project".into();
    let params = PatchParams::apply(ferry_apply::FIELD_MANAGER).force();
    api.patch(&args.name, &params, &Patch::Apply(&body)).await.map_err(|e| {
        crate::app::CliError::api(
            e,
            format!("writing project {} in namespace {namespace}", args.name),
        )
    })?;
    eprintln!("project {} written in namespace {namespace}", args.name);
    crate::app::hint(&format!("ferry app create NAME --project {} …", args.name));
    Ok(ExitCode::SUCCESS)
}

fn from_file(path: &PathBuf) -> anyhow::Result<Project> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_saphyr::from_str(&text)
        .with_context(|| format!("{}: not a Project manifest", path.display()))
}

/// The spec the flags describe (pure).
pub fn build(args: &CreateArgs) -> anyhow::Result<ProjectSpec> {
    let destinations =
        args.destinations.iter().map(|d| destination(d)).collect::<anyhow::Result<_>>()?;
    let kinds = |flag: &str, list: &[String]| -> anyhow::Result<Vec<GroupKind>> {
        list.iter().map(|gk| group_kind(flag, gk)).collect()
    };
    let windows = args.windows.iter().map(|w| window(w, args)).collect::<anyhow::Result<_>>()?;
    Ok(ProjectSpec {
        description: args.description.clone().unwrap_or_default(),
        source_repos: args.source_repos.clone(),
        destinations,
        cluster_resource_whitelist: kinds("--allow-cluster-resource", &args.cluster_whitelist)?,
        cluster_resource_blacklist: kinds("--deny-cluster-resource", &args.cluster_blacklist)?,
        namespace_resource_blacklist: kinds(
            "--deny-namespaced-resource",
            &args.namespaced_blacklist,
        )?,
        source_namespaces: args.source_namespaces.clone(),
        sync_windows: windows,
        approval: args.approval.policy().map(|p| ProjectApproval {
            required: p.required,
            allow_self_approval: p.allow_self_approval,
            destinations: Vec::new(),
        }),
        ..Default::default()
    })
}

fn destination(raw: &str) -> anyhow::Result<ProjectDestination> {
    let Some((server, namespace)) = raw.split_once(',') else {
        bail!(
            "invalid --dest {raw:?}: expected SERVER,NAMESPACE (e.g. https://kubernetes.default.svc,team-a-*)"
        );
    };
    Ok(ProjectDestination {
        server: Some(server.trim().into()),
        name: None,
        namespace: namespace.trim().into(),
    })
}

fn group_kind(flag: &str, raw: &str) -> anyhow::Result<GroupKind> {
    match raw.rsplit_once('/') {
        Some((group, kind)) if !kind.is_empty() => {
            Ok(GroupKind { group: group.into(), kind: kind.into() })
        }
        _ => bail!(
            "invalid {flag} {raw:?}: expected GROUP/KIND (e.g. rbac.authorization.k8s.io/ClusterRole, /Namespace)"
        ),
    }
}

fn window(raw: &str, args: &CreateArgs) -> anyhow::Result<SyncWindow> {
    let words: Vec<&str> = raw.split_whitespace().collect();
    let (Some(kind), Some(duration)) = (words.first(), words.last()) else {
        bail!("invalid --window {raw:?}: expected \"allow|deny SCHEDULE DURATION\"");
    };
    if words.len() < 3 || !matches!(*kind, "allow" | "deny") {
        bail!(
            "invalid --window {raw:?}: expected \"allow|deny SCHEDULE DURATION\", e.g. \"deny 0 22 * * * 8h\""
        );
    }
    Ok(SyncWindow {
        kind: (*kind).into(),
        schedule: words[1..words.len() - 1].join(" "),
        duration: (*duration).into(),
        applications: vec!["*".into()],
        manual_sync: args.window_manual_sync,
        time_zone: args.window_time_zone.clone().unwrap_or_default(),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_become_a_project_spec_with_argo_cd_field_meanings() {
        let args = CreateArgs {
            name: "team-a".into(),
            source_repos: vec!["git://example.org/team-a/*".into()],
            destinations: vec!["https://kubernetes.default.svc,team-a-*".into()],
            cluster_blacklist: vec!["rbac.authorization.k8s.io/ClusterRole".into()],
            cluster_whitelist: vec!["/Namespace".into()],
            windows: vec!["deny 0 22 * * * 8h".into()],
            approval: crate::app::ApprovalFlags { require_approval: true, ..Default::default() },
            ..Default::default()
        };
        let spec = build(&args).expect("valid flags");
        assert_eq!(spec.destinations[0].namespace, "team-a-*");
        assert_eq!(
            spec.cluster_resource_whitelist[0],
            GroupKind { group: "".into(), kind: "Namespace".into() }
        );
        assert_eq!(spec.cluster_resource_blacklist[0].kind, "ClusterRole");
        assert_eq!(
            (spec.sync_windows[0].schedule.as_str(), spec.sync_windows[0].duration.as_str()),
            ("0 22 * * *", "8h")
        );
        assert!(spec.approval.is_some_and(|a| a.required && !a.allow_self_approval));
    }

    #[test]
    fn a_malformed_flag_is_refused_naming_the_flag_and_the_expected_form() {
        for (args, says) in [
            (CreateArgs { destinations: vec!["team-a".into()], ..Default::default() }, "--dest"),
            (
                CreateArgs { cluster_whitelist: vec!["Namespace".into()], ..Default::default() },
                "--allow-cluster-resource",
            ),
            (
                CreateArgs {
                    windows: vec!["sometimes 0 22 * * * 8h".into()],
                    ..Default::default()
                },
                "--window",
            ),
        ] {
            let e = build(&args).expect_err("refused").to_string();
            assert!(e.contains(says), "{e}");
        }
    }
}
