//! `ferry app rollback`: asks the engine to pin an earlier history entry (default: the one before
//! the current) and sync it; `--unpin` asks it to follow `targetRevision` again.

use std::process::ExitCode;
use std::time::Duration;

use ferry_engine::Application;
use ferry_engine::application::{
    ANNOTATION_ROLLBACK, ANNOTATION_UNPIN, HistoryEntry, RollbackRequest,
};
use kube::api::{Patch, PatchParams};

use super::connect::Connection;
use super::error::CliError;
use super::output::{hint, short};
use super::sync::{outcome, report};
use super::wait::{parse_timeout, poll};

#[derive(clap::Args, Debug, Clone)]
pub struct RollbackArgs {
    #[arg(add = super::complete::app_names())]
    pub name: String,
    /// A history id (see `ferry app history`) or a commit (full or abbreviated); default: the
    /// entry before the current one.
    pub target: Option<String>,
    /// Leave the rollback pin and follow targetRevision again.
    #[arg(long, conflicts_with = "target")]
    pub unpin: bool,
    /// Give up waiting for the rollback sync after this long (exit 1).
    #[arg(long, default_value = "5m", value_parser = parse_timeout)]
    pub timeout: Duration,
    /// The change set as a table, the operation as JSON or YAML, or `kind/name` lines.
    #[arg(short = 'o', long, value_enum, default_value_t)]
    pub output: super::output::Format,
}

/// The history entry to go back to.
pub fn choose<'a>(
    history: &'a [HistoryEntry],
    wanted: Option<&str>,
    name: &str,
) -> Result<&'a HistoryEntry, CliError> {
    match wanted {
        None => {
            // "The previous one": the newest entry deploying something other than the current
            // revision (a manual re-sync of the same commit adds an entry, not a new state).
            let current = history.last().map(|h| h.revision.as_str());
            history.iter().rev().find(|h| Some(h.revision.as_str()) != current).ok_or_else(|| {
                CliError::Rollback(format!(
                    "{name} has no history entry with a revision other than the current one: nothing earlier to roll back to"
                ))
            })
        }
        Some(w) => ferry_engine::status::find_history(history, w).ok_or_else(|| {
            CliError::Rollback(format!("{name} has no history entry or revision {w:?}; `ferry app history {name}` lists them"))
        }),
    }
}

/// The annotation value naming `entry`, stamped now: each request is a new one to the engine,
/// even when it names the same entry as the last.
pub fn request_value(entry: &HistoryEntry, by: Option<String>) -> String {
    RollbackRequest::new(entry.id.to_string()).by(by).annotation_value()
}

pub async fn run(conn: &Connection, ns: &str, args: RollbackArgs) -> Result<ExitCode, CliError> {
    let api = super::apps(conn, ns);
    let app = super::fetch(&api, ns, &args.name).await?;
    let status = app.status.clone().unwrap_or_default();
    let at = super::now();
    if args.unpin {
        let patch = serde_json::json!({"metadata": {"annotations": {ANNOTATION_UNPIN: at}}});
        api.patch(&args.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|e| CliError::on_app(e, &args.name, ns, "requesting unpin"))?;
        eprintln!("{ns}/{} follows {} again", args.name, app.spec.source.target_revision);
        hint(&format!("ferry app wait {} --sync", args.name));
        return Ok(ExitCode::SUCCESS);
    }
    let entry = choose(&status.history, args.target.as_deref(), &args.name)?;
    let value = request_value(entry, super::connect::kube_user(conn).await);
    let patch = serde_json::json!({"metadata": {"annotations": {ANNOTATION_ROLLBACK: value}}});
    api.patch(&args.name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| CliError::on_app(e, &args.name, ns, "requesting a rollback"))?;
    eprintln!(
        "rollback of {ns}/{} to history entry {} ({}) requested",
        args.name,
        entry.id,
        short(&entry.revision)
    );
    let handled = |a: &Application| a.status.as_ref()?.handled_requests.as_ref()?.rollback.clone();
    let waited = poll(&api, ns, &args.name, args.timeout, "rolled back", |a, _| {
        outcome(a, handled, &value, &at)
    })
    .await?;
    let code = report(&args.name, args.timeout, "rollback", waited, args.output)?;
    if code == ExitCode::SUCCESS {
        hint(&format!(
            "auto-sync stays on {} until a new commit or `ferry app rollback {} --unpin`",
            short(&entry.revision),
            args.name
        ));
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: i64, rev: &str) -> HistoryEntry {
        HistoryEntry { id, revision: rev.into(), ..Default::default() }
    }

    #[test]
    fn without_a_target_the_entry_before_the_current_one_is_chosen() {
        let h = [
            entry(1, "aaaaaaaa"),
            entry(2, "bbbbbbbb"),
            entry(3, "cccccccc"),
            entry(4, "cccccccc"),
        ];
        assert_eq!(
            choose(&h, None, "web").expect("an entry").id,
            2,
            "a re-sync of the same commit is skipped"
        );
        assert_eq!(choose(&h, Some("1"), "web").expect("an entry").id, 1);
        assert_eq!(
            choose(&h, Some("cccc"), "web").expect("an entry").id,
            4,
            "the newest entry of a commit"
        );
    }

    #[test]
    fn a_single_entry_or_an_unknown_target_is_refused_with_a_reason() {
        let h = [entry(1, "aaaaaaaa")];
        assert!(
            choose(&h, None, "web").expect_err("refused").to_string().contains("nothing earlier")
        );
        assert!(
            choose(&h, Some("9"), "web")
                .expect_err("refused")
                .to_string()
                .contains("ferry app history web")
        );
    }

    #[test]
    fn a_request_names_the_entry_and_two_requests_differ() {
        let e = entry(4, "0123456789abcdef");
        let first = request_value(&e, None);
        assert_eq!(RollbackRequest::parse(&first).to, "4");
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert_ne!(request_value(&e, None), first, "a repeated rollback is a new request");
    }
}
