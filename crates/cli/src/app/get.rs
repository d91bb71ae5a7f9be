//! `ferry app list` and `ferry app get`: tables for people; `-o json|yaml` prints the Application
//! objects themselves (a list for `list`).

use std::process::ExitCode;

use ferry_engine::Application;
use ferry_engine::application::ApplicationStatus;
use kube::ResourceExt;
use kube::api::ListParams;

use super::connect::Connection;
use super::error::CliError;
use super::output::{Format, hint, or_dash, print, short, table, write_data};

pub async fn list(conn: &Connection, ns: &str, format: Format) -> Result<ExitCode, CliError> {
    let api = super::apps(conn, ns);
    let mut apps = api
        .list(&ListParams::default())
        .await
        .map_err(|e| CliError::api(e, format!("listing applications in namespace {ns:?}")))?
        .items;
    apps.sort_by_key(|a| a.name_any());
    if format != Format::Table {
        let mut values: Vec<serde_json::Value> = Vec::new();
        for app in &apps {
            values.push(object(app)?);
        }
        write_data(&mut std::io::stdout().lock(), format, &values)?;
        return Ok(ExitCode::SUCCESS);
    }
    if apps.is_empty() {
        eprintln!("no applications in namespace {ns:?}");
        hint("ferry app create NAME --repo URL --path DIR --dest-namespace NS");
        return Ok(ExitCode::SUCCESS);
    }
    print(&list_table(&apps))?;
    Ok(ExitCode::SUCCESS)
}

pub fn list_table(apps: &[Application]) -> String {
    let rows: Vec<Vec<String>> = apps
        .iter()
        .map(|a| {
            let status = a.status.clone().unwrap_or_default();
            vec![
                a.name_any(),
                status.sync.status.to_string(),
                status.health.status.as_str().to_owned(),
                or_dash(short(&status.sync.revision)),
                a.spec.source.repo_url.clone(),
                or_dash(&a.spec.source.path),
                a.spec.source.target_revision.clone(),
                or_dash(&notes(a, &status)),
            ]
        })
        .collect();
    table(&["NAME", "SYNC", "HEALTH", "REVISION", "REPO", "PATH", "TARGET", "NOTES"], &rows)
}

/// Short flags worth seeing in a list: suspended, pinned, a failed condition.
fn notes(app: &Application, status: &ApplicationStatus) -> String {
    let mut notes = Vec::new();
    if app.spec.suspend {
        notes.push("suspended".to_owned());
    }
    if let Some(pin) = &status.pinned {
        notes.push(format!("pinned to {}", short(&pin.revision)));
    }
    for c in &status.conditions {
        if is_problem(&c.type_, &c.status) {
            notes.push(c.type_.clone());
        }
    }
    notes.join(", ")
}

/// Conditions are positive ("SourceReady") or negative ("SyncFailed"); both can signal trouble.
pub fn is_problem(type_: &str, status: &str) -> bool {
    let negative = type_.ends_with("Failed") || type_.ends_with("Refused");
    let positive =
        matches!(type_, "SourceReady" | "RenderReady" | "DestinationReady" | "HealthChecksValid");
    (negative && status == "True") || (positive && status == "False")
}

pub async fn get(
    conn: &Connection,
    ns: &str,
    name: &str,
    format: Format,
) -> Result<ExitCode, CliError> {
    let api = super::apps(conn, ns);
    let app = super::fetch(&api, ns, name).await?;
    if format != Format::Table {
        write_data(&mut std::io::stdout().lock(), format, &object(&app)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    print(&describe(&app))?;
    let status = app.status.clone().unwrap_or_default();
    if status.sync.status != ferry_engine::application::SyncStatusCode::Synced {
        hint(&format!("ferry app diff {name}"));
    }
    Ok(ExitCode::SUCCESS)
}

/// The Application as JSON with apiVersion and kind (list items from the server may lack them).
fn object(app: &Application) -> Result<serde_json::Value, CliError> {
    let mut v = serde_json::to_value(app).map_err(|e| CliError::Output(e.to_string()))?;
    v["apiVersion"] = "ferry.dev/v1alpha1".into();
    v["kind"] = "Application".into();
    Ok(v)
}

/// The human view of one Application.
pub fn describe(app: &Application) -> String {
    let status = app.status.clone().unwrap_or_default();
    let s = &app.spec;
    let dest = s.destination.server.clone().or(s.destination.name.clone()).unwrap_or_default();
    let policy = match s.sync_policy.as_ref().and_then(|p| p.automated.as_ref()) {
        Some(a) => {
            let mut p = "automated".to_owned();
            if a.prune {
                p.push_str(" (prune)");
            }
            if a.self_heal {
                p.push_str(" (self-heal)");
            }
            p
        }
        None => "manual".to_owned(),
    };
    let mut out = String::new();
    let mut field = |k: &str, v: String| out.push_str(&format!("{:<16}{v}\n", format!("{k}:")));
    field("Name", format!("{}/{}", app.namespace().unwrap_or_default(), app.name_any()));
    field("Repo", s.source.repo_url.clone());
    field("Path", or_dash(&s.source.path));
    field("Target", s.source.target_revision.clone());
    field("Destination", format!("{dest} namespace {}", or_dash(&s.destination.namespace)));
    field("Sync Policy", if s.suspend { format!("{policy}, suspended") } else { policy });
    field(
        "Sync Status",
        format!("{} to {}", status.sync.status, or_dash(short(&status.sync.revision))),
    );
    let health_msg = if status.health.message.is_empty() {
        String::new()
    } else {
        format!(" ({})", status.health.message)
    };
    field("Health Status", format!("{}{health_msg}", status.health.status.as_str()));
    if let Some(pin) = &status.pinned {
        field("Pinned", format!("{} ({})", short(&pin.revision), pin.reason));
    }
    if let Some(op) = &status.operation_state {
        let dry = if op.dry_run { " (dry run)" } else { "" };
        field(
            "Last Sync",
            format!(
                "{}{dry} {} at {}: {}",
                op.phase,
                short(&op.revision),
                or_dash(&op.finished_at),
                op.message
            ),
        );
    }
    if !status.conditions.is_empty() {
        out.push_str("\nCONDITIONS\n");
        let rows: Vec<Vec<String>> = status
            .conditions
            .iter()
            .map(|c| vec![c.type_.clone(), c.status.clone(), c.reason.clone(), c.message.clone()])
            .collect();
        out.push_str(&table(&["TYPE", "STATUS", "REASON", "MESSAGE"], &rows));
    }
    if !status.resources.is_empty() {
        out.push('\n');
        let rows: Vec<Vec<String>> = status
            .resources
            .iter()
            .map(|r| {
                vec![
                    or_dash(&r.group),
                    r.kind.clone(),
                    or_dash(&r.namespace),
                    r.name.clone(),
                    r.status.to_string(),
                    r.health
                        .as_ref()
                        .map(|h| h.status.as_str().to_owned())
                        .unwrap_or_else(|| "-".into()),
                    or_dash(&r.health.as_ref().map(|h| h.message.clone()).unwrap_or_default()),
                ]
            })
            .collect();
        out.push_str(&table(
            &["GROUP", "KIND", "NAMESPACE", "NAME", "STATUS", "HEALTH", "MESSAGE"],
            &rows,
        ));
    }
    out
}
