//! The work queue: one entry per app, deduplicated, with delayed requeues. An app is never handed
//! to two workers at once; a trigger that arrives while it is being reconciled runs it again
//! right after, so no event is lost and none is processed twice concurrently.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

struct State<K> {
    ready: VecDeque<K>,
    queued: HashSet<K>,
    running: HashSet<K>,
    /// Triggered while running: requeue when done.
    dirty: HashSet<K>,
    delayed: BTreeMap<Instant, Vec<K>>,
    due: HashMap<K, Instant>,
}

pub struct WorkQueue<K> {
    state: Mutex<State<K>>,
    notify: Notify,
}

impl<K: Clone + Eq + Hash> Default for WorkQueue<K> {
    fn default() -> Self {
        Self {
            state: Mutex::new(State {
                ready: VecDeque::new(),
                queued: HashSet::new(),
                running: HashSet::new(),
                dirty: HashSet::new(),
                delayed: BTreeMap::new(),
                due: HashMap::new(),
            }),
            notify: Notify::new(),
        }
    }
}

impl<K: Clone + Eq + Hash> WorkQueue<K> {
    fn lock(&self) -> std::sync::MutexGuard<'_, State<K>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Schedules `key` now.
    pub fn push(&self, key: K) {
        let mut s = self.lock();
        if s.running.contains(&key) {
            s.dirty.insert(key);
            return;
        }
        if s.queued.insert(key.clone()) {
            s.ready.push_back(key);
            drop(s);
            self.notify.notify_one();
        }
    }

    /// Schedules `key` after `delay`, unless it is already due sooner.
    pub fn push_after(&self, key: K, delay: Duration) {
        let at = Instant::now() + delay;
        let mut s = self.lock();
        if s.due.get(&key).is_some_and(|due| *due <= at) {
            return;
        }
        if let Some(old) = s.due.insert(key.clone(), at)
            && let Some(list) = s.delayed.get_mut(&old)
        {
            list.retain(|k| k != &key);
        }
        s.delayed.entry(at).or_default().push(key);
        drop(s);
        self.notify.notify_one();
    }

    /// Waits for the next key to work on; call [`WorkQueue::done`] when finished.
    pub async fn next(&self) -> K {
        loop {
            let wake_at = {
                let mut s = self.lock();
                let now = Instant::now();
                let due: Vec<Instant> = s.delayed.range(..=now).map(|(t, _)| *t).collect();
                for t in due {
                    for key in s.delayed.remove(&t).unwrap_or_default() {
                        s.due.remove(&key);
                        if s.running.contains(&key) {
                            s.dirty.insert(key);
                        } else if s.queued.insert(key.clone()) {
                            s.ready.push_back(key);
                        }
                    }
                }
                if let Some(key) = s.ready.pop_front() {
                    s.queued.remove(&key);
                    s.running.insert(key.clone());
                    return key;
                }
                s.delayed.keys().next().copied()
            };
            match wake_at {
                Some(at) => {
                    tokio::select! {
                        _ = self.notify.notified() => {}
                        _ = tokio::time::sleep_until(at) => {}
                    }
                }
                None => self.notify.notified().await,
            }
        }
    }

    /// Marks `key` finished; if it was triggered meanwhile it is queued again.
    pub fn done(&self, key: &K) {
        let mut s = self.lock();
        s.running.remove(key);
        if s.dirty.remove(key) && s.queued.insert(key.clone()) {
            s.ready.push_back(key.clone());
            drop(s);
            self.notify.notify_one();
        }
    }

    /// Forgets `key` entirely (the app was deleted).
    pub fn forget(&self, key: &K) {
        let mut s = self.lock();
        s.queued.remove(key);
        s.ready.retain(|k| k != key);
        s.dirty.remove(key);
        if let Some(at) = s.due.remove(key)
            && let Some(list) = s.delayed.get_mut(&at)
        {
            list.retain(|k| k != key);
        }
    }

    pub fn len(&self) -> usize {
        let s = self.lock();
        s.ready.len() + s.due.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_key_pushed_twice_is_worked_on_once() {
        let q = WorkQueue::default();
        q.push("a");
        q.push("a");
        q.push("b");
        assert_eq!(q.next().await, "a");
        assert_eq!(q.next().await, "b");
        assert!(q.is_empty());
    }

    #[tokio::test]
    async fn a_trigger_during_work_runs_the_key_again_afterwards() {
        let q = WorkQueue::default();
        q.push("a");
        let k = q.next().await;
        q.push("a");
        assert!(q.is_empty(), "not handed out while running");
        q.done(&k);
        assert_eq!(q.next().await, "a");
    }

    #[tokio::test(start_paused = true)]
    async fn a_delayed_key_comes_when_due_and_the_sooner_delay_wins() {
        let q = WorkQueue::default();
        q.push_after("a", Duration::from_secs(60));
        q.push_after("a", Duration::from_secs(5));
        let start = Instant::now();
        assert_eq!(q.next().await, "a");
        let waited = start.elapsed();
        assert!(waited >= Duration::from_secs(5) && waited < Duration::from_secs(60), "{waited:?}");
    }
}
