//! `ferry app history`: what was deployed when, newest last (ids are what `rollback` takes).

use std::process::ExitCode;

use ferry_engine::application::{ApplicationStatus, HistoryChanges};

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
    print(&history_table(&status, format == Format::Wide))?;
    Ok(ExitCode::SUCCESS)
}

/// History as a table, newest last: who wrote the commit, its first line and what the sync
/// changed; `wide` names the changed objects too.
pub fn history_table(status: &ApplicationStatus, wide: bool) -> String {
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
            let mut row = vec![
                h.id.to_string(),
                h.deployed_at.clone(),
                h.revision.clone(),
                match h.healthy {
                    Some(true) => "Healthy".into(),
                    Some(false) => "Degraded".into(),
                    None => "-".into(),
                },
                or_dash(&h.source.target_revision),
                or_dash(author_name(&h.author)),
                h.changes.as_ref().map(counts).unwrap_or_else(|| "-".into()),
                or_dash(&h.message),
                if Some(h.id) == current_id { "*".into() } else { String::new() },
            ];
            if wide {
                row.push(h.changes.as_ref().map(objects).unwrap_or_else(|| "-".into()));
            }
            row
        })
        .collect();
    let mut head = vec![
        "ID", "DEPLOYED", "REVISION", "HEALTH", "TARGET", "AUTHOR", "CHANGES", "MESSAGE", "CURRENT",
    ];
    if wide {
        head.push("CHANGED OBJECTS");
    }
    table(&head, &rows)
}

/// `Jane Doe` of `Jane Doe <jane@example.com>`.
fn author_name(author: &str) -> &str {
    author.split(" <").next().unwrap_or(author)
}

/// `1 created, 2 configured, 5 unchanged`: the actions that happened.
fn counts(c: &HistoryChanges) -> String {
    let parts: Vec<String> = [
        (c.created, "created"),
        (c.configured, "configured"),
        (c.pruned, "pruned"),
        (c.unchanged, "unchanged"),
        (c.other, "other"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    if parts.is_empty() { "nothing to do".into() } else { parts.join(", ") }
}

/// `configured ConfigMap/web, pruned Service/old and 3 more`.
fn objects(c: &HistoryChanges) -> String {
    let names: Vec<String> =
        c.objects.iter().map(|o| format!("{} {}/{}", o.action, o.kind, o.name)).collect();
    let more = if c.more > 0 { format!(" and {} more", c.more) } else { String::new() };
    if names.is_empty() { "-".into() } else { format!("{}{more}", names.join(", ")) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_engine::application::{ChangedObject, HistoryEntry};

    #[test]
    fn the_table_names_the_author_the_first_line_and_the_changes() {
        let changes = HistoryChanges {
            created: 1,
            configured: 2,
            unchanged: 4,
            objects: vec![ChangedObject {
                action: "created".into(),
                kind: "ConfigMap".into(),
                name: "settings".into(),
                ..Default::default()
            }],
            more: 2,
            ..Default::default()
        };
        let status = ApplicationStatus {
            history: vec![HistoryEntry {
                id: 0,
                revision: "0123456789abcdef0123456789abcdef01234567".into(),
                author: "Jane Doe <jane@example.com>".into(),
                message: "Bump web to 1.2".into(),
                changes: Some(changes),
                ..Default::default()
            }],
            ..Default::default()
        };
        let text = history_table(&status, true);
        assert!(text.contains("Jane Doe") && !text.contains("jane@example.com"), "{text}");
        assert!(text.contains("Bump web to 1.2"), "{text}");
        assert!(text.contains("1 created, 2 configured, 4 unchanged"), "{text}");
        assert!(text.contains("created ConfigMap/settings and 2 more"), "{text}");
        assert!(!history_table(&status, false).contains("ConfigMap/settings"));
    }
}
