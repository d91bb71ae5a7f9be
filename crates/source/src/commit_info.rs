//! Who wrote a commit and why: author, committer and message, read from the cached git objects
//! (for the audit trail; no network).

use gix::ObjectId;
use serde::{Deserialize, Serialize};

use crate::cache::{CacheError, RepoCache};
use crate::resolve::CommitId;
use crate::url::RepoUrl;

/// A commit message longer than this is cut (with `…`): an audit record stays a line.
pub const MAX_MESSAGE_CHARS: usize = 2000;

/// The metadata of one commit.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommitInfo {
    /// `Name <email>` of the author.
    pub author: String,
    /// `Name <email>` of the committer.
    pub committer: String,
    /// The author time, RFC 3339.
    pub authored_at: String,
    /// The whole message (subject and body), trimmed, at most [`MAX_MESSAGE_CHARS`].
    pub message: String,
    /// Whether the commit carries a signature (`gpgsig`); whether it is trusted is for
    /// [`RepoCache::verify_commit`] to say.
    pub signed: bool,
}

impl RepoCache {
    /// Author, committer and message of `commit`, which must have been fetched.
    pub fn commit_info(&self, url: &RepoUrl, commit: &CommitId) -> Result<CommitInfo, CacheError> {
        let repo = self.open(url)?.to_thread_local();
        let not_fetched =
            || CacheError::NotFetched { url: url.to_string(), commit: commit.clone() };
        let id = ObjectId::from_hex(commit.as_str().as_bytes()).map_err(|_| not_fetched())?;
        let object = repo.find_commit(id).map_err(|_| not_fetched())?;
        let decoded = object.decode().map_err(|e| CacheError::Open {
            url: url.to_string(),
            path: self.repo_dir(url),
            message: format!("decoding commit {commit}: {e}"),
        })?;
        // A malformed signature line is shown as such, not as an error: the audit still records
        // the sync.
        let person = |s: Result<gix::actor::SignatureRef<'_>, _>| match s {
            Ok(s) => format!("{} <{}>", s.name, s.email),
            Err(_) => "(unreadable signature line)".to_owned(),
        };
        let authored_at = decoded
            .author()
            .ok()
            .and_then(|a| a.time().ok())
            .and_then(|t| jiff::Timestamp::from_second(t.seconds).ok())
            .map(|t| t.to_string())
            .unwrap_or_default();
        Ok(CommitInfo {
            author: person(decoded.author()),
            committer: person(decoded.committer()),
            authored_at,
            message: cut(decoded.message.to_string().trim()),
            signed: decoded.extra_headers().pgp_signature().is_some(),
        })
    }
}

fn cut(message: &str) -> String {
    match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((at, _)) => format!("{}…", &message[..at]),
        None => message.to_owned(),
    }
}
