//! From parameter sets to Applications: the template's strings rendered with fasttemplate
//! (`{{path.basename}}`; an unknown key stays as written, as in Argo CD) or, with `goTemplate`,
//! Go templates ([`super::gotmpl`]); then the generated app is checked (a DNS-1123 name, a spec
//! that reads as an Application, no two apps with one name) and marked as the set's (label and
//! owner reference). Pure.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::gotmpl::{self, GoTemplateError};
use super::params::{Params, flatten};
use super::{ApplicationSet, ApplicationSetSpec, LABEL_APPLICATION_SET, MAX_GENERATED};
use crate::application::{Application, FINALIZER_CASCADE, FINALIZER_CASCADE_ARGO};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TemplateError {
    #[error("parameter set {index}: {source}")]
    Go {
        index: usize,
        #[source]
        source: GoTemplateError,
    },
    #[error(
        "parameter set {index} renders the name {name:?}, which is not a valid Application name (a DNS-1123 subdomain: lower-case letters, digits, '-' and '.', at most 253 characters, starting and ending with a letter or digit); use a normalized parameter such as {{{{path.basenameNormalized}}}}"
    )]
    InvalidName { index: usize, name: String },
    #[error(
        "parameter sets {first} and {second} both render the Application name {name:?}; make template.metadata.name unique per parameter set"
    )]
    Duplicate { name: String, first: usize, second: usize },
    #[error(
        "parameter set {index} renders Application {name:?} whose spec is not valid: {message}"
    )]
    Spec { index: usize, name: String, message: String },
    #[error(
        "the generators yield {count} parameter sets, over the limit of {limit} Applications per ApplicationSet; narrow the generators"
    )]
    TooMany { count: usize, limit: usize },
}

/// The Applications `set` generates from `params`, in parameter order.
pub fn applications(
    set: &ApplicationSet,
    params: &[Params],
) -> Result<Vec<Application>, TemplateError> {
    if params.len() > MAX_GENERATED {
        return Err(TemplateError::TooMany { count: params.len(), limit: MAX_GENERATED });
    }
    let namespace = set.metadata.namespace.clone().unwrap_or_default();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::with_capacity(params.len());
    for (index, p) in params.iter().enumerate() {
        let mut app = one(&set.spec, p, index, &namespace)?;
        let name = app.metadata.name.clone().unwrap_or_default();
        if let Some(first) = seen.insert(name.clone(), index) {
            return Err(TemplateError::Duplicate { name, first, second: index });
        }
        mark(&mut app, set);
        out.push(app);
    }
    Ok(out)
}

/// One Application from one parameter set (not yet marked as the set's).
pub fn one(
    spec: &ApplicationSetSpec,
    p: &Params,
    index: usize,
    namespace: &str,
) -> Result<Application, TemplateError> {
    let raw = json!({
        "apiVersion": "ferry.dev/v1alpha1", "kind": "Application",
        "metadata": {
            "name": spec.template.metadata.name,
            "namespace": spec.template.metadata.namespace.clone().unwrap_or_else(|| namespace.to_owned()),
            "labels": spec.template.metadata.labels,
            "annotations": spec.template.metadata.annotations,
            "finalizers": spec.template.metadata.finalizers,
        },
        "spec": spec.template.spec,
    });
    let rendered = if spec.go_template {
        let options = gotmpl::Options {
            missing_key_error: spec.go_template_options.iter().any(|o| o == "missingkey=error"),
        };
        let data = Value::Object(p.clone());
        walk(raw, &mut |s| gotmpl::render(s, &data, options))
            .map_err(|source| TemplateError::Go { index, source })?
    } else {
        let flat = flatten(p);
        walk(raw, &mut |s| Ok::<_, GoTemplateError>(fasttemplate(s, &flat)))
            .map_err(|source| TemplateError::Go { index, source })?
    };
    let name = rendered["metadata"]["name"].as_str().unwrap_or_default().to_owned();
    if !is_dns1123_subdomain(&name) {
        return Err(TemplateError::InvalidName { index, name });
    }
    serde_json::from_value(rendered).map_err(|e| TemplateError::Spec {
        index,
        name,
        message: e.to_string(),
    })
}

/// The label, the owner reference, the set's deletion and sync policies.
fn mark(app: &mut Application, set: &ApplicationSet) {
    let name = set.metadata.name.clone().unwrap_or_default();
    app.metadata.labels.get_or_insert_default().insert(LABEL_APPLICATION_SET.into(), name.clone());
    app.metadata.owner_references =
        Some(vec![k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
            api_version: "ferry.dev/v1alpha1".into(),
            kind: "ApplicationSet".into(),
            name,
            uid: set.metadata.uid.clone().unwrap_or_default(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }]);
    if set.spec.preserve_resources()
        && let Some(f) = app.metadata.finalizers.as_mut()
    {
        f.retain(|f| f != FINALIZER_CASCADE && f != FINALIZER_CASCADE_ARGO);
    }
    if app.metadata.finalizers.as_ref().is_some_and(Vec::is_empty) {
        app.metadata.finalizers = None;
    }
    for map in [&mut app.metadata.labels, &mut app.metadata.annotations] {
        if map.as_ref().is_some_and(BTreeMap::is_empty) {
            *map = None;
        }
    }
    if set.spec.rolling_steps().is_some() {
        // The set drives the syncs of a RollingSync, step by step.
        if let Some(policy) = app.spec.sync_policy.as_mut() {
            policy.automated = None;
        }
    }
}

/// Every string of `v` (keys too) rendered by `f`.
fn walk<E>(v: Value, f: &mut impl FnMut(&str) -> Result<String, E>) -> Result<Value, E> {
    Ok(match v {
        Value::String(s) if s.contains("{{") => Value::String(f(&s)?),
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|i| walk(i, f)).collect::<Result<_, _>>()?)
        }
        Value::Object(m) => {
            let mut out = serde_json::Map::with_capacity(m.len());
            for (k, v) in m {
                let k = if k.contains("{{") { f(&k)? } else { k };
                out.insert(k, walk(v, f)?);
            }
            Value::Object(out)
        }
        other => other,
    })
}

/// fasttemplate: `{{key}}` (spaces around the key allowed) is replaced by the parameter; a key
/// no parameter has stays as written.
pub fn fasttemplate(text: &str, params: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else { break };
        let key = rest[start + 2..start + len].trim();
        out.push_str(&rest[..start]);
        match params.get(key) {
            Some(v) => out.push_str(v),
            None => out.push_str(&rest[start..start + len + 2]),
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

/// A Kubernetes object name: a DNS-1123 subdomain.
pub fn is_dns1123_subdomain(name: &str) -> bool {
    let ok_label = |l: &str| {
        !l.is_empty()
            && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    !name.is_empty() && name.len() <= 253 && name.split('.').all(ok_label)
}

#[cfg(test)]
#[path = "template_tests.rs"]
mod tests;
