//! The RBAC objects in the shape authorization reads them: roles' parsed rules, and bindings
//! indexed by subject (cluster-wide, and per namespace), so a request costs the bindings of
//! its user and groups, not every binding. Kept up to date by the store on every committed
//! change (see [`crate::store::Store::set_observer`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::Value;

use super::rules::PolicyRule;

pub const GROUP: &str = "rbac.authorization.k8s.io";
pub const ROLES: &str = "rbac.authorization.k8s.io/roles";
pub const CLUSTER_ROLES: &str = "rbac.authorization.k8s.io/clusterroles";
pub const ROLE_BINDINGS: &str = "rbac.authorization.k8s.io/rolebindings";
pub const CLUSTER_ROLE_BINDINGS: &str = "rbac.authorization.k8s.io/clusterrolebindings";

/// Who a binding grants to: ServiceAccount subjects become their user name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subject {
    User(String),
    Group(String),
}

#[derive(Debug, Clone)]
pub struct Binding {
    /// "" for a ClusterRoleBinding.
    pub namespace: String,
    pub name: String,
    /// `Role` or `ClusterRole`.
    pub role_kind: String,
    pub role_name: String,
    /// Each subject with how the real server describes it (`User "alice"`).
    pub subjects: Vec<(Subject, String)>,
}

impl Binding {
    fn from_json(namespace: &str, name: &str, obj: &Value) -> Binding {
        let text = |v: &Value, f: &str| v.get(f).and_then(Value::as_str).unwrap_or("").to_string();
        let role_ref = obj.get("roleRef").cloned().unwrap_or(Value::Null);
        let subjects = obj
            .get("subjects")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|s| {
                let (kind, sname) = (text(s, "kind"), text(s, "name"));
                match kind.as_str() {
                    "User" => Some((Subject::User(sname.clone()), format!("User {sname:?}"))),
                    "Group" => Some((Subject::Group(sname.clone()), format!("Group {sname:?}"))),
                    "ServiceAccount" => {
                        let ns = Some(text(s, "namespace"))
                            .filter(|n| !n.is_empty())
                            .unwrap_or_else(|| namespace.to_string());
                        let user = format!("system:serviceaccount:{ns}:{sname}");
                        Some((Subject::User(user), format!("ServiceAccount \"{sname}/{ns}\"")))
                    }
                    _ => None,
                }
            })
            .collect();
        Binding {
            namespace: namespace.to_string(),
            name: name.to_string(),
            role_kind: text(&role_ref, "kind"),
            role_name: text(&role_ref, "name"),
            subjects,
        }
    }
}

type ByName = BTreeMap<String, Arc<Binding>>;

#[derive(Debug, Default)]
pub struct Index {
    pub cluster_roles: HashMap<String, Arc<Vec<PolicyRule>>>,
    pub roles: HashMap<(String, String), Arc<Vec<PolicyRule>>>,
    cluster_bindings: HashMap<String, Arc<Binding>>,
    role_bindings: HashMap<(String, String), Arc<Binding>>,
    pub cluster_by_subject: HashMap<Subject, ByName>,
    /// Namespace, then subject: a lookup borrows the request's namespace.
    pub namespaced_by_subject: HashMap<String, HashMap<Subject, ByName>>,
    /// Number of RoleBindings and ClusterRoleBindings indexed.
    pub bindings: usize,
}

impl Index {
    /// Applies one stored change: `obj` is the new state, `None` a deletion.
    pub fn apply(&mut self, storage: &str, namespace: &str, name: &str, obj: Option<&Value>) {
        match storage {
            CLUSTER_ROLES => match obj {
                Some(o) => {
                    self.cluster_roles.insert(name.to_string(), Arc::new(PolicyRule::all_of(o)));
                }
                None => {
                    self.cluster_roles.remove(name);
                }
            },
            ROLES => {
                let key = (namespace.to_string(), name.to_string());
                match obj {
                    Some(o) => {
                        self.roles.insert(key, Arc::new(PolicyRule::all_of(o)));
                    }
                    None => {
                        self.roles.remove(&key);
                    }
                }
            }
            CLUSTER_ROLE_BINDINGS | ROLE_BINDINGS => self.apply_binding(namespace, name, obj),
            _ => {}
        }
    }

    fn apply_binding(&mut self, namespace: &str, name: &str, obj: Option<&Value>) {
        let key = (namespace.to_string(), name.to_string());
        let old = if namespace.is_empty() {
            self.cluster_bindings.remove(name)
        } else {
            self.role_bindings.remove(&key)
        };
        if let Some(old) = old {
            self.bindings -= 1;
            for (subject, _) in &old.subjects {
                self.by_subject(namespace, subject, |m| {
                    m.remove(name);
                });
            }
        }
        let Some(obj) = obj else { return };
        let binding = Arc::new(Binding::from_json(namespace, name, obj));
        self.bindings += 1;
        for (subject, _) in &binding.subjects {
            let b = binding.clone();
            self.by_subject(namespace, subject, |m| {
                m.insert(name.to_string(), b);
            });
        }
        if namespace.is_empty() {
            self.cluster_bindings.insert(name.to_string(), binding);
        } else {
            self.role_bindings.insert(key, binding);
        }
    }

    /// Runs `f` on the bindings of `subject` (in `namespace`, or cluster-wide when ""),
    /// dropping the entry once empty.
    fn by_subject(&mut self, namespace: &str, subject: &Subject, f: impl FnOnce(&mut ByName)) {
        if namespace.is_empty() {
            let m = self.cluster_by_subject.entry(subject.clone()).or_default();
            f(m);
            if m.is_empty() {
                self.cluster_by_subject.remove(subject);
            }
        } else {
            let in_ns = self.namespaced_by_subject.entry(namespace.to_string()).or_default();
            let m = in_ns.entry(subject.clone()).or_default();
            f(m);
            if m.is_empty() {
                in_ns.remove(subject);
                if in_ns.is_empty() {
                    self.namespaced_by_subject.remove(namespace);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bindings_are_found_by_subject_and_leave_the_index_when_changed_or_deleted() {
        let mut idx = Index::default();
        let rb = json!({"roleRef": {"kind": "Role", "name": "reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "ci"}, {"kind": "User", "name": "bob"}]});
        idx.apply(ROLE_BINDINGS, "shop", "read", Some(&rb));
        let ci = Subject::User("system:serviceaccount:shop:ci".into());
        let bindings_of =
            |idx: &Index, s: &Subject| idx.namespaced_by_subject.get("shop")?.get(s).cloned();
        assert!(bindings_of(&idx, &ci).is_some_and(|m| m.contains_key("read")));
        let only_bob = json!({"roleRef": {"kind": "Role", "name": "reader"},
            "subjects": [{"kind": "User", "name": "bob"}]});
        idx.apply(ROLE_BINDINGS, "shop", "read", Some(&only_bob));
        assert!(bindings_of(&idx, &ci).is_none());
        idx.apply(ROLE_BINDINGS, "shop", "read", None);
        assert!(idx.namespaced_by_subject.is_empty());
        assert_eq!(idx.bindings, 0);
    }
}
