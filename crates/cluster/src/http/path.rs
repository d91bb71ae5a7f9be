//! Parsing resource paths and query parameters.

use std::collections::HashMap;

use axum::http::{HeaderMap, Method, Uri};

use crate::error::ApiError;
use crate::resources::{Registry, ResourceType};

/// A resolved request target: which type, where, and which object or subresource.
#[derive(Debug, Clone)]
pub struct Target {
    pub rt: ResourceType,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub sub: Option<String>,
    /// The authenticated user of the request (set by the router; anonymous until then).
    pub user: crate::auth::UserInfo,
}

impl Target {
    /// `plural` or `plural.group`, as `apiserver_request_total` labels it.
    pub fn resource_label(&self) -> String {
        if self.rt.group.is_empty() {
            self.rt.plural.clone()
        } else {
            format!("{}.{}", self.rt.plural, self.rt.group)
        }
    }
}

pub fn parse(path: &str, reg: &Registry) -> Result<Target, ApiError> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => {
            return Err(ApiError::new(
                404,
                "NotFound",
                format!("the server could not find the requested resource ({path})"),
            ));
        }
    };
    let not_found = || {
        ApiError::new(
            404,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        )
    };
    let lookup = |plural: &str| reg.find(group, version, plural).cloned();
    let mut namespace = None;
    let rest: Vec<&str> = match rest {
        ["namespaces", ns, res, more @ ..] if lookup(res).is_some_and(|t| t.namespaced) => {
            namespace = Some(ns.to_string());
            std::iter::once(*res).chain(more.iter().copied()).collect()
        }
        other => other.to_vec(),
    };
    let (plural, name, sub) = match rest.as_slice() {
        [p] => (*p, None, None),
        [p, n] => (*p, Some(n.to_string()), None),
        [p, n, s] => (*p, Some(n.to_string()), Some(s.to_string())),
        _ => return Err(not_found()),
    };
    let rt = lookup(plural).ok_or_else(not_found)?;
    if let Some(s) = &sub {
        let known = (s == "status" && rt.status)
            || (s == "scale" && rt.scale)
            || (s == "finalize" && rt.plural == "namespaces");
        if !known {
            return Err(not_found());
        }
    }
    if name.as_deref() == Some("") {
        return Err(not_found());
    }
    Ok(Target { rt, namespace, name, sub, user: Default::default() })
}

/// Query parameters, first value of each.
#[derive(Debug, Clone, Default)]
pub struct Params(pub HashMap<String, String>);

impl Params {
    pub fn from_uri(uri: &Uri) -> Params {
        let mut map = HashMap::new();
        if let Some(q) = uri.query() {
            for pair in q.split('&') {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                let k = decode(k);
                map.entry(k).or_insert_with(|| decode(v));
            }
        }
        Params(map)
    }

    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str).filter(|v| !v.is_empty())
    }

    pub fn flag(&self, k: &str) -> bool {
        matches!(self.0.get(k).map(String::as_str), Some("true" | "1" | ""))
            && self.0.contains_key(k)
    }

    pub fn dry_run(&self) -> bool {
        self.get("dryRun") == Some("All")
    }
}

/// Percent-decodes a query or header component (`+` is a space).
pub(crate) fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(&s[i + 1..i + 3], 16) {
                Ok(b) => {
                    out.push(b);
                    i += 2;
                }
                Err(_) => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The apiserver verb of a request (`LIST` and `WATCH` for collection reads, `APPLY` for server-side apply).
pub fn verb(
    method: &Method,
    target: &Target,
    params: &Params,
    headers: &HeaderMap,
) -> &'static str {
    let collection = target.name.is_none();
    match *method {
        Method::GET if collection && params.flag("watch") => "WATCH",
        Method::GET if collection => "LIST",
        Method::GET => "GET",
        Method::POST if collection => "POST",
        Method::PUT if !collection => "PUT",
        Method::PATCH if !collection => {
            let ct = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
            if ct.starts_with("application/apply-patch") { "APPLY" } else { "PATCH" }
        }
        Method::DELETE if collection => "DELETECOLLECTION",
        Method::DELETE => "DELETE",
        _ => "UNSUPPORTED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaced_paths_resolve_type_namespace_name_and_subresource() {
        let reg = Registry::builtin();
        let t = parse("/apis/apps/v1/namespaces/shop/deployments/web/status", &reg)
            .expect("valid path");
        assert_eq!(
            (t.rt.kind.as_str(), t.namespace.as_deref(), t.name.as_deref(), t.sub.as_deref()),
            ("Deployment", Some("shop"), Some("web"), Some("status"))
        );
        let ns = parse("/api/v1/namespaces/shop", &reg).expect("namespace path");
        assert_eq!((ns.rt.kind.as_str(), ns.name.as_deref()), ("Namespace", Some("shop")));
        assert!(parse("/apis/apps/v1/widgets", &reg).is_err());
    }

    #[test]
    fn query_values_are_percent_decoded() {
        let uri: Uri =
            "/api/v1/pods?labelSelector=app%3Dweb%2Ctier+in+(a)&watch=1".parse().expect("uri");
        let p = Params::from_uri(&uri);
        assert_eq!(p.get("labelSelector"), Some("app=web,tier in (a)"));
        assert!(p.flag("watch"));
    }
}
