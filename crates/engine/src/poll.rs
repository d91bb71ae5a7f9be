//! The poller: one `ls-remote` per repository when it is due, whatever the number of apps on
//! it; only apps whose revision moved are reconciled. Each repository keeps its own schedule
//! (`ferry_source::Poller`): the poll interval with jitter while it answers, exponential backoff
//! while it fails, and one log line per change of error rather than one per attempt.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferry_apply::tracking::AppId;
use ferry_source::resolve::Resolution;
use ferry_source::{PollConfig, PollOutcome, Poller, RepoUrl};
use futures::StreamExt;
use kube::ResourceExt;

use crate::controller::Inner;
use crate::sources::Sources;

/// The schedule of one repository.
struct RepoPoll {
    poller: Poller,
    due: Instant,
    last_error: Option<String>,
}

/// Every repository's schedule, by repository key.
#[derive(Default)]
pub(crate) struct Schedule {
    repos: Mutex<HashMap<String, RepoPoll>>,
}

impl Schedule {
    /// Whether `key` is due at `now` (a repository seen for the first time is).
    fn due(&self, key: &str, now: Instant) -> bool {
        let repos = self.repos.lock().unwrap_or_else(|p| p.into_inner());
        repos.get(key).is_none_or(|r| r.due <= now)
    }

    /// Records a poll's outcome; returns the error to log when it is new.
    fn done(&self, key: &str, interval: Duration, result: Result<(), String>) -> Option<String> {
        let mut repos = self.repos.lock().unwrap_or_else(|p| p.into_inner());
        let repo = repos.entry(key.to_owned()).or_insert_with(|| RepoPoll {
            poller: Poller::new(config(interval)),
            due: Instant::now(),
            last_error: None,
        });
        let (outcome, error) = match result {
            Ok(()) => (PollOutcome::Unchanged, None),
            Err(e) => (PollOutcome::Failed, Some(e)),
        };
        repo.due = Instant::now() + repo.poller.next_delay(outcome);
        let fresh = error.as_ref().filter(|e| repo.last_error.as_ref() != Some(*e)).cloned();
        repo.last_error = error;
        fresh
    }
}

fn config(interval: Duration) -> PollConfig {
    PollConfig {
        interval,
        jitter: 0.1,
        backoff_base: interval.max(Duration::from_secs(1)),
        backoff_max: interval.max(Duration::from_secs(300)),
    }
}

/// How often the poller looks for repositories that are due.
pub(crate) fn tick(interval: Duration) -> Duration {
    interval.min(Duration::from_secs(1)).max(Duration::from_millis(10))
}

pub(crate) async fn poll_once(inner: &Arc<Inner>) {
    let now = Instant::now();
    type Repo = (RepoUrl, String);
    let mut by_repo: HashMap<String, (Repo, Vec<(AppId, String)>)> = HashMap::new();
    for app in inner.apps.state() {
        let Ok(url) = Sources::parse_url(&app.spec.source.repo_url) else { continue };
        if !inner.schedule.due(&url.key(), now) {
            continue;
        }
        let id = AppId::new(app.namespace().unwrap_or_default(), app.name_any());
        let revision = app.spec.source.target_revision.clone();
        let raw = app.spec.source.repo_url.clone();
        by_repo.entry(url.key()).or_insert_with(|| ((url, raw), Vec::new())).1.push((id, revision));
    }
    futures::stream::iter(by_repo.into_values())
        .for_each_concurrent(8, |(url, apps)| poll_repo(inner, url, apps))
        .await;
}

async fn poll_repo(inner: &Arc<Inner>, (url, raw): (RepoUrl, String), apps: Vec<(AppId, String)>) {
    // A broken Secret stops the poll like a failed ref check; the apps say why.
    let refs = match inner.repos.access(&raw).await {
        Ok(repo) => Ok(repo.access),
        Err(e) => Err(e.to_string()),
    };
    let started = Instant::now();
    let refs = match refs {
        Ok(access) => {
            inner.sources.refs(&url, &access, Duration::ZERO).await.map_err(|e| e.to_string())
        }
        Err(e) => Err(e),
    };
    inner.metrics.git_fetch_duration.observe(started.elapsed().as_secs_f64());
    let interval = inner.config.poll_interval;
    match refs {
        Ok(refs) => {
            if inner.schedule.done(&url.key(), interval, Ok(())).is_none() {
                tracing::debug!(repo = %url, "ref check done");
            }
            for (id, revision) in apps {
                let now = match Sources::resolve_with(&refs, &url, &revision) {
                    Ok(Resolution::Ref { commit, .. }) => Some(commit),
                    Ok(Resolution::Commit { .. }) => continue,
                    Err(_) => None,
                };
                let known = inner
                    .memory
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(&id)
                    .and_then(|m| m.head.clone());
                if now.is_none() || now != known {
                    inner.trigger(&id, |r| r.poll = true);
                }
            }
        }
        Err(e) => {
            inner.metrics.git_errors.inc();
            if let Some(error) = inner.schedule.done(&url.key(), interval, Err(e)) {
                tracing::warn!(repo = %url, %error, "ref check failed; retrying with backoff");
            }
            // The apps say so in their conditions (their own fetch fails the same way).
            for (id, _) in apps {
                inner.trigger(&id, |r| r.poll = true);
            }
        }
    }
}

/// Reconciles, now, the apps of the repository `raw_url` names; returns how many.
pub(crate) fn notify_push(
    inner: &Arc<Inner>,
    raw_url: &str,
    delivery: Option<crate::sync_audit::Delivery>,
) -> usize {
    let Ok(url) = Sources::parse_url(raw_url) else { return 0 };
    inner.sources.invalidate(&url);
    let key = url.key();
    let mut n = crate::appset::controller::notify_push(inner, &url);
    for app in inner.apps.state() {
        if Sources::parse_url(&app.spec.source.repo_url).is_ok_and(|u| u.key() == key) {
            let id = AppId::new(app.namespace().unwrap_or_default(), app.name_any());
            if let Some(delivery) = &delivery {
                let mut deliveries = inner.deliveries.lock().unwrap_or_else(|p| p.into_inner());
                deliveries.insert(id.clone(), delivery.clone());
            }
            inner.trigger(&id, |r| r.poll = true);
            n += 1;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_repository_is_polled_later_each_time_and_its_error_logged_once() {
        let schedule = Schedule::default();
        let interval = Duration::from_secs(10);
        assert!(schedule.due("r", Instant::now()));
        assert_eq!(schedule.done("r", interval, Err("down".into())), Some("down".into()));
        assert_eq!(schedule.done("r", interval, Err("down".into())), None);
        assert!(!schedule.due("r", Instant::now() + Duration::from_secs(15)));
        assert_eq!(schedule.done("r", interval, Err("refused".into())), Some("refused".into()));
        assert_eq!(schedule.done("r", interval, Ok(())), None);
        assert!(schedule.due("r", Instant::now() + Duration::from_secs(12)));
        assert!(!schedule.due("r", Instant::now() + Duration::from_secs(8)));
    }
}
