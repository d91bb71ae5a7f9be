//! `ferry app refresh`: asks the engine to resolve `targetRevision` again now (not from its
//! cache) and compare, then waits until the status reports that comparison.
//!
//! # Guarantees
//! The engine copies the request's annotation value to `status.handledRequests.refresh` in the
//! same status write that reports `status.sync` for that resolution, so once this command sees
//! its own value there, the sync status it prints is no older than the request.

use std::process::ExitCode;
use std::time::Duration;

use ferry_engine::Application;
use ferry_engine::application::{ANNOTATION_REFRESH, RefreshRequest};
use kube::Api;
use kube::api::{Patch, PatchParams};

use super::connect::Connection;
use super::error::CliError;
use super::output::hint;
use super::wait::{parse_timeout, poll, seen, timed_out};

#[derive(clap::Args, Debug, Clone)]
pub struct RefreshArgs {
    #[arg(add = super::complete::app_names())]
    pub name: String,
    /// Also render again, bypassing the render cache (Argo CD's hard refresh).
    #[arg(long)]
    pub hard: bool,
    /// Return once the request is written, without waiting for the engine.
    #[arg(long)]
    pub no_wait: bool,
    /// Give up waiting after this long (exit 1).
    #[arg(long, default_value = "2m", value_parser = parse_timeout)]
    pub timeout: Duration,
}

/// Writes a fresh refresh request and returns its annotation value.
pub async fn request(
    api: &Api<Application>,
    ns: &str,
    name: &str,
    hard: bool,
) -> Result<String, CliError> {
    let value = RefreshRequest::new(hard).annotation_value();
    let patch = serde_json::json!({"metadata": {"annotations": {ANNOTATION_REFRESH: value}}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| CliError::on_app(e, name, ns, "requesting a refresh"))?;
    Ok(value)
}

/// Whether the engine has reported the comparison made for the request `value`.
pub fn handled(app: &Application, value: &str) -> bool {
    app.status.as_ref().and_then(|s| s.handled_requests.as_ref()).and_then(|h| h.refresh.as_deref())
        == Some(value)
}

pub async fn run(conn: &Connection, ns: &str, args: RefreshArgs) -> Result<ExitCode, CliError> {
    let api = super::apps(conn, ns);
    super::fetch(&api, ns, &args.name).await?;
    let value = request(&api, ns, &args.name, args.hard).await?;
    let kind = if args.hard { "hard refresh" } else { "refresh" };
    eprintln!("{kind} of {ns}/{} requested", args.name);
    if args.no_wait {
        hint(&format!("ferry app get {}", args.name));
        return Ok(ExitCode::SUCCESS);
    }
    let what = "refreshed";
    match poll(&api, ns, &args.name, args.timeout, what, |a, r| {
        handled(a, &value).then(|| seen(a, r))
    })
    .await?
    {
        Ok(state) => {
            eprintln!("{} refreshed: {state}", args.name);
            Ok(ExitCode::SUCCESS)
        }
        Err(last) => {
            timed_out(&args.name, args.timeout, what, last.as_ref());
            hint("is the controller running? `ferry app get NAME` shows when it last reconciled");
            Ok(ExitCode::from(1))
        }
    }
}
