//! A cluster Secret's `namespaces` and `clusterResources`: what an app may deploy there,
//! checked on the prepared objects before anything is applied. Pure.

use ferry_apply::object::{ObjKey, str_at};
use ferry_apply::plan::Desired;

use super::secret::ClusterSpec;

/// Why an app's objects may not go to the cluster.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScopeError {
    #[error(
        "namespace {namespace:?} is not among the namespaces cluster {cluster} allows ({allowed}); {what}"
    )]
    Namespace { cluster: String, namespace: String, allowed: String, what: String },
    #[error(
        "cluster {cluster} does not allow cluster-scoped objects (clusterResources is false), but the app declares {object}"
    )]
    ClusterScoped { cluster: String, object: String },
}

/// Checks the destination namespace and every object to apply against `spec`.
pub fn check(spec: &ClusterSpec, dest_ns: &str, desired: &[Desired]) -> Result<(), ScopeError> {
    let allowed = |ns: &str| spec.namespaces.is_empty() || spec.namespaces.iter().any(|n| n == ns);
    let refuse = |namespace: &str, what: String| ScopeError::Namespace {
        cluster: spec.name.clone(),
        namespace: namespace.to_owned(),
        allowed: spec.namespaces.join(", "),
        what,
    };
    if !dest_ns.is_empty() && !allowed(dest_ns) {
        return Err(refuse(dest_ns, "it is the app's destination namespace".into()));
    }
    for d in desired {
        let object = ObjKey::of(&d.object).map(|k| k.to_string()).unwrap_or_default();
        match str_at(&d.object, &["metadata", "namespace"]).filter(|n| !n.is_empty()) {
            Some(ns) if !allowed(ns) => return Err(refuse(ns, format!("{object} is in it"))),
            Some(_) => {}
            None if !spec.cluster_resources => {
                return Err(ScopeError::ClusterScoped { cluster: spec.name.clone(), object });
            }
            None => {}
        }
    }
    Ok(())
}
