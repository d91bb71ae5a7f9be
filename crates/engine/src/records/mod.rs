//! Repository records: one ConfigMap `ferry-repo-<hash>` per repository in Ferry's namespace,
//! saying which apps the engine verified unchanged at which commit. A commit to a monorepo
//! that changes one app's render then costs the changed app's writes and one record write,
//! not one status write per app (the "status storm").
//!
//! # Guarantees
//! - An entry says: app A, whose own status was written at commit `from` with checkpoint `C`,
//!   rendered the same and found the same at commit `R`. [`effective`] reports `R` only while
//!   A's status still says `from` and `C`; any own status write of A (a sync, a health or
//!   condition change, an error) changes the checkpoint or the revision, and the entry no longer
//!   applies: the app is never reported at a newer revision than the engine verified.
//! - Every reader (`ferry app get|list|wait`, the API and so the UI, the engine after a restart)
//!   reads an app's revision through [`effective`].
//!
//! # Caveats
//! - The record is written in batches (see [`store`]): a reader may see the app's own older
//!   revision for a moment after the engine verified a newer one, never the reverse.

mod fold;
pub(crate) mod store;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;

use crate::application::Application;

pub(crate) use fold::{checkpoint, foldable};
pub(crate) use store::Records;

/// The label every repository record carries (value `"true"`).
pub const RECORD_LABEL: &str = "ferry.dev/repo-record";
/// The data key of the verified apps (`verified`, or `verified.shard-N` per shard with sharded
/// replicas: each replica writes only the keys of the shards it holds).
pub const VERIFIED_KEY: &str = "verified";

/// The record's name for a repository URL: `ferry-repo-` and 12 hex digits of its SHA-256.
pub fn record_name(repo_url: &str) -> String {
    format!("ferry-repo-{}", url_digest(repo_url))
}

/// 12 hex digits of the SHA-256 of a repository URL (trimmed): the per-repository part of the
/// names of Ferry's repository ConfigMaps (records, relayed pushes).
pub fn url_digest(repo_url: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(repo_url.trim().as_bytes());
    hex::encode(digest)[..12].to_owned()
}

/// One app verified unchanged at a commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The commit verified at.
    pub revision: String,
    /// The revision of the app's own status it was verified from.
    pub from: String,
    /// The checkpoint of that status.
    pub checkpoint: String,
}

/// A repository's record: its URL (credentials masked), when it was last written, and the
/// apps verified unchanged, by `namespace/name`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepoRecord {
    pub name: String,
    pub url: String,
    pub updated_at: String,
    pub apps: BTreeMap<String, Verified>,
}

/// An app's revision as every reader shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Effective<'a> {
    /// The newest commit the app is known to be in its reported state at.
    pub revision: &'a str,
    /// Set when that commit comes from the repository record: when the record was written.
    pub checked_at: Option<&'a str>,
}

/// The app's revision: the record's when an entry verifies the app's current status at a
/// later commit, else the status's own `sync.revision`. Pure.
pub fn effective<'a>(app: &'a Application, record: Option<&'a RepoRecord>) -> Effective<'a> {
    let Some(status) = &app.status else { return Effective { revision: "", checked_at: None } };
    let own = Effective { revision: status.sync.revision.as_str(), checked_at: None };
    let Some(record) = record.filter(|r| !r.name.is_empty() && r.name == status.sync.record) else {
        return own;
    };
    let key = app_key(app.metadata.namespace.as_deref().unwrap_or(""), &app.metadata.name);
    match record.apps.get(&key) {
        Some(v)
            if !status.sync.checkpoint.is_empty()
                && v.checkpoint == status.sync.checkpoint
                && v.from == status.sync.revision =>
        {
            Effective {
                revision: v.revision.as_str(),
                checked_at: Some(record.updated_at.as_str()),
            }
        }
        _ => own,
    }
}

/// [`effective`] with the record looked up by the name the app's status gives.
pub fn effective_in<'a>(
    app: &'a Application,
    records: &'a std::collections::HashMap<String, std::sync::Arc<RepoRecord>>,
) -> Effective<'a> {
    let name = app.status.as_ref().map(|s| s.sync.record.as_str()).unwrap_or("");
    effective(app, records.get(name).map(|r| r.as_ref()))
}

pub(crate) fn app_key(namespace: &str, name: &Option<String>) -> String {
    format!("{namespace}/{}", name.as_deref().unwrap_or(""))
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(
        "repository record ConfigMap {name}: data key {key} is not the JSON Ferry writes ({message}); delete the ConfigMap and Ferry writes it again at the next commit"
    )]
    Malformed { name: String, key: String, message: String },
}

/// `verified` as stored: revision → from → `namespace/name` → checkpoint (grouped, so that
/// 10,000 apps at one commit stay far below a ConfigMap's 1 MiB).
type Grouped = BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>>;

impl RepoRecord {
    /// Reads a record ConfigMap (every `verified*` key; a later key wins for an app in two).
    pub fn from_config_map(cm: &ConfigMap) -> Result<Self, RecordError> {
        let name = cm.metadata.name.clone().unwrap_or_default();
        let data = cm.data.clone().unwrap_or_default();
        let mut record = Self {
            url: data.get("url").cloned().unwrap_or_default(),
            updated_at: data.get("updatedAt").cloned().unwrap_or_default(),
            ..Self::default()
        };
        for (key, value) in data.iter().filter(|(k, _)| k.starts_with(VERIFIED_KEY)) {
            let grouped: Grouped =
                serde_json::from_str(value).map_err(|e| RecordError::Malformed {
                    name: name.clone(),
                    key: key.clone(),
                    message: e.to_string(),
                })?;
            for (revision, froms) in grouped {
                for (from, apps) in froms {
                    for (app, checkpoint) in apps {
                        let v =
                            Verified { revision: revision.clone(), from: from.clone(), checkpoint };
                        record.apps.insert(app, v);
                    }
                }
            }
        }
        record.name = name;
        Ok(record)
    }

    /// The `verified` value for the apps `keep` selects, grouped.
    pub(crate) fn verified_json(&self, keep: impl Fn(&str) -> bool) -> String {
        let mut grouped = Grouped::new();
        for (app, v) in self.apps.iter().filter(|(app, _)| keep(app)) {
            grouped
                .entry(v.revision.clone())
                .or_default()
                .entry(v.from.clone())
                .or_default()
                .insert(app.clone(), v.checkpoint.clone());
        }
        serde_json::to_string(&grouped).unwrap_or_default()
    }

    /// One line for people: how many apps at which commits.
    pub fn summary(&self) -> String {
        let mut by_revision: BTreeMap<&str, usize> = BTreeMap::new();
        for v in self.apps.values() {
            *by_revision.entry(v.revision.as_str()).or_default() += 1;
        }
        let parts: Vec<String> = by_revision
            .iter()
            .map(|(r, n)| {
                format!("{n} app(s) verified unchanged at {}", ferry_source::short_revision(r))
            })
            .collect();
        if parts.is_empty() { "no app verified at a later commit".into() } else { parts.join("; ") }
    }
}

#[cfg(test)]
mod tests;
