//! Role-based access control: the evaluator over [`index::Index`], the bootstrap policy, and
//! the aggregation of `aggregationRule` ClusterRoles.

pub mod aggregate;
pub mod bootstrap;
pub mod index;
pub mod rules;

use std::sync::RwLock;

use index::{Binding, CLUSTER_ROLE_BINDINGS, CLUSTER_ROLES, Index, ROLE_BINDINGS, ROLES, Subject};

use super::{Attributes, MASTERS, UserInfo};
use crate::store::{Event, EventType, Store};

/// An authorization decision and the reason the real server would give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub reason: String,
}

/// The RBAC authorizer (with the `system:masters` short cut a real server puts before it).
#[derive(Debug, Default)]
pub struct Authorizer {
    index: RwLock<Index>,
}

fn is_rbac(storage: &str) -> bool {
    matches!(storage, ROLES | CLUSTER_ROLES | ROLE_BINDINGS | CLUSTER_ROLE_BINDINGS)
}

impl Authorizer {
    /// Indexes the RBAC objects already in the store (loaded from the data directory).
    pub fn load(&self, store: &Store) {
        let mut idx = self.index.write().unwrap_or_else(|e| e.into_inner());
        for storage in [ROLES, CLUSTER_ROLES, ROLE_BINDINGS, CLUSTER_ROLE_BINDINGS] {
            for obj in store.list(storage, None).0 {
                let text = |p: &str| obj.pointer(p).and_then(serde_json::Value::as_str);
                let (ns, name) = (text("/metadata/namespace"), text("/metadata/name"));
                idx.apply(storage, ns.unwrap_or(""), name.unwrap_or(""), Some(&obj));
            }
        }
    }

    /// Keeps the index in step with a committed change (called by the store, under its lock:
    /// this must never call back into the store).
    pub fn observe(&self, event: &Event) {
        if !is_rbac(&event.key.storage) {
            return;
        }
        let mut idx = self.index.write().unwrap_or_else(|e| e.into_inner());
        let obj = (event.kind != EventType::Deleted).then_some(&*event.object);
        idx.apply(&event.key.storage, &event.key.namespace, &event.key.name, obj);
    }

    /// Number of RoleBindings and ClusterRoleBindings indexed.
    pub fn binding_count(&self) -> usize {
        self.index.read().unwrap_or_else(|e| e.into_inner()).bindings
    }

    pub fn authorize(&self, user: &UserInfo, a: &Attributes) -> Decision {
        if user.in_group(MASTERS) {
            return Decision { allowed: true, reason: String::new() };
        }
        let idx = self.index.read().unwrap_or_else(|e| e.into_inner());
        let mut subjects = Vec::with_capacity(user.groups.len() + 1);
        subjects.push(Subject::User(user.username.clone()));
        subjects.extend(user.groups.iter().cloned().map(Subject::Group));
        let mut errors = Vec::new();
        for subject in &subjects {
            for b in idx.cluster_by_subject.get(subject).into_iter().flat_map(|m| m.values()) {
                if let Some(reason) = check(&idx, b, subject, a, &mut errors) {
                    return Decision { allowed: true, reason };
                }
            }
        }
        if let Some(in_ns) = idx.namespaced_by_subject.get(&a.namespace) {
            for subject in &subjects {
                for b in in_ns.get(subject).into_iter().flat_map(|m| m.values()) {
                    if let Some(reason) = check(&idx, b, subject, a, &mut errors) {
                        return Decision { allowed: true, reason };
                    }
                }
            }
        }
        let reason = match errors.len() {
            0 => String::new(),
            1 => format!("RBAC: {}", errors[0]),
            _ => format!("RBAC: [{}]", errors.join(", ")),
        };
        Decision { allowed: false, reason }
    }
}

impl Authorizer {
    /// Every rule that applies to `user` cluster-wide and in `namespace` (for
    /// SelfSubjectRulesReview), with the errors of bindings to missing roles.
    pub fn rules_for(
        &self,
        user: &UserInfo,
        namespace: &str,
    ) -> (Vec<rules::PolicyRule>, Vec<String>) {
        if user.in_group(MASTERS) {
            let all = |f: &str| serde_json::json!({"verbs": ["*"], f: ["*"]});
            let mut resources = rules::PolicyRule::from_json(&all("resources"));
            resources.api_groups = vec!["*".into()];
            return (
                vec![resources, rules::PolicyRule::from_json(&all("nonResourceURLs"))],
                vec![],
            );
        }
        let idx = self.index.read().unwrap_or_else(|e| e.into_inner());
        let mut subjects = vec![Subject::User(user.username.clone())];
        subjects.extend(user.groups.iter().cloned().map(Subject::Group));
        let mut bindings: Vec<&Binding> = Vec::new();
        for s in &subjects {
            bindings.extend(
                idx.cluster_by_subject.get(s).into_iter().flat_map(|m| m.values().map(|b| &**b)),
            );
            if let Some(in_ns) = idx.namespaced_by_subject.get(namespace) {
                bindings.extend(in_ns.get(s).into_iter().flat_map(|m| m.values().map(|b| &**b)));
            }
        }
        let (mut out, mut errors) = (Vec::new(), Vec::new());
        for b in bindings {
            let found = if b.role_kind == "ClusterRole" {
                idx.cluster_roles.get(&b.role_name)
            } else {
                idx.roles.get(&(b.namespace.clone(), b.role_name.clone()))
            };
            match found {
                Some(rules) => out.extend(
                    rules.iter().filter(|r| !out.contains(*r)).cloned().collect::<Vec<_>>(),
                ),
                None => errors.push(format!(
                    "{}.rbac.authorization.k8s.io {:?} not found",
                    b.role_kind.to_lowercase(),
                    b.role_name
                )),
            }
        }
        (out, errors)
    }
}

/// The allow reason if binding `b` grants `a`; a missing role is recorded in `errors`.
fn check(
    idx: &Index,
    b: &Binding,
    subject: &Subject,
    a: &Attributes,
    errors: &mut Vec<String>,
) -> Option<String> {
    let rules = if b.role_kind == "ClusterRole" {
        idx.cluster_roles.get(&b.role_name)
    } else {
        idx.roles.get(&(b.namespace.clone(), b.role_name.clone()))
    };
    let Some(rules) = rules else {
        errors.push(format!(
            "{}.rbac.authorization.k8s.io {:?} not found",
            b.role_kind.to_lowercase(),
            b.role_name
        ));
        return None;
    };
    if !rules.iter().any(|r| r.allows(a)) {
        return None;
    }
    let to = b.subjects.iter().find(|(s, _)| s == subject).map(|(_, d)| d.as_str()).unwrap_or("");
    Some(if b.namespace.is_empty() {
        format!(
            "RBAC: allowed by ClusterRoleBinding {:?} of ClusterRole {:?} to {to}",
            b.name, b.role_name
        )
    } else {
        format!(
            "RBAC: allowed by RoleBinding \"{}/{}\" of {} {:?} to {to}",
            b.name, b.namespace, b.role_kind, b.role_name
        )
    })
}

/// The 403 a denied request gets, worded as kube-apiserver words it.
pub fn forbidden(user: &UserInfo, a: &Attributes, reason: &str) -> crate::error::ApiError {
    let who = &user.username;
    let mut msg = if !a.resource_request {
        format!("User {who:?} cannot {} path {:?}", a.verb, a.path)
    } else if !a.namespace.is_empty() {
        format!(
            "User {who:?} cannot {} resource {:?} in API group {:?} in the namespace {:?}",
            a.verb,
            a.combined_resource(),
            a.api_group,
            a.namespace
        )
    } else {
        format!(
            "User {who:?} cannot {} resource {:?} in API group {:?} at the cluster scope",
            a.verb,
            a.combined_resource(),
            a.api_group
        )
    };
    if !reason.is_empty() {
        msg = format!("{msg}: {reason}");
    }
    let gr = match (a.resource.as_str(), a.api_group.as_str()) {
        ("", _) => String::new(),
        (r, "") => r.to_string(),
        (r, g) => format!("{r}.{g}"),
    };
    let message = match (gr.is_empty(), a.name.is_empty()) {
        (true, _) => format!("forbidden: {msg}"),
        (false, true) => format!("{gr} is forbidden: {msg}"),
        (false, false) => format!("{gr} {:?} is forbidden: {msg}", a.name),
    };
    crate::error::ApiError::new(403, "Forbidden", message)
        .with_details(serde_json::json!({"name": a.name, "group": a.api_group, "kind": a.resource}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sa() -> UserInfo {
        UserInfo::service_account("shop", "ci", "u1")
    }

    #[test]
    fn a_role_binding_grants_in_its_namespace_only_and_says_which_binding_allowed() {
        let authz = Authorizer::default();
        {
            let mut idx = authz.index.write().expect("lock");
            let role = json!({"rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}]});
            idx.apply(ROLES, "shop", "reader", Some(&role));
            let rb = json!({"roleRef": {"kind": "Role", "name": "reader"},
                "subjects": [{"kind": "ServiceAccount", "name": "ci", "namespace": "shop"}]});
            idx.apply(ROLE_BINDINGS, "shop", "read", Some(&rb));
        }
        let list = |ns: &str| Attributes::resource("list", "", "configmaps", ns, "");
        let yes = authz.authorize(&sa(), &list("shop"));
        assert!(yes.allowed);
        assert_eq!(
            yes.reason,
            "RBAC: allowed by RoleBinding \"read/shop\" of Role \"reader\" to ServiceAccount \"ci/shop\""
        );
        assert!(!authz.authorize(&sa(), &list("other")).allowed);
    }

    #[test]
    fn a_binding_to_a_missing_role_denies_and_names_the_role() {
        let authz = Authorizer::default();
        let rb = json!({"roleRef": {"kind": "ClusterRole", "name": "gone"},
            "subjects": [{"kind": "Group", "name": "system:authenticated"}]});
        authz.index.write().expect("lock").apply(CLUSTER_ROLE_BINDINGS, "", "b", Some(&rb));
        let d = authz.authorize(&sa(), &Attributes::resource("get", "", "pods", "shop", "p"));
        assert!(!d.allowed);
        assert_eq!(d.reason, "RBAC: clusterrole.rbac.authorization.k8s.io \"gone\" not found");
    }

    #[test]
    fn forbidden_messages_read_as_kube_apiserver_writes_them() {
        let e = forbidden(&sa(), &Attributes::resource("list", "", "configmaps", "other", ""), "");
        assert_eq!(
            e.message,
            "configmaps is forbidden: User \"system:serviceaccount:shop:ci\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"other\""
        );
        let e =
            forbidden(&sa(), &Attributes::resource("get", "apps", "deployments", "", "web"), "");
        assert_eq!(
            e.message,
            "deployments.apps \"web\" is forbidden: User \"system:serviceaccount:shop:ci\" cannot get resource \"deployments\" in API group \"apps\" at the cluster scope"
        );
        let e = forbidden(&UserInfo::anonymous(), &Attributes::non_resource("get", "/metrics"), "");
        assert_eq!(e.message, "forbidden: User \"system:anonymous\" cannot get path \"/metrics\"");
    }
}
