//! Sync windows (Argo CD's): `allow` windows are the only times syncs may run when any matches
//! the app; an active `deny` window stops syncs and beats any allow; `manualSync` lets manual
//! syncs through a closed window. A window matches an app when one of its `applications`,
//! `namespaces` or `clusters` globs matches. Pure: the time is passed in.

use std::str::FromStr;

use chrono::{DateTime, TimeZone as _, Utc};
use croner::Cron;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::rules::Cluster;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncWindow {
    /// `allow` or `deny`.
    pub kind: String,
    /// When the window opens, a five-field cron schedule (`0 22 * * *`).
    pub schedule: String,
    /// How long it stays open, a Go duration (`1h`, `30m`).
    pub duration: String,
    /// Application name globs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applications: Vec<String>,
    /// Destination namespace globs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// Destination cluster (server or name) globs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<String>,
    /// Whether a manual sync may run while this window keeps automated ones out.
    #[serde(default)]
    pub manual_sync: bool,
    /// The schedule's time zone (IANA name; default UTC).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub time_zone: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("sync window {index} of project {project}: kind {kind:?} is neither allow nor deny")]
    Kind { project: String, index: usize, kind: String },
    #[error(
        "sync window {index} of project {project}: schedule {schedule:?} does not parse: {message}"
    )]
    Schedule { project: String, index: usize, schedule: String, message: String },
    #[error(
        "sync window {index} of project {project}: duration {duration:?} does not parse: {message}"
    )]
    Duration { project: String, index: usize, duration: String, message: String },
    #[error(
        "sync window {index} of project {project}: time zone {zone:?} is not an IANA time zone"
    )]
    TimeZone { project: String, index: usize, zone: String },
    #[error(
        "sync window {index} of project {project}: pattern {pattern:?} does not parse: {message}"
    )]
    Pattern { project: String, index: usize, pattern: String, message: String },
}

/// What the app is, as windows match it.
#[derive(Clone, Debug, Default)]
pub struct WindowApp<'a> {
    pub name: &'a str,
    pub namespace: &'a str,
    pub cluster: Cluster,
}

/// One matching window, evaluated at a time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowState {
    /// `deny window "0 22 * * *" for 8h (UTC)`.
    pub summary: String,
    pub allow: bool,
    pub manual_sync: bool,
    /// Open now, until then.
    pub active_until: Option<jiff::Timestamp>,
    /// When it opens next (after now).
    pub next_start: Option<jiff::Timestamp>,
}

/// Whether syncs may run now, and if not, why and until when.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct WindowVerdict {
    pub windows: Vec<WindowState>,
    pub automated: bool,
    pub manual: bool,
    /// Which window keeps syncs out, in words.
    pub closed_by: Option<String>,
    /// When automated syncs may run again.
    pub opens_at: Option<jiff::Timestamp>,
}

impl WindowVerdict {
    pub fn open() -> Self {
        Self { automated: true, manual: true, ..Default::default() }
    }
}

/// Evaluates the project's windows for `app` at `now`.
pub fn verdict(
    project: &str,
    windows: &[SyncWindow],
    app: &WindowApp<'_>,
    now: jiff::Timestamp,
) -> Result<WindowVerdict, WindowError> {
    let mut states = Vec::new();
    for (index, w) in windows.iter().enumerate() {
        if matches(w, app).map_err(|(pattern, message)| WindowError::Pattern {
            project: project.into(),
            index,
            pattern,
            message,
        })? {
            states.push(evaluate(project, index, w, now)?);
        }
    }
    Ok(decide(states))
}

fn decide(windows: Vec<WindowState>) -> WindowVerdict {
    let active_denies: Vec<&WindowState> =
        windows.iter().filter(|w| !w.allow && w.active_until.is_some()).collect();
    let allows: Vec<&WindowState> = windows.iter().filter(|w| w.allow).collect();
    let allow_active = allows.iter().any(|w| w.active_until.is_some());
    let (automated, manual, closed_by, opens_at) = if !active_denies.is_empty() {
        let until = active_denies.iter().filter_map(|w| w.active_until).max();
        let manual = active_denies.iter().all(|w| w.manual_sync);
        (false, manual, Some(format!("{} is active", active_denies[0].summary)), until)
    } else if !allows.is_empty() && !allow_active {
        let next = allows.iter().filter_map(|w| w.next_start).min();
        let manual = allows.iter().any(|w| w.manual_sync);
        let names: Vec<&str> = allows.iter().map(|w| w.summary.as_str()).collect();
        (false, manual, Some(format!("no allow window is open ({})", names.join("; "))), next)
    } else {
        (true, true, None, None)
    };
    WindowVerdict { windows, automated, manual, closed_by, opens_at }
}

/// Whether one of the window's globs matches the app; a glob that does not parse is an error
/// (pattern, why), never a window that silently matches nothing.
fn matches(w: &SyncWindow, app: &WindowApp<'_>) -> Result<bool, (String, String)> {
    let any = |patterns: &[String], texts: &[&str]| -> Result<bool, (String, String)> {
        for p in patterns {
            let g = globset::Glob::new(p).map_err(|e| (p.clone(), e.kind().to_string()))?;
            let m = g.compile_matcher();
            if texts.iter().any(|t| m.is_match(t)) {
                return Ok(true);
            }
        }
        Ok(false)
    };
    Ok(any(&w.applications, &[app.name])?
        || any(&w.namespaces, &[app.namespace])?
        || any(&w.clusters, &[&app.cluster.server, &app.cluster.name])?)
}

/// One window at `now`: whether it is open and until when, and when it opens next.
pub fn evaluate(
    project: &str,
    index: usize,
    w: &SyncWindow,
    now: jiff::Timestamp,
) -> Result<WindowState, WindowError> {
    let allow = match w.kind.as_str() {
        "allow" => true,
        "deny" => false,
        other => {
            return Err(WindowError::Kind { project: project.into(), index, kind: other.into() });
        }
    };
    let cron = Cron::from_str(&w.schedule).map_err(|e| WindowError::Schedule {
        project: project.into(),
        index,
        schedule: w.schedule.clone(),
        message: e.to_string(),
    })?;
    let duration = ferry_source::duration::parse_go_duration(&w.duration).map_err(|e| {
        WindowError::Duration {
            project: project.into(),
            index,
            duration: w.duration.clone(),
            message: e.to_string(),
        }
    })?;
    let zone = if w.time_zone.is_empty() { "UTC" } else { w.time_zone.as_str() };
    let tz = chrono_tz::Tz::from_str(zone).map_err(|_| WindowError::TimeZone {
        project: project.into(),
        index,
        zone: zone.into(),
    })?;
    // The window is open now when it started within the last `duration` (Argo CD's rule:
    // the next start after `now - duration` is not after `now`).
    let back = jiff::SignedDuration::try_from(duration).unwrap_or(jiff::SignedDuration::ZERO);
    let since = to_chrono(now.checked_sub(back).unwrap_or(now)).with_timezone(&tz);
    let start = cron.find_next_occurrence(&since, false).ok().map(|t| to_jiff(&t));
    let active_until = start.filter(|s| *s <= now).and_then(|s| s.checked_add(back).ok());
    let here = to_chrono(now).with_timezone(&tz);
    let next_start = cron.find_next_occurrence(&here, false).ok().map(|t| to_jiff(&t));
    let summary = format!("{} window {:?} for {} ({zone})", w.kind, w.schedule, w.duration);
    Ok(WindowState { summary, allow, manual_sync: w.manual_sync, active_until, next_start })
}

fn to_chrono(t: jiff::Timestamp) -> DateTime<Utc> {
    Utc.timestamp_opt(t.as_second(), t.subsec_nanosecond().max(0) as u32)
        .single()
        .unwrap_or_default()
}

fn to_jiff<Tz: chrono::TimeZone>(t: &DateTime<Tz>) -> jiff::Timestamp {
    jiff::Timestamp::from_second(t.timestamp()).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

#[cfg(test)]
mod tests;
