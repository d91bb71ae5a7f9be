//! Which apps declare which objects. Two apps may render the same object; the engine must then
//! neither fight over it (heal it back and forth), nor let one app's prune or cascade delete
//! remove what the other still declares, and a change to it (a delete behind Ferry's back
//! included) must reach every app that declares it, not only the one whose mark it carries.
//! Objects are keyed by cluster and object: the same ConfigMap in two clusters is two objects.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use ferry_apply::ObjKey;
use ferry_apply::tracking::AppId;

use crate::live::ClusterId;

/// One object in one cluster.
pub type Claim = (ClusterId, ObjKey);

/// Each claimed object is held once, shared by both directions of the index (at 10,000 managed
/// objects a second copy of every key cost ~3 MB), and each app's name once.
#[derive(Default)]
struct Index {
    by_key: HashMap<Arc<Claim>, Vec<Arc<AppId>>>,
    by_app: HashMap<Arc<AppId>, Vec<Arc<Claim>>>,
}

#[derive(Default)]
pub struct Claims {
    index: RwLock<Index>,
}

impl Claims {
    /// `app` now declares `keys` in `cluster`, and nothing else.
    pub fn set<'k>(
        &self,
        app: &AppId,
        cluster: &ClusterId,
        keys: impl IntoIterator<Item = &'k ObjKey>,
    ) {
        let mut index = self.index.write().unwrap_or_else(|p| p.into_inner());
        let keys: Vec<&ObjKey> = keys.into_iter().collect();
        if index.by_app.get(app).is_some_and(|old| same_claims(old, cluster, &keys)) {
            return;
        }
        let app = index
            .by_app
            .get_key_value(app)
            .map_or_else(|| Arc::new(app.clone()), |(a, _)| a.clone());
        unclaim(&mut index, &app);
        let mut claims = Vec::with_capacity(keys.len());
        for key in keys {
            let claim = (cluster.clone(), key.clone());
            let claim = match index.by_key.get_key_value(&claim) {
                Some((shared, _)) => shared.clone(),
                None => Arc::new(claim),
            };
            let apps = index.by_key.entry(claim.clone()).or_default();
            if !apps.contains(&app) {
                apps.push(app.clone());
            }
            claims.push(claim);
        }
        index.by_app.insert(app, claims);
    }

    /// `app` declares nothing any more; returns what it declared.
    pub fn remove(&self, app: &AppId) -> Vec<Claim> {
        let mut index = self.index.write().unwrap_or_else(|p| p.into_inner());
        unclaim(&mut index, app).iter().map(|c| (**c).clone()).collect()
    }

    /// Every app that declares `key` in `cluster`.
    pub fn claimants(&self, cluster: &ClusterId, key: &ObjKey) -> Vec<AppId> {
        let index = self.index.read().unwrap_or_else(|p| p.into_inner());
        // The tuple key needs owned parts; a clone of a short key is cheaper than a second map.
        let apps = index.by_key.get(&(cluster.clone(), key.clone()));
        apps.map(|apps| apps.iter().map(|a| (**a).clone()).collect()).unwrap_or_default()
    }

    /// The apps other than `app` that declare `key` in `cluster`.
    pub fn others(&self, cluster: &ClusterId, key: &ObjKey, app: &AppId) -> Vec<AppId> {
        let mut apps = self.claimants(cluster, key);
        apps.retain(|a| a != app);
        apps
    }
}

/// Whether `old` claims are exactly `keys` in `cluster`, in order (a render that did not change).
fn same_claims(old: &[Arc<Claim>], cluster: &ClusterId, keys: &[&ObjKey]) -> bool {
    old.len() == keys.len() && old.iter().zip(keys).all(|(c, k)| c.0 == *cluster && c.1 == **k)
}

fn unclaim(index: &mut Index, app: &AppId) -> Vec<Arc<Claim>> {
    let old = index.by_app.remove(app).unwrap_or_default();
    for claim in &old {
        if let Some(apps) = index.by_key.get_mut(claim) {
            apps.retain(|a| **a != *app);
            if apps.is_empty() {
                index.by_key.remove(claim);
            }
        }
    }
    old
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> ObjKey {
        ObjKey {
            group: String::new(),
            kind: "ConfigMap".into(),
            namespace: "demo".into(),
            name: name.into(),
        }
    }

    fn cluster(server: &str) -> ClusterId {
        ClusterId::from(server)
    }

    #[test]
    fn an_object_declared_by_two_apps_names_the_other_to_each() {
        let claims = Claims::default();
        let c = cluster("https://kubernetes.default.svc");
        let (a, b) = (AppId::new("ferry", "a"), AppId::new("ferry", "b"));
        claims.set(&a, &c, [&key("shared"), &key("only-a")]);
        claims.set(&b, &c, [&key("shared")]);
        assert_eq!(claims.others(&c, &key("shared"), &a), vec![b.clone()]);
        assert_eq!(claims.others(&c, &key("shared"), &b), vec![a.clone()]);
        assert!(claims.others(&c, &key("only-a"), &a).is_empty());
    }

    #[test]
    fn a_new_render_replaces_what_an_app_declared_before() {
        let claims = Claims::default();
        let c = cluster("https://kubernetes.default.svc");
        let a = AppId::new("ferry", "a");
        claims.set(&a, &c, [&key("one")]);
        claims.set(&a, &c, [&key("two")]);
        assert!(claims.claimants(&c, &key("one")).is_empty());
        assert_eq!(claims.claimants(&c, &key("two")), vec![a]);
    }

    #[test]
    fn the_same_object_in_two_clusters_is_two_objects() {
        let claims = Claims::default();
        let (east, west) = (cluster("https://east:6443"), cluster("https://west:6443"));
        let (a, b) = (AppId::new("ferry", "a"), AppId::new("ferry", "b"));
        claims.set(&a, &east, [&key("config")]);
        claims.set(&b, &west, [&key("config")]);
        assert!(claims.others(&east, &key("config"), &a).is_empty());
        assert_eq!(claims.claimants(&west, &key("config")), vec![b.clone()]);
        claims.set(&b, &east, [&key("config")]);
        assert!(claims.claimants(&west, &key("config")).is_empty(), "moving clusters unclaims");
        assert_eq!(claims.remove(&a), vec![(east.clone(), key("config"))]);
        assert_eq!(claims.claimants(&east, &key("config")), vec![b]);
    }
}
