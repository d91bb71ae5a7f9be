//! The blast-radius guard on prunes: a sync that would delete many objects at once (more than
//! `maxObjects` and more than `maxPercent` of the app's inventory), or more than
//! `maxApplications` Applications (an app of apps dropping its children), holds its deletions
//! until someone approves exactly that set at exactly that revision (`ferry app approve`).
//! It extends the older sharp-shrink rule (a render that drops more than half of the app), which
//! is held the same way. The rules here are pure; `reconcile/approve_prunes.rs` and `sync.rs` are
//! the edges.
//!
//! # Guarantees
//! - Held deletions are never made; creates and updates of the same sync still apply (holding
//!   them too would leave the app on neither revision while it waits).
//! - An approval names a revision and covers only the prune set recorded with it: another
//!   commit, or the same commit deleting a different set, waits again.

use ferry_apply::ObjKey;
use ferry_apply::prune::check_shrink;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::approval::{ApprovalPhase, ApprovalStatus};

/// Condition type (and `status.pruneApproval`'s reason) while deletions wait.
pub const CONDITION: &str = "PruneApproval";

pub const DEFAULT_MAX_OBJECTS: i64 = 10;
pub const DEFAULT_MAX_PERCENT: i64 = 25;
pub const DEFAULT_MAX_APPLICATIONS: i64 = 1;

/// `spec.syncPolicy.pruneGuard`: how many deletions one sync may make unapproved. A sync is held
/// when it deletes more than `maxObjects` objects *and* more than `maxPercent` of the app's
/// inventory, or more than `maxApplications` Applications. `maxObjects: -1` turns the guard
/// (and the sharp-shrink rule) off. Setting the field also replaces the sharp-shrink rule: the
/// app's own thresholds rule alone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PruneGuard {
    /// Default 10; -1: no guard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_objects: Option<i64>,
    /// Default 25.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_percent: Option<i64>,
    /// Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_applications: Option<i64>,
}

/// What one sync's prunes are checked against.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    pub guard: Option<&'a PruneGuard>,
    /// Objects in the inventory before the sync.
    pub inventory: usize,
    /// Objects the new render declares.
    pub declared: usize,
    /// `allowEmpty` or an explicit `--prune`: lifts the sharp-shrink rule (not the guard).
    pub allow_shrink: bool,
    pub prunes: &'a [ObjKey],
}

/// Why the prunes of a sync wait for approval, or `None` when they may go ahead.
pub fn judge(input: &Input<'_>) -> Option<String> {
    let guard = input.guard.cloned().unwrap_or_default();
    let max_objects = guard.max_objects.unwrap_or(DEFAULT_MAX_OBJECTS);
    if max_objects < 0 || input.prunes.is_empty() {
        return None;
    }
    let max_percent = guard.max_percent.unwrap_or(DEFAULT_MAX_PERCENT).max(0);
    let max_apps = guard.max_applications.unwrap_or(DEFAULT_MAX_APPLICATIONS);
    let n = input.prunes.len();
    let apps = input.prunes.iter().filter(|k| is_application(k)).count();
    let mut why = Vec::new();
    let percent = n as u128 * 100;
    if n as i64 > max_objects && percent > max_percent as u128 * input.inventory as u128 {
        why.push(format!(
            "it deletes {n} of {} objects, more than {max_objects} and more than {max_percent}%",
            input.inventory
        ));
    }
    if max_apps >= 0 && apps as i64 > max_apps {
        why.push(format!(
            "it deletes {apps} Applications (and what they deploy), more than {max_apps}"
        ));
    }
    let shrink = input.guard.is_none() && !input.allow_shrink;
    if shrink && check_shrink(input.inventory, input.declared, false).is_err() {
        why.push(format!(
            "the new render has {} objects where the last sync had {}, more than half gone at once",
            input.declared, input.inventory
        ));
    }
    (!why.is_empty()).then(|| why.join("; "))
}

/// An Application of Ferry's or Argo CD's group.
pub fn is_application(key: &ObjKey) -> bool {
    key.kind == "Application" && matches!(key.group.as_str(), "ferry.dev" | "argoproj.io")
}

/// The prune set as recorded in `status.pruneApproval.diff`: one sorted line per object.
pub fn lines(prunes: &[ObjKey]) -> Vec<String> {
    let mut lines: Vec<String> = prunes.iter().map(ToString::to_string).collect();
    lines.sort();
    lines
}

/// Whether `status` approves deleting exactly `lines` at `revision`.
pub fn approved(status: Option<&ApprovalStatus>, revision: &str, lines: &[String]) -> bool {
    status.is_some_and(|a| {
        a.phase == ApprovalPhase::Approved && a.revision == revision && a.diff == lines
    })
}

/// Whether `status` already records exactly this set awaiting approval at `revision`.
pub fn awaiting(status: Option<&ApprovalStatus>, revision: &str, lines: &[String]) -> bool {
    status.is_some_and(|a| {
        a.phase == ApprovalPhase::AwaitingApproval && a.revision == revision && a.diff == lines
    })
}

#[cfg(test)]
mod tests;
