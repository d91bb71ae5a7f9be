//! What a real cluster puts in every namespace: the `default` ServiceAccount (the
//! serviceaccount controller) and the `kube-root-ca.crt` ConfigMap (the root CA publisher).

use serde_json::{Value, json};

use crate::http::Shared;
use crate::resources::ResourceType;
use crate::write::ops;

/// Called after a committed write of type `rt`: a stored, live Namespace gets its defaults.
pub fn after_change(st: &Shared, rt: &ResourceType, obj: &Value) {
    if !(rt.group.is_empty() && rt.plural == "namespaces") {
        return;
    }
    if obj.pointer("/metadata/deletionTimestamp").is_some() {
        return;
    }
    if let Some(ns) = obj.pointer("/metadata/name").and_then(Value::as_str) {
        ensure(st, ns);
    }
}

/// Creates what is missing of namespace `ns`'s defaults.
pub fn ensure(st: &Shared, ns: &str) {
    let ca = st.auth.ca_pem.clone();
    let wanted = [
        (
            "serviceaccounts",
            "default",
            "kube-controller-manager",
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}}),
        ),
        (
            "configmaps",
            "kube-root-ca.crt",
            "kube-controller-manager",
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "kube-root-ca.crt",
                    "annotations": {"kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."}},
                "data": {"ca.crt": ca}}),
        ),
    ];
    for (plural, name, manager, obj) in wanted {
        let Some(rt) = st.registry().find("", "v1", plural).cloned() else { continue };
        if st.store.get(&ops::key_for(&rt, Some(ns), name)).is_some() {
            continue;
        }
        match ops::create(st, &rt, Some(ns), obj, manager, false) {
            Ok(_) => {}
            // Created meanwhile, or the namespace is already terminating.
            Err(e) if e.code == 409 || e.code == 403 || e.code == 404 => {}
            Err(e) => tracing::warn!(namespace = ns, object = name, error = %e,
                "cannot create a namespace default"),
        }
    }
}
