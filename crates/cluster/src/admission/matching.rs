//! Which webhooks a request reaches: `rules` (operations, groups, versions, resources with
//! subresources, scope), then `namespaceSelector` and `objectSelector`.

use serde_json::Value;

use super::config::Webhook;
use crate::resources::ResourceType;
use crate::selector::label_selector_matches;

/// What a request is, for matching and for the AdmissionReview.
#[derive(Debug, Clone)]
pub struct Attributes<'a> {
    pub rt: &'a ResourceType,
    pub subresource: Option<&'a str>,
    pub operation: &'static str,
    pub namespace: Option<&'a str>,
    pub name: &'a str,
    pub dry_run: bool,
    /// Who asked (the review's `userInfo`).
    pub user: &'a crate::auth::UserInfo,
}

fn strings(v: &Value, k: &str) -> Vec<String> {
    v.get(k)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

fn has(list: &[String], want: &str) -> bool {
    list.iter().any(|x| x == "*" || x == want)
}

/// `resources` entries: `pods`, `pods/status`, `*` (no subresources), `*/status`, `*/*`.
fn resource_matches(patterns: &[String], plural: &str, sub: Option<&str>) -> bool {
    patterns.iter().any(|p| {
        let (pr, ps) = match p.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (p.as_str(), None),
        };
        let r_ok = pr == "*" || pr == plural;
        let s_ok = match (ps, sub) {
            (None, None) => true,
            (Some("*"), _) => true,
            (Some(a), Some(b)) => a == b,
            _ => false,
        };
        r_ok && s_ok
    })
}

fn rule_matches(rule: &Value, a: &Attributes<'_>) -> bool {
    let scope = rule.get("scope").and_then(Value::as_str).unwrap_or("*");
    let scope_ok = match scope {
        "Cluster" => !a.rt.namespaced,
        "Namespaced" => a.rt.namespaced,
        _ => true,
    };
    scope_ok
        && has(&strings(rule, "operations"), a.operation)
        && has(&strings(rule, "apiGroups"), &a.rt.group)
        && has(&strings(rule, "apiVersions"), &a.rt.version)
        && resource_matches(&strings(rule, "resources"), &a.rt.plural, a.subresource)
}

fn labels_of(v: Option<&Value>) -> Option<&serde_json::Map<String, Value>> {
    v?.pointer("/metadata/labels").and_then(Value::as_object)
}

/// Whether `hook` is called for the request; `namespace` is the Namespace object of a
/// namespaced request, `object`/`old` the new and stored objects.
pub fn matches(
    hook: &Webhook,
    a: &Attributes<'_>,
    namespace: Option<&Value>,
    object: Option<&Value>,
    old: Option<&Value>,
) -> bool {
    // Webhook configurations are never sent to webhooks: a broken webhook could not be removed.
    if a.rt.group == "admissionregistration.k8s.io" {
        return false;
    }
    if !hook.rules.iter().any(|r| rule_matches(r, a)) {
        return false;
    }
    let is_namespace = a.rt.group.is_empty() && a.rt.kind == "Namespace";
    let ns_labels = if is_namespace {
        labels_of(object.or(old))
    } else if a.rt.namespaced {
        labels_of(namespace)
    } else {
        None
    };
    let ns_ok = (!a.rt.namespaced && !is_namespace)
        || hook.namespace_selector.is_null()
        || label_selector_matches(&hook.namespace_selector, ns_labels);
    let obj_ok = hook.object_selector.is_null()
        || label_selector_matches(&hook.object_selector, labels_of(object))
        || old.is_some() && label_selector_matches(&hook.object_selector, labels_of(old));
    ns_ok && obj_ok
}
