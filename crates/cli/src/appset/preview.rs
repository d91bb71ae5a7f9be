//! `ferry appset preview FILE`: runs the set's generators and template here, as the engine
//! would, and prints the Applications; writes nothing. Repositories are fetched into the
//! user's cache with the engine's credentials (the repository Secrets) when a cluster answers,
//! anonymously when none does; the `clusters` generator sees the cluster Secrets then, else
//! only the local cluster.

use std::path::PathBuf;
use std::process::ExitCode;

use ferry_engine::appset::generate::{self, Checkout, GitReader};
use ferry_engine::appset::params::ClusterInfo;
use ferry_engine::appset::template;
use ferry_engine::repos::RepoAccess;
use ferry_source::{Limits, RepoCache, RepoUrl};

use crate::app::{ClusterArgs, Connection, Format, table, write_data};

struct CliGit {
    cache: RepoCache,
    conn: Option<Connection>,
    keys: tempfile::TempDir,
}

impl GitReader for CliGit {
    async fn checkout(&self, repo_url: &str, revision: &str) -> Result<Checkout, String> {
        let url = RepoUrl::parse(repo_url).map_err(|e| format!("repoURL {repo_url:?}: {e}"))?;
        let access = match &self.conn {
            Some(conn) => crate::app::source::access(conn, repo_url, self.keys.path())
                .await
                .map_err(|e| e.to_string())?,
            None => RepoAccess::default(),
        };
        let revision = if revision.is_empty() { "HEAD" } else { revision };
        let fetched =
            self.cache.fetch(&url, &access.access, revision).await.map_err(|e| e.to_string())?;
        let tree = self.cache.tree(&url, &fetched.commit).map_err(|e| e.to_string())?;
        Ok(Checkout { tree, commit: fetched.commit.as_str().to_owned() })
    }
}

async fn clusters(conn: Option<&Connection>) -> Vec<ClusterInfo> {
    let Some(conn) = conn else { return Vec::new() };
    let api: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(conn.client.clone(), ferry_engine::DEFAULT_HOME_NAMESPACE);
    let lp = kube::api::ListParams::default().labels("argocd.argoproj.io/secret-type=cluster");
    let Ok(list) = api.list(&lp).await else { return Vec::new() };
    list.items
        .iter()
        .filter_map(|s| {
            let spec = ferry_engine::clusters::secret::parse(s).ok()?;
            let meta = &s.metadata;
            Some(ClusterInfo {
                name: spec.name,
                server: spec.server,
                labels: meta.labels.clone().unwrap_or_default(),
                annotations: meta.annotations.clone().unwrap_or_default(),
            })
        })
        .collect()
}

pub async fn run(
    cluster: &ClusterArgs,
    namespace: &str,
    file: &PathBuf,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let mut set = super::read_file(file)?;
    if set.metadata.namespace.is_none() {
        set.metadata.namespace = Some(namespace.to_owned());
    }
    let conn = match crate::app::connect(cluster).await {
        Ok(c) => Some(c),
        Err(e) => {
            eprintln!(
                "note: no cluster ({e}); fetching without credentials and with the local cluster only"
            );
            None
        }
    };
    let dir = crate::app::source::cache_dir().join("repos");
    let cache = RepoCache::new(&dir, Limits::default())
        .map_err(|e| anyhow::anyhow!("cannot use the repository cache {}: {e}", dir.display()))?;
    let known = clusters(conn.as_ref()).await;
    let git = CliGit { cache, conn, keys: tempfile::tempdir()? };
    let generated = generate::generate(&set.spec.generators, &git, &known).await?;
    let apps = template::applications(&set, &generated.params)?;
    if format.is_data() {
        let items: Vec<serde_json::Value> = apps
            .iter()
            .map(|a| {
                let mut v = serde_json::to_value(a).unwrap_or_default();
                v["apiVersion"] = "ferry.dev/v1alpha1".into();
                v["kind"] = "Application".into();
                v
            })
            .collect();
        write_data(
            &mut std::io::stdout().lock(),
            format,
            &serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}),
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = apps
        .iter()
        .map(|a| {
            let d = &a.spec.destination;
            let server = d.server.clone().or_else(|| d.name.clone()).unwrap_or_default();
            vec![
                a.metadata.name.clone().unwrap_or_default(),
                a.spec.source.repo_url.clone(),
                a.spec.source.path.clone(),
                server,
                d.namespace.clone(),
            ]
        })
        .collect();
    print!("{}", table(&["NAME", "REPO", "PATH", "CLUSTER", "NAMESPACE"], &rows));
    eprintln!("{} Applications (nothing written)", apps.len());
    Ok(ExitCode::SUCCESS)
}
