//! The approval stage: when the app (or its project, for the app's destination) requires
//! approval, a revision not yet applied waits in `status.approval` with its author and what it
//! would change, until an approval request for exactly that revision arrives from someone other
//! than its author (unless self-approval is allowed). Runs after compare, before decide.

use ferry_source::CommitId;
use kube::ResourceExt;
use kube::runtime::events::EventType;

use crate::approval::{
    ApprovalError, ApprovalPhase, ApprovalPolicy, ApprovalRequest, ApprovalStatus, judge,
};
use crate::audit::{Actor, AppRef, AuditRecord, Outcome, RecordKind};
use crate::compare::Comparison;
use crate::project::rules::destination_matches;

use super::admit::cluster;
use super::cycle::Cycle;
use super::stop::{Stage, Stop};
use super::target::Target;

/// The most lines of `status.approval.diff`.
const MAX_DIFF_LINES: usize = 50;

/// Whether the target revision still awaits approval (a sync of it must not run).
pub(crate) async fn review(
    cy: &mut Cycle<'_>,
    target: &Target,
    cmp: &Comparison,
) -> Result<bool, Stop> {
    let policy = policy(cy);
    let mut request = cy.requests.approve.take();
    if let Some(raw) = request.take_if(|raw| super::approve_prunes::meant_for_prunes(cy, raw)) {
        super::approve_prunes::take(cy, &raw).await;
    }
    let revision = &target.revision;
    if !policy.required || cy.mem.applied(&cy.status, revision) || approved(cy, revision) {
        if !policy.required {
            cy.status.approval = None;
        }
        cy.clear("AwaitingApproval");
        // A refusal stays until the revision it concerned is applied or replaced.
        cy.clear("ApprovalRefused");
        if let Some(raw) = request {
            let e = ApprovalRequest::parse(&raw).err().unwrap_or(ApprovalError::NothingAwaiting);
            refuse(cy, &raw, e).await;
        }
        return Ok(false);
    }
    awaiting(cy, target, cmp).await?;
    if let Some(raw) = request {
        match take(cy, &raw, &policy) {
            Ok(approver) => {
                approve(cy, approver).await;
                return Ok(false);
            }
            Err(e) => refuse(cy, &raw, e).await,
        }
    }
    let a = cy.status.approval.as_ref().expect("set by awaiting");
    let message = format!(
        "revision {} by {} awaits approval before it is applied ({} would change); approve it with `ferry app approve {} --revision {}`",
        target.revision.short(),
        if a.author.is_empty() { "an unknown author" } else { &a.author },
        objects(a.diff.len()),
        cy.name(),
        target.revision.short()
    );
    cy.set("AwaitingApproval", true, "AwaitingApproval", message);
    Ok(true)
}

/// The app's policy, made stricter by the project's for a matching destination.
fn policy(cy: &Cycle<'_>) -> ApprovalPolicy {
    let app = cy.app.spec.sync_policy.as_ref().and_then(|p| p.approval.clone()).unwrap_or_default();
    let Some(project) = cy.project.as_ref() else { return app };
    let Some(rule) = project.spec.approval.as_ref().filter(|a| a.required) else { return app };
    let name = project.metadata.name.clone().unwrap_or_default();
    let dest_ns = &cy.app.spec.destination.namespace;
    // A destination pattern that does not parse counts as matching: approval is never skipped
    // because of a broken rule.
    let matches = rule.destinations.is_empty()
        || destination_matches(&name, &rule.destinations, &cluster(cy), dest_ns).unwrap_or(true);
    if !matches {
        return app;
    }
    app.stricter(ApprovalPolicy { required: true, allow_self_approval: rule.allow_self_approval })
}

fn approved(cy: &Cycle<'_>, revision: &CommitId) -> bool {
    cy.status
        .approval
        .as_ref()
        .is_some_and(|a| a.phase == ApprovalPhase::Approved && a.revision == revision.as_str())
}

/// Records (or refreshes) the revision awaiting approval, with its author and diff.
async fn awaiting(cy: &mut Cycle<'_>, target: &Target, cmp: &Comparison) -> Result<(), Stop> {
    let diff = diff_lines(cmp);
    let revision = target.revision.as_str();
    if let Some(a) = cy.status.approval.as_mut().filter(|a| a.revision == revision) {
        a.diff = diff;
        return Ok(());
    }
    let author = cy.inner.sources.author(&target.url, &target.revision).map_err(|e| {
        Stop::new(
            Stage::Source,
            "AuthorUnknown",
            format!("cannot read the author of {revision} for its approval: {e}"),
        )
    })?;
    let author = format!("{} <{}>", author.name, author.email);
    let note = format!(
        "revision {} by {author} awaits approval: {} would change",
        target.revision.short(),
        objects(diff.len())
    );
    cy.clear("ApprovalRefused");
    cy.status.approval = Some(ApprovalStatus {
        phase: ApprovalPhase::AwaitingApproval,
        revision: revision.to_owned(),
        author,
        diff,
        requested_at: cy.now.stamp(),
        ..Default::default()
    });
    cy.publish(EventType::Normal, "AwaitingApproval", note).await;
    Ok(())
}

/// The approver of a valid request.
fn take(cy: &Cycle<'_>, raw: &str, policy: &ApprovalPolicy) -> Result<String, ApprovalError> {
    let request = ApprovalRequest::parse(raw)?;
    let status = cy.status.approval.as_ref();
    let email = status.map(|a| author_email(&a.author)).unwrap_or_default();
    judge(&request, status, email, policy)?;
    Ok(request.approver.trim().to_owned())
}

async fn approve(cy: &mut Cycle<'_>, approver: String) {
    let now = cy.now.stamp();
    let Some(a) = cy.status.approval.as_mut() else { return };
    a.phase = ApprovalPhase::Approved;
    a.approved_by = approver;
    a.approved_at = now;
    let note = format!(
        "revision {} approved by {}",
        ferry_source::short_revision(&a.revision),
        a.approved_by
    );
    cy.clear("AwaitingApproval");
    cy.clear("ApprovalRefused");
    let approver = cy.status.approval.as_ref().map(|a| a.approved_by.clone()).unwrap_or_default();
    let record = approval_record(cy, approver, Outcome::Allowed, note.clone());
    cy.inner.config.audit.record(record);
    cy.publish(EventType::Normal, "Approved", note).await;
}

/// The audit record of an approval (or a refused one): the approver as the actor, the
/// revision and its author in the message.
pub(super) fn approval_record(
    cy: &Cycle<'_>,
    approver: String,
    outcome: Outcome,
    message: String,
) -> AuditRecord {
    let actor = Actor { user: approver, via: "approval".into(), ..Default::default() };
    let mut record = AuditRecord::new(RecordKind::Approval, "approve", actor, outcome);
    record.app = Some(AppRef {
        namespace: cy.id.namespace.clone(),
        name: cy.app.name_any(),
        project: cy.app.project().to_owned(),
    });
    let author = cy.status.approval.as_ref().map(|a| a.author.as_str()).unwrap_or_default();
    record.message =
        if author.is_empty() { message } else { format!("{message} (author {author})") };
    record
}

pub(super) async fn refuse(cy: &mut Cycle<'_>, raw: &str, e: ApprovalError) {
    let reason = match e {
        ApprovalError::SelfApproval { .. } => "SelfApprovalForbidden",
        ApprovalError::WrongRevision { .. } => "WrongRevision",
        ApprovalError::NothingAwaiting => "NothingAwaitsApproval",
        ApprovalError::Malformed { .. } | ApprovalError::NoApprover => "InvalidApproval",
    };
    let message = format!("an approval was refused: {e}");
    let approver = ApprovalRequest::parse(raw).map(|r| r.approver).unwrap_or_default();
    let record = approval_record(cy, approver, Outcome::Denied, message.clone());
    cy.inner.config.audit.record(record);
    cy.set("ApprovalRefused", true, reason, message.clone());
    cy.publish(EventType::Warning, "ApprovalRefused", message).await;
}

/// `Name <email>` → `email`.
fn author_email(author: &str) -> &str {
    author.rsplit_once('<').and_then(|(_, e)| e.strip_suffix('>')).unwrap_or(author)
}

/// One line per object the sync would change (drift lines are masked for Secrets).
fn diff_lines(cmp: &Comparison) -> Vec<String> {
    let changed = cmp.out_of_sync.iter().map(|key| {
        let first = cmp
            .resources
            .iter()
            .find(|r| r.kind == key.kind && r.name == key.name && r.namespace == key.namespace)
            .and_then(|r| r.drift.first().cloned());
        format!("{key}: {}", first.unwrap_or_else(|| "to be created or updated".into()))
    });
    let pruned = cmp.extraneous.iter().map(|e| format!("{}: to be pruned", e.key()));
    changed.chain(pruned).take(MAX_DIFF_LINES).collect()
}

fn objects(n: usize) -> String {
    if n == 1 { "1 object".into() } else { format!("{n} objects") }
}
