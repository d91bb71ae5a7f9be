//! `ferry appset list` and `get`: for people, or the objects as JSON/YAML.

use std::process::ExitCode;

use ferry_engine::appset::ApplicationSet;
use kube::api::Api;

use crate::app::{Format, table, write_data};

fn object(set: &ApplicationSet) -> anyhow::Result<serde_json::Value> {
    let mut v = serde_json::to_value(set)?;
    v["apiVersion"] = "ferry.dev/v1alpha1".into();
    v["kind"] = "ApplicationSet".into();
    Ok(v)
}

/// The one-line state of a set: an error, a held deletion, or how many apps it generates.
fn state(set: &ApplicationSet) -> String {
    let status = set.status.clone().unwrap_or_default();
    let on = |t: &str| status.conditions.iter().find(|c| c.type_ == t && c.status == "True");
    if let Some(c) = on("ErrorOccurred") {
        return format!("Error: {}", c.message);
    }
    if let Some(p) = &status.pending_deletion {
        return format!("{} deletions wait for `ferry appset approve`", p.applications.len());
    }
    "OK".into()
}

pub async fn list(api: &Api<ApplicationSet>, format: Format) -> anyhow::Result<ExitCode> {
    let listed = api
        .list(&Default::default())
        .await
        .map_err(|e| crate::app::CliError::api(e, "listing ApplicationSets"))?;
    if format.is_data() {
        let items: Vec<serde_json::Value> =
            listed.items.iter().map(object).collect::<anyhow::Result<_>>()?;
        write_data(
            &mut std::io::stdout().lock(),
            format,
            &serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}),
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = listed
        .items
        .iter()
        .map(|s| {
            let apps = s.status.as_ref().map_or(0, |st| st.resources.len());
            vec![s.metadata.name.clone().unwrap_or_default(), apps.to_string(), state(s)]
        })
        .collect();
    print!("{}", table(&["NAME", "APPS", "STATE"], &rows));
    Ok(ExitCode::SUCCESS)
}

pub async fn get(
    api: &Api<ApplicationSet>,
    name: &str,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let found = api
        .get_opt(name)
        .await
        .map_err(|e| crate::app::CliError::api(e, format!("reading ApplicationSet {name}")))?;
    let Some(set) = found else {
        anyhow::bail!("ApplicationSet {name} not found; `ferry appset list` shows the sets");
    };
    if format.is_data() {
        write_data(&mut std::io::stdout().lock(), format, &object(&set)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", describe(&set));
    Ok(ExitCode::SUCCESS)
}

/// A set for people (pure).
pub fn describe(set: &ApplicationSet) -> String {
    let status = set.status.clone().unwrap_or_default();
    let mut out = format!(
        "Name:     {}\nState:    {}\n\nConditions:\n",
        set.metadata.name.clone().unwrap_or_default(),
        state(set)
    );
    for c in &status.conditions {
        out.push_str(&format!("  {:<20} {:<5} {}\n", c.type_, c.status, c.message));
    }
    let rows: Vec<Vec<String>> = status
        .resources
        .iter()
        .map(|r| {
            let step = status.application_status.iter().find(|a| a.application == r.name);
            vec![
                r.name.clone(),
                r.status.clone(),
                r.health.status.clone(),
                step.map(|s| format!("{} {}", s.step, s.status)).unwrap_or_default(),
            ]
        })
        .collect();
    out.push_str("\nApplications:\n");
    out.push_str(&table(&["NAME", "SYNC", "HEALTH", "ROLLOUT"], &rows));
    out
}
