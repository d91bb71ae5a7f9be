//! `ferry_notifications_delivered_total{service,trigger,outcome}` and
//! `ferry_notification_delivery_seconds{service}` (queueing to last answer).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeliveryLabels {
    pub service: String,
    pub trigger: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ServiceLabel {
    pub service: String,
}

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 18))
}

#[derive(Clone)]
pub struct NotifyMetrics {
    pub delivered: Family<DeliveryLabels, Counter>,
    pub latency: Family<ServiceLabel, Histogram, fn() -> Histogram>,
}

impl std::fmt::Debug for NotifyMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NotifyMetrics")
    }
}

impl Default for NotifyMetrics {
    /// Metrics registered nowhere (tests, the CLI's one-off sends).
    fn default() -> Self {
        Self {
            delivered: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
        }
    }
}

impl NotifyMetrics {
    pub fn new(registry: &mut Registry) -> Self {
        let m = Self::default();
        let r = registry.sub_registry_with_prefix("ferry");
        r.register(
            "notifications_delivered",
            "Notifications by service, trigger and outcome (delivered, failed, error, dropped)",
            m.delivered.clone(),
        );
        r.register(
            "notification_delivery_seconds",
            "Time from queueing a notification to the sink's last answer",
            m.latency.clone(),
        );
        m
    }

    pub fn count(&self, service: &str, trigger: &str, outcome: &str) {
        let labels = DeliveryLabels {
            service: service.to_owned(),
            trigger: trigger.to_owned(),
            outcome: outcome.to_owned(),
        };
        self.delivered.get_or_create(&labels).inc();
    }

    pub fn observe(&self, service: &str, seconds: f64) {
        self.latency.get_or_create(&ServiceLabel { service: service.to_owned() }).observe(seconds);
    }
}
