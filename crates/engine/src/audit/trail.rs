//! Where records go: an in-memory ring (what `GET /api/v1/audit` answers from) and, when
//! configured, a JSON-lines log (a file rotated by size, or stdout).

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::query::AuditQuery;
use super::record::AuditRecord;

/// Records kept in memory for the API (the log file keeps them all).
pub const DEFAULT_RING_SIZE: usize = 10_000;
/// A log file is rotated when it would grow past this.
pub const DEFAULT_MAX_LOG_BYTES: u64 = 50 << 20;
/// Rotated files kept (`audit.log.1` … `audit.log.N`).
pub const DEFAULT_KEEP_FILES: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum TrailError {
    #[error("cannot open the audit log {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Where the JSON log goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogTarget {
    Stdout,
    File { path: PathBuf, max_bytes: u64, keep: usize },
}

impl LogTarget {
    /// `-` is stdout; anything else a file rotated at the default size.
    pub fn parse(raw: &str) -> Self {
        match raw {
            "-" => LogTarget::Stdout,
            path => LogTarget::File {
                path: PathBuf::from(path),
                max_bytes: DEFAULT_MAX_LOG_BYTES,
                keep: DEFAULT_KEEP_FILES,
            },
        }
    }
}

/// The audit trail. Cheap to clone; every clone writes to the same ring and log.
#[derive(Clone)]
pub struct AuditTrail {
    inner: Arc<Inner>,
}

struct Inner {
    ring: Mutex<VecDeque<AuditRecord>>,
    capacity: usize,
    log: Option<Mutex<Log>>,
}

impl std::fmt::Debug for AuditTrail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let log = self
            .inner
            .log
            .as_ref()
            .map(|l| l.lock().unwrap_or_else(|p| p.into_inner()).target.clone());
        f.debug_struct("AuditTrail")
            .field("capacity", &self.inner.capacity)
            .field("log", &log)
            .finish()
    }
}

impl Default for AuditTrail {
    fn default() -> Self {
        Self::in_memory(DEFAULT_RING_SIZE)
    }
}

impl AuditTrail {
    /// A trail that keeps the last `capacity` records in memory only.
    pub fn in_memory(capacity: usize) -> Self {
        let inner = Inner { ring: Mutex::default(), capacity: capacity.max(1), log: None };
        Self { inner: Arc::new(inner) }
    }

    /// A trail that also writes each record as one JSON line to `target`.
    pub fn with_log(capacity: usize, target: LogTarget) -> Result<Self, TrailError> {
        let log = Log::open(target)?;
        let inner =
            Inner { ring: Mutex::default(), capacity: capacity.max(1), log: Some(Mutex::new(log)) };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// Keeps `record`, and logs it. A log write that fails is reported on stderr's log and
    /// never stops the act being recorded (the ring still has it).
    pub fn record(&self, record: AuditRecord) {
        if let Some(log) = &self.inner.log {
            let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
            if let Err(e) = log.write(&record) {
                tracing::warn!(error = %e, "cannot write the audit log; the record is kept in memory only");
            }
        }
        let mut ring = self.inner.ring.lock().unwrap_or_else(|p| p.into_inner());
        if ring.len() == self.inner.capacity {
            ring.pop_front();
        }
        ring.push_back(record);
    }

    /// The records that match `query`, oldest first, at most `query.limit` (the newest ones).
    pub fn query(&self, query: &AuditQuery) -> Vec<AuditRecord> {
        let ring = self.inner.ring.lock().unwrap_or_else(|p| p.into_inner());
        let mut found: Vec<AuditRecord> =
            ring.iter().rev().filter(|r| query.matches(r)).take(query.limit).cloned().collect();
        found.reverse();
        found
    }
}

/// The JSON-lines log. Rotation is hand-written (a rename chain, a dozen lines) because
/// `tracing-appender` rotates by time only and a size-rotating crate would be a dependency for
/// less code than its configuration.
struct Log {
    target: LogTarget,
    file: Option<std::fs::File>,
    size: u64,
}

impl Log {
    fn open(target: LogTarget) -> Result<Self, TrailError> {
        let (file, size) = match &target {
            LogTarget::Stdout => (None, 0),
            LogTarget::File { path, .. } => {
                let file = append(path)?;
                let size = file.metadata().map(|m| m.len()).unwrap_or(0);
                (Some(file), size)
            }
        };
        Ok(Self { target, file, size })
    }

    fn write(&mut self, record: &AuditRecord) -> Result<(), TrailError> {
        let mut line = serde_json::to_string(record).expect("an audit record serializes");
        line.push('\n');
        let LogTarget::File { path, max_bytes, keep } = self.target.clone() else {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(line.as_bytes()).and_then(|()| out.flush());
            return Ok(());
        };
        if self.size > 0 && self.size + line.len() as u64 > max_bytes {
            self.file = None;
            rotate(&path, keep);
            self.file = Some(append(&path)?);
            self.size = 0;
        }
        let file = match self.file.as_mut() {
            Some(f) => f,
            None => self.file.insert(append(&path)?),
        };
        file.write_all(line.as_bytes())
            .map_err(|source| TrailError::Open { path: path.clone(), source })?;
        self.size += line.len() as u64;
        Ok(())
    }
}

/// The log is created 0600: it names users and addresses.
fn append(path: &Path) -> Result<std::fs::File, TrailError> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(|source| TrailError::Open { path: path.to_owned(), source })
}

/// `log` → `log.1` → … → `log.keep` (the oldest dropped).
fn rotate(path: &Path, keep: usize) {
    let numbered = |n: usize| PathBuf::from(format!("{}.{n}", path.display()));
    let _ = std::fs::remove_file(numbered(keep.max(1)));
    for n in (1..keep.max(1)).rev() {
        let _ = std::fs::rename(numbered(n), numbered(n + 1));
    }
    let _ = std::fs::rename(path, numbered(1));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::record::{Actor, Outcome, RecordKind};

    /// A record of a fixed length: the time is fixed too (a timestamp's fraction has as many
    /// digits as it needs, so "now" varies the length the rotation test counts on).
    fn record(n: usize) -> AuditRecord {
        let actor = Actor { user: format!("user-{n}"), via: "token".into(), ..Default::default() };
        let mut record = AuditRecord::new(RecordKind::Api, "sync", actor, Outcome::Allowed);
        record.time = "2026-12-06T10:00:00.123456789Z".into();
        record
    }

    #[test]
    fn the_ring_keeps_the_newest_records_and_a_query_returns_them_oldest_first() {
        let trail = AuditTrail::in_memory(3);
        for n in 0..5 {
            trail.record(record(n));
        }
        let users: Vec<String> =
            trail.query(&AuditQuery::default()).into_iter().map(|r| r.actor.user).collect();
        assert_eq!(users, ["user-2", "user-3", "user-4"]);
        let last = AuditQuery { limit: 1, ..Default::default() };
        assert_eq!(trail.query(&last)[0].actor.user, "user-4");
    }

    #[test]
    fn the_log_is_json_lines_rotated_by_size_keeping_n_files_and_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("audit.log");
        let line = serde_json::to_string(&record(0)).expect("serializes").len() as u64 + 1;
        let target = LogTarget::File { path: path.clone(), max_bytes: line * 2, keep: 2 };
        let trail = AuditTrail::with_log(10, target).expect("the log opens");
        for n in 0..7 {
            trail.record(record(n));
        }
        let read = |p: &Path| -> Vec<String> {
            std::fs::read_to_string(p)
                .expect("readable")
                .lines()
                .map(|l| {
                    let r: AuditRecord = serde_json::from_str(l).expect("each line is a record");
                    r.actor.user
                })
                .collect()
        };
        assert_eq!(read(&path), ["user-6"]);
        assert_eq!(read(&dir.path().join("audit.log.1")), ["user-4", "user-5"]);
        assert_eq!(read(&dir.path().join("audit.log.2")), ["user-2", "user-3"]);
        assert!(!dir.path().join("audit.log.3").exists(), "only `keep` rotated files stay");
        let mode = std::fs::metadata(&path).expect("exists").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
