//! What a request does in authorization terms, read from its method and path the way
//! kube-apiserver's `RequestInfoFactory` reads them (before routing: an unknown resource is
//! still a resource request and is authorized as one).

use axum::http::Method;

/// The attributes RBAC decides on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributes {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`,
    /// `impersonate` …; for non-resource requests the lower-cased HTTP method.
    pub verb: String,
    pub resource_request: bool,
    /// Non-resource requests: the URL path.
    pub path: String,
    pub api_group: String,
    pub api_version: String,
    pub namespace: String,
    pub resource: String,
    pub subresource: String,
    pub name: String,
}

/// Subresources of a namespace addressed as `/api/v1/namespaces/NAME/SUB`.
const NAMESPACE_SUBRESOURCES: &[&str] = &["status", "finalize"];

impl Attributes {
    /// A resource request for `verb` on `resource` (`ns` empty for cluster scope).
    pub fn resource(verb: &str, group: &str, resource: &str, ns: &str, name: &str) -> Attributes {
        Attributes {
            verb: verb.to_string(),
            resource_request: true,
            api_group: group.to_string(),
            namespace: ns.to_string(),
            resource: resource.to_string(),
            name: name.to_string(),
            ..Attributes::default()
        }
    }

    pub fn non_resource(verb: &str, path: &str) -> Attributes {
        Attributes { verb: verb.to_string(), path: path.to_string(), ..Attributes::default() }
    }

    /// Attributes of an HTTP request (`query` is the raw query string).
    pub fn of_request(method: &Method, path: &str, query: Option<&str>) -> Attributes {
        let parts: Vec<&str> =
            path.trim_matches('/').split('/').filter(|p| !p.is_empty()).collect();
        let (group, version, rest) = match parts.as_slice() {
            ["api", v, rest @ ..] if !rest.is_empty() => ("", *v, rest),
            ["apis", g, v, rest @ ..] if !rest.is_empty() => (*g, *v, rest),
            _ => return Attributes::non_resource(&method.as_str().to_lowercase(), path),
        };
        let mut rest: Vec<&str> = rest.to_vec();
        let mut namespace = "";
        if rest.len() >= 2 && rest[0] == "namespaces" {
            namespace = rest[1];
            if rest.len() > 2 && !NAMESPACE_SUBRESOURCES.contains(&rest[2]) {
                rest.drain(..2);
            }
        }
        let resource = rest.first().copied().unwrap_or_default();
        let name = rest.get(1).copied().unwrap_or_default();
        let subresource = rest.get(2).copied().unwrap_or_default();
        let watch = query.is_some_and(|q| {
            q.split('&').any(|kv| matches!(kv, "watch" | "watch=true" | "watch=1"))
        });
        let verb = match *method {
            Method::GET | Method::HEAD if watch => "watch",
            Method::GET | Method::HEAD if name.is_empty() => "list",
            Method::GET | Method::HEAD => "get",
            Method::POST => "create",
            Method::PUT => "update",
            Method::PATCH => "patch",
            Method::DELETE if name.is_empty() => "deletecollection",
            Method::DELETE => "delete",
            _ => "",
        };
        Attributes {
            verb: verb.to_string(),
            resource_request: true,
            path: path.to_string(),
            api_group: group.to_string(),
            api_version: version.to_string(),
            namespace: namespace.to_string(),
            resource: resource.to_string(),
            subresource: subresource.to_string(),
            name: name.to_string(),
        }
    }

    /// `resource` or `resource/subresource`, as RBAC rules name it.
    pub fn combined_resource(&self) -> String {
        if self.subresource.is_empty() {
            self.resource.clone()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaced_resource_paths_give_verb_namespace_resource_name_and_subresource() {
        let a = Attributes::of_request(
            &Method::GET,
            "/api/v1/namespaces/shop/pods/web/log",
            Some("follow=true"),
        );
        assert_eq!(
            (a.verb.as_str(), a.namespace.as_str(), a.combined_resource(), a.name.as_str()),
            ("get", "shop", "pods/log".to_string(), "web")
        );
        let list = Attributes::of_request(&Method::GET, "/apis/apps/v1/deployments", None);
        assert_eq!((list.verb.as_str(), list.api_group.as_str()), ("list", "apps"));
        let watch = Attributes::of_request(&Method::GET, "/api/v1/pods", Some("watch=true"));
        assert_eq!(watch.verb, "watch");
    }

    #[test]
    fn a_namespace_itself_and_its_status_are_the_namespaces_resource() {
        let ns = Attributes::of_request(&Method::DELETE, "/api/v1/namespaces/shop", None);
        assert_eq!(
            (ns.verb.as_str(), ns.resource.as_str(), ns.name.as_str(), ns.namespace.as_str()),
            ("delete", "namespaces", "shop", "shop")
        );
        let st = Attributes::of_request(&Method::PUT, "/api/v1/namespaces/shop/status", None);
        assert_eq!(st.combined_resource(), "namespaces/status");
        let all =
            Attributes::of_request(&Method::DELETE, "/api/v1/namespaces/shop/configmaps", None);
        assert_eq!((all.verb.as_str(), all.resource.as_str()), ("deletecollection", "configmaps"));
    }

    #[test]
    fn discovery_and_health_paths_are_non_resource_requests() {
        for p in ["/api", "/apis", "/apis/apps", "/apis/apps/v1", "/healthz", "/version"] {
            let a = Attributes::of_request(&Method::GET, p, None);
            assert!(!a.resource_request, "{p}");
            assert_eq!(a.verb, "get");
        }
    }
}
