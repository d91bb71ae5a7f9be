//! The repository records the engine writes in Ferry's namespace (`ferry_engine::records`):
//! read so that `get`, `list` and `wait` show an app's revision as the engine verified it. A
//! record that cannot be read leaves the app's own (older, never newer) revision.

use std::collections::HashMap;
use std::sync::Arc;

use ferry_engine::Application;
use ferry_engine::records::{RECORD_LABEL, RepoRecord};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::ListParams;
use kube::{Api, Client};

/// Ferry's namespace: `$FERRY_NAMESPACE`, else `ferry`.
fn home() -> String {
    std::env::var("FERRY_NAMESPACE")
        .unwrap_or_else(|_| ferry_engine::DEFAULT_HOME_NAMESPACE.to_owned())
}

/// The record the app's status names, if there is one to read.
pub async fn of(client: &Client, app: &Application) -> Option<RepoRecord> {
    let name = app.status.as_ref().map(|s| s.sync.record.as_str()).filter(|n| !n.is_empty())?;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &home());
    match api.get_opt(name).await {
        Ok(cm) => parse(cm?),
        Err(e) => {
            tracing::debug!(record = name, error = %e, "repository record not read");
            None
        }
    }
}

/// Every record, by name (for lists).
pub async fn all(client: &Client) -> HashMap<String, Arc<RepoRecord>> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &home());
    let lp = ListParams::default().labels(&format!("{RECORD_LABEL}=true"));
    let items = match api.list(&lp).await {
        Ok(list) => list.items,
        Err(e) => {
            tracing::debug!(error = %e, "repository records not listed");
            Vec::new()
        }
    };
    items.into_iter().filter_map(parse).map(|r| (r.name.clone(), Arc::new(r))).collect()
}

fn parse(cm: ConfigMap) -> Option<RepoRecord> {
    RepoRecord::from_config_map(&cm)
        .map_err(|e| eprintln!("warning: {e}; showing the apps' own revisions"))
        .ok()
}
