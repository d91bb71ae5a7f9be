//! Automated rollback: when a new revision leaves the app Degraded for longer than allowed, pin
//! the last revision that was Healthy and say why.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_health::{Health, HealthStatus};
use ferry_source::CommitId;
use kube::runtime::events::EventType;

use crate::application::*;
use crate::controller::Inner;
use crate::reconcile::{AppMemory, publish, short};
use crate::status::{last_healthy_other_than, parse_duration, set_condition};

#[allow(clippy::too_many_arguments)]
pub(crate) async fn automated(
    inner: &Arc<Inner>,
    app: &Application,
    status: &mut ApplicationStatus,
    health: &Health,
    revision: &CommitId,
    head: &CommitId,
    mem: &mut AppMemory,
    now: &str,
) -> Option<Duration> {
    let policy = app.automated().and_then(|a| a.rollback.as_ref()).filter(|r| r.enabled)?;
    let synced = status
        .operation_state
        .as_ref()
        .is_some_and(|o| o.phase == "Succeeded" && o.revision == revision.as_str() && !o.dry_run);
    if health.status != HealthStatus::Degraded || status.pinned.is_some() || !synced {
        mem.degraded_since = None;
        return None;
    }
    let since = *mem.degraded_since.get_or_insert_with(Instant::now);
    let after = policy.after.as_deref().and_then(parse_duration).unwrap_or(Duration::ZERO);
    if since.elapsed() < after {
        return Some(after - since.elapsed());
    }
    let Some(target) = last_healthy_other_than(&status.history, revision.as_str()).cloned() else {
        set_condition(
            &mut status.conditions,
            "RollbackFailed",
            true,
            "NoHealthyRevision",
            format!(
                "revision {} is Degraded ({}) but no earlier revision in history was Healthy to roll back to",
                short(revision.as_str()),
                health.message
            ),
            now,
        );
        return None;
    };
    let reason = format!(
        "automated rollback: revision {} went Degraded: {}",
        short(revision.as_str()),
        health.message
    );
    status.pinned = Some(Pin {
        revision: target.revision.clone(),
        reason: reason.clone(),
        head_at_pin: head.as_str().to_owned(),
        at: now.to_owned(),
    });
    set_condition(
        &mut status.conditions,
        "Pinned",
        true,
        "AutomatedRollback",
        format!(
            "{reason}; staying on {} until a new commit or `ferry app rollback {} --unpin`",
            short(&target.revision),
            app.metadata.name.as_deref().unwrap_or_default()
        ),
        now,
    );
    publish(
        inner,
        app,
        EventType::Warning,
        "RolledBack",
        format!("{reason}; rolling back to {}", short(&target.revision)),
    )
    .await;
    mem.degraded_since = None;
    Some(Duration::ZERO)
}
