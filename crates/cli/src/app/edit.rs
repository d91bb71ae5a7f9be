//! `ferry app edit`: the Application's spec and metadata in `$VISUAL`/`$EDITOR` (as `kubectl
//! edit`), checked against the Application type and written back only if it changed and nobody
//! else changed it meanwhile.

use std::process::ExitCode;

use ferry_engine::Application;
use serde_json::Value;

use super::connect::Connection;
use super::error::CliError;

const HEADER: &str = "# Edit the Application below; lines starting with '#' are ignored.\n\
# Save and quit to apply; quit without changes (or leave the file empty) to cancel.\n\
# status is the engine's and is not shown.\n";

pub async fn run(conn: &Connection, ns: &str, name: &str) -> Result<ExitCode, CliError> {
    let api = super::apps(conn, ns);
    let before = super::fetch(&api, ns, name).await?;
    let text = editable(&before)?;
    let file = tempfile::Builder::new()
        .prefix(&format!("ferry-edit-{name}-"))
        .suffix(".yaml")
        .tempfile()
        .map_err(|e| CliError::Io(format!("cannot create a file to edit: {e}")))?;
    std::fs::write(file.path(), format!("{HEADER}{text}"))
        .map_err(|e| CliError::Io(format!("{}: {e}", file.path().display())))?;
    run_editor(file.path())?;
    let edited = std::fs::read_to_string(file.path())
        .map_err(|e| CliError::Io(format!("{}: {e}", file.path().display())))?;
    let Some(after) = parse(&before, &edited)? else {
        eprintln!("edit of {ns}/{name} cancelled: no changes");
        return Ok(ExitCode::SUCCESS);
    };
    let written = write(&api, ns, name, &before, after).await?;
    let updated = super::update::Updated { before, after: written };
    super::update::report(ns, name, &updated);
    Ok(ExitCode::SUCCESS)
}

/// Writes the edit. The engine writes status all the time, which moves the resourceVersion the
/// edit carries: a conflict that changed only that is written again over the fresh version; one
/// that changed what the person edited (spec, labels, annotations) is refused, as kubectl does.
async fn write(
    api: &kube::Api<Application>,
    ns: &str,
    name: &str,
    before: &Application,
    mut after: Application,
) -> Result<Application, CliError> {
    let started_from = editable(before)?;
    for _ in 0..5 {
        match super::update::replace(api, ns, name, "editing", &after).await {
            Err(CliError::Conflict { .. }) => {
                let now = super::fetch(api, ns, name).await?;
                if editable(&now)? != started_from {
                    break;
                }
                after.metadata.resource_version = now.metadata.resource_version.clone();
                after.status = now.status.clone();
            }
            written => return written,
        }
    }
    Err(CliError::Conflict { name: name.to_owned(), what: "editing".to_owned() })
}

/// The YAML a person edits: the object without status and server-managed metadata.
fn editable(app: &Application) -> Result<String, CliError> {
    let mut v = serde_json::to_value(app).map_err(|e| CliError::Output(e.to_string()))?;
    if let Some(obj) = v.as_object_mut() {
        obj.remove("status");
    }
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in ["managedFields", "uid", "creationTimestamp", "generation", "resourceVersion"] {
            meta.remove(k);
        }
    }
    serde_saphyr::to_string(&v).map_err(|e| CliError::Output(e.to_string()))
}

/// The edited Application, `None` when nothing changed; server-managed metadata and status
/// are taken from `before` (the resourceVersion makes the write fail if someone else wrote).
fn parse(before: &Application, edited: &str) -> Result<Option<Application>, CliError> {
    let name = before.metadata.name.clone().unwrap_or_default();
    let body: String =
        edited.lines().filter(|l| !l.trim_start().starts_with('#')).collect::<Vec<_>>().join("\n");
    if body.trim().is_empty() {
        return Ok(None);
    }
    let value: Value = serde_saphyr::from_str(&body).map_err(|e| CliError::Invalid {
        name: name.clone(),
        message: format!("the edited file is not valid YAML: {e}; nothing was changed"),
    })?;
    let text = value.to_string();
    let mut de = serde_json::Deserializer::from_str(&text);
    let mut after: Application =
        serde_path_to_error::deserialize(&mut de).map_err(|e| CliError::Invalid {
            name: name.clone(),
            message: format!("{}: {}; nothing was changed", e.path(), e.inner()),
        })?;
    if after.metadata.name != before.metadata.name
        || after
            .metadata
            .namespace
            .as_ref()
            .is_some_and(|n| Some(n) != before.metadata.namespace.as_ref())
    {
        return Err(CliError::Invalid {
            name,
            message: "metadata.name and metadata.namespace cannot be edited; nothing was changed"
                .into(),
        });
    }
    let keep = before.metadata.clone();
    after.metadata.namespace = keep.namespace;
    after.metadata.uid = keep.uid;
    after.metadata.resource_version = keep.resource_version;
    after.metadata.creation_timestamp = keep.creation_timestamp;
    after.metadata.generation = keep.generation;
    after.metadata.managed_fields = keep.managed_fields;
    after.status = before.status.clone();
    Ok((!super::update::same(&after, before)).then_some(after))
}

/// Runs `$VISUAL`, else `$EDITOR`, else `vi`, through the shell (editors are often set with
/// arguments, e.g. `code --wait`).
fn run_editor(path: &std::path::Path) -> Result<(), CliError> {
    let editor = ["VISUAL", "EDITOR"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| "vi".into());
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(path)
        .status()
        .map_err(|e| CliError::Io(format!("cannot start the editor {editor:?}: {e}")))?;
    if !status.success() {
        return Err(CliError::Failed(format!(
            "the editor {editor:?} exited with {status}; nothing was changed (set VISUAL or EDITOR to choose another)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> Application {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "ferry.dev/v1alpha1", "kind": "Application",
            "metadata": {"name": "web", "namespace": "ferry", "resourceVersion": "7"},
            "spec": {"source": {"repoURL": "git://h/r", "path": "a"}, "destination": {"namespace": "d"}},
        }))
        .expect("a valid Application")
    }

    #[test]
    fn an_unchanged_or_emptied_file_cancels_the_edit() {
        let a = app();
        let text = editable(&a).expect("yaml");
        assert!(!text.contains("resourceVersion"), "{text}");
        assert!(parse(&a, &format!("{HEADER}{text}")).expect("valid").is_none());
        assert!(parse(&a, HEADER).expect("valid").is_none());
    }

    #[test]
    fn an_edit_keeps_the_resource_version_read_and_a_bad_field_is_named() {
        let a = app();
        let text = editable(&a).expect("yaml").replace("path: a", "path: b");
        let after = parse(&a, &text).expect("valid").expect("changed");
        assert_eq!(after.spec.source.path, "b");
        assert_eq!(after.metadata.resource_version.as_deref(), Some("7"));
        let bad = editable(&a).expect("yaml").replace("path: a", "path: [1]");
        let err = parse(&a, &bad).expect_err("refused");
        assert!(err.to_string().contains("spec.source.path"), "{err}");
    }
}
