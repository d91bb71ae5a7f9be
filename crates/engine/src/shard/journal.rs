//! A record of who reconciled which app when: the evidence that no app was reconciled by two
//! replicas at once. Kept in memory and, when a path is given, appended to a JSON-lines file
//! (one object per reconcile), so replicas in separate processes can be compared afterwards.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

/// One reconcile: the app, the replica, and its start and end (wall clock, µs since the epoch).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub app: String,
    pub replica: String,
    pub start_us: i64,
    pub end_us: i64,
}

/// Two reconciles of one app by two replicas that overlapped in time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Overlap {
    pub first: Span,
    pub second: Span,
}

#[derive(Clone, Default)]
pub struct Journal {
    spans: Arc<Mutex<Vec<Span>>>,
    file: Option<Arc<Mutex<std::fs::File>>>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").field("file", &self.file.is_some()).finish()
    }
}

impl Journal {
    /// A journal that also appends each reconcile to `path` (created if absent).
    pub fn to_file(path: &Path) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self { spans: Arc::default(), file: Some(Arc::new(Mutex::new(file))) })
    }

    pub fn record(&self, span: Span) {
        if let Some(file) = &self.file {
            let line = serde_json::to_string(&span).expect("a span serializes");
            let mut file = file.lock().unwrap_or_else(|p| p.into_inner());
            if let Err(e) = writeln!(file, "{line}") {
                tracing::warn!(error = %e, "cannot append to the reconcile journal");
            }
        } else {
            self.spans.lock().unwrap_or_else(|p| p.into_inner()).push(span);
        }
    }

    /// What was recorded in memory (a journal writing to a file keeps nothing in memory).
    pub fn spans(&self) -> Vec<Span> {
        self.spans.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Reads a journal file back (lines that do not parse, e.g. one cut short by a killed
/// process, are skipped).
pub fn read(path: &Path) -> std::io::Result<Vec<Span>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect())
}

/// The pairs of reconciles of one app by two different replicas whose intervals intersect.
pub fn overlaps(spans: &[Span]) -> Vec<Overlap> {
    let mut by_app: BTreeMap<&str, Vec<&Span>> = BTreeMap::new();
    for span in spans {
        by_app.entry(&span.app).or_default().push(span);
    }
    let mut found = Vec::new();
    for mut list in by_app.into_values() {
        list.sort_by_key(|s| s.start_us);
        // The latest-ending span so far: any later span starting before it ends overlaps it.
        let mut reach: Option<&Span> = None;
        for span in list {
            if let Some(prev) = reach
                && span.start_us < prev.end_us
                && span.replica != prev.replica
            {
                found.push(Overlap { first: prev.clone(), second: span.clone() });
            }
            if reach.is_none_or(|r| span.end_us > r.end_us) {
                reach = Some(span);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(app: &str, replica: &str, start_us: i64, end_us: i64) -> Span {
        Span { app: app.into(), replica: replica.into(), start_us, end_us }
    }

    #[test]
    fn reconciles_of_one_app_by_two_replicas_at_once_are_overlaps() {
        let spans = [
            span("a", "r1", 0, 10),
            span("a", "r2", 10, 20),
            span("b", "r1", 0, 10),
            span("b", "r2", 5, 8),
            span("c", "r1", 0, 10),
            span("c", "r1", 5, 20),
        ];
        let found = overlaps(&spans);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].second, span("b", "r2", 5, 8));
    }

    #[test]
    fn a_journal_file_reads_back_what_was_recorded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("journal.jsonl");
        let journal = Journal::to_file(&path).expect("open");
        journal.record(span("a", "r1", 1, 2));
        journal.record(span("b", "r2", 3, 4));
        assert_eq!(read(&path).expect("read"), vec![span("a", "r1", 1, 2), span("b", "r2", 3, 4)]);
    }
}
