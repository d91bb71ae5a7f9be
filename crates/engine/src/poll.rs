//! The poller: one `ls-remote` per repository when it is due, whatever the number of apps on
//! it; only apps whose revision moved are reconciled, those whose files changed first (see
//! `changed_first`). Each repository keeps its own schedule (`ferry_source::Poller`): the poll
//! interval with jitter while it answers, exponential backoff while it fails, and one log line
//! per change of error rather than one per attempt.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferry_apply::tracking::AppId;
use ferry_source::resolve::Resolution;
use ferry_source::{Access, CommitId, PollConfig, PollOutcome, Poller, RepoPath, RepoUrl};
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
    let mut by_repo: HashMap<String, (Repo, Vec<Polled>)> = HashMap::new();
    for app in inner.apps.state() {
        let Ok(url) = Sources::parse_url(&app.spec.source.repo_url) else { continue };
        if !inner.schedule.due(&url.key(), now) {
            continue;
        }
        let polled = Polled {
            id: AppId::new(app.namespace().unwrap_or_default(), app.name_any()),
            revision: app.spec.source.target_revision.clone(),
            path: app.spec.source.path.clone(),
        };
        let raw = app.spec.source.repo_url.clone();
        by_repo.entry(url.key()).or_insert_with(|| ((url, raw), Vec::new())).1.push(polled);
    }
    futures::stream::iter(by_repo.into_values())
        .for_each_concurrent(8, |(url, apps)| poll_repo(inner, url, apps))
        .await;
}

/// An app as the poller sees it: which ref it follows, and where its files are.
struct Polled {
    id: AppId,
    revision: String,
    path: String,
}

async fn poll_repo(inner: &Arc<Inner>, (url, raw): (RepoUrl, String), apps: Vec<Polled>) {
    // A broken Secret stops the poll like a failed ref check; the apps say why.
    let access = match inner.repos.access(&raw).await {
        Ok(repo) => Ok(repo.access),
        Err(e) => Err(e.to_string()),
    };
    let started = Instant::now();
    let refs = match &access {
        Ok(access) => {
            inner.sources.refs(&url, access, Duration::ZERO).await.map_err(|e| e.to_string())
        }
        Err(e) => Err(e.clone()),
    };
    inner.metrics.git_fetch_duration.observe(started.elapsed().as_secs_f64());
    let interval = inner.config.poll_interval;
    let (refs, access) = match (refs, access) {
        (Ok(refs), Ok(access)) => (refs, access),
        (Err(e), _) | (_, Err(e)) => {
            inner.metrics.git_errors.inc();
            if let Some(error) = inner.schedule.done(&url.key(), interval, Err(e)) {
                tracing::warn!(repo = %url, %error, "ref check failed; retrying with backoff");
            }
            // The apps say so in their conditions (their own fetch fails the same way).
            for app in apps {
                inner.trigger(&app.id, |r| r.poll = true);
            }
            return;
        }
    };
    if inner.schedule.done(&url.key(), interval, Ok(())).is_none() {
        tracing::debug!(repo = %url, "ref check done");
    }
    let mut moved = Vec::new();
    for app in apps {
        let now = match Sources::resolve_with(&refs, &url, &app.revision) {
            Ok(Resolution::Ref { commit, .. }) => Some(commit),
            Ok(Resolution::Commit { .. }) => continue,
            Err(_) => None,
        };
        let memory = inner.memory.lock().unwrap_or_else(|p| p.into_inner());
        let known = memory.get(&app.id).and_then(|m| m.head.clone());
        drop(memory);
        if now.is_none() || now != known {
            moved.push((app, known, now));
        }
    }
    if moved.len() > 1 {
        changed_first(inner, &url, &access, &mut moved).await;
    }
    for (app, _, _) in moved {
        inner.trigger(&app.id, |r| r.poll = true);
    }
}

/// Most commit pairs whose changed paths the poller reads to order one repository's apps.
const MAX_PAIRS: usize = 4;

/// Orders `moved` so that the apps whose files changed between the commit each last saw and
/// the new one come first (as a webhook that names its changed paths does): in a monorepo the
/// app a one-line commit changed is applied before the others are verified unchanged. The new
/// commit is fetched here rather than by the first reconcile (which would wait for the same
/// fetch); when it cannot be, or the diff cannot be read, the order stays as it is.
async fn changed_first(
    inner: &Arc<Inner>,
    url: &RepoUrl,
    access: &Access,
    moved: &mut [(Polled, Option<CommitId>, Option<CommitId>)],
) {
    let mut pairs: Vec<(CommitId, CommitId)> = Vec::new();
    for (_, known, now) in moved.iter() {
        if let (Some(from), Some(to)) = (known, now)
            && !pairs.iter().any(|(f, t)| f == from && t == to)
        {
            pairs.push((from.clone(), to.clone()));
        }
    }
    if pairs.is_empty() || pairs.len() > MAX_PAIRS {
        return;
    }
    let mut changed: HashMap<(CommitId, CommitId), BTreeSet<RepoPath>> = HashMap::new();
    for (from, to) in pairs {
        // A commit id resolves without refs and is fetched whatever the cache holds: fetch
        // only when the commit is not here yet.
        let fetched = if inner.sources.tree(url, &to).is_ok() {
            Ok(to.clone())
        } else {
            inner.sources.commit(url, access, to.as_str(), Duration::from_secs(60)).await
        };
        if let Err(e) = fetched {
            tracing::debug!(repo = %url, error = %e, "cannot fetch the new commit to order apps");
            return;
        }
        match inner.sources.cache().changed_paths(url, &from, &to) {
            Ok(paths) => {
                changed.insert((from, to), paths);
            }
            // The commit an app last saw may be gone (history rewritten): no order then.
            Err(e) => tracing::debug!(repo = %url, error = %e, "no changed paths to order apps"),
        }
    }
    moved.sort_by_key(|(app, known, now)| {
        let paths = known.clone().zip(now.clone()).and_then(|pair| changed.get(&pair));
        !paths.is_none_or(|paths| touches(&app.path, paths))
    });
}

/// Reconciles, now, the apps of the repository `raw_url` names; returns how many.
/// Every app of the repository is looked at again (an app whose files did not change is
/// verified unchanged at the new commit); when the push named the paths it changed, the apps
/// whose source path holds one of them are queued first, so that the app a one-line commit
/// changed is applied before the other 999 of a monorepo are verified.
pub(crate) fn notify_push(
    inner: &Arc<Inner>,
    raw_url: &str,
    delivery: Option<crate::sync_audit::Delivery>,
    changed: Option<&BTreeSet<RepoPath>>,
) -> usize {
    let Ok(url) = Sources::parse_url(raw_url) else { return 0 };
    inner.sources.invalidate(&url);
    let key = url.key();
    let mut n = crate::appset::controller::notify_push(inner, &url);
    let mut apps: Vec<_> = inner
        .apps
        .state()
        .into_iter()
        .filter(|app| Sources::parse_url(&app.spec.source.repo_url).is_ok_and(|u| u.key() == key))
        .collect();
    if let Some(changed) = changed {
        apps.sort_by_key(|app| !touches(&app.spec.source.path, changed));
    }
    for app in apps {
        let id = AppId::new(app.namespace().unwrap_or_default(), app.name_any());
        if let Some(delivery) = &delivery {
            let mut deliveries = inner.deliveries.lock().unwrap_or_else(|p| p.into_inner());
            deliveries.insert(id.clone(), delivery.clone());
        }
        inner.trigger(&id, |r| r.poll = true);
        n += 1;
    }
    n
}

/// Whether a changed path lies under the app's source path (the repository root holds all).
fn touches(app_path: &str, changed: &BTreeSet<RepoPath>) -> bool {
    let dir = app_path.trim_matches('/');
    if dir.is_empty() || dir == "." {
        return true;
    }
    changed.iter().any(|p| {
        let p = p.as_str();
        p == dir || p.strip_prefix(dir).is_some_and(|rest| rest.starts_with('/'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_path_touches_the_apps_under_it_and_the_root_app() {
        let changed: BTreeSet<RepoPath> =
            ["apps/web/deploy.yaml"].iter().map(|p| RepoPath::new(p).expect("a path")).collect();
        assert!(touches("apps/web", &changed));
        assert!(touches("apps/web/", &changed));
        assert!(touches("", &changed) && touches(".", &changed));
        assert!(!touches("apps/we", &changed), "a prefix of a name is another directory");
        assert!(!touches("apps/api", &changed));
    }

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
