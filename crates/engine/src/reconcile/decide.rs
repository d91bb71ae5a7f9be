//! Whether to sync, and how: a pure function of what the reconcile found and the time, so every
//! rule has a table test (as `ferry_apply::step` does for sync steps).

use std::time::Duration;

use crate::application::{Automated, OperationPhase, OperationState, Retry, SyncRequest};
use crate::project::WindowVerdict;
use crate::status::retry_delay;
use ferry_source::short_revision as short;

use super::cycle::Now;

/// The kind of sync decided on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SyncKind {
    /// A user asked (annotation / CLI / API).
    Manual { prune: bool, dry_run: bool },
    /// Automated: a new revision, a retry of a failed one, or extraneous objects to prune.
    Auto,
    /// Automated self-heal of drift.
    Heal,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    None,
    Sync(SyncKind),
    /// Not yet: come back after this delay (backoff).
    Wait(Duration),
    /// Not at all until something changes; the condition says why.
    Refused {
        reason: &'static str,
        message: String,
    },
    /// Held back by a gate (an approval, a sync window): the condition `reason` says why, and
    /// the reconcile comes back after `recheck` (a window opening) if set.
    Held {
        reason: &'static str,
        message: String,
        recheck: Option<Duration>,
    },
}

/// What may hold a sync back: the project's sync windows now, and an approval not yet given.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Gate<'a> {
    pub window: &'a WindowVerdict,
    pub awaiting_approval: bool,
    /// What `spec.dependsOn` waits for (the `DependsOn` condition's message), if anything.
    pub dependency: Option<&'a str>,
}

/// No window and no approval in the way.
static OPEN: WindowVerdict = WindowVerdict {
    windows: Vec::new(),
    automated: true,
    manual: true,
    closed_by: None,
    opens_at: None,
};

impl Default for Gate<'_> {
    fn default() -> Self {
        Self { window: &OPEN, awaiting_approval: false, dependency: None }
    }
}

/// What the decision depends on, gathered by the reconcile.
#[derive(Clone, Debug, Default)]
pub(crate) struct Facts<'a> {
    pub app_name: &'a str,
    pub suspended: bool,
    pub automated: Option<&'a Automated>,
    pub retry: Option<&'a Retry>,
    /// The last operation, dry runs excluded.
    pub operation: Option<&'a OperationState>,
    pub revision: &'a str,
    /// The last successful sync applied what `revision` renders.
    pub applied: bool,
    pub request: Option<&'a SyncRequest>,
    /// A rollback asked for now.
    pub forced: bool,
    pub out_of_sync: bool,
    pub extraneous: bool,
    /// When a self-heal may run again (after one that did not stick).
    pub next_heal: Option<std::time::Instant>,
    /// Why the target could not be rendered, when the reconcile works from the last good render.
    pub fallback: Option<&'a str>,
    /// `FailOnSharedResource=true` and an object is held by another app that declares it too.
    pub fail_on_shared: bool,
    pub gate: Gate<'a>,
}

/// [`decide_sync`], with a sync refused when it would take an object over from another app and
/// the app asked for that to fail (Argo CD's `FailOnSharedResource`).
pub(crate) fn decide(f: &Facts<'_>, now: Now) -> Decision {
    match decide_sync(f, now) {
        Decision::Sync(_) if f.fail_on_shared => Decision::Refused {
            reason: "SharedResource",
            message: "the sync did not run: an object it declares is held by another app that declares it too, and FailOnSharedResource=true; see the SharedResource condition".to_owned(),
        },
        Decision::Sync(kind) => gate(f, kind, now),
        d => d,
    }
}

/// A sync decided on, unless an approval or a sync window holds it back. Dry runs change
/// nothing and pass; a rollback returns to a revision applied before and needs no approval.
fn gate(f: &Facts<'_>, kind: SyncKind, now: Now) -> Decision {
    if matches!(kind, SyncKind::Manual { dry_run: true, .. }) {
        return Decision::Sync(kind);
    }
    if let Some(why) = f.gate.dependency {
        let message = format!("the sync waits: {why}");
        return Decision::Held { reason: "DependsOn", message, recheck: None };
    }
    if f.gate.awaiting_approval && !f.forced {
        let message = format!(
            "revision {} awaits approval; see the AwaitingApproval condition",
            short(f.revision)
        );
        return Decision::Held { reason: "AwaitingApproval", message, recheck: None };
    }
    let w = f.gate.window;
    let manual = f.forced || matches!(kind, SyncKind::Manual { .. });
    if (manual && w.manual) || (!manual && w.automated) {
        return Decision::Sync(kind);
    }
    let what = if manual { "the requested sync" } else { "automated syncs and self-heal" };
    let closed_by = w.closed_by.as_deref().unwrap_or("a sync window");
    let message = match (manual, w.opens_at) {
        (false, Some(at)) => format!(
            "{what} wait: {closed_by}; the window opens at {}, and Ferry syncs then",
            super::cycle::stamp(at)
        ),
        (false, None) => format!("{what} wait: {closed_by}; no opening is scheduled"),
        (true, at) => format!(
            "{what} did not run: {closed_by}, and it does not allow manual syncs (manualSync: false){}; `ferry app sync {}` again once it opens",
            at.map(|t| format!("; it opens at {}", super::cycle::stamp(t))).unwrap_or_default(),
            f.app_name
        ),
    };
    let recheck = (!manual).then(|| super::admit::until(w.opens_at, now.wall));
    Decision::Held { reason: "SyncWindowClosed", message, recheck }
}

fn decide_sync(f: &Facts<'_>, now: Now) -> Decision {
    if let Some(req) = f.request {
        if let Some(why) = f.fallback {
            return Decision::Refused {
                reason: "SourceUnavailable",
                message: format!(
                    "the requested sync did not run: {why}; `ferry app sync {}` again once it is fixed",
                    f.app_name
                ),
            };
        }
        return Decision::Sync(SyncKind::Manual { prune: req.prune, dry_run: req.dry_run });
    }
    if f.suspended {
        return Decision::None;
    }
    if f.forced && f.fallback.is_none() {
        return Decision::Sync(SyncKind::Auto);
    }
    let Some(auto) = f.automated else { return Decision::None };
    if !f.applied {
        return if f.fallback.is_some() { Decision::None } else { new_revision(f, now) };
    }
    if f.out_of_sync && auto.self_heal {
        return match f.next_heal {
            Some(next) if next > now.instant => Decision::Wait(next - now.instant),
            _ => Decision::Sync(SyncKind::Heal),
        };
    }
    if f.extraneous && auto.prune && f.fallback.is_none() {
        return Decision::Sync(SyncKind::Auto);
    }
    Decision::None
}

/// An automated sync of a revision not yet applied, unless it failed and waits for its retry.
fn new_revision(f: &Facts<'_>, now: Now) -> Decision {
    let failed = f
        .operation
        .filter(|o| o.revision == f.revision && o.phase == OperationPhase::Failed && !o.dry_run);
    let Some(o) = failed else {
        // Running: an engine stopped mid-sync; start over (apply is idempotent).
        return Decision::Sync(SyncKind::Auto);
    };
    if o.terminated {
        return Decision::Refused {
            reason: "Terminated",
            message: format!(
                "the sync of {} was terminated on request; `ferry app sync {}` or a new commit starts one again",
                short(&o.revision),
                f.app_name
            ),
        };
    }
    let Some(delay) = retry_delay(f.retry, o.attempts) else {
        return Decision::Refused {
            reason: "RetryLimitReached",
            message: format!(
                "sync of {} failed {} times and the retry limit is reached: {}. Fix the cause, then `ferry app sync {}`",
                short(&o.revision),
                o.attempts,
                o.message,
                f.app_name
            ),
        };
    };
    let elapsed = o
        .finished_at
        .parse::<jiff::Timestamp>()
        .map(|t| now.wall.duration_since(t).unsigned_abs())
        .unwrap_or(delay);
    if elapsed < delay { Decision::Wait(delay - elapsed) } else { Decision::Sync(SyncKind::Auto) }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    const REV: &str = "0123456789abcdef0123456789abcdef01234567";

    fn now() -> Now {
        Now { instant: Instant::now(), wall: "2026-01-01T10:00:10Z".parse().unwrap() }
    }

    fn auto(self_heal: bool, prune: bool) -> Automated {
        Automated { self_heal, prune, ..Default::default() }
    }

    fn failed(attempts: u32, finished_at: &str) -> OperationState {
        OperationState {
            phase: OperationPhase::Failed,
            revision: REV.into(),
            attempts,
            finished_at: finished_at.into(),
            message: "Deployment demo/web: invalid".into(),
            ..Default::default()
        }
    }

    fn facts(automated: Option<&Automated>) -> Facts<'_> {
        Facts { app_name: "demo", automated, revision: REV, applied: true, ..Default::default() }
    }

    #[test]
    fn a_request_syncs_as_asked_even_when_suspended_or_manual() {
        let req = SyncRequest { prune: true, dry_run: true, ..Default::default() };
        let f = Facts { request: Some(&req), suspended: true, ..facts(None) };
        assert_eq!(
            decide(&f, now()),
            Decision::Sync(SyncKind::Manual { prune: true, dry_run: true })
        );
    }

    #[test]
    fn a_request_is_refused_with_the_reason_while_only_the_last_good_render_is_known() {
        let req = SyncRequest::default();
        let f = Facts { request: Some(&req), fallback: Some("cannot fetch main"), ..facts(None) };
        let Decision::Refused { reason, message } = decide(&f, now()) else { panic!() };
        assert_eq!(reason, "SourceUnavailable");
        assert!(message.contains("cannot fetch main"), "{message}");
    }

    #[test]
    fn a_suspended_or_manual_app_is_left_alone() {
        let a = auto(true, true);
        let drifted = Facts { out_of_sync: true, suspended: true, ..facts(Some(&a)) };
        assert_eq!(decide(&drifted, now()), Decision::None);
        let manual = Facts { out_of_sync: true, applied: false, ..facts(None) };
        assert_eq!(decide(&manual, now()), Decision::None);
    }

    #[test]
    fn a_rollback_syncs_even_without_automation() {
        let f = Facts { forced: true, ..facts(None) };
        assert_eq!(decide(&f, now()), Decision::Sync(SyncKind::Auto));
    }

    #[test]
    fn a_new_revision_is_synced_automatically() {
        let a = auto(false, false);
        let f = Facts { applied: false, ..facts(Some(&a)) };
        assert_eq!(decide(&f, now()), Decision::Sync(SyncKind::Auto));
    }

    #[test]
    fn a_new_revision_is_not_synced_from_the_last_good_render() {
        let a = auto(true, true);
        let f = Facts { applied: false, fallback: Some("render failed"), ..facts(Some(&a)) };
        assert_eq!(decide(&f, now()), Decision::None);
    }

    #[test]
    fn a_failed_sync_waits_out_its_backoff_then_retries() {
        let a = auto(false, false);
        // Default policy: 5 s after the first failure, 10 s after the second.
        let op = failed(2, "2026-01-01T10:00:05Z");
        let f = Facts { applied: false, operation: Some(&op), ..facts(Some(&a)) };
        assert_eq!(decide(&f, now()), Decision::Wait(Duration::from_secs(5)));
        let op = failed(1, "2026-01-01T10:00:00Z");
        let f = Facts { applied: false, operation: Some(&op), ..facts(Some(&a)) };
        assert_eq!(decide(&f, now()), Decision::Sync(SyncKind::Auto));
    }

    #[test]
    fn a_terminated_sync_is_not_retried_automatically() {
        let a = auto(false, false);
        let op = OperationState { terminated: true, ..failed(1, "2026-01-01T09:00:00Z") };
        let f = Facts { applied: false, operation: Some(&op), ..facts(Some(&a)) };
        let Decision::Refused { reason, .. } = decide(&f, now()) else { panic!() };
        assert_eq!(reason, "Terminated");
    }

    #[test]
    fn a_failed_sync_past_its_retry_limit_is_refused_with_the_cause() {
        let a = auto(false, false);
        let retry = Retry { limit: 1, backoff: None };
        let op = failed(2, "2026-01-01T10:00:00Z");
        let f =
            Facts { applied: false, operation: Some(&op), retry: Some(&retry), ..facts(Some(&a)) };
        let Decision::Refused { reason, message } = decide(&f, now()) else { panic!() };
        assert_eq!(reason, "RetryLimitReached");
        assert!(message.contains("failed 2 times") && message.contains("demo/web"), "{message}");
    }

    #[test]
    fn drift_is_healed_only_with_self_heal_and_not_before_the_next_heal_time() {
        let heal = auto(true, false);
        let f = Facts { out_of_sync: true, ..facts(Some(&heal)) };
        assert_eq!(decide(&f, now()), Decision::Sync(SyncKind::Heal));
        let t = now();
        let f = Facts { next_heal: Some(t.instant + Duration::from_secs(4)), ..f };
        assert_eq!(decide(&f, t), Decision::Wait(Duration::from_secs(4)));
        let no_heal = auto(false, false);
        let f = Facts { out_of_sync: true, ..facts(Some(&no_heal)) };
        assert_eq!(decide(&f, now()), Decision::None);
    }

    #[test]
    fn drift_is_healed_from_the_last_good_render_while_git_is_unreachable() {
        let heal = auto(true, true);
        let f = Facts { out_of_sync: true, fallback: Some("git down"), ..facts(Some(&heal)) };
        assert_eq!(decide(&f, now()), Decision::Sync(SyncKind::Heal));
    }

    #[test]
    fn a_sync_that_would_take_over_another_apps_object_fails_when_the_app_asks_so() {
        let a = auto(false, false);
        let f = Facts { applied: false, fail_on_shared: true, ..facts(Some(&a)) };
        let Decision::Refused { reason, .. } = decide(&f, now()) else { panic!() };
        assert_eq!(reason, "SharedResource");
        let f = Facts { fail_on_shared: true, ..facts(Some(&a)) };
        assert_eq!(decide(&f, now()), Decision::None);
    }

    #[test]
    fn extraneous_objects_are_pruned_only_with_prune_and_never_from_the_last_good_render() {
        let prune = auto(false, true);
        let f = Facts { extraneous: true, ..facts(Some(&prune)) };
        assert_eq!(decide(&f, now()), Decision::Sync(SyncKind::Auto));
        let f = Facts { fallback: Some("git down"), ..f };
        assert_eq!(decide(&f, now()), Decision::None);
        let keep = auto(false, false);
        let f = Facts { extraneous: true, ..facts(Some(&keep)) };
        assert_eq!(decide(&f, now()), Decision::None);
    }

    fn closed(manual: bool) -> WindowVerdict {
        WindowVerdict {
            automated: false,
            manual,
            closed_by: Some("deny window \"0 22 * * *\" for 8h (UTC) is active".into()),
            opens_at: Some("2026-01-01T10:05:10Z".parse().unwrap()),
            ..Default::default()
        }
    }

    #[test]
    fn a_new_revision_awaiting_approval_is_held_but_its_drift_heal_and_dry_runs_are_not() {
        let a = auto(true, false);
        let gate = Gate { awaiting_approval: true, ..Default::default() };
        let f = Facts { applied: false, gate, ..facts(Some(&a)) };
        let Decision::Held { reason, recheck, .. } = decide(&f, now()) else { panic!() };
        assert_eq!((reason, recheck), ("AwaitingApproval", None));
        let req = SyncRequest { dry_run: true, ..Default::default() };
        let f = Facts { request: Some(&req), ..f };
        assert!(matches!(decide(&f, now()), Decision::Sync(SyncKind::Manual { .. })));
        let f = Facts { forced: true, applied: false, gate, ..facts(Some(&a)) };
        assert_eq!(decide(&f, now()), Decision::Sync(SyncKind::Auto), "a rollback needs none");
    }

    #[test]
    fn a_closed_window_holds_automated_syncs_until_it_opens_and_says_when() {
        let a = auto(true, false);
        let window = closed(false);
        let gate = Gate { window: &window, awaiting_approval: false, dependency: None };
        let f = Facts { applied: false, gate, ..facts(Some(&a)) };
        let Decision::Held { reason, message, recheck } = decide(&f, now()) else { panic!() };
        assert_eq!(reason, "SyncWindowClosed");
        assert_eq!(recheck, Some(Duration::from_secs(300)));
        assert!(message.contains("opens at 2026-01-01T10:05:10Z"), "{message}");
        let f = Facts { out_of_sync: true, gate, ..facts(Some(&a)) };
        assert!(matches!(decide(&f, now()), Decision::Held { .. }), "self-heal waits too");
    }

    #[test]
    fn a_manual_sync_passes_a_closed_window_only_when_it_allows_manual_syncs() {
        let req = SyncRequest::default();
        let shut = closed(false);
        let f = Facts {
            request: Some(&req),
            gate: Gate { window: &shut, awaiting_approval: false, dependency: None },
            ..facts(None)
        };
        let Decision::Held { message, recheck, .. } = decide(&f, now()) else { panic!() };
        assert!(message.contains("manualSync: false") && recheck.is_none(), "{message}");
        let manual = closed(true);
        let f = Facts {
            gate: Gate { window: &manual, awaiting_approval: false, dependency: None },
            ..f
        };
        assert!(matches!(decide(&f, now()), Decision::Sync(SyncKind::Manual { .. })));
    }

    #[test]
    fn an_app_waiting_for_its_dependencies_syncs_nothing_not_even_on_request_or_rollback() {
        let a = auto(true, true);
        let gate = Gate { dependency: Some("waiting for app ferry/db"), ..Default::default() };
        let req = SyncRequest::default();
        let cases = [
            Facts { applied: false, gate, ..facts(Some(&a)) },
            Facts { out_of_sync: true, gate, ..facts(Some(&a)) },
            Facts { request: Some(&req), gate, ..facts(None) },
            Facts { forced: true, gate, ..facts(None) },
        ];
        for f in cases {
            let Decision::Held { reason, message, .. } = decide(&f, now()) else { panic!() };
            assert_eq!(reason, "DependsOn");
            assert!(message.contains("app ferry/db"), "{message}");
        }
        let dry = SyncRequest { dry_run: true, ..Default::default() };
        let f = Facts { request: Some(&dry), gate, ..facts(None) };
        assert!(matches!(decide(&f, now()), Decision::Sync(_)), "a dry run changes nothing");
    }
}
