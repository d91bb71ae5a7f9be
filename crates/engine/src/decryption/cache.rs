//! The key rings of the apps, kept between reconciles so a quiet app costs no Secret reads.
//!
//! A ring is reused only while nothing could have changed it: the namespaces it was read from
//! (the app's and Ferry's home namespace) are under a synced watch ([`super::follow`]), and no
//! key Secret changed since (one generation counter for all rings: key Secrets change rarely,
//! and a change reads every ring again once). A watch that restarts or fails marks its
//! namespace unsynced until its list is complete again, so a change missed while it was down
//! cannot leave a stale ring.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ferry_apply::tracking::AppId;
use ferry_render::Keyring;

use crate::application::Decryption;

#[derive(Default)]
pub(crate) struct KeyCache {
    generation: AtomicU64,
    synced: Mutex<HashSet<String>>,
    rings: Mutex<HashMap<AppId, Entry>>,
}

struct Entry {
    generation: u64,
    decryption: Option<Decryption>,
    ring: Arc<Keyring>,
}

impl KeyCache {
    /// A key Secret (or the set of them) may have changed: every ring is read again.
    pub(crate) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Whether `namespace`'s Secrets are under a watch whose list is complete.
    pub(crate) fn set_synced(&self, namespace: &str, synced: bool) {
        let mut set = self.synced.lock().unwrap_or_else(|p| p.into_inner());
        if synced {
            set.insert(namespace.to_owned());
        } else {
            set.remove(namespace);
        }
        drop(set);
        self.invalidate();
    }

    /// The generation to read a ring under, when rings of these namespaces may be kept.
    pub(crate) fn ticket(&self, namespaces: [&str; 2]) -> Option<u64> {
        let set = self.synced.lock().unwrap_or_else(|p| p.into_inner());
        namespaces
            .iter()
            .all(|ns| set.contains(*ns))
            .then(|| self.generation.load(Ordering::SeqCst))
    }

    /// The ring read under `ticket` for the same `spec.decryption`, if nothing changed since.
    pub(crate) fn get(
        &self,
        app: &AppId,
        ticket: u64,
        decryption: Option<&Decryption>,
    ) -> Option<Arc<Keyring>> {
        let rings = self.rings.lock().unwrap_or_else(|p| p.into_inner());
        let entry = rings.get(app)?;
        (entry.generation == ticket && entry.decryption.as_ref() == decryption)
            .then(|| entry.ring.clone())
    }

    pub(crate) fn put(
        &self,
        app: &AppId,
        ticket: u64,
        decryption: Option<&Decryption>,
        ring: Arc<Keyring>,
    ) {
        let entry = Entry { generation: ticket, decryption: decryption.cloned(), ring };
        self.rings.lock().unwrap_or_else(|p| p.into_inner()).insert(app.clone(), entry);
    }

    /// Drops the ring of a deleted app.
    pub(crate) fn forget(&self, app: &AppId) {
        self.rings.lock().unwrap_or_else(|p| p.into_inner()).remove(app);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> AppId {
        AppId::new("team", "web")
    }

    #[test]
    fn a_ring_is_kept_only_while_both_namespaces_are_watched_and_nothing_changed() {
        let cache = KeyCache::default();
        assert_eq!(cache.ticket(["team", "ferry"]), None, "nothing is watched yet");
        cache.set_synced("team", true);
        assert_eq!(cache.ticket(["team", "ferry"]), None, "the home namespace is not watched");
        cache.set_synced("ferry", true);
        let ticket = cache.ticket(["team", "ferry"]).expect("both watched");
        cache.put(&app(), ticket, None, Arc::new(Keyring::new()));
        assert!(cache.get(&app(), ticket, None).is_some(), "a quiet app reuses its ring");

        cache.invalidate();
        let next = cache.ticket(["team", "ferry"]).expect("still watched");
        assert!(cache.get(&app(), next, None).is_none(), "a key Secret changed: read again");
    }

    #[test]
    fn a_watch_that_restarts_or_another_secret_ref_means_reading_again() {
        let cache = KeyCache::default();
        cache.set_synced("team", true);
        cache.set_synced("ferry", true);
        let ticket = cache.ticket(["team", "ferry"]).expect("watched");
        cache.put(&app(), ticket, None, Arc::new(Keyring::new()));
        let other: Decryption = serde_json::from_value(
            serde_json::json!({"provider": "sops", "secretRef": {"name": "k"}}),
        )
        .expect("a decryption spec");
        assert!(cache.get(&app(), ticket, Some(&other)).is_none(), "the spec changed");

        cache.set_synced("team", false);
        assert_eq!(cache.ticket(["team", "ferry"]), None, "the watch is relisting");
    }
}
