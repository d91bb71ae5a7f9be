//! Which commit the app is reconciled to: the destination is one Ferry knows, `targetRevision`
//! resolves (fresh on a poll, spec change, request or refresh; from memory on a drift event),
//! and a rollback pin, when set, takes precedence until a new commit or an unpin.

use std::time::{Duration, Instant};

use ferry_source::{CommitId, RepoUrl};
use kube::runtime::events::EventType;

use crate::application::Pin;
use crate::clusters::{ConnectError, SelectError, scope};
use crate::repos::{RepoAccess, RepoError};
use crate::sources::{SourceError, Sources};
use crate::status::find_history;
use ferry_source::short_revision as short;

use super::cycle::Cycle;
use super::stop::{Stage, Stop};

/// The commit this reconcile works on.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub url: RepoUrl,
    /// What `targetRevision` resolves to.
    pub head: CommitId,
    /// What is applied: `head`, or the pinned revision of a rollback.
    pub revision: CommitId,
    /// A rollback asked for now: sync even without automation.
    pub forced: bool,
}

/// The destination cluster: the one Ferry runs in, or a cluster Secret's, connected and
/// answering. Sets `cy.cluster`.
pub(crate) async fn destination(cy: &mut Cycle<'_>) -> Result<(), Stop> {
    let namespace = cy.inner.settings.namespace().to_owned();
    match cy.inner.clusters.connect(&cy.app.spec.destination).await {
        Ok(conn) => {
            cy.cluster = conn;
            cy.inner.metrics.clusters_connected.set(cy.inner.clusters.connected() as i64);
            cy.clear("DestinationReady");
            cy.clear("ClusterReady");
            Ok(())
        }
        Err(e) => Err(destination_stop(e, &namespace)),
    }
}

fn destination_stop(e: ConnectError, namespace: &str) -> Stop {
    let message = e.to_string();
    match e {
        ConnectError::Select(SelectError::Disagree { .. }) => {
            Stop::new(Stage::Destination, "InvalidDestination", message)
                .hint("Set only one of destination.name and destination.server, or make them name the same cluster")
        }
        ConnectError::Select(SelectError::Unknown { .. }) => Stop::new(Stage::Destination, "UnknownCluster", message)
            .hint(format!("Add the cluster with `ferry cluster add NAME --kubeconfig FILE` (or a cluster Secret in namespace {namespace}), or deploy into the cluster Ferry runs in with destination.server https://kubernetes.default.svc")),
        ConnectError::Select(SelectError::Secret(e)) => {
            Stop::new(Stage::Cluster, "InvalidClusterSecret", message).hint(e.hint())
        }
        ConnectError::Client { .. } => Stop::new(Stage::Cluster, "InvalidClusterSecret", message)
            .hint("Fix the cluster Secret's server and tlsClientConfig, or re-add the cluster with `ferry cluster add NAME --kubeconfig FILE --upsert`"),
        ConnectError::Unreachable { .. } => Stop::new(Stage::Cluster, "ClusterUnreachable", message)
            .hint("Check that the cluster is up and reachable from Ferry (`ferry cluster list` probes it); if its credentials or CA changed, re-add it with `ferry cluster add NAME --kubeconfig FILE --upsert`. Ferry keeps retrying and recovers by itself when the cluster answers")
            .backoff(Duration::from_secs(2))
            .max_backoff(Duration::from_secs(30)),
    }
}

/// The cluster Secret's `namespaces` and `clusterResources` allow what the app declares;
/// checked before anything is applied.
pub(crate) fn permitted(cy: &mut Cycle<'_>) -> Result<(), Stop> {
    let Some(spec) = &cy.cluster.spec else { return Ok(()) };
    scope::check(spec, &cy.app.spec.destination.namespace, &cy.mem.prepared.desired).map_err(|e| {
        Stop::new(Stage::Destination, "DestinationNotPermitted", e.to_string()).hint(format!(
            "Deploy only into the namespaces cluster Secret {} lists in `namespaces`, or extend that list (clusterResources \"true\" allows cluster-scoped objects)",
            spec.secret
        ))
    })
}

pub(crate) async fn resolve(cy: &mut Cycle<'_>) -> Result<Target, Stop> {
    let url = Sources::parse_url(&cy.app.spec.source.repo_url).map_err(|e| {
        Stop::new(Stage::Source, "InvalidRepoURL", e.to_string()).hint("Fix spec.source.repoURL")
    })?;
    let head = head(cy, &url).await?;
    cy.set(
        "SourceReady",
        true,
        "Fetched",
        // No commit in the message (it is in status.sync.revision, or the repository record):
        // a message naming it would make every commit a status write.
        format!("{} resolved and fetched", display_revision(&cy.app.spec.source.target_revision)),
    );
    let forced = pins(cy, &head).await;
    let revision = match cy.status.pinned.clone() {
        Some(pin) => pinned(cy, &url, &pin).await?,
        None => {
            cy.clear("Pinned");
            head.clone()
        }
    };
    Ok(Target { url, head, revision, forced })
}

/// What `targetRevision` resolves to: asked of the server when a reason calls for it, else
/// remembered from the last reconcile.
async fn head(cy: &mut Cycle<'_>, url: &RepoUrl) -> Result<CommitId, Stop> {
    let refresh = cy.requests.refresh.is_some();
    if let Some(head) = cy.mem.head.clone().filter(|_| !cy.reasons.needs_source() && !refresh) {
        return Ok(head);
    }
    let r = cy.reasons;
    let max_age = if refresh {
        Duration::ZERO
    } else if r.poll && !r.spec && !r.request {
        cy.inner.config.poll_interval / 2
    } else {
        Duration::from_secs(1)
    };
    let inner = cy.inner;
    let wanted = &cy.app.spec.source.target_revision;
    let repo = access(cy).await?;
    let started = Instant::now();
    let head = inner.sources.commit(url, &repo.access, wanted, max_age).await;
    inner.metrics.git_fetch_duration.observe(started.elapsed().as_secs_f64());
    match head {
        Ok(c) => {
            tracing::debug!(app = %cy.id, head = %c.short(), "source resolved");
            cy.mem.head = Some(c.clone());
            Ok(c)
        }
        Err(e) => {
            inner.metrics.git_errors.inc();
            let first = if e.is_retryable() {
                Duration::from_secs(5)
            } else {
                inner.config.poll_interval.max(Duration::from_secs(30))
            };
            let what = format!("{:?}", display_revision(wanted));
            Err(fetch_failed(cy, url, &repo, &what, &e).backoff(first))
        }
    }
}

/// The credentials of the app's repository, from Ferry's repository Secrets.
async fn access(cy: &Cycle<'_>) -> Result<RepoAccess, Stop> {
    cy.inner.repos.access(&cy.app.spec.source.repo_url).await.map_err(|e| {
        let stop = Stop::new(Stage::Source, "RepositoryCredentials", e.to_string());
        match e {
            RepoError::Secret(_) => stop,
            // A token exchange or a disk write may work next time.
            RepoError::Github(_) | RepoError::File(_) => stop.backoff(Duration::from_secs(10)),
        }
    })
}

/// The stop for a failed fetch: an access problem says whose credentials failed (never what
/// they are) and leaves the rest of git's words out; other failures keep them.
fn fetch_failed(
    cy: &Cycle<'_>,
    url: &RepoUrl,
    repo: &RepoAccess,
    what: &str,
    e: &SourceError,
) -> Stop {
    let namespace = cy.inner.repos.namespace();
    match repo.explain(url, e.failure_kind(), namespace) {
        Some(message) => Stop::new(Stage::Source, "AuthenticationFailed", message),
        None => {
            Stop::new(Stage::Source, "FetchFailed", format!("cannot fetch {what} from {url}: {e}"))
        }
    }
}

/// Applies unpin and rollback requests and leaves a pin a new commit made stale. Returns whether
/// a rollback was asked for now (it syncs even without automation).
async fn pins(cy: &mut Cycle<'_>, head: &CommitId) -> bool {
    let following = display_revision(&cy.app.spec.source.target_revision).to_owned();
    if cy.requests.unpin && cy.status.pinned.take().is_some() {
        cy.publish(EventType::Normal, "Unpinned", format!("following {following} again")).await;
    }
    let mut forced = false;
    if let Some(request) = cy.requests.rollback.clone() {
        forced = rollback(cy, &request.to, head).await;
    }
    if cy.status.pinned.as_ref().is_some_and(|p| p.head_at_pin != head.as_str()) {
        cy.status.pinned = None;
        let note = format!("a new commit {} arrived; following it again", head.short());
        cy.publish(EventType::Normal, "Unpinned", note).await;
    }
    forced
}

async fn rollback(cy: &mut Cycle<'_>, wanted: &str, head: &CommitId) -> bool {
    let Some(h) = find_history(&cy.status.history, wanted).cloned() else {
        let message = format!(
            "no history entry or revision {wanted:?} to roll back to; `ferry app history {}` lists them",
            cy.name()
        );
        cy.set("RollbackFailed", true, "UnknownRevision", message);
        return false;
    };
    cy.status.pinned = Some(Pin {
        revision: h.revision.clone(),
        reason: format!("rolled back to history entry {} on request", h.id),
        head_at_pin: head.as_str().to_owned(),
        at: cy.now.stamp(),
    });
    cy.clear("RollbackFailed");
    let note = format!(
        "rolling back to history entry {} ({}) on request; staying there until a new commit or an unpin",
        h.id,
        short(&h.revision)
    );
    cy.publish(EventType::Normal, "RolledBack", note).await;
    true
}

async fn pinned(cy: &mut Cycle<'_>, url: &RepoUrl, pin: &Pin) -> Result<CommitId, Stop> {
    let message = format!(
        "staying on {} ({}); a new commit or `ferry app rollback {} --unpin` resumes auto-sync",
        short(&pin.revision),
        pin.reason,
        cy.name()
    );
    cy.set("Pinned", true, "RolledBack", message);
    let inner = cy.inner;
    let repo = access(cy).await?;
    inner.sources.commit(url, &repo.access, &pin.revision, Duration::from_secs(1)).await.map_err(
        |e| {
            let what = format!("pinned revision {}", pin.revision);
            fetch_failed(cy, url, &repo, &what, &e).backoff(Duration::from_secs(10))
        },
    )
}

/// How a `targetRevision` reads in messages (empty means the remote's HEAD).
pub(crate) fn display_revision(r: &str) -> &str {
    if r.is_empty() { "HEAD" } else { r }
}
