//! `ferry app set`: change some fields of an Application's spec with Argo CD's flag names
//! (`argocd app set`), leaving every other field as it is.

use std::process::ExitCode;

use ferry_engine::Application;
use ferry_engine::application::{Automated, SyncPolicy};
use ferry_render::{DirectoryOptions, HelmOptions, HelmParameter};

use super::connect::Connection;
use super::error::CliError;

#[derive(clap::Args, Debug, Clone, Default)]
pub struct SetArgs {
    #[arg(add = super::complete::app_names())]
    pub name: String,
    /// Repository URL.
    #[arg(long)]
    pub repo: Option<String>,
    /// The app's directory inside the repository.
    #[arg(long)]
    pub path: Option<String>,
    /// Branch, tag, commit SHA, HEAD or a semver constraint over tags.
    #[arg(long)]
    pub revision: Option<String>,
    /// API server URL of the destination.
    #[arg(long, conflicts_with = "dest_name")]
    pub dest_server: Option<String>,
    /// Cluster name of the destination.
    #[arg(long)]
    pub dest_name: Option<String>,
    /// Namespace for namespaced objects that name none.
    #[arg(long)]
    pub dest_namespace: Option<String>,
    /// `automated`: sync every new commit; `none`: sync only on request.
    #[arg(long, value_parser = ["automated", "none", "manual"])]
    pub sync_policy: Option<String>,
    /// Delete objects Git no longer declares (automated sync); `--auto-prune=false` turns it off.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub auto_prune: Option<bool>,
    /// Re-apply when the live state drifts (automated sync); `--self-heal=false` turns it off.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub self_heal: Option<bool>,
    /// Allow an automated sync that leaves the app with no objects.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub allow_empty: Option<bool>,
    /// A sync option such as CreateNamespace=true (repeatable); replaces one of the same name.
    #[arg(long = "sync-option")]
    pub sync_options: Vec<String>,
    /// A Helm parameter k=v (repeatable); replaces one of the same name.
    #[arg(long = "helm-set", visible_alias = "parameter")]
    pub helm_set: Vec<String>,
    /// A Helm parameter k=v kept a string (repeatable).
    #[arg(long = "helm-set-string")]
    pub helm_set_string: Vec<String>,
    /// A Helm values file inside the repository (repeatable), added after the existing ones.
    #[arg(long = "values")]
    pub values: Vec<String>,
    /// The Helm release name.
    #[arg(long)]
    pub release_name: Option<String>,
    /// Read YAML files in subdirectories of the path too (`--directory-recurse=false` stops).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub directory_recurse: Option<bool>,
}

pub async fn run(conn: &Connection, ns: &str, args: SetArgs) -> Result<ExitCode, CliError> {
    if is_empty(&args) {
        return Err(CliError::Usage {
            flag: "ferry app set".into(),
            message: "no field to set; pass at least one flag (see `ferry app set --help`)".into(),
        });
    }
    let api = super::apps(conn, ns);
    let updated =
        super::update::update(&api, ns, &args.name, "setting fields", |app| apply(&args, app))
            .await?;
    super::update::report(ns, &args.name, &updated);
    Ok(ExitCode::SUCCESS)
}

fn is_empty(args: &SetArgs) -> bool {
    let named = SetArgs { name: args.name.clone(), ..Default::default() };
    format!("{args:?}") == format!("{named:?}")
}

/// Applies the flags to `app` (pure).
pub fn apply(args: &SetArgs, app: &mut Application) -> Result<(), CliError> {
    let spec = &mut app.spec;
    set_opt(&mut spec.source.repo_url, &args.repo);
    set_opt(&mut spec.source.path, &args.path);
    set_opt(&mut spec.source.target_revision, &args.revision);
    set_opt(&mut spec.destination.namespace, &args.dest_namespace);
    if let Some(server) = &args.dest_server {
        spec.destination.server = Some(server.clone());
        spec.destination.name = None;
    }
    if let Some(name) = &args.dest_name {
        spec.destination.name = Some(name.clone());
        spec.destination.server = None;
    }
    apply_sync_policy(args, app)?;
    apply_helm(args, app)?;
    if let Some(recurse) = args.directory_recurse {
        let dir = app.spec.source.render.directory.get_or_insert_with(DirectoryOptions::default);
        dir.recurse = recurse;
        if *dir == DirectoryOptions::default() {
            app.spec.source.render.directory = None;
        }
    }
    Ok(())
}

fn set_opt(field: &mut String, value: &Option<String>) {
    if let Some(v) = value {
        v.clone_into(field);
    }
}

fn apply_sync_policy(args: &SetArgs, app: &mut Application) -> Result<(), CliError> {
    let name = app.metadata.name.clone().unwrap_or_default();
    let policy = app.spec.sync_policy.get_or_insert_with(SyncPolicy::default);
    match args.sync_policy.as_deref() {
        Some("automated") if policy.automated.is_none() => {
            policy.automated = Some(Automated::default())
        }
        Some("none" | "manual") => policy.automated = None,
        _ => {}
    }
    let flags = [args.auto_prune, args.self_heal, args.allow_empty];
    if flags.iter().any(Option::is_some) {
        let Some(auto) = policy.automated.as_mut() else {
            return Err(CliError::Invalid {
                name,
                message: "--auto-prune, --self-heal and --allow-empty apply to automated sync, \
                          which this app does not use; add --sync-policy automated"
                    .into(),
            });
        };
        auto.prune = args.auto_prune.unwrap_or(auto.prune);
        auto.self_heal = args.self_heal.unwrap_or(auto.self_heal);
        auto.allow_empty = args.allow_empty.unwrap_or(auto.allow_empty);
    }
    for option in &args.sync_options {
        let key = option_key(option);
        policy.sync_options.retain(|o| option_key(o) != key);
        policy.sync_options.push(option.clone());
    }
    if *policy == SyncPolicy::default() {
        app.spec.sync_policy = None;
    }
    Ok(())
}

/// `CreateNamespace` of `CreateNamespace=true`.
pub fn option_key(option: &str) -> &str {
    option.split_once('=').map(|(k, _)| k).unwrap_or(option).trim()
}

fn apply_helm(args: &SetArgs, app: &mut Application) -> Result<(), CliError> {
    let mut parameters = Vec::new();
    for (list, force_string) in [(&args.helm_set, false), (&args.helm_set_string, true)] {
        for kv in list {
            let (k, v) = kv.split_once('=').ok_or_else(|| CliError::Usage {
                flag: if force_string { "--helm-set-string" } else { "--helm-set" }.into(),
                message: format!("{kv:?} is not key=value"),
            })?;
            parameters.push(HelmParameter { name: k.into(), value: v.into(), force_string });
        }
    }
    if parameters.is_empty() && args.values.is_empty() && args.release_name.is_none() {
        return Ok(());
    }
    let helm = app.spec.source.render.helm.get_or_insert_with(HelmOptions::default);
    for p in parameters {
        helm.parameters.retain(|old| old.name != p.name);
        helm.parameters.push(p);
    }
    for file in &args.values {
        if !helm.value_files.contains(file) {
            helm.value_files.push(file.clone());
        }
    }
    if let Some(release) = &args.release_name {
        helm.release_name = Some(release.clone());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        args: SetArgs,
    }

    fn app() -> Application {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "ferry.dev/v1alpha1", "kind": "Application",
            "metadata": {"name": "web", "namespace": "ferry"},
            "spec": {"source": {"repoURL": "git://h/r", "path": "a", "targetRevision": "main",
                "helm": {"parameters": [{"name": "replicas", "value": "1"}]}},
                "destination": {"namespace": "d"},
                "syncPolicy": {"syncOptions": ["CreateNamespace=false"]}},
        }))
        .expect("a valid Application")
    }

    fn set(argv: &[&str]) -> Result<Application, CliError> {
        let mut all = vec!["x", "web"];
        all.extend_from_slice(argv);
        let args = Wrap::parse_from(all).args;
        let mut a = app();
        apply(&args, &mut a).map(|()| a)
    }

    #[test]
    fn set_changes_only_the_named_fields_and_replaces_same_named_entries() {
        let a = set(&[
            "--revision",
            "v2",
            "--helm-set",
            "replicas=3",
            "--sync-option",
            "CreateNamespace=true",
        ])
        .expect("valid flags");
        assert_eq!(a.spec.source.target_revision, "v2");
        assert_eq!(a.spec.source.path, "a", "untouched");
        let helm = a.spec.source.render.helm.expect("helm kept");
        assert_eq!(helm.parameters.len(), 1);
        assert_eq!(helm.parameters[0].value, "3");
        let policy = a.spec.sync_policy.expect("policy kept");
        assert_eq!(policy.sync_options, vec!["CreateNamespace=true"]);
    }

    #[test]
    fn self_heal_on_a_manual_app_is_refused_with_the_fix() {
        let err = set(&["--self-heal"]).expect_err("refused");
        assert!(err.to_string().contains("--sync-policy automated"), "{err}");
        let a = set(&["--sync-policy", "automated", "--self-heal"]).expect("valid");
        assert!(a.automated().expect("automated").self_heal);
    }

    #[test]
    fn set_without_flags_is_a_usage_error() {
        let args = Wrap::parse_from(["x", "web"]).args;
        assert!(is_empty(&args));
    }
}
