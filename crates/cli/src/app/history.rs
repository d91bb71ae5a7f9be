//! `ferry app history`: what was deployed when, newest last (ids are what `rollback` takes).

use std::process::ExitCode;

use ferry_engine::application::ApplicationStatus;

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
    let status = app.status.unwrap_or_default();
    if format == Format::Name {
        let ids: String = status.history.iter().map(|h| format!("{}\n", h.id)).collect();
        print(&ids)?;
        return Ok(ExitCode::SUCCESS);
    }
    if format.is_data() {
        write_data(&mut std::io::stdout().lock(), format, &status.history)?;
        return Ok(ExitCode::SUCCESS);
    }
    if status.history.is_empty() {
        eprintln!("{name} has not been synced yet");
        hint(&format!("ferry app sync {name} --wait"));
        return Ok(ExitCode::SUCCESS);
    }
    print(&history_table(&status))?;
    Ok(ExitCode::SUCCESS)
}

pub fn history_table(status: &ApplicationStatus) -> String {
    let current = status
        .pinned
        .as_ref()
        .map(|p| p.revision.as_str())
        .unwrap_or(status.sync.revision.as_str());
    // Only the newest entry of the current revision is what runs now.
    let current_id = status.history.iter().rev().find(|h| h.revision == current).map(|h| h.id);
    let rows: Vec<Vec<String>> = status
        .history
        .iter()
        .map(|h| {
            vec![
                h.id.to_string(),
                h.deployed_at.clone(),
                h.revision.clone(),
                match h.healthy {
                    Some(true) => "Healthy".into(),
                    Some(false) => "Degraded".into(),
                    None => "-".into(),
                },
                or_dash(&h.source.target_revision),
                if Some(h.id) == current_id { "*".into() } else { String::new() },
            ]
        })
        .collect();
    table(&["ID", "DEPLOYED", "REVISION", "HEALTH", "TARGET", "CURRENT"], &rows)
}
