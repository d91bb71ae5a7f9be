//! Changing an Application in place (`set`, `unset`, `patch`, `edit`): read it, change a copy,
//! and write it back as a whole with its resourceVersion, so that a concurrent change (the engine
//! writing status, a colleague editing) is never overwritten silently. `set`, `unset` and `patch`
//! retry on a conflict (their change is re-applied to the fresh object); `edit` does not (the
//! person edited what they saw).

use ferry_engine::Application;
use kube::Api;
use kube::api::PostParams;
use serde_json::Value;

use super::error::CliError;

/// How many times a conflicting write is retried before giving up.
const ATTEMPTS: usize = 5;

/// What changed, for the one-line report.
pub struct Updated {
    pub before: Application,
    pub after: Application,
}

/// Reads `name`, applies `change`, writes the result back; retries on a conflict.
pub async fn update(
    api: &Api<Application>,
    ns: &str,
    name: &str,
    what: &str,
    mut change: impl FnMut(&mut Application) -> Result<(), CliError>,
) -> Result<Updated, CliError> {
    for _ in 0..ATTEMPTS {
        let before = super::fetch(api, ns, name).await?;
        let mut after = before.clone();
        change(&mut after)?;
        if same(&after, &before) {
            return Ok(Updated { before, after });
        }
        match replace(api, ns, name, what, &after).await {
            Ok(written) => return Ok(Updated { before, after: written }),
            Err(CliError::Conflict { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(CliError::Conflict { name: name.to_owned(), what: what.to_owned() })
}

/// Whether two versions of an Application are equal (the type has no `PartialEq`: its metadata
/// is kube's `ObjectMeta`, compared here through JSON).
pub fn same(a: &Application, b: &Application) -> bool {
    serde_json::to_value(a).ok() == serde_json::to_value(b).ok()
}

/// Writes `app` (carrying the resourceVersion it was read at) over the stored one.
pub async fn replace(
    api: &Api<Application>,
    ns: &str,
    name: &str,
    what: &str,
    app: &Application,
) -> Result<Application, CliError> {
    match api.replace(name, &PostParams::default(), app).await {
        Ok(written) => Ok(written),
        Err(kube::Error::Api(s)) if s.code == 409 => {
            Err(CliError::Conflict { name: name.to_owned(), what: what.to_owned() })
        }
        Err(e) => Err(CliError::on_app(e, name, ns, what)),
    }
}

/// The spec fields that differ, as `path: old → new` lines (values in JSON, `-` when absent).
pub fn changes(before: &Application, after: &Application) -> Vec<String> {
    let old = serde_json::to_value(&before.spec).unwrap_or(Value::Null);
    let new = serde_json::to_value(&after.spec).unwrap_or(Value::Null);
    let mut out = Vec::new();
    walk("spec", &old, &new, &mut out);
    let meta = |a: &Application| {
        serde_json::json!({
            "labels": a.metadata.labels, "annotations": a.metadata.annotations,
            "finalizers": a.metadata.finalizers,
        })
    };
    walk("metadata", &meta(before), &meta(after), &mut out);
    out
}

fn walk(path: &str, old: &Value, new: &Value, out: &mut Vec<String>) {
    if old == new {
        return;
    }
    if let (Value::Object(a), Value::Object(b)) = (old, new) {
        let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
        for k in keys {
            let (x, y) = (a.get(k).unwrap_or(&Value::Null), b.get(k).unwrap_or(&Value::Null));
            walk(&format!("{path}.{k}"), x, y, out);
        }
        return;
    }
    out.push(format!("{path}: {} → {}", show(old), show(new)));
}

fn show(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Prints what changed (or that nothing did) on stderr, with the next step.
pub fn report(ns: &str, name: &str, updated: &Updated) {
    let lines = changes(&updated.before, &updated.after);
    if lines.is_empty() {
        eprintln!("application {ns}/{name} unchanged: it already had these settings");
        return;
    }
    eprintln!("application {ns}/{name} updated:");
    for line in lines {
        eprintln!("  {line}");
    }
    super::output::hint(&format!("ferry app wait {name} --sync"));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(spec: Value) -> Application {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "ferry.dev/v1alpha1", "kind": "Application",
            "metadata": {"name": "web", "namespace": "ferry"}, "spec": spec,
        }))
        .expect("a valid Application")
    }

    #[test]
    fn changes_name_each_changed_field_with_its_old_and_new_value() {
        let a = app(serde_json::json!({"source": {"repoURL": "git://h/r", "path": "a"},
            "destination": {"namespace": "d"}}));
        let b = app(serde_json::json!({"source": {"repoURL": "git://h/r", "path": "b",
            "targetRevision": "v2"}, "destination": {"namespace": "d"}}));
        assert_eq!(
            changes(&a, &b),
            vec!["spec.source.path: a → b", "spec.source.targetRevision: HEAD → v2"]
        );
        assert!(changes(&a, &a).is_empty());
    }
}
