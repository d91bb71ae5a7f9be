//! Pure helpers that shape an Application's status: conditions, history, retry backoff, pins.

use std::time::Duration;

use ferry_apply::ChangeSet;

use crate::application::{
    ChangeSetItem, ChangedObject, Condition, HistoryChanges, HistoryEntry, HistorySource, Retry,
};

/// How many successful syncs history keeps.
pub const HISTORY_LIMIT: usize = 10;

/// Sets condition `type_`, keeping its transition time when its status did not change.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: bool,
    reason: &str,
    message: impl Into<String>,
    now: &str,
) {
    let status = if status { "True" } else { "False" }.to_owned();
    let message = message.into();
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(c) => {
            if c.status != status {
                c.last_transition_time = now.to_owned();
            }
            c.status = status;
            c.reason = reason.to_owned();
            c.message = message;
        }
        None => conditions.push(Condition {
            type_: type_.to_owned(),
            status,
            reason: reason.to_owned(),
            message,
            last_transition_time: now.to_owned(),
        }),
    }
}

pub fn remove_condition(conditions: &mut Vec<Condition>, type_: &str) {
    conditions.retain(|c| c.type_ != type_);
}

/// Appends a successful sync to history (newest last), keeping the last [`HISTORY_LIMIT`].
pub fn append_history(
    history: &mut Vec<HistoryEntry>,
    revision: &str,
    source: HistorySource,
    now: &str,
) -> i64 {
    let id = history.iter().map(|h| h.id).max().unwrap_or(-1) + 1;
    history.push(HistoryEntry {
        id,
        revision: revision.to_owned(),
        deployed_at: now.to_owned(),
        source,
        healthy: None,
        ..Default::default()
    });
    if history.len() > HISTORY_LIMIT {
        let excess = history.len() - HISTORY_LIMIT;
        history.drain(..excess);
    }
    id
}

/// Finds a history entry by id (a number) or by revision (full or abbreviated commit).
pub fn find_history<'a>(history: &'a [HistoryEntry], wanted: &str) -> Option<&'a HistoryEntry> {
    if let Ok(id) = wanted.parse::<i64>()
        && let Some(h) = history.iter().find(|h| h.id == id)
    {
        return Some(h);
    }
    if wanted.len() >= 4 {
        return history.iter().rev().find(|h| h.revision.starts_with(wanted));
    }
    None
}

/// The newest revision, other than `current`, that was healthy after its sync.
pub fn last_healthy_other_than<'a>(
    history: &'a [HistoryEntry],
    current: &str,
) -> Option<&'a HistoryEntry> {
    history.iter().rev().find(|h| h.revision != current && h.healthy == Some(true))
}

/// Delay before retry number `attempt` (1-based) of a failed sync, or `None` when the retry
/// limit is used up. Without a retry policy: 5 s doubling up to 3 min, without limit — a
/// GitOps engine should keep converging, just not hammer the cluster.
pub fn retry_delay(retry: Option<&Retry>, attempt: u32) -> Option<Duration> {
    let (limit, base, factor, cap) = match retry {
        None => (-1, Duration::from_secs(5), 2, Duration::from_secs(180)),
        Some(r) => {
            let b = r.backoff.clone().unwrap_or_default();
            (
                r.limit,
                b.duration.as_deref().and_then(duration).unwrap_or(Duration::from_secs(5)),
                b.factor.unwrap_or(2).max(1) as u32,
                b.max_duration.as_deref().and_then(duration).unwrap_or(Duration::from_secs(180)),
            )
        }
    };
    if limit >= 0 && i64::from(attempt) > limit {
        return None;
    }
    let exp = attempt.saturating_sub(1).min(20);
    let delay = base.saturating_mul(factor.saturating_pow(exp));
    Some(delay.min(cap))
}

/// A duration as Argo CD's retry backoff reads it: Go's form (`30s`, `1m30s`) or whole seconds.
fn duration(text: &str) -> Option<Duration> {
    ferry_source::duration::parse_seconds_or_go_duration(text).ok()
}

/// The change set as it goes into status: names and actions, no manifests.
pub fn change_set_items(cs: &ChangeSet) -> Vec<ChangeSetItem> {
    cs.entries
        .iter()
        .map(|e| ChangeSetItem {
            group: e.key.group.clone(),
            kind: e.key.kind.clone(),
            namespace: e.key.namespace.clone(),
            name: e.key.name.clone(),
            action: e.action.to_string(),
            phase: format!("{:?}", e.phase),
            wave: e.wave,
            message: e.message.clone(),
            at: e.at.clone(),
        })
        .collect()
}

/// A commit message as history keeps it: its first line, at most
/// [`HISTORY_MESSAGE_CHARS`](crate::application::HISTORY_MESSAGE_CHARS) characters (`…` marks a cut).
pub fn history_message(message: &str) -> String {
    let first = message.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or_default();
    let limit = crate::application::HISTORY_MESSAGE_CHARS;
    if first.chars().count() <= limit {
        return first.to_owned();
    }
    let mut cut: String = first.chars().take(limit - 1).collect();
    cut.push('…');
    cut
}

/// The change set of a sync as history keeps it: counts by action, and the objects created,
/// configured or pruned (the first [`HISTORY_OBJECTS`](crate::application::HISTORY_OBJECTS)).
pub fn history_changes(items: &[ChangeSetItem]) -> HistoryChanges {
    let mut out = HistoryChanges::default();
    for item in items {
        let changed = match item.action.as_str() {
            "created" => {
                out.created += 1;
                true
            }
            "configured" => {
                out.configured += 1;
                true
            }
            "pruned" => {
                out.pruned += 1;
                true
            }
            "unchanged" => {
                out.unchanged += 1;
                false
            }
            _ => {
                out.other += 1;
                false
            }
        };
        if !changed {
            continue;
        }
        if out.objects.len() < crate::application::HISTORY_OBJECTS {
            out.objects.push(ChangedObject {
                action: item.action.clone(),
                group: item.group.clone(),
                kind: item.kind.clone(),
                namespace: item.namespace.clone(),
                name: item.name.clone(),
            });
        } else {
            out.more += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(action: &str, name: &str) -> ChangeSetItem {
        ChangeSetItem {
            kind: "ConfigMap".into(),
            name: name.into(),
            action: action.into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_history_message_is_the_first_line_cut_with_a_mark() {
        assert_eq!(history_message("\n  Bump web to 1.2  \n\nLonger body"), "Bump web to 1.2");
        let long = "x".repeat(300);
        let kept = history_message(&long);
        assert_eq!(kept.chars().count(), crate::application::HISTORY_MESSAGE_CHARS);
        assert!(kept.ends_with('…'));
        assert_eq!(history_message(""), "");
    }

    #[test]
    fn history_changes_count_every_action_and_name_at_most_fifty_changed_objects() {
        let mut items: Vec<ChangeSetItem> =
            (0..60).map(|i| item("configured", &format!("cm-{i}"))).collect();
        items.push(item("created", "new"));
        items.push(item("pruned", "old"));
        items.push(item("unchanged", "same"));
        items.push(item("hook succeeded", "migrate"));
        let changes = history_changes(&items);
        assert_eq!(
            (changes.created, changes.configured, changes.pruned, changes.unchanged, changes.other),
            (1, 60, 1, 1, 1)
        );
        assert_eq!(changes.objects.len(), 50);
        assert_eq!(changes.more, 12, "60 + 1 + 1 changed, 50 named");
        assert!(
            changes.objects.iter().all(|o| o.name != "same"),
            "unchanged objects are only counted"
        );
    }
    use crate::application::Backoff;

    #[test]
    fn a_condition_keeps_its_transition_time_while_its_status_holds() {
        let mut c = Vec::new();
        set_condition(&mut c, "Synced", true, "Synced", "ok", "t1");
        set_condition(&mut c, "Synced", true, "Synced", "still ok", "t2");
        assert_eq!(c[0].last_transition_time, "t1");
        set_condition(&mut c, "Synced", false, "Drift", "changed", "t3");
        assert_eq!(c[0].last_transition_time, "t3");
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn history_keeps_the_last_ten_syncs_with_growing_ids() {
        let mut h = Vec::new();
        for i in 0..15 {
            append_history(&mut h, &format!("rev{i:02}"), HistorySource::default(), "now");
        }
        assert_eq!(h.len(), HISTORY_LIMIT);
        assert_eq!(h[0].id, 5);
        assert_eq!(h.last().map(|e| e.id), Some(14));
        assert_eq!(find_history(&h, "7").map(|e| e.revision.as_str()), Some("rev07"));
        assert_eq!(find_history(&h, "rev09").map(|e| e.id), Some(9));
    }

    #[test]
    fn retries_back_off_exponentially_up_to_the_cap_and_stop_at_the_limit() {
        let r = Retry {
            limit: 3,
            backoff: Some(Backoff {
                duration: Some("2s".into()),
                factor: Some(3),
                max_duration: Some("10s".into()),
            }),
        };
        assert_eq!(retry_delay(Some(&r), 1), Some(Duration::from_secs(2)));
        assert_eq!(retry_delay(Some(&r), 2), Some(Duration::from_secs(6)));
        assert_eq!(retry_delay(Some(&r), 3), Some(Duration::from_secs(10)));
        assert_eq!(retry_delay(Some(&r), 4), None);
        assert_eq!(retry_delay(None, 100), Some(Duration::from_secs(180)));
    }
}
