//! `GET .../tree`: the app's objects with what they own, by owner references: a Deployment, its
//! ReplicaSets and their Pods; a CronJob, its Jobs and their Pods.
//!
//! The managed objects come from the app's status (sync, health, drift as the engine compared
//! them). Their descendants are read from the cluster: one list per kind that can own or be
//! owned, in each namespace where the app has a workload — a few calls, whatever the app's size.
//! [`link`] is pure.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use axum::Json;
use axum::extract::{Path, Query, State};
use ferry_engine::application::ResourceStatus;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::read::find;
use crate::state::ApiState;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tree {
    /// Managed objects first (in the order of the app's status), then their descendants.
    pub nodes: Vec<TreeNode>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TreeNode {
    /// The object's uid, or `kind/namespace/name` when it is not in the cluster.
    pub id: String,
    pub group: String,
    pub version: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    pub name: String,
    /// Whether the app declares it (its descendants are created by controllers).
    pub managed: bool,
    /// `Synced`, `OutOfSync`, `Unknown`; empty for descendants, which Git does not declare.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sync: String,
    pub health: String,
    /// The health message, or the first drifted field.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// Ids of the nodes that own this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<String>,
}

/// Kinds whose objects own others, or are owned, in a workload's tree.
const WORKLOAD_KINDS: &[(&str, &str, &str, &str)] = &[
    ("apps", "v1", "Deployment", "deployments"),
    ("apps", "v1", "StatefulSet", "statefulsets"),
    ("apps", "v1", "DaemonSet", "daemonsets"),
    ("apps", "v1", "ReplicaSet", "replicasets"),
    ("batch", "v1", "CronJob", "cronjobs"),
    ("batch", "v1", "Job", "jobs"),
    ("", "v1", "Pod", "pods"),
];

pub(crate) async fn tree(
    State(state): State<ApiState>,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<Json<Tree>, ApiError> {
    Ok(Json(build(&state, &namespace, &name).await?))
}

/// Which object of the app's tree `GET .../object` reads.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ObjectQuery {
    #[serde(default)]
    group: String,
    version: String,
    kind: String,
    #[serde(default)]
    namespace: String,
    name: String,
}

/// `GET .../object?group=&version=&kind=&namespace=&name=`: one live object of the app's tree
/// (managed or owned), without managedFields, Secret values masked. Objects outside the tree
/// are refused: the route's permission is the app's, not the cluster's.
pub(crate) async fn object(
    State(state): State<ApiState>,
    Path((namespace, name)): Path<(String, String)>,
    Query(q): Query<ObjectQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let tree = build(&state, &namespace, &name).await?;
    let known = tree.nodes.iter().any(|n| {
        n.group == q.group && n.kind == q.kind && n.namespace == q.namespace && n.name == q.name
    });
    if !known {
        return Err(ApiError::BadRequest {
            message: format!(
                "{} {}/{} is not an object of application {namespace}/{name}",
                q.kind, q.namespace, q.name
            ),
            hint: format!("GET /api/v1/applications/{namespace}/{name}/tree lists its objects"),
        });
    }
    let failed = |e| ApiError::Kube {
        action: "read a live object of",
        namespace: namespace.clone(),
        name: name.clone(),
        source: Box::new(e),
    };
    let gvk = GroupVersionKind::gvk(&q.group, &q.version, &q.kind);
    let client = state.engine.client().clone();
    let (resource, caps) = kube::discovery::pinned_kind(&client, &gvk).await.map_err(failed)?;
    let api: Api<DynamicObject> = match caps.scope {
        kube::discovery::Scope::Namespaced => Api::namespaced_with(client, &q.namespace, &resource),
        kube::discovery::Scope::Cluster => Api::all_with(client, &resource),
    };
    let mut live = api.get(&q.name).await.map_err(failed)?;
    live.metadata.managed_fields = None;
    let mut value = serde_json::to_value(&live).unwrap_or_default();
    // No key: a hash per value would let a reader confirm a guessed Secret value.
    ferry_diff::mask_secret(&mut value, "");
    Ok(Json(value))
}

/// `GET .../desired?group=&kind=&namespace=&name=`: what Git renders for one managed object,
/// as the engine prepared it last (destination namespace filled in, Ferry's marks), Secret
/// values masked, with the file it came from. 404 when the app declares no such object.
pub(crate) async fn desired(
    State(state): State<ApiState>,
    Path((namespace, name)): Path<(String, String)>,
    Query(q): Query<DesiredQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    find(&state, &namespace, &name)?;
    let key = ferry_engine::application::SyncResourceRef {
        group: q.group.clone(),
        kind: q.kind.clone(),
        namespace: q.namespace.clone(),
        name: q.name.clone(),
    };
    let Some((object, origin)) = state.engine.desired(&namespace, &name, &key) else {
        return Err(ApiError::NotDeclared {
            message: format!(
                "application {namespace}/{name} declares no {} {}{} (or has not rendered yet)",
                key.kind,
                if key.namespace.is_empty() {
                    String::new()
                } else {
                    format!("{}/", key.namespace)
                },
                key.name
            ),
            hint: format!(
                "GET /api/v1/applications/{namespace}/{name}/resources lists what it declares; owned objects (a ReplicaSet, a Pod) have no desired manifest"
            ),
        });
    };
    Ok(Json(serde_json::json!({"origin": origin, "object": object})))
}

#[derive(serde::Deserialize)]
pub(crate) struct DesiredQuery {
    #[serde(default)]
    group: String,
    kind: String,
    #[serde(default)]
    namespace: String,
    name: String,
}

/// The app's managed objects (from its status) joined with their live descendants.
async fn build(state: &ApiState, namespace: &str, name: &str) -> Result<Tree, ApiError> {
    let app = find(state, namespace, name)?;
    let managed = app.status.as_ref().map(|s| s.resources.clone()).unwrap_or_default();
    let namespaces: BTreeSet<String> = managed
        .iter()
        .filter(|r| WORKLOAD_KINDS.iter().any(|(g, _, k, _)| *g == r.group && *k == r.kind))
        .map(|r| {
            if r.namespace.is_empty() {
                app.spec.destination.namespace.clone()
            } else {
                r.namespace.clone()
            }
        })
        .collect();
    let mut live = Vec::new();
    for ns in &namespaces {
        for (group, version, kind, plural) in WORKLOAD_KINDS {
            let resource = ApiResource::from_gvk_with_plural(
                &GroupVersionKind::gvk(group, version, kind),
                plural,
            );
            let api: Api<DynamicObject> =
                Api::namespaced_with(state.engine.client().clone(), ns, &resource);
            let list = api.list(&ListParams::default()).await.map_err(|e| ApiError::Kube {
                action: "read the live objects of",
                namespace: namespace.to_owned(),
                name: name.to_owned(),
                source: Box::new(e),
            })?;
            for mut object in list.items {
                object.types = Some(kube::api::TypeMeta {
                    api_version: resource.api_version.clone(),
                    kind: resource.kind.clone(),
                });
                live.push(object);
            }
        }
    }
    Ok(link(&managed, &live))
}

/// Joins the managed objects with the live objects that descend from them.
pub fn link(managed: &[ResourceStatus], live: &[DynamicObject]) -> Tree {
    let key = |kind: &str, ns: &str, name: &str| format!("{kind}/{ns}/{name}");
    let by_key: HashMap<String, &DynamicObject> = live
        .iter()
        .filter_map(|o| {
            let kind = o.types.as_ref()?.kind.clone();
            Some((key(&kind, o.metadata.namespace.as_deref()?, o.metadata.name.as_deref()?), o))
        })
        .collect();
    let mut nodes = Vec::new();
    let mut included: BTreeSet<String> = BTreeSet::new();
    for r in managed {
        let live = by_key.get(&key(&r.kind, &r.namespace, &r.name));
        let id = live
            .and_then(|o| o.metadata.uid.clone())
            .unwrap_or_else(|| key(&r.kind, &r.namespace, &r.name));
        included.insert(id.clone());
        let health = r.health.as_ref();
        let message = health
            .map(|h| h.message.clone())
            .filter(|m| !m.is_empty())
            .or_else(|| r.drift.first().cloned())
            .unwrap_or_default();
        nodes.push(TreeNode {
            id,
            group: r.group.clone(),
            version: r.version.clone(),
            kind: r.kind.clone(),
            namespace: r.namespace.clone(),
            name: r.name.clone(),
            managed: true,
            sync: r.status.to_string(),
            health: health.map(|h| h.status.to_string()).unwrap_or_default(),
            message,
            parents: Vec::new(),
        });
    }
    // Owners come before what they own: each round adds one generation (Deployment →
    // ReplicaSet → Pod is two), and a round that adds nothing ends it.
    let mut pending: BTreeMap<String, &DynamicObject> =
        live.iter().filter_map(|o| Some((o.metadata.uid.clone()?, o))).collect();
    pending.retain(|uid, _| !included.contains(uid));
    loop {
        let generation: Vec<(String, Vec<String>)> = pending
            .iter()
            .filter_map(|(uid, o)| {
                let owners: Vec<String> = o
                    .metadata
                    .owner_references
                    .iter()
                    .flatten()
                    .map(|r| r.uid.clone())
                    .filter(|u| included.contains(u))
                    .collect();
                (!owners.is_empty()).then(|| (uid.clone(), owners))
            })
            .collect();
        if generation.is_empty() {
            break;
        }
        for (uid, parents) in generation {
            let Some(object) = pending.remove(&uid) else { continue };
            included.insert(uid.clone());
            nodes.push(descendant(uid, object, parents));
        }
    }
    Tree { nodes }
}

fn descendant(uid: String, object: &DynamicObject, parents: Vec<String>) -> TreeNode {
    let types = object.types.clone().unwrap_or_default();
    let (group, version) = match types.api_version.split_once('/') {
        Some((g, v)) => (g.to_owned(), v.to_owned()),
        None => (String::new(), types.api_version.clone()),
    };
    let value = serde_json::to_value(object).unwrap_or_default();
    let health = ferry_health::assess(&value, &ferry_health::Rules::default());
    TreeNode {
        id: uid,
        group,
        version,
        kind: types.kind,
        namespace: object.metadata.namespace.clone().unwrap_or_default(),
        name: object.metadata.name.clone().unwrap_or_default(),
        managed: false,
        sync: String::new(),
        health: health.status.to_string(),
        message: health.message,
        parents,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(
        kind: &str,
        api_version: &str,
        name: &str,
        uid: &str,
        owner: Option<&str>,
    ) -> DynamicObject {
        let owners =
            owner.map(|o| json!([{"apiVersion": "apps/v1", "kind": "X", "name": "x", "uid": o}]));
        serde_json::from_value(json!({
            "apiVersion": api_version, "kind": kind,
            "metadata": {"name": name, "namespace": "demo", "uid": uid, "ownerReferences": owners},
        }))
        .expect("a valid object")
    }

    fn managed(kind: &str, name: &str) -> ResourceStatus {
        serde_json::from_value(json!({"version": "v1", "kind": kind, "namespace": "demo", "name": name, "status": "Synced"}))
            .expect("a valid resource status")
    }

    #[test]
    fn a_deployment_owns_its_replicaset_which_owns_its_pods_and_strangers_are_left_out() {
        let live = vec![
            object("Pod", "v1", "web-abc-1", "p1", Some("rs1")),
            object("Deployment", "apps/v1", "web", "d1", None),
            object("ReplicaSet", "apps/v1", "web-abc", "rs1", Some("d1")),
            object("Pod", "v1", "other", "p9", Some("rs9")),
        ];
        let tree = link(&[managed("Deployment", "web"), managed("Service", "web")], &live);
        let shown: Vec<(&str, &str, Vec<String>)> = tree
            .nodes
            .iter()
            .map(|n| (n.kind.as_str(), n.id.as_str(), n.parents.clone()))
            .collect();
        assert_eq!(
            shown,
            [
                ("Deployment", "d1", vec![]),
                ("Service", "Service/demo/web", vec![]),
                ("ReplicaSet", "rs1", vec!["d1".to_owned()]),
                ("Pod", "p1", vec!["rs1".to_owned()]),
            ]
        );
        assert!(!tree.nodes[3].managed);
        assert_eq!(tree.nodes[2].group, "apps");
    }
}
