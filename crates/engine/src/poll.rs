//! The poller: one `ls-remote` per repository per interval, whatever the number of apps on it;
//! only apps whose revision moved are reconciled.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ferry_apply::tracking::AppId;
use ferry_source::RepoUrl;
use ferry_source::resolve::Resolution;
use futures::StreamExt;
use kube::ResourceExt;

use crate::controller::Inner;
use crate::sources::Sources;

pub(crate) async fn poll_once(inner: &Arc<Inner>) {
    let mut by_repo: HashMap<String, (RepoUrl, Vec<(AppId, String)>)> = HashMap::new();
    for app in inner.apps.state() {
        let Ok(url) = Sources::parse_url(&app.spec.source.repo_url) else { continue };
        let id = AppId::new(app.namespace().unwrap_or_default(), app.name_any());
        let revision = app.spec.source.target_revision.clone();
        by_repo.entry(url.key()).or_insert_with(|| (url, Vec::new())).1.push((id, revision));
    }
    futures::stream::iter(by_repo.into_values())
        .for_each_concurrent(8, |(url, apps)| async move {
            let started = std::time::Instant::now();
            let refs = inner.sources.refs(&url, &inner.credentials, Duration::ZERO).await;
            inner.metrics.git_fetch_duration.observe(started.elapsed().as_secs_f64());
            match refs {
                Ok(refs) => {
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
                    tracing::warn!(repo = %url, error = %e, "ref check failed");
                    for (id, _) in apps {
                        inner.trigger(&id, |r| r.poll = true);
                    }
                }
            }
        })
        .await;
}

/// Reconciles, now, the apps of the repository `raw_url` names; returns how many.
pub(crate) fn notify_push(inner: &Arc<Inner>, raw_url: &str) -> usize {
    let Ok(url) = Sources::parse_url(raw_url) else { return 0 };
    inner.sources.invalidate(&url);
    let key = url.key();
    let mut n = 0;
    for app in inner.apps.state() {
        if Sources::parse_url(&app.spec.source.repo_url).is_ok_and(|u| u.key() == key) {
            inner.trigger(&AppId::new(app.namespace().unwrap_or_default(), app.name_any()), |r| {
                r.poll = true
            });
            n += 1;
        }
    }
    n
}
