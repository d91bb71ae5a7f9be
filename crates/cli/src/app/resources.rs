//! `ferry app resources`: the app's objects with their sync and health, from status (no
//! cluster reads: this is what the engine last saw).

use std::process::ExitCode;

use ferry_engine::application::ResourceStatus;

use super::connect::Connection;
use super::error::CliError;
use super::output::{Format, hint, or_dash, print, table, write_data};

pub async fn run(
    conn: &Connection,
    ns: &str,
    name: &str,
    format: Format,
) -> Result<ExitCode, CliError> {
    let api = super::apps(conn, ns);
    let app = super::fetch(&api, ns, name).await?;
    let resources = app.status.unwrap_or_default().resources;
    match format {
        Format::Json | Format::Yaml => {
            write_data(&mut std::io::stdout().lock(), format, &resources)?;
        }
        Format::Name => print(&names(&resources))?,
        Format::Table | Format::Wide if resources.is_empty() => {
            eprintln!("{name} has no resources yet (it has not been compared or synced)");
            hint(&format!("ferry app get {name}"));
        }
        Format::Table | Format::Wide => {
            print(&resources_table(&resources, format == Format::Wide))?
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `kind/name` lines (`kind.group/name` outside the core group), as `kubectl get -o name`.
pub fn names(resources: &[ResourceStatus]) -> String {
    resources
        .iter()
        .map(|r| {
            let kind = r.kind.to_ascii_lowercase();
            if r.group.is_empty() {
                format!("{kind}/{}\n", r.name)
            } else {
                format!("{kind}.{}/{}\n", r.group, r.name)
            }
        })
        .collect()
}

/// One row per object; `wide` adds the health message and the drifted fields.
pub fn resources_table(resources: &[ResourceStatus], wide: bool) -> String {
    let rows: Vec<Vec<String>> = resources
        .iter()
        .map(|r| {
            let health = r.health.as_ref();
            let mut row = vec![
                or_dash(&r.group),
                r.kind.clone(),
                or_dash(&r.namespace),
                r.name.clone(),
                r.status.to_string(),
                health.map(|h| h.status.as_str().to_owned()).unwrap_or_else(|| "-".into()),
            ];
            if wide {
                row.push(or_dash(&health.map(|h| h.message.clone()).unwrap_or_default()));
                row.push(or_dash(&r.drift.join("; ")));
            }
            row
        })
        .collect();
    let mut header = vec!["GROUP", "KIND", "NAMESPACE", "NAME", "STATUS", "HEALTH"];
    if wide {
        header.extend(["MESSAGE", "DRIFT"]);
    }
    table(&header, &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resources() -> Vec<ResourceStatus> {
        serde_json::from_value(serde_json::json!([
            {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "web", "name": "ui",
             "status": "OutOfSync", "health": {"status": "Degraded", "message": "0/1 ready"},
             "drift": ["spec.replicas (kubectl)"]},
            {"version": "v1", "kind": "Service", "namespace": "web", "name": "ui", "status": "Synced"},
        ]))
        .expect("valid resources")
    }

    #[test]
    fn names_are_written_as_kubectl_writes_them() {
        assert_eq!(names(&resources()), "deployment.apps/ui\nservice/ui\n");
    }

    #[test]
    fn the_wide_table_adds_the_health_message_and_the_drift() {
        let narrow = resources_table(&resources(), false);
        assert!(!narrow.contains("0/1 ready"), "{narrow}");
        let wide = resources_table(&resources(), true);
        assert!(wide.contains("0/1 ready") && wide.contains("spec.replicas (kubectl)"), "{wide}");
    }
}
