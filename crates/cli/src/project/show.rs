//! `ferry project get` and `list`: the rules for people (or the object as JSON/YAML), each sync
//! window's state now, and the apps that use the project.

use std::process::ExitCode;

use ferry_engine::project::{GroupKind, Project, ProjectDestination, windows};
use kube::api::Api;

use crate::app::{Connection, Format, table};

pub async fn get(
    conn: &Connection,
    api: &Api<Project>,
    name: &str,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let found = api
        .get_opt(name)
        .await
        .map_err(|e| crate::app::CliError::api(e, format!("reading project {name}")))?;
    let project = match found {
        Some(p) => p,
        None if name == ferry_engine::project::DEFAULT_PROJECT => Project::builtin_default(),
        None => anyhow::bail!("project {name} not found; `ferry project list` shows the projects"),
    };
    if format.is_data() {
        crate::app::write_data(&mut std::io::stdout().lock(), format, &object(&project)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let apps = super::apps_of(conn, name).await?;
    print!("{}", describe(&project, &apps, jiff::Timestamp::now()));
    Ok(ExitCode::SUCCESS)
}

pub async fn list(
    conn: &Connection,
    api: &Api<Project>,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let _ = conn;
    let listed = api
        .list(&Default::default())
        .await
        .map_err(|e| crate::app::CliError::api(e, "listing Projects"))?;
    if format.is_data() {
        let items: Vec<serde_json::Value> =
            listed.items.iter().map(object).collect::<anyhow::Result<_>>()?;
        let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items});
        crate::app::write_data(&mut std::io::stdout().lock(), format, &list)?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = listed
        .items
        .iter()
        .map(|p| {
            let s = &p.spec;
            vec![
                p.metadata.name.clone().unwrap_or_default(),
                s.description.clone(),
                s.source_repos.join(","),
                s.destinations.iter().map(destination).collect::<Vec<_>>().join(","),
                s.sync_windows.len().to_string(),
                if s.approval.as_ref().is_some_and(|a| a.required) { "required" } else { "-" }
                    .into(),
            ]
        })
        .collect();
    print!(
        "{}",
        table(&["NAME", "DESCRIPTION", "SOURCES", "DESTINATIONS", "WINDOWS", "APPROVAL"], &rows)
    );
    if !listed.items.iter().any(|p| p.metadata.name.as_deref() == Some("default")) {
        eprintln!(
            "(no Project \"default\": the built-in one allows every repository, destination and kind)"
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn object(p: &Project) -> anyhow::Result<serde_json::Value> {
    let mut v = serde_json::to_value(p)?;
    v["apiVersion"] = "ferry.dev/v1alpha1".into();
    v["kind"] = "Project".into();
    Ok(v)
}

/// The human view of a project at `now` (pure).
pub fn describe(p: &Project, apps: &[String], now: jiff::Timestamp) -> String {
    let s = &p.spec;
    let name = p.metadata.name.clone().unwrap_or_default();
    let list =
        |v: Vec<String>, empty: &str| if v.is_empty() { empty.to_owned() } else { v.join(", ") };
    let kinds = |v: &[GroupKind]| {
        v.iter().map(|gk| format!("{}/{}", gk.group, gk.kind)).collect::<Vec<_>>()
    };
    let mut out = String::new();
    let mut field = |k: &str, v: String| out.push_str(&row(k, &v));
    field("Name", name.clone());
    field("Description", s.description.clone());
    field("Source Repositories", list(s.source_repos.clone(), "none"));
    field("Destinations", list(s.destinations.iter().map(destination).collect(), "none"));
    field("Source Namespaces", list(s.source_namespaces.clone(), "Ferry's own only"));
    field("Allowed Cluster Resources", list(kinds(&s.cluster_resource_whitelist), "none"));
    field("Denied Cluster Resources", list(kinds(&s.cluster_resource_blacklist), "none"));
    field("Allowed Namespaced Resources", list(kinds(&s.namespace_resource_whitelist), "all"));
    field("Denied Namespaced Resources", list(kinds(&s.namespace_resource_blacklist), "none"));
    let approval = match &s.approval {
        Some(a) if a.required => format!(
            "required{}",
            if a.allow_self_approval {
                " (authors may approve their own commits)"
            } else {
                " (not by the commit's author)"
            }
        ),
        _ => "not required by the project".into(),
    };
    field("Approval", approval);
    for (i, w) in s.sync_windows.iter().enumerate() {
        let state = match windows::evaluate(&name, i, w, now) {
            Ok(st) => match (st.active_until, st.next_start) {
                (Some(until), _) => format!("active until {until}"),
                (None, Some(next)) => format!("inactive, next opens {next}"),
                (None, None) => "inactive, never opens".into(),
            },
            Err(e) => format!("invalid: {e}"),
        };
        let manual = if w.manual_sync { ", manual syncs allowed" } else { "" };
        field(&format!("Sync Window {i}"), format!("{}{manual}: {state}", st_summary(w)));
    }
    field("Applications", list(apps.to_vec(), "none"));
    out
}

/// One `Key:   value` line, values aligned past the longest key.
fn row(key: &str, value: &str) -> String {
    format!("{:<31}{value}\n", format!("{key}:"))
}

fn st_summary(w: &windows::SyncWindow) -> String {
    let zone = if w.time_zone.is_empty() { "UTC" } else { &w.time_zone };
    format!("{} {:?} for {} ({zone})", w.kind, w.schedule, w.duration)
}

fn destination(d: &ProjectDestination) -> String {
    let cluster = d.server.as_deref().or(d.name.as_deref()).unwrap_or("*");
    format!("{cluster},{}", d.namespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_project_reads_as_its_rules_its_windows_now_and_its_apps() {
        let project: Project = serde_json::from_value(serde_json::json!({
            "apiVersion": "ferry.dev/v1alpha1", "kind": "Project",
            "metadata": {"name": "team-a"},
            "spec": {"description": "team A", "sourceRepos": ["git://x/*"],
                     "destinations": [{"server": "*", "namespace": "team-a-*"}],
                     "syncWindows": [{"kind": "deny", "schedule": "0 22 * * *", "duration": "8h"}]}
        }))
        .expect("a Project");
        let now: jiff::Timestamp = "2026-03-02T23:00:00Z".parse().expect("time");
        let text = describe(&project, &["ferry/web".into()], now);
        for line in [
            row("Destinations", "*,team-a-*"),
            row("Allowed Cluster Resources", "none"),
            row("Allowed Namespaced Resources", "all"),
            row(
                "Sync Window 0",
                "deny \"0 22 * * *\" for 8h (UTC): active until 2026-03-03T06:00:00Z",
            ),
            row("Applications", "ferry/web"),
        ] {
            assert!(text.contains(&line), "{line:?} in:\n{text}");
        }
    }
}
