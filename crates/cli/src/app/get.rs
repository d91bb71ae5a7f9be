//! `ferry app list` and `ferry app get`: tables for people; `-o json|yaml` prints the Application
//! objects themselves (a list for `list`).

use std::process::ExitCode;

use ferry_engine::Application;
use ferry_engine::application::ApplicationStatus;
use ferry_engine::records::{Effective, RepoRecord, effective, effective_in};
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
    if format == Format::Name {
        let names: String = apps.iter().map(|a| format!("{}\n", name_of(a))).collect();
        print(&names)?;
        return Ok(ExitCode::SUCCESS);
    }
    if format.is_data() {
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
    let records = super::record::all(&conn.client).await;
    print(&list_table(&apps, &records, format == Format::Wide))?;
    Ok(ExitCode::SUCCESS)
}

/// The repository records by name (`ferry_engine::records`).
pub type Records = std::collections::HashMap<String, std::sync::Arc<RepoRecord>>;

/// `application.ferry.dev/NAME`, as `kubectl get -o name` writes it.
pub fn name_of(app: &Application) -> String {
    format!("application.ferry.dev/{}", app.name_any())
}

/// The list; `wide` adds the destination and the message of every problem condition.
pub fn list_table(apps: &[Application], records: &Records, wide: bool) -> String {
    let rows: Vec<Vec<String>> = apps
        .iter()
        .map(|a| {
            let status = a.status.clone().unwrap_or_default();
            let mut row = vec![
                a.name_any(),
                status.sync.status.to_string(),
                status.health.status.as_str().to_owned(),
                or_dash(short(effective_in(a, records).revision)),
                a.spec.source.repo_url.clone(),
                or_dash(&a.spec.source.path),
                a.spec.source.target_revision.clone(),
                or_dash(&notes(a, &status)),
            ];
            if wide {
                row.push(destination(a));
                row.push(or_dash(&problems(&status)));
            }
            row
        })
        .collect();
    let mut header = vec!["NAME", "SYNC", "HEALTH", "REVISION", "REPO", "PATH", "TARGET", "NOTES"];
    if wide {
        header.extend(["DESTINATION", "MESSAGE"]);
    }
    table(&header, &rows)
}

fn destination(app: &Application) -> String {
    let d = &app.spec.destination;
    let cluster = d.name.clone().or(d.server.clone()).unwrap_or_default();
    format!("{cluster} {}", or_dash(&d.namespace))
}

/// The messages of the conditions that signal trouble, for `-o wide`.
fn problems(status: &ApplicationStatus) -> String {
    let messages: Vec<String> = status
        .conditions
        .iter()
        .filter(|c| is_problem(&c.type_, &c.status))
        .map(|c| c.message.clone())
        .collect();
    messages.join("; ")
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
            notes.push(problem_note(&c.type_, &c.reason));
        }
    }
    notes.join(", ")
}

/// A problem condition in a few words a person reads without the API reference: the reason
/// (`FetchFailed`) says what went wrong; a bare type (`SourceReady`) would read as good news.
pub fn problem_note(type_: &str, reason: &str) -> String {
    let what = match type_ {
        "SourceReady" => "source",
        "RenderReady" => "render",
        "DestinationReady" => "destination",
        "HealthChecksValid" => "health checks",
        other => other,
    };
    if reason.is_empty() { format!("{what} failed") } else { format!("{what}: {reason}") }
}

/// Conditions are positive ("SourceReady") or negative ("SyncFailed"); both can signal trouble.
pub fn is_problem(type_: &str, status: &str) -> bool {
    let negative = type_.ends_with("Failed")
        || type_.ends_with("Refused")
        || matches!(type_, "AwaitingApproval" | "SyncWindowClosed" | "PruneApproval");
    let positive = matches!(
        type_,
        "SourceReady"
            | "RenderReady"
            | "DestinationReady"
            | "HealthChecksValid"
            | "ProjectPermitted"
            | "DependsOn"
    );
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
    if format == Format::Name {
        print(&format!("{}\n", name_of(&app)))?;
        return Ok(ExitCode::SUCCESS);
    }
    if format.is_data() {
        write_data(&mut std::io::stdout().lock(), format, &object(&app)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let record = super::record::of(&conn.client, &app).await;
    print(&describe(&app, record.as_ref()))?;
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

/// "Synced to abc1234", or for an app not compared yet, why there is no revision.
fn sync_line(status: &ApplicationStatus, at: &Effective<'_>) -> String {
    if at.revision.is_empty() {
        let why = if status.reconciled_at.is_none() {
            "not compared yet; is the controller running?"
        } else {
            "no revision resolved; see CONDITIONS"
        };
        format!("{} ({why})", status.sync.status)
    } else {
        let checked = match at.checked_at {
            // The commit came from the repository record: say so, and what the status says.
            Some(when) => format!(
                " (unchanged since {}; verified {when}, repository record {})",
                short(&status.sync.revision),
                status.sync.record
            ),
            None => String::new(),
        };
        format!("{} to {}{checked}", status.sync.status, short(at.revision))
    }
}

/// The project, the approval and the sync windows, as `describe` lines.
fn gates(app: &Application, status: &ApplicationStatus) -> String {
    let mut out = format!("{:<16}{}\n", "Project:", app.project());
    let mut field = |k: &str, v: String| out.push_str(&format!("{:<16}{v}\n", format!("{k}:")));
    if let Some(a) = &status.approval {
        let who = match a.phase {
            ferry_engine::approval::ApprovalPhase::Approved => {
                format!("approved by {} at {}", a.approved_by, a.approved_at)
            }
            ferry_engine::approval::ApprovalPhase::AwaitingApproval => format!(
                "awaiting approval since {} ({} objects would change); `ferry app approve {}`",
                a.requested_at,
                a.diff.len(),
                app.name_any()
            ),
        };
        field("Approval", format!("{} by {}: {who}", short(&a.revision), or_dash(&a.author)));
    }
    if !app.spec.depends_on.is_empty() {
        let own = app.namespace().unwrap_or_default();
        let deps: Vec<String> =
            app.spec.depends_on.iter().map(|d| d.id(&own).to_string()).collect();
        let waiting = status.conditions.iter().find(|c| c.type_ == "DependsOn");
        let state = waiting.map(|c| format!(" ({}: {})", c.reason, c.message)).unwrap_or_default();
        field("Depends On", format!("{}{state}", deps.join(", ")));
    }
    if let Some(a) = &status.prune_approval {
        let what = match a.phase {
            ferry_engine::approval::ApprovalPhase::Approved => {
                format!("approved by {} at {}", a.approved_by, a.approved_at)
            }
            ferry_engine::approval::ApprovalPhase::AwaitingApproval => format!(
                "awaiting approval since {}; `ferry app approve {} --revision {}`",
                a.requested_at,
                app.name_any(),
                short(&a.revision)
            ),
        };
        field("Deletions", format!("{} at {}: {what}", a.diff.len(), short(&a.revision)));
    }
    if let Some(w) = &status.sync_windows {
        let now = match (w.automated, w.manual) {
            (true, _) => "open".to_owned(),
            (false, true) => {
                format!("closed to automated syncs ({}), manual syncs allowed", w.closed_by)
            }
            (false, false) => format!("closed ({})", w.closed_by),
        };
        let next = if w.next_opening.is_empty() {
            String::new()
        } else {
            format!("; opens at {}", w.next_opening)
        };
        field("Sync Windows", format!("{now}{next}"));
        for s in &w.windows {
            let state = if s.active {
                format!("active until {}", s.active_until)
            } else {
                format!("next {}", or_dash(&s.next_start))
            };
            field("  Window", format!("{}: {state}", s.window));
        }
    }
    out
}

/// The human view of one Application.
pub fn describe(app: &Application, record: Option<&RepoRecord>) -> String {
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
    field("Sync Status", sync_line(&status, &effective(app, record)));
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
    out.push_str(&gates(app, &status));
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
    out.push_str(&drift(&status));
    out
}

/// What differs from Git, object by object: the field, Git's and the live value (Secret values
/// masked), and who changed it when, as the engine recorded it.
fn drift(status: &ApplicationStatus) -> String {
    let drifted: Vec<_> = status.resources.iter().filter(|r| !r.drift.is_empty()).collect();
    if drifted.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nDRIFT\n");
    for r in drifted {
        let kind =
            if r.group.is_empty() { r.kind.clone() } else { format!("{}/{}", r.group, r.kind) };
        let ns = if r.namespace.is_empty() { String::new() } else { format!("{}/", r.namespace) };
        out.push_str(&format!("{kind} {ns}{}\n", r.name));
        for line in &r.drift {
            out.push_str(&format!("  {line}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::app::test_app as app;

    #[test]
    fn notes_say_what_failed_rather_than_a_bare_condition_name() {
        let a = app(serde_json::json!({"conditions": [
            {"type": "SourceReady", "status": "False", "reason": "FetchFailed", "message": "m"},
            {"type": "SyncFailed", "status": "True", "reason": "ApplyFailed", "message": "m"},
            {"type": "Synced", "status": "True", "reason": "Synced", "message": "m"}]}));
        let status = a.status.clone().unwrap_or_default();
        assert_eq!(notes(&a, &status), "source: FetchFailed, SyncFailed: ApplyFailed");
    }

    #[test]
    fn the_description_shows_each_drifted_field_with_both_values_and_who_changed_it() {
        let a = app(serde_json::json!({"resources": [{
            "group": "apps", "version": "v1", "kind": "Deployment", "namespace": "demo",
            "name": "web", "status": "OutOfSync",
            "drift": [".spec.replicas: 2 in Git, 5 live; changed by kubectl at 2026-01-01T10:00:00Z"]
        }]}));
        let text = describe(&a, None);
        assert!(
            text.contains("DRIFT\napps/Deployment demo/web\n  .spec.replicas: 2 in Git, 5 live; changed by kubectl"),
            "{text}"
        );
    }

    #[test]
    fn an_app_not_compared_yet_says_so_instead_of_unknown_to_dash() {
        let a = app(serde_json::json!({}));
        let line = sync_line(&a.status.clone().unwrap_or_default(), &effective(&a, None));
        assert_eq!(line, "Unknown (not compared yet; is the controller running?)");
        let described = describe(
            &app(
                serde_json::json!({"sync": {"status": "Synced", "revision": "0123456789012345678901234567890123456789"}}),
            ),
            None,
        );
        assert!(described.contains("Synced to 0123456"), "{described}");
        assert!(!described.contains(" to -"), "{described}");
    }

    #[test]
    fn an_app_the_record_verified_at_a_later_commit_is_shown_there_with_where_that_comes_from() {
        let a = app(serde_json::json!({"sync": {"status": "Synced", "revision": "aaaa111",
            "record": "ferry-repo-1", "checkpoint": "c1"}}));
        let mut record = RepoRecord {
            name: "ferry-repo-1".into(),
            updated_at: "2026-12-06T14:00:00Z".into(),
            ..RepoRecord::default()
        };
        let verified = ferry_engine::records::Verified {
            revision: "bbbb222".into(),
            from: "aaaa111".into(),
            checkpoint: "c1".into(),
        };
        record
            .apps
            .insert(format!("{}/{}", a.namespace().unwrap_or_default(), a.name_any()), verified);
        let described = describe(&a, Some(&record));
        assert!(
            described.contains("Synced to bbbb222 (unchanged since aaaa111; verified 2026-12-06T14:00:00Z, repository record ferry-repo-1)"),
            "{described}"
        );
        let records: Records = [("ferry-repo-1".to_owned(), std::sync::Arc::new(record))].into();
        assert!(list_table(std::slice::from_ref(&a), &records, false).contains("bbbb222"));
        assert!(list_table(&[a], &Records::new(), false).contains("aaaa111"));
    }
}
