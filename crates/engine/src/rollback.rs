//! Automated rollback: when a new revision leaves the app Degraded for longer than allowed, pin
//! the last revision that was Healthy and say why.

use std::time::Duration;

use ferry_health::{Health, HealthStatus};
use ferry_source::CommitId;
use kube::runtime::events::EventType;

use crate::application::*;
use crate::reconcile::Cycle;
use crate::status::last_healthy_other_than;
use ferry_source::duration::parse_seconds_or_go_duration;
use ferry_source::short_revision as short;

/// Pins the last healthy revision when `revision` has been Degraded for longer than the policy
/// allows; returns when to look again while it waits.
pub(crate) async fn automated(
    cy: &mut Cycle<'_>,
    health: &Health,
    revision: &CommitId,
    head: &CommitId,
) -> Option<Duration> {
    let policy = cy.app.automated().and_then(|a| a.rollback.as_ref()).filter(|r| r.enabled)?;
    let status = &cy.status;
    let synced = status.operation_state.as_ref().is_some_and(|o| o.succeeded_at(revision.as_str()));
    if health.status != HealthStatus::Degraded || status.pinned.is_some() || !synced {
        cy.mem.degraded_since = None;
        return None;
    }
    let since = *cy.mem.degraded_since.get_or_insert(cy.now.instant);
    let after = policy
        .after
        .as_deref()
        .and_then(|d| parse_seconds_or_go_duration(d).ok())
        .unwrap_or(Duration::ZERO);
    let waited = cy.now.instant.saturating_duration_since(since);
    if waited < after {
        return Some(after - waited);
    }
    let Some(target) = last_healthy_other_than(&status.history, revision.as_str()).cloned() else {
        let message = format!(
            "revision {} is Degraded ({}) but no earlier revision in history was Healthy to roll back to",
            short(revision.as_str()),
            health.message
        );
        cy.set("RollbackFailed", true, "NoHealthyRevision", message);
        return None;
    };
    let reason = format!(
        "automated rollback: revision {} went Degraded: {}",
        short(revision.as_str()),
        health.message
    );
    cy.status.pinned = Some(Pin {
        revision: target.revision.clone(),
        reason: reason.clone(),
        head_at_pin: head.as_str().to_owned(),
        at: cy.now.stamp(),
    });
    let message = format!(
        "{reason}; staying on {} until a new commit or `ferry app rollback {} --unpin`",
        short(&target.revision),
        cy.name()
    );
    cy.set("Pinned", true, "AutomatedRollback", message);
    let note = format!("{reason}; rolling back to {}", short(&target.revision));
    cy.publish(EventType::Warning, "RolledBack", note).await;
    cy.mem.degraded_since = None;
    Some(Duration::ZERO)
}
