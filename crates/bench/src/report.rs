//! A scenario's outcome as data, rendered as a table for people or JSON for machines.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;
use serde_json::Value;

/// Where the numbers were measured.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub memory_gib: f64,
    pub kernel: String,
    /// Build profile of the measuring binary (`release` for published numbers).
    pub profile: String,
    /// How fast one core was when the scenario started: the best of three SHA-256 passes over
    /// 64 MiB, in milliseconds (release builds only). The machine is shared and its speed varies
    /// over a day by 2x; two runs' absolute numbers compare only at similar probes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe_ms: Option<f64>,
}

impl Machine {
    pub fn describe() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
            .unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let mem_kib = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_owned();
        Self {
            cpus: std::thread::available_parallelism().map(usize::from).unwrap_or(1),
            cpu_model,
            memory_gib: crate::measure::round(mem_kib / 1024.0 / 1024.0),
            kernel,
            profile: if cfg!(debug_assertions) { "debug" } else { "release" }.to_owned(),
            probe_ms: (!cfg!(debug_assertions)).then(probe),
        }
    }
}

/// The best of three SHA-256 passes over 64 MiB, in ms: a fixed single-core workload whose time
/// follows the machine's speed (clock, contention by other guests), not Ferry's code.
fn probe() -> f64 {
    use sha2::{Digest, Sha256};
    let block = vec![0x5au8; 1 << 20];
    let best = (0..3)
        .map(|_| {
            let started = std::time::Instant::now();
            let mut hasher = Sha256::new();
            for _ in 0..64 {
                hasher.update(&block);
            }
            std::hint::black_box(hasher.finalize());
            started.elapsed()
        })
        .min()
        .unwrap_or_default();
    crate::measure::round(best.as_secs_f64() * 1000.0)
}

/// One scenario's results: `{"scenario", "commit", "machine", "results", "ratios"}`.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub scenario: String,
    /// The Ferry commit measured (`git rev-parse --short HEAD`, or `unknown`).
    pub commit: String,
    pub machine: Machine,
    /// UTC time the scenario finished.
    pub date: String,
    pub quick: bool,
    /// Named results; nested objects group the engine's numbers apart from the cluster's.
    pub results: BTreeMap<String, Value>,
    /// Other tool's time / Ferry's time (above 1: Ferry is faster).
    pub ratios: BTreeMap<String, f64>,
    /// Caveats a reader needs to read the numbers right.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Report {
    pub fn new(scenario: &str, quick: bool) -> Self {
        Self {
            scenario: scenario.to_owned(),
            commit: String::new(),
            machine: Machine::describe(),
            date: String::new(),
            quick,
            results: BTreeMap::new(),
            ratios: BTreeMap::new(),
            notes: Vec::new(),
        }
    }

    pub fn set(&mut self, key: &str, value: impl Into<Value>) {
        self.results.insert(key.to_owned(), value.into());
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// A ratio other / ferry, rounded to two decimals; skipped when Ferry's time is zero.
    pub fn ratio(&mut self, key: &str, other_secs: f64, ferry_secs: f64) {
        if ferry_secs > 0.0 {
            self.ratios.insert(key.to_owned(), (other_secs / ferry_secs * 100.0).round() / 100.0);
        }
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Two columns, results flattened with dotted keys, then ratios and notes.
    pub fn table(&self) -> String {
        let mut rows: Vec<(String, String)> = Vec::new();
        for (k, v) in &self.results {
            flatten(k, v, &mut rows);
        }
        for (k, v) in &self.ratios {
            rows.push((format!("ratio {k} (other/ferry)"), format!("{v:.2}")));
        }
        let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        let mut out = String::new();
        let mode = if self.quick { " (quick)" } else { "" };
        let _ = writeln!(
            out,
            "{}{mode} · commit {} · {} · {} CPUs · {}{}",
            self.scenario,
            self.commit,
            self.date,
            self.machine.cpus,
            self.machine.profile,
            self.machine.probe_ms.map(|ms| format!(" · probe {ms} ms")).unwrap_or_default()
        );
        for (k, v) in rows {
            let _ = writeln!(out, "  {k:<width$}  {v}");
        }
        for n in &self.notes {
            let _ = writeln!(out, "  note: {n}");
        }
        out
    }
}

fn flatten(prefix: &str, v: &Value, rows: &mut Vec<(String, String)>) {
    match v {
        Value::Object(map) => {
            for (k, inner) in map {
                flatten(&format!("{prefix}.{k}"), inner, rows);
            }
        }
        Value::String(s) => rows.push((prefix.to_owned(), s.clone())),
        other => rows.push((prefix.to_owned(), other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_has_the_fields_the_issue_names_and_a_readable_table() {
        let mut r = Report::new("apply-vs-kubectl", true);
        r.set("ferry", serde_json::json!({"apply_s": 0.5}));
        r.ratio("kubectl-apply", 1.5, 0.5);
        r.ratio("kpt-apply", 1.0, 0.0);
        let json = r.to_json();
        for key in ["scenario", "commit", "machine", "results", "ratios"] {
            assert!(json.get(key).is_some(), "missing {key} in {json}");
        }
        assert_eq!(json["ratios"]["kubectl-apply"], 3.0);
        assert!(json["ratios"].get("kpt-apply").is_none(), "a ratio over zero is skipped");
        let table = r.table();
        assert!(table.contains("ferry.apply_s") && table.contains("3.00"), "{table}");
    }
}
