//! `PolicyRule` matching, as kube's `rbac.RuleAllows`: verbs, API groups, resources (with
//! `resource/subresource` and `*/subresource`), resource names, non-resource URLs (`/prefix*`).

use serde_json::Value;

use crate::auth::Attributes;

/// One parsed `rbac.authorization.k8s.io/v1 PolicyRule`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyRule {
    pub verbs: Vec<String>,
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub resource_names: Vec<String>,
    pub non_resource_urls: Vec<String>,
}

fn strings(v: &Value, field: &str) -> Vec<String> {
    v.get(field)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

impl PolicyRule {
    pub fn from_json(v: &Value) -> PolicyRule {
        PolicyRule {
            verbs: strings(v, "verbs"),
            api_groups: strings(v, "apiGroups"),
            resources: strings(v, "resources"),
            resource_names: strings(v, "resourceNames"),
            non_resource_urls: strings(v, "nonResourceURLs"),
        }
    }

    /// The `rules` of a Role or ClusterRole object.
    pub fn all_of(role: &Value) -> Vec<PolicyRule> {
        role.get("rules")
            .and_then(Value::as_array)
            .map(|rules| rules.iter().map(PolicyRule::from_json).collect())
            .unwrap_or_default()
    }

    pub fn allows(&self, a: &Attributes) -> bool {
        if !has(&self.verbs, &a.verb) {
            return false;
        }
        if !a.resource_request {
            return self.non_resource_urls.iter().any(|u| url_matches(u, &a.path));
        }
        has(&self.api_groups, &a.api_group)
            && self.resource_matches(a)
            && (self.resource_names.is_empty()
                || (!a.name.is_empty() && self.resource_names.contains(&a.name)))
    }

    /// Without building `resource/subresource`: this runs for every rule of every binding.
    fn resource_matches(&self, a: &Attributes) -> bool {
        let sub = a.subresource.as_str();
        self.resources.iter().any(|r| {
            r == "*"
                || match r.split_once('/') {
                    None => sub.is_empty() && *r == a.resource,
                    Some(("*", s)) => !sub.is_empty() && s == sub,
                    Some((res, s)) => !sub.is_empty() && res == a.resource && s == sub,
                }
        })
    }
}

fn has(list: &[String], want: &str) -> bool {
    list.iter().any(|v| v == "*" || v == want)
}

fn url_matches(rule: &str, path: &str) -> bool {
    rule == "*"
        || rule == path
        || rule.strip_suffix('*').is_some_and(|prefix| path.starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(v: Value) -> PolicyRule {
        PolicyRule::from_json(&v)
    }

    #[test]
    fn subresources_match_by_combined_name_or_star_slash() {
        let logs = rule(json!({"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]}));
        let mut a = Attributes::resource("get", "", "pods", "shop", "web");
        assert!(!logs.allows(&a), "pods/log does not give pods");
        a.subresource = "log".into();
        assert!(logs.allows(&a));
        let any_status =
            rule(json!({"apiGroups": ["*"], "resources": ["*/status"], "verbs": ["*"]}));
        a.subresource = "status".into();
        assert!(any_status.allows(&a));
    }

    #[test]
    fn resource_names_limit_a_rule_to_named_objects() {
        let one = rule(json!({"apiGroups": [""], "resources": ["configmaps"],
            "resourceNames": ["settings"], "verbs": ["get", "list"]}));
        assert!(one.allows(&Attributes::resource("get", "", "configmaps", "a", "settings")));
        assert!(!one.allows(&Attributes::resource("get", "", "configmaps", "a", "other")));
        assert!(!one.allows(&Attributes::resource("list", "", "configmaps", "a", "")));
    }

    #[test]
    fn non_resource_urls_match_exactly_or_by_star_prefix() {
        let r = rule(json!({"nonResourceURLs": ["/apis/*", "/version"], "verbs": ["get"]}));
        assert!(r.allows(&Attributes::non_resource("get", "/apis/apps/v1")));
        assert!(r.allows(&Attributes::non_resource("get", "/version")));
        assert!(!r.allows(&Attributes::non_resource("get", "/metrics")));
        assert!(!r.allows(&Attributes::non_resource("post", "/version")));
    }
}
