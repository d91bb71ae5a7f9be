//! `ferry app wait`, and the polling every waiting command shares: read the Application until a
//! pure check says done, with a spinner on stderr, or give up at the deadline with what was seen.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use ferry_engine::Application;
use ferry_engine::application::{OperationPhase, SyncStatusCode};
use ferry_engine::records::{RepoRecord, effective};
use ferry_health::HealthStatus;
use kube::Api;

use super::connect::Connection;
use super::error::CliError;
use super::output::{hint, short, spinner};

#[derive(clap::Args, Debug, Clone)]
pub struct WaitArgs {
    #[arg(add = super::complete::app_names())]
    pub name: String,
    /// Wait for health Healthy.
    #[arg(long)]
    pub health: bool,
    /// Wait for sync status Synced to what targetRevision resolves to now (a refresh is
    /// requested first, so a commit made just before is taken into account).
    #[arg(long)]
    pub sync: bool,
    /// Wait until the app is synced to this commit (full or abbreviated SHA).
    #[arg(long, value_name = "SHA")]
    pub revision: Option<String>,
    /// Give up after this long (30s, 5m, 1h); exit 1.
    #[arg(long, default_value = "5m", value_parser = parse_timeout)]
    pub timeout: Duration,
}

pub fn parse_timeout(s: &str) -> Result<Duration, String> {
    crate::up::parse_duration(s)
}

/// What `wait` waits for; neither flag means both.
#[derive(Clone, Copy, Debug)]
pub struct Want {
    pub health: bool,
    pub sync: bool,
}

impl Want {
    pub fn of(health: bool, sync: bool) -> Self {
        if !health && !sync { Self { health: true, sync: true } } else { Self { health, sync } }
    }

    pub fn describe(&self) -> &'static str {
        match (self.sync, self.health) {
            (true, true) => "Synced and Healthy",
            (true, false) => "Synced",
            _ => "Healthy",
        }
    }
}

/// Whether the app is where `want` says, judged from its status alone. A sync in progress is
/// never "done": its result is not known yet.
pub fn reached(app: &Application, want: Want) -> bool {
    let Some(status) = &app.status else { return false };
    let running =
        status.operation_state.as_ref().is_some_and(|o| o.phase == OperationPhase::Running);
    !running
        && (!want.sync || status.sync.status == SyncStatusCode::Synced)
        && (!want.health || status.health.status == HealthStatus::Healthy)
}

/// What `wait` judges a status against: the wanted states, and the request or commit the
/// status must be about.
#[derive(Clone, Debug, Default)]
pub struct Goal {
    /// The refresh request whose handling the status must report (`--sync`).
    pub refresh: Option<String>,
    /// A commit prefix the synced revision must start with (`--revision`).
    pub revision: Option<String>,
}

/// [`reached`], and the status is about the goal's refresh request or revision: an old status
/// that says Synced to the commit before the last push is not an answer.
pub fn reached_goal(
    app: &Application,
    record: Option<&RepoRecord>,
    want: Want,
    goal: &Goal,
) -> bool {
    if app.status.is_none() {
        return false;
    }
    if let Some(rev) = &goal.revision {
        // The app's own status, or the repository record that verified it unchanged since.
        let synced = effective(app, record).revision.to_ascii_lowercase();
        if synced.is_empty() || !synced.starts_with(&rev.to_ascii_lowercase()) {
            return false;
        }
    } else if let Some(value) = &goal.refresh
        && !super::refresh::handled(app, value)
    {
        return false;
    }
    reached(app, want)
}

/// One line about the app's state, for progress and for the timeout message.
pub fn seen(app: &Application, record: Option<&RepoRecord>) -> String {
    let Some(status) = &app.status else {
        return "no status yet (is the controller running?)".into();
    };
    let at = effective(app, record).revision;
    let mut line = format!(
        "sync {} at {}, health {}",
        status.sync.status,
        if at.is_empty() { "-" } else { short(at) },
        status.health.status.as_str()
    );
    if !status.health.message.is_empty() {
        line.push_str(&format!(" ({})", status.health.message));
    }
    if let Some(op) =
        status.operation_state.as_ref().filter(|o| o.phase != OperationPhase::Succeeded)
    {
        line.push_str(&format!("; last sync {}: {}", op.phase, op.message));
    }
    for c in status.conditions.iter().filter(|c| super::get::is_problem(&c.type_, &c.status)) {
        line.push_str(&format!("; {}: {}", c.type_, c.message));
    }
    line
}

/// Polls the app (and the repository record its status names) until `check` returns a value,
/// or the deadline passes (`Ok(Err(last seen))`).
pub async fn poll<T>(
    api: &Api<Application>,
    ns: &str,
    name: &str,
    timeout: Duration,
    what: &str,
    mut check: impl FnMut(&Application, Option<&RepoRecord>) -> Option<T>,
) -> Result<Result<T, Option<Application>>, CliError> {
    let bar = spinner(&format!("waiting for {name} to be {what}"));
    let deadline = Instant::now() + timeout;
    let client = api.clone().into_client();
    loop {
        let app = super::fetch(api, ns, name).await?;
        let record = super::record::of(&client, &app).await;
        if let Some(v) = check(&app, record.as_ref()) {
            bar.finish_and_clear();
            return Ok(Ok(v));
        }
        bar.set_message(format!(
            "waiting for {name} to be {what}: {}",
            seen(&app, record.as_ref())
        ));
        if Instant::now() >= deadline {
            bar.finish_and_clear();
            return Ok(Err(Some(app)));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Prints the timeout line: what was awaited and what was seen.
pub fn timed_out(name: &str, timeout: Duration, what: &str, last: Option<&Application>) {
    let seen = last.map(|a| seen(a, None)).unwrap_or_else(|| "nothing".into());
    eprintln!(
        "error: timed out after {} waiting for {name} to be {what}; last seen: {seen}",
        human(timeout)
    );
}

pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => format!("{}ms", d.as_millis()),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s if s > 60 => format!("{}m{}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

pub async fn run(conn: &Connection, ns: &str, args: WaitArgs) -> Result<ExitCode, CliError> {
    let api = super::apps(conn, ns);
    let want = Want::of(args.health, args.sync || args.revision.is_some());
    let mut goal = Goal { revision: args.revision.clone(), ..Goal::default() };
    let mut what = want.describe().to_owned();
    if let Some(rev) = &args.revision {
        what = format!("{what} at {rev}");
    }
    if want.sync {
        let app = super::fetch(&api, ns, &args.name).await?;
        // Already at the wanted commit (its own status or its repository record says so): no
        // refresh to ask for.
        let record = super::record::of(&conn.client, &app).await;
        if goal.revision.is_some() && reached_goal(&app, record.as_ref(), want, &goal) {
            eprintln!("{} is {}: {}", args.name, want.describe(), seen(&app, record.as_ref()));
            return Ok(ExitCode::SUCCESS);
        }
        goal.refresh = Some(super::refresh::request(&api, ns, &args.name, false).await?);
    }
    let done = |a: &Application, r: Option<&RepoRecord>| {
        reached_goal(a, r, want, &goal).then(|| seen(a, r))
    };
    match poll(&api, ns, &args.name, args.timeout, &what, done).await? {
        Ok(state) => {
            eprintln!("{} is {}: {state}", args.name, want.describe());
            Ok(ExitCode::SUCCESS)
        }
        Err(last) => {
            timed_out(&args.name, args.timeout, &what, last.as_ref());
            if let (Some(value), Some(app)) = (&goal.refresh, &last)
                && goal.revision.is_none()
                && !super::refresh::handled(app, value)
            {
                hint(
                    "the engine has not reported a comparison since this wait asked for one; is the controller running?",
                );
            }
            Ok(ExitCode::from(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::app::test_app as app;

    #[test]
    fn healthy_but_out_of_sync_satisfies_health_only() {
        let a = app(
            serde_json::json!({"sync": {"status": "OutOfSync"}, "health": {"status": "Healthy"}}),
        );
        assert!(reached(&a, Want::of(true, false)));
        assert!(!reached(&a, Want::of(false, true)));
        assert!(!reached(&a, Want::of(false, false)), "no flag means both");
    }

    #[test]
    fn a_running_sync_is_never_done() {
        let a =
            app(serde_json::json!({"sync": {"status": "Synced"}, "health": {"status": "Healthy"},
            "operationState": {"phase": "Running", "revision": "abc", "message": "syncing"}}));
        assert!(!reached(&a, Want::of(true, true)));
        assert!(seen(&a, None).contains("last sync Running: syncing"), "{}", seen(&a, None));
    }

    #[test]
    fn a_synced_status_from_before_the_refresh_request_is_not_an_answer() {
        let old = app(serde_json::json!({"sync": {"status": "Synced", "revision": "aaaa1111"},
            "health": {"status": "Healthy"}, "handledRequests": {"refresh": "r1"}}));
        let goal = Goal { refresh: Some("r2".into()), revision: None };
        assert!(!reached_goal(&old, None, Want::of(false, true), &goal));
        let goal = Goal { refresh: Some("r1".into()), revision: None };
        assert!(reached_goal(&old, None, Want::of(false, true), &goal));
    }

    #[test]
    fn a_wanted_revision_must_be_the_synced_one() {
        let a = app(serde_json::json!({"sync": {"status": "Synced", "revision": "AAAA1111"},
            "health": {"status": "Healthy"}}));
        let at = |rev: &str| Goal { refresh: Some("r".into()), revision: Some(rev.into()) };
        assert!(reached_goal(&a, None, Want::of(true, true), &at("aaaa")), "a prefix, any case");
        assert!(!reached_goal(&a, None, Want::of(true, true), &at("bbbb")));
    }

    #[test]
    fn timeouts_are_written_the_way_they_are_typed() {
        assert_eq!(human(Duration::from_secs(300)), "5m");
        assert_eq!(human(Duration::from_secs(90)), "1m30s");
        assert_eq!(human(Duration::from_secs(30)), "30s");
        assert_eq!(parse_timeout("5m"), Ok(Duration::from_secs(300)));
        assert!(parse_timeout("soon").is_err());
    }
}
