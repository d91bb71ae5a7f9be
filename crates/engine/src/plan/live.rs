//! Live objects read one by one (no watch cache): what `ferry plan` and `ferry app diff`
//! compare with, outside the engine's reconcile.

use std::collections::HashMap;
use std::sync::Arc;

use ferry_apply::discovery::{Discovery, gvk_of};
use ferry_apply::object::{ObjKey, str_at};
use ferry_apply::prune::InventoryEntry;
use kube::api::DynamicObject;
use kube::{Api, Client};
use serde_json::Value;

use crate::compare::Resource;

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("finding the API of {kind} ({api_version}): {message}")]
    Discovery { kind: String, api_version: String, message: String },
    #[error("reading {key}: the answer does not decode: {message}")]
    Decode { key: String, message: String },
    #[error("reading {key}: {source}")]
    Read {
        key: String,
        #[source]
        source: kube::Error,
    },
}

/// The objects a comparison reads: every declared resource and every inventory entry (key and
/// apiVersion).
pub fn wanted(resources: &[Resource], inventory: &[InventoryEntry]) -> Vec<(ObjKey, String)> {
    let mut wanted: Vec<(ObjKey, String)> = resources
        .iter()
        .map(|r| (r.key.clone(), str_at(&r.object, &["apiVersion"]).unwrap_or_default().to_owned()))
        .collect();
    wanted.extend(inventory.iter().map(|e| (e.key(), e.api_version())));
    wanted
}

/// GETs every wanted object (key and apiVersion); absent objects and kinds the cluster does not
/// serve are simply not live.
pub async fn read(
    client: &Client,
    discovery: &Discovery,
    wanted: Vec<(ObjKey, String)>,
) -> Result<HashMap<ObjKey, Arc<Value>>, LiveError> {
    let mut live = HashMap::new();
    for (key, api_version) in wanted {
        if live.contains_key(&key) {
            continue;
        }
        let resolved = match discovery.resolve(client, &gvk_of(&api_version, &key.kind)).await {
            Ok(r) => r,
            Err(e) if e.is_unknown_kind() => continue,
            Err(e) => {
                return Err(LiveError::Discovery {
                    kind: key.kind.clone(),
                    api_version,
                    message: e.to_string(),
                });
            }
        };
        let api: Api<DynamicObject> = if resolved.namespaced {
            Api::namespaced_with(client.clone(), &key.namespace, &resolved.resource)
        } else {
            Api::all_with(client.clone(), &resolved.resource)
        };
        let found = api
            .get_opt(&key.name)
            .await
            .map_err(|source| LiveError::Read { key: key.to_string(), source })?;
        let Some(obj) = found else { continue };
        // Never "not live" for an object that was read: that would plan it as a create.
        let mut value = serde_json::to_value(obj)
            .map_err(|e| LiveError::Decode { key: key.to_string(), message: e.to_string() })?;
        if value.get("apiVersion").and_then(Value::as_str).is_none_or(str::is_empty) {
            value["apiVersion"] = Value::String(resolved.resource.api_version.clone());
        }
        if value.get("kind").and_then(Value::as_str).is_none_or(str::is_empty) {
            value["kind"] = Value::String(resolved.resource.kind.clone());
        }
        live.insert(key, Arc::new(value));
    }
    Ok(live)
}
