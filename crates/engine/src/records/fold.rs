//! When an app's status need not be written: "same render, same result, new revision" (pure).

use crate::application::ApplicationStatus;

/// The checkpoint of `status` rendered as `content` (the render's content hash): 16 hex digits
/// of the SHA-256 of the render hash and the status without its revision, checkpoint and
/// reconcile time. Two statuses with one checkpoint differ at most in those three.
pub(crate) fn checkpoint(status: &ApplicationStatus, content: &str) -> String {
    use sha2::Digest;
    let mut bare = status.clone();
    bare.sync.revision.clear();
    bare.sync.checkpoint.clear();
    bare.reconciled_at = None;
    let mut hasher = sha2::Sha256::new();
    hasher.update(content.as_bytes());
    hasher.update([0]);
    hasher.update(serde_json::to_vec(&bare).unwrap_or_default());
    hex::encode(hasher.finalize())[..16].to_owned()
}

/// Whether `new` may be recorded in the repository record instead of written: the status on
/// the server (`old`) has the same checkpoint (same render, same sync and health, same
/// conditions, requests and history) and the same record, and only the revision moved.
pub(crate) fn foldable(old: &ApplicationStatus, new: &ApplicationStatus) -> bool {
    !new.sync.checkpoint.is_empty()
        && !new.sync.record.is_empty()
        && !old.sync.revision.is_empty()
        && old.sync.checkpoint == new.sync.checkpoint
        && old.sync.record == new.sync.record
        && old.sync.revision != new.sync.revision
}
