//! The ApplicationSet controller: watches the sets, re-generates a set when it changes, when
//! one of its apps changes, at every poll interval and on a webhook push for a git generator's
//! repository, and when a cluster Secret changes; then writes the plan (creates, updates,
//! deletes), drives a RollingSync through sync requests, and reports in the set's status.
//!
//! # Guarantees
//! A generator or template error deletes nothing and creates nothing; more than `maxDeletions`
//! deletions wait for `ferry appset approve` (condition `PruneApproval`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_apply::tracking::AppId;
use futures::StreamExt;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{ObjectRef, Store, store::Writer};
use kube::runtime::watcher::{self, Event};

use super::generate::{self, Checkout, GitReader, Listing};
use super::params::ClusterInfo;
use super::plan::{self, Guard, Plan};
use super::report::Report;
use super::rollout::{self, RolloutApp};
use super::{ANNOTATION_APPROVE_DELETION, AppRolloutStatus, ApplicationSet, LABEL_APPLICATION_SET};
use crate::application::{ANNOTATION_SYNC_REQUEST, Application, SyncRequest};
use crate::controller::Inner;
use crate::queue::WorkQueue;
use crate::settings::SecretType;
use crate::sources::Sources;

/// The controller's shared state (in the engine's `Inner`).
pub(crate) struct Sets {
    pub store: Store<ApplicationSet>,
    pub queue: WorkQueue<AppId>,
    /// Each set's last `applicationStatus` (the store may lag behind our own status write).
    rollouts: Mutex<HashMap<AppId, Vec<AppRolloutStatus>>>,
    /// Application creates, updates and deletes made (for `ferry bench`).
    pub writes: AtomicU64,
    /// The last tree listing of each repository a git generator reads, with its commit.
    listings: Mutex<HashMap<String, (String, Arc<Listing>)>>,
}

impl Sets {
    pub fn new(store: Store<ApplicationSet>) -> Self {
        Self {
            store,
            queue: WorkQueue::default(),
            rollouts: Mutex::default(),
            writes: AtomicU64::new(0),
            listings: Mutex::default(),
        }
    }
}

/// What of a set, when it changes, triggers a reconcile: generation and annotations.
type Fingerprint = (Option<i64>, Option<std::collections::BTreeMap<String, String>>);

fn id_of(set: &ApplicationSet) -> AppId {
    AppId::new(set.namespace().unwrap_or_default(), set.name_any())
}

/// Watches the ApplicationSets; a change of spec or annotations reconciles the set.
pub(crate) async fn watch(inner: Arc<Inner>, writer: Writer<ApplicationSet>) {
    let api: Api<ApplicationSet> = match &inner.config.namespace {
        Some(ns) => Api::namespaced(inner.client.clone(), ns),
        None => Api::all(inner.client.clone()),
    };
    let stream =
        watcher::watcher(api, watcher::Config::default()).default_backoff().reflect(writer);
    let mut stream = std::pin::pin!(stream);
    let mut seen: HashMap<AppId, Fingerprint> = HashMap::new();
    while let Some(event) = stream.next().await {
        match event {
            Ok(Event::Apply(set) | Event::InitApply(set)) => {
                let fingerprint = (set.metadata.generation, set.metadata.annotations.clone());
                if seen.insert(id_of(&set), fingerprint.clone()) != Some(fingerprint) {
                    inner.appsets.queue.push(id_of(&set));
                }
            }
            Ok(Event::Delete(set)) => {
                let id = id_of(&set);
                seen.remove(&id);
                inner.appsets.queue.forget(&id);
                inner.appsets.rollouts.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
            }
            Ok(_) => {}
            Err(e) => tracing::debug!(error = %e, "watch on ApplicationSets failed; retrying"),
        }
    }
}

/// An Application changed: its set (by label) looks again within a second (debounced: many
/// apps change together, and one look at a set of 1,000 apps reads them all).
pub(crate) fn app_changed(inner: &Inner, app: &Application) {
    if let Some(set) = app.labels().get(LABEL_APPLICATION_SET) {
        let id = AppId::new(app.namespace().unwrap_or_default(), set);
        inner.appsets.queue.push_after(id, Duration::from_secs(1));
    }
}

/// A push to `url` (webhook or `ferry` refresh): the sets with a git generator on it.
pub(crate) fn notify_push(inner: &Inner, url: &ferry_source::RepoUrl) -> usize {
    let key = url.key();
    let mut n = 0;
    for set in inner.appsets.store.state() {
        if git_urls(&set.spec.generators)
            .iter()
            .any(|u| Sources::parse_url(u).is_ok_and(|u| u.key() == key))
        {
            inner.appsets.queue.push(id_of(&set));
            n += 1;
        }
    }
    n
}

fn git_urls(generators: &[super::Generator]) -> Vec<String> {
    let mut out = Vec::new();
    for g in generators {
        out.extend(g.git.iter().map(|g| g.repo_url.clone()));
        for c in g.matrix.iter().chain(g.merge.iter()) {
            out.extend(git_urls(&c.generators));
        }
    }
    out
}

/// Every poll interval, each set looks again (its git reads reuse refs younger than half the
/// interval, so a quiet repository costs one ref check per interval, shared with the apps); a
/// change of the cluster Secrets does too.
pub(crate) async fn tick(inner: Arc<Inner>) {
    let mut clusters = inner.settings.changes();
    let mut tick =
        tokio::time::interval(inner.config.poll_interval.max(Duration::from_millis(100)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            changed = clusters.changed() => if changed.is_err() { return },
        }
        for set in inner.appsets.store.state() {
            inner.appsets.queue.push(id_of(&set));
        }
    }
}

/// A worker: one set at a time.
pub(crate) async fn work(inner: Arc<Inner>) {
    loop {
        let id = inner.appsets.queue.next().await;
        let set = inner.appsets.store.get(&ObjectRef::new(&id.name).within(&id.namespace));
        // With sharding, the holder of shard 0 alone runs the sets (the next tick queues them
        // all again, on whichever replica holds it then).
        let entry = inner.shards.enter(0);
        if let Some(set) =
            set.filter(|s| s.metadata.deletion_timestamp.is_none() && entry.is_some())
            && let Some(delay) = reconcile(&inner, &set).await
        {
            inner.appsets.queue.push_after(id.clone(), delay);
        }
        drop(entry);
        inner.appsets.queue.done(&id);
    }
}

/// The git trees the engine fetches, with its repository credentials.
struct EngineGit<'a> {
    inner: &'a Inner,
}

impl GitReader for EngineGit<'_> {
    async fn checkout(&self, repo_url: &str, revision: &str) -> Result<Checkout, String> {
        let inner = self.inner;
        let url = Sources::parse_url(repo_url).map_err(|e| e.to_string())?;
        let repo = inner.repos.access(repo_url).await.map_err(|e| e.to_string())?;
        let revision = if revision.is_empty() { "HEAD" } else { revision };
        let max_age = inner.config.poll_interval / 2;
        let commit =
            inner.sources.commit(&url, &repo.access, revision, max_age).await.map_err(|e| {
                repo.explain(&url, e.failure_kind(), inner.repos.namespace())
                    .unwrap_or_else(|| e.to_string())
            })?;
        let tree = inner.sources.tree(&url, &commit).map_err(|e| e.to_string())?;
        Ok(Checkout { tree, commit: commit.as_str().to_owned() })
    }

    fn listing(&self, repo_url: &str, checkout: &Checkout) -> Result<Option<Arc<Listing>>, String> {
        let listings = &self.inner.appsets.listings;
        let known = listings.lock().unwrap_or_else(|p| p.into_inner()).get(repo_url).cloned();
        if let Some((_, listing)) = known.filter(|(c, _)| *c == checkout.commit) {
            return Ok(Some(listing));
        }
        let Some(listing) = generate::walk(&checkout.tree)?.map(Arc::new) else { return Ok(None) };
        let entry = (checkout.commit.clone(), listing.clone());
        listings.lock().unwrap_or_else(|p| p.into_inner()).insert(repo_url.to_owned(), entry);
        Ok(Some(listing))
    }
}

/// The clusters of the cluster Secrets (a Secret that does not parse is left out; the apps
/// that name it say why).
pub(crate) fn known_clusters(inner: &Inner) -> Vec<ClusterInfo> {
    inner
        .settings
        .secrets(SecretType::Cluster)
        .iter()
        .filter_map(|s| {
            let spec = crate::clusters::secret::parse(s).ok()?;
            Some(ClusterInfo {
                name: spec.name,
                server: spec.server,
                labels: s.labels().clone(),
                annotations: s.annotations().clone(),
            })
        })
        .collect()
}

/// One reconcile of a set; returns when to look again, if sooner than the next tick.
async fn reconcile(inner: &Arc<Inner>, set: &ApplicationSet) -> Option<Duration> {
    let mut report = Report::new(set);
    let retry = converge(inner, set, &mut report).await;
    let status = report.finish(set, &owned(inner, set));
    let api: Api<ApplicationSet> =
        Api::namespaced(inner.client.clone(), &set.namespace().unwrap_or_default());
    if set.status.as_ref() != Some(&status) {
        let patch = serde_json::json!({"status": super::report::as_patch(&status)});
        if let Err(e) =
            api.patch_status(&set.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await
        {
            tracing::warn!(set = %id_of(set), error = %e, "cannot write the ApplicationSet status");
            return Some(Duration::from_secs(2));
        }
    }
    retry
}

/// Generate, render, plan, write, roll out.
async fn converge(
    inner: &Arc<Inner>,
    set: &ApplicationSet,
    report: &mut Report,
) -> Option<Duration> {
    let policy = match set.spec.policy() {
        Ok(p) => p,
        Err(e) => return report.error("InvalidSyncPolicy", e.to_string(), None),
    };
    let started = std::time::Instant::now();
    let clusters = known_clusters(inner);
    let generated =
        match generate::generate(&set.spec.generators, &EngineGit { inner }, &clusters).await {
            Ok(g) => g,
            Err(e) => {
                let delay = if e.is_retryable() {
                    Duration::from_secs(5)
                } else {
                    inner.config.poll_interval.max(Duration::from_secs(30))
                };
                report.parameters(Err(e.to_string()));
                return report.error("GenerateFailed", e.to_string(), Some(delay));
            }
        };
    report.parameters(Ok(generated.params.len()));
    let generated_at = std::time::Instant::now();
    let apps = match super::template::applications(set, &generated.params) {
        Ok(a) => a,
        Err(e) => return report.error("InvalidTemplate", e.to_string(), None),
    };
    let existing = owned(inner, set);
    let approved = set.annotations().get(ANNOTATION_APPROVE_DELETION).map(String::as_str);
    let guard = Guard { max_deletions: set.spec.max_deletions(), approved };
    let plan = plan::plan(&apps, &existing, policy, guard);
    report.planned(&plan, set.spec.max_deletions());
    tracing::debug!(
        set = %id_of(set),
        generate = ?generated_at.duration_since(started),
        render_and_plan = ?generated_at.elapsed(),
        create = plan.create.len(), update = plan.update.len(), delete = plan.delete.len(),
        "ApplicationSet planned"
    );
    if let Err(e) = write(inner, set, &plan).await {
        return report.error("WriteFailed", e, Some(Duration::from_secs(2)));
    }
    report.generated(&apps);
    if let Some(steps) = set.spec.rolling_steps() {
        return roll(inner, set, steps, report).await;
    }
    None
}

/// The Applications the set owns now: its label and an owner reference to this very set (an
/// app that only carries the label, or one of an earlier set of the same name, is not the
/// set's to update or delete).
pub(crate) fn owned(inner: &Inner, set: &ApplicationSet) -> Vec<Arc<Application>> {
    let (ns, name) = (set.namespace().unwrap_or_default(), set.name_any());
    let uid = set.metadata.uid.clone().unwrap_or_default();
    let mut apps: Vec<Arc<Application>> = inner
        .apps
        .state()
        .into_iter()
        .filter(|a| {
            a.namespace().as_deref() == Some(ns.as_str())
                && a.labels().get(LABEL_APPLICATION_SET) == Some(&name)
                && a.owner_references().iter().any(|o| o.uid == uid)
        })
        .collect();
    apps.sort_by_key(|a| a.name_any());
    apps
}

/// Carries out a plan; the first error stops it (what was written stays written).
async fn write(inner: &Inner, set: &ApplicationSet, plan: &Plan) -> Result<(), String> {
    let api: Api<Application> =
        Api::namespaced(inner.client.clone(), &set.namespace().unwrap_or_default());
    let pp = PostParams::default();
    let count = |n: usize| inner.appsets.writes.fetch_add(n as u64, Ordering::Relaxed);
    for app in &plan.create {
        let name = app.name_any();
        match api.create(&pp, app).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(format!("cannot create Application {name}: {e}")),
        }
        count(1);
    }
    for app in &plan.update {
        let name = app.name_any();
        api.replace(&name, &pp, app)
            .await
            .map_err(|e| format!("cannot update Application {name}: {e}"))?;
        count(1);
    }
    for name in &plan.delete {
        if set.spec.preserve_resources() {
            let patch = serde_json::json!({"metadata": {"finalizers": null}});
            match api.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => {
                    return Err(format!("cannot remove the finalizers of Application {name}: {e}"));
                }
            }
        }
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(format!("cannot delete Application {name}: {e}")),
        }
        count(1);
    }
    Ok(())
}

/// One look at a RollingSync: sync requests for the apps whose turn it is.
async fn roll(
    inner: &Arc<Inner>,
    set: &ApplicationSet,
    steps: &[super::RolloutStep],
    report: &mut Report,
) -> Option<Duration> {
    let id = id_of(set);
    let apps = owned(inner, set);
    let mut view = Vec::with_capacity(apps.len());
    for app in &apps {
        view.push(rollout_view(inner, app).await);
    }
    let previous = inner
        .appsets
        .rollouts
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&id)
        .cloned()
        .unwrap_or_default();
    let plan = match rollout::step(steps, &view, &previous) {
        Ok(p) => p,
        Err(e) => return report.error("InvalidStrategy", e.to_string(), None),
    };
    let api: Api<Application> = Api::namespaced(inner.client.clone(), &id.namespace);
    for name in &plan.sync_now {
        let request = SyncRequest {
            at: jiff::Timestamp::now().to_string(),
            by: Some(format!("applicationset/{}", id.name)),
            ..Default::default()
        };
        let value = serde_json::to_string(&request).unwrap_or_default();
        let patch =
            serde_json::json!({"metadata": {"annotations": {ANNOTATION_SYNC_REQUEST: value}}});
        if let Err(e) = api.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            return report.error(
                "WriteFailed",
                format!("cannot request a sync of Application {name}: {e}"),
                Some(Duration::from_secs(2)),
            );
        }
        tracing::info!(set = %id, app = %name, "RollingSync: sync requested");
    }
    inner
        .appsets
        .rollouts
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(id, plan.status.clone());
    report.rollout(plan);
    None
}

/// An app as the rollout sees it: its status and what its source resolves to now (from the
/// refs the engine remembers; no fetch).
async fn rollout_view(inner: &Inner, app: &Application) -> RolloutApp {
    let status = app.status.clone().unwrap_or_default();
    let source = &app.spec.source;
    let mut target = None;
    if let (Ok(url), Ok(repo)) =
        (Sources::parse_url(&source.repo_url), inner.repos.access(&source.repo_url).await)
    {
        let max_age = inner.config.poll_interval / 2;
        if let Ok(refs) = inner.sources.refs(&url, &repo.access, max_age).await
            && let Ok(ferry_source::Resolution::Ref { commit, .. }) =
                Sources::resolve_with(&refs, &url, &source.target_revision)
        {
            target = Some(commit.as_str().to_owned());
        }
    }
    RolloutApp {
        name: app.name_any(),
        labels: app.labels().clone(),
        sync: status.sync.status.to_string(),
        // As every reader sees it: a commit that left the app unchanged is in its repository
        // record, not in its status.
        revision: crate::records::effective(app, inner.records.get(&status.sync.record).as_deref())
            .revision
            .to_owned(),
        health: status.health.status.to_string(),
        target,
    }
}
