//! The render cache: an app whose inputs did not change is never rendered twice.
//!
//! The key is (app path, app name and namespace, options, kind, tool version). Under a key the cache
//! keeps the read set of the last renders with a fingerprint per path — the tree's content id
//! where it has one (git blob/tree ids), else a hash of the bytes or of the directory listing. A
//! lookup recomputes the fingerprints from the current tree; all equal means the same output.
//!
//! Bounded by what is managed, not by uptime: each key is held by the owners that last rendered
//! under it (the engine's apps, [`RenderContext::owner`]). An owner rendering under a new key
//! (its spec changed) lets go of the old one, a deleted app is forgotten, and a key no owner
//! holds is dropped; renders without an owner (one-off previews) keep at most
//! [`UNOWNED_KEYS`] keys, the oldest dropped first.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ferry_source::{EntryKind, RepoPath, Tree};
use sha2::{Digest, Sha256};

use crate::config::RenderContext;
use crate::detect::detect;
use crate::error::RenderError;
use crate::materialize::Reader;
use crate::object::Rendered;
use crate::options::{RenderOptions, SourceKind};
use crate::tool_version;

/// Renders remembered per app and inputs. Cheap to share (`&self` everywhere, internally locked).
pub struct RenderCache {
    entries: Mutex<Store>,
    /// Most remembered renders per key (older ones are dropped first).
    per_key: usize,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// Most keys kept for renders without an owner.
pub const UNOWNED_KEYS: usize = 64;

/// The remembered renders by key, and who holds each key.
#[derive(Default)]
struct Store {
    renders: HashMap<String, Vec<Entry>>,
    /// Owner → the key it last rendered under.
    owners: HashMap<String, String>,
    /// Key → how many owners hold it (keys of owned renders only).
    holders: HashMap<String, usize>,
    /// Keys rendered without an owner and held by none, oldest first.
    unowned: VecDeque<String>,
}

impl Store {
    /// `owner` (if any) now holds `key`: the key it held before is let go.
    fn hold(&mut self, owner: Option<&str>, key: &str) {
        let Some(owner) = owner else {
            if !self.holders.contains_key(key) && !self.unowned.iter().any(|k| k == key) {
                self.unowned.push_back(key.to_owned());
                while self.unowned.len() > UNOWNED_KEYS {
                    let oldest = self.unowned.pop_front().unwrap_or_default();
                    self.renders.remove(&oldest);
                }
            }
            return;
        };
        if self.owners.get(owner).is_some_and(|held| held == key) {
            return;
        }
        if let Some(before) = self.owners.insert(owner.to_owned(), key.to_owned()) {
            self.let_go(&before);
        }
        *self.holders.entry(key.to_owned()).or_default() += 1;
        self.unowned.retain(|k| k != key);
    }

    /// One owner fewer holds `key`; the last one takes its renders with it.
    fn let_go(&mut self, key: &str) {
        let Some(count) = self.holders.get_mut(key) else { return };
        *count -= 1;
        if *count == 0 {
            self.holders.remove(key);
            self.renders.remove(key);
        }
    }

    fn forget(&mut self, owner: &str) {
        if let Some(key) = self.owners.remove(owner) {
            self.let_go(&key);
        }
    }
}

/// (path, fingerprint) for every path a render read.
type Fingerprints = Vec<(RepoPath, String)>;

struct Entry {
    fingerprints: Fingerprints,
    /// The render's content hash ([`Rendered::hash`]).
    hash: String,
    /// The render itself, except for plain manifest directories: reading and parsing their
    /// files again costs less than keeping every object twice (the engine keeps what it
    /// applies), and [`RenderCache::unchanged`] needs only the fingerprints.
    rendered: Option<Packed>,
}

/// A remembered render with each object as compact JSON: a parsed `Value` takes about ten times
/// the bytes of its JSON, and the cache keeps up to `per_key` renders of every app while a hit
/// needs them back only once per new commit.
struct Packed {
    objects: Vec<(Box<[u8]>, crate::object::Origin, String)>,
    read_set: std::collections::BTreeSet<RepoPath>,
    hash: String,
}

impl Packed {
    fn of(rendered: &Rendered) -> Option<Self> {
        let mut objects = Vec::with_capacity(rendered.objects.len());
        for o in &rendered.objects {
            let json = serde_json::to_vec(&o.object).ok()?.into_boxed_slice();
            objects.push((json, o.origin.clone(), o.hash.clone()));
        }
        Some(Self { objects, read_set: rendered.read_set.clone(), hash: rendered.hash.clone() })
    }

    /// The render back; `None` if an object no longer parses (it always should: it was
    /// serialized from a `Value`), which the caller treats as a miss.
    fn unpack(&self) -> Option<Rendered> {
        let mut objects = Vec::with_capacity(self.objects.len());
        for (json, origin, hash) in &self.objects {
            objects.push(crate::object::RenderedObject {
                object: serde_json::from_slice(json).ok()?,
                origin: origin.clone(),
                hash: hash.clone(),
            });
        }
        Some(Rendered { objects, read_set: self.read_set.clone(), hash: self.hash.clone() })
    }
}

/// Whether a render came from the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    Hit,
    Miss,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
}

impl Default for RenderCache {
    fn default() -> Self {
        Self::new()
    }
}

impl RenderCache {
    pub fn new() -> Self {
        Self {
            entries: Mutex::new(Store::default()),
            per_key: 4,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Drops the renders `owner` holds alone (its app was deleted, or is reconciled elsewhere).
    pub fn forget(&self, owner: &str) {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).forget(owner);
    }

    /// How many keys have renders remembered.
    pub fn keys(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).renders.len()
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    /// [`crate::render`], unless an earlier render of the same inputs is remembered.
    pub fn render(
        &self,
        tree: &dyn Tree,
        app_path: &RepoPath,
        opts: &RenderOptions,
        ctx: &RenderContext,
    ) -> Result<Arc<Rendered>, RenderError> {
        self.render_traced(tree, app_path, opts, ctx).map(|(rendered, _)| rendered)
    }

    /// [`RenderCache::render`], saying whether the render was remembered ([`Lookup::Hit`]) or
    /// carried out ([`Lookup::Miss`]).
    pub fn render_traced(
        &self,
        tree: &dyn Tree,
        app_path: &RepoPath,
        opts: &RenderOptions,
        ctx: &RenderContext,
    ) -> Result<(Arc<Rendered>, Lookup), RenderError> {
        let (key, kind) = self.key(tree, app_path, opts, ctx)?;
        let candidates: Vec<Fingerprints> = {
            let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            entries
                .renders
                .get(&key)
                .map(|list| list.iter().map(|e| e.fingerprints.clone()).collect())
                .unwrap_or_default()
        };
        for fingerprints in candidates {
            if still_valid(tree, &fingerprints)
                && let Some(rendered) = self.unpack(&key, &fingerprints, ctx.owner.as_deref())
            {
                self.hits.fetch_add(1, Ordering::Relaxed);
                return Ok((Arc::new(rendered), Lookup::Hit));
            }
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let rendered = Arc::new(crate::render(tree, app_path, opts, ctx)?);
        let mut fingerprints = Vec::with_capacity(rendered.read_set.len());
        for path in &rendered.read_set {
            match fingerprint(tree, path) {
                Some(fp) => fingerprints.push((path.clone(), fp)),
                // Not fingerprintable now (it vanished meanwhile): do not remember this render.
                None => return Ok((rendered, Lookup::Miss)),
            }
        }
        let packed = match kind {
            SourceKind::Directory => None,
            _ => match Packed::of(&rendered) {
                Some(packed) => Some(packed),
                None => return Ok((rendered, Lookup::Miss)),
            },
        };
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.hold(ctx.owner.as_deref(), &key);
        let list = entries.renders.entry(key).or_default();
        let hash = rendered.hash.clone();
        list.insert(0, Entry { fingerprints, hash, rendered: packed });
        list.truncate(self.per_key);
        Ok((rendered, Lookup::Miss))
    }

    /// Whether rendering `app_path` in `tree` would give the render whose content hash is
    /// `hash` again: a render of it is remembered and every input it read is unchanged. Nothing
    /// is rendered or parsed, so a commit elsewhere in a monorepo costs each other app a few
    /// lookups in the tree.
    pub fn unchanged(
        &self,
        tree: &dyn Tree,
        app_path: &RepoPath,
        opts: &RenderOptions,
        ctx: &RenderContext,
        hash: &str,
    ) -> Result<bool, RenderError> {
        let (key, _) = self.key(tree, app_path, opts, ctx)?;
        let candidates: Vec<Fingerprints> = {
            let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            let list = entries.renders.get(&key).map(Vec::as_slice).unwrap_or_default();
            list.iter().filter(|e| e.hash == hash).map(|e| e.fingerprints.clone()).collect()
        };
        Ok(candidates.iter().any(|fingerprints| still_valid(tree, fingerprints)))
    }

    fn key(
        &self,
        tree: &dyn Tree,
        app_path: &RepoPath,
        opts: &RenderOptions,
        ctx: &RenderContext,
    ) -> Result<(String, SourceKind), RenderError> {
        let mut reader = Reader::new(tree, &ctx.config.limits);
        let kind = detect(&mut reader, app_path, opts)?;
        Ok((cache_key(app_path, opts, ctx, kind), kind))
    }

    /// The render remembered under `key` with `fingerprints` (looked up again: the lock was
    /// let go while the fingerprints were checked against the tree), if it was kept; `owner`
    /// holds the key from now on.
    fn unpack(
        &self,
        key: &str,
        fingerprints: &Fingerprints,
        owner: Option<&str>,
    ) -> Option<Rendered> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.renders.get(key)?.iter().find(|e| e.fingerprints == *fingerprints)?;
        let rendered = entry.rendered.as_ref()?.unpack()?;
        entries.hold(owner, key);
        Some(rendered)
    }
}

fn cache_key(
    app: &RepoPath,
    opts: &RenderOptions,
    ctx: &RenderContext,
    kind: SourceKind,
) -> String {
    let tools = &ctx.config.tools;
    let tool = match kind {
        SourceKind::Directory | SourceKind::Jsonnet => String::new(),
        SourceKind::Kustomize => match &tools.kustomize {
            Some(k) => format!("{}|{}", k.display(), tool_version::version(k, &["version"])),
            None => format!(
                "{}|{}",
                tools.kubectl.display(),
                tool_version::version(&tools.kubectl, &["version", "--client", "-o", "json"])
            ),
        },
        SourceKind::Helm => {
            format!("{}|{}", tools.helm.display(), tool_version::version(&tools.helm, &["version"]))
        }
    };
    let options = serde_json::to_string(opts).unwrap_or_default();
    let mut hasher = Sha256::new();
    for part in [
        app.as_str(),
        &ctx.app_name,
        ctx.namespace.as_deref().unwrap_or(""),
        &options,
        &kind.to_string(),
        &tool,
        &format!("{:?}", ctx.config.limits),
        &ctx.decryption.as_ref().map(|k| k.id()).unwrap_or_default(),
        env!("CARGO_PKG_VERSION"),
    ] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hex::encode(hasher.finalize())
}

fn still_valid(tree: &dyn Tree, fingerprints: &[(RepoPath, String)]) -> bool {
    fingerprints.iter().all(|(path, fp)| fingerprint(tree, path).as_deref() == Some(fp.as_str()))
}

/// The tree's content id for `path`, or a hash of its bytes (files) or listing (directories).
fn fingerprint(tree: &dyn Tree, path: &RepoPath) -> Option<String> {
    let entry = tree.stat(path).ok()??;
    if let Some(id) = &entry.id {
        return Some(format!("id:{id}"));
    }
    match entry.kind {
        EntryKind::Dir => {
            let mut hasher = Sha256::new();
            for e in tree.list(path).ok()? {
                hasher.update(e.path.as_str().as_bytes());
                hasher.update(match &e.kind {
                    EntryKind::File => "f".to_owned(),
                    EntryKind::Dir => "d".to_owned(),
                    EntryKind::Symlink { target } => format!("l{target}"),
                });
                hasher.update(e.id.unwrap_or_default().as_bytes());
                hasher.update([0]);
            }
            Some(format!("dir:{}", hex::encode(hasher.finalize())))
        }
        _ => {
            let bytes = tree.read(path, 1 << 34).ok()?;
            Some(format!("sha256:{}", hex::encode(Sha256::digest(&bytes))))
        }
    }
}
