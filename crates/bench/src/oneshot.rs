//! A one-shot sync of a local directory, the way the engine syncs one app: render, one labelled
//! LIST per kind for the live state, diff, then a server-side apply of only what differs.
//! `apply-vs-kubectl` times this against `kubectl apply --server-side` and `kpt live apply`.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use ferry_apply::discovery::{Discovery, gvk_of};
use ferry_apply::executor::{ExecutorConfig, SyncRequest};
use ferry_apply::plan::{Desired, PlanOptions};
use ferry_apply::step::SyncPhase;
use ferry_apply::tracking::{AppId, LABEL_APP, mark};
use ferry_apply::{Action, Executor, ObjKey};
use ferry_diff::DiffOptions;
use ferry_render::{RenderContext, RenderOptions, RepoPath};
use ferry_source::FsTree;
use kube::api::{Api, DynamicObject, ListParams};
use serde_json::Value;

use crate::BenchError;

/// What one sync did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OneShot {
    pub objects: usize,
    /// Objects sent to the server (created or configured).
    pub applied: usize,
    /// Objects found in sync and not sent.
    pub unchanged: usize,
}

/// Syncs every manifest in `dir` into `namespace` as app `app` and waits for health, as an
/// Application sync does.
pub async fn sync_directory(
    client: &kube::Client,
    dir: &Path,
    app: &AppId,
    namespace: &str,
) -> Result<OneShot, BenchError> {
    let fail = |what: &str, e: String| BenchError::Ferry { what: what.to_owned(), message: e };
    let tree = FsTree::new(dir).map_err(|e| fail("read the directory", e.to_string()))?;
    let ctx = RenderContext::new(app.name.clone()).with_namespace(namespace);
    let rendered = ferry_render::render(&tree, &RepoPath::root(), &RenderOptions::default(), &ctx)
        .map_err(|e| fail("render", e.to_string()))?;
    let mut desired = Vec::with_capacity(rendered.objects.len());
    for r in rendered.objects {
        let mut object = r.object;
        if object.pointer("/metadata/namespace").is_none() {
            object["metadata"]["namespace"] = Value::String(namespace.to_owned());
        }
        mark(&mut object, app);
        desired.push(Desired { object: object.into(), origin: r.origin.to_string() });
    }

    let discovery = Arc::new(Discovery::new());
    let live = list_live(client, &discovery, &desired, app, namespace).await?;
    let opts = DiffOptions::default();
    let mut in_sync = HashSet::new();
    for d in &desired {
        let key = ObjKey::of(&d.object).map_err(|e| fail(&d.origin, e.to_string()))?;
        if let Some(obj) = live.get(&key)
            && ferry_diff::diff_object(&d.object, obj, &opts).is_ok_and(|diff| diff.in_sync())
        {
            in_sync.insert(key);
        }
    }
    let plan_opts = PlanOptions { prune: false, prune_last: false, force: false, hooks: true };
    let plan = ferry_apply::plan::plan(&desired, Vec::new(), &plan_opts)
        .map_err(|e| fail("plan", e.to_string()))?;
    let executor = Executor::new(client.clone(), discovery, ExecutorConfig::default());
    let rules = ferry_health::Rules::default();
    let outcome = executor
        .execute(&SyncRequest {
            plan: &plan,
            app,
            dry_run: false,
            live: Some(&live),
            in_sync: &in_sync,
            health_rules: &rules,
            recreate_immutable: false,
        })
        .await;
    if let SyncPhase::Failed(message) = outcome.phase {
        return Err(fail("sync", message));
    }
    let cs = &outcome.change_set;
    Ok(OneShot {
        objects: desired.len(),
        applied: cs.count(Action::Created) + cs.count(Action::Configured),
        unchanged: cs.count(Action::Unchanged),
    })
}

/// One LIST per kind, selected by the app's label, in the target namespace.
async fn list_live(
    client: &kube::Client,
    discovery: &Discovery,
    desired: &[Desired],
    app: &AppId,
    namespace: &str,
) -> Result<HashMap<ObjKey, Value>, BenchError> {
    let kinds: BTreeSet<(String, String)> = desired
        .iter()
        .filter_map(|d| {
            let v = d.object.get("apiVersion")?.as_str()?;
            let k = d.object.get("kind")?.as_str()?;
            Some((v.to_owned(), k.to_owned()))
        })
        .collect();
    let selector = format!("{LABEL_APP}={}", app.label_value());
    let mut live = HashMap::new();
    for (api_version, kind) in kinds {
        let resolved =
            discovery.resolve(client, &gvk_of(&api_version, &kind)).await.map_err(|e| {
                BenchError::Ferry {
                    what: format!("discover {api_version} {kind}"),
                    message: e.to_string(),
                }
            })?;
        let api: Api<DynamicObject> = if resolved.namespaced {
            Api::namespaced_with(client.clone(), namespace, &resolved.resource)
        } else {
            Api::all_with(client.clone(), &resolved.resource)
        };
        let list = api.list(&ListParams::default().labels(&selector)).await.map_err(|source| {
            BenchError::Kube { what: format!("list {kind} in {namespace}"), source }
        })?;
        for item in list.items {
            let mut value = serde_json::to_value(item)
                .map_err(|source| BenchError::Json { what: format!("a live {kind}"), source })?;
            value["apiVersion"] = Value::String(api_version.clone());
            value["kind"] = Value::String(kind.clone());
            if let Ok(key) = ObjKey::of(&value) {
                live.insert(key, value);
            }
        }
    }
    Ok(live)
}
