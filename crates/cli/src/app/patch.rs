//! `ferry app patch`: a JSON patch (RFC 6902, the default as in `argocd app patch`) or a merge
//! patch (RFC 7386) on the Application. The patch is applied here and the result checked against
//! the Application type before it is written, so a bad path or a wrong type is refused with the
//! field named rather than stored for the engine to trip over.

use std::process::ExitCode;

use ferry_engine::Application;
use serde_json::Value;

use super::connect::Connection;
use super::error::CliError;

#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PatchType {
    /// RFC 6902: a list of operations such as {"op": "replace", "path": "/spec/source/path", …}.
    #[default]
    Json,
    /// RFC 7386: a partial object; `null` removes a field.
    Merge,
}

#[derive(clap::Args, Debug, Clone)]
pub struct PatchArgs {
    #[arg(add = super::complete::app_names())]
    pub name: String,
    /// The patch, as JSON.
    #[arg(long)]
    pub patch: String,
    /// How to read the patch.
    #[arg(long = "type", value_enum, default_value_t)]
    pub patch_type: PatchType,
}

pub async fn run(conn: &Connection, ns: &str, args: PatchArgs) -> Result<ExitCode, CliError> {
    let patch: Value = serde_json::from_str(&args.patch).map_err(|e| CliError::Usage {
        flag: "--patch".into(),
        message: format!("not JSON: {e}"),
    })?;
    let api = super::apps(conn, ns);
    let updated = super::update::update(&api, ns, &args.name, "patching", |app| {
        *app = patched(app, &patch, args.patch_type)?;
        Ok(())
    })
    .await?;
    super::update::report(ns, &args.name, &updated);
    Ok(ExitCode::SUCCESS)
}

/// `app` with `patch` applied (pure). Status belongs to the engine and cannot be patched here.
pub fn patched(app: &Application, patch: &Value, kind: PatchType) -> Result<Application, CliError> {
    let name = app.metadata.name.clone().unwrap_or_default();
    let invalid = |message: String| CliError::Invalid { name: name.clone(), message };
    let mut doc = serde_json::to_value(app).map_err(|e| CliError::Output(e.to_string()))?;
    match kind {
        PatchType::Json => {
            let ops: json_patch::Patch =
                serde_json::from_value(patch.clone()).map_err(|e| CliError::Usage {
                    flag: "--patch".into(),
                    message: format!("not a JSON patch (a list of operations): {e}"),
                })?;
            if ops.0.iter().any(|op| op.path().to_string().starts_with("/status")) {
                return Err(invalid(
                    "status is written by the engine and cannot be patched".into(),
                ));
            }
            json_patch::patch(&mut doc, &ops).map_err(|e| invalid(format!("the patch {e}")))?;
        }
        PatchType::Merge => {
            if patch.get("status").is_some() {
                return Err(invalid(
                    "status is written by the engine and cannot be patched".into(),
                ));
            }
            json_patch::merge(&mut doc, patch);
        }
    }
    let text = doc.to_string();
    let mut de = serde_json::Deserializer::from_str(&text);
    let result: Application = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| invalid(format!("after the patch, {}: {}", e.path(), e.inner())))?;
    if result.metadata.name != app.metadata.name
        || result.metadata.namespace != app.metadata.namespace
    {
        return Err(invalid("a patch cannot rename or move the Application".into()));
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> Application {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "ferry.dev/v1alpha1", "kind": "Application",
            "metadata": {"name": "web", "namespace": "ferry"},
            "spec": {"source": {"repoURL": "git://h/r", "path": "a"}, "destination": {"namespace": "d"}},
        }))
        .expect("a valid Application")
    }

    #[test]
    fn a_json_patch_replaces_the_path_it_names() {
        let p = serde_json::json!([{"op": "replace", "path": "/spec/source/path", "value": "b"}]);
        assert_eq!(patched(&app(), &p, PatchType::Json).expect("valid").spec.source.path, "b");
    }

    #[test]
    fn a_merge_patch_sets_and_null_removes() {
        let p = serde_json::json!({"spec": {"source": {"targetRevision": "v2"}, "suspend": true}});
        let a = patched(&app(), &p, PatchType::Merge).expect("valid");
        assert_eq!(a.spec.source.target_revision, "v2");
        assert!(a.spec.suspend);
    }

    #[test]
    fn a_patch_of_the_wrong_type_names_the_field() {
        let p = serde_json::json!({"spec": {"suspend": "yes"}});
        let err = patched(&app(), &p, PatchType::Merge).expect_err("refused");
        assert!(err.to_string().contains("spec.suspend"), "{err}");
        let p = serde_json::json!([{"op": "replace", "path": "/spec/nope/x", "value": 1}]);
        let err = patched(&app(), &p, PatchType::Json).expect_err("refused");
        assert!(err.to_string().contains("/spec/nope"), "{err}");
    }
}
