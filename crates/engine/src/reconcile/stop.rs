//! How a reconcile stops on an error: one [`Stop`] value says which stage, why and what to do
//! next, and [`record`] is the one place that turns it into a condition, a metric, a log line
//! (once per change of error) and a retry with backoff. Nothing is applied or pruned after a
//! stop: that is the caller's guarantee, and every message says so.

use std::time::Duration;

use crate::application::SyncStatusCode;
use crate::metrics::StageLabel;

use super::cycle::Cycle;

/// The pipeline stage a reconcile stopped in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Destination,
    /// The app's project is missing or refuses the app or one of its objects.
    Project,
    /// The destination cluster cannot be used: its Secret is wrong or it does not answer.
    Cluster,
    Source,
    Render,
    Watch,
    Sync,
    Delete,
}

impl Stage {
    /// The condition a stop in this stage sets, and the status it gets.
    fn condition(self) -> (&'static str, bool) {
        match self {
            Stage::Destination => ("DestinationReady", false),
            Stage::Project => ("ProjectPermitted", false),
            Stage::Cluster => ("ClusterReady", false),
            Stage::Source => ("SourceReady", false),
            Stage::Render => ("RenderReady", false),
            Stage::Watch => ("Synced", false),
            Stage::Sync => ("SyncFailed", true),
            Stage::Delete => ("DeletionBlocked", true),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Stage::Destination => "destination",
            Stage::Project => "project",
            Stage::Cluster => "cluster",
            Stage::Source => "source",
            Stage::Render => "render",
            Stage::Watch => "watch",
            Stage::Sync => "sync",
            Stage::Delete => "delete",
        }
    }

    /// Whether the app's objects were compared with Git before a stop in this stage.
    fn compared(self) -> bool {
        matches!(self, Stage::Sync | Stage::Delete)
    }
}

/// When to try again after a stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Only when the Application or Git changes: trying again would fail the same way.
    OnChange,
    /// With exponential backoff and jitter from this first delay (up to [`MAX_BACKOFF`]).
    Backoff(Duration),
}

/// The longest wait between retries of a failing reconcile.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stop {
    pub stage: Stage,
    pub reason: &'static str,
    /// What happened and why, naming the object, file or repository.
    pub message: String,
    /// What to do about it, when the user has something to do.
    pub hint: Option<String>,
    pub retry: Retry,
    /// The longest wait between retries ([`MAX_BACKOFF`] unless said otherwise).
    pub max_backoff: Duration,
}

impl Stop {
    pub fn new(stage: Stage, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            stage,
            reason,
            message: message.into(),
            hint: None,
            retry: Retry::OnChange,
            max_backoff: MAX_BACKOFF,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn backoff(mut self, first: Duration) -> Self {
        self.retry = Retry::Backoff(first);
        self
    }

    /// Retries at most `max` apart (for a cause that may end any moment, as a cluster coming back).
    pub fn max_backoff(mut self, max: Duration) -> Self {
        self.max_backoff = max;
        self
    }
}

/// The delay before retry number `attempt` (1-based): `first` doubled per attempt up to
/// [`MAX_BACKOFF`], scaled by `1 ± 10%` (`unit` in `[0, 1)`) so apps failing together do not
/// retry together.
pub fn backoff(first: Duration, attempt: u32, unit: f64) -> Duration {
    let exp = attempt.saturating_sub(1).min(20);
    let base = first.saturating_mul(2u32.saturating_pow(exp)).min(MAX_BACKOFF);
    base.mul_f64(0.9 + 0.2 * unit.clamp(0.0, 1.0)).min(MAX_BACKOFF)
}

/// The condition message of a stop: what happened, that nothing was changed, what comes next.
pub fn message(stop: &Stop, next: Option<Duration>, attempt: u32) -> String {
    let then = match next {
        Some(d) => format!("Ferry retries in {}s (attempt {attempt})", d.as_secs().max(1)),
        None if matches!(stop.stage, Stage::Destination | Stage::Cluster) => {
            "Ferry tries again when the Application or a cluster Secret changes".to_owned()
        }
        None if stop.stage == Stage::Project => {
            "Ferry tries again when the Application, its project or Git changes".to_owned()
        }
        None => "Ferry tries again when the Application or Git changes".to_owned(),
    };
    let hint = stop.hint.as_deref().map(|h| format!(" {h}.")).unwrap_or_default();
    let nothing = match stop.stage {
        Stage::Delete => "",
        _ => " Nothing in the cluster was changed or pruned.",
    };
    format!("{}.{nothing}{hint} {then}.", stop.message.trim_end_matches('.'))
}

/// Records a stop on the cycle: condition, metric, one log line per change of error, the sync
/// status (Unknown when nothing was compared), and when to come back.
pub(crate) fn record(cy: &mut Cycle<'_>, stop: &Stop) {
    cy.inner.metrics.errors.get_or_create(&StageLabel { stage: stop.stage.label().into() }).inc();
    cy.mem.failures = cy.mem.failures.saturating_add(1);
    let next = match stop.retry {
        Retry::OnChange => None,
        Retry::Backoff(first) => {
            Some(backoff(first, cy.mem.failures, fastrand::f64()).min(stop.max_backoff))
        }
    };
    if cy.mem.last_error.as_deref() != Some(stop.message.as_str()) {
        tracing::warn!(app = %cy.id, stage = stop.stage.label(), reason = stop.reason, error = %stop.message, "reconcile stopped");
        cy.mem.last_error = Some(stop.message.clone());
    }
    let (type_, status) = stop.stage.condition();
    cy.set(type_, status, stop.reason, message(stop, next, cy.mem.failures));
    if !stop.stage.compared() {
        cy.status.sync.status = SyncStatusCode::Unknown;
    }
    if stop.stage == Stage::Cluster {
        // The live objects cannot be seen: their health is not known either.
        cy.status.health = crate::application::AppHealth {
            status: ferry_health::HealthStatus::Unknown,
            message: stop.message.clone(),
        };
    }
    cy.requeue(next);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_first_delay_up_to_the_cap() {
        let secs: Vec<u64> =
            (1..=9).map(|n| backoff(Duration::from_secs(5), n, 0.5).as_secs()).collect();
        assert_eq!(secs, vec![5, 10, 20, 40, 80, 160, 300, 300, 300]);
    }

    #[test]
    fn backoff_jitter_stays_within_ten_percent_and_under_the_cap() {
        let low = backoff(Duration::from_secs(10), 1, 0.0);
        let high = backoff(Duration::from_secs(10), 1, 1.0);
        assert_eq!(low, Duration::from_secs(9));
        assert_eq!(high, Duration::from_secs(11));
        assert_eq!(backoff(Duration::from_secs(10), 1_000, 1.0), MAX_BACKOFF);
    }

    #[test]
    fn a_stop_message_says_what_happened_that_nothing_changed_and_when_it_retries() {
        let stop = Stop::new(Stage::Source, "FetchFailed", "cannot fetch \"main\" from git://h/r")
            .backoff(Duration::from_secs(5));
        assert_eq!(
            message(&stop, Some(Duration::from_secs(10)), 2),
            "cannot fetch \"main\" from git://h/r. Nothing in the cluster was changed or pruned. \
             Ferry retries in 10s (attempt 2)."
        );
        let stop = Stop::new(Stage::Render, "RenderFailed", "a.yaml:3: invalid YAML")
            .hint("Fix it in Git and commit");
        assert_eq!(
            message(&stop, None, 1),
            "a.yaml:3: invalid YAML. Nothing in the cluster was changed or pruned. Fix it in Git \
             and commit. Ferry tries again when the Application or Git changes."
        );
    }
}
