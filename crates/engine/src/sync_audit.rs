//! The audit record of a sync: the revision and who wrote it, what triggered the sync, and
//! what changed (object names and counts only, never content).

use std::time::{Duration, Instant};

use ferry_source::CommitId;
use kube::ResourceExt;

use crate::application::ChangeSetItem;
use crate::audit::{
    Actor, AppRef, AuditRecord, Changes, MAX_CHANGED, Outcome, RecordKind, SyncDetails, Trigger,
};
use crate::reconcile::{Cycle, SyncKind};
use crate::sources::Sources;

/// A webhook push's delivery id wins the credit for a sync only this long after it arrived
/// (when the payload named no commits): an older one did not cause the sync.
const DELIVERY_CREDIT: Duration = Duration::from_secs(300);

/// A webhook delivery that moved an app's repository.
#[derive(Clone, Debug)]
pub(crate) struct Delivery {
    id: String,
    commits: Vec<String>,
    at: Instant,
}

impl Delivery {
    pub(crate) fn new(id: &str, commits: &[String]) -> Self {
        Self { id: id.to_owned(), commits: commits.to_vec(), at: Instant::now() }
    }

    /// Whether this delivery brought `revision`: one of its commits, or (when it named none) a
    /// recent one.
    fn brought(&self, revision: &CommitId) -> bool {
        if self.commits.is_empty() {
            return self.at.elapsed() < DELIVERY_CREDIT;
        }
        self.commits.iter().any(|c| c == revision.as_str())
    }
}

/// What a finished sync reports to the trail.
pub(crate) struct Finished<'a> {
    pub kind: SyncKind,
    pub revision: &'a CommitId,
    pub dry_run: bool,
    pub succeeded: bool,
    pub summary: String,
    pub message: String,
    pub items: &'a [ChangeSetItem],
}

/// Records the sync in the trail (its Events are the engine's `Synced`/`SyncFailed`).
pub(crate) fn record(cy: &Cycle<'_>, done: Finished<'_>) {
    let record = sync_record(cy, &done);
    cy.inner.config.audit.record(record);
}

fn sync_record(cy: &Cycle<'_>, done: &Finished<'_>) -> AuditRecord {
    let actor = Actor { user: "ferry".into(), via: "engine".into(), ..Default::default() };
    let outcome = if done.succeeded { Outcome::Succeeded } else { Outcome::Failed };
    let mut record = AuditRecord::new(RecordKind::Sync, "sync", actor, outcome);
    record.app = Some(AppRef {
        namespace: cy.id.namespace.clone(),
        name: cy.app.name_any(),
        project: cy.app.project().to_owned(),
    });
    record.message = done.message.clone();
    let commit = Sources::parse_url(&cy.app.spec.source.repo_url)
        .ok()
        .and_then(|url| cy.inner.sources.commit_info(&url, done.revision).ok());
    let signature = match &commit {
        Some(c) if c.signed => "signed (not verified)",
        Some(_) => "unsigned",
        None => "unknown",
    };
    record.sync = Some(SyncDetails {
        revision: done.revision.as_str().to_owned(),
        commit,
        signature: signature.into(),
        trigger: trigger(cy, done.kind, done.revision),
        changes: changes(&done.summary, done.items),
        dry_run: done.dry_run,
    });
    record
}

/// Why the sync ran: the user of the sync request, the webhook delivery that moved the
/// revision, or the engine's own policy.
fn trigger(cy: &Cycle<'_>, kind: SyncKind, revision: &CommitId) -> Trigger {
    let delivery = {
        let mut deliveries = cy.inner.deliveries.lock().unwrap_or_else(|p| p.into_inner());
        deliveries.remove(cy.id).filter(|d| d.brought(revision)).map(|d| d.id)
    };
    match kind {
        SyncKind::Manual { .. } => Trigger {
            kind: "user".into(),
            user: cy.requests.sync.as_ref().and_then(|r| r.by.clone()),
            delivery: None,
        },
        SyncKind::Heal => Trigger { kind: "heal".into(), ..Default::default() },
        SyncKind::Auto if cy.requests.rollback.is_some() => Trigger {
            kind: "rollback".into(),
            user: cy.requests.rollback.as_ref().and_then(|r| r.by.clone()),
            delivery: None,
        },
        SyncKind::Auto if approved_by(cy, revision).is_some() => {
            Trigger { kind: "approval".into(), user: approved_by(cy, revision), delivery }
        }
        SyncKind::Auto if delivery.is_some() => {
            Trigger { kind: "webhook".into(), user: None, delivery }
        }
        SyncKind::Auto => Trigger { kind: "automated".into(), ..Default::default() },
    }
}

/// Who approved `revision`, when the app waited for an approval of it.
fn approved_by(cy: &Cycle<'_>, revision: &CommitId) -> Option<String> {
    cy.status
        .approval
        .as_ref()
        .filter(|a| a.phase == crate::approval::ApprovalPhase::Approved)
        .filter(|a| a.revision == revision.as_str() && !a.approved_by.is_empty())
        .map(|a| a.approved_by.clone())
}

fn changes(summary: &str, items: &[ChangeSetItem]) -> Changes {
    let objects = items
        .iter()
        .filter(|i| i.action != "unchanged")
        .take(MAX_CHANGED)
        .map(|i| {
            let ns =
                if i.namespace.is_empty() { String::new() } else { format!("{}/", i.namespace) };
            format!("{} {} {ns}{}", i.action, i.kind, i.name)
        })
        .collect();
    Changes { summary: summary.to_owned(), objects }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_gets_the_credit_only_for_a_commit_it_pushed() {
        let pushed = "a".repeat(40);
        let other = CommitId::parse(&"b".repeat(40)).expect("a commit id");
        let delivery = Delivery::new("d-1", std::slice::from_ref(&pushed));
        assert!(delivery.brought(&CommitId::parse(&pushed).expect("a commit id")));
        assert!(!delivery.brought(&other));
        assert!(Delivery::new("d-2", &[]).brought(&other), "a push that names no commit, just now");
    }
}
