//! From rendered objects to what is applied: namespaces filled in the way kubectl would (for
//! namespaced kinds only), ignored fields stripped, and Ferry's tracking marks written.

use std::collections::HashSet;
use std::sync::Arc;

use ferry_apply::annotations::{ApplyMode, ObjectOptions, Role};
use ferry_apply::discovery::{Discovery, gvk_of};
use ferry_apply::object::{ObjKey, str_at};
use ferry_apply::plan::Desired;
use ferry_apply::tracking::{AppId, mark};
use ferry_render::Rendered;
use kube::Client;
use serde_json::{Value, json};

use crate::application::Application;
use crate::compare::{Resource, strip_ignored};

mod packed;
pub use packed::PackedPrepared;

#[derive(Clone, Debug, Default)]
pub struct Prepared {
    /// Tracked resources (compared, inventoried, pruned).
    pub resources: Arc<Vec<Resource>>,
    /// Everything the plan needs: resources, hooks, skipped objects, a created namespace.
    pub desired: Arc<Vec<Desired>>,
    /// (apiVersion, kind) of the tracked resources, to be watched.
    pub kinds: HashSet<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error("{origin}: {message}")]
    Object { origin: String, message: String },
    #[error("discovery of {kind} failed: {message}")]
    Discovery { kind: String, message: String },
}

pub async fn prepare(
    client: &Client,
    discovery: &Discovery,
    app: &Application,
    id: &AppId,
    rendered: &Rendered,
) -> Result<Prepared, PrepareError> {
    let dest_ns = app.spec.destination.namespace.as_str();
    let mut resources = Vec::new();
    let mut desired = Vec::new();
    let mut kinds = HashSet::new();
    for r in &rendered.objects {
        let origin = r.origin.to_string();
        let mut obj = r.object.clone();
        let api_version = str_at(&obj, &["apiVersion"]).unwrap_or_default().to_owned();
        let kind = str_at(&obj, &["kind"]).unwrap_or_default().to_owned();
        let namespaced = match discovery.resolve(client, &gvk_of(&api_version, &kind)).await {
            Ok(resolved) => resolved.namespaced,
            Err(e) if e.is_unknown_kind() => {
                scope_from_crds(rendered, &api_version, &kind).unwrap_or(true)
            }
            Err(e) => {
                return Err(PrepareError::Discovery {
                    kind: format!("{api_version}/{kind}"),
                    message: e.to_string(),
                });
            }
        };
        let has_ns = str_at(&obj, &["metadata", "namespace"]).is_some_and(|s| !s.is_empty());
        if namespaced && !has_ns && !dest_ns.is_empty() {
            obj["metadata"]["namespace"] = Value::String(dest_ns.to_owned());
        }
        if !namespaced && let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("namespace");
        }
        let key = ObjKey::of(&obj)
            .map_err(|e| PrepareError::Object { origin: origin.clone(), message: e.to_string() })?;
        let stripped = strip_ignored(&mut obj, &app.spec.ignore_differences, &key);
        mark(&mut obj, id);
        let options = ObjectOptions::of(&obj)
            .map_err(|e| PrepareError::Object { origin: origin.clone(), message: e.to_string() })?;
        let obj = Arc::new(obj);
        if options.role == Role::Resource && options.mode != ApplyMode::Ignore {
            kinds.insert((api_version, kind));
            resources.push(Resource {
                key,
                object: obj.clone(),
                origin: origin.clone(),
                ignore_extraneous: options.ignore_extraneous,
                stripped: (!stripped.is_empty()).then(|| Arc::new(stripped)),
            });
        }
        desired.push(Desired { object: obj, origin });
    }
    if app.sync_option("CreateNamespace") && !dest_ns.is_empty() {
        let declared = resources
            .iter()
            .any(|r| r.key.group.is_empty() && r.key.kind == "Namespace" && r.key.name == dest_ns);
        if !declared {
            // Created if missing, never tracked or pruned (Argo CD behaves the same).
            let ns = json!({
                "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": dest_ns,
                "annotations": {"kustomize.toolkit.fluxcd.io/ssa": "IfNotPresent"}}
            });
            desired.push(Desired {
                object: ns.into(),
                origin: "syncOptions CreateNamespace=true".into(),
            });
        }
    }
    Ok(Prepared { resources: Arc::new(resources), desired: Arc::new(desired), kinds })
}

/// The scope a CRD in the same render declares for `kind`, before the cluster serves it.
fn scope_from_crds(rendered: &Rendered, api_version: &str, kind: &str) -> Option<bool> {
    let group = api_version.split_once('/').map(|(g, _)| g)?;
    rendered.objects.iter().find_map(|r| {
        let o = &r.object;
        let is_crd = str_at(o, &["kind"]) == Some("CustomResourceDefinition");
        (is_crd
            && str_at(o, &["spec", "group"]) == Some(group)
            && str_at(o, &["spec", "names", "kind"]) == Some(kind))
        .then(|| str_at(o, &["spec", "scope"]) != Some("Cluster"))
    })
}
