//! `ferry plan`: what merging a change (base → head of one repository) would do to the live
//! cluster, app by app, before it is merged. The apps of the repository that track the base
//! and whose base render read a changed path are rendered at head, prepared as the engine would,
//! checked against their project and compared with their live objects: objects to create, to
//! update (a diff, Secret values masked) and to prune. Nothing is written anywhere.
//!
//! The CLI runs it with its own repository cache and reads clusters through their Secrets
//! ([`SecretDestinations`]); the API runs it inside the engine with the engine's connections.

mod destinations;
pub mod live;
pub mod report;
pub mod select;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use ferry_apply::object::{ObjKey, str_at};
use ferry_apply::tracking::AppId;
use ferry_diff::{DiffOptions, render_unified};
use ferry_render::{Keyring, RenderCache, RenderConfig, RenderContext, Rendered, RepoPath};
use ferry_source::{Access, CacheError, CommitId, RepoCache, RepoUrl};
use kube::api::ListParams;
use kube::{Api, Client};

pub use destinations::{Destinations, SecretDestinations, Target};
pub use report::{AppPlan, ObjectChange, Plan, Side, Unaffected, markdown, text};
pub use select::Skip;

use crate::application::{Application, IN_CLUSTER_NAME};
use crate::compare::compare;
use crate::prepare::{Prepared, prepare};
use crate::project::rules::AppFacts;
use crate::project::{DEFAULT_PROJECT, Project, check_spec};

/// The change to plan.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanRequest {
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    pub base: String,
    pub head: String,
}

/// Where a plan reads from.
pub struct PlanEnv<'a, D: Destinations> {
    /// The cluster Ferry's Applications, Projects and key Secrets live in.
    pub client: Client,
    pub home_namespace: String,
    pub cache: &'a RepoCache,
    /// The credentials the repository is fetched with.
    pub access: Access,
    pub render: RenderConfig,
    /// Renders remembered by the paths they read: inside the engine its own cache, so the base
    /// render of an app the engine synced is found, not run again.
    pub renders: &'a RenderCache,
    pub destinations: &'a D,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("repository URL {url:?}: {message}")]
    Url { url: String, message: String },
    #[error("fetching {which} {reference:?} of {url}: {source}")]
    Fetch {
        which: &'static str,
        reference: String,
        url: String,
        #[source]
        source: CacheError,
    },
    #[error("comparing {base} with {head}: {source}")]
    Changes {
        base: String,
        head: String,
        #[source]
        source: CacheError,
    },
    #[error("credentials for {url}: {message}")]
    Credentials { url: String, message: String },
    #[error("listing the Applications: {0}")]
    ListApps(#[source] kube::Error),
}

impl PlanError {
    /// What to do next, for the CLI and the PR comment.
    pub fn hint(&self) -> &'static str {
        match self {
            PlanError::Url { .. } => "Give the repository URL the apps use in spec.source.repoURL",
            PlanError::Fetch { .. } => {
                "Check that both refs exist (a branch, tag or commit) and that Ferry can read the repository (`ferry repo list`)"
            }
            PlanError::Changes { .. } => "The repository cache may be damaged; try again",
            PlanError::Credentials { .. } => {
                "Fix the repository Secret named in the message (`ferry repo list`)"
            }
            PlanError::ListApps(_) => "Check the kubeconfig and that you may list Applications",
        }
    }
}

/// Plans `req`: fetches both refs, finds the apps concerned and plans each.
pub async fn plan<D: Destinations>(
    env: &PlanEnv<'_, D>,
    req: &PlanRequest,
) -> Result<Plan, PlanError> {
    let url = RepoUrl::parse(&req.repo_url)
        .map_err(|e| PlanError::Url { url: req.repo_url.clone(), message: e.to_string() })?;
    let base = fetch(env, &url, "base", &req.base).await?;
    let head = fetch(env, &url, "head", &req.head).await?;
    let changed = match env.cache.changed_paths(&url, &base, &head) {
        Ok(c) => Some(c),
        Err(CacheError::Changes { .. }) => None, // too many paths: every app is concerned
        Err(source) => {
            return Err(PlanError::Changes {
                base: base.short().to_owned(),
                head: head.short().to_owned(),
                source,
            });
        }
    };
    let apps = Api::<Application>::all(env.client.clone())
        .list(&ListParams::default())
        .await
        .map_err(PlanError::ListApps)?;
    let mut out = Plan {
        repo_url: req.repo_url.clone(),
        base: Side { reference: req.base.clone(), commit: base.as_str().to_owned() },
        head: Side { reference: req.head.clone(), commit: head.as_str().to_owned() },
        changed_paths: changed.as_ref().map_or(0, BTreeSet::len),
        apps: vec![],
        unaffected: vec![],
    };
    // One key for the whole plan: equal masked values read equal within it, and nothing printed
    // can be checked against a guessed value.
    let mask_key = crate::random_mask_key();
    let sides = Sides {
        url: &url,
        base: &base,
        head: &head,
        base_ref: &req.base,
        changed: changed.as_ref(),
        keys: tokio::sync::Mutex::default(),
        resolved: tokio::sync::Mutex::default(),
    };
    for app in apps.items.iter().filter(|a| select::same_repository(a, &url)) {
        let name = format!(
            "{}/{}",
            app.metadata.namespace.as_deref().unwrap_or_default(),
            app.metadata.name.as_deref().unwrap_or_default()
        );
        match plan_app(env, &sides, app, &mask_key).await {
            Ok(p) => out.apps.push(AppPlan { app: name, ..p }),
            Err(reason) => out.unaffected.push(Unaffected { app: name, reason }),
        }
    }
    out.apps.retain(|a| a.changes() > 0 || a.blocked());
    Ok(out)
}

async fn fetch<D: Destinations>(
    env: &PlanEnv<'_, D>,
    url: &RepoUrl,
    which: &'static str,
    reference: &str,
) -> Result<CommitId, PlanError> {
    env.cache.fetch(url, env.access.clone(), reference).await.map(|f| f.commit).map_err(|source| {
        PlanError::Fetch { which, reference: reference.to_owned(), url: url.to_string(), source }
    })
}

struct Sides<'a> {
    url: &'a RepoUrl,
    base: &'a CommitId,
    head: &'a CommitId,
    base_ref: &'a str,
    changed: Option<&'a BTreeSet<RepoPath>>,
    /// Key rings read once per plan: by app namespace and `spec.decryption` (apps without one
    /// share Ferry's default ring).
    keys: tokio::sync::Mutex<HashMap<String, Arc<Keyring>>>,
    /// Target revisions other than the base's name, resolved in the cache once per plan.
    resolved: tokio::sync::Mutex<HashMap<String, Option<CommitId>>>,
}

/// One app: skipped with the reason, or planned (its change set, violations, or the error).
async fn plan_app<D: Destinations>(
    env: &PlanEnv<'_, D>,
    sides: &Sides<'_>,
    app: &Application,
    mask_key: &str,
) -> Result<AppPlan, Skip> {
    let target = app.spec.source.target_revision.clone();
    // By name first: resolving runs git, once per distinct revision of the plan.
    if !select::tracks_base(app, sides.base_ref, sides.base.as_str(), None) {
        let mut resolved = sides.resolved.lock().await;
        if !resolved.contains_key(&target) {
            let commit = env.cache.resolve_local(sides.url, &target).await.ok();
            resolved.insert(target.clone(), commit);
        }
        let commit = resolved.get(&target).cloned().flatten();
        if !select::tracks_base(
            app,
            sides.base_ref,
            sides.base.as_str(),
            commit.as_ref().map(CommitId::as_str),
        ) {
            return Err(Skip::OtherRevision { target_revision: target });
        }
    }
    // A base that does not render is no reason to skip the app: head is what matters.
    let base = render_at(env, sides, sides.base, app).await.ok();
    if let (Some(base), Some(changed)) = (&base, sides.changed)
        && !select::touches(changed, &base.read_set)
    {
        return Err(Skip::Untouched);
    }
    let mut out = AppPlan {
        destination: destination(app),
        prune_enabled: app
            .spec
            .sync_policy
            .as_ref()
            .and_then(|p| p.automated.as_ref())
            .is_some_and(|a| a.prune),
        ..AppPlan::default()
    };
    let head = match render_at(env, sides, sides.head, app).await {
        Ok(r) => r,
        Err(e) => {
            out.error = Some(format!("head {} does not render: {e}", sides.head.short()));
            return Ok(out);
        }
    };
    if base.as_ref().is_some_and(|b| b.hash == head.hash) {
        return Err(Skip::SameRender);
    }
    if let Err(e) = against_live(env, app, &head, mask_key, &mut out).await {
        out.error = Some(e);
    }
    Ok(out)
}

fn destination(app: &Application) -> String {
    let d = &app.spec.destination;
    let cluster =
        d.name.clone().or_else(|| d.server.clone()).unwrap_or_else(|| IN_CLUSTER_NAME.to_owned());
    format!("{cluster}/{}", d.namespace)
}

/// The app's SOPS key ring, read once per plan for each namespace and `spec.decryption`.
async fn keyring<D: Destinations>(
    env: &PlanEnv<'_, D>,
    sides: &Sides<'_>,
    app: &Application,
) -> Result<Arc<Keyring>, String> {
    let ns = app.metadata.namespace.clone().unwrap_or_default();
    let decryption = app.spec.decryption.as_ref();
    let memo = match decryption {
        Some(d) => format!("{ns}/{}", serde_json::to_string(d).unwrap_or_default()),
        None => String::new(),
    };
    let mut keys = sides.keys.lock().await;
    if let Some(ring) = keys.get(&memo) {
        return Ok(ring.clone());
    }
    let ring = crate::decryption::keyring(&env.client, &ns, decryption, &env.home_namespace)
        .await
        .map(Arc::new)
        .map_err(|e| format!("{e} ({})", e.hint()))?;
    keys.insert(memo, ring.clone());
    Ok(ring)
}

/// The app rendered at `commit` with its SOPS keys, as the engine renders it.
async fn render_at<D: Destinations>(
    env: &PlanEnv<'_, D>,
    sides: &Sides<'_>,
    commit: &CommitId,
    app: &Application,
) -> Result<Arc<Rendered>, String> {
    let name = app.metadata.name.clone().unwrap_or_default();
    let keys = keyring(env, sides, app).await?;
    let tree = env.cache.tree(sides.url, commit).map_err(|e| e.to_string())?;
    let path =
        RepoPath::new(&app.spec.source.path).map_err(|e| format!("spec.source.path: {e}"))?;
    let mut ctx = RenderContext::new(&name).with_config(env.render.clone()).with_decryption(keys);
    if !app.spec.destination.namespace.is_empty() {
        ctx = ctx.with_namespace(&app.spec.destination.namespace);
    }
    let opts = &app.spec.source.render;
    let run = || env.renders.render(&tree, &path, opts, &ctx).map_err(|e| e.to_string());
    // Renders run external tools (helm, kustomize) and block: off the async workers where the
    // runtime has others (a current-thread runtime has no other worker to hand over to).
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(run),
        _ => run(),
    }
}

/// Prepares the head render for the app's cluster, checks it against the project and fills
/// `out` with what differs from the live objects.
async fn against_live<D: Destinations>(
    env: &PlanEnv<'_, D>,
    app: &Application,
    head: &Rendered,
    mask_key: &str,
    out: &mut AppPlan,
) -> Result<(), String> {
    let target = env.destinations.connect(&app.spec.destination).await?;
    let ns = app.metadata.namespace.clone().unwrap_or_default();
    let id = AppId::new(&ns, app.metadata.name.as_deref().unwrap_or_default());
    let prepared = prepare(&target.client, &target.discovery, app, &id, head)
        .await
        .map_err(|e| e.to_string())?;
    out.violations = violations(env, app, &target, &prepared).await;
    let inventory = app.status.clone().unwrap_or_default().inventory;
    let wanted = live::wanted(&prepared.resources, &inventory);
    let live =
        live::read(&target.client, &target.discovery, wanted).await.map_err(|e| e.to_string())?;
    let cmp = compare(
        &id,
        &prepared.resources,
        &inventory,
        |k| live.get(k).cloned(),
        &DiffOptions::default().mask_key(mask_key.to_owned()),
        &app.spec.ignore_differences,
    );
    let mut drifted = HashSet::new();
    for d in &cmp.diffs {
        let key = ObjKey {
            group: d.api_version.split_once('/').map(|(g, _)| g.to_owned()).unwrap_or_default(),
            kind: d.kind.clone(),
            namespace: d.namespace.clone().unwrap_or_default(),
            name: d.name.clone(),
        };
        out.update.push(ObjectChange {
            api_version: d.api_version.clone(),
            object: display(&key),
            diff: Some(render_unified(d)),
        });
        drifted.insert(key);
    }
    let failed: HashSet<&ObjKey> = cmp.errors.iter().map(|(k, _)| k).collect();
    for key in cmp.out_of_sync.iter().filter(|k| !drifted.contains(*k) && !failed.contains(k)) {
        let Some(r) = prepared.resources.iter().find(|r| &r.key == key) else { continue };
        out.create.push(created(&r.object, key, mask_key));
    }
    out.prune = cmp
        .extraneous
        .iter()
        .map(|e| ObjectChange {
            api_version: e.api_version(),
            object: display(&e.key()),
            diff: None,
        })
        .collect();
    if !cmp.errors.is_empty() {
        let list: Vec<String> =
            cmp.errors.iter().map(|(k, m)| format!("{}: {m}", display(k))).collect();
        return Err(format!("cannot compare {}", list.join("; ")));
    }
    Ok(())
}

/// A missing object: its whole manifest as added lines, Secret values masked.
fn created(object: &serde_json::Value, key: &ObjKey, mask_key: &str) -> ObjectChange {
    let api_version = str_at(object, &["apiVersion"]).unwrap_or_default().to_owned();
    let mut shown = object.clone();
    ferry_diff::mask_secret(&mut shown, mask_key);
    let yaml = serde_saphyr::to_string(&shown).unwrap_or_else(|e| format!("(cannot show: {e})\n"));
    let diff: String = yaml.lines().map(|l| format!("+{l}\n")).collect();
    ObjectChange { api_version, object: display(key), diff: Some(diff) }
}

/// What the app's project refuses: the spec, then each object's kind and namespace.
async fn violations(
    env: &PlanEnv<'_, impl Destinations>,
    app: &Application,
    target: &Target,
    prepared: &Prepared,
) -> Vec<String> {
    let name = app.project();
    let api: Api<Project> = Api::namespaced(env.client.clone(), &env.home_namespace);
    let project = match api.get_opt(name).await {
        Ok(Some(p)) => p,
        Ok(None) if name == DEFAULT_PROJECT => Project::builtin_default(),
        Ok(None) => {
            return vec![format!(
                "the app names project {name:?}, which does not exist in namespace {}",
                env.home_namespace
            )];
        }
        Err(e) => return vec![format!("reading project {name:?}: {e}")],
    };
    let ns = app.metadata.namespace.clone().unwrap_or_default();
    let facts = AppFacts {
        namespace: &ns,
        home_namespace: &env.home_namespace,
        repo_url: &app.spec.source.repo_url,
        cluster: target.cluster.clone(),
        dest_namespace: &app.spec.destination.namespace,
    };
    if let Err(v) = check_spec(&project, &facts) {
        return vec![v.to_string()];
    }
    match crate::reconcile::admit::check_desired(&project, &target.cluster, &prepared.desired) {
        Ok(()) => vec![],
        Err(v) => vec![v.to_string()],
    }
}

fn display(key: &ObjKey) -> String {
    if key.namespace.is_empty() {
        format!("{} {}", key.kind, key.name)
    } else {
        format!("{} {}/{}", key.kind, key.namespace, key.name)
    }
}
