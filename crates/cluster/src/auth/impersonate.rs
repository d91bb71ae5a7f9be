//! `Impersonate-User`, `Impersonate-Group`, `Impersonate-Uid` and `Impersonate-Extra-*`
//! (`kubectl --as`, `--as-group`, `--as-uid`): each asked-for attribute needs the RBAC verb
//! `impersonate` on `users`, `serviceaccounts`, `groups`, `uids` or `userextras/KEY`.

use std::collections::BTreeMap;

use axum::http::HeaderMap;

use super::rbac::{Authorizer, forbidden};
use super::{ANONYMOUS, AUTHENTICATED, Attributes, UNAUTHENTICATED, UserInfo};
use crate::error::ApiError;

const EXTRA_PREFIX: &str = "impersonate-extra-";

fn values(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect()
}

/// The asked-for identity, unchecked.
fn requested(headers: &HeaderMap) -> Option<UserInfo> {
    let username = values(headers, "impersonate-user").into_iter().next();
    let groups = values(headers, "impersonate-group");
    let uid = values(headers, "impersonate-uid").into_iter().next();
    let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        if let Some(key) = name.as_str().strip_prefix(EXTRA_PREFIX)
            && let Ok(v) = value.to_str()
        {
            let key = crate::http::path::decode(key);
            extra.entry(key).or_default().push(v.to_string());
        }
    }
    if username.is_none() && groups.is_empty() && uid.is_none() && extra.is_empty() {
        return None;
    }
    Some(UserInfo {
        username: username.unwrap_or_default(),
        uid: uid.unwrap_or_default(),
        groups,
        extra,
    })
}

/// The user the request acts as: `user` itself without impersonation headers, the
/// impersonated user when `user` may impersonate every part of it, a 403 otherwise.
pub fn apply(
    authz: &Authorizer,
    user: UserInfo,
    headers: &HeaderMap,
) -> Result<UserInfo, ApiError> {
    let Some(want) = requested(headers) else { return Ok(user) };
    if want.username.is_empty() {
        return Err(ApiError::bad_request(
            "impersonating groups, a uid or extra fields requires impersonating a user too (Impersonate-User, kubectl --as)",
        ));
    }
    let mut checks = Vec::new();
    let sa = UserInfo::service_account_parts(&want.username)
        .map(|(ns, name)| (ns.to_string(), name.to_string()));
    checks.push(match &sa {
        Some((ns, name)) => Attributes::resource("impersonate", "", "serviceaccounts", ns, name),
        None => Attributes::resource("impersonate", "", "users", "", &want.username),
    });
    for g in &want.groups {
        checks.push(Attributes::resource("impersonate", "", "groups", "", g));
    }
    if !want.uid.is_empty() {
        checks.push(Attributes::resource(
            "impersonate",
            "authentication.k8s.io",
            "uids",
            "",
            &want.uid,
        ));
    }
    for (key, vals) in &want.extra {
        for v in vals {
            let mut a =
                Attributes::resource("impersonate", "authentication.k8s.io", "userextras", "", v);
            a.subresource = key.clone();
            checks.push(a);
        }
    }
    for a in &checks {
        let d = authz.authorize(&user, a);
        if !d.allowed {
            return Err(forbidden(&user, a, &d.reason));
        }
    }
    let mut out = want;
    if out.groups.is_empty()
        && let Some((ns, name)) = sa
    {
        out.groups = UserInfo::service_account(&ns, &name, "").groups;
        out.groups.retain(|g| g != AUTHENTICATED);
    }
    let implied = if out.username == ANONYMOUS { UNAUTHENTICATED } else { AUTHENTICATED };
    if !out.in_group(implied) {
        out.groups.push(implied.to_string());
    }
    Ok(out)
}
