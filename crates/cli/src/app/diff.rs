//! `ferry app diff NAME` and `ferry diff PATH --app NAME`: what a sync would change, computed
//! here the way the engine does (fetch, render, prepare, compare), against live objects read
//! from the cluster. Exit 1 when there is a difference, 0 when there is none.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use ferry_apply::discovery::Discovery;
use ferry_apply::object::{ObjKey, str_at};
use ferry_apply::prune::InventoryEntry;
use ferry_apply::tracking::AppId;
use ferry_diff::{DiffOptions, render_unified};
use ferry_engine::Application;
use ferry_engine::compare::{Comparison, compare};
use ferry_engine::prepare::{Prepared, prepare};
use ferry_render::{RenderConfig, RenderContext, Rendered, RepoPath, Tree};
use ferry_source::FsTree;
use serde_json::Value;

use super::connect::{ClusterArgs, Connection};
use super::error::CliError;
use super::output::{print, short};

/// `ferry diff PATH --app NAME`: a local directory (a PR checkout) against the app's live objects.
#[derive(clap::Args, Debug)]
pub struct LocalDiffArgs {
    /// The app's directory in a local checkout.
    pub path: PathBuf,
    /// The Application whose live objects to compare with.
    #[arg(long)]
    pub app: String,
    /// Namespace the Application lives in.
    #[arg(long, default_value = "ferry", visible_alias = "app-namespace")]
    pub namespace: String,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

pub async fn app(conn: &Connection, ns: &str, name: &str) -> Result<ExitCode, CliError> {
    let api = super::apps(conn, ns);
    let app = super::fetch(&api, ns, name).await?;
    let status = app.status.clone().unwrap_or_default();
    // A rollback pin is what the engine compares with; otherwise the target revision.
    let revision = status
        .pinned
        .as_ref()
        .map(|p| p.revision.clone())
        .unwrap_or_else(|| app.spec.source.target_revision.clone());
    let checkout = super::source::checkout(conn, name, &app.spec.source, &revision).await?;
    eprintln!(
        "comparing {} at {} with the cluster",
        app.spec.source.repo_url,
        short(&checkout.commit)
    );
    diff_against(conn, &app, &checkout.tree, &checkout.path, &status.inventory).await
}

pub async fn local(conn: &Connection, args: &LocalDiffArgs) -> Result<ExitCode, CliError> {
    let api = super::apps(conn, &args.namespace);
    let app = super::fetch(&api, &args.namespace, &args.app).await?;
    let (root, rel) = checkout_root(&args.path)?;
    let tree = FsTree::new(&root).map_err(|e| CliError::Io(format!("{}: {e}", root.display())))?;
    let path =
        RepoPath::new(&rel).map_err(|e| CliError::Io(format!("{}: {e}", args.path.display())))?;
    let inventory = app.status.clone().unwrap_or_default().inventory;
    eprintln!("comparing {} with the live objects of {}", args.path.display(), args.app);
    diff_against(conn, &app, &tree, &path, &inventory).await
}

/// The checkout holding `path` (the nearest directory with `.git`, so Kustomize bases and Helm
/// value files outside the app directory resolve) and `path` relative to it.
fn checkout_root(path: &Path) -> Result<(PathBuf, String), CliError> {
    let abs = path.canonicalize().map_err(|e| CliError::Io(format!("{}: {e}", path.display())))?;
    if !abs.is_dir() {
        return Err(CliError::Io(format!("{} is not a directory", path.display())));
    }
    let root = abs.ancestors().find(|d| d.join(".git").exists()).unwrap_or(&abs).to_owned();
    let rel = abs.strip_prefix(&root).map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
    Ok((root, if rel.is_empty() { ".".into() } else { rel }))
}

async fn diff_against(
    conn: &Connection,
    app: &Application,
    tree: &dyn Tree,
    path: &RepoPath,
    inventory: &[InventoryEntry],
) -> Result<ExitCode, CliError> {
    let discovery = Discovery::new();
    let (id, prepared) = desired(conn, &discovery, app, tree, path).await?;
    let wanted = ferry_engine::plan::live::wanted(&prepared.resources, inventory);
    let live = read_live(conn, &discovery, wanted).await?;
    // This run's own key: two values of one Secret read differently within the output, and
    // nothing printed can be checked against a guessed value.
    let mask_key = ferry_engine::random_mask_key();
    let cmp = compare(
        &id,
        &prepared.resources,
        inventory,
        |k| live.get(k).cloned(),
        &DiffOptions::default().mask_key(mask_key.clone()),
        &app.spec.ignore_differences,
    );
    print(&render(&cmp, &prepared, &mask_key))?;
    eprintln!("{}", cmp.summary(prepared.resources.len()));
    Ok(if cmp.status() == ferry_engine::application::SyncStatusCode::Synced {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// What the engine would apply: the app rendered from `tree` and prepared for the cluster
/// (namespaces defaulted, tracking marks added), with the app's id.
pub(crate) async fn desired(
    conn: &Connection,
    discovery: &Discovery,
    app: &Application,
    tree: &dyn Tree,
    path: &RepoPath,
) -> Result<(AppId, Prepared), CliError> {
    let name = app.metadata.name.clone().unwrap_or_default();
    let ns = app.metadata.namespace.clone().unwrap_or_default();
    let id = AppId::new(&ns, &name);
    // The same keys as the engine's: the app's decryption Secret and Ferry's default one (in
    // Ferry's namespace, as `ferry cluster` finds it).
    let home = std::env::var("FERRY_NAMESPACE")
        .unwrap_or_else(|_| ferry_engine::DEFAULT_HOME_NAMESPACE.to_owned());
    let keys =
        ferry_engine::decryption::keyring(&conn.client, &ns, app.spec.decryption.as_ref(), &home)
            .await
            .map_err(|e| CliError::Render {
                app: name.clone(),
                message: format!("{e} ({})", e.hint()),
            })?;
    let mut ctx = RenderContext::new(&name)
        .with_config(RenderConfig::default())
        .with_decryption(std::sync::Arc::new(keys));
    if !app.spec.destination.namespace.is_empty() {
        ctx = ctx.with_namespace(&app.spec.destination.namespace);
    }
    let rendered: Rendered = ferry_render::render(tree, path, &app.spec.source.render, &ctx)
        .map_err(|e| CliError::Render { app: name.clone(), message: e.to_string() })?;
    let prepared = prepare(&conn.client, discovery, app, &id, &rendered)
        .await
        .map_err(|e| CliError::Render { app: name.clone(), message: e.to_string() })?;
    Ok((id, prepared))
}

/// GETs every wanted object (key and apiVersion); absent or unserved kinds are simply not live.
pub(crate) async fn read_live(
    conn: &Connection,
    discovery: &Discovery,
    wanted: Vec<(ObjKey, String)>,
) -> Result<HashMap<ObjKey, Arc<Value>>, CliError> {
    ferry_engine::plan::live::read(&conn.client, discovery, wanted)
        .await
        .map_err(|e| CliError::Io(e.to_string()))
}

/// Unified diffs for drifted objects, the whole manifest for missing ones (a Secret's values
/// masked with `mask_key`, as in the diffs), a line for extraneous ones, and the objects that
/// could not be compared.
pub fn render(cmp: &Comparison, prepared: &Prepared, mask_key: &str) -> String {
    let mut out = String::new();
    for d in &cmp.diffs {
        out.push_str(&render_unified(d));
    }
    let drifted: std::collections::HashSet<ObjKey> = cmp
        .diffs
        .iter()
        .map(|d| ObjKey {
            group: group_of(&d.api_version),
            kind: d.kind.clone(),
            namespace: d.namespace.clone().unwrap_or_default(),
            name: d.name.clone(),
        })
        .collect();
    for key in cmp.out_of_sync.iter().filter(|k| !drifted.contains(*k)) {
        if cmp.errors.iter().any(|(k, _)| k == key) {
            continue;
        }
        let Some(r) = prepared.resources.iter().find(|r| &r.key == key) else { continue };
        let api_version = str_at(&r.object, &["apiVersion"]).unwrap_or_default();
        out.push_str(&format!(
            "--- live {api_version} {} (missing from the cluster)\n",
            display(key)
        ));
        out.push_str(&format!("+++ desired {api_version} {}\n", display(key)));
        let mut shown = (*r.object).clone();
        ferry_diff::mask_secret(&mut shown, mask_key);
        let yaml =
            serde_saphyr::to_string(&shown).unwrap_or_else(|e| format!("(cannot show: {e})\n"));
        for line in yaml.lines() {
            out.push_str(&format!("+{line}\n"));
        }
    }
    for e in &cmp.extraneous {
        let key = e.key();
        out.push_str(&format!("--- live {} {}\n", e.api_version(), display(&key)));
        out.push_str(&format!(
            "+++ desired {} {} (no longer in Git; pruned when prune is enabled)\n",
            e.api_version(),
            display(&key)
        ));
    }
    for (key, message) in &cmp.errors {
        out.push_str(&format!("!!! {}: cannot compare: {message}\n", display(key)));
    }
    out
}

fn group_of(api_version: &str) -> String {
    api_version.split_once('/').map(|(g, _)| g.to_owned()).unwrap_or_default()
}

fn display(key: &ObjKey) -> String {
    if key.namespace.is_empty() {
        format!("{} {}", key.kind, key.name)
    } else {
        format!("{} {}/{}", key.kind, key.namespace, key.name)
    }
}
