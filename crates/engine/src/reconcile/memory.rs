//! What the engine remembers of an app between reconciles. Never the source of truth (the
//! Application's status is): it only saves work, and a restarted engine rebuilds it.

use std::sync::Arc;
use std::time::Instant;

use ferry_apply::tracking::AppId;
use ferry_diff::ObjectDiff;
use ferry_source::CommitId;
use serde_json::Value;

use crate::application::{Application, ApplicationStatus};
use crate::prepare::{PackedPrepared, Prepared};

#[derive(Clone, Default)]
pub struct AppMemory {
    /// The commit notifications named last (author and message read once per revision).
    pub commit: Option<ferry_notify::event::Commit>,
    /// What `targetRevision` resolved to last.
    pub head: Option<CommitId>,
    /// The commit rendered last, the spec generation and the source it was rendered for.
    pub rendered_for: Option<(CommitId, Option<i64>, String)>,
    /// The prepared render while a reconcile runs; between reconciles it is kept in `packed`
    /// (compact JSON) and this is empty.
    pub prepared: Prepared,
    pub packed: Option<PackedPrepared>,
    /// Counts the renders prepared, so checks of "the same objects" survive packing.
    pub epoch: u64,
    /// The `epoch` that `packed` holds.
    pub packed_epoch: u64,
    pub diffs: Vec<ObjectDiff>,
    /// What the last reconciles judged of each declared object, by live version.
    pub verdicts: super::verdicts::Verdicts,
    pub heal_attempts: u32,
    pub next_heal: Option<Instant>,
    pub degraded_since: Option<Instant>,
    /// The status written last (reconcile time left out), by digest: an unchanged status is
    /// not written again.
    pub last_written: Option<LastWritten>,
    /// The Application as the server returned it after our last status write. The watch cache
    /// may not have it yet when the next reconcile starts; reading the older copy would act on
    /// a request (rollback, unpin, sync) a second time.
    pub written: Option<Arc<Application>>,
    /// The status on the server was changed outside the final status write (a sync's Running
    /// state and planned inventory): the next status is written even if it equals the last one.
    pub must_write: bool,
    /// What the last render produced: its content hash and the spec generation it was for.
    pub content: Option<(String, Option<i64>)>,
    /// `content` as of the last successful sync. A new commit that renders the same content is
    /// already applied: nothing is synced again (a monorepo commit to one app leaves the others be).
    pub synced_content: Option<(String, Option<i64>)>,
    /// Reconciles in a row that stopped on an error (the exponent of the backoff).
    pub failures: u32,
    /// The last error logged, so a failure that repeats is logged once, not at every retry.
    pub last_error: Option<String>,
    /// The objects (by `epoch`), project (by resourceVersion) and
    /// destination the project's object check last passed for: unchanged, it is not run again,
    /// so a reconcile in which nothing changed checks nothing.
    pub admitted: Option<(u64, Option<String>, String)>,
}

/// What the engine keeps of the status it wrote last: enough to tell an unchanged status and to
/// clear fields that became empty, not the status itself (at 100 objects an app's status is
/// about 150 KB as a JSON tree).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastWritten {
    /// SHA-256 of the status's JSON.
    pub digest: [u8; 32],
    /// Its top-level fields.
    pub fields: Vec<String>,
}

impl LastWritten {
    pub fn of(status: &Value) -> Self {
        use sha2::Digest;
        let bytes = serde_json::to_vec(status).unwrap_or_default();
        let fields = status.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
        Self { digest: sha2::Sha256::digest(&bytes).into(), fields }
    }
}

impl AppMemory {
    /// Before a reconcile: the prepared render parsed back from its packed form. If it does not
    /// parse (it always should), the render is marked stale so that it runs again.
    pub(crate) fn unpack(&mut self) {
        if let Some(packed) = &self.packed {
            match packed.unpack() {
                Some(prepared) => self.prepared = prepared,
                None => {
                    self.packed = None;
                    self.rendered_for = None;
                }
            }
        }
    }

    /// After a reconcile: the prepared render packed (again only when it changed), the parsed
    /// form dropped.
    pub(crate) fn pack(&mut self) {
        if self.packed.is_none() || self.packed_epoch != self.epoch {
            self.packed = self.prepared.pack();
            self.packed_epoch = self.epoch;
        }
        if self.packed.is_some() {
            self.prepared = Prepared::default();
        }
    }

    /// Whether the last operation applied what `revision` renders: it succeeded at `revision`
    /// itself, or at an earlier commit whose render was the same.
    /// A selective sync since (whatever its outcome) leaves it as it was: applied when the last
    /// whole sync applied the same render; so a failed selective sync is no reason for an
    /// automated sync of everything.
    pub(crate) fn applied(&self, status: &ApplicationStatus, revision: &CommitId) -> bool {
        let same_content = self.content.is_some() && self.synced_content == self.content;
        status.operation_state.as_ref().is_some_and(|o| {
            o.succeeded() && (o.revision == revision.as_str() || same_content)
                || !o.resources.is_empty() && same_content
        })
    }
}

/// The watch delivered `app`: once it is as new as the engine's own last status write, the copy
/// kept of that write is dropped (an app's status with many objects is large, and the watch
/// cache holds it already).
pub(crate) fn caught_up(
    memory: &std::sync::Mutex<std::collections::HashMap<AppId, AppMemory>>,
    id: &AppId,
    app: &Application,
) {
    let rv = |a: &Application| a.metadata.resource_version.as_deref()?.parse::<u64>().ok();
    let mut memory = memory.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(m) = memory.get_mut(id)
        && let Some(w) = &m.written
        && w.metadata.uid == app.metadata.uid
        && let (Some(written), Some(seen)) = (rv(w), rv(app))
        && seen >= written
    {
        m.written = None;
    }
}

/// Whichever of two copies of an Application the server wrote later, by resourceVersion (an
/// integer on every API server Ferry knows; when either is not, the watch cache's copy wins).
pub(crate) fn newer(
    stored: Arc<Application>,
    written: Option<&Arc<Application>>,
) -> Arc<Application> {
    let rv = |a: &Application| a.metadata.resource_version.as_deref()?.parse::<u64>().ok();
    match written {
        Some(w) if w.metadata.uid == stored.metadata.uid => match (rv(&stored), rv(w)) {
            (Some(s), Some(n)) if n > s => w.clone(),
            _ => stored,
        },
        _ => stored,
    }
}
