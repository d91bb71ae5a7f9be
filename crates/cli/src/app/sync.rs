//! `ferry app sync`: writes a fresh sync request into the annotation the engine watches; with
//! `--wait`, follows status until the engine has acted on *this* request, then prints the change
//! set. A failed sync exits 1.

use std::process::ExitCode;
use std::time::Duration;

use ferry_engine::Application;
use ferry_engine::application::{
    ANNOTATION_SYNC_REQUEST, OperationPhase, OperationState, SyncRequest, SyncResourceRef,
};
use kube::api::{Patch, PatchParams};

use super::connect::Connection;
use super::error::CliError;
use super::output::{Format, hint, or_dash, print, short, table, write_data};
use super::wait::{parse_timeout, poll, timed_out};

#[derive(clap::Args, Debug, Clone)]
pub struct SyncArgs {
    #[arg(add = super::complete::app_names())]
    pub name: String,
    /// Compute and report the changes without applying them.
    #[arg(long)]
    pub dry_run: bool,
    /// Delete objects Git no longer declares.
    #[arg(long)]
    pub prune: bool,
    /// Sync only this object, as GROUP:KIND:NAME or GROUP:KIND:NAMESPACE/NAME (the group empty
    /// for core kinds: `:ConfigMap:settings`); repeatable. Hooks do not run, the app stays
    /// OutOfSync while other objects differ, and no history entry is written.
    #[arg(long = "resource", value_name = "GROUP:KIND:NAME", value_parser = SyncResourceRef::parse)]
    pub resources: Vec<SyncResourceRef>,
    /// Delete and create again an object whose update the server refuses because an immutable
    /// field changed (a Job's template, a Service's clusterIP), as `kubectl replace --force`.
    /// Ferry takes over fields other managers hold on every sync, with or without it.
    #[arg(long)]
    pub force: bool,
    /// Wait for the sync to finish and print what it did.
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up after this long (exit 1).
    #[arg(long, default_value = "5m", value_parser = parse_timeout)]
    pub timeout: Duration,
    /// With --wait: the change set as a table (default, `wide` too), the operation as JSON or
    /// YAML, or `kind/name` lines.
    #[arg(short = 'o', long, value_enum, default_value_t)]
    pub output: Format,
}

/// The outcome of waiting for a request: the operation the engine ran for it, or why it ran none.
pub enum Outcome {
    Operation(OperationState),
    NotRun(String),
}

/// Whether the engine is done with the request `value` made at `at`: it has recorded the
/// request as handled and an operation that started no earlier than the request has finished.
pub fn outcome(
    app: &Application,
    handled: impl Fn(&Application) -> Option<String>,
    value: &str,
    at: &str,
) -> Option<Outcome> {
    if handled(app).as_deref() != Some(value) {
        return None;
    }
    let status = app.status.as_ref()?;
    match status.operation_state.as_ref() {
        Some(op) if op.phase == OperationPhase::Running => None,
        Some(op) if !op.started_at.is_empty() && not_before(&op.started_at, at) => {
            Some(Outcome::Operation(op.clone()))
        }
        _ => {
            // Handled without an operation: something upstream (source, render) stopped it.
            let why: Vec<String> = status
                .conditions
                .iter()
                .filter(|c| super::get::is_problem(&c.type_, &c.status))
                .map(|c| format!("{}: {}", c.type_, c.message))
                .collect();
            Some(Outcome::NotRun(if why.is_empty() {
                "the engine ran no sync for the request".into()
            } else {
                why.join("; ")
            }))
        }
    }
}

/// `a >= b` for RFC 3339 times (second precision is enough: a request and its operation are
/// written by different clocks, the engine's being the later).
fn not_before(a: &str, b: &str) -> bool {
    match (a.parse::<jiff::Timestamp>(), b.parse::<jiff::Timestamp>()) {
        (Ok(a), Ok(b)) => a.as_second() >= b.as_second() - 1,
        _ => true,
    }
}

pub async fn run(conn: &Connection, ns: &str, args: SyncArgs) -> Result<ExitCode, CliError> {
    let api = super::apps(conn, ns);
    super::fetch(&api, ns, &args.name).await?;
    let at = super::now();
    let by = super::connect::kube_user(conn).await;
    let request = SyncRequest {
        at: at.clone(),
        prune: args.prune,
        dry_run: args.dry_run,
        by,
        resources: args.resources.clone(),
        force: args.force,
    };
    let value = serde_json::to_string(&request).map_err(|e| CliError::Output(e.to_string()))?;
    let patch = serde_json::json!({"metadata": {"annotations": {ANNOTATION_SYNC_REQUEST: value}}});
    api.patch(&args.name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| CliError::on_app(e, &args.name, ns, "requesting a sync"))?;
    let kind = if args.dry_run { "dry-run sync" } else { "sync" };
    let selected: Vec<String> = args.resources.iter().map(ToString::to_string).collect();
    let of =
        if selected.is_empty() { String::new() } else { format!(" ({})", selected.join(", ")) };
    let force = if args.force { " with force" } else { "" };
    eprintln!("{kind} of {ns}/{}{of}{force} requested", args.name);
    if !args.wait {
        hint(&format!("ferry app wait {} --sync", args.name));
        return Ok(ExitCode::SUCCESS);
    }
    let handled = |a: &Application| a.status.as_ref()?.handled_requests.as_ref()?.sync.clone();
    let waited =
        poll(&api, ns, &args.name, args.timeout, &format!("done with the {kind}"), |a, _| {
            outcome(a, handled, &value, &at)
        })
        .await?;
    report(&args.name, args.timeout, kind, waited, args.output)
}

/// Prints the result of a waited-for operation; exit 1 when it failed or timed out.
pub fn report(
    name: &str,
    timeout: Duration,
    kind: &str,
    waited: Result<Outcome, Option<Application>>,
    format: Format,
) -> Result<ExitCode, CliError> {
    match waited {
        Err(last) => {
            timed_out(name, timeout, &format!("done with the {kind}"), last.as_ref());
            Ok(ExitCode::from(1))
        }
        Ok(Outcome::NotRun(why)) => {
            eprintln!("error: the {kind} of {name} did not run: {why}");
            Ok(ExitCode::from(1))
        }
        Ok(Outcome::Operation(op)) => {
            match format {
                Format::Json | Format::Yaml => {
                    write_data(&mut std::io::stdout().lock(), format, &op)?
                }
                Format::Name => print(&change_names(&op))?,
                Format::Table | Format::Wide => print(&change_set(&op))?,
            }
            if op.phase == OperationPhase::Succeeded {
                eprintln!("{kind} of {name} {}: {}", op.phase.as_str().to_lowercase(), op.message);
                if !op.dry_run {
                    hint(&format!("ferry app wait {name} --health"));
                }
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!(
                    "error: {kind} of {name} at {} failed: {}",
                    short(&op.revision),
                    op.message
                );
                hint(&format!("ferry app get {name}"));
                Ok(ExitCode::from(1))
            }
        }
    }
}

/// `kind/name` of each object the operation touched.
fn change_names(op: &OperationState) -> String {
    op.change_set.iter().map(|i| format!("{}/{}\n", i.kind.to_ascii_lowercase(), i.name)).collect()
}

/// The change set as a table: what happened to each object.
pub fn change_set(op: &OperationState) -> String {
    let rows: Vec<Vec<String>> = op
        .change_set
        .iter()
        .map(|i| {
            vec![
                i.wave.to_string(),
                or_dash(&i.group),
                i.kind.clone(),
                or_dash(&i.namespace),
                i.name.clone(),
                i.action.clone(),
                or_dash(&i.message),
            ]
        })
        .collect();
    table(&["WAVE", "GROUP", "KIND", "NAMESPACE", "NAME", "ACTION", "MESSAGE"], &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::app::test_app as app;

    fn handled(a: &Application) -> Option<String> {
        a.status.as_ref()?.handled_requests.as_ref()?.sync.clone()
    }

    #[test]
    fn an_older_operation_does_not_answer_a_new_request() {
        let a = app(serde_json::json!({"handledRequests": {"sync": "old"},
            "operationState": {"phase": "Succeeded", "revision": "r", "startedAt": "2026-01-01T00:00:00Z"}}));
        assert!(outcome(&a, handled, "new", "2026-01-02T00:00:00Z").is_none());
    }

    #[test]
    fn the_finished_operation_for_the_request_is_its_outcome() {
        let a = app(serde_json::json!({"handledRequests": {"sync": "new"},
            "operationState": {"phase": "Failed", "message": "boom", "revision": "r", "startedAt": "2026-01-02T00:00:01Z"}}));
        match outcome(&a, handled, "new", "2026-01-02T00:00:00Z") {
            Some(Outcome::Operation(op)) => assert_eq!(op.message, "boom"),
            _ => panic!("expected the operation"),
        }
    }

    #[test]
    fn a_request_handled_without_an_operation_reports_the_failed_condition() {
        let a = app(serde_json::json!({"handledRequests": {"sync": "new"},
            "conditions": [{"type": "RenderReady", "status": "False", "reason": "RenderFailed", "message": "bad yaml"}]}));
        match outcome(&a, handled, "new", "2026-01-02T00:00:00Z") {
            Some(Outcome::NotRun(why)) => assert_eq!(why, "RenderReady: bad yaml"),
            _ => panic!("expected NotRun"),
        }
    }
}
