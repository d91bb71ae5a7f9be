//! The delivery log: the last deliveries in memory (a ring), for the API and `ferry notify log`.
//! Entries hold no secret: errors are masked before they are written.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

/// Entries kept by default.
pub const DEFAULT_CAPACITY: usize = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The sink accepted it.
    Delivered,
    /// Sent and refused, or given up after retries.
    Failed,
    /// Never sent: a template, subscription or payload error.
    Error,
    /// Never sent: the queue was full.
    Dropped,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Error => "error",
            Self::Dropped => "dropped",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    /// RFC 3339.
    pub at: String,
    /// `namespace/name`.
    pub app: String,
    pub trigger: String,
    pub service: String,
    pub service_type: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub recipient: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub revision: String,
    pub outcome: Option<Outcome>,
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
    /// From queueing to the last answer.
    pub latency_ms: u64,
}

#[derive(Clone, Debug)]
pub struct DeliveryLog {
    ring: Arc<Mutex<VecDeque<LogEntry>>>,
    capacity: usize,
}

impl Default for DeliveryLog {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl DeliveryLog {
    pub fn new(capacity: usize) -> Self {
        Self { ring: Arc::default(), capacity: capacity.max(1) }
    }

    pub fn push(&self, entry: LogEntry) {
        let mut ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        if ring.len() >= self.capacity {
            ring.pop_front();
        }
        ring.push_back(entry);
    }

    /// The entries, oldest first.
    pub fn entries(&self) -> Vec<LogEntry> {
        self.ring.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_keeps_the_newest_entries() {
        let log = DeliveryLog::new(2);
        for app in ["a", "b", "c"] {
            log.push(LogEntry { app: app.into(), ..Default::default() });
        }
        let apps: Vec<String> = log.entries().into_iter().map(|e| e.app).collect();
        assert_eq!(apps, ["b", "c"]);
    }
}
