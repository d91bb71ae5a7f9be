//! The edges of the prune guard (`crate::prune_guard`): a sync asks [`hold`] whether its
//! deletions may go ahead, and the approval stage hands an approval request for the revision
//! whose deletions wait to [`take`]. The held set is `status.pruneApproval` (its `diff`: one
//! line per object), the `PruneApproval` condition says what waits and how to approve it.

use ferry_apply::ObjKey;
use ferry_source::CommitId;
use kube::runtime::events::EventType;

use crate::approval::{ApprovalPhase, ApprovalPolicy, ApprovalRequest, ApprovalStatus, judge};
use crate::audit::Outcome;
use crate::prune_guard::{self, CONDITION, Input};

use super::approve::{approval_record, refuse};
use super::cycle::Cycle;

/// The most objects the condition names (all of them are in `status.pruneApproval.diff`).
const NAMED: usize = 10;

/// Whether the sync may delete `prunes` (`prune`: it would, guard aside). When it may not, the
/// set is recorded as awaiting approval and the condition says so.
pub(crate) async fn hold(
    cy: &mut Cycle<'_>,
    prune: bool,
    allow_shrink: bool,
    revision: &CommitId,
    prunes: &[ObjKey],
) -> bool {
    if !prune {
        return false;
    }
    let guard = cy.app.spec.sync_policy.as_ref().and_then(|p| p.prune_guard.as_ref());
    let input = Input {
        guard,
        inventory: cy.status.inventory.len(),
        declared: cy.mem.prepared.resources.len(),
        allow_shrink,
        prunes,
    };
    let Some(why) = prune_guard::judge(&input) else {
        forget_awaiting(cy);
        return true;
    };
    let lines = prune_guard::lines(prunes);
    let held = cy.status.prune_approval.as_ref();
    if prune_guard::approved(held, revision.as_str(), &lines) {
        cy.clear(CONDITION);
        return true;
    }
    let message = format!(
        "{} deletions wait for approval: {why}. Objects: {}. Creates and updates were applied; approve the deletions with `ferry app approve {} --revision {}`, or raise spec.syncPolicy.pruneGuard",
        lines.len(),
        named(&lines),
        cy.name(),
        revision.short()
    );
    if !prune_guard::awaiting(held, revision.as_str(), &lines) {
        cy.status.prune_approval = Some(ApprovalStatus {
            phase: ApprovalPhase::AwaitingApproval,
            revision: revision.as_str().to_owned(),
            diff: lines,
            requested_at: cy.now.stamp(),
            ..Default::default()
        });
        cy.publish(EventType::Warning, CONDITION, message.clone()).await;
    }
    cy.set(CONDITION, true, CONDITION, message);
    false
}

/// Nothing to hold any more: a set still awaiting is dropped (an approved one stays, as the
/// record of what was approved).
fn forget_awaiting(cy: &mut Cycle<'_>) {
    cy.clear(CONDITION);
    let awaiting = cy
        .status
        .prune_approval
        .as_ref()
        .is_some_and(|a| a.phase == ApprovalPhase::AwaitingApproval);
    if awaiting {
        cy.status.prune_approval = None;
    }
}

/// Whether deletions of the target revision wait for approval (an automated sync would only
/// hold them again).
pub(crate) fn waiting(cy: &Cycle<'_>, revision: &CommitId) -> bool {
    cy.status.prune_approval.as_ref().is_some_and(|a| {
        a.phase == ApprovalPhase::AwaitingApproval && a.revision == revision.as_str()
    })
}

/// Whether the approval request `raw` is for the deletions waiting now (not for a revision).
pub(crate) fn meant_for_prunes(cy: &Cycle<'_>, raw: &str) -> bool {
    let Ok(request) = ApprovalRequest::parse(raw) else { return false };
    let asked = request.revision.trim();
    cy.status.prune_approval.as_ref().is_some_and(|a| {
        a.phase == ApprovalPhase::AwaitingApproval
            && asked.len() >= 7
            && a.revision.starts_with(asked)
    })
}

/// Takes (or refuses) an approval of the waiting deletions; the audit trail records either.
pub(crate) async fn take(cy: &mut Cycle<'_>, raw: &str) {
    let request = ApprovalRequest::parse(raw);
    // The prune set has no author to keep from approving: who may approve is RBAC's call.
    let policy = ApprovalPolicy { required: true, allow_self_approval: true };
    let judged = request
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|r| judge(r, cy.status.prune_approval.as_ref(), "", &policy).map(|()| r));
    let request = match judged {
        Ok(r) => r.clone(),
        Err(e) => return refuse(cy, raw, e).await,
    };
    let now = cy.now.stamp();
    let Some(a) = cy.status.prune_approval.as_mut() else { return };
    a.phase = ApprovalPhase::Approved;
    a.approved_by = request.approver.trim().to_owned();
    a.approved_at = now;
    let note = format!(
        "deletion of {} objects at revision {} approved by {}: {}",
        a.diff.len(),
        ferry_source::short_revision(&a.revision),
        a.approved_by,
        named(&a.diff)
    );
    let approver = a.approved_by.clone();
    cy.clear(CONDITION);
    let record = approval_record(cy, approver, Outcome::Allowed, note.clone());
    cy.inner.config.audit.record(record);
    cy.publish(EventType::Normal, "PruneApproved", note).await;
}

fn named(lines: &[String]) -> String {
    let more = lines.len().saturating_sub(NAMED);
    let first = lines.iter().take(NAMED).cloned().collect::<Vec<_>>().join(", ");
    if more > 0 { format!("{first} and {more} more") } else { first }
}
