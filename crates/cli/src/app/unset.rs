//! `ferry app unset`: remove settings that `set` or `create` added (`argocd app unset`).

use std::process::ExitCode;

use ferry_engine::Application;
use ferry_engine::application::SyncPolicy;
use ferry_render::{DirectoryOptions, HelmOptions};

use super::connect::Connection;
use super::error::CliError;
use super::set::option_key;

#[derive(clap::Args, Debug, Clone, Default)]
pub struct UnsetArgs {
    #[arg(add = super::complete::app_names())]
    pub name: String,
    /// Remove the Helm parameter of this name (repeatable).
    #[arg(long = "helm-set", visible_alias = "parameter", value_name = "NAME")]
    pub helm_set: Vec<String>,
    /// Remove this Helm values file (repeatable).
    #[arg(long = "values", value_name = "FILE")]
    pub values: Vec<String>,
    /// Remove the Helm release name (back to the app's name).
    #[arg(long)]
    pub release_name: bool,
    /// Remove the sync option of this name, e.g. CreateNamespace (repeatable).
    #[arg(long = "sync-option", value_name = "NAME")]
    pub sync_options: Vec<String>,
    /// Turn automated sync off (the app syncs only on request).
    #[arg(long)]
    pub sync_policy: bool,
    /// Stop reading subdirectories of the path.
    #[arg(long)]
    pub directory_recurse: bool,
}

pub async fn run(conn: &Connection, ns: &str, args: UnsetArgs) -> Result<ExitCode, CliError> {
    let named = UnsetArgs { name: args.name.clone(), ..Default::default() };
    if format!("{args:?}") == format!("{named:?}") {
        return Err(CliError::Usage {
            flag: "ferry app unset".into(),
            message: "nothing to unset; pass at least one flag (see `ferry app unset --help`)"
                .into(),
        });
    }
    let api = super::apps(conn, ns);
    let updated =
        super::update::update(&api, ns, &args.name, "unsetting fields", |app| apply(&args, app))
            .await?;
    super::update::report(ns, &args.name, &updated);
    Ok(ExitCode::SUCCESS)
}

/// Removes what the flags name; naming something the app does not have is an error, so that a
/// typo does not pass as done.
pub fn apply(args: &UnsetArgs, app: &mut Application) -> Result<(), CliError> {
    let name = app.metadata.name.clone().unwrap_or_default();
    let missing = |what: String| CliError::Invalid { name: name.clone(), message: what };
    let helm = &mut app.spec.source.render.helm;
    for p in &args.helm_set {
        let h = helm.as_mut().filter(|h| h.parameters.iter().any(|x| &x.name == p));
        let h = h.ok_or_else(|| missing(format!("has no Helm parameter {p:?}")))?;
        h.parameters.retain(|x| &x.name != p);
    }
    for f in &args.values {
        let h = helm.as_mut().filter(|h| h.value_files.contains(f));
        let h = h.ok_or_else(|| missing(format!("has no Helm values file {f:?}")))?;
        h.value_files.retain(|x| x != f);
    }
    if args.release_name
        && let Some(h) = helm.as_mut()
    {
        h.release_name = None;
    }
    if helm.as_ref().is_some_and(|h| *h == HelmOptions::default()) {
        *helm = None;
    }
    let policy = &mut app.spec.sync_policy;
    for o in &args.sync_options {
        let key = option_key(o);
        let p = policy.as_mut().filter(|p| p.sync_options.iter().any(|x| option_key(x) == key));
        let p = p.ok_or_else(|| missing(format!("has no sync option {key:?}")))?;
        p.sync_options.retain(|x| option_key(x) != key);
    }
    if args.sync_policy
        && let Some(p) = policy.as_mut()
    {
        p.automated = None;
    }
    if policy.as_ref().is_some_and(|p| *p == SyncPolicy::default()) {
        *policy = None;
    }
    if args.directory_recurse {
        let dir = &mut app.spec.source.render.directory;
        if let Some(d) = dir.as_mut() {
            d.recurse = false;
        }
        if dir.as_ref().is_some_and(|d| *d == DirectoryOptions::default()) {
            *dir = None;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> Application {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "ferry.dev/v1alpha1", "kind": "Application",
            "metadata": {"name": "web", "namespace": "ferry"},
            "spec": {"source": {"repoURL": "git://h/r", "path": "a",
                "helm": {"parameters": [{"name": "replicas", "value": "1"}], "valueFiles": ["prod.yaml"]}},
                "destination": {"namespace": "d"},
                "syncPolicy": {"automated": {"prune": true}, "syncOptions": ["CreateNamespace=true"]}},
        }))
        .expect("a valid Application")
    }

    #[test]
    fn unsetting_everything_added_removes_the_emptied_blocks() {
        let mut a = app();
        let args = UnsetArgs {
            name: "web".into(),
            helm_set: vec!["replicas".into()],
            values: vec!["prod.yaml".into()],
            sync_options: vec!["CreateNamespace".into()],
            sync_policy: true,
            ..Default::default()
        };
        apply(&args, &mut a).expect("all present");
        assert_eq!(a.spec.source.render.helm, None);
        assert_eq!(a.spec.sync_policy, None);
    }

    #[test]
    fn unsetting_what_the_app_does_not_have_names_it() {
        let mut a = app();
        let args =
            UnsetArgs { name: "web".into(), helm_set: vec!["image".into()], ..Default::default() };
        let err = apply(&args, &mut a).expect_err("refused");
        assert_eq!(err.to_string(), "application \"web\": has no Helm parameter \"image\"");
    }
}
