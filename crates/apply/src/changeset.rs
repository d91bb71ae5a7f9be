//! Results as data: every CLI table, API response, status field and event renders the same
//! change set.

use serde::{Deserialize, Serialize};

use crate::object::ObjKey;
use crate::plan::Phase;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    Created,
    Configured,
    Unchanged,
    Pruned,
    Skipped,
    Failed,
    /// A hook that ran to completion.
    HookSucceeded,
    HookFailed,
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Action::Created => "created",
            Action::Configured => "configured",
            Action::Unchanged => "unchanged",
            Action::Pruned => "pruned",
            Action::Skipped => "skipped",
            Action::Failed => "failed",
            Action::HookSucceeded => "hook succeeded",
            Action::HookFailed => "hook failed",
        };
        f.write_str(s)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeSetEntry {
    #[serde(flatten)]
    pub key: ObjKey,
    pub action: Action,
    pub phase: Phase,
    pub wave: i64,
    /// Why (for skipped and failed entries), in plain words.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// The object's UID after the step, when known.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    /// When the step finished (RFC 3339), so the order of hooks and waves can be checked.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub at: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeSet {
    pub entries: Vec<ChangeSetEntry>,
}

impl ChangeSet {
    pub fn push(&mut self, entry: ChangeSetEntry) {
        self.entries.push(entry);
    }

    pub fn count(&self, action: Action) -> usize {
        self.entries.iter().filter(|e| e.action == action).count()
    }

    pub fn failed(&self) -> bool {
        self.entries.iter().any(|e| matches!(e.action, Action::Failed | Action::HookFailed))
    }

    /// One line for people: `3 created, 1 configured, 5 unchanged`.
    pub fn summary(&self) -> String {
        let parts: Vec<String> = [
            Action::Created,
            Action::Configured,
            Action::Unchanged,
            Action::Pruned,
            Action::HookSucceeded,
            Action::Skipped,
            Action::HookFailed,
            Action::Failed,
        ]
        .into_iter()
        .filter_map(|a| {
            let n = self.count(a);
            (n > 0).then(|| format!("{n} {a}"))
        })
        .collect();
        if parts.is_empty() { "nothing to do".into() } else { parts.join(", ") }
    }
}
