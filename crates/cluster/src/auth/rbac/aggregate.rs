//! The ClusterRole aggregation controller: a ClusterRole with an `aggregationRule` gets the
//! rules of every ClusterRole its `clusterRoleSelectors` match (`view` into `edit` into
//! `admin`). Run synchronously after each ClusterRole change, so the next request sees it.

use std::cell::Cell;

use serde_json::{Value, json};

use super::index::CLUSTER_ROLES;
use crate::http::Shared;
use crate::resources::ResourceType;
use crate::selector::Selector;
use crate::write::admit::Op;
use crate::write::ops::{self, Edit, UpdateRequest};

const MANAGER: &str = "clusterrole-aggregation-controller";
/// Aggregation chains (view → edit → admin) settle in as many rounds as they are long.
const MAX_ROUNDS: usize = 8;

thread_local! {
    /// Set while this thread aggregates: its own writes must not start another round.
    static RUNNING: Cell<bool> = const { Cell::new(false) };
}

/// Called after a committed write of type `rt`.
pub fn after_change(st: &Shared, rt: &ResourceType) {
    if rt.group == super::index::GROUP && rt.plural == "clusterroles" {
        reconcile(st);
    }
}

/// A `metav1.LabelSelector` as the text form [`Selector`] parses.
fn selector_text(sel: &Value) -> String {
    let mut terms = Vec::new();
    if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in m {
            terms.push(format!("{k}={}", v.as_str().unwrap_or_default()));
        }
    }
    for e in sel.get("matchExpressions").and_then(Value::as_array).into_iter().flatten() {
        let key = e["key"].as_str().unwrap_or_default();
        let values: Vec<&str> =
            e["values"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        terms.push(match e["operator"].as_str().unwrap_or_default() {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_string(),
            _ => format!("!{key}"),
        });
    }
    terms.join(",")
}

/// The rules an aggregated role should have: those of the roles its selectors match, in
/// name order, each rule once.
fn aggregated_rules(role: &Value, all: &[std::sync::Arc<Value>]) -> Vec<Value> {
    let name = role.pointer("/metadata/name");
    let selectors: Vec<Selector> = role
        .pointer("/aggregationRule/clusterRoleSelectors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| Selector::parse(&selector_text(s)).ok())
        .collect();
    let mut rules: Vec<Value> = Vec::new();
    for other in all.iter().filter(|o| o.pointer("/metadata/name") != name) {
        if selectors.iter().any(|s| !s.is_empty() && s.matches_labels(other)) {
            for r in other.get("rules").and_then(Value::as_array).into_iter().flatten() {
                if !rules.contains(r) {
                    rules.push(r.clone());
                }
            }
        }
    }
    rules
}

/// Brings every aggregated ClusterRole's rules up to date.
pub fn reconcile(st: &Shared) {
    if RUNNING.with(|r| r.replace(true)) {
        return;
    }
    let rt = st.registry().find("rbac.authorization.k8s.io", "v1", "clusterroles").cloned();
    if let Some(rt) = rt {
        for _ in 0..MAX_ROUNDS {
            if !round(st, &rt) {
                break;
            }
        }
    }
    RUNNING.with(|r| r.set(false));
}

/// One pass; whether anything changed.
fn round(st: &Shared, rt: &ResourceType) -> bool {
    let (all, _) = st.store.list(CLUSTER_ROLES, None);
    let mut changed = false;
    for role in all.iter().filter(|r| r.get("aggregationRule").is_some_and(Value::is_object)) {
        let want = aggregated_rules(role, &all);
        if role.get("rules").and_then(Value::as_array).map(Vec::as_slice) == Some(want.as_slice()) {
            continue;
        }
        let name = role.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
        let edit = Edit::Patch(Box::new(move |cur: &Value, _: &ferry_diff::Schema| {
            let mut next = cur.clone();
            next["rules"] = json!(want);
            Ok(next)
        }));
        let req = UpdateRequest {
            rt,
            namespace: None,
            name,
            manager: MANAGER,
            op: Op::Main,
            dry_run: false,
            edit,
        };
        match ops::update(st, req) {
            Ok(_) => changed = true,
            Err(e) => tracing::warn!(role = name, error = %e, "cannot aggregate a ClusterRole"),
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_selectors_become_selector_text() {
        let sel = json!({"matchLabels": {"a": "true"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["x", "y"]},
                                 {"key": "gone", "operator": "DoesNotExist"}]});
        assert_eq!(selector_text(&sel), "a=true,tier in (x,y),!gone");
    }
}
