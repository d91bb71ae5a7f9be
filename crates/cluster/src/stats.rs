//! Request counters by verb, resource and code, readable in-process and at `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// The verbs the API server reports (`apiserver_request_total{verb=…}`).
pub const WRITE_VERBS: &[&str] = &["POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION"];

/// A snapshot of the request counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestStats {
    /// (verb, resource, code) → number of requests.
    pub counts: BTreeMap<(String, String, u16), u64>,
}

impl RequestStats {
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    /// Requests with this verb (`GET`, `LIST`, `WATCH`, `APPLY`, `PATCH`, …).
    pub fn verb(&self, verb: &str) -> u64 {
        self.counts.iter().filter(|((v, _, _), _)| v == verb).map(|(_, n)| n).sum()
    }

    /// Requests on this resource (plural, with `.group` for non-core groups, e.g. `deployments.apps`).
    pub fn resource(&self, resource: &str) -> u64 {
        self.counts.iter().filter(|((_, r, _), _)| r == resource).map(|(_, n)| n).sum()
    }

    /// Requests that could change state (create, update, patch, apply, delete), dry runs included.
    pub fn writes(&self) -> u64 {
        self.counts
            .iter()
            .filter(|((v, _, _), _)| WRITE_VERBS.contains(&v.as_str()))
            .map(|(_, n)| n)
            .sum()
    }

    /// The difference `self - earlier`, to count what happened in between.
    pub fn since(&self, earlier: &RequestStats) -> RequestStats {
        let mut counts = BTreeMap::new();
        for (k, n) in &self.counts {
            let before = earlier.counts.get(k).copied().unwrap_or(0);
            if *n > before {
                counts.insert(k.clone(), n - before);
            }
        }
        RequestStats { counts }
    }
}

#[derive(Debug, Default)]
pub struct Stats {
    counts: Mutex<BTreeMap<(String, String, u16), u64>>,
}

impl Stats {
    pub fn record(&self, verb: &str, resource: &str, code: u16) {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        *c.entry((verb.to_string(), resource.to_string(), code)).or_default() += 1;
    }

    pub fn snapshot(&self) -> RequestStats {
        RequestStats { counts: self.counts.lock().unwrap_or_else(|e| e.into_inner()).clone() }
    }

    /// Prometheus text exposition of the counters plus the object count.
    pub fn render(&self, objects: usize) -> String {
        let snap = self.snapshot();
        let mut out = String::new();
        out.push_str("# HELP apiserver_request_total Counter of apiserver requests broken out by verb, resource and HTTP response code.\n");
        out.push_str("# TYPE apiserver_request_total counter\n");
        for ((verb, resource, code), n) in &snap.counts {
            let _ = writeln!(
                out,
                "apiserver_request_total{{code=\"{code}\",resource=\"{resource}\",verb=\"{verb}\"}} {n}"
            );
        }
        out.push_str("# HELP apiserver_storage_objects Number of stored objects.\n# TYPE apiserver_storage_objects gauge\n");
        let _ = writeln!(out, "apiserver_storage_objects {objects}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_count_every_mutating_verb_and_nothing_else() {
        let s = Stats::default();
        s.record("GET", "pods", 200);
        s.record("LIST", "pods", 200);
        s.record("APPLY", "deployments.apps", 200);
        s.record("DELETE", "pods", 404);
        let snap = s.snapshot();
        assert_eq!(snap.writes(), 2);
        assert_eq!(snap.resource("pods"), 3);
        assert!(
            s.render(0).contains(
                "apiserver_request_total{code=\"404\",resource=\"pods\",verb=\"DELETE\"} 1"
            )
        );
    }
}
