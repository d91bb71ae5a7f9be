//! Resolves group/version/kind to the API resource and its scope, once per kind per process: a
//! steady-state reconcile makes no discovery calls.

use std::collections::HashMap;
use std::sync::Mutex;

use kube::Client;
use kube::core::GroupVersionKind;
use kube::discovery::{ApiResource, Scope, pinned_kind};

#[derive(Clone, Debug)]
pub struct Resolved {
    pub resource: ApiResource,
    pub namespaced: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error(
        "the cluster does not serve {gvk}: is its CRD installed (or applied in an earlier sync wave)?"
    )]
    UnknownKind { gvk: String },
    #[error("discovery of {gvk} failed: {source}")]
    Api {
        gvk: String,
        #[source]
        source: kube::Error,
    },
}

impl DiscoveryError {
    /// A missing kind may appear later (a CRD being established); an API error may be transient.
    pub fn is_unknown_kind(&self) -> bool {
        matches!(self, DiscoveryError::UnknownKind { .. })
    }
}

/// A per-client cache of resolved kinds.
#[derive(Default)]
pub struct Discovery {
    cache: Mutex<HashMap<GroupVersionKind, Resolved>>,
}

impl Discovery {
    pub fn new() -> Self {
        Self::default()
    }

    pub async fn resolve(
        &self,
        client: &Client,
        gvk: &GroupVersionKind,
    ) -> Result<Resolved, DiscoveryError> {
        if let Some(hit) =
            self.cache.lock().expect("discovery cache lock is never poisoned").get(gvk)
        {
            return Ok(hit.clone());
        }
        let name = display(gvk);
        let (resource, caps) = pinned_kind(client, gvk).await.map_err(|source| match &source {
            kube::Error::Api(s) if s.code == 404 => {
                DiscoveryError::UnknownKind { gvk: name.clone() }
            }
            kube::Error::Discovery(_) => DiscoveryError::UnknownKind { gvk: name.clone() },
            _ => DiscoveryError::Api { gvk: name.clone(), source },
        })?;
        let resolved = Resolved { resource, namespaced: caps.scope == Scope::Namespaced };
        self.cache
            .lock()
            .expect("discovery cache lock is never poisoned")
            .insert(gvk.clone(), resolved.clone());
        Ok(resolved)
    }

    /// Forgets a kind (after its CRD changed or was deleted).
    pub fn forget(&self, gvk: &GroupVersionKind) {
        self.cache.lock().expect("discovery cache lock is never poisoned").remove(gvk);
    }
}

pub fn gvk_of(api_version: &str, kind: &str) -> GroupVersionKind {
    let (group, version) =
        crate::object::split_api_version(api_version).unwrap_or(("", api_version));
    GroupVersionKind::gvk(group, version, kind)
}

pub fn display(gvk: &GroupVersionKind) -> String {
    if gvk.group.is_empty() {
        format!("{}/{}", gvk.version, gvk.kind)
    } else {
        format!("{}/{}/{}", gvk.group, gvk.version, gvk.kind)
    }
}
