//! The render stage: the target commit's tree through the renderer (and its cache), then
//! prepared for apply. Skipped when the same commit, spec and source were rendered last time.

use std::time::{Duration, Instant};

use ferry_render::{Lookup, RenderContext, RenderError, RepoPath};
use ferry_source::{CommitId, RepoUrl};

use crate::metrics::{CacheLabel, CacheResult};
use crate::prepare::{PrepareError, prepare};

use super::cycle::Cycle;
use super::decryption;
use super::stop::{Stage, Stop};

/// Makes `cy.mem.prepared` the prepared render of `revision`.
pub(crate) async fn render(
    cy: &mut Cycle<'_>,
    url: &RepoUrl,
    revision: &CommitId,
) -> Result<(), Stop> {
    // An app with spec.decryption reads its keys at every reconcile, so that a changed key
    // Secret renders again; other apps read Ferry's default keys only when they render.
    let keys = match cy.app.spec.decryption {
        Some(_) => Some(decryption::keyring(cy).await?),
        None => None,
    };
    // The cluster is part of the key: discovery there says which kinds are namespaced.
    let source = format!(
        "{}@{}#{}",
        serde_json::to_string(&cy.app.spec.source).unwrap_or_default(),
        cy.cluster.id,
        keys.as_ref().map(|k| k.id()).unwrap_or_default()
    );
    let key = (revision.clone(), cy.app.metadata.generation, source);
    if cy.mem.rendered_for.as_ref() != Some(&key) {
        let keys = match keys {
            Some(keys) => keys,
            None => decryption::keyring(cy).await?,
        };
        if same_content(cy, url, revision, &key, keys.clone()).await {
            // Another commit, the same inputs (a monorepo commit to another app): what was
            // prepared stands, with the verdicts on its objects.
        } else {
            let rendered = run(cy, url, revision, keys).await?;
            let (client, discovery) = (&cy.cluster.client, &cy.cluster.discovery);
            let prepared = prepare(client, discovery, cy.app, cy.id, &rendered)
                .await
                .map_err(invalid_object)?;
            cy.mem.content = Some((rendered.hash.clone(), cy.app.metadata.generation));
            let keys = prepared.resources.iter().map(|r| &r.key);
            cy.inner.claims.set(cy.id, &cy.cluster.id, keys);
            cy.mem.prepared = prepared;
            cy.mem.epoch += 1;
        }
        cy.mem.rendered_for = Some(key);
    }
    // No commit in the message: the revision is `status.sync.revision` (or the repository
    // record's), and a message that named it would make every commit a status write.
    let message = format!("{} rendered", objects(cy.mem.prepared.desired.len()));
    cy.set("RenderReady", true, "Rendered", message);
    Ok(())
}

/// Whether `revision` renders what was prepared last, for the same spec and source: every input
/// the last render read is unchanged there (no render, no parse; see [`RenderCache::unchanged`]).
async fn same_content(
    cy: &Cycle<'_>,
    url: &RepoUrl,
    revision: &CommitId,
    key: &(CommitId, Option<i64>, String),
    keys: std::sync::Arc<ferry_render::Keyring>,
) -> bool {
    let same_source =
        cy.mem.rendered_for.as_ref().is_some_and(|(_, g, s)| (g, s) == (&key.1, &key.2));
    let Some((hash, generation)) = cy.mem.content.clone() else { return false };
    if !same_source || generation != key.1 || cy.mem.prepared.resources.is_empty() {
        return false;
    }
    let (Ok(path), Ok(tree)) =
        (RepoPath::new(&cy.app.spec.source.path), cy.inner.sources.tree(url, revision))
    else {
        return false;
    };
    let ctx = context(cy, Some(keys));
    let opts = cy.app.spec.source.render.clone();
    let worker = cy.inner.clone();
    tokio::task::spawn_blocking(move || {
        worker.renders.unchanged(&tree, &path, &opts, &ctx, &hash).unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// What the renderer needs to know of the app (and the keys to decrypt with, to render).
fn context(cy: &Cycle<'_>, keys: Option<std::sync::Arc<ferry_render::Keyring>>) -> RenderContext {
    let mut ctx = RenderContext::new(&cy.id.name)
        .with_config(cy.inner.config.render.clone())
        .with_owner(cy.id.owner());
    if let Some(keys) = keys {
        ctx = ctx.with_decryption(keys);
    }
    if !cy.app.spec.destination.namespace.is_empty() {
        ctx = ctx.with_namespace(&cy.app.spec.destination.namespace);
    }
    ctx
}

async fn run(
    cy: &mut Cycle<'_>,
    url: &RepoUrl,
    revision: &CommitId,
    keys: std::sync::Arc<ferry_render::Keyring>,
) -> Result<std::sync::Arc<ferry_render::Rendered>, Stop> {
    let inner = cy.inner;
    let path = RepoPath::new(&cy.app.spec.source.path).map_err(|e| {
        Stop::new(Stage::Render, "InvalidPath", format!("spec.source.path: {e}"))
            .hint("Fix spec.source.path")
    })?;
    let tree = inner.sources.tree(url, revision).map_err(|e| {
        Stop::new(Stage::Source, "TreeUnreadable", e.to_string()).backoff(Duration::from_secs(15))
    })?;
    let ctx = context(cy, Some(keys));
    let opts = cy.app.spec.source.render.clone();
    let worker = inner.clone();
    let started = Instant::now();
    let rendered = tokio::task::spawn_blocking(move || {
        worker.renders.render_traced(&tree, &path, &opts, &ctx)
    })
    .await;
    inner.metrics.render_duration.observe(started.elapsed().as_secs_f64());
    match rendered {
        Ok(Ok((r, lookup))) => {
            let cache = match lookup {
                Lookup::Hit => CacheResult::Hit,
                Lookup::Miss => CacheResult::Miss,
            };
            inner.metrics.renders.get_or_create(&CacheLabel { cache }).inc();
            Ok(r)
        }
        Ok(Err(e)) => Err(render_failed(&e, revision)),
        Err(e) => {
            Err(Stop::new(Stage::Render, "RenderCrashed", format!("the renderer stopped: {e}"))
                .backoff(Duration::from_secs(30)))
        }
    }
}

fn render_failed(e: &RenderError, revision: &CommitId) -> Stop {
    if let RenderError::Decrypt { source, .. } = e {
        return decrypt_failed(e, source, revision);
    }
    let stop =
        Stop::new(Stage::Render, "RenderFailed", format!("revision {}: {e}", revision.short()));
    if e.is_installation_problem() {
        // Not a problem in Git: a tool Ferry needs is missing here; installing it fixes it.
        return stop
            .hint("This is a problem of Ferry's installation, not of the repository")
            .backoff(Duration::from_secs(30));
    }
    stop.hint("Fix it in Git and commit")
}

/// A SOPS file did not decrypt: a missing or wrong key is fixed in the key Secret (and retried
/// soon), anything else in Git.
fn decrypt_failed(e: &RenderError, source: &ferry_secrets::SopsError, revision: &CommitId) -> Stop {
    use ferry_secrets::SopsError;
    let stop =
        Stop::new(Stage::Render, "DecryptionFailed", format!("revision {}: {e}", revision.short()));
    match source {
        SopsError::NoKeys | SopsError::WrongKey { .. } => stop
            .hint("Add the matching key to the Secret spec.decryption.secretRef names")
            .backoff(Duration::from_secs(10)),
        _ => stop.hint("Fix the file in Git (re-encrypt it with sops or ferry secret encrypt)"),
    }
}

fn invalid_object(e: PrepareError) -> Stop {
    let stop = Stop::new(Stage::Render, "InvalidObject", e.to_string());
    match e {
        PrepareError::Discovery { .. } => stop.backoff(Duration::from_secs(5)),
        PrepareError::Object { .. } => stop.hint("Fix it in Git and commit"),
    }
}

/// "1 object", "3 objects".
pub(crate) fn objects(n: usize) -> String {
    if n == 1 { "1 object".to_owned() } else { format!("{n} objects") }
}
