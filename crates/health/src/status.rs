//! The health vocabulary: an ordered status, a status with its reason, and the "worst wins" fold.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How healthy an object is, ordered from best to worst so that `max()` picks the worst.
///
/// The order is Argo CD's (gitops-engine `pkg/health/health.go`, `healthOrder`):
/// `Healthy < Suspended < Progressing < Missing < Degraded < Unknown`. `Unknown` is the worst
/// because it means "we could not judge" (a broken rule, an unreadable status): an application
/// must not look better than what we can prove. `Missing` ranks above `Progressing` because an
/// object that does not exist at all will not become healthy by waiting.
///
/// Serialized as Argo's strings (`"Healthy"`, `"Progressing"`, …) so `status.health.status` reads
/// the same as in Argo CD.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum HealthStatus {
    /// The object reached the state its spec asks for.
    Healthy,
    /// The object is paused or suspended on purpose (a paused Deployment, a suspended CronJob).
    Suspended,
    /// Not there yet, but still moving towards it.
    Progressing,
    /// The object does not exist in the cluster (decided by the caller, never by [`crate::assess`]).
    Missing,
    /// The object failed or cannot reach its desired state without help.
    Degraded,
    /// Health could not be judged (for example a custom rule failed to evaluate).
    Unknown,
}

impl HealthStatus {
    /// The Argo CD spelling, e.g. `"Progressing"`.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Healthy => "Healthy",
            HealthStatus::Suspended => "Suspended",
            HealthStatus::Progressing => "Progressing",
            HealthStatus::Missing => "Missing",
            HealthStatus::Degraded => "Degraded",
            HealthStatus::Unknown => "Unknown",
        }
    }
}

impl fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A health status with a message in plain words saying what was seen and why it matters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Health {
    pub status: HealthStatus,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

impl Health {
    pub fn new(status: HealthStatus, message: impl Into<String>) -> Self {
        Health { status, message: message.into() }
    }

    pub fn healthy(message: impl Into<String>) -> Self {
        Health::new(HealthStatus::Healthy, message)
    }

    pub fn suspended(message: impl Into<String>) -> Self {
        Health::new(HealthStatus::Suspended, message)
    }

    pub fn progressing(message: impl Into<String>) -> Self {
        Health::new(HealthStatus::Progressing, message)
    }

    /// For the caller that knows an object it expects is absent from the cluster.
    pub fn missing(message: impl Into<String>) -> Self {
        Health::new(HealthStatus::Missing, message)
    }

    pub fn degraded(message: impl Into<String>) -> Self {
        Health::new(HealthStatus::Degraded, message)
    }

    pub fn unknown(message: impl Into<String>) -> Self {
        Health::new(HealthStatus::Unknown, message)
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            write!(f, "{}", self.status)
        } else {
            write!(f, "{}: {}", self.status, self.message)
        }
    }
}

/// The worst of many healths; the first of equally bad ones wins (stable for a stable input order).
///
/// An empty input is `Healthy`: nothing to wait for. The message is the worst one's message.
pub fn aggregate(healths: impl IntoIterator<Item = Health>) -> Health {
    aggregate_named(healths.into_iter().map(|health| ("", health)))
}

/// Like [`aggregate`], for named objects: the message names the worst object (e.g.
/// `"Deployment default/web: 1 of 3 updated replicas are available"`) and counts the others in the
/// same state, so the application's status points at what to look at first.
pub fn aggregate_named<N: fmt::Display>(items: impl IntoIterator<Item = (N, Health)>) -> Health {
    let mut worst: Option<(String, Health)> = None;
    let mut same_status_count = 0usize;
    for (name, health) in items {
        match &worst {
            Some((_, current)) if health.status < current.status => {}
            Some((_, current)) if health.status == current.status => same_status_count += 1,
            _ => {
                worst = Some((name.to_string(), health));
                same_status_count = 0;
            }
        }
    }
    let Some((name, health)) = worst else {
        return Health::healthy("no resources to judge");
    };
    let named = !name.is_empty();
    if named && health.status == HealthStatus::Healthy {
        let total = same_status_count + 1;
        let noun = if total == 1 { "object is" } else { "objects are" };
        return Health::healthy(format!("all {total} {noun} Healthy"));
    }
    let mut message = match (named, health.message.is_empty()) {
        (false, _) => health.message,
        (true, true) => name,
        (true, false) => format!("{name}: {}", health.message),
    };
    if same_status_count > 0 && named {
        let others = if same_status_count == 1 { "object" } else { "objects" };
        message.push_str(&format!(" (and {same_status_count} more {others} {})", health.status));
    }
    Health::new(health.status, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_order_is_argo_cds_so_max_is_the_worst() {
        use HealthStatus::*;
        let ordered = [Healthy, Suspended, Progressing, Missing, Degraded, Unknown];
        assert!(ordered.windows(2).all(|pair| pair[0] < pair[1]));
        assert_eq!([Progressing, Unknown, Healthy].into_iter().max(), Some(Unknown));
    }

    #[test]
    fn statuses_serialize_as_argo_strings() {
        let json = serde_json::to_string(&Health::progressing("waiting")).expect("serializable");
        assert_eq!(json, r#"{"status":"Progressing","message":"waiting"}"#);
        let parsed: HealthStatus = serde_json::from_str(r#""Degraded""#).expect("an Argo string");
        assert_eq!(parsed, HealthStatus::Degraded);
    }

    #[test]
    fn the_worst_wins_and_the_first_of_equals_is_kept() {
        let health = aggregate([
            Health::healthy("fine"),
            Health::degraded("first failure"),
            Health::progressing("waiting"),
            Health::degraded("second failure"),
        ]);
        assert_eq!(health, Health::degraded("first failure"));
    }

    #[test]
    fn nothing_to_judge_is_healthy() {
        assert_eq!(aggregate([]).status, HealthStatus::Healthy);
    }

    #[test]
    fn a_named_aggregate_of_healthy_objects_says_all_are_healthy() {
        let health = aggregate_named([
            ("Service default/web", Health::healthy("")),
            ("ConfigMap default/web", Health::healthy("")),
        ]);
        assert_eq!(health, Health::healthy("all 2 objects are Healthy"));
    }

    #[test]
    fn a_named_aggregate_names_the_worst_object_and_counts_its_peers() {
        let health = aggregate_named([
            ("Service default/web", Health::healthy("")),
            (
                "Deployment default/web",
                Health::progressing("1 of 3 updated replicas are available"),
            ),
            ("Deployment default/api", Health::progressing("waiting")),
            ("StatefulSet default/db", Health::progressing("waiting")),
        ]);
        assert_eq!(health.status, HealthStatus::Progressing);
        assert_eq!(
            health.message,
            "Deployment default/web: 1 of 3 updated replicas are available (and 2 more objects Progressing)"
        );
    }
}
