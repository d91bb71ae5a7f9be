//! `ferry app approve NAME [--revision SHA]`: approves the revision awaiting approval, as the
//! Kubernetes user the cluster says this kubeconfig is (a SelfSubjectReview), by writing an
//! approval request the engine judges: the revision must be the one awaiting, and its author may
//! not approve it unless self-approval is allowed. Who may approve at all is Kubernetes RBAC on
//! patching the Application here (and the API's authorization for `POST …/approve`).

use std::process::ExitCode;
use std::time::Duration;

use ferry_engine::Application;
use ferry_engine::approval::{ANNOTATION_APPROVE, ApprovalPhase, ApprovalRequest};
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use kube::api::{Api, Patch, PatchParams, PostParams};

use super::connect::Connection;
use super::error::CliError;
use super::wait::{parse_timeout, poll, timed_out};

#[derive(clap::Args, Debug, Clone)]
pub struct ApproveArgs {
    #[arg(add = super::complete::app_names())]
    pub name: String,
    /// The revision to approve (default: the one awaiting approval now). An approval names one
    /// revision and never approves a newer one.
    #[arg(long)]
    pub revision: Option<String>,
    /// How long to wait for the engine to take or refuse the approval.
    #[arg(long, default_value = "1m", value_parser = parse_timeout)]
    pub timeout: Duration,
}

pub async fn run(conn: &Connection, ns: &str, args: ApproveArgs) -> Result<ExitCode, CliError> {
    let api = super::apps(conn, ns);
    let app = super::fetch(&api, ns, &args.name).await?;
    let revision = match args.revision.clone() {
        Some(r) => r,
        None => awaiting(&app).ok_or_else(|| CliError::Invalid {
            name: args.name.clone(),
            message: "no revision awaits approval (status.approval) and no deletions do (status.pruneApproval); `ferry app get` shows where it stands".into(),
        })?,
    };
    let approver = whoami(conn).await?;
    let value = ApprovalRequest::new(&revision, &approver).annotation_value();
    let patch = serde_json::json!({"metadata": {"annotations": {ANNOTATION_APPROVE: &value}}});
    api.patch(&args.name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| CliError::on_app(e, &args.name, ns, "asking for the approval"))?;
    eprintln!("approval of {} for {ns}/{} sent as {approver}", short(&revision), args.name);
    let handled = |a: &Application| {
        let h = a.status.as_ref()?.handled_requests.as_ref()?.approve.clone();
        (h.as_deref() == Some(value.as_str())).then(|| a.clone())
    };
    let waited =
        poll(&api, ns, &args.name, args.timeout, "done with the approval", |a, _| handled(a))
            .await?;
    let app = match waited {
        Ok(app) => app,
        Err(last) => {
            timed_out(&args.name, args.timeout, "done with the approval", last.as_ref());
            return Ok(ExitCode::FAILURE);
        }
    };
    outcome(&app, &args.name, &revision)
}

/// The revision awaiting approval, else the one whose deletions the prune guard holds.
fn awaiting(app: &Application) -> Option<String> {
    let s = app.status.as_ref()?;
    [s.approval.as_ref(), s.prune_approval.as_ref()]
        .into_iter()
        .flatten()
        .find(|a| a.phase == ApprovalPhase::AwaitingApproval)
        .map(|a| a.revision.clone())
}

/// Who the cluster says this kubeconfig's user is.
async fn whoami(conn: &Connection) -> Result<String, CliError> {
    let reviews: Api<SelfSubjectReview> = Api::all(conn.client.clone());
    let review = SelfSubjectReview::default();
    let answer = reviews.create(&PostParams::default(), &review).await.map_err(|e| {
        CliError::api(e, "asking the cluster who this kubeconfig's user is (SelfSubjectReview)")
    })?;
    answer
        .status
        .and_then(|s| s.user_info)
        .and_then(|u| u.username)
        .filter(|u| !u.is_empty())
        .ok_or_else(|| CliError::Failed("the cluster did not say who this kubeconfig's user is; an approval needs a named approver".into()))
}

/// Exit 0 when the engine took the approval, 1 with its reason when it refused it.
fn outcome(app: &Application, name: &str, revision: &str) -> Result<ExitCode, CliError> {
    let status = app.status.clone().unwrap_or_default();
    let approved = [status.approval.as_ref(), status.prune_approval.as_ref()]
        .into_iter()
        .flatten()
        .find(|a| a.phase == ApprovalPhase::Approved && a.revision.starts_with(revision.trim()));
    if let Some(a) = approved {
        println!("{} approved by {}", short(&a.revision), a.approved_by);
        let automated = app.automated().is_some();
        let next = if automated { "ferry app wait" } else { "ferry app sync" };
        super::output::hint(&format!("{next} {name}{}", if automated { " --sync" } else { "" }));
        return Ok(ExitCode::SUCCESS);
    }
    let refused = status.conditions.iter().find(|c| c.type_ == "ApprovalRefused");
    let why = refused.map(|c| c.message.clone()).unwrap_or_else(|| {
        "the engine did not take the approval; `ferry app get` shows where the app stands".into()
    });
    Err(CliError::Failed(why))
}

fn short(revision: &str) -> &str {
    ferry_source::short_revision(revision)
}
