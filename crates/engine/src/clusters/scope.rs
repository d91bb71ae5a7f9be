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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::clusters::secret::{ClusterAuth, TlsConfig};

    fn spec(namespaces: &[&str], cluster_resources: bool) -> ClusterSpec {
        ClusterSpec {
            secret: "cluster-east".into(),
            name: "east".into(),
            server: "https://east:6443".into(),
            auth: ClusterAuth::CertOrNone,
            tls: TlsConfig::default(),
            namespaces: namespaces.iter().map(|s| s.to_string()).collect(),
            cluster_resources,
        }
    }

    fn object(kind: &str, namespace: Option<&str>) -> Desired {
        let mut obj = json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": "x"}});
        if let Some(ns) = namespace {
            obj["metadata"]["namespace"] = json!(ns);
        }
        Desired { object: obj.into(), origin: "x.yaml".into() }
    }

    #[test]
    fn a_cluster_without_a_namespace_list_allows_everything() {
        let objects = [object("ConfigMap", Some("any")), object("Namespace", None)];
        assert_eq!(check(&spec(&[], true), "any", &objects), Ok(()));
    }

    #[test]
    fn a_namespace_outside_the_list_is_refused_naming_it_and_the_cluster() {
        let east = spec(&["shop"], false);
        assert_eq!(check(&east, "shop", &[object("ConfigMap", Some("shop"))]), Ok(()));
        let err = check(&east, "billing", &[]).expect_err("destination outside the list");
        assert!(err.to_string().contains("\"billing\"") && err.to_string().contains("east"));
        let err = check(&east, "shop", &[object("ConfigMap", Some("kube-system"))])
            .expect_err("an object outside the list");
        assert!(err.to_string().contains("ConfigMap"), "{err}");
    }

    #[test]
    fn cluster_scoped_objects_need_cluster_resources() {
        let objects = [object("Namespace", None)];
        let err = check(&spec(&["shop"], false), "shop", &objects).expect_err("refused");
        assert!(matches!(err, ScopeError::ClusterScoped { .. }), "{err}");
        assert_eq!(check(&spec(&["shop"], true), "shop", &objects), Ok(()));
    }
}
