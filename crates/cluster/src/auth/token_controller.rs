//! What kube-controller-manager's token controller does for a Secret of type
//! `kubernetes.io/service-account-token` that names its ServiceAccount in the annotation
//! `kubernetes.io/service-account.name`: fills `token` (a long-lived token of that
//! ServiceAccount), `ca.crt` and `namespace`, and records the ServiceAccount's uid. The token
//! names the Secret, and the authenticator refuses it once the Secret or the ServiceAccount is
//! gone (see [`super::authn`]), as kube-apiserver's legacy token authenticator does. This is
//! how `argocd cluster add` and `ferry cluster add` get a token that does not expire.
//!
//! # Caveats
//! - A Secret created before its ServiceAccount stays empty (kube-controller-manager would
//!   fill it once the ServiceAccount appears); create the ServiceAccount first.

use base64::Engine as _;
use serde_json::{Value, json};

use super::jwt::{API_AUDIENCE, KubernetesClaims, ObjectRef};
use crate::http::Shared;
use crate::resources::ResourceType;
use crate::write::admit::Op;
use crate::write::ops::{self, Edit, UpdateRequest};

pub const TYPE: &str = "kubernetes.io/service-account-token";
pub const ANNOTATION_NAME: &str = "kubernetes.io/service-account.name";
pub const ANNOTATION_UID: &str = "kubernetes.io/service-account.uid";
const MANAGER: &str = "kube-controller-manager";
/// Legacy tokens do not expire; a JWT needs an expiry, so it is a century away.
const LONG_LIVED_SECONDS: i64 = 100 * 365 * 24 * 3600;

/// Called after a committed write of type `rt`: an unfilled token Secret gets its token.
pub fn after_change(st: &Shared, rt: &ResourceType, obj: &Value) {
    if !(rt.group.is_empty() && rt.plural == "secrets") || obj["type"] != TYPE {
        return;
    }
    if obj.pointer("/data/token").is_some() || obj.pointer("/metadata/deletionTimestamp").is_some()
    {
        return;
    }
    let text = |p: &str| obj.pointer(p).and_then(Value::as_str).unwrap_or_default().to_owned();
    let (namespace, name) = (text("/metadata/namespace"), text("/metadata/name"));
    let account = obj
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(ANNOTATION_NAME))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let Some(sa_uid) = service_account_uid(st, &namespace, &account) else { return };
    let claims = KubernetesClaims {
        namespace: namespace.clone(),
        serviceaccount: ObjectRef { name: account.clone(), uid: sa_uid.clone() },
        pod: None,
        secret: Some(ObjectRef { name: name.clone(), uid: text("/metadata/uid") }),
    };
    let issued =
        st.auth.authn.service_accounts.issue(claims, vec![API_AUDIENCE.into()], LONG_LIVED_SECONDS);
    let token = match issued {
        Ok((token, _)) => token,
        Err(e) => {
            tracing::warn!(secret = %name, %namespace, error = %e, "cannot issue a ServiceAccount token");
            return;
        }
    };
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let data =
        json!({"token": b64(&token), "ca.crt": b64(&st.auth.ca_pem), "namespace": b64(&namespace)});
    let edit = Edit::Patch(Box::new(move |cur: &Value, _: &ferry_diff::Schema| {
        let mut next = cur.clone();
        for (k, v) in data.as_object().into_iter().flatten() {
            next["data"][k] = v.clone();
        }
        next["metadata"]["annotations"][ANNOTATION_UID] = json!(sa_uid);
        Ok(next)
    }));
    let req = UpdateRequest {
        rt,
        namespace: Some(&namespace),
        name: &name,
        manager: MANAGER,
        op: Op::Main,
        dry_run: false,
        edit,
    };
    if let Err(e) = ops::update(st, req) {
        tracing::warn!(secret = %name, %namespace, error = %e, "cannot fill a ServiceAccount token Secret");
    }
}

/// The uid of ServiceAccount `namespace/name`, if it exists.
pub fn service_account_uid(st: &Shared, namespace: &str, name: &str) -> Option<String> {
    uid(st, "/serviceaccounts", namespace, name)
}

/// The uid of Secret `namespace/name`, if it exists.
pub fn secret_uid(st: &Shared, namespace: &str, name: &str) -> Option<String> {
    uid(st, "/secrets", namespace, name)
}

fn uid(st: &Shared, storage: &str, namespace: &str, name: &str) -> Option<String> {
    let key = crate::store::Key {
        storage: storage.into(),
        namespace: namespace.into(),
        name: name.into(),
    };
    st.store.get(&key)?.pointer("/metadata/uid")?.as_str().map(str::to_string)
}
