//! Object storage: one cluster-wide resourceVersion counter, a window of recent events for
//! watches, and a write-ahead log in the data directory so state survives a restart.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::error::ApiError;
use crate::window::{EventWindow, WindowLimits};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot read or write the data file {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the data directory {path} is in use by another running cluster")]
    Locked { path: PathBuf },
    #[error("the data file {path} is corrupt at line {line}")]
    Corrupt {
        path: PathBuf,
        line: usize,
        #[source]
        source: serde_json::Error,
    },
}

/// Where an object lives: its storage bucket (`group/plural`), namespace ("" if cluster-scoped) and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub storage: String,
    pub namespace: String,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Event {
    pub rv: u64,
    pub kind: EventType,
    pub key: Key,
    pub object: Arc<Value>,
    /// The state before this event (for selector transitions in watches).
    pub prev: Option<Arc<Value>>,
    /// `object` serialized once, shared by every watch that sends it unchanged.
    pub json: std::sync::OnceLock<String>,
}

/// How many times (50 ms apart) opening a data directory another process holds is tried.
const LOCK_TRIES: u32 = 40;

/// Events a watch replays, and the receiver for the ones after them.
pub type WatchStart = (Vec<Arc<Event>>, broadcast::Receiver<Arc<Event>>);

/// What a write decided to do with the object under its key.
pub enum Change {
    Put(Value),
    Delete,
    /// Nothing to write; answer with the current object.
    Keep,
}

/// The outcome of a write.
#[derive(Debug, Clone)]
pub enum Written {
    Stored(Arc<Value>),
    Deleted(Arc<Value>),
    Unchanged(Option<Arc<Value>>),
}

struct Inner {
    rv: u64,
    buckets: HashMap<String, BTreeMap<(String, String), Arc<Value>>>,
    /// Owner uid to the keys of the objects whose ownerReferences name it, so garbage
    /// collection and controllers find dependents without scanning every object.
    owners: HashMap<String, BTreeSet<Key>>,
    window: EventWindow,
    wal: Option<Wal>,
    /// Held for the store's lifetime: one server per data directory.
    _lock: Option<File>,
}

fn owner_uids(obj: &Value) -> impl Iterator<Item = &str> {
    obj.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("uid").and_then(Value::as_str))
}

impl Inner {
    fn index(&mut self, key: &Key, obj: &Value) {
        for uid in owner_uids(obj) {
            self.owners.entry(uid.to_string()).or_default().insert(key.clone());
        }
    }

    fn unindex(&mut self, key: &Key, obj: &Value) {
        for uid in owner_uids(obj) {
            if let Some(set) = self.owners.get_mut(uid) {
                set.remove(key);
                if set.is_empty() {
                    self.owners.remove(uid);
                }
            }
        }
    }

    /// Stores `obj` under `key` while loading, keeping the owner index.
    fn load_put(&mut self, key: Key, obj: Value) {
        let nk = (key.namespace.clone(), key.name.clone());
        if let Some(old) = self.buckets.get(&key.storage).and_then(|b| b.get(&nk)).cloned() {
            self.unindex(&key, &old);
        }
        self.index(&key, &obj);
        self.buckets.entry(key.storage).or_default().insert(nk, Arc::new(obj));
    }

    fn load_delete(&mut self, key: &Key) {
        let nk = (key.namespace.clone(), key.name.clone());
        if let Some(old) = self.buckets.get_mut(&key.storage).and_then(|b| b.remove(&nk)) {
            self.unindex(key, &old);
        }
    }
}

struct Wal {
    path: PathBuf,
    /// The snapshot the log continues.
    snapshot: PathBuf,
    out: BufWriter<File>,
    /// Bytes appended since the last snapshot.
    written: u64,
    /// Past this many bytes the log is folded into a new snapshot (see [`compact_threshold`]).
    compact_at: u64,
}

/// The log is folded into a new snapshot once it is larger than twice the snapshot, and never
/// under 64 MiB, so a long-running cluster's data directory stays proportional to its objects
/// (as etcd snapshots and truncates its log) while the cost of a snapshot, written under the
/// store's lock, is paid at most once per that many bytes of writes.
fn compact_threshold(snapshot_bytes: u64) -> u64 {
    (2 * snapshot_bytes).max(64 << 20)
}

/// Told of every committed change, under the store's lock (so it sees changes in order and
/// before any reader can act on them); it must never call back into the store.
pub type Observer = Box<dyn Fn(&Event) + Send + Sync>;

pub struct Store {
    inner: Mutex<Inner>,
    events: broadcast::Sender<Arc<Event>>,
    observer: std::sync::OnceLock<Observer>,
}

impl Store {
    /// Opens the store, loading the snapshot and log in `data_dir` when there is one.
    pub fn open(data_dir: Option<&Path>, window: WindowLimits) -> Result<Store, StoreError> {
        let (events, _) = broadcast::channel(16384);
        let mut inner = Inner {
            rv: 1,
            buckets: HashMap::new(),
            owners: HashMap::new(),
            window: EventWindow::new(window),
            wal: None,
            _lock: None,
        };
        if let Some(dir) = data_dir {
            // The stored objects include every Secret's data: a private directory and files.
            crate::private::create_dir(dir)
                .map_err(|source| StoreError::Io { path: dir.to_path_buf(), source })?;
            let lock_path = dir.join("lock");
            let lock = crate::private::open(
                &lock_path,
                OpenOptions::new().create(true).truncate(false).write(true),
            )
            .map_err(|source| StoreError::Io { path: lock_path.clone(), source })?;
            // Held for an instant by a cluster that is stopping, or by a child process that
            // inherited the descriptor between fork and exec: wait a little before refusing.
            let mut tries = 0;
            while lock.try_lock().is_err() {
                tries += 1;
                if tries > LOCK_TRIES {
                    return Err(StoreError::Locked { path: dir.to_path_buf() });
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            inner._lock = Some(lock);
            let snapshot = dir.join("objects.json");
            let wal = dir.join("objects.log");
            load(&snapshot, &wal, &mut inner)?;
            let snapshot_bytes = write_snapshot(&snapshot, &inner)?;
            let out = crate::private::open(
                &wal,
                OpenOptions::new().create(true).write(true).truncate(true),
            )
            .map_err(|source| StoreError::Io { path: wal.clone(), source })?;
            inner.wal = Some(Wal {
                path: wal,
                snapshot,
                out: BufWriter::new(out),
                written: 0,
                compact_at: compact_threshold(snapshot_bytes),
            });
        }
        Ok(Store { inner: Mutex::new(inner), events, observer: std::sync::OnceLock::new() })
    }

    /// Sets the one observer of committed changes (the RBAC index); later calls are ignored.
    pub fn set_observer(&self, observer: Observer) {
        let _ = self.observer.set(observer);
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-written object: writes swap whole values.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn resource_version(&self) -> u64 {
        self.lock().rv
    }

    pub fn get(&self, key: &Key) -> Option<Arc<Value>> {
        let inner = self.lock();
        inner.buckets.get(&key.storage)?.get(&(key.namespace.clone(), key.name.clone())).cloned()
    }

    /// Objects of a bucket (in one namespace if given), sorted by namespace and name, with the list's resourceVersion.
    pub fn list(&self, storage: &str, namespace: Option<&str>) -> (Vec<Arc<Value>>, u64) {
        let inner = self.lock();
        let items = match inner.buckets.get(storage) {
            None => vec![],
            Some(bucket) => match namespace {
                None => bucket.values().cloned().collect(),
                Some(ns) => bucket
                    .range((ns.to_string(), String::new())..)
                    .take_while(|((n, _), _)| n == ns)
                    .map(|(_, v)| v.clone())
                    .collect(),
            },
        };
        (items, inner.rv)
    }

    /// Every object with its key (for garbage collection and namespace deletion).
    pub fn all(&self) -> Vec<(Key, Arc<Value>)> {
        let inner = self.lock();
        let mut out = Vec::new();
        for (storage, bucket) in &inner.buckets {
            for ((ns, name), v) in bucket {
                out.push((
                    Key { storage: storage.clone(), namespace: ns.clone(), name: name.clone() },
                    v.clone(),
                ));
            }
        }
        out
    }

    /// Objects whose ownerReferences name `owner_uid`, in key order.
    pub fn dependents(&self, owner_uid: &str) -> Vec<(Key, Arc<Value>)> {
        let inner = self.lock();
        let Some(keys) = inner.owners.get(owner_uid) else { return vec![] };
        keys.iter()
            .filter_map(|k| {
                let obj =
                    inner.buckets.get(&k.storage)?.get(&(k.namespace.clone(), k.name.clone()))?;
                Some((k.clone(), obj.clone()))
            })
            .collect()
    }

    /// Every object in namespace `ns` (for namespace deletion), without scanning other namespaces.
    pub fn in_namespace(&self, ns: &str) -> Vec<(Key, Arc<Value>)> {
        let inner = self.lock();
        let mut out = Vec::new();
        for (storage, bucket) in &inner.buckets {
            for ((n, name), v) in bucket.range((ns.to_string(), String::new())..) {
                if n != ns {
                    break;
                }
                out.push((
                    Key { storage: storage.clone(), namespace: n.clone(), name: name.clone() },
                    v.clone(),
                ));
            }
        }
        out
    }

    pub fn count(&self) -> usize {
        self.lock().buckets.values().map(BTreeMap::len).sum()
    }

    /// Atomically reads the object under `key`, lets `decide` choose a change, and commits it
    /// (unless `dry_run`). The object gets the next resourceVersion.
    pub fn write(
        &self,
        key: &Key,
        dry_run: bool,
        decide: impl FnOnce(Option<&Value>) -> Result<Change, ApiError>,
    ) -> Result<Written, ApiError> {
        let mut inner = self.lock();
        let nk = (key.namespace.clone(), key.name.clone());
        let current = inner.buckets.get(&key.storage).and_then(|b| b.get(&nk)).cloned();
        let change = decide(current.as_deref())?;
        match change {
            Change::Keep => Ok(Written::Unchanged(current)),
            Change::Put(mut obj) => {
                if dry_run {
                    return Ok(Written::Stored(Arc::new(obj)));
                }
                let rv = inner.rv + 1;
                inner.rv = rv;
                obj["metadata"]["resourceVersion"] = Value::String(rv.to_string());
                let obj = Arc::new(obj);
                if let Some(old) = &current {
                    inner.unindex(key, old);
                }
                inner.index(key, &obj);
                inner.buckets.entry(key.storage.clone()).or_default().insert(nk, obj.clone());
                let kind = if current.is_some() { EventType::Modified } else { EventType::Added };
                self.commit(
                    &mut inner,
                    Event {
                        rv,
                        kind,
                        key: key.clone(),
                        object: obj.clone(),
                        prev: current,
                        json: Default::default(),
                    },
                );
                Ok(Written::Stored(obj))
            }
            Change::Delete => {
                let Some(existing) = current else { return Ok(Written::Unchanged(None)) };
                if dry_run {
                    return Ok(Written::Deleted(existing));
                }
                let rv = inner.rv + 1;
                inner.rv = rv;
                if let Some(b) = inner.buckets.get_mut(&key.storage) {
                    b.remove(&nk);
                }
                inner.unindex(key, &existing);
                // The DELETED event carries the last state with the deletion's resourceVersion.
                let mut last = (*existing).clone();
                last["metadata"]["resourceVersion"] = Value::String(rv.to_string());
                let last = Arc::new(last);
                self.commit(
                    &mut inner,
                    Event {
                        rv,
                        kind: EventType::Deleted,
                        key: key.clone(),
                        object: last.clone(),
                        prev: None,
                        json: Default::default(),
                    },
                );
                Ok(Written::Deleted(last))
            }
        }
    }

    fn commit(&self, inner: &mut Inner, event: Event) {
        if let Some(wal) = inner.wal.as_mut() {
            let line = match event.kind {
                EventType::Deleted => json!({"rv": event.rv, "op": "del", "s": event.key.storage,
                    "ns": event.key.namespace, "n": event.key.name}),
                _ => {
                    json!({"rv": event.rv, "op": "put", "s": event.key.storage, "o": *event.object})
                }
            };
            let line = line.to_string();
            let res = writeln!(wal.out, "{line}").and_then(|_| wal.out.flush());
            if let Err(e) = res {
                tracing::error!(path = %wal.path.display(), error = %e, "cannot append to the data log");
            }
            wal.written += line.len() as u64 + 1;
        }
        if inner.wal.as_ref().is_some_and(|w| w.written > w.compact_at)
            && let Err(e) = compact(inner)
        {
            tracing::error!(error = %e, "cannot fold the data log into a new snapshot; the log keeps growing and the fold is tried again after as many bytes");
            if let Some(wal) = inner.wal.as_mut() {
                wal.compact_at = wal.written.saturating_mul(2);
            }
        }
        if let Some(observe) = self.observer.get() {
            observe(&event);
        }
        let event = Arc::new(event);
        inner.window.push(event.clone(), Instant::now());
        // No receivers is normal (no watch open).
        let _ = self.events.send(event);
    }

    /// Events after `rv` still in the window plus a receiver for later ones; `Err` when `rv`
    /// is older than the window (the client must relist: 410 Gone).
    pub fn watch_from(&self, rv: u64) -> Result<WatchStart, u64> {
        let inner = self.lock();
        let rx = self.events.subscribe();
        let oldest = inner.window.oldest().unwrap_or(inner.rv + 1);
        if rv + 1 < oldest && rv < inner.rv {
            return Err(oldest);
        }
        let backlog = inner.window.after(rv);
        Ok((backlog, rx))
    }

    /// Current objects of a bucket plus a receiver for what happens after them.
    pub fn list_and_subscribe(
        &self,
        storage: &str,
        namespace: Option<&str>,
    ) -> (Vec<Arc<Value>>, u64, broadcast::Receiver<Arc<Event>>) {
        let inner = self.lock();
        let rx = self.events.subscribe();
        let items = match inner.buckets.get(storage) {
            None => vec![],
            Some(bucket) => bucket
                .iter()
                .filter(|((ns, _), _)| namespace.is_none_or(|want| want == ns))
                .map(|(_, v)| v.clone())
                .collect(),
        };
        (items, inner.rv, rx)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.events.subscribe()
    }

    /// Stops persisting and releases the data directory (after the final checkpoint).
    pub fn close(&self) {
        let mut inner = self.lock();
        inner.wal = None;
        inner._lock = None;
    }

    /// Writes a snapshot and truncates the log (on clean shutdown).
    pub fn checkpoint(&self, data_dir: &Path) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if inner.wal.is_some() {
            return compact(&mut inner);
        }
        write_snapshot(&data_dir.join("objects.json"), &inner)?;
        Ok(())
    }
}

fn key_of(storage: &str, obj: &Value) -> Key {
    let ns =
        obj.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default().to_string();
    let name =
        obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
    Key { storage: storage.to_string(), namespace: ns, name }
}

fn load(snapshot: &Path, wal: &Path, inner: &mut Inner) -> Result<(), StoreError> {
    if snapshot.exists() {
        let text = std::fs::read_to_string(snapshot)
            .map_err(|source| StoreError::Io { path: snapshot.into(), source })?;
        let doc: Value = serde_json::from_str(&text).map_err(|source| StoreError::Corrupt {
            path: snapshot.into(),
            line: source.line(),
            source,
        })?;
        inner.rv = doc["rv"].as_u64().unwrap_or(1);
        let mut doc = doc;
        let objects = std::mem::take(&mut doc["objects"]);
        for mut entry in objects.as_array().cloned().unwrap_or_default() {
            let storage = entry["s"].as_str().unwrap_or_default().to_string();
            let obj = entry["o"].take();
            inner.load_put(key_of(&storage, &obj), obj);
        }
    }
    if wal.exists() {
        let file = File::open(wal).map_err(|source| StoreError::Io { path: wal.into(), source })?;
        for (i, line) in BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|source| StoreError::Io { path: wal.into(), source })?;
            if line.trim().is_empty() {
                continue;
            }
            let entry: Value = match serde_json::from_str(&line) {
                Ok(v) => v,
                // A torn last line after a crash: the write never completed, so it never happened.
                Err(_) if line_is_last(wal, i) => break,
                Err(source) => {
                    return Err(StoreError::Corrupt { path: wal.into(), line: i + 1, source });
                }
            };
            let rv = entry["rv"].as_u64().unwrap_or(inner.rv);
            inner.rv = inner.rv.max(rv);
            let storage = entry["s"].as_str().unwrap_or_default().to_string();
            if entry["op"] == "del" {
                let key = Key {
                    storage,
                    namespace: entry["ns"].as_str().unwrap_or_default().to_string(),
                    name: entry["n"].as_str().unwrap_or_default().to_string(),
                };
                inner.load_delete(&key);
            } else {
                let mut entry = entry;
                let obj = entry["o"].take();
                inner.load_put(key_of(&storage, &obj), obj);
            }
        }
    }
    Ok(())
}

fn line_is_last(wal: &Path, index: usize) -> bool {
    std::fs::read_to_string(wal).map(|t| t.lines().count() == index + 1).unwrap_or(false)
}

/// Writes the snapshot, then starts an empty log after it; a crash between the two leaves a
/// snapshot and a log whose entries it already holds, which loading replays harmlessly.
fn compact(inner: &mut Inner) -> Result<(), StoreError> {
    let Some(snapshot) = inner.wal.as_ref().map(|w| w.snapshot.clone()) else { return Ok(()) };
    let bytes = write_snapshot(&snapshot, inner)?;
    let Some(wal) = inner.wal.as_mut() else { return Ok(()) };
    let out =
        crate::private::open(&wal.path, OpenOptions::new().create(true).write(true).truncate(true))
            .map_err(|source| StoreError::Io { path: wal.path.clone(), source })?;
    wal.out = BufWriter::new(out);
    wal.written = 0;
    wal.compact_at = compact_threshold(bytes);
    Ok(())
}

/// One stored object in the snapshot, borrowed (a snapshot of a big store is streamed to the
/// file, never built as one more copy of every object in memory).
#[derive(serde::Serialize)]
struct SnapshotEntry<'a> {
    s: &'a str,
    o: &'a Value,
}

#[derive(serde::Serialize)]
struct SnapshotDoc<'a> {
    rv: u64,
    #[serde(serialize_with = "serialize_objects")]
    objects: &'a HashMap<String, BTreeMap<(String, String), Arc<Value>>>,
}

fn serialize_objects<S: serde::Serializer>(
    buckets: &&HashMap<String, BTreeMap<(String, String), Arc<Value>>>,
    out: S,
) -> Result<S::Ok, S::Error> {
    out.collect_seq(buckets.iter().flat_map(|(storage, bucket)| {
        bucket.values().map(move |o| SnapshotEntry { s: storage, o })
    }))
}

/// Writes the snapshot atomically (a temporary file renamed over it); returns its size.
fn write_snapshot(path: &Path, inner: &Inner) -> Result<u64, StoreError> {
    let tmp = path.with_extension("json.tmp");
    let io = |source| StoreError::Io { path: path.to_path_buf(), source };
    let file =
        crate::private::open(&tmp, OpenOptions::new().write(true).create(true).truncate(true))
            .map_err(io)?;
    let mut out = BufWriter::new(file);
    serde_json::to_writer(&mut out, &SnapshotDoc { rv: inner.rv, objects: &inner.buckets })
        .map_err(|e| io(std::io::Error::other(e)))?;
    let file = out.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    let bytes = file.metadata().map_err(io)?.len();
    std::fs::rename(&tmp, path).map_err(io)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> Key {
        Key { storage: "/configmaps".into(), namespace: "default".into(), name: name.into() }
    }

    fn put(store: &Store, name: &str) {
        let obj = json!({"metadata": {"name": name, "namespace": "default"}});
        store.write(&key(name), false, |_| Ok(Change::Put(obj))).expect("put succeeds");
    }

    #[test]
    fn every_write_takes_the_next_cluster_wide_resource_version() {
        let store = Store::open(None, WindowLimits::default()).expect("in-memory store opens");
        let start = store.resource_version();
        put(&store, "a");
        put(&store, "b");
        assert_eq!(store.resource_version(), start + 2);
        let got = store.get(&key("b")).expect("b is stored");
        assert_eq!(got["metadata"]["resourceVersion"], (start + 2).to_string());
    }

    #[test]
    fn a_watch_older_than_the_window_is_refused() {
        let store = Store::open(None, WindowLimits { events: 2, ..WindowLimits::default() })
            .expect("in-memory store opens");
        for n in ["a", "b", "c", "d"] {
            put(&store, n);
        }
        assert!(store.watch_from(1).is_err());
        let (backlog, _) =
            store.watch_from(store.resource_version() - 1).expect("recent version is kept");
        assert_eq!(backlog.len(), 1);
    }

    #[test]
    fn objects_and_versions_survive_reopening_the_data_dir() {
        let dir = tempfile::tempdir().expect("temp dir");
        let rv = {
            let store =
                Store::open(Some(dir.path()), WindowLimits::default()).expect("store opens");
            put(&store, "a");
            put(&store, "b");
            store.write(&key("a"), false, |_| Ok(Change::Delete)).expect("delete succeeds");
            store.resource_version()
        };
        let store = Store::open(Some(dir.path()), WindowLimits::default()).expect("store reopens");
        assert_eq!(store.resource_version(), rv);
        assert!(store.get(&key("a")).is_none());
        assert!(store.get(&key("b")).is_some());
    }

    #[test]
    fn a_long_log_is_folded_into_the_snapshot_and_nothing_is_lost() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("objects.log");
        let rv = {
            let store =
                Store::open(Some(dir.path()), WindowLimits::default()).expect("store opens");
            store.lock().wal.as_mut().expect("a log").compact_at = 200;
            for n in ["a", "b", "c", "d", "e", "f"] {
                put(&store, n);
            }
            store.write(&key("a"), false, |_| Ok(Change::Delete)).expect("delete succeeds");
            let lines = std::fs::read_to_string(&log).expect("log").lines().count();
            assert!(lines < 7, "the log was folded into the snapshot: {lines} of 7 writes left");
            store.resource_version()
        };
        let store = Store::open(Some(dir.path()), WindowLimits::default()).expect("store reopens");
        assert_eq!(store.resource_version(), rv);
        assert!(store.get(&key("a")).is_none());
        for n in ["b", "c", "d", "e", "f"] {
            assert!(store.get(&key(n)).is_some(), "{n} survives the fold and the reopen");
        }
    }

    #[test]
    fn dependents_are_found_by_owner_uid_and_the_index_survives_reopening() {
        let dir = tempfile::tempdir().expect("temp dir");
        let owned = |name: &str, owner: &str| {
            json!({"metadata": {"name": name, "namespace": "default",
                "ownerReferences": [{"uid": owner, "kind": "ReplicaSet", "name": "rs"}]}})
        };
        {
            let store =
                Store::open(Some(dir.path()), WindowLimits::default()).expect("store opens");
            for (name, owner) in [("a", "u1"), ("b", "u1"), ("c", "u2")] {
                let obj = owned(name, owner);
                store.write(&key(name), false, |_| Ok(Change::Put(obj))).expect("put");
            }
            // Re-owning b moves it in the index; deleting a removes it.
            let moved = owned("b", "u2");
            store.write(&key("b"), false, |_| Ok(Change::Put(moved))).expect("update");
            store.write(&key("a"), false, |_| Ok(Change::Delete)).expect("delete");
            let names = |uid: &str| -> Vec<String> {
                store.dependents(uid).into_iter().map(|(k, _)| k.name).collect()
            };
            assert!(names("u1").is_empty());
            assert_eq!(names("u2"), vec!["b", "c"]);
        }
        let store = Store::open(Some(dir.path()), WindowLimits::default()).expect("store reopens");
        let names: Vec<String> = store.dependents("u2").into_iter().map(|(k, _)| k.name).collect();
        assert_eq!(names, vec!["b", "c"]);
    }
}
