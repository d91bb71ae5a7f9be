//! `ferry app wait`, and the polling every waiting command shares: read the Application until a
//! pure check says done, with a spinner on stderr, or give up at the deadline with what was seen.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use ferry_engine::Application;
use ferry_engine::application::SyncStatusCode;
use ferry_health::HealthStatus;
use kube::Api;

use super::connect::Connection;
use super::error::CliError;
use super::output::{short, spinner};

#[derive(clap::Args, Debug, Clone)]
pub struct WaitArgs {
    pub name: String,
    /// Wait for health Healthy.
    #[arg(long)]
    pub health: bool,
    /// Wait for sync status Synced.
    #[arg(long)]
    pub sync: bool,
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
    let running = status.operation_state.as_ref().is_some_and(|o| o.phase == "Running");
    !running
        && (!want.sync || status.sync.status == SyncStatusCode::Synced)
        && (!want.health || status.health.status == HealthStatus::Healthy)
}

/// One line about the app's state, for progress and for the timeout message.
pub fn seen(app: &Application) -> String {
    let Some(status) = &app.status else {
        return "no status yet (is the controller running?)".into();
    };
    let mut line = format!(
        "sync {} at {}, health {}",
        status.sync.status,
        if status.sync.revision.is_empty() { "-" } else { short(&status.sync.revision) },
        status.health.status.as_str()
    );
    if !status.health.message.is_empty() {
        line.push_str(&format!(" ({})", status.health.message));
    }
    if let Some(op) = status.operation_state.as_ref().filter(|o| o.phase != "Succeeded") {
        line.push_str(&format!("; last sync {}: {}", op.phase, op.message));
    }
    for c in status.conditions.iter().filter(|c| super::get::is_problem(&c.type_, &c.status)) {
        line.push_str(&format!("; {}: {}", c.type_, c.message));
    }
    line
}

/// Polls the app until `check` returns a value, or the deadline passes (`Ok(Err(last seen))`).
pub async fn poll<T>(
    api: &Api<Application>,
    ns: &str,
    name: &str,
    timeout: Duration,
    what: &str,
    mut check: impl FnMut(&Application) -> Option<T>,
) -> Result<Result<T, Option<Application>>, CliError> {
    let bar = spinner(&format!("waiting for {name} to be {what}"));
    let deadline = Instant::now() + timeout;
    loop {
        let app = super::fetch(api, ns, name).await?;
        if let Some(v) = check(&app) {
            bar.finish_and_clear();
            return Ok(Ok(v));
        }
        bar.set_message(format!("waiting for {name} to be {what}: {}", seen(&app)));
        if Instant::now() >= deadline {
            bar.finish_and_clear();
            return Ok(Err(Some(app)));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Prints the timeout line: what was awaited and what was seen.
pub fn timed_out(name: &str, timeout: Duration, what: &str, last: Option<&Application>) {
    let seen = last.map(seen).unwrap_or_else(|| "nothing".into());
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
    let want = Want::of(args.health, args.sync);
    let what = want.describe();
    match poll(&api, ns, &args.name, args.timeout, what, |a| reached(a, want).then(|| seen(a)))
        .await?
    {
        Ok(state) => {
            eprintln!("{} is {what}: {state}", args.name);
            Ok(ExitCode::SUCCESS)
        }
        Err(last) => {
            timed_out(&args.name, args.timeout, what, last.as_ref());
            Ok(ExitCode::from(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(status: serde_json::Value) -> Application {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "ferry.dev/v1alpha1", "kind": "Application",
            "metadata": {"name": "web", "namespace": "ferry"},
            "spec": {"source": {"repoURL": "git://h/r"}, "destination": {"namespace": "d"}},
            "status": status,
        }))
        .expect("a valid Application")
    }

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
        assert!(seen(&a).contains("last sync Running: syncing"), "{}", seen(&a));
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
