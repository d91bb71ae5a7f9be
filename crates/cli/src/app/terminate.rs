//! `ferry app terminate-op`: asks the engine to stop the running sync operation (`argocd app
//! terminate-op`) through the `ferry.dev/terminate-requested-at` annotation, then waits until the
//! engine reports the request handled (`status.handledRequests.terminate`) or the operation has
//! ended by itself.

use std::process::ExitCode;
use std::time::Duration;

use ferry_engine::Application;
use ferry_engine::application::ANNOTATION_TERMINATE;
use kube::api::{Patch, PatchParams};

use super::connect::Connection;
use super::error::CliError;
use super::output::{hint, short};
use super::wait::{parse_timeout, poll, timed_out};

#[derive(clap::Args, Debug, Clone)]
pub struct TerminateArgs {
    #[arg(add = super::complete::app_names())]
    pub name: String,
    /// Return once the request is written, without waiting for the engine.
    #[arg(long)]
    pub no_wait: bool,
    /// Give up waiting after this long (exit 1).
    #[arg(long, default_value = "1m", value_parser = parse_timeout)]
    pub timeout: Duration,
}

fn running(app: &Application) -> Option<&ferry_engine::application::OperationState> {
    app.status
        .as_ref()?
        .operation_state
        .as_ref()
        .filter(|o| o.phase == ferry_engine::application::OperationPhase::Running)
}

/// Done when the engine recorded the request, or no operation runs any more.
pub fn stopped(app: &Application, value: &str) -> Option<String> {
    let handled = app
        .status
        .as_ref()
        .and_then(|s| s.handled_requests.as_ref())
        .and_then(|h| h.terminate.as_deref())
        == Some(value);
    if running(app).is_some() && !handled {
        return None;
    }
    let op = app.status.as_ref().and_then(|s| s.operation_state.as_ref());
    Some(match op {
        Some(o) => format!("last operation {} at {}: {}", o.phase, short(&o.revision), o.message),
        None => "no operation".into(),
    })
}

pub async fn run(conn: &Connection, ns: &str, args: TerminateArgs) -> Result<ExitCode, CliError> {
    let api = super::apps(conn, ns);
    let app = super::fetch(&api, ns, &args.name).await?;
    let Some(op) = running(&app) else {
        eprintln!(
            "error: {ns}/{} has no operation in progress: there is nothing to terminate",
            args.name
        );
        hint(&format!("ferry app get {}", args.name));
        return Ok(ExitCode::from(1));
    };
    eprintln!(
        "terminating the sync of {ns}/{} to {} ({})",
        args.name,
        short(&op.revision),
        op.message
    );
    let value = super::now();
    let patch = serde_json::json!({"metadata": {"annotations": {ANNOTATION_TERMINATE: value}}});
    api.patch(&args.name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| CliError::on_app(e, &args.name, ns, "requesting termination"))?;
    if args.no_wait {
        hint(&format!("ferry app get {}", args.name));
        return Ok(ExitCode::SUCCESS);
    }
    let what = "done with its operation";
    match poll(&api, ns, &args.name, args.timeout, what, |a, _| stopped(a, &value)).await? {
        Ok(state) => {
            eprintln!("{} stopped: {state}", args.name);
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

    use crate::app::test_app as app;

    #[test]
    fn a_running_operation_is_stopped_once_the_engine_handled_the_request() {
        let op = serde_json::json!({"phase": "Running", "revision": "abc", "message": "wave 1"});
        let waiting = app(serde_json::json!({"operationState": op}));
        assert_eq!(stopped(&waiting, "t1"), None);
        let handled =
            app(serde_json::json!({"operationState": op, "handledRequests": {"terminate": "t1"}}));
        assert!(stopped(&handled, "t1").is_some());
        let ended = app(serde_json::json!({"operationState":
            {"phase": "Failed", "revision": "abc", "message": "terminated"}}));
        assert_eq!(
            stopped(&ended, "t1").as_deref(),
            Some("last operation Failed at abc: terminated")
        );
    }
}
