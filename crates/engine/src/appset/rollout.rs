//! RollingSync as data: which generated apps sync now. Argo CD's rules: an app belongs to the
//! first step whose `matchExpressions` select its labels (no step: it is left to manual syncs);
//! the apps of step N are synced only once every app of the steps before is Synced and Healthy
//! at its target revision; at most `maxUpdate` apps of a step are in progress at once; a
//! Degraded app stops the rollout where it is. Pure.

use std::collections::BTreeMap;

use serde_json::Value;

use super::select::{self, SelectError};
use super::{AppRolloutStatus, RolloutStep};

/// One generated app as the rollout sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RolloutApp {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// `status.sync.status` and `status.sync.revision`.
    pub sync: String,
    pub revision: String,
    /// `status.health.status`.
    pub health: String,
    /// What its source resolves to now, when known.
    pub target: Option<String>,
}

impl RolloutApp {
    fn at_target(&self) -> bool {
        self.sync == "Synced" && self.target.as_ref().is_none_or(|t| *t == self.revision)
    }

    fn done(&self) -> bool {
        self.at_target() && self.health == "Healthy"
    }
}

/// The outcome of one look at the rollout.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rollout {
    /// Apps to ask for a sync now.
    pub sync_now: Vec<String>,
    /// Every app's place, for `status.applicationStatus`.
    pub status: Vec<AppRolloutStatus>,
    /// Why the rollout stopped (a Degraded app), in plain words.
    pub blocked: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RolloutError {
    #[error("strategy.rollingSync.steps[{step}]: {source}")]
    Selector {
        step: usize,
        #[source]
        source: SelectError,
    },
    #[error(
        "strategy.rollingSync.steps[{step}].maxUpdate {value} is not a count or a percentage such as \"25%\""
    )]
    MaxUpdate { step: usize, value: String },
}

/// How many apps of a step of `n` apps may be in progress at once.
pub fn max_update(raw: Option<&Value>, n: usize, step: usize) -> Result<usize, RolloutError> {
    let bad =
        || RolloutError::MaxUpdate { step, value: raw.map(Value::to_string).unwrap_or_default() };
    Ok(match raw {
        None => n,
        Some(Value::Number(x)) => match x.as_u64() {
            Some(0) => n,
            Some(k) => k as usize,
            None => return Err(bad()),
        },
        Some(Value::String(s)) => match s.strip_suffix('%').map(str::parse::<u32>) {
            Some(Ok(p)) if p <= 100 => ((n * p as usize) / 100).max(1),
            _ => return Err(bad()),
        },
        Some(_) => return Err(bad()),
    })
}

/// Looks at the rollout: `previous` is the last `applicationStatus` (which apps were asked to
/// sync and are not done yet).
pub fn step(
    steps: &[RolloutStep],
    apps: &[RolloutApp],
    previous: &[AppRolloutStatus],
) -> Result<Rollout, RolloutError> {
    let mut groups: Vec<Vec<&RolloutApp>> = vec![Vec::new(); steps.len()];
    let mut unmatched = Vec::new();
    'apps: for app in apps {
        for (i, s) in steps.iter().enumerate() {
            let hit = select::all_expressions(&s.match_expressions, &app.labels)
                .map_err(|source| RolloutError::Selector { step: i, source })?;
            if hit {
                groups[i].push(app);
                continue 'apps;
            }
        }
        unmatched.push(app);
    }
    let was_progressing =
        |name: &str| previous.iter().any(|p| p.application == name && p.status == "Progressing");
    let mut out = Rollout::default();
    let mut open = true;
    for (i, group) in groups.iter().enumerate() {
        let label = (i + 1).to_string();
        let degraded: Vec<&str> =
            group.iter().filter(|a| a.health == "Degraded").map(|a| a.name.as_str()).collect();
        let progressing = |a: &RolloutApp| !a.done() && (was_progressing(&a.name) || a.at_target());
        let busy = group.iter().filter(|a| progressing(a)).count();
        let mut budget =
            max_update(steps[i].max_update.as_ref(), group.len(), i)?.saturating_sub(busy);
        let active = open;
        for app in group {
            let (status, message) = if app.done() {
                ("Healthy", "Synced and Healthy at the target revision".to_owned())
            } else if !active {
                ("Waiting", format!("waiting for the apps of steps before step {label}"))
            } else if progressing(app) {
                ("Progressing", "sync requested; waiting for Synced and Healthy".to_owned())
            } else if budget > 0 && degraded.is_empty() {
                budget -= 1;
                out.sync_now.push(app.name.clone());
                ("Progressing", format!("sync requested by step {label}"))
            } else {
                ("Pending", format!("waiting for a free slot in step {label} (maxUpdate)"))
            };
            out.status.push(entry(app, status, message, &label));
        }
        if active && !degraded.is_empty() && out.blocked.is_none() {
            out.blocked = Some(format!(
                "the rollout stopped at step {label}: {} Degraded; fix or roll back, and the next steps wait",
                degraded.join(", ")
            ));
        }
        open &= group.iter().all(|a| a.done());
    }
    for app in unmatched {
        out.status.push(entry(
            app,
            if app.done() { "Healthy" } else { "Waiting" },
            "no RollingSync step selects this app's labels; sync it by hand".into(),
            "",
        ));
    }
    Ok(out)
}

fn entry(app: &RolloutApp, status: &str, message: String, step: &str) -> AppRolloutStatus {
    AppRolloutStatus {
        application: app.name.clone(),
        status: status.into(),
        message,
        step: step.into(),
        target_revisions: app.target.iter().cloned().collect(),
    }
}

#[cfg(test)]
#[path = "rollout_tests.rs"]
mod tests;
